/* az_list.h - streamed parser of Azure "List Blobs" responses (EnumerationResults) and of
 * Azure error bodies (<Error><Code>..</Code><Message>..</Message></Error>), on expat.
 * Internal to the Azure backend; pure, no I/O; every size read is capped. */
#ifndef STORE_AZ_LIST_H
#define STORE_AZ_LIST_H

#include "util.h"
#include "store.h"

#define AZ_LIST_MAX_NAME 4096 /* Azure allows 1,024 characters: 4 KiB of UTF-8 */
#define AZ_LIST_MAX_MARKER 4096

typedef struct az_list_parser az_list_parser;

/* strip: the store's root prefix, removed from every listed name (names not under it are
 * dropped); max_entries: a page holding more is malformed. NULL on out of memory. */
az_list_parser *az_list_new(const char *strip, size_t max_entries);
void az_list_free(az_list_parser *p);
/* Forgets everything parsed (a retried attempt starts over). Returns 0 or -1 (nomem). */
int az_list_reset(az_list_parser *p);
/* Feeds body bytes; final = true after the last chunk. Returns 0, or -1 with a message in
 * az_list_error(). */
int az_list_feed(az_list_parser *p, const void *data, size_t len, bool final);
const char *az_list_error(const az_list_parser *p);

/* Results, valid until the next reset/free. */
const store_entry *az_list_entries(az_list_parser *p, size_t *n);
/* The BlobPrefix names of a delimiter listing (root stripped), valid as the entries. */
const char *const *az_list_prefixes(az_list_parser *p, size_t *n);
/* The NextMarker ("" when the listing is complete). */
const char *az_list_next_marker(const az_list_parser *p);
/* Whether the body was an EnumerationResults document at all. */
bool az_list_seen_results(const az_list_parser *p);
/* For error bodies: the <Code> and <Message> ("" if none). */
const char *az_list_err_code(const az_list_parser *p);
const char *az_list_err_message(const az_list_parser *p);

#endif
