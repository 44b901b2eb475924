/* s3_creds.c - the S3 credential chain: config/env, shared files (static keys, role
 * profiles, SSO profiles, credential_process), and the network sources of temporary
 * credentials (STS AssumeRole / AssumeRoleWithWebIdentity, SSO GetRoleCredentials,
 * container endpoint, EC2 IMDSv2, S3 Express CreateSession).
 *
 * Formats are AWS's documented ones: the INI files of the CLI/SDKs, STS's XML
 * AssumeRoleWithWebIdentityResponse, and the JSON document of the container endpoint and
 * IMDS ({"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}). The JSON reader below is
 * deliberately tiny: flat objects, string values, bounded sizes. */
#include "s3_creds.h"
#include "s3_process.h"
#include "store.h"
#include "remote.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define INI_MAX_LINE 4096
#define CRED_MAX_BODY (256u * 1024u)
#define CRED_MAX_FILE (64u * 1024u)
#define REFRESH_MARGIN_MS (5 * 60 * 1000)
#define REFRESH_RETRY_MS (10 * 1000)

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

char *s3_ini_get(const char *path, const char *section, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[INI_MAX_LINE];
    bool in = false;
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        char *t = trim(line);
        if (*t == '#' || *t == ';' || !*t)
            continue;
        if (*t == '[') {
            char *e = strchr(t, ']');
            if (!e)
                continue;
            *e = '\0';
            in = strcmp(trim(t + 1), section) == 0;
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (strcasecmp(trim(t), key) == 0)
            found = ut_strdup(trim(eq + 1));
    }
    fclose(f);
    return found;
}

/* Whether the file has a [section] header (a profile may exist with no keys at all). */
static bool ini_has_section(const char *path, const char *section) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[INI_MAX_LINE];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *t = trim(line);
        if (*t != '[')
            continue;
        char *e = strchr(t, ']');
        if (!e)
            continue;
        *e = '\0';
        found = strcmp(trim(t + 1), section) == 0;
    }
    fclose(f);
    return found;
}

static void home_path(char *out, size_t len, const char *env, const char *rel) {
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, len, "%s", e);
        return;
    }
    const char *home = getenv("HOME");
    snprintf(out, len, "%s/%s", home ? home : ".", rel);
}

/* ------------------------------------------------------------------ JSON */

/* Value of the string member `key` of the top-level JSON object (util's bounded reader);
 * NULL if absent, not a string, or the document is not JSON. */
char *s3_json_get_string(const char *js, size_t n, const char *key) {
    ut_json d;
    char jerr[128];
    if (n > CRED_MAX_BODY || ut_json_parse(&d, js, n, n / 2 + 16, jerr, sizeof jerr) != 0)
        return NULL;
    char *v = ut_json_strdup(&d, ut_json_get(&d, 0, key));
    ut_json_free(&d);
    return v;
}

#include "net.h"

#include <expat.h>

/* Reads a whole small file (token files), trimmed; NULL if missing or too big. */
static char *read_small_file(const char *path) {
    char *buf = ut_read_file(path, CRED_MAX_FILE, NULL, NULL, 0);
    if (!buf)
        return NULL;
    char *t = trim(buf);
    memmove(buf, t, strlen(t) + 1);
    return buf;
}

/* ------------------------------------------------------------------ network sources */

typedef enum {
    SRC_WEB_IDENTITY,
    SRC_CONTAINER,
    SRC_IMDS,
    SRC_ASSUME_ROLE, /* STS AssumeRole signed with a parent's credentials */
    SRC_SSO,         /* the SSO portal's GetRoleCredentials with the CLI's cached token */
    SRC_PROCESS,     /* credential_process */
    SRC_EXPRESS,     /* S3 Express CreateSession signed with a parent's credentials */
    SRC_SHARED,      /* another thread's store's source (store_share.h) */
} src_kind;

