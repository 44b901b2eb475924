/* test_utf8.c - the UTF-8 helpers of src/util: validity (RFC 3629 edge cases, the 8-byte
 * ASCII path at every alignment), cuts on character boundaries, the \xNN escape (compared
 * with what Python's backslashreplace gives) and the cut-safe formatter. */
#include "td_test.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JP "\xe6\x97\xa5" /* U+65E5, 3 bytes */

static bool valid(const char *s) { return ut_utf8_valid(s, strlen(s)); }

static void test_valid(void) {
    CHECK(ut_utf8_valid("", 0));
    CHECK(valid("plain ascii, longer than eight bytes"));
    CHECK(valid("caf\xc3\xa9.tif"));
    CHECK(valid(JP JP JP));
    CHECK(valid("\xf0\x9f\x98\x80"));  /* U+1F600 */
    CHECK(valid("\xef\xbf\xbf"));      /* U+FFFF */
    CHECK(valid("\xf4\x8f\xbf\xbf"));  /* U+10FFFF, the last code point */
    CHECK(valid("\xed\x9f\xbf"));      /* U+D7FF, just below the surrogates */
    CHECK(!valid("caf\xe9.tif"));      /* Latin-1 */
    CHECK(!valid("\x80"));             /* stray continuation */
    CHECK(!valid("\xc0\xaf"));         /* overlong '/' */
    CHECK(!valid("\xc1\xbf"));         /* overlong */
    CHECK(!valid("\xe0\x80\xaf"));     /* overlong, 3 bytes */
    CHECK(!valid("\xf0\x80\x80\xaf")); /* overlong, 4 bytes */
    CHECK(!valid("\xed\xa0\x80"));     /* U+D800, a surrogate */
    CHECK(!valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
    CHECK(!valid("\xf5\x80\x80\x80"));
    CHECK(!valid("\xff"));
    CHECK(!valid("\xe6\x97")); /* cut short */
    CHECK(!valid("\xe6\x97x"));
    CHECK(ut_utf8_valid("a\0b", 3)); /* NUL is a character */

    /* the 8-byte ASCII path: one bad byte at every position and alignment is found */
    char buf[64];
    for (size_t len = 1; len < 40; len++)
        for (size_t bad = 0; bad < len; bad++) {
            memset(buf, 'a', len);
            buf[bad] = (char)0xe9;
            CHECK(ut_utf8_valid_prefix(buf, len) == bad, "len %zu bad %zu", len, bad);
            buf[bad] = 'a';
            CHECK(ut_utf8_valid_prefix(buf, len) == len);
        }
    /* a valid character after ASCII runs of every length */
    for (size_t lead = 0; lead < 20; lead++) {
        memset(buf, 'a', lead);
        memcpy(buf + lead, JP "tail", 7);
        CHECK(ut_utf8_valid(buf, lead + 7), "lead %zu", lead);
        CHECK(ut_utf8_valid_prefix(buf, lead + 2) == lead, "cut lead %zu", lead);
    }
}

static void test_cut(void) {
    const char *s = "ab" JP "c"; /* a b E6 97 A5 c */
    CHECK(ut_utf8_cut(s, 6, 10) == 6);
    CHECK(ut_utf8_cut(s, 6, 6) == 6);
    CHECK(ut_utf8_cut(s, 6, 5) == 5);
    CHECK(ut_utf8_cut(s, 6, 4) == 2);
    CHECK(ut_utf8_cut(s, 6, 3) == 2);
    CHECK(ut_utf8_cut(s, 6, 2) == 2);
    CHECK(ut_utf8_cut(s, 6, 0) == 0);
    /* junk (not UTF-8) is cut where asked: there is no character to keep whole */
    CHECK(ut_utf8_cut("\x80\x80\x80\x80\x80", 5, 3) == 3);
    CHECK(ut_utf8_cut("ab\xe9\xe9\x80", 5, 4) == 4);
    /* 80 x U+65E5 into any size: the result is always valid */
    char big[241];
    for (int i = 0; i < 80; i++)
        memcpy(big + 3 * i, JP, 3);
    for (size_t max = 0; max <= 240; max++) {
        size_t k = ut_utf8_cut(big, 240, max);
        CHECK(k <= max && k + 2 >= max && k % 3 == 0, "max %zu -> %zu", max, k);
    }
}

static void test_prec(void) {
    char m[64];
    const char *key = "ab" JP JP "cd";
    snprintf(m, sizeof m, "[%.*s]", ut_utf8_prec(key, 4), key);
    CHECK_STR(m, "[ab]");
    snprintf(m, sizeof m, "[%.*s]", ut_utf8_prec(key, 5), key);
    CHECK_STR(m, "[ab" JP "]");
    snprintf(m, sizeof m, "[%.*s]", ut_utf8_prec(key, 100), key);
    CHECK_STR(m, "[ab" JP JP "cd]");
    CHECK(ut_utf8_prec(key, 7) == 5 && ut_utf8_prec(key, 8) == 8 && ut_utf8_prec(NULL, 3) == 0);
    /* the character right at the end of the measured window is still seen whole */
    for (size_t max = 0; max < 12; max++) {
        int k = ut_utf8_prec(key, max);
        CHECK(ut_utf8_valid(key, (size_t)k) && (size_t)k <= max, "max %zu -> %d", max, k);
    }
}

static void test_escape(void) {
    char out[64];
    struct {
        const char *in;
        const char *want; /* bytes.decode('utf-8', 'backslashreplace') */
    } cases[] = {
        {"caf\xe9.tif", "caf\\xe9.tif"},
        {"caf\xc3\xa9.tif", "caf\xc3\xa9.tif"},
        {"\xe6\x97", "\\xe6\\x97"},
        {"\xe6\xe6\x97\xa5", "\\xe6" JP},
        {"\xf0\x90\x80"
         "A",
         "\\xf0\\x90\\x80A"},
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},
        {"\xc0\xaf", "\\xc0\\xaf"},
        {"a\\xe9", "a\\xe9"}, /* a literal backslash stays: path_bytes tells the two apart */
        {"\xff\xfe", "\\xff\\xfe"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in);
        size_t el = ut_utf8_escaped_len(cases[i].in, n);
        size_t o = ut_utf8_escape(out, cases[i].in, n);
        out[o] = 0;
        CHECK_STR(out, cases[i].want);
        CHECK(el == o, "case %zu: escaped_len %zu, wrote %zu", i, el, o);
        CHECK(ut_utf8_valid(out, o));
    }
    /* the worst case is 4 bytes out per byte in */
    const char all_bad[] = "\xff\xff\xff\xff";
    CHECK(ut_utf8_escaped_len(all_bad, 4) == 16);
}

