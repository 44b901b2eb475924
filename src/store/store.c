/* store.c - backend selection by URL scheme, error names, and the public entry points
 * (which only forward to the backend's vtable). */
#include "remote.h"
#include "util.h"

#include <stdarg.h>
#include <strings.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- issue 14 (d1): the https URLs obstore's from_url gives to S3 (and GCS) ----
 * object_store 0.12's ObjectStoreScheme::parse (src/parse.rs) sends https hosts ending in
 * amazonaws.com or r2.cloudflarestorage.com to S3, and obstore 0.6's S3 parse_url
 * (pyo3-object_store/src/aws/store.rs) reads them as:
 *   https://s3.REGION.amazonaws.com/BUCKET/PATH    bucket BUCKET, region REGION
 *   https://BUCKET.s3.REGION.amazonaws.com/PATH    also virtual_hosted_style_request
 *   https://ACCOUNT.r2.cloudflarestorage.com/BUCKET/PATH   region auto, that endpoint
 * each option only when the config does not give it (insert_if_not_exists). Besides:
 * https://storage.googleapis.com/BUCKET/PATH is GCS here (obstore 0.6 would make it a plain
 * HTTP store, which cannot list a bucket), and the legacy global forms s3.amazonaws.com
 * and BUCKET.s3.amazonaws.com (us-east-1), which object_store refuses, and dotted bucket
 * names, are taken as S3 too. Each becomes the backend's own URL ("s3://BUCKET/PATH",
 * "gs://BUCKET/PATH", the path percent-decoded as object_store's Path::from_url_path
 * does) plus those options. */
#define ALIAS_MAX_EXTRA 3
typedef struct https_alias {
    char *url; /* the backend's URL (malloc'd) */
    store_open_fn open;
    const remote_backend *be;
    store_kv extra[ALIAS_MAX_EXTRA];
    char extra_buf[2][256]; /* values that are not constants */
    size_t n_extra;
} https_alias;

static bool host_ends(const char *h, size_t hl, const char *suffix) {
    size_t sl = strlen(suffix);
    return hl >= sl && strncasecmp(h + hl - sl, suffix, sl) == 0;
}

/* "BUCKET/REST" of a path into bucket_len, and the rest after its '/'. */
static size_t first_segment(const char *path) { return strcspn(path, "/?#"); }

/* 1: url is one of the forms above (a filled in), 0: not, < 0: a store code (message). */
static int https_alias_of(const char *url, https_alias *a, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    if (strncasecmp(url, "https://", 8) != 0)
        return 0;
    const char *host = url + 8;
    size_t hl = strcspn(host, "/?#");
    const char *path = host + hl;
    while (*path == '/')
        path++;
    if (memchr(host, '@', hl) || memchr(host, ':', hl))
        return 0; /* userinfo or a port: someone's own server, not these services */
    char region[128] = "";
    const char *bucket = NULL; /* NULL: the path's first segment */
    size_t bl = 0;
    const char *scheme = "s3://";
    if (host_ends(host, hl, ".amazonaws.com")) {
        size_t rest = hl - strlen(".amazonaws.com"); /* host[0..rest): "...s3[.REGION]" */
        /* find ".s3." or a leading "s3." / "s3" from the right: [BUCKET.]s3[.REGION] */
        const char *h = host;
        size_t s3 = SIZE_MAX;
        for (size_t i = 0; i + 2 <= rest; i++)
            if ((i == 0 || h[i - 1] == '.') && strncasecmp(h + i, "s3", 2) == 0 &&
                (i + 2 == rest || h[i + 2] == '.'))
                s3 = i; /* the last one: a dotted bucket may hold "s3" */
        if (s3 == SIZE_MAX)
            return 0; /* another AWS service */
        if (s3 + 2 < rest) {
            size_t rl = rest - (s3 + 3);
            if (rl == 0 || rl >= sizeof region)
                return 0;
            memcpy(region, h + s3 + 3, rl);
            region[rl] = '\0';
        } else {
            strcpy(region, "us-east-1"); /* the global endpoint */
        }
        if (s3 > 0) { /* virtual-hosted style: the bucket is the host's first labels */
            bucket = h;
            bl = s3 - 1;
        }
        a->extra[a->n_extra++] = (store_kv){"region", a->extra_buf[0]};
        snprintf(a->extra_buf[0], sizeof a->extra_buf[0], "%s", region);
        if (bucket)
            a->extra[a->n_extra++] = (store_kv){"virtual_hosted_style_request", "true"};
        a->open = store_s3_open;
        a->be = &store_s3_backend;
    } else if (host_ends(host, hl, ".r2.cloudflarestorage.com")) {
        if (hl >= sizeof a->extra_buf[1] - 8)
            return 0;
        a->extra[a->n_extra++] = (store_kv){"region", "auto"};
        snprintf(a->extra_buf[1], sizeof a->extra_buf[1], "https://%.*s", (int)hl, host);
        a->extra[a->n_extra++] = (store_kv){"endpoint", a->extra_buf[1]};
        a->open = store_s3_open;
        a->be = &store_s3_backend;
    } else if (hl == strlen("storage.googleapis.com") &&
               strncasecmp(host, "storage.googleapis.com", hl) == 0) {
        scheme = "gs://";
        a->open = store_gcs_open;
        a->be = &store_gcs_backend;
    } else {
        return 0;
    }
    if (strpbrk(path, "?#"))
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "'%.*s': query strings are not supported in store URLs",
                           ut_utf8_prec(url, 200), url);
    if (!bucket) {
        bucket = path;
        bl = first_segment(path);
        path += bl;
        while (*path == '/')
            path++;
    }
    if (bl == 0)
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "no bucket in '%.*s': give https://HOST/BUCKET[/prefix] or "
                           "https://BUCKET.s3.REGION.amazonaws.com[/prefix]",
                           ut_utf8_prec(url, 200), url);
    ut_buf b = {0};
    ut_buf_puts(&b, scheme);
    ut_buf_put(&b, bucket, bl);
    if (*path) {
        ut_buf_putc(&b, '/');
        if (ut_pct_decode(&b, path, strlen(path), UT_PCT_LENIENT | UT_PCT_NO_NUL) != 0) {
            ut_buf_free(&b);
            return store__fail(err, errlen, STORE_E_CONFIG, "'%.*s': an encoded NUL in the path",
                               ut_utf8_prec(url, 200), url);
        }
    }
    ut_buf_puts(&b, "");
    if (b.bad) {
        ut_buf_free(&b);
        return STORE_E_NOMEM;
    }
    a->url = ut_buf_take(&b);
    return 1;
}

