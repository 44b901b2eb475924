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
 * what it has and ignores bytes it already holds).
 *
 * The operation itself (phases, parts, token wait, cancel, session cancel, callback) is
 * remote_put.c's; this file is GCS's dialect of it: the hooks. */
#include "gcs_put.h"

#include "gcs_json.h"
#include "net.h"
#include "remote.h"
#include "util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GCS_CHUNK_UNIT (256u << 10)
#define GCS_MAX_RESP (64u << 10)
#define GCS_MAX_CHUNKS 100000u /* bounds the 308 loop: no upload takes more requests */

typedef struct gcs_put_op {
    remote_put rp; /* first: the core's op */
    store_token_gate gate;
    ut_buf url;
    ut_buf session; /* the resumable session's URL (a capability: never printed) */
    ut_buf loc;     /* Location of this attempt */
    char range[64]; /* the Range header of this attempt's 308 */
    char crange[80];
} gcs_put_op;

static store *op_store(remote_put *rp) { return &rp->rs->base; }

static int on_prepare(remote_put *rp, void *headers) {
    gcs_put_op *op = (gcs_put_op *)rp;
    ut_buf_reset(&op->loc);
    op->range[0] = '\0';
    int rc = gcs__auth_header(op_store(rp), headers);
    if (!rc && rp->phase == RP_SINGLE)
        rc = net_add_header(headers, "Content-Type: application/octet-stream");
    if (!rc && rp->phase == RP_BEGIN) {
        char line[80];
        snprintf(line, sizeof line, "X-Upload-Content-Length: %llu",
                 (unsigned long long)rp->req->length);
        rc = net_add_header(headers, "Content-Type: application/json; charset=UTF-8");
        if (!rc)
            rc = net_add_header(headers, "X-Upload-Content-Type: application/octet-stream");
        if (!rc)
            rc = net_add_header(headers, line);
    }
    if (!rc && rp->phase == RP_PART) {
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

/* ------------------------------------------------------------------ requests */

/* {base}/[upload/]storage/v1/b/BUCKET/o[/KEY]... */
static int build_url(gcs_put_op *op, bool upload, const char *query) {
    const char *base, *bucket, *root, *up;
    const char *key = remote_put_key(&op->rp);
    gcs__where(op_store(&op->rp), &base, &bucket, &root, &up);
    ut_buf *u = &op->url;
    ut_buf_free(u);
    ut_buf_puts(u, base);
    ut_buf_puts(u, upload ? "/upload/storage/v1/b/" : "/storage/v1/b/");
    ut_pct_encode(u, bucket, strlen(bucket), false);
    if (upload) {
        ut_buf_printf(u, "/o?uploadType=%s&name=", query);
        ut_pct_encode(u, root, strlen(root), false);
        ut_pct_encode(u, key, strlen(key), false);
        if (op->rp.req->create_only)
            ut_buf_puts(u, "&ifGenerationMatch=0");
    } else {
        ut_buf_puts(u, "/o/");
        ut_pct_encode(u, root, strlen(root), false);
        ut_pct_encode(u, key, strlen(key), false);
    }
    if (up) {
        ut_buf_puts(u, upload ? "&userProject=" : "?userProject=");
        ut_pct_encode(u, up, strlen(up), false);
    }
    return u->bad ? STORE_E_NOMEM : 0;
}

static int build(remote_put *rp) {
    gcs_put_op *op = (gcs_put_op *)rp;
    net_request *nr = &rp->nr;
    int rc = 0;
    switch (rp->phase) {
    case RP_SINGLE:
        nr->method = "POST";
        rc = build_url(op, true, "media");
        break;
    case RP_BEGIN:
        nr->method = "POST";
        nr->body = "{}";
        nr->body_len = 2;
        rc = build_url(op, true, "resumable");
        break;
    case RP_PART:
        nr->method = "PUT";
        snprintf(op->crange, sizeof op->crange, "Content-Range: bytes %llu-%llu/%llu",
                 (unsigned long long)rp->off, (unsigned long long)(rp->off + nr->body_len - 1),
                 (unsigned long long)rp->req->length);
        nr->url = op->session.p;
        return 0;
    case RP_ABORT:
        nr->method = "DELETE";
        nr->url = op->session.p;
        return 0;
    case RP_DELETE:
        nr->method = "DELETE";
        rc = build_url(op, false, NULL);
        break;
    case RP_COMMIT: /* the last chunk commits */
        return STORE_E_PROTOCOL;
    }
    nr->url = op->url.p;
    return rc;
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

/* A chunk's answer: 308 and where GCS's bytes end (the next chunk starts there), or the
 * object, which must have come with the last byte. */
static int chunk_landed(gcs_put_op *op, bool incomplete, const char *what) {
    remote_put *rp = &op->rp;
    char *em = remote_put_errmsg(rp);
    uint64_t end = rp->off + rp->nr.body_len, len = rp->req->length;
    if (!incomplete) {
        if (end >= len)
            return STORE_OK;
        /* "complete" before the last byte was sent: the object would be truncated */
        return store__fail(em, 256, STORE_E_PROTOCOL,
                           "%s: the server ended the upload at %llu of %llu bytes", what,
                           (unsigned long long)end, (unsigned long long)len);
    }
    int64_t have = persisted(op->range);
    if (have < 0 || (uint64_t)have < rp->off || (uint64_t)have > end || (uint64_t)have >= len ||
        rp->part_no > GCS_MAX_CHUNKS)
        return store__fail(em, 256, STORE_E_PROTOCOL,
                           "%s: the server's Range after a chunk makes no sense", what);
    rp->next_off = (uint64_t)have;
    return STORE_OK;
}

static int landed(remote_put *rp, int net_status, const char *what) {
    gcs_put_op *op = (gcs_put_op *)rp;
    net_request *nr = &rp->nr;
    char *em = remote_put_errmsg(rp);
    if (rp->phase == RP_ABORT)
        return STORE_OK; /* GCS answers 499 to a canceled session */
    bool incomplete = rp->phase == RP_PART && net_status == NET_E_HTTP && nr->http_status == 308;
    if (net_status != NET_OK && !incomplete) {
        if (net_status == NET_E_HTTP && nr->http_status == 412)
            return store__fail(em, 256, STORE_E_EXISTS, "%s: HTTP 412: the object exists", what);
        char gmsg[160] = "", reason[64] = "";
        gcs_error_parse(ut_buf_str(&rp->resp), rp->resp.len, gmsg, sizeof gmsg, reason,
                        sizeof reason);
        return gcs__map_status(op_store(rp), net_status, nr->http_status, gmsg, reason, em, 256,
                               what);
    }
    if (rp->phase == RP_PART)
        return chunk_landed(op, incomplete, what);
    if (rp->phase != RP_BEGIN)
        return STORE_OK;
    if (!op->loc.len || strncmp(op->loc.p, "http", 4) != 0)
        return store__fail(em, 256, STORE_E_PROTOCOL, "%s: no session URL in the answer", what);
    ut_buf_put(&op->session, op->loc.p, op->loc.len);
    ut_buf_puts(&op->session, "");
    if (op->session.bad)
        return store__fail(em, 256, STORE_E_NOMEM, "%s: out of memory", what);
    return STORE_OK;
}

/* ------------------------------------------------------------------ the token */

static int auth_wait(remote_put *rp, const char **why) {
    return store_token_gate_wait(&((gcs_put_op *)rp)->gate, gcs__token(op_store(rp)), rp, why);
}

static bool auth_unwait(remote_put *rp) {
    return store_token_gate_unwait(&((gcs_put_op *)rp)->gate);
}

static void op_free(remote_put *rp) {
    gcs_put_op *op = (gcs_put_op *)rp;
    ut_buf_free(&op->url);
    ut_buf_free(&op->session);
    ut_buf_free(&op->loc);
}

/* No COMMIT: the chunk with the last byte makes the object. ABORT cancels the session. */
static const remote_put_ops gcs_put_ops = {
    .op_size = sizeof(gcs_put_op),
    .resp_max = GCS_MAX_RESP,
    .part_unit = GCS_CHUNK_UNIT,
    .has_begin = true,
    .has_abort = true,
    .names = {[RP_SINGLE] = "upload",
              [RP_BEGIN] = "starting a resumable upload",
              [RP_PART] = "resumable upload",
              [RP_ABORT] = "canceling an upload",
              [RP_DELETE] = "delete"},
    .auth_wait = auth_wait,
    .auth_unwait = auth_unwait,
    .build = build,
    .prepare = on_prepare,
    .on_header = on_header,
    .landed = landed,
    .free = op_free,
};

/* ------------------------------------------------------------------ entry points */

int gcs_put(store *s, store_put_req *req) {
    return remote_put_start((remote_store *)s, &gcs_put_ops, req);
}

void gcs_put_cancel(store *s, store_put_req *req) { remote_put_cancel((remote_store *)s, req); }

int gcs_delete(store *s, store_delete_req *req) {
    return remote_delete_start((remote_store *)s, &gcs_put_ops, req);
}
