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
 * or 412: STORE_E_EXISTS). Retries are the engine's, per request.
 *
 * The operation itself (phases, parts, token wait, cancel, callback) is remote_put.c's;
 * this file is Azure's dialect of it: the hooks. */
#include "az_put.h"

#include "net.h"
#include "remote.h"
#include "util.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AZ_MAX_BLOCKS 50000u
#define AZ_MAX_BLOCK (4000ull << 20) /* Azure's largest block */
#define AZ_MAX_RESP (64u << 10)      /* error documents are short */

typedef struct az_put_op {
    remote_put rp; /* first: the core's op */
    store_token_gate gate;
    ut_buf url, path;
    az_pair q[2];
    size_t nq;
    char blockid[32];
    char md5[32];
    ut_buf list_body;
} az_put_op;

static store *op_store(remote_put *rp) { return &rp->rs->base; }

/* Block IDs: base64 of a fixed-length text (Azure wants one length per blob). */
static void block_id(unsigned n, char out[32]) {
    char raw[32]; /* n <= AZ_MAX_BLOCKS: always 6 digits, one length for every ID */
    snprintf(raw, sizeof raw, "td-block-%06u", n);
    ut_buf b = {0};
    ut_base64_encode(&b, raw, strlen(raw), false);
    snprintf(out, 32, "%s", ut_buf_str(&b));
    ut_buf_free(&b);
}

static int on_prepare(remote_put *rp, void *headers) {
    az_put_op *op = (az_put_op *)rp;
    az_pair h[4];
    size_t n = 0;
    if (rp->phase == RP_SINGLE)
        h[n++] = (az_pair){"x-ms-blob-type", "BlockBlob"};
    /* every body names its type: curl would send (unsigned) form encoding otherwise */
    if (rp->phase != RP_DELETE)
        h[n++] = (az_pair){"Content-Type",
                           rp->phase == RP_COMMIT ? "application/xml" : "application/octet-stream"};
    if (op->md5[0])
        h[n++] = (az_pair){"Content-MD5", op->md5};
    if (rp->req && rp->req->create_only && (rp->phase == RP_SINGLE || rp->phase == RP_COMMIT))
        h[n++] = (az_pair){"If-None-Match", "*"};
    return az__headers(op_store(rp), headers, rp->nr.method, op->path.p, op->q, op->nq, h, n,
                       rp->nr.body_len);
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

/* ------------------------------------------------------------------ requests */

static int build(remote_put *rp) {
    az_put_op *op = (az_put_op *)rp;
    net_request *nr = &rp->nr;
    op->nq = 0;
    nr->method = rp->phase == RP_DELETE ? "DELETE" : "PUT";
    if (rp->phase == RP_PART) {
        block_id(rp->part_no, op->blockid);
        op->q[0] = (az_pair){"comp", "block"};
        op->q[1] = (az_pair){"blockid", op->blockid};
        op->nq = 2;
    } else if (rp->phase == RP_COMMIT) {
        ut_buf *b = &op->list_body;
        ut_buf_reset(b);
        ut_buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        char id[32];
        for (unsigned i = 1; i < rp->part_no; i++) {
            block_id(i, id);
            ut_buf_printf(b, "<Latest>%s</Latest>", id);
        }
        ut_buf_puts(b, "</BlockList>");
        if (b->bad)
            return STORE_E_NOMEM;
        nr->body = b->p;
        nr->body_len = b->len;
        op->q[0] = (az_pair){"comp", "blocklist"};
        op->nq = 1;
    }
    op->md5[0] = '\0';
    if (rp->phase != RP_DELETE)
        md5_b64(nr->body, nr->body_len, op->md5);
    ut_buf_free(&op->url);
    ut_buf_free(&op->path);
    if (az__build(op_store(rp), remote_put_key(rp), op->q, op->nq, &op->url, &op->path) != 0)
        return STORE_E_NOMEM;
    nr->url = op->url.p;
    return 0;
}

static int landed(remote_put *rp, int net_status, const char *what) {
    net_request *nr = &rp->nr;
    if (net_status == NET_OK)
        return STORE_OK; /* a block's ID is its number: nothing to keep */
    char code[64];
    err_code(&rp->resp, code, sizeof code);
    char *em = remote_put_errmsg(rp);
    if (net_status == NET_E_HTTP &&
        ((nr->http_status == 409 && !strcmp(code, "BlobAlreadyExists")) || nr->http_status == 412))
        return store__fail(em, 256, STORE_E_EXISTS, "%s: HTTP %ld%s%s", what, nr->http_status,
                           code[0] ? " " : "", code);
    return az__map_status(op_store(rp), net_status, nr->http_status, code, em, 256, what);
}

/* ------------------------------------------------------------------ the token */

static int auth_wait(remote_put *rp, const char **why) {
    return store_token_gate_wait(&((az_put_op *)rp)->gate, az__token(op_store(rp)), rp, why);
}

static bool auth_unwait(remote_put *rp) {
    return store_token_gate_unwait(&((az_put_op *)rp)->gate);
}

static void op_free(remote_put *rp) {
    az_put_op *op = (az_put_op *)rp;
    ut_buf_free(&op->url);
    ut_buf_free(&op->path);
    ut_buf_free(&op->list_body);
}

/* No BEGIN (the first Put Block starts the upload) and no ABORT: uncommitted blocks are
 * no blob, and Azure drops them itself. */
static const remote_put_ops az_put_ops = {
    .op_size = sizeof(az_put_op),
    .resp_max = AZ_MAX_RESP,
    .max_parts = AZ_MAX_BLOCKS,
    .max_part = AZ_MAX_BLOCK,
    .has_commit = true,
    .names = {[RP_SINGLE] = "Put Blob",
              [RP_PART] = "Put Block",
              [RP_COMMIT] = "Put Block List",
              [RP_DELETE] = "Delete Blob"},
    .auth_wait = auth_wait,
    .auth_unwait = auth_unwait,
    .build = build,
    .prepare = on_prepare,
    .landed = landed,
    .free = op_free,
};

/* ------------------------------------------------------------------ entry points */

int az_put(store *s, store_put_req *req) {
    return remote_put_start((remote_store *)s, &az_put_ops, req);
}

void az_put_cancel(store *s, store_put_req *req) { remote_put_cancel((remote_store *)s, req); }

int az_delete(store *s, store_delete_req *req) {
    return remote_delete_start((remote_store *)s, &az_put_ops, req);
}
