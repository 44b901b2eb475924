/* test_progress.c - the progress display's formatting (src/cli/progress.h): clock, ETA,
 * rate units, the live line's layout at given widths (fields dropped when narrow, never
 * wider than width - 1), the rates over the sliding window, and what a non-terminal gets. */
#include <stdint.h>
#include <string.h>

#include "progress.h"
#include "td_test.h"

static void clocks(void) {
    char b[32];
    td_test_context = "clock";
    td_progress_clock(0, b, sizeof b);
    CHECK_STR(b, "00:00");
    td_progress_clock(59.9, b, sizeof b);
    CHECK_STR(b, "00:59");
    td_progress_clock(61, b, sizeof b);
    CHECK_STR(b, "01:01");
    td_progress_clock(3599, b, sizeof b);
    CHECK_STR(b, "59:59");
    td_progress_clock(3723, b, sizeof b);
    CHECK_STR(b, "1:02:03");
    td_progress_clock(200.0 * 3600, b, sizeof b);
    CHECK_STR(b, "200:00:00");
    td_progress_clock(1e12, b, sizeof b);
    CHECK_STR(b, "99+ days");
    td_progress_clock(-5, b, sizeof b);
    CHECK_STR(b, "00:00");
}

static void etas(void) {
    char b[32];
    td_test_context = "eta";
    td_progress_eta(0, 0, b, sizeof b);
    CHECK_STR(b, "ETA 00:00");
    td_progress_eta(100, 0, b, sizeof b); /* no rate yet */
    CHECK_STR(b, "ETA --:--");
    td_progress_eta(100, 10, b, sizeof b);
    CHECK_STR(b, "ETA 00:10");
    td_progress_eta(1, 1000, b, sizeof b); /* a fraction of a second: rounded up */
    CHECK_STR(b, "ETA 00:01");
    td_progress_eta(12852ull * 3723, 12852, b, sizeof b);
    CHECK_STR(b, "ETA 1:02:03");
    td_progress_eta(UINT64_MAX, 0.001, b, sizeof b); /* more than 100 days */
    CHECK_STR(b, "ETA --:--");
}

static void rates(void) {
    char b[32];
    td_test_context = "rate";
    td_progress_rate(0, "hdr/s", b, sizeof b);
    CHECK_STR(b, "0 hdr/s");
    td_progress_rate(950.4, "hdr/s", b, sizeof b);
    CHECK_STR(b, "950 hdr/s");
    td_progress_rate(999.6, "hdr/s", b, sizeof b); /* not "1000": 3 digits at most */
    CHECK_STR(b, "1.0k hdr/s");
    td_progress_rate(12852, "hdr/s", b, sizeof b);
    CHECK_STR(b, "12.9k hdr/s");
    td_progress_rate(128520, "req/s", b, sizeof b);
    CHECK_STR(b, "129k req/s");
    td_progress_rate(3.2e6, "req/s", b, sizeof b);
    CHECK_STR(b, "3.2M req/s");
    td_progress_rate(-1, "req/s", b, sizeof b);
    CHECK_STR(b, "0 req/s");
    td_progress_bytes_rate(512, b, sizeof b);
    CHECK_STR(b, "512 B/s");
    td_progress_bytes_rate(3400, b, sizeof b);
    CHECK_STR(b, "3.4 kB/s");
    td_progress_bytes_rate(12e6, b, sizeof b);
    CHECK_STR(b, "12.0 MB/s");
    td_progress_bytes_rate(250e6, b, sizeof b);
    CHECK_STR(b, "250 MB/s");
    td_progress_bytes_rate(1.1e9, b, sizeof b);
    CHECK_STR(b, "1.1 GB/s");
}

static td_progress_view bar_view(void) {
    td_progress_view v = {0};
    v.elapsed_s = 6.5;
    v.listed = 100003;
    v.skipped = 3;
    v.dumped = 87100;
    v.failed = 20;
    v.total_known = true;
    v.total = 100000;
    v.headers_s = 12852;
    v.requests_s = 13010;
    v.bytes_s = 3.2e6;
    return v;
}

