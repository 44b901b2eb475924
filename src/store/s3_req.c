/* s3_req.c - S3 addressing (path-style / virtual-hosted) and per-attempt SigV4 headers. */
#include "s3_req.h"
#include "util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dupn(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void s3_creds_clear(s3_creds *c) {
    ut_free_secret(&c->access_key);
    ut_free_secret(&c->secret_key);
    ut_free_secret(&c->token);
    c->expires_ms = 0;
}

int s3_creds_copy(s3_creds *dst, const s3_creds *src) {
    memset(dst, 0, sizeof *dst);
    dst->access_key = src->access_key ? dupn(src->access_key, strlen(src->access_key)) : NULL;
    dst->secret_key = src->secret_key ? dupn(src->secret_key, strlen(src->secret_key)) : NULL;
    dst->token = src->token ? dupn(src->token, strlen(src->token)) : NULL;
    dst->expires_ms = src->expires_ms;
    if ((src->access_key && !dst->access_key) || (src->secret_key && !dst->secret_key) ||
        (src->token && !dst->token)) {
        s3_creds_clear(dst);
        return -1;
    }
    return 0;
}

void s3_target_free(s3_target *t) {
    free(t->authority);
    free(t->base_path);
    free(t->region);
    memset(t, 0, sizeof *t);
}

