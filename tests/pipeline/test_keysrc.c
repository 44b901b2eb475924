/* test_keysrc.c - the key source (src/pipeline/keysrc.c) on files written here: paging,
 * lines and CSV records across read-buffer refills, CRLF, comments, URL forms, limits, RFC
 * 4180 quoting, form-decoded inventory keys, versions, prefixes and manifest errors.
 * usage: test_keysrc (uses $TMPDIR or /tmp) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "keysrc.h"
#include "td_test.h"

static char dir[256];

static char *path_of(const char *name) {
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

static void write_file(const char *name, const char *data, size_t len, bool gz) {
    char *p = path_of(name);
    if (gz) {
        gzFile g = gzopen(p, "wb1");
        if (!g || (len && gzwrite(g, data, (unsigned)len) != (int)len) || gzclose(g) != Z_OK) {
            fprintf(stderr, "cannot write %s\n", p);
            exit(2);
        }
        return;
    }
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
}

/* Collected output of a whole source. */
typedef struct got {
    char *keys; /* "key|size|mtime|etag\n" per entry */
    size_t len, cap;
    size_t n, n_bad, pages, max_page;
    int status;
    char errmsg[512];
    char bad[4096]; /* "key: message\n" per bad entry */
} got;

static void add(got *g, const char *fmt, ...) {
    char tmp[70000];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (g->len + (size_t)n + 1 > g->cap) {
        g->cap = (g->len + (size_t)n + 1) * 2;
        g->keys = realloc(g->keys, g->cap);
    }
    memcpy(g->keys + g->len, tmp, (size_t)n + 1);
    g->len += (size_t)n;
}

static void drain(td_keysrc *ks, got *g) {
    memset(g, 0, sizeof *g);
    add(g, "%s", "");
    td_keysrc_page pg;
    for (int guard = 0; guard < 1000000; guard++) {
        td_keysrc_next(ks, &pg);
        g->pages++;
        if (pg.n + pg.n_bad > g->max_page)
            g->max_page = pg.n + pg.n_bad;
        for (size_t i = 0; i < pg.n; i++) {
            const store_entry *e = &pg.entries[i];
            CHECK(strlen(e->key) == e->key_len, "key length");
            add(g, "%s|%lld|%lld|%s\n", e->key, e->size == UINT64_MAX ? -1LL : (long long)e->size,
                e->mtime_ms == INT64_MIN ? -1LL : (long long)e->mtime_ms, e->etag ? e->etag : "-");
        }
        for (size_t i = 0; i < pg.n_bad; i++) {
            size_t l = strlen(g->bad);
            snprintf(g->bad + l, sizeof g->bad - l, "%s: %s\n", pg.bad[i].key, pg.bad[i].message);
        }
        g->n += pg.n;
        g->n_bad += pg.n_bad;
        if (pg.status < 0) {
            g->status = pg.status;
            snprintf(g->errmsg, sizeof g->errmsg, "%s", pg.errmsg);
            CHECK(pg.done, "a failed page is the last");
        }
        if (pg.done)
            return;
    }
    CHECK(0, "source never done");
}

static td_keysrc *open_list(const char *name, const char *const *roots, size_t n_roots,
                            size_t page) {
    td_keysrc_options o = {roots, n_roots, roots && n_roots ? roots[0] : "file:///x", page};
    td_keysrc *ks = NULL;
    char err[512];
    int rc = td_keysrc_open_list(&ks, path_of(name), &o, err, sizeof err);
    CHECK(rc == 0, "open %s: %s", name, err);
    return ks;
}

