/* s3_creds.h - where S3 credentials come from (internal to the S3 backend).
 *
 * The usual AWS order: explicit obstore_config keys -> AWS_* environment -> shared files
 * (~/.aws/credentials, ~/.aws/config, profiles) -> web identity token (STS
 * AssumeRoleWithWebIdentity) -> container endpoint (ECS / EKS Pod Identity) -> EC2 instance
 * metadata (IMDSv2). A profile gives static keys, or (botocore's order) a role to assume
 * with STS AssumeRole (role_arn + source_profile / credential_source), an SSO role (the
 * token `aws sso login` cached), or a credential_process to run. Everything but static keys
 * is a source of temporary credentials, fetched when first needed and again before they
 * expire; a role's source may itself be one (refreshed first). */
#ifndef STORE_S3_CREDS_H
#define STORE_S3_CREDS_H

#include "s3_req.h"
#include "store_share.h"

#include <uv.h>

struct net_engine;

typedef struct s3_cred_cfg {
    const char *access_key_id, *secret_access_key, *session_token; /* explicit (config/env) */
    const char *profile; /* NULL: AWS_PROFILE or "default" */
    const char *web_identity_token_file, *role_arn, *role_session_name, *sts_endpoint;
    const char *container_full_uri, *container_relative_uri, *container_token_file;
    const char *metadata_endpoint; /* IMDS, NULL: env or http://169.254.169.254 */
    const char *region;            /* the store's; STS's region when the profile has none */
    bool imds_disabled;
    bool imdsv1_fallback; /* go on without a token if IMDSv2's PUT is refused */
    bool profile_first;   /* the profile was named on purpose (botocore's --profile): its
                             credentials win over the explicit/env keys, which are used
                             only if it has none */
} s3_cred_cfg;

/* A network source of temporary credentials. */
typedef struct s3_credsrc s3_credsrc;

/* Looks for credentials in config, env and the shared files. Returns 0 with *out filled (a
 * static source found) or with *src set (a network source to ask later), or -1 with a
 * message when none is available (err names what was tried, never a secret). When the
 * shared config file names a region for the profile, *profile_region gets a malloc'ed
 * copy. */
int s3_creds_resolve(const s3_cred_cfg *cfg, uv_loop_t *loop, struct net_engine *net, s3_creds *out,
                     s3_credsrc **src, char **profile_region, char *err, size_t errlen);

/* The source's credentials if valid at now_ms (ms since epoch), else NULL. *refresh_due is
 * set when they expire within the refresh margin (5 minutes) or are missing. */
const s3_creds *s3_credsrc_current(s3_credsrc *src, int64_t now_ms, bool *refresh_due);

/* Starts fetching new credentials unless a fetch is running; cb runs once when that fetch
 * ends (status 0 or a store_code, message without secrets). */
typedef void (*s3_creds_cb)(void *arg, int status, const char *msg);
void s3_credsrc_refresh(s3_credsrc *src, s3_creds_cb cb, void *arg);

/* What kind of source it is ("web identity", "container", "instance metadata", ...). */
const char *s3_credsrc_name(const s3_credsrc *src);

/* The store's proxy options (url, CA file, excludes; NULL: unset) for the requests of src
 * and its parents to AWS endpoints (not to instance or container metadata). */
void s3_credsrc_set_proxy(s3_credsrc *src, const char *const proxy[3]);

/* One source for the stores of all fetch threads (store_share.h). The leader publishes its
 * source's credentials (or status and msg when it has none valid) to sh; a follower's
 * source takes them from sh: its refresh asks the leader. */
void s3_credsrc_publish(s3_credsrc *src, store_share *sh, int status, const char *msg);
s3_credsrc *s3_credsrc_follow(uv_loop_t *loop, store_share *sh);

/* Cancels a running fetch (its callback does not run) and frees. */
void s3_credsrc_free(s3_credsrc *src);

/* S3 Express One Zone session credentials: CreateSession (GET url, whose Host is authority
 * and canonical path/query are given) signed (service s3express) with base or inner's
 * credentials, again before the session (5 minutes) expires. Takes inner in every case. */
s3_credsrc *s3_express_new(uv_loop_t *loop, const s3_creds *base, s3_credsrc *inner,
                           const char *url, const char *authority, const char *path,
                           const char *query, const char *region, char *err, size_t errlen);

/* Shared-file parsing, exposed for tests: looks up `key` in section `section` of an
 * INI-style AWS file. Returns a malloc'ed value or NULL. */
char *s3_ini_get(const char *path, const char *section, const char *key);

/* The string member `key` of the top-level object of a JSON document (IMDS / container
 * responses), decoded, malloc'ed; NULL when absent, not a string, or too long. */
char *s3_json_get_string(const char *json, size_t n, const char *key);

#endif
