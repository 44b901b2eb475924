/* gcs_put.c - writes to Google Cloud Storage over the JSON API: media upload, resumable
 * upload, objects.delete.
 *
 * One op per store_put, one request at a time:
 *   length <= part_size: a media upload (uploadType=media; atomic: the object appears
 *   whole or not);
 *   else: a resumable upload: a POST opens a session (its URL comes back in Location),
 *   then PUTs of part_size bytes (rounded up to GCS's 256 KiB unit) with Content-Range
 *   a-b/total. GCS answers 308 with "Range: bytes=0-N" (what it has) until the last byte,
 *   and the next chunk starts at N+1, so a chunk it kept only in part is resent from
 *   where it stopped. The object appears only when the last byte arrived. A failed or
 *   canceled upload sends DELETE to the session (GCS answers 499), else the session
 *   expires after a week; either way no object appears.
 *
 * The session URL is a capability (anyone holding it may upload): it is never shown in a
 * message. create_only: ifGenerationMatch=0 (412: STORE_E_EXISTS). Retries are the
 * engine's, per request; a retried chunk is resent whole, which GCS accepts (it keeps
 * what it has and ignores bytes it already holds). */
#include "gcs_put.h"

#include "gcs_json.h"
#include "net.h"
#include "remote.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define GCS_CHUNK_UNIT (256u << 10)
#define GCS_MAX_RESP (64u << 10)
#define GCS_MAX_CHUNKS 100000u /* bounds the 308 loop: no upload takes more requests */

typedef enum { P_SINGLE, P_INIT, P_CHUNK, P_CANCEL, P_DELETE } gcs_phase;

typedef struct gcs_put_op {
    net_request nr; /* first: nr.data is the op */
    store_token_waiter w;
    store *s;
    store_put_req *req;
    store_delete_req *del;
    gcs_phase phase;
    ut_buf url;
    ut_buf session; /* the resumable session's URL (a capability: never printed) */
    ut_buf loc;     /* Location of this attempt */
    char range[64]; /* the Range header of this attempt's 308 */
    char crange[80];
    const uint8_t *body;
    size_t body_len;
    uint8_t *chunk;
    ut_buf resp;
    uint64_t part_size, off;
    unsigned chunks;
    bool waiting, in_net, canceled;
    int fail_status;
    char fail_msg[256];
} gcs_put_op;

static const char *op_key(const gcs_put_op *op) { return op->req ? op->req->key : op->del->key; }
static char *op_errmsg(gcs_put_op *op) { return op->req ? op->req->errmsg : op->del->errmsg; }

static int on_prepare(net_request *nr, void *headers) {
    gcs_put_op *op = nr->data;
    ut_buf_reset(&op->resp);
    ut_buf_reset(&op->loc);
    op->range[0] = '\0';
    int rc = gcs__auth_header(op->s, headers);
    if (!rc && op->phase == P_SINGLE)
        rc = net_add_header(headers, "Content-Type: application/octet-stream");
    if (!rc && op->phase == P_INIT) {
        char line[80];
        snprintf(line, sizeof line, "X-Upload-Content-Length: %llu",
                 (unsigned long long)op->req->length);
        rc = net_add_header(headers, "Content-Type: application/json; charset=UTF-8");
        if (!rc)
            rc = net_add_header(headers, "X-Upload-Content-Type: application/octet-stream");
        if (!rc)
            rc = net_add_header(headers, line);
    }
    if (!rc && op->phase == P_CHUNK) {
        rc = net_add_header(headers, "Content-Type: application/octet-stream");
        if (!rc)
            rc = net_add_header(headers, op->crange);
    }
    return rc ? NET_E_NOMEM : 0;
}

static void on_header(net_request *nr, const char *name, size_t nl, const char *v, size_t vl) {
    gcs_put_op *op = nr->data;
    if (nl == 8 && !strncasecmp(name, "location", 8)) {
        ut_buf_reset(&op->loc);
        ut_buf_put(&op->loc, v, vl);
        ut_buf_puts(&op->loc, "");
    } else if (nl == 5 && !strncasecmp(name, "range", 5) && vl < sizeof op->range) {
        memcpy(op->range, v, vl);
        op->range[vl] = '\0';
    }
}

static int on_body(net_request *nr, const void *data, size_t len) {
    gcs_put_op *op = nr->data;
    if (op->resp.len + len <= GCS_MAX_RESP)
        ut_buf_put(&op->resp, data, len);
    return 0;
}

/* ------------------------------------------------------------------ the state machine */

static void step(gcs_put_op *op);
static void done(net_request *nr, int net_status);

