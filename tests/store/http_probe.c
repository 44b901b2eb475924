/* http_probe.c - drives the store interface on a uv loop for the HTTP store tests (the
 * Python harness starts nginx, runs this and checks what it prints).
 *
 *   http_probe URL [key=value ...] -- COMMAND ARGS
 *   list PREFIX PAGE_SIZE     "entry\t<hex key>\t<size>\t<mtime_ms>" per entry,
 *                             "bad\t<hex key>\t<status name>\t<message>" per bad entry,
 *                             "page\t<n>\t<n_bad>" per callback, then "status\t<name>\t<msg>"
 *   get HEXKEY OFFSET LENGTH  "get\t<status>\t<got>\t<object_size>\t<http>\t<hex data>\t<msg>"
 *   getall PAGE LENGTH INFLIGHT
 *                             lists everything, reads the first LENGTH bytes of every key,
 *                             INFLIGHT at once: "got\t<hex key>\t<status>\t<got>\t<size>\t
 *                             <sha256>" per key, then "gets\t<n ok>\t<n failed>"
 *   listfree PAGE             takes one page, then frees the listing and closes the store
 *   listclose PAGE            asks for a page and closes the store at once (the callback
 *                             must come back canceled)
 * Exit status 0 unless the probe itself failed. */
#include "store.h"

#include <openssl/evp.h>
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

static char *unhex(const char *s) {
    size_t n = strlen(s) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = '\0';
    return out;
}

static char **keys;
static size_t n_keys, cap_keys;
static int list_status;
static bool list_done, list_print = true, stop_after_page;
static unsigned pages;

static void on_list(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    pages++;
    if (n + n_bad > req->page_size)
        printf("oversized_page\t%zu\t%zu\n", n + n_bad, req->page_size);
    for (size_t i = 0; i < n; i++) {
        if (list_print) {
            printf("entry\t");
            hexprint(e[i].key, e[i].key_len);
            printf("\t%llu\t%lld\n", (unsigned long long)e[i].size, (long long)e[i].mtime_ms);
        }
        if (n_keys == cap_keys) {
            cap_keys = cap_keys ? 2 * cap_keys : 1024;
            keys = realloc(keys, cap_keys * sizeof *keys);
        }
        keys[n_keys] = malloc(e[i].key_len + 1);
        memcpy(keys[n_keys], e[i].key, e[i].key_len);
        keys[n_keys][e[i].key_len] = '\0';
        n_keys++;
    }
    for (size_t i = 0; i < n_bad; i++) {
        printf("bad\t");
        hexprint(bad[i].key, strlen(bad[i].key));
        printf("\t%s\t%s\n", store_err_name(bad[i].status), bad[i].message);
    }
    if (list_print)
        printf("page\t%zu\t%zu\n", n, n_bad);
    if (status != 0 || done || stop_after_page) {
        list_status = status;
        list_done = done || status != 0;
        printf("status\t%s\t%s\n", store_err_name(status), status ? req->errmsg : "");
        uv_stop(loop); /* keep-alive connections keep the loop alive */
        return;
    }
    int rc = store_list_next(st, req);
    if (rc != 0) {
        list_status = rc;
        list_done = true;
        printf("status\t%s\tlist_next refused\n", store_err_name(rc));
        uv_stop(loop);
    }
}

