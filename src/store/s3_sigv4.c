/* s3_sigv4.c - AWS Signature Version 4: canonical request, string to sign, signature.
 * Facts from AWS's "Signature Version 4 signing process" and the S3 "Authenticating
 * Requests (AWS Signature Version 4)" pages; S3 differs from other services in that the path
 * is encoded once and never normalised (no "." / ".." / "//" folding). */
/* OpenSSL 3 marks its low-level SHA-256 API deprecated in favour of EVP, but an EVP digest
 * or HMAC allocates a context on every call (about 27 heap allocations per signed request
 * before this file used the low-level API) and its state cannot be copied without another
 * allocation. SHA256_CTX is a plain struct: the HMAC pad states of the cached signing key
 * are copied by assignment, and hashing runs the same accelerated block function. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "s3_sigv4.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGN_MAX_HEADERS 32
#define SIGN_MAX_QUERY 64

typedef struct enc_pair {
    size_t name_off, value_off;
    const char *name, *value;
} enc_pair;

static int cmp_enc_pair(const void *a, const void *b) {
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

void s3_canonical_query(ut_buf *out, const s3_pair *q, size_t n) {
    if (n == 0)
        return;
    if (n > SIGN_MAX_QUERY) {
        out->bad = true;
        return;
    }
    enc_pair ep[SIGN_MAX_QUERY];
    ut_buf tmp = {0};
    for (size_t i = 0; i < n; i++) {
        ep[i].name_off = tmp.len;
        ut_pct_encode(&tmp, q[i].name, strlen(q[i].name), false);
        ut_buf_putc(&tmp, '\0');
        ep[i].value_off = tmp.len;
        ut_pct_encode(&tmp, q[i].value ? q[i].value : "", q[i].value ? strlen(q[i].value) : 0,
                      false);
        ut_buf_putc(&tmp, '\0');
    }
    if (tmp.bad) {
        out->bad = true;
        ut_buf_free(&tmp);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ep[i].name = tmp.p + ep[i].name_off;
        ep[i].value = tmp.p + ep[i].value_off;
    }
    qsort(ep, n, sizeof ep[0], cmp_enc_pair);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ut_buf_putc(out, '&');
        ut_buf_puts(out, ep[i].name);
        ut_buf_putc(out, '=');
        ut_buf_puts(out, ep[i].value);
    }
    ut_buf_free(&tmp);
}

void s3_sha256_hex(const void *data, size_t n, char out[65]) {
    unsigned char md[32];
    SHA256_CTX c;
    if (!SHA256_Init(&c) || !SHA256_Update(&c, data, n) || !SHA256_Final(md, &c))
        memset(md, 0, sizeof md);
    ut_hex_encode(md, 32, out);
}

void s3_amz_date(time_t t, char out[17]) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "19700101T000000Z", 17);
}

/* ---- HMAC-SHA256 (RFC 2104) over SHA256_CTX, so its keyed state can be kept and copied */

typedef struct hmac_st {
    SHA256_CTX inner, outer;
} hmac_st;

_Static_assert(sizeof(hmac_st) <= sizeof(((s3_sigkey_cache *)0)->hmac_state),
               "s3_sigkey_cache.hmac_state too small for two SHA256_CTX");

/* Keys the state with prefix || key (SigV4's first key is "AWS4" + secret: never joined in a
 * buffer, so no copy of the secret is made); a key longer than a block is hashed first. */
static void hmac_init(hmac_st *h, const char *prefix, size_t plen, const void *key, size_t klen) {
    unsigned char k[64] = {0}, pad[64];
    if (plen + klen > 64) {
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, prefix, plen);
        SHA256_Update(&c, key, klen);
        SHA256_Final(k, &c);
        OPENSSL_cleanse(&c, sizeof c);
    } else {
        memcpy(k, prefix, plen);
        memcpy(k + plen, key, klen);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = (unsigned char)(k[i] ^ 0x36);
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, 64);
    for (int i = 0; i < 64; i++)
        pad[i] = (unsigned char)(k[i] ^ 0x5c);
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, 64);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
}

