/* az_put.c - writes to Azure Blob Storage: Put Blob, Put Block + Put Block List, Delete.
 *
 * One op per store_put, one request at a time:
 *   length <= part_size: Put Blob (BlockBlob; atomic: the blob appears whole or not);
 *   else: Put Block for each part (read, hashed, sent, then the next: memory is one part),
 *   then Put Block List, which makes the blob appear at once. Uncommitted blocks are no
 *   blob (List Blobs does not show them) and Azure drops them after a week, or at the
 *   blob's next commit, so a failed or canceled upload needs no abort call.
 *
 * Integrity: every body carries Content-MD5, which Azure checks before it stores the
 * bytes (400 Md5Mismatch): the SharedKey signature does not cover the body, and the
 * emulator and some private endpoints are plain http.
 *
 * create_only: If-None-Match: * on Put Blob and on Put Block List (409 BlobAlreadyExists
 * or 412: STORE_E_EXISTS). Retries are the engine's, per request. */
#include "az_put.h"

#include "net.h"
#include "remote.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define AZ_MAX_BLOCKS 50000u
#define AZ_MAX_RESP (64u << 10) /* error documents are short */

typedef enum { P_SINGLE, P_BLOCK, P_LIST, P_DELETE } az_phase;

typedef struct az_put_op {
    net_request nr; /* first: nr.data is the op */
    store_token_waiter w;
    store *s;
    store_put_req *req;
    store_delete_req *del;
    az_phase phase;
    ut_buf url, path;
    az_pair q[2];
    size_t nq;
    char blockid[32];
    char md5[32];
    const uint8_t *body;
    size_t body_len;
    uint8_t *chunk;
    ut_buf resp, list_body;
    uint64_t part_size, off;
    unsigned block_no;
    bool waiting, in_net, canceled;
} az_put_op;

static const char *op_key(const az_put_op *op) { return op->req ? op->req->key : op->del->key; }
static char *op_errmsg(az_put_op *op) { return op->req ? op->req->errmsg : op->del->errmsg; }

/* Block IDs: base64 of a fixed-length text (Azure wants one length per blob). */
static void block_id(unsigned n, char out[32]) {
    char raw[32]; /* n <= AZ_MAX_BLOCKS: always 6 digits, one length for every ID */
    snprintf(raw, sizeof raw, "td-block-%06u", n);
    ut_buf b = {0};
    ut_base64_encode(&b, raw, strlen(raw), false);
    snprintf(out, 32, "%s", ut_buf_str(&b));
    ut_buf_free(&b);
}

static int on_prepare(net_request *nr, void *headers) {
    az_put_op *op = nr->data;
    ut_buf_reset(&op->resp);
    az_pair h[4];
    size_t n = 0;
    if (op->phase == P_SINGLE)
        h[n++] = (az_pair){"x-ms-blob-type", "BlockBlob"};
    /* every body names its type: curl would send (unsigned) form encoding otherwise */
    if (op->phase != P_DELETE)
        h[n++] = (az_pair){"Content-Type",
                           op->phase == P_LIST ? "application/xml" : "application/octet-stream"};
    if (op->md5[0])
        h[n++] = (az_pair){"Content-MD5", op->md5};
    if (op->req && op->req->create_only && (op->phase == P_SINGLE || op->phase == P_LIST))
        h[n++] = (az_pair){"If-None-Match", "*"};
    return az__headers(op->s, headers, nr->method, op->path.p, op->q, op->nq, h, n, op->body_len);
}

static int on_body(net_request *nr, const void *data, size_t len) {
    az_put_op *op = nr->data;
    if (op->resp.len + len <= AZ_MAX_RESP)
        ut_buf_put(&op->resp, data, len);
    return 0;
}

