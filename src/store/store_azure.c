/* store_azure.c - Azure Blob Storage: List Blobs (marker paging) and ranged Get Blob over
 * the network engine, with anonymous, SAS, SharedKey (account key) or bearer-token access,
 * or an Entra ID (Azure AD) token that the store fetches and refreshes itself: service
 * principal with a client secret, workload identity (AKS federated token file), managed
 * identity (IMDS) or the Azure CLI (az_token.h, store_token.h). Requests started while no
 * token is usable wait for the fetch.
 *
 * Addressing follows obstore/object_store: az://container/prefix (account from the options
 * or AZURE_STORAGE_ACCOUNT_NAME), abfs[s]://container@ACCOUNT.dfs.core.windows.net/prefix,
 * https://ACCOUNT.blob.core.windows.net/container/prefix; `endpoint` replaces the account
 * URL (path-style URLs such as http://127.0.0.1:10000/devstoreaccount1 work, since the
 * signature covers the URL's path as sent); use_emulator targets azurite
 * (AZURITE_BLOB_STORAGE_URL or http://127.0.0.1:10000, account in the path, the
 * well-known devstoreaccount1 key unless another credential is given).
 *
 * Secrets (account key, SAS, token) never reach a message: messages name the display URL
 * and the key, never the request URL, whose query may carry a SAS. */
#include "remote.h"

#include <stdlib.h>
#include <string.h>

static bool host_is_azure(const char *host, size_t n) {
    /* ACCOUNT.blob.core.windows.net / ACCOUNT.dfs.core.windows.net (public cloud) */
    static const char *const suffixes[] = {".blob.core.windows.net", ".dfs.core.windows.net"};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl && strncmp(host + n - sl, suffixes[i], sl) == 0)
            return true;
    }
    return false;
}

bool store_azure_is_https_url(const char *url) {
    if (strncmp(url, "https://", 8) != 0)
        return false;
    const char *h = url + 8;
    size_t n = strcspn(h, "/?#:");
    return host_is_azure(h, n);
}

#include "az_list.h"
#include "az_put.h"
#include "az_sign.h"
#include "az_token.h"
#include "net.h"
#include "remote.h"

#include <openssl/crypto.h>
#include <stdio.h>

#define AZ_VERSION "2021-08-06"
#define AZ_MAX_PAGE 5000
#define AZ_MAX_LIST_BODY (64u << 20)
#define AZ_EMULATOR_ACCOUNT "devstoreaccount1"
/* azurite's documented, public development key (not a secret) */
#define AZ_EMULATOR_KEY \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

typedef enum { AUTH_ANON, AUTH_SAS, AUTH_KEY, AUTH_BEARER, AUTH_TOKEN } az_auth;

typedef struct az_store {
    remote_store rs; /* first: the core's lifecycle, engine and store */
    char *base_url;  /* scheme://host[:port][/path], no trailing '/' */
    char *base_path; /* path part of base_url ("" or "/devstoreaccount1") */
    char *container;
    char *root; /* "" or "dir/sub/" */
    char *account;
    az_auth auth;
    uint8_t key[128];
    size_t key_len;
    char *sas; /* without '?' */
    char *bearer;
    /* AUTH_TOKEN: the Entra ID flow and its token */
    az_token_cfg tcfg;
    store_token tok;
} az_store;

typedef struct az_cursor az_cursor;

typedef struct az_op {
    remote_read rd; /* first; rd.req is the read, NULL for a listing page */
    ut_buf url;
    ut_buf path; /* signed path (encoded, as in the URL) */
    az_pair q[7];
    size_t nq;
    char maxres[24];
    char range[64];
    ut_buf hdr;           /* one header line at a time */
    az_cursor *cur;       /* listing */
    store_token_waiter w; /* AUTH_TOKEN: waiting for the token */
} az_op;

struct az_cursor {
    remote_cursor rc; /* first */
    az_op op;
    az_list_parser *parser;
    ut_buf prefix; /* root + req->prefix */
    ut_buf marker;
    uint64_t body_bytes;
};

static void op_free_bufs(az_op *op) {
    ut_buf_free(&op->url);
    ut_buf_free(&op->path);
    ut_buf_free(&op->hdr);
}

/* ---- signing, per attempt ---- */

static int add_hdr(void *headers, ut_buf *b, const char *name, const char *value) {
    ut_buf_reset(b);
    ut_buf_puts(b, name);
    ut_buf_puts(b, ": ");
    ut_buf_puts(b, value);
    if (b->bad)
        return NET_E_NOMEM;
    return net_add_header(headers, b->p) == 0 ? 0 : NET_E_NOMEM;
}

static int az_prepare(net_request *nr, void *headers) {
    az_op *op = nr->data;
    az_store *st = (az_store *)op->rd.rs;
    if (op->cur) {
        op->cur->body_bytes = 0;
        if (az_list_reset(op->cur->parser) != 0)
            return NET_E_NOMEM;
    }
    char date[32];
    ut_http_date_format(time(NULL), date);
    int rc = add_hdr(headers, &op->hdr, "x-ms-date", date);
    if (!rc)
        rc = add_hdr(headers, &op->hdr, "x-ms-version", AZ_VERSION);
    if (rc)
        return rc;
    if (st->auth == AUTH_BEARER || st->auth == AUTH_TOKEN) {
        /* every attempt takes the token current then: a retry after a refresh goes with
         * the new one */
        ut_buf_reset(&op->hdr);
        ut_buf_puts(&op->hdr, "Authorization: Bearer ");
        ut_buf_puts(&op->hdr, st->auth == AUTH_TOKEN ? store_token_value(&st->tok) : st->bearer);
        rc = op->hdr.bad || net_add_header(headers, op->hdr.p) != 0 ? NET_E_NOMEM : 0;
        ut_buf_reset(&op->hdr); /* do not keep the token around */
        return rc;
    }
    if (st->auth != AUTH_KEY)
        return 0;
    az_pair h[3] = {{"x-ms-date", date}, {"x-ms-version", AZ_VERSION}, {"Range", op->range}};
    size_t nh = op->range[0] ? 3 : 2;
    ut_buf sts = {0};
    ut_buf_reset(&op->hdr);
    ut_buf_puts(&op->hdr, "Authorization: ");
    rc = NET_E_NOMEM;
    if (az_string_to_sign(&sts, "GET", st->account, op->path.p, op->q, op->nq, h, nh) == 0 &&
        az_sharedkey_auth(&op->hdr, st->account, st->key, st->key_len, sts.p, sts.len) == 0 &&
        net_add_header(headers, op->hdr.p) == 0)
        rc = 0;
    ut_buf_free(&sts);
    ut_buf_reset(&op->hdr);
    return rc;
}

