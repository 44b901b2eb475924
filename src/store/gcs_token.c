/* gcs_token.c - Google token providers for the GCS store (see gcs_token.h). */
#include "gcs_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCS_SUBJECT_MAX (64u << 10)

void gcs_token_ctx_free(gcs_token_ctx *c) {
    free(c->metadata_url);
    ut_free_secret(&c->sts_token);
    memset(c, 0, sizeof *c);
}

const char *gcs_token_source(const gcs_token_ctx *c) {
    if (c->kind == GCS_TOK_METADATA)
        return "the GCE metadata server";
    if (c->kind == GCS_TOK_EXTERNAL)
        return "the workload identity federation exchange (external_account)";
    return "the OAuth token endpoint";
}

/* Ends a step with the OAuth2 token document in body (field: its token's name). */
static int take_token(store_token *t, const char *src, const char *body, size_t len,
                      const char *field, char *err, size_t errlen) {
    char *tok = NULL;
    int64_t left = 0;
    char perr[160];
    if (store_token_parse(body, len, field, store_token_now_ms() / 1000, &tok, &left, perr,
                          sizeof perr) != 0) {
        ut_msgf(err, errlen, "access token from %s: %s", src, perr);
        return STORE_E_AUTH;
    }
    int rc = store_token_set(t, tok, left);
    ut_free_secret(&tok);
    return rc;
}

/* The subject token out of what the credential source gave (text, or a JSON field). */
static char *subject_of(const gcs_external *e, const char *s, size_t n, char *err, size_t errlen) {
    if (!e->field) {
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
            n--;
        char *r = malloc(n + 1);
        if (r) {
            memcpy(r, s, n);
            r[n] = 0;
        }
        if (r && !n) {
            free(r);
            ut_msgf(err, errlen, "the external_account subject token is empty");
            return NULL;
        }
        return r;
    }
    ut_json d;
    char jerr[96];
    if (ut_json_parse(&d, s, n, 4096, jerr, sizeof jerr) != 0) {
        ut_msgf(err, errlen, "the external_account subject token source is not JSON (%s)", jerr);
        return NULL;
    }
    size_t i = d.n && d.tok[0].type == UT_JSON_OBJECT ? ut_json_get(&d, 0, e->field) : UT_JSON_NONE;
    char *r = i == UT_JSON_NONE ? NULL : ut_json_strdup(&d, i);
    ut_json_free(&d);
    if (!r || !r[0]) {
        ut_free_secret(&r);
        ut_msgf(err, errlen, "the external_account subject token source has no '%.*s'",
                ut_utf8_prec(e->field, 60), e->field);
    }
    return r;
}

