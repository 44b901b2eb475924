/* gcs_put.h - writes of the GCS backend (internal): media upload, resumable upload,
 * objects.delete.
 *
 * gcs_put.c owns the write requests; store_gcs.c lends it the store's addressing, bearer
 * token, token queue and status wording through the gcs__* hooks below. */
#ifndef STORE_GCS_PUT_H
#define STORE_GCS_PUT_H

#include "store_impl.h"
#include "store_token.h"

/* The store vtable entries (store_gcs.c lists them). */
int gcs_put(store *s, store_put_req *req);
void gcs_put_cancel(store *s, store_put_req *req);
int gcs_delete(store *s, store_delete_req *req);

/* ---- hooks store_gcs.c provides ---- */

/* Where objects live: the API base URL (no trailing '/'), bucket, key prefix ("" or
 * "dir/"), and the billed project or NULL. */
void gcs__where(store *s, const char **base_url, const char **bucket, const char **root,
                const char **user_project);
/* Adds the attempt's Authorization (none when anonymous). */
int gcs__auth_header(store *s, void *headers);
/* The store's token for the write's gate (store_token_gate_wait); NULL without a fetched
 * token. */
store_token *gcs__token(store *s);
/* The backend's status wording (the remote.h table, with Google's message and reason). */
int gcs__map_status(store *s, int net_status, long http, const char *gmsg, const char *reason,
                    char *msg, size_t msglen, const char *what);

#endif