/* HMAC of msg with a keyed state, which is left as it was (so it can be used again). */
static void hmac_final(const hmac_st *h, const void *msg, size_t n, unsigned char out[32]) {
    SHA256_CTX c = h->inner;
    SHA256_Update(&c, msg, n);
    SHA256_Final(out, &c);
    c = h->outer;
    SHA256_Update(&c, out, 32);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
 * returned as a keyed HMAC state. */
static void derive_signing_key(hmac_st *out, const char *secret, size_t slen, const char *date,
                               const char *region, const char *service) {
    hmac_st h;
    unsigned char k[32];
    hmac_init(&h, "AWS4", 4, secret, slen);
    hmac_final(&h, date, 8, k);
    hmac_init(&h, "", 0, k, 32);
    hmac_final(&h, region, strlen(region), k);
    hmac_init(&h, "", 0, k, 32);
    hmac_final(&h, service, strlen(service), k);
    hmac_init(&h, "", 0, k, 32);
    hmac_final(&h, "aws4_request", 12, k);
    hmac_init(out, "", 0, k, 32);
    OPENSSL_cleanse(&h, sizeof h);
    OPENSSL_cleanse(k, sizeof k);
}

void s3_sigkey_cache_wipe(s3_sigkey_cache *c) {
    OPENSSL_cleanse(c, sizeof *c); /* valid = false with the rest */
}

/* ---- the canonical request, hashed as it is produced ---------------------------------- */

/* Bytes go through a small staging block into SHA-256 (and into `copy` for tests), so the
 * canonical request, however long its path, query or security token, is never stored. */
typedef struct sink {
    SHA256_CTX sha;
    ut_buf *copy;
    size_t n;
    char blk[256];
} sink;

static void sink_flush(sink *s) {
    if (s->n) {
        SHA256_Update(&s->sha, s->blk, s->n);
        if (s->copy)
            ut_buf_put(s->copy, s->blk, s->n);
        s->n = 0;
    }
}

static void sink_put(sink *s, const char *p, size_t n) {
    if (s->n + n > sizeof s->blk) {
        sink_flush(s);
        if (n > sizeof s->blk) {
            SHA256_Update(&s->sha, p, n);
            if (s->copy)
                ut_buf_put(s->copy, p, n);
            return;
        }
    }
    memcpy(s->blk + s->n, p, n);
    s->n += n;
}

static void sink_puts(sink *s, const char *p) { sink_put(s, p, strlen(p)); }

static void sink_putc(sink *s, char c) {
    if (s->n == sizeof s->blk)
        sink_flush(s);
    s->blk[s->n++] = c;
}

/* Header value as AWS canonicalises it: outer spaces trimmed, inner runs of spaces one. */
static void put_trimmed(sink *s, const char *v) {
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    bool sp = false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i] == '\t' ? ' ' : v[i];
        if (c == ' ') {
            if (sp)
                continue;
            sp = true;
        } else {
            sp = false;
        }
        sink_putc(s, c);
    }
}

typedef struct canon_header {
    char name[64];
    const char *value;
} canon_header;

/* Bounded appends into a fixed buffer: false once it is full. */
typedef struct fixbuf {
    char *p;
    size_t cap, len;
    bool bad;
} fixbuf;

