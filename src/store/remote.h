/* remote.h - the core every networked backend (S3, GCS, Azure, HTTP) stands on (internal).
 *
 * Model: curl's Curl_handler tables. A backend declares a `remote_backend` (its option
 * table: name and aliases, environment variables, type, secret flag) and a `remote_ops`
 * (its hooks), and embeds a `remote_store` (store -> remote_store -> backend). This core
 * parses options with one function, builds the network engine from store_options, owns
 * the lifecycle (holds, one close that cancels what is in flight, deferred free), the read
 * op and its path, the listing cursor of one-page-at-a-time backends, and the one table
 * from HTTP status to error kind. Each backend keeps what is its own: URL/target building,
 * signing, the list request and its page parser, and the wording of its messages.
 *
 * HTTP status -> store error kind (the whole table, the same for every backend):
 *   401 -> auth (credentials missing, invalid or expired)
 *   403 -> access_denied
 *   404, 410 -> not_found
 *   412 -> exists (writes: a create-only put found the key)
 *   429, 503 -> throttled (the engine retried them first)
 *   anything else -> http
 * A backend may refine a status only with what the body says (Azure's 403
 * AuthenticationFailed is auth; S3's 301 with a region header is config). */
#ifndef STORE_REMOTE_H
#define STORE_REMOTE_H

#include "net.h"
#include "store_impl.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    REMOTE_STRING,
    REMOTE_BOOL, /* util's booleans: true/yes/y/on/1, false/no/n/off/0 (any case) */
    REMOTE_INT,  /* decimal digits */
    REMOTE_URL,  /* the backend checks what it accepts (its message names its rules) */
} remote_opt_type;

enum {
    REMOTE_SECRET = 1,      /* masked wherever options are shown (_SUCCESS, Parquet) */
    REMOTE_IGNORED = 2,     /* accepted, meaningless for a reader that lists and reads */
    REMOTE_UNSUPPORTED = 4, /* recognised, refused with STORE_E_UNSUPPORTED */
};

typedef struct remote_opt {
    const char *const *names; /* canonical name first, then aliases; NULL-terminated;
                                 compared without regard to case */
    const char *const *env;   /* variables read when no option sets it, first set one
                                 wins; NULL = none */
    remote_opt_type type;
    unsigned flags;
} remote_opt;

typedef struct remote_backend {
    const char *name;       /* in messages: "an s3://", "an Azure", ... */
    const remote_opt *opts; /* a backend indexes it with its own enum */
    size_t n_opts;
    const char *unsupported_hint; /* appended to the refusal of an UNSUPPORTED option */
} remote_backend;

/* Reads opts->kv (the explicit options win; the last of repeated keys) and then the
 * environment into values[n_opts] (NULL = not set). Refuses, naming the key: unknown keys
 * (STORE_E_CONFIG), UNSUPPORTED ones (STORE_E_UNSUPPORTED), booleans and integers that
 * do not parse (STORE_E_CONFIG). allow_invalid_certificates: true is refused everywhere
 * as an option (TLS verification stays on), false is accepted; the CLI maps a config's
 * client_options onto store_options.insecure_tls instead, with a warning. */
int remote_options_parse(const remote_backend *be, const store_options *opts, const char **values,
                         char *err, size_t errlen);
/* A validated REMOTE_BOOL value: NULL (unset) is false. */
bool remote_bool(const char *v);
/* Index of the option named key (or one of its aliases), or -1. */
int remote_option_find(const remote_backend *be, const char *key);

/* The proxy options every backend takes (obstore's client options proxy_url,
 * proxy_ca_certificate, proxy_excludes): 0, 1, 2 for them (any case), else -1.
 * remote_options_parse accepts them; remote_net_options hands them to the engine. */
int remote_proxy_key(const char *key);
/* The engine's options for a store, every field: the five the user controls from opts (a
 * zero field, or opts NULL: STORE_DEFAULT_*), the store's retry and stall tuning for the
 * rest (the engine has no defaults), user_agent NULL means "tiff-dumper/VERSION". */