/* URL and signed path of container-level (key == NULL) or blob requests; the query pairs
 * go into both, raw in the signature and encoded in the URL. */
static int build_urls(const az_store *st, const char *key, size_t key_len, const az_pair *q,
                      size_t nq, ut_buf *url, ut_buf *path) {
    ut_buf enc = {0};
    ut_buf_putc(&enc, '/');
    ut_pct_encode(&enc, st->container, strlen(st->container), false);
    if (key) {
        ut_buf_putc(&enc, '/');
        ut_pct_encode(&enc, st->root, strlen(st->root), true);
        ut_pct_encode(&enc, key, key_len, true);
    }
    ut_buf_puts(path, st->base_path);
    ut_buf_put(path, enc.p, enc.len);
    ut_buf_puts(url, st->base_url);
    ut_buf_put(url, enc.p, enc.len);
    ut_buf_free(&enc);
    char sep = '?';
    for (size_t i = 0; i < nq; i++) {
        ut_buf_putc(url, sep);
        sep = '&';
        ut_buf_puts(url, q[i].name);
        ut_buf_putc(url, '=');
        ut_pct_encode(url, q[i].value, strlen(q[i].value), false);
    }
    if (st->auth == AUTH_SAS) {
        ut_buf_putc(url, sep);
        ut_buf_puts(url, st->sas);
    }
    return url->bad || path->bad ? -1 : 0;
}

static int build_target(az_op *op, const char *key, size_t key_len) {
    return build_urls((az_store *)op->rd.rs, key, key_len, op->q, op->nq, &op->url, &op->path);
}

/* ---- status mapping ---- */

static int map_status(int net_status, long http, const char *code, char *msg, size_t msglen,
                      const char *what, const az_store *st) {
    /* the endpoint (never a SAS: that lives in the query) tells where it went */
    if (net_status != NET_E_HTTP)
        return remote_net_failure(net_status, what, st->base_url, msg, msglen);
    const char *c = code && *code ? code : NULL;
    /* Azure says AuthenticationFailed for a bad signature; azurite says AuthorizationFailure
     * (with the same text), which Azure also uses for network-rule refusals */
    if (http == 403 && c && st->auth != AUTH_ANON &&
        (strcmp(c, "AuthenticationFailed") == 0 || strcmp(c, "AuthorizationFailure") == 0)) {
        if (st->auth == AUTH_KEY)
            return store__fail(msg, msglen, STORE_E_AUTH,
                               "%s: HTTP 403 %s: the account key was refused: check "
                               "account_key / AZURE_STORAGE_ACCOUNT_KEY for account '%s'",
                               what, c, st->account);
        if (st->auth == AUTH_SAS)
            return store__fail(msg, msglen, STORE_E_AUTH,
                               "%s: HTTP 403 %s: the SAS token was refused (expired, wrong "
                               "permissions or altered): check sas_key / "
                               "AZURE_STORAGE_SAS_TOKEN",
                               what, c);
        if (st->auth == AUTH_TOKEN)
            return store__fail(msg, msglen, STORE_E_AUTH,
                               "%s: HTTP 403 %s: the access token from %s was refused", what, c,
                               az_token_source(&st->tcfg));
        return store__fail(msg, msglen, STORE_E_AUTH,
                           "%s: HTTP 403 %s: the bearer token was refused", what, c);
    }
    int kind = remote_http_kind(http);
    if (kind == STORE_E_AUTH) {
        return store__fail(msg, msglen, kind, "%s: HTTP %ld%s%s: credentials missing or invalid",
                           what, http, c ? " " : "", c ? c : "");
    }
    if (kind == STORE_E_ACCESS) {
        return store__fail(
            msg, msglen, kind, "%s: HTTP 403%s%s: access denied%s", what, c ? " " : "", c ? c : "",
            st->auth == AUTH_ANON  ? " (no credentials were given: set account_key or "
                                     "sas_key for a private container)"
            : st->auth == AUTH_KEY ? " (check account_key)"
            : st->auth == AUTH_SAS ? " (check sas_key: expiry and permissions)"
            : (st->auth == AUTH_TOKEN || st->auth == AUTH_BEARER) && c &&
                    strcmp(c, "AuthorizationPermissionMismatch") == 0
                ? " (the identity needs a data role on the container, such as Storage Blob "
                  "Data Reader)"
                : "");
    }
    if (kind == STORE_E_NOT_FOUND) {
        return store__fail(msg, msglen, kind, "%s: HTTP %ld%s%s: not found%s", what, http,
                           c ? " " : "", c ? c : "",
                           st->auth == AUTH_ANON && c && strcmp(c, "ResourceNotFound") == 0
                               ? " (a private container also answers this to anonymous requests)"
                               : "");
    }
    if (http == 409 && c && strcmp(c, "PublicAccessNotPermitted") == 0) {
        return store__fail(msg, msglen, STORE_E_ACCESS,
                           "%s: HTTP 409 PublicAccessNotPermitted: the container is not "
                           "public: give account_key or sas_key",
                           what);
    }
    if (kind == STORE_E_THROTTLED) {
        return store__fail(msg, msglen, kind, "%s: HTTP %ld%s%s: throttled, out of retries", what,
                           http, c ? " " : "", c ? c : "");
    }
    return store__fail(msg, msglen, STORE_E_HTTP, "%s: unexpected HTTP status %ld%s%s", what, http,
                       c ? " " : "", c ? c : "");
}

/* ---- waiting for the Entra ID token (AUTH_TOKEN) ---- */

static void list_done(net_request *nr, int status);

