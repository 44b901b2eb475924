/* pipeline.c - the loop side of a run: listing with backpressure, the key queue, handing keys
 * to the fetch workers (workers.c) and their rows to the writer thread (writer.c), counters,
 * signals; also the options' defaults and the suffix rule (pipeline.h).
 *
 * Everything here runs on one libuv loop thread (fetch threads reach it only through the
 * td_worker_* calls, writer through td_writer_*). Counts that bound memory: queued keys +
 * pending list errors + keys of pages being listed never exceed max_buffer_size; at most
 * n_consumers slots exist (shared out among the workers; a worker is never handed more keys
 * than it has free slots); each slot's reader holds one prefetch buffer and the follow-up
 * bytes of one object (at most max_header_bytes, enforced by the parser), admitted against
 * a follow-up budget shared by the slots of a worker (workers.c). */
#include "pipeline.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "fanout.h"
#include "keysrc.h"
#include "output.h"
#include "resume.h"
#include "outstore.h"
#include "pipeline_internal.h"
#include "shard.h"
#include "store.h"
#include "tiff.h"
#include "util.h"

#ifndef TD_VERSION
#define TD_VERSION "0.0.0"
#endif

const char *td_pipe_err_name(int code) {
    switch (code) {
#define TD_PIPE_X_NAME(name, c, short_name, text) \
    case c:                                       \
        return short_name;
        TD_PIPE_ERRNO_MAP(TD_PIPE_X_NAME)
#undef TD_PIPE_X_NAME
    default:
        return "unknown";
    }
}

const char *td_pipe_strerror(int code) {
    switch (code) {
#define TD_PIPE_X_TEXT(name, c, short_name, text) \
    case c:                                       \
        return text;
        TD_PIPE_ERRNO_MAP(TD_PIPE_X_TEXT)
#undef TD_PIPE_X_TEXT
    default:
        return "unknown error";
    }
}

static const char *const default_prefixes[] = {""};
static const char *const default_suffixes[] = {".tif", ".tiff"};

void td_pipeline_options_init(td_pipeline_options *o) {
    memset(o, 0, sizeof *o);
    /* the store's own defaults for what it shares with the run */
    store_options so = STORE_OPTIONS_INIT;
    o->source.prefixes = default_prefixes;
    o->source.n_prefixes = 1;
    o->fetch.prefetch_bytes = TD_READER_DEFAULT_PREFETCH;
    o->fetch.max_header_bytes = TD_READER_DEFAULT_MAX_HEADER;
    o->fetch.suffixes = default_suffixes;
    o->fetch.n_suffixes = 2;
    o->output.codec = PQ_CODEC_SNAPPY;
    o->output.zstd_level = 3;
    o->output.footprints = true;
    /* one row group per table is held uncompressed: this bounds the writer's memory */
    o->output.row_group_size = 10000;
    o->output.rows_per_file = 100000;
    o->concurrency.n_consumers = so.max_in_flight;
    /* one fetch thread per CPU the process may use (affinity and cgroup quota, not just the
     * online CPUs: two threads taking turns at one CPU cost more per header than one): TLS
     * and HTTP parsing are CPU work (issue 12). Capped: past a few threads the writer or the
     * server limits, and every thread opens connections */
    unsigned cpus = ut_cpus_available();
    o->concurrency.threads =
        cpus > TD_PIPELINE_DEFAULT_MAX_THREADS ? TD_PIPELINE_DEFAULT_MAX_THREADS : cpus;
    o->concurrency.list_chunk_size = 10000;
    o->concurrency.max_buffer_size = 1000000;
    o->concurrency.list_parallel = TD_FANOUT_DEFAULT_PARALLEL;
    o->concurrency.list_frontier = TD_FANOUT_DEFAULT_FRONTIER;
    o->net.connect_timeout_ms = so.connect_timeout_ms;
    o->net.request_timeout_ms = so.request_timeout_ms;
    o->net.max_attempts = so.max_attempts;
    o->net.retry_max_ms = so.retry_max_ms;
    o->net.ca_bundle = so.ca_bundle;
}

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch; }

bool td_fetch_is_tiff(const td_fetch_options *f, const char *key, size_t key_len) {
    if (f->n_suffixes == 0)
        return true;
    for (size_t i = 0; i < f->n_suffixes; i++) {
        const char *s = f->suffixes[i];
        size_t n = strlen(s);
        if (n > key_len)
            continue;
        const char *k = key + key_len - n;
        size_t j = 0;
        if (f->suffix_case_sensitive)
            j = memcmp(k, s, n) == 0 ? n : 0;
        else
            while (j < n && lower((unsigned char)k[j]) == lower((unsigned char)s[j]))
                j++;
        if (j == n)
            return true;
    }
    return false;
}

typedef struct pipe_s pipe_s;

/* The pipeline's side of a fetch thread: how many keys it may take, how many it holds (posted
 * and not yet back from the writer or returned unstarted), and the results to give back with
 * the next post. Pipeline thread only. */
typedef struct route {
    td_worker *w;
    unsigned cap, out;
    td_result *rh;
} route;

