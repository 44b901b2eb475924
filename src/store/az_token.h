/* az_token.h - Microsoft Entra ID (Azure AD) access tokens for Blob Storage (internal): the
 * providers that store_token.h runs for store_azure.c. Facts from Microsoft's docs and
 * object_store's azure/credential.rs (names and request shapes):
 *
 *   client secret     POST {authority_host}/{tenant_id}/oauth2/v2.0/token, form
 *                     grant_type=client_credentials, client_id, client_secret, scope
 *   workload identity the same POST with client_assertion_type=urn:ietf:params:oauth:
 *                     client-assertion-type:jwt-bearer and client_assertion = the
 *                     federated token file's content, read again for every fetch (the
 *                     kubelet rotates it)
 *   managed identity  GET {msi_endpoint}?api-version=2018-02-01&resource=https://storage.
 *                     azure.com[&client_id=|&object_id=|&msi_res_id=], header Metadata: true
 *                     (and X-IDENTITY-HEADER from IDENTITY_HEADER on App Service); the answer
 *                     gives expires_in/expires_on as strings of digits
 *   Azure CLI         az account get-access-token --output json --scope
 *                     https://storage.azure.com/.default (object_store's arguments), run
 *                     with a time and output bound; accessToken, expires_on / expiresOn */
#ifndef STORE_AZ_TOKEN_H
#define STORE_AZ_TOKEN_H

#include "store_token.h"

#define AZ_STORAGE_SCOPE "https://storage.azure.com/.default"
#define AZ_STORAGE_RESOURCE "https://storage.azure.com"
#define AZ_AUTHORITY_HOST "https://login.microsoftonline.com"
#define AZ_IMDS_ENDPOINT "http://169.254.169.254/metadata/identity/oauth2/token"
#define AZ_IMDS_API_VERSION "2018-02-01"

typedef enum { AZ_TOK_CLIENT_SECRET, AZ_TOK_WORKLOAD, AZ_TOK_IMDS, AZ_TOK_CLI } az_tok_kind;

typedef struct az_token_cfg {
    az_tok_kind kind;
    char *url;             /* the token endpoint (IMDS: with its query) */
    char *client_id;       /* secret, workload */
    char *client_secret;   /* secret */
    char *federated_file;  /* workload */
    char *identity_header; /* IMDS on App Service (IDENTITY_HEADER), or NULL */
    char *cli;             /* the az program (PATH searched) */
    unsigned cli_timeout_ms;
} az_token_cfg;

/* The store_token provider; ctx is an az_token_cfg. */
int az_token_step(store_token *t, void *ctx, unsigned step, const store_token_resp *prev, char *err,
                  size_t errlen);
/* What each flow is called in messages ("the Azure AD token endpoint", ...). */
const char *az_token_source(const az_token_cfg *c);
/* Frees and wipes. */
void az_token_cfg_free(az_token_cfg *c);

/* Runs argv (argv[0] searched in PATH) with stdin from /dev/null, collecting at most cap
 * bytes of its stdout into *out (NUL-terminated) and the first line of its stderr into
 * errline; kills it after timeout_ms. Returns its exit status (0..255), or -1 with the
 * reason in errline (not found, timed out, output too large). */
int az_run_capture(char *const argv[], unsigned timeout_ms, size_t cap, ut_buf *out, char *errline,
                   size_t errlen);

#endif
