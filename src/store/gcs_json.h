/* gcs_json.h - a minimal, bounded JSON reader (internal): enough for Google Cloud Storage's
 * objects.list pages, service-account keys and OAuth token responses. The whole document
 * is tokenised at once (callers cap the body size), into a flat array of tokens where each
 * container knows where its subtree ends, so lookups need no allocation. */
#ifndef STORE_GCS_JSON_H
#define STORE_GCS_JSON_H

#include "az_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { GJ_OBJECT, GJ_ARRAY, GJ_STRING, GJ_NUMBER, GJ_TRUE, GJ_FALSE, GJ_NULL } gj_type;

typedef struct gj_tok {
    gj_type type;
    size_t start, end; /* byte span in the document; strings: inside the quotes */
    size_t size;       /* object: members; array: elements */
    size_t after;      /* index of the first token after this subtree */
    bool escaped;      /* string holds backslash escapes */
} gj_tok;

typedef struct gj_doc {
    const char *text;
    size_t len;
    gj_tok *tok;
    size_t n, cap;
    size_t max_tokens;
} gj_doc;

#define GJ_NONE ((size_t)-1)

/* Parses text[0..len) (one JSON value, surrounding whitespace allowed; nesting at most 64,
 * at most max_tokens tokens). Returns 0, or -1 with a message in err. */
int gj_parse(gj_doc *d, const char *text, size_t len, size_t max_tokens, char *err,
             size_t errlen);
void gj_free(gj_doc *d);

/* The value of member `key` of object token obj, or GJ_NONE. */
size_t gj_get(const gj_doc *d, size_t obj, const char *key);
/* Appends the decoded string of token i (must be GJ_STRING) to out; -1 if not a string. */
int gj_str(const gj_doc *d, size_t i, az_buf *out);
/* Decoded string as a new malloc'ed C string (NULL if absent/not a string/NUL inside). */
char *gj_strdup(const gj_doc *d, size_t i);
/* Unsigned integer from a number token or a string of digits (GCS sends sizes as
 * strings); -1 if neither. */
int gj_u64(const gj_doc *d, size_t i, uint64_t *out);

/* ---- GCS objects.list page ---- */
typedef struct gcs_page {
    store_entry *entries;
    size_t n;
    az_buf arena;      /* keys and etags */
    char *next_token;  /* NULL when the listing is complete */
} gcs_page;

/* Parses an objects.list response: items[].name/size/updated/etag and nextPageToken.
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
