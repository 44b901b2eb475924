# Installation and the Debian package: what `cmake --install` puts where, and `cpack -G DEB`.
#   bin/tiff-dumper
#   share/man/man1/tiff-dumper.1.gz                      (docs/man/tiff-dumper.1, version filled in)
#   share/bash-completion/completions/tiff-dumper        (completions/tiff-dumper.bash)
#   share/zsh/vendor-completions/_tiff-dumper            (completions/_tiff-dumper)
#   share/doc/tiff-dumper/                               README and the config / store docs
# The libraries of src/ are static and internal: nothing else is installed.
include(GNUInstallDirs)

install(TARGETS tiff-dumper RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Debian policy wants man pages gzipped (-n: no timestamp, so the package is reproducible).
find_program(TD_GZIP gzip REQUIRED)
configure_file(${CMAKE_SOURCE_DIR}/docs/man/tiff-dumper.1 ${CMAKE_BINARY_DIR}/man/tiff-dumper.1
               @ONLY)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/tiff-dumper.1.gz
                   COMMAND ${TD_GZIP} -9nf -k ${CMAKE_BINARY_DIR}/man/tiff-dumper.1
                   DEPENDS ${CMAKE_BINARY_DIR}/man/tiff-dumper.1
                   COMMENT "gzip the man page")
add_custom_target(td_man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/tiff-dumper.1.gz)
install(FILES ${CMAKE_BINARY_DIR}/man/tiff-dumper.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${CMAKE_SOURCE_DIR}/completions/tiff-dumper.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME tiff-dumper)
install(FILES ${CMAKE_SOURCE_DIR}/completions/_tiff-dumper
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/config.md
              ${CMAKE_SOURCE_DIR}/docs/stores-s3.md ${CMAKE_SOURCE_DIR}/docs/stores-azure-gcs.md
              ${CMAKE_SOURCE_DIR}/docs/report.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack -G DEB (run in the build folder). The library dependencies are not listed by hand:
# dpkg-shlibdeps reads them off the binary, so the package asks for exactly the sonames it
# was linked against (libcurl4, libuv1, libssl3, ...). proj-data is a data package: no soname
# names it, yet PROJ cannot transform without its proj.db.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tiff-dumper)
set(CPACK_PACKAGE_VENDOR "tiff-dumper developers")
set(CPACK_PACKAGE_CONTACT "tiff-dumper developers <tiff-dumper@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "dump the headers of TIFF/GeoTIFF/COG files in object stores to Parquet")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Lists an object store (local folder, S3, GCS, Azure Blob, HTTP) or a key list,\n\
reads each TIFF's header with one ranged request and writes one Parquet row per\n\
file, plus an errors table.")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "proj-data")
set(CPACK_STRIP_FILES ON)
include(CPack)
