/* net.h - the network engine: libcurl's multi-socket API driven by a libuv loop.
 * The module's whole contract.
 *
 * Thousands of HTTP(S) transfers in flight on one thread, with keep-alive connection reuse,
 * shared DNS cache and TLS sessions, TLS verification always on, and one retry policy for
 * every backend (S3, HTTP, GCS, Azure): 5xx, 429, resets and timeouts are retried with
 * exponential backoff and full jitter, bounded in attempts and total time; other statuses
 * are final. A malformed answer (a 206 whose Content-Range is not the range asked for, an
 * HTTP/0.9 reply, headers too large) is NET_E_PROTOCOL, retried like a reset. Backends
 * know nothing of curl or libuv timers; they fill a net_request and get one callback.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define NET_ERRNO_MAP(X)                                                    \
    X(OK, 0, "ok", "ok")                                                    \
    X(E_HTTP, -1, "http", "HTTP status not successful (see http_status)")   \
    X(E_CONNECT, -2, "network", "could not connect / connection reset")     \
    X(E_TIMEOUT, -3, "timeout", "timed out")                                \
    X(E_TLS, -4, "tls", "TLS handshake or certificate verification failed") \
    X(E_DNS, -5, "dns", "host name could not be resolved")                  \
    X(E_ABORTED, -6, "aborted", "aborted by a callback")                    \
    X(E_TOO_BIG, -7, "too_big", "response body larger than allowed")        \
    X(E_NOMEM, -8, "nomem", "out of memory")                                \
    X(E_CANCELED, -9, "canceled", "canceled")                               \
    X(E_CONFIG, -10, "config", "invalid engine option")                     \
    X(E_PROTOCOL, -11, "protocol", "malformed response (Content-Range, headers, HTTP/0.9)")

typedef enum {
#define NET_X_ENUM(name, code, short_name, text) NET_##name = code,
    NET_ERRNO_MAP(NET_X_ENUM)
#undef NET_X_ENUM
} net_code;

const char *net_err_name(int code);
const char *net_strerror(int code);

/* Every field is the caller's: the engine has no defaults of its own (stores fill these in
 * remote.c from store_options, whose defaults are STORE_DEFAULT_* in store.h; net stays
 * below store and does not include it). Zero means what a field says, or "off". */
/* Which code moves the bytes (see net_options.engine). */
typedef enum {
    NET_ENGINE_AUTO = 0, /* plain GETs on the engine's own HTTP/1.1 path, the rest via curl */
    NET_ENGINE_CURL = 1, /* everything through libcurl */
} net_engine_kind;

typedef struct net_options {
    unsigned max_in_flight;        /* transfers at once; more net_start() calls queue      */
    unsigned max_host_connections; /* 0 = max_in_flight                                  */
    unsigned connect_timeout_ms;
    unsigned request_timeout_ms; /* per attempt                                          */
    unsigned low_speed_time_ms;  /* abort an attempt that stalls this long (0 = off)     */
    unsigned max_attempts;       /* first try included                                   */
    unsigned retry_base_ms;      /* backoff: random(0, min(cap, base * 2^attempt))       */
    unsigned retry_cap_ms;
    unsigned retry_max_ms; /* total time a request may spend, retries included     */
    const char *ca_bundle; /* extra CA file, or NULL for the system store; must be a
                              readable file (checked by net_engine_new)              */
    const char *user_agent;
    /* A proxy for every transfer (libcurl's syntax: http://host:port, https://..., socks5h://
     * ...), NULL: libcurl's environment (https_proxy / HTTPS_PROXY, http_proxy, no_proxy /
     * NO_PROXY); the proxy's own CA file; hosts that bypass it (NO_PROXY's syntax). */
    const char *proxy, *proxy_ca, *proxy_excludes;
    bool insecure_tls; /* no TLS peer/host verification (allow_invalid_certificates) */
    /* Adaptive concurrency (AIMD) against throttling: an attempt answered 429 or 503, or
     * one the retry_check flags (S3's SlowDown in a 200), halves the number of attempts
     * allowed to run at once (at most once per round trip: only attempts started after the
     * last cut count), down to adaptive_floor. Other answers raise it: by one per answer
     * back up to the level of the last cut, then by one per limit's worth of answers
     * (about one per round trip), up to max_in_flight. New requests start only while fewer
     * than the limit are in progress (running, backing off or due for a retry), and due
     * retries wait for a free slot too: waiting spends no attempts, so a throttled run
     * slows down instead of using up its retries. The limit bounds the request rate only
     * through the round trip. Off: max_in_flight attempts at once whatever the answers. */
    bool adaptive;
    unsigned adaptive_floor; /* lowest limit (>= 1; more than max_in_flight = that)  */
    /* AUTO: a GET without a body to an http(s) URL without userinfo, with no proxy in the
     * environment and headers that need none of curl's rewriting, runs on the engine's own
     * HTTP/1.1 keep-alive client (OpenSSL for https, the same trust and verification as
     * curl's, the same timeouts, retries and error kinds); everything else, and everything
     * with CURL, goes through libcurl. The environment variable TD_NET_ENGINE=curl|auto
     * overrides this. */
    net_engine_kind engine;
} net_options;
typedef struct net_engine net_engine;