static void bar_layout(void) {
    char b[1024];
    td_test_context = "bar";
    td_progress_view v = bar_view();
    /* wide: every field, the bar at its widest (60) */
    size_t n = td_progress_line(&v, 200, b, sizeof b);
    CHECK(n == strlen(b));
    CHECK_STR(b, "[00:06] [==================================================>       ] 87%  "
                 "87120/100000  failed 20  12.9k hdr/s  13.0k req/s  3.2 MB/s  ETA 00:02");
    /* 120: the bar takes what is left */
    n = td_progress_line(&v, 120, b, sizeof b);
    CHECK(n == 119, "%zu: %s", n, b);
    CHECK(strncmp(b, "[00:06] [", 9) == 0, "%s", b);
    CHECK(strstr(b, "] 87%  87120/100000  failed 20  12.9k hdr/s  13.0k req/s  3.2 MB/s  "
                    "ETA 00:02") != NULL,
          "%s", b);
    /* 80: req/s and MB/s go first */
    n = td_progress_line(&v, 80, b, sizeof b);
    CHECK(n <= 79, "%zu", n);
    CHECK(strstr(b, "req/s") == NULL && strstr(b, "MB/s") == NULL, "%s", b);
    CHECK(strstr(b, "87%") && strstr(b, "ETA 00:02") && strstr(b, "12.9k hdr/s") &&
              strstr(b, "failed 20") && strstr(b, "[00:06]") && strstr(b, "[===="),
          "%s", b);
    /* 40: the bar, the percentage, headers/s and the ETA (the failures go before) */
    n = td_progress_line(&v, 40, b, sizeof b);
    CHECK_STR(b, "[=======> ] 87%  12.9k hdr/s  ETA 00:02");
    CHECK(n == 39);
    /* 25: no room for a bar, nor for headers/s */
    td_progress_line(&v, 25, b, sizeof b);
    CHECK_STR(b, "[00:06] 87%  ETA 00:02");
    td_progress_line(&v, 20, b, sizeof b);
    CHECK_STR(b, "87%  ETA 00:02");
    /* 12, 5, 2, 1, 0: the percentage while it fits, then nothing */
    td_progress_line(&v, 12, b, sizeof b);
    CHECK_STR(b, "[00:06] 87%");
    td_progress_line(&v, 11, b, sizeof b);
    CHECK_STR(b, "87%");
    td_progress_line(&v, 5, b, sizeof b);
    CHECK_STR(b, "87%");
    td_progress_line(&v, 2, b, sizeof b);
    CHECK_STR(b, "");
    n = td_progress_line(&v, 0, b, sizeof b);
    CHECK(n == 0 && b[0] == '\0');
    /* every width from 0 to 300: never more than width - 1 columns, ASCII only */
    for (unsigned w = 0; w <= 300; w++) {
        n = td_progress_line(&v, w, b, sizeof b);
        CHECK(n + 1 <= (w ? w : 1), "width %u: %zu", w, n);
        for (size_t i = 0; i < n; i++)
            CHECK(b[i] >= 0x20 && b[i] < 0x7f, "width %u: byte %zu", w, i);
    }
    /* a small buffer truncates, NUL-terminated */
    n = td_progress_line(&v, 200, b, 10);
    CHECK(n == 9 && strlen(b) == 9, "%zu", n);
    /* done and 0%: a full bar only at 100% */
    v.dumped = 100000 - v.failed;
    td_progress_line(&v, 40, b, sizeof b);
    CHECK_STR(b, "[========] 100%  12.9k hdr/s  ETA 00:00");
    v.dumped = 0;
    v.failed = 0;
    td_progress_line(&v, 40, b, sizeof b);
    CHECK_STR(b, "[>         ] 0%  12.9k hdr/s  ETA 00:08");
    /* 99.99% shows 99%, the bar one short */
    v.total = 10000;
    v.dumped = 9999;
    td_progress_line(&v, 40, b, sizeof b);
    CHECK_STR(b, "[========>] 99%  12.9k hdr/s  ETA 00:01");
    /* nothing to do at all (every key skipped) */
    v.total = 0;
    v.dumped = 0;
    td_progress_line(&v, 40, b, sizeof b);
    CHECK_STR(b, "[========] 100%  12.9k hdr/s  ETA 00:00");
    /* more done than the total (cannot happen; shown as done, not past 100%) */
    v.total = 10;
    v.dumped = 12;
    td_progress_line(&v, 200, b, sizeof b);
    CHECK(strstr(b, "100%  12/12  ") != NULL, "%s", b);
}

static void listing_layout(void) {
    char b[1024];
    td_test_context = "listing";
    td_progress_view v = bar_view();
    v.total_known = false;
    v.failed = 0;
    v.dumped = 87120;
    td_progress_line(&v, 120, b, sizeof b);
    CHECK_STR(b, "[00:06]  listed 100003  dumped 87120  failed 0  12.9k headers/s  listing...");
    td_progress_line(&v, 50, b, sizeof b);
    CHECK_STR(b, "[00:06]  listed 100003  dumped 87120  listing...");
    td_progress_line(&v, 40, b, sizeof b);
    CHECK_STR(b, "listed 100003  dumped 87120  listing...");
    td_progress_line(&v, 30, b, sizeof b);
    CHECK_STR(b, "dumped 87120  listing...");
    td_progress_line(&v, 12, b, sizeof b);
    CHECK_STR(b, "listing...");
    /* failures matter more than the counts */
    v.failed = 7;
    td_progress_line(&v, 50, b, sizeof b);
    CHECK_STR(b, "listed 100003  dumped 87120  failed 7  listing...");
    for (unsigned w = 0; w <= 200; w++)
        CHECK(td_progress_line(&v, w, b, sizeof b) + 1 <= (w ? w : 1), "width %u", w);
}

