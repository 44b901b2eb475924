# The config loader and the command line under hostile input (issue 13); included by
# tests/cli/CMakeLists.txt.
add_executable(test_config_hostile ${CMAKE_CURRENT_LIST_DIR}/test_config_hostile.c)
target_link_libraries(test_config_hostile PRIVATE td_config)
add_test(NAME cli_config_hostile COMMAND test_config_hostile)
add_test(NAME cli_e2e_hostile
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_hostile.py $<TARGET_FILE:tiff-dumper>)
set_tests_properties(cli_config_hostile PROPERTIES TIMEOUT 60)
set_tests_properties(cli_e2e_hostile PROPERTIES TIMEOUT 180)
add_test(NAME cli_e2e_azure_sas
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_azure_sas.py $<TARGET_FILE:tiff-dumper>
                 ${TD_CORPUS_DIR} ${TD_NODE_DIR})
set_tests_properties(cli_e2e_azure_sas PROPERTIES TIMEOUT 120)
