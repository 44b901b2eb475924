/* fanout.c - the run's listing: serial over the configured prefixes, or a bounded parallel
 * fan-out over '/'-separated prefixes (fanout.h tells the rules and the bounds).
 *
 * Why: a listing is a chain of pages, each waiting for the previous one's continuation
 * token; at ~50 ms a page of 1,000 keys that is 20k keys/s whatever the bandwidth. The
 * delimiter splits a tree into independent chains that can be walked at once. */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SERIAL_LISTERS 8 /* configured prefixes listed at once without fan-out */

typedef struct slot {
    struct td_lister *l;
    store_list_req req;
    char *prefix; /* owned; req.prefix */
    bool active, in_flight, delimited;
} slot;

struct td_lister {
    store *st;
    td_lister_ops ops;
    size_t chunk;
    unsigned max_in_flight;
    bool fanout;
    unsigned parallel;
    size_t max_frontier;
    /* the frontier: a stack, the deepest prefix on top */
    char **stack;
    size_t n, cap, peak;
    slot *slots;
    size_t n_slots;
    unsigned in_flight, delimited_active, delimited_in_flight;
    bool stopping;
    uint64_t n_delimited, n_whole;
};

static bool push(td_lister *l, const char *prefix) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **s = realloc(l->stack, cap * sizeof *s);
        if (!s)
            return false;
        l->stack = s;
        l->cap = cap;
    }
    char *c = ut_strdup(prefix);
    if (!c)
        return false;
    l->stack[l->n++] = c;
    if (l->n > l->peak)
        l->peak = l->n;
    return true;
}

/* Places on the frontier not promised to the delimited pages in flight. */
static size_t frontier_room(const td_lister *l) {
    size_t used = l->n + (size_t)l->delimited_in_flight * TD_FANOUT_PAGE;
    return used >= l->max_frontier ? 0 : l->max_frontier - used;
}

