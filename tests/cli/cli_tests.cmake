# End-to-end tests of the tool (helper "pipeline"); included by tests/cli/CMakeLists.txt.
if(TARGET tiff-dumper)
  add_test(NAME cli_e2e_corpus
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_corpus.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  add_test(NAME cli_e2e_commands
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_cli.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(cli_e2e_corpus cli_e2e_commands PROPERTIES TIMEOUT 300)
  # fetch.ifds: first and output.footprints: false (issues 15, 14): rows equal to the
  # default run's but the documented null columns; the geo metadata still GeoParquet 1.1
  add_test(NAME cli_e2e_knobs
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_knobs.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(cli_e2e_knobs PROPERTIES TIMEOUT 300)
endif()

# Drop-in behaviour for the Python tool's users (issue 14): prefix semantics on local,
# nginx and s3rver stores, prefixes []/null, the errors table under _errors/.
if(TARGET tiff-dumper)
  add_test(NAME cli_e2e_dropin
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_dropin.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(cli_e2e_dropin PROPERTIES TIMEOUT 300)
endif()

# Shards (issue 16 item 1): --shard I/N, job-engine variables, finish; and the recipes of
# examples/ (item 5) parse.
if(TARGET tiff-dumper)
  add_test(NAME cli_e2e_shards
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_shards.py
                   $<TARGET_FILE:tiff-dumper> ${TD_CORPUS_DIR} ${TD_NODE_DIR})
  set_tests_properties(cli_e2e_shards PROPERTIES TIMEOUT 300)
endif()
if(TARGET tiff-dumper)
  add_test(NAME cli_example_recipes
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/example_recipes.py
                   $<TARGET_FILE:tiff-dumper> ${CMAKE_SOURCE_DIR}/examples)
  set_tests_properties(cli_example_recipes PROPERTIES TIMEOUT 120)
endif()

# The user-facing texts agree: README/docs links and anchors resolve, every command and every
# option of each --help is in the README usage, the man page and both completions.
if(TARGET tiff-dumper)
  add_test(NAME cli_docs_check
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/docs_check.py
                   $<TARGET_FILE:tiff-dumper> ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_docs_check PROPERTIES TIMEOUT 60)
endif()

# A new user's usual mistakes (relative store, one-slash URL, empty prefix, report on the wrong
# folder, Ctrl-C): the message names the object and what to do; the exit status is documented.
if(TARGET tiff-dumper)
  add_test(NAME cli_user_mistakes
           COMMAND ${TD_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e_user_mistakes.py
                   $<TARGET_FILE:tiff-dumper> ${CMAKE_SOURCE_DIR}/examples/data)
  set_tests_properties(cli_user_mistakes PROPERTIES TIMEOUT 120)
endif()