/* The op's end without a transfer: a store code below the NET codes, as GCS does. */
static void op_fail(az_op *op, int code) {
    op->rd.nr.http_status = 0;
    op->rd.nr.got = 0;
    if (op->cur)
        list_done(&op->rd.nr, -1000 + code);
    else
        remote_read_done(&op->rd.nr, -1000 + code);
}

static void token_ready(store_token_waiter *w, int status) {
    az_op *op = (az_op *)((char *)w - offsetof(az_op, w));
    remote_store *rs = op->rd.rs;
    if (status == STORE_OK && rs->closing)
        status = STORE_E_CANCELED;
    if (status == STORE_OK && net_start(rs->net, &op->rd.nr) != 0)
        status = STORE_E_NOMEM;
    if (status != STORE_OK)
        op_fail(op, status);
}

/* Starts op's request now, or queues it behind the token fetch. */
static int op_submit(az_op *op) {
    az_store *st = (az_store *)op->rd.rs;
    op->w.ready = token_ready;
    int rc = store_token_wait(&st->tok, &op->w);
    if (rc != STORE_OK || op->w.queued)
        return rc;
    return net_start(st->rs.net, &op->rd.nr) == 0 ? STORE_OK : STORE_E_NOMEM;
}

static int page_submit(remote_cursor *rc) { return op_submit(&((az_cursor *)rc)->op); }

static bool cursor_unqueue(remote_cursor *rc) {
    az_cursor *c = (az_cursor *)rc;
    az_store *st = (az_store *)rc->rs;
    return c->op.w.queued && store_token_unqueue(&st->tok, &c->op.w);
}

static int az_read_submit(remote_read *rd) {
    az_store *st = (az_store *)rd->rs;
    if (st->auth != AUTH_TOKEN) { /* what remote_read_start does without the hook */
        int nrc = net_start(st->rs.net, &rd->nr);
        if (nrc == 0)
            return STORE_OK;
        return store__fail(rd->req->errmsg, sizeof rd->req->errmsg,
                           nrc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK,
                           "%s: could not start request: %s", st->rs.base.url, net_strerror(nrc));
    }
    int rc = op_submit((az_op *)rd);
    if (rc != STORE_OK)
        return store__fail(rd->req->errmsg, sizeof rd->req->errmsg, rc, "reading %s/%.*s: %s",
                           st->rs.base.url, ut_utf8_prec(rd->req->key, 100), rd->req->key,
                           store_token_error(&st->tok));
    return STORE_OK;
}

static void az_cancel(remote_store *rs) {
    az_store *st = (az_store *)rs;
    if (st->auth == AUTH_TOKEN)
        store_token_cancel(&st->tok);
}

/* ---- listing ---- */

static void cursor_free(remote_cursor *rc) {
    az_cursor *c = (az_cursor *)rc;
    if (!c)
        return;
    az_list_free(c->parser);
    ut_buf_free(&c->prefix);
    ut_buf_free(&c->marker);
    op_free_bufs(&c->op);
    free(c);
}

static int list_body(net_request *nr, const void *data, size_t len) {
    az_op *op = nr->data;
    az_cursor *c = op->cur;
    /* a page of 5,000 blobs with every property is ~10 MB: anything far bigger is not one */
    c->body_bytes += len;
    if (c->body_bytes > AZ_MAX_LIST_BODY)
        return 1;
    /* an error body is parsed too: it is where Azure names the failure (<Code>). A body
     * that does not parse is not aborted, so the HTTP status still decides the error. */
    az_list_feed(c->parser, data, len, false);
    return 0;
}

static void list_done(net_request *nr, int status) {
    az_op *op = nr->data;
    az_cursor *c = op->cur;
    az_store *st = (az_store *)op->rd.rs;
    if (!remote_page_landed(&c->rc))
        return;
    store_list_req *req = c->rc.req;
    req->attempts = nr->attempts;
    bool parsed_ok = true;
    if (status == NET_OK || status == NET_E_HTTP)
        parsed_ok = az_list_feed(c->parser, NULL, 0, true) == 0;
    char what[160];
    snprintf(what, sizeof what, "listing %s (prefix '%.*s')", st->rs.base.url,
             ut_utf8_prec(req->prefix ? req->prefix : "", 60), req->prefix ? req->prefix : "");
    int rc;
    if (status <= -1000) { /* no token: a store code */
        ut_join(req->errmsg, sizeof req->errmsg, what, store_token_error(&st->tok));
        rc = status + 1000;
    } else if (status == NET_E_ABORTED) {
        snprintf(req->errmsg, sizeof req->errmsg, "%s: response larger than %u bytes", what,
                 AZ_MAX_LIST_BODY);
        rc = STORE_E_PROTOCOL;
    } else if (status == NET_OK && !parsed_ok) {
        ut_join(req->errmsg, sizeof req->errmsg, what, az_list_error(c->parser));
        rc = STORE_E_PROTOCOL;
    } else {
        rc = map_status(status, nr->http_status, az_list_err_code(c->parser), req->errmsg,
                        sizeof req->errmsg, what, st);
        if (rc == STORE_OK && !az_list_seen_results(c->parser)) {
            snprintf(req->errmsg, sizeof req->errmsg,
                     "%s: the response is not a List Blobs "
                     "result",
                     what);
            rc = STORE_E_PROTOCOL;
        }
    }
    size_t n = 0;
    const store_entry *ents = NULL;
    bool done = true;
    if (rc == STORE_OK) {
        req->errmsg[0] = 0;
        ents = az_list_entries(c->parser, &n);
        req->common_prefixes = az_list_prefixes(c->parser, &req->n_common_prefixes);
        const char *next = az_list_next_marker(c->parser);
        ut_buf_reset(&c->marker);
        ut_buf_puts(&c->marker, next);
        done = next[0] == 0;
    }
    remote_page_deliver(&c->rc, rc, ents, n, done);
}