static void fb_put(fixbuf *b, const char *s, size_t n) {
    if (b->bad || b->len + n >= b->cap) {
        b->bad = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void fb_puts(fixbuf *b, const char *s) { fb_put(b, s, strlen(s)); }

/* the caller's canonical-request copy gets nothing on failure, as before streaming */
static void creq_undo(ut_buf *b, size_t len0) {
    if (b && b->p) {
        b->len = len0;
        b->p[len0] = '\0';
    }
}

int s3_sigv4_sign(const s3_sign_in *in, s3_sigkey_cache *cache, ut_buf *creq_out, ut_buf *sts_out,
                  char *auth, size_t authlen) {
    if (authlen)
        auth[0] = '\0';
    size_t rlen = strlen(in->region), svlen = strlen(in->service);
    if (in->n_headers > SIGN_MAX_HEADERS || strlen(in->amz_date) != 16 ||
        rlen >= sizeof cache->region || svlen >= sizeof cache->service)
        return -1;

    /* canonical headers: lower-case names, sorted by name; a stable insertion sort (no
     * allocation, and duplicates keep their order, joined by ',') */
    canon_header hs[SIGN_MAX_HEADERS];
    for (size_t i = 0; i < in->n_headers; i++) {
        size_t nl = strlen(in->headers[i].name);
        if (nl == 0 || nl >= sizeof hs[i].name)
            return -1;
        canon_header h;
        for (size_t j = 0; j <= nl; j++) {
            char c = in->headers[i].name[j];
            h.name[j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        h.value = in->headers[i].value ? in->headers[i].value : "";
        size_t k = i;
        while (k > 0 && strcmp(hs[k - 1].name, h.name) > 0) {
            hs[k] = hs[k - 1];
            k--;
        }
        hs[k] = h;
    }
    char signed_h[SIGN_MAX_HEADERS * 64];
    fixbuf sh = {signed_h, sizeof signed_h, 0, false};
    signed_h[0] = '\0';
    for (size_t i = 0; i < in->n_headers; i++) {
        if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0)
            continue;
        if (sh.len)
            fb_put(&sh, ";", 1);
        fb_puts(&sh, hs[i].name);
    }

    sink s;
    s.copy = creq_out;
    s.n = 0;
    SHA256_Init(&s.sha);
    size_t creq_out_len0 = creq_out ? creq_out->len : 0;
    sink_puts(&s, in->method);
    sink_putc(&s, '\n');
    sink_puts(&s, in->canonical_uri);
    sink_putc(&s, '\n');
    bool bad = false;
    if (in->canonical_query) {
        sink_puts(&s, in->canonical_query);
    } else if (in->n_query) {
        ut_buf q = {0}; /* the raw-pairs form is for tests and one-off requests */
        s3_canonical_query(&q, in->query, in->n_query);
        bad = q.bad;
        sink_put(&s, ut_buf_str(&q), q.len);
        ut_buf_free(&q);
    }
    sink_putc(&s, '\n');
    for (size_t i = 0; i < in->n_headers; i++) {
        if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0) {
            sink_putc(&s, ',');
        } else {
            if (i > 0)
                sink_putc(&s, '\n');
            sink_puts(&s, hs[i].name);
            sink_putc(&s, ':');
        }
        put_trimmed(&s, hs[i].value);
    }
    sink_put(&s, "\n\n", 2);
    sink_put(&s, signed_h, sh.len);
    sink_putc(&s, '\n');
    sink_puts(&s, in->payload_hash);
    sink_flush(&s);
    unsigned char md[32];
    char creq_hash[65];
    SHA256_Final(md, &s.sha);
    ut_hex_encode(md, 32, creq_hash);
    if (bad || sh.bad || (creq_out && creq_out->bad)) {
        creq_undo(creq_out, creq_out_len0);
        return -1;
    }

    /* string to sign: bounded by the checks above (16 + 8 + 63 + 31 + fixed text + 64) */
    char date[9];
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    char stsb[256];
    fixbuf sts = {stsb, sizeof stsb, 0, false};
    fb_puts(&sts, "AWS4-HMAC-SHA256\n");
    fb_put(&sts, in->amz_date, 16);
    fb_put(&sts, "\n", 1);
    fb_put(&sts, date, 8);
    fb_put(&sts, "/", 1);
    fb_put(&sts, in->region, rlen);
    fb_put(&sts, "/", 1);
    fb_put(&sts, in->service, svlen);
    fb_puts(&sts, "/aws4_request\n");
    fb_put(&sts, creq_hash, 64);
    if (sts.bad)
        return -1;

    size_t slen = strlen(in->secret_key);
    unsigned char sig[32];
    hmac_st key; /* copied in and out of the cache's bytes (no aliasing games) */
    if (cache && slen <= sizeof cache->secret) {
        if (!(cache->valid && cache->secret_len == slen &&
              memcmp(cache->secret, in->secret_key, slen) == 0 &&
              memcmp(cache->date, date, 9) == 0 && strcmp(cache->region, in->region) == 0 &&
              strcmp(cache->service, in->service) == 0)) {
            /* a new day, region or secret (rotated credentials): derive again */
            s3_sigkey_cache_wipe(cache);
            derive_signing_key(&key, in->secret_key, slen, date, in->region, in->service);
            memcpy(cache->hmac_state, &key, sizeof key);
            memcpy(cache->date, date, 9);
            memcpy(cache->region, in->region, rlen + 1);
            memcpy(cache->service, in->service, svlen + 1);
            memcpy(cache->secret, in->secret_key, slen);
            cache->secret_len = slen;
            cache->valid = true;
        } else {
            memcpy(&key, cache->hmac_state, sizeof key);
        }
    } else {
        derive_signing_key(&key, in->secret_key, slen, date, in->region, in->service);
    }
    hmac_final(&key, sts.p, sts.len, sig);
    OPENSSL_cleanse(&key, sizeof key);
    char sighex[65];
    ut_hex_encode(sig, 32, sighex);

    fixbuf a = {auth, authlen, 0, authlen == 0};
    fb_puts(&a, "AWS4-HMAC-SHA256 Credential=");
    fb_puts(&a, in->access_key);
    fb_put(&a, "/", 1);
    fb_put(&a, date, 8);
    fb_put(&a, "/", 1);
    fb_put(&a, in->region, rlen);
    fb_put(&a, "/", 1);
    fb_put(&a, in->service, svlen);
    fb_puts(&a, "/aws4_request, SignedHeaders=");
    fb_put(&a, signed_h, sh.len);
    fb_puts(&a, ", Signature=");
    fb_put(&a, sighex, 64);
    if (a.bad) {
        if (authlen)
            auth[0] = '\0';
        creq_undo(creq_out, creq_out_len0);
        return -1;
    }
    if (sts_out)
        ut_buf_put(sts_out, sts.p, sts.len);
    return 0;
}
