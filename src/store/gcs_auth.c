/* gcs_auth.c - Google key files, JWT assertions, token responses (see gcs_auth.h). */
#include "gcs_auth.h"

#include "gcs_json.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gcs_key_free(gcs_key *k) {
    ut_free_secret(&k->type);
    ut_free_secret(&k->client_email);
    ut_free_secret(&k->private_key);
    ut_free_secret(&k->private_key_id);
    ut_free_secret(&k->token_uri);
    ut_free_secret(&k->client_id);
    ut_free_secret(&k->client_secret);
    ut_free_secret(&k->refresh_token);
    ut_free_secret(&k->gcs_base_url);
    gcs_external *e = &k->ext;
    free(e->audience);
    free(e->subject_token_type);
    free(e->token_url);
    free(e->impersonation_url);
    free(e->file);
    free(e->url);
    for (size_t i = 0; i < GCS_EXT_MAX_HEADERS; i++)
        ut_free_secret(&e->headers[i]);
    free(e->field);
    free(e->workforce_user_project);
    memset(k, 0, sizeof *k);
}

static char *member_of(const ut_json *d, size_t obj, const char *name) {
    if (obj == UT_JSON_NONE || d->tok[obj].type != UT_JSON_OBJECT)
        return NULL;
    size_t i = ut_json_get(d, obj, name);
    return i == UT_JSON_NONE ? NULL : ut_json_strdup(d, i);
}

static bool http_url(const char *u) {
    return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) &&
           !strpbrk(u, " \r\n");
}

/* type external_account: https://google.aip.dev/auth/4117 (file and URL sources). */
static int parse_external(gcs_key *k, const ut_json *d, char *err, size_t errlen) {
    gcs_external *e = &k->ext;
    e->audience = member_of(d, 0, "audience");
    e->subject_token_type = member_of(d, 0, "subject_token_type");
    e->token_url = member_of(d, 0, "token_url");
    e->impersonation_url = member_of(d, 0, "service_account_impersonation_url");
    e->workforce_user_project = member_of(d, 0, "workforce_pool_user_project");
    e->lifetime_s = 3600;
    size_t imp = ut_json_get(d, 0, "service_account_impersonation");
    if (imp != UT_JSON_NONE && d->tok[imp].type == UT_JSON_OBJECT) {
        size_t l = ut_json_get(d, imp, "token_lifetime_seconds");
        uint64_t v;
        if (l != UT_JSON_NONE && ut_json_u64(d, l, &v) == 0 && v >= 600 && v <= 43200)
            e->lifetime_s = (int64_t)v;
    }
    if (!e->token_url) {
        e->token_url = strdup(GCS_DEFAULT_STS_URL);
        if (!e->token_url)
            return snprintf(err, errlen, "out of memory"), -1;
    }
    size_t cs = ut_json_get(d, 0, "credential_source");
    if (!e->audience || !e->subject_token_type || cs == UT_JSON_NONE ||
        d->tok[cs].type != UT_JSON_OBJECT) {
        snprintf(err, errlen,
                 "the Google external_account file lacks audience, "
                 "subject_token_type or credential_source");
        return -1;
    }
    if (ut_json_get(d, cs, "environment_id") != UT_JSON_NONE ||
        ut_json_get(d, cs, "executable") != UT_JSON_NONE) {
        snprintf(err, errlen,
                 "external_account credentials sourced from AWS or an executable are not "
                 "supported: use a credential_source with a file or url (e.g. a token file "
                 "your platform writes), or a service-account key");
        return -1;
    }
    e->file = member_of(d, cs, "file");
    e->url = member_of(d, cs, "url");
    if (!e->file == !e->url) {
        snprintf(err, errlen,
                 "the external_account credential_source needs exactly one of "
                 "file and url");
        return -1;
    }
    size_t h = ut_json_get(d, cs, "headers");
    if (h != UT_JSON_NONE && d->tok[h].type == UT_JSON_OBJECT) {
        size_t n = 0;
        for (size_t i = h + 1; i < d->tok[h].after && n < d->tok[h].size;) {
            size_t v = i + 1; /* key i, value v */
            ut_buf line = {0};
            ut_json_str(d, i, &line);
            ut_buf_puts(&line, ": ");
            ut_json_str(d, v, &line);
            if (n == GCS_EXT_MAX_HEADERS || line.bad || strpbrk(ut_buf_str(&line), "\r\n")) {
                ut_buf_free(&line);
                snprintf(err, errlen,
                         "the external_account credential_source.headers are "
                         "more than %d or malformed",
                         GCS_EXT_MAX_HEADERS);
                return -1;
            }
            e->headers[n++] = ut_buf_take(&line);
            i = d->tok[v].after;
        }
    }
    size_t f = ut_json_get(d, cs, "format");
    if (f != UT_JSON_NONE && d->tok[f].type == UT_JSON_OBJECT) {
        char *t = member_of(d, f, "type");
        bool json = t && strcmp(t, "json") == 0;
        free(t);
        if (json) {
            e->field = member_of(d, f, "subject_token_field_name");
            if (!e->field) {
                snprintf(err, errlen,
                         "the external_account credential_source.format is json "
                         "but names no subject_token_field_name");
                return -1;
            }
        }
    }
    if (!http_url(e->token_url) || (e->impersonation_url && !http_url(e->impersonation_url)) ||
        (e->url && !http_url(e->url))) {
        snprintf(err, errlen,
                 "the external_account file's token_url, "
                 "service_account_impersonation_url and credential_source.url "
                 "must be http(s) URLs");
        return -1;
    }
    return 0;
}

