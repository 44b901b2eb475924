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
 * <Error> body; that is retried too (retry_check), then failed.
 *
 * The operation itself (phases, parts, credential wait, cancel, abort, callback) is
 * remote_put.c's; this file is S3's dialect of it: the hooks. */
#include "s3_put.h"

#include "net.h"
#include "remote.h"
#include "util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_MAX_PARTS 10000u
#define S3_MAX_RESP (1u << 20) /* bodies of Create/Complete/errors are a few hundred bytes */

typedef struct s3_put_op {
    remote_put rp; /* first: the core's op */
    s3_waiter w;
    s3_reqparts parts;
    char *full_key;
    char sha[65];
    ut_buf etags; /* the <Part> elements of Complete */
    ut_buf complete_body;
    char etag[160]; /* the ETag header of this attempt */
    char *upload_id;
} s3_put_op;

static store *op_store(remote_put *rp) { return &rp->rs->base; }

/* ------------------------------------------------------------------ signing */

static int on_prepare(remote_put *rp, void *headers) {
    s3_put_op *op = (s3_put_op *)rp;
    net_request *nr = &rp->nr;
    store *s = op_store(rp);
    bool anonymous = false;
    const s3_creds *cr = s3__sign_creds(s, &anonymous);
    op->etag[0] = '\0';
    if (!anonymous && !cr)
        return NET_E_ABORTED; /* expired between the gate and this attempt */
    const s3_target *t = s3__target(s);
    char date[17];
    s3_amz_date(time(NULL), date);
    s3_pair sh[5];
    size_t n = 0;
    sh[n++] = (s3_pair){"host", t->authority};
    sh[n++] = (s3_pair){"x-amz-content-sha256", op->sha};
    sh[n++] = (s3_pair){"x-amz-date", date};
    if (cr && cr->token && *cr->token)
        sh[n++] = (s3_pair){"x-amz-security-token", cr->token};
    if (s3__payer(s))
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
        if (s3_sigv4_sign(&in, s3__keycache(s), NULL, NULL, auth, sizeof auth) != 0)
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
    } else if (s3__payer(s)) {
        rc = net_add_header(headers, "x-amz-request-payer: requester");
    }
    if (rc == 0 && (rp->phase == RP_SINGLE || rp->phase == RP_BEGIN))
        rc = net_add_header(headers, "Content-Type: application/octet-stream");
    if (rc == 0 && rp->req && rp->req->create_only &&
        (rp->phase == RP_SINGLE || rp->phase == RP_COMMIT))
        rc = net_add_header(headers, "If-None-Match: *");
    return rc ? NET_E_NOMEM : 0;
}

static void on_header(net_request *nr, const char *name, size_t nl, const char *v, size_t vl) {
    s3_put_op *op = nr->data;
    if (nl == 4 && strncasecmp(name, "etag", 4) == 0 && vl < sizeof op->etag) {
        memcpy(op->etag, v, vl);
        op->etag[vl] = '\0';
    }
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
    remote_put *rp = nr->data;
    if (rp->phase != RP_COMMIT || !body_is_error(&rp->resp))
        return false;
    char code[64];
    xml_text(&rp->resp, "Code", code, sizeof code);
    return !strcmp(code, "SlowDown") || !strcmp(code, "InternalError") ||
           !strcmp(code, "ServiceUnavailable") || !strcmp(code, "RequestTimeout");
}

/* ------------------------------------------------------------------ requests */

static int build(remote_put *rp) {
    s3_put_op *op = (s3_put_op *)rp;
    net_request *nr = &rp->nr;
    store *s = op_store(rp);
    if (!op->full_key) { /* S3 keys are the store's prefix + key */
        ut_buf k = {0};
        ut_buf_puts(&k, s3__root(s));
        ut_buf_puts(&k, remote_put_key(rp));
        if (k.bad || !k.p) {
            ut_buf_free(&k);
            return STORE_E_NOMEM;
        }
        op->full_key = k.p;
    }
    char pn[16];
    s3_pair q[2];
    size_t nq = 0;
    switch (rp->phase) {
    case RP_SINGLE:
    case RP_DELETE:
        nr->method = rp->phase == RP_SINGLE ? "PUT" : "DELETE";
        break;
    case RP_BEGIN:
        nr->method = "POST";
        q[nq++] = (s3_pair){"uploads", ""};
        break;
    case RP_PART:
        nr->method = "PUT";
        snprintf(pn, sizeof pn, "%u", rp->part_no);
        q[nq++] = (s3_pair){"partNumber", pn};
        q[nq++] = (s3_pair){"uploadId", op->upload_id};
        break;
    case RP_COMMIT: {
        ut_buf *b = &op->complete_body;
        ut_buf_reset(b);
        ut_buf_puts(b, "<CompleteMultipartUpload>");
        ut_buf_put(b, ut_buf_str(&op->etags), op->etags.len);
        ut_buf_puts(b, "</CompleteMultipartUpload>");
        if (b->bad)
            return STORE_E_NOMEM;
        nr->body = b->p;
        nr->body_len = b->len;
        nr->method = "POST";
        q[nq++] = (s3_pair){"uploadId", op->upload_id};
        break;
    }
    case RP_ABORT:
        nr->method = "DELETE";
        q[nq++] = (s3_pair){"uploadId", op->upload_id};
        break;
    }
    s3_reqparts_free(&op->parts);
    if (s3_reqparts_build(&op->parts, s3__target(s), op->full_key, strlen(op->full_key), q, nq) !=
        0)
        return STORE_E_NOMEM;
    nr->url = op->parts.url.p;
    s3_sha256_hex(nr->body ? nr->body : "", nr->body_len, op->sha);
    return 0;
}

