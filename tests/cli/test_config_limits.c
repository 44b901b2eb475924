/* test_config_limits.c - the config loader under hostile input (issue 13): YAML aliases that
 * repeat one long value many times must be refused before they are copied (a 440 KB file
 * used to expand to 4 GB: 10,000 aliases of a 400 KB scalar), while ordinary aliases load.
 * usage: test_config_limits */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "td_test.h"

/* store: name: &a "x..." (vlen bytes), then `where` with n aliases of it. */
static char *bomb(size_t vlen, const char *where, size_t n) {
    size_t cap = vlen + 32 * n + 256;
    char *s = malloc(cap), *p = s;
    if (!s)
        abort();
    p += sprintf(p, "store:\n  name: &a \"");
    memset(p, 'x', vlen);
    p += vlen;
    p += sprintf(p, "\"\n");
    if (!strcmp(where, "prefixes") || !strcmp(where, "suffixes")) {
        p += sprintf(p, "%s%s: [", !strcmp(where, "suffixes") ? "fetch:\n  " : "  ", where);
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s*a", i ? ", " : "");
        p += sprintf(p, "]\n");
    } else { /* obstore_config values */
        p += sprintf(p, "  obstore_config:\n");
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "    opt%zu: *a\n", i);
    }
    return s;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    (void)argc;
    static const char *const where[] = {"prefixes", "suffixes", "obstore_config"};
    for (size_t w = 0; w < 3; w++) {
        /* 200 KB x 1,000 (obstore: at most 1,000 keys) = 200 MB if copied */
        char *y = bomb(200000, where[w], 1000);
        td_config c;
        char err[512];
        double t0 = now();
        int rc = td_config_load_string(&c, y, "bomb.yaml", err, sizeof err);
        double took = now() - t0;
        CHECK(rc == -1 && strstr(err, "bomb.yaml:") && strstr(err, "alias"), "%s: rc %d: %.200s",
              where[w], rc, err);
        CHECK(took < 2.0, "%s: %.2f s to refuse", where[w], took);
        td_config_free(&c);
        free(y);
    }
    /* aliases as people use them still load, up to the cap (prefixes in segment form) */
    const char *ok = "store:\n  name: &n data\n  prefixes: [*n, x/, *n]\n"
                     "  obstore_config: {a: &v some-value, b: *v}\n";
    td_config c;
    char err[512];
    CHECK(td_config_load_string(&c, ok, "ok.yaml", err, sizeof err) == 0, "%s", err);
    CHECK(c.n_prefixes == 3 && !strcmp(c.prefixes[2], "data/") && c.n_store_kv == 2 &&
          !strcmp(c.store_kv[1].value, "some-value"));
    td_config_free(&c);
    char *y = bomb(1000, "prefixes", 1000); /* 1 MB of copies: under the cap */
    CHECK(td_config_load_string(&c, y, "ok.yaml", err, sizeof err) == 0, "%s", err);
    td_config_free(&c);
    free(y);
    return td_test_report(argv[0]);
}