static void test_list_basics(void) {
    const char *text = "# comment\n\na.tif\r\n  \n\tb c.tif\ns3://bkt/pre/d.tif\n"
                       "s3://bkt/prefix/e.tif\nhttp://x/f.tif\n/abs/root/g.tif\n#h.tif\n"
                       " #i.tif\nlast.tif";
    const char *roots[] = {"s3://bkt/pre", "/abs/root/", NULL};
    for (int gz = 0; gz < 2; gz++) {
        write_file("l1", text, strlen(text), gz);
        td_keysrc *ks = open_list("l1", roots, 3, 2);
        if (!ks)
            return;
        got g;
        drain(ks, &g);
        const char *want = "a.tif|-1|-1|-\n\tb c.tif|-1|-1|-\nd.tif|-1|-1|-\ng.tif|-1|-1|-\n"
                           " #i.tif|-1|-1|-\nlast.tif|-1|-1|-\n";
        CHECK(strcmp(g.keys, want) == 0, "gz=%d keys:\n%s", gz, g.keys);
        CHECK(g.n_bad == 2 && strstr(g.bad, "s3://bkt/prefix/e.tif: ") &&
                  strstr(g.bad, "http://x/f.tif: ") && strstr(g.bad, "not in the store"),
              "bad: %s", g.bad);
        CHECK(g.status == 0 && g.max_page <= 2, "status %d max page %zu", g.status, g.max_page);
        free(g.keys);
        td_keysrc_close(ks);
    }
}

/* Lines of every length up to ~3,000 bytes over several MiB: every refill boundary falls
 * somewhere inside a line. */
static void test_list_refill(void) {
    size_t cap = 6u << 20, len = 0, n = 0, wl = 0;
    char *text = malloc(cap), *want = malloc(cap + (cap / 2));
    unsigned x = 12345;
    while (len + 4000 < cap) {
        x = x * 1103515245u + 12345u;
        size_t l = 1 + (x >> 16) % 3000;
        int h = snprintf(text + len, 32, "%zu/", n);
        size_t start = len;
        len += (size_t)h;
        for (size_t i = (size_t)h; i < l; i++)
            text[len++] = (char)('a' + (n + i) % 26);
        memcpy(want + wl, text + start, len - start);
        wl += len - start;
        wl += (size_t)sprintf(want + wl, "|-1|-1|-\n");
        if (n % 3 == 0)
            text[len++] = '\r';
        text[len++] = '\n';
        n++;
    }
    want[wl] = '\0';
    for (int gz = 0; gz < 2; gz++) {
        write_file("l2", text, len, gz);
        td_keysrc *ks = open_list("l2", NULL, 0, 777);
        if (!ks)
            break;
        got g;
        drain(ks, &g);
        CHECK(g.n == n && g.status == 0, "gz=%d: %zu of %zu lines (%s)", gz, g.n, n, g.errmsg);
        CHECK(g.len == wl && memcmp(g.keys, want, wl) == 0, "gz=%d: keys differ", gz);
        free(g.keys);
        td_keysrc_close(ks);
    }
    free(text);
    free(want);
}

static void test_list_limits(void) {
    size_t l = 70000;
    char *text = malloc(l + 32);
    memcpy(text, "ok.tif\n", 7);
    memset(text + 7, 'k', l);
    memcpy(text + 7 + l, "\nafter.tif\n", 11);
    write_file("l3", text, 7 + l + 11, false);
    td_keysrc *ks = open_list("l3", NULL, 0, 100);
    got g;
    drain(ks, &g);
    CHECK(g.n == 1 && g.status == STORE_E_PROTOCOL && strstr(g.errmsg, "line 2 is longer"),
          "long line: n %zu status %d %s", g.n, g.status, g.errmsg);
    free(g.keys);
    td_keysrc_close(ks);
    free(text);

    /* a truncated gzip: what came before, then an error naming the file */
    char big[40000];
    size_t bl = 0;
    for (int i = 0; bl + 20 < sizeof big; i++)
        bl += (size_t)snprintf(big + bl, 20, "k%05d.tif\n", i);
    write_file("l4.gz", big, bl, true);
    FILE *f = fopen(path_of("l4.gz"), "rb");
    char z[40000];
    size_t zl = fread(z, 1, sizeof z, f);
    fclose(f);
    write_file("l4.gz", z, zl / 2, false);
    ks = open_list("l4.gz", NULL, 0, 100);
    drain(ks, &g);
    CHECK(g.status == STORE_E_IO && strstr(g.errmsg, "corrupt gzip") && strstr(g.errmsg, "l4.gz"),
          "truncated: %d %s", g.status, g.errmsg);
    free(g.keys);
    td_keysrc_close(ks);

    td_keysrc_options o = {NULL, 0, "file:///x", 10};
    char err[512];
    CHECK(td_keysrc_open_list(&ks, path_of("none"), &o, err, sizeof err) == STORE_E_IO &&
              strstr(err, "cannot open") && ks == NULL,
          "missing file: %s", err);
}

