/* s3_req.h - S3 addressing and per-attempt request signing (internal to the S3 backend).
 *
 * What is fixed for a request (URL, canonical path and query) is built once; the signed
 * headers are rebuilt before every attempt, with the time and credentials of that moment. */
#ifndef STORE_S3_REQ_H
#define STORE_S3_REQ_H

#include "s3_sigv4.h"

#include <stdint.h>

typedef struct s3_creds {
    char *access_key;
    char *secret_key;
    char *token;        /* NULL if none */
    int64_t expires_ms; /* INT64_MAX: long-term credentials */
} s3_creds;

/* Frees and wipes. */
void s3_creds_clear(s3_creds *c);
/* Deep copy; returns -1 on out of memory. */
int s3_creds_copy(s3_creds *dst, const s3_creds *src);

/* Where requests go. Path-style: https://s3.REGION.amazonaws.com/BUCKET/KEY (or ENDPOINT/
 * BUCKET/KEY); virtual-hosted: https://BUCKET.s3.REGION.amazonaws.com/KEY, or ENDPOINT/KEY
 * where the endpoint already names the bucket (as obstore/object_store do). */
typedef struct s3_target {
    bool https;
    char *authority; /* "host[:port]", lower-case, default port left out: both the URL's
                        and the signed Host header's value, so they cannot disagree */
    char *base_path; /* "" or "/bucket" or the endpoint's path, no trailing '/' */
    char *region;
    /* set by the store after s3_target_init (s3_target_free leaves them alone): */
    const char *service;    /* NULL: "s3"; "s3express" for S3 Express One Zone */
    bool session_token_hdr; /* the token goes in x-amz-s3session-token (S3 Express) */
    s3_pair extra[3];       /* more headers every signed request sends (SSE-C) */
    size_t n_extra;
} s3_target;

int s3_target_init(s3_target *t, const char *endpoint, const char *bucket, const char *region,
                   bool virtual_hosted, bool allow_http, char *err, size_t errlen);
void s3_target_free(s3_target *t);

/* A request's fixed parts. key == NULL: a bucket-level request (listing). */
typedef struct s3_reqparts {
    ut_buf url;
    ut_buf path;  /* canonical URI (= the URL's path) */
    ut_buf query; /* canonical query (= the URL's query) */
} s3_reqparts;

int s3_reqparts_build(s3_reqparts *r, const s3_target *t, const char *key, size_t key_len,
                      const s3_pair *q, size_t nq);
void s3_reqparts_free(s3_reqparts *r);

/* The headers of one attempt as "Name: value" lines. They live in the struct itself (an
 * Authorization line and the x-amz-* ones take about 300 bytes), so signing a request
 * allocates nothing; only lines that do not fit (a session token, SSE-C keys) go to the
 * heap. A zeroed struct is empty. */
#define S3_MAX_HDRS 9
#define S3_HDRS_INLINE 640
typedef struct s3_hdrs {
    char inl[S3_HDRS_INLINE];
    ut_buf heap; /* used instead of inl when the lines do not fit there */
    size_t len;
    bool bad;
    size_t off[S3_MAX_HDRS];
    size_t n;
} s3_hdrs;

/* creds == NULL: anonymous (no signature). Returns 0 or -1 (too long). */
int s3_sign_headers(s3_hdrs *h, const s3_target *t, const char *method, const s3_reqparts *r,
                    const s3_creds *creds, bool request_payer, time_t now, s3_sigkey_cache *cache);
const char *s3_hdr(const s3_hdrs *h, size_t i);
void s3_hdrs_free(s3_hdrs *h);

/* "2009-10-12T17:50:30.000Z" (ISO 8601, UTC) -> ms since the epoch; INT64_MIN if malformed. */
int64_t s3_parse_iso8601_ms(const char *s);

#endif