static int az_list_next(store *s, store_list_req *req) {
    az_store *st = (az_store *)s;
    remote_cursor *rc0;
    bool fresh;
    int brc = remote_cursor_begin(&st->rs, req, sizeof(az_cursor), &rc0, &fresh);
    if (brc)
        return brc;
    az_cursor *c = (az_cursor *)rc0;
    if (fresh) {
        c->rc.nr = &c->op.rd.nr;
        c->op.rd.rs = &st->rs;
        c->op.cur = c;
        c->prefix.limit = 2 * AZ_LIST_MAX_NAME;
        ut_buf_puts(&c->prefix, st->root);
        const char *p = req->prefix ? req->prefix : "";
        ut_buf_puts(&c->prefix, p);
        c->marker.limit = AZ_LIST_MAX_MARKER + 1;
        size_t max = req->page_size < AZ_MAX_PAGE ? req->page_size : AZ_MAX_PAGE;
        c->parser = az_list_new(st->root, max);
        if (!c->parser || c->prefix.bad) {
            int code = c->prefix.bad ? STORE_E_CONFIG : STORE_E_NOMEM;
            cursor_free(&c->rc);
            return store__fail(req->errmsg, sizeof req->errmsg, code, "cannot start listing %s",
                               st->rs.base.url);
        }
        req->priv = c;
    }
    az_op *op = &c->op;
    ut_buf_free(&op->url);
    ut_buf_free(&op->path);
    size_t max = req->page_size < AZ_MAX_PAGE ? req->page_size : AZ_MAX_PAGE;
    snprintf(op->maxres, sizeof op->maxres, "%zu", max);
    op->nq = 0;
    op->q[op->nq++] = (az_pair){"restype", "container"};
    op->q[op->nq++] = (az_pair){"comp", "list"};
    if (c->prefix.len)
        op->q[op->nq++] = (az_pair){"prefix", c->prefix.p};
    op->q[op->nq++] = (az_pair){"maxresults", op->maxres};
    if (c->marker.len)
        op->q[op->nq++] = (az_pair){"marker", c->marker.p};
    if (req->delimiter && req->delimiter[0])
        op->q[op->nq++] = (az_pair){"delimiter", "/"};
    op->range[0] = 0;
    if (build_target(op, NULL, 0) != 0)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "listing %s: request URL too long", st->rs.base.url);
    remote_page_init(&op->rd.nr, op->url.p, list_body, az_prepare, list_done, op);
    if (st->auth == AUTH_TOKEN) {
        int rc = remote_page_start(&c->rc, page_submit);
        if (rc != STORE_OK)
            return store__fail(req->errmsg, sizeof req->errmsg, rc, "listing %s: %s",
                               st->rs.base.url, store_token_error(&st->tok));
        return STORE_OK;
    }
    int rc = remote_page_start(&c->rc, NULL);
    if (rc != 0) {
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_NOMEM,
                           "listing %s: cannot start the request: %s", st->rs.base.url,
                           net_strerror(rc));
    }
    return STORE_OK;
}

/* ---- ranged reads ---- */

static int az_read_done(remote_read *rd, int status) {
    az_store *st = (az_store *)rd->rs;
    store_get_req *req = rd->req;
    net_request *nr = &rd->nr;
    char what[200];
    snprintf(what, sizeof what, "reading %s/%.*s", st->rs.base.url, ut_utf8_prec(req->key, 120),
             req->key);
    int rc;
    char code[64] = "";
    if (status <= -1000) { /* no token: a store code */
        ut_join(req->errmsg, sizeof req->errmsg, what, store_token_error(&st->tok));
        req->object_size = UINT64_MAX;
        return status + 1000;
    }
    if (status == NET_E_HTTP && nr->http_status >= 400 && nr->got > 0 && nr->got <= 65536) {
        /* the error document, if the engine kept the body, names the cause */
        az_list_parser *p = az_list_new("", 1);
        if (p) {
            if (az_list_feed(p, req->buf, (size_t)nr->got, true) == 0)
                snprintf(code, sizeof code, "%s", az_list_err_code(p));
            az_list_free(p);
        }
    }
    rc = remote_read_range_answer(rd, status, what);
    if (rc == 1) {
        rc = map_status(status, nr->http_status, code, req->errmsg, sizeof req->errmsg, what, st);
        if (rc == STORE_OK) {
            req->errmsg[0] = 0;
            req->got = nr->got;
        }
    }
    return rc;
}

static void az_read_free(remote_read *rd) {
    op_free_bufs((az_op *)rd);
    free(rd);
}

static int az_get(store *s, store_get_req *req) {
    az_store *st = (az_store *)s;
    int brc = remote_get_begin(st->rs.closing, req);
    if (brc)
        return brc;
    az_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    op->rd.rs = &st->rs; /* build_target reads the store through it */
    op->nq = 0;
    snprintf(op->range, sizeof op->range, "bytes=%llu-%llu", (unsigned long long)req->offset,
             (unsigned long long)(req->offset + req->length - 1));
    if (build_target(op, req->key, strlen(req->key)) != 0) {
        op_free_bufs(op);
        free(op);
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "reading %s/%.*s: request URL too long", st->rs.base.url,
                           ut_utf8_prec(req->key, 100), req->key);
    }
    remote_read_init(&op->rd, &st->rs, req, op->url.p, az_prepare);
    int rc = remote_read_start(&op->rd);
    if (rc != 0)
        az_read_free(&op->rd);
    return rc;
}

/* ---- hooks of az_put.c (az_put.h) ---- */

int az__build(store *s, const char *key, const az_pair *q, size_t nq, ut_buf *url, ut_buf *path) {
    return build_urls((az_store *)s, key, strlen(key), q, nq, url, path);
}