/* opts is required (NULL, or a zero max_in_flight or max_attempts: NET_E_CONFIG). */
int net_engine_new(net_engine **out, uv_loop_t *loop, const net_options *opts, char *err,
                   size_t errlen);
/* Cancels everything in flight (callbacks run with NET_E_CANCELED) and frees. */
void net_engine_free(net_engine *e);

typedef struct net_request net_request;

/* Called before every attempt (first and retries): (re)build per-attempt headers such as
 * a SigV4 Authorization with the current time and credentials, and reset any streaming
 * parser state. Append "Name: value" lines to *headers through net_add_header(). Non-zero
 * aborts the request with that code (e.g. credentials unavailable). */
typedef int (*net_prepare_cb)(net_request *req, void *headers);
int net_add_header(void *headers, const char *line);

/* Streaming body sink (instead of buf): return 0 to go on, non-zero to abort. */
typedef int (*net_body_cb)(net_request *req, const void *data, size_t len);

/* After a complete attempt with a 2xx status: return true if the response must be retried
 * anyway (S3 sends SlowDown/InternalError inside a 200 body on some calls). */
typedef bool (*net_retry_check_cb)(net_request *req);

typedef void (*net_done_cb)(net_request *req, int status);

/* Each response header of every attempt (name and value trimmed, not NUL-terminated), for
 * values the engine does not keep (S3's ETag of an uploaded part). */
typedef void (*net_header_cb)(net_request *req, const char *name, size_t name_len,
                              const char *value, size_t value_len);

struct net_request {
    /* set by the caller */
    const char *method;         /* "GET", "HEAD", "PROPFIND", "POST", "PUT" */
    const char *url;            /* fully encoded */
    const char *const *headers; /* static "Name: value" lines */
    size_t n_headers;
    const void *body; /* request body, or NULL */
    size_t body_len;
    bool has_range;   /* sends Range: bytes=off-(off+len-1) */
    bool check_range; /* has_range false: the caller sends its own Range header
                         for range_offset/range_length; a 206 is checked alike */
    uint64_t range_offset, range_length;
    uint64_t expect_total; /* the object's size if known, else 0: a Content-Range
                              total that differs is a protocol error */
    uint8_t *buf;          /* body destination (buf_cap bytes); when the server ignores
                              Range, the transfer is stopped once buf is full and counted
                              a success (the bytes at the front are the ones wanted only
                              if range_offset == 0; else it is an E_HTTP with status 200) */
    size_t buf_cap;
    net_body_cb on_body;            /* used when buf == NULL */
    net_prepare_cb prepare;         /* may be NULL */
    net_retry_check_cb retry_check; /* may be NULL */
    net_header_cb on_header;        /* may be NULL */
    net_done_cb cb;
    void *data;
    /* set by the engine before cb */
    long http_status;
    uint64_t got;        /* body bytes received in the final attempt */
    uint64_t total_size; /* from Content-Range "/N", else Content-Length of a 200,
                            else UINT64_MAX */
    unsigned attempts;
    char errmsg[256];            /* names the URL (without query secrets) and the cause */
    char resp_header_region[64]; /* x-amz-bucket-region, if sent (for S3 redirects) */
    void *priv;
};

/* Queues the request; the callback runs exactly once on the loop thread. A non-zero return
 * means the callback will not run. retry_max_ms counts from the request's first attempt,
 * not from the time it was queued. */
int net_start(net_engine *e, net_request *req);
/* Cancels one request (callback runs with NET_E_CANCELED). */
void net_cancel(net_engine *e, net_request *req);
/* Cancels every request started so far, wherever it is (queued, running, waiting for a
 * retry): each callback runs with NET_E_CANCELED before this returns (deferred to the loop
 * when called from inside an engine callback). Requests started by those callbacks are
 * not canceled. The engine stays usable. */
void net_cancel_all(net_engine *e);

/* Counters for progress and _SUCCESS. */
typedef struct net_stats {
    uint64_t requests, retries, bytes, connections;
    uint64_t lean_requests;    /* of requests, the attempts sent on the lean path        */
    uint64_t tls_resumed;      /* lean path: of connections, TLS handshakes that resumed   */
    uint64_t throttled;        /* attempts answered with a throttling signal (429/503/...)  */
    unsigned limit, min_limit; /* adaptive: the current and lowest attempts-at-once limit */
} net_stats;
void net_get_stats(const net_engine *e, net_stats *out);

#endif