struct pipe_s {
    const td_pipeline_options *o;
    uv_loop_t loop;
    store *st;
    td_writer *writer;
    td_outstore *os; /* OUT on an object store, or NULL (a folder) */
    uv_async_t wake;
    uv_timer_t timer;
    uv_prepare_t flush_before_poll; /* hand results to the writer once per loop turn */
    uv_check_t flush_after_poll;
    uv_signal_t sigint, sigterm;
    bool handles_open;
    uint64_t t0;
    /* listing (fanout.c), serial or fanned out over delimiter prefixes */
    td_lister *lister;
    uint64_t reserved; /* keys of the key source's page being read */
    /* a key list or inventory instead of listing (store.keys_from / store.inventory): its
     * pages are read on libuv's thread pool, one at a time, with the same backpressure */
    td_keysrc *ks;
    td_doneset *done; /* --resume: keys of the complete parts, skipped */
    td_resume_info resumed;
    uv_work_t ks_work;
    td_keysrc_page ks_page;
    bool ks_busy, ks_done;
    /* the same file counted ahead by a second reader on the thread pool, so that a progress
     * bar has its total long before the list is read to its end (a file only, not stdin) */
    td_keysrc *count_ks;
    uv_work_t count_work;
    atomic_bool count_stop; /* the run is ending: the count gives up */
    bool count_ok, counted;
    uint64_t count_total; /* what queue_entries will count into to_do */
    /* key queue */
    td_key *qhead, *qtail;
    uint64_t queued;
    uint64_t pending_errors; /* standalone error results not yet returned by the writer */
    /* fetch slots, in workers (workers.c): one inline on this loop (threads: 1), or one per
     * fetch thread */
    td_worker **workers;
    size_t n_workers;
    bool threaded;
    route *routes;     /* threaded: one per worker */
    bool workers_quit; /* their threads are gone: nothing more to post or drain */
    /* state */
    bool stopping, interrupted, finishing;
    int signum; /* the signal that interrupted the run */
    int fail_code;
    char fail_msg[512];
    td_stats stats;
    uint64_t unlisted_errors; /* list-stage error rows of no listed entry (stats.to_do) */
};

static void pump(pipe_s *p);
static void give_back(pipe_s *p, td_result *r);

/* Tells the fetch workers to start nothing more (and, after a signal, to cancel). */
static void stop_workers(pipe_s *p) {
    for (size_t i = 0; !p->workers_quit && i < p->n_workers; i++)
        td_worker_stop(p->workers[i], p->interrupted, p->signum);
}

static void set_fail(pipe_s *p, int code, const char *fmt, ...) {
    if (p->fail_code == 0) {
        p->fail_code = code;
        va_list ap;
        va_start(ap, fmt);
        ut_vmsgf(p->fail_msg, sizeof p->fail_msg, fmt, ap);
        va_end(ap);
    }
    p->stopping = true;
    stop_workers(p);
}

/* A detail from a store ends the row's message; it may have been cut at its end by a
 * fixed buffer (the store's errmsg[256], the engine's) inside a character: what is left
 * of that character goes (the path column keeps the key whole). */
static void trim_cut(char *m) { ut_utf8_trim_cut(m, strlen(m)); }

static double now_s(const pipe_s *p) { return (double)(uv_hrtime() - p->t0) / 1e9; }

/* "file:///root/key" style name of an object, for messages. */
static void object_url(const pipe_s *p, const char *key, char *buf, size_t len) {
    const char *u = store_url(p->st);
    size_t ul = strlen(u);
    bool slash = ul > 0 && u[ul - 1] == '/';
    ut_msgf(buf, len, "%s%s%s", u, slash ? "" : "/", key);
}

/* shown: how the path is shown to on_error, or NULL for the object's URL */
static void report_error(pipe_s *p, const td_result *r, const char *shown) {
    p->stats.failed++;
    if (p->o->on_error) {
        char url[1024];
        if (shown)
            ut_msgf(url, sizeof url, "%s", shown);
        else
            object_url(p, r->path, url, sizeof url);
        p->o->on_error(url, r->stage, r->kind, r->message, p->o->ud);
    }
}

/* A list-stage error row that is not tied to a slot. literal: key is not a key of the
 * store but a name shown as it is (a key list's file, a line naming another store). */
static void push_list_error(pipe_s *p, const char *key, int status, const char *msg, bool literal,
                            unsigned attempts) {
    size_t kl = strlen(key), ml = strlen(msg);
    char url[1024];
    if (literal)
        ut_msgf(url, sizeof url, "%s", key);
    else
        object_url(p, key, url, sizeof url);
    bool named = strstr(msg, key) != NULL;
    size_t full = ml + (named ? 0 : strlen(url) + 2);
    td_result *r = calloc(1, sizeof *r + kl + 1 + full + 1);
    if (!r) {
        set_fail(p, TD_PIPE_E_NOMEM, "out of memory");
        return;
    }
    char *kbuf = (char *)(r + 1);
    char *mbuf = kbuf + kl + 1;
    memcpy(kbuf, key, kl + 1);
    if (named)
        memcpy(mbuf, msg, ml + 1);
    else
        ut_msgf(mbuf, full + 1, "%s: %s", url, msg);
    trim_cut(mbuf);
    r->is_header = false;
    r->path = kbuf;
    r->path_len = kl;
    r->mtime_ms = INT64_MIN;
    r->stage = "list";
    r->kind = store_err_name(status);
    r->message = mbuf;
    /* the store's count (the message may say "after N attempts"); a failure without a
     * request (a key-list line, a walk too deep) counts as one, as before */
    r->attempts = attempts ? attempts : 1;
    p->pending_errors++;
    report_error(p, r, literal ? key : NULL);
    td_writer_push(p->writer, r);
}

