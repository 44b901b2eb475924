/* cmd_report.c - `tiff-dumper report OUT_DIR [-o FILE]`: reads a run's output folder
 * (dumpread.h) into the report (report.h) and writes its page. The wiring only: PROJ names
 * the EPSG codes, the config loader finds the run's prefetch size. */
#include <errno.h>
#include <inttypes.h>
#include <proj.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_report.h"
#include "config.h"
#include "dumpread.h"
#include "report.h"
#include "say.h"
#include "util.h"

/* Exit statuses: as the other commands where they overlap. */
enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_FAILED = 3 };

#define PAGE_LIMIT ((size_t)512 << 20) /* the page, map included: far below this */

void td_cmd_report_usage(FILE *out) {
    fputs("usage: tiff-dumper report OUT_DIR [-o FILE] [--option K=V]... [--quiet]\n"
          "\n"
          "Writes one self-contained HTML page about a run's output folder (unsharded or\n"
          "sharded): the run from _SUCCESS, a footprint map, histograms of CRS, compression,\n"
          "data type, tile size, overviews, COG validity and its reasons, header size against\n"
          "the prefetch, image size, and the errors by stage and kind with sample paths. Each\n"
          "figure has its numbers in a table and the DuckDB SQL that gives them. The page\n"
          "has no script and loads nothing: it opens from disk or as an e-mail attachment.\n"
          "\n"
          "OUT_DIR is a local folder or an object store URL (s3://, gs://, az://) as\n"
          "`headers` writes it; a store's part files are read with ranged GETs.\n"
          "\n"
          "A folder without _SUCCESS (a run still going, interrupted, or shards not\n"
          "finished) is reported too, under an \"incomplete run\" banner, with a warning.\n"
          "Shards done but not finished: the run section is the sum of the shard markers\n"
          "there (as `tiff-dumper finish` sums them), and the page says \"made from N of M\n"
          "shard markers\" (incomplete while N < M).\n"
          "\n"
          "options:\n"
          "  -o, --output FILE   where to write the page (default: report.html; - = stdout)\n"
          "  --option K=V        an option of OUT's store, as under output.obstore_config\n"
          "                      (e.g. --option region=eu-central-1); credentials also\n"
          "                      come from the usual environment variables\n"
          "  -q, --quiet         print only errors\n"
          "  -h, --help          this text\n"
          "\n"
          "exit status: 0 page written; 2 usage error;\n"
          "             3 OUT_DIR is not a run's output (no _SUCCESS, no part file), it or\n"
          "               one of its part files could not be read, or the page could not\n"
          "               be written\n",
          out);
}

/* PROJ names an EPSG code; one context for the command. */
static int crs_name(void *ud, const char *code, char *out, size_t cap) {
    PJ_CONTEXT *ctx = ud;
    if (!ctx || strncmp(code, "EPSG:", 5) != 0 || !code[5])
        return -1;
    PJ *crs = proj_create_from_database(ctx, "EPSG", code + 5, PJ_CATEGORY_CRS, 0, NULL);
    if (!crs)
        return -1;
    const char *n = proj_get_name(crs);
    int rc = -1;
    if (n) {
        snprintf(out, cap, "%s", n);
        rc = 0;
    }
    proj_destroy(crs);
    return rc;
}

/* fetch.prefetch_bytes of the run's config (in _SUCCESS); 0 when it cannot be told. */
static uint64_t run_prefetch(const td_dumpread_info *info) {
    if (!info->success)
        return 0;
    ut_json d = {0};
    char err[128];
    uint64_t pf = 0;
    if (ut_json_parse(&d, info->success, info->success_len, 100000, err, sizeof err) == 0 && d.n &&
        d.tok[0].type == UT_JSON_OBJECT) {
        char *cfg = ut_json_strdup(&d, ut_json_get(&d, 0, "config"));
        if (cfg && *cfg) {
            td_config c;
            td_config_defaults(&c);
            char cerr[256];
            if (td_config_load_string(&c, cfg, "_SUCCESS config", cerr, sizeof cerr) == 0)
                pf = c.prefetch_bytes;
            td_config_free(&c);
        }
        free(cfg);
    }
    ut_json_free(&d);
    return pf;
}

