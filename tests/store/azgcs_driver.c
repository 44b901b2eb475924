/* azgcs_driver.c - drives a store (any URL store_open accepts) on a libuv loop for the
 * Azure and GCS tests: lists, reads ranges, and prints machine-readable lines that the
 * Python test scripts compare with what they uploaded. Keys are printed in hex.
 *
 *   azgcs_driver URL [-o KEY=VALUE]... list PAGE_SIZE [PREFIX]
 *   azgcs_driver URL [-o KEY=VALUE]... get KEY OFFSET LENGTH
 *   azgcs_driver URL [-o KEY=VALUE]... fetchall PAGE_SIZE LENGTH IN_FLIGHT
 *   azgcs_driver URL [-o KEY=VALUE]... getloop KEY LENGTH COUNT PAUSE_MS
 *     (COUNT reads of the same range, one after the other, PAUSE_MS apart: for token
 *     refresh; one G line each)
 *
 * Output lines (tab-separated):
 *   O status message                       store_open failed
 *   P n                                    one list page of n entries
 *   E keyhex size mtime_ms etag            one entry
 *   L status message                       end of the listing
 *   G status got object_size http hex msg  a read (first 64 bytes in hex)
 *   F keyhex status got sha256             fetchall: one read */
#include "store.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_hex(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

typedef struct {
    char *key;
    uint64_t size;
} item;

static struct {
    store *s;
    store_list_req lr;
    bool print_entries;
    item *items;
    size_t n_items, cap_items;
    int list_status;
    size_t next_get, gets_done, in_flight, max_in_flight;
    uint64_t get_len;
    bool fetchall;
} G;

static void start_gets(void);

static void list_cb(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    (void)bad;
    (void)n_bad;
    printf("P\t%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (G.print_entries) {
            printf("E\t");
            put_hex(e[i].key, e[i].key_len);
            printf("\t%llu\t%lld\t%s\n", (unsigned long long)e[i].size, (long long)e[i].mtime_ms,
                   e[i].etag ? e[i].etag : "");
        }
        if (strlen(e[i].key) != e[i].key_len) {
            printf("X\tkey_len mismatch\n");
        }
        if (G.n_items == G.cap_items) {
            G.cap_items = G.cap_items ? G.cap_items * 2 : 256;
            G.items = realloc(G.items, G.cap_items * sizeof *G.items);
        }
        G.items[G.n_items].key = strdup(e[i].key);
        G.items[G.n_items++].size = e[i].size;
    }
    if (status != STORE_OK || done) {
        G.list_status = status;
        printf("L\t%s\t%s\n", store_err_name(status), status ? req->errmsg : "");
        if (G.fetchall && status == STORE_OK)
            start_gets();
        return;
    }
    int rc = store_list_next(G.s, req);
    if (rc != STORE_OK) {
        printf("L\t%s\t%s\n", store_err_name(rc), req->errmsg);
        G.list_status = rc;
    }
}

typedef struct {
    store_get_req r;
    size_t idx;
} getop;

static void fetch_cb(store_get_req *req, int status) {
    getop *g = req->data;
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_Digest(req->buf, (size_t)req->got, md, &mdlen, EVP_sha256(), NULL);
    printf("F\t");
    put_hex(req->key, strlen(req->key));
    printf("\t%s\t%llu\t", store_err_name(status), (unsigned long long)req->got);
    put_hex(md, mdlen);
    printf("\t%s\n", status ? req->errmsg : "");
    free(req->buf);
    free(g);
    G.in_flight--;
    G.gets_done++;
    start_gets();
}

static void start_gets(void) {
    while (G.in_flight < G.max_in_flight && G.next_get < G.n_items) {
        getop *g = calloc(1, sizeof *g);
        g->idx = G.next_get++;
        g->r.key = G.items[g->idx].key;
        g->r.offset = 0;
        g->r.length = G.get_len;
        g->r.buf = malloc(G.get_len);
        g->r.cb = fetch_cb;
        g->r.data = g;
        int rc = store_get(G.s, &g->r);
        if (rc != STORE_OK) {
            printf("F\t");
            put_hex(g->r.key, strlen(g->r.key));
            printf("\t%s\t0\t\t%s\n", store_err_name(rc), g->r.errmsg);
            free(g->r.buf);
            free(g);
            G.gets_done++;
            continue;
        }
        G.in_flight++;
    }
}

static struct {
    uv_timer_t timer;
    unsigned left, pause_ms;
    bool used;
} L;

static void get_cb(store_get_req *req, int status);

