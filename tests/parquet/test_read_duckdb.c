/* test_read_duckdb.c - the reader on files another writer made: duckdb_write.mjs writes one
 * table with DuckDB (flat columns of each type, a LIST with null elements, a STRUCT, a MAP;
 * values are formulas of the row number i) in zstd, snappy and uncompressed, and this test
 * reads every leaf back and compares each level entry with the formula. What the reader
 * does not decode (DELTA_* / BYTE_STREAM_SPLIT columns of DuckDB's PARQUET_VERSION v2,
 * gzip) must fail with PQR_E_UNSUPPORTED and a message naming the feature.
 *
 *   pq_test_read_duckdb DIR ROWS
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet_read.h"
#include "td_test.h"

typedef struct ent {
    int rep, def; /* def -1: present (max_def) */
    int kind;     /* 0 int, 1 double, 2 bytes */
    int64_t i;
    double d;
    char s[40];
} ent;

static int fread_at(void *ctx, uint64_t off, size_t n, void *buf) {
    FILE *f = ctx;
    if (fseeko(f, (off_t)off, SEEK_SET))
        return -1;
    return fread(buf, 1, n, f) == n ? 0 : -1;
}

static ent I(int rep, int def, int64_t v) { return (ent){rep, def, 0, v, 0, ""}; }
static ent D(double v) { return (ent){0, -1, 1, 0, v, ""}; }
static ent S(int rep, int def, const char *fmt, int64_t v) {
    ent e = {rep, def, 2, 0, 0, ""};
    snprintf(e.s, sizeof e.s, fmt, v);
    return e;
}
static ent N(int rep, int def) { return (ent){rep, def, 0, 0, 0, ""}; }

/* The entries of leaf `path` in row i (as duckdb_write.mjs's formulas give them). */
static int expect(const char *path, int64_t i, ent *e) {
    if (!strcmp(path, "i32"))
        return e[0] = I(0, -1, i), 1;
    if (!strcmp(path, "i64"))
        return e[0] = I(0, -1, i * 1000003), 1;
    if (!strcmp(path, "dbl"))
        return e[0] = D((double)i / 7.0), 1;
    if (!strcmp(path, "flt"))
        return e[0] = D((double)(float)((double)i * 0.5)), 1;
    if (!strcmp(path, "b"))
        return e[0] = I(0, -1, i % 3 == 0), 1;
    if (!strcmp(path, "oi"))
        return e[0] = i % 5 == 0 ? N(0, 0) : I(0, -1, i), 1;
    if (!strcmp(path, "s"))
        return e[0] = S(0, -1, "s%" PRId64, i % 100), 1;
    if (!strcmp(path, "u"))
        return e[0] = S(0, -1, "unique-%" PRId64, i), 1;
    if (!strcmp(path, "ts"))
        return e[0] = I(0, -1, 1577836800000000LL + i * 1000000), 1;
    if (!strncmp(path, "l.", 2)) {
        if (i % 7 == 0)
            return e[0] = N(0, 0), 1;
        if (i % 4 == 0)
            return e[0] = N(0, 1), 1;
        e[0] = I(0, -1, i);
        e[1] = N(1, 2);
        e[2] = I(1, -1, i + 1);
        return 3;
    }
    if (!strcmp(path, "st.a"))
        return e[0] = i % 9 == 0 ? N(0, 0) : I(0, -1, i), 1;
    if (!strcmp(path, "st.b"))
        return e[0] = i % 9 == 0 ? N(0, 0) : S(0, -1, "x%" PRId64, i), 1;
    if (!strncmp(path, "m.", 2) && strlen(path) > 4 && !strcmp(path + strlen(path) - 4, ".key"))
        return e[0] = i % 6 == 0 ? N(0, 0) : S(0, -1, "k%" PRId64, i % 3), 1;
    if (!strncmp(path, "m.", 2))
        return e[0] = i % 6 == 0 ? N(0, 0) : I(0, -1, i), 1;
    return -1;
}

/* Every leaf against the formulas; with `refusable`, a leaf may instead be refused with
 * PQR_E_UNSUPPORTED naming its encoding. Returns the number refused. */
