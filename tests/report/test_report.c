/* test_report.c - the report's aggregation and page (report.h), without files: rows in,
 * counts and HTML out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "td_test.h"

static td_report *new_report(uint64_t prefetch) {
    td_report *r;
    char msg[128];
    td_report_options o = {.prefetch_bytes = prefetch};
    REQUIRE(td_report_new(&r, &o, msg, sizeof msg) == 0, "%s", msg);
    return r;
}

static void counts(void) {
    td_test_context = "counts";
    td_report *r = new_report(1000);
    td_report_row a = TD_REPORT_ROW_INIT;
    a.compression = 8, a.bits = 16, a.sample_format = 2, a.tile_width = 256, a.tile_height = 256;
    a.width = 5000, a.height = 300, a.overview_count = 3, a.cog_valid = 1, a.ifd_bytes = 250;
    a.requests = 1, a.fetched_bytes = 1000, a.proj_code = "EPSG:32633xx", a.proj_code_len = 10;
    a.has_bbox = true, a.bbox[1] = -10, a.bbox[3] = 20; /* centre 5: band 0 */
    td_report_add_header(r, &a);
    td_report_row b = TD_REPORT_ROW_INIT; /* all null */
    b.requests = 7, b.ifd_bytes = 5000, b.cog_valid = 0;
    td_report_add_header(r, &b);
    td_report_add_cog_error(r, "NOT_TILED", 9);
    td_report_add_cog_error(r, "NO_OVERVIEWS", 12);
    td_report_row c = TD_REPORT_ROW_INIT;
    c.bits = 8, c.width = 100, c.height = 100, c.requests = 2, c.ifd_bytes = 251;
    c.has_bbox = true, c.bbox[1] = 80, c.bbox[3] = 90; /* band 60 (clamped, not 90) */
    td_report_add_header(r, &c);
    td_report_add_cog_error(r, "NOT_TILED", 9);

    CHECK(td_report_headers(r) == 3);
    CHECK(td_report_count(r, "crs", "EPSG:32633") == 1);
    CHECK(td_report_count(r, "crs", "(none)") == 2);
    CHECK(td_report_count(r, "compression", "8") == 1);
    CHECK(td_report_count(r, "compression", "(none)") == 2);
    CHECK(td_report_count(r, "dtype", "int16") == 1);
    CHECK(td_report_count(r, "dtype", "uint8") == 1); /* SampleFormat absent: uint */
    CHECK(td_report_count(r, "dtype", "(none)") == 1);
    CHECK(td_report_count(r, "tile", "256x256") == 1);
    CHECK(td_report_count(r, "tile", "stripped") == 2);
    CHECK(td_report_count(r, "overviews", "3") == 1);
    CHECK(td_report_count(r, "overviews", "(null)") == 2);
    CHECK(td_report_count(r, "cog", "valid") == 1);
    CHECK(td_report_count(r, "cog", "not valid") == 1);
    CHECK(td_report_count(r, "cog", "(null)") == 1);
    CHECK(td_report_count(r, "cog_reasons", "NOT_TILED") == 2);
    CHECK(td_report_count(r, "requests", "1") == 1);
    CHECK(td_report_count(r, "requests", "2") == 1);
    CHECK(td_report_count(r, "requests", "4+") == 1);
    CHECK(td_report_count(r, "ifd_bytes", "<= 250") == 1); /* 1000/4 */
    CHECK(td_report_count(r, "ifd_bytes", "<= 500") == 1); /* 251 */
    CHECK(td_report_count(r, "ifd_bytes", "> 4000") == 1); /* 5000 */
    CHECK(td_report_count(r, "image_size", "4096-16383") == 1);
    CHECK(td_report_count(r, "image_size", "< 256") == 1);
    CHECK(td_report_count(r, "image_size", "(null)") == 1);
    CHECK(td_report_count(r, "lat", "0") == 1);
    CHECK(td_report_count(r, "lat", "60") == 1);
    CHECK(td_report_count(r, "lat", "(none)") == 1);
    CHECK(td_report_count(r, "footprint", "without footprint") == 3);
    CHECK(td_report_count(r, "nope", "x") == -1);
    td_report_free(r);
}

