/* store_token.c - the shared access-token cache of networked stores (see store_token.h). */
#define _DEFAULT_SOURCE /* timegm */
#include "store_token.h"

#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_AHEAD_MAX_MS (300 * 1000)
#define MUST_WAIT_MAX_MS (60 * 1000)

int64_t store_token_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop_request(store_token *t) {
    ut_buf_free(&t->url);
    ut_buf_free(&t->req_body);
    for (size_t i = 0; i < t->n_headers; i++)
        ut_free_secret(&t->headers[i]);
    t->n_headers = 0;
}

void store_token_init(store_token *t, remote_store *rs, store_token_step_fn step, void *ctx) {
    memset(t, 0, sizeof *t);
    t->rs = rs;
    t->step = step;
    t->ctx = ctx;
}

void store_token_free(store_token *t) {
    if (t->share) /* an open that failed after a follower joined */
        store_share_close(t->share);
    if (t->follower)
        store_share_leave(t->follower);
    t->share = NULL;
    t->follower = NULL;
    ut_free_secret(&t->value);
    drop_request(t);
    ut_buf_free(&t->resp_body);
}

const char *store_token_value(const store_token *t) { return t->value ? t->value : ""; }
const char *store_token_error(const store_token *t) { return t->err; }

/* The margins for a token of lifetime life_ms (see the header). */
static int64_t refresh_ahead_ms(int64_t life_ms) {
    int64_t h = life_ms / 2;
    return h < REFRESH_AHEAD_MAX_MS ? h : REFRESH_AHEAD_MAX_MS;
}
static int64_t must_wait_ms(int64_t life_ms) {
    int64_t h = life_ms / 10;
    return h < MUST_WAIT_MAX_MS ? h : MUST_WAIT_MAX_MS;
}

static bool usable(const store_token *t, int64_t now) {
    return t->value && t->expires_ms - now > must_wait_ms(t->expires_ms - t->fetched_ms);
}

/* Runs every waiter's ready with status, in order. A ready may queue a new waiter (a
 * listing's next page) or start a fetch: the list is detached first. */
static void flush(store_token *t, int status) {
    store_token_waiter *w = t->head;
    t->head = t->tail = NULL;
    while (w) {
        store_token_waiter *next = w->next;
        w->next = NULL;
        w->queued = false;
        w->ready(w, status);
        w = next;
    }
}

static void run_steps(store_token *t, const store_token_resp *prev);
static void share_publish(store_token *t, int status);

static int tok_body(net_request *nr, const void *data, size_t len) {
    store_token *t = nr->data;
    ut_buf_put(&t->resp_body, data, len);
    return t->resp_body.bad ? 1 : 0;
}

static int tok_prepare(net_request *nr, void *headers) {
    store_token *t = nr->data;
    ut_buf_reset(&t->resp_body);
    for (size_t i = 0; i < t->n_headers; i++)
        if (net_add_header(headers, t->headers[i]) != 0)
            return NET_E_NOMEM;
    return 0;
}

static void tok_done(net_request *nr, int status) {
    store_token *t = nr->data;
    remote_store *rs = t->rs;
    t->in_http = false;
    drop_request(t);
    if (status == NET_E_CANCELED || rs->closing) {
        ut_buf_free(&t->resp_body);
        snprintf(t->err, sizeof t->err, "the access token request was canceled");
        t->fetching = false;
        flush(t, STORE_E_CANCELED);
        remote_release(rs);
        return;
    }
    store_token_resp r = {status, nr->http_status, ut_buf_str(&t->resp_body), t->resp_body.len};
    t->cur_step++;
    run_steps(t, &r);
    remote_release(rs);
}

/* Ends a fetch: the waiters go (or fail), unless a token that is still usable makes a
 * failed refresh harmless. */
