/* s3_put.c - writes to s3:// stores: PutObject, multipart upload, DeleteObject.
 *
 * One op per store_put, a small state machine of one request at a time:
 *   length <= part_size: PUT the object (atomic: the key shows all of it or nothing);
 *   else: CreateMultipartUpload, UploadPart 1..n (each part read, hashed and sent, then
 *   the next: memory is one part), CompleteMultipartUpload (atomic like a PUT); a failure
 *   or a cancel after the upload was created sends AbortMultipartUpload before the
 *   callback, so no parts are left behind (an upload left by a killed process is invisible
 *   to readers; a bucket lifecycle rule AbortIncompleteMultipartUpload reclaims it).
 *
 * Payload signing: every body is hashed (SHA-256) and the hash signed in
 * x-amz-content-sha256, over http and https alike. UNSIGNED-PAYLOAD would save one pass
 * over the bytes only where TLS already guards them, and output is small next to what a
 * run reads (part files, not the TIFFs); a signed hash makes the store reject a body
 * corrupted anywhere between this buffer and its disk, plain-http endpoints (MinIO on a
 * LAN, the test servers) included, and keeps one signing path that the tests exercise.
 *
 * Retries are the engine's (one policy for everything): each request is retried on its
 * own, its body and signature rebuilt per attempt. Complete can answer 200 with an
 * <Error> body; that is retried too (retry_check), then failed. */
#include "s3_put.h"

#include "net.h"
#include "remote.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S3_MAX_PARTS 10000u
#define S3_MAX_RESP (1u << 20) /* bodies of Create/Complete/errors are a few hundred bytes */

typedef enum { P_SINGLE, P_INIT, P_PART, P_COMPLETE, P_ABORT, P_DELETE } put_phase;

typedef struct put_op {
    net_request nr; /* first: nr.data is the op */
    s3_waiter w;
    store *s;
    store_put_req *req;    /* a put, or NULL */
    store_delete_req *del; /* a delete, or NULL */
    put_phase phase;
    s3_reqparts parts;
    char *full_key;
    char sha[65];
    const uint8_t *body;
    size_t body_len;
    uint8_t *chunk; /* one part read from the fd source */
    ut_buf resp;    /* the response body of this attempt */
    ut_buf etags;   /* the <Part> elements of Complete */
    ut_buf complete_body;
    char etag[160]; /* the ETag header of this attempt */
    char *upload_id;
    uint64_t part_size, off;
    unsigned part_no, n_parts;
    bool waiting, in_net, canceled;
    int fail_status; /* the status to report once the abort ran */
    char fail_msg[256];
} put_op;

static const char *op_key(const put_op *op) { return op->req ? op->req->key : op->del->key; }
static char *op_errmsg(put_op *op) { return op->req ? op->req->errmsg : op->del->errmsg; }

/* ------------------------------------------------------------------ signing */

