/* store_s3.c - s3:// stores: Amazon S3 and S3-compatible endpoints (MinIO, Ceph, R2...).
 *
 * Listing is ListObjectsV2, one HTTP request per store_list_next() page, parsed as it
 * streams in (expat) so a page is never held twice; reads are ranged GETs straight into the
 * caller's buffer. Requests are signed with SigV4 before every attempt (the network engine
 * retries), or sent anonymously with skip_signature. Temporary credentials are fetched
 * before the first request that needs them and refreshed ahead of their expiry; requests
 * started meanwhile wait in a queue. Secrets never reach a message. */
#include "remote.h"

#include "net.h"
#include "s3_creds.h"
#include "s3_put.h"
#include "s3_req.h"

#include <expat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int store_s3_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                  char *err, size_t errlen);

#define S3_MAX_KEYS_PER_REQ 1000u
#define S3_MAX_TEXT 16384 /* one XML element's text (keys are <= 1024 bytes) */
#define S3_MAX_LIST_BODY (64u << 20)
#define S3_MAX_EMPTY_PAGES 10000 /* truncated pages without keys in a row */

typedef struct s3_op s3_op;

typedef struct s3_store {
    remote_store rs; /* first: the core's lifecycle, engine and store */
    s3_target target;
    char *bucket;
    char *root; /* key prefix of the store URL: "" or "dir/" */
    bool anonymous;
    bool payer;
    s3_creds creds;  /* static credentials (when src == NULL and !anonymous) */
    s3_credsrc *src; /* network credential source, or NULL */
    bool refreshing;
    /* the fetch threads' stores take these credentials (store_share.h): made by the first
     * follower's open; share_waiting: publish when the refresh under way ends */
    store_share *share;
    bool share_waiting;
    s3_sigkey_cache keycache;
    s3_op *wait_head, *wait_tail; /* waiting for credentials */
    /* SSE-C: the three headers every GET sends (and signs); key and MD5 are base64 */
    char *sse_key, *sse_md5;
    s3_waiter *put_waiters; /* writes waiting for credentials (s3_put.c) */
} s3_store;

typedef enum {
    F_NONE,
    F_KEY,
    F_SIZE,
    F_MTIME,
    F_ETAG,
    F_TRUNC,
    F_TOKEN,
    F_ENCODING,
    F_PREFIX, /* CommonPrefixes/Prefix (delimiter listings) */
    F_CODE,
    F_MESSAGE
} s3_field;

typedef struct s3_page_item {
    size_t key_off, key_len, etag_off;
    bool has_etag;
    bool is_prefix; /* a CommonPrefixes entry */
    uint64_t size;
    int64_t mtime_ms;
} s3_page_item;

/* One listing: the caller's store_list_req->priv. */
typedef struct s3_cursor {
    char *full_prefix;
    bool delimited; /* delimiter=/ */
    char *token;    /* continuation token for the next page, NULL at first */
    bool done;
    unsigned empty_pages;
    size_t max_keys;
    /* the page being parsed (reset before every attempt) */
    XML_Parser xp;
    bool xml_failed, xml_finished;
    int depth;
    bool root_is_error, in_contents, in_prefixes;
    s3_field field;
    ut_buf text;
    ut_buf strings; /* keys and etags, NUL-separated */
    s3_page_item *items;
    size_t n_items, cap_items;
    size_t n_keys, n_prefixes; /* of n_items */
    s3_page_item cur;
    bool truncated, encoded;
    ut_buf next_token;
    ut_buf err_code, err_msg;
    uint64_t body_bytes;
} s3_cursor;

struct s3_op {
    remote_read rd; /* first; rd.req is the read, NULL for a listing page */
    s3_reqparts parts;
    s3_hdrs hdrs;
    store_list_req *list; /* a listing page, NULL for a read */
    s3_cursor *cur;
    bool auth_failed;
    s3_op *next_wait;
};

/* ------------------------------------------------------------------ helpers */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* S3's encoding-type=url is form encoding: "+" is a space (botocore decodes it with
 * unquote_plus), %XX a byte; a stray '%' stays. In place; returns the new length. */
static size_t url_decode(char *s, size_t n) {
    ut_buf b = {.limit = n + 1};
    ut_pct_decode(&b, s, n, UT_PCT_PLUS_SPACE | UT_PCT_LENIENT);
    size_t j = b.bad ? n : b.len; /* decoding never grows: bad only on out of memory */
    if (!b.bad)
        memcpy(s, ut_buf_str(&b), j);
    s[j] = '\0';
    ut_buf_free(&b);
    return j;
}

/* ------------------------------------------------------------------ credentials wait */

static int start_op(s3_op *op);
static void finish_op(s3_op *op, int status);

static void creds_ready(void *arg, int status, const char *msg) {
    s3_store *s = arg;
    s->refreshing = false;
    if (s->share_waiting) {
        s->share_waiting = false;
        s3_credsrc_publish(s->src, s->share, status, msg);
    }
    bool due = false;
    if (status == 0 && !s3_credsrc_current(s->src, now_ms(), &due)) {
        /* already expired on arrival: asking again would loop */
        status = STORE_E_AUTH;
        msg = "the credentials received are already expired (check the clock)";
    }
    s3_op *list = s->wait_head;
    s->wait_head = s->wait_tail = NULL;
    while (list) {
        s3_op *op = list;
        list = op->next_wait;
        op->next_wait = NULL;
        int rc = status;
        if (status == 0)
            rc = start_op(op);
        if (status == 0 && rc != 0) {
            finish_op(op, rc);
        } else if (status != 0) {
            char *em = op->rd.req ? op->rd.req->errmsg : op->list->errmsg;
            snprintf(em, 256, "%s: %s", s->rs.base.url, msg ? msg : "no credentials");
            finish_op(op, status);
        }
    }
    s3_waiter *w = s->put_waiters;
    s->put_waiters = NULL;
    while (w) {
        s3_waiter *next = w->next;
        w->next = NULL;
        w->cb(w, status, msg ? msg : "no credentials");
        w = next;
    }
}

/* Leader, on its loop: followers' credentials are missing or due. Theirs are copies of
 * these (same fetch and expiry times), so due for them means due here: the refresh starts
 * and they get its result. */
static void share_ask(void *ctx) {
    s3_store *s = ctx;
    if (s->share_waiting || !s->src)
        return; /* the answer is coming */
    bool due = false;
    const s3_creds *cr = s3_credsrc_current(s->src, now_ms(), &due);
    if (cr && !due) {
        s3_credsrc_publish(s->src, s->share, 0, NULL);
        return;
    }
    s->share_waiting = true;
    if (!s->refreshing) {
        s->refreshing = true;
        s3_credsrc_refresh(s->src, creds_ready, s);
    }
}

/* The credentials to sign with now, or NULL (anonymous). */
static const s3_creds *sign_creds(s3_store *s) {
    if (s->anonymous)
        return NULL;
    if (!s->src)
        return &s->creds;
    bool due = false;
    return s3_credsrc_current(s->src, now_ms(), &due);
}