struct s3_credsrc {
    src_kind kind;
    uv_loop_t *loop;
    net_engine *net; /* our own, with short timeouts (IMDS may not exist at all) */
    s3_creds creds;
    bool have;
    bool fetching;
    int64_t next_try_ms; /* after a failed refresh while old credentials still work */
    int64_t fetched_ms;
    s3_creds_cb cb;
    void *cb_arg;
    /* configuration */
    char *token_file, *role_arn, *session_name, *sts_url; /* web identity */
    char *container_url, *auth_token, *auth_token_file;   /* container */
    char *imds_base;                                      /* IMDS */
    bool imdsv1_fallback;
    /* AssumeRole / Express: the parent credentials to sign with: static, or a source */
    s3_creds base;
    s3_credsrc *inner;
    char *sign_region, *authority, *canon_path, *canon_query; /* of the signed request */
    char *external_id, *duration;                             /* AssumeRole */
    char *sso_cache, *sso_login_hint, *sso_url;               /* SSO */
    char **argv;                                              /* credential_process */
    s3_proc *job;
    char *proxy[3];                 /* proxy_url, proxy_ca_certificate, proxy_excludes (remote.h) */
    store_share_follower *follower; /* SRC_SHARED */
    /* the fetch in progress */
    net_request nr;
    int step; /* IMDS: 0 token, 1 role name, 2 credentials */
    ut_buf body;
    ut_buf req_body;
    char *imds_token;
    char *role;
    char hdr[3][CRED_MAX_FILE / 8];
    const char *hdr_ptrs[3];
    char url[2048];
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *s3_credsrc_name(const s3_credsrc *src) {
    switch (src->kind) {
    case SRC_WEB_IDENTITY:
        return "web identity (STS AssumeRoleWithWebIdentity)";
    case SRC_CONTAINER:
        return "container credentials endpoint";
    case SRC_ASSUME_ROLE:
        return "STS AssumeRole";
    case SRC_SSO:
        return "SSO (GetRoleCredentials)";
    case SRC_PROCESS:
        return "credential_process";
    case SRC_EXPRESS:
        return "S3 Express CreateSession";
    case SRC_SHARED:
        return "the run's shared credentials";
    default:
        return "EC2 instance metadata (IMDSv2)";
    }
}

const s3_creds *s3_credsrc_current(s3_credsrc *src, int64_t now, bool *refresh_due) {
    bool valid = src->have && now < src->creds.expires_ms;
    /* 5 minutes early, or half-way through credentials that live less than 10 minutes, so a
     * short-lived source is not asked again at every request */
    int64_t margin = REFRESH_MARGIN_MS;
    if (src->have && src->creds.expires_ms != INT64_MAX &&
        (src->creds.expires_ms - src->fetched_ms) / 2 < margin)
        margin = (src->creds.expires_ms - src->fetched_ms) / 2;
    *refresh_due = !src->have || now >= src->creds.expires_ms - margin;
    if (*refresh_due && valid && now < src->next_try_ms)
        *refresh_due = false; /* the last refresh failed; the old ones still work */
    return valid ? &src->creds : NULL;
}

static void fetch_step(s3_credsrc *src);

static void fetch_end(s3_credsrc *src, int status, const char *msg) {
    src->fetching = false;
    OPENSSL_cleanse(src->hdr, sizeof src->hdr); /* an SSO bearer token, say */
    ut_buf_free(&src->body);
    ut_buf_free(&src->req_body);
    if (status != 0)
        src->next_try_ms = wall_ms() + REFRESH_RETRY_MS;
    s3_creds_cb cb = src->cb;
    src->cb = NULL;
    if (cb)
        cb(src->cb_arg, status, msg);
}

static int on_cred_body(net_request *nr, const void *data, size_t len) {
    s3_credsrc *src = nr->data;
    ut_buf_put(&src->body, data, len);
    return src->body.bad ? 1 : 0;
}

/* The parent credentials an AssumeRole or CreateSession request is signed with. */
static const s3_creds *parent_creds(s3_credsrc *src, bool *due) {
    *due = false;
    if (src->inner)
        return s3_credsrc_current(src->inner, wall_ms(), due);
    return src->base.access_key ? &src->base : NULL;
}

static int add_hdr(void *headers, const char *name, const char *value) {
    ut_buf l = {0};
    ut_buf_puts(&l, name);
    ut_buf_puts(&l, ": ");
    ut_buf_puts(&l, value);
    int rc = l.bad ? NET_E_NOMEM : net_add_header(headers, l.p);
    if (l.p)
        OPENSSL_cleanse(l.p, l.cap);
    ut_buf_free(&l);
    return rc;
}

/* SigV4 of the AssumeRole POST (service sts, the form's SHA-256 as payload hash) or of
 * CreateSession (service s3express), redone before every attempt with that moment's time
 * and parent credentials. */
static int sign_parent(s3_credsrc *src, void *headers) {
    bool due;
    const s3_creds *c = parent_creds(src, &due);
    if (!c)
        return NET_E_ABORTED;
    bool sts = src->kind == SRC_ASSUME_ROLE;
    char date[17], phash[65];
    s3_amz_date(time(NULL), date);
    if (sts)
        s3_sha256_hex(src->req_body.p ? src->req_body.p : "", src->req_body.len, phash);
    else
        snprintf(phash, sizeof phash, "UNSIGNED-PAYLOAD");
    s3_pair sh[6];
    size_t n = 0;
    sh[n++] = (s3_pair){"host", src->authority};
    if (sts)
        sh[n++] = (s3_pair){"content-type", "application/x-www-form-urlencoded; charset=utf-8"};
    else {
        sh[n++] = (s3_pair){"x-amz-content-sha256", "UNSIGNED-PAYLOAD"};
        sh[n++] = (s3_pair){"x-amz-create-session-mode", "ReadOnly"};
    }
    sh[n++] = (s3_pair){"x-amz-date", date};
    if (c->token && *c->token)
        sh[n++] = (s3_pair){"x-amz-security-token", c->token};
    s3_sign_in in = {sts ? "POST" : "GET",
                     src->canon_path,
                     NULL,
                     0,
                     src->canon_query,
                     sh,
                     n,
                     phash,
                     src->sign_region,
                     sts ? "sts" : "s3express",
                     date,
                     c->access_key,
                     c->secret_key};
    char auth[512];
    if (s3_sigv4_sign(&in, NULL, NULL, NULL, auth, sizeof auth) != 0)
        return NET_E_ABORTED;
    for (size_t i = 1; i < n; i++) /* host is curl's, from the URL */
        if (add_hdr(headers, sh[i].name, sh[i].value) != 0)
            return NET_E_NOMEM;
    return add_hdr(headers, "Authorization", auth);
}

static int on_cred_prepare(net_request *nr, void *headers) {
    s3_credsrc *src = nr->data;
    ut_buf_reset(&src->body);
    if (src->kind == SRC_ASSUME_ROLE || src->kind == SRC_EXPRESS)
        return sign_parent(src, headers);
    return 0;
}

/* Installs new credentials from their four values; takes ownership of nothing. */
static int install(s3_credsrc *src, const char *ak, const char *sk, const char *tok,
                   const char *exp, char *msg, size_t msglen) {
    if (!ak || !sk || !*ak || !*sk) {
        snprintf(msg, msglen, "%s: response without AccessKeyId/SecretAccessKey",
                 s3_credsrc_name(src));
        return STORE_E_AUTH;
    }
    int64_t expires = exp ? s3_parse_iso8601_ms(exp) : INT64_MAX;
    if (expires == INT64_MIN) {
        snprintf(msg, msglen, "%s: unreadable Expiration", s3_credsrc_name(src));
        return STORE_E_AUTH;
    }
    s3_creds nc = {(char *)ak, (char *)sk, (char *)tok, expires};
    s3_creds copy;
    if (s3_creds_copy(&copy, &nc) != 0) {
        snprintf(msg, msglen, "out of memory");
        return STORE_E_NOMEM;
    }
    s3_creds_clear(&src->creds);
    src->creds = copy;
    src->have = true;
    src->next_try_ms = 0;
    src->fetched_ms = wall_ms();
    return 0;
}

/* STS's XML: the text of AccessKeyId, SecretAccessKey, SessionToken, Expiration. */
typedef struct sts_parse {
    ut_buf v[4];
    int cur;
    ut_buf code;
    bool in_code;
} sts_parse;
static const char *const sts_names[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};

static void XMLCALL sts_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    sts_parse *p = ud;
    (void)atts;
    p->cur = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, sts_names[i]))
            p->cur = i;
    p->in_code = !strcmp(name, "Code");
}
static void XMLCALL sts_end(void *ud, const XML_Char *name) {
    sts_parse *p = ud;
    (void)name;
    p->cur = -1;
    p->in_code = false;
}
static void XMLCALL sts_text(void *ud, const XML_Char *s, int len) {
    sts_parse *p = ud;
    if (p->cur >= 0)
        ut_buf_put(&p->v[p->cur], s, (size_t)len);
    else if (p->in_code)
        ut_buf_put(&p->code, s, (size_t)len < 100 ? (size_t)len : 100);
}

/* GetRoleCredentials: {"roleCredentials": {"accessKeyId", "secretAccessKey",
 * "sessionToken", "expiration": ms since the epoch (a number)}}. */
static int install_sso(s3_credsrc *src, const char *b, size_t blen, char *msg, size_t msglen) {
    ut_json d;
    char jerr[128];
    if (ut_json_parse(&d, b, blen, blen / 2 + 16, jerr, sizeof jerr) != 0) {
        snprintf(msg, msglen, "%s: response is not JSON", s3_credsrc_name(src));
        return STORE_E_AUTH;
    }
    size_t rcix = ut_json_get(&d, 0, "roleCredentials");
    char *ak = ut_json_strdup(&d, ut_json_get(&d, rcix, "accessKeyId"));
    char *sk = ut_json_strdup(&d, ut_json_get(&d, rcix, "secretAccessKey"));
    char *tok = ut_json_strdup(&d, ut_json_get(&d, rcix, "sessionToken"));
    uint64_t exp_ms = 0;
    bool has_exp = ut_json_u64(&d, ut_json_get(&d, rcix, "expiration"), &exp_ms) == 0;
    ut_json_free(&d);
    int rc = install(src, ak, sk, tok, NULL, msg, msglen);
    if (rc == 0 && has_exp && exp_ms > 0 && exp_ms < (uint64_t)INT64_MAX)
        src->creds.expires_ms = (int64_t)exp_ms;
    s3_creds tmp = {ak, sk, tok, 0};
    s3_creds_clear(&tmp);
    return rc;
}

static void proc_start(s3_credsrc *src);

static void inner_done(void *arg, int status, const char *msg) {
    s3_credsrc *src = arg;
    bool due;
    if (!parent_creds(src, &due)) {
        char m[300];
        snprintf(m, sizeof m, "%s: its source credentials: %.*s", s3_credsrc_name(src),
                 ut_utf8_prec(msg ? msg : "unavailable", 220), msg ? msg : "unavailable");
        fetch_end(src, status ? status : STORE_E_AUTH, m);
        return;
    }
    fetch_step(src); /* a failed refresh whose old credentials still work goes on */
}