static int on_prepare(net_request *nr, void *headers) {
    put_op *op = nr->data;
    bool anonymous = false;
    const s3_creds *cr = s3__sign_creds(op->s, &anonymous);
    ut_buf_reset(&op->resp);
    op->etag[0] = '\0';
    if (!anonymous && !cr)
        return NET_E_ABORTED; /* expired between the gate and this attempt */
    const s3_target *t = s3__target(op->s);
    char date[17];
    s3_amz_date(time(NULL), date);
    s3_pair sh[5];
    size_t n = 0;
    sh[n++] = (s3_pair){"host", t->authority};
    sh[n++] = (s3_pair){"x-amz-content-sha256", op->sha};
    sh[n++] = (s3_pair){"x-amz-date", date};
    if (cr && cr->token && *cr->token)
        sh[n++] = (s3_pair){"x-amz-security-token", cr->token};
    if (s3__payer(op->s))
        sh[n++] = (s3_pair){"x-amz-request-payer", "requester"};
    ut_buf line = {0}; /* a session token can be a few KiB */
    int rc = 0;
    if (cr) {
        s3_sign_in in = {nr->method,
                         op->parts.path.p,
                         NULL,
                         0,
                         op->parts.query.p ? op->parts.query.p : "",
                         sh,
                         n,
                         op->sha,
                         t->region,
                         "s3",
                         date,
                         cr->access_key,
                         cr->secret_key};
        char auth[512];
        if (s3_sigv4_sign(&in, s3__keycache(op->s), NULL, NULL, auth, sizeof auth) != 0)
            return NET_E_ABORTED;
        for (size_t i = 1; i < n && rc == 0; i++) { /* host is curl's, from the URL */
            ut_buf_reset(&line);
            ut_buf_printf(&line, "%s: %s", sh[i].name, sh[i].value);
            rc = line.bad ? -1 : net_add_header(headers, line.p);
        }
        ut_buf_reset(&line);
        ut_buf_printf(&line, "Authorization: %s", auth);
        if (rc == 0)
            rc = line.bad ? -1 : net_add_header(headers, line.p);
        ut_buf_free(&line); /* wipes: it held the token and the signature */
        ut_wipe(auth, sizeof auth);
    } else if (s3__payer(op->s)) {
        rc = net_add_header(headers, "x-amz-request-payer: requester");
    }
    if (rc == 0 && (op->phase == P_SINGLE || op->phase == P_INIT))
        rc = net_add_header(headers, "Content-Type: application/octet-stream");
    if (rc == 0 && op->req && op->req->create_only &&
        (op->phase == P_SINGLE || op->phase == P_COMPLETE))
        rc = net_add_header(headers, "If-None-Match: *");
    return rc ? NET_E_NOMEM : 0;
}

static void on_header(net_request *nr, const char *name, size_t nl, const char *v, size_t vl) {
    put_op *op = nr->data;
    if (nl == 4 && strncasecmp(name, "etag", 4) == 0 && vl < sizeof op->etag) {
        memcpy(op->etag, v, vl);
        op->etag[vl] = '\0';
    }
}

static int on_body(net_request *nr, const void *data, size_t len) {
    put_op *op = nr->data;
    if (op->resp.len + len <= S3_MAX_RESP)
        ut_buf_put(&op->resp, data, len);
    return 0; /* a longer body is cut, not an abort: the status decides */
}

/* The text of <tag>...</tag> in the response, or "" (XML entities of S3's values). */
static void xml_text(const ut_buf *b, const char *tag, char *out, size_t outlen) {
    out[0] = '\0';
    const char *body = ut_buf_str(b);
    char open[40], close[40];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *p = strstr(body, open);
    const char *e = p ? strstr(p, close) : NULL;
    if (!e)
        return;
    p += strlen(open);
    size_t j = 0;
    while (p < e && j + 1 < outlen) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool hit = false;
        for (size_t k = 0; k < sizeof ents / sizeof ents[0] && *p == '&'; k++) {
            size_t el = strlen(ents[k].ent);
            if ((size_t)(e - p) >= el && !memcmp(p, ents[k].ent, el)) {
                out[j++] = ents[k].c;
                p += el;
                hit = true;
                break;
            }
        }
        if (!hit)
            out[j++] = *p++;
    }
    out[j] = '\0';
}

static bool body_is_error(const ut_buf *b) { return strstr(ut_buf_str(b), "<Error>") != NULL; }

/* Complete (and, rarely, other calls) may answer 200 with an <Error> body. */
static bool retry_check(net_request *nr) {
    put_op *op = nr->data;
    if (op->phase != P_COMPLETE || !body_is_error(&op->resp))
        return false;
    char code[64];
    xml_text(&op->resp, "Code", code, sizeof code);
    return !strcmp(code, "SlowDown") || !strcmp(code, "InternalError") ||
           !strcmp(code, "ServiceUnavailable") || !strcmp(code, "RequestTimeout");
}

/* ------------------------------------------------------------------ the state machine */

static void step(put_op *op);
static void submit(put_op *op);
static void done(net_request *nr, int net_status);

static void op_free(put_op *op) {
    s3_reqparts_free(&op->parts);
    ut_buf_free(&op->resp);
    ut_buf_free(&op->etags);
    ut_buf_free(&op->complete_body);
    free(op->chunk);
    free(op->upload_id);
    free(op->full_key);
    free(op);
}

