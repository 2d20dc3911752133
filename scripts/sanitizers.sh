# Sourced by scripts/test.sh and bench/fuzz: where
# the sanitizer trees are, how they are configured, and the runtime options
# every sanitized process gets (children inherit them: the e2e suites'
# `vernier` processes and C++ trainers are checked too).
#
#   build-asan  clang, AddressSanitizer + UndefinedBehaviorSanitizer, -O1 with
#               line tables (enough for symbolised reports, cheaper than -g),
#               libFuzzer coverage on every object; the whole test suite and
#               the fuzz targets (VERNIER_FUZZ) live here.
#   build-tsan  clang, ThreadSanitizer; only the concurrency tests are built
#               (TSAN_TESTS) and run.

SANITIZER_DIR="$PWD/tests/sanitizers"
ASAN_BUILD="${ASAN_BUILD:-build-asan}"
TSAN_BUILD="${TSAN_BUILD:-build-tsan}"

# The gtest binaries (and so the CTest labels, see cmake/vernier.cmake) that
# exercise threads: the storage's group-commit writer and its connections,
# the controller's event loop and the study manager, the gRPC server taking
# concurrent calls, the C++ client's report streams, the executor's monitor
# threads, the HTTP server's live updates.
TSAN_TESTS=(
  storage_grouped_writer_test storage_sqlite_store_test
  study_controller_test study_manager_test
  server_grpc_server_test server_transport_test client_test
  local_executor_test web_live_updates_test
)

export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$SANITIZER_DIR/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="suppressions=$SANITIZER_DIR/tsan.supp:halt_on_error=1:second_deadlock_stack=1"

# configure_sanitized DIR SANITIZERS [extra cmake args...]
configure_sanitized() {
  local dir=$1 sanitizers=$2 launcher=()
  shift 2
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$dir" -G Ninja "${launcher[@]}" \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
    -DVERNIER_BENCH=OFF -DVERNIER_SANITIZE="$sanitizers" "$@" >/dev/null
}

configure_asan() { configure_sanitized "$ASAN_BUILD" address,undefined -DVERNIER_FUZZ=ON; }
configure_tsan() { configure_sanitized "$TSAN_BUILD" thread; }

# build_asan JOBS: everything, fuzz targets included.
build_asan() { configure_asan && cmake --build "$ASAN_BUILD" --parallel "$1"; }
# build_tsan JOBS: the TSAN_TESTS binaries only.
build_tsan() {
  configure_tsan && cmake --build "$TSAN_BUILD" --parallel "$1" --target "${TSAN_TESTS[@]}"
}