void remote_net_options(net_options *no, const store_options *opts, const char *user_agent);

/* A transfer that failed without an HTTP status (net_status != NET_E_HTTP; NET_OK gives
 * STORE_OK and no message): its kind, and "what: reason" in msg, naming endpoint (a URL
 * without secrets) for connection failures. */
int remote_net_failure(int net_status, const char *what, const char *endpoint, char *msg,
                       size_t msglen);

/* The table above. */
int remote_http_kind(long http_status);
/* A failed engine status (not NET_E_HTTP) -> store error kind. */
int remote_net_kind(int net_status);

/* ---- the store every networked backend embeds: store -> remote_store -> backend ----
 *
 * Lifecycle, once for all four: every operation that will call back holds the store
 * (remote_hold when it starts, remote_release after its callback ran), and so does
 * remote_close while it runs. remote_close cancels what is in flight, each callback running
 * once with STORE_E_CANCELED: first what waits outside the engine (the backend's cancel
 * hook: requests waiting for credentials, listing walks), then the engine's transfers. The
 * backend's destroy hook runs when the last hold goes after close, so a callback may close
 * the store and the store outlives the callbacks still to come. */
typedef struct remote_store remote_store;
typedef struct remote_read remote_read;
typedef struct remote_cursor remote_cursor;

typedef struct remote_ops {
    /* At close, before the engine is freed: finish what waits outside the engine with
     * STORE_E_CANCELED. NULL: nothing waits. */
    void (*cancel)(remote_store *rs);
    /* At close, after the engine is freed (its callbacks ran or will run): finish what
     * the backend still holds. NULL: nothing. */
    void (*closed)(remote_store *rs);
    /* Frees the backend's own fields and the struct (base.url included). */
    void (*destroy)(remote_store *rs);
    /* Reads (remote_read_*): submits rd->nr, or queues it behind credentials; a store
     * code (message in rd->req->errmsg) when it cannot. NULL: straight to the engine. */
    int (*read_submit)(remote_read *rd);
    /* A read's transfer finished: the store code, with the message in rd->req->errmsg
     * and rd->req->got on success (the engine's account is already in req). */
    int (*read_done)(remote_read *rd, int net_status);
    /* Frees a finished read op. */
    void (*read_free)(remote_read *rd);
    /* Listing cursors (remote_cursor): frees one; and, optional, takes a page that waits
     * outside the engine back out of its queue (true if it was there). */
    void (*cursor_free)(remote_cursor *c);
    bool (*cursor_unqueue)(remote_cursor *c);
} remote_ops;

struct remote_store {
    store base; /* first: a remote_store is a store */
    const remote_ops *ops;
    net_engine *net;    /* the engine; NULL once remote_close freed it */
    unsigned in_flight; /* holds: operations that will call back, plus close's own */
    bool closing;
};

/* Fills the parts every backend sets; the rest of *rs is zero. */
void remote_store_init(remote_store *rs, const store_vtable *vt, const remote_ops *ops,
                       uv_loop_t *loop);
/* The store's engine (also its base.net, for store_get_stats), set up with
 * remote_net_options. On failure writes "what: reason" into err and returns
 * STORE_E_CONFIG. */
int remote_store_engine(remote_store *rs, const store_options *opts, const char *user_agent,
                        const char *what, char *err, size_t errlen);
/* An open that failed: frees the engine, if made, and calls destroy. */
void remote_store_discard(remote_store *rs);
void remote_hold(remote_store *rs);
/* Drops a hold; the last one after close destroys the store. */
void remote_release(remote_store *rs);
/* The close of every networked backend (its vtable entry). A second call does nothing. */
void remote_close(store *s);

