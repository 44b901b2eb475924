/* main.c - tiff-dumper: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cmd_finish.h"
#include "cmd_headers.h"
#include "cmd_info.h"
#include "cmd_report.h"
#include "say.h"
#include "version.h"

static void usage(FILE *out) {
    fputs("usage: tiff-dumper COMMAND [ARGS]\n"
          "\n"
          "Dump the headers of TIFF / BigTIFF / GeoTIFF files in an object store or a local\n"
          "folder to Parquet, reading only the first bytes of each file.\n"
          "\n"
          "commands:\n"
          "  headers CONFIG OUT_DIR [--quiet | --loud]   (or: headers --check CONFIG)\n"
          "                        list the store of CONFIG, write the headers to OUT_DIR\n"
          "  finish OUT_DIR [--shards N]\n"
          "                        after a sharded run: check every shard is done, write\n"
          "                        OUT_DIR/_SUCCESS\n"
          "  info [--json] [-o K=V]... FILE|URL...\n"
          "                        print the header of TIFF files, local or in a store\n"
          "  report OUT_DIR [-o FILE]\n"
          "                        one self-contained HTML page about a run's output\n"
          "\n"
          "  tiff-dumper COMMAND --help   help of one command\n"
          "  tiff-dumper --version        version, and the libraries it runs with\n"
          "\n"
          "exit status: 0 success; 1 some objects failed; 2 usage or config error;\n"
          "             3 the run failed or was interrupted\n",
          out);
}

int main(int argc, char **argv) {
    td_say_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        td_cli_print_version(stdout);
        return 0;
    }
    if (strcmp(cmd, "headers") == 0)
        return td_cmd_headers(argc - 1, argv + 1);
    if (strcmp(cmd, "finish") == 0)
        return td_cmd_finish(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0)
        return td_cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return td_cmd_report(argc - 1, argv + 1);
    td_say(stderr, "tiff-dumper: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
