/* remote.c - option tables, engine set-up and the status table of the networked backends
 * (see remote.h). */
#include "remote.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int remote_option_find(const remote_backend *be, const char *key) {
    for (size_t i = 0; i < be->n_opts; i++)
        for (size_t a = 0; be->opts[i].names[a]; a++)
            if (ut_strieq(key, be->opts[i].names[a]))
                return (int)i;
    return -1;
}

bool remote_bool(const char *v) { return v && ut_parse_bool(v) == 1; }

static bool digits(const char *v) {
    if (!*v)
        return false;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return false;
    return true;
}

/* Whether v suits option o; else a message naming where it came from. */
static int check_value(const remote_backend *be, const remote_opt *o, const char *from,
                       const char *v, char *err, size_t errlen) {
    if (o->type == REMOTE_BOOL && ut_parse_bool(v) < 0)
        return store__fail(
            err, errlen, STORE_E_CONFIG, "%s '%.*s' of %s store wants true or false, not '%.*s'",
            from, ut_utf8_prec(o->names[0], 64), o->names[0], be->name, ut_utf8_prec(v, 64), v);
    if (o->type == REMOTE_INT && !digits(v))
        return store__fail(
            err, errlen, STORE_E_CONFIG, "%s '%.*s' of %s store wants a whole number, not '%.*s'",
            from, ut_utf8_prec(o->names[0], 64), o->names[0], be->name, ut_utf8_prec(v, 64), v);
    return 0;
}

int remote_options_parse(const remote_backend *be, const store_options *opts, const char **values,
                         char *err, size_t errlen) {
    for (size_t i = 0; i < be->n_opts; i++)
        values[i] = NULL;
    for (size_t i = 0; opts && i < opts->n_kv; i++) {
        const char *k = opts->kv[i].key ? opts->kv[i].key : "";
        const char *v = opts->kv[i].value ? opts->kv[i].value : "";
        if (ut_strieq(k, "allow_invalid_certificates")) {
            /* one answer for every backend: verification cannot be turned off */
            int b = ut_parse_bool(v);
            if (b < 0)
                return store__fail(err, errlen, STORE_E_CONFIG,
                                   "obstore_config key 'allow_invalid_certificates' wants "
                                   "true or false, not '%.*s'",
                                   ut_utf8_prec(v, 64), v);
            if (b)
                return store__fail(err, errlen, STORE_E_CONFIG,
                                   "allow_invalid_certificates is not supported: TLS "
                                   "verification stays on (add a CA file with ca_bundle)");
            continue;
        }
        if (remote_proxy_key(k) >= 0)
            continue; /* every backend's: remote_net_options hands them to the engine */
        int slot = remote_option_find(be, k);
        if (slot < 0) {
            char known[200] = "";
            size_t used = 0;
            for (size_t j = 0; j < be->n_opts; j++) {
                if (be->opts[j].flags & (REMOTE_IGNORED | REMOTE_UNSUPPORTED))
                    continue;
                const char *name = be->opts[j].names[0];
                bool fits = used + strlen(name) + sizeof ", , ..." <= sizeof known;
                int w = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                                 fits ? name : "...");
                if (w < 0 || !fits)
                    break;
                used += (size_t)w;
            }
            return store__fail(err, errlen, STORE_E_CONFIG,
                               "unknown obstore_config key '%.*s' for %s store (known: %s)",
                               ut_utf8_prec(k, 64), k, be->name, known);
        }
        const remote_opt *o = &be->opts[slot];
        if (o->flags & REMOTE_UNSUPPORTED)
            return store__fail(err, errlen, STORE_E_UNSUPPORTED,
                               "obstore_config key '%.*s' is not supported for %s store%s%s",
                               ut_utf8_prec(k, 64), k, be->name, be->unsupported_hint ? ": " : "",
                               be->unsupported_hint ? be->unsupported_hint : "");
        int rc = check_value(be, o, "obstore_config key", v, err, errlen);
        if (rc)
            return rc;
        values[slot] = v;
    }
    for (size_t i = 0; i < be->n_opts; i++) {
        const remote_opt *o = &be->opts[i];
        for (size_t e = 0; !values[i] && o->env && o->env[e]; e++) {
            const char *v = getenv(o->env[e]);
            if (!v || !*v)
                continue;
            int rc = check_value(be, o, "environment variable for", v, err, errlen);
            if (rc)
                return rc;
            values[i] = v;
        }
    }
    return 0;
}

