#!/usr/bin/env bash
# Installs what Vernier builds and runs with, from Debian's packages.
# Skips apt entirely when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libsqlitecpp-dev libsqlite3-dev sqlite3 libyaml-cpp-dev libcli11-dev libspdlog-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libeigen3-dev libnlopt-cxx-dev
  libcurl4-openssl-dev openssl
  python3 python3-sklearn python3-pytest python3-grpcio python3-protobuf python3-optuna
  python3-kubernetes
  libcpp-httplib-dev prometheus-cpp-dev nodejs npm
  prometheus chromium
  clang libclang-rt-14-dev  # the sanitizer build and libFuzzer (scripts/sanitizers.sh)
  python3-pip python3-setuptools python3-wheel
)

missing=()
for package in "${packages[@]}"; do
  # A Node.js from elsewhere (NodeSource's nodejs package) brings its own npm,
  # which Debian's npm package would conflict with.
  if [ "$package" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
