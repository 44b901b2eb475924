/* remote.h - the core every networked backend (S3, GCS, Azure, HTTP) stands on (internal).
 *
 * Model: curl's Curl_handler tables. A backend declares a `remote_backend` (its option
 * table: name and aliases, environment variables, type, secret flag) and a `remote_ops`
 * (its hooks), and embeds a `remote_store` (store -> remote_store -> backend). This core
 * parses options with one function, builds the network engine from store_options, owns
 * the lifecycle (holds, one close that cancels what is in flight, deferred free), the read
 * op and its path, the listing cursor of one-page-at-a-time backends, the write op
 * (remote_put.c: puts and deletes, multipart included), and the one table from HTTP
 * status to error kind. Each backend keeps what is its own: URL/target building, signing,
 * the list request and its page parser, its upload protocol's requests and answers, and
 * the wording of its messages.
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

/* ---- writes: one operation for the put and delete of every networked backend ----
 *
 * S3 multipart, Azure blocks and GCS resumable sessions are one machine with three
 * dialects. What they share is the part that is easy to get subtly wrong, so it lives
 * here once: the part size and its limits, reading the source one part at a time (memory
 * is one part), the phase order, holding the store, waiting for credentials and taking the
 * wait back on a cancel, net_start, which request a cancel may stop (never one that may
 * commit the object: its answer is the only way to know whether it did), aborting an open
 * upload after a failure or a cancel (not at close: the engine is gone), and one callback.
 *
 * The hooks are cut where the three really differ, and nowhere else:
 *   auth_wait   credentials come from different providers with their own queues (S3's
 *               credential source, the store_token of Azure and GCS);
 *   build       a phase's request, once per phase: URL, method, a body of the backend's
 *               own (Complete's part list, Put Block List, a session's "{}") and what is
 *               computed over the body (S3's SHA-256, Azure's Content-MD5);
 *   prepare     per attempt, as the engine retries: headers and signature (the time and
 *               the credentials change between attempts);
 *   landed      what an answer means: the status wording of the backend's error
 *               document, and what it hands the next phase (S3's UploadId and ETags, GCS's
 *               session URL and its Range after a chunk).
 *
 * Phases: length <= part size: SINGLE. Else [BEGIN] PART 1..n [COMMIT], with BEGIN and
 * COMMIT only where the protocol has them (Azure has no BEGIN, GCS no COMMIT: its last
 * chunk commits). After BEGIN succeeded the upload is open, and a failure or a cancel
 * sends ABORT (has_abort) before the callback, reporting what made it abort. A delete is
 * one DELETE, an absent key counting as deleted. Retries are the engine's, per request. */
typedef enum {
    RP_SINGLE, /* the whole object in one request */
    RP_BEGIN,  /* open a multipart upload / session */
    RP_PART,   /* bytes [off, off + body_len) of the source */
    RP_COMMIT, /* make the object from the parts */
    RP_ABORT,  /* drop an open upload */
    RP_DELETE,
} remote_put_phase;
#define RP_NPHASES 6

typedef struct remote_put remote_put;

typedef struct remote_put_ops {
    size_t op_size;     /* the backend's op, which embeds remote_put first */
    size_t resp_max;    /* response bytes kept (error documents, Create's answer) */
    uint64_t max_parts; /* a larger object gets larger parts; 0: no limit */
    uint64_t part_unit; /* part sizes round up to a multiple of it; 0: none */
    uint64_t max_part;  /* larger parts are refused (STORE_E_CONFIG); 0: SIZE_MAX/2 */
    bool has_begin, has_commit, has_abort;
    const char *names[RP_NPHASES]; /* the protocol's name of each phase, for messages */
    /* The credential gate before each request: 0 to go now; 1 when the op waits and the
     * backend will call remote_put_authed once; a store code (reason in *why) when there
     * are none. NULL: always go. */
    int (*auth_wait)(remote_put *op, const char **why);
    /* Takes a waiting op out of the queue (true if it was there: no remote_put_authed). */
    bool (*auth_unwait)(remote_put *op);
    /* Sets op->nr up for op->phase: method and url (kept alive by the op), and a body of
     * its own for BEGIN/COMMIT (nr.body is the source part for SINGLE/PART, else NULL).
     * A store code fails the op (STORE_E_NOMEM: the core writes the message). */
    int (*build)(remote_put *op);
    /* Per attempt: the attempt's headers and signature (a net code; op->resp is reset). */
    int (*prepare)(remote_put *op, void *headers);
    net_header_cb on_header;        /* may be NULL; nr->data is the op */
    net_retry_check_cb retry_check; /* may be NULL */
    /* A finished request (net_status, op->nr, op->resp): STORE_OK to go on, else a store
     * code with its message in remote_put_errmsg(op) (what: "<url>/<key>: <phase name>").
     * For a PART, op->next_off is off + body_len on entry: where the next part starts. */
    int (*landed)(remote_put *op, int net_status, const char *what);
    /* Frees the backend's own fields (not the op). May be NULL. */
    void (*free)(remote_put *op);
} remote_put_ops;

struct remote_put {
    net_request nr; /* first: nr.data is the op */
    remote_store *rs;
    const remote_put_ops *ops;
    store_put_req *req;    /* a put, or NULL */
    store_delete_req *del; /* a delete, or NULL */
    remote_put_phase phase;
    uint64_t part_size;
    uint64_t off, next_off; /* the current part's offset; where the next one starts */
    unsigned part_no;       /* 1-based number of the current part */
    ut_buf resp;            /* this attempt's response body, at most resp_max bytes */
    /* private to the core */
    const uint8_t *body;
    size_t body_len;
    uint8_t *chunk; /* one part read from a file source */
    bool open, waiting, in_net, canceled;
    int fail_status;
    char fail_msg[256];
};

/* store_put / store_delete of a backend: refused with STORE_E_CANCELED once closing, a
 * store code and a message when the op cannot be made; 0: the callback will run once. */
int remote_put_start(remote_store *rs, const remote_put_ops *ops, store_put_req *req);
int remote_delete_start(remote_store *rs, const remote_put_ops *ops, store_delete_req *req);
/* store_put_cancel of a backend. */
void remote_put_cancel(remote_store *rs, store_put_req *req);
/* The backend's credential wait ended (status STORE_OK, or a store code and why). */
void remote_put_authed(remote_put *op, int status, const char *why);
const char *remote_put_key(const remote_put *op);
char *remote_put_errmsg(remote_put *op); /* the request's errmsg, 256 bytes */

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
