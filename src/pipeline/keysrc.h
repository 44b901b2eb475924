/* keysrc.h - keys from a file instead of a store listing: a key list (store.keys_from) or
 * an S3 Inventory report (store.inventory). See docs/config.md for the rules.
 *
 * A key source yields pages of store_entry records, as a store listing does, so the
 * pipeline applies the same backpressure (it asks for a page only when the key queue has
 * room for one). Files are read incrementally through zlib's gz* reader, which takes plain
 * and gzip input alike (it detects gzip by its magic bytes): memory is one read buffer plus
 * one page, never the whole list.
 *
 * td_keysrc_next does blocking file I/O (stdin may be a slow pipe): the pipeline calls it
 * on libuv's thread pool, one call at a time. Nothing here prints or knows about TIFF.
 */
#ifndef TD_KEYSRC_H
#define TD_KEYSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct td_keysrc td_keysrc;

typedef struct td_keysrc_options {
    /* The store's URL forms a key-list line may start with (store_url(), store.name as
     * written, ...); "ROOT/key" becomes "key". A line with a scheme ("xx://") that matches
     * none is a bad entry. */
    const char *const *roots;
    size_t n_roots;
    /* store_url() of the store: for an inventory, "s3://bucket[/prefix]" selects the rows of
     * that bucket under that prefix; any other store takes the inventory's keys as they are. */
    const char *store_url;
    size_t page_size; /* entries + bad entries per page (>= 1) */
} td_keysrc_options;

/* One page; valid until the next td_keysrc_next or td_keysrc_close. size is UINT64_MAX
 * and mtime_ms INT64_MIN when the source does not say (a key list never does). Bad
 * entries: a line naming another store, an undecodable inventory key; key is the text as
 * written. status < 0: the source failed (unreadable or corrupt file; message in errmsg)
 * after the entries of this page; the source is then done. */
typedef struct td_keysrc_page {
    const store_entry *entries;
    size_t n;
    const store_bad_entry *bad;
    size_t n_bad;
    bool done;
    int status; /* 0 or a store_code */
    char errmsg[512];
} td_keysrc_page;

/* path: a file, or "-" for stdin. Opens (and for an inventory, reads the manifest and
 * finds every data file) now, so a missing or malformed input fails before any request.
 * Returns 0, or a store_code with a message naming the file. */
int td_keysrc_open_list(td_keysrc **out, const char *path, const td_keysrc_options *o, char *err,
                        size_t errlen);
int td_keysrc_open_inventory(td_keysrc **out, const char *manifest, const td_keysrc_options *o,
                             char *err, size_t errlen);
/* The same two readers over open descriptors, for tests and the fuzz targets (fuzz/), which
 * read everything from memory. fd is taken over: closed by td_keysrc_close, or here on
 * failure. name is what messages and td_keysrc_name show. An inventory's data files are
 * opened by open_data(ctx, key) when td_keysrc_next reaches them (not looked up beside the
 * manifest, and not checked at open): it returns a descriptor, or -1 with errno set. */
typedef int (*td_keysrc_open_fn)(void *ctx, const char *key);
int td_keysrc_open_list_fd(td_keysrc **out, int fd, const char *name, const td_keysrc_options *o,
                           char *err, size_t errlen);
int td_keysrc_open_inventory_fd(td_keysrc **out, int fd, const char *name,
                                td_keysrc_open_fn open_data, void *ctx, const td_keysrc_options *o,
                                char *err, size_t errlen);
/* Reads the next page into pg (blocking I/O). Call again only while !pg->done. */
void td_keysrc_next(td_keysrc *ks, td_keysrc_page *pg);
/* The source as shown in error rows: the path, or "stdin". */
const char *td_keysrc_name(const td_keysrc *ks);
void td_keysrc_close(td_keysrc *ks);

/* A listing prefix with object-store segment semantics, as obstore / object_store 0.12
 * give them (Path::from drops empty segments; the list request asks for "PATH/"): "a/b",
 * "a/b/" and "/a//b" all become "a/b/", which lists a/b/x.tif and never a/bc/y.tif nor
 * the object "a/b" itself; "" and "/" become "" (the whole store). Every store lists a
 * prefix as raw bytes, so handing it this form gives every store the same semantics.
 * Returns a malloc'd string, or NULL when out of memory. */
char *td_prefix_segments(const char *prefix);

#endif