/* The SSO token the AWS CLI cached at `aws sso login`: its accessToken if not expired,
 * else NULL with a message that says what to run. */
static char *sso_token(s3_credsrc *src, char *msg, size_t msglen) {
    size_t n = 0;
    char *js = ut_read_file(src->sso_cache, CRED_MAX_FILE, &n, NULL, 0);
    if (!js) {
        snprintf(msg, msglen,
                 "no cached SSO token at %.*s: run `aws sso login%s` first (tiff-dumper reads "
                 "the token the AWS CLI caches; it does not log in itself)",
                 ut_utf8_prec(src->sso_cache, 200), src->sso_cache, src->sso_login_hint);
        return NULL;
    }
    char *tok = s3_json_get_string(js, n, "accessToken");
    char *exp = s3_json_get_string(js, n, "expiresAt");
    OPENSSL_cleanse(js, n);
    free(js);
    int64_t e = exp ? s3_parse_iso8601_ms(exp) : INT64_MIN;
    free(exp);
    if (!tok || !*tok || e == INT64_MIN) {
        snprintf(msg, msglen,
                 "the cached SSO token %.*s has no accessToken/expiresAt: run `aws "
                 "sso login%s`",
                 ut_utf8_prec(src->sso_cache, 200), src->sso_cache, src->sso_login_hint);
    } else if (e <= wall_ms()) {
        snprintf(msg, msglen, "the cached SSO token (%.*s) has expired: run `aws sso login%s`",
                 ut_utf8_prec(src->sso_cache, 200), src->sso_cache, src->sso_login_hint);
    } else {
        return tok;
    }
    ut_free_secret(&tok);
    return NULL;
}

static void cred_done(net_request *nr, int status) {
    s3_credsrc *src = nr->data;
    char msg[256];
    if (status != NET_OK) {
        if (status == NET_E_CANCELED)
            return;
        if (src->kind == SRC_IMDS && src->step == 0 && src->imdsv1_fallback &&
            status == NET_E_HTTP && nr->http_status >= 400 && nr->http_status < 500) {
            free(src->imds_token); /* IMDSv1: the same GETs without a session token */
            src->imds_token = NULL;
            src->step = 1;
            fetch_step(src);
            return;
        }
        if (src->kind == SRC_SSO && (nr->http_status == 401 || nr->http_status == 403))
            snprintf(msg, sizeof msg,
                     "%s refused the cached SSO token (HTTP %ld): run `aws sso login%s` and "
                     "try again",
                     s3_credsrc_name(src), nr->http_status, src->sso_login_hint);
        else if (src->kind == SRC_ASSUME_ROLE && status == NET_E_HTTP &&
                 (nr->http_status == 403 || nr->http_status == 400))
            snprintf(msg, sizeof msg,
                     "%s of %.*s refused (HTTP %ld): the source credentials may not assume "
                     "it, or its trust policy wants another external_id",
                     s3_credsrc_name(src), ut_utf8_prec(src->role_arn, 120), src->role_arn,
                     nr->http_status);
        else
            snprintf(msg, sizeof msg, "%s failed: %s (HTTP %ld)", s3_credsrc_name(src),
                     net_strerror(status), nr->http_status);
        fetch_end(src, STORE_E_AUTH, msg);
        return;
    }
    ut_buf_putc(&src->body, '\0');
    if (src->body.bad) {
        snprintf(msg, sizeof msg, "%s: response too large", s3_credsrc_name(src));
        fetch_end(src, STORE_E_AUTH, msg);
        return;
    }
    const char *b = src->body.p ? src->body.p : "";
    size_t blen = src->body.len ? src->body.len - 1 : 0;
    int rc = 0;
    if (src->kind == SRC_WEB_IDENTITY || src->kind == SRC_ASSUME_ROLE || src->kind == SRC_EXPRESS) {
        /* STS's <Credentials> and CreateSession's alike: the four names are the same */
        sts_parse p = {0};
        for (int i = 0; i < 4; i++)
            p.v[i].limit = CRED_MAX_BODY;
        p.cur = -1;
        XML_Parser xp = XML_ParserCreate(NULL);
        if (!xp) {
            fetch_end(src, STORE_E_NOMEM, "out of memory");
            return;
        }
        XML_SetUserData(xp, &p);
        XML_SetElementHandler(xp, sts_start, sts_end);
        XML_SetCharacterDataHandler(xp, sts_text);
        if (XML_Parse(xp, b, (int)blen, XML_TRUE) != XML_STATUS_OK) {
            snprintf(msg, sizeof msg, "%s: malformed XML response", s3_credsrc_name(src));
            rc = STORE_E_AUTH;
        } else {
            for (int i = 0; i < 4; i++)
                ut_buf_puts(&p.v[i], "");
            rc = install(src, p.v[0].p, p.v[1].p, p.v[2].len ? p.v[2].p : NULL,
                         p.v[3].len ? p.v[3].p : NULL, msg, sizeof msg);
        }
        XML_ParserFree(xp);
        for (int i = 0; i < 4; i++) {
            if (p.v[i].p)
                OPENSSL_cleanse(p.v[i].p, p.v[i].cap);
            ut_buf_free(&p.v[i]);
        }
        ut_buf_free(&p.code);
    } else if (src->kind == SRC_SSO) {
        rc = install_sso(src, b, blen, msg, sizeof msg);
    } else if (src->kind == SRC_CONTAINER || src->step == 2) {
        char *ak = s3_json_get_string(b, blen, "AccessKeyId");
        char *sk = s3_json_get_string(b, blen, "SecretAccessKey");
        char *tok = s3_json_get_string(b, blen, "Token");
        char *exp = s3_json_get_string(b, blen, "Expiration");
        rc = install(src, ak, sk, tok, exp, msg, sizeof msg);
        s3_creds tmp = {ak, sk, tok, 0};
        s3_creds_clear(&tmp);
        free(exp);
    } else if (src->step == 0) {
        free(src->imds_token);
        src->imds_token = ut_strdup(trim(src->body.p));
        src->step = 1;
        fetch_step(src);
        return;
    } else {
        /* the role name: the first line */
        char *t = trim(src->body.p);
        t[strcspn(t, "\r\n")] = '\0';
        if (!*t || strlen(t) > 128) {
            snprintf(msg, sizeof msg, "%s: no IAM role attached", s3_credsrc_name(src));
            fetch_end(src, STORE_E_AUTH, msg);
            return;
        }
        free(src->role);
        src->role = ut_strdup(t);
        src->step = 2;
        fetch_step(src);
        return;
    }
    if (src->body.p)
        OPENSSL_cleanse(src->body.p, src->body.cap);
    fetch_end(src, rc, rc ? msg : NULL);
}

/* The source's own engine (short timeouts: IMDS may not exist at all), made at the first
 * fetch rather than at open: an engine's handles are freed only by running the loop, which
 * a caller whose store_open failed may never do. */
