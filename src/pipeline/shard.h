/* shard.h - one run as shard I of N (issue 16): which keys a shard takes, what its outputs
 * are called, which job-engine variables select it, and completing the dataset once every
 * shard is done. Naming and partitioning are pure functions of their arguments (no file
 * system), so they hold whatever the output store is; td_shard_finish reads and writes OUT
 * through three operations (td_shard_io): a local folder's, or an object store's.
 *
 * Partition: a key belongs to shard td_shard_hash(key bytes) mod N. The hash is fixed and
 * independent of the build, platform and run: 64-bit FNV-1a over the key's bytes (offset
 * basis 0xcbf29ce484222325, prime 0x100000001b3), then the MurmurHash3 fmix64 finaliser
 * (x ^= x >> 33; x *= 0xff51afd7ed558ccd; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53;
 * x ^= x >> 33), so that keys differing only in their last bytes spread over all shards.
 * The key is the object's key as listed (the `path` column), before the suffix rule.
 * That is the partition of key lists, S3 Inventory, stores that do not list with a
 * delimiter (HTTP/WebDAV) and list_parallel 1. A fanned-out listing (fanout.h) partitions
 * by units of the tree instead, so that a shard lists only its part: the folders at the
 * level shared out whose names are U's bytes plus one character, with every key under them,
 * are shard td_shard_hash(U's bytes) mod N's (same hash); keys above that level keep their
 * own hash.
 *
 * Names (sharded; an unsharded run keeps part-NNNNN.parquet and _SUCCESS):
 *   part-S0003-NNNNN.parquet, _errors/part-S0003-NNNNN.parquet  shard 3's parts
 *   _SUCCESS.shard-0003-of-0010                                  shard 3 of 10 is done
 *   _SUCCESS                                                     every shard is done
 * Shard numbers have at least 4 digits (more when N > 10000).
 */
#ifndef TD_SHARD_H
#define TD_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"

/* Most shards a run may be split into. */
#define TD_SHARD_MAX_COUNT 1000000u

uint64_t td_shard_hash(const void *key, size_t len);
/* True if the key is shard s's (always when s is off: count 0). */
bool td_shard_owns(const td_shard_options *s, const char *key, size_t len);

/* "I/N" (decimal, 0 <= I < N <= TD_SHARD_MAX_COUNT). 0, or -1 with a message in err. */
int td_shard_parse(const char *spec, td_shard_options *out, char *err, size_t errlen);

/* The job engines' variables, tried in this order:
 *   JOB_COMPLETION_INDEX                        Kubernetes Indexed Job; count = count_hint
 *   AWS_BATCH_JOB_ARRAY_INDEX / _ARRAY_SIZE     AWS Batch array job (count_hint if no size)
 *   SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT Slurm job array: index = (ID - MIN) / STEP
 *        with SLURM_ARRAY_TASK_MIN (0 if unset) and SLURM_ARRAY_TASK_STEP (1 if unset);
 *        an ID off that grid (an --array list such as 1,4,9) is refused
 * count_hint: N from --shards or the config (0 = none); when the engine also gives a count
 * the two must agree. Returns 1 with *out and a description of the source in `source`
 * (e.g. "SLURM_ARRAY_TASK_ID=7 - SLURM_ARRAY_TASK_MIN=5, SLURM_ARRAY_TASK_COUNT=3"),
 * 0 when no engine variable is set, -1 with a message in err for a bad value. getenv_fn
 * NULL = getenv. */
int td_shard_from_env(td_shard_options *out, uint32_t count_hint,
                      const char *(*getenv_fn)(const char *name), char *source, size_t srclen,
                      char *err, size_t errlen);

/* Part file name (no directory): final, or with tmp its temporary name. */
void td_shard_part_name(char *buf, size_t n, const td_shard_options *s, unsigned index, bool tmp);
/* The success marker's name: "_SUCCESS" when off. */
void td_shard_marker_name(char *buf, size_t n, const td_shard_options *s);
/* "part-S<shard>-<n>.parquet": 1 with *shard; "part-<n>.parquet": 0; anything else: -1. */
int td_shard_part_of(const char *name, uint32_t *shard);
/* "_SUCCESS.shard-<i>-of-<n>": true with *i and *n. */
bool td_shard_marker_of(const char *name, uint32_t *i, uint32_t *n);
/* Whether a file name in OUT_DIR or OUT_DIR/_errors is one a run as s replaces before it
 * starts: unsharded, every name the tool writes (parts of any shard, shard markers,
 * _SUCCESS and temporaries); shard s: its own parts and markers (any N), and _SUCCESS (the
 * dataset is no longer complete while a shard is redone). */
