/* store_http.c - http:// and https:// stores: any web server that answers ranged GETs,
 * listed through WebDAV PROPFIND (as object_store's HTTP store does).
 *
 * Reads are ranged GETs of base URL + key (each key segment percent-encoded). A server that
 * ignores Range must not cost whole files: at offset 0 the engine stops once the buffer is
 * full; further in, the body is streamed, the bytes before the offset skipped and the
 * transfer cut as soon as the wanted ones are in (and refused outright when the offset is so
 * far in that skipping would mean a download anyway).
 *
 * Listing walks the tree with PROPFIND Depth: 1, a bounded number of directories at once,
 * parsing each multistatus as it streams in (expat). The walk is depth-first: directories
 * wait on a stack, the children of the last directory listed on top, so what waits is the
 * siblings along the current path, not a whole level of the tree (breadth-first, a tree 200
 * directories wide grew its queue by 200 per directory listed, ~30 MB/s). The stack is
 * also capped in bytes (HTTP_MAX_PENDING): past it, further directories become bad entries,
 * so memory never depends on the tree's shape. Found entries wait in a buffer that stops new
 * directory requests once it holds a few pages, so the caller's page requests remain the
 * backpressure. A directory that cannot be listed becomes a bad entry "dir/" and the walk
 * goes on. Cycles: only a directory's own children (its key plus one segment) are walked,
 * so keys grow along every path and no directory is reached twice, without remembering the
 * directories seen; the nesting depth is bounded (a server following a symbolic link loop
 * makes ever longer paths). */
#include "remote.h"

#include "net.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int store_http_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                    char *err, size_t errlen);

#define HTTP_LIST_PARALLEL 16u         /* directory requests in flight per listing */
#define HTTP_MAX_TEXT 16384            /* one XML element's text */
#define HTTP_MAX_DIR_BODY (256u << 20) /* one directory's multistatus */
#define HTTP_MAX_DEPTH 128u            /* directory nesting below the listing's start */
#define HTTP_MAX_KEY 4096u
#define HTTP_MAX_PENDING (16u << 20) /* bytes of directories waiting on the walk's stack */
#define HTTP_MAX_HELD                                                                        \
    (32u << 20)                          /* bytes of entries parsed by directory requests in \
                                            flight, beyond which they are listed one by one */
#define HTTP_NORANGE_MAX_SKIP (8u << 20) /* bytes we accept to skip when Range is ignored */

/* ------------------------------------------------------------------ small helpers */

/* Buffers whose size only the directory bounds (a chunk's keys, a directory's
 * sub-collections) take the directory body's cap; the rest util's default. */
#define HTTP_BUF_BIG HTTP_MAX_DIR_BODY

/* Percent-encodes a key for a URL path: every byte but RFC 3986 unreserved ones and '/'
 * (the segment separator), so names with spaces, '+', '%', '#', '?' or UTF-8 survive. */
static void encode_path(ut_buf *b, const char *s, size_t n) { ut_pct_encode(b, s, n, true); }

/* Path decoding (not form decoding: '+' stays '+', a stray '%' stays). Returns false on an
 * encoded NUL. */
static bool decode_path(ut_buf *out, const char *s, size_t n) {
    return ut_pct_decode(out, s, n, UT_PCT_LENIENT | UT_PCT_NO_NUL) == 0;
}

/* ------------------------------------------------------------------ store and listing types */

typedef struct hl_cursor hl_cursor;
typedef struct hl_op hl_op;

typedef struct http_store {
    remote_store rs;   /* first: the core's lifecycle, engine and store */
    char *base_url;    /* encoded, ends with '/': requests are base_url + encoded key */
    char *base_path;   /* its path, decoded, ends with '/': hrefs are matched against it */
    size_t origin_len; /* "http://host:port" part of base_url */
    unsigned list_parallel;
    uv_timer_t kick; /* delivers listing pages outside store_list_next; holds the store
                        until closed */
    hl_cursor *cursors;
} http_store;

typedef struct hl_item {
    size_t key_off, key_len, msg_off;
    uint64_t size;
    int64_t mtime_ms;
    int bad_status;    /* 0 for an entry, else a bad entry (a directory that failed) */
    unsigned attempts; /* a bad entry's: requests tried for the directory */
} hl_item;

/* Found entries of one finished directory, waiting for delivery. */
typedef struct hl_chunk {
    struct hl_chunk *next;
    hl_item *items;
    size_t n, cap, pos;
    ut_buf strings;
} hl_chunk;

typedef struct hl_dir {
    struct hl_dir *next;
    unsigned depth;
    char key[]; /* decoded, relative to the store root, "" or ending in '/' */
} hl_dir;

/* Directory keys already queued (the cycle guard): open addressing, strings owned. */
typedef struct hset {
    char **slots;
    size_t cap, n;
} hset;

struct hl_cursor {
    http_store *s;
    store_list_req *req;
    hl_cursor *next, *prev;
    char *prefix;
    size_t prefix_len;
    hl_dir *qhead;        /* the walk's stack (depth-first): the next directory on top */
    size_t pending_bytes; /* memory held by the stack, capped at HTTP_MAX_PENDING */
    hl_chunk *chead, *ctail;
    size_t buffered; /* items not yet delivered */
    hl_op *ops;      /* directory requests in flight */
    unsigned n_ops;
    unsigned refs; /* ops alive (also after cancel, until their callback) */
    int fatal;     /* listing failed: delivered once the buffer is drained */
    char fatal_msg[256];
    unsigned fatal_attempts;
    size_t held;        /* bytes the directory requests in flight hold (op_account) */
    bool one_at_a_time; /* a directory was dropped for memory: list them singly for now */
    bool want, in_cb, dead, kicked, cancelling;
};

typedef enum { X_NONE, X_HREF, X_LEN, X_MTIME, X_PS_STATUS, X_R_STATUS } hl_field;

struct hl_op {
    net_request nr;
    http_store *s;
    hl_cursor *c;
    hl_op *next, *prev; /* in c->ops */
    ut_buf url;
    ut_buf url_path; /* encoded path of the directory (relative hrefs resolve against it) */
    char *dir_key;
    unsigned depth;
    bool is_start, cancel_sent;
    /* the response being parsed (reset before every attempt) */
    XML_Parser xp;
    bool xml_failed, xml_finished;
    uint64_t body_bytes;
    int xdepth;
    bool in_response, in_propstat, in_prop, in_restype;
    hl_field field;
    ut_buf text;
    ut_buf href;
    bool r_ok, ps_coll, ps_has_len, ps_has_mtime;
    uint64_t ps_len;
    int64_t ps_mtime;
    bool coll, has_len;
    uint64_t len;
    int64_t mtime;
    hl_chunk *chunk; /* this directory's entries */
    ut_buf subdirs;  /* child collections found: NUL-separated keys */
    hset seen;       /* the same, to drop a child listed twice in one response */
    size_t held;     /* its share of c->held */
    bool requeue;    /* stopped to bound memory: listed again later, alone */
    ut_buf scratch;
};

