# The footprint map (src/report/map.h): included by tests/report/CMakeLists.txt.
if(TARGET td_report_map)
  add_executable(map_test ${CMAKE_CURRENT_LIST_DIR}/map_test.c)
  target_link_libraries(map_test PRIVATE td_report_map td_util m)
  add_test(NAME report_map COMMAND map_test)
endif()