static char *member(const ut_json *d, const char *name) {
    size_t i = ut_json_get(d, 0, name);
    return i == UT_JSON_NONE ? NULL : ut_json_strdup(d, i);
}

int gcs_key_parse(gcs_key *k, const char *json, size_t len, char *err, size_t errlen) {
    memset(k, 0, sizeof *k);
    ut_json d;
    char jerr[96];
    if (ut_json_parse(&d, json, len, 4096, jerr, sizeof jerr) != 0) {
        snprintf(err, errlen, "the Google credentials file is not valid JSON (%s)", jerr);
        return -1;
    }
    if (d.tok[0].type != UT_JSON_OBJECT) {
        ut_json_free(&d);
        snprintf(err, errlen, "the Google credentials file is not a JSON object");
        return -1;
    }
    k->type = member(&d, "type");
    k->client_email = member(&d, "client_email");
    k->private_key = member(&d, "private_key");
    k->private_key_id = member(&d, "private_key_id");
    k->token_uri = member(&d, "token_uri");
    k->client_id = member(&d, "client_id");
    k->client_secret = member(&d, "client_secret");
    k->refresh_token = member(&d, "refresh_token");
    k->gcs_base_url = member(&d, "gcs_base_url");
    size_t dis = ut_json_get(&d, 0, "disable_oauth");
    k->disable_oauth = dis != UT_JSON_NONE && d.tok[dis].type == UT_JSON_TRUE;
    bool ext = !k->disable_oauth && k->type && strcmp(k->type, "external_account") == 0;
    int ext_rc = ext ? parse_external(k, &d, err, errlen) : 0;
    ut_json_free(&d);
    if (ext) {
        if (ext_rc)
            gcs_key_free(k);
        return ext_rc;
    }
    if (!k->token_uri || !k->token_uri[0]) {
        free(k->token_uri);
        k->token_uri = strdup(GCS_DEFAULT_TOKEN_URI);
        if (!k->token_uri)
            goto nomem;
    }
    if (k->disable_oauth)
        return 0;
    if (k->type && strcmp(k->type, "authorized_user") == 0) {
        if (!k->client_id || !k->client_secret || !k->refresh_token) {
            snprintf(err, errlen,
                     "the Google authorized_user credentials lack client_id, "
                     "client_secret or refresh_token");
            gcs_key_free(k);
            return -1;
        }
        return 0;
    }
    if (k->type && strcmp(k->type, "service_account") != 0) {
        snprintf(err, errlen,
                 "Google credentials of type '%.*s' are not supported (use a "
                 "service_account, authorized_user or external_account file)",
                 ut_utf8_prec(k->type, 40), k->type);
        gcs_key_free(k);
        return -1;
    }
    if (!k->client_email || !k->private_key || !k->client_email[0] || !k->private_key[0]) {
        snprintf(err, errlen,
                 "the Google service-account key lacks client_email or "
                 "private_key");
        gcs_key_free(k);
        return -1;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    gcs_key_free(k);
    return -1;
}

/* JSON string literal of s (for the JWT's header and claims). */
static void put_json_str(ut_buf *b, const char *s) { ut_json_escape(b, s, strlen(s)); }

static int rs256(const char *pem, const void *data, size_t n, ut_buf *sig_b64, char *err,
                 size_t errlen) {
    int rc = -1;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    if (!pkey) {
        snprintf(err, errlen, "the service-account private_key is not a readable PEM key");
        goto out;
    }
    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        snprintf(err, errlen, "the service-account private_key is not an RSA key");
        goto out;
    }
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, data, n) != 1 || siglen > 2048 ||
        !(sig = malloc(siglen)) || EVP_DigestSign(ctx, sig, &siglen, data, n) != 1) {
        snprintf(err, errlen, "RS256 signing with the service-account key failed");
        goto out;
    }
    ut_base64_encode(sig_b64, sig, siglen, true);
    rc = sig_b64->bad ? -1 : 0;
