/* probe_util.h - what the store probes (http_probe.c, s3_store_probe.c) share: their
 * command line, opening the store, hex output, the list of listed keys, and the "get" and
 * "getall" commands. */
#ifndef TD_TESTS_PROBE_UTIL_H
#define TD_TESTS_PROBE_UTIL_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

void probe_hexprint(const void *p, size_t n);

/* "URL [key=value ...] -- COMMAND ARGS": fills kv (at most max_kv) and points o at them;
 * returns the index of COMMAND in argv, -1 when the line is malformed. Modifies the
 * key=value arguments in place. env_refs: a value "@NAME" is taken from the environment
 * variable NAME ("" when unset), so that secrets stay out of argv. */
int probe_parse_args(int argc, char **argv, store_kv *kv, size_t max_kv, store_options *o,
                     bool env_refs);

/* store_open(), printed as "open\tok\t<url>" or "open\t<status>\t<message>" (then NULL). */
store *probe_open(uv_loop_t *loop, const char *url, const store_options *o);

/* The keys a listing delivered, in order, as NUL-terminated copies. */
typedef struct probe_keys {
    char **v;
    size_t n, cap;
} probe_keys;

void probe_keys_add(probe_keys *l, const char *key, size_t len);
void probe_keys_free(probe_keys *l); /* frees the keys; the list is empty and reusable */

/* "get HEXKEY OFFSET LENGTH": one store_get() run to completion on loop, printed as
 * "get\t<status>\t<got>\t<object_size>\t<http>\t<hex data>\t<msg>" (or
 * "get\t<status>\tstart refused"). */
void probe_get_one(store *st, uv_loop_t *loop, const char *hexkey, const char *offset,
                   const char *length);

/* "getall": reads the first length bytes of every key, inflight reads at once, on loop
 * until all have ended, printing per key
 * "got\t<hex key>\t<status>\t<got>\t<object_size>\t<sha256 of the bytes>[\t<msg>]"
 * (or "got\t-\t<status>\tstart refused"). *n_ok: how many succeeded; returns how many
 * ended. */
size_t probe_get_all(store *st, uv_loop_t *loop, const probe_keys *keys, uint64_t length,
                     size_t inflight, size_t *n_ok);

#endif
