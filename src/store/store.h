/* store.h - object stores behind one small asynchronous interface: the whole contract.
 *
 * A store lists keys page by page and reads byte ranges. Every operation is a request
 * struct owned by the caller (as libuv's uv_fs_t): start it, and its callback runs later on
 * the store's event loop, exactly once. A start function that returns an error never calls
 * the callback. Stores know nothing of TIFF or Parquet.
 *
 * Backends (one file each): store_local.c (file:// and paths, a small thread pool),
 * store_s3.c (s3://, s3a://), store_gcs.c (gs://), store_azure.c (az://, abfs[s]://, ...,
 * https://ACCOUNT.blob.core.windows.net/), store_http.c (http[s]://), all selected by
 * store_open() from the URL scheme. The networked ones share one core (remote.h): option
 * tables, engine set-up, lifecycle and close, ranged reads, and one HTTP status -> error
 * kind table (401 auth, 403 access_denied, 404/410 not_found, 412 exists, 429/503
 * throttled, else http).
 *
 * Writes (store_put, store_delete) exist for output on local folders, s3://, az:// and
 * gs:// (s3_put.c, az_put.c, gcs_put.c); http(s):// refuses them with
 * STORE_E_UNSUPPORTED. docs/output-stores.md tells the guarantees at length.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Error codes; the short name is the "kind" column of the errors output. */
#define STORE_ERRNO_MAP(X)                                              \
    X(OK, 0, "ok", "ok")                                                \
    X(E_CONFIG, -1, "config", "invalid store URL or option")            \
    X(E_NOT_FOUND, -2, "not_found", "object or prefix not found")       \
    X(E_ACCESS, -3, "access_denied", "access denied")                   \
    X(E_HTTP, -4, "http", "unexpected HTTP status")                     \
    X(E_NETWORK, -5, "network", "connection failed or reset")           \
    X(E_TIMEOUT, -6, "timeout", "timed out")                            \
    X(E_THROTTLED, -7, "throttled", "throttled and out of retries")     \
    X(E_IO, -8, "io", "local I/O error")                                \
    X(E_LOOP, -9, "symlink_loop", "symbolic link loop")                 \
    X(E_PROTOCOL, -10, "protocol", "malformed response from the store") \
    X(E_NOMEM, -11, "nomem", "out of memory")                           \
    X(E_CANCELED, -12, "canceled", "canceled")                          \
    X(E_AUTH, -13, "auth", "credentials missing, invalid or expired")   \
    X(E_UNSUPPORTED, -14, "unsupported", "not supported by this store") \
    X(E_EXISTS, -15, "exists", "object already exists")

typedef enum {
#define STORE_X_ENUM(name, code, short_name, text) STORE_##name = code,
    STORE_ERRNO_MAP(STORE_X_ENUM)
#undef STORE_X_ENUM
} store_code;

const char *store_err_name(int code);
const char *store_strerror(int code);

/* Options: the YAML's store.obstore_config plus tiff-dumper's own store settings, as
 * strings. Unknown keys are reported by store_open (naming the key). */
typedef struct store_kv {
    const char *key;
    const char *value;
} store_kv;

/* The defaults of the store settings, written once: STORE_OPTIONS_INIT, the networked
 * backends (a zero field means the default) and the CLI's config use these. */
#define STORE_DEFAULT_MAX_IN_FLIGHT 1000u
#define STORE_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define STORE_DEFAULT_REQUEST_TIMEOUT_MS 60000u
#define STORE_DEFAULT_MAX_ATTEMPTS 6u
#define STORE_DEFAULT_RETRY_MAX_MS 120000u