static void lower(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* Bucket names as S3 allows them today (3-63 of a-z 0-9 . -), plus upper case and '_' of
 * legacy us-east-1 buckets: anything else could not be put in a URL path segment safely. */
static bool bucket_ok(const char *b) {
    size_t n = strlen(b);
    if (n < 1 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

int s3_target_init(s3_target *t, const char *endpoint, const char *bucket, const char *region,
                   bool virtual_hosted, bool allow_http, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    if (!bucket_ok(bucket)) {
        snprintf(err, errlen, "invalid S3 bucket name '%.*s'", ut_utf8_prec(bucket, 100), bucket);
        return -1;
    }
    if (!region || !*region || strlen(region) > 60) {
        snprintf(err, errlen, "invalid S3 region '%.*s'", ut_utf8_prec(region ? region : "", 64),
                 region ? region : "");
        return -1;
    }
    char host[512];
    const char *path = "";
    size_t path_len = 0;
    if (!endpoint || !*endpoint) {
        t->https = true;
        if (virtual_hosted)
            snprintf(host, sizeof host, "%s.s3.%s.amazonaws.com", bucket, region);
        else
            snprintf(host, sizeof host, "s3.%s.amazonaws.com", region);
    } else {
        const char *rest;
        if (strncasecmp(endpoint, "https://", 8) == 0) {
            t->https = true;
            rest = endpoint + 8;
        } else if (strncasecmp(endpoint, "http://", 7) == 0) {
            if (!allow_http) {
                snprintf(err, errlen,
                         "endpoint '%.*s' is plain http: set allow_http: true in "
                         "obstore_config to use it",
                         ut_utf8_prec(endpoint, 200), endpoint);
                return -1;
            }
            rest = endpoint + 7;
        } else {
            snprintf(err, errlen, "endpoint '%.*s' must start with https:// or http://",
                     ut_utf8_prec(endpoint, 200), endpoint);
            return -1;
        }
        size_t hl = strcspn(rest, "/?#");
        if (hl == 0 || hl >= sizeof host || strchr(rest, '@') || rest[hl] == '?' ||
            rest[hl] == '#') {
            snprintf(err, errlen, "invalid endpoint '%.*s'", ut_utf8_prec(endpoint, 200), endpoint);
            return -1;
        }
        memcpy(host, rest, hl);
        host[hl] = '\0';
        /* the default port is what curl leaves out of Host: leave it out of both */
        size_t l = strlen(host);
        if (t->https && l > 4 && strcmp(host + l - 4, ":443") == 0)
            host[l - 4] = '\0';
        if (!t->https && l > 3 && strcmp(host + l - 3, ":80") == 0)
            host[l - 3] = '\0';
        path = rest + hl;
        path_len = strlen(path);
        while (path_len && path[path_len - 1] == '/')
            path_len--;
    }
    lower(host);
    ut_buf base = {0};
    ut_buf_put(&base, path, path_len);
    if (!virtual_hosted) {
        ut_buf_putc(&base, '/');
        ut_buf_puts(&base, bucket);
    }
    ut_buf_putc(&base, '\0');
    t->authority = dupn(host, strlen(host));
    t->region = dupn(region, strlen(region));
    t->base_path = base.bad ? NULL : base.p;
    if (!t->authority || !t->region || !t->base_path) {
        if (base.bad)
            ut_buf_free(&base);
        s3_target_free(t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void s3_reqparts_free(s3_reqparts *r) {
    ut_buf_free(&r->url);
    ut_buf_free(&r->path);
    ut_buf_free(&r->query);
}

/* One allocation of the size a buffer will need, where growing from 64 bytes would take
 * two or three (a request's path and URL are built once per request). If it fails, the
 * buffer grows as usual and reports the failure itself. */
static void presize(ut_buf *b, size_t n) {
    if (b->p || n >= UT_BUF_DEFAULT_LIMIT)
        return;
    b->p = malloc(n + 1);
    if (b->p) {
        b->cap = n + 1;
        b->p[0] = '\0';
    }
}

int s3_reqparts_build(s3_reqparts *r, const s3_target *t, const char *key, size_t key_len,
                      const s3_pair *q, size_t nq) {
    memset(r, 0, sizeof *r);
    size_t base_len = strlen(t->base_path);
    presize(&r->path, base_len + 1 + (key ? 3 * key_len : 0)); /* %XX at most triples */
    ut_buf_put(&r->path, t->base_path, base_len);
    if (key) {
        ut_buf_putc(&r->path, '/');
        ut_pct_encode(&r->path, key, key_len, true);
    } else if (r->path.len == 0) {
        ut_buf_putc(&r->path, '/');
    }
    s3_canonical_query(&r->query, q, nq);
    presize(&r->url, 8 + strlen(t->authority) + r->path.len + 1 + r->query.len);
    ut_buf_puts(&r->url, t->https ? "https://" : "http://");
    ut_buf_puts(&r->url, t->authority);
    ut_buf_puts(&r->url, r->path.p ? r->path.p : "");
    if (r->query.len) {
        ut_buf_putc(&r->url, '?');
        ut_buf_puts(&r->url, r->query.p);
    }
    if (r->url.bad || r->path.bad || r->query.bad || !r->url.p) {
        s3_reqparts_free(r);
        return -1;
    }
    return 0;
}

static char *hdrs_base(const s3_hdrs *h) { return h->heap.p ? h->heap.p : (char *)h->inl; }

static void add_line(s3_hdrs *h, const char *name, const char *value) {
    if (h->n >= S3_MAX_HDRS) {
        h->bad = true;
        return;
    }
    size_t nl = strlen(name), vl = strlen(value), need = nl + 2 + vl + 1;
    if (h->bad || need > 64 * 1024) {
        h->bad = true;
        return;
    }
    if (!h->heap.p && h->len + need > sizeof h->inl) {
        /* moves to the heap for good: the lines so far come along */
        ut_buf_put(&h->heap, h->inl, h->len);
        ut_buf_putc(&h->heap, '\0');
        if (h->heap.bad || !h->heap.p) {
            h->bad = true;
            return;
        }
    }
    if (h->heap.p) {
        h->heap.len = h->len;
        ut_buf_put(&h->heap, name, nl);
        ut_buf_put(&h->heap, ": ", 2);
        ut_buf_put(&h->heap, value, vl);
        ut_buf_putc(&h->heap, '\0');
        if (h->heap.bad) {
            h->bad = true;
            return;
        }
    } else {
        char *p = h->inl + h->len;
        memcpy(p, name, nl);
        memcpy(p + nl, ": ", 2);
        memcpy(p + nl + 2, value, vl);
        p[nl + 2 + vl] = '\0';
    }
    h->off[h->n++] = h->len;
    h->len += need;
}

const char *s3_hdr(const s3_hdrs *h, size_t i) { return hdrs_base(h) + h->off[i]; }

void s3_hdrs_free(s3_hdrs *h) {
    /* the lines hold a signature and maybe a session token */
    OPENSSL_cleanse(h->inl, sizeof h->inl);
    if (h->heap.p)
        OPENSSL_cleanse(h->heap.p, h->heap.cap);
    ut_buf_free(&h->heap);
    h->len = 0;
    h->n = 0;
    h->bad = false;
}

int s3_sign_headers(s3_hdrs *h, const s3_target *t, const char *method, const s3_reqparts *r,
                    const s3_creds *creds, bool request_payer, time_t now, s3_sigkey_cache *cache) {
    h->len = 0;
    h->n = 0;
    h->bad = false;
    if (!creds) {
        if (request_payer)
            add_line(h, "x-amz-request-payer", "requester");
        for (size_t i = 0; i < t->n_extra && i < 3; i++)
            add_line(h, t->extra[i].name, t->extra[i].value);
        return h->bad ? -1 : 0;
    }
    char date[17];
    if (cache && cache->amz_date[0] && cache->date_t == now) {
        memcpy(date, cache->amz_date, sizeof date);
    } else {
        s3_amz_date(now, date);
        if (cache) {
            memcpy(cache->amz_date, date, sizeof date);
            cache->date_t = now;
        }
    }
    s3_pair sh[5 + 3];
    size_t n = 0;
    sh[n++] = (s3_pair){"host", t->authority};
    sh[n++] = (s3_pair){"x-amz-content-sha256", "UNSIGNED-PAYLOAD"};
    sh[n++] = (s3_pair){"x-amz-date", date};
    if (creds->token && *creds->token)
        sh[n++] = (s3_pair){t->session_token_hdr ? "x-amz-s3session-token" : "x-amz-security-token",
                            creds->token};
    if (request_payer)
        sh[n++] = (s3_pair){"x-amz-request-payer", "requester"};
    for (size_t i = 0; i < t->n_extra && i < 3; i++)
        sh[n++] = t->extra[i];
    s3_sign_in in = {method,
                     r->path.p,
                     NULL,
                     0,
                     r->query.p ? r->query.p : "",
                     sh,
                     n,
                     "UNSIGNED-PAYLOAD",
                     t->region,
                     t->service ? t->service : "s3",
                     date,
                     creds->access_key,
                     creds->secret_key};
    char auth[512];
    if (s3_sigv4_sign(&in, cache, NULL, NULL, auth, sizeof auth) != 0)
        return -1;
    for (size_t i = 1; i < n; i++) /* host is curl's, from the URL */
        add_line(h, sh[i].name, sh[i].value);
    add_line(h, "Authorization", auth);
    return h->bad ? -1 : 0;
}

/* The value of n digits at s, or -1 when one of them is not a digit. */
static int fixed_digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "2009-10-12T17:50:30.000Z" -> ms since the epoch (UTC), INT64_MIN if malformed. Every key
 * of a listing page has one: the exact form S3 sends is read digit by digit (sscanf was a
 * tenth of a listing's CPU), anything else as sscanf reads it. */
int64_t s3_parse_iso8601_ms(const char *s) {
    int y, mo, d, h, mi, sec;
    bool exact = strlen(s) >= 19 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
                 s[16] == ':';
    if (exact) {
        y = fixed_digits(s, 4), mo = fixed_digits(s + 5, 2), d = fixed_digits(s + 8, 2);
        h = fixed_digits(s + 11, 2), mi = fixed_digits(s + 14, 2), sec = fixed_digits(s + 17, 2);
        exact = y >= 0 && mo >= 0 && d >= 0 && h >= 0 && mi >= 0 && sec >= 0;
    }
    int end = 19; /* where the seconds end: the fraction, if any, follows */
    if (!exact && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &end) != 6)
        return INT64_MIN;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return INT64_MIN;
    int64_t ms = 0;
    const char *p = s + end;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    return ut_timegm_ms(y, mo, d, h, mi, sec, (int)ms);
}