int az__headers(store *s, void *headers, const char *method, const char *path, const az_pair *q,
                size_t nq, const az_pair *h, size_t nh, size_t content_length) {
    az_store *st = (az_store *)s;
    char date[32], cl[24];
    ut_http_date_format(time(NULL), date);
    snprintf(cl, sizeof cl, "%zu", content_length);
    az_pair all[12];
    size_t n = 0;
    all[n++] = (az_pair){"x-ms-date", date};
    all[n++] = (az_pair){"x-ms-version", AZ_VERSION};
    for (size_t i = 0; i < nh && n < sizeof all / sizeof all[0] - 1; i++)
        all[n++] = h[i];
    ut_buf line = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = add_hdr(headers, &line, all[i].name, all[i].value);
    all[n++] = (az_pair){"Content-Length", cl}; /* signed; curl sends it from the body */
    if (!rc && (st->auth == AUTH_BEARER || st->auth == AUTH_TOKEN)) {
        ut_buf_reset(&line);
        ut_buf_puts(&line, "Authorization: Bearer ");
        ut_buf_puts(&line, st->auth == AUTH_TOKEN ? store_token_value(&st->tok) : st->bearer);
        rc = line.bad || net_add_header(headers, line.p) != 0 ? NET_E_NOMEM : 0;
    } else if (!rc && st->auth == AUTH_KEY) {
        ut_buf sts = {0};
        ut_buf_reset(&line);
        ut_buf_puts(&line, "Authorization: ");
        rc = NET_E_NOMEM;
        if (az_string_to_sign(&sts, method, st->account, path, q, nq, all, n) == 0 &&
            az_sharedkey_auth(&line, st->account, st->key, st->key_len, sts.p, sts.len) == 0 &&
            net_add_header(headers, line.p) == 0)
            rc = 0;
        ut_buf_free(&sts);
    }
    ut_buf_free(&line); /* wipes: it held the signature or the token */
    return rc;
}

store_token *az__token(store *s) {
    az_store *st = (az_store *)s;
    return st->auth == AUTH_TOKEN ? &st->tok : NULL;
}

int az__map_status(store *s, int net_status, long http, const char *code, char *msg, size_t msglen,
                   const char *what) {
    return map_status(net_status, http, code, msg, msglen, what, (az_store *)s);
}

/* ---- open / close ---- */

static void az_destroy(remote_store *rs) {
    az_store *st = (az_store *)rs;
    free(st->rs.base.url);
    free(st->base_url);
    free(st->base_path);
    free(st->container);
    free(st->root);
    free(st->account);
    ut_free_secret(&st->sas);
    ut_free_secret(&st->bearer);
    OPENSSL_cleanse(st->key, sizeof st->key);
    store_token_free(&st->tok);
    az_token_cfg_free(&st->tcfg);
    free(st);
}

static const store_vtable az_vt = {remote_close, az_list_next,  remote_list_free, az_get,
                                   az_put,       az_put_cancel, az_delete,        true};
static const remote_ops az_ops = {
    .cancel = az_cancel,
    .destroy = az_destroy,
    .read_submit = az_read_submit,
    .read_done = az_read_done,
    .read_free = az_read_free,
    .cursor_free = cursor_free,
    .cursor_unqueue = cursor_unqueue,
};

/* obstore/object_store's AzureConfigKey names and aliases, and the variables it reads. */
enum {
    K_ACCOUNT,
    K_KEY,
    K_SAS,
    K_TOKEN,
    K_EMU,
    K_ENDPOINT,
    K_SKIP,
    K_CONTAINER,
    K_CLIENT_ID,
    K_CLIENT_SECRET,
    K_TENANT,
    K_AUTHORITY,
    K_FEDERATED,
    K_MSI_ENDPOINT,
    K_OBJECT_ID,
    K_MSI_RESOURCE,
    K_USE_CLI,
    K_ALLOW_HTTP,
    K_IGNORED,
    K_UNSUPPORTED,
    K_N
};
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
static const remote_opt az_opts[K_N] = {
    [K_ACCOUNT] = {NAMES("account_name", "azure_storage_account_name"),
                   NAMES("AZURE_STORAGE_ACCOUNT_NAME"), REMOTE_STRING, 0},
    [K_KEY] = {NAMES("account_key", "azure_storage_account_key", "azure_storage_access_key",
                     "azure_storage_master_key", "access_key", "master_key"),
               NAMES("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_ACCESS_KEY",
                     "AZURE_STORAGE_MASTER_KEY"),
               REMOTE_STRING, REMOTE_SECRET},
    [K_SAS] = {NAMES("sas_key", "azure_storage_sas_key", "azure_storage_sas_token", "sas_token"),
               NAMES("AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_SAS_KEY"), REMOTE_STRING,
               REMOTE_SECRET},
    [K_TOKEN] = {NAMES("bearer_token", "azure_storage_token", "token"),
                 NAMES("AZURE_STORAGE_TOKEN"), REMOTE_STRING, REMOTE_SECRET},
    [K_EMU] = {NAMES("use_emulator", "azure_storage_use_emulator"),
               NAMES("AZURE_STORAGE_USE_EMULATOR"), REMOTE_BOOL, 0},
    [K_ENDPOINT] = {NAMES("endpoint", "azure_storage_endpoint", "azure_endpoint"),
                    NAMES("AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"), REMOTE_URL, 0},
    [K_SKIP] = {NAMES("skip_signature", "azure_skip_signature"), NAMES("AZURE_SKIP_SIGNATURE"),
                REMOTE_BOOL, 0},
    [K_CONTAINER] = {NAMES("container_name", "azure_container_name"), NULL, REMOTE_STRING, 0},
    /* Entra ID: object_store reads every AZURE_* variable named like a key, so these are
     * the variables the Azure SDKs and AKS workload identity set */
    [K_CLIENT_ID] = {NAMES("client_id", "azure_storage_client_id", "azure_client_id"),
                     NAMES("AZURE_CLIENT_ID", "AZURE_STORAGE_CLIENT_ID"), REMOTE_STRING, 0},
    [K_CLIENT_SECRET] = {NAMES("client_secret", "azure_storage_client_secret",
                               "azure_client_secret"),
                         NAMES("AZURE_CLIENT_SECRET", "AZURE_STORAGE_CLIENT_SECRET"), REMOTE_STRING,
                         REMOTE_SECRET},
    [K_TENANT] = {NAMES("tenant_id", "azure_storage_tenant_id", "azure_storage_authority_id",
                        "azure_tenant_id", "azure_authority_id", "authority_id"),
                  NAMES("AZURE_TENANT_ID", "AZURE_STORAGE_TENANT_ID", "AZURE_AUTHORITY_ID"),
                  REMOTE_STRING, 0},
    [K_AUTHORITY] = {NAMES("authority_host", "azure_storage_authority_host",
                           "azure_authority_host"),
                     NAMES("AZURE_AUTHORITY_HOST", "AZURE_STORAGE_AUTHORITY_HOST"), REMOTE_URL, 0},
    [K_FEDERATED] = {NAMES("federated_token_file", "azure_federated_token_file"),
                     NAMES("AZURE_FEDERATED_TOKEN_FILE"), REMOTE_STRING, 0},
    [K_MSI_ENDPOINT] = {NAMES("msi_endpoint", "azure_msi_endpoint", "azure_identity_endpoint",
                              "identity_endpoint"),
                        NAMES("AZURE_MSI_ENDPOINT", "IDENTITY_ENDPOINT"), REMOTE_URL, 0},
    [K_OBJECT_ID] = {NAMES("object_id", "azure_object_id"), NAMES("AZURE_OBJECT_ID"), REMOTE_STRING,
                     0},
    [K_MSI_RESOURCE] = {NAMES("msi_resource_id", "azure_msi_resource_id"),
                        NAMES("AZURE_MSI_RESOURCE_ID"), REMOTE_STRING, 0},
    [K_USE_CLI] = {NAMES("use_azure_cli", "azure_use_azure_cli"), NAMES("AZURE_USE_AZURE_CLI"),
                   REMOTE_BOOL, 0},
    /* accepted, and what it asks for holds: http is allowed for explicit endpoints */
    [K_ALLOW_HTTP] = {NAMES("allow_http", "azure_allow_http"), NULL, REMOTE_STRING, 0},
    /* accepted, no effect on a reader (the CLI says so) */
    [K_IGNORED] = {NAMES("azure_disable_tagging", "disable_tagging"), NULL, REMOTE_STRING,
                   REMOTE_IGNORED},
    /* recognised, not implemented: Microsoft Fabric (OneLake) endpoints and tokens */
    [K_UNSUPPORTED] = {NAMES("azure_use_fabric_endpoint", "use_fabric_endpoint",
                             "azure_fabric_token_service_url", "fabric_token_service_url",
                             "azure_fabric_workload_host", "fabric_workload_host",
                             "azure_fabric_session_token", "fabric_session_token",
                             "azure_fabric_cluster_identifier", "fabric_cluster_identifier"),
                       NULL, REMOTE_STRING, REMOTE_SECRET | REMOTE_UNSUPPORTED},
};
#undef NAMES