/* ------------------------------------------------------------------ hset */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Adds key; 1 if added, 0 if already there, -1 out of memory. */
static int hset_add(hset *h, const char *key) {
    if ((h->n + 1) * 2 > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        char **ns = calloc(cap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < h->cap; i++) {
            if (!h->slots[i])
                continue;
            size_t j = (size_t)fnv1a(h->slots[i]) & (cap - 1);
            while (ns[j])
                j = (j + 1) & (cap - 1);
            ns[j] = h->slots[i];
        }
        free(h->slots);
        h->slots = ns;
        h->cap = cap;
    }
    size_t j = (size_t)fnv1a(key) & (h->cap - 1);
    while (h->slots[j]) {
        if (!strcmp(h->slots[j], key))
            return 0;
        j = (j + 1) & (h->cap - 1);
    }
    h->slots[j] = strdup(key);
    if (!h->slots[j])
        return -1;
    h->n++;
    return 1;
}

static void hset_free(hset *h) {
    for (size_t i = 0; i < h->cap; i++)
        free(h->slots[i]);
    free(h->slots);
    memset(h, 0, sizeof *h);
}

/* ------------------------------------------------------------------ status mapping */

/* A failed request -> store code and message. what: the key or directory, for messages. */
static int map_status(http_store *s, const net_request *nr, int status, const char *what,
                      bool listing, char *em) {
    switch (status) {
    case NET_OK:
        return STORE_OK;
    case NET_E_CANCELED:
        snprintf(em, 256, "%s: canceled", s->rs.base.url);
        return STORE_E_CANCELED;
    case NET_E_TIMEOUT:
        snprintf(em, 256, "%.*s", ut_utf8_prec(nr->errmsg, 255), nr->errmsg);
        return STORE_E_TIMEOUT;
    case NET_E_NOMEM:
        snprintf(em, 256, "out of memory");
        return STORE_E_NOMEM;
    case NET_E_TOO_BIG:
    case NET_E_ABORTED:
        snprintf(em, 256, "%s/%.*s: response too large", s->rs.base.url, ut_utf8_prec(what, 150),
                 what);
        return STORE_E_PROTOCOL;
    case NET_E_CONFIG:
        snprintf(em, 256, "%.*s", ut_utf8_prec(nr->errmsg, 255), nr->errmsg);
        return STORE_E_CONFIG;
    case NET_E_HTTP:
        break;
    default:
        snprintf(em, 256, "%.*s", ut_utf8_prec(nr->errmsg, 255), nr->errmsg);
        return remote_net_kind(status);
    }
    long st = nr->http_status;
    int kind = remote_http_kind(st);
    if (kind == STORE_E_NOT_FOUND) {
        snprintf(em, 256, "%s/%.*s: not found (HTTP %ld)", s->rs.base.url, ut_utf8_prec(what, 150),
                 what, st);
        return kind;
    }
    if (kind == STORE_E_ACCESS || kind == STORE_E_AUTH) {
        snprintf(em, 256, "%s/%.*s: %s (HTTP %ld)", s->rs.base.url, ut_utf8_prec(what, 150), what,
                 kind == STORE_E_AUTH ? "credentials missing or refused" : "access denied", st);
        return kind;
    }
    if (listing && (st == 405 || st == 501 || st == 400)) {
        snprintf(em, 256,
                 "%s/%.*s: the server does not list with WebDAV PROPFIND (HTTP %ld): enable "
                 "it (nginx: dav_ext_methods PROPFIND) or give the keys with store.keys_from",
                 s->rs.base.url, ut_utf8_prec(what, 100), what, st);
        return STORE_E_UNSUPPORTED;
    }
    if (kind == STORE_E_THROTTLED) {
        snprintf(em, 256, "%s/%.*s: throttled (HTTP %ld) after %u attempts", s->rs.base.url,
                 ut_utf8_prec(what, 150), what, st, nr->attempts);
        return kind;
    }
    snprintf(em, 256, "%s/%.*s: HTTP %ld after %u attempts", s->rs.base.url,
             ut_utf8_prec(what, 150), what, st, nr->attempts);
    return STORE_E_HTTP;
}

/* ------------------------------------------------------------------ ranged GET */

typedef struct hg_op {
    remote_read rd; /* first */
    ut_buf url;
    bool stream; /* offset > 0: body streamed, see get_on_body */
    char range_hdr[64];
    const char *hdrs[1];
    uint64_t pos, filled;
    bool complete, too_far;
} hg_op;

static int get_prepare(net_request *nr, void *headers) {
    hg_op *op = nr->data;
    (void)headers;
    op->pos = op->filled = 0;
    op->complete = op->too_far = false;
    return 0;
}

/* Streaming reads (offset > 0): a 206 is copied as it comes; a 200 is the whole object from
 * byte 0, so the bytes before the offset are skipped (if they are few enough) and the
 * transfer cut once the wanted ones are in. */
static int get_on_body(net_request *nr, const void *data, size_t len) {
    hg_op *op = nr->data;
    store_get_req *g = op->rd.req;
    if (nr->http_status < 200 || nr->http_status >= 300)
        return 0; /* an error page: the status decides */
    const char *p = data;
    uint64_t start = nr->http_status == 206 ? 0 : g->offset; /* where the wanted bytes begin */
    if (nr->http_status != 206 && g->offset + g->length > HTTP_NORANGE_MAX_SKIP) {
        op->too_far = true;
        return 1;
    }
    uint64_t chunk_end = op->pos + len;
    if (chunk_end > start && op->filled < g->length) {
        uint64_t from = op->pos > start ? op->pos : start;
        uint64_t n = chunk_end - from;
        if (n > g->length - op->filled)
            n = g->length - op->filled;
        memcpy(g->buf + op->filled, p + (from - op->pos), (size_t)n);
        op->filled += n;
    }
    op->pos = chunk_end;
    if (op->filled == g->length) {
        op->complete = true;
        /* a 206 of exactly the range ends by itself (and keeps its connection); anything
         * longer is cut here */
        if (nr->http_status != 206 || op->pos > g->length)
            return 1;
    }
    return 0;
}

