/* output.h - the files of a run's output directory: part files and _SUCCESS, nothing else
 * writes there. Internal to the pipeline; used from one thread at a time.
 *
 *   OUT_DIR/part-NNNNN.parquet          headers table (header rows)
 *   OUT_DIR/_errors/part-NNNNN.parquet  errors table (error rows): a folder named _*, so that
 *                                       dataset readers of OUT_DIR (pyarrow, pandas, Spark)
 *                                       skip it and read the headers table alone
 *   OUT_DIR/_SUCCESS                    JSON summary, written last (td_output_success)
 *
 * OUT may also be an object store (s3://, gs://, az://; outstore.h): then each part is built
 * in an unlinked temporary file in TMPDIR and uploaded whole under its final key once its
 * footer is written, _SUCCESS last, and no temporary name ever appears in OUT.
 * In a folder, a part is written under a temporary name (.part-NNNNN.parquet.tmp) and renamed only
 * once its footer is written, so every part-*.parquet that exists is complete, whatever happens to
 * the process; _SUCCESS likewise (._SUCCESS.tmp). A part holds at most rows_per_file rows. Each
 * table gets at least one file (possibly with zero rows) so that a glob over it always matches and
 * always shows the schema. Every file carries the same metadata: the table's key-values,
 * tiff_dumper.version, tiff_dumper.store_url, tiff_dumper.config.
 */
#ifndef TD_OUTPUT_H
#define TD_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outstore.h"
#include "pipeline.h"
#include "pipeline_internal.h"

/* The errors table's folder under OUT_DIR. */
#define TD_OUTPUT_ERRORS_DIR "_errors"

/* Remove outputs of a previous run from out_dir (our file names only; sharded: this shard's
 * own, td_shard_replaces, and the errors/
 * folder older versions wrote, when it held only our files); creates the dirs.
 * Returns 0 or -1 with a message in err. */
int td_output_prepare(const char *out_dir, const td_shard_options *shard, char *err, size_t errlen);
/* The same for OUT on an object store: deletes OUT/_SUCCESS, then every part-*.parquet
 * directly under OUT and under OUT/_errors/ (sharded: this shard's own, and its marker),
 * listed first, then deleted. New parts are written only after this, so OUT never holds
 * the rows of two runs. 0 or -1 (err). */
int td_output_prepare_store(td_outstore *os, const td_shard_options *shard, char *err,
                            size_t errlen);

typedef struct td_output td_output;

typedef struct td_output_target {
    const char *out_dir;
    const td_output_options *opts;
    const char *tool_version;
    const char *store_url;  /* the store's display URL (no credentials) */
    td_shard_options shard; /* part names (shard.h); count 0 = unsharded */
    td_outstore *store;     /* OUT is this object store (out_dir unused); NULL: a folder */
} td_output_target;

/* Schemas and metadata; no file is created before the first row or td_output_close.
 * Returns 0 or -1 with a message in err. */
int td_output_open(td_output **out, const td_output_target *t, char *err, size_t errlen);
/* One row into the table it belongs to (r->is_header). 0 or -1: see td_output_errmsg. */
int td_output_write(td_output *o, const td_result *r);
/* Completes the open parts (and the first part of a table that has none), or with abort
 * removes the unfinished temporary files. 0 or -1: see td_output_errmsg. */
int td_output_close(td_output *o, bool abort);
/* Message of the first failure ("" if none). */
const char *td_output_errmsg(const td_output *o);
/* Part files completed, per table. */
void td_output_files(const td_output *o, uint64_t *header_files, uint64_t *error_files);
void td_output_free(td_output *o);

/* What _SUCCESS says about the run. */
typedef struct td_output_summary {
    const char *tool_version;
    const char *store_url;
    const char *keys_from, *inventory; /* the key source, NULL if listed */
    const char *const *prefixes;       /* listed prefixes (none when a key source was used) */
    size_t n_prefixes;
    const td_stats *stats;
    const char *config_text;       /* NULL = "" */
    const td_shard_options *shard; /* NULL or count 0: unsharded */
    td_outstore *store;            /* OUT is this object store (out_dir unused); NULL: a folder */
} td_output_summary;

/* Writes OUT_DIR/_SUCCESS (sharded: the shard's marker, with "shard" and "shards"; shard.h).
 * Returns TD_PIPE_OK or a td_pipe_code with a message in err. */
int td_output_success(const char *out_dir, const td_output_summary *s, char *err, size_t errlen);

#endif
