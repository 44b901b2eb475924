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
#define GCS_DEFAULT_STS_URL "https://sts.googleapis.com/v1/token"
#define GCS_SCOPE_CLOUD "https://www.googleapis.com/auth/cloud-platform"

/* An external_account (workload identity federation) file's fields. */
#define GCS_EXT_MAX_HEADERS 3
typedef struct gcs_external {
    char *audience, *subject_token_type;
    char *token_url;         /* the STS endpoint (default GCS_DEFAULT_STS_URL) */
    char *impersonation_url; /* service_account_impersonation_url, or NULL */
    int64_t lifetime_s;      /* service_account_impersonation.token_lifetime_seconds */
    char *file, *url;        /* credential_source: exactly one */
    char *headers[GCS_EXT_MAX_HEADERS + 1]; /* credential_source.headers as "Name: value" */
    char *field;                            /* format json: subject_token_field_name; NULL: text */
    char *workforce_user_project;           /* workforce pools: billed project, or NULL */
} gcs_external;

typedef struct gcs_key {
    char *type;           /* "service_account", "authorized_user" or "external_account" */
    char *client_email;   /* service_account */
    char *private_key;    /* PEM */
    char *private_key_id; /* may be NULL */
    char *token_uri;      /* default GCS_DEFAULT_TOKEN_URI */
    char *client_id, *client_secret, *refresh_token; /* authorized_user */
    char *gcs_base_url; /* object_store's test hook in the key file; may be NULL */
    bool disable_oauth; /* object_store's "disable_oauth" (anonymous) */
    gcs_external ext;   /* external_account */
} gcs_key;

/* Parses a key file's JSON: service_account, authorized_user, or external_account with a
 * file or URL credential_source (AWS and executable sources are refused, naming what to
 * use instead). Returns 0 or -1 with a message (never key material). */
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

#endif
