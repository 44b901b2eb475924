# Writes (store_put / store_delete; included from tests/store/CMakeLists.txt): a local
# folder, s3rver, and the loopback fault server speaking S3's write calls.
add_executable(put_driver put_driver.c probe_util.c)
target_link_libraries(put_driver PRIVATE td_store PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME put_local COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/put_local.py
                                $<TARGET_FILE:put_driver>)
add_test(NAME put_s3rver COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/put_s3rver.py
                                 $<TARGET_FILE:put_driver> ${TD_NODE_DIR})
add_test(NAME put_faults COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/put_faults.py
                                 $<TARGET_FILE:put_driver>)
set_tests_properties(put_local put_s3rver put_faults PROPERTIES TIMEOUT 120)
add_test(NAME put_azurite COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/put_azurite.py
                                  $<TARGET_FILE:put_driver> ${TD_NODE_DIR})
set_tests_properties(put_azurite PROPERTIES TIMEOUT 120)
add_test(NAME put_gcs COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/put_gcs.py
                              $<TARGET_FILE:put_driver> ${TD_NODE_DIR})
set_tests_properties(put_gcs PROPERTIES TIMEOUT 180)
# Writes behind a fetched token (the write op's credential wait): GCS's upload protocol on
# the fault server, the token from the loopback metadata server.
add_test(NAME put_token COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/put_token.py
                                $<TARGET_FILE:put_driver>)
set_tests_properties(put_token PROPERTIES TIMEOUT 120)