/* ---- ranged reads: one op and one path ---- */
struct remote_read {
    net_request nr; /* nr.data is the remote_read; first, so a backend op that
                       embeds remote_read first is its own net data */
    remote_store *rs;
    store_get_req *req;
};
/* Sets rd up to GET url's bytes [req->offset, req->offset + req->length) straight into
 * req->buf, with remote_read_done as the engine callback and rd as its data. The engine
 * stops a server that ignores Range once buf is full, so no backend reads more than asked
 * (what such a 200 means is the backend's call, in read_done). */
void remote_read_init(remote_read *rd, remote_store *rs, store_get_req *req, const char *url,
                      net_prepare_cb prepare);
/* Holds the store and submits (ops->read_submit, else the engine, whose refusal reads
 * "<store url>: could not start request: <why>"). Non-zero: a store code, nothing held,
 * and the caller still owns rd. */
int remote_read_start(remote_read *rd);
/* The engine callback of reads: copies the engine's account into req (http_status,
 * attempts, object_size; got stays 0, only the backend knows whether buf holds the object
 * or an error page), then ops->read_done and remote_read_finish. */
void remote_read_done(net_request *nr, int net_status);
/* The answers to a Range that Azure and GCS read alike: 416 (the range starts at or past
 * the end: nothing to read; at offset 0 the object is empty) is STORE_OK; a 200 or 206 the
 * engine refused (the server ignored Range) is STORE_E_PROTOCOL, "what: the server ignored
 * the Range header". 1 for any other answer: the backend maps it. */
int remote_read_range_answer(remote_read *rd, int net_status, const char *what);
/* Ends a read with status (its message already in req->errmsg): frees the op, runs the
 * caller's callback once, releases the store. */
void remote_read_finish(remote_read *rd, int status);

/* ---- listing cursors of one page request at a time (Azure, GCS) ---- */
struct remote_cursor {
    remote_store *rs;
    store_list_req *req;
    net_request *nr; /* the page request */
    bool in_flight, in_cb, abandoned, free_pending;
};
/* The start of a cursor backend's store_list_next: remote_list_begin's checks, then the
 * listing's cursor (req->priv), or a new zeroed one of size bytes (rs and req set, *fresh:
 * the backend fills in the rest and sets req->priv). Non-zero: a store code, message in
 * req->errmsg. */
int remote_cursor_begin(remote_store *rs, store_list_req *req, size_t size, remote_cursor **out,
                        bool *fresh);
/* Sets a page request up: a GET of url whose body streams to on_body. */
void remote_page_init(net_request *nr, const char *url, net_body_cb on_body, net_prepare_cb prepare,
                      net_done_cb cb, void *data);
/* Holds the store and submits the page (submit: the backend's way, returning a store code;
 * NULL: the engine, whose net code is returned). Non-zero: refused, nothing held. */
int remote_page_start(remote_cursor *c, int (*submit)(remote_cursor *c));
/* First thing in a page's done callback: false when the listing was dropped meanwhile
 * (the cursor is freed and the store released: return at once). */
bool remote_page_landed(remote_cursor *c);
/* Last thing: hands the page to the caller, frees the cursor when done or dropped from
 * inside the callback, and releases the store. */
void remote_page_deliver(remote_cursor *c, int status, const store_entry *ents, size_t n,
                         bool done);
/* store_list_free of cursor backends (their vtable entry). */
void remote_list_free(store *s, store_list_req *req);

/* ---- starting a request: the checks every networked backend makes ---- */

/* Before a read: clears what req reports; STORE_E_CANCELED once the store is closing;
 * STORE_E_CONFIG ("invalid read request" in req->errmsg) unless store__get_valid. 0: go. */
int remote_get_begin(bool closing, store_get_req *req);
/* Before a listing page: clears req->errmsg; STORE_E_CANCELED once closing; STORE_E_CONFIG
 * (with a message) without a callback and a page size, or while a page is in flight. */
int remote_list_begin(bool closing, store_list_req *req, bool page_in_flight);

/* The option tables of the backends, for store_option_is_secret. */
extern const remote_backend store_s3_backend, store_azure_backend, store_gcs_backend,
    store_http_backend;

#endif
