#!/usr/bin/env bash
# The README's second command, and CI's (.ci/run): install, build, and run
# every test under the sanitizers (scripts/sanitizers.sh):
#   1. build-asan/: clang, AddressSanitizer + UndefinedBehaviorSanitizer;
#      the whole suite, the pytest e2e suites' `vernier` processes included;
#   2. build-tsan/: ThreadSanitizer; the concurrency tests (TSAN_TESTS);
#   3. each libFuzzer target for FUZZ_SECONDS (default 30).
# Each stage prints how long it took.
#
# SANITIZE=0 runs the suite on the plain gcc build instead (build/, the one
# the quickstart uses): quicker, for a first check of a change.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="${JOBS:-$(nproc)}"

if [ "${SANITIZE:-1}" = 0 ]; then
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
