/* config.h - the YAML configuration of `tiff-dumper headers` (see docs/config.md).
 *
 * The keys and defaults of the Python original (store, concurrency) plus tiff-dumper's own
 * optional sections (fetch, output, network). Loading validates everything a run needs, so
 * that a bad config fails before any network traffic, with a message that names the file,
 * line:column, the key path and what to do.
 *
 * The YAML is the tool's: the pipeline library takes plain options (pipeline.h), and
 * td_config_to_options translates one into the other. Every default comes from the
 * library (td_pipeline_options_init); the loader restates none. Secret masking of the
 * config text (source_text) happens here, before the text reaches the library.
 */
#ifndef TD_CLI_CONFIG_H
#define TD_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet.h"
#include "pipeline.h"
#include "store.h"

typedef struct td_config {
    char *store_name; /* as written */
    char **prefixes;
    size_t n_prefixes; /* at least one ("" when absent, null or []); "a/b/" segment form
                          (td_prefix_segments) unless raw_prefixes */
    bool raw_prefixes; /* store.prefix_mode: raw -- prefixes are byte prefixes as written */
    char *keys_from;   /* key list file, "-" = stdin; NULL if none */
    char *inventory;   /* S3 Inventory manifest.json; NULL if none */
    store_kv *store_kv;
    size_t n_store_kv; /* obstore_config flattened: values as strings
                          ("true"/"false" for bools) */
    store_kv *out_kv;
    size_t n_out_kv; /* output.obstore_config: the options of an OUT on an object store
                        (s3://, gs://, az://), flattened as store_kv */
    unsigned n_consumers;
    unsigned threads; /* fetch threads (pipeline.h: capped at n_consumers) */
    size_t list_chunk_size, max_buffer_size, write_chunk_size;
    unsigned list_parallel; /* listing pages in flight (fan-out; 1 = serial) */
    size_t list_frontier;   /* prefixes waiting to be listed, at most */
    uint64_t prefetch_bytes, max_header_bytes;
    char **suffixes;
    size_t n_suffixes;
    bool suffix_case_sensitive; /* fetch.suffix_case: sensitive */
    bool first_ifd_only;        /* fetch.ifds: first (IFD 0 only; default all) */
    bool no_footprints;         /* output.footprints: false (default true) */
    bool no_list_replay;        /* output.list_replay: false (default true) */
    int compression;            /* pq_codec */
    int zstd_level;
    uint64_t row_group_size;
    uint64_t part_size; /* output.part_size: multipart part bytes of an OUT on a store */
    unsigned connect_timeout_ms, request_timeout_ms, max_attempts, retry_max_ms;
    char *ca_bundle; /* NULL if none */
    /* store.obstore_config's client_options / retry_config (issue 14), 0 / NULL / false
     * when not given; timeouts and retries go to the fields above */
    unsigned retry_base_ms, retry_cap_ms;
    char *user_agent, *proxy_url, *no_proxy;
    bool insecure_tls;
    unsigned shards_count; /* shards.count: N for a sharded run whose engine gives only the
                            * index (JOB_COMPLETION_INDEX); 0 = not given */
    /* accepted options that are not acted on, and other things the user should know; the
     * caller prints them (src/cli/say.c) */
    char **warnings;
    size_t n_warnings;
    char *source_text; /* the YAML as read, for _SUCCESS / Parquet metadata, with values of
                          secret-looking obstore keys (secret, key, token, password, sas)
                          replaced by "***" */
    /* network.engine: 0 auto, 1 curl (net.h's net_engine_kind) */
    unsigned net_engine;
} td_config;

/* The library's defaults (td_pipeline_options_init). Allocates nothing: the default
 * prefixes ({""}) and suffixes ({".tif", ".tiff"}) are static arrays that td_config_free
 * recognises, so a defaults-only config may be freed or simply dropped. */
void td_config_defaults(td_config *c);
/* Returns 0, or -1 with a message in err naming the file, line:column, key and what to do.
 * Starts from td_config_defaults (whatever c held is overwritten, not freed). On failure c
 * holds the defaults again, so td_config_free(c) is always safe. */
int td_config_load(td_config *c, const char *path, char *err, size_t errlen);
/* As td_config_load, from memory; name is used in messages (e.g. "config.yaml"). */
int td_config_load_string(td_config *c, const char *yaml, const char *name, char *err,
                          size_t errlen);
void td_config_free(td_config *c);
/* true if key counts as a TIFF under the suffix rule (case-insensitive suffix match; no
 * suffixes = every key). */
bool td_config_is_tiff(const td_config *c, const char *key, size_t key_len);
/* The run's options from a loaded config (td_fetch_is_tiff is the suffix rule). o points
 * into c: keep c alive while o is used. Callbacks, out_dir and flags are left for the
 * caller (defaults). */
void td_config_to_options(const td_config *c, td_pipeline_options *o);

/* A command line's "KEY=VALUE" store option (info, finish, report) into kv: pointers into
 * arg, whose '=' becomes a NUL. -1 when there is no '=' or no key. */
int td_config_split_kv(char *arg, store_kv *kv);

/* Limits the loader enforces (documented in docs/config.md). */
#define TD_CONFIG_MAX_FILE_BYTES (1u << 20)
#define TD_CONFIG_MAX_CONSUMERS 100000u
#define TD_CONFIG_MAX_THREADS TD_PIPELINE_MAX_THREADS
#define TD_CONFIG_MAX_CHUNK 100000000u /* list/write chunk, buffer size */
#define TD_CONFIG_MIN_PREFETCH 16u
#define TD_CONFIG_MAX_HEADER_BYTES (1ull << 30)
#define TD_CONFIG_MAX_TIMEOUT_S 86400u
#define TD_CONFIG_MAX_ATTEMPTS 100u
#define TD_CONFIG_MAX_LIST_ITEMS 10000u /* prefixes, suffixes, obstore keys */
#define TD_CONFIG_MIN_PART_SIZE                                                           \
    (16u << 10)                              /* output.part_size; S3 wants 5 MiB (checked \
                                                when an s3:// OUT opens) */
#define TD_CONFIG_MAX_PART_SIZE (5ull << 30) /* S3's largest part */

#endif
