/* pipeline_internal.h - between the loop side (pipeline.c) and the writer thread (writer.c). */
#ifndef TD_PIPELINE_INTERNAL_H
#define TD_PIPELINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "tiff.h"

/* One output row. Zero copy: for a header row, hdr and path point into the fetch slot that
 * produced it, and the slot is not reused until the writer hands the result back. */
typedef struct td_result {
    struct td_result *next;
    bool is_header;
    const char *path; /* key as listed (or the prefix, for a listing failure) */
    size_t path_len;
    bool has_size;
    uint64_t size;
    int64_t mtime_ms; /* INT64_MIN = unknown */
    const char *etag; /* NULL = unknown */
    /* header rows */
    const tiff_header *hdr;
    uint64_t fetched_bytes, requests;
    /* error rows */
    const char *stage; /* "list", "fetch", "parse" */
    const char *kind;  /* store_err_name / tiff_err_name */
    const char *message;
    int http_status; /* 0 = none */
    unsigned attempts;
    void *owner; /* the slot, or NULL for a standalone (malloc'ed) result */
} td_result;

typedef struct td_writer td_writer;

typedef struct td_writer_options {
    const td_output_options *output;
    const char *out_dir;
    const char *store_url;
    const char *tool_version;
    void (*wake)(void *ud); /* called from the writer thread when results come back */
    void *ud;
} td_writer_options;

int td_writer_start(td_writer **out, const td_writer_options *o, char *err, size_t errlen);
/* Loop thread: queue a result for the writer. It reaches the writer thread at the next
 * td_writer_flush (or td_writer_finish); push costs no lock. */
void td_writer_push(td_writer *w, td_result *r);
/* Loop thread: hand the pushed results over at once (never blocks for long: a mutex). */
void td_writer_flush(td_writer *w);
/* Loop thread: the results written (or dropped) since the last call, as a list. */
td_result *td_writer_take_done(td_writer *w);
/* No more pushes. abort: drop queued rows and remove the unfinished temporary files. */
void td_writer_finish(td_writer *w, bool abort);
/* True once the writer thread has returned every result and is about to exit. */
bool td_writer_exited(td_writer *w);
/* True if writing failed (message available at join). */
bool td_writer_failed(td_writer *w);
/* Joins and frees. Returns 0 or -1 with the message in err. */
int td_writer_join(td_writer *w, uint64_t *header_files, uint64_t *error_files, char *err,
                   size_t errlen);

#endif