/* ------------------------------------------------------------------ listing */

/* A page of listed (or key-source) entries: TIFF keys to the key queue, the rest counted
 * as skipped. bad_literal: bad entries' keys are shown as written (key-source lines). */
static void queue_entries(pipe_s *p, const store_entry *e, size_t n, const store_bad_entry *bad,
                          size_t n_bad, bool bad_literal) {
    /* a fanned-out sharded listing gives only this shard's keys (prefixes assigned) */
    const td_shard_options none = {0, 0};
    const td_shard_options *sh =
        p->lister && td_lister_partitions(p->lister) ? &none : &p->o->shard;
    for (size_t i = 0; i < n; i++) {
        /* another shard's key: not counted here, so that the shards' counts add up to an
         * unsharded run's (shard.h: the partition) */
        if (!td_shard_owns(sh, e[i].key, e[i].key_len))
            continue;
        p->stats.listed++;
        if (!td_fetch_is_tiff(&p->o->fetch, e[i].key, e[i].key_len)) {
            p->stats.skipped++;
            continue;
        }
        if (p->done && td_doneset_has(p->done, e[i].key, e[i].key_len))
            continue; /* --resume: its row is in a complete part */
        size_t el = e[i].etag ? strlen(e[i].etag) + 1 : 0;
        td_key *k = malloc(sizeof *k + e[i].key_len + 1 + el);
        if (!k) {
            set_fail(p, TD_PIPE_E_NOMEM, "out of memory queueing keys");
            break;
        }
        k->next = NULL;
        k->size = e[i].size;
        k->mtime_ms = e[i].mtime_ms;
        k->len = e[i].key_len;
        memcpy(k->key, e[i].key, e[i].key_len);
        k->key[e[i].key_len] = '\0';
        k->etag = NULL;
        if (el) {
            k->etag = k->key + e[i].key_len + 1;
            memcpy(k->etag, e[i].etag, el);
        }
        if (p->qtail)
            p->qtail->next = k;
        else
            p->qhead = k;
        p->qtail = k;
        p->queued++;
    }
    for (size_t i = 0; i < n_bad && !p->stopping; i++) {
        size_t kl = strlen(bad[i].key);
        /* a directory that could not be listed (key ends with '/') hides objects: always
         * reported; other unreadable entries only when they would count as TIFF. Sharded,
         * an unreadable entry is its shard's; a directory is reported by every shard, as
         * it may hide keys of any of them */
        bool dir = kl > 0 && bad[i].key[kl - 1] == '/';
        if (!dir && !td_shard_owns(sh, bad[i].key, kl))
            continue;
        p->stats.listed++;
        if (!dir && !td_fetch_is_tiff(&p->o->fetch, bad[i].key, kl)) {
            p->stats.skipped++;
            continue;
        }
        if (p->done && td_doneset_has(p->done, bad[i].key, kl))
            continue; /* --resume: its error row is in a complete part */
        push_list_error(p, bad[i].key, bad[i].status, bad[i].message, bad_literal, bad[i].attempts);
    }
}

static uint64_t room(const pipe_s *p) {
    uint64_t used = p->queued + p->pending_errors + p->reserved +
                    (p->lister ? td_lister_reserved(p->lister) : 0);
    return used >= p->o->concurrency.max_buffer_size ? 0 : p->o->concurrency.max_buffer_size - used;
}

/* The lister's hooks (fanout.h): pages to the key queue, failed prefixes to error rows. */
static void lister_page(void *ud, const store_entry *e, size_t n, const store_bad_entry *bad,
                        size_t n_bad) {
    pipe_s *p = ud;
    if (!p->stopping)
        queue_entries(p, e, n, bad, n_bad, false);
}

static void lister_error(void *ud, const char *prefix, int status, const char *msg,
                         unsigned attempts) {
    pipe_s *p = ud;
    if (!p->stopping) {
        push_list_error(p, prefix, status, msg, false, attempts);
        p->unlisted_errors++; /* a row of no listed entry: the progress total counts it */
    }
}

static uint64_t lister_room(void *ud) { return room(ud); }
static void lister_after(void *ud) { pump(ud); }

static void ks_work_cb(uv_work_t *w) {
    pipe_s *p = w->data;
    td_keysrc_next(p->ks, &p->ks_page);
}

static void ks_after_cb(uv_work_t *w, int status) {
    pipe_s *p = w->data;
    p->ks_busy = false;
    p->reserved -= p->o->concurrency.list_chunk_size;
    if (status < 0) { /* canceled before it ran */
        p->ks_done = true;
    } else {
        const td_keysrc_page *pg = &p->ks_page;
        if (!p->stopping) {
            queue_entries(p, pg->entries, pg->n, pg->bad, pg->n_bad, true);
            if (pg->status < 0 && !p->stopping) {
                push_list_error(p, td_keysrc_name(p->ks), pg->status, pg->errmsg, true, 0);
                p->unlisted_errors++;
            }
        }
        if (pg->done || pg->status < 0)
            p->ks_done = true;
    }
    pump(p);
}

