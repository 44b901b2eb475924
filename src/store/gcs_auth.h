/* gcs_auth.h - Google credentials (internal; pure, no I/O): service-account and
 * authorized-user JSON keys, the RS256-signed JWT exchanged for an OAuth2 access token
 * (RFC 7523 "jwt-bearer" grant), and token responses. Checked against
 * `openssl dgst -sha256 -sign` over the same signing input (tests/store/gcs_*). */
#ifndef STORE_GCS_AUTH_H
#define STORE_GCS_AUTH_H

#include "util.h"
#include "store.h"

#include <stdint.h>

#define GCS_SCOPE_RO "https://www.googleapis.com/auth/devstorage.read_only"
#define GCS_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"

typedef struct gcs_key {
    char *type;                                      /* "service_account" or "authorized_user" */
    char *client_email;                              /* service_account */
    char *private_key;                               /* PEM */
    char *private_key_id;                            /* may be NULL */
    char *token_uri;                                 /* default GCS_DEFAULT_TOKEN_URI */
    char *client_id, *client_secret, *refresh_token; /* authorized_user */
    char *gcs_base_url; /* object_store's test hook in the key file; may be NULL */
    bool disable_oauth; /* object_store's "disable_oauth" (anonymous) */
} gcs_key;

/* Parses a key file's JSON. Returns 0 or -1 with a message (never key material). */
int gcs_key_parse(gcs_key *k, const char *json, size_t len, char *err, size_t errlen);
/* Frees and wipes. */
void gcs_key_free(gcs_key *k);

/* The JWT assertion for a service account: header.claims.signature, RS256 with the key's
 * PEM private key, iat = now_s, exp = now_s + 3600. If signing_input is non-NULL it also
 * receives "header.claims" (for tests). Returns 0 or -1 with err. */
int gcs_jwt_make(ut_buf *out, ut_buf *signing_input, const gcs_key *k, const char *scope,
                 int64_t now_s, char *err, size_t errlen);

/* The form body of a token request ("grant_type=..&assertion=.." or the refresh-token
 * grant for authorized_user keys). Returns 0 or -1 with err. */
int gcs_token_request_body(ut_buf *out, const gcs_key *k, int64_t now_s, char *err, size_t errlen);

/* Parses {"access_token": "...", "expires_in": N, "token_type": "Bearer"}: *token becomes
 * a malloc'ed copy. Returns 0 or -1 with err. */
int gcs_token_parse(const char *json, size_t len, char **token, int64_t *expires_in_s, char *err,
                    size_t errlen);

#endif