bool td_shard_replaces(const td_shard_options *s, const char *name);

/* Completes a sharded OUT_DIR (a folder, or a store URL: td_shard_finish_opts): reads every
 * _SUCCESS.shard-*-of-N, checks that all N are there, of the same N and of the same run (store, key
 * source, prefixes and config equal), and that no part file belongs to another layout (unsharded
 * parts, or shard >= N); then writes OUT_DIR/_SUCCESS (temporary name per writer, then rename)
 * summing the markers. expect_count: N the caller expects (0 = whatever the markers say). tmp_tag
 * makes the temporary name unique per writer (e.g. "finish", "shard-0003"). Returns 0 (written), 1
 * (incomplete: err names the missing shards), -1 (err says why). */
int td_shard_finish(const char *out_dir, uint32_t expect_count, const char *tmp_tag,
                    uint32_t *count_out, char *err, size_t errlen);

/* The same over any output store: the three operations finish needs on OUT. Names are
 * relative to OUT ("_SUCCESS.shard-0003-of-0010"; list's sub is "" or "_errors").
 *   list:  calls each(name) for every file directly in sub; 0, 1 (sub does not exist:
 *          nothing in it), or -1 with a message
 *   read:  the whole file (at most cap bytes) as a new NUL-terminated buffer; NULL + message
 *   write: publishes name whole or not at all (local: a temporary name with tmp_tag, then
 *          rename; an object store: one PUT); 0 or -1 with a message
 * shown: OUT as messages name it. The local OUT_DIR is the first implementation
 * (td_shard_finish); an object-store OUT plugs in its own. */
typedef struct td_shard_io {
    int (*list)(void *ud, const char *sub, void (*each)(const char *name, void *arg), void *arg,
                char *err, size_t errlen);
    char *(*read)(void *ud, const char *name, size_t cap, size_t *len, char *err, size_t errlen);
    int (*write)(void *ud, const char *name, const char *tmp_tag, const void *data, size_t len,
                 char *err, size_t errlen);
    void *ud;
} td_shard_io;
int td_shard_finish_io(const td_shard_io *io, const char *shown, uint32_t expect_count,
                       const char *tmp_tag, uint32_t *count_out, char *err, size_t errlen);
/* What _SUCCESS would say, from the shard markers there are now, all done or not (for
 * `report` on shards not finished): the markers of one N are read and checked to be of one
 * run as finish checks them, and summed as finish sums them, with "shards": N. io->write is
 * not used, nor are the part files checked. 0 with the JSON text in *text (malloc'ed, *len
 * bytes), *found markers of *count shards (when *found < *count, err names the missing
 * shards as finish does); 1 when OUT has no shard marker; -1 with a message (markers of
 * different N or runs, one unreadable). */
int td_shard_summary_io(const td_shard_io *io, const char *shown, char **text, size_t *len,
                        uint32_t *found, uint32_t *count, char *err, size_t errlen);
/* An object-store OUT (s3://, gs://, az://), through its open output store: listing with
 * delimiter "/", GETs, and a PUT for _SUCCESS (atomic: no temporary name). Same returns. */
typedef struct td_outstore td_outstore;
int td_shard_finish_store(td_outstore *os, uint32_t expect_count, uint32_t *count_out, char *err,
                          size_t errlen);
/* Completes o->out_dir, a folder or a store URL; a store is opened with o's output options
 * (out_store_kv, net) as a run opens it. td_shard_finish on a URL uses the defaults (the
 * environment's credentials and endpoint). Same returns, and -2 when the store's options
 * are refused (a config error; err says which). */
int td_shard_finish_opts(const td_pipeline_options *o, uint32_t expect_count, const char *tmp_tag,
                         uint32_t *count_out, char *err, size_t errlen);

#endif