static int src_engine(s3_credsrc *src, char *msg, size_t msglen) {
    if (src->net)
        return 0;
    net_options no;
    remote_net_options(&no, NULL, NULL); /* the stores' tuning; its own limits below */
    /* the store's proxy, for the AWS endpoints (STS, SSO, S3 Express); not for the
     * link-local metadata endpoints, which no proxy can reach */
    if (src->kind != SRC_IMDS && src->kind != SRC_CONTAINER) {
        no.proxy = src->proxy[0];
        no.proxy_ca = src->proxy[1];
        no.proxy_excludes = src->proxy[2];
    }
    no.max_in_flight = 4;
    no.connect_timeout_ms = 2000;
    no.request_timeout_ms = 5000;
    no.max_attempts = 3;
    no.retry_max_ms = 15000;
    char nerr[200];
    int rc = net_engine_new(&src->net, src->loop, &no, nerr, sizeof nerr);
    if (rc != 0) {
        src->net = NULL;
        snprintf(msg, msglen, "%s: %s", s3_credsrc_name(src), nerr);
        return rc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_AUTH;
    }
    return 0;
}

static void fetch_step(s3_credsrc *src) {
    char emsg[256];
    int erc = src_engine(src, emsg, sizeof emsg);
    if (erc != 0) {
        fetch_end(src, erc, emsg);
        return;
    }
    net_request *nr = &src->nr;
    memset(nr, 0, sizeof *nr);
    nr->on_body = on_cred_body;
    nr->prepare = on_cred_prepare;
    nr->cb = cred_done;
    nr->data = src;
    nr->headers = src->hdr_ptrs;
    nr->n_headers = 0;
    ut_buf_free(&src->body);
    src->body.limit = CRED_MAX_BODY;
    char *url = src->url;
    size_t urlsz = sizeof src->url;
    char *u = url;
    switch (src->kind) {
    case SRC_SHARED: /* never here: s3_credsrc_refresh asks the leader */
        fetch_end(src, STORE_E_AUTH, "internal: shared credentials fetched");
        return;
    case SRC_PROCESS:
        proc_start(src);
        return;
    case SRC_ASSUME_ROLE:
    case SRC_EXPRESS: {
        bool due;
        const s3_creds *pc = parent_creds(src, &due);
        if (src->step == 0 && src->inner && (!pc || due)) {
            src->step = 1; /* the parent first, then this source's own request */
            s3_credsrc_refresh(src->inner, inner_done, src);
            return;
        }
        nr->method = src->kind == SRC_EXPRESS ? "GET" : "POST";
        if (src->kind == SRC_ASSUME_ROLE) {
            s3_pair q[6];
            size_t nq = 0;
            q[nq++] = (s3_pair){"Action", "AssumeRole"};
            q[nq++] = (s3_pair){"Version", "2011-06-15"};
            q[nq++] = (s3_pair){"RoleArn", src->role_arn};
            q[nq++] = (s3_pair){"RoleSessionName", src->session_name};
            if (src->external_id)
                q[nq++] = (s3_pair){"ExternalId", src->external_id};
            if (src->duration)
                q[nq++] = (s3_pair){"DurationSeconds", src->duration};
            ut_buf_free(&src->req_body);
            src->req_body.limit = 2 * CRED_MAX_FILE;
            s3_canonical_query(&src->req_body, q, nq);
            nr->body = src->req_body.p;
            nr->body_len = src->req_body.len;
        }
        snprintf(url, urlsz, "%s", src->sts_url);
        break;
    }
    case SRC_SSO: {
        char msg[512];
        char *tok = sso_token(src, msg, sizeof msg);
        if (!tok) {
            fetch_end(src, STORE_E_AUTH, msg);
            return;
        }
        if (strlen(tok) >= sizeof src->hdr[0] - 40) {
            ut_free_secret(&tok);
            fetch_end(src, STORE_E_AUTH, "the cached SSO token is too long");
            return;
        }
        nr->method = "GET";
        snprintf(src->hdr[0], sizeof src->hdr[0], "x-amz-sso_bearer_token: %s", tok);
        ut_free_secret(&tok);
        src->hdr_ptrs[0] = src->hdr[0];
        nr->n_headers = 1;
        snprintf(url, urlsz, "%s", src->sso_url);
        break;
    }
    case SRC_WEB_IDENTITY: {
        char *tok = read_small_file(src->token_file);
        if (!tok) {
            char msg[256];
            snprintf(msg, sizeof msg, "web identity token file '%.*s' unreadable",
                     ut_utf8_prec(src->token_file, 150), src->token_file);
            fetch_end(src, STORE_E_AUTH, msg);
            return;
        }
        s3_pair q[5] = {{"Action", "AssumeRoleWithWebIdentity"},
                        {"RoleArn", src->role_arn},
                        {"RoleSessionName", src->session_name},
                        {"Version", "2011-06-15"},
                        {"WebIdentityToken", tok}};
        ut_buf_free(&src->req_body);
        src->req_body.limit = 2 * CRED_MAX_FILE;
        s3_canonical_query(&src->req_body, q, 5);
        free(tok);
        nr->method = "POST";
        snprintf(src->hdr[0], sizeof src->hdr[0],
                 "Content-Type: application/x-www-form-urlencoded");
        src->hdr_ptrs[0] = src->hdr[0];
        nr->n_headers = 1;
        nr->body = src->req_body.p;
        nr->body_len = src->req_body.len;
        snprintf(url, urlsz, "%s", src->sts_url);
        break;
    }
    case SRC_CONTAINER: {
        nr->method = "GET";
        char *tok = src->auth_token_file ? read_small_file(src->auth_token_file)
                                         : ut_strdup(src->auth_token);
        if (tok && *tok && strlen(tok) < sizeof src->hdr[0] - 32) {
            snprintf(src->hdr[0], sizeof src->hdr[0], "Authorization: %s", tok);
            src->hdr_ptrs[0] = src->hdr[0];
            nr->n_headers = 1;
        }
        free(tok);
        snprintf(url, urlsz, "%s", src->container_url);
        break;
    }
    case SRC_IMDS:
        if (src->step == 0) {
            nr->method = "PUT";
            snprintf(src->hdr[0], sizeof src->hdr[0],
                     "X-aws-ec2-metadata-token-ttl-seconds: 21600");
            snprintf(url, urlsz, "%s/latest/api/token", src->imds_base);
        } else {
            nr->method = "GET";
            if (src->imds_token)
                snprintf(src->hdr[0], sizeof src->hdr[0], "X-aws-ec2-metadata-token: %.*s",
                         ut_utf8_prec(src->imds_token, 500), src->imds_token);
            if (src->step == 1)
                snprintf(url, urlsz, "%s/latest/meta-data/iam/security-credentials/",
                         src->imds_base);
            else
                snprintf(url, urlsz, "%s/latest/meta-data/iam/security-credentials/%s",
                         src->imds_base, src->role);
        }
        src->hdr_ptrs[0] = src->hdr[0];
        nr->n_headers = (src->step == 0 || src->imds_token) ? 1 : 0;
        break;
    }
    nr->url = u;
    int rc = net_start(src->net, nr);
    if (rc != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %s", s3_credsrc_name(src), net_strerror(rc));
        fetch_end(src, STORE_E_AUTH, msg);
    }
}

/* ------------------------------------------------------------------ credential_process */