static int do_list(store_list_req *req, const char *prefix, size_t page) {
    memset(req, 0, sizeof *req);
    req->prefix = prefix;
    req->page_size = page;
    req->cb = on_list;
    int rc = store_list_next(st, req);
    if (rc != 0) {
        printf("status\t%s\tstart refused\n", store_err_name(rc));
        return rc;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return list_status;
}

typedef struct getctx {
    store_get_req req;
} getctx;

static size_t next_get, gets_done, gets_ok;
static uint64_t get_len;
static void start_get(getctx *g);

static void on_get(store_get_req *r, int status) {
    getctx *g = r->data;
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_Digest(r->buf, (size_t)r->got, md, &mdlen, EVP_sha256(), NULL);
    printf("got\t");
    hexprint(r->key, strlen(r->key));
    printf("\t%s\t%llu\t%lld\t", store_err_name(status), (unsigned long long)r->got,
           r->object_size == UINT64_MAX ? -1LL : (long long)r->object_size);
    hexprint(md, mdlen);
    if (status)
        printf("\t%s", r->errmsg);
    printf("\n");
    gets_done++;
    gets_ok += status == 0;
    if (gets_done == n_keys)
        uv_stop(loop);
    start_get(g);
}

static void start_get(getctx *g) {
    if (next_get >= n_keys)
        return;
    g->req.key = keys[next_get++];
    g->req.offset = 0;
    g->req.length = get_len;
    g->req.cb = on_get;
    g->req.data = g;
    int rc = store_get(st, &g->req);
    if (rc != 0) {
        printf("got\t-\t%s\tstart refused\n", store_err_name(rc));
        gets_done++;
        if (gets_done == n_keys)
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

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: http_probe URL [k=v ...] -- COMMAND ARGS\n");
        return 2;
    }
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
        kv[nkv].value = eq + 1;
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
    const char *att = getenv("TD_PROBE_ATTEMPTS");
    if (att)
        o.max_attempts = (unsigned)atoi(att);
    const char *inf = getenv("TD_PROBE_INFLIGHT");
    if (inf)
        o.max_in_flight = (unsigned)atoi(inf);
    char err[512];
    int rc = store_open(&st, loop, url, &o, err, sizeof err);
    if (rc != 0) {
        printf("open\t%s\t%s\n", store_err_name(rc), err);
        return 0;
    }
    printf("open\tok\t%s\n", store_url(st));
    store_list_req req;
    if (!strcmp(cmd, "list") && i + 1 < argc) {
        do_list(&req, argv[i], (size_t)strtoull(argv[i + 1], NULL, 10));
        store_list_free(st, &req);
    } else if (!strcmp(cmd, "get") && i + 2 < argc) {
        store_get_req r;
        memset(&r, 0, sizeof r);
        char *key = unhex(argv[i]);
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
        if (do_list(&req, "", (size_t)strtoull(argv[i], NULL, 10)) == 0 && n_keys) {
            get_len = strtoull(argv[i + 1], NULL, 10);
            size_t inflight = (size_t)strtoull(argv[i + 2], NULL, 10);
            getctx *g = calloc(inflight, sizeof *g);
            for (size_t k = 0; k < inflight; k++) {
                g[k].req.buf = malloc(get_len);
                start_get(&g[k]);
            }
            uv_run(loop, UV_RUN_DEFAULT);
            printf("gets\t%zu\t%zu\n", gets_ok, gets_done - gets_ok);
            for (size_t k = 0; k < inflight; k++)
                free(g[k].req.buf);
            free(g);
        }
        store_list_free(st, &req);
    } else if (!strcmp(cmd, "listfree") && i < argc) {
        stop_after_page = true;
        do_list(&req, "", (size_t)strtoull(argv[i], NULL, 10));
        store_list_free(st, &req);
    } else if (!strcmp(cmd, "listclose") && i < argc) {
        memset(&req, 0, sizeof req);
        req.prefix = "";
        req.page_size = (size_t)strtoull(argv[i], NULL, 10);
        req.cb = on_list;
        rc = store_list_next(st, &req);
        printf("start\t%s\n", store_err_name(rc));
        store_close(st);
        st = NULL;
        printf("closed\t%u\n", pages);
    } else {
        fprintf(stderr, "bad command\n");
        return 2;
    }
    if (st)
        store_close(st);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    for (size_t k = 0; k < n_keys; k++)
        free(keys[k]);
    free(keys);
    fflush(stdout);
    return 0;
}