static void hg_free(hg_op *op) {
    ut_buf_free(&op->url);
    free(op);
}

static int http_read_done(remote_read *rd, int status) {
    hg_op *op = (hg_op *)rd;
    http_store *s = (http_store *)rd->rs;
    store_get_req *g = rd->req;
    net_request *nr = &rd->nr;
    int st;
    if (status == NET_E_HTTP && nr->http_status == 416) {
        st = STORE_OK; /* the object ends before offset: nothing to read */
    } else if (op->stream && status == NET_E_ABORTED && op->complete) {
        st = STORE_OK;
        g->got = op->filled;
    } else if (op->stream && status == NET_E_ABORTED && op->too_far) {
        st = STORE_E_HTTP;
        snprintf(g->errmsg, sizeof g->errmsg,
                 "%s/%.*s: the server ignored Range; reading at offset %llu would download "
                 "everything before it",
                 s->rs.base.url, ut_utf8_prec(g->key, 120), g->key, (unsigned long long)g->offset);
    } else {
        st = map_status(s, nr, status, g->key, false, g->errmsg);
        if (st == STORE_OK)
            g->got = op->stream ? op->filled : (nr->got > g->length ? g->length : nr->got);
    }
    return st;
}

static void http_read_free(remote_read *rd) { hg_free((hg_op *)rd); }

static int http_get(store *base, store_get_req *g) {
    http_store *s = (http_store *)base;
    int brc = remote_get_begin(s->rs.closing, g);
    if (brc)
        return brc;
    if (!*g->key) /* the store root itself is not an object */
        return store__fail(g->errmsg, sizeof g->errmsg, STORE_E_CONFIG, "empty key");
    hg_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    ut_buf_puts(&op->url, s->base_url);
    encode_path(&op->url, g->key, strlen(g->key));
    if (op->url.bad) {
        hg_free(op);
        return STORE_E_NOMEM;
    }
    net_request *nr = &op->rd.nr;
    /* at offset 0 the engine stops a 200 to this Range once buf is full */
    remote_read_init(&op->rd, &s->rs, g, op->url.p, get_prepare);
    if (g->offset != 0) {
        /* Range sent as a plain header: the engine's own Range handling gives up on a 200
         * at an offset, where this store can still skip forward */
        nr->has_range = false;
        nr->check_range = true; /* the engine still checks a 206 against the range */
        nr->buf = NULL;
        nr->buf_cap = 0;
        op->stream = true;
        snprintf(op->range_hdr, sizeof op->range_hdr, "Range: bytes=%llu-%llu",
                 (unsigned long long)g->offset, (unsigned long long)(g->offset + g->length - 1));
        op->hdrs[0] = op->range_hdr;
        nr->headers = op->hdrs;
        nr->n_headers = 1;
        nr->on_body = get_on_body;
    }
    int rc = remote_read_start(&op->rd);
    if (rc != 0)
        hg_free(op);
    return rc;
}

/* ------------------------------------------------------------------ listing: XML */

static const char PROPFIND_BODY[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><D:getcontentlength/>"
    "<D:getlastmodified/></D:prop></D:propfind>\n";
static const char *const PROPFIND_HDRS[] = {"Depth: 1",
                                            "Content-Type: application/xml; charset=utf-8"};

#define DAV(name) ("DAV:|" name)

static void chunk_free(hl_chunk *ch) {
    if (!ch)
        return;
    free(ch->items);
    ut_buf_free(&ch->strings);
    free(ch);
}

static bool chunk_add(hl_chunk *ch, const char *key, size_t klen, uint64_t size, int64_t mtime,
                      int bad_status, const char *msg) {
    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 32;
        hl_item *it = realloc(ch->items, cap * sizeof *it);
        if (!it)
            return false;
        ch->items = it;
        ch->cap = cap;
    }
    hl_item *it = &ch->items[ch->n];
    it->key_off = ch->strings.len;
    it->key_len = klen;
    ut_buf_put(&ch->strings, key, klen);
    ut_buf_put(&ch->strings, "", 1);
    it->msg_off = ch->strings.len;
    if (msg)
        ut_buf_put(&ch->strings, msg, strlen(msg));
    ut_buf_put(&ch->strings, "", 1);
    it->size = size;
    it->mtime_ms = mtime;
    it->bad_status = bad_status;
    it->attempts = 0;
    if (ch->strings.bad)
        return false;
    ch->n++;
    return true;
}

/* Whether a key (file or directory) can hold keys with the listing's prefix. */
static bool prefix_compatible(const hl_cursor *c, const char *key, size_t klen) {
    size_t n = klen < c->prefix_len ? klen : c->prefix_len;
    return memcmp(key, c->prefix, n) == 0;
}