/* ------------------------------------------------------------------ net callbacks */

static void cursor_reset_page(s3_cursor *c);

static int on_prepare(net_request *nr, void *headers) {
    s3_op *op = nr->data;
    s3_store *s = (s3_store *)op->rd.rs;
    const s3_creds *cr = sign_creds(s);
    if (!s->anonymous && !cr) {
        op->auth_failed = true;
        return NET_E_ABORTED;
    }
    if (op->cur)
        cursor_reset_page(op->cur);
    /* SSE-C headers go with object reads only (a listing has no object to decrypt) */
    s->target.n_extra = (op->rd.req && s->sse_key) ? 3 : 0;
    if (s3_sign_headers(&op->hdrs, &s->target, nr->method, &op->parts, cr, s->payer, time(NULL),
                        &s->keycache) != 0) {
        op->auth_failed = true;
        return NET_E_ABORTED;
    }
    for (size_t i = 0; i < op->hdrs.n; i++)
        if (net_add_header(headers, s3_hdr(&op->hdrs, i)) != 0)
            return NET_E_NOMEM;
    return 0;
}

static int map_net_status(s3_op *op, int status, char *em) {
    s3_store *s = (s3_store *)op->rd.rs;
    net_request *nr = &op->rd.nr;
    const char *what = op->rd.req ? op->rd.req->key : "listing";
    switch (status) {
    case NET_OK:
        return STORE_OK;
    case NET_E_CANCELED:
        snprintf(em, 256, "%s: canceled", s->rs.base.url);
        return STORE_E_CANCELED;
    case NET_E_TIMEOUT:
        snprintf(em, 256, "%s/%s: timed out after %u attempts", s->rs.base.url, what, nr->attempts);
        return STORE_E_TIMEOUT;
    case NET_E_CONNECT:
    case NET_E_DNS:
    case NET_E_TLS:
        snprintf(em, 256, "%.*s", ut_utf8_prec(nr->errmsg, 255), nr->errmsg);
        return STORE_E_NETWORK;
    case NET_E_NOMEM:
        snprintf(em, 256, "out of memory");
        return STORE_E_NOMEM;
    case NET_E_TOO_BIG:
        snprintf(em, 256, "%s: response too large", s->rs.base.url);
        return STORE_E_PROTOCOL;
    case NET_E_ABORTED:
        if (op->auth_failed) {
            snprintf(em, 256, "%s: no valid credentials to sign the request", s->rs.base.url);
            return STORE_E_AUTH;
        }
        snprintf(em, 256, "%s: response larger than any listing page", s->rs.base.url);
        return STORE_E_PROTOCOL;
    case NET_E_HTTP:
        break;
    default:
        snprintf(em, 256, "%.*s", ut_utf8_prec(nr->errmsg, 255), nr->errmsg);
        return remote_net_kind(status);
    }
    long st = nr->http_status;
    const char *code = (op->cur && op->cur->err_code.len) ? op->cur->err_code.p : NULL;
    int kind = remote_http_kind(st);
    if (kind == STORE_E_NOT_FOUND) {
        if (op->rd.req)
            snprintf(em, 256, "%s/%.*s: not found (HTTP %ld)", s->rs.base.url,
                     ut_utf8_prec(op->rd.req->key, 150), op->rd.req->key, st);
        else
            snprintf(em, 256, "%s: %s (HTTP %ld)", s->rs.base.url, code ? code : "bucket not found",
                     st);
        return kind;
    }
    if (kind == STORE_E_ACCESS || kind == STORE_E_AUTH) {
        snprintf(em, 256,
                 "%s: %s (HTTP %ld%s%s): check credentials, or set "
                 "skip_signature: true for a public bucket",
                 s->rs.base.url, kind == STORE_E_AUTH ? "credentials refused" : "access denied", st,
                 code ? ", " : "", code ? code : "");
        return kind;
    }
    if (st == 301 || st == 307 || (st == 400 && nr->resp_header_region[0])) {
        if (nr->resp_header_region[0])
            snprintf(em, 256, "%s: the bucket is in region %s, not %s: set region: %s",
                     s->rs.base.url, nr->resp_header_region, s->target.region,
                     nr->resp_header_region);
        else
            snprintf(em, 256, "%s: redirected (HTTP %ld): check region / endpoint", s->rs.base.url,
                     st);
        return STORE_E_CONFIG;
    }
    if (kind == STORE_E_THROTTLED) {
        snprintf(em, 256, "%s: throttled (HTTP %ld) after %u attempts", s->rs.base.url, st,
                 nr->attempts);
        return kind;
    }
    if (st == 200 && op->rd.req) {
        snprintf(em, 256, "%s/%.*s: server ignored the Range header", s->rs.base.url,
                 ut_utf8_prec(op->rd.req->key, 150), op->rd.req->key);
        return STORE_E_HTTP;
    }
    snprintf(em, 256, "%s: HTTP %ld%s%s after %u attempts", s->rs.base.url, st, code ? " " : "",
             code ? code : "", nr->attempts);
    return STORE_E_HTTP;
}

static void free_op(s3_op *op) {
    s3_reqparts_free(&op->parts);
    s3_hdrs_free(&op->hdrs);
    free(op);
}

/* ------------------------------------------------------------------ ranged GET */

static int s3_read_done(remote_read *rd, int status) {
    s3_op *op = (s3_op *)rd;
    store_get_req *g = rd->req;
    if (status == NET_E_HTTP && rd->nr.http_status == 416)
        return STORE_OK; /* the object ends before offset: nothing to read */
    int st = map_net_status(op, status, g->errmsg);
    if (st == STORE_OK)
        g->got = rd->nr.got > g->length ? g->length : rd->nr.got;
    return st;
}

static int s3_read_submit(remote_read *rd) { return start_op((s3_op *)rd); }

static void s3_read_free(remote_read *rd) { free_op((s3_op *)rd); }

static int s3_get(store *base, store_get_req *g) {
    s3_store *s = (s3_store *)base;
    int brc = remote_get_begin(s->rs.closing, g);
    if (brc)
        return brc;
    if (!*g->key) /* the store root itself is not an object */
        return store__fail(g->errmsg, sizeof g->errmsg, STORE_E_CONFIG, "empty key");
    s3_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    ut_buf key = {0};
    ut_buf_puts(&key, s->root);
    ut_buf_puts(&key, g->key);
    if (key.bad || s3_reqparts_build(&op->parts, &s->target, key.p, key.len, NULL, 0) != 0) {
        ut_buf_free(&key);
        free(op);
        return STORE_E_NOMEM;
    }
    ut_buf_free(&key);
    remote_read_init(&op->rd, &s->rs, g, op->parts.url.p, on_prepare);
    int rc = remote_read_start(&op->rd);
    if (rc != 0)
        free_op(op);
    return rc;
}

