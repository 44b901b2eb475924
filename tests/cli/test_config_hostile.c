/* test_config_hostile.c - the config loader under hostile input (issue 13): nesting and
 * anchor bombs are refused in milliseconds, secret masking is linear in the config size,
 * secrets in URLs (userinfo, SAS and presigned query strings) never reach source_text,
 * numbers with a leading zero are refused (YAML 1.1 reads them as octal). */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "td_test.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Loads y; returns 0 or -1, the message in err, the time taken in *dt. */
static int load(td_config *c, const char *y, char *err, size_t errlen, double *dt) {
    td_config_defaults(c);
    double t0 = now();
    int rc = td_config_load_string(c, y, "h.yaml", err, errlen);
    *dt = now() - t0;
    return rc;
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail) {
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * times + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < times; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * times, tail, tl + 1);
    return s;
}

/* A bomb must fail fast with a message naming the problem. */
static void bomb(const char *label, char *y, const char *want) {
    td_config c;
    char err[1024] = "";
    double dt;
    int rc = load(&c, y, err, sizeof err, &dt);
    CHECK(rc == -1 && strstr(err, want), "%s: rc %d, message '%s'", label, rc, err);
    CHECK(dt < 1.0, "%s: %.3f s", label, dt); /* minutes before */
    td_config_free(&c);
    free(y);
}

static void test_bombs(void) {
    /* 300k nested flow sequences: minutes in yaml_parser_load before */
    char *open = repeat("store:\n  name: x\n  prefixes: ", "[", 300000, "");
    char *y = repeat(open, "]", 300000, "\n");
    free(open);
    bomb("nested flow", y, "nests deeper than 64 levels");
    /* nested flow mappings, and block mappings 100 deep */
    open = repeat("store:\n  name: x\n  obstore_config: ", "{a: ", 200000, "");
    y = repeat(open, "}", 200000, "\n");
    free(open);
    bomb("nested mappings", y, "nests deeper");
    {
        char *b = malloc(100 * 110 + 64), *p = b;
        p += sprintf(p, "store:\n  name: x\n");
        for (int i = 0; i < 100; i++)
            p += sprintf(p, "%*sk%d:\n", i * 1, "", i);
        bomb("block nesting", b, "nests deeper");
    }
    /* anchors and aliases: libyaml looks each up in a list */
    {
        size_t n = 60000;
        char *b = malloc(n * 16 + 64), *p = b;
        p += sprintf(p, "store:\n  name: x\n  prefixes: [");
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s&a%zu x", i ? "," : "", i);
        strcpy(p, "]\n");
        bomb("anchors", b, "anchors");
    }
    bomb("aliases", repeat("store:\n  name: x\n  prefixes: [&a x", ", *a", 200000, "]\n"),
         "aliases");
    /* a sane config with an anchor, an alias and nesting 4 still loads */
    td_config c;
    char err[1024] = "";
    double dt;
    int rc = load(&c,
                  "store:\n  name: &n x\n  prefixes: [*n, b]\n"
                  "concurrency: {n_consumers: 2}\n",
                  err, sizeof err, &dt);
    CHECK(rc == 0, "%s", err);
    td_config_free(&c);
}

/* Masking a megabyte: comments full of credential names, and a secret value repeated many
 * times (in a comment and in another scalar). Quadratic before: 28 s and 32 s. */
static void test_masking_linear(void) {
    static const char *const heads[] = {
        "store:\n  name: s3://b\n  obstore_config:\n    secret_access_key: abcd\n# ",
        ("store:\n  name: s3://b\n  obstore_config:\n    secret_access_key: abcd\n"
         "  prefixes: [\""),
        "store:\n  name: s3://b\n",
        "store:\n  name: s3://b\n  obstore_config:\n    secret_access_key: aaaab\n# ",
    };
    static const char *const units[] = {"abcd ", "abcd", "# token=abcdefgh\n", "a"};
    static const char *const tails[] = {"\n", "\"]\n", "", "\n"};
    for (size_t i = 0; i < 4; i++) {
        size_t times = (900u << 10) / strlen(units[i]);
        char *y = repeat(heads[i], units[i], times, tails[i]);
        td_config c;
        char err[1024] = "";
        double dt;
        int rc = load(&c, y, err, sizeof err, &dt);
        CHECK(rc == 0, "case %zu: %s", i, err);
        CHECK(dt < 2.0, "case %zu: %.3f s", i, dt); /* about 30 s before */
        if (rc == 0) {
            CHECK(!strstr(c.source_text, "abcd") && !strstr(c.source_text, "abcdefgh"),
                  "case %zu: a secret is left", i);
        }
        td_config_free(&c);
        free(y);
    }
}