/* One <response> finished: resolve its href to a key and file it. */
static void response_done(hl_op *op) {
    http_store *s = op->s;
    hl_cursor *c = op->c;
    if (!op->r_ok || op->href.bad || op->href.len == 0)
        return;
    const char *h = op->href.p;
    size_t hl = op->href.len;
    while (hl && (*h == ' ' || *h == '\t' || *h == '\n' || *h == '\r'))
        h++, hl--;
    while (hl && (h[hl - 1] == ' ' || h[hl - 1] == '\t' || h[hl - 1] == '\n' || h[hl - 1] == '\r'))
        hl--;
    /* absolute path (encoded) of the href */
    ut_buf *path = &op->scratch;
    ut_buf_reset(path);
    if (hl >= 7 && (!strncasecmp(h, "http://", 7) || (hl >= 8 && !strncasecmp(h, "https://", 8)))) {
        const char *auth = memchr(h, ':', hl) + 3;
        const char *slash = memchr(auth, '/', hl - (size_t)(auth - h));
        if (!slash)
            return;
        ut_buf_put(path, slash, hl - (size_t)(slash - h));
    } else if (h[0] == '/') {
        ut_buf_put(path, h, hl);
    } else {
        ut_buf_puts(path, ut_buf_str(&op->url_path));
        ut_buf_put(path, h, hl);
    }
    if (path->bad)
        return;
    path->len = strcspn(path->p, "?#");
    ut_buf dec = {0};
    dec.limit = HTTP_MAX_KEY + strlen(s->base_path) + 1;
    bool ok = decode_path(&dec, path->p, path->len) && !dec.bad;
    const char *d = ut_buf_str(&dec);
    /* dot segments would let a listing name keys outside the directory it came from */
    if (ok && (strstr(d, "/./") || strstr(d, "/../") ||
               (dec.len >= 2 && !strcmp(d + dec.len - 2, "/.")) ||
               (dec.len >= 3 && !strcmp(d + dec.len - 3, "/.."))))
        ok = false;
    size_t bl = strlen(s->base_path);
    const char *key = NULL;
    size_t klen = 0;
    if (ok) {
        if (dec.len >= bl && !memcmp(d, s->base_path, bl)) {
            key = d + bl;
            klen = dec.len - bl;
        } else if (dec.len + 1 == bl && !memcmp(d, s->base_path, dec.len)) {
            key = "";
            klen = 0; /* the root without its slash */
        }
    }
    if (!key || (klen == 0 && !op->coll)) {
        ut_buf_free(&dec);
        return; /* outside the store's root */
    }
    size_t dl = strlen(op->dir_key);
    bool is_self = (klen == dl && !memcmp(key, op->dir_key, dl)) ||
                   (klen + 1 == dl && !memcmp(key, op->dir_key, klen));
    if (!is_self && klen > 0) {
        if (op->coll) {
            /* a child collection: walked later, once the directory succeeded. Only a child
             * (this directory's key plus one segment): a collection elsewhere in the tree
             * (a parent, a sibling) is reached from its own parent, and walking it from here
             * could walk it twice or go round in circles */
            size_t rest = klen - dl - (key[klen - 1] == '/');
            bool child = klen > dl && !memcmp(key, op->dir_key, dl) && rest > 0 &&
                         !memchr(key + dl, '/', rest);
            if (child && prefix_compatible(c, key, klen)) {
                size_t mark = op->subdirs.len;
                ut_buf_put(&op->subdirs, key, klen);
                if (key[klen - 1] != '/')
                    ut_buf_put(&op->subdirs, "/", 1);
                ut_buf_put(&op->subdirs, "", 1);
                if (!op->subdirs.bad) {
                    int added = hset_add(&op->seen, op->subdirs.p + mark);
                    if (added < 0)
                        op->xml_failed = true;
                    if (added <= 0)
                        op->subdirs.len = mark; /* listed twice: once is enough */
                }
            }
        } else if (key[klen - 1] != '/' && klen >= c->prefix_len &&
                   !memcmp(key, c->prefix, c->prefix_len)) {
            if (!chunk_add(op->chunk, key, klen, op->has_len ? op->len : 0, op->mtime, 0, NULL))
                op->xml_failed = true;
        }
    }
    ut_buf_free(&dec);
}

static void XMLCALL x_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    hl_op *op = ud;
    (void)atts;
    op->xdepth++;
    op->field = X_NONE;
    ut_buf_reset(&op->text);
    if (!strcmp(name, DAV("response"))) {
        op->in_response = true;
        op->in_propstat = op->in_prop = op->in_restype = false;
        ut_buf_reset(&op->href);
        op->r_ok = true;
        op->coll = op->has_len = false;
        op->len = 0;
        op->mtime = INT64_MIN;
        return;
    }
    if (!op->in_response)
        return;
    if (!strcmp(name, DAV("propstat"))) {
        op->in_propstat = true;
        op->ps_coll = op->ps_has_len = op->ps_has_mtime = false;
        op->ps_len = 0;
        op->ps_mtime = INT64_MIN;
    } else if (op->in_propstat && !strcmp(name, DAV("prop"))) {
        op->in_prop = true;
    } else if (op->in_prop && !strcmp(name, DAV("resourcetype"))) {
        op->in_restype = true;
    } else if (op->in_restype && !strcmp(name, DAV("collection"))) {
        op->ps_coll = true;
    } else if (op->in_prop && !strcmp(name, DAV("getcontentlength"))) {
        op->field = X_LEN;
    } else if (op->in_prop && !strcmp(name, DAV("getlastmodified"))) {
        op->field = X_MTIME;
    } else if (op->in_propstat && !op->in_prop && !strcmp(name, DAV("status"))) {
        op->field = X_PS_STATUS;
    } else if (!op->in_propstat && !strcmp(name, DAV("href"))) {
        op->field = X_HREF;
    } else if (!op->in_propstat && !strcmp(name, DAV("status"))) {
        op->field = X_R_STATUS;
    }
}

static void XMLCALL x_text(void *ud, const XML_Char *t, int len) {
    hl_op *op = ud;
    if (op->field != X_NONE && len > 0)
        ut_buf_put(op->field == X_HREF ? &op->href : &op->text, t, (size_t)len);
}

/* "HTTP/1.1 200 OK" -> 200 */
static int status_code(const char *t) {
    const char *sp = strchr(t, ' ');
    return sp ? atoi(sp + 1) : 0;
}

static void XMLCALL x_end(void *ud, const XML_Char *name) {
    hl_op *op = ud;
    op->xdepth--;
    if (op->text.bad) {
        op->xml_failed = true;
        XML_StopParser(op->xp, XML_FALSE);
        return;
    }
    const char *t = ut_buf_str(&op->text);
    switch (op->field) {
    case X_LEN: {
        char *e;
        unsigned long long v = strtoull(t, &e, 10);
        if (e != t && *e == '\0') {
            op->ps_len = v;
            op->ps_has_len = true;
        }
        break;
    }
    case X_MTIME:
        op->ps_mtime = ut_http_date_parse(t, strlen(t));
        op->ps_has_mtime = op->ps_mtime != INT64_MIN;
        break;
    case X_PS_STATUS: {
        int code = status_code(t);
        if (code < 200 || code > 299) /* properties the server could not give */
            op->ps_coll = op->ps_has_len = op->ps_has_mtime = false;
        break;
    }
    case X_R_STATUS: {
        int code = status_code(t);
        if (code < 200 || code > 299)
            op->r_ok = false;
        break;
    }
    default:
        break;
    }
    op->field = X_NONE;
    ut_buf_reset(&op->text);
    if (!op->in_response)
        return;
    if (!strcmp(name, DAV("response"))) {
        response_done(op);
        op->in_response = false;
    } else if (!strcmp(name, DAV("propstat"))) {
        op->in_propstat = false;
        if (op->ps_coll)
            op->coll = true;
        if (op->ps_has_len) {
            op->has_len = true;
            op->len = op->ps_len;
        }
        if (op->ps_has_mtime)
            op->mtime = op->ps_mtime;
    } else if (!strcmp(name, DAV("prop"))) {
        op->in_prop = false;
    } else if (!strcmp(name, DAV("resourcetype"))) {
        op->in_restype = false;
    }
}

/* ------------------------------------------------------------------ listing: directories */

static void cursor_pump(hl_cursor *c);
static void cursor_unref(hl_cursor *c);