/* ------------------------------------------------------------------ listing */

static void cursor_free(s3_cursor *c);
static void XMLCALL xml_start(void *ud, const XML_Char *name, const XML_Char **atts);
static void XMLCALL xml_end(void *ud, const XML_Char *name);
static void XMLCALL xml_text(void *ud, const XML_Char *s, int len);

static void cursor_reset_page(s3_cursor *c) {
    if (c->xp)
        XML_ParserReset(c->xp, NULL);
    else
        c->xp = XML_ParserCreate(NULL);
    c->xml_failed = c->xp == NULL;
    c->xml_finished = false;
    if (c->xp) {
        XML_SetUserData(c->xp, c);
        XML_SetElementHandler(c->xp, xml_start, xml_end);
        XML_SetCharacterDataHandler(c->xp, xml_text);
    }
    c->depth = 0;
    c->root_is_error = c->in_contents = c->in_prefixes = false;
    c->field = F_NONE;
    ut_buf_reset(&c->text);
    ut_buf_reset(&c->strings);
    c->n_items = c->n_keys = c->n_prefixes = 0;
    memset(&c->cur, 0, sizeof c->cur);
    c->truncated = c->encoded = false;
    ut_buf_reset(&c->next_token);
    ut_buf_reset(&c->err_code);
    ut_buf_reset(&c->err_msg);
    c->body_bytes = 0;
    c->text.limit = S3_MAX_TEXT;
    c->strings.limit = 64u << 20;
    c->next_token.limit = S3_MAX_TEXT;
    c->err_code.limit = 256;
    c->err_msg.limit = 1024;
}

static void XMLCALL xml_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    s3_cursor *c = ud;
    (void)atts;
    c->depth++;
    c->field = F_NONE;
    ut_buf_reset(&c->text);
    if (c->depth == 1) {
        c->root_is_error = strcmp(name, "Error") == 0;
        return;
    }
    if (c->root_is_error) {
        if (c->depth == 2)
            c->field = !strcmp(name, "Code")      ? F_CODE
                       : !strcmp(name, "Message") ? F_MESSAGE
                                                  : F_NONE;
        return;
    }
    if (c->depth == 2) {
        if (!strcmp(name, "Contents")) {
            c->in_contents = true;
            memset(&c->cur, 0, sizeof c->cur);
            c->cur.mtime_ms = INT64_MIN;
        } else if (!strcmp(name, "CommonPrefixes") && c->delimited) {
            c->in_prefixes = true;
            memset(&c->cur, 0, sizeof c->cur);
            c->cur.is_prefix = true;
        } else if (!strcmp(name, "IsTruncated")) {
            c->field = F_TRUNC;
        } else if (!strcmp(name, "NextContinuationToken")) {
            c->field = F_TOKEN;
        } else if (!strcmp(name, "EncodingType")) {
            c->field = F_ENCODING;
        }
    } else if (c->depth == 3 && c->in_contents) {
        c->field = !strcmp(name, "Key")            ? F_KEY
                   : !strcmp(name, "Size")         ? F_SIZE
                   : !strcmp(name, "LastModified") ? F_MTIME
                   : !strcmp(name, "ETag")         ? F_ETAG
                                                   : F_NONE;
    } else if (c->depth == 3 && c->in_prefixes) {
        c->field = !strcmp(name, "Prefix") ? F_PREFIX : F_NONE;
    }
}

static void XMLCALL xml_text(void *ud, const XML_Char *s, int len) {
    s3_cursor *c = ud;
    if (c->field != F_NONE && len > 0)
        ut_buf_put(&c->text, s, (size_t)len);
}

static void XMLCALL xml_end(void *ud, const XML_Char *name) {
    s3_cursor *c = ud;
    const char *t = c->text.p ? c->text.p : "";
    if (c->text.bad) {
        c->xml_failed = true; /* an element longer than any S3 value */
        XML_StopParser(c->xp, XML_FALSE);
        return;
    }
    switch (c->field) {
    case F_KEY:
    case F_PREFIX:
        c->cur.key_off = c->strings.len;
        c->cur.key_len = c->text.len;
        ut_buf_put(&c->strings, t, c->text.len + 1);
        break;
    case F_SIZE: {
        char *end;
        unsigned long long v = strtoull(t, &end, 10);
        c->cur.size = (end != t && *end == '\0') ? (uint64_t)v : 0;
        break;
    }
    case F_MTIME:
        c->cur.mtime_ms = s3_parse_iso8601_ms(t);
        break;
    case F_ETAG:
        c->cur.etag_off = c->strings.len;
        c->cur.has_etag = true;
        ut_buf_put(&c->strings, t, c->text.len + 1);
        break;
    case F_TRUNC:
        c->truncated = strcmp(t, "true") == 0;
        break;
    case F_TOKEN:
        ut_buf_reset(&c->next_token);
        ut_buf_put(&c->next_token, t, c->text.len);
        break;
    case F_ENCODING:
        c->encoded = strcmp(t, "url") == 0;
        break;
    case F_CODE:
        ut_buf_put(&c->err_code, t, c->text.len < 200 ? c->text.len : 200);
        break;
    case F_MESSAGE:
        ut_buf_put(&c->err_msg, t, c->text.len < 200 ? c->text.len : 200);
        break;
    case F_NONE:
        break;
    }
    c->field = F_NONE;
    ut_buf_reset(&c->text);
    bool item_end = (c->depth == 2 && c->in_contents && !strcmp(name, "Contents")) ||
                    (c->depth == 2 && c->in_prefixes && !strcmp(name, "CommonPrefixes"));
    if (item_end) {
        c->in_contents = c->in_prefixes = false;
        /* S3's MaxKeys counts keys and common prefixes together, s3rver's only keys: no
         * more than max_keys of each is what the caller's memory bound needs */
        size_t *seen = c->cur.is_prefix ? &c->n_prefixes : &c->n_keys;
        if (++*seen > (c->cur.is_prefix ? STORE_MAX_COMMON_PREFIXES : c->max_keys)) {
            c->xml_failed = true; /* more keys than asked for: not S3 */
            XML_StopParser(c->xp, XML_FALSE);
        } else {
            if (c->n_items == c->cap_items) {
                size_t cap = c->cap_items ? 2 * c->cap_items : 64;
                s3_page_item *p = realloc(c->items, cap * sizeof *p);
                if (!p) {
                    c->xml_failed = true;
                    XML_StopParser(c->xp, XML_FALSE);
                    c->depth--;
                    return;
                }
                c->items = p;
                c->cap_items = cap;
            }
            c->items[c->n_items++] = c->cur;
        }
    }
    c->depth--;
}

