/* s3_store_probe.c - drives the store interface on a uv loop for the S3 tests (the Python
 * harness starts s3rver / the credential server, runs this, and checks what it prints).
 *
 *   s3_store_probe URL [key=value ...] -- COMMAND ARGS
 *   list PREFIX PAGE_SIZE       every entry: "entry\t<hex key>\t<size>\t<mtime_ms>\t<etag>",
 *                               "page\t<n>" after each page, then "status\t<name>\t<msg>"
 *   get HEXKEY OFFSET LENGTH    "get\t<status>\t<got>\t<object_size>\t<http>\t<hex data>"
 *   getall PAGE_SIZE LENGTH INFLIGHT
 *                               lists everything, then reads the first LENGTH bytes of
 *                               every key, INFLIGHT at once: "got\t<hex key>\t<status>\t
 *                               <got>\t<object_size>\t<sha256 of the bytes>"
 *   repeat N                    lists everything N times in a row
 *   soak SECONDS                lists everything again and again for SECONDS (a workload
 *                               for credential refresh, nothing is timed or asserted)
 * Option values: "@ENV" takes the value from an environment variable (keeps secrets out
 * of argv). Exit status 0 unless the probe itself failed. */
#include "s3_sigv4.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static store *st;
static uv_loop_t *loop;