/* Keeps c->held current: what this request's parsed entries and child directories take.
 * Entries of a directory are delivered only once its whole answer is in (a retry would
 * give them twice), so wide directories listed in parallel could hold many answers'
 * entries at once; past HTTP_MAX_HELD all but one request are stopped and their directories
 * listed again one at a time. Memory then stays near HTTP_MAX_HELD plus one directory's
 * entries, whatever the directories' sizes. */
static void op_account(hl_op *op) {
    size_t now = op->subdirs.cap + op->seen.cap * sizeof(char *);
    if (op->chunk)
        now += op->chunk->strings.cap + op->chunk->cap * sizeof(hl_item);
    op->c->held = op->c->held - op->held + now;
    op->held = now;
}

static void op_free(hl_op *op) {
    if (op->c)
        op->c->held -= op->held;
    if (op->xp)
        XML_ParserFree(op->xp);
    ut_buf_free(&op->url);
    ut_buf_free(&op->url_path);
    ut_buf_free(&op->text);
    ut_buf_free(&op->href);
    ut_buf_free(&op->subdirs);
    hset_free(&op->seen);
    ut_buf_free(&op->scratch);
    chunk_free(op->chunk);
    free(op->dir_key);
    free(op);
}

static int dir_prepare(net_request *nr, void *headers) {
    hl_op *op = nr->data;
    (void)headers;
    if (op->xp)
        XML_ParserReset(op->xp, NULL);
    else
        op->xp = XML_ParserCreateNS(NULL, '|');
    if (!op->xp)
        return NET_E_NOMEM;
    XML_SetUserData(op->xp, op);
    XML_SetElementHandler(op->xp, x_start, x_end);
    XML_SetCharacterDataHandler(op->xp, x_text);
    op->xml_failed = op->xml_finished = false;
    op->body_bytes = 0;
    op->xdepth = 0;
    op->in_response = op->in_propstat = op->in_prop = op->in_restype = false;
    op->field = X_NONE;
    ut_buf_reset(&op->text);
    ut_buf_reset(&op->href);
    ut_buf_reset(&op->subdirs);
    hset_free(&op->seen);
    op->text.limit = op->href.limit = HTTP_MAX_TEXT;
    chunk_free(op->chunk);
    op->chunk = calloc(1, sizeof *op->chunk);
    if (op->chunk)
        op->chunk->strings.limit = HTTP_BUF_BIG;
    op_account(op);
    return op->chunk ? 0 : NET_E_NOMEM;
}

static int dir_on_body(net_request *nr, const void *data, size_t len) {
    hl_op *op = nr->data;
    if (nr->http_status != 207)
        return 0; /* not a multistatus: the status decides */
    op->body_bytes += len;
    if (op->body_bytes > HTTP_MAX_DIR_BODY)
        return 1;
    while (len > 0 && !op->xml_failed) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;
        if (XML_Parse(op->xp, data, n, XML_FALSE) != XML_STATUS_OK)
            op->xml_failed = true;
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    op_account(op);
    if (op->c->held > HTTP_MAX_HELD && op->c->n_ops > 1) {
        op->requeue = true;
        return 1;
    }
    return 0;
}

static void finish_xml(hl_op *op) {
    if (op->xml_finished || op->xml_failed)
        return;
    op->xml_finished = true;
    if (XML_Parse(op->xp, "", 0, XML_TRUE) != XML_STATUS_OK)
        op->xml_failed = true;
}

/* A 207 whose body is cut or garbled is retried like a reset connection. */
static bool dir_retry_check(net_request *nr) {
    hl_op *op = nr->data;
    if (nr->http_status != 207)
        return false;
    finish_xml(op);
    return op->xml_failed;
}

static void cursor_push_chunk(hl_cursor *c, hl_chunk *ch) {
    if (ch->n == 0) {
        chunk_free(ch);
        return;
    }
    if (c->ctail)
        c->ctail->next = ch;
    else
        c->chead = ch;
    c->ctail = ch;
    c->buffered += ch->n;
}

/* Files a bad entry (a directory that could not be listed) for delivery. */
static void cursor_bad(hl_cursor *c, const char *key, int status, const char *msg,
                       unsigned attempts) {
    hl_chunk *ch = calloc(1, sizeof *ch);
    if (ch)
        ch->strings.limit = HTTP_BUF_BIG;
    if (!ch || !chunk_add(ch, key, strlen(key), 0, INT64_MIN, status, msg)) {
        chunk_free(ch);
        if (!c->fatal) {
            c->fatal = STORE_E_NOMEM;
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "out of memory");
        }
        return;
    }
    ch->items[0].attempts = attempts;
    cursor_push_chunk(c, ch);
}

static void cursor_fail(hl_cursor *c, int status, const char *msg);

/* Pushes directories (NUL-separated keys in keys[0, len)) on the walk's stack, in their
 * order: the first is walked next. One too deep, or past the stack's byte cap, becomes a bad
 * entry instead (an error row: never dropped silently). */
static void cursor_push_dirs(hl_cursor *c, const char *keys, size_t len, unsigned depth) {
    hl_dir *head = NULL, *tail = NULL;
    for (size_t i = 0; i < len;) {
        const char *key = keys + i;
        size_t kl = strlen(key);
        i += kl + 1;
        char msg[256];
        size_t need = sizeof(hl_dir) + kl + 1;
        if (depth > HTTP_MAX_DEPTH || kl > HTTP_MAX_KEY) {
            snprintf(msg, sizeof msg,
                     "%s/%.*s: directories nested deeper than %u levels (a link loop?): not "
                     "listed",
                     c->s->rs.base.url, ut_utf8_prec(key, 100), key, HTTP_MAX_DEPTH);
            cursor_bad(c, key, STORE_E_LOOP, msg, 0);
            continue;
        }
        if (c->pending_bytes + need > HTTP_MAX_PENDING) {
            snprintf(msg, sizeof msg,
                     "%s/%.*s: not listed: more than %u MiB of directories wait to be walked "
                     "(list narrower prefixes, or give the keys with store.keys_from)",
                     c->s->rs.base.url, ut_utf8_prec(key, 100), key, HTTP_MAX_PENDING >> 20);
            cursor_bad(c, key, STORE_E_NOMEM, msg, 0);
            continue;
        }
        hl_dir *d = malloc(need);
        if (!d) {
            cursor_fail(c, STORE_E_NOMEM, "out of memory");
            break;
        }
        d->next = NULL;
        d->depth = depth;
        memcpy(d->key, key, kl + 1);
        c->pending_bytes += need;
        if (tail)
            tail->next = d;
        else
            head = d;
        tail = d;
    }
    if (tail) {
        tail->next = c->qhead;
        c->qhead = head;
    }
}

