/* pipeline.h - one `headers` run: list a store, fetch and parse every TIFF's header, write
 * the headers and the failures to Parquet files in an output directory.
 *
 *   lister --> key queue --> n_consumers fetch slots --> result queue --> writer thread
 *   (pages)    (<= max_buffer_size keys)  (1..threads loops)  (<= n_consumers)   (Parquet)
 *
 * Listing runs on the run's libuv loop thread, the only one that counts and reports. With
 * threads = 1 fetching and parsing run there too (the store completes its requests there;
 * each slot reads its object with a td_reader, reader.h). With threads > 1, each fetch
 * thread runs its own loop, its own store (opened from the same options) and its share of
 * the slots; keys go to it and rows come back in batches. Parquet encoding and compression
 * run on a writer thread so they never stall fetching, and part files and _SUCCESS are
 * written by the output module (output.h). Rows are the same set whatever the thread count;
 * their order in the files is the order objects finish, so it varies from run to run.
 * Memory is bounded by the options (queue capacity, slots, prefetch size), never by the
 * number of keys. Library code: it never prints; progress and per-error reports go to
 * caller callbacks on the loop thread.
 *
 * The run is described by plain option structs below; td_pipeline_options_init holds every
 * default (the tool's YAML loader takes its defaults from there and translates a config
 * into these structs; the library knows nothing of YAML).
 */
#ifndef TD_PIPELINE_H
#define TD_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet.h"
#include "reader.h"
#include "store.h"

#define TD_PIPE_ERRNO_MAP(X)                                                         \
    X(OK, 0, "ok", "run completed (some objects may have failed: see stats.failed)") \
    X(E_CONFIG, -1, "config", "the store URL or an option is invalid")               \
    X(E_STORE, -2, "store", "the store could not be opened")                         \
    X(E_OUTPUT, -3, "output", "writing the output failed")                           \
    X(E_INTERRUPTED, -4, "interrupted", "interrupted by a signal")                   \
    X(E_NOMEM, -5, "nomem", "out of memory")                                         \
    X(E_SYSTEM, -6, "system", "event loop or thread failure")

typedef enum {
#define TD_PIPE_X_ENUM(name, code, short_name, text) TD_PIPE_##name = code,
    TD_PIPE_ERRNO_MAP(TD_PIPE_X_ENUM)
#undef TD_PIPE_X_ENUM
} td_pipe_code;

const char *td_pipe_err_name(int code);
const char *td_pipe_strerror(int code);

typedef struct td_stats {
    uint64_t listed;  /* entries the store listed, readable or not */
    uint64_t skipped; /* listed entries that do not count as TIFF (suffix rule) */
    uint64_t dumped;  /* header rows */
    uint64_t failed;  /* error rows (objects, bad entries, failed prefixes) */
    uint64_t bytes_fetched;
    uint64_t requests;  /* remote stores: HTTP requests sent, every attempt (retries,
                         * listing pages) included; local folders: reads made */
    uint64_t queued;    /* keys waiting in the key queue now */
    uint64_t in_flight; /* objects being fetched now (or handed to a fetch thread) */
    uint64_t header_files, error_files; /* Parquet files completed */
    /* remote stores only (networked false for a local folder): how hard the store pushed
     * back: retried attempts, attempts answered 429/503/SlowDown, and the lowest number of
     * requests at once that adaptive concurrency fell to */
    bool networked;
    uint64_t retries, throttled;
    unsigned lowest_concurrency;
    double elapsed_s;
    /* What is left to do, for a progress bar. listing_done: to_do is known: the listing
     * (or the key list, the inventory) has been read to its end, so listed, skipped and
     * to_do are final; or, with a progress callback, a key list or inventory file (not
     * stdin) has been counted ahead by a second reader (listed still grows then).
     * skipped_done: listed keys this run leaves alone because they need no work here (done
     * by an earlier run, or another shard's): counted in listed, not in skipped, never
     * fetched; the step that drops such a key adds it here and nothing else (0 today).
     * to_do: the rows this run will write, listed - skipped - skipped_done plus the
     * list-stage error rows of failed prefixes or key lists; dumped + failed reach it at
     * the end of a complete run. */
    bool listing_done;
    uint64_t skipped_done;
    uint64_t to_do;
    unsigned threads; /* fetch threads the run used (1 = on the run's loop) */
} td_stats;

typedef void (*td_progress_fn)(const td_stats *st, void *ud);
/* One failed object: path is the object's URL (or the prefix's for a listing failure). */
typedef void (*td_error_fn)(const char *path, const char *stage, const char *kind,
                            const char *message, void *ud);

/* What to read: the store, and the keys (listed under prefixes, or from a file). */
typedef struct td_source_options {
    const char *store_url;       /* "s3://bucket", "/data", ... as the user wrote it */
    const char *const *prefixes; /* listed one after the other; default {""} */
    size_t n_prefixes;
    const char *keys_from;    /* key list file ("-" = stdin) instead of listing, or NULL */
    const char *inventory;    /* S3 Inventory manifest.json instead of listing, or NULL */
    const store_kv *store_kv; /* store options (obstore_config), as strings */
    size_t n_store_kv;
} td_source_options;

/* How each object is read. */
typedef struct td_fetch_options {
    uint64_t prefetch_bytes;     /* first read, from offset 0 */
    uint64_t max_header_bytes;   /* per object, all reads together (the parser's budget) */
    const char *const *suffixes; /* which keys count as TIFF (td_fetch_is_tiff); */
    size_t n_suffixes;           /* none = every key */
    bool suffix_case_sensitive;  /* false (default): ".tif" also matches "X.TIF" */
    bool first_ifd_only;         /* fetch.ifds: first -- IFD 0 alone (TIFF_OPT_FIRST_IFD): no
                                  * chain walk, SubIFDs or COG verdict; false (default): all */
} td_fetch_options;

