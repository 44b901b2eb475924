/* Local store against a real temporary tree: paging, prefixes, symlink loops, dangling
 * links, FIFOs, unreadable directories (non-root only), ranged reads, URL forms. */
#define _DEFAULT_SOURCE
#include "store.h"
#include "td_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[256];

static void mkfile(const char *rel, size_t size) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(2);
    }
    for (size_t i = 0; i < size; i++)
        fputc((int)(i * 7 % 251), f);
    fclose(f);
}

static void mkd(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (mkdir(p, 0755) != 0) {
        perror(p);
        exit(2);
    }
}

static void mklink(const char *target, const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (symlink(target, p) != 0) {
        perror(p);
        exit(2);
    }
}

/* ---- listing collector ---- */
#define MAXK 256
typedef struct collect {
    store *s;
    char *keys[MAXK];
    uint64_t sizes[MAXK];
    size_t n;
    char *bad[MAXK];
    int bad_status[MAXK];
    size_t n_bad;
    size_t max_page_seen;
    int status;
    bool done;
    int pages;
} collect;

static void list_cb(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    collect *c = req->data;
    c->pages++;
    if (n + n_bad > c->max_page_seen)
        c->max_page_seen = n + n_bad;
    for (size_t i = 0; i < n && c->n < MAXK; i++) {
        CHECK(strlen(e[i].key) == e[i].key_len);
        CHECK(e[i].mtime_ms > 0);
        c->sizes[c->n] = e[i].size;
        c->keys[c->n++] = strdup(e[i].key);
    }
    for (size_t i = 0; i < n_bad && c->n_bad < MAXK; i++) {
        CHECK(bad[i].message && bad[i].message[0]);
        c->bad_status[c->n_bad] = bad[i].status;
        c->bad[c->n_bad++] = strdup(bad[i].key);
    }
    if (status < 0)
        c->status = status;
    c->done = done;
    if (!done)
        CHECK(store_list_next(c->s, req) == 0);
}

static void one_page_cb(store_list_req *req, int status, const store_entry *e, size_t n,
                        const store_bad_entry *bad, size_t n_bad, bool done) {
    collect *c = req->data;
    c->pages++;
    c->done = done;
    CHECK(status == 0 && n + n_bad == 1);
}

static void run_list(uv_loop_t *loop, store *s, const char *prefix, size_t page, collect *c) {
    memset(c, 0, sizeof *c);
    c->s = s;
    store_list_req req;
    memset(&req, 0, sizeof req);
    req.prefix = prefix;
    req.page_size = page;
    req.cb = list_cb;
    req.data = c;
    CHECK(store_list_next(s, &req) == 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(c->done);
    CHECK(req.priv == NULL);
}

static int find(char **arr, size_t n, const char *k) {
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i], k) == 0)
            count++;
    return count;
}

static int bad_status_of(const collect *c, const char *k) {
    for (size_t i = 0; i < c->n_bad; i++)
        if (strcmp(c->bad[i], k) == 0)
            return c->bad_status[i];
    return 1;
}

static void collect_free(collect *c) {
    for (size_t i = 0; i < c->n; i++)
        free(c->keys[i]);
    for (size_t i = 0; i < c->n_bad; i++)
        free(c->bad[i]);
}

/* ---- gets ---- */
typedef struct getres {
    int status;
    int calls;
} getres;
static void get_cb(store_get_req *req, int status) {
    getres *g = req->data;
    g->status = status;
    g->calls++;
}

static int do_get(uv_loop_t *loop, store *s, const char *key, uint64_t off, uint64_t len,
                  uint8_t *buf, store_get_req *req) {
    getres g = {0, 0};
    memset(req, 0, sizeof *req);
    req->key = key;
    req->offset = off;
    req->length = len;
    req->buf = buf;
    req->cb = get_cb;
    req->data = &g;
    int rc = store_get(s, req);
    if (rc != 0)
        return rc;
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(g.calls == 1);
    return g.status;
}

/* In a child running as uid/gid 65534: listing reports locked/ as access_denied and goes
 * on. Returns 0 when it did. */
