# `cmake --install` of the build into a fresh prefix gives a working bin/tiff-dumper:
# --version, and `info` on a corpus file; the man page, completions and docs are in place. Run by the ctest cli_install:
#   cmake -DBUILD_DIR=... -DPREFIX=... -DCORPUS_FILE=... -DVERSION=... -P install_test.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}")
endif()
set(exe "${PREFIX}/bin/tiff-dumper")
if(NOT EXISTS "${exe}")
  message(FATAL_ERROR "cmake --install did not install ${exe}:\n${out}")
endif()
execute_process(COMMAND "${exe}" --version RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "^tiff-dumper ${VERSION}\n")
  message(FATAL_ERROR "${exe} --version: status ${rc}, output '${out}' ${err}")
endif()
execute_process(COMMAND "${exe}" info "${CORPUS_FILE}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "byte_order +II" OR NOT out MATCHES "image_width")
  message(FATAL_ERROR "${exe} info ${CORPUS_FILE}: status ${rc}\n${out}\n${err}")
endif()
foreach(f share/man/man1/tiff-dumper.1.gz share/bash-completion/completions/tiff-dumper
          share/zsh/vendor-completions/_tiff-dumper share/doc/tiff-dumper/README.md)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "cmake --install did not install ${PREFIX}/${f}")
  endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "installed ${exe}: --version and info work")
