/* pipeline.h - one `headers` run: list a store, fetch and parse every TIFF's header, write
 * the headers and the failures to Parquet files in an output directory.
 *
 *   lister --> key queue --> n_consumers fetch slots --> result queue --> writer thread
 *   (pages)    (<= max_buffer_size keys)  (one libuv loop)   (<= n_consumers)   (Parquet)
 *
 * Listing, fetching and parsing run on one libuv loop thread (the store completes its
 * requests there); Parquet encoding and compression run on a writer thread so they never
 * stall fetching. Memory is bounded by the config (queue capacity, slots, prefetch size),
 * never by the number of keys. Library code: it never prints; progress and per-error
 * reports go to caller callbacks on the loop thread.
 */
#ifndef TD_PIPELINE_H
#define TD_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define TD_PIPE_ERRNO_MAP(X)                                                           \
    X(OK, 0, "ok", "run completed (some objects may have failed: see stats.failed)")   \
    X(E_CONFIG, -1, "config", "the store URL or an option is invalid")                 \
    X(E_STORE, -2, "store", "the store could not be opened")                           \
    X(E_OUTPUT, -3, "output", "writing the output failed")                             \
    X(E_INTERRUPTED, -4, "interrupted", "interrupted by a signal")                     \
    X(E_NOMEM, -5, "nomem", "out of memory")                                           \
    X(E_SYSTEM, -6, "system", "event loop or thread failure")

typedef enum {
#define TD_PIPE_X_ENUM(name, code, short_name, text) TD_PIPE_##name = code,
    TD_PIPE_ERRNO_MAP(TD_PIPE_X_ENUM)
#undef TD_PIPE_X_ENUM
} td_pipe_code;

const char *td_pipe_err_name(int code);
const char *td_pipe_strerror(int code);

typedef struct td_stats {
    uint64_t listed;        /* entries the store listed, readable or not */
    uint64_t skipped;       /* listed entries that do not count as TIFF (suffix rule) */
    uint64_t dumped;        /* header rows */
    uint64_t failed;        /* error rows (objects, bad entries, failed prefixes) */
    uint64_t bytes_fetched;
    uint64_t requests;      /* ranged reads issued */
    uint64_t queued;        /* keys waiting in the key queue now */
    uint64_t in_flight;     /* objects being fetched now */
    uint64_t header_files, error_files; /* Parquet files completed */
    /* remote stores only (networked false for a local folder): how hard the store pushed
     * back: retried attempts, attempts answered 429/503/SlowDown, and the lowest number of
     * requests at once that adaptive concurrency fell to */
    bool networked;
    uint64_t retries, throttled;
    unsigned lowest_concurrency;
    double elapsed_s;
} td_stats;

typedef void (*td_progress_fn)(const td_stats *st, void *ud);
/* One failed object: path is the object's URL (or the prefix's for a listing failure). */
typedef void (*td_error_fn)(const char *path, const char *stage, const char *kind,
                            const char *message, void *ud);

typedef struct td_pipeline_options {
    const td_config *config;
    const char *out_dir;          /* created if missing; previous outputs in it are replaced */
    unsigned progress_ms;         /* progress callback period; 0 = never */
    td_progress_fn progress;      /* called on the loop thread every progress_ms */
    td_error_fn on_error;         /* optional, loop thread */
    void *ud;
    bool handle_signals;          /* SIGINT/SIGTERM stop the run (TD_PIPE_E_INTERRUPTED) */
    const char *tool_version;     /* for metadata and _SUCCESS; NULL = TD_VERSION */
    bool check_only;              /* open the store (and key list), then stop: no request,
                                   * no output; out_dir may be NULL */
} td_pipeline_options;

/* Runs to completion. Returns TD_PIPE_OK when every listed TIFF was written (as a header
 * or an error row) and OUT_DIR/_SUCCESS exists; otherwise a negative td_pipe_code with a
 * message in err, and no _SUCCESS. stats (optional) are filled in either case. */
int td_pipeline_run(const td_pipeline_options *o, td_stats *stats, char *err, size_t errlen);

#endif
