#!/usr/bin/env bash
# Configures and builds Vernier into build/ (the binary is build/vernier).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build --parallel "${JOBS:-$(nproc)}"