static void op_free(gcs_put_op *op) {
    ut_buf_free(&op->url);
    ut_buf_free(&op->session);
    ut_buf_free(&op->loc);
    ut_buf_free(&op->resp);
    free(op->chunk);
    free(op);
}

static void finish(gcs_put_op *op, int status) {
    remote_store *rs = (remote_store *)op->s;
    if (op->req) {
        store_put_req *req = op->req;
        req->priv = NULL;
        if (status == STORE_OK)
            req->errmsg[0] = '\0';
        op_free(op);
        req->cb(req, status);
    } else {
        store_delete_req *req = op->del;
        req->priv = NULL;
        if (status == STORE_OK)
            req->errmsg[0] = '\0';
        op_free(op);
        req->cb(req, status);
    }
    remote_release(rs);
}

/* A failure: cancel the resumable session first when there is one (not at close). */
static void fail(gcs_put_op *op, int status) {
    remote_store *rs = (remote_store *)op->s;
    if (op->session.len && op->phase != P_CANCEL && !rs->closing) {
        op->fail_status = status;
        snprintf(op->fail_msg, sizeof op->fail_msg, "%s", op_errmsg(op));
        op->phase = P_CANCEL;
        step(op);
        return;
    }
    finish(op, status);
}

/* {base}/[upload/]storage/v1/b/BUCKET/o[/KEY]... */
static int build_url(gcs_put_op *op, bool upload, const char *query) {
    const char *base, *bucket, *root, *up;
    gcs__where(op->s, &base, &bucket, &root, &up);
    ut_buf *u = &op->url;
    ut_buf_free(u);
    ut_buf_puts(u, base);
    ut_buf_puts(u, upload ? "/upload/storage/v1/b/" : "/storage/v1/b/");
    ut_pct_encode(u, bucket, strlen(bucket), false);
    if (upload) {
        ut_buf_printf(u, "/o?uploadType=%s&name=", query);
        ut_pct_encode(u, root, strlen(root), false);
        ut_pct_encode(u, op_key(op), strlen(op_key(op)), false);
        if (op->req->create_only)
            ut_buf_puts(u, "&ifGenerationMatch=0");
    } else {
        ut_buf_puts(u, "/o/");
        ut_pct_encode(u, root, strlen(root), false);
        ut_pct_encode(u, op_key(op), strlen(op_key(op)), false);
    }
    if (up) {
        ut_buf_puts(u, upload ? "&userProject=" : "?userProject=");
        ut_pct_encode(u, up, strlen(up), false);
    }
    return u->bad ? -1 : 0;
}

static void request_init(gcs_put_op *op, const char *method, const char *url) {
    net_request *nr = &op->nr;
    memset(nr, 0, sizeof *nr);
    nr->method = method;
    nr->url = url;
    nr->body = op->body;
    nr->body_len = op->body_len;
    nr->on_body = on_body;
    nr->on_header = on_header;
    nr->prepare = on_prepare;
    nr->cb = done;
    nr->data = op;
}