/* The process's stdout: the AWS CLI's JSON, Version 1. Never quoted (it holds the secret). */
static void proc_done(void *arg, int ok, const char *out, size_t n, const char *pmsg) {
    s3_credsrc *src = arg;
    src->job = NULL;
    if (!ok) {
        fetch_end(src, STORE_E_AUTH, pmsg);
        return;
    }
    char msg[300];
    int rc = STORE_E_AUTH;
    ut_json d;
    char jerr[128];
    uint64_t ver = 0;
    if (ut_json_parse(&d, out, n, n / 2 + 16, jerr, sizeof jerr) != 0) {
        snprintf(msg, sizeof msg, "credential_process (%.*s): its output is not JSON",
                 ut_utf8_prec(src->argv[0], 100), src->argv[0]);
    } else if (ut_json_u64(&d, ut_json_get(&d, 0, "Version"), &ver) != 0 || ver != 1) {
        ut_json_free(&d);
        snprintf(msg, sizeof msg,
                 "credential_process (%.*s): unsupported output: \"Version\": 1 expected",
                 ut_utf8_prec(src->argv[0], 100), src->argv[0]);
    } else {
        char *ak = ut_json_strdup(&d, ut_json_get(&d, 0, "AccessKeyId"));
        char *sk = ut_json_strdup(&d, ut_json_get(&d, 0, "SecretAccessKey"));
        char *tok = ut_json_strdup(&d, ut_json_get(&d, 0, "SessionToken"));
        char *exp = ut_json_strdup(&d, ut_json_get(&d, 0, "Expiration"));
        ut_json_free(&d);
        rc = install(src, ak, sk, tok, exp, msg, sizeof msg);
        s3_creds tmp = {ak, sk, tok, 0};
        s3_creds_clear(&tmp);
        free(exp);
    }
    fetch_end(src, rc, rc ? msg : NULL);
}

static void proc_start(s3_credsrc *src) {
    char msg[300];
    src->job = s3_proc_start(src->loop, src->argv, proc_done, src, msg, sizeof msg);
    if (!src->job)
        fetch_end(src, STORE_E_AUTH, msg);
}

void s3_credsrc_refresh(s3_credsrc *src, s3_creds_cb cb, void *arg) {
    if (src->fetching) {
        src->cb = cb;
        src->cb_arg = arg;
        return;
    }
    src->fetching = true;
    src->cb = cb;
    src->cb_arg = arg;
    src->step = 0;
    if (src->kind == SRC_SHARED)
        store_share_ask(src->follower); /* shared_got ends the fetch */
    else
        fetch_step(src);
}

/* ---- one source for the stores of all fetch threads (store_share.h) ---- */

/* The blob: access key, secret and token (may be empty), each NUL-terminated. */
void s3_credsrc_publish(s3_credsrc *src, store_share *sh, int status, const char *msg) {
    const s3_creds *c = src->have && wall_ms() < src->creds.expires_ms ? &src->creds : NULL;
    if (!c) {
        store_share_publish(sh, status ? status : STORE_E_AUTH, NULL, 0, 0, 0,
                            msg ? msg : "no credentials");
        return;
    }
    const char *tok = c->token ? c->token : "";
    size_t a = strlen(c->access_key) + 1, b = strlen(c->secret_key) + 1, t = strlen(tok) + 1;
    char *blob = malloc(a + b + t);
    if (!blob) {
        store_share_publish(sh, STORE_E_NOMEM, NULL, 0, 0, 0, "out of memory");
        return;
    }
    memcpy(blob, c->access_key, a);
    memcpy(blob + a, c->secret_key, b);
    memcpy(blob + a + b, tok, t);
    store_share_publish(sh, STORE_OK, blob, a + b + t, src->fetched_ms, c->expires_ms, NULL);
    OPENSSL_cleanse(blob, a + b + t);
    free(blob);
}

static void shared_got(void *ctx) {
    s3_credsrc *src = ctx;
    if (!src->fetching)
        return;
    char *blob = NULL, msg[256] = "";
    size_t len = 0;
    int64_t fetched = 0, expires = 0;
    int rc = store_share_take(src->follower, &blob, &len, &fetched, &expires, msg, sizeof msg);
    /* three NUL-terminated strings */
    const char *p[3] = {NULL, NULL, NULL};
    for (size_t i = 0, k = 0; rc == STORE_OK && k < 3; k++) {
        const char *z = i < len ? memchr(blob + i, '\0', len - i) : NULL;
        if (!z) {
            rc = STORE_E_AUTH;
            snprintf(msg, sizeof msg, "malformed shared credentials");
            break;
        }
        p[k] = blob + i;
        i = (size_t)(z - blob) + 1;
    }
    if (rc == STORE_OK) {
        s3_creds n = {strdup(p[0]), strdup(p[1]), *p[2] ? strdup(p[2]) : NULL, expires};
        if (!n.access_key || !n.secret_key || (*p[2] && !n.token)) {
            s3_creds_clear(&n);
            rc = STORE_E_NOMEM;
            snprintf(msg, sizeof msg, "out of memory");
        } else {
            s3_creds_clear(&src->creds);
            src->creds = n;
            src->have = true;
            src->fetched_ms = fetched;
        }
    }
    if (blob) {
        OPENSSL_cleanse(blob, len);
        free(blob);
    }
    src->fetching = false;
    if (rc == STORE_OK) {
        /* the leader's credentials still due here (its refresh failed, the old ones still
         * work): ask again only after the leader's retry wait, not at every request */
        bool due = false;
        s3_credsrc_current(src, wall_ms(), &due);
        if (due)
            src->next_try_ms = wall_ms() + REFRESH_RETRY_MS;
    } else {
        src->next_try_ms = wall_ms() + REFRESH_RETRY_MS;
    }
    s3_creds_cb cb = src->cb;
    src->cb = NULL;
    if (cb)
        cb(src->cb_arg, rc, rc ? msg : NULL);
}

s3_credsrc *s3_credsrc_follow(uv_loop_t *loop, store_share *sh) {
    s3_credsrc *src = calloc(1, sizeof *src);
    if (!src)
        return NULL;
    src->kind = SRC_SHARED;
    src->loop = loop;
    if (!(src->follower = store_share_join(sh, loop, shared_got, src))) {
        free(src);
        return NULL;
    }
    return src;
}

void s3_credsrc_free(s3_credsrc *src) {
    if (!src)
        return;
    src->cb = NULL;
    store_share_leave(src->follower);
    s3_proc_cancel(src->job); /* killed; its handles are released later */
    src->job = NULL;
    if (src->inner)
        s3_credsrc_free(src->inner);
    s3_creds_clear(&src->base);
    s3_proc_argv_free(src->argv);
    free(src->sign_region);
    free(src->authority);
    free(src->canon_path);
    free(src->canon_query);
    free(src->external_id);
    free(src->duration);
    free(src->sso_cache);
    free(src->sso_login_hint);
    free(src->sso_url);
    for (int i = 0; i < 3; i++)
        free(src->proxy[i]);
    OPENSSL_cleanse(src->hdr, sizeof src->hdr);
    if (src->net)
        net_engine_free(src->net);
    s3_creds_clear(&src->creds);
    ut_buf_free(&src->body);
    ut_buf_free(&src->req_body);
    free(src->token_file);
    free(src->role_arn);
    free(src->session_name);
    free(src->sts_url);
    free(src->container_url);
    free(src->auth_token);
    free(src->auth_token_file);
    free(src->imds_base);
    free(src->imds_token);
    free(src->role);
    free(src);
}

static s3_credsrc *new_src(src_kind kind, uv_loop_t *loop, char *err, size_t errlen) {
    s3_credsrc *src = calloc(1, sizeof *src);
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    src->kind = kind;
    src->loop = loop;
    return src; /* its engine comes with the first fetch: see src_engine() */
}

