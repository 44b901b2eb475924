/* dumpread.h - reads a run's output for `tiff-dumper report`: the whole contract.
 *
 * OUT is a local folder (or file://) or an object store URL (s3://, gs://, az://; read
 * through store.h with ranged GETs on a private event loop). Lists OUT (unsharded
 * part-NNNNN.parquet or sharded part-S<s>-NNNNN.parquet, the same under _errors/, _SUCCESS
 * and the shard markers), reads _SUCCESS and streams every part file's rows, column by
 * column in lockstep with the project's Parquet reader (parquet_read.h), into a td_report.
 * Memory: the file names, one page per column read (the reader's bound) and the report's
 * own bound, whatever the number of rows.
 *
 *   td_dumpread *d; td_dumpread_open(&d, "out", NULL, err, n);
 *   td_dumpread_info info; td_dumpread_info_read(d, &info, ...);   // _SUCCESS
 *   td_dumpread_rows(d, report, &info, ...); td_dumpread_info_free(&info); td_dumpread_close(d);
 */
#ifndef TD_DUMPREAD_H
#define TD_DUMPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "store.h"

typedef struct td_dumpread td_dumpread;

typedef struct td_dumpread_info {
    char *success; /* _SUCCESS's text (malloc'ed), NULL when absent */
    size_t success_len;
    bool complete; /* _SUCCESS exists */
    unsigned shard_markers;
    /* No _SUCCESS but shard markers: success holds what `finish` would write, summed
     * (shard.h td_shard_summary_io) from summary_markers markers of shard_count shards,
     * and markers_note names the missing shards when there are fewer; when they cannot be
     * summed (markers of two runs or splits, one unreadable) success stays NULL and
     * markers_note says why. */
    uint32_t summary_markers, shard_count;
    char markers_note[256];
    uint64_t header_files, error_files; /* part files read so far */
} td_dumpread_info;

/* Opens OUT and lists it. so: the object store's options (NULL: STORE_OPTIONS_INIT; the
 * backends also read their environment variables). 0, or -1 with a message (OUT cannot be
 * opened or listed). */
int td_dumpread_open(td_dumpread **out, const char *out_url, const store_options *so, char *err,
                     size_t errlen);
void td_dumpread_close(td_dumpread *d);
/* Reads _SUCCESS (when there is one; else the sum of the shard markers, see above) and
 * counts the shard markers. 0, or -1 with a message. */
int td_dumpread_info_read(td_dumpread *d, td_dumpread_info *info, char *err, size_t errlen);
/* Streams every part file into r, counting the files into info. 0, or -1 with a message
 * naming the file (a part that is not a readable Parquet file of this tool). */
int td_dumpread_rows(td_dumpread *d, td_report *r, td_dumpread_info *info, char *err,
                     size_t errlen);
void td_dumpread_info_free(td_dumpread_info *info);
/* Object store: the GET requests made so far (retries not counted); 0 for a folder. */
uint64_t td_dumpread_requests(const td_dumpread *d);

#endif