const remote_backend store_azure_backend = {
    "an Azure", az_opts, K_N,
    "Microsoft Fabric (OneLake) is not supported: use its ADLS-compatible endpoint "
    "(endpoint: https://onelake.blob.fabric.microsoft.com) with client_id/client_secret/"
    "tenant_id, bearer_token or use_azure_cli"};

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* "a//b/" -> "a//b/" kept as given but with leading '/' removed and one trailing '/'. */
static char *make_root(const char *path) {
    while (*path == '/')
        path++;
    size_t n = strcspn(path, "?#");
    while (n && path[n - 1] == '/')
        n--;
    char *r = malloc(n + 2);
    if (!r)
        return NULL;
    memcpy(r, path, n);
    if (n)
        r[n++] = '/';
    r[n] = 0;
    return r;
}

static bool on_azure_vm(void) {
    /* the chassis asset tag every Azure VM carries (what the Azure SDKs' environment
     * checks read); the file does not exist elsewhere */
    size_t n = 0;
    char *s = ut_read_file("/sys/class/dmi/id/chassis_asset_tag", 256, &n, NULL, 0);
    bool yes = s && strncmp(s, "7783-7084-3265-9085-8269-3286-77", 32) == 0;
    free(s);
    return yes;
}

static bool set(const char *v) { return v && *v; }

/* An http(s):// URL without a trailing '/', for authority_host and msi_endpoint. */
static char *base_of(const char *name, const char *u, char *err, size_t errlen, int *rc) {
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) {
        *rc = store__fail(err, errlen, STORE_E_CONFIG,
                          "%s '%s' must start with https:// or "
                          "http://",
                          name, u);
        return NULL;
    }
    size_t n = strcspn(u, "#");
    while (n && u[n - 1] == '/')
        n--;
    char *r = dup_n(u, n);
    if (!r)
        *rc = STORE_E_NOMEM;
    return r;
}

/* Chooses an Entra ID flow in object_store's order (after bearer_token and account_key,
 * which the caller tried): workload identity, client secret, [SAS: the caller, so a SAS
 * given with no Entra setting goes on as before], Azure CLI, managed identity. Returns 1
 * with st->tcfg filled, 0 when none applies (SAS or anonymous next), or a store code. */