/* The Parquet output. */
typedef struct td_output_options {
    pq_codec codec;
    int zstd_level;
    uint64_t row_group_size; /* rows per row group (one is held uncompressed per table) */
    uint64_t rows_per_file;  /* rows per part file */
    uint64_t part_size;      /* OUT on an object store: multipart above this many bytes, in
                              * parts of it (0 = the store's default, 64 MiB) */
    const char *config_text; /* written into metadata and _SUCCESS as given (the
                              * caller masks secrets); NULL = "" */
    bool footprints;         /* true (default): georeferencing columns with PROJ (src/geo);
                              * false: they are null and PROJ is never started */
    bool no_list_replay;     /* output.list_replay: false -- pq_options.no_replay (the same
                              * bytes; for measuring what the replay saves) */
} td_output_options;

/* Most fetch threads a run starts (more cannot help: each has its own connections). */
#define TD_PIPELINE_MAX_THREADS 256u
/* The default thread count is the CPUs the process may use (ut_cpus_available: online,
 * affinity mask, cgroup quota), at most this many. */
#define TD_PIPELINE_DEFAULT_MAX_THREADS 16u

typedef struct td_concurrency_options {
    unsigned n_consumers;   /* objects read at once (fetch slots, store transfers) */
    unsigned threads;       /* fetch threads, each with its own loop, engine and store,
                             * sharing the n_consumers slots; 1 = all on the run's loop.
                             * Capped at n_consumers and TD_PIPELINE_MAX_THREADS. */
    size_t list_chunk_size; /* keys per listing page */
    size_t max_buffer_size; /* keys queued, listed ahead of the slots */
    unsigned list_parallel; /* listing pages in flight, fanned out over '/' prefixes on
                             * stores with a delimiter; 1 = one prefix after another */
    size_t list_frontier;   /* prefixes waiting to be listed, at most (fan-out) */
} td_concurrency_options;

/* Network settings of remote stores. */
typedef struct td_net_options {
    unsigned connect_timeout_ms, request_timeout_ms;
    unsigned max_attempts; /* per request, first try included */
    unsigned retry_max_ms; /* total time a request may spend retrying */
    const char *ca_bundle; /* extra CA file, or NULL */
    /* obstore's client_options / retry_config (store_options has the meanings) */
    unsigned retry_base_ms, retry_cap_ms;
    const char *user_agent, *proxy_url, *no_proxy;
    bool insecure_tls;
    unsigned engine; /* 0 auto, 1 curl (network.engine, net.h's net_engine_kind) */
} td_net_options;

/* Which shard of a split run this is (shard.h has the partition and the names). count 0 =
 * not sharded (the default): every key, unsharded names. */
typedef struct td_shard_options {
    uint32_t index, count;
} td_shard_options;

typedef struct td_pipeline_options {
    td_source_options source;
    td_fetch_options fetch;
    td_output_options output;
    td_concurrency_options concurrency;
    td_net_options net;
    const char *out_dir;          /* created if missing; previous outputs in it are replaced.
                                   * Or an object store URL (s3://, gs://, az://): parts are
                                   * uploaded whole when complete, _SUCCESS last (output.h) */
    const store_kv *out_store_kv; /* the output store's options (config output.obstore_config);
                                   * network settings are the run's (net) */
    size_t n_out_store_kv;
    unsigned progress_ms;    /* progress callback period; 0 = never */
    td_progress_fn progress; /* called on the loop thread every progress_ms */
    td_error_fn on_error;    /* optional, loop thread */
    void *ud;
    bool handle_signals;      /* SIGINT/SIGTERM stop the run (TD_PIPE_E_INTERRUPTED) */
    const char *tool_version; /* for metadata and _SUCCESS; NULL = TD_VERSION */
    bool check_only;          /* open the store (and key list), then stop: no request,
                               * no output; out_dir may be NULL (given: an output store's
                               * options are checked too) */
    td_shard_options shard;   /* only this shard's keys; its own part names and marker,
                               * and _SUCCESS once every shard's marker is there */
    bool resume;              /* keep out_dir's complete parts and skip their keys (resume.h) */
} td_pipeline_options;

/* Every default, in one place: prefixes {""}, suffixes {".tif", ".tiff"}, the reader's
 * prefetch and header budget, snappy, the network settings of STORE_OPTIONS_INIT... Sets
 * all fields (source.store_url and out_dir NULL, no callbacks); concurrency.threads is the
 * CPUs the process may use, at most TD_PIPELINE_DEFAULT_MAX_THREADS. */
void td_pipeline_options_init(td_pipeline_options *o);

/* The suffix rule: true if key counts as a TIFF (case-insensitive suffix match; no
 * suffixes = every key). */
bool td_fetch_is_tiff(const td_fetch_options *f, const char *key, size_t key_len);

/* Runs to completion. Returns TD_PIPE_OK when every listed TIFF was written (as a header
 * or an error row) and OUT_DIR/_SUCCESS exists (sharded: the shard's marker; the caller
 * completes the set with td_shard_finish, shard.h); otherwise a negative td_pipe_code with a
 * message in err, and no _SUCCESS. stats (optional) are filled in either case. */
int td_pipeline_run(const td_pipeline_options *o, td_stats *stats, char *err, size_t errlen);

#endif