static int unreadable_as_nobody(void) {
    if (chmod(root, 0755) != 0)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        uv_loop_t loop;
        uv_loop_init(&loop);
        store *s = NULL;
        char err[256];
        if (store_open(&s, &loop, root, NULL, err, sizeof err) != 0)
            _exit(4);
        collect c;
        run_list(&loop, s, "", 3, &c);
        int ok = bad_status_of(&c, "locked/") == STORE_E_ACCESS && find(c.keys, c.n, "a.tif") == 1;
        store_close(s);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(ok && td_test_failures == 0 ? 0 : 5);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return 1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "unreadable-directory check as uid 65534 failed (status %d)\n", st);
        return 1;
    }
    return 0;
}

int main(void) {
    snprintf(root, sizeof root, "%s/td_store_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    mkfile("a.tif", 100);
    mkfile("b.tiff", 5000);
    mkd("sub");
    mkfile("sub/c.tif", 10);
    mkfile("sub/d.txt", 0);
    mkd("sub/deeper");
    mkfile("sub/deeper/e.tif", 1);
    mkd("subway");
    mkfile("subway/f.tif", 3);
    mkd("sub/deeper/loopdir");
    mklink("../..", "sub/deeper/loopdir/up"); /* back to sub: a loop */
    mklink("nowhere.tif", "dangling.tif");    /* dangling */
    mklink("self.tif", "self.tif");           /* ELOOP from stat */
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/pipe.tif", root);
    CHECK(mkfifo(fifo, 0644) == 0);
    bool root_user = geteuid() == 0;
    mkd("locked");
    mkfile("locked/hidden.tif", 5);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/locked", root);
        chmod(p, 0);
    }
    /* Root reads mode-000 directories, so as root the unreadable-directory check runs in a
     * child that drops to an unprivileged uid first (before any libuv use here). */
    int locked_status = root_user ? unreadable_as_nobody() : 0;

    uv_loop_t loop;
    uv_loop_init(&loop);
    store *s = NULL;
    char err[256];

    /* URL forms */
    char url[300];
    snprintf(url, sizeof url, "file://%s", root);
    CHECK(store_open(&s, &loop, url, NULL, err, sizeof err) == 0);
    CHECK(strncmp(store_url(s), "file:///", 8) == 0);
    store_close(s);
    CHECK(store_open(&s, &loop, "ftp://bucket", NULL, err, sizeof err) == STORE_E_CONFIG);
    CHECK(strstr(err, "ftp") && strstr(err, "file://"));
    CHECK(store_open(&s, &loop, "/definitely/not/here", NULL, err, sizeof err) ==
          STORE_E_NOT_FOUND);
    CHECK(store_open(&s, &loop, "file://relative", NULL, err, sizeof err) == STORE_E_CONFIG);
    store_kv kv = {"region", "x"};
    store_options o = STORE_OPTIONS_INIT;
    o.kv = &kv;
    o.n_kv = 1;
    CHECK(store_open(&s, &loop, root, &o, err, sizeof err) == STORE_E_CONFIG);
    CHECK(strstr(err, "region") != NULL);
    /* relative path */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(root) == 0);
    CHECK(store_open(&s, &loop, "sub", NULL, err, sizeof err) == 0);
    CHECK(chdir(cwd) == 0);
    collect c;
    run_list(&loop, s, "", 2, &c);
    CHECK(find(c.keys, c.n, "c.tif") == 1 && find(c.keys, c.n, "deeper/e.tif") == 1);
    collect_free(&c);
    store_close(s);

    CHECK(store_open(&s, &loop, root, NULL, err, sizeof err) == 0);

    /* everything, pages of 2 */
    run_list(&loop, s, "", 2, &c);
    CHECK(c.status == 0);
    CHECK(c.max_page_seen <= 2);
    CHECK(c.pages >= 4);
    const char *want[] = {"a.tif",     "b.tiff",           "sub/c.tif",
                          "sub/d.txt", "sub/deeper/e.tif", "subway/f.tif"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (find(c.keys, c.n, want[i]) != 1)
            fprintf(stderr, "missing or duplicated key %s\n", want[i]);
        CHECK(find(c.keys, c.n, want[i]) == 1);
    }
    CHECK(c.n == (root_user ? 7u : 6u)); /* root also reads locked/hidden.tif */
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.keys[i], "b.tiff") == 0)
            CHECK(c.sizes[i] == 5000);
    CHECK(bad_status_of(&c, "sub/deeper/loopdir/up/") == STORE_E_LOOP);
    CHECK(bad_status_of(&c, "dangling.tif") == STORE_E_NOT_FOUND);
    CHECK(bad_status_of(&c, "self.tif") == STORE_E_LOOP);
    CHECK(bad_status_of(&c, "pipe.tif") == STORE_E_UNSUPPORTED);
    if (!root_user)
        CHECK(bad_status_of(&c, "locked/") == STORE_E_ACCESS);
    else
        CHECK(locked_status == 0);
    collect_free(&c);

    /* prefix is a key prefix: "sub" matches sub/ and subway/ */
    run_list(&loop, s, "sub", 1000, &c);
    CHECK(find(c.keys, c.n, "sub/c.tif") == 1 && find(c.keys, c.n, "subway/f.tif") == 1);
    CHECK(find(c.keys, c.n, "a.tif") == 0);
    collect_free(&c);
    run_list(&loop, s, "sub/", 1000, &c);
    CHECK(find(c.keys, c.n, "subway/f.tif") == 0 && find(c.keys, c.n, "sub/deeper/e.tif") == 1);
    collect_free(&c);
    run_list(&loop, s, "sub/c", 1000, &c);
    CHECK(c.n == 1 && find(c.keys, c.n, "sub/c.tif") == 1);
    collect_free(&c);
    run_list(&loop, s, "../", 1000, &c);
    CHECK(c.n == 0 && c.status == STORE_E_CONFIG);
    collect_free(&c);
    run_list(&loop, s, "nothing/here/", 1000, &c);
    CHECK(c.n == 0 && c.status == 0);
    collect_free(&c);

    /* stopping a listing early: one page, then store_list_free releases the cursor */
    {
        collect c2;
        memset(&c2, 0, sizeof c2);
        store_list_req req;
        memset(&req, 0, sizeof req);
        req.prefix = "";
        req.page_size = 1;
        req.cb = one_page_cb;
        req.data = &c2;
        CHECK(store_list_next(s, &req) == 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(c2.pages == 1 && !c2.done && req.priv != NULL);
        store_list_free(s, &req);
        CHECK(req.priv == NULL);
    }

    /* ranged reads */
    uint8_t buf[6000];
    store_get_req g;
    CHECK(do_get(&loop, s, "b.tiff", 10, 100, buf, &g) == 0);
    CHECK(g.got == 100 && g.object_size == 5000);
    bool same = true;
    for (size_t i = 0; i < 100; i++)
        same &= buf[i] == (uint8_t)((10 + i) * 7 % 251);
    CHECK(same);
    CHECK(do_get(&loop, s, "b.tiff", 4990, 100, buf, &g) == 0);
    CHECK(g.got == 10);
    CHECK(do_get(&loop, s, "b.tiff", 9000, 100, buf, &g) == 0);
    CHECK(g.got == 0);
    CHECK(do_get(&loop, s, "sub/deeper/e.tif", 0, 16384, buf, &g) == 0);
    CHECK(g.got == 1 && g.object_size == 1);
    CHECK(do_get(&loop, s, "missing.tif", 0, 10, buf, &g) == STORE_E_NOT_FOUND);
    CHECK(strstr(g.errmsg, "missing.tif") != NULL);
    CHECK(do_get(&loop, s, "pipe.tif", 0, 10, buf, &g) == STORE_E_UNSUPPORTED);
    CHECK(do_get(&loop, s, "../etc/passwd", 0, 10, buf, &g) == STORE_E_ACCESS);
    store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);

    CHECK(store_err_name(STORE_E_LOOP) &&
          strcmp(store_err_name(STORE_E_LOOP), "symlink_loop") == 0);
    CHECK(strcmp(store_err_name(12345), "unknown") == 0);

    {
        char p[512];
        snprintf(p, sizeof p, "%s/locked", root);
        chmod(p, 0755);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    if (td_test_failures)
        fprintf(stderr, "%d check(s) failed\n", td_test_failures);
    return td_test_failures ? 1 : 0;
}