/* Errors: by stage/kind, the first TD_REPORT_SAMPLES paths kept, hostile paths escaped. */
static void errors_and_escaping(void) {
    td_test_context = "errors";
    td_report *r = new_report(0);
    char p[64];
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "a/%d.tif", i);
        td_report_error e = {"fetch", "http", p, 5, 4, strlen(p)};
        td_report_add_error(r, &e);
    }
    const char *evil = "<script>alert('x')</script>\"&\x01\xff.tif";
    td_report_error e = {"parse", "bad_ifd", evil, 5, 7, strlen(evil)};
    td_report_add_error(r, &e);
    CHECK(td_report_errors(r) == 9);
    CHECK(td_report_count(r, "errors", "fetch/http") == 8);
    CHECK(td_report_count(r, "errors", "parse/bad_ifd") == 1);

    ut_buf page = {0};
    page.limit = 1u << 26;
    char msg[128];
    td_report_run run = {.out_shown = "/o'ut<x>", .complete = false, .generated_at = "now"};
    CHECK(td_report_html(r, &run, &page, msg, sizeof msg) == 0, "%s", msg);
    const char *h = ut_buf_str(&page);
    CHECK(strstr(h, "<script") == NULL, "a data string became markup");
    CHECK(strstr(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;\\x01\\xff.tif"));
    CHECK(strstr(h, "id=\"incomplete\""), "no incomplete banner");
    CHECK(strstr(h, "data-key=\"fetch/http\" data-count=\"8\""));
    CHECK(strstr(h, "a/4.tif") && !strstr(h, "a/5.tif"), "samples: the first 5");
    /* the SQL names OUT with its quote doubled, then HTML-escaped */
    CHECK(strstr(h, "read_parquet(&#39;/o&#39;&#39;ut&lt;x&gt;/part-*.parquet&#39;)"));
    CHECK(strstr(h, "http://") == NULL || strstr(h, "xmlns=\"http://www.w3.org/2000/svg\""),
          "no link to anything");
    ut_buf_free(&page);
    td_report_free(r);
}

/* Bounded memory: distinct values past TD_REPORT_MAX_KEYS are counted as (other). */
static void bounded(void) {
    td_test_context = "bounded";
    td_report *r = new_report(0);
    char code[32];
    unsigned n = TD_REPORT_MAX_KEYS + 100;
    for (unsigned i = 0; i < n; i++) {
        td_report_row w = TD_REPORT_ROW_INIT;
        int len = snprintf(code, sizeof code, "EPSG:%u", 100000 + i);
        w.proj_code = code, w.proj_code_len = (size_t)len;
        td_report_add_header(r, &w);
    }
    CHECK(td_report_count(r, "crs", "(other)") == 100);
    CHECK(td_report_count(r, "crs", "EPSG:100000") == 1);
    ut_buf page = {0};
    page.limit = 1u << 26;
    char msg[128];
    td_report_run run = {.out_shown = "o", .complete = true, .generated_at = "now"};
    CHECK(td_report_html(r, &run, &page, msg, sizeof msg) == 0, "%s", msg);
    char want[96];
    snprintf(want, sizeof want, "data-key=\"(more)\" data-count=\"%u\"", n - 30);
    CHECK(strstr(ut_buf_str(&page), want), "the table's last row sums the rest");
    ut_buf_free(&page);
    td_report_free(r);
}

static void names(void) {
    td_test_context = "names";
    CHECK_STR(td_report_compression_name(50000), "ZSTD");
    CHECK_STR(td_report_compression_name(8), "Deflate");
    CHECK(td_report_compression_name(12345) == NULL);
    /* a value holding a NUL is its own key, shown as \x00 */
    td_report *r = new_report(0);
    td_report_row w = TD_REPORT_ROW_INIT;
    w.proj_code = "EPSG:1\0x", w.proj_code_len = 8;
    td_report_add_header(r, &w);
    td_report_add_header(r, &w);
    w.proj_code_len = 6;
    td_report_add_header(r, &w);
    CHECK(td_report_count(r, "crs", "EPSG:1") == 1);
    ut_buf page = {0};
    page.limit = 1u << 24;
    char msg[64];
    td_report_run run = {.out_shown = "o", .complete = true, .generated_at = "now"};
    CHECK(td_report_html(r, &run, &page, msg, sizeof msg) == 0);
    CHECK(strstr(ut_buf_str(&page), "data-key=\"EPSG:1\\x00x\" data-count=\"2\""));
    ut_buf_free(&page);
    td_report_free(r);
    ut_buf b = {0};
    td_report_html_escape(&b, "a\0b\n", 4);
    CHECK_STR(ut_buf_str(&b), "a\\x00b\n");
    ut_buf_free(&b);
}

/* No _SUCCESS, the shard markers summed (dumpread.h): the page names N of M, red only when
 * shards are missing; markers that cannot be summed say why (escaped). */
static void shard_summary(void) {
    td_test_context = "shard summary";
    static const char json[] = "{\"shards\":3,\"listed\":10,\"dumped\":9,\"failed\":1}";
    td_report *r = new_report(0);
    ut_buf page = {0};
    page.limit = 1u << 24;
    char msg[64];
    td_report_run run = {.out_shown = "o",
                         .success_json = json,
                         .success_len = sizeof json - 1,
                         .shard_markers = 2,
                         .summary_markers = 2,
                         .shard_count = 3,
                         .markers_note = "2 of 3 shards done in o; missing shard 1",
                         .generated_at = "now"};
    CHECK(td_report_html(r, &run, &page, msg, sizeof msg) == 0, "%s", msg);
    const char *h = ut_buf_str(&page);
    CHECK(strstr(h, "id=\"incomplete\"") && !strstr(h, "id=\"unfinished\""));
    CHECK(strstr(h, "made from 2 of 3 shard markers without _SUCCESS (1 shard not done: 2 of "
                    "3 shards done in o; missing shard 1)"));
    CHECK(strstr(h, "data-key=\"markers_summed\" data-count=\"2\""));
    CHECK(strstr(h, "data-key=\"dumped\" data-count=\"9\""));
    ut_buf_reset(&page);
    run.summary_markers = run.shard_markers = 3;
    CHECK(td_report_html(r, &run, &page, msg, sizeof msg) == 0, "%s", msg);
    h = ut_buf_str(&page);
    CHECK(!strstr(h, "id=\"incomplete\"") && strstr(h, "id=\"unfinished\""));
    CHECK(strstr(h, "Made from 3 of 3 shard markers without _SUCCESS"));
    ut_buf_reset(&page);
    run = (td_report_run){.out_shown = "o",
                          .shard_markers = 2,
                          .markers_note = "x and <y> describe different runs",
                          .generated_at = "now"};
    CHECK(td_report_html(r, &run, &page, msg, sizeof msg) == 0, "%s", msg);
    h = ut_buf_str(&page);
    CHECK(strstr(h, "id=\"incomplete\"") && !strstr(h, "markers_summed"));
    CHECK(strstr(h, "cannot be summed: x and &lt;y&gt; describe different runs"));
    ut_buf_free(&page);
    td_report_free(r);
}

int main(int argc, char **argv) {
    (void)argc;
    shard_summary();
    counts();
    errors_and_escaping();
    bounded();
    names();
    return td_test_report(argv[0]);
}
