/* store_impl.h - what backends share with store.c (internal; not part of the contract).
 *
 * A backend embeds `struct store` as its FIRST member and fills in the vtable; store.c
 * dispatches the public calls through it. To add a backend: write store_<name>.c with
 * `int store_<name>_open(store **out, uv_loop_t *loop, const char *url,
 *  const store_options *opts, char *err, size_t errlen)`, declare it below, and add one
 * line to the backend table in store.c. */
#ifndef STORE_STORE_IMPL_H
#define STORE_STORE_IMPL_H

#include "store.h"

typedef struct store_vtable {
    void (*close)(store *s);
    int (*list_next)(store *s, store_list_req *req);
    void (*list_free)(store *s, store_list_req *req);
    int (*get)(store *s, store_get_req *req);
} store_vtable;

struct store {
    const store_vtable *vt;
    uv_loop_t *loop;
    char *url; /* display URL, no credentials; malloc'ed by the backend, freed by it */
};

typedef int (*store_open_fn)(store **out, uv_loop_t *loop, const char *url,
                             const store_options *opts, char *err, size_t errlen);

int store_local_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                     char *err, size_t errlen);
#ifdef TD_HAVE_S3
int store_s3_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                  char *err, size_t errlen);
#endif
/* http:// and https:// (store_http.c; without the network engine it only says so) */
int store_http_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                    char *err, size_t errlen);

/* snprintf into err if err is non-NULL; returns code, for one-line error paths. */
int store__fail(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