static int on_list_body(net_request *nr, const void *data, size_t len) {
    s3_op *op = nr->data;
    s3_cursor *c = op->cur;
    c->body_bytes += len;
    if (c->body_bytes > S3_MAX_LIST_BODY)
        return 1; /* the only abort: a body no listing page can be */
    /* a body that is not XML (a proxy's HTML error page...) is not an abort: the status
     * decides, and a 2xx with a bad body is retried by list_retry_check */
    while (len > 0 && !c->xml_failed) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (XML_Parse(c->xp, data, chunk, XML_FALSE) != XML_STATUS_OK)
            c->xml_failed = true;
        data = (const char *)data + chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

static void finish_xml(s3_cursor *c) {
    if (c->xml_finished || c->xml_failed)
        return;
    c->xml_finished = true;
    if (XML_Parse(c->xp, "", 0, XML_TRUE) != XML_STATUS_OK || c->strings.bad)
        c->xml_failed = true;
}

/* S3 sometimes answers 200 with an <Error> body (SlowDown, InternalError): retry those,
 * and a body that is not a complete document. */
static bool list_retry_check(net_request *nr) {
    s3_op *op = nr->data;
    s3_cursor *c = op->cur;
    finish_xml(c);
    if (c->xml_failed)
        return true;
    if (c->root_is_error) {
        const char *code = c->err_code.p ? c->err_code.p : "";
        return !strcmp(code, "SlowDown") || !strcmp(code, "InternalError") ||
               !strcmp(code, "ServiceUnavailable") || !strcmp(code, "RequestTimeout");
    }
    return false;
}

static void list_done(net_request *nr, int status) {
    s3_op *op = nr->data;
    s3_store *s = (s3_store *)op->rd.rs;
    store_list_req *req = op->list;
    s3_cursor *c = op->cur;
    req->attempts = nr->attempts;
    int st = map_net_status(op, status, req->errmsg);
    if (st == STORE_OK) {
        finish_xml(c);
        if (c->xml_failed || c->depth != 0) {
            st = STORE_E_PROTOCOL;
            snprintf(req->errmsg, sizeof req->errmsg, "%s: malformed ListObjectsV2 response",
                     s->rs.base.url);
        } else if (c->root_is_error) {
            st = STORE_E_HTTP;
            snprintf(req->errmsg, sizeof req->errmsg, "%s: %.*s: %.*s", s->rs.base.url,
                     ut_utf8_prec(c->err_code.p ? c->err_code.p : "error", 60),
                     c->err_code.p ? c->err_code.p : "error",
                     ut_utf8_prec(c->err_msg.p ? c->err_msg.p : "", 150),
                     c->err_msg.p ? c->err_msg.p : "");
        } else if (c->truncated && c->next_token.len == 0) {
            st = STORE_E_PROTOCOL;
            snprintf(req->errmsg, sizeof req->errmsg,
                     "%s: truncated listing without a continuation token", s->rs.base.url);
        } else if (c->truncated && c->token && strcmp(c->token, c->next_token.p) == 0) {
            st = STORE_E_PROTOCOL;
            snprintf(req->errmsg, sizeof req->errmsg,
                     "%s: the server repeated the same continuation token", s->rs.base.url);
        } else if (c->truncated && c->n_items == 0 && ++c->empty_pages > S3_MAX_EMPTY_PAGES) {
            st = STORE_E_PROTOCOL;
            snprintf(req->errmsg, sizeof req->errmsg, "%s: too many empty listing pages",
                     s->rs.base.url);
        }
    }
    store_entry *ents = NULL;
    const char **cps = NULL;
    size_t n = 0, ncp = 0;
    if (st == STORE_OK) {
        if (c->n_items)
            c->empty_pages = 0;
        ents = calloc(c->n_items ? c->n_items : 1, sizeof *ents);
        cps = c->delimited ? calloc(c->n_items ? c->n_items : 1, sizeof *cps) : NULL;
        if (!ents || (c->delimited && !cps)) {
            st = STORE_E_NOMEM;
            snprintf(req->errmsg, sizeof req->errmsg, "out of memory");
        }
    }
    if (st == STORE_OK) {
        size_t rootlen = strlen(s->root);
        for (size_t i = 0; i < c->n_items; i++) {
            s3_page_item *it = &c->items[i];
            char *k = c->strings.p + it->key_off;
            size_t kl = it->key_len;
            if (c->encoded)
                kl = url_decode(k, kl);
            if (kl < rootlen || memcmp(k, s->root, rootlen) != 0)
                continue; /* not under the store's root: cannot be named relative to it */
            if (it->is_prefix) {
                k[kl] = '\0'; /* url_decode shortened it in place */
                cps[ncp++] = k + rootlen;
                continue;
            }
            ents[n].key = k + rootlen;
            ents[n].key_len = kl - rootlen;
            ents[n].size = it->size;
            ents[n].mtime_ms = it->mtime_ms;
            ents[n].etag = it->has_etag ? c->strings.p + it->etag_off : NULL;
            n++;
        }
        free(c->token);
        c->token = c->truncated ? ut_strdup(c->next_token.p) : NULL;
        c->done = !c->truncated;
        if (c->truncated && !c->token) {
            st = STORE_E_NOMEM;
            c->done = true;
        }
    } else {
        c->done = true;
    }
    free_op(op);
    bool done = c->done;
    if (done)
        req->priv = NULL; /* the contract: a finished listing's cursor is freed by the store */
    req->common_prefixes = cps;
    req->n_common_prefixes = ncp;
    req->cb(req, st, ents, n, NULL, 0, st != STORE_OK || done);
    free(ents); /* after the callback: ents point into the cursor's strings */
    free(cps);
    if (done)
        cursor_free(c);
    remote_release(&s->rs);
}

static void cursor_free(s3_cursor *c) {
    if (!c)
        return;
    if (c->xp)
        XML_ParserFree(c->xp);
    free(c->full_prefix);
    free(c->token);
    ut_buf_free(&c->text);
    ut_buf_free(&c->strings);
    ut_buf_free(&c->next_token);
    ut_buf_free(&c->err_code);
    ut_buf_free(&c->err_msg);
    free(c->items);
    free(c);
}

static int s3_list_next(store *base, store_list_req *req) {
    s3_store *s = (s3_store *)base;
    int brc = remote_list_begin(s->rs.closing, req, false);
    if (brc)
        return brc;
    s3_cursor *c = req->priv;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return STORE_E_NOMEM;
        ut_buf p = {0};
        ut_buf_puts(&p, s->root);
        ut_buf_puts(&p, req->prefix ? req->prefix : "");
        c->full_prefix = p.bad ? NULL : (p.p ? p.p : ut_strdup(""));
        if (!c->full_prefix) {
            ut_buf_free(&p);
            free(c);
            return STORE_E_NOMEM;
        }
        c->delimited = req->delimiter && req->delimiter[0];
        req->priv = c;
    } else if (c->done) {
        return STORE_E_CONFIG;
    }
    c->max_keys = req->page_size < S3_MAX_KEYS_PER_REQ ? req->page_size : S3_MAX_KEYS_PER_REQ;
    char mk[24];
    snprintf(mk, sizeof mk, "%zu", c->max_keys);
    s3_pair q[6];
    size_t nq = 0;
    q[nq++] = (s3_pair){"list-type", "2"};
    q[nq++] = (s3_pair){"max-keys", mk};
    q[nq++] = (s3_pair){"encoding-type", "url"};
    q[nq++] = (s3_pair){"prefix", c->full_prefix};
    if (c->delimited)
        q[nq++] = (s3_pair){"delimiter", "/"};
    if (c->token)
        q[nq++] = (s3_pair){"continuation-token", c->token};
    s3_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    op->rd.rs = &s->rs;
    op->list = req;
    op->cur = c;
    if (s3_reqparts_build(&op->parts, &s->target, NULL, 0, q, nq) != 0) {
        free(op);
        return STORE_E_NOMEM;
    }
    cursor_reset_page(c);
    if (!c->xp) {
        free_op(op);
        return STORE_E_NOMEM;
    }
    remote_page_init(&op->rd.nr, op->parts.url.p, on_list_body, on_prepare, list_done, op);
    op->rd.nr.retry_check = list_retry_check;
    remote_hold(&s->rs);
    int rc = start_op(op);
    if (rc != 0) {
        remote_release(&s->rs); /* the store is open: not its last hold */
        free_op(op);
    }
    return rc;
}