static void test_json(void) {
    /* JSON output (info --json, _SUCCESS) is UTF-8: bad bytes as the text \xNN */
    ut_buf b = {0};
    const char *in = "caf\xe9 " JP " \"q\"\xe6\x97";
    ut_json_escape(&b, in, strlen(in));
    CHECK_STR(ut_buf_str(&b), "\"caf\\\\xe9 " JP " \\\"q\\\"\\\\xe6\\\\x97\"");
    CHECK(ut_utf8_valid(b.p, b.len));
    ut_buf_free(&b);
}

static void test_msgf(void) {
    char m[8];
    /* "ab" + U+65E5 x 2 into 8 bytes: 7 fit, the second character would be cut: dropped */
    int r = ut_msgf(m, sizeof m, "ab%s", JP JP);
    CHECK_STR(m, "ab" JP);
    CHECK(r == 5);
    r = ut_msgf(m, sizeof m, "%s", "abc");
    CHECK_STR(m, "abc");
    CHECK(r == 3);
    /* a value that is not UTF-8 is left as it is when nothing was cut (the writer escapes) */
    r = ut_msgf(m, sizeof m, "%s", "caf\xe9");
    CHECK_STR(m, "caf\xe9");
    /* a message naming 80 x U+65E5 in a 256-byte buffer (the store's errmsg) */
    char key[250];
    for (int i = 0; i < 80; i++)
        memcpy(key + 3 * i, JP, 3);
    memcpy(key + 240, ".tif", 5);
    for (size_t cap = 1; cap <= 256; cap++) {
        char e[256];
        r = ut_msgf(e, cap, "file:///data/%s: not found", key);
        CHECK(ut_utf8_valid(e, strlen(e)) && (size_t)r == strlen(e) && (size_t)r < cap, "cap %zu",
              cap);
    }
    CHECK(ut_msgf(m, 0, "x") == 0);

    /* ut_join cuts on a boundary too */
    char j[9];
    ut_join(j, sizeof j, "key", JP JP);
    CHECK_STR(j, "key: " JP);
    char j8[8];
    ut_join(j8, sizeof j8, "key", JP JP);
    CHECK_STR(j8, "key: ");
    ut_join(j, sizeof j, "a", "b");
    CHECK_STR(j, "a: b");

    /* trim_cut alone */
    char t[] = "ab\xe6\x97";
    CHECK(ut_utf8_trim_cut(t, 4) == 2 && strcmp(t, "ab") == 0);
    char t2[] = "ab" JP;
    CHECK(ut_utf8_trim_cut(t2, 5) == 5);
    char t3[] = "abc";
    CHECK(ut_utf8_trim_cut(t3, 3) == 3);
}

int main(int argc, char **argv) {
    (void)argc;
    test_valid();
    test_cut();
    test_prec();
    test_escape();
    test_json();
    test_msgf();
    return td_test_report(argv[0]);
}