int remote_proxy_key(const char *key) {
    static const char *const names[3] = {"proxy_url", "proxy_ca_certificate", "proxy_excludes"};
    for (int i = 0; i < 3; i++)
        if (ut_strieq(key, names[i]))
            return i;
    return -1;
}

void remote_net_options(net_options *no, const store_options *opts, const char *user_agent) {
    static const store_options defaults = STORE_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
        /* zero means "not set": the store default */
#define PICK(f) (opts->f ? opts->f : defaults.f)
    *no = (net_options){
        .max_in_flight = PICK(max_in_flight),
        .max_host_connections = 0, /* = max_in_flight */
        .connect_timeout_ms = PICK(connect_timeout_ms),
        .request_timeout_ms = PICK(request_timeout_ms),
        .low_speed_time_ms = 30000, /* a transfer stalled this long is retried */
        .max_attempts = PICK(max_attempts),
        /* backoff: random(0, min(20 s, 100 ms * 2^attempt)), or retry_config's */
        .retry_base_ms = opts->retry_base_ms ? opts->retry_base_ms : 100,
        .retry_cap_ms = opts->retry_cap_ms ? opts->retry_cap_ms : 20000,
        .retry_max_ms = PICK(retry_max_ms),
        .ca_bundle = opts->ca_bundle,
        .user_agent = user_agent && *user_agent               ? user_agent
                      : opts->user_agent && *opts->user_agent ? opts->user_agent
                                                              : "tiff-dumper/" TD_VERSION,
        /* the network section / client_options; obstore_config's own proxy keys win */
        .proxy = opts->proxy_url,
        .proxy_excludes = opts->no_proxy,
        .insecure_tls = opts->insecure_tls,
        .adaptive = true, /* halve concurrency on throttling, down to 2 at once */
        .adaptive_floor = 2,
        .engine = opts->net_engine ? NET_ENGINE_CURL : NET_ENGINE_AUTO,
    };
#undef PICK
    /* the proxy options every backend takes (obstore's client options); unset: libcurl
     * reads https_proxy / HTTPS_PROXY / no_proxy / NO_PROXY itself */
    const char **px[3] = {&no->proxy, &no->proxy_ca, &no->proxy_excludes};
    for (size_t i = 0; i < opts->n_kv; i++) {
        int k = remote_proxy_key(opts->kv[i].key ? opts->kv[i].key : "");
        if (k >= 0 && opts->kv[i].value && *opts->kv[i].value)
            *px[k] = opts->kv[i].value;
    }
}

static int engine_new(net_engine **out, uv_loop_t *loop, const store_options *opts,
                      const char *user_agent, const char *what, char *err, size_t errlen) {
    net_options no;
    remote_net_options(&no, opts, user_agent);
    char nerr[200] = "";
    *out = NULL;
    if (net_engine_new(out, loop, &no, nerr, sizeof nerr) != 0) {
        *out = NULL;
        return store__fail(err, errlen, STORE_E_CONFIG, "%s: %s", what, nerr);
    }
    return 0;
}

int remote_http_kind(long http_status) {
    switch (http_status) {
    case 401:
        return STORE_E_AUTH;
    case 403:
        return STORE_E_ACCESS;
    case 404:
    case 410:
        return STORE_E_NOT_FOUND;
    case 412: /* a create-only write (If-None-Match: *) found the key */
        return STORE_E_EXISTS;
    case 429:
    case 503:
        return STORE_E_THROTTLED;
    default:
        return STORE_E_HTTP;
    }
}

int remote_net_kind(int net_status) {
    switch (net_status) {
    case NET_OK:
        return STORE_OK;
    case NET_E_CANCELED:
        return STORE_E_CANCELED;
    case NET_E_TIMEOUT:
        return STORE_E_TIMEOUT;
    case NET_E_NOMEM:
        return STORE_E_NOMEM;
    case NET_E_TOO_BIG:
    case NET_E_PROTOCOL:
        return STORE_E_PROTOCOL;
    case NET_E_CONFIG:
        return STORE_E_CONFIG;
    case NET_E_HTTP:
        return STORE_E_HTTP;
    default: /* connect, DNS, TLS, resets */
        return STORE_E_NETWORK;
    }
}

