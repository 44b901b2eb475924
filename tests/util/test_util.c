/* test_util.c - unit tests of src/util: caps, malformed input, edge cases. */
#define _GNU_SOURCE /* sched_setaffinity, mkdtemp */
#include "td_test.h"
#include "util.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_buf(void) {
    ut_buf b = {0};
    CHECK_STR(ut_buf_str(&b), "");
    ut_buf_puts(&b, "abc");
    ut_buf_putc(&b, 'd');
    ut_buf_printf(&b, "-%d", 42);
    CHECK_STR(b.p, "abcd-42");
    CHECK(b.len == 7 && !b.bad);
    /* printf longer than the small stack buffer */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ut_buf_printf(&b, "%s", big);
    CHECK(b.len == 7 + 599 && !b.bad);
    ut_buf_free(&b);
    CHECK(b.p == NULL && b.len == 0);

    /* the cap: a failed append leaves the contents and sets bad, later appends too */
    ut_buf c = {.limit = 5};
    ut_buf_puts(&c, "12345");
    CHECK(!c.bad && c.len == 5);
    ut_buf_putc(&c, '6');
    CHECK(c.bad && c.len == 5);
    CHECK_STR(c.p, "12345");
    ut_buf_reset(&c);
    CHECK(!c.bad && c.len == 0);
    CHECK_STR(c.p, "");
    ut_buf_puts(&c, "123456");
    CHECK(c.bad && c.len == 0);
    CHECK(ut_buf_take(&c) == NULL);
    ut_buf_free(&c);

    /* default cap is 1 MiB */
    ut_buf d = {0};
    char *mb = malloc(UT_BUF_DEFAULT_LIMIT + 1);
    memset(mb, 'a', UT_BUF_DEFAULT_LIMIT + 1);
    ut_buf_put(&d, mb, UT_BUF_DEFAULT_LIMIT);
    CHECK(!d.bad);
    ut_buf_putc(&d, 'a');
    CHECK(d.bad);
    ut_buf_free(&d);
    free(mb);

    ut_buf e = {0};
    char *t = ut_buf_take(&e);
    CHECK(t && t[0] == 0);
    free(t);
    ut_buf_puts(&e, "kept");
    t = ut_buf_take(&e);
    CHECK_STR(t, "kept");
    CHECK(e.p == NULL);
    free(t);
}

/* ut_free_secret: frees and clears the pointer (ASan sees a double free if it did not),
 * and NULL is nothing to do. */
static void test_free_secret(void) {
    char *s = ut_strdup("token-value");
    ut_free_secret(&s);
    CHECK(s == NULL);
    ut_free_secret(&s);
    CHECK(s == NULL);
}

static void test_text(void) {
    CHECK(ut_hex_val('0') == 0 && ut_hex_val('f') == 15 && ut_hex_val('F') == 15);
    CHECK(ut_hex_val('g') == -1 && ut_hex_val('\0') == -1);
    uint8_t out[4];
    CHECK(ut_hex_decode("00ff7A10", 4, out) == 0);
    CHECK(out[0] == 0 && out[1] == 0xff && out[2] == 0x7a && out[3] == 0x10);
    CHECK(ut_hex_decode("0g", 1, out) == -1);
    CHECK(ut_hex_decode("g0", 1, out) == -1);
    char hex[9];
    ut_hex_encode("\x00\xff\x7a\x10", 4, hex);
    CHECK_STR(hex, "00ff7a10");

    CHECK(ut_parse_bool("true") == 1 && ut_parse_bool("TRUE") == 1 && ut_parse_bool("Yes") == 1);
    CHECK(ut_parse_bool("y") == 1 && ut_parse_bool("on") == 1 && ut_parse_bool("1") == 1);
    CHECK(ut_parse_bool("false") == 0 && ut_parse_bool("No") == 0 && ut_parse_bool("n") == 0);
    CHECK(ut_parse_bool("off") == 0 && ut_parse_bool("0") == 0);
    CHECK(ut_parse_bool("") == -1 && ut_parse_bool(NULL) == -1);
    CHECK(ut_parse_bool("2") == -1 && ut_parse_bool("truex") == -1 && ut_parse_bool("t") == -1);
    CHECK(ut_strieq("AbC", "aBc") && !ut_strieq("abc", "abcd") && !ut_strieq("ab", "ac"));

    char j[8];
    ut_join(j, sizeof j, "abc", "defgh");
    CHECK_STR(j, "abc: de");
}

