/* az_put.h - writes of the Azure backend (internal): Put Blob, Put Block + Put Block List,
 * Delete Blob.
 *
 * az_put.c owns the write requests; store_azure.c lends it the store's addressing,
 * signing, token queue and status wording through the az__* hooks below. */
#ifndef STORE_AZ_PUT_H
#define STORE_AZ_PUT_H

#include "az_sign.h"
#include "store_impl.h"
#include "store_token.h"

/* The store vtable entries (store_azure.c lists them). */
int az_put(store *s, store_put_req *req);
void az_put_cancel(store *s, store_put_req *req);
int az_delete(store *s, store_delete_req *req);

/* ---- hooks store_azure.c provides ---- */

/* The URL (with the SAS, if any) and the signed path of blob key with query q. -1: too
 * long or out of memory. */
int az__build(store *s, const char *key, const az_pair *q, size_t nq, ut_buf *url, ut_buf *path);
/* Adds x-ms-date, x-ms-version, the lines of h, and the store's Authorization (SharedKey
 * over all of them plus Content-Length, or the bearer token) to an attempt's headers. */
int az__headers(store *s, void *headers, const char *method, const char *path, const az_pair *q,
                size_t nq, const az_pair *h, size_t nh, size_t content_length);
/* The store's token for the write's gate (store_token_gate_wait); NULL without Entra ID
 * auth. */
store_token *az__token(store *s);
/* The backend's status wording (the remote.h table, refined by the error code). */
int az__map_status(store *s, int net_status, long http, const char *code, char *msg, size_t msglen,
                   const char *what);

#endif