static void s3_list_free(store *base, store_list_req *req) {
    (void)base;
    cursor_free(req->priv);
    req->priv = NULL;
}

/* ------------------------------------------------------------------ start / finish */

static void finish_op(s3_op *op, int status) {
    /* an op that never reached the network (credentials failed, or closing) */
    s3_store *s = (s3_store *)op->rd.rs;
    if (op->rd.req) {
        remote_read_finish(&op->rd, status);
    } else {
        store_list_req *req = op->list;
        s3_cursor *c = op->cur;
        req->priv = NULL;
        free_op(op);
        req->cb(req, status, NULL, 0, NULL, 0, true);
        cursor_free(c);
        remote_release(&s->rs);
    }
}

/* Starts op now, or queues it until credentials arrive. Returns non-zero (a store_code,
 * message in the request) only when the network engine refused it at once; the caller
 * then still owns op. */
static int start_op(s3_op *op) {
    s3_store *s = (s3_store *)op->rd.rs;
    if (s->rs.closing) { /* a waiter whose turn came after a callback closed the store */
        char *em = op->rd.req ? op->rd.req->errmsg : op->list->errmsg;
        snprintf(em, 256, "%s: canceled", s->rs.base.url);
        return STORE_E_CANCELED;
    }
    if (s->src && !s->anonymous) {
        bool due = false;
        const s3_creds *cr = s3_credsrc_current(s->src, now_ms(), &due);
        if (!cr) {
            op->next_wait = NULL;
            if (s->wait_tail)
                s->wait_tail->next_wait = op;
            else
                s->wait_head = op;
            s->wait_tail = op;
        }
        if (due && !s->refreshing) {
            s->refreshing = true;
            s3_credsrc_refresh(s->src, creds_ready, s);
        }
        if (!cr)
            return 0;
    }
    int rc = net_start(s->rs.net, &op->rd.nr);
    if (rc != 0) {
        char *em = op->rd.req ? op->rd.req->errmsg : op->list->errmsg;
        snprintf(em, 256, "%s: could not start request: %s", s->rs.base.url, net_strerror(rc));
        return rc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK;
    }
    return 0;
}

/* ------------------------------------------------------------------ open / close */

static void free_store(remote_store *rs) {
    s3_store *s = (s3_store *)rs;
    store_share_close(s->share); /* an open that failed after a follower joined */
    if (s->src)
        s3_credsrc_free(s->src);
    s3_creds_clear(&s->creds);
    s3_sigkey_cache_wipe(&s->keycache); /* holds a copy of the secret and the day's key */
    s3_target_free(&s->target);
    ut_free_secret(&s->sse_key);
    free(s->sse_md5);
    free(s->bucket);
    free(s->root);
    free(s->rs.base.url);
    free(s);
}

/* At close: what waits for credentials never reached the engine. */
static void s3_cancel(remote_store *rs) {
    s3_store *s = (s3_store *)rs;
    store_share_close(s->share); /* followers get no more credentials */
    s->share = NULL;
    if (s->src) {
        s3_credsrc_free(s->src); /* its pending callback will not run */
        s->src = NULL;
    }
    while (s->wait_head) {
        s3_op *op = s->wait_head;
        s->wait_head = op->next_wait;
        char *em = op->rd.req ? op->rd.req->errmsg : op->list->errmsg;
        snprintf(em, 256, "%s: canceled", s->rs.base.url);
        finish_op(op, STORE_E_CANCELED);
    }
    s->wait_tail = NULL;
    while (s->put_waiters) {
        s3_waiter *w = s->put_waiters;
        s->put_waiters = w->next;
        w->next = NULL;
        w->cb(w, STORE_E_CANCELED, "canceled");
    }
}

/* ------------------------------------------------------------------ hooks of s3_put.c */

int s3__creds_gate(store *base, s3_waiter *w) {
    s3_store *s = (s3_store *)base;
    if (s->anonymous || !s->src)
        return 0;
    bool due = false;
    const s3_creds *cr = s3_credsrc_current(s->src, now_ms(), &due);
    if (due && !s->refreshing) {
        s->refreshing = true;
        s3_credsrc_refresh(s->src, creds_ready, s);
    }
    if (cr)
        return 0;
    w->next = s->put_waiters;
    s->put_waiters = w;
    return 1;
}

bool s3__creds_unwait(store *base, s3_waiter *w) {
    s3_store *s = (s3_store *)base;
    for (s3_waiter **pp = &s->put_waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            w->next = NULL;
            return true;
        }
    return false;
}

const s3_creds *s3__sign_creds(store *base, bool *anonymous) {
    s3_store *s = (s3_store *)base;
    *anonymous = s->anonymous;
    return sign_creds(s);
}
const s3_target *s3__target(store *base) { return &((s3_store *)base)->target; }
const char *s3__root(store *base) { return ((s3_store *)base)->root; }
bool s3__payer(store *base) { return ((s3_store *)base)->payer; }
s3_sigkey_cache *s3__keycache(store *base) { return &((s3_store *)base)->keycache; }

static const store_vtable s3_vtable = {remote_close, s3_list_next,  s3_list_free, s3_get,
                                       s3_put,       s3_put_cancel, s3_delete,    true};
static const remote_ops s3_ops = {
    .cancel = s3_cancel,
    .destroy = free_store,
    .read_submit = s3_read_submit,
    .read_done = s3_read_done,
    .read_free = s3_read_free,
};

/* obstore_config keys (object_store's AmazonS3ConfigKey names and aliases), in the order of
 * the table below. obstore reads every AWS_* variable that names a config key; for the
 * endpoint AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL (the SDKs' service rule). */
