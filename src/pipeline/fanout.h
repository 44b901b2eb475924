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
 * Coalescing (stores that list in byte order: S3, GCS, Azure): adjacent siblings of a
 * page sharing a beginning at least as long as the prefix listed (tiles/10/000/ ... 009/
 * share "tiles/10/00") are listed as that raw prefix without the delimiter, dropping the
 * parent's direct keys (its own listing gave them): 1,000 keys a page instead of a request
 * per small folder. At most TD_FANOUT_GROUP siblings a run until runs at that depth have
 * been seen, then as many as hold a page of keys by the folder sizes seen there (at most
 * 256; none when the folders hold a page or more). Only when the siblings are at least
 * `parallel`, or the runs and the listings waiting or active are (a few siblings are
 * listed each alone: they may be big). A run never reaches a sibling of another page of
 * the parent (those are listed alone). A run whose page says more follow is cut when its
 * page fell in one folder (big folders) or while listings are idle (fewer than `parallel`
 * active, nothing waiting): it finishes the folder it is in, and its raw prefix goes back
 * on the frontier to be listed with the delimiter past that folder, so that the rest is
 * split again. A single folder is never cut: a flat folder of 100,000 keys is one chain
 * of pages, at the serial speed.
 *
 * Whole listings (stores that list in byte order): the delimiter costs a round trip per
 * level, and on small leaves (13 keys a Sentinel-2 product) it makes small pages. Once the
 * prefixes waiting and the listings active are at least `parallel` / 2, and with the folders
 * the delimited pages in flight are expected to bring (as many as delimited pages brought
 * on average) at least `parallel`, or when the prefixes of that depth are known (listed to
 * their end) to hold at most two pages, the next prefix is listed whole: one chain of full
 * pages of all its tree.
 * Such a chain is cut as a run is (on the folders under the prefix), when listings are idle
 * or its page fell in one folder, unless the prefixes of its depth are known to end within
 * a page of where it is: it finishes its folder, and the prefix goes back on the frontier to
 * be listed with the delimiter past that folder (whole only to drain a full frontier).
 *
 * Shards (shard_count > 1, fan-out only): parts of the tree are assigned, so that a shard
 * lists only its part. Every shard lists the configured prefixes with the delimiter, level
 * by level (the same requests in every shard), grouping each level's folders into units by
 * their names alone: folder P/NAME/ is in unit U = P/ + NAME but its last character
 * ("tiles/10/00" holds tiles/10/000/ ... 009/ and any 00x/ added later; "tiles/" holds
 * the one-character names under it), so that a folder added or removed moves no other
 * folder to another unit. A unit is listed as its raw prefix U, keeping only folders whose
 * name is one character longer than U's (other units' folders under U are dropped), when
 * the page shows only its folders under U, at least two, none on another page of the
 * parent (on stores that list in order); else its folders are listed each alone, still
 * the unit's. The first level with at least TD_FANOUT_PREFIXES_PER_SHARD x N units (or
 * lone folders of them) is shared out: unit U and every key under its folders are shard
 * td_shard_hash(U) mod N's; keys above that level are shard
 * td_shard_hash(key) mod N's. A level with fewer units is followed by the next one while
 * that has fewer folders than the threshold (probing it costs every shard one LIST a
 * folder), at most 6 levels; else its units are shared out if there are two a shard, else
 * every shard lists them all and keeps keys by their own hash, as without fan-out (so do
 * configured prefixes of different depths). The lister then gives only the shard's keys
 * (td_lister_partitions). A folder that cannot be read is given to every shard that lists
 * it. Which level is shared out depends on the counts the shards see: a change above that
 * level that crosses a threshold between the shards' runs changes it.
 *
 * Memory: the frontier holds at most max_frontier prefixes. A delimited page may add up to
 * page_size of them, so one is requested only when that many places are free beyond the
 * pages already in flight; when they are not, a prefix taken from the frontier is listed
 * whole (no delimiter, adds nothing) by one of `parallel` more listings: the frontier
 * drains and the delimited listings go on. Whole listings add nothing to it (a cut adds
 * one prefix). Probing shards hold the next level's folders
 * and units, each at most T = min(TD_FANOUT_PREFIXES_PER_SHARD x N, max_frontier / 2)
 * plus a page (a level of T folders is not probed; T units are shared out). Keys: each page in
 * flight reserves list_chunk_size keys of the caller's room (room()), as serial listing
 * always did.
 *
 * parallel == 1, or a store without delimiter: the configured prefixes are listed whole,
 * up to 8 at once, as before the fan-out (sharded: the caller keeps keys by their hash). */
#ifndef TD_FANOUT_H
#define TD_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define TD_FANOUT_DEFAULT_PARALLEL 32u
#define TD_FANOUT_DEFAULT_FRONTIER 100000u
#define TD_FANOUT_MAX_PARALLEL 256u
#define TD_FANOUT_PAGE STORE_MAX_COMMON_PREFIXES /* prefixes a delimited page may add */
#define TD_FANOUT_GROUP 16u                      /* most siblings listed as one raw prefix */
#define TD_FANOUT_PREFIXES_PER_SHARD 16u         /* prefixes per shard before they are shared out */

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
    uint32_t shard_index, shard_count; /* this shard of count (count < 2: not sharded) */
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
/* Listings of coalesced sibling runs (counted in `whole` too), and runs cut short. */
uint64_t td_lister_groups(const td_lister *l);
uint64_t td_lister_splits(const td_lister *l);
/* Sharded with fan-out: the lister gives only this shard's keys (the caller does not
 * filter them again). */
bool td_lister_partitions(const td_lister *l);
/* Sharded: the '/'s in the prefixes shared out (0: not yet, or keys hashed). */
size_t td_lister_shard_depth(const td_lister *l);
void td_lister_free(td_lister *l);

#endif