static void test_url_secrets(void) {
    static const struct {
        const char *yaml, *secret, *want;
    } cases[] = {
        /* an Azure Blob SAS URL as store.name (a documented form) */
        {"store:\n  name: "
         "\"https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=rl&sig=SiG%2Bx%3D\"\n",
         "SiG", "https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=rl&sig=***"},
        {"store:\n  name: https://acct.blob.core.windows.net/c?sv=1&sig=SiGpLaIn\n", "SiGpLaIn",
         "sig=***"},
        /* a quoted scalar with escapes: the value's form differs from the text's */
        {"store:\n  name: \"http://user:p\\x40ss@host/\"\n", "p\\x40ss", "\"http://***@host/\""},
        {"store:\n  name: http://user:hunter2@host/d/\n", "hunter2", "http://***@host/d/"},
        /* an endpoint with userinfo (not a secret option), a presigned URL in a comment */
        {"store:\n  name: s3://b\n  obstore_config:\n    endpoint: http://u:EndPw@127.0.0.1:9/\n"
         "# https://b.s3.amazonaws.com/k?X-Amz-Signature=feed&X-Amz-Credential=AKIAX\n",
         "EndPw", "http://***@127.0.0.1:9/"},
        {"store:\n  name: s3://b\n# https://b.s3.amazonaws.com/k?X-Amz-Signature=feedbeef\n",
         "feedbeef", "X-Amz-Signature=***"},
        /* a key list given as a URL with a token */
        {"store:\n  name: s3://b\n  keys_from: \"https://h/keys.txt?token=TokTok\"\n", "TokTok",
         "token=***"},
        /* the store's own table says which options are secret (azure: bearer_token) */
        {"store:\n  name: az://c\n  obstore_config:\n    bearer_token: BeArEr1\n", "BeArEr1",
         "bearer_token: \"***\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        td_config c;
        char err[1024] = "";
        double dt;
        int rc = load(&c, cases[i].yaml, err, sizeof err, &dt);
        CHECK(rc == 0, "case %zu: %s", i, err);
        if (rc)
            continue;
        CHECK(!strstr(c.source_text, cases[i].secret), "case %zu: leak:\n%s", i, c.source_text);
        CHECK(strstr(c.source_text, cases[i].want), "case %zu: want '%s' in:\n%s", i, cases[i].want,
              c.source_text);
        /* the masked text still loads */
        td_config c2;
        CHECK(load(&c2, c.source_text, err, sizeof err, &dt) == 0, "case %zu: %s", i, err);
        td_config_free(&c2);
        td_config_free(&c);
    }
}

/* A long comment is judged along its whole length, not by its first kilobyte. */
static void test_long_comment(void) {
    for (size_t pad = 1000; pad < 5000; pad += 333) {
        char *y = repeat("store:\n  name: x\n# ", "z", pad, " password: LongPw99\n");
        td_config c;
        char err[1024] = "";
        double dt;
        int rc = load(&c, y, err, sizeof err, &dt);
        CHECK(rc == 0, "%s", err);
        if (rc == 0)
            CHECK(!strstr(c.source_text, "LongPw99"), "pad %zu: leak", pad);
        td_config_free(&c);
        free(y);
    }
}

/* "010" is 8 to PyYAML (the Python tool) and 10 to YAML 1.2: refused, whichever was meant. */
static void test_leading_zero(void) {
    static const char *const bad[] = {
        "store:\n  name: x\nconcurrency:\n  n_consumers: 010\n",
        "store:\n  name: x\nconcurrency:\n  n_consumers: 08\n",
        "store:\n  name: x\nconcurrency:\n  n_consumers: +010\n",
        "store:\n  name: x\nconcurrency:\n  n_consumers: 0_10\n",
        "store:\n  name: x\nnetwork:\n  connect_timeout: 010\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        td_config c;
        char err[1024] = "";
        double dt;
        int rc = load(&c, bad[i], err, sizeof err, &dt);
        CHECK(rc == -1 && strstr(err, "starts with 0") && strstr(err, "octal"),
              "case %zu: rc %d '%s'", i, rc, err);
        td_config_free(&c);
    }
    static const char *const good[] = {
        "store:\n  name: x\nconcurrency:\n  n_consumers: 10\n",
        "store:\n  name: x\nnetwork:\n  connect_timeout: 0.5\n",
        "store:\n  name: x\nnetwork:\n  connect_timeout: 010.5\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        td_config c;
        char err[1024] = "";
        double dt;
        CHECK(load(&c, good[i], err, sizeof err, &dt) == 0, "good %zu: %s", i, err);
        td_config_free(&c);
    }
}

int main(int argc, char **argv) {
    (void)argc;
    test_bombs();
    test_masking_linear();
    test_url_secrets();
    test_long_comment();
    test_leading_zero();
    return td_test_report(argv[0]);
}
