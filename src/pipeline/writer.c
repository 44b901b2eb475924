/* writer.c - the writer thread: results in, rows out through the output module (output.h,
 * which owns part files, their names and their rotation), results handed back to the loop.
 *
 * The loop pushes results without a lock and hands them over once per loop turn; the
 * thread returns them in small batches as soon as their rows are in the column buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "output.h"
#include "pipeline_internal.h"
struct td_writer {
    td_writer_options o;
    uv_thread_t th;
    uv_mutex_t mu;
    uv_cond_t cv;
    td_result *qhead, *qtail; /* handed over, not yet taken by the writer thread */
    td_result *dhead, *dtail; /* written, not yet taken back by the loop */
    /* loop-thread only: pushed since the last flush. Handing results over one by one
     * cost a lock and a condition signal per row, which showed in profiles at 25k rows/s;
     * the loop hands over once per loop iteration instead (td_writer_flush). */
    td_result *phead, *ptail;
    bool finish, abort, exited, failed;
    char errmsg[512];
    td_output *out; /* writer-thread state */
};

/* The output module's first failure, made visible to the loop thread. */
static void wfail(td_writer *w) {
    uv_mutex_lock(&w->mu);
    if (!w->failed) {
        w->failed = true;
        snprintf(w->errmsg, sizeof w->errmsg, "%s", td_output_errmsg(w->out));
    }
    uv_mutex_unlock(&w->mu);
}

static void write_one(td_writer *w, td_result *r) {
    if (td_output_write(w->out, r) != 0)
        wfail(w);
}

/* Rows written between two hand-backs: small enough that few slots wait on a row-group
 * flush, large enough that the lock and the loop wake-up are paid once per batch. */
#define WRITER_RETURN_BATCH 64

static void give_back(td_writer *w, td_result *head, td_result *tail) {
    uv_mutex_lock(&w->mu);
    if (w->dtail)
        w->dtail->next = head;
    else
        w->dhead = head;
    w->dtail = tail;
    uv_mutex_unlock(&w->mu);
    w->o.wake(w->o.ud);
}

static void writer_main(void *arg) {
    td_writer *w = arg;
    uv_mutex_lock(&w->mu);
    for (;;) {
        while (!w->qhead && !w->finish)
            uv_cond_wait(&w->cv, &w->mu);
        if (!w->qhead && w->finish)
            break;
        td_result *take = w->qhead;
        w->qhead = w->qtail = NULL;
        bool skip = w->abort || w->failed;
        uv_mutex_unlock(&w->mu);
        /* Results go back in small batches as soon as their rows are in the column
         * buffers, so the slots fetch again while a row group is compressed: the flush runs
         * inside the row that fills a group, and only that row's batch (at most
         * WRITER_RETURN_BATCH slots) waits for it. */
        td_result *back = NULL, *back_tail = NULL;
        unsigned n_back = 0;
        while (take) {
            td_result *r = take;
            take = r->next;
            r->next = NULL;
            if (n_back >= WRITER_RETURN_BATCH) {
                give_back(w, back, back_tail);
                back = back_tail = NULL;
                n_back = 0;
            }
            if (!skip)
                write_one(w, r);
            if (back_tail)
                back_tail->next = r;
            else
                back = r;
            back_tail = r;
            n_back++;
        }
        if (back)
            give_back(w, back, back_tail);
        uv_mutex_lock(&w->mu);
    }
    bool abort = w->abort || w->failed;
    uv_mutex_unlock(&w->mu);
    if (td_output_close(w->out, abort) != 0 && !abort)
        wfail(w);
    uv_mutex_lock(&w->mu);
    w->exited = true;
    uv_mutex_unlock(&w->mu);
    w->o.wake(w->o.ud);
}

static void writer_free(td_writer *w) {
    td_output_free(w->out);
    uv_mutex_destroy(&w->mu);
    uv_cond_destroy(&w->cv);
    free(w);
}

int td_writer_start(td_writer **out, const td_writer_options *o, char *err, size_t errlen) {
    *out = NULL;
    td_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->o = *o;
    uv_mutex_init(&w->mu);
    uv_cond_init(&w->cv);
    td_output_target t = {o->out_dir,   o->output, o->tool_version,
                          o->store_url, o->shard,  o->out_store};
    if (td_output_open(&w->out, &t, err, errlen) != 0) {
        writer_free(w);
        return -1;
    }
    if (uv_thread_create(&w->th, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void td_writer_push(td_writer *w, td_result *r) {
    r->next = NULL;
    if (w->ptail)
        w->ptail->next = r;
    else
        w->phead = r;
    w->ptail = r;
}

void td_writer_flush(td_writer *w) {
    if (!w->phead)
        return;
    uv_mutex_lock(&w->mu);
    if (w->qtail)
        w->qtail->next = w->phead;
    else
        w->qhead = w->phead;
    w->qtail = w->ptail;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
    w->phead = w->ptail = NULL;
}

td_result *td_writer_take_done(td_writer *w) {
    uv_mutex_lock(&w->mu);
    td_result *r = w->dhead;
    w->dhead = w->dtail = NULL;
    uv_mutex_unlock(&w->mu);
    return r;
}

void td_writer_finish(td_writer *w, bool abort) {
    td_writer_flush(w);
    uv_mutex_lock(&w->mu);
    w->finish = true;
    w->abort |= abort;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
}

bool td_writer_exited(td_writer *w) {
    uv_mutex_lock(&w->mu);
    bool e = w->exited;
    uv_mutex_unlock(&w->mu);
    return e;
}

bool td_writer_failed(td_writer *w) {
    uv_mutex_lock(&w->mu);
    bool f = w->failed;
    uv_mutex_unlock(&w->mu);
    return f;
}

int td_writer_join(td_writer *w, uint64_t *header_files, uint64_t *error_files, char *err,
                   size_t errlen) {
    uv_thread_join(&w->th);
    td_output_files(w->out, header_files, error_files);
    int rc = 0;
    if (w->failed) {
        snprintf(err, errlen, "%s", w->errmsg);
        rc = -1;
    }
    writer_free(w);
    return rc;
}