static void fetch_end(store_token *t, int rc) {
    t->fetching = false;
    ut_buf_free(&t->resp_body);
    t->last_rc = rc;
    if (rc == STORE_OK)
        t->fetches++;
    if (rc != STORE_OK && usable(t, store_token_now_ms()))
        rc = STORE_OK;
    flush(t, rc);
    if (t->share_waiting) { /* a refresh the followers wait for */
        t->share_waiting = false;
        share_publish(t, rc);
    }
}

/* One step of the provider; a request it made goes to the engine (holding the store
 * until its callback), else the fetch ends here. */
static void run_steps(store_token *t, const store_token_resp *prev) {
    int rc;
    if (t->cur_step > 8) { /* no provider takes this many: a loop */
        snprintf(t->err, sizeof t->err, "access token: too many steps");
        rc = STORE_E_AUTH;
    } else {
        char err[256] = "";
        rc = t->step(t, t->ctx, t->cur_step, prev, err, sizeof err);
        if (rc != STORE_OK)
            snprintf(t->err, sizeof t->err, "%s", err[0] ? err : "access token fetch failed");
    }
    if (rc == STORE_OK && t->awaiting_share)
        return; /* a follower: the leader's answer ends the fetch (follower_got) */
    if (rc == STORE_OK && t->url.len) { /* a request was made */
        memset(&t->nr, 0, sizeof t->nr);
        t->nr.method = t->method;
        t->nr.url = t->url.p;
        t->nr.body = t->req_body.len ? t->req_body.p : NULL;
        t->nr.body_len = t->req_body.len;
        t->nr.on_body = tok_body;
        t->nr.prepare = tok_prepare;
        t->nr.cb = tok_done;
        t->nr.data = t;
        t->resp_body.limit = STORE_TOKEN_MAX_BODY;
        ut_buf_reset(&t->resp_body);
        if (t->rs->closing || !t->rs->net || net_start(t->rs->net, &t->nr) != 0) {
            drop_request(t);
            snprintf(t->err, sizeof t->err, "cannot start the access token request");
            fetch_end(t, t->rs->closing ? STORE_E_CANCELED : STORE_E_NOMEM);
            return;
        }
        t->in_http = true;
        remote_hold(t->rs);
        return;
    }
    drop_request(t);
    if (rc == STORE_OK && !t->value) {
        snprintf(t->err, sizeof t->err, "access token: the provider gave none");
        rc = STORE_E_AUTH;
    }
    fetch_end(t, rc);
}

static void start_fetch(store_token *t) {
    if (t->fetching)
        return;
    t->fetching = true;
    t->cur_step = 0;
    t->err[0] = 0;
    run_steps(t, NULL);
}

int store_token_wait(store_token *t, store_token_waiter *w) {
    w->queued = false;
    w->next = NULL;
    int64_t now = store_token_now_ms();
    if (t->value && t->expires_ms - now > refresh_ahead_ms(t->expires_ms - t->fetched_ms))
        return STORE_OK;
    if (usable(t, now)) { /* early refresh: this request goes with the current token */
        start_fetch(t);
        return STORE_OK;
    }
    /* no usable token: wait for the fetch under way, or start one */
    if (!t->fetching)
        start_fetch(t); /* may end at once (a CLI, a failure): nobody waits yet */
    if (t->fetching) {
        w->queued = true;
        if (t->tail)
            t->tail->next = w;
        else
            t->head = w;
        t->tail = w;
        return STORE_OK;
    }
    if (usable(t, store_token_now_ms()))
        return STORE_OK;
    return t->last_rc != STORE_OK ? t->last_rc : STORE_E_AUTH;
}

bool store_token_unqueue(store_token *t, store_token_waiter *w) {
    store_token_waiter **pp = &t->head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    bool found = *pp != NULL;
    if (found) {
        *pp = w->next;
        if (t->tail == w)
            t->tail = prev;
    }
    w->queued = false;
    w->next = NULL;
    return found;
}