static void test_url(void) {
    CHECK(ut_url_scheme_len("s3://b", 6) == 2);
    CHECK(ut_url_scheme_len("git+ssh://x", 11) == 7);
    CHECK(ut_url_scheme_len("abc", 3) == 0);
    CHECK(ut_url_scheme_len("1s://x", 6) == 0);
    CHECK(ut_url_scheme_len("s3:/x", 5) == 0);
    CHECK(ut_url_scheme_len("/abs/path", 9) == 0);
    CHECK(ut_url_scheme_len("s3://b", 4) == 0); /* n bounds the look */

    ut_buf b = {0};
    ut_pct_encode(&b, "a b/c~%+\xc3\xa9", 10, true);
    CHECK_STR(b.p, "a%20b/c~%25%2B%C3%A9");
    ut_buf_reset(&b);
    ut_pct_encode(&b, "a/b", 3, false);
    CHECK_STR(b.p, "a%2Fb");

    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%20b+c%2f", 10, 0) == 0);
    CHECK_STR(b.p, "a b+c/");
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a+b", 3, UT_PCT_PLUS_SPACE) == 0);
    CHECK_STR(b.p, "a b");
    /* invalid escapes: strict refuses, lenient keeps them */
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%2", 3, 0) == -1);
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%zz", 4, 0) == -1);
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%zz%", 5, UT_PCT_LENIENT) == 0);
    CHECK_STR(b.p, "a%zz%");
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "%41%", 4, UT_PCT_LENIENT) == 0);
    CHECK_STR(b.p, "A%");
    /* an encoded NUL */
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%00", 4, UT_PCT_NO_NUL) == -1);
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%00", 4, 0) == 0 && b.len == 2);
    /* cap */
    ut_buf small = {.limit = 2};
    CHECK(ut_pct_decode(&small, "abc", 3, 0) == 0 && small.bad);
    ut_buf_free(&small);
    ut_buf_free(&b);

    char m[64];
    ut_url_for_message("https://user:pw@host/p?sig=secret#f", m, sizeof m);
    CHECK_STR(m, "https://host/p");
    ut_url_for_message("http://h/a@b", m, sizeof m);
    CHECK_STR(m, "http://h/a@b");
    ut_url_for_message("http://h/abcdef", m, 8);
    CHECK_STR(m, "http://");
}

static void test_base64(void) {
    ut_buf b = {0};
    ut_base64_encode(&b, "", 0, false);
    CHECK_STR(ut_buf_str(&b), "");
    ut_base64_encode(&b, "f", 1, false);
    CHECK_STR(b.p, "Zg==");
    ut_buf_reset(&b);
    ut_base64_encode(&b, "fo", 2, false);
    CHECK_STR(b.p, "Zm8=");
    ut_buf_reset(&b);
    ut_base64_encode(&b, "foobar", 6, false);
    CHECK_STR(b.p, "Zm9vYmFy");
    ut_buf_reset(&b);
    ut_base64_encode(&b, "\xfb\xff", 2, true);
    CHECK_STR(b.p, "-_8");
    ut_buf_reset(&b);
    ut_base64_encode(&b, "\xfb\xff", 2, false);
    CHECK_STR(b.p, "+/8=");
    ut_buf_free(&b);

    uint8_t out[8];
    CHECK(ut_base64_decode("Zm9vYmFy", 8, out, sizeof out) == 6 && !memcmp(out, "foobar", 6));
    CHECK(ut_base64_decode("Zg==", 4, out, sizeof out) == 1 && out[0] == 'f');
    CHECK(ut_base64_decode("Zg", 2, out, sizeof out) == 1);
    CHECK(ut_base64_decode("Z", 1, out, sizeof out) == -1);
    CHECK(ut_base64_decode("Zm 9v", 5, out, sizeof out) == -1);
    CHECK(ut_base64_decode("Zm9vYmFy", 8, out, 5) == -1); /* more than cap */
}

