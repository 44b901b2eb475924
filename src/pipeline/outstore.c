/* outstore.c - the output's object store on its own thread and loop (outstore.h).
 *
 * Callers queue jobs under a mutex and wake the thread with a uv_async; the thread starts
 * them on its loop, and their store callbacks (on the same thread) record the outcome and
 * signal a condition variable. A background upload (a part file) frees itself when done; a
 * job a caller waits for (a buffer put, a cleaning) is freed by that caller. */
#include "outstore.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "util.h"

typedef enum { J_PUT, J_LIST, J_DELETE, J_GET } jtype;

typedef struct job job;
struct job {
    job *next; /* queue, then the active list */
    td_outstore *o;
    jtype type;
    bool wait; /* a caller waits for it (and frees it) */
    bool done;
    int status;
    char msg[512];
    char *key;
    /* put */
    FILE *f;
    store_put_req put;
    /* list: under prefixes[pi], keys for which ours() holds are collected */
    const char *const *prefixes;
    size_t n_prefixes, pi;
    bool (*ours)(const char *key, const void *ctx);
    const void *ours_ctx;
    store_list_req list;
    bool collect_only; /* td_outstore_list: hand the keys back, delete nothing */
    const char *delim;
    char **keys;
    uint64_t *sizes; /* collect_only: each key's size */
    size_t n_keys, cap_keys;
    /* get */
    store_get_req get;
    uv_timer_t defer; /* after a listing: see after_list */
    /* delete: keys[0..n_keys), TD_OUTSTORE_MAX_DELETES at a time */
    size_t next_del, del_busy;
    store_delete_req del[TD_OUTSTORE_MAX_DELETES];
};

struct td_outstore {
    uv_loop_t loop;
    uv_async_t async;
    uv_thread_t th;
    bool thread_started;
    store *st;
    char *url; /* display URL, with a trailing '/' for joining keys */
    uv_mutex_t mu;
    uv_cond_t cv;
    job *qhead, *qtail; /* queued by callers, not started */
    job *active;        /* started background puts (cancel needs them) */
    unsigned pending;   /* background uploads queued or in flight */
    bool cancel, quit;
    bool failed;
    char errmsg[640];
    uint64_t requests; /* snapshot of the store's counter, taken on the thread */
    char **taken;      /* keys of kept parts (--resume): new parts are numbered past them */
    size_t n_taken, cap_taken;
};

bool td_outstore_is_url(const char *out) {
    size_t n = ut_url_scheme_len(out, strlen(out));
    return n > 0 && strncmp(out, "file:", 5) != 0;
}

const char *td_outstore_url(const td_outstore *o) { return o->url; }

static void set_failed(td_outstore *o, const char *msg) {
    if (!o->failed) {
        o->failed = true;
        snprintf(o->errmsg, sizeof o->errmsg, "%s", msg);
    }
}

static void job_free(job *j) {
    if (!j)
        return;
    if (j->f)
        fclose(j->f);
    for (size_t i = 0; i < j->n_keys; i++)
        free(j->keys[i]);
    free(j->keys);
    free(j->sizes);
    free(j->key);
    free(j);
}

/* Loop thread, under no lock: a job ended. */
static void finish(job *j, int status) {
    td_outstore *o = j->o;
    store_stats ss;
    store_get_stats(o->st, &ss);
    uv_mutex_lock(&o->mu);
    o->requests = ss.requests;
    j->status = status;
    j->done = true;
    if (!j->wait) { /* a background upload */
        for (job **pp = &o->active; *pp; pp = &(*pp)->next)
            if (*pp == j) {
                *pp = j->next;
                break;
            }
        o->pending--;
        if (status != STORE_OK)
            set_failed(o, j->msg);
        uv_cond_broadcast(&o->cv);
        uv_mutex_unlock(&o->mu);
        job_free(j);
        return;
    }
    uv_cond_broadcast(&o->cv);
    uv_mutex_unlock(&o->mu);
}

/* "cannot upload s3://b/out/part-00002.parquet: <the store's words>": the object is named
 * once (the store's message may name it too: then that is the whole message). */
static void fail_msg(job *j, const char *what, int status, const char *detail, unsigned attempts,
                     int http) {
    char extra[64] = "";
    if (attempts > 1)
        snprintf(extra, sizeof extra, " (after %u attempts)", attempts);
    else if (http && !(detail && *detail))
        snprintf(extra, sizeof extra, " (HTTP %d)", http);
    bool named = detail && *detail && j->key && strstr(detail, j->key);
    if (named)
        ut_msgf(j->msg, sizeof j->msg, "cannot %s: %s%s", what, detail, extra);
    else
        ut_msgf(j->msg, sizeof j->msg, "cannot %s %s%s: %s%s", what, j->o->url,
                j->key ? j->key : "", detail && *detail ? detail : store_strerror(status), extra);
}

