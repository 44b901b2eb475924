/* store_share.c - one credential for the stores of several fetch threads (see
 * store_share.h). Wake-ups cross threads through uv_async handles, one on the leader's
 * loop and one per follower; everything else is under sh->mu. */
#include "store_share.h"
#include "store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_share_follower {
    uv_async_t async; /* first: the handle is the follower */
    store_share *sh;
    store_share_follower *next; /* in sh->followers */
    void (*got)(void *ctx);
    void *ctx;
    bool asked; /* waits for the next publish (under sh->mu) */
};

struct store_share {
    uv_mutex_t mu;
    uv_async_t async; /* on the leader's loop: followers asked */
    void (*ask)(void *ctx);
    void *ctx;
    bool closed;   /* the leader closed */
    bool pending;  /* an ask is posted to the leader and not run yet */
    unsigned refs; /* the leader's async handle + the followers */
    unsigned asks;
    store_share_follower *followers;
    /* the last result */
    int status;
    char *blob;
    size_t len;
    int64_t fetched_ms, expires_ms;
    char err[256];
};

static void wipe_blob(store_share *sh) {
    if (sh->blob) {
        OPENSSL_cleanse(sh->blob, sh->len);
        free(sh->blob);
    }
    sh->blob = NULL;
    sh->len = 0;
}

/* Drops one reference (sh->mu held); the last frees. */
static void unref_locked(store_share *sh) {
    if (--sh->refs > 0) {
        uv_mutex_unlock(&sh->mu);
        return;
    }
    wipe_blob(sh);
    uv_mutex_unlock(&sh->mu);
    uv_mutex_destroy(&sh->mu);
    free(sh);
}

static void leader_async_cb(uv_async_t *a) {
    store_share *sh = a->data;
    uv_mutex_lock(&sh->mu);
    bool run = sh->pending && !sh->closed;
    sh->pending = false;
    if (run)
        sh->asks++;
    uv_mutex_unlock(&sh->mu);
    if (run)
        sh->ask(sh->ctx); /* may publish at once */
}

store_share *store_share_new(uv_loop_t *loop, void (*ask)(void *ctx), void *ctx) {
    store_share *sh = calloc(1, sizeof *sh);
    if (!sh)
        return NULL;
    if (uv_mutex_init(&sh->mu) != 0) {
        free(sh);
        return NULL;
    }
    if (uv_async_init(loop, &sh->async, leader_async_cb) != 0) {
        uv_mutex_destroy(&sh->mu);
        free(sh);
        return NULL;
    }
    uv_unref((uv_handle_t *)&sh->async); /* does not keep the leader's loop running */
    sh->async.data = sh;
    sh->ask = ask;
    sh->ctx = ctx;
    sh->refs = 1;
    sh->status = STORE_E_AUTH;
    snprintf(sh->err, sizeof sh->err, "no credentials yet");
    return sh;
}

/* Wakes every follower that asked (sh->mu held). */
static void wake_locked(store_share *sh) {
    for (store_share_follower *f = sh->followers; f; f = f->next)
        if (f->asked) {
            f->asked = false;
            uv_async_send(&f->async);
        }
}

void store_share_publish(store_share *sh, int status, const void *blob, size_t len,
                         int64_t fetched_ms, int64_t expires_ms, const char *err) {
    char *copy = NULL;
    if (status == STORE_OK) {
        copy = malloc(len ? len : 1);
        if (!copy) {
            status = STORE_E_NOMEM;
            err = "out of memory";
        } else if (len) {
            memcpy(copy, blob, len);
        }
    }
    uv_mutex_lock(&sh->mu);
    wipe_blob(sh);
    sh->status = status;
    if (status == STORE_OK) {
        sh->blob = copy;
        sh->len = len;
        sh->fetched_ms = fetched_ms;
        sh->expires_ms = expires_ms;
        sh->err[0] = '\0';
    } else {
        snprintf(sh->err, sizeof sh->err, "%s", err && *err ? err : "no credentials");
    }
    wake_locked(sh);
    uv_mutex_unlock(&sh->mu);
}

static void leader_closed_cb(uv_handle_t *h) {
    store_share *sh = h->data;
    uv_mutex_lock(&sh->mu);
    unref_locked(sh);
}

void store_share_close(store_share *sh) {
    if (!sh)
        return;
    uv_mutex_lock(&sh->mu);
    sh->closed = true;
    wake_locked(sh);
    uv_mutex_unlock(&sh->mu);
    uv_close((uv_handle_t *)&sh->async, leader_closed_cb);
}

unsigned store_share_asks(const store_share *sh) { return sh ? sh->asks : 0; }

static void follower_async_cb(uv_async_t *a) {
    store_share_follower *f = (store_share_follower *)a;
    f->got(f->ctx);
}

store_share_follower *store_share_join(store_share *sh, uv_loop_t *loop, void (*got)(void *ctx),
                                       void *ctx) {
    store_share_follower *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (uv_async_init(loop, &f->async, follower_async_cb) != 0) {
        free(f);
        return NULL;
    }
    uv_unref((uv_handle_t *)&f->async);
    f->sh = sh;
    f->got = got;
    f->ctx = ctx;
    uv_mutex_lock(&sh->mu);
    sh->refs++;
    f->next = sh->followers;
    sh->followers = f;
    uv_mutex_unlock(&sh->mu);
    return f;
}

void store_share_ask(store_share_follower *f) {
    store_share *sh = f->sh;
    uv_mutex_lock(&sh->mu);
    if (sh->closed) {
        uv_async_send(&f->async); /* takes STORE_E_CANCELED */
    } else {
        f->asked = true;
        if (!sh->pending) {
            sh->pending = true;
            uv_async_send(&sh->async);
        }
    }
    uv_mutex_unlock(&sh->mu);
}

int store_share_take(store_share_follower *f, char **blob, size_t *len, int64_t *fetched_ms,
                     int64_t *expires_ms, char *err, size_t errlen) {
    store_share *sh = f->sh;
    *blob = NULL;
    *len = 0;
    uv_mutex_lock(&sh->mu);
    int status = sh->closed ? STORE_E_CANCELED : sh->status;
    if (status == STORE_OK) {
        *blob = malloc(sh->len ? sh->len : 1);
        if (*blob) {
            memcpy(*blob, sh->blob, sh->len);
            *len = sh->len;
            *fetched_ms = sh->fetched_ms;
            *expires_ms = sh->expires_ms;
        } else {
            status = STORE_E_NOMEM;
            snprintf(err, errlen, "out of memory");
        }
    } else {
        snprintf(err, errlen, "%s", sh->closed ? "canceled" : sh->err);
    }
    uv_mutex_unlock(&sh->mu);
    return status;
}

static void follower_closed_cb(uv_handle_t *h) { free(h); }

void store_share_leave(store_share_follower *f) {
    if (!f)
        return;
    store_share *sh = f->sh;
    uv_mutex_lock(&sh->mu);
    for (store_share_follower **p = &sh->followers; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    unref_locked(sh); /* unlocks */
    /* no publish can reach f now; a wake-up already sent is dropped by the close */
    uv_close((uv_handle_t *)&f->async, follower_closed_cb);
}
