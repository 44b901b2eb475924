/* store_gcs.c - Google Cloud Storage over the JSON API: objects.list (pageToken paging)
 * and ranged media GETs, over the network engine.
 *
 * Credentials, in order: skip_signature (anonymous); a static bearer token; a JSON key
 * (service_account_key inline, service_account path, google_application_credentials or
 * GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application_default_credentials.json):
 * a service account signs an RS256 JWT exchanged at its token_uri, an authorized_user
 * key uses its refresh token; else the GCE metadata server when on Google Compute Engine
 * (or GCE_METADATA_HOST is set); else anonymous (public buckets). Access tokens are
 * fetched once for all requests, refreshed five minutes before they expire, and requests
 * started meanwhile wait for the token in a queue.
 *
 * google_base_url / STORAGE_EMULATOR_HOST point the store at an emulator or test server.
 * HMAC keys are not used here: they belong to the S3-compatible XML API (s3:// with
 * endpoint https://storage.googleapis.com, see docs/stores-azure-gcs.md). */

#include "gcs_auth.h"
#include "gcs_json.h"
#include "gcs_put.h"
#include "gcs_token.h"
#include "net.h"
#include "remote.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCS_MAX_PAGE 1000             /* objects.list's own maximum */
#define GCS_MAX_LIST_BODY (64u << 20) /* a page of 1,000 items with every field is ~2 MB */

typedef enum { G_ANON, G_STATIC, G_KEY, G_METADATA } gcs_auth_kind; /* G_KEY: any key file */

typedef struct gcs_op gcs_op;
typedef struct gcs_cursor gcs_cursor;

typedef struct gcs_store {
    remote_store rs; /* first: the core's lifecycle, engine and store */
    char *base_url;  /* no trailing '/' */
    char *bucket;
    char *root; /* "" or "dir/" */
    gcs_auth_kind auth;
    gcs_key key;
    char *token;        /* G_STATIC */
    char *user_project; /* requester pays: billed project (userProject), or NULL */
    gcs_token_ctx tctx; /* G_KEY, G_METADATA: the provider */
    store_token tok;    /* and its token */
    char tok_errmsg[256];
} gcs_store;

struct gcs_op {
    remote_read rd; /* first; rd.req is the read, NULL for a listing page */
    ut_buf url;
    ut_buf hdr;
    ut_buf body; /* listing: the page; reads: unused */
    gcs_cursor *cur;
    store_token_waiter w; /* waiting for the token */
};

struct gcs_cursor {
    remote_cursor rc; /* first */
    gcs_op op;
    ut_buf prefix;
    char *page_token;
    gcs_page page;
    char *last_prefix; /* the previous page's last common prefix (delimiter listings) */
};

static void op_finish(gcs_op *op, int net_status);

/* ---- status mapping ---- */

static int map_status(const gcs_store *st, int net_status, long http, const char *gmsg,
                      const char *reason, char *msg, size_t msglen, const char *what) {
    if (net_status != NET_E_HTTP)
        return remote_net_failure(net_status, what, st->base_url, msg, msglen);
    char detail[160] = "";
    if ((gmsg && *gmsg) || (reason && *reason))
        snprintf(detail, sizeof detail, " (%s%s%.*s)", reason ? reason : "",
                 reason && *reason && gmsg && *gmsg ? ": " : "",
                 ut_utf8_prec(gmsg ? gmsg : "", 120), gmsg ? gmsg : "");
    /* a requester-pays bucket read without a billed project: 400 "Bucket is a requester
     * pays bucket but no user project provided." (reason "required") */
    if (http == 400 && gmsg && strstr(gmsg, "requester pays"))
        return store__fail(msg, msglen, STORE_E_ACCESS,
                           "%s: HTTP 400%s: set user_project to the project to bill for this "
                           "requester-pays bucket",
                           what, detail);
    int kind = remote_http_kind(http);
    if (kind == STORE_E_AUTH) {
        return store__fail(msg, msglen, kind,
                           "%s: HTTP %ld%s: the access token was refused: check the "
                           "credentials (key file, token or identity)",
                           what, http, detail);
    }
    if (kind == STORE_E_ACCESS) {
        return store__fail(msg, msglen, kind, "%s: HTTP 403%s: access denied%s", what, detail,
                           st->auth == G_ANON
                               ? " (anonymous request: give service_account or "
                                 "GOOGLE_APPLICATION_CREDENTIALS for a private bucket)"
                               : "");
    }
    if (kind == STORE_E_NOT_FOUND) {
        return store__fail(msg, msglen, kind, "%s: HTTP %ld%s: not found", what, http, detail);
    }
    if (kind == STORE_E_THROTTLED) {
        return store__fail(msg, msglen, kind, "%s: HTTP %ld%s: throttled, out of retries", what,
                           http, detail);
    }
    return store__fail(msg, msglen, STORE_E_HTTP, "%s: unexpected HTTP status %ld%s", what, http,
                       detail);
}