static void pump_listing(pipe_s *p) {
    if (p->ks) {
        /* A file yields millions of keys a second, far more than any store serves: a read
         * ahead of max_buffer_size keys (a million by default, ~100 MiB of queue) would buy
         * nothing, so a key source keeps at most two pages queued. */
        uint64_t chunk = p->o->concurrency.list_chunk_size;
        uint64_t used = p->queued + p->pending_errors + p->reserved;
        if (!p->stopping && !p->ks_busy && !p->ks_done && room(p) >= chunk && used <= chunk) {
            p->ks_busy = true;
            p->reserved += p->o->concurrency.list_chunk_size;
            p->ks_work.data = p;
            int rc = uv_queue_work(&p->loop, &p->ks_work, ks_work_cb, ks_after_cb);
            if (rc < 0) {
                p->ks_busy = false;
                p->reserved -= p->o->concurrency.list_chunk_size;
                set_fail(p, TD_PIPE_E_SYSTEM, "cannot queue key list reading: %s", uv_strerror(rc));
            }
        }
        return;
    }
    if (p->lister)
        td_lister_pump(p->lister);
}

/* ------------------------------------------------------------------ fetch workers */

/* A slot's row (workers.c), on this loop: inline from the slot's callback, threaded from
 * drain_workers. Every counter is kept here, on the pipeline's thread only, so the progress
 * callback reads them without a race whatever the number of fetch threads. */
static void on_result(pipe_s *p, td_result *r) {
    if (!r->is_header)
        report_error(p, r, NULL);
    p->stats.requests += r->requests;
    p->stats.bytes_fetched += r->fetched_bytes;
    p->stats.in_flight--;
    if (p->stopping && !p->interrupted) {
        /* a failed run writes nothing more: the slot goes straight back (after a signal,
         * the objects in flight still get their row, and the part files are finished) */
        give_back(p, r);
        return;
    }
    if (r->is_header)
        p->stats.dumped++;
    td_writer_push(p->writer, r);
}

static void inline_result(td_result *r, void *ud) { on_result(ud, r); }
static void inline_pump(void *ud) { pump(ud); }

/* A slot's result the writer is done with (or that was never written) goes back to its
 * worker: at once inline, with the worker's next post when threaded. */
static void give_back(pipe_s *p, td_result *r) {
    td_worker *w = td_worker_of(r);
    if (!p->threaded) {
        r->next = NULL;
        td_worker_recycle(w, r);
        return;
    }
    route *rt = &p->routes[td_worker_index(w)];
    r->next = rt->rh;
    rt->rh = r;
    rt->out--;
}

/* Keys from the queue to free slots. Inline: started here. Threaded: each worker gets up to
 * its free slots' worth in one post (with the slots coming back), so a hand-off costs one
 * lock and one wake-up per batch, never per key. */
static void pump_slots(pipe_s *p) {
    if (!p->threaded) {
        while (!p->stopping && p->qhead) {
            td_key *k = p->qhead;
            p->qhead = k->next;
            k->next = NULL;
            p->stats.in_flight++; /* before the start: its callback may run inside it */
            int rc = td_worker_start(p->workers[0], k);
            if (rc != 0) {
                p->stats.in_flight--;
                k->next = p->qhead;
                p->qhead = k;
                if (rc < 0)
                    set_fail(p, rc, "out of memory allocating fetch slots");
                break;
            }
            if (!p->qhead)
                p->qtail = NULL;
            p->queued--;
        }
        return;
    }
    for (size_t i = 0; !p->workers_quit && i < p->n_workers; i++) {
        route *rt = &p->routes[i];
        td_key *kh = NULL, *kt = NULL;
        while (!p->stopping && p->qhead && rt->out < rt->cap) {
            td_key *k = p->qhead;
            p->qhead = k->next;
            if (!p->qhead)
                p->qtail = NULL;
            k->next = NULL;
            if (kt)
                kt->next = k;
            else
                kh = k;
            kt = k;
            p->queued--;
            p->stats.in_flight++;
            rt->out++;
        }
        td_worker_post(rt->w, kh, rt->rh);
        rt->rh = NULL;
    }
}

/* Threaded: rows and unstarted keys the fetch threads handed back. */
static void drain_workers(pipe_s *p) {
    for (size_t i = 0; p->threaded && !p->workers_quit && i < p->n_workers; i++) {
        route *rt = &p->routes[i];
        td_worker_out wo;
        td_worker_drain(rt->w, &wo);
        while (wo.results) {
            td_result *r = wo.results;
            wo.results = r->next;
            r->next = NULL;
            on_result(p, r);
        }
        while (wo.unstarted) { /* after a stop: like keys still queued, no row */
            td_key *k = wo.unstarted;
            wo.unstarted = k->next;
            free(k);
            p->stats.in_flight--;
            rt->out--;
        }
        if (wo.fail_code)
            set_fail(p, wo.fail_code, "out of memory allocating fetch slots");
    }
}

/* ------------------------------------------------------------------ orchestration */

static void close_cb(uv_handle_t *h) { (void)h; }