typedef struct store_options {
    const store_kv *kv;
    size_t n_kv;
    unsigned max_in_flight; /* transfers at once (n_consumers); 0 = default */
    unsigned connect_timeout_ms;
    unsigned request_timeout_ms;
    unsigned max_attempts; /* per request, first try included */
    unsigned retry_max_ms; /* total time a request may spend retrying */
    const char *ca_bundle; /* extra CA file, or NULL */
    /* obstore's client_options / retry_config as the config maps them (0 / NULL / false:
     * the store's own setting) */
    unsigned retry_base_ms; /* backoff: first wait (init_backoff) */
    unsigned retry_cap_ms;  /* backoff: longest wait (max_backoff) */
    const char *user_agent; /* User-Agent of every request */
    const char *proxy_url;  /* HTTP(S) proxy for every request */
    const char *no_proxy;   /* hosts not proxied (proxy_excludes: comma-separated) */
    bool insecure_tls;      /* allow_invalid_certificates: true (TLS not verified) */
    unsigned net_engine;    /* 0 auto, 1 curl (net.h's net_engine_kind) */
    /* Another store of the same URL and options, on another loop and thread, that stays
     * open longer (the pipeline's, for the stores of its fetch threads): credentials that
     * come from the network (roles, OAuth2 / managed identity tokens) are fetched by it
     * once and shared, instead of once per store. NULL: the store fetches its own. */
    struct store *creds_from;
} store_options;
#define STORE_OPTIONS_INIT                                                           \
    {                                                                                \
        NULL, 0, STORE_DEFAULT_MAX_IN_FLIGHT, STORE_DEFAULT_CONNECT_TIMEOUT_MS,      \
            STORE_DEFAULT_REQUEST_TIMEOUT_MS, STORE_DEFAULT_MAX_ATTEMPTS,            \
            STORE_DEFAULT_RETRY_MAX_MS, NULL, 0, 0, NULL, NULL, NULL, false, 0, NULL \
    }

/* True when the backend that store_url selects declares option `key` (or one of its
 * aliases, any case) secret: credentials to mask wherever options are shown (_SUCCESS,
 * Parquet metadata). False for unknown keys and for local stores. */
bool store_option_is_secret(const char *store_url, const char *key);
/* True when that backend accepts option `key` but it has no effect on a tool that only
 * lists and reads (s3_express, unsigned_payload, checksum_algorithm, conditional_put, ...):
 * the caller tells the user, so that nothing asked for is dropped silently. */
bool store_option_is_ignored(const char *store_url, const char *key);

typedef struct store store;

/* url: "file:///abs", "/abs", "rel/dir", "s3://bucket[/prefix]", ... On error returns a
 * store_code and writes a message (never a secret) into err. */
int store_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts, char *err,
               size_t errlen);
/* Cancels what is in flight (callbacks run with STORE_E_CANCELED), then frees. */
void store_close(store *s);
/* Cancels every read and listing request of a networked store now, retries and backoff
 * waits included (callbacks run with STORE_E_CANCELED); the store stays open. For a stop
 * on a signal: nothing waits for a stalled server. Local folders: no-op (reads are short).
 * A put's request in flight is canceled too; the put then cleans up (S3 abort, GCS session
 * DELETE: one more request each) before its callback, as after store_put_cancel. */
void store_cancel_all(store *s);
/* The store's display URL (no credentials), and the key form for an object, e.g. for
 * error messages: "s3://bucket/key". */
const char *store_url(const store *s);

/* ---- listing: one page per request, so the caller applies backpressure by simply not
 * asking for the next page. ---- */
typedef struct store_entry {
    const char *key; /* as listed (relative to the store root), NUL-terminated */
    size_t key_len;
    uint64_t size;
    int64_t mtime_ms; /* last modified, ms since epoch UTC; INT64_MIN if unknown */
    const char *etag; /* NULL if none */
} store_entry;

typedef struct store_list_req store_list_req;
#define STORE_MAX_COMMON_PREFIXES 1000u
/* entries valid only during the callback. status < 0: the listing failed (message in
 * req->errmsg); entries may still hold keys read before the failure. Per-entry problems
 * (unreadable directory, symlink loop) come back as entries with size 0 in `bad` with
 * their own status and message, and the listing goes on. */
