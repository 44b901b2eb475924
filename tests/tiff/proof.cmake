# Proof of the parser beyond tifffile's corpus reading (issue 2): libtiff as a second oracle,
# and the generated mutation suite. Included by tests/tiff/CMakeLists.txt.

# libtiff is test-only (the parser itself never links it) but required by the test build
# (scripts/deps.sh installs libtiff-dev; -DTD_TESTS=OFF builds without it): a missing oracle
# must stop the configure step, not make the test silently disappear.
pkg_check_modules(TIFF4 REQUIRED IMPORTED_TARGET libtiff-4)
add_executable(tiff_oracle_libtiff oracle_libtiff.c corpus_util.c)
target_link_libraries(tiff_oracle_libtiff PRIVATE td_tiff PkgConfig::TIFF4)
add_test(NAME tiff_oracle_libtiff
         COMMAND tiff_oracle_libtiff ${TD_CORPUS_DIR}
                 ${CMAKE_CURRENT_SOURCE_DIR}/libtiff_deviations.txt)

# Generated malformed input (truncations, corrupted counts/types/offsets, cycles, GeoKey
# directories pointing outside): meant for the ASan+UBSan build. TD_MUTATIONS=N in the
# environment scales the mutants per file (default 1000).
add_executable(tiff_mutate_corpus mutate_corpus.c corpus_util.c)
target_link_libraries(tiff_mutate_corpus PRIVATE td_tiff)
add_test(NAME tiff_mutations COMMAND tiff_mutate_corpus ${TD_CORPUS_DIR})
set_tests_properties(tiff_mutations PROPERTIES TIMEOUT 900)