static int write_page(const char *path, const ut_buf *page, char *err, size_t errlen) {
    if (strcmp(path, "-") == 0) {
        if (!td_say_write(stdout, ut_buf_str(page), page->len) || !td_say_flush(stdout)) {
            ut_msgf(err, errlen, "cannot write to stdout");
            return -1;
        }
        return 0;
    }
    /* a temporary name, then rename: the page is there whole or not at all */
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        ut_msgf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        rc = -1;
    } else {
        bool ok = fwrite(ut_buf_str(page), 1, page->len, f) == page->len;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0) {
            ut_msgf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            remove(tmp);
            rc = -1;
        }
    }
    free(tmp);
    return rc;
}

int td_cmd_report(int argc, char **argv) {
    const char *dir = NULL, *outp = "report.html";
    bool quiet = false;
    store_kv *kvs = calloc((size_t)argc + 1, sizeof *kvs);
    size_t n_kv = 0;
    if (!kvs) {
        td_say(stderr, "tiff-dumper report: out of memory\n");
        return EXIT_FAILED;
    }
    int status = EXIT_OK;
    for (int i = 1; i < argc && status == EXIT_OK; i++) {
        char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            td_cmd_report_usage(stdout);
            free(kvs);
            return EXIT_OK;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
                   strncmp(a, "--output=", 9) == 0) {
            /* only --output=FILE carries its value: "-o" is 2 bytes, a[8] is past its end */
            outp = strncmp(a, "--output=", 9) == 0 ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!outp || !*outp) {
                td_say(stderr, "tiff-dumper report: %s needs a value (FILE)\n", a);
                status = EXIT_USAGE;
            }
        } else if (strcmp(a, "--option") == 0 || strncmp(a, "--option=", 9) == 0) {
            char *v = strncmp(a, "--option=", 9) == 0 ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || td_config_split_kv(v, &kvs[n_kv]) != 0) {
                td_say(stderr, "tiff-dumper report: --option needs KEY=VALUE\n");
                status = EXIT_USAGE;
            } else {
                n_kv++;
            }
        } else if (a[0] == '-' && a[1]) {
            td_say(stderr, "tiff-dumper report: unknown option '%s'\n", a);
            td_cmd_report_usage(stderr);
            status = EXIT_USAGE;
        } else if (dir) {
            td_say(stderr, "tiff-dumper report: unexpected argument '%s'\n", a);
            status = EXIT_USAGE;
        } else {
            dir = a;
        }
    }
    if (status == EXIT_OK && !dir) {
        td_say(stderr, "tiff-dumper report: OUT_DIR is missing\n");
        td_cmd_report_usage(stderr);
        status = EXIT_USAGE;
    }
    if (status != EXIT_OK) {
        free(kvs);
        return status;
    }
    if (n_kv && !strstr(dir, "://") && !quiet) /* file://… is a folder too, but said on purpose */
        td_say(stderr,
               "tiff-dumper report: warning: --option is for an OUT on an object store "
               "(s3://, gs://, az://); ignored for the folder '%s'\n",
               dir);
    store_options so = STORE_OPTIONS_INIT;
    so.kv = kvs;
    so.n_kv = n_kv;
    so.max_in_flight = 4;

    char err[512];
    td_dumpread *d = NULL;
    td_dumpread_info info = {0};
    td_report *r = NULL;
    PJ_CONTEXT *pj = NULL;
    ut_buf page = {0};
    page.limit = PAGE_LIMIT;
    if (td_dumpread_open(&d, dir, &so, err, sizeof err) != 0 ||
        td_dumpread_info_read(d, &info, err, sizeof err) != 0) {
        td_say(stderr, "tiff-dumper report: %s\n", err);
        status = EXIT_FAILED;
        goto done;
    }
    pj = proj_context_create();
    td_report_options o = {
        .prefetch_bytes = run_prefetch(&info), .crs_name = crs_name, .crs_ud = pj};
    if (td_report_new(&r, &o, err, sizeof err) != 0 ||
        td_dumpread_rows(d, r, &info, err, sizeof err) != 0) {
        td_say(stderr, "tiff-dumper report: %s\n", err);
        status = EXIT_FAILED;
        goto done;
    }
    if (!info.complete && !info.shard_markers && info.header_files == 0 && info.error_files == 0) {
        /* Nothing of a run: most likely the wrong folder (a parent, a typo'd prefix). A page
         * of zeros under an "incomplete run" banner would hide that. */
        td_say(stderr,
               "tiff-dumper report: %s is not the output of `tiff-dumper headers`: it has no "
               "_SUCCESS, no part-*.parquet and no _errors/part-*.parquet (give the OUT_DIR "
               "of the run; a run that has just started has no complete part yet)\n",
               dir);
        status = EXIT_FAILED;
        goto done;
    }
    char now[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    td_report_run run = {.out_shown = dir,
                         .success_json = info.success,
                         .success_len = info.success_len,
                         .complete = info.complete,
                         .shard_markers = info.shard_markers,
                         .summary_markers = info.summary_markers,
                         .shard_count = info.shard_count,
                         .markers_note = info.markers_note,
                         .header_files = info.header_files,
                         .error_files = info.error_files,
                         .generated_at = now,
                         .tool_version = TD_VERSION};
    if (td_report_html(r, &run, &page, err, sizeof err) != 0 ||
        write_page(outp, &page, err, sizeof err) != 0) {
        td_say(stderr, "tiff-dumper report: %s\n", err);
        status = EXIT_FAILED;
        goto done;
    }
    if (!info.complete && info.summary_markers && info.summary_markers >= info.shard_count)
        td_say(stderr,
               "tiff-dumper report: warning: %s has no _SUCCESS, but all %" PRIu32
               " shard markers: the run section is their sum; run `tiff-dumper finish` to "
               "complete the dataset\n",
               dir, info.shard_count);
    else if (!info.complete && info.summary_markers)
        td_say(stderr,
               "tiff-dumper report: warning: %s has no _SUCCESS: the run is incomplete (%s); "
               "the run section sums the %" PRIu32 " of %" PRIu32 " shard markers there; the "
               "page says so\n",
               dir, info.markers_note, info.summary_markers, info.shard_count);
    else if (!info.complete)
        td_say(stderr,
               "tiff-dumper report: warning: %s has no _SUCCESS: the run is incomplete%s%s%s; the "
               "page says so\n",
               dir, info.shard_markers ? " (shard markers only: run `tiff-dumper finish`)" : "",
               info.markers_note[0] ? "; the shard markers cannot be summed: " : "",
               info.markers_note);
    if (!quiet && strcmp(outp, "-") != 0) {
        char reqs[48] = "";
        if (td_dumpread_requests(d))
            snprintf(reqs, sizeof reqs, " (%" PRIu64 " GET requests)", td_dumpread_requests(d));
        td_say(stderr,
               "tiff-dumper report: %" PRIu64 " header rows, %" PRIu64 " error rows from %" PRIu64
               " + %" PRIu64 " part files%s -> %s\n",
               td_report_headers(r), td_report_errors(r), info.header_files, info.error_files, reqs,
               outp);
    }
done:
    ut_buf_free(&page);
    td_report_free(r);
    if (pj)
        proj_context_destroy(pj);
    td_dumpread_info_free(&info);
    td_dumpread_close(d);
    free(kvs);
    return status;
}