static void hexprint(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static char *unhex(const char *s, size_t *len) {
    size_t n = strlen(s) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = '\0';
    if (len)
        *len = n;
    return out;
}

/* ---- listing ---- */
typedef struct keylist {
    char **keys;
    size_t n, cap;
} keylist;

static keylist all;
static int list_status;
static bool list_print = true;
static bool list_finished;

static void on_list(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    (void)bad;
    (void)n_bad;
    for (size_t i = 0; i < n; i++) {
        if (list_print) {
            printf("entry\t");
            hexprint(e[i].key, e[i].key_len);
            printf("\t%llu\t%lld\t%s\n", (unsigned long long)e[i].size,
                   (long long)e[i].mtime_ms, e[i].etag ? e[i].etag : "-");
        }
        if (all.n == all.cap) {
            all.cap = all.cap ? 2 * all.cap : 1024;
            all.keys = realloc(all.keys, all.cap * sizeof *all.keys);
        }
        all.keys[all.n] = malloc(e[i].key_len + 1);
        memcpy(all.keys[all.n], e[i].key, e[i].key_len);
        all.keys[all.n][e[i].key_len] = '\0';
        all.n++;
    }
    if (list_print)
        printf("page\t%zu\n", n);
    if (status != 0 || done) {
        list_status = status;
        list_finished = true;
        if (list_print || status != 0)
            printf("status\t%s\t%s\n", store_err_name(status), status ? req->errmsg : "");
        uv_stop(loop); /* keep-alive connections may keep the loop alive */
        return;
    }
    int rc = store_list_next(st, req);
    if (rc != 0) {
        list_status = rc;
        list_finished = true;
        printf("status\t%s\tlist_next refused\n", store_err_name(rc));
        uv_stop(loop);
    }
}

static int do_list(const char *prefix, size_t page) {
    store_list_req req;
    memset(&req, 0, sizeof req);
    req.prefix = prefix;
    req.page_size = page;
    req.cb = on_list;
    list_finished = false;
    int rc = store_list_next(st, &req);
    if (rc != 0) {
        printf("status\t%s\tstart refused\n", store_err_name(rc));
        return rc;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    store_list_free(st, &req);
    return list_finished ? list_status : -100;
}

/* ---- gets ---- */
typedef struct getctx {
    store_get_req req;
    size_t idx;
} getctx;

static size_t next_get, gets_done;
static uint64_t get_len;
static void start_get(getctx *g);

static void on_get(store_get_req *r, int status) {
    getctx *g = r->data;
    char hash[65];
    s3_sha256_hex(r->buf, (size_t)r->got, hash);
    printf("got\t");
    hexprint(r->key, strlen(r->key));
    printf("\t%s\t%llu\t%lld\t%s", store_err_name(status), (unsigned long long)r->got,
           r->object_size == UINT64_MAX ? -1LL : (long long)r->object_size, hash);
    if (status)
        printf("\t%s", r->errmsg);
    printf("\n");
    gets_done++;
    if (gets_done == all.n)
        uv_stop(loop);
    start_get(g);
}

static void start_get(getctx *g) {
    if (next_get >= all.n)
        return;
    size_t i = next_get++;
    g->req.key = all.keys[i];
    g->req.offset = 0;
    g->req.length = get_len;
    g->req.cb = on_get;
    g->req.data = g;
    int rc = store_get(st, &g->req);
    if (rc != 0) {
        printf("got\t-\t%s\tstart refused\n", store_err_name(rc));
        gets_done++;
        if (gets_done == all.n)
            uv_stop(loop);
    }
}

static void on_single_get(store_get_req *r, int status) {
    printf("get\t%s\t%llu\t%lld\t%d\t", store_err_name(status), (unsigned long long)r->got,
           r->object_size == UINT64_MAX ? -1LL : (long long)r->object_size, r->http_status);
    hexprint(r->buf, (size_t)r->got);
    printf("\t%s\n", status ? r->errmsg : "");
    uv_stop(loop);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: see the comment at the top\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    const char *url = argv[1];
    store_kv kv[32];
    size_t nkv = 0;
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0 && nkv < 32; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return 2;
        *eq = '\0';
        kv[nkv].key = argv[i];
        kv[nkv].value = eq[1] == '@' ? getenv(eq + 2) : eq + 1;
        if (!kv[nkv].value)
            kv[nkv].value = "";
        nkv++;
    }
    if (i >= argc - 1)
        return 2;
    i++;
    const char *cmd = argv[i++];
    loop = uv_default_loop();
    store_options o = STORE_OPTIONS_INIT;
    o.kv = kv;
    o.n_kv = nkv;
    o.max_in_flight = 64;
    /* the fault-injection test asks for more patience */
    const char *att = getenv("TD_PROBE_ATTEMPTS"), *rmax = getenv("TD_PROBE_RETRY_MS");
    o.max_attempts = att ? (unsigned)atoi(att) : 3;
    o.retry_max_ms = rmax ? (unsigned)atoi(rmax) : 10000;
    char err[512];
    int rc = store_open(&st, loop, url, &o, err, sizeof err);
    if (rc != 0) {
        printf("open\t%s\t%s\n", store_err_name(rc), err);
        return 0;
    }
    printf("open\tok\t%s\n", store_url(st));
    if (!strcmp(cmd, "list") && i + 1 < argc) {
        do_list(argv[i], (size_t)strtoull(argv[i + 1], NULL, 10));
    } else if (!strcmp(cmd, "get") && i + 2 < argc) {
        store_get_req r;
        memset(&r, 0, sizeof r);
        char *key = unhex(argv[i], NULL);
        r.key = key;
        r.offset = strtoull(argv[i + 1], NULL, 10);
        r.length = strtoull(argv[i + 2], NULL, 10);
        r.buf = malloc(r.length ? r.length : 1);
        r.cb = on_single_get;
        rc = store_get(st, &r);
        if (rc != 0)
            printf("get\t%s\tstart refused\n", store_err_name(rc));
        else
            uv_run(loop, UV_RUN_DEFAULT);
        free(r.buf);
        free(key);
    } else if (!strcmp(cmd, "getall") && i + 2 < argc) {
        list_print = false;
        if (do_list("", (size_t)strtoull(argv[i], NULL, 10)) == 0) {
            get_len = strtoull(argv[i + 1], NULL, 10);
            size_t inflight = (size_t)strtoull(argv[i + 2], NULL, 10);
            getctx *g = calloc(inflight ? inflight : 1, sizeof *g);
            for (size_t k = 0; k < inflight; k++) {
                g[k].req.buf = malloc(get_len);
                start_get(&g[k]);
            }
            if (all.n)
                uv_run(loop, UV_RUN_DEFAULT);
            printf("gets\t%zu\n", gets_done);
            for (size_t k = 0; k < inflight; k++)
                free(g[k].req.buf);
            free(g);
        }
    } else if (!strcmp(cmd, "repeat") && i < argc) {
        list_print = false;
        int n = atoi(argv[i]);
        for (int k = 0; k < n; k++) {
            int s = do_list("", 1000);
            printf("repeat\t%d\t%s\n", k, store_err_name(s));
        }
    } else if (!strcmp(cmd, "soak") && i < argc) {
        list_print = false;
        double secs = atof(argv[i]);
        uint64_t t0 = uv_hrtime();
        int k = 0, bad = 0;
        while ((double)(uv_hrtime() - t0) / 1e9 < secs && k < 100000) {
            for (size_t j = 0; j < all.n; j++)
                free(all.keys[j]);
            all.n = 0;
            if (do_list("", 1000) != 0)
                bad++;
            k++;
        }
        printf("soak\t%d\t%d\n", k, bad);
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        store_close(st);
        return 2;
    }
    store_close(st);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    for (size_t k = 0; k < all.n; k++)
        free(all.keys[k]);
    free(all.keys);
    fflush(stdout);
    return 0;
}