/* ---- tokens (store_token.h) ---- */

static bool needs_token(const gcs_store *st) { return st->auth == G_KEY || st->auth == G_METADATA; }

/* ---- requests ---- */

static int op_prepare(net_request *nr, void *headers) {
    gcs_op *op = nr->data;
    gcs_store *st = (gcs_store *)op->rd.rs;
    if (op->cur)
        ut_buf_reset(&op->body);
    if (st->auth == G_ANON)
        return 0;
    ut_buf_reset(&op->hdr);
    ut_buf_puts(&op->hdr, "Authorization: Bearer ");
    ut_buf_puts(&op->hdr, st->auth == G_STATIC ? st->token : store_token_value(&st->tok));
    int rc = op->hdr.bad || net_add_header(headers, op->hdr.p) != 0 ? NET_E_NOMEM : 0;
    ut_buf_free(&op->hdr); /* wiped: no token copies left behind */
    return rc;
}

static void token_ready(store_token_waiter *w, int status) {
    gcs_op *op = (gcs_op *)((char *)w - offsetof(gcs_op, w));
    gcs_store *st = (gcs_store *)op->rd.rs;
    if (status == STORE_OK && st->rs.closing) /* its turn came after a callback closed it */
        status = STORE_E_CANCELED;
    int rc = status == STORE_OK ? net_start(st->rs.net, &op->rd.nr) : 0;
    if (status != STORE_OK) {
        snprintf(st->tok_errmsg, sizeof st->tok_errmsg, "%s", store_token_error(&st->tok));
        op->rd.nr.http_status = 0;
        op->rd.nr.got = 0;
        op_finish(op, -1000 + status); /* below NET codes: a store code */
    } else if (rc != 0) {
        op_finish(op, rc);
    }
}

/* Starts op now, or queues it behind a token fetch. Returns a store code; on error the
 * op's callback will not run. */
static int op_submit(gcs_op *op) {
    gcs_store *st = (gcs_store *)op->rd.rs;
    if (needs_token(st)) {
        op->w.ready = token_ready;
        int rc = store_token_wait(&st->tok, &op->w);
        if (rc != STORE_OK) {
            snprintf(st->tok_errmsg, sizeof st->tok_errmsg, "%s", store_token_error(&st->tok));
            return rc;
        }
        if (op->w.queued)
            return STORE_OK;
    }
    int rc = net_start(st->rs.net, &op->rd.nr);
    return rc == 0 ? STORE_OK : STORE_E_NOMEM;
}

/* ---- listing ---- */

static void cursor_free(remote_cursor *rc) {
    gcs_cursor *c = (gcs_cursor *)rc;
    if (!c)
        return;
    gcs_page_free(&c->page);
    ut_buf_free(&c->prefix);
    free(c->page_token);
    free(c->last_prefix);
    ut_buf_free(&c->op.url);
    ut_buf_free(&c->op.hdr);
    ut_buf_free(&c->op.body);
    free(c);
}

static int list_body(net_request *nr, const void *data, size_t len) {
    gcs_op *op = nr->data;
    ut_buf_put(&op->body, data, len);
    return op->body.bad ? 1 : 0;
}

