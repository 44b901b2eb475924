/* az_sign.h - Azure Storage "SharedKey" request signing (Blob service, version 2009-09-19
 * and later; internal, pure, no I/O). Proven on its own against the documented examples
 * and an independent Python implementation (tests/store/az_sign_*), and by azurite, which
 * checks every signature. */
#ifndef STORE_AZ_SIGN_H
#define STORE_AZ_SIGN_H

#include "util.h"

#include <stdint.h>

typedef struct az_pair {
    const char *name;
    const char *value;
} az_pair;

/* The string to sign. path: the request URL's path exactly as sent (percent-encoded),
 * including the account segment for path-style (emulator) URLs; query: raw (decoded)
 * pairs, any order, repeated names allowed; headers: every header sent with the request
 * (names in any case, raw values). Returns 0, or -1 when out grew past its limit. */
int az_string_to_sign(ut_buf *out, const char *method, const char *account, const char *path,
                      const az_pair *query, size_t n_query, const az_pair *headers,
                      size_t n_headers);

/* HMAC-SHA256 (OpenSSL); returns 0 or -1. */
int az_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen, uint8_t out[32]);

/* Appends "SharedKey ACCOUNT:BASE64(HMAC-SHA256(key, sts))" to out. Returns 0 or -1. */
int az_sharedkey_auth(ut_buf *out, const char *account, const uint8_t *key, size_t key_len,
                      const char *sts, size_t sts_len);

#endif