static void test_dates(void) {
    CHECK(ut_timegm_ms(1970, 1, 1, 0, 0, 0, 0) == 0);
    CHECK(ut_timegm_ms(2000, 3, 1, 0, 0, 0, 5) == 951868800005LL);
    CHECK(ut_timegm_ms(1969, 12, 31, 23, 59, 59, 0) == -1000);

    const char *d = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(ut_http_date_parse(d, strlen(d)) == 784111777000LL);
    d = "06 Nov 1994 08:49:37 GMT"; /* weekday optional */
    CHECK(ut_http_date_parse(d, strlen(d)) == 784111777000LL);
    static const char *const bad[] = {
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "",
        "Sun, 06 No",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(ut_http_date_parse(bad[i], strlen(bad[i])) == INT64_MIN, "%s", bad[i]);

    char out[32];
    ut_http_date_format(784111777, out);
    CHECK_STR(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    ut_http_date_format(0, out);
    CHECK_STR(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    ut_http_date_format(951782400, out); /* leap day */
    CHECK_STR(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(ut_http_date_parse(out, strlen(out)) == 951782400000LL);

    d = "2024-01-02T03:04:05.678Z";
    CHECK(ut_rfc3339_parse(d, strlen(d)) == ut_timegm_ms(2024, 1, 2, 3, 4, 5, 678));
    d = "2024-01-02T03:04:05+01:30";
    CHECK(ut_rfc3339_parse(d, strlen(d)) == ut_timegm_ms(2024, 1, 2, 1, 34, 5, 0));
    d = "2024-01-02 03:04:05z";
    CHECK(ut_rfc3339_parse(d, strlen(d)) == ut_timegm_ms(2024, 1, 2, 3, 4, 5, 0));
    static const char *const bad3[] = {"2024-01-02T03:04:05",   "2024-13-02T03:04:05Z",
                                       "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05Zx",
                                       "2024-01-02X03:04:05Z",  "24-01-02T03:04:05Z"};
    for (size_t i = 0; i < sizeof bad3 / sizeof bad3[0]; i++)
        CHECK(ut_rfc3339_parse(bad3[i], strlen(bad3[i])) == INT64_MIN, "%s", bad3[i]);
}

static void test_json(void) {
    char err[128];
    ut_json d;
    const char *doc = " {\"a\": \"x\\u00e9\\ud83d\\ude00\\n\", \"n\": 123, \"s\": \"456\","
                      " \"arr\": [1, {\"k\": null}, true], \"e\\u0073c\": false, \"neg\": -1.5e3,"
                      " \"lone\": \"\\ud800x\"} ";
    CHECK(ut_json_parse(&d, doc, strlen(doc), 100, err, sizeof err) == 0, "%s", err);
    char *a = ut_json_strdup(&d, ut_json_get(&d, 0, "a"));
    CHECK_STR(a, "x\xc3\xa9\xf0\x9f\x98\x80\n");
    free(a);
    char *lone = ut_json_strdup(&d, ut_json_get(&d, 0, "lone"));
    CHECK_STR(lone, "\xef\xbf\xbdx");
    free(lone);
    uint64_t v = 0;
    CHECK(ut_json_u64(&d, ut_json_get(&d, 0, "n"), &v) == 0 && v == 123);
    CHECK(ut_json_u64(&d, ut_json_get(&d, 0, "s"), &v) == 0 && v == 456);
    CHECK(ut_json_u64(&d, ut_json_get(&d, 0, "neg"), &v) == -1);
    CHECK(ut_json_u64(&d, ut_json_get(&d, 0, "missing"), &v) == -1);
    size_t esc = ut_json_get(&d, 0, "esc"); /* escaped member names match decoded */
    CHECK(esc != UT_JSON_NONE && d.tok[esc].type == UT_JSON_FALSE);
    size_t arr = ut_json_get(&d, 0, "arr");
    CHECK(arr != UT_JSON_NONE && d.tok[arr].type == UT_JSON_ARRAY && d.tok[arr].size == 3);
    CHECK(ut_json_get(&d, arr, "k") == UT_JSON_NONE); /* not an object */
    CHECK(ut_json_strdup(&d, ut_json_get(&d, 0, "n")) == NULL);
    ut_json_free(&d);

    /* a NUL inside a string is refused by strdup */
    const char *nul = "\"a\\u0000b\"";
    CHECK(ut_json_parse(&d, nul, strlen(nul), 10, err, sizeof err) == 0);
    CHECK(ut_json_strdup(&d, 0) == NULL);
    ut_json_free(&d);

    static const char *const bad[] = {
        "",    "{", "{\"a\"}", "{\"a\":1,}", "[1 2]", "\"abc",    "\"\\x\"", "\"\\u12g4\"", "tru",
        "01x", "-", "1.",      "1e",         "{} {}", "\"a\nb\"", "[1,]",    "{1:2}",       "nul"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK(ut_json_parse(&d, bad[i], strlen(bad[i]), 100, err, sizeof err) == -1, "'%s'",
              bad[i]);
        CHECK(err[0] != 0, "no message for '%s'", bad[i]);
    }
    /* depth and token caps */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK(ut_json_parse(&d, deep, 200, 1000, err, sizeof err) == -1);
    CHECK(ut_json_parse(&d, "[1,2,3]", 7, 3, err, sizeof err) == -1);
    CHECK(ut_json_parse(&d, "[1,2,3]", 7, 4, err, sizeof err) == 0);
    ut_json_free(&d);

    ut_buf b = {0};
    ut_json_escape(&b, "a\"b\\c\n\x01\xc3\xa9", 9);
    CHECK_STR(b.p, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
    ut_buf_free(&b);
}

static void test_file(void) {
    const char *path = "test_util_file.tmp";
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("0123456789", f);
    fclose(f);
    char err[256];
    size_t n = 0;
    char *s = ut_read_file(path, 10, &n, err, sizeof err);
    CHECK_STR(s, "0123456789");
    CHECK(n == 10);
    free(s);
    err[0] = 0;
    CHECK(ut_read_file(path, 9, &n, err, sizeof err) == NULL);
    CHECK(strstr(err, "too large") != NULL, "%s", err);
    CHECK(errno == EFBIG);
    remove(path);
    err[0] = 0;
    CHECK(ut_read_file(path, 10, &n, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot open") != NULL, "%s", err);
    CHECK(errno == ENOENT);
}

static void put(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "create %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_cpus(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = ut_cpus_available();
    CHECK(n >= 1 && (online < 1 || n <= (unsigned)online), "cpus %u of %ld online", n, online);
    /* pinned to one CPU (taskset -c K): one */
    cpu_set_t old, one;
    if (sched_getaffinity(0, sizeof old, &old) == 0) {
        int k = 0;
        while (k < CPU_SETSIZE && !CPU_ISSET(k, &old))
            k++;
        CPU_ZERO(&one);
        CPU_SET(k, &one);
        if (sched_setaffinity(0, sizeof one, &one) == 0) {
            CHECK(ut_cpus_available() == 1, "pinned: %u", ut_cpus_available());
            CHECK(sched_setaffinity(0, sizeof old, &old) == 0);
        }
    }

    /* cgroup quotas in a fake tree: v2 takes the tightest of the cgroup and its ancestors,
     * rounded up; "max" is no quota; v1 reads the cpu controller's files */
    char root[] = "/tmp/td-cpus-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char d[600];
    snprintf(d, sizeof d, "%s/a", root);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/a/b", root);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/cpu", root);
    mkdir(d, 0700);
    char pc[600];
    snprintf(pc, sizeof pc, "%s/self-cgroup", root);
    CHECK(ut__cgroup_cpu_quota(root, "/nonexistent/cgroup") == 0);
    put(root, "self-cgroup", "0::/a/b\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 0, "no cpu.max anywhere");
    put(root, "a/b/cpu.max", "max 100000\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 0, "max");
    put(root, "a/b/cpu.max", "150000 100000\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 2, "1.5 CPUs: %u", ut__cgroup_cpu_quota(root, pc));
    put(root, "a/cpu.max", "100000 100000\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 1, "the parent's: %u", ut__cgroup_cpu_quota(root, pc));
    put(root, "cpu.max", "50000 100000\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 1, "half a CPU rounds up to one");
    put(root, "cpu.max", "800000 100000\n");
    put(root, "a/cpu.max", "max 100000\n");
    put(root, "a/b/cpu.max", "garbage\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 8, "the root's: %u", ut__cgroup_cpu_quota(root, pc));
    /* followed, this path would climb to the root's 8 CPUs */
    put(root, "self-cgroup", "0::/a/../a/b\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 0, "a path with .. is not followed");
    /* cgroup v1 */
    put(root, "self-cgroup", "5:cpu,cpuacct:/docker/x\n4:memory:/docker/x\n");
    put(root, "cpu/cpu.cfs_quota_us", "-1\n");
    put(root, "cpu/cpu.cfs_period_us", "100000\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 0, "v1 unlimited");
    put(root, "cpu/cpu.cfs_quota_us", "300000\n");
    CHECK(ut__cgroup_cpu_quota(root, pc) == 3, "v1: %u", ut__cgroup_cpu_quota(root, pc));
    const char *files[] = {"a/b/cpu.max",
                           "a/cpu.max",
                           "cpu.max",
                           "cpu/cpu.cfs_quota_us",
                           "cpu/cpu.cfs_period_us",
                           "self-cgroup",
                           "a/b",
                           "a",
                           "cpu"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(d, sizeof d, "%s/%s", root, files[i]);
        remove(d);
    }
    CHECK(rmdir(root) == 0, "temporary tree left: %s", root);
}

int main(int argc, char **argv) {
    (void)argc;
    test_buf();
    test_free_secret();
    test_text();
    test_url();
    test_base64();
    test_dates();
    test_json();
    test_file();
    test_cpus();
    return td_test_report(argv[0]);
}