static void list_finish(gcs_cursor *c, int status) {
    gcs_op *op = &c->op;
    gcs_store *st = (gcs_store *)op->rd.rs;
    if (!remote_page_landed(&c->rc))
        return;
    store_list_req *req = c->rc.req;
    req->attempts = op->rd.nr.attempts;
    char what[160];
    snprintf(what, sizeof what, "listing %s (prefix '%.*s')", st->rs.base.url,
             ut_utf8_prec(req->prefix ? req->prefix : "", 60), req->prefix ? req->prefix : "");
    int rc;
    gcs_page_free(&c->page);
    if (status <= -1000) {
        rc = status + 1000;
        ut_join(req->errmsg, sizeof req->errmsg, what, st->tok_errmsg);
    } else if (status == NET_E_ABORTED) {
        snprintf(req->errmsg, sizeof req->errmsg, "%s: response larger than %u bytes", what,
                 GCS_MAX_LIST_BODY);
        rc = STORE_E_PROTOCOL;
    } else {
        char gmsg[160] = "", reason[64] = "";
        if (status == NET_E_HTTP && op->body.len)
            gcs_error_parse(op->body.p, op->body.len, gmsg, sizeof gmsg, reason, sizeof reason);
        rc = map_status(st, status, op->rd.nr.http_status, gmsg, reason, req->errmsg,
                        sizeof req->errmsg, what);
        if (rc == STORE_OK) {
            char perr[160];
            size_t max = req->page_size < GCS_MAX_PAGE ? req->page_size : GCS_MAX_PAGE;
            if (gcs_list_parse(&c->page, op->body.p ? op->body.p : "", op->body.len, st->root, max,
                               perr, sizeof perr) != 0) {
                ut_join(req->errmsg, sizeof req->errmsg, what, perr);
                rc = STORE_E_PROTOCOL;
            }
        }
    }
    ut_buf_free(&op->body);
    bool done = true;
    if (rc == STORE_OK) {
        req->errmsg[0] = 0;
        free(c->page_token);
        c->page_token = c->page.next_token ? strdup(c->page.next_token) : NULL;
        done = c->page_token == NULL;
        if (c->page.next_token && !c->page_token) {
            rc = STORE_E_NOMEM;
            done = true;
        }
    }
    if (rc == STORE_OK) {
        /* names come in lexicographic order; a prefix not past the previous page's last is
         * one given already (the emulator repeats them on every page; GCS says it omits
         * duplicates), and would be listed twice */
        size_t k = 0;
        for (size_t i = 0; i < c->page.n_prefixes; i++)
            if (!c->last_prefix || strcmp(c->page.prefixes[i], c->last_prefix) > 0)
                c->page.prefixes[k++] = c->page.prefixes[i];
        c->page.n_prefixes = k;
        if (k) {
            free(c->last_prefix);
            c->last_prefix = strdup(c->page.prefixes[k - 1]);
        }
        req->common_prefixes = c->page.prefixes;
        req->n_common_prefixes = c->page.n_prefixes;
    }
    remote_page_deliver(&c->rc, rc, rc == STORE_OK ? c->page.entries : NULL,
                        rc == STORE_OK ? c->page.n : 0, done);
}

static void op_finish(gcs_op *op, int status) {
    if (op->cur)
        list_finish(op->cur, status);
    else
        remote_read_done(&op->rd.nr, status); /* also for reads that never reached it */
}

static void net_done(net_request *nr, int status) { op_finish(nr->data, status); }

static int page_submit(remote_cursor *rc) { return op_submit(&((gcs_cursor *)rc)->op); }

