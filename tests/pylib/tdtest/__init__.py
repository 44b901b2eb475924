"""Helpers shared by the Python tests (one package instead of sys.path edits).

ctest puts tests/pylib on PYTHONPATH (see the tests' CMakeLists); a test run by hand needs
`PYTHONPATH=tests/pylib`. Modules: e2e_lib (running the tool, reading its Parquet output),
make_keys (key folders of hard links), store_testlib (ports, processes, nginx), s3_testlib,
azgcs_testlib, http_testlib, azurite and gcs_emulator (the emulators), out_stores (an OUT on
s3rver, azurite or the GCS emulator, for the tests that dump into one), corpus_compare (the
parser's output against the corpus's expected.jsonl; also the tiff_corpus test itself),
faultsrv (the fault-injecting HTTP server, run as a process) and faults (its client side)."""
import os
import shutil
import sys

# tests/ of the source tree, for the files the helpers run (e.g. tests/cli/e2e_duckdb.mjs).
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Exit status of a skipped test (SKIP_RETURN_CODE of every test, tests/td_tests.cmake).
SKIP = 77


def skip(why):
    """Ends the test as skipped because something it needs is missing. scripts/test.sh (CI)
    fails on a skipped test unless TD_ALLOW_SKIP=1: a skip is never a silent pass."""
    print(f"SKIP: {why} (scripts/deps.sh installs the test tools)", flush=True)
    sys.exit(SKIP)


def require(tool, what=None):
    """TOOL: an absolute path that must exist, or a command looked up in PATH; skips the
    test when it is missing. Returns TOOL."""
    found = os.path.exists(tool) if os.path.isabs(tool) else shutil.which(tool)
    if not found:
        skip(f"{what or tool} not found")
    return tool