int remote_net_failure(int net_status, const char *what, const char *endpoint, char *msg,
                       size_t msglen) {
    int kind = remote_net_kind(net_status);
    switch (kind) {
    case STORE_OK:
        break;
    case STORE_E_CANCELED:
        snprintf(msg, msglen, "%s: canceled", what);
        break;
    case STORE_E_TIMEOUT:
        snprintf(msg, msglen, "%s: timed out", what);
        break;
    case STORE_E_NOMEM:
        snprintf(msg, msglen, "%s: out of memory", what);
        break;
    case STORE_E_PROTOCOL:
        if (net_status == NET_E_PROTOCOL)
            snprintf(msg, msglen, "%s: malformed response (%.*s)", what, ut_utf8_prec(endpoint, 80),
                     endpoint);
        else
            snprintf(msg, msglen, "%s: response too large", what);
        break;
    default:
        snprintf(msg, msglen, "%s: %s (%.*s)", what, net_strerror(net_status),
                 ut_utf8_prec(endpoint, 80), endpoint);
        break;
    }
    return kind;
}

static void get_init(net_request *nr, const char *url, store_get_req *req, net_prepare_cb prepare,
                     net_done_cb cb, void *data) {
    nr->method = "GET";
    nr->url = url;
    nr->has_range = true;
    nr->range_offset = req->offset;
    nr->range_length = req->length;
    nr->buf = req->buf;
    nr->buf_cap = (size_t)req->length;
    nr->expect_total = req->known_size == UINT64_MAX ? 0 : req->known_size;
    nr->prepare = prepare;
    nr->cb = cb;
    nr->data = data;
}

static void get_result(store_get_req *req, const net_request *nr) {
    req->http_status = (int)nr->http_status;
    req->attempts = nr->attempts;
    req->object_size = nr->total_size;
    req->got = 0;
}

int remote_get_begin(bool closing, store_get_req *req) {
    store__get_reset(req);
    if (closing)
        return STORE_E_CANCELED;
    if (!store__get_valid(req))
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG, "invalid read request");
    return 0;
}

int remote_list_begin(bool closing, store_list_req *req, bool page_in_flight) {
    req->errmsg[0] = '\0';
    if (closing)
        return STORE_E_CANCELED;
    if (!req->cb || req->page_size == 0)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "listing needs a callback and a page size");
    if (page_in_flight)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_CONFIG,
                           "a page of this listing is already in flight");
    return 0;
}

/* ---- lifecycle ---- */

void remote_store_init(remote_store *rs, const store_vtable *vt, const remote_ops *ops,
                       uv_loop_t *loop) {
    rs->base.vt = vt;
    rs->base.loop = loop;
    rs->ops = ops;
}

int remote_store_engine(remote_store *rs, const store_options *opts, const char *user_agent,
                        const char *what, char *err, size_t errlen) {
    int rc = engine_new(&rs->net, rs->base.loop, opts, user_agent, what, err, errlen);
    rs->base.net = rs->net;
    return rc;
}

void remote_store_discard(remote_store *rs) {
    if (rs->net)
        net_engine_free(rs->net);
    rs->net = rs->base.net = NULL;
    rs->ops->destroy(rs);
}

void remote_hold(remote_store *rs) { rs->in_flight++; }

void remote_release(remote_store *rs) {
    /* !net: close has got past freeing the engine, so no engine callback can come */
    if (--rs->in_flight == 0 && rs->closing && !rs->net)
        rs->ops->destroy(rs);
}

void remote_close(store *s) {
    remote_store *rs = (remote_store *)s;
    if (rs->closing)
        return;
    rs->closing = true;
    remote_hold(rs); /* the callbacks run below may not free the store under us */
    if (rs->ops->cancel)
        rs->ops->cancel(rs);
    /* the engine cancels everything itself (callbacks now, or later when closed from
     * inside one of its callbacks: the holds keep the store until then) */
    net_engine *net = rs->net;
    rs->net = rs->base.net = NULL;
    if (net)
        net_engine_free(net);
    if (rs->ops->closed)
        rs->ops->closed(rs);
    remote_release(rs);
}

/* ---- reads ---- */

void remote_read_init(remote_read *rd, remote_store *rs, store_get_req *req, const char *url,
                      net_prepare_cb prepare) {
    rd->rs = rs;
    rd->req = req;
    get_init(&rd->nr, url, req, prepare, remote_read_done, rd);
}

