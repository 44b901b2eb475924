/* s3_put.h - writes of the S3 backend (internal): PutObject, multipart upload, DeleteObject.
 *
 * s3_put.c owns the write requests; store_s3.c lends it the store's addressing, signing
 * state and credential gate through the s3__* hooks below, so neither file reaches into
 * the other's structs. */
#ifndef STORE_S3_PUT_H
#define STORE_S3_PUT_H

#include "s3_req.h"
#include "store_impl.h"

/* The store vtable entries (store_s3.c lists them). */
int s3_put(store *s, store_put_req *req);
void s3_put_cancel(store *s, store_put_req *req);
int s3_delete(store *s, store_delete_req *req);

/* ---- hooks store_s3.c provides ---- */

/* A request waiting for credentials: cb runs once they arrive (status 0) or failed
 * (a store code and a message without secrets), or with STORE_E_CANCELED at close. */
typedef struct s3_waiter s3_waiter;
struct s3_waiter {
    void (*cb)(s3_waiter *w, int status, const char *msg);
    s3_waiter *next;
};
/* 0: sign now (s3__sign_creds has them, or the store is anonymous); 1: w is queued (a
 * fetch is under way) and its cb will run. Starts a refresh when one is due. */
int s3__creds_gate(store *s, s3_waiter *w);
/* Takes w out of the queue; false if it was not there. */
bool s3__creds_unwait(store *s, s3_waiter *w);
/* The credentials to sign with now, or NULL: anonymous (skip_signature), or none yet. */
const s3_creds *s3__sign_creds(store *s, bool *anonymous);
const s3_target *s3__target(store *s);
const char *s3__root(store *s); /* "" or "prefix/" */
bool s3__payer(store *s);
s3_sigkey_cache *s3__keycache(store *s);

#endif
