/* s3_sigv4.h - AWS Signature Version 4 (internal to the S3 backend; pure, no I/O).
 *
 * Kept apart from the store so that it can be proven on its own: against AWS's published
 * test vectors and against botocore signing the same requests (tests/store/s3_*). */
#ifndef STORE_S3_SIGV4_H
#define STORE_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

typedef struct s3_pair {
    const char *name;
    const char *value;
} s3_pair;

/* Sorted, encoded "k=v&k2=v2" from raw (unencoded) pairs: the canonical query string, which
 * is also what the request URL carries so both always agree. */
void s3_canonical_query(ut_buf *out, const s3_pair *q, size_t n);

/* The derived signing key (kSigning, four chained HMACs) depends only on (secret, date,
 * region, service): cached so that a run of millions of requests derives it once a day,
 * not once per request. The cache keeps the HMAC state keyed by kSigning with its inner and
 * outer pad blocks already hashed, so a request's signature costs the string to sign plus
 * one block. To notice rotated credentials with a memcmp instead of a hash per request, it
 * holds a copy of the secret it was derived from: one cache belongs to one store instance
 * (never shared between threads; each per-thread store has its own), lives no longer than
 * the store's credentials, and s3_sigkey_cache_wipe() erases it when the store is freed.
 * A zeroed struct is an empty cache. Secrets longer than S3_SIGKEY_SECRET_MAX are signed
 * correctly but not cached. */
#define S3_SIGKEY_SECRET_MAX 128
typedef struct s3_sigkey_cache {
    char date[9];
    char region[64];
    char service[32];
    char secret[S3_SIGKEY_SECRET_MAX];
    size_t secret_len;
    /* HMAC-SHA256(kSigning, .) after its ipad / opad block: two OpenSSL SHA256_CTX, kept
     * as bytes here so that this header does not need OpenSSL's (size checked in the .c) */
    unsigned char hmac_state[256];
    bool valid;
    /* the last x-amz-date and its second (s3_sign_headers): strftime costs more than the
     * rest of signing, and thousands of requests a second share one */
    time_t date_t;
    char amz_date[17];
} s3_sigkey_cache;

/* Erases the cache (secret copy and key material); it stays usable (empty). */
void s3_sigkey_cache_wipe(s3_sigkey_cache *c);

typedef struct s3_sign_in {
    const char *method;
    const char *canonical_uri; /* already encoded path, e.g. "/bucket/a%20b" */
    const s3_pair *query;      /* raw pairs; NULL/0 for none */
    size_t n_query;
    const char *canonical_query; /* or, when non-NULL, the already canonical query string
                                    (from s3_canonical_query) and query is ignored */
    const s3_pair *headers;      /* every header to sign (host, x-amz-date, ...): names in
                                    any case, values raw; duplicates are merged */
    size_t n_headers;
    const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *region;
    const char *service;  /* "s3", "sts", ... */
    const char *amz_date; /* "YYYYMMDDTHHMMSSZ" */
    const char *access_key;
    const char *secret_key;
} s3_sign_in;

/* Builds the Authorization header value into auth. creq / sts, when non-NULL, receive the
 * canonical request and the string to sign (for tests). cache may be NULL (the key is then
 * derived for this call). With in->canonical_query set (or no query) it allocates nothing:
 * the canonical request is hashed as it is produced, never stored. Returns 0, or -1 on a
 * too long or malformed input (auth then holds ""). */
int s3_sigv4_sign(const s3_sign_in *in, s3_sigkey_cache *cache, ut_buf *creq, ut_buf *sts,
                  char *auth, size_t authlen);

/* "YYYYMMDDTHHMMSSZ" for t (UTC). */
void s3_amz_date(time_t t, char out[17]);
/* Hex SHA-256 of data (65 bytes with NUL). */
void s3_sha256_hex(const void *data, size_t n, char out[65]);

#endif