static int gcs_list_next(store *s, store_list_req *req) {
    gcs_store *st = (gcs_store *)s;
    remote_cursor *rc0;
    bool fresh;
    int brc = remote_cursor_begin(&st->rs, req, sizeof(gcs_cursor), &rc0, &fresh);
    if (brc)
        return brc;
    gcs_cursor *c = (gcs_cursor *)rc0;
    if (fresh) {
        c->rc.nr = &c->op.rd.nr;
        c->op.rd.rs = &st->rs;
        c->op.cur = c;
        c->prefix.limit = 8192;
        ut_buf_puts(&c->prefix, st->root);
        ut_buf_puts(&c->prefix, req->prefix ? req->prefix : "");
        if (c->prefix.bad) {
            cursor_free(&c->rc);
            return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                               "listing prefix too long");
        }
        req->priv = c;
    }
    gcs_op *op = &c->op;
    ut_buf_free(&op->url);
    size_t max = req->page_size < GCS_MAX_PAGE ? req->page_size : GCS_MAX_PAGE;
    ut_buf_puts(&op->url, st->base_url);
    ut_buf_puts(&op->url, "/storage/v1/b/");
    ut_pct_encode(&op->url, st->bucket, strlen(st->bucket), false);
    ut_buf_printf(&op->url, "/o?maxResults=%zu", max);
    if (c->prefix.len) {
        ut_buf_puts(&op->url, "&prefix=");
        ut_pct_encode(&op->url, c->prefix.p, c->prefix.len, false);
    }
    if (c->page_token) {
        ut_buf_puts(&op->url, "&pageToken=");
        ut_pct_encode(&op->url, c->page_token, strlen(c->page_token), false);
    }
    if (req->delimiter && req->delimiter[0])
        ut_buf_puts(&op->url, "&delimiter=%2F&fields=items(name%2Csize%2Cupdated%2Cetag)"
                              "%2Cprefixes%2CnextPageToken");
    else
        ut_buf_puts(&op->url, "&fields=items(name%2Csize%2Cupdated%2Cetag)%2CnextPageToken");
    if (st->user_project) {
        ut_buf_puts(&op->url, "&userProject=");
        ut_pct_encode(&op->url, st->user_project, strlen(st->user_project), false);
    }
    if (op->url.bad)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "listing %s: request URL too long", st->rs.base.url);
    op->body.limit = GCS_MAX_LIST_BODY;
    ut_buf_reset(&op->body);
    remote_page_init(&op->rd.nr, op->url.p, list_body, op_prepare, net_done, op);
    int rc = remote_page_start(&c->rc, page_submit);
    if (rc != STORE_OK) {
        return store__fail(req->errmsg, sizeof req->errmsg, rc, "listing %s: %s", st->rs.base.url,
                           st->tok_errmsg[0] ? st->tok_errmsg : "cannot start the request");
    }
    return STORE_OK;
}

/* remote_list_free: a page still waiting for a token leaves the queue. */
static bool cursor_unqueue(remote_cursor *rc) {
    gcs_cursor *c = (gcs_cursor *)rc;
    return c->op.w.queued && store_token_unqueue(&((gcs_store *)rc->rs)->tok, &c->op.w);
}

/* ---- ranged reads ---- */

static int gcs_read_done(remote_read *rd, int status) {
    gcs_store *st = (gcs_store *)rd->rs;
    store_get_req *req = rd->req;
    net_request *nr = &rd->nr;
    char what[200];
    snprintf(what, sizeof what, "reading %s/%.*s", st->rs.base.url, ut_utf8_prec(req->key, 120),
             req->key);
    if (status <= -1000) { /* no token: a store code */
        ut_join(req->errmsg, sizeof req->errmsg, what, st->tok_errmsg);
        req->object_size = UINT64_MAX;
        return status + 1000;
    }
    int rc = remote_read_range_answer(rd, status, what);
    if (rc != 1)
        return rc;
    char gmsg[160] = "", reason[64] = "";
    if (status == NET_E_HTTP && nr->got > 0 && nr->got <= req->length)
        gcs_error_parse((const char *)req->buf, (size_t)nr->got, gmsg, sizeof gmsg, reason,
                        sizeof reason);
    rc = map_status(st, status, nr->http_status, gmsg, reason, req->errmsg, sizeof req->errmsg,
                    what);
    if (rc == STORE_OK) {
        req->errmsg[0] = 0;
        req->got = nr->got;
    }
    return rc;
}