static int entra_setup(az_store *st, const char **v, bool have_sas, char *err, size_t errlen) {
    az_token_cfg *c = &st->tcfg;
    const char *id = v[K_CLIENT_ID], *secret = v[K_CLIENT_SECRET], *tenant = v[K_TENANT];
    const char *fed = v[K_FEDERATED];
    int rc = STORE_E_NOMEM;
    if (set(fed) || set(secret)) {
        const char *what = set(fed) ? "federated_token_file (workload identity)"
                                    : "client_secret (service principal)";
        if (!set(id) || !set(tenant))
            return store__fail(err, errlen, STORE_E_CONFIG,
                               "%s also needs %s%s%s: set client_id / AZURE_CLIENT_ID and "
                               "tenant_id / AZURE_TENANT_ID",
                               what, set(id) ? "" : "client_id",
                               !set(id) && !set(tenant) ? " and " : "",
                               set(tenant) ? "" : "tenant_id");
        for (const char *p = tenant; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
                return store__fail(err, errlen, STORE_E_CONFIG,
                                   "tenant_id '%.*s' is not a tenant id or domain",
                                   ut_utf8_prec(tenant, 80), tenant);
        char *auth =
            base_of("authority_host", set(v[K_AUTHORITY]) ? v[K_AUTHORITY] : AZ_AUTHORITY_HOST, err,
                    errlen, &rc);
        if (!auth)
            return rc;
        ut_buf u = {0};
        ut_buf_printf(&u, "%s/%s/oauth2/v2.0/token", auth, tenant);
        free(auth);
        c->url = ut_buf_take(&u);
        c->client_id = strdup(id);
        if (set(fed)) {
            c->kind = AZ_TOK_WORKLOAD;
            c->federated_file = strdup(fed);
            if (!c->federated_file)
                return STORE_E_NOMEM;
        } else {
            c->kind = AZ_TOK_CLIENT_SECRET;
            c->client_secret = strdup(secret);
            if (!c->client_secret)
                return STORE_E_NOMEM;
        }
        return c->url && c->client_id ? 1 : STORE_E_NOMEM;
    }
    if (have_sas)
        return 0;
    if (remote_bool(v[K_USE_CLI])) {
        c->kind = AZ_TOK_CLI;
        c->cli = strdup("az");
        c->cli_timeout_ms = 60 * 1000; /* az may refresh its own token first */
        return c->cli ? 1 : STORE_E_NOMEM;
    }
    /* managed identity: asked for by its settings, or on an Azure VM with nothing else
     * (object_store's fallback; elsewhere anonymous access stays the default) */
    const char *oid = v[K_OBJECT_ID], *mri = v[K_MSI_RESOURCE];
    if (!set(v[K_MSI_ENDPOINT]) && !set(oid) && !set(mri) && !set(id) && !on_azure_vm())
        return 0;
    c->kind = AZ_TOK_IMDS;
    char *ep =
        base_of("msi_endpoint", set(v[K_MSI_ENDPOINT]) ? v[K_MSI_ENDPOINT] : AZ_IMDS_ENDPOINT, err,
                errlen, &rc);
    if (!ep)
        return rc;
    ut_buf u = {0};
    ut_buf_puts(&u, ep);
    free(ep);
    ut_buf_puts(&u, strchr(u.p ? u.p : "", '?') ? "&" : "?");
    ut_buf_puts(&u, "api-version=" AZ_IMDS_API_VERSION);
    store_token_form(&u, "resource", AZ_STORAGE_RESOURCE);
    /* one identity: object_store's precedence, the last of these that is set */
    if (set(mri))
        store_token_form(&u, "msi_res_id", mri);
    else if (set(oid))
        store_token_form(&u, "object_id", oid);
    else if (set(id))
        store_token_form(&u, "client_id", id);
    c->url = ut_buf_take(&u);
    const char *ih = getenv("IDENTITY_HEADER");
    if (set(ih) && !strpbrk(ih, "\r\n"))
        c->identity_header = strdup(ih);
    return c->url ? 1 : STORE_E_NOMEM;
}

static bool valid_container(const char *s, size_t n) {
    if (n < 3 || n > 63) /* Azure: 3-63 of [a-z0-9-]; "$root"/"$web" are special */
        return n > 0 && n <= 63 && s[0] == '$';
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '$'))
            return false;
    return true;
}