typedef struct store_bad_entry {
    const char *key;
    int status;
    const char *message;
    unsigned attempts; /* requests tried for it (0: none, e.g. nested too deep) */
} store_bad_entry;
typedef void (*store_list_cb)(store_list_req *req, int status, const store_entry *entries, size_t n,
                              const store_bad_entry *bad, size_t n_bad, bool done);

struct store_list_req {
    /* set by the caller */
    const char *prefix;    /* "" = everything */
    size_t page_size;      /* at most this many entries (plus common prefixes) per callback */
    const char *delimiter; /* NULL: every key under prefix, at any depth. "/" (the only
                              delimiter): one level, as S3's delimiter=/ does: keys under
                              prefix with no '/' after it are entries, and each deeper
                              level is one common prefix, "prefix...X/", given once in the
                              whole listing. Stores without it (store_can_delimit false)
                              refuse with STORE_E_UNSUPPORTED */
    store_list_cb cb;
    void *data;
    /* set by the store before each callback, valid only during it: the page's common
       prefixes (delimiter listings only; relative to the store root, ending with '/'), at
       most STORE_MAX_COMMON_PREFIXES (S3's page; some emulators ignore page_size for them) */
    const char *const *common_prefixes;
    size_t n_common_prefixes;
    char errmsg[256];
    unsigned attempts; /* with a failed page (status < 0): the attempts of its request
                          (0 when it failed before any was sent) */
    void *priv;        /* backend cursor; freed when done or by store_list_free */
};
/* First call starts the listing, each later call asks for the next page; call again only
 * after the previous callback ran and said !done. */
int store_list_next(store *s, store_list_req *req);
/* Releases a listing's cursor (needed only when stopping before done). */
void store_list_free(store *s, store_list_req *req);
/* True when the store lists with delimiter "/" (common prefixes): local folders (each
 * directory a prefix), S3 (delimiter=/, CommonPrefixes), GCS (delimiter, prefixes[]),
 * Azure (delimiter, BlobPrefix). */
bool store_can_delimit(const store *s);

/* ---- ranged reads ---- */
typedef struct store_get_req store_get_req;
typedef void (*store_get_cb)(store_get_req *req, int status);

struct store_get_req {
    /* set by the caller */
    const char *key;
    uint64_t offset;
    uint64_t length; /* bytes wanted; buf holds at least this many */
    uint8_t *buf;
    store_get_cb cb;
    void *data;
    uint64_t known_size; /* the object's size if the caller knows it (listed, or told by
                            an earlier read), else 0 or UINT64_MAX. A networked store
                            checks every 206's Content-Range against the range asked for
                            and against this size: a mismatch is a protocol error
                            (retried), never bytes from elsewhere */
    /* set by the store before the callback */
    uint64_t got;         /* bytes placed in buf (less at end of object) */
    uint64_t object_size; /* total size if the store told it, else UINT64_MAX */
    int http_status;      /* 0 when not HTTP */
    unsigned attempts;
    char errmsg[256];
    void *priv;
};
/* Reads [offset, offset+length) into buf. A server that ignores Range must not make the
 * store read more than length bytes. */
int store_get(store *s, store_get_req *req);

/* ---- writes: whole objects, atomically ----
 *
 * Visibility: a put makes the object appear under its key only when all of its bytes are
 * there, and never under any other key. Object stores make the final request atomic
 * (S3 PutObject / CompleteMultipartUpload, Azure Put Blob / Put Block List, GCS media
 * upload / the last chunk of a resumable session); parts, uncommitted blocks and open
 * sessions are no objects (no listing shows them). A local folder writes a temporary file
 * beside the target ("." + name + ".td-tmp.PID.N", same directory), fsyncs it and renames
 * (or, with create_only, links) it onto the key, then fsyncs the directory; only there can
 * a listing see the temporary name (a dot file, never the key). No reader ever sees a
 * partial object under the key: before success it is absent (or the previous object),
 * after it the whole new one.
 *
 * Large objects: more than part_size bytes go up in parts of part_size bytes (S3
 * multipart, Azure blocks, a GCS resumable session in 256 KiB units), one at a time, each
 * request retried on its own (the engine's one retry policy), so memory is bounded by one
 * part whatever the object's size (buffer sources use no copy). A failed or canceled
 * upload is cleaned up before the callback runs (S3 AbortMultipartUpload, GCS session
 * DELETE; Azure drops uncommitted blocks itself); at store_close nothing can be sent any
 * more and the remains are left to the store (invisible; S3: a lifecycle rule).
 *
 * Bodies are checked end to end: S3 signs each body's SHA-256 (x-amz-content-sha256),
 * Azure sends Content-MD5; GCS relies on TLS.
 *
 * Source: buf (length bytes, kept alive and unchanged until the callback), or, with buf
 * NULL, fd's bytes [fd_offset, fd_offset + length), read with pread (fd's file position is
 * not used or moved; the fd stays the caller's, open until the callback). */
