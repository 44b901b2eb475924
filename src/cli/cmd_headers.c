/* cmd_headers.c - `tiff-dumper headers`: read the config, run the pipeline, report. */
#include <stdio.h>
#include <string.h>

#include "cmd_headers.h"
#include "config.h"
#include "pipeline.h"
#include "progress.h"
#include "say.h"

/* Exit statuses (documented in the README and in --help). */
enum { EXIT_ALL_DUMPED = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_RUN_FAILED = 3 };

void td_cmd_headers_usage(FILE *out) {
    fputs("usage: tiff-dumper headers CONFIG OUT_DIR [--quiet | --loud]\n"
          "       tiff-dumper headers --check CONFIG [OUT_DIR]\n"
          "\n"
          "Lists the store named in CONFIG (a YAML file), reads the header of every TIFF\n"
          "(keys ending in .tif/.tiff unless fetch.suffixes says otherwise) with ranged reads,\n"
          "and writes:\n"
          "  OUT_DIR/part-NNNNN.parquet         one row per TIFF header\n"
          "  OUT_DIR/_errors/part-NNNNN.parquet one row per object that could not be read\n"
          "  OUT_DIR/_SUCCESS                   JSON summary, written last\n"
          "Previous outputs in OUT_DIR are replaced. OUT_DIR is a folder (or file://), or\n"
          "an object store: s3://BUCKET/PREFIX, gs://..., az://... (options in the config's\n"
          "output.obstore_config); parts are uploaded whole when complete, _SUCCESS last.\n"
          "\n"
          "options:\n"
          "  -q, --quiet   no progress output\n"
          "  -v, --loud    also one line per failed object\n"
          "  --check       only check CONFIG: load it and open its store (every option is\n"
          "                validated; no request is sent, nothing is written); with\n"
          "                OUT_DIR, the output store's options too\n"
          "  -h, --help    this text\n"
          "\n"
          "exit status: 0 every TIFF dumped; 1 some objects failed (see _errors/);\n"
          "             2 usage or config error; 3 the run failed or was interrupted\n",
          out);
}

int td_cmd_headers(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL};
    size_t npos = 0;
    td_progress_level level = TD_PROGRESS_NORMAL;
    bool quiet = false, loud = false, dashdash = false, check = false;
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
            else {
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
    o.tool_version = TD_VERSION;
    td_stats st;
    memset(&st, 0, sizeof st);
    int rc = td_pipeline_run(&o, &st, err, sizeof err);
    /* The summary only for a run that started: the pipeline sets elapsed_s once it ran;
     * a store or output that could not be opened gets its message alone, not a "stopped:
     * 0 headers dumped" line as if something had been tried. */
    if (st.elapsed_s > 0)
        td_progress_end(&prog, &st, pos[1], rc);
    td_config_free(&cfg);
    if (rc == TD_PIPE_E_CONFIG) {
        td_say(stderr, "tiff-dumper: %s\n", err);
        return EXIT_USAGE;
    }
    if (rc != TD_PIPE_OK) {
        td_say(stderr, "tiff-dumper: run %s: %s\n",
               rc == TD_PIPE_E_INTERRUPTED ? "interrupted" : "failed", err);
        return EXIT_RUN_FAILED;
    }
    return st.failed ? EXIT_SOME_FAILED : EXIT_ALL_DUMPED;
}