static int write_manifest(const char *schema, const char *files_json, const char *bucket) {
    char m[2048];
    int n = snprintf(m, sizeof m,
                     "{\"sourceBucket\":\"%s\",\"destinationBucket\":\"arn:aws:s3:::d\","
                     "\"version\":\"2016-11-30\",\"fileFormat\":\"CSV\",\"fileSchema\":\"%s\","
                     "\"files\":%s}",
                     bucket, schema, files_json);
    write_file("manifest.json", m, (size_t)n, false);
    return 0;
}

static td_keysrc *open_inv(const char *store_url, size_t page, char *err, size_t errlen, int *rc) {
    const char *roots[] = {store_url};
    td_keysrc_options o = {roots, 1, store_url, page};
    td_keysrc *ks = NULL;
    *rc = td_keysrc_open_inventory(&ks, path_of("manifest.json"), &o, err, errlen);
    return ks;
}

static void test_inventory(void) {
    /* quoting, CRLF, an unquoted record, versions, a record over a refill boundary (the
     * second file is padded past 1 MiB), no final newline */
    const char *d1 = "\"bkt\",\"pre/a+b%2Fc.tif\",\"v1\",\"true\",\"false\",\"123\","
                     "\"2024-01-02T03:04:05.678Z\",\"e\"\"t,ag\"\r\n"
                     "bkt,pre/plain.tif,v2,true,false,7,2024-01-02T03:04:05Z,etag2\n"
                     "\"bkt\",\"pre/old.tif\",\"v0\",\"false\",\"false\",\"1\",\"\",\"\"\n"
                     "\"bkt\",\"pre/del.tif\",\"v9\",\"true\",\"true\",\"\",\"\",\"\"\n"
                     "\"bkt\",\"other/x.tif\",\"v3\",\"true\",\"false\",\"1\",\"\",\"\"\n"
                     "\n"
                     "\"bkt\",\"pre/bad%zz.tif\",\"v4\",\"\",\"\",\"\",\"\",\"\"\n"
                     "\"bkt\",\"pre/nosize.tif\",\"\",\"\",\"\",\"\",\"\",\"\"";
    write_file("d1.csv.gz", d1, strlen(d1), true);
    size_t cap = (3u << 20) / 2, len = 0, n2 = 0;
    char *d2 = malloc(cap);
    while (len + 200 < cap) {
        len += (size_t)snprintf(d2 + len, 200,
                                "\"bkt\",\"pre/many/%06zu.tif\",\"\",\"true\",\"false\",\"%zu\","
                                "\"2020-01-01T00:00:00.000Z\",\"\"\n",
                                n2, n2);
        n2++;
    }
    write_file("d2.csv", d2, len, false); /* a plain CSV is read as well */
    free(d2);
    write_manifest("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
                   "[{\"key\":\"dest/bkt/cfg/data/d1.csv.gz\"},{\"key\":\"d2.csv\"}]", "bkt");
    char err[512] = "";
    int rc;
    td_keysrc *ks = open_inv("s3://bkt/pre", 1000, err, sizeof err, &rc);
    CHECK(rc == 0, "open: %s", err);
    if (!ks)
        return;
    got g;
    drain(ks, &g);
    const char *want = "a b/c.tif|123|1704164645678|e\"t,ag\n"
                       "plain.tif|7|1704164645000|etag2\n"
                       "nosize.tif|-1|-1|-\n"
                       "many/000000.tif|0|1577836800000|-\n";
    CHECK(strncmp(g.keys, want, strlen(want)) == 0, "keys:\n%.400s", g.keys);
    CHECK(g.n == 3 + n2 && g.n_bad == 1 && strstr(g.bad, "pre/bad%zz.tif: ") && g.status == 0 &&
              g.max_page <= 1000,
          "n %zu (want %zu) bad %s status %d %s", g.n, 3 + n2, g.bad, g.status, g.errmsg);
    free(g.keys);
    td_keysrc_close(ks);

    /* any other store takes the keys as they are */
    ks = open_inv("file:///somewhere", 50, err, sizeof err, &rc);
    CHECK(rc == 0, "open: %s", err);
    drain(ks, &g);
    CHECK(strncmp(g.keys, "pre/a b/c.tif|", 14) == 0 && g.n == 4 + n2, "n %zu: %.200s", g.n,
          g.keys);
    free(g.keys);
    td_keysrc_close(ks);

    /* errors at open */
    ks = open_inv("s3://other/pre", 50, err, sizeof err, &rc);
    CHECK(rc == STORE_E_CONFIG && strstr(err, "not the store's bucket"), "bucket: %s", err);
    write_manifest("Bucket, Key", "[{\"key\":\"dest/none.csv.gz\"}]", "bkt");
    ks = open_inv("file:///x", 50, err, sizeof err, &rc);
    CHECK(rc == STORE_E_NOT_FOUND && strstr(err, "none.csv.gz"), "missing data: %s", err);
    write_manifest("Bucket, Key", "{}", "bkt");
    ks = open_inv("file:///x", 50, err, sizeof err, &rc);
    CHECK(rc == STORE_E_CONFIG && strstr(err, "'files'"), "files: %s", err);

    /* malformed records: a stray quote, a field count that differs from the schema */
    const char *bad[] = {"\"bkt\",\"k1.tif\"\n\"bkt\",\"k\"x\".tif\"\n",
                         "\"bkt\",\"k1.tif\"\n\"bkt\",\"k2.tif\",\"3\"\n",
                         "\"bkt\",\"k1.tif\"\nbkt,k\"2.tif\n",
                         "\"bkt\",\"k1.tif\"\n\"bkt\",\"unterminated.tif\n"};
    const char *msg[] = {"not valid CSV", "has 3 fields", "not valid CSV", "not valid CSV"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file("b.csv.gz", bad[i], strlen(bad[i]), true);
        write_manifest("Bucket, Key", "[{\"key\":\"b.csv.gz\"}]", "bkt");
        ks = open_inv("file:///x", 50, err, sizeof err, &rc);
        CHECK(rc == 0, "open: %s", err);
        if (!ks)
            continue;
        drain(ks, &g);
        CHECK(g.n == 1 && g.status == STORE_E_PROTOCOL && strstr(g.errmsg, msg[i]) &&
                  strstr(g.errmsg, "record 2"),
              "case %zu: n %zu status %d %s", i, g.n, g.status, g.errmsg);
        free(g.keys);
        td_keysrc_close(ks);
    }
}