static void gcs_read_free(remote_read *rd) {
    gcs_op *op = (gcs_op *)rd;
    ut_buf_free(&op->url);
    ut_buf_free(&op->hdr);
    free(op);
}

/* Reads wait for a token like listing pages; the refusal names the read. */
static int gcs_read_submit(remote_read *rd) {
    gcs_store *st = (gcs_store *)rd->rs;
    store_get_req *req = rd->req;
    int rc = op_submit((gcs_op *)rd);
    if (rc != STORE_OK)
        return store__fail(req->errmsg, sizeof req->errmsg, rc, "reading %s/%.*s: %s",
                           st->rs.base.url, ut_utf8_prec(req->key, 100), req->key,
                           st->tok_errmsg[0] ? st->tok_errmsg : "cannot start the request");
    return STORE_OK;
}

static int gcs_get(store *s, store_get_req *req) {
    gcs_store *st = (gcs_store *)s;
    int brc = remote_get_begin(st->rs.closing, req);
    if (brc)
        return brc;
    gcs_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    ut_buf_puts(&op->url, st->base_url);
    ut_buf_puts(&op->url, "/storage/v1/b/");
    ut_pct_encode(&op->url, st->bucket, strlen(st->bucket), false);
    ut_buf_puts(&op->url, "/o/");
    ut_pct_encode(&op->url, st->root, strlen(st->root), false);
    ut_pct_encode(&op->url, req->key, strlen(req->key), false);
    ut_buf_puts(&op->url, "?alt=media");
    if (st->user_project) {
        ut_buf_puts(&op->url, "&userProject=");
        ut_pct_encode(&op->url, st->user_project, strlen(st->user_project), false);
    }
    if (op->url.bad) {
        ut_buf_free(&op->url);
        free(op);
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "reading %s/%.*s: request URL too long", st->rs.base.url,
                           ut_utf8_prec(req->key, 100), req->key);
    }
    remote_read_init(&op->rd, &st->rs, req, op->url.p, op_prepare);
    int rc = remote_read_start(&op->rd);
    if (rc != STORE_OK)
        gcs_read_free(&op->rd);
    return rc;
}

/* ---- open / close ---- */

/* At close: requests still waiting for a token never reached the engine: cancel them here */
static void gcs_cancel(remote_store *rs) {
    gcs_store *st = (gcs_store *)rs;
    if (needs_token(st))
        store_token_cancel(&st->tok);
}

static void gcs_destroy(remote_store *rs) {
    gcs_store *st = (gcs_store *)rs;
    free(st->rs.base.url);
    free(st->base_url);
    free(st->bucket);
    free(st->root);
    free(st->user_project);
    ut_free_secret(&st->token);
    store_token_free(&st->tok);
    gcs_token_ctx_free(&st->tctx);
    gcs_key_free(&st->key);
    free(st);
}

/* ---- hooks of gcs_put.c (gcs_put.h) ---- */

void gcs__where(store *s, const char **base_url, const char **bucket, const char **root,
                const char **user_project) {
    gcs_store *st = (gcs_store *)s;
    *base_url = st->base_url;
    *bucket = st->bucket;
    *root = st->root;
    *user_project = st->user_project;
}

int gcs__auth_header(store *s, void *headers) {
    gcs_store *st = (gcs_store *)s;
    if (st->auth == G_ANON)
        return 0;
    ut_buf h = {0};
    ut_buf_puts(&h, "Authorization: Bearer ");
    ut_buf_puts(&h, st->auth == G_STATIC ? st->token : store_token_value(&st->tok));
    int rc = h.bad || net_add_header(headers, h.p) != 0 ? NET_E_NOMEM : 0;
    ut_buf_free(&h); /* wiped */
    return rc;
}

store_token *gcs__token(store *s) {
    gcs_store *st = (gcs_store *)s;
    return needs_token(st) ? &st->tok : NULL;
}

