/* s3_sigv4.c - AWS Signature Version 4: canonical request, string to sign, signature.
 * Facts from AWS's "Signature Version 4 signing process" and the S3 "Authenticating
 * Requests (AWS Signature Version 4)" pages; S3 differs from other services in that the path
 * is encoded once and never normalised (no "." / ".." / "//" folding). */
#include "s3_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
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
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        memset(md, 0, sizeof md);
    ut_hex_encode(md, 32, out);
}

static void hmac256(const void *key, size_t keylen, const void *msg, size_t n,
                    unsigned char out[32]) {
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) || len != 32)
        memset(out, 0, 32);
}

void s3_amz_date(time_t t, char out[17]) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "19700101T000000Z", 17);
}

typedef struct canon_header {
    char name[64];
    size_t value_off; /* into the value buffer */
    size_t order;     /* position in the input, to merge duplicates in order */
} canon_header;

static int cmp_header(const void *a, const void *b) {
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Header value as AWS canonicalises it: outer spaces trimmed, inner runs of spaces one. */
static void put_trimmed(ut_buf *b, const char *v) {
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
        ut_buf_putc(b, c);
    }
}

int s3_sigv4_sign(const s3_sign_in *in, s3_sigkey_cache *cache, ut_buf *creq_out, ut_buf *sts_out,
                  char *auth, size_t authlen) {
    if (authlen)
        auth[0] = '\0';
    if (in->n_headers > SIGN_MAX_HEADERS || strlen(in->amz_date) != 16 ||
        strlen(in->region) >= sizeof cache->region || strlen(in->service) >= 32)
        return -1;

    /* canonical headers, sorted by lower-case name; duplicates joined by ',' */
    canon_header hs[SIGN_MAX_HEADERS];
    ut_buf vals = {0};
    for (size_t i = 0; i < in->n_headers; i++) {
        size_t nl = strlen(in->headers[i].name);
        if (nl == 0 || nl >= sizeof hs[i].name) {
            ut_buf_free(&vals);
            return -1;
        }
        for (size_t j = 0; j <= nl; j++) {
            char c = in->headers[i].name[j];
            hs[i].name[j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        hs[i].value_off = vals.len;
        hs[i].order = i;
        put_trimmed(&vals, in->headers[i].value ? in->headers[i].value : "");
        ut_buf_putc(&vals, '\0');
    }
    qsort(hs, in->n_headers, sizeof hs[0], cmp_header);

    ut_buf creq = {0}, signed_h = {0};
    ut_buf_puts(&creq, in->method);
    ut_buf_putc(&creq, '\n');
    ut_buf_puts(&creq, in->canonical_uri);
    ut_buf_putc(&creq, '\n');
    if (in->canonical_query)
        ut_buf_puts(&creq, in->canonical_query);
    else
        s3_canonical_query(&creq, in->query, in->n_query);
    ut_buf_putc(&creq, '\n');
    for (size_t i = 0; i < in->n_headers; i++) {
        bool same_as_prev = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
        if (same_as_prev) {
            ut_buf_putc(&creq, ',');
        } else {
            if (i > 0) {
                ut_buf_putc(&creq, '\n');
                ut_buf_putc(&signed_h, ';');
            }
            ut_buf_puts(&creq, hs[i].name);
            ut_buf_putc(&creq, ':');
            ut_buf_puts(&signed_h, hs[i].name);
        }
        if (!vals.bad)
            ut_buf_puts(&creq, vals.p + hs[i].value_off);
    }
    ut_buf_puts(&creq, "\n\n");
    ut_buf_puts(&creq, signed_h.p ? signed_h.p : "");
    ut_buf_putc(&creq, '\n');
    ut_buf_puts(&creq, in->payload_hash);
    bool vals_bad = vals.bad;
    ut_buf_free(&vals);

    int rc = -1;
    ut_buf sts = {0};
    if (creq.bad || signed_h.bad || vals_bad)
        goto out;
    char date[9], creq_hash[65];
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    s3_sha256_hex(creq.p, creq.len, creq_hash);
    ut_buf_puts(&sts, "AWS4-HMAC-SHA256\n");
    ut_buf_puts(&sts, in->amz_date);
    ut_buf_putc(&sts, '\n');
    ut_buf_puts(&sts, date);
    ut_buf_putc(&sts, '/');
    ut_buf_puts(&sts, in->region);
    ut_buf_putc(&sts, '/');
    ut_buf_puts(&sts, in->service);
    ut_buf_puts(&sts, "/aws4_request\n");
    ut_buf_puts(&sts, creq_hash);
    if (sts.bad)
        goto out;

    unsigned char secret_sha[32], key[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(in->secret_key, strlen(in->secret_key), secret_sha, &mdlen, EVP_sha256(), NULL))
        goto out;
    if (cache && cache->valid && strcmp(cache->date, date) == 0 &&
        strcmp(cache->region, in->region) == 0 && strcmp(cache->service, in->service) == 0 &&
        memcmp(cache->secret_sha, secret_sha, 32) == 0) {
        memcpy(key, cache->key, 32);
    } else {
        ut_buf k0 = {0};
        ut_buf_puts(&k0, "AWS4");
        ut_buf_puts(&k0, in->secret_key);
        if (k0.bad) {
            ut_buf_free(&k0);
            goto out;
        }
        unsigned char k1[32], k2[32], k3[32];
        hmac256(k0.p, k0.len, date, 8, k1);
        OPENSSL_cleanse(k0.p, k0.len);
        ut_buf_free(&k0);
        hmac256(k1, 32, in->region, strlen(in->region), k2);
        hmac256(k2, 32, in->service, strlen(in->service), k3);
        hmac256(k3, 32, "aws4_request", 12, key);
        if (cache) {
            memcpy(cache->date, date, 9);
            strcpy(cache->region, in->region);
            strcpy(cache->service, in->service);
            memcpy(cache->secret_sha, secret_sha, 32);
            memcpy(cache->key, key, 32);
            cache->valid = true;
        }
    }
    unsigned char sig[32];
    hmac256(key, 32, sts.p, sts.len, sig);
    char sighex[65];
    ut_hex_encode(sig, 32, sighex);
    int n = snprintf(auth, authlen,
                     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                     "Signature=%s",
                     in->access_key, date, in->region, in->service, signed_h.p, sighex);
    if (n < 0 || (size_t)n >= authlen) {
        if (authlen)
            auth[0] = '\0';
        goto out;
    }
    rc = 0;
    if (creq_out)
        ut_buf_put(creq_out, creq.p, creq.len);
    if (sts_out)
        ut_buf_put(sts_out, sts.p, sts.len);
out:
    ut_buf_free(&creq);
    ut_buf_free(&signed_h);
    ut_buf_free(&sts);
    return rc;
}