static void loop_next(uv_timer_t *t) {
    store_get_req *req = t->data;
    int rc = store_get(G.s, req);
    if (rc != STORE_OK)
        printf("G\t%s\t0\t-1\t0\t\t%s\n", store_err_name(rc), req->errmsg);
}

static void get_cb(store_get_req *req, int status) {
    if (L.left && --L.left) {
        L.timer.data = req;
        uv_timer_start(&L.timer, loop_next, L.pause_ms, 0);
    }
    printf("G\t%s\t%llu\t%lld\t%d\t", store_err_name(status), (unsigned long long)req->got,
           req->object_size == UINT64_MAX ? -1LL : (long long)req->object_size, req->http_status);
    put_hex(req->buf, req->got < 64 ? (size_t)req->got : 64);
    printf("\t%s\n", status ? req->errmsg : "");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: see azgcs_driver.c\n");
        return 2;
    }
    store_kv kv[32];
    size_t n_kv = 0;
    int i = 2;
    while (i + 1 < argc && strcmp(argv[i], "-o") == 0 && n_kv < 32) {
        char *eq = strchr(argv[i + 1], '=');
        if (!eq)
            return 2;
        *eq = 0;
        kv[n_kv].key = argv[i + 1];
        kv[n_kv++].value = eq + 1;
        i += 2;
    }
    store_options o = STORE_OPTIONS_INIT;
    o.kv = kv;
    o.n_kv = n_kv;
    o.max_attempts = 2;
    o.max_in_flight = 64;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512];
    int rc = store_open(&G.s, &loop, argv[1], &o, err, sizeof err);
    if (rc != STORE_OK) {
        printf("O\t%s\t%s\n", store_err_name(rc), err);
        uv_loop_close(&loop);
        return 1;
    }
    const char *cmd = argc > i ? argv[i] : "";
    store_get_req gr;
    memset(&gr, 0, sizeof gr);
    if (strcmp(cmd, "list") == 0 && argc > i + 1) {
        G.print_entries = true;
        G.lr.page_size = strtoul(argv[i + 1], NULL, 10);
        G.lr.prefix = argc > i + 2 ? argv[i + 2] : "";
        G.lr.cb = list_cb;
        rc = store_list_next(G.s, &G.lr);
        if (rc != STORE_OK)
            printf("L\t%s\t%s\n", store_err_name(rc), G.lr.errmsg);
    } else if (strcmp(cmd, "fetchall") == 0 && argc > i + 3) {
        G.fetchall = true;
        G.lr.page_size = strtoul(argv[i + 1], NULL, 10);
        G.get_len = strtoull(argv[i + 2], NULL, 10);
        G.max_in_flight = strtoul(argv[i + 3], NULL, 10);
        G.lr.prefix = "";
        G.lr.cb = list_cb;
        rc = store_list_next(G.s, &G.lr);
        if (rc != STORE_OK)
            printf("L\t%s\t%s\n", store_err_name(rc), G.lr.errmsg);
    } else if (strcmp(cmd, "getloop") == 0 && argc > i + 4) {
        gr.key = argv[i + 1];
        gr.length = strtoull(argv[i + 2], NULL, 10);
        gr.buf = malloc(gr.length ? gr.length : 1);
        gr.cb = get_cb;
        L.left = (unsigned)strtoul(argv[i + 3], NULL, 10);
        L.pause_ms = (unsigned)strtoul(argv[i + 4], NULL, 10);
        uv_timer_init(&loop, &L.timer);
        L.used = true;
        L.timer.data = &gr;
        uv_timer_start(&L.timer, loop_next, 0, 0);
    } else if (strcmp(cmd, "get") == 0 && argc > i + 3) {
        gr.key = argv[i + 1];
        gr.offset = strtoull(argv[i + 2], NULL, 10);
        gr.length = strtoull(argv[i + 3], NULL, 10);
        gr.buf = malloc(gr.length ? gr.length : 1);
        gr.cb = get_cb;
        rc = store_get(G.s, &gr);
        if (rc != STORE_OK)
            printf("G\t%s\t0\t-1\t0\t\t%s\n", store_err_name(rc), gr.errmsg);
    } else {
        fprintf(stderr, "unknown command\n");
        store_close(G.s);
        return 2;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (L.used)
        uv_close((uv_handle_t *)&L.timer, NULL);
    store_list_free(G.s, &G.lr);
    store_close(G.s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    for (size_t k = 0; k < G.n_items; k++)
        free(G.items[k].key);
    free(G.items);
    free(gr.buf);
    return 0;
}