static hl_dir *cursor_pop_dir(hl_cursor *c) {
    hl_dir *d = c->qhead;
    if (d) {
        c->qhead = d->next;
        c->pending_bytes -= sizeof(hl_dir) + strlen(d->key) + 1;
    }
    return d;
}

static void dir_done(net_request *nr, int status) {
    hl_op *op = nr->data;
    http_store *s = op->s;
    hl_cursor *c = op->c;
    if (op->prev)
        op->prev->next = op->next;
    else
        c->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    c->n_ops--;
    if (!c->dead && !c->fatal && op->requeue && status == NET_E_ABORTED) {
        /* stopped by op_account: on top of the stack again, listed when it can run alone */
        c->one_at_a_time = true;
        cursor_push_dirs(c, op->dir_key, strlen(op->dir_key) + 1, op->depth);
    } else if (!c->dead && !c->fatal) {
        char em[256] = "";
        int st = map_status(s, nr, status, op->dir_key, true, em);
        if (st == STORE_OK && nr->http_status != 207) {
            st = STORE_E_UNSUPPORTED;
            snprintf(em, sizeof em,
                     "%s/%.*s: HTTP %ld to PROPFIND, not a WebDAV multistatus (207): the "
                     "server does not list directories; give the keys with store.keys_from",
                     s->rs.base.url, ut_utf8_prec(op->dir_key, 100), op->dir_key, nr->http_status);
        } else if (st == STORE_OK) {
            finish_xml(op);
            if (op->xml_failed || op->subdirs.bad) {
                st = STORE_E_PROTOCOL;
                snprintf(em, sizeof em, "%s/%.*s: malformed PROPFIND multistatus", s->rs.base.url,
                         ut_utf8_prec(op->dir_key, 150), op->dir_key);
            }
        }
        if (st == STORE_OK) {
            cursor_push_chunk(c, op->chunk);
            op->chunk = NULL;
            cursor_push_dirs(c, op->subdirs.p, op->subdirs.len, op->depth + 1);
        } else if (st == STORE_E_CANCELED) {
            cursor_fail(c, st, em);
        } else if (op->is_start) {
            /* the listing's own directory: a missing prefix lists nothing (as an object
             * store would), anything else fails the listing */
            if (!(st == STORE_E_NOT_FOUND && c->prefix_len > 0)) {
                if (!c->fatal)
                    c->fatal_attempts = nr->attempts;
                cursor_fail(c, st, em);
            }
        } else {
            cursor_bad(c, op->dir_key, st, em, nr->attempts);
        }
    }
    op_free(op);
    if (c->n_ops == 0)
        c->one_at_a_time = false; /* the big one is done: parallel again */
    cursor_pump(c);
    cursor_unref(c); /* may free c */
    remote_release(&s->rs);
}

static int start_dir(hl_cursor *c, hl_dir *d) {
    http_store *s = c->s;
    hl_op *op = calloc(1, sizeof *op);
    if (op)
        op->subdirs.limit = HTTP_BUF_BIG;
    if (!op)
        return STORE_E_NOMEM;
    op->s = s;
    op->c = c;
    op->depth = d->depth;
    op->is_start = d->depth == 0;
    op->dir_key = strdup(d->key);
    ut_buf_puts(&op->url, s->base_url);
    encode_path(&op->url, d->key, strlen(d->key));
    ut_buf_puts(&op->url_path, op->url.bad ? "" : op->url.p + s->origin_len);
    if (!op->dir_key || op->url.bad || op->url_path.bad) {
        op_free(op);
        return STORE_E_NOMEM;
    }
    net_request *nr = &op->nr;
    nr->method = "PROPFIND";
    nr->url = op->url.p;
    nr->headers = PROPFIND_HDRS;
    nr->n_headers = 2;
    nr->body = PROPFIND_BODY;
    nr->body_len = sizeof PROPFIND_BODY - 1;
    nr->on_body = dir_on_body;
    nr->prepare = dir_prepare;
    nr->retry_check = dir_retry_check;
    nr->cb = dir_done;
    nr->data = op;
    int rc = net_start(s->rs.net, nr);
    if (rc != 0) {
        op_free(op);
        return rc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK;
    }
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
    c->n_ops++;
    c->refs++;
    remote_hold(&s->rs);
    return 0;
}

/* ------------------------------------------------------------------ listing: cursor */

static void cursor_destroy(hl_cursor *c) {
    http_store *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else if (s->cursors == c)
        s->cursors = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hl_dir *d;
    while ((d = cursor_pop_dir(c)))
        free(d);
    while (c->chead) {
        hl_chunk *ch = c->chead;
        c->chead = ch->next;
        chunk_free(ch);
    }
    free(c->prefix);
    free(c);
}

static void cursor_unref(hl_cursor *c) {
    c->refs--;
    if (c->dead && c->refs == 0)
        cursor_destroy(c);
}

/* Stops the walk: queued directories are dropped, requests canceled (the engine may run
 * their callbacks now or later; either way they only free themselves). */
static void cursor_cancel_ops(hl_cursor *c) {
    hl_dir *d;
    while ((d = cursor_pop_dir(c)))
        free(d);
    c->refs++;
    c->cancelling = true;
    while (c->s->rs.net) {
        hl_op *op = c->ops;
        while (op && op->cancel_sent)
            op = op->next;
        if (!op)
            break;
        op->cancel_sent = true;
        net_cancel(c->s->rs.net, &op->nr); /* may free op */
    }
    c->cancelling = false;
    c->refs--;
}

static void cursor_fail(hl_cursor *c, int status, const char *msg) {
    if (c->fatal)
        return;
    c->fatal = status;
    snprintf(c->fatal_msg, sizeof c->fatal_msg, "%s", msg);
    cursor_cancel_ops(c);
}

/* The caller no longer holds the cursor: free it once no request refers to it. */
static void cursor_release(hl_cursor *c) {
    c->dead = true;
    c->want = false;
    cursor_cancel_ops(c);
    if (c->refs == 0)
        cursor_destroy(c);
}

static void on_kick(uv_timer_t *t);

static void arm_kick(http_store *s, hl_cursor *c) {
    c->kicked = true;
    if (!s->rs.closing)
        uv_timer_start(&s->kick, on_kick, 0, 0);
}