/* The caller's options, then each of the alias's that none of them sets (any alias of the
 * option's name counts): the config wins over what the URL implies. *out is malloc'd. */
static int alias_options(const https_alias *a, const store_options *in, store_options *o,
                         store_kv **kv_out) {
    *o = *in;
    store_kv *kv = malloc((in->n_kv + ALIAS_MAX_EXTRA) * sizeof *kv);
    if (!kv)
        return STORE_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < in->n_kv; i++)
        kv[n++] = in->kv[i];
    for (size_t e = 0; e < a->n_extra; e++) {
        int slot = remote_option_find(a->be, a->extra[e].key);
        bool given = false;
        for (size_t i = 0; i < in->n_kv && !given; i++)
            given = in->kv[i].key && remote_option_find(a->be, in->kv[i].key) == slot;
        if (!given)
            kv[n++] = a->extra[e];
    }
    o->kv = kv;
    o->n_kv = n;
    *kv_out = kv;
    return 0;
}

/* The option table of the backend url selects (NULL: a local folder or unknown). */
static const remote_backend *backend_opts(const char *url) {
    https_alias a;
    char e[8];
    if (https_alias_of(url, &a, e, sizeof e) == 1) {
        free(a.url);
        return a.be;
    }
    if (store_azure_is_https_url(url))
        return &store_azure_backend;
    int i = backend_of(url);
    return i >= 0 ? backends[i].opts : NULL;
}
/* ---- end of issue 14 (d1) ---- */

bool store_option_is_secret(const char *store_url, const char *key) {
    if (!store_url || !key)
        return false;
    const remote_backend *be = backend_opts(store_url);
    int slot = be ? remote_option_find(be, key) : -1;
    return slot >= 0 && (be->opts[slot].flags & REMOTE_SECRET);
}

bool store_option_is_ignored(const char *store_url, const char *key) {
    if (!store_url || !key)
        return false;
    const remote_backend *be = backend_opts(store_url);
    int slot = be ? remote_option_find(be, key) : -1;
    return slot >= 0 && (be->opts[slot].flags & REMOTE_IGNORED);
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
    /* https S3, R2 and GCS URLs as obstore's from_url reads them */
    https_alias a;
    int arc = https_alias_of(url, &a, err, errlen);
    if (arc < 0)
        return arc;
    if (arc == 1) {
        store_options ao;
        store_kv *kv = NULL;
        int rc = alias_options(&a, opts, &ao, &kv);
        if (rc == 0)
            rc = a.open(out, loop, a.url, &ao, err, errlen);
        free(kv);
        free(a.url);
        return rc;
    }
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

int store_list_next(store *s, store_list_req *req) {
    req->common_prefixes = NULL;
    req->n_common_prefixes = 0;
    if (req->delimiter && req->delimiter[0]) {
        if (!s->vt->can_delimit || strcmp(req->delimiter, "/") != 0) {
            snprintf(req->errmsg, sizeof req->errmsg, "%s: listing with delimiter '%.8s' %s",
                     s->url, req->delimiter,
                     s->vt->can_delimit ? "is not supported (only '/')"
                                        : "is not supported by this store");
            return STORE_E_UNSUPPORTED;
        }
    }
    return s->vt->list_next(s, req);
}

bool store_can_delimit(const store *s) { return s->vt->can_delimit; }

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
