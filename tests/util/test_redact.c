/* test_redact.c - ut_redact_url (the one redaction of secrets) and ut_escape_ctl (control
 * characters for terminals and logs): the forms of issue 13 and linear time on a megabyte of
 * hostile text. */
#include "util.h"

#include <stdlib.h>
#include <time.h>

#include "td_test.h"

static char *red(const char *s) {
    char *r = ut_redact_dup(s);
    return r ? r : strdup("(null)");
}

#define RED(in, want)        \
    do {                     \
        char *r_ = red(in);  \
        CHECK_STR(r_, want); \
        free(r_);            \
    } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_redact(void) {
    /* userinfo, with and without a password */
    RED("http://user:pw@host/", "http://***@host/");
    RED("https://TOKEN@github.com/x", "https://***@github.com/x");
    RED("s3://AKIA:secret@bucket/k", "s3://***@bucket/k");
    /* an unescaped '/' in the password still ends at the '@' */
    RED("http://user:pa/ss@host/p", "http://***@host/p");
    RED("http://user:p?ss@host/p", "http://***@host/p");
    RED("http://user:p#s@ss@host/p", "http://***@host/p");
    RED("http://host:8080/a?b@c", "http://host:8080/a?b@c");
    /* no userinfo: untouched, '@' in the path is not userinfo */
    RED("http://host:8080/a@b/c", "http://host:8080/a@b/c");
    RED("http://[::1]:9000/x", "http://[::1]:9000/x");
    RED("/local/dir/file.tif", "/local/dir/file.tif");
    /* Azure Blob SAS URL */
    RED("https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sp=rl&se=2030&sig=AbC%2Bd%3D",
        "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sp=rl&se=2030&sig=***");
    /* SigV4 presigned */
    RED("https://b.s3.amazonaws.com/k.tif?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
        "AKIA%2F20240101&X-Amz-Security-Token=FwoG&X-Amz-Signature=abcdef&X-Amz-Expires=60",
        "https://b.s3.amazonaws.com/k.tif?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
        "&X-Amz-Security-Token=***&X-Amz-Signature=***&X-Amz-Expires=60");
    RED("https://h/p?token=t1;access_token=t2#id_token=t3&state=s",
        "https://h/p?token=***;access_token=***#id_token=***&state=s");
    RED("x?X-Goog-Signature=00ff&code=abc&api_key=k&Password=p",
        "x?X-Goog-Signature=***&code=***&api_key=***&Password=***");
    /* a bare SAS token in text (a comment) */
    RED("# sv=2021&sig=abc%2F", "# sv=2021&sig=***");
    /* several URLs inside a message; quotes end a URL */
    RED("store 'http://u:p@h/': cannot open 'https://x/y?sig=1' (see http://h2/)",
        "store 'http://***@h/': cannot open 'https://x/y?sig=***' (see http://h2/)");
    RED("endpoint: \"http://user:pw@127.0.0.1:9000\"", "endpoint: \"http://***@127.0.0.1:9000\"");
    /* YAML flow: a ',' or ']' ends a value */
    RED("[a?sig=1, b]", "[a?sig=***, b]");
    /* nothing secret */
    RED("https://h/p?prefix=a&max=3&sv=1", "https://h/p?prefix=a&max=3&sv=1");
    RED("", "");
    RED("://", "://");
    RED("://@", "://***@");
    RED("a?=b&sig=", "a?=b&sig=");

    char m[32] = "http://u:pw@h/abcdefghijklmnop";
    ut_redact_to(m, sizeof m, m);
    CHECK_STR(m, "http://***@h/abcdefghijklmnop");
    ut_redact_to(m, 12, "http://u:pw@h/x");
    CHECK_STR(m, "http://***@");

    /* linear: a megabyte of matches, of URLs, of '@' and of separators. Judged by the ratio
     * of the times for 1 MiB and 256 KiB (4 for linear, 16 for quadratic), which holds
     * under sanitizers and on a loaded machine where an absolute bound would not. */
    static const char *const units[] = {"&sig=ab", "http://u:p@h/ ", "://",     "@",
                                        "?",       "a:b/",           "://a:b/c"};
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        double t[2];
        for (int k = 0; k < 2; k++) {
            size_t ul = strlen(units[u]), n = ((size_t)256 << 10 << (2 * k)) / ul * ul;
            char *big = malloc(n + 1);
            for (size_t i = 0; i < n; i += ul)
                memcpy(big + i, units[u], ul);
            big[n] = 0;
            double best = 1e9;
            for (int rep = 0; rep < 3; rep++) { /* the best of 3: less noise */
                double t0 = now();
                ut_buf b = {.limit = 4 * n};
                ut_redact_url(&b, big, n);
                double dt = now() - t0;
                best = dt < best ? dt : best;
                CHECK(!b.bad && !strstr(ut_buf_str(&b), "&sig=a"), "unit '%s'", units[u]);
                ut_buf_free(&b);
            }
            t[k] = best;
            free(big);
        }
        /* 0.1 s of slack for a busy machine; a quadratic pass takes seconds here */
        CHECK(t[1] < 5.0 && t[1] < 8 * t[0] + 0.1, "unit '%s': 256 KiB %.3f s, 1 MiB %.3f s",
              units[u], t[0], t[1]);
    }
}

static void test_escape(void) {
    ut_buf b = {0};
    const char s[] = "a\x1b]0;pwn\x07z\r\n\x7f\xc2\x9b"
                     "2J \xc3\xa9\xe6\x97\xa5 \xe9 \xff";
    ut_escape_ctl(&b, s, sizeof s - 1);
    CHECK_STR(ut_buf_str(&b), "a\\x1b]0;pwn\\x07z\\x0d\\x0a\\x7f\\xc2\\x9b"
                              "2J \xc3\xa9\xe6\x97\xa5 \\xe9 \\xff");
    ut_buf_reset(&b);
    ut_escape_ctl(&b, "plain/key.tif", 13);
    CHECK_STR(ut_buf_str(&b), "plain/key.tif");
    /* an overlong and a surrogate are not UTF-8 */
    ut_buf_reset(&b);
    ut_escape_ctl(&b, "\xc0\x80\xed\xa0\x80", 5);
    CHECK_STR(ut_buf_str(&b), "\\xc0\\x80\\xed\\xa0\\x80");
    ut_buf_free(&b);
}

int main(int argc, char **argv) {
    (void)argc;
    test_redact();
    test_escape();
    return td_test_report(argv[0]);
}
