/* cmd_headers.c - `tiff-dumper headers`: read the config, run the pipeline, report. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_headers.h"
#include "config.h"
#include "pipeline.h"
#include "progress.h"
#include "say.h"
#include "shard.h"

/* Exit statuses (documented in the README and in --help). */
enum { EXIT_ALL_DUMPED = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_RUN_FAILED = 3 };

void td_cmd_headers_usage(FILE *out) {
    fputs("usage: tiff-dumper headers CONFIG OUT_DIR [--quiet | --loud] [--resume]\n"
          "                        [--shard I/N | --shards N | --no-shard]\n"
          "       tiff-dumper headers --check CONFIG [OUT_DIR]\n"
          "\n"
          "Lists the store named in CONFIG (a YAML file), reads the header of every TIFF\n"
          "(keys ending in .tif/.tiff unless fetch.suffixes says otherwise) with ranged reads,\n"
          "and writes:\n"
          "  OUT_DIR/part-NNNNN.parquet         one row per TIFF header\n"
          "  OUT_DIR/_errors/part-NNNNN.parquet one row per object that could not be read\n"
          "  OUT_DIR/_SUCCESS                   JSON summary, written last\n"
          "Previous outputs in OUT_DIR are replaced (with --resume: continued). OUT_DIR is a\n"
          "folder (or file://), or an object store: s3://BUCKET/PREFIX, gs://..., az://...\n"
          "(options in the config's output.obstore_config); parts are uploaded whole when\n"
          "complete, _SUCCESS last.\n"
          "\n"
          "Sharded (one of N runs into the same OUT_DIR; each takes the keys whose hash mod N\n"
          "is its index): parts are named part-S<I>-NNNNN.parquet, the run writes\n"
          "_SUCCESS.shard-<I>-of-<N> and only replaces its own outputs; the run that finds\n"
          "every shard done writes _SUCCESS (or run `tiff-dumper finish OUT_DIR`).\n"
          "\n"
          "options:\n"
          "  -q, --quiet   no progress output\n"
          "  -v, --loud    also one line per failed object, and the fetch threads used\n"
          "  --shard I/N   run shard I of N (0 <= I < N)\n"
          "  --shards N    the shard count, the index coming from the job engine:\n"
          "                JOB_COMPLETION_INDEX (Kubernetes Indexed Job),\n"
          "                AWS_BATCH_JOB_ARRAY_INDEX (+ AWS_BATCH_JOB_ARRAY_SIZE),\n"
          "                SLURM_ARRAY_TASK_ID (- SLURM_ARRAY_TASK_MIN, / SLURM_ARRAY_TASK_STEP;\n"
          "                + SLURM_ARRAY_TASK_COUNT); without --shard these are read anyway,\n"
          "                with the count from --shards, shards.count or the engine\n"
          "  --no-shard    ignore the job engine's variables: one unsharded run\n"
          "  --resume      continue an interrupted run (or shard) into OUT_DIR, a folder\n"
          "                or a store: keep its complete parts, skip their keys, number\n"
          "                new parts after them\n"
          "  --check       only check CONFIG: load it and open its store (every option is\n"
          "                validated; no request is sent, nothing is written); with\n"
          "                OUT_DIR, the output store's options too\n"
          "  -h, --help    this text\n"
          "\n"
          "exit status: 0 every TIFF dumped; 1 some objects failed (see _errors/);\n"
          "             2 usage or config error; 3 the run failed or was interrupted\n",
          out);
}

/* Which shard this run is: --shard, else the job engine's variables (count from --shards,
 * else shards.count, else the engine's own count). Prints the reason of a refusal. */
static int pick_shard(const char *shard_arg, const char *shards_arg, unsigned cfg_count,
                      td_shard_options *out, char *src, size_t srclen) {
    char err[512];
    uint32_t count = cfg_count;
    if (shards_arg) {
        td_shard_options tmp;
        char spec[64];
        snprintf(spec, sizeof spec, "0/%s", shards_arg);
        if (strlen(shards_arg) > 20 || td_shard_parse(spec, &tmp, err, sizeof err) != 0) {
            td_say(stderr,
                   "tiff-dumper headers: --shards '%s': expected a whole number from 1 to %u\n",
                   shards_arg, TD_SHARD_MAX_COUNT);
            return -1;
        }
        count = tmp.count;
    }
    if (shard_arg) {
        if (td_shard_parse(shard_arg, out, err, sizeof err) != 0) {
            td_say(stderr, "tiff-dumper headers: %s\n", err);
            return -1;
        }
        if (shards_arg && count != out->count) {
            td_say(stderr,
                   "tiff-dumper headers: --shard %s and --shards %s disagree on the count\n",
                   shard_arg, shards_arg);
            return -1;
        }
        snprintf(src, srclen, "from --shard %s", shard_arg);
        return 0;
    }
    char how[200] = "";
    int rc = td_shard_from_env(out, count, NULL, how, sizeof how, err, sizeof err);
    if (rc < 0) {
        td_say(stderr, "tiff-dumper headers: %s\n", err);
        return -1;
    }
    if (rc == 0) {
        if (shards_arg) {
            td_say(stderr,
                   "tiff-dumper headers: --shards %s without a shard index: pass --shard "
                   "I/N, or run under a job engine that sets JOB_COMPLETION_INDEX, "
                   "AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID\n",
                   shards_arg);
            return -1;
        }
        return 0; /* unsharded */
    }
    snprintf(src, srclen, "from %s%s", how,
             strstr(how, "_SIZE") || strstr(how, "_COUNT") ? ""
             : shards_arg                                  ? "; count from --shards"
                                                           : "; count from shards.count");
    return 0;
}