int remote_read_start(remote_read *rd) {
    remote_store *rs = rd->rs;
    store_get_req *req = rd->req;
    req->priv = rd;
    remote_hold(rs);
    int rc;
    if (rs->ops->read_submit) {
        rc = rs->ops->read_submit(rd);
    } else {
        rc = net_start(rs->net, &rd->nr);
        if (rc != 0)
            rc = store__fail(req->errmsg, sizeof req->errmsg,
                             rc == NET_E_NOMEM ? STORE_E_NOMEM : STORE_E_NETWORK,
                             "%s: could not start request: %s", rs->base.url, net_strerror(rc));
    }
    if (rc != 0) {
        req->priv = NULL;
        remote_release(rs); /* the store is open (closing refuses reads): not the last */
    }
    return rc;
}

int remote_read_range_answer(remote_read *rd, int net_status, const char *what) {
    store_get_req *req = rd->req;
    if (net_status != NET_E_HTTP)
        return 1;
    if (rd->nr.http_status == 416) {
        if (req->offset == 0)
            req->object_size = 0;
        req->errmsg[0] = 0;
        return STORE_OK;
    }
    if (rd->nr.http_status == 200 || rd->nr.http_status == 206)
        return store__fail(req->errmsg, sizeof req->errmsg, STORE_E_PROTOCOL,
                           "%s: the server ignored the Range header", what);
    return 1;
}

void remote_read_finish(remote_read *rd, int status) {
    remote_store *rs = rd->rs;
    store_get_req *req = rd->req;
    rs->ops->read_free(rd);
    req->priv = NULL;
    req->cb(req, status); /* may close the store: the hold keeps it until the release */
    remote_release(rs);
}

void remote_read_done(net_request *nr, int net_status) {
    remote_read *rd = nr->data;
    get_result(rd->req, nr);
    remote_read_finish(rd, rd->rs->ops->read_done(rd, net_status));
}

/* ---- listing cursors ---- */

int remote_cursor_begin(remote_store *rs, store_list_req *req, size_t size, remote_cursor **out,
                        bool *fresh) {
    remote_cursor *c = req->priv;
    *out = NULL;
    *fresh = false;
    int rc = remote_list_begin(rs->closing, req, c && (c->in_flight || c->free_pending));
    if (rc)
        return rc;
    if (!c) {
        c = calloc(1, size);
        if (!c)
            return STORE_E_NOMEM;
        c->rs = rs;
        c->req = req;
        *fresh = true;
    }
    *out = c;
    return 0;
}

void remote_page_init(net_request *nr, const char *url, net_body_cb on_body, net_prepare_cb prepare,
                      net_done_cb cb, void *data) {
    memset(nr, 0, sizeof *nr);
    nr->method = "GET";
    nr->url = url;
    nr->on_body = on_body;
    nr->prepare = prepare;
    nr->cb = cb;
    nr->data = data;
}

int remote_page_start(remote_cursor *c, int (*submit)(remote_cursor *c)) {
    remote_store *rs = c->rs;
    c->in_flight = true;
    remote_hold(rs);
    int rc = submit ? submit(c) : net_start(rs->net, c->nr);
    if (rc != 0) {
        c->in_flight = false;
        remote_release(rs);
    }
    return rc;
}

bool remote_page_landed(remote_cursor *c) {
    remote_store *rs = c->rs;
    c->in_flight = false;
    if (!c->abandoned)
        return true;
    rs->ops->cursor_free(c);
    remote_release(rs);
    return false;
}

void remote_page_deliver(remote_cursor *c, int status, const store_entry *ents, size_t n,
                         bool done) {
    remote_store *rs = c->rs;
    store_list_req *req = c->req;
    /* Detached before the last callback, as the other backends do: it may free req (or
     * hand it to a thread that does), so req is not touched after it. */
    if (done && req->priv == c)
        req->priv = NULL;
    c->in_cb = true;
    req->cb(req, status, ents, n, NULL, 0, done);
    c->in_cb = false;
    if (done || c->free_pending)
        rs->ops->cursor_free(c);
    remote_release(rs);
}

void remote_list_free(store *s, store_list_req *req) {
    remote_store *rs = (remote_store *)s;
    remote_cursor *c = req->priv;
    req->priv = NULL;
    if (!c)
        return;
    if (c->in_cb) {
        c->free_pending = true; /* remote_page_deliver frees it when the callback returns */
        return;
    }
    if (c->in_flight) {
        if (rs->ops->cursor_unqueue && rs->ops->cursor_unqueue(c)) {
            rs->ops->cursor_free(c); /* never reached the engine: no callback will come */
            remote_release(rs);
            return;
        }
        c->abandoned = true;
        net_cancel(rs->net, c->nr); /* the page's callback frees it */
        return;
    }
    rs->ops->cursor_free(c);
}
