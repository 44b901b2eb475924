/* store_impl.h - what backends share with store.c (internal; not part of the contract).
 *
 * A backend embeds `struct store` as its FIRST member and fills in the vtable; store.c
 * dispatches the public calls through it. To add a backend: write store_<name>.c with
 * `int store_<name>_open(store **out, uv_loop_t *loop, const char *url,
 *  const store_options *opts, char *err, size_t errlen)`, declare it below, and add one
 * line to the backend table in store.c. A networked backend instead embeds a remote_store
 * (remote.h), declares its option table and hooks, and stands on that core for options,
 * engine, lifecycle, reads and errors. */
#ifndef STORE_STORE_IMPL_H
#define STORE_STORE_IMPL_H

#include "store.h"

typedef struct store_vtable {
    void (*close)(store *s);
    int (*list_next)(store *s, store_list_req *req);
    void (*list_free)(store *s, store_list_req *req);
    int (*get)(store *s, store_get_req *req);
    /* writes; NULL: the store cannot write (STORE_E_UNSUPPORTED) */
    int (*put)(store *s, store_put_req *req);
    void (*put_cancel)(store *s, store_put_req *req);
    int (*del)(store *s, store_delete_req *req);
    /* lists with delimiter "/" (store_list_req.delimiter); false: refused by store.c */
    bool can_delimit;
} store_vtable;

struct store {
    const store_vtable *vt;
    uv_loop_t *loop;
    char *url;              /* display URL, no credentials; malloc'ed by the backend, freed by it */
    struct net_engine *net; /* the engine reads go through, for store_get_stats; NULL for
                               local folders. Set by the backend, owned by it. */
};

typedef int (*store_open_fn)(store **out, uv_loop_t *loop, const char *url,
                             const store_options *opts, char *err, size_t errlen);

int store_local_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                     char *err, size_t errlen);
int store_s3_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                  char *err, size_t errlen);
/* az://, azure://, adl://, abfs[s]://container@account.dfs.core.windows.net/, and
 * https://ACCOUNT.blob.core.windows.net/container/ (see store_azure_is_https_url). */
int store_azure_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                     char *err, size_t errlen);
/* True for https:// URLs that name an Azure storage account host
 * (ACCOUNT.blob.core.windows.net or ACCOUNT.dfs.core.windows.net). */
bool store_azure_is_https_url(const char *url);
/* gs://bucket/prefix */
int store_gcs_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                   char *err, size_t errlen);
/* http:// and https:// (store_http.c) */
int store_http_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                    char *err, size_t errlen);

/* snprintf into err if err is non-NULL; returns code, for one-line error paths. */
int store__fail(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- ranged reads, the parts every backend does alike ---- */

/* Clears what a read reports, so that neither a refused start nor a reused request shows
 * the previous read's results. */
void store__get_reset(store_get_req *req);

/* Whether a read can be started: a callback, a key and a buffer, and a range that is not
 * empty, fits in memory (buf_cap is a size_t) and does not wrap past 2^64 (the engine sends
 * offset+length-1 as the Range end). */
bool store__get_valid(const store_get_req *req);

#endif