#define STORE_DEFAULT_PART_SIZE (64u << 20)
#define STORE_MIN_PART_SIZE (5u << 20) /* S3's rule; smaller values only for tests */

typedef struct store_put_req store_put_req;
typedef void (*store_put_cb)(store_put_req *req, int status);

struct store_put_req {
    /* set by the caller */
    const char *key;
    const uint8_t *buf; /* the object's bytes, or NULL: read them from fd */
    int fd;
    uint64_t fd_offset;
    uint64_t length;
    bool create_only;   /* fail with STORE_E_EXISTS if the key exists (S3 If-None-Match: *;
                           local link()). A retried attempt that finds the key may find
                           its own earlier attempt's object: with attempts > 1 an
                           STORE_E_EXISTS means "exists, maybe ours" */
    uint64_t part_size; /* multipart above this size, in parts of it; 0 = the default.
                           Grown by the store when the object would need more than
                           10,000 parts. Local folders ignore it */
    store_put_cb cb;
    void *data;
    /* set by the store before the callback */
    int http_status;   /* of the last request, 0 when not HTTP */
    unsigned attempts; /* HTTP requests sent for this put, retries included */
    unsigned parts;    /* parts uploaded (0: single request) */
    char errmsg[256];  /* never holds a secret */
    void *priv;
};
/* Starts the upload of req->key. Non-zero: refused (message in req->errmsg), no callback.
 * STORE_E_UNSUPPORTED on stores that cannot write. */
int store_put(store *s, store_put_req *req);
/* Cancels one put: its callback runs with STORE_E_CANCELED once the upload was cleaned
 * up, or with STORE_OK when its final request (single PUT, Complete, Block List, last
 * chunk) had already gone and the object was made: the status tells which. After
 * STORE_E_CANCELED the key holds nothing new (a local put racing the cancel at most the
 * whole object, never part of it: store_delete it if it must be gone).
 * No-op for a put that already called back. */
void store_put_cancel(store *s, store_put_req *req);

typedef struct store_delete_req store_delete_req;
typedef void (*store_delete_cb)(store_delete_req *req, int status);
struct store_delete_req {
    const char *key;
    store_delete_cb cb;
    void *data;
    int http_status;
    unsigned attempts;
    char errmsg[256];
    void *priv;
};
/* Deletes one object. Deleting an absent key is STORE_OK (retries make it so anyway). */
int store_delete(store *s, store_delete_req *req);

/* Existing objects (e.g. a --resume reading OUT's parts): store_list_next with a prefix. */

/* ---- counters, for progress and _SUCCESS ---- */
typedef struct store_stats {
    bool networked;              /* false for local folders: the rest stays 0 */
    uint64_t requests;           /* HTTP requests sent: every attempt, retries and listing
                                    pages included */
    uint64_t retries;            /* attempts that repeated a failed one */
    uint64_t throttled;          /* attempts answered with a throttling signal (429, 503,
                                    SlowDown) */
    unsigned lowest_concurrency; /* the lowest limit adaptive concurrency fell to */
} store_stats;
void store_get_stats(const store *s, store_stats *out);

#endif
