/* pipeline_internal.h - between the loop side (pipeline.c), the fetch workers (workers.c)
 * and the writer thread (writer.c). */
#ifndef TD_PIPELINE_INTERNAL_H
#define TD_PIPELINE_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "pipeline.h"
#include "store.h"
#include "tiff.h"

/* One listed key, from the key queue to a fetch slot (freed when the slot takes its next). */
typedef struct td_key {
    struct td_key *next;
    uint64_t size;
    int64_t mtime_ms;
    size_t len;
    char *etag; /* into key[] past the key's NUL, or NULL */
    char key[]; /* NUL-terminated */
} td_key;

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
typedef struct td_outstore td_outstore;

typedef struct td_writer_options {
    const td_output_options *output;
    const char *out_dir;
    const char *store_url;
    const char *tool_version;
    void (*wake)(void *ud); /* called from the writer thread when results come back */
    void *ud;
    td_shard_options shard; /* part names (count 0 = unsharded) */
    td_outstore *out_store; /* OUT is an object store (outstore.h), or NULL */
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

/* ---- fetch workers (workers.c): a set of fetch slots on one loop and one store.
 *
 * Inline (threads: 1): the worker runs on the pipeline's loop with the pipeline's store, and
 * everything is a direct call on that thread: td_worker_start, td_worker_recycle and
 * td_worker_unpark from the pipeline, on_result and pump back into it.
 *
 * Threaded: the worker owns a loop, a store opened from the same options and a thread. The
 * pipeline talks to it in batches only: td_worker_post hands keys and returned slots over
 * under one lock with one wake-up; the worker collects finished results during a loop turn
 * and hands them back once per turn (wake, then td_worker_drain). Stats stay with the
 * pipeline's thread; the worker only snapshots its store's counters (td_worker_stats). */
typedef struct td_worker td_worker;

typedef struct td_worker_options {
    const td_pipeline_options *o;
    size_t index;             /* the caller's number for it (td_worker_index) */
    unsigned n_slots;         /* fetch slots (objects at once) of this worker */
    uint64_t followup_budget; /* its share of the follow-up byte budget */
    /* inline: the pipeline's loop and store; NULL for a threaded worker */
    uv_loop_t *loop;
    store *st;
    /* threaded: the store to open (on the calling thread, so a failure is reported now) */
    const char *store_url;
    const store_options *store_opts;
    void (*on_result)(td_result *r, void *ud); /* inline: a slot's row is ready */
    void (*pump)(void *ud);                    /* inline: after a completion from the loop */
    void (*wake)(void *ud); /* threaded, from the worker thread: td_worker_drain has work */
    void *ud;
} td_worker_options;

/* Threaded workers start their thread. Returns 0, or a td_pipe_code with a message. */
int td_worker_new(td_worker **out, const td_worker_options *o, char *err, size_t errlen);
/* Inline: starts k on a free slot. 0 = started (k is the slot's now), 1 = no free slot,
 * TD_PIPE_E_NOMEM; k is untouched unless started. */
int td_worker_start(td_worker *w, td_key *k);
/* Inline: results the writer is done with (a list through ->next): their slots are free. */
void td_worker_recycle(td_worker *w, td_result *list);
/* Inline: slots waiting for follow-up budget try again. */
void td_worker_unpark(td_worker *w);
/* Both: nothing new starts; interrupted: what is in flight is canceled (objects get an
 * `interrupted` row). Inline: immediate (the pipeline cancels its own store). */
void td_worker_stop(td_worker *w, bool interrupted, int signum);
/* Threaded: keys to fetch and results to recycle (lists through ->next, either NULL). The
 * pipeline never posts more keys than free slots (n_slots - keys out - slots out). */
void td_worker_post(td_worker *w, td_key *keys, td_result *recycle);
/* Threaded: what the worker handed back: finished results, keys it never started (after a
 * stop), and a failure (TD_PIPE_E_* or 0). */
typedef struct td_worker_out {
    td_result *results;
    td_key *unstarted;
    int fail_code;
} td_worker_out;
void td_worker_drain(td_worker *w, td_worker_out *out);
/* Threaded: the worker's store counters as last seen by its thread (final after free's join). */
void td_worker_stats(td_worker *w, store_stats *ss);
/* The worker whose slot owns r (r->owner != NULL), and its index (options). */
td_worker *td_worker_of(const td_result *r);
size_t td_worker_index(const td_worker *w);
/* Threaded: ends the thread (only when nothing is in flight and the writer has returned every
 * result) and joins it. Then, both: frees. */
void td_worker_quit(td_worker *w);
void td_worker_free(td_worker *w);

/* The name a person knows a stopping signal by (the run listens to SIGINT and SIGTERM). */
static inline const char *td__signame(int signum) {
    return signum == SIGINT ? "SIGINT (Ctrl-C)" : signum == SIGTERM ? "SIGTERM" : "a signal";
}

#endif
