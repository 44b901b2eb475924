/* gcs_token.h - Google access tokens for the GCS store (internal): the store_token.h
 * provider for each credential kind. Facts from Google's docs (AIP-4117, the metadata
 * server, OAuth2 token endpoint, STS and IAM Credentials APIs):
 *
 *   service_account  POST token_uri, grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer,
 *                    assertion = RS256 JWT (gcs_auth.h)
 *   authorized_user  POST token_uri, grant_type=refresh_token, client_id, client_secret,
 *                    refresh_token (gcloud's application default credentials)
 *   metadata server  GET http://HOST/computeMetadata/v1/instance/service-accounts/default/
 *                    token with Metadata-Flavor: Google (HOST: GCE_METADATA_HOST or
 *                    metadata.google.internal)
 *   external_account the subject token from credential_source (a file read at every fetch,
 *                    or a GET of its url with its headers; text, or a JSON field), then
 *                    POST token_url (STS): grant_type=urn:ietf:params:oauth:grant-type:
 *                    token-exchange, audience, scope, requested_token_type=urn:ietf:params:
 *                    oauth:token-type:access_token, subject_token, subject_token_type
 *                    [, options={"userProject":..} for workforce pools]; then, with
 *                    service_account_impersonation_url, POST there with the STS token as
 *                    bearer and {"scope": [..], "lifetime": "Ns"}: accessToken, expireTime */
#ifndef STORE_GCS_TOKEN_H
#define STORE_GCS_TOKEN_H

#include "gcs_auth.h"
#include "store_token.h"

typedef enum { GCS_TOK_KEY, GCS_TOK_METADATA, GCS_TOK_EXTERNAL } gcs_tok_kind;

typedef struct gcs_token_ctx {
    gcs_tok_kind kind;
    const gcs_key *key; /* KEY, EXTERNAL (the store owns it) */
    char *metadata_url; /* METADATA */
    char *sts_token;    /* EXTERNAL, between the exchange and the impersonation */
} gcs_token_ctx;

/* The store_token provider; ctx is a gcs_token_ctx. */
int gcs_token_step(store_token *t, void *ctx, unsigned step, const store_token_resp *prev,
                   char *err, size_t errlen);
const char *gcs_token_source(const gcs_token_ctx *c);
void gcs_token_ctx_free(gcs_token_ctx *c);

#endif
