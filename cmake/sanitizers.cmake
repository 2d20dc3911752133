# Sanitizer and fuzzing builds (README, "Sanitizers and fuzzing").
#
# VERNIER_SANITIZE: the list given to -fsanitize, e.g. "address,undefined" or
#   "thread"; empty (the default) for none. Every error is fatal
#   (-fno-sanitize-recover), so a finding fails the test that hit it.
# VERNIER_FUZZ: builds the libFuzzer targets of fuzz/ (clang only). Every object
#   then carries libFuzzer's coverage instrumentation (fuzzer-no-link), so the
#   fuzzers see into the libraries; only the fuzz targets link libFuzzer itself.
#   Ordinary executables of the same tree still link and run: the sanitizer
#   runtimes define the coverage callbacks as no-ops.
set(VERNIER_SANITIZE "" CACHE STRING
  "Sanitizers for -fsanitize (address,undefined | thread); empty for none")
option(VERNIER_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)

if(VERNIER_SANITIZE)
  add_compile_options(-fsanitize=${VERNIER_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${VERNIER_SANITIZE})
  if(VERNIER_SANITIZE MATCHES "thread")
    # Makes Debian's uninstrumented absl::Mutex visible to TSan in the test
    # binaries (tests/sanitizers/absl_sync_tsan.cc); an object library, so
    # that its definitions always win over the shared library's.
    add_library(vernier_absl_sync_tsan OBJECT
      ${PROJECT_SOURCE_DIR}/tests/sanitizers/absl_sync_tsan.cc)
    target_link_libraries(vernier_absl_sync_tsan PUBLIC absl::synchronization
      ${CMAKE_DL_LIBS})
  endif()
endif()

if(VERNIER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VERNIER_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