void store_token_cancel(store_token *t) {
    if (t->share) {
        store_share_close(t->share);
        t->share = NULL;
    }
    if (t->follower) {
        store_share_leave(t->follower);
        t->follower = NULL;
        t->awaiting_share = false;
        t->fetching = false;
    }
    if (!t->head)
        return;
    snprintf(t->err, sizeof t->err, "canceled while waiting for an access token");
    flush(t, STORE_E_CANCELED);
}

int store_token_http(store_token *t, const char *method, const char *url,
                     const char *const *headers, const char *body, size_t body_len) {
    drop_request(t);
    ut_buf_puts(&t->url, url);
    if (body && body_len)
        ut_buf_put(&t->req_body, body, body_len);
    snprintf(t->method, sizeof t->method, "%s", strcmp(method, "POST") == 0 ? "POST" : "GET");
    for (size_t i = 0; headers && headers[i]; i++) {
        if (t->n_headers == STORE_TOKEN_MAX_HEADERS)
            return STORE_E_NOMEM;
        t->headers[t->n_headers] = strdup(headers[i]);
        if (!t->headers[t->n_headers])
            return STORE_E_NOMEM;
        t->n_headers++;
    }
    return t->url.bad || t->req_body.bad ? STORE_E_NOMEM : STORE_OK;
}

int store_token_set(store_token *t, const char *token, int64_t expires_in_s) {
    char *v = strdup(token);
    if (!v)
        return STORE_E_NOMEM;
    ut_free_secret(&t->value);
    t->value = v;
    t->fetched_ms = store_token_now_ms();
    t->expires_ms = t->fetched_ms + expires_in_s * 1000;
    return STORE_OK;
}

void store_token_form(ut_buf *b, const char *name, const char *value) {
    if (b->len)
        ut_buf_putc(b, '&');
    ut_buf_puts(b, name);
    ut_buf_putc(b, '=');
    ut_pct_encode(b, value, strlen(value), false);
}

