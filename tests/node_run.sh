#!/bin/sh
# Runs a node script of the tests (ctest: sh tests/node_run.sh SCRIPT ARGS...). Exits 77
# (skipped, see tests/td_tests.cmake) when node or the npm packages in $TD_NODE_DIR are
# missing, like the Python tests do for their tools.
command -v node >/dev/null 2>&1 || { echo "SKIP: node not found (scripts/deps.sh installs it)"; exit 77; }
[ -d "${TD_NODE_DIR:-}/node_modules" ] ||
    { echo "SKIP: no npm packages in '${TD_NODE_DIR:-}' (npm ci in tests/node)"; exit 77; }
exec node "$@"