/* ------------------------------------------------------------------ resolving */

static s3_credsrc *make_imds(const s3_cred_cfg *cfg, uv_loop_t *loop, char *err, size_t errlen) {
    s3_credsrc *src = new_src(SRC_IMDS, loop, err, errlen);
    if (!src)
        return NULL;
    const char *ep = cfg->metadata_endpoint;
    if (!ep || !*ep)
        ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!ep || !*ep)
        ep = "http://169.254.169.254";
    size_t l = strlen(ep);
    while (l && ep[l - 1] == '/')
        l--;
    src->imdsv1_fallback = cfg->imdsv1_fallback;
    src->imds_base = malloc(l + 1);
    if (src->imds_base) {
        memcpy(src->imds_base, ep, l);
        src->imds_base[l] = '\0';
    }
    return src;
}

static s3_credsrc *make_container(const s3_cred_cfg *cfg, uv_loop_t *loop, char *err,
                                  size_t errlen) {
    const char *full = cfg->container_full_uri, *rel = cfg->container_relative_uri;
    s3_credsrc *src = new_src(SRC_CONTAINER, loop, err, errlen);
    if (!src)
        return NULL;
    char u[1024];
    if (rel && *rel)
        snprintf(u, sizeof u, "http://169.254.170.2%s", rel);
    else
        snprintf(u, sizeof u, "%s", full ? full : "");
    src->container_url = ut_strdup(u);
    const char *tf = cfg->container_token_file;
    if (!tf || !*tf)
        tf = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (tf && *tf)
        src->auth_token_file = ut_strdup(tf);
    else if (getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
        src->auth_token = ut_strdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    return src;
}

/* "host[:port]" (lower-case, default port left out: what curl sends as Host) and the path
 * ("/" when none) of an http(s) URL; -1 if it is not one. */
static int url_parts(const char *url, char **authority, char **path) {
    const char *p = strstr(url, "://");
    if (!p)
        return -1;
    bool https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0)
        return -1;
    p += 3;
    size_t al = strcspn(p, "/?#");
    if (al == 0)
        return -1;
    char *a = malloc(al + 1);
    if (!a)
        return -1;
    for (size_t i = 0; i < al; i++)
        a[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
    a[al] = '\0';
    size_t l = strlen(a);
    const char *dport = https ? ":443" : ":80";
    if (l > strlen(dport) && strcmp(a + l - strlen(dport), dport) == 0)
        a[l - strlen(dport)] = '\0';
    const char *q = p + al;
    size_t pl = q[0] == '/' ? strcspn(q, "?#") : 0;
    char *pp = pl ? malloc(pl + 1) : ut_strdup("/");
    if (!pp) {
        free(a);
        return -1;
    }
    if (pl) {
        memcpy(pp, q, pl);
        pp[pl] = '\0';
    }
    *authority = a;
    *path = pp;
    return 0;
}

typedef struct prof_ctx {
    const s3_cred_cfg *cfg;
    uv_loop_t *loop;
    const char *cred_path, *conf_path;
} prof_ctx;

static void section_of(char *out, size_t n, const char *profile) {
    if (strcmp(profile, "default") == 0)
        snprintf(out, n, "default");
    else
        snprintf(out, n, "profile %s", profile);
}

/* A profile's key: the credentials file's [NAME] first, then the config file's [profile
 * NAME] (as botocore merges them); NULL when absent or empty. */
static char *pget(const prof_ctx *x, const char *profile, const char *key) {
    char sec[300];
    section_of(sec, sizeof sec, profile);
    char *v = s3_ini_get(x->cred_path, profile, key);
    if (!v || !*v) {
        free(v);
        v = s3_ini_get(x->conf_path, sec, key);
    }
    if (v && !*v) {
        free(v);
        v = NULL;
    }
    return v;
}

static int static_keys(const prof_ctx *x, const char *profile, s3_creds *out) {
    char *ak = pget(x, profile, "aws_access_key_id");
    char *sk = pget(x, profile, "aws_secret_access_key");
    char *tok = pget(x, profile, "aws_session_token");
    int rc = 1;
    if (ak && sk) {
        s3_creds c = {ak, sk, tok, INT64_MAX};
        rc = s3_creds_copy(out, &c) != 0 ? -1 : 0;
    }
    s3_creds tmp = {ak, sk, tok, 0};
    s3_creds_clear(&tmp);
    return rc;
}

static int resolve_profile(const prof_ctx *x, const char *profile, int depth, s3_creds *out,
                           s3_credsrc **srcp, char *err, size_t errlen);

#define PFMT "profile '%.*s'"
#define PARG(p) ut_utf8_prec(p, 64), p

/* A profile with role_arn: STS AssumeRole signed with the credentials of source_profile or
 * credential_source (or AssumeRoleWithWebIdentity when it names a token file). */
static int role_profile(const prof_ctx *x, const char *profile, char *role, int depth,
                        s3_credsrc **srcp, char *err, size_t errlen) {
    int rc = -1;
    char *mfa = pget(x, profile, "mfa_serial"), *sp = pget(x, profile, "source_profile");
    char *cs = pget(x, profile, "credential_source"),
         *wif = pget(x, profile, "web_identity_token_file");
    char *sn = pget(x, profile, "role_session_name"), *ext = pget(x, profile, "external_id");
    char *dur = pget(x, profile, "duration_seconds"), *reg = pget(x, profile, "region");
    s3_credsrc *src = NULL, *inner = NULL;
    s3_creds base = {0};
    if (mfa) {
        snprintf(err, errlen,
                 PFMT " sets mfa_serial: assuming a role with MFA needs a code typed in, which "
                      "tiff-dumper cannot ask for; get temporary credentials first (e.g. `aws "
                      "configure export-credentials --profile %.*s --format env`) and pass them "
                      "as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN",
                 PARG(profile), PARG(profile));
        goto out;
    }
    if (dur) {
        char *end;
        long d = strtol(dur, &end, 10);
        if (*end || d < 900 || d > 43200) {
            snprintf(err, errlen,
                     PFMT ": duration_seconds '%.*s' must be a whole number of seconds from 900 "
                          "to 43200",
                     PARG(profile), ut_utf8_prec(dur, 20), dur);
            goto out;
        }
    }
    const char *region = reg                                             ? reg
                         : x->cfg->region && *x->cfg->region             ? x->cfg->region
                         : getenv("AWS_REGION") && *getenv("AWS_REGION") ? getenv("AWS_REGION")
                                                                         : "us-east-1";
    char sts[400];
    const char *ep = x->cfg->sts_endpoint;
    if (!ep || !*ep)
        ep = getenv("AWS_ENDPOINT_URL_STS");
    if (ep && *ep)
        snprintf(sts, sizeof sts, "%s", ep);
    else
        snprintf(sts, sizeof sts, "https://sts.%.*s.amazonaws.com", ut_utf8_prec(region, 60),
                 region);
    char defname[64];
    snprintf(defname, sizeof defname, "tiff-dumper-%lld", (long long)time(NULL));
    if (wif) {
        src = new_src(SRC_WEB_IDENTITY, x->loop, err, errlen);
        if (!src)
            goto out;
        src->token_file = ut_strdup(wif);
        src->role_arn = ut_strdup(role);
        src->session_name = ut_strdup(sn ? sn : defname);
        src->sts_url = ut_strdup(sts);
        rc = 0;
        goto out;
    }
    if (sp && cs) {
        snprintf(err, errlen,
                 PFMT " sets both source_profile and credential_source: keep one of them",
                 PARG(profile));
        goto out;
    }
    if (cs) {
        if (strcmp(cs, "Environment") == 0) {
            const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
            const char *tk = getenv("AWS_SESSION_TOKEN");
            if (!ak || !*ak || !sk || !*sk) {
                snprintf(err, errlen,
                         PFMT ": credential_source Environment, but AWS_ACCESS_KEY_ID / "
                              "AWS_SECRET_ACCESS_KEY are not set",
                         PARG(profile));
                goto out;
            }
            s3_creds c = {(char *)ak, (char *)sk, (char *)(tk && *tk ? tk : NULL), INT64_MAX};
            if (s3_creds_copy(&base, &c) != 0) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
        } else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
            if (!(inner = make_imds(x->cfg, x->loop, err, errlen)))
                goto out;
        } else if (strcmp(cs, "EcsContainer") == 0) {
            const s3_cred_cfg *c = x->cfg;
            if (!(c->container_full_uri && *c->container_full_uri) &&
                !(c->container_relative_uri && *c->container_relative_uri)) {
                snprintf(err, errlen,
                         PFMT ": credential_source EcsContainer, but neither "
                              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor "
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
                         PARG(profile));
                goto out;
            }
            if (!(inner = make_container(x->cfg, x->loop, err, errlen)))
                goto out;
        } else {
            snprintf(err, errlen,
                     PFMT ": credential_source '%.*s' is not supported: use Environment, "
                          "Ec2InstanceMetadata or EcsContainer, or source_profile",
                     PARG(profile), ut_utf8_prec(cs, 40), cs);
            goto out;
        }
    } else if (sp) {
        int r = strcmp(sp, profile) == 0
                    ? static_keys(x, profile, &base)
                    : resolve_profile(x, sp, depth + 1, &base, &inner, err, errlen);
        if (r < 0)
            goto out;
        if (r == 1) {
            snprintf(err, errlen, PFMT ": its source_profile '%.*s' has no credentials",
                     PARG(profile), PARG(sp));
            goto out;
        }
    } else {
        snprintf(err, errlen,
                 PFMT " sets role_arn without source_profile or credential_source: add one "
                      "(the profile whose keys call sts:AssumeRole, or Environment / "
                      "Ec2InstanceMetadata / EcsContainer)",
                 PARG(profile));
        goto out;
    }
    src = new_src(SRC_ASSUME_ROLE, x->loop, err, errlen);
    if (!src)
        goto out;
    src->base = base;
    memset(&base, 0, sizeof base);
    src->inner = inner;
    inner = NULL;
    src->role_arn = ut_strdup(role);
    src->session_name = ut_strdup(sn ? sn : defname);
    src->external_id = ext ? ut_strdup(ext) : NULL;
    src->duration = dur ? ut_strdup(dur) : NULL;
    src->sts_url = ut_strdup(sts);
    src->sign_region = ut_strdup(region);
    src->canon_query = ut_strdup("");
    if (url_parts(sts, &src->authority, &src->canon_path) != 0) {
        snprintf(err, errlen, "STS endpoint '%.*s' is not an http(s) URL", ut_utf8_prec(sts, 200),
                 sts);
        s3_credsrc_free(src);
        src = NULL;
        goto out;
    }
    rc = 0;
out:
    if (rc == 0)
        *srcp = src;
    s3_creds_clear(&base);
    if (inner)
        s3_credsrc_free(inner);
    free(mfa);
    free(sp);
    free(cs);
    free(wif);
    free(sn);
    free(ext);
    free(dur);
    free(reg);
    return rc;
}

