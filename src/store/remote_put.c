/* remote_put.c - the write operation of the networked backends (remote.h tells the phases
 * and why the hooks are cut where they are).
 *
 * One op per store_put or store_delete, one request at a time: step() reads the part and
 * lets the backend build the phase's request, submit() passes the credential gate and
 * starts it, done() asks the backend what the answer means and picks the next phase. */
#include "remote.h"

#include "net.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *remote_put_key(const remote_put *op) { return op->req ? op->req->key : op->del->key; }
char *remote_put_errmsg(remote_put *op) { return op->req ? op->req->errmsg : op->del->errmsg; }

static void step(remote_put *op);

static void op_free(remote_put *op) {
    if (op->ops->free)
        op->ops->free(op);
    ut_buf_free(&op->resp);
    free(op->chunk);
    free(op);
}

static void say(remote_put *op, const char *what) {
    snprintf(remote_put_errmsg(op), 256, "%s/%s: %s", op->rs->base.url, remote_put_key(op), what);
}

/* The one callback: frees the op, then the caller learns status, then the hold goes. */
static void finish(remote_put *op, int status) {
    remote_store *rs = op->rs;
    if (status == STORE_OK)
        remote_put_errmsg(op)[0] = '\0';
    if (op->req) {
        store_put_req *req = op->req;
        req->priv = NULL;
        op_free(op);
        req->cb(req, status);
    } else {
        store_delete_req *req = op->del;
        req->priv = NULL;
        op_free(op);
        req->cb(req, status);
    }
    remote_release(rs);
}

/* A failure (message already written): abort an open upload first (not at close: the
 * engine is gone; a bucket lifecycle rule or the store's own expiry reclaims it), then
 * report status. An abort that cannot even be sent reports what made us abort. */
static void fail(remote_put *op, int status) {
    if (op->phase == RP_ABORT) {
        snprintf(remote_put_errmsg(op), 256, "%s", op->fail_msg);
        finish(op, op->fail_status);
        return;
    }
    if (op->open && op->ops->has_abort && !op->rs->closing) {
        op->fail_status = status;
        snprintf(op->fail_msg, sizeof op->fail_msg, "%s", remote_put_errmsg(op));
        op->phase = RP_ABORT;
        step(op);
        return;
    }
    finish(op, status);
}

/* Whether a cancel may stop the request in flight: not one that may commit the object
 * (single PUT, COMMIT, a last chunk that commits) and not the abort (it cleans up). */
static bool stoppable(const remote_put *op) {
    if (op->phase == RP_BEGIN)
        return true;
    if (op->phase != RP_PART)
        return false;
    return op->ops->has_commit || op->off + op->body_len < op->req->length;
}

/* ------------------------------------------------------------------ engine callbacks */

static int on_prepare(net_request *nr, void *headers) {
    remote_put *op = nr->data;
    ut_buf_reset(&op->resp);
    return op->ops->prepare(op, headers);
}

static int on_body(net_request *nr, const void *data, size_t len) {
    remote_put *op = nr->data;
    if (op->resp.len + len <= op->ops->resp_max)
        ut_buf_put(&op->resp, data, len);
    return 0; /* a longer body is cut, not an abort: the status decides */
}

static void done(net_request *nr, int net_status) {
    remote_put *op = nr->data;
    op->in_net = false;
    if (op->req) {
        op->req->attempts += nr->attempts;
        op->req->http_status = (int)nr->http_status;
    } else {
        op->del->attempts += nr->attempts;
        op->del->http_status = (int)nr->http_status;
    }
    char what[200];
    snprintf(what, sizeof what, "%s/%s: %s", op->rs->base.url, remote_put_key(op),
             op->ops->names[op->phase]);
    op->next_off = op->off + op->body_len;
    int st = op->ops->landed(op, net_status, what);
    if (op->phase == RP_ABORT) {
        /* the upload is gone, or the abort failed too (the store's expiry reclaims it):
         * either way, report what made us abort */
        size_t n = strlen(op->fail_msg);
        if (st != STORE_OK)
            snprintf(op->fail_msg + n, sizeof op->fail_msg - n, " (abort failed too)");
        fail(op, st);
        return;
    }
    if (op->phase == RP_DELETE) {
        finish(op, st == STORE_E_NOT_FOUND ? STORE_OK : st);
        return;
    }
    if (st != STORE_OK) {
        fail(op, st);
        return;
    }
    if (op->phase == RP_BEGIN)
        op->open = true;
    bool last = op->phase == RP_SINGLE || op->phase == RP_COMMIT ||
                (op->phase == RP_PART && !op->ops->has_commit && op->next_off >= op->req->length);
    if (last) {
        if (op->phase == RP_PART)
            op->req->parts++;
        finish(op, STORE_OK); /* made, even if a cancel came meanwhile: the status says so */
        return;
    }
    if (op->canceled) {
        say(op, "canceled");
        fail(op, STORE_E_CANCELED);
        return;
    }
    if (op->phase == RP_BEGIN) {
        op->off = 0;
        op->part_no = 1;
    } else {
        op->req->parts++;
        op->off = op->next_off;
        op->part_no++;
    }
    op->phase = op->off < op->req->length ? RP_PART : RP_COMMIT;
    step(op);
}

/* ------------------------------------------------------------------ the steps */

static void start_request(remote_put *op) {
    op->in_net = true;
    int rc = net_start(op->rs->net, &op->nr);
    if (rc != 0) {
        op->in_net = false;
        char why[160];
        snprintf(why, sizeof why, "could not start request: %s", net_strerror(rc));
        say(op, why);
        fail(op, rc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK);
    }
}

