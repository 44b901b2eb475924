/* s3_creds.c - the S3 credential chain: config/env, shared files, and the three network
 * sources of temporary credentials (STS web identity, container endpoint, EC2 IMDSv2).
 *
 * Formats are AWS's documented ones: the INI files of the CLI/SDKs, STS's XML
 * AssumeRoleWithWebIdentityResponse, and the JSON document of the container endpoint and
 * IMDS ({"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}). The JSON reader below is
 * deliberately tiny: flat objects, string values, bounded sizes. */
#include "s3_creds.h"
#include "store.h"
#include "remote.h"

#include <openssl/crypto.h>
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

/* A profile kind the chain cannot use, by its first telltale key; NULL if none. */
static const char *unsupported_profile_key(const char *const files[2][2]) {
    static const char *const keys[] = {"role_arn", "credential_process", "sso_session",
                                       "sso_start_url", "web_identity_token_file"};
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char *v = s3_ini_get(files[i][0], files[i][1], keys[k]);
            bool set = v && *v;
            free(v);
            if (set)
                return keys[k];
        }
    return NULL;
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

typedef enum { SRC_WEB_IDENTITY, SRC_CONTAINER, SRC_IMDS } src_kind;

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
    /* the fetch in progress */
    net_request nr;
    int step; /* IMDS: 0 token, 1 role name, 2 credentials */
    ut_buf body;
    ut_buf req_body;
    char *imds_token;
    char *role;
    char hdr[3][CRED_MAX_FILE / 8];
    const char *hdr_ptrs[3];
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

static int on_cred_prepare(net_request *nr, void *headers) {
    s3_credsrc *src = nr->data;
    ut_buf_reset(&src->body);
    (void)headers;
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
    if (src->kind == SRC_WEB_IDENTITY) {
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
    /* per thread: each fetch thread (concurrency.threads) has its own store and creds */
    static _Thread_local char url[2048];
    char *u = url;
    switch (src->kind) {
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
        snprintf(url, sizeof url, "%s", src->sts_url);
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
        snprintf(url, sizeof url, "%s", src->container_url);
        break;
    }
    case SRC_IMDS:
        if (src->step == 0) {
            nr->method = "PUT";
            snprintf(src->hdr[0], sizeof src->hdr[0],
                     "X-aws-ec2-metadata-token-ttl-seconds: 21600");
            snprintf(url, sizeof url, "%s/latest/api/token", src->imds_base);
        } else {
            nr->method = "GET";
            if (src->imds_token)
                snprintf(src->hdr[0], sizeof src->hdr[0], "X-aws-ec2-metadata-token: %.*s",
                         ut_utf8_prec(src->imds_token, 500), src->imds_token);
            if (src->step == 1)
                snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/",
                         src->imds_base);
            else
                snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s",
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
    fetch_step(src);
}

void s3_credsrc_free(s3_credsrc *src) {
    if (!src)
        return;
    src->cb = NULL;
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

int s3_creds_resolve(const s3_cred_cfg *cfg, uv_loop_t *loop, struct net_engine *net, s3_creds *out,
                     s3_credsrc **srcp, char **profile_region, char *err, size_t errlen) {
    (void)net;
    memset(out, 0, sizeof *out);
    *srcp = NULL;
    *profile_region = NULL;
    /* 1-2. explicit keys (config over env, merged by the caller) */
    if (cfg->access_key_id && *cfg->access_key_id) {
        if (!cfg->secret_access_key || !*cfg->secret_access_key) {
            snprintf(err, errlen, "access_key_id is set but secret_access_key is not");
            return -1;
        }
        s3_creds c = {
            (char *)cfg->access_key_id, (char *)cfg->secret_access_key,
            (char *)(cfg->session_token && *cfg->session_token ? cfg->session_token : NULL),
            INT64_MAX};
        if (s3_creds_copy(out, &c) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    /* 3. shared files: the profile's keys, and its region */
    const char *profile = cfg->profile && *cfg->profile ? cfg->profile : "default";
    char cred_path[1024], conf_path[1024], section[300];
    home_path(cred_path, sizeof cred_path, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    home_path(conf_path, sizeof conf_path, "AWS_CONFIG_FILE", ".aws/config");
    if (strcmp(profile, "default") == 0)
        snprintf(section, sizeof section, "default");
    else
        snprintf(section, sizeof section, "profile %s", profile);
    *profile_region = s3_ini_get(conf_path, section, "region");
    if (!out->access_key) {
        const char *const files[2][2] = {{cred_path, profile}, {conf_path, section}};
        /* A profile named on purpose (not the implicit default) that is missing or of a
         * kind we cannot use is a mistake to report, not a reason to go on down the chain
         * and fail later at IMDS with a message about something else. */
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
        for (int i = 0; i < 2 && !out->access_key; i++) {
            char *ak = s3_ini_get(files[i][0], files[i][1], "aws_access_key_id");
            char *sk = s3_ini_get(files[i][0], files[i][1], "aws_secret_access_key");
            char *tok = s3_ini_get(files[i][0], files[i][1], "aws_session_token");
            if (ak && sk && *ak && *sk) {
                s3_creds c = {ak, sk, tok && *tok ? tok : NULL, INT64_MAX};
                if (s3_creds_copy(out, &c) != 0) {
                    snprintf(err, errlen, "out of memory");
                    s3_creds tmp = {ak, sk, tok, 0};
                    s3_creds_clear(&tmp);
                    return -1;
                }
            }
            s3_creds tmp = {ak, sk, tok, 0};
            s3_creds_clear(&tmp);
        }
    }
    if (out->access_key)
        return 0;
    if (cfg->profile && *cfg->profile && strcmp(profile, "default") != 0) {
        /* a profile without keys (a region only, say) lets the chain go on, as in the
         * SDKs; one that says to get credentials another way would give the wrong
         * identity if skipped */
        const char *const files[2][2] = {{cred_path, profile}, {conf_path, section}};
        const char *k = unsupported_profile_key(files);
        if (k) {
            snprintf(err, errlen,
                     "profile '%.*s' uses %s, which is not supported (only static "
                     "aws_access_key_id / aws_secret_access_key are read from a profile)",
                     ut_utf8_prec(profile, 64), profile, k);
            free(*profile_region);
            *profile_region = NULL;
            return -1;
        }
    }
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
        s3_credsrc *src = new_src(SRC_CONTAINER, loop, err, errlen);
        if (!src)
            return -1;
        char u[1024];
        if (rel && *rel)
            snprintf(u, sizeof u, "http://169.254.170.2%s", rel);
        else
            snprintf(u, sizeof u, "%s", full);
        src->container_url = ut_strdup(u);
        const char *tf = cfg->container_token_file;
        if (!tf || !*tf)
            tf = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        if (tf && *tf)
            src->auth_token_file = ut_strdup(tf);
        else if (getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
            src->auth_token = ut_strdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        *srcp = src;
        return 0;
    }
    /* 6. EC2 instance metadata */
    if (!cfg->imds_disabled) {
        s3_credsrc *src = new_src(SRC_IMDS, loop, err, errlen);
        if (!src)
            return -1;
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
        *srcp = src;
        return 0;
    }
    snprintf(err, errlen,
             "no credentials found (looked at obstore_config, AWS_ACCESS_KEY_ID, profile '%.*s' "
             "in the shared files; web identity, container and instance metadata not "
             "configured or disabled)",
             ut_utf8_prec(profile, 64), profile);
    return -1;
}