static void put_cb(store_put_req *r, int status) {
    job *j = r->data;
    if (status != STORE_OK)
        fail_msg(j, "upload", status, r->errmsg, r->attempts, r->http_status);
    finish(j, status);
}

/* ---- listing, then deleting ---- */
static void del_pump(job *j);

static void del_cb(store_delete_req *r, int status) {
    job *j = r->data;
    j->del_busy--;
    if (status != STORE_OK && j->status == STORE_OK) {
        free(j->key);
        j->key = ut_strdup(r->key);
        fail_msg(j, "delete the old output", status, r->errmsg, r->attempts, r->http_status);
        j->status = status;
    }
    r->key = NULL;
    del_pump(j);
}

static void del_pump(job *j) {
    while (j->status == STORE_OK && j->next_del < j->n_keys &&
           j->del_busy < TD_OUTSTORE_MAX_DELETES) {
        store_delete_req *r = NULL;
        for (size_t i = 0; i < TD_OUTSTORE_MAX_DELETES; i++)
            if (!j->del[i].key) {
                r = &j->del[i];
                break;
            }
        memset(r, 0, sizeof *r);
        r->key = j->keys[j->next_del++];
        r->cb = del_cb;
        r->data = j;
        int rc = store_delete(j->o->st, r);
        if (rc != STORE_OK) {
            free(j->key);
            j->key = ut_strdup(r->key);
            fail_msg(j, "delete the old output", rc, r->errmsg, 0, 0);
            r->key = NULL;
            j->status = rc;
            break;
        }
        j->del_busy++;
    }
    if (j->del_busy == 0 && (j->status != STORE_OK || j->next_del >= j->n_keys))
        finish(j, j->status);
}

static void list_next(job *j);

/* The store still reads the list request after its callback returns (a cursor freed on
 * the last page), and the caller frees the job (and the request in it) once finished: so
 * what follows a listing runs from a zero timer, after the callback, never inside it. */
static void list_over_closed(uv_handle_t *h) {
    job *j = h->data;
    if (j->status != STORE_OK || j->collect_only)
        finish(j, j->status);
    else
        del_pump(j);
}

static void list_over(uv_timer_t *t) { uv_close((uv_handle_t *)t, list_over_closed); }

static void after_list(job *j, int status) {
    j->status = status;
    uv_timer_init(&j->o->loop, &j->defer);
    j->defer.data = j;
    uv_timer_start(&j->defer, list_over, 0, 0);
}

static void list_cb(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    (void)bad;
    (void)n_bad;
    job *j = req->data;
    for (size_t i = 0; status == STORE_OK && i < n; i++) {
        if (j->ours && !j->ours(e[i].key, j->ours_ctx))
            continue;
        if (j->n_keys == j->cap_keys) {
            size_t cap = j->cap_keys ? j->cap_keys * 2 : 64;
            char **k = realloc(j->keys, cap * sizeof *k);
            if (k)
                j->keys = k;
            uint64_t *sz = k ? realloc(j->sizes, cap * sizeof *sz) : NULL;
            if (!sz) {
                status = STORE_E_NOMEM;
                break;
            }
            j->sizes = sz;
            j->cap_keys = cap;
        }
        if (!(j->keys[j->n_keys] = ut_strdup(e[i].key))) {
            status = STORE_E_NOMEM;
            break;
        }
        j->sizes[j->n_keys++] = e[i].size;
    }
    if (status != STORE_OK) {
        if (!done)
            store_list_free(j->o->st, req);
        fail_msg(j, j->collect_only ? "list" : "list the old outputs in", status, req->errmsg,
                 req->attempts, 0);
        after_list(j, status);
        return;
    }
    if (!done) {
        list_next(j);
        return;
    }
    j->pi++;
    if (j->pi < j->n_prefixes) {
        memset(&j->list, 0, sizeof j->list);
        list_next(j);
        return;
    }
    after_list(j, STORE_OK); /* the listing is complete: now the deletes, or the caller */
}

static void list_next(job *j) {
    j->list.prefix = j->prefixes[j->pi];
    j->list.page_size = 1000;
    j->list.delimiter = j->delim;
    j->list.cb = list_cb;
    j->list.data = j;
    int rc = store_list_next(j->o->st, &j->list);
    if (rc != STORE_OK) {
        fail_msg(j, j->collect_only ? "list" : "list the old outputs in", rc, j->list.errmsg, 0, 0);
        after_list(j, rc); /* may be inside the previous page's callback */
    }
}

