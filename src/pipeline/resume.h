/* resume.h - `headers --resume`: what an interrupted run into OUT already did.
 *
 * Every part-*.parquet in OUT and OUT/_errors is complete (a folder's parts are renamed
 * only once their footer is written, a store's are uploaded whole: output.h), so the keys
 * in their path / path_bytes column are done and are skipped; new parts are numbered after
 * the old ones (output.c skips names that exist, or that td_outstore_taken says are kept).
 * Only the run's own parts count: unsharded, part-NNNNN.parquet; shard I, its own
 * part-S<I>-NNNNN.parquet. Everything else a fresh run would replace (shard.h
 * td_shard_replaces: temporaries, _SUCCESS, this shard's marker; for an unsharded run the
 * parts of any shard) is removed, as a fresh run removes it.
 *
 * Objects a Ctrl-C stopped have an error row of kind `interrupted`; those are retried. A
 * part cannot be edited, so an errors part holding such a row is removed whole and all its
 * keys are read again (errors parts are the small table; the other failures in it simply
 * fail again). Each key is still in exactly one row.
 *
 * On an object store (s3://, gs://, az://) the parts are listed (an upload in progress or
 * abandoned is no object, so it never counts). A part of at most 8 MiB (the environment's
 * TD_RESUME_WHOLE_MAX bytes, for tests) is read with one GET; a larger one by ranged GETs
 * of its footer and key columns through a few 256 KiB read-ahead windows (about one
 * request per row group).
 *
 * Memory: the done-set keeps a 64-bit fingerprint of each key, not the key, in an
 * open-addressing table of 8-byte slots filled to at most 3/4 (doubled when it would be
 * fuller): 10.7 to 21.3 bytes per key (10^7 keys: at most 213 MB; while it doubles, the old
 * table as well for a moment). Two different keys share a fingerprint with probability
 * about n^2 / 2^65 for n keys (10^7 keys: 3e-6; 10^9: 3 %), which would skip one key.
 */
#ifndef TD_RESUME_H
#define TD_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"

typedef struct td_doneset td_doneset;
typedef struct td_outstore td_outstore;

typedef struct td_resume_info {
    uint64_t header_rows, error_rows;   /* rows of the complete parts found */
    uint64_t header_files, error_files; /* complete parts found */
    uint64_t requests, bytes;           /* a store: GETs sent and bytes read for them */
    uint64_t dropped;                   /* a store: truncated parts deleted (see below) */
    uint64_t retried;                   /* errors parts with `interrupted` rows removed */
} td_resume_info;

/* Reads the own complete parts of the folder out_dir (creating the folders when missing:
 * resuming a run that never wrote is a plain run) into *out; removes the rest of what a
 * fresh run replaces. shard NULL or count 0: unsharded. Returns 0, or -1 with a message
 * naming the file in err (a part that does not read is an error: it would not be
 * complete). */
int td_resume_load(const char *out_dir, const td_shard_options *shard, td_doneset **out,
                   td_resume_info *info, char *err, size_t errlen);
/* The same for OUT on an object store: deletes _SUCCESS first, then what a fresh run
 * replaces except the own parts, which are read (ranged GETs) and marked taken
 * (td_outstore_taken_add). A part that is not a whole Parquet file (no footer) cannot be
 * one of ours on a real store (an object appears only once complete), but an emulator
 * (s3rver) may leave a truncated object behind a killed PUT: it is deleted and its keys
 * are read again, as a folder's temporary file is. */
int td_resume_load_store(td_outstore *os, const td_shard_options *shard, td_doneset **out,
                         td_resume_info *info, char *err, size_t errlen);
bool td_doneset_has(const td_doneset *d, const char *key, size_t len);
size_t td_doneset_count(const td_doneset *d);
size_t td_doneset_bytes(const td_doneset *d); /* memory held */
void td_doneset_free(td_doneset *d);

#endif
