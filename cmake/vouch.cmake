# Helpers that give every component the same shape: one library
# (vouch_<name>) and one test binary (vouch_<name>_test).

set(VOUCH_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wformat=2
    -Wimplicit-fallthrough)
if(VOUCH_WERROR)
  list(APPEND VOUCH_WARNINGS -Werror)
endif()

# vouch_library(NAME SOURCES a.cc b.cc DEPS vouch_base OpenSSL::Crypto)
function(vouch_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(vouch_${name} STATIC ${ARG_SOURCES})
  target_include_directories(vouch_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(vouch_${name} PRIVATE ${VOUCH_WARNINGS})
  target_link_libraries(vouch_${name} PUBLIC ${ARG_DEPS})
endfunction()

# vouch_test(NAME SOURCES a_test.cc DEPS vouch_snp)
function(vouch_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(vouch_${name}_test ${ARG_SOURCES})
  target_compile_options(vouch_${name}_test PRIVATE ${VOUCH_WARNINGS})
  target_compile_definitions(vouch_${name}_test PRIVATE
      VOUCH_VECTORS_DIR="${VOUCH_VECTORS_DIR}"
      VOUCH_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(vouch_${name}_test PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  # NO_PRETTY_VALUES keeps parameter bytes (which may be addresses) out of test names.
  gtest_discover_tests(vouch_${name}_test NO_PRETTY_VALUES DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS ${name})
endfunction()
