/* fuzz_tiff.c - libFuzzer target for the TIFF header parser (src/tiff).
 *
 * The input is the object's bytes. Each input is parsed three ways and the results are
 * checked against each other, because the parser promises the same header whatever the
 * fetch pattern:
 *   A. everything fed at once, size known (what a local file does);
 *   B. the store protocol: a small prefetch from offset 0, then exactly the ranges of
 *      tiff_parser_needs(), size unknown until the first round (as before a Content-Range);
 *   C. B's fetch pattern under tight limits, to exercise every cap path.
 * A and B must agree on the return code and, on success, on the whole JSON line (every IFD
 * record, SubIFDs, the ghost header and the COG verdict included). Every error
 * must carry a code name and a non-empty message. The JSON rendering runs on every header.
 */
#include "tiff.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounded like a real store: a parser that keeps asking is a bug, not a slow input. */
#define MAX_ROUNDS 10000

static void check_error(int rc, const tiff_parser *p) {
    if (rc >= 0)
        return;
    const char *name = tiff_err_name(rc), *msg = tiff_parser_errmsg(p);
    if (!name || strcmp(name, "unknown") == 0 || !msg || !msg[0] || !tiff_strerror(rc)) {
        fprintf(stderr, "error %d without code name or message\n", rc);
        abort();
    }
}

static int run_store(tiff_parser *p, const uint8_t *data, size_t size, size_t prefetch) {
    tiff_parser_reset(p, TIFF_SIZE_UNKNOWN);
    size_t first = size < prefetch ? size : prefetch;
    if (tiff_parser_feed(p, 0, data, first) != TIFF_OK)
        abort();
    /* A store learns the size from the first response's Content-Range. */
    tiff_parser_set_size(p, size);
    int rc;
    unsigned rounds = 0;
    while ((rc = tiff_parser_run(p)) == TIFF_NEED) {
        const tiff_range *r;
        size_t k = tiff_parser_needs(p, &r);
        if (k == 0 || ++rounds > MAX_ROUNDS) {
            fprintf(stderr, "NEED with %zu ranges after %u rounds\n", k, rounds);
            abort();
        }
        for (size_t j = 0; j < k; j++) {
            if (r[j].length == 0 || r[j].offset >= size || r[j].length > size - r[j].offset) {
                fprintf(stderr, "need [%llu,+%llu) outside the object of %zu bytes\n",
                        (unsigned long long)r[j].offset, (unsigned long long)r[j].length, size);
                abort();
            }
            if (j > 0 && r[j].offset <= r[j - 1].offset + r[j - 1].length) {
                fprintf(stderr, "needs not sorted, disjoint and merged\n");
                abort();
            }
        }
        for (size_t j = 0; j < k; j++) {
            int frc = tiff_parser_feed(p, r[j].offset, data + r[j].offset, (size_t)r[j].length);
            if (frc != TIFF_OK)
                return frc; /* E_LIMIT on too many segments is allowed */
        }
    }
    return rc;
}

static char *jbuf;
static size_t jcap;

static size_t render(const tiff_parser *p, char **copy) {
    const tiff_header *h = tiff_parser_header(p);
    if (!h)
        abort();
    size_t len = 0;
    if (tiff_header_to_json(h, &jbuf, &len, &jcap) != TIFF_OK)
        abort();
    if (len == 0 || jbuf[0] != '{' || jbuf[len - 1] != '}')
        abort();
    if (copy) {
        *copy = malloc(len);
        if (!*copy)
            abort();
        memcpy(*copy, jbuf, len);
    }
    return len;
}

/* JSON lines equal: nothing in the header may depend on how the bytes were fetched. */
static bool same_json(const char *a, size_t la, const char *b, size_t lb) {
    return la == lb && memcmp(a, b, la) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static tiff_parser *full, *store, *tight;
    if (!full) {
        static const tiff_limits tl = {1u << 16, 1u << 14, 8u, 64u, 4u, 512u};
        full = tiff_parser_new(NULL);
        store = tiff_parser_new(NULL);
        tight = tiff_parser_new(&tl);
        if (!full || !store || !tight)
            abort();
    }
    /* A: whole object at once */
    tiff_parser_reset(full, size);
    int ra = size ? tiff_parser_feed(full, 0, data, size) : TIFF_OK;
    if (ra == TIFF_OK)
        ra = tiff_parser_run(full);
    if (ra == TIFF_NEED) {
        fprintf(stderr, "NEED although the whole object was fed\n");
        abort();
    }
    check_error(ra, full);
    char *ja = NULL;
    size_t la = ra == TIFF_OK ? render(full, &ja) : 0;

    /* B: store protocol, prefetch varied by input size so both small and large
     * prefetches are covered */
    size_t prefetch = (size & 1) ? 16 + size % 997 : 16384;
    int rb = run_store(store, data, size, prefetch);
    check_error(rb, store);
    if (rb == TIFF_OK) {
        size_t lb = render(store, NULL);
        if (ra == TIFF_OK && !same_json(ja, la, jbuf, lb)) {
            fprintf(stderr, "whole-object and store results differ:\n%.*s\n%.*s\n", (int)la, ja,
                    (int)lb, jbuf);
            abort();
        }
    }
    if ((ra == TIFF_OK) != (rb == TIFF_OK)) {
        fprintf(stderr, "whole-object rc %d (%s), store rc %d (%s)\n", ra, tiff_parser_errmsg(full),
                rb, tiff_parser_errmsg(store));
        abort();
    }
    free(ja);

    /* C: tight limits */
    int rc = run_store(tight, data, size, 64);
    check_error(rc, tight);
    if (rc == TIFF_OK)
        render(tight, NULL);
    return 0;
}