static void close_handles(pipe_s *p) {
    if (!p->handles_open)
        return;
    p->handles_open = false;
    /* the fetch threads end first (they are idle now: nothing in flight, every result
     * back), so none can wake this loop through a closed handle */
    for (size_t i = 0; i < p->n_workers; i++)
        td_worker_quit(p->workers[i]);
    p->workers_quit = true;
    uv_close((uv_handle_t *)&p->wake, close_cb);
    uv_close((uv_handle_t *)&p->timer, close_cb);
    uv_close((uv_handle_t *)&p->flush_before_poll, close_cb);
    uv_close((uv_handle_t *)&p->flush_after_poll, close_cb);
    if (p->o->handle_signals) {
        uv_close((uv_handle_t *)&p->sigint, close_cb);
        uv_close((uv_handle_t *)&p->sigterm, close_cb);
    }
}

static void take_done(pipe_s *p) {
    td_result *r = td_writer_take_done(p->writer);
    while (r) {
        td_result *next = r->next;
        if (r->owner) {
            give_back(p, r); /* the writer is done with the header */
        } else {
            p->pending_errors--;
            free(r);
        }
        r = next;
    }
    if (td_writer_failed(p->writer))
        set_fail(p, TD_PIPE_E_OUTPUT, "writing the output failed");
    if (!p->threaded && p->n_workers)
        td_worker_unpark(p->workers[0]);
}

static bool listing_done(const pipe_s *p) {
    if (p->ks)
        return p->ks_done;
    return !p->lister || td_lister_done(p->lister);
}

static void pump(pipe_s *p) {
    drain_workers(p);
    take_done(p);
    pump_slots(p); /* stopping: starts nothing, but fetch threads get their slots back */
    if (!p->stopping) {
        pump_listing(p);
        pump_slots(p);
    }
    /* in flight: listings and slots still fetching (slots at the writer do not count) */
    bool lists_busy = p->ks_busy || (p->lister && td_lister_busy(p->lister));
    bool fetching = p->stats.in_flight > 0;
    if (!p->finishing) {
        if (p->stopping && !lists_busy && !fetching) {
            if (p->lister)
                td_lister_stop(p->lister);
            p->finishing = true;
            atomic_store(&p->count_stop, true);
            /* interrupted (and nothing else failed): the rows so far are finished into part
             * files; any other failure drops them with the temporary files */
            bool keep = p->interrupted && p->fail_code == TD_PIPE_E_INTERRUPTED;
            td_writer_finish(p->writer, !keep);
        } else if (!p->stopping && listing_done(p) && !p->qhead && !fetching) {
            p->finishing = true;
            atomic_store(&p->count_stop, true);
            td_writer_finish(p->writer, false);
        }
    }
    if (p->finishing && td_writer_exited(p->writer)) {
        take_done(p);
        close_handles(p);
    }
}

static void wake_cb(uv_async_t *a) { pump(a->data); }

/* Results finished during a loop turn (in I/O callbacks after the poll, or in timers before
 * it) go to the writer in one hand-over: one lock and one wake-up of the writer thread per
 * turn instead of per row. Both sides of the poll, so nothing waits through a blocking poll. */
static void flush_prepare_cb(uv_prepare_t *h) { td_writer_flush(((pipe_s *)h->data)->writer); }
static void flush_check_cb(uv_check_t *h) { td_writer_flush(((pipe_s *)h->data)->writer); }

static void net_counters(pipe_s *p) {
    store_stats ss;
    store_get_stats(p->st, &ss);
    if (p->threaded) {
        /* this loop's store only lists; each fetch thread's store counts its reads. The
         * lowest concurrency is the sum of each store's lowest limit (each adapts alone). */
        ss.lowest_concurrency = 0;
        for (size_t i = 0; i < p->n_workers; i++) {
            store_stats ws;
            td_worker_stats(p->workers[i], &ws);
            ss.requests += ws.requests;
            ss.retries += ws.retries;
            ss.throttled += ws.throttled;
            ss.lowest_concurrency += ws.lowest_concurrency;
        }
    }
    p->stats.networked = ss.networked;
    /* a remote store's requests are the attempts it sent (retries and listing included),
     * the number a server's log and bill show; a local folder's are the reads made */
    if (ss.networked)
        p->stats.requests = ss.requests;
    p->stats.retries = ss.retries;
    p->stats.throttled = ss.throttled;
    p->stats.lowest_concurrency = ss.lowest_concurrency;
}

/* The progress bar's inputs (td_stats: listing_done, to_do). */
static void work_counters(pipe_s *p) {
    td_stats *s = &p->stats;
    s->listing_done = listing_done(p);
    uint64_t out = s->skipped + s->skipped_done;
    if (s->listing_done) {
        s->to_do = (s->listed > out ? s->listed - out : 0) + p->unlisted_errors;
    } else if (p->counted) {
        /* the counted TIFF keys, less those dropped so far as already done */
        s->listing_done = true;
        s->to_do = p->count_total > s->skipped_done ? p->count_total - s->skipped_done : 0;
    }
}

/* The key list's count (thread pool): the rows queue_entries and ks_after_cb will make of
 * it, the same rules on a second reader of the file. Costs a second read of the file, at
 * millions of lines a second, far ahead of any store. */
