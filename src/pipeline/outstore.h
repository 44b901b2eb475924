/* outstore.h - the output's object store (OUT = s3://, gs://, az://) on a thread of its own.
 * Internal to the pipeline.
 *
 * The writer thread has no event loop (it encodes Parquet and blocks on a condition
 * variable), and the run's loop must not stall on uploads. So the output store runs on its
 * own small thread with its own libuv loop; callers (the writer thread for parts, the
 * run's thread for cleaning and _SUCCESS) hand it jobs and wait on a condition variable.
 * At most TD_OUTSTORE_MAX_UPLOADS part uploads are in flight or queued at once: a caller
 * that would exceed it waits, so memory (one store part buffer per upload) and the
 * temporary files in TMPDIR stay bounded. Every request goes through the store's (the
 * network engine's) retry policy, as reads do.
 */
#ifndef TD_OUTSTORE_H
#define TD_OUTSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

/* Part uploads in flight (or waiting) at once. */
#define TD_OUTSTORE_MAX_UPLOADS 2u
/* Deletes in flight at once while old outputs are removed. */
#define TD_OUTSTORE_MAX_DELETES 16u

/* True when out names an object store (a URL with a scheme other than file://). */
bool td_outstore_is_url(const char *out);

typedef struct td_outstore td_outstore;

/* Opens the store of url (e.g. "s3://bucket/prefix") and starts its thread. Returns 0 or a
 * store_code with a message (naming the redacted URL) in err. */
int td_outstore_open(td_outstore **out, const char *url, const store_options *so, char *err,
                     size_t errlen);
/* The store's display URL (no credentials). */
const char *td_outstore_url(const td_outstore *o);

/* Uploads f's bytes [0, length) as key (relative to the store URL), in the background
 * (multipart above part_size; 0 = the store's default). f
 * (a temporary file, already unlinked) becomes the upload's: it is closed once the upload
 * ended. Waits while TD_OUTSTORE_MAX_UPLOADS uploads are pending. Returns 0, or -1 when an
 * earlier upload failed (td_outstore_errmsg); f is closed either way. */
int td_outstore_put_file(td_outstore *o, const char *key, FILE *f, uint64_t length,
                         uint64_t part_size);
/* Waits for every pending upload. abort: those not yet finished are canceled. Returns 0 or
 * -1 (td_outstore_errmsg: the first failure, naming the object). */
int td_outstore_wait(td_outstore *o, bool abort);
/* The first failure's message ("" if none). */
const char *td_outstore_errmsg(const td_outstore *o);
/* Uploads buf as key and waits. 0 or -1 with a message in err. */
int td_outstore_put_buf(td_outstore *o, const char *key, const void *buf, size_t len, char *err,
                        size_t errlen);
/* Deletes `first` (if not NULL), then every key listed under each of the prefixes for which
 * ours(key) is true. Keys are collected before deleting (memory: the matching keys), then
 * deleted TD_OUTSTORE_MAX_DELETES at a time. 0 or -1 with a message in err. */
int td_outstore_clean(td_outstore *o, const char *first, const char *const *prefixes,
                      size_t n_prefixes, bool (*ours)(const char *key, const void *ctx),
                      const void *ours_ctx, char *err, size_t errlen);
/* Keys (relative to OUT) a listing found, with their sizes. */
typedef struct td_outstore_keys {
    char **keys;
    uint64_t *sizes;
    size_t n;
} td_outstore_keys;
/* Lists the keys under prefix for which want(key) holds (want NULL: all) into *out
 * (td_outstore_keys_free). one_level: only the keys directly under prefix (delimiter "/"),
 * not those in deeper "folders". Only complete objects are listed: an upload in progress
 * or abandoned (S3 multipart parts, Azure uncommitted blocks, a GCS session) is not one.
 * 0 or -1 with a message in err. */
int td_outstore_list(td_outstore *o, const char *prefix, bool one_level,
                     bool (*want)(const char *key, const void *ctx), const void *want_ctx,
                     td_outstore_keys *out, char *err, size_t errlen);
void td_outstore_keys_free(td_outstore_keys *k);
/* Deletes keys[0..n), TD_OUTSTORE_MAX_DELETES at a time, and waits. 0 or -1 (err). */
int td_outstore_delete(td_outstore *o, char *const *keys, size_t n, char *err, size_t errlen);
/* Reads [offset, offset + length) of key into buf and waits (a ranged GET, retried as
 * reads are). known_size: the object's size if known (listed), else 0. *got: bytes placed
 * (fewer at the end of the object); *object_size: the total if the store said it, else
 * UINT64_MAX (either may be NULL). 0 or -1 with a message naming the object in err. */
int td_outstore_get(td_outstore *o, const char *key, uint64_t offset, uint64_t length, void *buf,
                    uint64_t known_size, uint64_t *got, uint64_t *object_size, char *err,
                    size_t errlen);
/* --resume: key is a kept part. td_outstore_taken(key) then says true, and the writer
 * numbers its new parts past it (output.c), as a folder's existing files do. Any thread. */
int td_outstore_taken_add(td_outstore *o, const char *key);
bool td_outstore_taken(td_outstore *o, const char *key);
/* HTTP requests the output store sent (retries included). */
uint64_t td_outstore_requests(td_outstore *o);
/* Ends the thread, closes the store, frees. */
void td_outstore_close(td_outstore *o);

#endif
