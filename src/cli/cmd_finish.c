/* cmd_finish.c - `tiff-dumper finish OUT_DIR [--shards N]`: checks that every shard of a
 * sharded run wrote its marker and writes the dataset's _SUCCESS (shard.h). The last shard
 * to finish does the same by itself; this is the step for a job engine's "after all"
 * dependency, and the check a user can run at any time. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "cmd_finish.h"
#include "config.h"
#include "say.h"
#include "shard.h"

/* Exit statuses: as `headers` where they overlap. */
enum { EXIT_COMPLETE = 0, EXIT_USAGE = 2, EXIT_FAILED = 3, EXIT_INCOMPLETE = 4 };

void td_cmd_finish_usage(FILE *out) {
    fputs("usage: tiff-dumper finish OUT_DIR [--shards N] [--config CONFIG] [-o KEY=VALUE]...\n"
          "                          [--quiet]\n"
          "\n"
          "Completes the output of a sharded run (headers --shard I/N into one OUT_DIR):\n"
          "checks that every _SUCCESS.shard-<I>-of-<N> is there, all of the same N and the\n"
          "same config, and that no part file belongs to another split; then writes\n"
          "OUT_DIR/_SUCCESS with the shards' counts summed. Safe to run more than once, and\n"
          "while the last shard writes the same file.\n"
          "\n"
          "options:\n"
          "  --shards N    the expected shard count (default: the markers' own)\n"
          "  --config CONFIG  OUT_DIR is an object store (s3://, gs://, az://): its options\n"
          "                (output.obstore_config) and network settings from the run's\n"
          "                config; without it, the environment's credentials and endpoint\n"
          "  -o KEY=VALUE  an output store option (as in output.obstore_config; wins over\n"
          "                --config's)\n"
          "  -q, --quiet   print only errors\n"
          "  -h, --help    this text\n"
          "\n"
          "exit status: 0 complete, _SUCCESS written; 2 usage error (or a store option);\n"
          "             3 the markers or parts do not fit together, or writing failed;\n"
          "             4 shards missing (named on stderr), nothing written\n",
          out);
}

int td_cmd_finish(int argc, char **argv) {
    const char *dir = NULL, *shards = NULL, *config = NULL;
    bool quiet = false;
    store_kv *kvs = calloc((size_t)argc + 1, sizeof *kvs);
    size_t n_kv = 0;
    if (!kvs) {
        td_say(stderr, "tiff-dumper finish: out of memory\n");
        return EXIT_FAILED;
    }
    int ret = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            td_cmd_finish_usage(stdout);
            free(kvs);
            return EXIT_COMPLETE;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            quiet = true;
        else if (strcmp(a, "--shards") == 0 || strncmp(a, "--shards=", 9) == 0) {
            shards = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!shards) {
                td_say(stderr, "tiff-dumper finish: --shards needs a value (N)\n");
                goto out;
            }
        } else if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
            config = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!config) {
                td_say(stderr, "tiff-dumper finish: --config needs a value (a config file)\n");
                goto out;
            }
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--option") == 0) {
            char *v = i + 1 < argc ? argv[++i] : NULL;
            if (!v || td_config_split_kv(v, &kvs[n_kv]) != 0) {
                td_say(stderr, "tiff-dumper finish: -o needs KEY=VALUE\n");
                goto out;
            }
            n_kv++;
        } else if (a[0] == '-' && a[1]) {
            td_say(stderr, "tiff-dumper finish: unknown option '%s'\n", a);
            td_cmd_finish_usage(stderr);
            goto out;
        } else if (dir) {
            td_say(stderr, "tiff-dumper finish: unexpected argument '%s'\n", a);
            goto out;
        } else
            dir = a;
    }
    if (!dir) {
        td_say(stderr, "tiff-dumper finish: expected OUT_DIR\n");
        td_cmd_finish_usage(stderr);
        goto out;
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
            goto out;
        }
        want = s.count;
    }
    td_config cfg;
    td_config_defaults(&cfg);
    if (config && td_config_load(&cfg, config, err, sizeof err) != 0) {
        td_say(stderr, "tiff-dumper finish: %s\n", err);
        td_config_free(&cfg);
        goto out;
    }
    td_pipeline_options o;
    td_config_to_options(&cfg, &o);
    o.out_dir = dir;
    /* -o after the config's own options: a store takes the last value of a key */
    store_kv *all = calloc(o.n_out_store_kv + n_kv + 1, sizeof *all);
    if (!all) {
        td_say(stderr, "tiff-dumper finish: out of memory\n");
        td_config_free(&cfg);
        ret = EXIT_FAILED;
        goto out;
    }
    for (size_t i = 0; i < o.n_out_store_kv; i++)
        all[i] = o.out_store_kv[i];
    for (size_t i = 0; i < n_kv; i++)
        all[o.n_out_store_kv + i] = kvs[i];
    o.out_store_kv = all;
    o.n_out_store_kv += n_kv;
    uint32_t n = 0;
    int rc = td_shard_finish_opts(&o, want, "finish", &n, err, sizeof err);
    free(all);
    td_config_free(&cfg);
    if (rc == 0) {
        if (!quiet)
            td_say(stdout, "%s: all %" PRIu32 " shards done; wrote %s%s_SUCCESS\n", dir, n, dir,
                   dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/");
        ret = EXIT_COMPLETE;
    } else {
        td_say(stderr, "tiff-dumper finish: %s\n", err);
        ret = rc == 1 ? EXIT_INCOMPLETE : rc == -2 ? EXIT_USAGE : EXIT_FAILED;
    }
out:
    free(kvs);
    return ret;
}
