/* dumpread.h - reads a run's output folder for `tiff-dumper report`: the whole contract.
 *
 * Lists OUT (a local folder; unsharded part-NNNNN.parquet or sharded part-S<s>-NNNNN.parquet,
 * and the same under _errors/), reads _SUCCESS (or notes the shard markers when there is
 * none) and streams every part file's rows, column by column in lockstep with the project's
 * Parquet reader (parquet_read.h), into a td_report. Memory: one page per column read (the
 * reader's bound) and the report's own bound, whatever the number of rows.
 */
#ifndef TD_DUMPREAD_H
#define TD_DUMPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct td_dumpread_info {
    char *success; /* _SUCCESS's text (malloc'ed), NULL when absent */
    size_t success_len;
    bool complete; /* _SUCCESS exists */
    unsigned shard_markers;
    uint64_t header_files, error_files;
} td_dumpread_info;

/* Reads OUT's _SUCCESS and markers into info (before the rows: the caller may need the
 * run's config, e.g. its prefetch). 0, or -1 with a message (OUT is not a folder). */
int td_dumpread_info_read(const char *out, td_dumpread_info *info, char *err, size_t errlen);
/* Streams every part file of OUT into r, counting the files into info. 0, or -1 with a
 * message naming the file (a part that is not a readable Parquet file of this tool). */
int td_dumpread_rows(const char *out, td_report *r, td_dumpread_info *info, char *err,
                     size_t errlen);
void td_dumpread_info_free(td_dumpread_info *info);

#endif
