# OUT on an object store (issue 16 item 3; included by tests/cli/CMakeLists.txt): the corpus
# dumped into s3rver, azurite and the GCS emulator gives the local run's rows, reruns
# replace old outputs, and the fault server's 503s are retried and a 403 fails the run.
if(TARGET tiff-dumper)
  foreach(_kind s3 az gcs)
    set(_name out_store_${_kind})
    if(_kind STREQUAL "s3")
      set(_name out_store_s3rver)
    elseif(_kind STREQUAL "az")
      set(_name out_store_azurite)
    endif()
    add_test(NAME ${_name}
             COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/out_store_e2e.py
                     $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR} ${_kind})
    set_tests_properties(${_name} PROPERTIES TIMEOUT 240)
  endforeach()
  add_test(NAME out_store_faults
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/out_store_faults.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(out_store_faults PROPERTIES TIMEOUT 180)
endif()
# Shards, finish and --resume on an s3://, az:// and gs:// OUT (issue 16 items 1-3): kill -9
# while parts are uploaded (at least 10 kills), --resume, every key once and _SUCCESS; finish
# on the store. 40-50 s each on a loaded 2-core machine.
if(TARGET tiff-dumper)
  foreach(_kind s3 az gcs)
    set(_name out_store_resume_s3rver)
    if(_kind STREQUAL "az")
      set(_name out_store_resume_azurite)
    elseif(_kind STREQUAL "gcs")
      set(_name out_store_resume_gcs)
    endif()
    add_test(NAME ${_name}
             COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/out_store_resume.py
                     $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR} ${_kind})
    set_tests_properties(${_name} PROPERTIES TIMEOUT 240)
  endforeach()
endif()