td_lister *td_lister_new(store *st, const td_lister_options *o, const td_lister_ops *ops) {
    td_lister *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->st = st;
    l->ops = *ops;
    l->chunk = o->chunk ? o->chunk : 1;
    unsigned par = o->parallel ? o->parallel : 1;
    if (par > TD_FANOUT_MAX_PARALLEL)
        par = TD_FANOUT_MAX_PARALLEL;
    l->fanout = par > 1 && store_can_delimit(st);
    l->parallel = par;
    l->max_in_flight = l->fanout ? par : SERIAL_LISTERS;
    /* delimited listings plus as many whole ones (for when the frontier is full) */
    l->n_slots = l->fanout ? 2 * (size_t)par : SERIAL_LISTERS;
    l->max_frontier = o->max_frontier ? o->max_frontier : TD_FANOUT_DEFAULT_FRONTIER;
    if (l->max_frontier < 2 * TD_FANOUT_PAGE)
        l->max_frontier = 2 * TD_FANOUT_PAGE; /* room for one page beside a full one */
    l->slots = calloc(l->n_slots, sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    /* reversed, so that the first configured prefix is listed first */
    for (size_t i = o->n_prefixes; i-- > 0;)
        if (!push(l, o->prefixes[i])) {
            td_lister_free(l);
            return NULL;
        }
    l->peak = 0; /* the configured prefixes are not the fan-out's */
    return l;
}

static void release(td_lister *l, slot *s) {
    if (s->req.priv)
        store_list_free(l->st, &s->req);
    if (s->delimited)
        l->delimited_active--;
    free(s->prefix);
    memset(s, 0, sizeof *s);
}

static void on_page(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    slot *s = req->data;
    td_lister *l = s->l;
    s->in_flight = false;
    l->in_flight--;
    if (s->delimited)
        l->delimited_in_flight--;
    if (!l->stopping) {
        l->ops.page(l->ops.ud, e, n, bad, n_bad);
        /* reversed: the first child is on top, listed next (depth-first, in key order) */
        for (size_t i = req->n_common_prefixes; i-- > 0;) {
            const char *cp = req->common_prefixes[i];
            /* a prefix no longer than the one listed would be listed again forever: only a
             * broken server sends it */
            if (strlen(cp) <= strlen(req->prefix)) {
                l->ops.error(l->ops.ud, cp, STORE_E_PROTOCOL,
                             "the store returned a common prefix that does not extend the "
                             "prefix listed",
                             req->attempts);
                continue;
            }
            if (!push(l, cp)) {
                l->ops.error(l->ops.ud, cp, STORE_E_NOMEM, "out of memory: prefix not listed", 0);
            }
        }
        if (status < 0 && status != STORE_E_CANCELED)
            l->ops.error(l->ops.ud, req->prefix, status,
                         req->errmsg[0] ? req->errmsg : store_strerror(status), req->attempts);
    }
    if (done || status < 0 || l->stopping) {
        if (done)
            s->req.priv = NULL; /* the store freed its cursor */
        release(l, s);
    }
    l->ops.after(l->ops.ud);
}

static void start_page(td_lister *l, slot *s) {
    s->in_flight = true;
    l->in_flight++;
    if (s->delimited)
        l->delimited_in_flight++;
    int rc = store_list_next(l->st, &s->req);
    if (rc < 0) {
        s->in_flight = false;
        l->in_flight--;
        if (s->delimited)
            l->delimited_in_flight--;
        l->ops.error(l->ops.ud, s->prefix, rc,
                     s->req.errmsg[0] ? s->req.errmsg : store_strerror(rc), 0);
        release(l, s);
    }
}

/* Takes the frontier's top into a free slot: listed with the delimiter or whole. */
static slot *take(td_lister *l, bool delimited) {
    slot *s = NULL;
    for (size_t i = 0; i < l->n_slots && !s; i++)
        if (!l->slots[i].active)
            s = &l->slots[i];
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->l = l;
    s->active = true;
    s->delimited = delimited;
    s->prefix = l->stack[--l->n];
    s->req.prefix = s->prefix;
    s->req.delimiter = delimited ? "/" : NULL;
    s->req.page_size = delimited && l->chunk > TD_FANOUT_PAGE ? TD_FANOUT_PAGE : l->chunk;
    s->req.cb = on_page;
    s->req.data = s;
    if (delimited) {
        l->delimited_active++;
        l->n_delimited++;
    } else {
        l->n_whole++;
    }
    return s;
}

void td_lister_pump(td_lister *l) {
    while (!l->stopping && l->in_flight < l->max_in_flight && l->ops.room(l->ops.ud) >= l->chunk) {
        /* a listing between pages goes on first (a delimited one only if its page's
         * prefixes have room), else the next prefix starts */
        slot *pick = NULL;
        for (size_t i = 0; i < l->n_slots && !pick; i++) {
            slot *s = &l->slots[i];
            if (s->active && !s->in_flight && (!s->delimited || frontier_room(l) >= TD_FANOUT_PAGE))
                pick = s;
        }
        if (!pick && l->n > 0) {
            if (!l->fanout)
                pick = take(l, false);
            else if (l->delimited_active < l->parallel && frontier_room(l) + 1 >= TD_FANOUT_PAGE)
                pick = take(l, true);
            else if (frontier_room(l) < TD_FANOUT_PAGE)
                pick = take(l, false); /* the frontier is full: drain it */
        }
        if (!pick)
            break;
        start_page(l, pick);
    }
}

uint64_t td_lister_reserved(const td_lister *l) { return (uint64_t)l->in_flight * l->chunk; }

bool td_lister_busy(const td_lister *l) { return l->in_flight > 0; }

bool td_lister_done(const td_lister *l) {
    if (l->n > 0 || l->in_flight > 0)
        return false;
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i].active)
            return false;
    return true;
}

void td_lister_stop(td_lister *l) {
    l->stopping = true;
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i].active && !l->slots[i].in_flight)
            release(l, &l->slots[i]);
}

void td_lister_counts(const td_lister *l, uint64_t *delimited, uint64_t *whole,
                      size_t *frontier_peak) {
    *delimited = l->n_delimited;
    *whole = l->n_whole;
    *frontier_peak = l->peak;
}

void td_lister_free(td_lister *l) {
    if (!l)
        return;
    for (size_t i = 0; l->slots && i < l->n_slots; i++)
        if (l->slots[i].active)
            release(l, &l->slots[i]);
    for (size_t i = 0; i < l->n; i++)
        free(l->stack[i]);
    free(l->stack);
    free(l->slots);
    free(l);
}
