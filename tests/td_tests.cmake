# What every tests/<module>/CMakeLists.txt shares; each includes this file first.
#  - td_test.h (CHECK, CHECK_STR, REQUIRE) for the C tests;
#  - tests/pylib on PYTHONPATH: the tdtest package of the Python tests (no sys.path edits);
#  - exit status 77 means "skipped": a tool the test needs at run time is missing. ctest
#    then prints "***Skipped" and scripts/test.sh fails unless TD_ALLOW_SKIP=1.
# The properties are set at the end of the including folder, when all its tests exist.
include_directories(${CMAKE_SOURCE_DIR}/tests)

function(td_test_defaults)
  get_property(_tests DIRECTORY PROPERTY TESTS)
  if(_tests)
    set_property(TEST ${_tests} APPEND PROPERTY ENVIRONMENT
                 "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/pylib")
    set_property(TEST ${_tests} PROPERTY SKIP_RETURN_CODE 77)
  endif()
endfunction()
cmake_language(DEFER CALL td_test_defaults)
