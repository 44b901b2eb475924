/* remote.h - the core every networked backend (S3, GCS, Azure, HTTP) stands on (internal).
 *
 * Model: curl's Curl_handler tables. A backend declares a `remote_backend`: its option
 * table (name and aliases, environment variables, type, secret flag) and nothing else of
 * the shared machinery; this core parses options with one function, builds the network
 * engine from store_options, and owns the one table from HTTP status to error kind. Each
 * backend keeps what is its own: URL/target building, signing, the list request and its
 * page parser, and the wording of its messages.
 *
 * HTTP status -> store error kind (the whole table, the same for every backend):
 *   401 -> auth (credentials missing, invalid or expired)
 *   403 -> access_denied
 *   404, 410 -> not_found
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
 * (TLS verification stays on), false is accepted. */
int remote_options_parse(const remote_backend *be, const store_options *opts,
                         const char **values, char *err, size_t errlen);
/* A validated REMOTE_BOOL value: NULL (unset) is false. */
bool remote_bool(const char *v);
/* Index of the option named key (or one of its aliases), or -1. */
int remote_option_find(const remote_backend *be, const char *key);

/* A network engine set up from the store options: a zero field takes its default
 * (STORE_DEFAULT_*), user_agent NULL means "tiff-dumper/VERSION". On failure writes
 * "what: reason" into err and returns STORE_E_CONFIG. */
int remote_engine_new(net_engine **out, uv_loop_t *loop, const store_options *opts,
                      const char *user_agent, const char *what, char *err, size_t errlen);

/* A transfer that failed without an HTTP status (net_status != NET_E_HTTP; NET_OK gives
 * STORE_OK and no message): its kind, and "what: reason" in msg, naming endpoint (a URL
 * without secrets) for connection failures. */
int remote_net_failure(int net_status, const char *what, const char *endpoint, char *msg,
                       size_t msglen);

/* The table above. */
int remote_http_kind(long http_status);
/* A failed engine status (not NET_E_HTTP) -> store error kind. */
int remote_net_kind(int net_status);

/* ---- starting a request: the checks every networked backend makes ---- */

/* Before a read: clears what req reports; STORE_E_CANCELED once the store is closing;
 * STORE_E_CONFIG ("invalid read request" in req->errmsg) unless store__get_valid. 0: go. */
int remote_get_begin(bool closing, store_get_req *req);
/* Before a listing page: clears req->errmsg; STORE_E_CANCELED once closing; STORE_E_CONFIG
 * (with a message) without a callback and a page size, or while a page is in flight. */
int remote_list_begin(bool closing, store_list_req *req, bool page_in_flight);

/* ---- ranged GET through the engine (the engine retries) ---- */
/* Sets nr up to GET url's bytes [req->offset, req->offset + req->length) straight into
 * req->buf. The engine stops a server that ignores Range once buf is full, so no backend
 * reads more than asked (what such a 200 means is the backend's call, in its done cb). */
void remote_get_init(net_request *nr, const char *url, store_get_req *req,
                         net_prepare_cb prepare, net_done_cb cb, void *data);

/* Copies the engine's account of a finished read into req. got is left 0: only the backend
 * knows whether the bytes in buf are the object's or an error page. */
void remote_get_result(store_get_req *req, const net_request *nr);

/* The option tables of the backends, for store_option_is_secret. */
extern const remote_backend store_s3_backend, store_azure_backend, store_gcs_backend,
    store_http_backend;

#endif
