# HTTP(S) store tests (store_http.c), against nginx with WebDAV PROPFIND (Debian's
# libnginx-mod-http-dav-ext); included from tests/store/CMakeLists.txt.
add_executable(http_probe http_probe.c probe_util.c)
target_link_libraries(http_probe PRIVATE td_store PkgConfig::UV PkgConfig::CRYPTO)
add_test(NAME http_store_nginx
         COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/http_store_nginx.py
                 $<TARGET_FILE:http_probe>)
set_tests_properties(http_store_nginx PROPERTIES TIMEOUT 300)

if(TARGET tiff-dumper)
  add_test(NAME http_e2e_corpus
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/http_e2e_corpus.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(http_e2e_corpus PROPERTIES TIMEOUT 600)
endif()
