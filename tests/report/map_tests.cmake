# The footprint map (src/report/map.h): included by tests/report/CMakeLists.txt.
if(TARGET td_report_map)
  # WKB reading (hostile inputs), polar and antimeridian paths, the grid switch, size bounds
  add_executable(map_test ${CMAKE_CURRENT_LIST_DIR}/map_test.c)
  target_link_libraries(map_test PRIVATE td_report_map td_util m)
  add_test(NAME report_map COMMAND map_test)
  # td_geo's own footprints (GDAL-written polar / antimeridian / UTM rasters, the corpus)
  # on the map, rendered by headless Chromium and checked pixel by pixel; the SVGs and
  # screenshots stay in the build folder (map_artefacts/)
  add_executable(map_render ${CMAKE_CURRENT_LIST_DIR}/map_render.c)
  target_link_libraries(map_render PRIVATE td_report_map td_util)
  if(TARGET td_geo)
    add_test(NAME report_map_geo
             COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/map_geo.py
                     $<TARGET_FILE:td_geo_dump> $<TARGET_FILE:map_render> ${TD_CORPUS_DIR}
                     ${CMAKE_CURRENT_BINARY_DIR}/map_artefacts)
    set_tests_properties(report_map_geo PROPERTIES TIMEOUT 120)
  endif()
endif()