static void count_work_cb(uv_work_t *w) {
    pipe_s *p = w->data;
    uint64_t n = 0;
    td_keysrc_page pg;
    for (;;) {
        if (atomic_load(&p->count_stop))
            return;
        td_keysrc_next(p->count_ks, &pg);
        for (size_t i = 0; i < pg.n; i++)
            n += td_fetch_is_tiff(&p->o->fetch, pg.entries[i].key, pg.entries[i].key_len);
        for (size_t i = 0; i < pg.n_bad; i++) {
            size_t kl = strlen(pg.bad[i].key);
            n += (kl > 0 && pg.bad[i].key[kl - 1] == '/') ||
                 td_fetch_is_tiff(&p->o->fetch, pg.bad[i].key, kl);
        }
        if (pg.status < 0) {
            n++; /* the error row of the list itself */
            break;
        }
        if (pg.done)
            break;
    }
    p->count_total = n;
    p->count_ok = true;
}

static void count_after_cb(uv_work_t *w, int status) {
    pipe_s *p = w->data;
    p->counted = status == 0 && p->count_ok;
    td_keysrc_close(p->count_ks);
    p->count_ks = NULL;
}

static void timer_cb(uv_timer_t *t) {
    pipe_s *p = t->data;
    if (p->o->progress) {
        net_counters(p);
        work_counters(p);
        p->stats.queued = p->queued;
        p->stats.elapsed_s = now_s(p);
        p->o->progress(&p->stats, p->o->ud);
    }
}

static void signal_cb(uv_signal_t *h, int signum) {
    pipe_s *p = h->data;
    p->interrupted = true;
    p->signum = signum;
    set_fail(p, TD_PIPE_E_INTERRUPTED, "interrupted by %s", td__signame(signum));
    /* a second signal gets the default action: quit at once */
    uv_signal_stop(&p->sigint);
    uv_signal_stop(&p->sigterm);
    /* Nothing new is started, and nothing waits: reads and listings in flight, their
     * retries and backoff waits are canceled now (a stalled server would otherwise hold the
     * run for retry_max_time). Their callbacks give the objects `interrupted` rows. */
    if (p->ks_busy)
        uv_cancel((uv_req_t *)&p->ks_work);
    store_cancel_all(p->st);
    pump(p);
}

/* From the writer thread or a fetch thread: results are waiting for this loop. */
static void writer_wake(void *ud) {
    pipe_s *p = ud;
    uv_async_send(&p->wake);
}

/* The fetch side: one worker on this loop and store (threads: 1, the single-loop engine), or
 * one per fetch thread, each with its own loop and a store opened from the same options, and
 * its share of the n_consumers slots and of the follow-up budget. */
static int start_workers(pipe_s *p, const store_options *so, char *err, size_t errlen) {
    unsigned n_cons = p->o->concurrency.n_consumers ? p->o->concurrency.n_consumers : 1;
    unsigned n = p->o->concurrency.threads ? p->o->concurrency.threads : 1;
    if (n > TD_PIPELINE_MAX_THREADS)
        n = TD_PIPELINE_MAX_THREADS;
    if (n > n_cons) /* every thread has at least one slot */
        n = n_cons;
    uint64_t max_header =
        p->o->fetch.max_header_bytes ? p->o->fetch.max_header_bytes : TD_READER_DEFAULT_MAX_HEADER;
    /* the follow-up budget of the run, shared out: each worker still admits one object
     * whatever its share (a worker holding no follow-up bytes never parks), so the run's
     * total stays near the single-loop budget */
    uint64_t budget = (uint64_t)64 << 20;
    if (budget < 2 * max_header)
        budget = 2 * max_header;
    budget /= n;
    p->workers = calloc(n, sizeof *p->workers);
    p->routes = calloc(n, sizeof *p->routes);
    if (!p->workers || !p->routes) {
        ut_msgf(err, errlen, "out of memory");
        return TD_PIPE_E_NOMEM;
    }
    p->threaded = n > 1;
    p->stats.threads = n;
    for (unsigned i = 0; i < n; i++) {
        store_options wso = *so;
        td_worker_options wo = {
            .o = p->o,
            .index = i,
            .n_slots = n_cons / n + (i < n_cons % n),
            .followup_budget = budget,
            .loop = p->threaded ? NULL : &p->loop,
            .st = p->threaded ? NULL : p->st,
            .store_url = p->o->source.store_url,
            .store_opts = &wso,
            .on_result = inline_result,
            .pump = inline_pump,
            .wake = writer_wake,
            .ud = p,
        };
        wso.max_in_flight = wo.n_slots;
        wso.creds_from = p->threaded ? p->st : NULL; /* one credential fetch for the run */
        int rc = td_worker_new(&p->workers[i], &wo, err, errlen);
        if (rc != 0)
            return rc;
        p->routes[i].w = p->workers[i];
        p->routes[i].cap = wo.n_slots;
        p->n_workers++;
    }
    return 0;
}

