# The progress display (issue 18): its formatting in C, and the live line in a pseudo-terminal
# (tmux capture-pane) against a slow fault server. Included by tests/cli/CMakeLists.txt.
if(TARGET tiff-dumper)
  # progress.c and say.c are the tool's own sources (no library of their own)
  add_executable(test_progress test_progress.c ${CMAKE_SOURCE_DIR}/src/cli/progress.c
                 ${CMAKE_SOURCE_DIR}/src/cli/say.c)
  target_include_directories(test_progress PRIVATE ${CMAKE_SOURCE_DIR}/src/cli)
  target_link_libraries(test_progress PRIVATE td_pipeline)
  add_test(NAME cli_progress_format COMMAND test_progress)
  add_test(NAME cli_progress_tty
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_progress.py
                   $<TARGET_FILE:tiff-dumper>)
  set_tests_properties(cli_progress_tty PROPERTIES TIMEOUT 60)
endif()
