# ipsecd_test(NAME SOURCES files... LIBS libs... LABEL tier [ARGS args...])
# One GoogleTest executable registered as one ctest test carrying its tier label
# (unit, integration, netns, interop, vm, fuzz), so `ctest -L unit` selects a tier.
function(ipsecd_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  if(NOT T_LABEL)
    message(FATAL_ERROR "ipsecd_test(${name}): LABEL is required")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${IPSECD_ROOT})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "IPSECD_SOURCE_DIR=${IPSECD_ROOT};IPSECD_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()