out:
    free(sig);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

int gcs_jwt_make(ut_buf *out, ut_buf *signing_input, const gcs_key *k, const char *scope,
                 int64_t now_s, char *err, size_t errlen) {
    ut_buf hdr = {0}, claims = {0}, in = {0};
    ut_buf_puts(&hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\"");
    if (k->private_key_id && k->private_key_id[0]) {
        ut_buf_puts(&hdr, ",\"kid\":");
        put_json_str(&hdr, k->private_key_id);
    }
    ut_buf_putc(&hdr, '}');
    ut_buf_puts(&claims, "{\"iss\":");
    put_json_str(&claims, k->client_email);
    ut_buf_puts(&claims, ",\"scope\":");
    put_json_str(&claims, scope);
    ut_buf_puts(&claims, ",\"aud\":");
    put_json_str(&claims, k->token_uri);
    ut_buf_printf(&claims, ",\"iat\":%lld,\"exp\":%lld}", (long long)now_s,
                  (long long)(now_s + 3600));
    int rc = -1;
    if (hdr.bad || claims.bad) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    ut_base64_encode(&in, hdr.p, hdr.len, true);
    ut_buf_putc(&in, '.');
    ut_base64_encode(&in, claims.p, claims.len, true);
    if (in.bad) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    ut_buf_put(out, in.p, in.len);
    ut_buf_putc(out, '.');
    if (rs256(k->private_key, in.p, in.len, out, err, errlen) != 0)
        goto out;
    if (signing_input)
        ut_buf_put(signing_input, in.p, in.len);
    rc = out->bad ? -1 : 0;
out:
    ut_buf_free(&hdr);
    ut_buf_free(&claims);
    ut_buf_free(&in);
    return rc;
}

int gcs_token_request_body(ut_buf *out, const gcs_key *k, int64_t now_s, char *err, size_t errlen) {
    if (k->type && strcmp(k->type, "authorized_user") == 0) {
        ut_buf_puts(out, "grant_type=refresh_token&client_id=");
        ut_pct_encode(out, k->client_id, strlen(k->client_id), false);
        ut_buf_puts(out, "&client_secret=");
        ut_pct_encode(out, k->client_secret, strlen(k->client_secret), false);
        ut_buf_puts(out, "&refresh_token=");
        ut_pct_encode(out, k->refresh_token, strlen(k->refresh_token), false);
        return out->bad ? -1 : 0;
    }
    ut_buf jwt = {0};
    if (gcs_jwt_make(&jwt, NULL, k, GCS_SCOPE_RO, now_s, err, errlen) != 0) {
        ut_buf_free(&jwt);
        return -1;
    }
    ut_buf_puts(out, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                     "&assertion=");
    ut_buf_put(out, jwt.p, jwt.len); /* base64url and '.': nothing to encode */
    ut_buf_free(&jwt);
    return out->bad ? -1 : 0;
}