/* The descriptor entry points (used by the fuzz targets): a list from a pipe; an inventory
 * whose data files come from a callback, which may fail. */
typedef struct opener {
    int calls;
    const char *data; /* NULL: fail with ENOENT */
    size_t len;       /* 0: strlen(data) */
} opener;

static int open_data(void *ctx, const char *key) {
    opener *op = ctx;
    op->calls++;
    if (!op->data || strcmp(key, "inv/d.csv") != 0) {
        errno = ENOENT;
        return -1;
    }
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    size_t len = op->len ? op->len : strlen(op->data);
    ssize_t n = write(fds[1], op->data, len);
    close(fds[1]);
    if (n != (ssize_t)len) {
        close(fds[0]);
        return -1;
    }
    return fds[0];
}

static int pipe_of(const char *text) {
    int fds[2];
    if (pipe(fds) != 0 || write(fds[1], text, strlen(text)) != (ssize_t)strlen(text)) {
        fprintf(stderr, "pipe failed\n");
        exit(2);
    }
    close(fds[1]);
    return fds[0];
}

static void test_fd_entry_points(void) {
    td_keysrc_options o = {NULL, 0, NULL, 1};
    td_keysrc *ks = NULL;
    char err[512];
    int rc = td_keysrc_open_list_fd(&ks, pipe_of("a.tif\nb.tif\n"), "mem", &o, err, sizeof err);
    CHECK(rc == 0 && ks && strcmp(td_keysrc_name(ks), "mem") == 0, "list fd: %s", err);
    got g;
    if (ks) {
        drain(ks, &g);
        CHECK(g.n == 2 && g.status == 0 && g.pages >= 2, "list fd: n %zu pages %zu status %d", g.n,
              g.pages, g.status);
        free(g.keys);
        td_keysrc_close(ks);
    }
    const char *man = "{\"fileFormat\":\"CSV\",\"fileSchema\":\"Bucket, Key\","
                      "\"files\":[{\"key\":\"inv/d.csv\"}]}";
    for (int fail = 0; fail < 2; fail++) {
        opener op = {0, fail ? NULL : "bkt,k1.tif\nbkt,k%202.tif\n", 0};
        rc = td_keysrc_open_inventory_fd(&ks, pipe_of(man), "m.json", open_data, &op, &o, err,
                                         sizeof err);
        CHECK(rc == 0 && ks && op.calls == 0, "inventory fd: rc %d calls %d %s", rc, op.calls, err);
        if (!ks)
            continue;
        drain(ks, &g);
        if (fail)
            CHECK(g.n == 0 && g.status == STORE_E_IO && strstr(g.errmsg, "inv/d.csv") &&
                      strstr(g.errmsg, "No such file"),
                  "inventory fd, failing open: n %zu status %d %s", g.n, g.status, g.errmsg);
        else
            CHECK(g.n == 2 && g.status == 0 && strstr(g.keys, "k 2.tif"),
                  "inventory fd: n %zu status %d %s", g.n, g.status, g.errmsg);
        CHECK(op.calls == 1, "open_data called %d times", op.calls);
        free(g.keys);
        td_keysrc_close(ks);
    }
    /* fields are measured by length: a NUL in Size makes it unknown, in ETag none, in
     * IsLatest not "true" (found by fuzz_inventory: the ETag was cut to "") */
    static const char nul_rec[] = "a.tif,12\0x,\"e\0t\",true\n"
                                  "b.tif,7,et,TRUE\n"
                                  "c.tif,1,x,true\0\n";
    const char *man4 = "{\"fileFormat\":\"CSV\",\"fileSchema\":\"Key, Size, ETag, IsLatest\","
                       "\"files\":[{\"key\":\"inv/d.csv\"}]}";
    opener op4 = {0, nul_rec, sizeof nul_rec - 1};
    rc = td_keysrc_open_inventory_fd(&ks, pipe_of(man4), "m.json", open_data, &op4, &o, err,
                                     sizeof err);
    CHECK(rc == 0 && ks, "NUL fields: %s", err);
    if (ks) {
        drain(ks, &g);
        CHECK(g.status == 0 && g.keys && !strcmp(g.keys, "a.tif|-1|-1|-\nb.tif|7|-1|et\n"),
              "NUL fields: status %d keys [%s] %s", g.status, g.keys, g.errmsg);
        free(g.keys);
        td_keysrc_close(ks);
    }
    /* an absolute or upward key is refused at open, with or without a callback */
    opener op = {0, NULL, 0};
    rc = td_keysrc_open_inventory_fd(&ks,
                                     pipe_of("{\"fileFormat\":\"CSV\",\"fileSchema\":"
                                             "\"Key\",\"files\":[{\"key\":\"../x\"}]}"),
                                     "m.json", open_data, &op, &o, err, sizeof err);
    CHECK(rc == STORE_E_CONFIG && !ks && strstr(err, "not a relative path"), "../x: %d %s", rc,
          err);
}

/* obstore's segment prefixes (object_store's Path::from, then "PATH/"): issue 14 */
static void test_prefix_segments(void) {
    static const char *const cases[][2] = {
        {"a/b", "a/b/"},
        {"a/b/", "a/b/"},
        {"/a//b", "a/b/"},
        {"//a///b//", "a/b/"},
        {"", ""},
        {"/", ""},
        {"///", ""},
        {"10/C", "10/C/"},
        {"2024-0", "2024-0/"},
        {"a b/c%d", "a b/c%d/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *seg = td_prefix_segments(cases[i][0]);
        CHECK(seg && !strcmp(seg, cases[i][1]), "'%s' -> '%s', want '%s'", cases[i][0],
              seg ? seg : "(null)", cases[i][1]);
        free(seg);
    }
}

int main(void) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/td_keysrc_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_list_basics();
    test_list_refill();
    test_list_limits();
    test_inventory();
    test_fd_entry_points();
    test_prefix_segments();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (td_test_failures) {
        fprintf(stderr, "%d failure(s)\n", td_test_failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
