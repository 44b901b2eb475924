/* store_share.h - one credential for the stores of several fetch threads (internal).
 *
 * With concurrency.threads N the run opens N + 1 stores of the same URL and options, each
 * on its own loop and thread (the pipeline's, for listing, and one per fetch thread).
 * Credentials that come from the network (an AssumeRole, an OAuth2 token, instance
 * metadata) are fetched by the first store only, the leader (opened with no
 * store_options.creds_from), and handed to the others, the followers: a follower whose
 * credential is missing or due asks; on its own loop the leader makes sure its credential
 * is fresh or a fetch is running, and publishes the result; every follower that asked is
 * woken on its loop and takes a copy. So a run makes one fetch per refresh, whatever the
 * number of threads. The credential travels as an opaque blob (the backend's
 * serialization; wiped when replaced) with its fetch and expiry times (wall clock ms).
 *
 * Threads: the leader side runs on the leader's loop, each follower's side on its own; the
 * shared state is under one mutex. The leader must stay open while its followers are (the
 * pipeline closes the fetch threads' stores first); a follower that asks after the leader
 * closed gets STORE_E_CANCELED. */
#ifndef STORE_STORE_SHARE_H
#define STORE_STORE_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct store_share store_share;
typedef struct store_share_follower store_share_follower;

/* ---- the leader, on its loop ---- */

/* ask runs on the leader's loop when followers asked (once for all the asks since the
 * last run): it must publish, now or when the fetch under way ends. NULL: no memory. */
store_share *store_share_new(uv_loop_t *loop, void (*ask)(void *ctx), void *ctx);
/* The result for the followers that asked: status STORE_OK with the credential, or a
 * store code with a message (never a secret). */
void store_share_publish(store_share *sh, int status, const void *blob, size_t len,
                         int64_t fetched_ms, int64_t expires_ms, const char *err);
/* At the leader's close (on its loop): followers waiting or asking later get
 * STORE_E_CANCELED; the memory goes with the last follower. */
void store_share_close(store_share *sh);
/* How many times ask ran (tests). */
unsigned store_share_asks(const store_share *sh);

/* ---- a follower, on its own loop ---- */

/* got runs on loop after each store_share_ask, once the leader published (or closed). */
store_share_follower *store_share_join(store_share *sh, uv_loop_t *loop, void (*got)(void *ctx),
                                       void *ctx);
/* Asks for a credential newer than the one it has. */
void store_share_ask(store_share_follower *f);
/* The last result published: the status, and for STORE_OK a malloc'ed copy of the blob
 * (*blob, *len; the caller wipes and frees it) and its times; else the message in err. */
int store_share_take(store_share_follower *f, char **blob, size_t *len, int64_t *fetched_ms,
                     int64_t *expires_ms, char *err, size_t errlen);
/* At the follower's close (on its loop): got will not run again. */
void store_share_leave(store_share_follower *f);

#endif