static int check_file(const char *path, int64_t rows, bool refusable) {
    int refused = 0;
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL, "%s", path);
    if (!fp)
        return 0;
    fseeko(fp, 0, SEEK_END);
    pqr_source src = {fread_at, fp, (uint64_t)ftello(fp)};
    pqr_file *f;
    char msg[320];
    int rc = pqr_open(&f, &src, NULL, msg, sizeof msg);
    CHECK(rc == PQR_OK, "%s: %s", path, msg);
    if (rc) {
        fclose(fp);
        return 0;
    }
    CHECK(pqr_num_rows(f) == rows);
    CHECK(pqr_num_row_groups(f) >= 2, "%d row groups", pqr_num_row_groups(f));
    CHECK(pqr_num_leaves(f) == 14, "%d leaves", pqr_num_leaves(f));
    for (int li = 0; li < pqr_num_leaves(f); li++) {
        const pqr_leaf *l = pqr_leaf_at(f, li);
        td_test_context = l->path;
        ent e[3];
        if (expect(l->path, 0, e) < 0) {
            CHECK(0, "unexpected leaf");
            continue;
        }
        pqr_cursor *c;
        CHECK(pqr_cursor_open(&c, f, li, -1) == PQR_OK);
        pqr_value v;
        int64_t row = 0;
        int k = 0, n = expect(l->path, 0, e), bad = 0;
        while ((rc = pqr_next(c, &v)) == 1) {
            if (k == n) {
                row++;
                k = 0;
                n = expect(l->path, row, e);
            }
            const ent *x = &e[k++];
            int def = x->def < 0 ? l->max_def : x->def;
            bool ok = row < rows && v.rep == x->rep && v.def == def && v.row == (uint64_t)row;
            if (ok && v.present) {
                if (x->kind == 0)
                    ok = v.i == x->i;
                else if (x->kind == 1)
                    ok = v.d == x->d;
                else
                    ok = v.len == strlen(x->s) && memcmp(v.p, x->s, v.len) == 0;
            }
            if (!ok && bad++ < 3)
                CHECK(ok,
                      "%s row %" PRId64 ": rep %d def %d i %" PRId64 " (want %d %d %" PRId64 " %s)",
                      path, row, v.rep, v.def, v.i, x->rep, def, x->i, x->s);
        }
        if (refusable && rc == PQR_E_UNSUPPORTED && strstr(pqr_cursor_errmsg(c), "encoded")) {
            if (!refused++)
                printf("%s: refused as expected: %s\n", path, pqr_cursor_errmsg(c));
            pqr_cursor_close(c);
            continue;
        }
        CHECK(rc == 0, "%s", pqr_cursor_errmsg(c));
        CHECK(row == rows - 1 && k == n, "%s: ended at row %" PRId64, path, row);
        pqr_cursor_close(c);
    }
    td_test_context = "";
    pqr_close(f);
    fclose(fp);
    return refused;
}

/* A file that opens but whose columns must be refused with PQR_E_UNSUPPORTED. */
static void check_refused(const char *path, const char *why) {
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL, "%s", path);
    if (!fp)
        return;
    fseeko(fp, 0, SEEK_END);
    pqr_source src = {fread_at, fp, (uint64_t)ftello(fp)};
    pqr_file *f;
    char msg[320];
    int rc = pqr_open(&f, &src, NULL, msg, sizeof msg);
    if (rc == PQR_OK) {
        int refused = 0;
        for (int li = 0; li < pqr_num_leaves(f); li++) {
            pqr_cursor *c;
            pqr_value v;
            pqr_cursor_open(&c, f, li, -1);
            while ((rc = pqr_next(c, &v)) == 1)
                ;
            if (rc == PQR_E_UNSUPPORTED && strstr(pqr_cursor_errmsg(c), why)) {
                if (!refused++)
                    printf("%s: refused as expected: %s\n", path, pqr_cursor_errmsg(c));
            } else {
                CHECK(rc == PQR_E_UNSUPPORTED, "%s: %s", path, pqr_cursor_errmsg(c));
            }
            pqr_cursor_close(c);
        }
        CHECK(refused > 0);
        pqr_close(f);
    } else {
        CHECK(rc == PQR_E_UNSUPPORTED && strstr(msg, why), "%s: %s", path, msg);
        printf("%s: refused as expected: %s\n", path, msg);
    }
    fclose(fp);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR ROWS\n", argv[0]);
        return 2;
    }
    int64_t rows = strtoll(argv[2], NULL, 10);
    char path[4096];
    static const char *ok[] = {"zstd", "snappy", "none"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/duckdb_%s.parquet", argv[1], ok[i]);
        CHECK(check_file(path, rows, false) == 0);
    }
    /* DuckDB's PARQUET_VERSION v2 keeps v1 pages but uses DELTA_* and BYTE_STREAM_SPLIT
     * for most columns: those are refused, the dictionary / PLAIN ones still read */
    snprintf(path, sizeof path, "%s/duckdb_v2.parquet", argv[1]);
    int refused = check_file(path, rows, true);
    CHECK(refused >= 5 && refused < 14, "%d of 14 columns refused", refused);
    snprintf(path, sizeof path, "%s/duckdb_gzip.parquet", argv[1]);
    check_refused(path, "codec 2");
    return td_test_report(argv[0]);
}