static void get_cb(store_get_req *r, int status) {
    job *j = r->data;
    if (status != STORE_OK)
        fail_msg(j, "read", status, r->errmsg, r->attempts, r->http_status);
    finish(j, status);
}

/* ---- the thread ---- */

static void close_cb(uv_handle_t *h) { (void)h; }

static void start(job *j) {
    td_outstore *o = j->o;
    int rc = STORE_OK;
    switch (j->type) {
    case J_PUT:
        j->put.cb = put_cb;
        j->put.data = j;
        j->put.key = j->key;
        rc = store_put(o->st, &j->put);
        if (rc != STORE_OK) {
            fail_msg(j, "upload", rc, j->put.errmsg, 0, 0);
            finish(j, rc);
        }
        return;
    case J_LIST:
        if (j->n_prefixes == 0)
            del_pump(j);
        else
            list_next(j);
        return;
    case J_DELETE:
        del_pump(j);
        return;
    case J_GET:
        j->get.cb = get_cb;
        j->get.data = j;
        j->get.key = j->key;
        rc = store_get(o->st, &j->get);
        if (rc != STORE_OK) {
            fail_msg(j, "read", rc, j->get.errmsg, 0, 0);
            finish(j, rc);
        }
        return;
    }
}

static void async_cb(uv_async_t *a) {
    td_outstore *o = a->data;
    uv_mutex_lock(&o->mu);
    job *take = o->qhead;
    o->qhead = o->qtail = NULL;
    bool cancel = o->cancel, quit = o->quit;
    o->cancel = false;
    uv_mutex_unlock(&o->mu);
    while (take) {
        job *j = take;
        take = j->next;
        j->next = NULL;
        if (!j->wait) {
            uv_mutex_lock(&o->mu);
            j->next = o->active;
            o->active = j;
            uv_mutex_unlock(&o->mu);
        }
        start(j);
    }
    if (cancel) {
        /* collected first: a cancel's callback may run at once and unlink its job */
        job *c[TD_OUTSTORE_MAX_UPLOADS + 1];
        size_t nc = 0;
        uv_mutex_lock(&o->mu);
        for (job *j = o->active; j && nc < sizeof c / sizeof *c; j = j->next)
            c[nc++] = j;
        uv_mutex_unlock(&o->mu);
        for (size_t i = 0; i < nc; i++)
            store_put_cancel(o->st, &c[i]->put);
    }
    if (quit) {
        store_close(o->st);
        o->st = NULL;
        uv_close((uv_handle_t *)&o->async, close_cb);
    }
}

static void thread_main(void *arg) {
    td_outstore *o = arg;
    uv_run(&o->loop, UV_RUN_DEFAULT);
}

static void submit(td_outstore *o, job *j) {
    j->o = o;
    uv_mutex_lock(&o->mu);
    if (o->qtail)
        o->qtail->next = j;
    else
        o->qhead = j;
    o->qtail = j;
    uv_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
}

/* Waits for a job a caller owns; returns its status. */
static int wait_job(td_outstore *o, job *j) {
    uv_mutex_lock(&o->mu);
    while (!j->done)
        uv_cond_wait(&o->cv, &o->mu);
    uv_mutex_unlock(&o->mu);
    return j->status;
}

/* A job its caller waits for (the synchronous calls below): of type t, with a copy of key
 * when one is given. NULL, with err said, when out of memory. */
static job *sync_job(jtype t, const char *key, char *err, size_t errlen) {
    job *j = calloc(1, sizeof *j);
    if (j && key && !(j->key = ut_strdup(key))) {
        free(j);
        j = NULL;
    }
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->type = t;
    j->wait = true;
    return j;
}

/* Runs j on the store's thread and waits for it: STORE_OK, or the store's status with its
 * message in err. j stays the caller's to read and free. */
static int run_sync(td_outstore *o, job *j, char *err, size_t errlen) {
    submit(o, j);
    int rc = wait_job(o, j);
    if (rc != STORE_OK)
        snprintf(err, errlen, "%s", j->msg);
    return rc;
}