/* The shard that finds every shard done writes the dataset's _SUCCESS (shard.h). Its own
 * run succeeded whatever this says: a problem is reported, the exit status stays. */
static void complete_set(const td_pipeline_options *o, bool quiet) {
    char err[1024] = "", tag[32];
    const char *out_dir = o->out_dir;
    snprintf(tag, sizeof tag, "shard-%04" PRIu32, o->shard.index);
    /* an object-store OUT is opened again with the run's output options */
    int rc = td_shard_finish_opts(o, o->shard.count, tag, NULL, err, sizeof err);
    if (rc == 0 && !quiet)
        td_say(stderr, "tiff-dumper: every shard is done: wrote %s/_SUCCESS\n", out_dir);
    else if (rc == 1 && !quiet)
        td_say(stderr, "tiff-dumper: %s\n", err);
    else if (rc < 0)
        td_say(stderr, "tiff-dumper: warning: the dataset's _SUCCESS was not written: %s\n", err);
}

int td_cmd_headers(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL};
    size_t npos = 0;
    td_progress_level level = TD_PROGRESS_NORMAL;
    bool quiet = false, loud = false, dashdash = false, check = false, no_shard = false;
    bool resume = false;
    const char *shard_arg = NULL, *shards_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0)
                dashdash = true;
            else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                td_cmd_headers_usage(stdout);
                return 0;
            } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
                quiet = true;
            else if (strcmp(a, "-v") == 0 || strcmp(a, "--loud") == 0)
                loud = true;
            else if (strcmp(a, "--check") == 0)
                check = true;
            else if (strcmp(a, "--no-shard") == 0)
                no_shard = true;
            else if (strcmp(a, "--shard") == 0 || strcmp(a, "--shards") == 0 ||
                     strncmp(a, "--shard=", 8) == 0 || strncmp(a, "--shards=", 9) == 0) {
                bool many = strncmp(a, "--shards", 8) == 0;
                const char *eq = strchr(a, '=');
                const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!v) {
                    td_say(stderr, "tiff-dumper headers: %s needs a value (%s)\n", a,
                           many ? "N, e.g. --shards 10" : "I/N, e.g. --shard 3/10");
                    return EXIT_USAGE;
                }
                *(many ? &shards_arg : &shard_arg) = v;
            } else if (strcmp(a, "--resume") == 0) {
                resume = true;
            } else {
                td_say(stderr, "tiff-dumper headers: unknown option '%s'\n", a);
                td_cmd_headers_usage(stderr);
                return EXIT_USAGE;
            }
            continue;
        }
        if (npos == 2) {
            td_say(stderr, "tiff-dumper headers: unexpected argument '%s'\n", a);
            td_cmd_headers_usage(stderr);
            return EXIT_USAGE;
        }
        pos[npos++] = a;
    }
    if (quiet && loud) {
        td_say(stderr, "tiff-dumper headers: --quiet and --loud exclude each other\n");
        return EXIT_USAGE;
    }
    if (check ? npos < 1 : npos != 2) {
        td_say(stderr, "%s",
               check ? "tiff-dumper headers: --check takes CONFIG [OUT_DIR]\n"
                     : "tiff-dumper headers: expected CONFIG and OUT_DIR\n");
        td_cmd_headers_usage(stderr);
        return EXIT_USAGE;
    }
    if (no_shard && (shard_arg || shards_arg)) {
        td_say(stderr, "tiff-dumper headers: --no-shard excludes --shard and --shards\n");
        return EXIT_USAGE;
    }
    if (quiet)
        level = TD_PROGRESS_QUIET;
    else if (loud)
        level = TD_PROGRESS_LOUD;

    td_config cfg;
    char err[1024] = "";
    td_config_defaults(&cfg);
    if (td_config_load(&cfg, pos[0], err, sizeof err) != 0) {
        td_say(stderr, "tiff-dumper: %s\n", err);
        td_config_free(&cfg);
        return EXIT_USAGE;
    }
    /* options accepted but not acted on, TLS verification off, ...: said before the run
     * (--quiet prints nothing, as documented; --check always says them) */
    for (size_t i = 0; i < cfg.n_warnings && (check || !quiet); i++)
        td_say(stderr, "tiff-dumper: warning: %s: %s\n", pos[0], cfg.warnings[i]);

    td_shard_options shard = {0, 0};
    char shard_src[256] = "";
    if (!no_shard && pick_shard(shard_arg, shards_arg, cfg.shards_count, &shard, shard_src,
                                sizeof shard_src) != 0) {
        td_config_free(&cfg);
        return EXIT_USAGE;
    }
    if (shard.count && (check || !quiet))
        td_say(stderr, "tiff-dumper: shard %" PRIu32 " of %" PRIu32 " (%s)\n", shard.index,
               shard.count, shard_src);

    if (check) {
        td_pipeline_options co;
        td_config_to_options(&cfg, &co);
        co.check_only = true;
        co.out_dir = npos == 2 ? pos[1] : NULL; /* an output store's options checked too */
        int crc = td_pipeline_run(&co, NULL, err, sizeof err);
        if (crc == TD_PIPE_OK)
            td_say(stdout, "%s: ok (store %s)\n", pos[0], cfg.store_name);
        else
            td_say(stderr, "tiff-dumper: %s\n", err);
        td_config_free(&cfg);
        return crc == TD_PIPE_OK         ? EXIT_ALL_DUMPED
               : crc == TD_PIPE_E_CONFIG ? EXIT_USAGE
                                         : EXIT_RUN_FAILED;
    }

    td_progress prog;
    td_progress_init(&prog, level, stderr);
    td_pipeline_options o;
    td_config_to_options(&cfg, &o); /* the YAML's settings as the library's options */
    o.out_dir = pos[1];
    o.progress_ms = td_progress_period_ms(&prog);
    o.progress = level == TD_PROGRESS_QUIET ? NULL : td_progress_update;
    o.on_error = level == TD_PROGRESS_LOUD ? td_progress_error : NULL;
    o.ud = &prog;
    o.handle_signals = true;
    o.resume = resume;
    o.tool_version = TD_VERSION;
    o.shard = shard;
    td_stats st;
    memset(&st, 0, sizeof st);
    int rc = td_pipeline_run(&o, &st, err, sizeof err);
    /* The summary only for a run that started: the pipeline sets elapsed_s once it ran;
     * a store or output that could not be opened gets its message alone, not a "stopped:
     * 0 headers dumped" line as if something had been tried. */
    if (st.elapsed_s > 0)
        td_progress_end(&prog, &st, pos[1], rc);
    if (rc == TD_PIPE_OK && shard.count)
        complete_set(&o, quiet); /* before the config (o points into it) is freed */
    /* nothing listed and nothing failed (a listing that failed has its error row and exit 1) */
    bool none = rc == TD_PIPE_OK && st.listed == 0 && st.failed == 0 && !quiet;
    if (none && (cfg.keys_from || cfg.inventory))
        td_say(stderr, "tiff-dumper: warning: %s '%s' named no key\n",
               cfg.keys_from ? "store.keys_from" : "store.inventory",
               cfg.keys_from ? cfg.keys_from : cfg.inventory);
    else if (none && cfg.n_prefixes && cfg.prefixes[0][0]) /* a typo'd prefix: no error */
        td_say(stderr,
               "tiff-dumper: warning: nothing listed in store '%s' under prefix '%s'%s: check "
               "store.name and store.prefixes (a prefix names whole path segments: '2024' "
               "lists 2024/..., not 2024-old/...)\n",
               cfg.store_name, cfg.prefixes[0], cfg.n_prefixes > 1 ? " nor the others" : "");
    else if (none)
        td_say(stderr, "tiff-dumper: warning: store '%s' is empty: check store.name\n",
               cfg.store_name);
    td_config_free(&cfg);
    if (rc == TD_PIPE_E_CONFIG) {
        td_say(stderr, "tiff-dumper: %s\n", err);
        return EXIT_USAGE;
    }
    if (rc != TD_PIPE_OK) {
        bool hint = rc == TD_PIPE_E_INTERRUPTED; /* --resume: folders, stores, shards */
        td_say(stderr, "tiff-dumper: run %s: %s%s\n",
               rc == TD_PIPE_E_INTERRUPTED ? "interrupted" : "failed", err,
               hint ? " (the parts written are complete; the same command with --resume "
                      "continues the run)"
                    : "");
        return EXIT_RUN_FAILED;
    }
    return st.failed ? EXIT_SOME_FAILED : EXIT_ALL_DUMPED;
}
