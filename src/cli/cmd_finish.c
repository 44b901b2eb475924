/* cmd_finish.c - `tiff-dumper finish OUT_DIR [--shards N]`: checks that every shard of a
 * sharded run wrote its marker and writes the dataset's _SUCCESS (shard.h). The last shard
 * to finish does the same by itself; this is the step for a job engine's "after all"
 * dependency, and the check a user can run at any time. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd_finish.h"
#include "say.h"
#include "shard.h"

/* Exit statuses: as `headers` where they overlap. */
enum { EXIT_COMPLETE = 0, EXIT_USAGE = 2, EXIT_FAILED = 3, EXIT_INCOMPLETE = 4 };

void td_cmd_finish_usage(FILE *out) {
    fputs("usage: tiff-dumper finish OUT_DIR [--shards N] [--quiet]\n"
          "\n"
          "Completes the output of a sharded run (headers --shard I/N into one OUT_DIR):\n"
          "checks that every _SUCCESS.shard-<I>-of-<N> is there, all of the same N and the\n"
          "same config, and that no part file belongs to another split; then writes\n"
          "OUT_DIR/_SUCCESS with the shards' counts summed. Safe to run more than once, and\n"
          "while the last shard writes the same file.\n"
          "\n"
          "options:\n"
          "  --shards N    the expected shard count (default: the markers' own)\n"
          "  -q, --quiet   print only errors\n"
          "  -h, --help    this text\n"
          "\n"
          "exit status: 0 complete, _SUCCESS written; 2 usage error;\n"
          "             3 the markers or parts do not fit together, or writing failed;\n"
          "             4 shards missing (named on stderr), nothing written\n",
          out);
}

int td_cmd_finish(int argc, char **argv) {
    const char *dir = NULL, *shards = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            td_cmd_finish_usage(stdout);
            return EXIT_COMPLETE;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            quiet = true;
        else if (strcmp(a, "--shards") == 0 || strncmp(a, "--shards=", 9) == 0) {
            shards = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!shards) {
                td_say(stderr, "tiff-dumper finish: --shards needs a value (N)\n");
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            td_say(stderr, "tiff-dumper finish: unknown option '%s'\n", a);
            td_cmd_finish_usage(stderr);
            return EXIT_USAGE;
        } else if (dir) {
            td_say(stderr, "tiff-dumper finish: unexpected argument '%s'\n", a);
            return EXIT_USAGE;
        } else
            dir = a;
    }
    if (!dir) {
        td_say(stderr, "tiff-dumper finish: expected OUT_DIR\n");
        td_cmd_finish_usage(stderr);
        return EXIT_USAGE;
    }
    uint32_t want = 0;
    char err[2048] = "";
    if (shards) {
        td_shard_options s;
        char spec[64];
        snprintf(spec, sizeof spec, "0/%s", shards);
        if (strlen(shards) > 20 || td_shard_parse(spec, &s, err, sizeof err) != 0) {
            td_say(stderr,
                   "tiff-dumper finish: --shards '%s': expected a whole number from 1 to %u\n",
                   shards, TD_SHARD_MAX_COUNT);
            return EXIT_USAGE;
        }
        want = s.count;
    }
    uint32_t n = 0;
    int rc = td_shard_finish(dir, want, "finish", &n, err, sizeof err);
    if (rc == 0) {
        if (!quiet)
            td_say(stdout, "%s: all %" PRIu32 " shards done; wrote %s/_SUCCESS\n", dir, n, dir);
        return EXIT_COMPLETE;
    }
    td_say(stderr, "tiff-dumper finish: %s\n", err);
    return rc == 1 ? EXIT_INCOMPLETE : EXIT_FAILED;
}