/* <Code>...</Code> of an error document, or "". */
static void err_code(const ut_buf *b, char *out, size_t outlen) {
    out[0] = '\0';
    const char *p = strstr(ut_buf_str(b), "<Code>");
    const char *e = p ? strstr(p, "</Code>") : NULL;
    if (!e)
        return;
    p += 6;
    size_t n = (size_t)(e - p) < outlen - 1 ? (size_t)(e - p) : outlen - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static void md5_b64(const uint8_t *p, size_t n, char out[32]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    out[0] = '\0';
    if (EVP_Digest(p ? (const void *)p : "", n, d, &dl, EVP_md5(), NULL) != 1)
        return; /* FIPS builds without MD5: sent without, Azure then checks nothing */
    ut_buf b = {0};
    ut_base64_encode(&b, d, dl, false);
    snprintf(out, 32, "%s", ut_buf_str(&b));
    ut_buf_free(&b);
}

/* ------------------------------------------------------------------ the state machine */

static void step(az_put_op *op);
static void done(net_request *nr, int net_status);

static void op_free(az_put_op *op) {
    ut_buf_free(&op->url);
    ut_buf_free(&op->path);
    ut_buf_free(&op->resp);
    ut_buf_free(&op->list_body);
    free(op->chunk);
    free(op);
}

static void finish(az_put_op *op, int status) {
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

static int build(az_put_op *op, const char *method) {
    ut_buf_free(&op->url);
    ut_buf_free(&op->path);
    if (az__build(op->s, op_key(op), op->q, op->nq, &op->url, &op->path) != 0)
        return STORE_E_NOMEM;
    net_request *nr = &op->nr;
    memset(nr, 0, sizeof *nr);
    nr->method = method;
    nr->url = op->url.p;
    nr->body = op->body;
    nr->body_len = op->body_len;
    nr->on_body = on_body;
    nr->prepare = on_prepare;
    nr->cb = done;
    nr->data = op;
    return 0;
}

static int load(az_put_op *op, uint64_t off, size_t n) {
    store_put_req *req = op->req;
    if (req->buf) {
        op->body = req->buf + off;
        op->body_len = n;
    } else {
        size_t got = 0;
        while (got < n) {
            ssize_t r =
                pread(req->fd, op->chunk + got, n - got, (off_t)(req->fd_offset + off + got));
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
    }
    md5_b64(op->body, op->body_len, op->md5);
    return 0;
}

static void token_ready(store_token_waiter *w, int status) {
    az_put_op *op = (az_put_op *)((char *)w - offsetof(az_put_op, w));
    remote_store *rs = (remote_store *)op->s;
    op->waiting = false;
    if (status == STORE_OK && (rs->closing || op->canceled))
        status = STORE_E_CANCELED;
    if (status == STORE_OK) {
        op->in_net = true;
        if (net_start(rs->net, &op->nr) == 0)
            return;
        op->in_net = false;
        status = STORE_E_NOMEM;
    }
    snprintf(op_errmsg(op), 256, "%s/%s: %s", op->s->url, op_key(op),
             status == STORE_E_CANCELED ? "canceled" : az__token_error(op->s));
    finish(op, status);
}

static void submit(az_put_op *op) {
    remote_store *rs = (remote_store *)op->s;
    char *em = op_errmsg(op);
    if (rs->closing || !rs->net) {
        snprintf(em, 256, "%s/%s: canceled", op->s->url, op_key(op));
        finish(op, STORE_E_CANCELED);
        return;
    }
    op->w.ready = token_ready;
    int rc = az__token_wait(op->s, &op->w);
    if (rc != STORE_OK) {
        snprintf(em, 256, "%s/%s: %s", op->s->url, op_key(op), az__token_error(op->s));
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
        finish(op, nrc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK);
    }
}

static void step(az_put_op *op) {
    int rc = 0;
    op->nq = 0;
    op->md5[0] = '\0';
    switch (op->phase) {
    case P_SINGLE:
        rc = load(op, 0, (size_t)op->req->length);
        if (!rc)
            rc = build(op, "PUT");
        break;
    case P_BLOCK: {
        uint64_t left = op->req->length - op->off;
        size_t n = (size_t)(left < op->part_size ? left : op->part_size);
        block_id(op->block_no, op->blockid);
        op->q[0] = (az_pair){"comp", "block"};
        op->q[1] = (az_pair){"blockid", op->blockid};
        op->nq = 2;
        rc = load(op, op->off, n);
        if (!rc)
            rc = build(op, "PUT");
        break;
    }
    case P_LIST: {
        ut_buf *b = &op->list_body;
        ut_buf_reset(b);
        ut_buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        char id[32];
        for (unsigned i = 1; i < op->block_no; i++) {
            block_id(i, id);
            ut_buf_printf(b, "<Latest>%s</Latest>", id);
        }
        ut_buf_puts(b, "</BlockList>");
        if (b->bad) {
            rc = STORE_E_NOMEM;
            break;
        }
        op->body = (const uint8_t *)b->p;
        op->body_len = b->len;
        md5_b64(op->body, op->body_len, op->md5);
        op->q[0] = (az_pair){"comp", "blocklist"};
        op->nq = 1;
        rc = build(op, "PUT");
        break;
    }
    case P_DELETE:
        op->body = NULL;
        op->body_len = 0;
        rc = build(op, "DELETE");
        break;
    }
    if (rc) {
        if (rc == STORE_E_NOMEM)
            snprintf(op_errmsg(op), 256, "%s/%s: out of memory or request too long", op->s->url,
                     op_key(op));
        finish(op, rc);
        return;
    }
    submit(op);
}

static void done(net_request *nr, int net_status) {
    az_put_op *op = nr->data;
    op->in_net = false;
    if (op->req) {
        op->req->attempts += nr->attempts;
        op->req->http_status = (int)nr->http_status;
    } else {
        op->del->attempts += nr->attempts;
        op->del->http_status = (int)nr->http_status;
    }
    char what[200], code[64];
    static const char *const names[] = {"Put Blob", "Put Block", "Put Block List", "Delete Blob"};
    snprintf(what, sizeof what, "%s/%s: %s", op->s->url, op_key(op), names[op->phase]);
    err_code(&op->resp, code, sizeof code);
    int st = STORE_OK;
    if (net_status != NET_OK) {
        st = az__map_status(op->s, net_status, nr->http_status, code, op_errmsg(op), 256, what);
        if (net_status == NET_E_HTTP &&
            ((nr->http_status == 409 && !strcmp(code, "BlobAlreadyExists")) ||
             nr->http_status == 412))
            st = store__fail(op_errmsg(op), 256, STORE_E_EXISTS, "%s: HTTP 409 %s", what, code);
    }
    if (op->phase == P_DELETE) {
        finish(op, st == STORE_E_NOT_FOUND ? STORE_OK : st);
        return;
    }
    if (st == STORE_OK && op->canceled && op->phase == P_BLOCK) {
        st = STORE_E_CANCELED;
        snprintf(op_errmsg(op), 256, "%s/%s: canceled", op->s->url, op_key(op));
    }
    if (st != STORE_OK || op->phase != P_BLOCK) {
        finish(op, st); /* Put Blob / Put Block List done, or a failure: no blob */
        return;
    }
    op->req->parts++;
    op->off += op->body_len;
    op->block_no++;
    op->phase = op->off < op->req->length ? P_BLOCK : P_LIST;
    step(op);
}

/* ------------------------------------------------------------------ entry points */

static az_put_op *op_new(store *s) {
    az_put_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->s = s;
    op->resp.limit = AZ_MAX_RESP + 1;
    return op;
}

int az_put(store *s, store_put_req *req) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return STORE_E_CANCELED;
    az_put_op *op = op_new(s);
    if (!op)
        return STORE_E_NOMEM;
    op->req = req;
    uint64_t ps = req->part_size ? req->part_size : STORE_DEFAULT_PART_SIZE;
    if (req->length > ps && (req->length + ps - 1) / ps > AZ_MAX_BLOCKS)
        ps = (req->length + AZ_MAX_BLOCKS - 1) / AZ_MAX_BLOCKS;
    if (ps > (4000ull << 20)) { /* Azure's largest block */
        op_free(op);
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "%s/%s: object too large", s->url, req->key);
    }
    op->part_size = ps;
    op->phase = req->length > ps ? P_BLOCK : P_SINGLE;
    op->block_no = 1;
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

void az_put_cancel(store *s, store_put_req *req) {
    az_put_op *op = req->priv;
    if (!op || op->canceled)
        return;
    op->canceled = true;
    if (op->waiting && az__token_unqueue(s, &op->w)) {
        op->waiting = false;
        snprintf(req->errmsg, sizeof req->errmsg, "%s/%s: canceled", s->url, req->key);
        finish(op, STORE_E_CANCELED);
        return;
    }
    /* a Put Blob or Put Block List in flight is let finish: canceling it could not
     * tell whether the blob was committed; a block is stopped at once */
    if (op->in_net && op->phase == P_BLOCK)
        net_cancel(((remote_store *)s)->net, &op->nr);
}

int az_delete(store *s, store_delete_req *req) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return STORE_E_CANCELED;
    az_put_op *op = op_new(s);
    if (!op)
        return STORE_E_NOMEM;
    op->del = req;
    op->phase = P_DELETE;
    req->priv = op;
    remote_hold(rs);
    step(op);
    return 0;
}