static td_stats at(double t, uint64_t done, uint64_t req, uint64_t bytes) {
    td_stats s;
    memset(&s, 0, sizeof s);
    s.elapsed_s = t;
    s.dumped = done;
    s.requests = req;
    s.bytes_fetched = bytes;
    s.listed = done;
    return s;
}

static void window(void) {
    td_test_context = "window";
    FILE *f = tmpfile();
    REQUIRE(f);
    td_progress p;
    td_progress_init(&p, TD_PROGRESS_NORMAL, f);
    CHECK(!p.tty);
    CHECK(td_progress_period_ms(&p) == 5000);
    td_progress_view v;
    /* first snapshot: the rates since the start */
    td_stats s = at(0.5, 500, 1000, 1000000);
    td_progress_view_of(&p, &s, &v);
    CHECK(v.headers_s == 1000 && v.requests_s == 2000 && v.bytes_s == 2e6);
    /* 100/s for 10 s, then 1000/s: after 5 s at the new pace the rate is the new one */
    uint64_t done = 0;
    double t = 0;
    for (int i = 0; i < 40; i++) {
        t += 0.25;
        done += 25;
        s = at(t, done, done, done * 100);
        td_progress_update(&s, &p);
    }
    td_progress_view_of(&p, &s, &v);
    CHECK(v.headers_s > 99.9 && v.headers_s < 100.1, "%f", v.headers_s);
    for (int i = 0; i < 8; i++) { /* 2 s at 1000/s: between the two */
        t += 0.25;
        done += 250;
        s = at(t, done, done, done * 100);
        td_progress_update(&s, &p);
    }
    td_progress_view_of(&p, &s, &v);
    CHECK(v.headers_s > 400 && v.headers_s < 500, "%f", v.headers_s);
    for (int i = 0; i < 20; i++) { /* 5 s at 1000/s */
        t += 0.25;
        done += 250;
        s = at(t, done, done, done * 100);
        td_progress_update(&s, &p);
    }
    td_progress_view_of(&p, &s, &v);
    CHECK(v.headers_s > 999 && v.headers_s < 1001, "%f", v.headers_s);
    CHECK(v.bytes_s > 99.9e3 && v.bytes_s < 100.1e3, "%f", v.bytes_s);
    /* a run of many hours: the ring never overflows */
    for (int i = 0; i < 100000; i++) {
        t += 0.25;
        done += 10;
        s = at(t, done, done, done);
        td_progress_update(&s, &p);
    }
    td_progress_view_of(&p, &s, &v);
    CHECK(v.headers_s > 39.9 && v.headers_s < 40.1, "%f", v.headers_s);
    CHECK(p.n <= TD_PROGRESS_SAMPLES);
    fclose(f);
}

static void plain(void) {
    td_test_context = "plain";
    FILE *f = tmpfile();
    REQUIRE(f);
    td_progress p;
    td_progress_init(&p, TD_PROGRESS_LOUD, f);
    td_stats s = at(5, 500, 520, 2500000);
    s.listed = 1000;
    td_progress_update(&s, &p);
    s = at(10, 1000, 1040, 5000000);
    s.listed = 1002;
    s.skipped = 2;
    s.listing_done = true;
    s.to_do = 1000 + 100;
    s.failed = 10;
    td_progress_update(&s, &p);
    td_progress_error("file:///x/a\033[2J.tif", "fetch", "not_found", "gone\r\n", &p);
    td_progress_end(&p, &s, "/out", 1);
    rewind(f);
    char all[4096];
    size_t n = fread(all, 1, sizeof all - 1, f);
    all[n] = '\0';
    CHECK_STR(all, "tiff-dumper: 00:05 listed 1000, dumped 500, failed 0, skipped 0, 100 "
                   "headers/s, 104 requests/s, 500 kB/s, listing\n"
                   "tiff-dumper: 00:10 listed 1002, dumped 1000, failed 10, skipped 2, 102 "
                   "headers/s, 104 requests/s, 500 kB/s, 91% of 1100, ETA 00:01\n"
                   "tiff-dumper: file:///x/a\\x1b[2J.tif failed (fetch, not_found): "
                   "gone\\x0d\\x0a\n"
                   "tiff-dumper: stopped: 1000 headers dumped, 10 failed, 2 skipped (1002 "
                   "listed) in 00:10 (10.000 s, 100 headers/s), 1040 requests, 5000000 bytes "
                   "fetched -> /out\n");
    fclose(f);
    /* quiet: nothing, not even the summary */
    f = tmpfile();
    REQUIRE(f);
    td_progress_init(&p, TD_PROGRESS_QUIET, f);
    CHECK(td_progress_period_ms(&p) == 0);
    td_progress_update(&s, &p);
    td_progress_end(&p, &s, "/out", 0);
    CHECK(ftell(f) == 0);
    fclose(f);
}

int main(int argc, char **argv) {
    (void)argc;
    clocks();
    etas();
    rates();
    bar_layout();
    listing_layout();
    window();
    plain();
    return td_test_report(argv[0]);
}
