#!/usr/bin/env bash
# The README's second command: install, build, and run every test.
#
# With SANITIZE=1 the build is the sanitizer one instead
# (scripts/sanitizers.sh): every test under AddressSanitizer and
# UndefinedBehaviorSanitizer, the concurrency tests under ThreadSanitizer,
# and each fuzz target for FUZZ_SECONDS (default 30). Each stage prints how
# long it took. CI does not run it yet: its time on 2 cores (a clang build
# of everything, then most of it again for TSan) is not measured to fit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="${JOBS:-$(nproc)}"

if [ "${SANITIZE:-0}" != 1 ]; then
  scripts/build.sh
  exec ctest --test-dir build --output-on-failure --parallel "$jobs" --timeout 600
fi

source scripts/sanitizers.sh
stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - start)) s"
}
tsan_labels="^($(IFS='|'; echo "${TSAN_TESTS[*]}"))\$"

stage "asan+ubsan build" build_asan "$jobs"
stage "asan+ubsan tests" ctest --test-dir "$ASAN_BUILD" --output-on-failure \
  --parallel "$jobs" --timeout 900
stage "tsan build" build_tsan "$jobs"
stage "tsan tests" ctest --test-dir "$TSAN_BUILD" --output-on-failure \
  --parallel "$jobs" --timeout 900 -L "$tsan_labels"
stage "fuzzing" bench/fuzz --seconds "${FUZZ_SECONDS:-30}" --jobs "$jobs"