int td_outstore_open(td_outstore **out, const char *url, const store_options *so, char *err,
                     size_t errlen) {
    *out = NULL;
    td_outstore *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return STORE_E_NOMEM;
    }
    if (uv_loop_init(&o->loop) != 0) {
        free(o);
        snprintf(err, errlen, "out of memory or no event loop");
        return STORE_E_NOMEM;
    }
    char serr[512] = "";
    int rc = store_open(&o->st, &o->loop, url, so, serr, sizeof serr);
    if (rc == STORE_OK) {
        /* a store that cannot write (http(s)://) is said now, not after the run: a put with
         * no callback is refused before anything is sent, with STORE_E_UNSUPPORTED only
         * when the backend has no writes */
        store_put_req probe;
        memset(&probe, 0, sizeof probe);
        probe.fd = -1;
        if (store_put(o->st, &probe) == STORE_E_UNSUPPORTED)
            rc = STORE_E_UNSUPPORTED;
    }
    if (rc != STORE_OK) {
        char shown[512];
        ut_redact_to(shown, sizeof shown, url);
        ut_msgf(err, errlen, "output '%s': %s", shown,
                serr[0] ? serr
                : rc == STORE_E_UNSUPPORTED
                    ? "an http(s) store cannot be written; give s3://, gs://, az:// or a folder"
                    : store_strerror(rc));
        if (o->st)
            store_close(o->st);
        uv_run(&o->loop, UV_RUN_DEFAULT);
        uv_loop_close(&o->loop);
        free(o);
        return rc;
    }
    const char *u = store_url(o->st);
    size_t n = strlen(u);
    o->url = malloc(n + 2);
    if (o->url)
        snprintf(o->url, n + 2, "%s%s", u, n && u[n - 1] == '/' ? "" : "/");
    uv_mutex_init(&o->mu);
    uv_cond_init(&o->cv);
    uv_async_init(&o->loop, &o->async, async_cb);
    o->async.data = o;
    if (!o->url || uv_thread_create(&o->th, thread_main, o) != 0) {
        snprintf(err, errlen, "cannot start the output store's thread");
        o->quit = true;
        async_cb(&o->async); /* closes the store and the handle on this thread */
        uv_run(&o->loop, UV_RUN_DEFAULT);
        uv_loop_close(&o->loop);
        uv_mutex_destroy(&o->mu);
        uv_cond_destroy(&o->cv);
        free(o->url);
        free(o);
        return STORE_E_NOMEM;
    }
    o->thread_started = true;
    *out = o;
    return STORE_OK;
}

int td_outstore_put_file(td_outstore *o, const char *key, FILE *f, uint64_t length,
                         uint64_t part_size) {
    job *j = calloc(1, sizeof *j);
    char *k = ut_strdup(key);
    if (!j || !k) {
        free(j);
        free(k);
        fclose(f);
        uv_mutex_lock(&o->mu);
        set_failed(o, "out of memory");
        uv_mutex_unlock(&o->mu);
        return -1;
    }
    j->type = J_PUT;
    j->key = k;
    j->f = f;
    j->put.fd = fileno(f);
    j->put.length = length;
    j->put.part_size = part_size;
    uv_mutex_lock(&o->mu);
    while (o->pending >= TD_OUTSTORE_MAX_UPLOADS && !o->failed)
        uv_cond_wait(&o->cv, &o->mu);
    bool failed = o->failed;
    if (!failed)
        o->pending++;
    uv_mutex_unlock(&o->mu);
    if (failed) {
        job_free(j);
        return -1;
    }
    submit(o, j);
    return 0;
}

int td_outstore_wait(td_outstore *o, bool abort) {
    uv_mutex_lock(&o->mu);
    if (abort && o->pending) {
        o->cancel = true;
        uv_mutex_unlock(&o->mu);
        uv_async_send(&o->async);
        uv_mutex_lock(&o->mu);
    }
    while (o->pending)
        uv_cond_wait(&o->cv, &o->mu);
    bool failed = o->failed;
    uv_mutex_unlock(&o->mu);
    return failed ? -1 : 0;
}

const char *td_outstore_errmsg(const td_outstore *o) { return o->errmsg; }

int td_outstore_put_buf(td_outstore *o, const char *key, const void *buf, size_t len, char *err,
                        size_t errlen) {
    job *j = sync_job(J_PUT, key, err, errlen);
    if (!j)
        return -1;
    j->put.buf = buf;
    j->put.length = len;
    int rc = run_sync(o, j, err, errlen);
    job_free(j);
    return rc == STORE_OK ? 0 : -1;
}

