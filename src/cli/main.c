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
          "  headers CONFIG OUT_DIR [--quiet | --loud] [--resume] [--shard I/N | ...]\n"
          "                        list the store of CONFIG, write the headers to OUT_DIR\n"
          "                        (OUT_DIR: a folder, or s3://, gs://, az://)\n"
          "  headers --check CONFIG [OUT_DIR]\n"
          "                        validate the config and store options; no request\n"
          "  finish OUT_DIR [--shards N]\n"
          "                        after a sharded run: check every shard is done, write\n"
          "                        OUT_DIR/_SUCCESS\n"
          "  info [--json] [-o K=V]... FILE|URL...\n"
          "                        print the header of TIFF files, local or in a store\n"
          "  report OUT_DIR [-o FILE] [--option K=V]...\n"
          "                        one self-contained HTML page about a run's output\n"
          "\n"
          "  tiff-dumper COMMAND --help   help of one command (also: tiff-dumper help COMMAND)\n"
          "  tiff-dumper --version        version, and the libraries it runs with\n"
          "\n"
          "exit status: 0 success; 1 some objects failed; 2 usage or config error;\n"
          "             3 the run failed or was interrupted; 4 (finish) shards missing\n",
          out);
}

typedef int (*cmd_fn)(int argc, char **argv);
static const struct {
    const char *name;
    cmd_fn run;
} commands[] = {{"headers", td_cmd_headers},
                {"finish", td_cmd_finish},
                {"info", td_cmd_info},
                {"report", td_cmd_report}};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Edit distance of two short words (a command name and what was typed), capped: only
 * "is it a typo" matters. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    size_t row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static cmd_fn find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run;
    return NULL;
}

/* What was typed is not a command: name the closest one when it looks like a typo. */
static int unknown_command(const char *cmd) {
    const char *best = NULL;
    size_t bd = 3; /* at most 2 edits */
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t d = edit_distance(cmd, commands[i].name);
        if (d < bd) {
            bd = d;
            best = commands[i].name;
        }
    }
    if (best)
        td_say(stderr,
               "tiff-dumper: unknown command '%s' (did you mean '%s'?); `tiff-dumper --help` "
               "lists the commands\n",
               cmd, best);
    else
        td_say(stderr,
               "tiff-dumper: unknown command '%s'; the commands are headers, finish, info and "
               "report (`tiff-dumper --help`)\n",
               cmd);
    return 2;
}

int main(int argc, char **argv) {
    td_say_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc > 2) {
        /* `tiff-dumper help CMD` = `tiff-dumper CMD --help`, as git and cargo have it */
        cmd_fn run = find_command(argv[2]);
        if (!run)
            return unknown_command(argv[2]);
        char *hargv[] = {argv[2], "--help", NULL};
        return run(2, hargv);
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        td_cli_print_version(stdout);
        return 0;
    }
    cmd_fn run = find_command(cmd);
    if (run)
        return run(argc - 1, argv + 1);
    if (cmd[0] == '-') {
        td_say(stderr, "tiff-dumper: unknown option '%s' before the command\n", cmd);
        usage(stderr);
        return 2;
    }
    return unknown_command(cmd);
}
