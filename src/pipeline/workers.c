/* workers.c - fetch slots (each reads its object with a td_reader), grouped per event loop:
 * the fetch side of a run (pipeline_internal.h).
 *
 * A separate file because with concurrency.threads > 1 this part runs on several threads at
 * once, each with its own libuv loop, transfer engine and store, while listing, the key
 * queue, the counters and the hand-off to the writer stay on the pipeline's loop
 * (pipeline.c). Keeping the thread-crossing code here keeps the single-loop logic there
 * readable, and makes plain which state a worker thread may touch: its own struct, and the
 * `in`/`out` boxes under its mutex.
 *
 * Memory: a worker holds at most n_slots slots, each one prefetch buffer and the follow-up
 * bytes of one object (at most max_header_bytes, enforced by the parser), admitted against
 * the worker's share of the follow-up budget (slot_admit). Keys wait in a worker only
 * between a post and the next loop turn: the pipeline never posts more than free slots. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "pipeline_internal.h"
#include "reader.h"
#include "store.h"
#include "tiff.h"
#include "util.h"

typedef struct slot {
    td_worker *w;
    struct slot *next_free;
    td_reader *reader;
    td_key *key;
    bool sync;            /* inside td_reader_start/resume: its callback must not pump */
    uint64_t buf_bytes;   /* follow-up bytes held, counted in followup_used */
    uint64_t parked_need; /* bytes a parked slot waits for */
    struct slot *next_parked;
    td_result res;
    /* SLOT_MSG bytes, malloc'd at the slot's first error row: most slots never have one,
     * and slots are many (n_consumers), each one's struct touched when calloc'd */
    char *message;
} slot;

#define SLOT_MSG 1280

struct td_worker {
    td_worker_options o;
    bool threaded;
    uv_loop_t *loop;
    store *st;
    slot **slots;
    size_t n_slots;
    slot *free_slots;
    td_parser_pool *parsers; /* the slots' readers take theirs from here (reader.h) */
    /* follow-up buffers of all slots together stay near a budget; a slot whose first
     * follow-up round does not fit waits (parked) until others give bytes back */
    uint64_t followup_used;
    slot *park_head, *park_tail;
    bool stopping, interrupted;
    int signum;
    /* threaded only; worker-thread state */
    uv_loop_t own_loop;
    uv_thread_t th;
    bool th_started, closing;
    uv_async_t async;
    uv_prepare_t before_poll;
    uv_check_t after_poll;
    td_key *kh, *kt;    /* posted keys not started yet (only until slots are found) */
    td_result *rh, *rt; /* finished during this loop turn */
    td_key *uh, *ut;    /* keys given back unstarted (after a stop) */
    int fail_code;      /* not yet reported */
    uint64_t last_snap; /* loop time of the last store_stats snapshot */
    /* shared with the pipeline's thread, under mu */
    uv_mutex_t mu;
    struct {
        td_key *kh, *kt;
        td_result *rh, *rt;
        bool stop, interrupted, quit;
        int signum;
    } in;
    struct {
        td_result *rh, *rt;
        td_key *uh, *ut;
        int fail_code;
        store_stats ss;
    } out;
};