int gcs__map_status(store *s, int net_status, long http, const char *gmsg, const char *reason,
                    char *msg, size_t msglen, const char *what) {
    return map_status((gcs_store *)s, net_status, http, gmsg, reason, msg, msglen, what);
}

static const store_vtable gcs_vt = {remote_close, gcs_list_next,  remote_list_free, gcs_get,
                                    gcs_put,      gcs_put_cancel, gcs_delete,       true};
static const remote_ops gcs_ops = {
    .cancel = gcs_cancel,
    .destroy = gcs_destroy,
    .read_submit = gcs_read_submit,
    .read_done = gcs_read_done,
    .read_free = gcs_read_free,
    .cursor_free = cursor_free,
    .cursor_unqueue = cursor_unqueue,
};

/* object_store's GoogleConfigKey names and aliases, and the variables it reads. The key
 * file's path: service_account, else google_application_credentials, else
 * GOOGLE_SERVICE_ACCOUNT, else GOOGLE_APPLICATION_CREDENTIALS (so the ADC slot carries
 * both variables). */
enum {
    K_SA_PATH,
    K_SA_KEY,
    K_ADC,
    K_BUCKET,
    K_BASE,
    K_TOKEN,
    K_SKIP,
    K_USER_PROJECT,
    K_IGNORED,
    K_N
};
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
static const remote_opt gcs_opts[K_N] = {
    [K_SA_PATH] = {NAMES("service_account", "google_service_account", "google_service_account_path",
                         "service_account_path"),
                   NULL, REMOTE_STRING, 0},
    [K_SA_KEY] = {NAMES("service_account_key", "google_service_account_key"),
                  NAMES("GOOGLE_SERVICE_ACCOUNT_KEY"), REMOTE_STRING, REMOTE_SECRET},
    [K_ADC] = {NAMES("google_application_credentials"),
               NAMES("GOOGLE_SERVICE_ACCOUNT", "GOOGLE_APPLICATION_CREDENTIALS"), REMOTE_STRING, 0},
    [K_BUCKET] = {NAMES("bucket", "google_bucket", "google_bucket_name", "bucket_name"), NULL,
                  REMOTE_STRING, 0},
    [K_BASE] = {NAMES("google_base_url", "base_url"), NULL, REMOTE_URL, 0},
    [K_TOKEN] = {NAMES("bearer_token", "google_bearer_token", "token"), NULL, REMOTE_STRING,
                 REMOTE_SECRET},
    [K_SKIP] = {NAMES("skip_signature", "google_skip_signature"), NAMES("GOOGLE_SKIP_SIGNATURE"),
                REMOTE_BOOL, 0},
    /* requester pays: the project billed, sent as userProject (object_store has no such
     * option; gsutil -u / gcloud --billing-project are the CLIs' names) */
    [K_USER_PROJECT] = {NAMES("user_project", "google_user_project", "billing_project"), NULL,
                        REMOTE_STRING, 0},
    /* accepted, and what it asks for holds: http is allowed for an explicit base URL */
    [K_IGNORED] = {NAMES("allow_http"), NULL, REMOTE_STRING, 0},
};
#undef NAMES

const remote_backend store_gcs_backend = {"a GCS", gcs_opts, K_N, NULL};

static bool on_gce(void) {
    /* what Google's libraries check on Linux before asking the metadata server; the file
     * does not exist elsewhere */
    size_t n = 0;
    char *s = ut_read_file("/sys/class/dmi/id/product_name", 256, &n, NULL, 0);
    bool yes = s && strncmp(s, "Google", 6) == 0;
    free(s);
    return yes;
}

static bool valid_bucket(const char *b) {
    size_t n = strlen(b);
    if (n < 3 || n > 222)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '_' || b[i] == '.'))
            return false;
    return true;
}