static int load(gcs_put_op *op, uint64_t off, size_t n) {
    store_put_req *req = op->req;
    if (req->buf) {
        op->body = req->buf + off;
        op->body_len = n;
        return 0;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(req->fd, op->chunk + got, n - got, (off_t)(req->fd_offset + off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_IO,
                               "%s/%s: reading the source at %llu: %s", op->s->url, req->key,
                               (unsigned long long)(req->fd_offset + off + got),
                               r < 0 ? strerror(errno) : "end of file before length");
        got += (size_t)r;
    }
    op->body = op->chunk;
    op->body_len = n;
    return 0;
}

static void token_ready(store_token_waiter *w, int status) {
    gcs_put_op *op = (gcs_put_op *)((char *)w - offsetof(gcs_put_op, w));
    remote_store *rs = (remote_store *)op->s;
    op->waiting = false;
    if (status == STORE_OK && rs->closing)
        status = STORE_E_CANCELED;
    if (status == STORE_OK) {
        op->in_net = true;
        if (net_start(rs->net, &op->nr) == 0)
            return;
        op->in_net = false;
        status = STORE_E_NOMEM;
    }
    snprintf(op_errmsg(op), 256, "%s/%s: %s", op->s->url, op_key(op),
             status == STORE_E_CANCELED ? "canceled" : gcs__token_error(op->s));
    finish(op, status);
}

static void submit(gcs_put_op *op) {
    remote_store *rs = (remote_store *)op->s;
    char *em = op_errmsg(op);
    if (rs->closing || !rs->net) {
        snprintf(em, 256, "%s/%s: canceled", op->s->url, op_key(op));
        finish(op, STORE_E_CANCELED);
        return;
    }
    op->w.ready = token_ready;
    int rc = gcs__token_wait(op->s, &op->w);
    if (rc != STORE_OK) {
        snprintf(em, 256, "%s/%s: %s", op->s->url, op_key(op), gcs__token_error(op->s));
        finish(op, rc);
        return;
    }
    if (op->w.queued) {
        op->waiting = true;
        return;
    }
    op->in_net = true;
    int nrc = net_start(rs->net, &op->nr);
    if (nrc != 0) {
        op->in_net = false;
        snprintf(em, 256, "%s/%s: could not start request: %s", op->s->url, op_key(op),
                 net_strerror(nrc));
        fail(op, nrc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK);
    }
}

static void step(gcs_put_op *op) {
    int rc = 0;
    switch (op->phase) {
    case P_SINGLE:
        rc = load(op, 0, (size_t)op->req->length);
        if (!rc)
            rc = build_url(op, true, "media") ? STORE_E_NOMEM : 0;
        if (!rc)
            request_init(op, "POST", op->url.p);
        break;
    case P_INIT:
        op->body = (const uint8_t *)"{}";
        op->body_len = 2;
        rc = build_url(op, true, "resumable") ? STORE_E_NOMEM : 0;
        if (!rc)
            request_init(op, "POST", op->url.p);
        break;
    case P_CHUNK: {
        uint64_t left = op->req->length - op->off;
        size_t n = (size_t)(left < op->part_size ? left : op->part_size);
        rc = load(op, op->off, n);
        snprintf(op->crange, sizeof op->crange, "Content-Range: bytes %llu-%llu/%llu",
                 (unsigned long long)op->off, (unsigned long long)(op->off + n - 1),
                 (unsigned long long)op->req->length);
        if (!rc)
            request_init(op, "PUT", op->session.p);
        break;
    }
    case P_CANCEL:
        op->body = NULL;
        op->body_len = 0;
        request_init(op, "DELETE", op->session.p);
        break;
    case P_DELETE:
        op->body = NULL;
        op->body_len = 0;
        rc = build_url(op, false, NULL) ? STORE_E_NOMEM : 0;
        if (!rc)
            request_init(op, "DELETE", op->url.p);
        break;
    }
    if (rc) {
        if (rc == STORE_E_NOMEM)
            snprintf(op_errmsg(op), 256, "%s/%s: out of memory or request too long", op->s->url,
                     op_key(op));
        fail(op, rc);
        return;
    }
    submit(op);
}

/* "bytes=0-N" -> N+1; no header: 0 (GCS has nothing yet). -1 if malformed. */
static int64_t persisted(const char *range) {
    if (!range[0])
        return 0;
    unsigned long long a, b;
    if (sscanf(range, "bytes=%llu-%llu", &a, &b) != 2 || a != 0)
        return -1;
    return (int64_t)b + 1;
}

static void done(net_request *nr, int net_status) {
    gcs_put_op *op = nr->data;
    op->in_net = false;
    if (op->req) {
        op->req->attempts += nr->attempts;
        op->req->http_status = (int)nr->http_status;
    } else {
        op->del->attempts += nr->attempts;
        op->del->http_status = (int)nr->http_status;
    }
    static const char *const names[] = {"upload", "starting a resumable upload", "resumable upload",
                                        "canceling an upload", "delete"};
    char what[200];
    snprintf(what, sizeof what, "%s/%s: %s", op->s->url, op_key(op), names[op->phase]);
    if (op->phase == P_CANCEL) { /* GCS answers 499 to a canceled session */
        snprintf(op_errmsg(op), 256, "%s", op->fail_msg);
        finish(op, op->fail_status);
        return;
    }
    bool incomplete = op->phase == P_CHUNK && net_status == NET_E_HTTP && nr->http_status == 308;
    int st = STORE_OK;
    if (net_status != NET_OK && !incomplete) {
        char gmsg[160] = "", reason[64] = "";
        gcs_error_parse(ut_buf_str(&op->resp), op->resp.len, gmsg, sizeof gmsg, reason,
                        sizeof reason);
        st = gcs__map_status(op->s, net_status, nr->http_status, gmsg, reason, op_errmsg(op), 256,
                             what);
        if (net_status == NET_E_HTTP && nr->http_status == 412)
            st = store__fail(op_errmsg(op), 256, STORE_E_EXISTS, "%s: HTTP 412: the object exists",
                             what);
    }
    if (op->phase == P_DELETE) {
        finish(op, st == STORE_E_NOT_FOUND ? STORE_OK : st);
        return;
    }
    if (st == STORE_OK && op->canceled && (op->phase == P_INIT || incomplete)) {
        st = STORE_E_CANCELED;
        snprintf(op_errmsg(op), 256, "%s/%s: canceled", op->s->url, op_key(op));
    }
    if (st != STORE_OK) {
        fail(op, st);
        return;
    }
    if (op->phase == P_CHUNK && !incomplete && op->off + op->body_len < op->req->length) {
        /* "complete" before the last byte was sent: the object would be truncated */
        store__fail(op_errmsg(op), 256, 0, "%s: the server ended the upload at %llu of %llu bytes",
                    what, (unsigned long long)(op->off + op->body_len),
                    (unsigned long long)op->req->length);
        fail(op, STORE_E_PROTOCOL);
        return;
    }
    if (op->phase == P_SINGLE || (op->phase == P_CHUNK && !incomplete)) {
        if (op->phase == P_CHUNK)
            op->req->parts++;
        finish(op, STORE_OK);
        return;
    }
    if (op->phase == P_INIT) {
        if (!op->loc.len || strncmp(op->loc.p, "http", 4) != 0) {
            snprintf(op_errmsg(op), 256, "%s: no session URL in the answer", what);
            fail(op, STORE_E_PROTOCOL);
            return;
        }
        ut_buf_put(&op->session, op->loc.p, op->loc.len);
        ut_buf_puts(&op->session, "");
        if (op->session.bad) {
            snprintf(op_errmsg(op), 256, "%s: out of memory", what);
            fail(op, STORE_E_NOMEM);
            return;
        }
        op->phase = P_CHUNK;
        op->off = 0;
        step(op);
        return;
    }
    /* 308: the next chunk starts where GCS's bytes end */
    int64_t have = persisted(op->range);
    op->req->parts++;
    if (have < 0 || (uint64_t)have < op->off || (uint64_t)have > op->off + op->body_len ||
        (uint64_t)have >= op->req->length || ++op->chunks > GCS_MAX_CHUNKS) {
        snprintf(op_errmsg(op), 256, "%s: the server's Range after a chunk makes no sense", what);
        fail(op, STORE_E_PROTOCOL);
        return;
    }
    op->off = (uint64_t)have;
    step(op);
}

/* ------------------------------------------------------------------ entry points */

static gcs_put_op *op_new(store *s) {
    gcs_put_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->s = s;
    op->resp.limit = GCS_MAX_RESP + 1;
    return op;
}

int gcs_put(store *s, store_put_req *req) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return STORE_E_CANCELED;
    gcs_put_op *op = op_new(s);
    if (!op)
        return STORE_E_NOMEM;
    op->req = req;
    uint64_t ps = req->part_size ? req->part_size : STORE_DEFAULT_PART_SIZE;
    ps = (ps + GCS_CHUNK_UNIT - 1) / GCS_CHUNK_UNIT * GCS_CHUNK_UNIT; /* GCS's rule */
    if (ps > (uint64_t)SIZE_MAX / 2) {
        op_free(op);
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "%s/%s: part size too large", s->url, req->key);
    }
    op->part_size = ps;
    op->phase = req->length > ps ? P_INIT : P_SINGLE;
    if (!req->buf && req->length) {
        op->chunk = malloc((size_t)(req->length < ps ? req->length : ps));
        if (!op->chunk) {
            op_free(op);
            return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_NOMEM,
                               "%s/%s: out of memory for a part", s->url, req->key);
        }
    }
    req->priv = op;
    remote_hold(rs);
    step(op);
    return 0;
}

void gcs_put_cancel(store *s, store_put_req *req) {
    gcs_put_op *op = req->priv;
    if (!op || op->canceled)
        return;
    op->canceled = true;
    snprintf(req->errmsg, sizeof req->errmsg, "%s/%s: canceled", s->url, req->key);
    if (op->waiting && gcs__token_unqueue(s, &op->w)) {
        op->waiting = false;
        fail(op, STORE_E_CANCELED);
        return;
    }
    /* the single upload and the last chunk are let finish (they may have committed);
     * the session's start and middle chunks stop at once */
    bool last = op->phase == P_CHUNK && op->off + op->body_len >= req->length;
    if (op->in_net && (op->phase == P_INIT || (op->phase == P_CHUNK && !last)))
        net_cancel(((remote_store *)s)->net, &op->nr);
}

int gcs_delete(store *s, store_delete_req *req) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return STORE_E_CANCELED;
    gcs_put_op *op = op_new(s);
    if (!op)
        return STORE_E_NOMEM;
    op->del = req;
    op->phase = P_DELETE;
    req->priv = op;
    remote_hold(rs);
    step(op);
    return 0;
}
