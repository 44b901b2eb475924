/* probe_util.c - shared pieces of the store probes (see probe_util.h). */
#include "probe_util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void probe_hexprint(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

/* The bytes of a hex string, NUL-terminated (keys are text). */
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

int probe_parse_args(int argc, char **argv, store_kv *kv, size_t max_kv, store_options *o,
                     bool env_refs) {
    size_t nkv = 0;
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0 && nkv < max_kv; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return -1;
        *eq = '\0';
        kv[nkv].key = argv[i];
        kv[nkv].value = env_refs && eq[1] == '@' ? getenv(eq + 2) : eq + 1;
        if (!kv[nkv].value)
            kv[nkv].value = "";
        nkv++;
    }
    o->kv = kv;
    o->n_kv = nkv;
    if (i >= argc - 1)
        return -1;
    return i + 1;
}

store *probe_open(uv_loop_t *loop, const char *url, const store_options *o) {
    store *st;
    char err[512];
    int rc = store_open(&st, loop, url, o, err, sizeof err);
    if (rc != 0) {
        printf("open\t%s\t%s\n", store_err_name(rc), err);
        return NULL;
    }
    printf("open\tok\t%s\n", store_url(st));
    return st;
}

void probe_keys_add(probe_keys *l, const char *key, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n] = malloc(len + 1);
    memcpy(l->v[l->n], key, len);
    l->v[l->n][len] = '\0';
    l->n++;
}

void probe_keys_free(probe_keys *l) {
    for (size_t k = 0; k < l->n; k++)
        free(l->v[k]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static void on_single_get(store_get_req *r, int status) {
    printf("get\t%s\t%llu\t%lld\t%d\t", store_err_name(status), (unsigned long long)r->got,
           r->object_size == UINT64_MAX ? -1LL : (long long)r->object_size, r->http_status);
    probe_hexprint(r->buf, (size_t)r->got);
    printf("\t%s\n", status ? r->errmsg : "");
    uv_stop(r->data);
}

void probe_get_one(store *st, uv_loop_t *loop, const char *hexkey, const char *offset,
                   const char *length) {
    store_get_req r;
    memset(&r, 0, sizeof r);
    char *key = unhex(hexkey);
    r.key = key;
    r.offset = strtoull(offset, NULL, 10);
    r.length = strtoull(length, NULL, 10);
    r.buf = malloc(r.length ? r.length : 1);
    r.cb = on_single_get;
    r.data = loop;
    int rc = store_get(st, &r);
    if (rc != 0)
        printf("get\t%s\tstart refused\n", store_err_name(rc));
    else
        uv_run(loop, UV_RUN_DEFAULT);
    free(r.buf);
    free(key);
}

typedef struct getall {
    store *st;
    uv_loop_t *loop;
    const probe_keys *keys;
    uint64_t length;
    size_t next, done, ok;
} getall;

typedef struct getctx {
    store_get_req req;
    getall *ga;
} getctx;

static void start_get(getctx *g);

static void on_get(store_get_req *r, int status) {
    getctx *g = r->data;
    getall *ga = g->ga;
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_Digest(r->buf, (size_t)r->got, md, &mdlen, EVP_sha256(), NULL);
    printf("got\t");
    probe_hexprint(r->key, strlen(r->key));
    printf("\t%s\t%llu\t%lld\t", store_err_name(status), (unsigned long long)r->got,
           r->object_size == UINT64_MAX ? -1LL : (long long)r->object_size);
    probe_hexprint(md, mdlen);
    if (status)
        printf("\t%s", r->errmsg);
    printf("\n");
    ga->done++;
    ga->ok += status == 0;
    if (ga->done == ga->keys->n)
        uv_stop(ga->loop);
    start_get(g);
}

static void start_get(getctx *g) {
    getall *ga = g->ga;
    if (ga->next >= ga->keys->n)
        return;
    g->req.key = ga->keys->v[ga->next++];
    g->req.offset = 0;
    g->req.length = ga->length;
    g->req.cb = on_get;
    g->req.data = g;
    int rc = store_get(ga->st, &g->req);
    if (rc != 0) {
        printf("got\t-\t%s\tstart refused\n", store_err_name(rc));
        ga->done++;
        if (ga->done == ga->keys->n)
            uv_stop(ga->loop);
    }
}

size_t probe_get_all(store *st, uv_loop_t *loop, const probe_keys *keys, uint64_t length,
                     size_t inflight, size_t *n_ok) {
    getall ga = {st, loop, keys, length, 0, 0, 0};
    getctx *g = calloc(inflight ? inflight : 1, sizeof *g);
    for (size_t k = 0; k < inflight; k++) {
        g[k].ga = &ga;
        g[k].req.buf = malloc(length);
        start_get(&g[k]);
    }
    if (keys->n)
        uv_run(loop, UV_RUN_DEFAULT);
    for (size_t k = 0; k < inflight; k++)
        free(g[k].req.buf);
    free(g);
    *n_ok = ga.ok;
    return ga.done;
}
