/* store.c - backend selection by URL scheme, error names, and the public entry points
 * (which only forward to the backend's vtable). */
#include "remote.h"
#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *store_err_name(int code) {
    switch (code) {
#define STORE_X_NAME(name, c, short_name, text) \
    case c:                                     \
        return short_name;
        STORE_ERRNO_MAP(STORE_X_NAME)
#undef STORE_X_NAME
    default:
        return "unknown";
    }
}

const char *store_strerror(int code) {
    switch (code) {
#define STORE_X_TEXT(name, c, short_name, text) \
    case c:                                     \
        return text;
        STORE_ERRNO_MAP(STORE_X_TEXT)
#undef STORE_X_TEXT
    default:
        return "unknown error";
    }
}

int store__fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        ut_vmsgf(err, errlen, fmt, ap); /* a cut message ends between characters */
        va_end(ap);
    }
    return code;
}

void store__get_reset(store_get_req *req) {
    req->got = 0;
    req->attempts = 0;
    req->http_status = 0;
    req->object_size = UINT64_MAX;
    req->errmsg[0] = '\0';
}

bool store__get_valid(const store_get_req *req) {
    return req->cb && req->key && req->buf && req->length > 0 && req->length <= SIZE_MAX &&
           req->offset <= UINT64_MAX - req->length;
}

/* The backend table: one line per URL scheme. A URL without a scheme is a local path. The
 * https://ACCOUNT.blob.core.windows.net/ URLs are Azure's (checked before the table). */
static const struct {
    const char *scheme;
    store_open_fn open;
    const remote_backend *opts; /* its option table; NULL for local folders */
} backends[] = {
    {"file", store_local_open, NULL},
    {"s3", store_s3_open, &store_s3_backend},
    {"s3a", store_s3_open, &store_s3_backend},
    {"az", store_azure_open, &store_azure_backend},
    {"azure", store_azure_open, &store_azure_backend},
    {"adl", store_azure_open, &store_azure_backend},
    {"abfs", store_azure_open, &store_azure_backend},
    {"abfss", store_azure_open, &store_azure_backend},
    {"gs", store_gcs_open, &store_gcs_backend},
    {"http", store_http_open, &store_http_backend},
    {"https", store_http_open, &store_http_backend},
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

/* The table entry for url's scheme; NULL for a plain path or an unknown scheme. */
static int backend_of(const char *url) {
    size_t n = ut_url_scheme_len(url, strlen(url));
    for (size_t i = 0; n && i < N_BACKENDS; i++)
        if (strlen(backends[i].scheme) == n && strncmp(backends[i].scheme, url, n) == 0)
            return (int)i;
    return -1;
}

bool store_option_is_secret(const char *store_url, const char *key) {
    if (!store_url || !key)
        return false;
    const remote_backend *be = NULL;
    if (store_azure_is_https_url(store_url)) {
        be = &store_azure_backend;
    } else {
        int i = backend_of(store_url);
        be = i >= 0 ? backends[i].opts : NULL;
    }
    int slot = be ? remote_option_find(be, key) : -1;
    return slot >= 0 && (be->opts[slot].flags & REMOTE_SECRET);
}

static int store_open_backend(store **out, uv_loop_t *loop, const char *url,
                              const store_options *opts, char *err, size_t errlen);

/* The backends' messages quote the URL and options as given (an endpoint with user:pw@, a
 * store URL with a SAS): redacted here, once for all of them. */
int store_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts, char *err,
               size_t errlen) {
    int rc = store_open_backend(out, loop, url, opts, err, errlen);
    if (rc != 0 && err && errlen)
        ut_redact_to(err, errlen, err);
    return rc;
}

static int store_open_backend(store **out, uv_loop_t *loop, const char *url,
                              const store_options *opts, char *err, size_t errlen) {
    store_options defaults = STORE_OPTIONS_INIT;
    *out = NULL;
    if (!url || !*url)
        return store__fail(err, errlen, STORE_E_CONFIG, "empty store URL");
    if (!opts)
        opts = &defaults;
    size_t n = ut_url_scheme_len(url, strlen(url));
    if (n == 0)
        return store_local_open(out, loop, url, opts, err, errlen);
    /* https://ACCOUNT.blob.core.windows.net/container/... is Azure, not plain HTTP */
    if (store_azure_is_https_url(url))
        return store_azure_open(out, loop, url, opts, err, errlen);
    int b = backend_of(url);
    if (b >= 0)
        return backends[b].open(out, loop, url, opts, err, errlen);
    char supported[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < N_BACKENDS && used < sizeof supported; i++)
        used += (size_t)snprintf(supported + used, sizeof supported - used, "%s://, ",
                                 backends[i].scheme);
    return store__fail(err, errlen, STORE_E_CONFIG,
                       "unsupported store URL scheme '%.*s' in '%s': supported are %splain "
                       "local paths",
                       (int)n, url, url, supported);
}

void store_close(store *s) {
    if (s)
        s->vt->close(s);
}

const char *store_url(const store *s) { return s->url; }

int store_list_next(store *s, store_list_req *req) { return s->vt->list_next(s, req); }

void store_list_free(store *s, store_list_req *req) {
    if (req->priv)
        s->vt->list_free(s, req);
}

int store_get(store *s, store_get_req *req) { return s->vt->get(s, req); }

int store_put(store *s, store_put_req *req) {
    req->http_status = 0;
    req->attempts = req->parts = 0;
    req->errmsg[0] = '\0';
    req->priv = NULL;
    if (!s->vt->put)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_UNSUPPORTED,
                           "%s: writing is not supported by this store", s->url);
    if (!req->cb || !req->key || !*req->key || (!req->buf && req->fd < 0 && req->length))
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG, "invalid put request");
    return s->vt->put(s, req);
}

void store_put_cancel(store *s, store_put_req *req) {
    if (req->priv && s->vt->put_cancel)
        s->vt->put_cancel(s, req);
}

int store_delete(store *s, store_delete_req *req) {
    req->http_status = 0;
    req->attempts = 0;
    req->errmsg[0] = '\0';
    req->priv = NULL;
    if (!s->vt->del)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_UNSUPPORTED,
                           "%s: deleting is not supported by this store", s->url);
    if (!req->cb || !req->key || !*req->key)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "invalid delete request");
    return s->vt->del(s, req);
}

void store_cancel_all(store *s) {
    if (s && s->net)
        net_cancel_all(s->net);
}

void store_get_stats(const store *s, store_stats *out) {
    memset(out, 0, sizeof *out);
    if (s->net) {
        net_stats ns;
        net_get_stats(s->net, &ns);
        out->networked = true;
        out->requests = ns.requests;
        out->retries = ns.retries;
        out->throttled = ns.throttled;
        out->lowest_concurrency = ns.min_limit;
    }
}
