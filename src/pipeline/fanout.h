/* fanout.h - the run's listing (internal to the pipeline): the configured prefixes, each page
 * by page, and on a store that lists with a delimiter (store_can_delimit) a bounded parallel
 * fan-out over '/'-separated prefixes.
 *
 * Fan-out (parallel > 1): a prefix is listed with delimiter "/": its direct keys go to the
 * caller, its common prefixes onto the frontier, a stack (depth-first: the deepest prefix
 * is listed next, so the frontier holds one level's siblings per level, not a whole level
 * of the tree). At most `parallel` pages are in flight. Every key is listed exactly once:
 * the keys directly under a prefix by its own listing, the rest by its children's.
 *
 * Memory: the frontier holds at most max_frontier prefixes. A delimited page may add up to
 * page_size of them, so one is requested only when that many places are free beyond the
 * pages already in flight; when they are not, a prefix taken from the frontier is listed
 * whole (no delimiter, adds nothing) by one of `parallel` more listings: the frontier
 * drains and the delimited listings go on. Keys: each page in flight reserves
 * list_chunk_size keys of the caller's room (room()), as serial listing always did.
 *
 * parallel == 1, or a store without delimiter: the configured prefixes are listed whole,
 * up to 8 at once, as before the fan-out. */
#ifndef TD_FANOUT_H
#define TD_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define TD_FANOUT_DEFAULT_PARALLEL 16u
#define TD_FANOUT_DEFAULT_FRONTIER 100000u
#define TD_FANOUT_MAX_PARALLEL 256u
#define TD_FANOUT_PAGE STORE_MAX_COMMON_PREFIXES /* prefixes a delimited page may add */

typedef struct td_lister td_lister;

typedef struct td_lister_ops {
    /* a page's keys and bad entries (store_list_cb's) */
    void (*page)(void *ud, const store_entry *e, size_t n, const store_bad_entry *bad,
                 size_t n_bad);
    /* a prefix that could not be listed (or not to its end): one `list` error row */
    void (*error)(void *ud, const char *prefix, int status, const char *msg, unsigned attempts);
    /* keys the caller can still take (its queue bound minus what it holds and
     * td_lister_reserved) */
    uint64_t (*room)(void *ud);
    /* after every page's callback: the caller pumps (and calls td_lister_pump) */
    void (*after)(void *ud);
    void *ud;
} td_lister_ops;

typedef struct td_lister_options {
    const char *const *prefixes; /* listed as given (segment or raw prefixes) */
    size_t n_prefixes;
    size_t chunk;        /* list_chunk_size: keys per page, reserved per page in flight */
    unsigned parallel;   /* pages in flight (1: serial) */
    size_t max_frontier; /* prefixes waiting (0: default); at least 2 pages' worth */
} td_lister_options;

/* NULL when out of memory. */
td_lister *td_lister_new(store *st, const td_lister_options *o, const td_lister_ops *ops);
/* Starts the pages that may start (room, pages in flight, frontier room). */
void td_lister_pump(td_lister *l);
/* Keys reserved by the pages in flight. */
uint64_t td_lister_reserved(const td_lister *l);
/* A page is in flight (its callback will come). */
bool td_lister_busy(const td_lister *l);
/* Everything listed (or failed): nothing in flight, nothing left. */
bool td_lister_done(const td_lister *l);
/* Starts nothing more; releases the cursors of listings between pages (call again once
 * nothing is in flight). */
void td_lister_stop(td_lister *l);
/* Counters: prefixes listed with a delimiter, listed whole, the frontier's high mark. */
void td_lister_counts(const td_lister *l, uint64_t *delimited, uint64_t *whole,
                      size_t *frontier_peak);
void td_lister_free(td_lister *l);

#endif
