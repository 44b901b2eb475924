# Azure Blob and Google Cloud Storage backend tests (helper azgcs), included from
# tests/store/CMakeLists.txt. The pure pieces are built straight from their sources (each
# tested alone); the emulator tests need node (tests/node: azurite, firebase-tools) and
# TD_PYTHON.
set(_azgcs_src "${CMAKE_SOURCE_DIR}/src/store")

add_executable(test_az_unit az_unit.c ${_azgcs_src}/az_sign.c
               ${_azgcs_src}/az_list.c)
target_include_directories(test_az_unit PRIVATE ${_azgcs_src})
target_link_libraries(test_az_unit PRIVATE td_util PkgConfig::UV PkgConfig::EXPAT PkgConfig::CRYPTO)
add_test(NAME store_az_unit COMMAND test_az_unit)

add_executable(az_sign_tool az_sign_tool.c ${_azgcs_src}/az_sign.c)
target_include_directories(az_sign_tool PRIVATE ${_azgcs_src})
target_link_libraries(az_sign_tool PRIVATE td_util PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME store_az_sign_python
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/az_sign_check.py
                 $<TARGET_FILE:az_sign_tool>)

add_executable(test_gcs_unit gcs_unit.c ${_azgcs_src}/gcs_json.c
               ${_azgcs_src}/gcs_auth.c)
target_include_directories(test_gcs_unit PRIVATE ${_azgcs_src})
target_link_libraries(test_gcs_unit PRIVATE td_util PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME store_gcs_unit COMMAND test_gcs_unit)

add_executable(gcs_jwt_tool gcs_jwt_tool.c ${_azgcs_src}/gcs_json.c
               ${_azgcs_src}/gcs_auth.c)
target_include_directories(gcs_jwt_tool PRIVATE ${_azgcs_src})
target_link_libraries(gcs_jwt_tool PRIVATE td_util PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME store_gcs_jwt_openssl
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gcs_jwt_check.py
                 $<TARGET_FILE:gcs_jwt_tool>)

add_executable(azgcs_driver azgcs_driver.c)
target_link_libraries(azgcs_driver PRIVATE td_store PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME store_az_azurite
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/az_azurite_test.py
                 $<TARGET_FILE:azgcs_driver> ${TD_NODE_DIR})
add_test(NAME store_gcs_emulator
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gcs_emulator_test.py
                 $<TARGET_FILE:azgcs_driver> ${TD_NODE_DIR})
# 77 (skipped, see tests/td_tests.cmake): the emulator's npm package is not installed
set_tests_properties(store_az_azurite store_gcs_emulator PROPERTIES TIMEOUT 300)

# The shared corpus through azurite equals the local-folder run (needs the whole tool).
if(TARGET tiff-dumper)
  add_test(NAME store_az_corpus_e2e
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/az_corpus_e2e.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(store_az_corpus_e2e PROPERTIES TIMEOUT 300)
endif()

# The shared corpus through the GCS emulator equals the local-folder run.
if(TARGET tiff-dumper)
  add_test(NAME store_gcs_corpus_e2e
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gcs_corpus_e2e.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(store_gcs_corpus_e2e PROPERTIES TIMEOUT 300)
endif()

# Entra ID and Google credential flows against loopback fakes of the identity endpoints
# (tests/pylib/tdtest/idfake.py), the data requests through its checking proxy in front of
# azurite / the GCS emulator.
if(TARGET tiff-dumper)
  set(_az_auth_tool $<TARGET_FILE:tiff-dumper>)
endif()
add_test(NAME store_az_auth_flows
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/az_auth_flows.py
                 $<TARGET_FILE:azgcs_driver> ${TD_NODE_DIR} ${_az_auth_tool})
add_test(NAME store_gcs_auth_flows
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gcs_auth_flows.py
                 $<TARGET_FILE:azgcs_driver> ${TD_NODE_DIR} ${_az_auth_tool})
set_tests_properties(store_az_auth_flows store_gcs_auth_flows PROPERTIES TIMEOUT 300)

# Token documents, error documents, external_account files, the bounded CLI runner.
add_executable(test_az_auth_unit az_auth_unit.c)
target_link_libraries(test_az_auth_unit PRIVATE td_store PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME store_az_auth_unit COMMAND test_az_auth_unit)