static void deliver(hl_cursor *c, bool walk_over) {
    http_store *s = c->s;
    store_list_req *req = c->req;
    size_t page = req->page_size;
    if (s->rs.closing) {
        /* store_close: straight to the final "canceled" page */
        if (!c->fatal) {
            c->fatal = STORE_E_CANCELED;
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "%s: canceled", s->rs.base.url);
        }
        for (hl_chunk *ch = c->chead; ch; ch = ch->next)
            ch->pos = ch->n;
        c->buffered = 0;
        walk_over = true;
    }
    size_t n = c->buffered < page ? c->buffered : page;
    store_entry *ents = calloc(n ? n : 1, sizeof *ents);
    store_bad_entry *bads = calloc(n ? n : 1, sizeof *bads);
    int status = STORE_OK;
    size_t ne = 0, nb = 0;
    if (!ents || !bads) {
        free(ents);
        free(bads);
        ents = NULL;
        bads = NULL;
        n = 0;
        if (!c->fatal) {
            c->fatal = STORE_E_NOMEM;
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "out of memory");
            cursor_cancel_ops(c);
        }
        for (hl_chunk *ch = c->chead; ch; ch = ch->next)
            ch->pos = ch->n;
        c->buffered = 0;
        walk_over = true;
    }
    hl_chunk *ch = c->chead;
    for (size_t taken = 0; taken < n && ch; ch = ch->next) {
        while (ch->pos < ch->n && taken < n) {
            hl_item *it = &ch->items[ch->pos++];
            const char *k = ch->strings.p + it->key_off;
            if (it->bad_status) {
                bads[nb].key = k;
                bads[nb].status = it->bad_status;
                bads[nb].message = ch->strings.p + it->msg_off;
                bads[nb].attempts = it->attempts;
                nb++;
            } else {
                ents[ne].key = k;
                ents[ne].key_len = it->key_len;
                ents[ne].size = it->size;
                ents[ne].mtime_ms = it->mtime_ms;
                ents[ne].etag = NULL;
                ne++;
            }
            taken++;
        }
    }
    c->buffered -= n;
    bool done = walk_over && c->buffered == 0;
    if (done && c->fatal) {
        status = c->fatal;
        snprintf(req->errmsg, sizeof req->errmsg, "%s", c->fatal_msg);
        req->attempts = c->fatal_attempts;
    }
    c->want = false;
    c->in_cb = true;
    if (done)
        req->priv = NULL; /* the contract: a finished listing's cursor is freed by the store */
    req->cb(req, status, ents, ne, bads, nb, done);
    c->in_cb = false;
    free(ents);
    free(bads);
    /* drop the chunks delivered in full (the callback's entries pointed into them) */
    while (c->chead && c->chead->pos == c->chead->n) {
        hl_chunk *h = c->chead;
        c->chead = h->next;
        if (!c->chead)
            c->ctail = NULL;
        chunk_free(h);
    }
    if (done || c->dead) {
        cursor_release(c);
        return;
    }
    if (c->want && !s->rs.closing)
        arm_kick(s, c);
}

/* Starts directory requests while the buffer has room, and delivers a page when one is
 * asked for and ready. Never called from inside store_list_next (pages are delivered later
 * on the loop, as the contract wants). */
static void start_dirs(hl_cursor *c) {
    http_store *s = c->s;
    size_t page = c->req->page_size;
    size_t high = page * 4 > 4096 ? page * 4 : 4096;
    unsigned parallel = c->one_at_a_time ? 1 : s->list_parallel;
    while (!c->fatal && !s->rs.closing && c->qhead && c->n_ops < parallel && c->buffered < high) {
        hl_dir *d = cursor_pop_dir(c);
        int rc = start_dir(c, d);
        if (rc != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s/%.*s: could not start the PROPFIND request",
                     s->rs.base.url, ut_utf8_prec(d->key, 150), d->key);
            free(d);
            cursor_fail(c, rc, msg);
            break;
        }
        free(d);
    }
}

static void cursor_pump(hl_cursor *c) {
    if (c->dead || c->in_cb || c->cancelling)
        return;
    size_t page = c->req->page_size;
    start_dirs(c);
    if (!c->want)
        return;
    bool walk_over = c->fatal || (!c->qhead && c->n_ops == 0);
    if (c->buffered >= page || walk_over)
        deliver(c, walk_over);
}

static void on_kick(uv_timer_t *t) {
    http_store *s = t->data;
    remote_hold(&s->rs); /* callbacks may close the store */
    bool again = true;
    while (again && !s->rs.closing) {
        again = false;
        for (hl_cursor *c = s->cursors; c; c = c->next) {
            if (c->kicked && !c->in_cb) {
                c->kicked = false;
                cursor_pump(c); /* may free c and change the list: start over */
                again = true;
                break;
            }
        }
    }
    remote_release(&s->rs);
}

static int http_list_next(store *base, store_list_req *req) {
    http_store *s = (http_store *)base;
    int brc = remote_list_begin(s->rs.closing, req, false);
    if (brc)
        return brc;
    hl_cursor *c = req->priv;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return STORE_E_NOMEM;
        c->s = s;
        c->req = req;
        c->prefix = strdup(req->prefix ? req->prefix : "");
        if (!c->prefix) {
            free(c);
            return STORE_E_NOMEM;
        }
        c->prefix_len = strlen(c->prefix);
        c->next = s->cursors;
        if (s->cursors)
            s->cursors->prev = c;
        s->cursors = c;
        /* the walk starts at the deepest directory the prefix names */
        size_t dl = c->prefix_len;
        while (dl && c->prefix[dl - 1] != '/')
            dl--;
        char *start = strndup(c->prefix, dl);
        if (!start) {
            cursor_destroy(c);
            return STORE_E_NOMEM;
        }
        cursor_push_dirs(c, start, dl + 1, 0);
        free(start);
        if (c->fatal) {
            cursor_destroy(c);
            return STORE_E_NOMEM;
        }
        req->priv = c;
    } else if (c->want || c->dead) {
        return STORE_E_CONFIG; /* a page is already asked for */
    }
    c->req = req;
    c->want = true;
    /* requests start now; the page goes out later from the loop (never from in here) */
    if (!c->fatal && !c->cancelling)
        start_dirs(c);
    arm_kick(s, c);
    return 0;
}

static void http_list_free(store *base, store_list_req *req) {
    (void)base;
    hl_cursor *c = req->priv;
    req->priv = NULL;
    if (!c)
        return;
    if (c->in_cb) {
        c->dead = true; /* deliver() releases it when the callback returns */
        return;
    }
    cursor_release(c);
}

/* ------------------------------------------------------------------ open / close */

