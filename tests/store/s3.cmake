# S3 backend tests (owned by the S3 backend; included from tests/store/CMakeLists.txt).
set(_s3_src "${CMAKE_SOURCE_DIR}/src/store")

# Signing alone: AWS's published vectors, and botocore signing the same requests.
add_executable(s3_sigv4_vectors s3_sigv4_vectors.c ${_s3_src}/s3_sigv4.c)
target_include_directories(s3_sigv4_vectors PRIVATE ${_s3_src})
target_link_libraries(s3_sigv4_vectors PRIVATE td_util PkgConfig::CRYPTO)
add_test(NAME s3_sigv4_vectors
         COMMAND s3_sigv4_vectors ${CMAKE_CURRENT_SOURCE_DIR}/s3_sigv4_vectors.txt)

add_executable(s3_sign_dump s3_sign_dump.c ${_s3_src}/s3_req.c ${_s3_src}/s3_sigv4.c)
target_include_directories(s3_sign_dump PRIVATE ${_s3_src})
target_link_libraries(s3_sign_dump PRIVATE td_util PkgConfig::CRYPTO)
add_test(NAME s3_botocore
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_botocore.py $<TARGET_FILE:s3_sign_dump>)

# the dates of S3 answers (LastModified of every listed key, credential expiry)
add_executable(s3_date_unit s3_date_unit.c ${_s3_src}/s3_req.c ${_s3_src}/s3_sigv4.c)
target_include_directories(s3_date_unit PRIVATE ${_s3_src} ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(s3_date_unit PRIVATE td_util PkgConfig::CRYPTO)
add_test(NAME s3_date_unit COMMAND s3_date_unit)

# credential_process command lines split as botocore splits them
add_executable(s3_auth_unit s3_auth_unit.c ${_s3_src}/s3_process.c)
target_include_directories(s3_auth_unit PRIVATE ${_s3_src} ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(s3_auth_unit PRIVATE td_util PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME s3_auth_unit COMMAND s3_auth_unit)

# Against real servers (s3rver; a loopback credential server): needs the network engine.
add_executable(s3_store_probe s3_store_probe.c probe_util.c)
target_link_libraries(s3_store_probe PRIVATE td_store PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME s3_s3rver
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_s3rver.py
                 $<TARGET_FILE:s3_store_probe> ${TD_NODE_DIR})
add_test(NAME s3_creds_chain
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_creds_chain.py
                 $<TARGET_FILE:s3_store_probe> ${TD_NODE_DIR})
add_test(NAME s3_nginx_faults
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_nginx_faults.py
                 $<TARGET_FILE:s3_store_probe> ${TD_NODE_DIR})
set_tests_properties(s3_s3rver s3_creds_chain s3_nginx_faults PROPERTIES TIMEOUT 300)
# issue 17's flows (role, SSO, credential_process, S3 Express, SSE-C, proxies) against a
# loopback fake of each endpoint that checks signatures with botocore
add_test(NAME s3_auth_flows
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_auth_flows.py
                 $<TARGET_FILE:s3_store_probe>)
set_tests_properties(s3_auth_flows PROPERTIES TIMEOUT 180)

# End to end through the tool (needs the pipeline and CLI targets).
if(TARGET tiff-dumper)
  add_test(NAME s3_e2e_corpus
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_e2e_corpus.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(s3_e2e_corpus PROPERTIES TIMEOUT 600)
  # the same through nginx injecting faults (503, 444, 429, SlowDown, stalls, 403/404/400)
  add_test(NAME s3_e2e_faults
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_e2e_faults.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(s3_e2e_faults PROPERTIES TIMEOUT 180)
  # https through nginx with a private CA (network.ca_bundle), and without it
  add_test(NAME s3_tls
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_tls.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(s3_tls PROPERTIES TIMEOUT 180)
  # issue 17's flows stacked (role via credential_process, S3 Express, SSE-C) through
  # the tool, against the loopback fake
  add_test(NAME s3_auth_e2e
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/s3_auth_e2e.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(s3_auth_e2e PROPERTIES TIMEOUT 180)
endif()