/* A profile with sso_session (or the legacy sso_start_url): GetRoleCredentials with the
 * token `aws sso login` cached in ~/.aws/sso/cache/<sha1 of session name or start URL>.json */
static int sso_profile(const prof_ctx *x, const char *profile, char *sess, s3_credsrc **srcp,
                       char *err, size_t errlen) {
    int rc = -1;
    char *acct = pget(x, profile, "sso_account_id"), *role = pget(x, profile, "sso_role_name");
    char *start = NULL, *region = NULL;
    if (sess) {
        char sec[300];
        snprintf(sec, sizeof sec, "sso-session %s", sess);
        start = s3_ini_get(x->conf_path, sec, "sso_start_url");
        region = s3_ini_get(x->conf_path, sec, "sso_region");
    } else {
        start = pget(x, profile, "sso_start_url");
        region = pget(x, profile, "sso_region");
    }
    const char *missing = !acct                 ? "sso_account_id"
                          : !role               ? "sso_role_name"
                          : !start || !*start   ? "sso_start_url"
                          : !region || !*region ? "sso_region"
                                                : NULL;
    if (missing) {
        snprintf(err, errlen,
                 PFMT " is an SSO profile without %s%s%.*s%s: set it as `aws configure sso` "
                      "does",
                 PARG(profile), missing, sess ? " (in [sso-session " : "",
                 ut_utf8_prec(sess ? sess : "", 64), sess ? sess : "", sess ? "])" : "");
        goto out;
    }
    const char *key = sess ? sess : start;
    unsigned char md[20];
    unsigned int mdl = 0;
    EVP_Digest(key, strlen(key), md, &mdl, EVP_sha1(), NULL);
    char hex[41];
    ut_hex_encode(md, 20, hex);
    hex[40] = '\0';
    const char *home = getenv("HOME");
    char cache[1200];
    snprintf(cache, sizeof cache, "%s/.aws/sso/cache/%s.json", home ? home : ".", hex);
    const char *ep = getenv("AWS_ENDPOINT_URL_SSO");
    ut_buf u = {0};
    if (ep && *ep) {
        ut_buf_puts(&u, ep);
        while (u.len && u.p[u.len - 1] == '/')
            u.len--;
    } else {
        ut_buf_puts(&u, "https://portal.sso.");
        ut_buf_puts(&u, region);
        ut_buf_puts(&u, ".amazonaws.com");
    }
    ut_buf_puts(&u, "/federation/credentials?");
    s3_pair q[2] = {{"role_name", role}, {"account_id", acct}};
    s3_canonical_query(&u, q, 2);
    ut_buf_puts(&u, "");
    s3_credsrc *src = new_src(SRC_SSO, x->loop, err, errlen);
    if (!src || u.bad) {
        ut_buf_free(&u);
        s3_credsrc_free(src);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    src->sso_url = u.p;
    src->sso_cache = ut_strdup(cache);
    char hint[120];
    snprintf(hint, sizeof hint, " --profile %.*s", ut_utf8_prec(profile, 64), profile);
    src->sso_login_hint = ut_strdup(strcmp(profile, "default") ? hint : "");
    *srcp = src;
    rc = 0;
out:
    free(acct);
    free(role);
    free(start);
    free(region);
    return rc;
}

/* 0: credentials (static in *out, or a source in *srcp); 1: the profile has none; -1: an
 * error in err. The order is botocore's: role, SSO, static keys, credential_process. */
static int resolve_profile(const prof_ctx *x, const char *profile, int depth, s3_creds *out,
                           s3_credsrc **srcp, char *err, size_t errlen) {
    if (depth > 5) {
        snprintf(err, errlen, PFMT ": source_profile chain too long (a loop?)", PARG(profile));
        return -1;
    }
    char *role = pget(x, profile, "role_arn");
    if (role) {
        int rc = role_profile(x, profile, role, depth, srcp, err, errlen);
        free(role);
        return rc;
    }
    char *sess = pget(x, profile, "sso_session"), *start = pget(x, profile, "sso_start_url");
    if (sess || start) {
        int rc = sso_profile(x, profile, sess, srcp, err, errlen);
        free(sess);
        free(start);
        return rc;
    }
    int rc = static_keys(x, profile, out);
    if (rc <= 0) {
        if (rc < 0)
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    char *cp = pget(x, profile, "credential_process");
    if (cp) {
        char **argv = s3_proc_split(cp);
        free(cp);
        if (!argv) {
            snprintf(err, errlen,
                     PFMT ": credential_process is empty or has an unclosed quote (it is split "
                          "into words as a shell would, and run without one)",
                     PARG(profile));
            return -1;
        }
        s3_credsrc *src = new_src(SRC_PROCESS, x->loop, err, errlen);
        if (!src) {
            s3_proc_argv_free(argv);
            return -1;
        }
        src->argv = argv;
        *srcp = src;
        return 0;
    }
    return 1;
}

static int explicit_keys(const s3_cred_cfg *cfg, s3_creds *out, char *err, size_t errlen) {
    if (!cfg->access_key_id || !*cfg->access_key_id)
        return 0;
    if (!cfg->secret_access_key || !*cfg->secret_access_key) {
        snprintf(err, errlen, "access_key_id is set but secret_access_key is not");
        return -1;
    }
    s3_creds c = {(char *)cfg->access_key_id, (char *)cfg->secret_access_key,
                  (char *)(cfg->session_token && *cfg->session_token ? cfg->session_token : NULL),
                  INT64_MAX};
    if (s3_creds_copy(out, &c) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int s3_creds_resolve(const s3_cred_cfg *cfg, uv_loop_t *loop, struct net_engine *net, s3_creds *out,
                     s3_credsrc **srcp, char **profile_region, char *err, size_t errlen) {
    (void)net;
    memset(out, 0, sizeof *out);
    *srcp = NULL;
    *profile_region = NULL;
    /* 1-2. explicit keys (config over env, merged by the caller); after the profile when
     * it was named on purpose */
    if (!cfg->profile_first && explicit_keys(cfg, out, err, errlen) != 0)
        return -1;
    /* 3. shared files: the profile's credentials (keys, role, SSO, process), and region */
    const char *profile = cfg->profile && *cfg->profile ? cfg->profile : "default";
    char cred_path[1024], conf_path[1024], section[300];
    home_path(cred_path, sizeof cred_path, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    home_path(conf_path, sizeof conf_path, "AWS_CONFIG_FILE", ".aws/config");
    section_of(section, sizeof section, profile);
    *profile_region = s3_ini_get(conf_path, section, "region");
    if (!out->access_key) {
        /* A profile named on purpose (not the implicit default) that is missing is a
         * mistake to report, not a reason to go on down the chain and fail later at IMDS
         * with a message about something else. */
        bool named = cfg->profile && *cfg->profile && strcmp(profile, "default") != 0;
        if (named && !ini_has_section(cred_path, profile) && !ini_has_section(conf_path, section)) {
            snprintf(err, errlen,
                     "profile '%.*s' not found: no [%.*s] in %.*s and no [%.*s] in %.*s "
                     "(set by obstore_config profile or AWS_PROFILE)",
                     ut_utf8_prec(profile, 64), profile, ut_utf8_prec(profile, 64), profile,
                     ut_utf8_prec(cred_path, 300), cred_path, ut_utf8_prec(section, 72), section,
                     ut_utf8_prec(conf_path, 300), conf_path);
            free(*profile_region);
            *profile_region = NULL;
            return -1;
        }
        prof_ctx x = {cfg, loop, cred_path, conf_path};
        int rc = resolve_profile(&x, profile, 0, out, srcp, err, errlen);
        if (rc < 0) {
            free(*profile_region);
            *profile_region = NULL;
            return -1;
        }
        if (rc == 0)
            return 0;
    }
    if (cfg->profile_first && explicit_keys(cfg, out, err, errlen) != 0)
        return -1;
    if (out->access_key)
        return 0;
    /* 4. web identity */
    const char *wif = cfg->web_identity_token_file;
    if (wif && *wif && cfg->role_arn && *cfg->role_arn) {
        s3_credsrc *src = new_src(SRC_WEB_IDENTITY, loop, err, errlen);
        if (!src)
            return -1;
        src->token_file = ut_strdup(wif);
        src->role_arn = ut_strdup(cfg->role_arn);
        src->session_name =
            ut_strdup(cfg->role_session_name && *cfg->role_session_name ? cfg->role_session_name
                                                                        : "tiff-dumper");
        const char *region = getenv("AWS_REGION");
        char sts[300];
        if (cfg->sts_endpoint && *cfg->sts_endpoint)
            snprintf(sts, sizeof sts, "%s", cfg->sts_endpoint);
        else if (region && *region)
            snprintf(sts, sizeof sts, "https://sts.%.*s.amazonaws.com", ut_utf8_prec(region, 60),
                     region);
        else
            snprintf(sts, sizeof sts, "https://sts.amazonaws.com");
        src->sts_url = ut_strdup(sts);
        *srcp = src;
        return 0;
    }
    /* 5. container endpoint */
    const char *full = cfg->container_full_uri, *rel = cfg->container_relative_uri;
    if ((full && *full) || (rel && *rel)) {
        *srcp = make_container(cfg, loop, err, errlen);
        return *srcp ? 0 : -1;
    }
    /* 6. EC2 instance metadata */
    if (!cfg->imds_disabled) {
        *srcp = make_imds(cfg, loop, err, errlen);
        return *srcp ? 0 : -1;
    }
    snprintf(err, errlen,
             "no credentials found (looked at obstore_config, AWS_ACCESS_KEY_ID, profile '%.*s' "
             "in the shared files; web identity, container and instance metadata not "
             "configured or disabled)",
             ut_utf8_prec(profile, 64), profile);
    return -1;
}

void s3_credsrc_set_proxy(s3_credsrc *src, const char *const proxy[3]) {
    for (; src; src = src->inner)
        for (int i = 0; i < 3; i++) {
            free(src->proxy[i]);
            src->proxy[i] = proxy[i] ? ut_strdup(proxy[i]) : NULL;
        }
}

/* ------------------------------------------------------------------ S3 Express */

s3_credsrc *s3_express_new(uv_loop_t *loop, const s3_creds *base, s3_credsrc *inner,
                           const char *url, const char *authority, const char *path,
                           const char *query, const char *region, char *err, size_t errlen) {
    s3_credsrc *src = new_src(SRC_EXPRESS, loop, err, errlen);
    if (!src) {
        s3_credsrc_free(inner);
        return NULL;
    }
    src->inner = inner; /* taken in every case */
    if (base && base->access_key && s3_creds_copy(&src->base, base) != 0) {
        s3_credsrc_free(src);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    src->sts_url = ut_strdup(url);
    src->authority = ut_strdup(authority);
    src->canon_path = ut_strdup(path);
    src->canon_query = ut_strdup(query);
    src->sign_region = ut_strdup(region);
    if (!src->sts_url || !src->authority || !src->canon_path || !src->canon_query ||
        !src->sign_region) {
        s3_credsrc_free(src);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return src;
}
