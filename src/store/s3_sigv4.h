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

/* The derived signing key depends only on (secret, date, region, service): cached so a run
 * of millions of requests does four HMACs a day instead of four per request. */
typedef struct s3_sigkey_cache {
    char date[9];
    char region[64];
    char service[32];
    unsigned char secret_sha[32]; /* which secret the key was derived from (not the secret) */
    unsigned char key[32];
    bool valid;
} s3_sigkey_cache;

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
 * canonical request and the string to sign (for tests). cache may be NULL. Returns 0, or -1
 * on a too long or malformed input (auth then holds ""). */
int s3_sigv4_sign(const s3_sign_in *in, s3_sigkey_cache *cache, ut_buf *creq, ut_buf *sts,
                  char *auth, size_t authlen);

/* "YYYYMMDDTHHMMSSZ" for t (UTC). */
void s3_amz_date(time_t t, char out[17]);
/* Hex SHA-256 of data (65 bytes with NUL). */
void s3_sha256_hex(const void *data, size_t n, char out[65]);

#endif
