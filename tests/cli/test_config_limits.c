/* test_config_limits.c - the config loader under hostile input (issue 13): YAML aliases that
 * repeat one long value many times must be refused before they are copied (a 440 KB file
 * used to expand to 4 GB: 10,000 aliases of a 400 KB scalar), while ordinary aliases load;
 * both obstore_config mappings (store's and output's) hold at most 1,000 keys.
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

/* `section`.obstore_config with n keys opt0..opt<n-1>. */
static char *keys(const char *section, size_t n) {
    char *s = malloc(64 + 32 * n), *p = s;
    if (!s)
        abort();
    p += sprintf(p, "store:\n  name: d\n%s  obstore_config:\n",
                 !strcmp(section, "output") ? "output:\n" : "");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "    opt%zu: v\n", i);
    return s;
}

/* Both obstore_config mappings are bounded the same way (the store options are copied and
 * the duplicate check is quadratic), and a client_options mapping that yields more store
 * options than it is keys (allow_http and proxy_ca_certificate) has room for them. */
static void many_keys(void) {
    static const char *const sections[] = {"store", "output"};
    for (size_t s = 0; s < 2; s++) {
        td_config c;
        char err[512];
        char *y = keys(sections[s], 1000);
        CHECK(td_config_load_string(&c, y, "k.yaml", err, sizeof err) == 0, "%s: %s", sections[s],
              err);
        CHECK((s ? c.n_out_kv : c.n_store_kv) == 1000, "%s", sections[s]);
        td_config_free(&c);
        free(y);
        y = keys(sections[s], 1001);
        int rc = td_config_load_string(&c, y, "k.yaml", err, sizeof err);
        char want[96];
        snprintf(want, sizeof want, "'%s.obstore_config' has 1001 keys (at most 1000)",
                 sections[s]);
        CHECK(rc == -1 && strstr(err, "k.yaml:") && strstr(err, want), "%s: rc %d: %.200s",
              sections[s], rc, err);
        td_config_free(&c);
        free(y);
    }
    td_config c;
    char err[512];
    const char *y = "store:\n  name: d\n  obstore_config:\n"
                    "    client_options: {allow_http: true, proxy_ca_certificate: /p.pem}\n";
    CHECK(td_config_load_string(&c, y, "c.yaml", err, sizeof err) == 0, "%s", err);
    CHECK(c.n_store_kv == 2 && !strcmp(c.store_kv[0].key, "allow_http") &&
              !strcmp(c.store_kv[1].value, "/p.pem"),
          "%zu", c.n_store_kv);
    td_config_free(&c);
    /* at the top level too, as obstore's store configs take client keys there */
    y = "store:\n  name: d\n  obstore_config:\n    proxy_ca_certificate: /p.pem\n";
    CHECK(td_config_load_string(&c, y, "c.yaml", err, sizeof err) == 0, "%s", err);
    CHECK(c.n_store_kv == 1 && !strcmp(c.store_kv[0].key, "proxy_ca_certificate") &&
              !strcmp(c.store_kv[0].value, "/p.pem"),
          "%zu", c.n_store_kv);
    td_config_free(&c);
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
    many_keys();
    return td_test_report(argv[0]);
}