int store_gcs_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                   char *err, size_t errlen) {
    *out = NULL;
    const char *v[K_N];
    int orc = remote_options_parse(&store_gcs_backend, opts, v, err, errlen);
    if (orc)
        return orc;
    if (strncmp(url, "gs://", 5) != 0)
        return store__fail(err, errlen, STORE_E_CONFIG, "not a GCS URL: '%s'", url);
    const char *b = url + 5;
    size_t bl = strcspn(b, "/?#");
    gcs_store *st = calloc(1, sizeof *st);
    if (!st)
        return STORE_E_NOMEM;
    remote_store_init(&st->rs, &gcs_vt, &gcs_ops, loop);
    int rc = STORE_E_NOMEM;
    ut_buf tmp = {0};
    char *keyjson = NULL;
    size_t keylen = 0;
    st->bucket = malloc(bl + 1);
    if (!st->bucket)
        goto fail;
    memcpy(st->bucket, b, bl);
    st->bucket[bl] = 0;
    if (!bl && v[K_BUCKET]) {
        free(st->bucket);
        st->bucket = strdup(v[K_BUCKET]);
        if (!st->bucket)
            goto fail;
    }
    if (!valid_bucket(st->bucket)) {
        rc = store__fail(err, errlen, STORE_E_CONFIG,
                         "GCS URL '%s': '%s' is not a valid "
                         "bucket name",
                         url, st->bucket);
        goto fail;
    }
    {
        const char *p = b + bl;
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "?#");
        while (n && p[n - 1] == '/')
            n--;
        st->root = malloc(n + 2);
        if (!st->root)
            goto fail;
        memcpy(st->root, p, n);
        if (n)
            st->root[n++] = '/';
        st->root[n] = 0;
        size_t ul = strcspn(url, "?#");
        while (ul > 5 && url[ul - 1] == '/')
            ul--;
        st->rs.base.url = malloc(ul + 1);
        if (!st->rs.base.url)
            goto fail;
        memcpy(st->rs.base.url, url, ul);
        st->rs.base.url[ul] = 0;
    }

    /* ---- credentials ---- */
    bool skip = remote_bool(v[K_SKIP]);
    const char *token = v[K_TOKEN];
    const char *inline_key = v[K_SA_KEY];
    const char *key_path = v[K_SA_PATH] ? v[K_SA_PATH] : v[K_ADC];
    const char *emulator = getenv("STORAGE_EMULATOR_HOST");
    bool have_adc_file = false;
    if (!skip && !token && !inline_key && !key_path && !(emulator && *emulator)) {
        /* gcloud's configuration folder: CLOUDSDK_CONFIG, else ~/.config/gcloud */
        const char *cfgdir = getenv("CLOUDSDK_CONFIG");
        const char *home = getenv("HOME");
        if ((cfgdir && *cfgdir) || (home && *home)) {
            if (cfgdir && *cfgdir)
                ut_buf_printf(&tmp, "%s/application_default_credentials.json", cfgdir);
            else
                ut_buf_printf(&tmp, "%s/.config/gcloud/application_default_credentials.json", home);
            FILE *f = tmp.bad ? NULL : fopen(tmp.p, "rb");
            if (f) {
                fclose(f);
                key_path = tmp.p;
                have_adc_file = true;
            }
        }
    }
    if (skip) {
        st->auth = G_ANON;
    } else if (token && *token) {
        if (strpbrk(token, "\r\n")) {
            rc = store__fail(err, errlen, STORE_E_CONFIG, "bearer_token holds a line break");
            goto fail;
        }
        st->auth = G_STATIC;
        st->token = strdup(token);
        if (!st->token)
            goto fail;
    } else if ((inline_key && *inline_key) || (key_path && *key_path)) {
        if (inline_key && *inline_key) {
            keylen = strlen(inline_key);
            keyjson = strdup(inline_key);
            if (!keyjson)
                goto fail;
        } else {
            keyjson = ut_read_file(key_path, 1 << 20, &keylen, NULL, 0);
            if (!keyjson) {
                rc = store__fail(
                    err, errlen, STORE_E_AUTH, "cannot read the Google credentials file '%s'%s",
                    key_path, have_adc_file ? " (gcloud's application default credentials)" : "");
                goto fail;
            }
        }
        char kerr[200];
        if (gcs_key_parse(&st->key, keyjson, keylen, kerr, sizeof kerr) != 0) {
            rc = store__fail(err, errlen, STORE_E_AUTH, "%s", kerr);
            goto fail;
        }
        st->auth = st->key.disable_oauth ? G_ANON : G_KEY;
        st->tctx.kind = st->key.type && strcmp(st->key.type, "external_account") == 0
                            ? GCS_TOK_EXTERNAL
                            : GCS_TOK_KEY;
        st->tctx.key = &st->key;
    } else if (!(emulator && *emulator) && (getenv("GCE_METADATA_HOST") || on_gce())) {
        st->auth = G_METADATA;
        const char *h = getenv("GCE_METADATA_HOST");
        ut_buf_reset(&tmp);
        ut_buf_printf(&tmp,
                      "http://%s/computeMetadata/v1/instance/service-accounts/default/"
                      "token",
                      h && *h ? h : "metadata.google.internal");
        st->tctx.kind = GCS_TOK_METADATA;
        st->tctx.metadata_url = tmp.bad ? NULL : strdup(tmp.p);
        if (!st->tctx.metadata_url)
            goto fail;
    } else {
        st->auth = G_ANON;
    }
    if (needs_token(st)) {
        /* the fetch threads' stores take the pipeline store's token (store_share.h) */
        gcs_store *lead = opts->creds_from && opts->creds_from->vt == &gcs_vt
                              ? (gcs_store *)opts->creds_from
                              : NULL;
        if (lead && needs_token(lead)) {
            if (store_token_follow(&st->tok, &st->rs, &lead->tok, loop) != STORE_OK)
                goto fail;
        } else {
            store_token_init(&st->tok, &st->rs, gcs_token_step, &st->tctx);
        }
    }
    if (v[K_USER_PROJECT] && *v[K_USER_PROJECT]) {
        st->user_project = strdup(v[K_USER_PROJECT]);
        if (!st->user_project)
            goto fail;
    }

    /* ---- endpoint ---- */
    const char *base = v[K_BASE];
    ut_buf_reset(&tmp);
    if (base && *base) {
        ut_buf_puts(&tmp, base);
    } else if (emulator && *emulator) {
        if (!strstr(emulator, "://"))
            ut_buf_puts(&tmp, "http://");
        ut_buf_puts(&tmp, emulator);
    } else if (st->key.gcs_base_url && *st->key.gcs_base_url) {
        ut_buf_puts(&tmp, st->key.gcs_base_url);
    } else {
        ut_buf_puts(&tmp, "https://storage.googleapis.com");
    }
    if (tmp.bad)
        goto fail;
    while (tmp.len && tmp.p[tmp.len - 1] == '/')
        tmp.p[--tmp.len] = 0;
    if ((strncmp(tmp.p, "https://", 8) != 0 && strncmp(tmp.p, "http://", 7) != 0) ||
        strpbrk(tmp.p, "?#")) {
        rc = store__fail(err, errlen, STORE_E_CONFIG,
                         "GCS base URL '%s' must be http(s)://host[:port][/path]", tmp.p);
        goto fail;
    }
    st->base_url = strdup(tmp.p);
    if (!st->base_url)
        goto fail;

    char what[300];
    snprintf(what, sizeof what, "GCS store %s", st->rs.base.url);
    rc = remote_store_engine(&st->rs, opts, NULL, what, err, errlen);
    if (rc)
        goto fail;
    if (keyjson) {
        OPENSSL_cleanse(keyjson, keylen);
        free(keyjson);
    }
    ut_buf_free(&tmp);
    *out = &st->rs.base;
    return STORE_OK;
fail:
    if (keyjson) {
        OPENSSL_cleanse(keyjson, keylen);
        free(keyjson);
    }
    ut_buf_free(&tmp);
    if (rc == STORE_E_NOMEM)
        store__fail(err, errlen, rc, "out of memory");
    remote_store_discard(&st->rs);
    return rc;
}
