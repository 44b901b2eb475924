/* fuzz_parquet_read.c - libFuzzer target for the Parquet reader (parquet_read.h).
 *
 * The input is a whole file, read through a memory source that aborts when the reader asks
 * for bytes outside the file (parquet_read.h promises it never does). Opened with small
 * limits, then every leaf is streamed to its end or first error, twice: all row groups, and
 * each row group alone, which must give the same entry count and status. Every error must
 * carry a message naming an offset. At most MAX_ENTRIES entries per leaf are read (a page
 * may legitimately claim 2^31 nulls in a few bytes). ASan/UBSan catch the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet_read.h"

#define MAX_ENTRIES 200000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static int mem_read(void *ctx, uint64_t off, size_t len, void *buf) {
    const src *s = ctx;
    if (off > s->n || len > s->n - off)
        abort(); /* a read outside the file */
    memcpy(buf, s->p + off, len);
    return 0;
}

static void need_msg(const char *m) {
    if (!m || strncmp(m, "at offset ", 10) != 0)
        abort();
}

/* Streams leaf li of row group rg (-1: all); returns the status, counts the entries. */
static int drain(pqr_file *f, int li, int rg, long *n) {
    pqr_cursor *c;
    if (pqr_cursor_open(&c, f, li, rg) != PQR_OK)
        abort(); /* valid leaf and row group: only PQR_E_NOMEM could fail */
    const pqr_leaf *l = pqr_leaf_at(f, li);
    pqr_value v;
    int rc;
    while (*n < MAX_ENTRIES && (rc = pqr_next(c, &v)) == 1) {
        (*n)++;
        if (v.def < 0 || v.def > l->max_def || v.rep < 0 || v.rep > l->max_rep ||
            v.present != (v.def == l->max_def))
            abort();
        if (v.present && v.len) /* touch the bytes: must be inside the page or dictionary */
            (void)((volatile const uint8_t *)v.p)[v.len - 1];
    }
    if (*n >= MAX_ENTRIES)
        rc = 1;
    else if (rc < 0)
        need_msg(pqr_cursor_errmsg(c));
    pqr_cursor_close(c);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    src s = {data, size};
    pqr_source ps = {mem_read, &s, size};
    pqr_options o = {1u << 20, 4u << 20};
    pqr_file *f;
    char msg[320];
    int rc = pqr_open(&f, &ps, &o, msg, sizeof msg);
    if (rc) {
        if (f)
            abort();
        need_msg(msg);
        return 0;
    }
    for (int li = 0; li < pqr_num_leaves(f) && li < 64; li++) {
        const pqr_leaf *l = pqr_leaf_at(f, li);
        if (!l->path || !l->name || l->max_def < l->max_rep)
            abort();
        long all = 0;
        int rc_all = drain(f, li, -1, &all);
        if (all >= MAX_ENTRIES || pqr_num_row_groups(f) > 16)
            continue;
        /* row group by row group: the same entries until the first failing group */
        long sum = 0;
        int rc_rg = 0;
        for (int rg = 0; rg < pqr_num_row_groups(f) && rc_rg >= 0; rg++)
            rc_rg = drain(f, li, rg, &sum);
        if (rc_rg > 0)
            rc_rg = 0;
        if (sum != all || rc_rg != rc_all)
            abort();
    }
    (void)pqr_kv_get(f, "geo");
    pqr_close(f);
    return 0;
}