int td_outstore_clean(td_outstore *o, const char *first, const char *const *prefixes,
                      size_t n_prefixes, bool (*ours)(const char *key, const void *ctx),
                      const void *ours_ctx, char *err, size_t errlen) {
    if (first) {
        char *const keys[1] = {(char *)first};
        if (td_outstore_delete(o, keys, 1, err, errlen) != 0)
            return -1;
    }
    job *j = sync_job(J_LIST, NULL, err, errlen);
    if (!j)
        return -1;
    j->prefixes = prefixes;
    j->n_prefixes = n_prefixes;
    j->ours = ours;
    j->ours_ctx = ours_ctx;
    int rc = run_sync(o, j, err, errlen);
    job_free(j);
    return rc == STORE_OK ? 0 : -1;
}

int td_outstore_list(td_outstore *o, const char *prefix, bool one_level,
                     bool (*want)(const char *key, const void *ctx), const void *want_ctx,
                     td_outstore_keys *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    job *j = sync_job(J_LIST, NULL, err, errlen);
    if (!j)
        return -1;
    const char *const prefixes[1] = {prefix};
    j->collect_only = true;
    j->prefixes = prefixes;
    j->n_prefixes = 1;
    j->ours = want;
    j->ours_ctx = want_ctx;
    j->delim = one_level && store_can_delimit(o->st) ? "/" : NULL;
    if (run_sync(o, j, err, errlen) != STORE_OK) {
        job_free(j);
        return -1;
    }
    out->keys = j->keys;
    out->sizes = j->sizes;
    out->n = j->n_keys;
    j->keys = NULL;
    j->sizes = NULL;
    j->n_keys = 0;
    job_free(j);
    return 0;
}

void td_outstore_keys_free(td_outstore_keys *k) {
    for (size_t i = 0; i < k->n; i++)
        free(k->keys[i]);
    free(k->keys);
    free(k->sizes);
    memset(k, 0, sizeof *k);
}

int td_outstore_delete(td_outstore *o, char *const *keys, size_t n, char *err, size_t errlen) {
    if (n == 0)
        return 0;
    job *j = sync_job(J_DELETE, NULL, err, errlen);
    if (!j)
        return -1;
    if (!(j->keys = calloc(n, sizeof *j->keys))) {
        job_free(j);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(j->keys[i] = ut_strdup(keys[i]))) {
            job_free(j);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        j->n_keys++;
    }
    int rc = run_sync(o, j, err, errlen);
    job_free(j);
    return rc == STORE_OK ? 0 : -1;
}

int td_outstore_get(td_outstore *o, const char *key, uint64_t offset, uint64_t length, void *buf,
                    uint64_t known_size, uint64_t *got, uint64_t *object_size, char *err,
                    size_t errlen) {
    job *j = sync_job(J_GET, key, err, errlen);
    if (!j)
        return -1;
    j->get.offset = offset;
    j->get.length = length;
    j->get.buf = buf;
    j->get.known_size = known_size;
    int rc = run_sync(o, j, err, errlen);
    if (rc == STORE_OK) {
        if (got)
            *got = j->get.got;
        if (object_size)
            *object_size = j->get.object_size;
    }
    job_free(j);
    return rc == STORE_OK ? 0 : -1;
}

int td_outstore_taken_add(td_outstore *o, const char *key) {
    uv_mutex_lock(&o->mu);
    int rc = 0;
    if (o->n_taken == o->cap_taken) {
        size_t cap = o->cap_taken ? o->cap_taken * 2 : 16;
        char **t = realloc(o->taken, cap * sizeof *t);
        if (!t)
            rc = -1;
        else {
            o->taken = t;
            o->cap_taken = cap;
        }
    }
    if (rc == 0 && !(o->taken[o->n_taken] = ut_strdup(key)))
        rc = -1;
    if (rc == 0)
        o->n_taken++;
    uv_mutex_unlock(&o->mu);
    return rc;
}

bool td_outstore_taken(td_outstore *o, const char *key) {
    uv_mutex_lock(&o->mu);
    bool t = false;
    for (size_t i = 0; i < o->n_taken && !t; i++)
        t = strcmp(o->taken[i], key) == 0;
    uv_mutex_unlock(&o->mu);
    return t;
}

uint64_t td_outstore_requests(td_outstore *o) {
    uv_mutex_lock(&o->mu);
    uint64_t r = o->requests;
    uv_mutex_unlock(&o->mu);
    return r;
}

void td_outstore_close(td_outstore *o) {
    if (!o)
        return;
    td_outstore_wait(o, true);
    uv_mutex_lock(&o->mu);
    o->quit = true;
    uv_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
    uv_thread_join(&o->th);
    uv_loop_close(&o->loop);
    uv_mutex_destroy(&o->mu);
    uv_cond_destroy(&o->cv);
    for (size_t i = 0; i < o->n_taken; i++)
        free(o->taken[i]);
    free(o->taken);
    free(o->url);
    free(o);
}