int store_azure_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                     char *err, size_t errlen) {
    *out = NULL;
    const char *v[K_N];
    int orc = remote_options_parse(&store_azure_backend, opts, v, err, errlen);
    if (orc)
        return orc;

    /* ---- the URL: container, account from the host if any, root prefix ---- */
    const char *sep = strstr(url, "://");
    if (!sep)
        return store__fail(err, errlen, STORE_E_CONFIG, "not an Azure URL: '%s'", url);
    size_t slen = (size_t)(sep - url);
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *path = auth + alen;
    char *container = NULL, *url_account = NULL;
    bool https_form = slen == 5 && strncmp(url, "https", 5) == 0;
    if (https_form) {
        /* https://ACCOUNT.blob.core.windows.net/container/prefix */
        size_t hl = strcspn(auth, "/?#:");
        if (!host_is_azure(auth, hl))
            return store__fail(err, errlen, STORE_E_CONFIG, "not an Azure storage URL: '%s'", url);
        url_account = dup_n(auth, strcspn(auth, "."));
        const char *p = path;
        while (*p == '/')
            p++;
        size_t cl = strcspn(p, "/?#");
        container = dup_n(p, cl);
        path = p + cl;
    } else {
        const char *at = memchr(auth, '@', alen);
        if (at) {
            /* container@ACCOUNT.dfs.core.windows.net (abfs) or @ACCOUNT.blob... */
            container = dup_n(auth, (size_t)(at - auth));
            const char *host = at + 1;
            size_t hl = alen - (size_t)(host - auth);
            if (!host_is_azure(host, hl))
                return free(container),
                       store__fail(err, errlen, STORE_E_CONFIG,
                                   "Azure URL '%s': expected CONTAINER@ACCOUNT.dfs.core."
                                   "windows.net",
                                   url);
            url_account = dup_n(host, strcspn(host, "."));
        } else {
            container = dup_n(auth, alen);
        }
    }
    if (!container || (!url_account && (https_form || memchr(auth, '@', alen)))) {
        free(container);
        free(url_account);
        return STORE_E_NOMEM;
    }
    if (!container[0] && v[K_CONTAINER]) {
        free(container);
        container = strdup(v[K_CONTAINER]);
    }
    if (!container || !valid_container(container, strlen(container))) {
        int rc = store__fail(err, errlen, STORE_E_CONFIG,
                             "Azure URL '%s': '%s' is not a valid container name", url,
                             container ? container : "");
        free(container);
        free(url_account);
        return rc;
    }

    const char *account = v[K_ACCOUNT];
    bool account_opt = false; /* given as an option, not only in the environment */
    for (size_t i = 0; opts && i < opts->n_kv; i++)
        if (opts->kv[i].key &&
            remote_option_find(&store_azure_backend, opts->kv[i].key) == K_ACCOUNT)
            account_opt = true;
    if (url_account && account && strcmp(account, url_account) != 0 && account_opt) {
        int rc = store__fail(err, errlen, STORE_E_CONFIG,
                             "Azure URL '%s' names account '%s' but account_name is '%s'", url,
                             url_account, account);
        free(container);
        free(url_account);
        return rc;
    }
    if (url_account)
        account = url_account;
    bool emu = remote_bool(v[K_EMU]);
    bool skip = remote_bool(v[K_SKIP]);
    if (emu && !account)
        account = AZ_EMULATOR_ACCOUNT;
    if (!account || !*account) {
        free(container);
        free(url_account);
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "Azure URL '%s': no storage account: set account_name (or "
                           "AZURE_STORAGE_ACCOUNT_NAME), or use an "
                           "https://ACCOUNT.blob.core.windows.net/ URL",
                           url);
    }
    for (const char *a = account; *a; a++)
        if (!((*a >= 'a' && *a <= 'z') || (*a >= '0' && *a <= '9'))) {
            int rc = store__fail(err, errlen, STORE_E_CONFIG,
                                 "'%s' is not a valid Azure storage account name", account);
            free(container);
            free(url_account);
            return rc;
        }

    az_store *st = calloc(1, sizeof *st);
    if (!st) {
        free(container);
        free(url_account);
        return STORE_E_NOMEM;
    }
    remote_store_init(&st->rs, &az_vt, &az_ops, loop);
    st->container = container;
    st->account = strdup(account);
    free(url_account);
    st->root = make_root(path);
    /* display URL: as given, minus any query (a SAS pasted into it) */
    st->rs.base.url = dup_n(url, strcspn(url, "?#"));
    if (st->rs.base.url) {
        size_t n = strlen(st->rs.base.url);
        while (n > slen + 3 && st->rs.base.url[n - 1] == '/')
            st->rs.base.url[--n] = 0;
    }

    /* ---- endpoint ---- */
    const char *endpoint = v[K_ENDPOINT];
    ut_buf base = {0};
    if (emu) {
        const char *e = endpoint ? endpoint : getenv("AZURITE_BLOB_STORAGE_URL");
        ut_buf_puts(&base, e && *e ? e : "http://127.0.0.1:10000");
        while (base.len && base.p[base.len - 1] == '/')
            base.p[--base.len] = 0;
        ut_buf_putc(&base, '/');
        ut_buf_puts(&base, st->account);
    } else if (endpoint && *endpoint) {
        ut_buf_puts(&base, endpoint);
        while (base.len && base.p[base.len - 1] == '/')
            base.p[--base.len] = 0;
    } else {
        ut_buf_printf(&base, "https://%s.blob.core.windows.net", st->account);
    }
    int rc = STORE_E_NOMEM;
    if (!st->account || !st->root || !st->rs.base.url || base.bad)
        goto fail;
    if (strncmp(base.p, "https://", 8) != 0 && strncmp(base.p, "http://", 7) != 0) {
        rc = store__fail(err, errlen, STORE_E_CONFIG,
                         "Azure endpoint '%s' must start with https:// or http://", base.p);
        goto fail;
    }
    {
        const char *h = strstr(base.p, "://") + 3;
        const char *bp = h + strcspn(h, "/?#");
        if (*bp == '?' || *bp == '#') {
            rc = store__fail(err, errlen, STORE_E_CONFIG,
                             "Azure endpoint must not carry a query: put a SAS in sas_key");
            goto fail;
        }
        st->base_path = strdup(bp);
        st->base_url = strdup(base.p);
        if (!st->base_path || !st->base_url)
            goto fail;
    }

    /* ---- credentials (object_store's order: bearer, key, SAS; then anonymous) ---- */
    const char *token = v[K_TOKEN];
    const char *key = v[K_KEY];
    const char *sas = v[K_SAS];
    /* a "Blob SAS URL" pasted from the portal carries its SAS as the query */
    const char *url_query = https_form ? strchr(url, '?') : NULL;
    if (!sas && url_query && url_query[1])
        sas = url_query + 1;
    if (emu && !token && !key && !sas && !skip)
        key = AZ_EMULATOR_KEY;
    if (skip) {
        st->auth = AUTH_ANON;
    } else if (token && *token) {
        st->auth = AUTH_BEARER;
        st->bearer = strdup(token);
        if (!st->bearer)
            goto fail;
        if (strpbrk(token, "\r\n")) {
            rc = store__fail(err, errlen, STORE_E_CONFIG, "bearer_token holds a line break");
            goto fail;
        }
    } else if (key && *key) {
        st->auth = AUTH_KEY;
        long kl = ut_base64_decode(key, strlen(key), st->key, sizeof st->key);
        if (kl <= 0) {
            rc = store__fail(err, errlen, STORE_E_CONFIG,
                             "the Azure account key (account_key / AZURE_STORAGE_ACCOUNT_KEY) "
                             "is not valid base64");
            goto fail;
        }
        st->key_len = (size_t)kl;
    } else if (!emu && (orc = entra_setup(st, v, sas && *sas, err, errlen)) != 0) {
        rc = orc;
        if (rc == 1) { /* a flow was chosen: its requests wait for its token */
            st->auth = AUTH_TOKEN;
            /* the fetch threads' stores take the pipeline store's token (store_share.h) */
            az_store *lead = opts->creds_from && opts->creds_from->vt == &az_vt
                                 ? (az_store *)opts->creds_from
                                 : NULL;
            if (lead && lead->auth == AUTH_TOKEN) {
                if (store_token_follow(&st->tok, &st->rs, &lead->tok, loop) != STORE_OK) {
                    rc = store__fail(err, errlen, STORE_E_NOMEM, "out of memory");
                    goto fail;
                }
            } else {
                store_token_init(&st->tok, &st->rs, az_token_step, &st->tcfg);
            }
        } else {
            goto fail;
        }
    } else if (sas && *sas) {
        st->auth = AUTH_SAS;
        while (*sas == '?')
            sas++;
        st->sas = strdup(sas);
        if (!st->sas)
            goto fail;
        if (strpbrk(sas, " \r\n#")) {
            rc = store__fail(err, errlen, STORE_E_CONFIG,
                             "the SAS token holds spaces, line breaks or '#': give it as "
                             "copied from the portal (already URL-encoded)");
            goto fail;
        }
    } else {
        st->auth = AUTH_ANON;
    }

    char what[300];
    snprintf(what, sizeof what, "Azure store %s", st->rs.base.url);
    rc = remote_store_engine(&st->rs, opts, NULL, what, err, errlen);
    if (rc)
        goto fail;
    ut_buf_free(&base);
    *out = &st->rs.base;
    return STORE_OK;
fail:
    ut_buf_free(&base);
    if (rc == STORE_E_NOMEM)
        store__fail(err, errlen, rc, "out of memory");
    remote_store_discard(&st->rs);
    return rc;
}