static void msgf(char *dst, size_t n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void msgf(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ut_vmsgf(dst, n, fmt, ap);
    va_end(ap);
}

/* Appends the list starting at h to the list head..tail (linked through next). */
#define LIST_SPLICE(head, tail, h, type) \
    do {                                 \
        type *t_ = (h);                  \
        if (t_) {                        \
            if (*(tail))                 \
                (*(tail))->next = t_;    \
            else                         \
                *(head) = t_;            \
            while (t_->next)             \
                t_ = t_->next;           \
            *(tail) = t_;                \
        }                                \
    } while (0)

/* ------------------------------------------------------------------ slots */

static void slot_finish(slot *s);
static td_reader_admit slot_admit(td_reader *r, uint64_t need, void *ud);

static slot *slot_new(td_worker *w) {
    slot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->w = w;
    td_reader_options ro = {w->o.o->fetch.prefetch_bytes, w->o.o->fetch.max_header_bytes, 0,
                            slot_admit, w->parsers};
    if (td_reader_new(&s->reader, w->st, &ro) != 0) {
        free(s);
        return NULL;
    }
    if (w->o.o->fetch.first_ifd_only) /* fetch.ifds: first */
        td_reader_set_parse_flags(s->reader, TIFF_OPT_FIRST_IFD);
    return s;
}

static void slot_release_bufs(slot *s) {
    td_reader_release(s->reader);
    s->w->followup_used -= s->buf_bytes;
    s->buf_bytes = 0;
}

static void slot_free(slot *s) {
    slot_release_bufs(s);
    td_reader_free(s->reader);
    free(s->key);
    free(s->message);
    free(s);
}

/* A row is ready: straight to the pipeline (inline), or collected for the loop turn's
 * hand-off (threaded). */
static void deliver(td_worker *w, td_result *r) {
    if (!w->threaded) {
        w->o.on_result(r, w->o.ud);
        return;
    }
    r->next = NULL;
    if (w->rt)
        w->rt->next = r;
    else
        w->rh = r;
    w->rt = r;
}

/* "file:///root/key" style name of an object, for messages. */
static void object_url(const td_worker *w, const char *key, char *buf, size_t len) {
    const char *u = store_url(w->st);
    size_t ul = strlen(u);
    bool slash = ul > 0 && u[ul - 1] == '/';
    msgf(buf, len, "%s%s%s", u, slash ? "" : "/", key);
}

/* Error message naming the object. */
static void slot_error(slot *s, const char *stage, const char *kind, const char *detail,
                       int http_status, unsigned attempts) {
    td_result *r = &s->res;
    if (!s->message)
        s->message = malloc(SLOT_MSG);
    if (s->message) {
        char url[1024];
        object_url(s->w, s->key->key, url, sizeof url);
        if (strstr(detail, s->key->key))
            msgf(s->message, SLOT_MSG, "%s", detail);
        else
            msgf(s->message, SLOT_MSG, "%s: %s", url, detail);
        /* a detail cut at its end by a fixed buffer (the store's errmsg[256]) inside a
         * character: what is left of that character goes (the path column keeps the key) */
        ut_utf8_trim_cut(s->message, strlen(s->message));
        r->message = s->message;
    } else {
        r->message = "out of memory for the error message"; /* the row keeps kind and path */
    }
    r->is_header = false;
    r->stage = stage;
    r->kind = kind;
    r->http_status = http_status;
    r->attempts = attempts;
    slot_finish(s);
}

/* An object started before the signal and stopped by it: an error row of kind
 * `interrupted`, so that every object the run started ends as exactly one row. */
static void slot_interrupted(slot *s, unsigned attempts) {
    char detail[96];
    msgf(detail, sizeof detail, "interrupted by %s before the header was read",
         td__signame(s->w->signum));
    slot_error(s, "fetch", "interrupted", detail, 0, attempts);
}

static void slot_finish(slot *s) {
    const td_read_result *rr = td_reader_result(s->reader);
    s->res.requests = rr->requests;
    s->res.fetched_bytes = rr->fetched_bytes;
    deliver(s->w, &s->res);
}

/* Before each follow-up round. Follow-up buffers of all slots together stay near a budget:
 * a slot that already holds follow-up bytes is never parked (holding while waiting would
 * deadlock), so the budget is soft: it stops new objects from starting follow-up reads
 * while it is exceeded; each object is capped by max_header_bytes anyway. */
static td_reader_admit slot_admit(td_reader *r, uint64_t need, void *ud) {
    (void)r;
    slot *s = ud;
    td_worker *w = s->w;
    if (w->stopping)
        return TD_READER_STOP;
    if (s->buf_bytes == 0 && w->followup_used > 0 &&
        w->followup_used + need > w->o.followup_budget) {
        s->parked_need = need;
        s->next_parked = NULL;
        if (w->park_tail)
            w->park_tail->next_parked = s;
        else
            w->park_head = s;
        w->park_tail = s;
        return TD_READER_WAIT;
    }
    w->followup_used += need;
    s->buf_bytes += need;
    return TD_READER_GO;
}

/* The reader is done with the slot's object. */
static void slot_read_cb(td_reader *r, const td_read_result *rr, void *ud) {
    slot *s = ud;
    td_worker *w = s->w;
    if (rr->object_size != UINT64_MAX && !s->res.has_size) {
        s->res.has_size = true;
        s->res.size = rr->object_size;
    }
    switch (rr->status) {
    case TD_READ_OK:
        s->res.is_header = true;
        s->res.hdr = td_reader_header(r);
        slot_finish(s);
        break;
    case TD_READ_FETCH:
        if (rr->code == STORE_E_CANCELED && w->interrupted) {
            slot_interrupted(s, rr->attempts);
            break;
        }
        slot_error(s, "fetch", store_err_name(rr->code), rr->message, rr->http_status,
                   rr->attempts);
        break;
    case TD_READ_PARSE:
    case TD_READ_ROUNDS:
        slot_error(s, "parse", tiff_err_name(rr->code), rr->message, 0, 0);
        break;
    case TD_READ_STOPPED:
        if (w->interrupted)
            slot_interrupted(s, 0);
        else
            slot_finish(s);
        break;
    }
    /* threaded: the slot is busy until the writer returns it, nothing to start now */
    if (!s->sync && !w->threaded)
        w->o.pump(w->o.ud);
}

static void slot_start(slot *s, td_key *k) {
    free(s->key);
    s->key = k;
    slot_release_bufs(s);
    memset(&s->res, 0, sizeof s->res);
    s->res.owner = s;
    s->res.path = k->key;
    s->res.path_len = k->len;
    s->res.has_size = k->size != UINT64_MAX; /* a key list does not say */
    s->res.size = k->size;
    s->res.mtime_ms = k->mtime_ms;
    s->res.etag = k->etag;
    s->sync = true;
    td_reader_start(s->reader, k->key, k->size, slot_read_cb, s);
    s->sync = false;
}

int td_worker_start(td_worker *w, td_key *k) {
    slot *s = w->free_slots;
    if (s) {
        w->free_slots = s->next_free;
    } else if (w->n_slots < w->o.n_slots) {
        s = slot_new(w);
        if (!s)
            return TD_PIPE_E_NOMEM;
        w->slots[w->n_slots++] = s;
    } else {
        return 1;
    }
    slot_start(s, k);
    return 0;
}

void td_worker_recycle(td_worker *w, td_result *list) {
    while (list) {
        td_result *next = list->next;
        slot *s = list->owner;
        slot_release_bufs(s); /* the writer is done with the header */
        s->next_free = w->free_slots;
        w->free_slots = s;
        list = next;
    }
}

void td_worker_unpark(td_worker *w) {
    while (w->park_head) {
        slot *s = w->park_head;
        if (!w->stopping && w->followup_used > 0 &&
            w->followup_used + s->parked_need > w->o.followup_budget)
            return;
        w->park_head = s->next_parked;
        if (!w->park_head)
            w->park_tail = NULL;
        if (w->stopping) {
            if (w->interrupted)
                slot_interrupted(s, 0);
            else
                slot_finish(s);
        } else {
            s->sync = true;
            td_reader_resume(s->reader);
            s->sync = false;
        }
    }
}

td_worker *td_worker_of(const td_result *r) { return ((const slot *)r->owner)->w; }
size_t td_worker_index(const td_worker *w) { return w->o.index; }

/* ------------------------------------------------------------------ worker threads */

static void close_cb(uv_handle_t *h) { (void)h; }

/* Worker thread: everything the pipeline posted since the last time. */
static void async_cb(uv_async_t *a) {
    td_worker *w = a->data;
    if (w->closing)
        return;
    uv_mutex_lock(&w->mu);
    td_key *keys = w->in.kh;
    td_result *back = w->in.rh;
    w->in.kh = w->in.kt = NULL;
    w->in.rh = w->in.rt = NULL;
    bool stop = w->in.stop, intr = w->in.interrupted, quit = w->in.quit;
    int signum = w->in.signum;
    uv_mutex_unlock(&w->mu);
    if (quit) {
        /* nothing is in flight (the pipeline quits a worker only then): the last counters,
         * then the handles and the store close and the loop runs out */
        w->closing = true;
        uv_mutex_lock(&w->mu);
        store_get_stats(w->st, &w->out.ss);
        uv_mutex_unlock(&w->mu);
        while (keys) { /* never posted with quit; freed for safety */
            td_key *n = keys->next;
            free(keys);
            keys = n;
        }
        uv_close((uv_handle_t *)&w->async, close_cb);
        uv_close((uv_handle_t *)&w->before_poll, close_cb);
        uv_close((uv_handle_t *)&w->after_poll, close_cb);
        store_close(w->st);
        w->st = NULL;
        return;
    }
    if (stop && (!w->stopping || (intr && !w->interrupted))) {
        bool cancel = intr && !w->interrupted;
        w->stopping = true;
        w->interrupted |= intr;
        if (intr)
            w->signum = signum;
        /* reads in flight, their retries and backoff waits end now; their callbacks give
         * the objects `interrupted` rows */
        if (cancel)
            store_cancel_all(w->st);
    }
    td_worker_recycle(w, back);
    td_worker_unpark(w);
    LIST_SPLICE(&w->kh, &w->kt, keys, td_key);
    while (w->kh) {
        td_key *k = w->kh;
        if (w->stopping) {
            w->kh = k->next;
            k->next = NULL;
            LIST_SPLICE(&w->uh, &w->ut, k, td_key);
            continue;
        }
        td_key *next = k->next;
        k->next = NULL;
        int rc = td_worker_start(w, k);
        if (rc != 0) {
            k->next = next;
            if (rc == 1)
                break; /* cannot happen: the pipeline posts no more than free slots */
            if (!w->fail_code)
                w->fail_code = rc;
            w->stopping = true; /* the key and the rest go back unstarted */
            continue;
        }
        w->kh = next;
    }
    if (!w->kh)
        w->kt = NULL;
}

/* Worker thread, both sides of the poll (as the pipeline's flush to the writer): the rows of
 * a loop turn go to the pipeline in one hand-over, one lock and one wake-up per turn. The
 * store's counters are copied for the progress line at most every 250 ms. */
static void flush(td_worker *w) {
    uint64_t now = uv_now(w->loop);
    bool snap = now - w->last_snap >= 250;
    bool send = w->rh || w->uh || w->fail_code;
    if (!send && !snap)
        return;
    uv_mutex_lock(&w->mu);
    if (w->rh) {
        if (w->out.rt)
            w->out.rt->next = w->rh;
        else
            w->out.rh = w->rh;
        w->out.rt = w->rt;
        w->rh = w->rt = NULL;
    }
    LIST_SPLICE(&w->out.uh, &w->out.ut, w->uh, td_key);
    w->uh = w->ut = NULL;
    if (w->fail_code && !w->out.fail_code)
        w->out.fail_code = w->fail_code;
    w->fail_code = 0;
    if (snap) {
        store_get_stats(w->st, &w->out.ss);
        w->last_snap = now;
    }
    uv_mutex_unlock(&w->mu);
    if (send)
        w->o.wake(w->o.ud);
}

static void prepare_cb(uv_prepare_t *h) { flush(h->data); }
static void check_cb(uv_check_t *h) { flush(h->data); }

static void worker_main(void *arg) {
    td_worker *w = arg;
    /* until td_worker_quit: then the handles and the store close and the loop runs out (the
     * slots' readers are freed after the join, as on the pipeline's loop after its store) */
    uv_run(w->loop, UV_RUN_DEFAULT);
}

int td_worker_new(td_worker **out, const td_worker_options *o, char *err, size_t errlen) {
    *out = NULL;
    td_worker *w = calloc(1, sizeof *w);
    if (!w || !(w->slots = calloc(o->n_slots ? o->n_slots : 1, sizeof *w->slots)) ||
        !(w->parsers = td_parser_pool_new(o->o->fetch.max_header_bytes))) {
        if (w)
            free(w->slots);
        free(w);
        msgf(err, errlen, "out of memory");
        return TD_PIPE_E_NOMEM;
    }
    w->o = *o;
    if (o->loop) { /* inline */
        w->loop = o->loop;
        w->st = o->st;
        *out = w;
        return 0;
    }
    w->threaded = true;
    w->loop = &w->own_loop;
    if (uv_loop_init(w->loop) != 0) {
        td_parser_pool_free(w->parsers);
        free(w->slots);
        free(w);
        msgf(err, errlen, "cannot create an event loop");
        return TD_PIPE_E_SYSTEM;
    }
    char serr[512] = "";
    int src = store_open(&w->st, w->loop, o->store_url, o->store_opts, serr, sizeof serr);
    if (src < 0) {
        /* the pipeline's own store opened with the same options: rare (no memory, ...) */
        msgf(err, errlen, "store of a fetch thread: %s", serr[0] ? serr : store_strerror(src));
        uv_loop_close(w->loop);
        td_parser_pool_free(w->parsers);
        free(w->slots);
        free(w);
        return src == STORE_E_NOMEM ? TD_PIPE_E_NOMEM : TD_PIPE_E_STORE;
    }
    uv_mutex_init(&w->mu);
    uv_async_init(w->loop, &w->async, async_cb);
    uv_prepare_init(w->loop, &w->before_poll);
    uv_check_init(w->loop, &w->after_poll);
    w->async.data = w->before_poll.data = w->after_poll.data = w;
    uv_prepare_start(&w->before_poll, prepare_cb);
    uv_check_start(&w->after_poll, check_cb);
    store_get_stats(w->st, &w->out.ss);
    if (uv_thread_create(&w->th, worker_main, w) != 0) {
        uv_close((uv_handle_t *)&w->async, close_cb);
        uv_close((uv_handle_t *)&w->before_poll, close_cb);
        uv_close((uv_handle_t *)&w->after_poll, close_cb);
        store_close(w->st);
        uv_run(w->loop, UV_RUN_DEFAULT);
        uv_loop_close(w->loop);
        uv_mutex_destroy(&w->mu);
        td_parser_pool_free(w->parsers);
        free(w->slots);
        free(w);
        msgf(err, errlen, "cannot start a fetch thread");
        return TD_PIPE_E_SYSTEM;
    }
    w->th_started = true;
    *out = w;
    return 0;
}

void td_worker_stop(td_worker *w, bool interrupted, int signum) {
    if (!w->threaded) {
        w->stopping = true;
        if (interrupted) {
            w->interrupted = true;
            w->signum = signum;
        }
        return;
    }
    uv_mutex_lock(&w->mu);
    w->in.stop = true;
    if (interrupted) {
        w->in.interrupted = true;
        w->in.signum = signum;
    }
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

void td_worker_post(td_worker *w, td_key *keys, td_result *recycle) {
    if (!keys && !recycle)
        return;
    uv_mutex_lock(&w->mu);
    LIST_SPLICE(&w->in.kh, &w->in.kt, keys, td_key);
    LIST_SPLICE(&w->in.rh, &w->in.rt, recycle, td_result);
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

void td_worker_drain(td_worker *w, td_worker_out *out) {
    uv_mutex_lock(&w->mu);
    out->results = w->out.rh;
    out->unstarted = w->out.uh;
    out->fail_code = w->out.fail_code;
    w->out.rh = w->out.rt = NULL;
    w->out.uh = w->out.ut = NULL;
    w->out.fail_code = 0;
    uv_mutex_unlock(&w->mu);
}

void td_worker_stats(td_worker *w, store_stats *ss) {
    if (!w->threaded) {
        store_get_stats(w->st, ss);
        return;
    }
    uv_mutex_lock(&w->mu);
    *ss = w->out.ss;
    uv_mutex_unlock(&w->mu);
}

void td_worker_quit(td_worker *w) {
    if (!w || !w->threaded || !w->th_started)
        return;
    uv_mutex_lock(&w->mu);
    w->in.quit = true;
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
    uv_thread_join(&w->th);
    w->th_started = false;
}

void td_worker_free(td_worker *w) {
    if (!w)
        return;
    td_worker_quit(w);
    for (size_t i = 0; i < w->n_slots; i++)
        slot_free(w->slots[i]);
    free(w->slots);
    td_parser_pool_free(w->parsers); /* after the readers: they gave their parsers back */
    /* keys a failed start left: never posted otherwise (the pipeline drains before quit) */
    td_key *lists[] = {w->kh, w->uh, w->in.kh, w->out.uh};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        while (lists[i]) {
            td_key *k = lists[i];
            lists[i] = k->next;
            free(k);
        }
    if (w->threaded) {
        uv_loop_close(w->loop);
        uv_mutex_destroy(&w->mu);
    }
    free(w);
}