static int sts_request(store_token *t, const gcs_external *e, const char *subject, char *err,
                       size_t errlen) {
    ut_buf b = {0};
    b.limit = STORE_TOKEN_MAX_BODY;
    store_token_form(&b, "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
    store_token_form(&b, "audience", e->audience);
    /* google-auth asks STS for cloud-platform when it impersonates next, else for the
     * scope it needs */
    store_token_form(&b, "scope", e->impersonation_url ? GCS_SCOPE_CLOUD : GCS_SCOPE_RO);
    store_token_form(&b, "requested_token_type", "urn:ietf:params:oauth:token-type:access_token");
    store_token_form(&b, "subject_token", subject);
    store_token_form(&b, "subject_token_type", e->subject_token_type);
    if (e->workforce_user_project && !e->impersonation_url) {
        ut_buf o = {0};
        ut_buf_puts(&o, "{\"userProject\":");
        ut_json_escape(&o, e->workforce_user_project, strlen(e->workforce_user_project));
        ut_buf_putc(&o, '}');
        store_token_form(&b, "options", ut_buf_str(&o));
        ut_buf_free(&o);
    }
    static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    int rc = b.bad ? STORE_E_NOMEM : store_token_http(t, "POST", e->token_url, hdrs, b.p, b.len);
    ut_buf_free(&b);
    if (rc)
        ut_msgf(err, errlen, "external_account: out of memory");
    return rc;
}

/* external_account: step 0 subject (file, or GET url), then STS, then impersonation. */
static int external_step(store_token *t, gcs_token_ctx *c, unsigned step,
                         const store_token_resp *prev, char *err, size_t errlen) {
    const gcs_external *e = &c->key->ext;
    const char *src = "external_account";
    /* which request prev answers: 0 subject url, 1 STS, 2 impersonation; a file source
     * has no request 0 */
    unsigned what = e->file ? step : step - 1;
    if (step == 0) {
        ut_free_secret(&c->sts_token);
        if (e->url) {
            const char *hdrs[GCS_EXT_MAX_HEADERS + 1] = {0};
            for (size_t i = 0; i < GCS_EXT_MAX_HEADERS && e->headers[i]; i++)
                hdrs[i] = e->headers[i];
            return store_token_http(t, "GET", e->url, hdrs, NULL, 0);
        }
        char why[160];
        size_t n = 0;
        char *raw = ut_read_file(e->file, GCS_SUBJECT_MAX, &n, why, sizeof why);
        if (!raw) {
            ut_msgf(err, errlen, "%s: cannot read the credential_source file '%s': %s", src,
                    e->file, why);
            return STORE_E_AUTH;
        }
        char *subject = subject_of(e, raw, n, err, errlen);
        ut_free_secret(&raw);
        if (!subject)
            return STORE_E_AUTH;
        int rc = sts_request(t, e, subject, err, errlen);
        ut_free_secret(&subject);
        return rc;
    }
    if (prev->net_status != NET_OK) {
        const char *who = what == 0   ? "the external_account credential_source url"
                          : what == 1 ? "the STS token exchange (token_url)"
                                      : "the service account impersonation";
        const char *ep = what == 0 ? e->url : what == 1 ? e->token_url : e->impersonation_url;
        const char *hint = what == 1   ? "check audience and subject_token_type against the "
                                         "workload identity pool provider"
                           : what == 2 ? "the pool's principal needs "
                                         "roles/iam.workloadIdentityUser on the service account"
                                       : "";
        return store_token_failure(prev, who, ep, hint, err, errlen);
    }
    if (what == 0) {
        char *subject = subject_of(e, prev->body, prev->len, err, errlen);
        if (!subject)
            return STORE_E_AUTH;
        int rc = sts_request(t, e, subject, err, errlen);
        ut_free_secret(&subject);
        return rc;
    }
    if (what == 1 && !e->impersonation_url)
        return take_token(t, "the STS token exchange", prev->body, prev->len, "access_token", err,
                          errlen);
    if (what == 1) {
        char *sts = NULL;
        int64_t left = 0;
        char perr[160];
        if (store_token_parse(prev->body, prev->len, "access_token", store_token_now_ms() / 1000,
                              &sts, &left, perr, sizeof perr) != 0) {
            ut_msgf(err, errlen, "the STS token exchange: %s", perr);
            return STORE_E_AUTH;
        }
        ut_buf auth = {0}, body = {0};
        ut_buf_printf(&auth, "Authorization: Bearer %s", sts);
        ut_free_secret(&sts);
        ut_buf_printf(&body, "{\"scope\":[\"%s\"],\"lifetime\":\"%llds\"}", GCS_SCOPE_RO,
                      (long long)e->lifetime_s);
        const char *hdrs[] = {ut_buf_str(&auth), "Content-Type: application/json", NULL};
        int rc = auth.bad || body.bad
                     ? STORE_E_NOMEM
                     : store_token_http(t, "POST", e->impersonation_url, hdrs, body.p, body.len);
        ut_buf_free(&auth);
        ut_buf_free(&body);
        return rc;
    }
    return take_token(t, "the service account impersonation", prev->body, prev->len, "accessToken",
                      err, errlen);
}

int gcs_token_step(store_token *t, void *ctx, unsigned step, const store_token_resp *prev,
                   char *err, size_t errlen) {
    gcs_token_ctx *c = ctx;
    const char *src = gcs_token_source(c);
    if (c->kind == GCS_TOK_EXTERNAL)
        return external_step(t, c, step, prev, err, errlen);
    if (step == 0) {
        if (c->kind == GCS_TOK_METADATA) {
            static const char *const hdrs[] = {"Metadata-Flavor: Google", NULL};
            return store_token_http(t, "GET", c->metadata_url, hdrs, NULL, 0);
        }
        ut_buf b = {0};
        b.limit = STORE_TOKEN_MAX_BODY;
        if (gcs_token_request_body(&b, c->key, store_token_now_ms() / 1000, err, errlen) != 0) {
            ut_buf_free(&b);
            return STORE_E_AUTH;
        }
        static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
        int rc = store_token_http(t, "POST", c->key->token_uri, hdrs, b.p, b.len);
        ut_buf_free(&b);
        return rc;
    }
    if (prev->net_status != NET_OK)
        return store_token_failure(
            prev, src, c->kind == GCS_TOK_METADATA ? c->metadata_url : c->key->token_uri,
            c->kind == GCS_TOK_METADATA ? "check the instance's service account and scopes"
            : c->key->type && strcmp(c->key->type, "authorized_user") == 0
                ? "the refresh token was revoked or expired: run "
                  "'gcloud auth application-default login' again"
                : "check the key file and the system clock",
            err, errlen);
    return take_token(t, src, prev->body, prev->len, "access_token", err, errlen);
}