int td_pipeline_run(const td_pipeline_options *o, td_stats *stats_out, char *err, size_t errlen) {
    pipe_s *p = calloc(1, sizeof *p);
    int rc = TD_PIPE_OK;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return TD_PIPE_E_NOMEM;
    }
    p->o = o;
    const char *version = o->tool_version ? o->tool_version : TD_VERSION;
    p->t0 = uv_hrtime();
    if (uv_loop_init(&p->loop) != 0) {
        free(p);
        snprintf(err, errlen, "out of memory or no event loop");
        return TD_PIPE_E_SYSTEM;
    }

    store_options so = STORE_OPTIONS_INIT;
    so.kv = p->o->source.store_kv;
    so.n_kv = p->o->source.n_store_kv;
    so.max_in_flight = p->o->concurrency.n_consumers;
    so.connect_timeout_ms = p->o->net.connect_timeout_ms;
    so.request_timeout_ms = p->o->net.request_timeout_ms;
    so.max_attempts = p->o->net.max_attempts;
    so.retry_max_ms = p->o->net.retry_max_ms;
    so.ca_bundle = p->o->net.ca_bundle;
    so.retry_base_ms = p->o->net.retry_base_ms;
    so.retry_cap_ms = p->o->net.retry_cap_ms;
    so.user_agent = p->o->net.user_agent;
    so.proxy_url = p->o->net.proxy_url;
    so.no_proxy = p->o->net.no_proxy;
    so.insecure_tls = p->o->net.insecure_tls;
    so.net_engine = p->o->net.engine;
    char serr[512] = "";
    int src = store_open(&p->st, &p->loop, p->o->source.store_url, &so, serr, sizeof serr);
    if (src < 0) {
        char shown[512]; /* the store's name as written may carry a password or a SAS */
        ut_redact_to(shown, sizeof shown, p->o->source.store_url);
        ut_msgf(err, errlen, "store '%s': %s", shown, serr[0] ? serr : store_strerror(src));
        rc = (src == STORE_E_CONFIG || src == STORE_E_NOT_FOUND) ? TD_PIPE_E_CONFIG
                                                                 : TD_PIPE_E_STORE;
        goto out_loop;
    }
    if (p->o->source.keys_from || p->o->source.inventory) {
        /* the store's URL forms a key-list line may start with */
        const char *u = store_url(p->st);
        /* store.name as written only when unambiguous: a relative folder name could
         * also begin a key */
        const char *nm = p->o->source.store_url;
        bool nm_ok = nm[0] == '/' || ut_url_scheme_len(nm, strlen(nm)) > 0;
        const char *roots[3] = {u, nm_ok ? nm : NULL, strncmp(u, "file://", 7) == 0 ? u + 7 : NULL};
        td_keysrc_options ko = {roots, 3, u, p->o->concurrency.list_chunk_size};
        char kerr[768] = "";
        int krc =
            p->o->source.keys_from
                ? td_keysrc_open_list(&p->ks, p->o->source.keys_from, &ko, kerr, sizeof kerr)
                : td_keysrc_open_inventory(&p->ks, p->o->source.inventory, &ko, kerr, sizeof kerr);
        if (krc != 0) {
            ut_msgf(err, errlen, "%s: %s",
                    p->o->source.keys_from ? "store.keys_from" : "store.inventory", kerr);
            rc = krc == STORE_E_NOMEM ? TD_PIPE_E_NOMEM : TD_PIPE_E_CONFIG;
            goto out_store;
        }
        /* the count ahead: only for a progress display, and not of stdin (read once) */
        bool file = !p->o->source.keys_from || strcmp(p->o->source.keys_from, "-") != 0;
        if (o->progress && !o->check_only && file) {
            int crc = p->o->source.keys_from
                          ? td_keysrc_open_list(&p->count_ks, p->o->source.keys_from, &ko, kerr,
                                                sizeof kerr)
                          : td_keysrc_open_inventory(&p->count_ks, p->o->source.inventory, &ko,
                                                     kerr, sizeof kerr);
            if (crc != 0)
                p->count_ks = NULL; /* no count: the total comes when the list is read */
        }
    }
    /* OUT on an object store: its own store (output options, the run's network settings)
     * on its own thread (outstore.h), opened now so that a bad option fails before any
     * request. A folder (a path or file://) is written directly. */
    const char *out_dir = o->out_dir;
    if (out_dir && td_outstore_is_url(out_dir)) {
        store_options oso = so;
        oso.kv = o->out_store_kv;
        oso.n_kv = o->n_out_store_kv;
        oso.max_in_flight = TD_OUTSTORE_MAX_DELETES; /* uploads and deletes at once */
        int orc = td_outstore_open(&p->os, out_dir, &oso, serr, sizeof serr);
        if (orc == STORE_OK && o->output.part_size && o->output.part_size < STORE_MIN_PART_SIZE &&
            strncmp(td_outstore_url(p->os), "s3://", 5) == 0) {
            /* S3 refuses parts below 5 MiB (all but the last) at Complete: said now */
            snprintf(serr, sizeof serr,
                     "output.part_size %llu is below S3's smallest part (%u bytes) for %s",
                     (unsigned long long)o->output.part_size, STORE_MIN_PART_SIZE,
                     td_outstore_url(p->os));
            orc = STORE_E_CONFIG;
        }
        if (orc != STORE_OK) {
            ut_msgf(err, errlen, "%s", serr);
            rc = (orc == STORE_E_CONFIG || orc == STORE_E_UNSUPPORTED) ? TD_PIPE_E_CONFIG
                                                                       : TD_PIPE_E_OUTPUT;
            goto out_store;
        }
    } else if (out_dir && strncmp(out_dir, "file://", 7) == 0) {
        out_dir += 7;
    }
    if (o->check_only)
        goto out_store; /* every option was accepted: the store and key source are open */
    if (!p->ks) {
        td_lister_options lo = {p->o->source.prefixes,
                                p->o->source.n_prefixes,
                                p->o->concurrency.list_chunk_size,
                                p->o->concurrency.list_parallel,
                                p->o->concurrency.list_frontier,
                                p->o->shard.index,
                                p->o->shard.count};
        td_lister_ops lops = {lister_page, lister_error, lister_room, lister_after, p};
        p->lister = td_lister_new(p->st, &lo, &lops);
        if (!p->lister) {
            ut_msgf(err, errlen, "out of memory");
            rc = TD_PIPE_E_NOMEM;
            goto out_store;
        }
    }
    rc = start_workers(p, &so, err, errlen);
    if (rc != 0)
        goto out_store;
    char werr[512] = "";
    if (o->resume ? (p->os ? td_resume_load_store(p->os, &o->shard, &p->done, &p->resumed, werr,
                                                  sizeof werr)
                           : td_resume_load(out_dir, &o->shard, &p->done, &p->resumed, werr,
                                            sizeof werr)) != 0
        : p->os   ? td_output_prepare_store(p->os, &o->shard, werr, sizeof werr) != 0
                  : td_output_prepare(out_dir, &o->shard, werr, sizeof werr) != 0) {
        ut_msgf(err, errlen, "%s", werr);
        rc = TD_PIPE_E_OUTPUT;
        goto out_store;
    }
    td_writer_options wo = {&o->output,  out_dir, store_url(p->st), version,
                            writer_wake, p,       o->shard,         p->os};
    if (td_writer_start(&p->writer, &wo, werr, sizeof werr) != 0) {
        ut_msgf(err, errlen, "%s", werr);
        rc = TD_PIPE_E_OUTPUT;
        goto out_store;
    }
    uv_async_init(&p->loop, &p->wake, wake_cb);
    p->wake.data = p;
    uv_timer_init(&p->loop, &p->timer);
    p->timer.data = p;
    if (o->progress && o->progress_ms)
        uv_timer_start(&p->timer, timer_cb, o->progress_ms, o->progress_ms);
    uv_prepare_init(&p->loop, &p->flush_before_poll);
    uv_check_init(&p->loop, &p->flush_after_poll);
    p->flush_before_poll.data = p->flush_after_poll.data = p;
    uv_prepare_start(&p->flush_before_poll, flush_prepare_cb);
    uv_check_start(&p->flush_after_poll, flush_check_cb);
    if (o->handle_signals) {
        uv_signal_init(&p->loop, &p->sigint);
        uv_signal_init(&p->loop, &p->sigterm);
        p->sigint.data = p->sigterm.data = p;
        uv_signal_start(&p->sigint, signal_cb, SIGINT);
        uv_signal_start(&p->sigterm, signal_cb, SIGTERM);
    }
    p->handles_open = true;
    atomic_init(&p->count_stop, false);
    if (p->count_ks) {
        p->count_work.data = p;
        if (uv_queue_work(&p->loop, &p->count_work, count_work_cb, count_after_cb) < 0) {
            td_keysrc_close(p->count_ks);
            p->count_ks = NULL;
        }
    }

    pump(p);
    uv_run(&p->loop, UV_RUN_DEFAULT);

    uint64_t hf = 0, ef = 0;
    if (td_writer_join(p->writer, &hf, &ef, werr, sizeof werr) != 0) {
        /* the writer's own message is the one that says what failed */
        p->fail_code = 0;
        set_fail(p, TD_PIPE_E_OUTPUT, "%s", werr);
    }
    p->stats.header_files = hf;
    p->stats.error_files = ef;
    /* --resume: the rows and parts kept count as this run's, as if never interrupted */
    p->stats.dumped += p->resumed.header_rows;
    p->stats.failed += p->resumed.error_rows;
    p->stats.header_files += p->resumed.header_files;
    p->stats.error_files += p->resumed.error_files;
    p->stats.elapsed_s = now_s(p);
    p->stats.queued = p->queued;
    net_counters(p);
    work_counters(p);
    if (p->fail_code == 0) {
        const td_source_options *in = &o->source;
        td_output_summary sum = {version,       store_url(p->st),      in->keys_from,
                                 in->inventory, in->prefixes,          p->ks ? 0 : in->n_prefixes,
                                 &p->stats,     o->output.config_text, &o->shard,
                                 p->os};
        p->fail_code = td_output_success(out_dir, &sum, p->fail_msg, sizeof p->fail_msg);
    }
    rc = p->fail_code;
    if (rc != 0)
        ut_msgf(err, errlen, "%s", p->fail_msg);
out_store:
    td_doneset_free(p->done);
    p->done = NULL;
    td_outstore_close(p->os); /* waits for nothing: every upload ended with the writer */
    p->os = NULL;
    td_lister_free(p->lister);
    p->lister = NULL;
    td_keysrc_close(p->ks);
    p->ks = NULL;
    td_keysrc_close(p->count_ks); /* opened, never started */
    p->count_ks = NULL;
    store_close(p->st);
    uv_run(&p->loop, UV_RUN_DEFAULT); /* let the store finish closing */
out_loop:
    if (stats_out)
        *stats_out = p->stats;
    while (p->qhead) {
        td_key *k = p->qhead;
        p->qhead = k->next;
        free(k);
    }
    for (size_t i = 0; i < p->n_workers; i++)
        td_worker_free(p->workers[i]);
    free(p->workers);
    free(p->routes);
    uv_loop_close(&p->loop);
    free(p);
    return rc;
}