void remote_put_authed(remote_put *op, int status, const char *why) {
    op->waiting = false;
    if (status == STORE_OK &&
        (op->rs->closing || !op->rs->net || (op->canceled && op->phase != RP_ABORT)))
        status = STORE_E_CANCELED;
    if (status == STORE_E_CANCELED)
        why = "canceled";
    if (status != STORE_OK) {
        say(op, why ? why : "no credentials");
        fail(op, status);
        return;
    }
    start_request(op);
}

static void submit(remote_put *op) {
    if (op->rs->closing || !op->rs->net) {
        say(op, "canceled");
        finish(op, STORE_E_CANCELED);
        return;
    }
    const char *why = NULL;
    int rc = op->ops->auth_wait ? op->ops->auth_wait(op, &why) : 0;
    if (rc == 1) {
        op->waiting = true;
        return;
    }
    if (rc != 0) {
        say(op, why ? why : "no credentials");
        fail(op, rc);
        return;
    }
    start_request(op);
}

/* Points the body at bytes [off, off + n) of the source, read from the fd when the source
 * is one (into the one part buffer). */
static int load(remote_put *op, uint64_t off, size_t n) {
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
                               "%s/%s: reading the source at %llu: %s", op->rs->base.url, req->key,
                               (unsigned long long)(req->fd_offset + off + got),
                               r < 0 ? strerror(errno) : "end of file before length");
        got += (size_t)r;
    }
    op->body = op->chunk;
    op->body_len = n;
    return 0;
}

/* Builds the request of the current phase and submits it. */
static void step(remote_put *op) {
    int rc = 0;
    op->body = NULL;
    op->body_len = 0;
    if (op->phase == RP_SINGLE || op->phase == RP_PART) {
        uint64_t left = op->req->length - op->off;
        rc = load(op, op->off, (size_t)(left < op->part_size ? left : op->part_size));
    }
    net_request *nr = &op->nr;
    if (!rc) {
        memset(nr, 0, sizeof *nr);
        nr->body = op->body;
        nr->body_len = op->body_len;
        rc = op->ops->build(op);
    }
    if (rc) {
        if (rc == STORE_E_NOMEM)
            say(op, "out of memory or request too long");
        fail(op, rc);
        return;
    }
    nr->on_body = on_body;
    nr->on_header = op->ops->on_header;
    nr->prepare = on_prepare;
    nr->retry_check = op->ops->retry_check;
    nr->cb = done;
    nr->data = op;
    submit(op);
}

/* ------------------------------------------------------------------ entry points */

static remote_put *op_new(remote_store *rs, const remote_put_ops *ops) {
    remote_put *op = calloc(1, ops->op_size);
    if (!op)
        return NULL;
    op->rs = rs;
    op->ops = ops;
    op->resp.limit = ops->resp_max + 1;
    return op;
}

int remote_put_start(remote_store *rs, const remote_put_ops *ops, store_put_req *req) {
    if (rs->closing)
        return STORE_E_CANCELED;
    const char *url = rs->base.url;
    uint64_t ps = req->part_size ? req->part_size : STORE_DEFAULT_PART_SIZE;
    if (ops->part_unit > 1 && ps <= UINT64_MAX - ops->part_unit)
        ps = (ps + ops->part_unit - 1) / ops->part_unit * ops->part_unit;
    bool grown = false;
    if (ops->max_parts && req->length > ps && (req->length + ps - 1) / ps > ops->max_parts) {
        ps = (req->length + ops->max_parts - 1) / ops->max_parts; /* the store's limit */
        grown = true;
    }
    uint64_t max = (uint64_t)SIZE_MAX / 2;
    if (ops->max_part && ops->max_part < max)
        max = ops->max_part;
    if (ps > max)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG, "%s/%s: %s", url,
                           req->key, grown ? "object too large" : "part size too large");
    remote_put *op = op_new(rs, ops);
    if (!op)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_NOMEM, "out of memory");
    op->req = req;
    op->part_size = ps;
    op->part_no = 1;
    op->phase = req->length <= ps ? RP_SINGLE : ops->has_begin ? RP_BEGIN : RP_PART;
    if (!req->buf && req->length) {
        op->chunk = malloc((size_t)(req->length < ps ? req->length : ps));
        if (!op->chunk) {
            op_free(op);
            return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_NOMEM,
                               "%s/%s: out of memory for a part", url, req->key);
        }
    }
    req->priv = op;
    remote_hold(rs);
    step(op); /* failures from here on go through the callback */
    return 0;
}

int remote_delete_start(remote_store *rs, const remote_put_ops *ops, store_delete_req *req) {
    if (rs->closing)
        return STORE_E_CANCELED;
    remote_put *op = op_new(rs, ops);
    if (!op)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_NOMEM, "out of memory");
    op->del = req;
    op->phase = RP_DELETE;
    req->priv = op;
    remote_hold(rs);
    step(op);
    return 0;
}

void remote_put_cancel(remote_store *rs, store_put_req *req) {
    remote_put *op = req->priv;
    if (!op || op->canceled)
        return;
    op->canceled = true;
    say(op, "canceled");
    if (op->waiting && op->ops->auth_unwait && op->ops->auth_unwait(op)) {
        op->waiting = false;
        fail(op, STORE_E_CANCELED); /* an abort waits for credentials in its turn */
        return;
    }
    /* the rest stops at once and done() aborts the upload */
    if (op->in_net && stoppable(op))
        net_cancel(rs->net, &op->nr);
}