/* "2024-01-02T03:04:05[.fff]Z" (UTC, Google's expireTime) -> epoch seconds; -1 if not. */
static int64_t parse_rfc3339_utc(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    const char *r = s + n;
    if (*r == '.')
        for (r++; *r >= '0' && *r <= '9'; r++)
            ;
    if (strcmp(r, "Z") != 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* "2024-01-02 03:04:05.123456" in local time (the Azure CLI's expiresOn) -> epoch. */
static int64_t parse_local_time(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

int store_token_parse(const char *json, size_t len, const char *token_field, int64_t now_s,
                      char **token, int64_t *expires_in_s, char *err, size_t errlen) {
    *token = NULL;
    *expires_in_s = 0;
    ut_json d;
    char jerr[96];
    if (ut_json_parse(&d, json, len, 1024, jerr, sizeof jerr) != 0) {
        snprintf(err, errlen, "the token response is not valid JSON (%s)", jerr);
        return -1;
    }
    int rc = -1;
    size_t t =
        d.n && d.tok[0].type == UT_JSON_OBJECT ? ut_json_get(&d, 0, token_field) : UT_JSON_NONE;
    char *tok = t == UT_JSON_NONE ? NULL : ut_json_strdup(&d, t);
    int64_t left = 3600;
    bool bad_exp = false;
    uint64_t u;
    size_t e;
    char *s = NULL;
    if ((e = ut_json_get(&d, 0, "expires_in")) != UT_JSON_NONE) {
        bad_exp = ut_json_u64(&d, e, &u) != 0;
        left = (int64_t)(u > 86400 * 7 ? 86400 * 7 : u);
    } else if ((e = ut_json_get(&d, 0, "expires_on")) != UT_JSON_NONE) {
        bad_exp = ut_json_u64(&d, e, &u) != 0 || u > (uint64_t)INT64_MAX / 2;
        left = bad_exp ? 0 : (int64_t)u - now_s;
    } else if ((e = ut_json_get(&d, 0, "expireTime")) != UT_JSON_NONE ||
               (e = ut_json_get(&d, 0, "expiresOn")) != UT_JSON_NONE) {
        s = ut_json_strdup(&d, e);
        int64_t at = -1;
        if (s)
            at = strchr(s, 'T') ? parse_rfc3339_utc(s) : parse_local_time(s);
        bad_exp = at < 0;
        left = at - now_s;
        free(s);
    }
    if (left > 86400 * 7)
        left = 86400 * 7;
    if (!tok || !tok[0] || strlen(tok) > 16384 || strpbrk(tok, "\r\n")) {
        snprintf(err, errlen, "the token response has no usable %s", token_field);
    } else if (bad_exp) {
        snprintf(err, errlen, "the token response has a malformed expiry");
    } else if (left <= 0) {
        snprintf(err, errlen, "the token response holds an expired token");
    } else {
        *token = tok;
        tok = NULL;
        *expires_in_s = left;
        rc = 0;
    }
    ut_free_secret(&tok);
    ut_json_free(&d);
    return rc;
}

int store_token_failure(const store_token_resp *r, const char *source, const char *endpoint,
                        const char *hint, char *err, size_t errlen) {
    if (r->net_status != NET_E_HTTP)
        return remote_net_failure(r->net_status, source, endpoint, err, errlen);
    /* {"error": "invalid_client", "error_description": ".."} (OAuth2, Azure AD, IMDS, STS)
     * or {"error": {"code": 403, "message": "..", "status": ".."}} (Google APIs) */
    char what[200] = "";
    ut_json d;
    char jerr[64];
    if (r->len && ut_json_parse(&d, r->body, r->len, 4096, jerr, sizeof jerr) == 0) {
        if (d.n && d.tok[0].type == UT_JSON_OBJECT) {
            size_t e = ut_json_get(&d, 0, "error");
            char *code = NULL, *desc = NULL;
            if (e != UT_JSON_NONE && d.tok[e].type == UT_JSON_STRING) {
                code = ut_json_strdup(&d, e);
                size_t ds = ut_json_get(&d, 0, "error_description");
                desc = ds == UT_JSON_NONE ? NULL : ut_json_strdup(&d, ds);
            } else if (e != UT_JSON_NONE && d.tok[e].type == UT_JSON_OBJECT) {
                size_t st = ut_json_get(&d, e, "status"), m = ut_json_get(&d, e, "message");
                code = st == UT_JSON_NONE ? NULL : ut_json_strdup(&d, st);
                desc = m == UT_JSON_NONE ? NULL : ut_json_strdup(&d, m);
            }
            if (code || desc) {
                /* first line only: Azure AD appends trace and correlation ids */
                if (desc)
                    desc[strcspn(desc, "\r\n")] = 0;
                ut_msgf(what, sizeof what, " (%s%s%.*s)", code ? code : "",
                        code && desc ? ": " : "", ut_utf8_prec(desc ? desc : "", 140),
                        desc ? desc : "");
            }
            free(code);
            free(desc);
        }
        ut_json_free(&d);
    }
    long h = r->http_status;
    int kind = h == 400 || h == 401 || h == 403 ? STORE_E_AUTH : remote_http_kind(h);
    if (kind == STORE_E_AUTH)
        ut_msgf(err, errlen, "%s refused the credentials: HTTP %ld%s%s%s", source, h, what,
                hint && *hint ? ": " : "", hint ? hint : "");
    else
        ut_msgf(err, errlen, "%s: HTTP %ld%s", source, h, what);
    return kind;
}

/* ---- one token for all the fetch threads (store_share.h) ---- */

/* Leader: the followers get the token if usable, else the failure. */
static void share_publish(store_token *t, int status) {
    if (!t->share)
        return;
    if (usable(t, store_token_now_ms()))
        store_share_publish(t->share, STORE_OK, t->value, strlen(t->value) + 1, t->fetched_ms,
                            t->expires_ms, NULL);
    else
        store_share_publish(t->share, status != STORE_OK ? status : STORE_E_AUTH, NULL, 0, 0, 0,
                            t->err[0] ? t->err : "no access token");
}

static void share_ready(store_token_waiter *w, int status) {
    store_token *t = (store_token *)((char *)w - offsetof(store_token, share_w));
    share_publish(t, status);
}

/* Leader, on its loop: followers' tokens are missing or due. Their margins are the same
 * as the leader's (same fetch and expiry times), so a token due for them is due here too,
 * and store_token_wait starts the refresh; the followers get the new token when it ends. */
static void share_ask(void *ctx) {
    store_token *t = ctx;
    if (t->share_w.queued || t->share_waiting)
        return; /* the answer is coming */
    t->share_w.ready = share_ready;
    int rc = store_token_wait(t, &t->share_w);
    if (rc != STORE_OK)
        share_publish(t, rc);
    else if (t->share_w.queued)
        return;
    else if (t->fetching)
        t->share_waiting = true; /* an early refresh: publish at its end */
    else
        share_publish(t, STORE_OK);
}

/* Follower, on its loop: the leader published. */
static void follower_got(void *ctx) {
    store_token *t = ctx;
    if (!t->fetching || !t->awaiting_share)
        return;
    t->awaiting_share = false;
    char *blob = NULL, err[256] = "";
    size_t len = 0;
    int64_t fetched = 0, expires = 0;
    int rc = store_share_take(t->follower, &blob, &len, &fetched, &expires, err, sizeof err);
    if (rc == STORE_OK && (len == 0 || blob[len - 1] != '\0')) {
        rc = STORE_E_AUTH;
        snprintf(err, sizeof err, "access token: a malformed token from the leader");
    }
    if (rc == STORE_OK) {
        ut_free_secret(&t->value);
        t->value = blob;
        blob = NULL;
        t->fetched_ms = fetched;
        t->expires_ms = expires;
    } else {
        snprintf(t->err, sizeof t->err, "%s", err);
    }
    if (blob) {
        OPENSSL_cleanse(blob, len);
        free(blob);
    }
    fetch_end(t, rc);
}

static int follower_step(store_token *t, void *ctx, unsigned step, const store_token_resp *prev,
                         char *err, size_t errlen) {
    (void)ctx;
    (void)step;
    (void)prev;
    (void)err;
    (void)errlen;
    t->awaiting_share = true;
    store_share_ask(t->follower);
    return STORE_OK;
}

int store_token_follow(store_token *t, remote_store *rs, store_token *leader, uv_loop_t *loop) {
    if (!leader->share &&
        !(leader->share = store_share_new(leader->rs->base.loop, share_ask, leader)))
        return STORE_E_NOMEM;
    store_token_init(t, rs, follower_step, NULL);
    if (!(t->follower = store_share_join(leader->share, loop, follower_got, t)))
        return STORE_E_NOMEM;
    return STORE_OK;
}

/* ---- the gate of a write ---- */

static void gate_ready(store_token_waiter *w, int status) {
    store_token_gate *g = (store_token_gate *)((char *)w - offsetof(store_token_gate, w));
    remote_put_authed(g->rp, status, store_token_error(g->t));
}

int store_token_gate_wait(store_token_gate *g, store_token *t, remote_put *rp, const char **why) {
    g->t = t;
    g->rp = rp;
    g->w.ready = gate_ready;
    g->w.queued = false;
    if (!t)
        return 0;
    int rc = store_token_wait(t, &g->w);
    *why = store_token_error(t);
    return rc != STORE_OK ? rc : g->w.queued;
}

bool store_token_gate_unwait(store_token_gate *g) {
    return g->t && g->w.queued && store_token_unqueue(g->t, &g->w);
}
