/* gcs_json.h - the Google Cloud Storage documents (internal): objects.list pages and error
 * bodies, read with src/util's bounded JSON reader (ut_json). */
#ifndef STORE_GCS_JSON_H
#define STORE_GCS_JSON_H

#include "store.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- GCS objects.list page ---- */
typedef struct gcs_page {
    store_entry *entries;
    size_t n;
    const char **prefixes; /* prefixes[] (delimiter listings), root stripped */
    size_t n_prefixes;
    ut_buf arena;     /* keys, etags and prefixes */
    char *next_token; /* NULL when the listing is complete */
} gcs_page;

/* Parses an objects.list response: items[].name/size/updated/etag, prefixes[] and
 * nextPageToken (max_entries bounds items, STORE_MAX_COMMON_PREFIXES prefixes: GCS bounds
 * their sum by maxResults, the emulator only items).
 * strip: the store's root prefix (removed from names; names outside it are dropped);
 * max_entries: more items than this is malformed. Returns 0 or -1 with err. */
int gcs_list_parse(gcs_page *pg, const char *json, size_t len, const char *strip,
                   size_t max_entries, char *err, size_t errlen);
void gcs_page_free(gcs_page *pg);

/* An error document {"error":{"code":..,"message":"..","errors":[{"reason":".."}]}}:
 * copies the message and first reason (either may be empty). Returns 0 if it was one. */
int gcs_error_parse(const char *json, size_t len, char *message, size_t mlen, char *reason,
                    size_t rlen);

#endif
