# The one way a folder declares its library and its tests.

# vernier_module(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Declares the library `vernier_NAME`, aliased `vernier::NAME`. Headers are
# included from the repository root ("storage/store.h"), so the root is the
# only include directory a module exports.
function(vernier_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(vernier_${name} STATIC ${M_SOURCES})
  add_library(vernier::${name} ALIAS vernier_${name})
  target_include_directories(vernier_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(vernier_${name} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  target_link_libraries(vernier_${name}
    PUBLIC ${M_PUBLIC_DEPS}
    PRIVATE ${M_PRIVATE_DEPS})
endfunction()

# vernier_test(NAME SOURCES ... DEPS ...)
# A GoogleTest binary whose cases CTest discovers one by one, each labelled
# NAME (so `ctest -L NAME` runs one binary's cases). Under ThreadSanitizer it
# also links tests/sanitizers/absl_sync_tsan.cc (see there).
function(vernier_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  if(TARGET vernier_absl_sync_tsan)
    target_link_libraries(${name} PRIVATE vernier_absl_sync_tsan)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS ${name}
      ENVIRONMENT "VERNIER_SOURCE_DIR=${PROJECT_SOURCE_DIR};VERNIER_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
