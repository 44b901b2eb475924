/* store_token.h - one access token shared by all the requests of a networked store
 * (internal): fetched from an identity endpoint over the store's own engine, cached,
 * refreshed before it expires, and the requests started while there is no usable token
 * wait in a queue for the fetch. Azure (az_token.c) and GCS use it; it knows nothing of
 * either: a backend gives a provider, a step function that makes the fetch's requests one
 * after the other (Google's workload identity federation takes three: subject token, STS
 * exchange, impersonation) or produces the token itself (a CLI, a file). An S3 role or SSO
 * credential could be carried the same way (the token being the credential set).
 *
 * Refresh: with a token whose lifetime (expiry - time fetched) is L, a request started
 * when less than min(5 min, L/2) is left starts a refresh and still goes with the current
 * token; one started when less than min(1 min, L/10) is left waits for the new token. A
 * failed refresh of a token that is still usable fails nobody; the next request tries
 * again. Token values and request bodies are wiped when dropped. */
#ifndef STORE_STORE_TOKEN_H
#define STORE_STORE_TOKEN_H

#include "remote.h"
#include "store_share.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_token store_token;

/* A request waiting for the token (embedded in the backend's op). ready runs once, on the
 * loop: status STORE_OK (the token is there: store_token_value) or a store code with the
 * reason in store_token_error (STORE_E_CANCELED at close). */
typedef struct store_token_waiter store_token_waiter;
struct store_token_waiter {
    store_token_waiter *next;
    void (*ready)(store_token_waiter *w, int status);
    bool queued;
};

/* What the previous step's request got (NULL for step 0). */
typedef struct store_token_resp {
    int net_status; /* NET_OK, NET_E_HTTP (see http_status), or another NET_E_* */
    long http_status;
    const char *body; /* NUL-terminated */
    size_t len;
} store_token_resp;

/* The provider: called with step 0 to begin a fetch, then with step n+1 and the answer to
 * the request step n made. It either makes the next request (store_token_http) or ends the
 * fetch with store_token_set, and returns STORE_OK; or it fails the fetch by returning a
 * store code with a message in err (which must name the source and never a secret). */
typedef int (*store_token_step_fn)(store_token *t, void *ctx, unsigned step,
                                   const store_token_resp *prev, char *err, size_t errlen);

#define STORE_TOKEN_MAX_HEADERS 4
#define STORE_TOKEN_MAX_BODY (256u << 10)

struct store_token {
    /* private */
    remote_store *rs;
    store_token_step_fn step;
    void *ctx;
    char *value;
    int64_t fetched_ms, expires_ms; /* wall clock */
    bool fetching, in_http;
    int last_rc; /* the last fetch's store code */
    char method[8];
    unsigned cur_step;
    unsigned fetches; /* completed fetches, for tests and messages */
    net_request nr;
    ut_buf url, req_body, resp_body;
    char *headers[STORE_TOKEN_MAX_HEADERS];
    size_t n_headers;
    store_token_waiter *head, *tail;
    char err[256];
    /* one token for the stores of all fetch threads (store_share.h) */
    store_share *share;             /* leader: made by the first follower's join */
    store_share_follower *follower; /* follower: the fetch asks the leader */
    store_token_waiter share_w;     /* leader: waits for a token on the followers' behalf */
    bool share_waiting, awaiting_share;
};

/* Sets t up for store rs (whose engine makes the requests; a fetch in flight holds rs). */
void store_token_init(store_token *t, remote_store *rs, store_token_step_fn step, void *ctx);
/* t takes its token from leader's, a store_token of the same provider on another loop
 * (another thread's store, which stays open longer): no fetch of its own. Returns
 * STORE_OK or STORE_E_NOMEM. Called on leader's loop thread (the follower's loop need not
 * run yet). */
int store_token_follow(store_token *t, remote_store *rs, store_token *leader, uv_loop_t *loop);
/* Wipes and frees (after close: no fetch may be in flight). */
void store_token_free(store_token *t);

/* For a request about to start: STORE_OK and w->queued false when the token is usable
 * now; STORE_OK and w->queued true when w waits for a fetch (ready runs later); otherwise
 * a store code (no usable token and the fetch could not start; reason in
 * store_token_error) and ready will not run. */
int store_token_wait(store_token *t, store_token_waiter *w);
/* The current token (for a request's prepare hook), or "" if none. */
const char *store_token_value(const store_token *t);
/* The reason of the last failure ("" if none). */
const char *store_token_error(const store_token *t);
/* Takes a waiting request out of the queue (true if it was in it); ready will not run. */
bool store_token_unqueue(store_token *t, store_token_waiter *w);
/* At close: every waiter's ready runs with STORE_E_CANCELED (and a leader's followers
 * get no more tokens). */
void store_token_cancel(store_token *t);

/* The credential gate of a write (remote.h's auth_wait / auth_unwait hooks) for the
 * backends whose writes wait on a store_token (Azure, GCS), embedded in their put op. */
typedef struct store_token_gate {
    store_token_waiter w;
    store_token *t;
    remote_put *rp;
} store_token_gate;
/* auth_wait for op rp: t is the store's token, NULL when it uses none (the op goes now).
 * When g waits, remote_put_authed(rp) runs once the fetch ends. */
int store_token_gate_wait(store_token_gate *g, store_token *t, remote_put *rp, const char **why);
/* auth_unwait: takes g out of the queue (true if it was there). */
bool store_token_gate_unwait(store_token_gate *g);

/* ---- for providers, inside their step function ---- */

/* The next request: method "GET" or "POST", the full URL, up to STORE_TOKEN_MAX_HEADERS
 * "Name: value" lines (NULL-terminated array, may be NULL), and a body (may be NULL). All
 * copied. Returns STORE_OK or STORE_E_NOMEM. */
int store_token_http(store_token *t, const char *method, const char *url,
                     const char *const *headers, const char *body, size_t body_len);
/* The fetch's result: token (copied) valid for expires_in_s seconds from now. */
int store_token_set(store_token *t, const char *token, int64_t expires_in_s);

/* ---- helpers for token documents ---- */

/* An OAuth2 token response {"access_token": "..", "expires_in": N | "N", "expires_on": "epoch"}
 * (also the names "accessToken" and "expiresOn"/"expires_on" as epoch seconds of the
 * Azure CLI and IMDS; field names tried in this order). *token becomes a malloc'ed copy,
 * *expires_in_s the seconds left (3600 when the document says nothing, capped at 7 days).
 * now_s is the current time for expires_on. Returns 0 or -1 with err (never the token). */
int store_token_parse(const char *json, size_t len, const char *token_field, int64_t now_s,
                      char **token, int64_t *expires_in_s, char *err, size_t errlen);
/* A step's request that did not get a 2xx: the store code, and in err "SOURCE: why",
 * with what an OAuth2 or Google error document says (error, error_description, message;
 * never the request) and `hint` (what to check) after refusals. endpoint: a URL without
 * secrets, named for connection failures. 400, 401 and 403 from an identity endpoint are
 * auth (the credentials themselves are refused). */
int store_token_failure(const store_token_resp *r, const char *source, const char *endpoint,
                        const char *hint, char *err, size_t errlen);
/* Appends "name=value" (value percent-encoded) to a form body, with '&' when not first. */
void store_token_form(ut_buf *b, const char *name, const char *value);
/* Wall clock in ms. */
int64_t store_token_now_ms(void);

#endif