static void finish(put_op *op, int status) {
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

/* A failure: abort the multipart upload first when there is one (not at close: the
 * engine is gone), then report status. */
static void fail(put_op *op, int status) {
    remote_store *rs = (remote_store *)op->s;
    if (op->upload_id && op->phase != P_ABORT && !rs->closing) {
        op->fail_status = status;
        snprintf(op->fail_msg, sizeof op->fail_msg, "%s", op_errmsg(op));
        op->phase = P_ABORT;
        step(op);
        return;
    }
    finish(op, status);
}

static int build(put_op *op, const char *method, const s3_pair *q, size_t nq) {
    s3_reqparts_free(&op->parts);
    if (s3_reqparts_build(&op->parts, s3__target(op->s), op->full_key, strlen(op->full_key), q,
                          nq) != 0)
        return STORE_E_NOMEM;
    net_request *nr = &op->nr;
    memset(nr, 0, sizeof *nr);
    nr->method = method;
    nr->url = op->parts.url.p;
    nr->body = op->body;
    nr->body_len = op->body_len;
    nr->on_body = on_body;
    nr->on_header = on_header;
    nr->prepare = on_prepare;
    nr->retry_check = retry_check;
    nr->data = op;
    nr->cb = done;
    s3_sha256_hex(op->body ? (const void *)op->body : "", op->body_len, op->sha);
    return 0;
}

/* Points the body at bytes [off, off + n) of the source; reads them from the fd when the
 * source is one. */
static int load(put_op *op, uint64_t off, size_t n) {
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

/* Builds the request of the current phase and submits it. */
static void step(put_op *op) {
    char *em = op_errmsg(op);
    int rc = 0;
    char pn[16];
    switch (op->phase) {
    case P_SINGLE:
        rc = load(op, 0, (size_t)op->req->length);
        if (!rc)
            rc = build(op, "PUT", NULL, 0);
        break;
    case P_INIT: {
        op->body = NULL;
        op->body_len = 0;
        s3_pair q[] = {{"uploads", ""}};
        rc = build(op, "POST", q, 1);
        break;
    }
    case P_PART: {
        uint64_t left = op->req->length - op->off;
        size_t n = (size_t)(left < op->part_size ? left : op->part_size);
        snprintf(pn, sizeof pn, "%u", op->part_no);
        rc = load(op, op->off, n);
        s3_pair q[] = {{"partNumber", pn}, {"uploadId", op->upload_id}};
        if (!rc)
            rc = build(op, "PUT", q, 2);
        break;
    }
    case P_COMPLETE: {
        ut_buf_reset(&op->complete_body);
        ut_buf_puts(&op->complete_body, "<CompleteMultipartUpload>");
        ut_buf_put(&op->complete_body, ut_buf_str(&op->etags), op->etags.len);
        ut_buf_puts(&op->complete_body, "</CompleteMultipartUpload>");
        if (op->complete_body.bad) {
            rc = STORE_E_NOMEM;
            break;
        }
        op->body = (const uint8_t *)op->complete_body.p;
        op->body_len = op->complete_body.len;
        s3_pair q[] = {{"uploadId", op->upload_id}};
        rc = build(op, "POST", q, 1);
        break;
    }
    case P_ABORT: {
        op->body = NULL;
        op->body_len = 0;
        s3_pair q[] = {{"uploadId", op->upload_id}};
        rc = build(op, "DELETE", q, 1);
        break;
    }
    case P_DELETE:
        rc = build(op, "DELETE", NULL, 0);
        break;
    }
    if (rc) {
        if (rc == STORE_E_NOMEM)
            snprintf(em, 256, "%s/%s: out of memory", op->s->url, op_key(op));
        fail(op, rc);
        return;
    }
    submit(op);
}

static void creds_arrived(s3_waiter *w, int status, const char *msg) {
    put_op *op = (put_op *)((char *)w - offsetof(put_op, w));
    op->waiting = false;
    if (status == 0 && op->canceled && op->phase != P_ABORT)
        status = STORE_E_CANCELED, msg = "canceled";
    if (status != 0) {
        snprintf(op_errmsg(op), 256, "%s/%s: %s", op->s->url, op_key(op), msg);
        fail(op, status);
        return;
    }
    submit(op);
}

static void submit(put_op *op) {
    remote_store *rs = (remote_store *)op->s;
    char *em = op_errmsg(op);
    if (rs->closing || !rs->net) {
        snprintf(em, 256, "%s/%s: canceled", op->s->url, op_key(op));
        finish(op, STORE_E_CANCELED);
        return;
    }
    op->w.cb = creds_arrived;
    if (s3__creds_gate(op->s, &op->w) == 1) {
        op->waiting = true;
        return;
    }
    op->in_net = true;
    int rc = net_start(rs->net, &op->nr);
    if (rc != 0) {
        op->in_net = false;
        snprintf(em, 256, "%s/%s: could not start request: %s", op->s->url, op_key(op),
                 net_strerror(rc));
        fail(op, rc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK);
    }
}

static const char *phase_name(put_phase p) {
    switch (p) {
    case P_SINGLE:
        return "PutObject";
    case P_INIT:
        return "CreateMultipartUpload";
    case P_PART:
        return "UploadPart";
    case P_COMPLETE:
        return "CompleteMultipartUpload";
    case P_ABORT:
        return "AbortMultipartUpload";
    default:
        return "DeleteObject";
    }
}

/* The store code of a finished request, with its message. */
static int outcome(put_op *op, int net_status) {
    net_request *nr = &op->nr;
    char *em = op_errmsg(op);
    char what[200];
    snprintf(what, sizeof what, "%s/%s: %s", op->s->url, op_key(op), phase_name(op->phase));
    if (net_status == NET_OK && !(op->phase == P_COMPLETE && body_is_error(&op->resp)))
        return STORE_OK;
    if (net_status != NET_OK && net_status != NET_E_HTTP) {
        if (net_status == NET_E_ABORTED) {
            snprintf(em, 256, "%s: no valid credentials to sign with", what);
            return STORE_E_AUTH;
        }
        return remote_net_failure(net_status, what, nr->url, em, 256);
    }
    char code[64], msg[120];
    xml_text(&op->resp, "Code", code, sizeof code);
    xml_text(&op->resp, "Message", msg, sizeof msg);
    long st = nr->http_status;
    int kind = net_status == NET_OK ? STORE_E_HTTP : remote_http_kind(st);
    if (st == 403 && (!strcmp(code, "SignatureDoesNotMatch") ||
                      !strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "ExpiredToken")))
        kind = STORE_E_AUTH;
    snprintf(em, 256, "%s: HTTP %ld%s%.*s%s%.*s", what, st, code[0] ? " " : "",
             ut_utf8_prec(code, 60), code, msg[0] ? ": " : "", ut_utf8_prec(msg, 110), msg);
    return kind;
}

static void done(net_request *nr, int net_status) {
    put_op *op = nr->data;
    op->in_net = false;
    if (op->req) {
        op->req->attempts += nr->attempts;
        op->req->http_status = (int)nr->http_status;
    } else {
        op->del->attempts += nr->attempts;
        op->del->http_status = (int)nr->http_status;
    }
    int st = outcome(op, net_status);
    if (op->phase == P_ABORT) {
        /* the upload's parts are gone (or the abort failed: a lifecycle rule reclaims
         * them); report what made us abort */
        if (st != STORE_OK)
            snprintf(op->fail_msg + strlen(op->fail_msg),
                     sizeof op->fail_msg - strlen(op->fail_msg), " (abort failed too)");
        snprintf(op_errmsg(op), 256, "%s", op->fail_msg);
        finish(op, op->fail_status);
        return;
    }
    if (op->phase == P_DELETE) {
        finish(op, st == STORE_E_NOT_FOUND ? STORE_OK : st);
        return;
    }
    if (st == STORE_OK && op->canceled) {
        st = STORE_E_CANCELED;
        snprintf(op_errmsg(op), 256, "%s/%s: canceled", op->s->url, op_key(op));
        if (op->phase == P_SINGLE || op->phase == P_COMPLETE)
            st = STORE_OK; /* it completed before the cancel could stop it: say so */
    }
    if (st != STORE_OK) {
        fail(op, st);
        return;
    }
    switch (op->phase) {
    case P_SINGLE:
    case P_COMPLETE:
        finish(op, STORE_OK);
        return;
    case P_INIT: {
        char id[1024];
        xml_text(&op->resp, "UploadId", id, sizeof id);
        op->upload_id = id[0] ? ut_strdup(id) : NULL;
        if (!op->upload_id) {
            snprintf(op_errmsg(op), 256, "%s/%s: CreateMultipartUpload: no UploadId in the answer",
                     op->s->url, op_key(op));
            fail(op, id[0] ? STORE_E_NOMEM : STORE_E_PROTOCOL);
            return;
        }
        op->phase = P_PART;
        op->part_no = 1;
        op->off = 0;
        step(op);
        return;
    }
    case P_PART: {
        if (!op->etag[0]) {
            snprintf(op_errmsg(op), 256, "%s/%s: UploadPart %u: no ETag in the answer", op->s->url,
                     op_key(op), op->part_no);
            fail(op, STORE_E_PROTOCOL);
            return;
        }
        ut_buf_printf(&op->etags, "<Part><PartNumber>%u</PartNumber><ETag>", op->part_no);
        for (const char *p = op->etag; *p; p++) {
            if (*p == '&')
                ut_buf_puts(&op->etags, "&amp;");
            else if (*p == '<')
                ut_buf_puts(&op->etags, "&lt;");
            else
                ut_buf_putc(&op->etags, *p);
        }
        ut_buf_puts(&op->etags, "</ETag></Part>");
        op->req->parts++;
        op->off += op->body_len;
        op->part_no++;
        op->phase = op->off < op->req->length ? P_PART : P_COMPLETE;
        step(op);
        return;
    }
    default:
        finish(op, st);
        return;
    }
}

/* ------------------------------------------------------------------ entry points */

static put_op *op_new(store *s, const char *key, char *em) {
    const char *root = s3__root(s);
    put_op *op = calloc(1, sizeof *op);
    ut_buf k = {0};
    ut_buf_puts(&k, root);
    ut_buf_puts(&k, key);
    if (!op || k.bad || !k.p) {
        free(op);
        ut_buf_free(&k);
        snprintf(em, 256, "out of memory");
        return NULL;
    }
    op->full_key = k.p;
    op->s = s;
    op->resp.limit = S3_MAX_RESP + 1;
    return op;
}

static void start(put_op *op) {
    remote_hold((remote_store *)op->s);
    step(op); /* failures from here on go through the callback */
}

int s3_put(store *s, store_put_req *req) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return STORE_E_CANCELED;
    put_op *op = op_new(s, req->key, req->errmsg);
    if (!op)
        return STORE_E_NOMEM;
    op->req = req;
    uint64_t ps = req->part_size ? req->part_size : STORE_DEFAULT_PART_SIZE;
    if (req->length > ps && (req->length + ps - 1) / ps > S3_MAX_PARTS)
        ps = (req->length + S3_MAX_PARTS - 1) / S3_MAX_PARTS; /* S3's limit: larger parts */
    if (ps > (uint64_t)SIZE_MAX / 2) {
        op_free(op);
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "%s/%s: object too large", s->url, req->key);
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
    start(op);
    return 0;
}

void s3_put_cancel(store *s, store_put_req *req) {
    put_op *op = req->priv;
    if (!op || op->canceled)
        return;
    op->canceled = true;
    snprintf(req->errmsg, sizeof req->errmsg, "%s/%s: canceled", s->url, req->key);
    if (op->waiting && s3__creds_unwait(s, &op->w)) {
        op->waiting = false;
        fail(op, STORE_E_CANCELED); /* the abort waits for credentials in its turn */
        return;
    }
    /* a PutObject or Complete in flight is let finish: stopping it could not tell whether
     * the object was made, and its answer does; the rest stops at once and done() aborts
     * the upload */
    if (op->in_net && (op->phase == P_INIT || op->phase == P_PART))
        net_cancel(((remote_store *)s)->net, &op->nr);
}

int s3_delete(store *s, store_delete_req *req) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return STORE_E_CANCELED;
    put_op *op = op_new(s, req->key, req->errmsg);
    if (!op)
        return STORE_E_NOMEM;
    op->del = req;
    op->phase = P_DELETE;
    req->priv = op;
    start(op);
    return 0;
}