typedef enum {
    K_ACCESS,
    K_SECRET,
    K_TOKEN,
    K_REGION,
    K_DEFAULT_REGION,
    K_ENDPOINT,
    K_SKIP_SIG,
    K_VHOST,
    K_PAYER,
    K_ALLOW_HTTP,
    K_BUCKET,
    K_METADATA_ENDPOINT,
    K_CONTAINER_REL,
    K_CONTAINER_FULL,
    K_CONTAINER_TOKEN_FILE,
    K_WEB_IDENTITY_FILE,
    K_ROLE_ARN,
    K_ROLE_SESSION,
    K_STS_ENDPOINT,
    K_PROFILE,
    K_IMDSV1,
    K_S3_EXPRESS,
    K_SSE_C_KEY,
    K_SSE,
    K_UNSIGNED_PAYLOAD,
    K_CHECKSUM,
    K_PROXY_URL,
    K_IGNORED,
    K_N
} s3_key;

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
static const remote_opt s3_opts[K_N] = {
    [K_ACCESS] = {NAMES("access_key_id", "aws_access_key_id"), NAMES("AWS_ACCESS_KEY_ID"),
                  REMOTE_STRING, REMOTE_SECRET},
    [K_SECRET] = {NAMES("secret_access_key", "aws_secret_access_key"),
                  NAMES("AWS_SECRET_ACCESS_KEY"), REMOTE_STRING, REMOTE_SECRET},
    [K_TOKEN] = {NAMES("session_token", "aws_session_token", "token", "aws_token"),
                 NAMES("AWS_SESSION_TOKEN"), REMOTE_STRING, REMOTE_SECRET},
    [K_REGION] = {NAMES("region", "aws_region"), NAMES("AWS_REGION"), REMOTE_STRING, 0},
    [K_DEFAULT_REGION] = {NAMES("default_region", "aws_default_region"),
                          NAMES("AWS_DEFAULT_REGION"), REMOTE_STRING, 0},
    [K_ENDPOINT] = {NAMES("endpoint", "aws_endpoint", "endpoint_url", "aws_endpoint_url",
                          "aws_endpoint_url_s3"),
                    NAMES("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"), REMOTE_URL,
                    0},
    [K_SKIP_SIG] = {NAMES("skip_signature", "aws_skip_signature"), NAMES("AWS_SKIP_SIGNATURE"),
                    REMOTE_BOOL, 0},
    [K_VHOST] = {NAMES("virtual_hosted_style_request", "aws_virtual_hosted_style_request"),
                 NAMES("AWS_VIRTUAL_HOSTED_STYLE_REQUEST"), REMOTE_BOOL, 0},
    [K_PAYER] = {NAMES("request_payer", "aws_request_payer"), NAMES("AWS_REQUEST_PAYER"),
                 REMOTE_STRING, 0},
    [K_ALLOW_HTTP] = {NAMES("allow_http", "aws_allow_http"), NAMES("AWS_ALLOW_HTTP"), REMOTE_BOOL,
                      0},
    [K_BUCKET] = {NAMES("bucket", "aws_bucket", "bucket_name", "aws_bucket_name"), NULL,
                  REMOTE_STRING, 0},
    [K_METADATA_ENDPOINT] = {NAMES("metadata_endpoint", "aws_metadata_endpoint"),
                             NAMES("AWS_METADATA_ENDPOINT"), REMOTE_URL, 0},
    [K_CONTAINER_REL] = {NAMES("container_credentials_relative_uri",
                               "aws_container_credentials_relative_uri"),
                         NAMES("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), REMOTE_STRING, 0},
    [K_CONTAINER_FULL] = {NAMES("container_credentials_full_uri",
                                "aws_container_credentials_full_uri"),
                          NAMES("AWS_CONTAINER_CREDENTIALS_FULL_URI"), REMOTE_URL, 0},
    [K_CONTAINER_TOKEN_FILE] = {NAMES("container_authorization_token_file",
                                      "aws_container_authorization_token_file"),
                                NAMES("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), REMOTE_STRING, 0},
    [K_WEB_IDENTITY_FILE] = {NAMES("web_identity_token_file", "aws_web_identity_token_file"),
                             NAMES("AWS_WEB_IDENTITY_TOKEN_FILE"), REMOTE_STRING, 0},
    [K_ROLE_ARN] = {NAMES("role_arn", "aws_role_arn"), NAMES("AWS_ROLE_ARN"), REMOTE_STRING, 0},
    [K_ROLE_SESSION] = {NAMES("role_session_name", "aws_role_session_name"),
                        NAMES("AWS_ROLE_SESSION_NAME"), REMOTE_STRING, 0},
    [K_STS_ENDPOINT] = {NAMES("sts_endpoint", "aws_sts_endpoint"), NAMES("AWS_STS_ENDPOINT"),
                        REMOTE_URL, 0},
    [K_PROFILE] = {NAMES("profile", "aws_profile"), NAMES("AWS_PROFILE"), REMOTE_STRING, 0},
    [K_IMDSV1] = {NAMES("imdsv1_fallback", "aws_imdsv1_fallback"), NAMES("AWS_IMDSV1_FALLBACK"),
                  REMOTE_BOOL, 0},
    [K_S3_EXPRESS] = {NAMES("s3_express", "aws_s3_express"), NAMES("AWS_S3_EXPRESS"), REMOTE_BOOL,
                      0},
    [K_SSE_C_KEY] = {NAMES("sse_customer_key_base64", "aws_sse_customer_key_base64"),
                     NAMES("AWS_SSE_CUSTOMER_KEY_BASE64"), REMOTE_STRING, REMOTE_SECRET},
    /* how objects are written; for a reader only "sse-c" matters (it needs the key) */
    [K_SSE] = {NAMES("server_side_encryption", "aws_server_side_encryption"),
               NAMES("AWS_SERVER_SIDE_ENCRYPTION"), REMOTE_STRING, 0},
    /* upload options: a reader's requests have no payload to hash or checksum (GETs are
     * signed UNSIGNED-PAYLOAD, the same request either way); checked, then nothing to do */
    [K_UNSIGNED_PAYLOAD] = {NAMES("unsigned_payload", "aws_unsigned_payload"),
                            NAMES("AWS_UNSIGNED_PAYLOAD"), REMOTE_BOOL, 0},
    [K_CHECKSUM] = {NAMES("checksum_algorithm", "aws_checksum_algorithm"),
                    NAMES("AWS_CHECKSUM_ALGORITHM"), REMOTE_STRING, 0},
    /* parsed by remote.c for every backend; listed here so that a proxy URL with a
     * password in it is masked wherever options are shown */
    [K_PROXY_URL] = {NAMES("proxy_url"), NULL, REMOTE_STRING, REMOTE_SECRET},
    /* accepted, meaningless for a reader that only lists and reads */
    [K_IGNORED] = {NAMES("copy_if_not_exists", "aws_copy_if_not_exists", "conditional_put",
                         "aws_conditional_put", "disable_tagging", "aws_disable_tagging",
                         "sse_kms_key_id", "aws_sse_kms_key_id", "sse_bucket_key_enabled",
                         "aws_sse_bucket_key_enabled", "user_agent", "timeout", "connect_timeout",
                         "pool_idle_timeout", "pool_max_idle_per_host", "http2_keep_alive_interval",
                         "http1_only", "http2_only"),
                   NULL, REMOTE_STRING, REMOTE_IGNORED},
};
#undef NAMES

const remote_backend store_s3_backend = {"an s3://", s3_opts, K_N, NULL};

/* Directory buckets: requests are signed (service s3express) with session credentials from
 * CreateSession, whose token goes in x-amz-s3session-token; the session source wraps the
 * store's own credentials (static or a source), with which CreateSession is signed. */
static int express_setup(s3_store *s, uv_loop_t *loop, char *err, size_t errlen) {
    s3_reqparts cs;
    s3_pair q = {"session", ""};
    if (s3_reqparts_build(&cs, &s->target, NULL, 0, &q, 1) != 0)
        return STORE_E_NOMEM;
    char e[256];
    s3_credsrc *src =
        s3_express_new(loop, s->src ? NULL : &s->creds, s->src, cs.url.p, s->target.authority,
                       cs.path.p, cs.query.p, s->target.region, e, sizeof e);
    s3_reqparts_free(&cs);
    s->src = src; /* the inner source was taken, whatever happened */
    if (!src)
        return store__fail(err, errlen, STORE_E_NOMEM, "%s: %s", s->rs.base.url, e);
    s3_creds_clear(&s->creds);
    s->target.service = "s3express";
    s->target.session_token_hdr = true;
    return 0;
}

/* SSE-C: the key (base64 of 32 bytes) and its MD5 (base64), sent with every GET. */
static int sse_c_setup(s3_store *s, const char *key64, char *err, size_t errlen) {
    uint8_t key[64];
    long n = ut_base64_decode(key64, strlen(key64), key, sizeof key);
    if (n != 32) {
        OPENSSL_cleanse(key, sizeof key);
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "%s: sse_customer_key_base64 must be the base64 of a 256-bit "
                           "(32-byte) AES key (e.g. `openssl rand -base64 32`)",
                           s->rs.base.url);
    }
    unsigned char md[16];
    unsigned int mdl = 0;
    EVP_Digest(key, 32, md, &mdl, EVP_md5(), NULL);
    OPENSSL_cleanse(key, sizeof key);
    ut_buf m = {0};
    ut_base64_encode(&m, md, 16, false);
    ut_buf_puts(&m, "");
    s->sse_key = ut_strdup(key64);
    s->sse_md5 = m.p;
    if (m.bad || !s->sse_key || !s->sse_md5)
        return STORE_E_NOMEM;
    s->target.extra[0] = (s3_pair){"x-amz-server-side-encryption-customer-algorithm", "AES256"};
    s->target.extra[1] = (s3_pair){"x-amz-server-side-encryption-customer-key", s->sse_key};
    s->target.extra[2] = (s3_pair){"x-amz-server-side-encryption-customer-key-MD5", s->sse_md5};
    return 0;
}

int store_s3_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                  char *err, size_t errlen) {
    *out = NULL;
    const char *v[K_N];
    int orc = remote_options_parse(&store_s3_backend, opts, v, err, errlen);
    if (orc)
        return orc;

    /* s3://bucket[/prefix]; s3a:// is Hadoop's name for the same, which object_store takes */
    size_t scheme = strncasecmp(url, "s3a://", 6) == 0 ? 6 : 5;
    if (scheme == 5 && strncasecmp(url, "s3://", 5) != 0)
        return store__fail(err, errlen, STORE_E_CONFIG, "not an s3:// URL: '%.*s'",
                           ut_utf8_prec(url, 200), url);
    const char *rest = url + scheme;
    size_t bl = strcspn(rest, "/?#");
    if (bl == 0)
        return store__fail(err, errlen, STORE_E_CONFIG, "no bucket in '%.*s'",
                           ut_utf8_prec(url, 200), url);
    if (rest[bl] == '?' || rest[bl] == '#')
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "'%.*s': query strings are not supported in store URLs",
                           ut_utf8_prec(url, 200), url);

    s3_store *s = calloc(1, sizeof *s);
    if (!s)
        return STORE_E_NOMEM;
    remote_store_init(&s->rs, &s3_vtable, &s3_ops, loop);
    s->bucket = malloc(bl + 1);
    int rc = STORE_E_NOMEM;
    if (!s->bucket)
        goto fail;
    memcpy(s->bucket, rest, bl);
    s->bucket[bl] = '\0';
    if (v[K_BUCKET] && strcmp(v[K_BUCKET], s->bucket) != 0) {
        rc = store__fail(err, errlen, STORE_E_CONFIG,
                         "obstore_config bucket '%.*s' differs from the URL's '%.*s'",
                         ut_utf8_prec(v[K_BUCKET], 100), v[K_BUCKET], ut_utf8_prec(s->bucket, 100),
                         s->bucket);
        goto fail;
    }
    {
        const char *p = rest + bl;
        while (*p == '/')
            p++;
        size_t pl = strlen(p);
        while (pl && p[pl - 1] == '/')
            pl--;
        ut_buf root = {0};
        ut_buf_put(&root, p, pl);
        if (pl)
            ut_buf_putc(&root, '/');
        ut_buf_puts(&root, "");
        if (root.bad)
            goto fail;
        s->root = root.p;
        ut_buf disp = {0};
        ut_buf_puts(&disp, "s3://");
        ut_buf_puts(&disp, s->bucket);
        if (pl) {
            ut_buf_putc(&disp, '/');
            ut_buf_put(&disp, p, pl);
        }
        if (disp.bad) {
            ut_buf_free(&disp);
            goto fail;
        }
        s->rs.base.url = disp.p;
    }
    s->anonymous = remote_bool(v[K_SKIP_SIG]);
    s->payer =
        v[K_PAYER] && (ut_parse_bool(v[K_PAYER]) == 1 || !strcasecmp(v[K_PAYER], "requester"));

    char *profile_region = NULL;
    if (!s->anonymous) {
        s3_cred_cfg cc = {0};
        /* botocore's rule for a profile named on purpose (the CLI's --profile; here the
         * obstore_config key, not AWS_PROFILE): the AWS_* key variables do not override
         * its credentials (a role profile may read them, credential_source Environment);
         * they are still used when the profile has none (a region only, say) */
        bool keys_given = false, profile_given = false;
        for (size_t i = 0; opts && i < opts->n_kv; i++) {
            int k = remote_option_find(&store_s3_backend, opts->kv[i].key ? opts->kv[i].key : "");
            keys_given |= k == K_ACCESS;
            profile_given |= k == K_PROFILE;
        }
        cc.profile_first = profile_given && !keys_given;
        cc.access_key_id = v[K_ACCESS];
        cc.secret_access_key = v[K_SECRET];
        cc.session_token = v[K_TOKEN];
        cc.profile = v[K_PROFILE];
        cc.web_identity_token_file = v[K_WEB_IDENTITY_FILE];
        cc.role_arn = v[K_ROLE_ARN];
        cc.role_session_name = v[K_ROLE_SESSION];
        cc.sts_endpoint = v[K_STS_ENDPOINT];
        cc.container_full_uri = v[K_CONTAINER_FULL];
        cc.container_relative_uri = v[K_CONTAINER_REL];
        cc.container_token_file = v[K_CONTAINER_TOKEN_FILE];
        cc.metadata_endpoint = v[K_METADATA_ENDPOINT];
        cc.imds_disabled = ut_parse_bool(getenv("AWS_EC2_METADATA_DISABLED")) == 1;
        cc.imdsv1_fallback = remote_bool(v[K_IMDSV1]);
        cc.region = v[K_REGION] ? v[K_REGION] : v[K_DEFAULT_REGION];
        char cerr[256];
        if (s3_creds_resolve(&cc, loop, s->rs.net, &s->creds, &s->src, &profile_region, cerr,
                             sizeof cerr) != 0) {
            free(profile_region);
            rc = store__fail(err, errlen, STORE_E_AUTH,
                             "%s: %s (or set skip_signature: true for a public bucket)",
                             s->rs.base.url, cerr);
            goto fail;
        }
    }
    const char *region = v[K_REGION]           ? v[K_REGION]
                         : v[K_DEFAULT_REGION] ? v[K_DEFAULT_REGION]
                         : profile_region      ? profile_region
                                               : "us-east-1";
    /* S3 Express One Zone: asked for, or a directory bucket's name ("base--AZID--x-s3"),
     * whose zonal endpoint is https://BUCKET.s3express-AZID.REGION.amazonaws.com */
    bool express = remote_bool(v[K_S3_EXPRESS]);
    size_t bn = strlen(s->bucket);
    bool dir_bucket = bn > 6 && strcmp(s->bucket + bn - 6, "--x-s3") == 0;
    if (v[K_S3_EXPRESS] == NULL && dir_bucket)
        express = true;
    char *zonal = NULL;
    if (express && s->anonymous) {
        free(profile_region);
        rc = store__fail(err, errlen, STORE_E_CONFIG,
                         "%s: s3_express (a directory bucket) needs credentials for its "
                         "CreateSession: remove skip_signature, or set s3_express: false for a "
                         "bucket that is not a directory bucket",
                         s->rs.base.url);
        goto fail;
    }
    if (express && !v[K_ENDPOINT]) {
        const char *az_end = dir_bucket ? s->bucket + bn - 6 : NULL, *az = NULL;
        for (const char *p = s->bucket; az_end && p + 2 <= az_end; p++)
            if (p[0] == '-' && p[1] == '-' && p + 2 < az_end)
                az = p + 2;
        if (!az) {
            free(profile_region);
            rc = store__fail(err, errlen, STORE_E_CONFIG,
                             "%s: s3_express: '%.*s' is not a directory bucket name "
                             "(BASE--AZID--x-s3): set endpoint to its zonal endpoint",
                             s->rs.base.url, ut_utf8_prec(s->bucket, 100), s->bucket);
            goto fail;
        }
        ut_buf z = {0};
        ut_buf_puts(&z, "https://");
        ut_buf_puts(&z, s->bucket);
        ut_buf_puts(&z, ".s3express-");
        ut_buf_put(&z, az, (size_t)(az_end - az));
        ut_buf_putc(&z, '.');
        ut_buf_puts(&z, region);
        ut_buf_puts(&z, ".amazonaws.com");
        ut_buf_puts(&z, "");
        if (z.bad) {
            ut_buf_free(&z);
            free(profile_region);
            rc = STORE_E_NOMEM;
            goto fail;
        }
        zonal = z.p;
    }
    char terr[256];
    int trc = s3_target_init(&s->target, zonal ? zonal : v[K_ENDPOINT], s->bucket, region,
                             zonal ? true : remote_bool(v[K_VHOST]), remote_bool(v[K_ALLOW_HTTP]),
                             terr, sizeof terr);
    free(profile_region);
    free(zonal);
    if (trc != 0) {
        rc = store__fail(err, errlen, STORE_E_CONFIG, "%s: %s", s->rs.base.url, terr);
        goto fail;
    }
    if (express) {
        rc = express_setup(s, loop, err, errlen);
        if (rc)
            goto fail;
    }
    s3_store *lead = opts && opts->creds_from && opts->creds_from->vt == &s3_vtable
                         ? (s3_store *)opts->creds_from
                         : NULL;
    if (s->src && lead && lead->src && !lead->anonymous) {
        /* a fetch thread's store: the pipeline store's source fetches for it (one
         * AssumeRole or token fetch per refresh for the whole run) */
        if (!lead->share && !(lead->share = store_share_new(lead->rs.base.loop, share_ask, lead))) {
            rc = store__fail(err, errlen, STORE_E_NOMEM, "out of memory");
            goto fail;
        }
        s3_credsrc_free(s->src);
        s->src = s3_credsrc_follow(loop, lead->share);
        if (!s->src) {
            rc = store__fail(err, errlen, STORE_E_NOMEM, "out of memory");
            goto fail;
        }
    } else if (s->src) {
        const char *px[3] = {NULL, NULL, NULL};
        for (size_t i = 0; opts && i < opts->n_kv; i++) {
            int k = remote_proxy_key(opts->kv[i].key ? opts->kv[i].key : "");
            if (k >= 0 && opts->kv[i].value && *opts->kv[i].value)
                px[k] = opts->kv[i].value;
        }
        s3_credsrc_set_proxy(s->src, px);
    }
    if (v[K_SSE] && strcasecmp(v[K_SSE], "sse-c") == 0 && !v[K_SSE_C_KEY]) {
        rc = store__fail(err, errlen, STORE_E_CONFIG,
                         "%s: server_side_encryption is sse-c but no key is given: set "
                         "aws_sse_customer_key_base64 (the base64 of the 32-byte key the objects "
                         "were written with)",
                         s->rs.base.url);
        goto fail;
    }
    if (v[K_SSE_C_KEY]) {
        rc = sse_c_setup(s, v[K_SSE_C_KEY], err, errlen);
        if (rc)
            goto fail;
    }
    /* the engine last: once it exists, freeing it takes a turn of the loop (its handles
     * close asynchronously), which a caller whose open failed may never give */
    rc = remote_store_engine(&s->rs, opts, NULL, s->rs.base.url, err, errlen);
    if (rc)
        goto fail;
    *out = &s->rs.base;
    return 0;
fail:
    remote_store_discard(&s->rs);
    return rc;
}