static void free_store(remote_store *rs) {
    http_store *s = (http_store *)rs;
    free(s->base_url);
    free(s->base_path);
    free(s->rs.base.url);
    free(s);
}

static void on_kick_closed(uv_handle_t *h) {
    http_store *s = h->data;
    remote_release(&s->rs); /* the timer's hold */
}

/* At close, before the engine goes: every walk stops; a caller waiting for a page hears
 * "canceled". Nothing here may start or cancel requests: the engine cancels them all. */
static void http_cancel(remote_store *rs) {
    http_store *s = (http_store *)rs;
    for (hl_cursor *c = s->cursors; c; c = c->next)
        if (!c->fatal) {
            c->fatal = STORE_E_CANCELED;
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "%s: canceled", s->rs.base.url);
        }
}

/* At close, after the engine: the remaining cursors. Waiting ones get their last page;
 * all are released (their req->priv cleared: the store is gone, there is nothing left to
 * free). Then the timer, whose close gives back its hold. */
static void http_closed(remote_store *rs) {
    http_store *s = (http_store *)rs;
    bool again = true;
    while (again) {
        again = false;
        for (hl_cursor *c = s->cursors; c; c = c->next) {
            if (c->dead)
                continue;
            if (c->in_cb) {
                /* closed from inside its own callback: deliver() releases it after */
                c->dead = true;
                c->req->priv = NULL;
                continue;
            }
            if (c->want) {
                deliver(c, true); /* final: releases c */
            } else {
                c->req->priv = NULL;
                cursor_release(c);
            }
            again = true;
            break;
        }
    }
    uv_close((uv_handle_t *)&s->kick, on_kick_closed);
}

static const store_vtable http_vtable = {remote_close, http_list_next, http_list_free, http_get,
                                         NULL,         NULL,           NULL,           false};
static const remote_ops http_ops = {
    .cancel = http_cancel,
    .closed = http_closed,
    .destroy = free_store,
    .read_done = http_read_done,
    .read_free = http_read_free,
};

/* obstore_config keys: object_store's HTTP store has only the general client options. */
enum { K_USER_AGENT, K_ALLOW_HTTP, K_IGNORED, K_N };
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
static const remote_opt http_opts[K_N] = {
    [K_USER_AGENT] = {NAMES("user_agent"), NULL, REMOTE_STRING, 0},
    /* accepted, and what it asks for holds: an http:// store URL is read over http */
    [K_ALLOW_HTTP] = {NAMES("allow_http"), NULL, REMOTE_STRING, 0},
    [K_IGNORED] = {NAMES("timeout", "connect_timeout", "pool_idle_timeout",
                         "pool_max_idle_per_host", "http2_keep_alive_interval",
                         "http2_keep_alive_timeout", "http2_keep_alive_while_idle", "http1_only",
                         "http2_only", "default_content_type", "randomize_addresses"),
                   NULL, REMOTE_STRING, REMOTE_IGNORED},
};
#undef NAMES

const remote_backend store_http_backend = {"an http(s)://", http_opts, K_N, NULL};

int store_http_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                    char *err, size_t errlen) {
    *out = NULL;
    const char *v[K_N];
    int orc = remote_options_parse(&store_http_backend, opts, v, err, errlen);
    if (orc)
        return orc;
    size_t sl = !strncasecmp(url, "https://", 8) ? 8 : !strncasecmp(url, "http://", 7) ? 7 : 0;
    if (!sl)
        return store__fail(err, errlen, STORE_E_CONFIG, "not an http(s):// URL: '%.*s'",
                           ut_utf8_prec(url, 200), url);
    const char *auth = url + sl;
    size_t al = strcspn(auth, "/?#");
    if (al == 0)
        return store__fail(err, errlen, STORE_E_CONFIG, "no host in '%.*s'", ut_utf8_prec(url, 200),
                           url);
    if (strpbrk(url, "?#"))
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "'%.*s': query strings are not supported in store URLs",
                           ut_utf8_prec(url, 200), url);
    const char *at = memchr(auth, '@', al);
    const char *host = at ? at + 1 : auth;
    size_t hl = al - (size_t)(host - auth);

    http_store *s = calloc(1, sizeof *s);
    if (!s)
        return STORE_E_NOMEM;
    remote_store_init(&s->rs, &http_vtable, &http_ops, loop);
    int rc = STORE_E_NOMEM;
    ut_buf bu = {0}, bp = {0}, disp = {0};
    /* the path, decoded then re-encoded, so "a b" and "a%20b" name the same directory */
    const char *path = auth + al;
    size_t pl = strlen(path);
    ut_buf_puts(&bp, "/");
    {
        ut_buf raw = {0};
        if (!decode_path(&raw, path, pl)) {
            ut_buf_free(&raw);
            rc = store__fail(err, errlen, STORE_E_CONFIG, "'%.*s': NUL in the path",
                             ut_utf8_prec(url, 200), url);
            goto fail;
        }
        const char *r = ut_buf_str(&raw);
        while (*r == '/')
            r++;
        size_t rl = strlen(r);
        while (rl && r[rl - 1] == '/')
            rl--;
        ut_buf_put(&bp, r, rl);
        if (rl)
            ut_buf_puts(&bp, "/");
        ut_buf_free(&raw);
    }
    ut_buf_put(&bu, url, sl + al);
    s->origin_len = bu.len;
    encode_path(&bu, ut_buf_str(&bp), bp.len);
    ut_buf_put(&disp, url, sl);
    ut_buf_put(&disp, host, hl);
    encode_path(&disp, ut_buf_str(&bp), bp.len ? bp.len - 1 : 0);
    if (bu.bad || bp.bad || disp.bad)
        goto fail;
    s->base_url = bu.p;
    s->base_path = bp.p;
    s->rs.base.url = disp.p;
    bu.p = bp.p = disp.p = NULL;
    s->list_parallel = HTTP_LIST_PARALLEL;
    if (opts->max_in_flight && opts->max_in_flight < s->list_parallel)
        s->list_parallel = opts->max_in_flight;

    rc = remote_store_engine(&s->rs, opts, v[K_USER_AGENT], s->rs.base.url, err, errlen);
    if (rc)
        goto fail;
    uv_timer_init(loop, &s->kick);
    s->kick.data = s;
    remote_hold(&s->rs); /* given back when the timer has closed */
    *out = &s->rs.base;
    return 0;
fail:
    ut_buf_free(&bu);
    ut_buf_free(&bp);
    ut_buf_free(&disp);
    remote_store_discard(&s->rs);
    return rc;
}