/* The <Part> of Complete for the part that just went up. */
static int add_part(s3_put_op *op, const char *what) {
    char *em = remote_put_errmsg(&op->rp);
    if (!op->etag[0]) {
        snprintf(em, 256, "%s %u: no ETag in the answer", what, op->rp.part_no);
        return STORE_E_PROTOCOL;
    }
    ut_buf_printf(&op->etags, "<Part><PartNumber>%u</PartNumber><ETag>", op->rp.part_no);
    for (const char *p = op->etag; *p; p++) {
        if (*p == '&')
            ut_buf_puts(&op->etags, "&amp;");
        else if (*p == '<')
            ut_buf_puts(&op->etags, "&lt;");
        else
            ut_buf_putc(&op->etags, *p);
    }
    ut_buf_puts(&op->etags, "</ETag></Part>");
    return 0;
}

/* The store code of a finished request, with its message; an UploadId or ETag kept. */
static int landed(remote_put *rp, int net_status, const char *what) {
    s3_put_op *op = (s3_put_op *)rp;
    net_request *nr = &rp->nr;
    char *em = remote_put_errmsg(rp);
    if (net_status == NET_OK && !(rp->phase == RP_COMMIT && body_is_error(&rp->resp))) {
        if (rp->phase == RP_PART)
            return add_part(op, what);
        if (rp->phase != RP_BEGIN)
            return STORE_OK;
        char id[1024];
        xml_text(&rp->resp, "UploadId", id, sizeof id);
        op->upload_id = id[0] ? ut_strdup(id) : NULL;
        if (op->upload_id)
            return STORE_OK;
        snprintf(em, 256, "%s: no UploadId in the answer", what);
        return id[0] ? STORE_E_NOMEM : STORE_E_PROTOCOL;
    }
    if (net_status != NET_OK && net_status != NET_E_HTTP) {
        if (net_status == NET_E_ABORTED) {
            snprintf(em, 256, "%s: no valid credentials to sign with", what);
            return STORE_E_AUTH;
        }
        return remote_net_failure(net_status, what, nr->url, em, 256);
    }
    char code[64], msg[120];
    xml_text(&rp->resp, "Code", code, sizeof code);
    xml_text(&rp->resp, "Message", msg, sizeof msg);
    long st = nr->http_status;
    int kind = net_status == NET_OK ? STORE_E_HTTP : remote_http_kind(st);
    if (st == 403 && (!strcmp(code, "SignatureDoesNotMatch") ||
                      !strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "ExpiredToken")))
        kind = STORE_E_AUTH;
    snprintf(em, 256, "%s: HTTP %ld%s%.*s%s%.*s", what, st, code[0] ? " " : "",
             ut_utf8_prec(code, 60), code, msg[0] ? ": " : "", ut_utf8_prec(msg, 110), msg);
    return kind;
}

/* ------------------------------------------------------------------ credentials */

static void creds_arrived(s3_waiter *w, int status, const char *msg) {
    s3_put_op *op = (s3_put_op *)((char *)w - offsetof(s3_put_op, w));
    remote_put_authed(&op->rp, status, msg);
}

static int auth_wait(remote_put *rp, const char **why) {
    s3_put_op *op = (s3_put_op *)rp;
    (void)why; /* the gate queues or lets go; its failures come through creds_arrived */
    op->w.cb = creds_arrived;
    return s3__creds_gate(op_store(rp), &op->w);
}

static bool auth_unwait(remote_put *rp) {
    return s3__creds_unwait(op_store(rp), &((s3_put_op *)rp)->w);
}

static void op_free(remote_put *rp) {
    s3_put_op *op = (s3_put_op *)rp;
    s3_reqparts_free(&op->parts);
    ut_buf_free(&op->etags);
    ut_buf_free(&op->complete_body);
    free(op->upload_id);
    free(op->full_key);
}

static const remote_put_ops s3_put_ops = {
    .op_size = sizeof(s3_put_op),
    .resp_max = S3_MAX_RESP,
    .max_parts = S3_MAX_PARTS,
    .has_begin = true,
    .has_commit = true,
    .has_abort = true,
    .names = {[RP_SINGLE] = "PutObject",
              [RP_BEGIN] = "CreateMultipartUpload",
              [RP_PART] = "UploadPart",
              [RP_COMMIT] = "CompleteMultipartUpload",
              [RP_ABORT] = "AbortMultipartUpload",
              [RP_DELETE] = "DeleteObject"},
    .auth_wait = auth_wait,
    .auth_unwait = auth_unwait,
    .build = build,
    .prepare = on_prepare,
    .on_header = on_header,
    .retry_check = retry_check,
    .landed = landed,
    .free = op_free,
};

/* ------------------------------------------------------------------ entry points */

int s3_put(store *s, store_put_req *req) {
    return remote_put_start((remote_store *)s, &s3_put_ops, req);
}

void s3_put_cancel(store *s, store_put_req *req) { remote_put_cancel((remote_store *)s, req); }

int s3_delete(store *s, store_delete_req *req) {
    return remote_delete_start((remote_store *)s, &s3_put_ops, req);
}
