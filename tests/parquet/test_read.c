/* test_read.c - the reader (parquet_read.h) against the writer: every column kind the writer
 * produces (required / optional leaves of each type, timestamps, binary, lists with null
 * elements, lists of strings and booleans, maps, structs), with dictionary, PLAIN fall-back
 * and several pages and row groups, in each codec. While writing, the test records the
 * levels and values each leaf must read back (the Dremel encoding, by hand), then reads
 * every leaf with a cursor and compares. Then the error paths: truncated and corrupted
 * files must fail cleanly (ASan in the sanitizer build checks "never out of bounds").
 *
 *   pq_test_read [DIR]   with DIR: also writes DIR/rt_<codec>.parquet for the DuckDB check
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet.h"
#include "parquet_read.h"
#include "td_test.h"

/* ---- expected level entries per leaf */
typedef struct ent {
    int rep, def;
    bool present;
    int64_t i;
    double d;
    size_t off, len; /* bytes in the arena */
} ent;
typedef struct exp_col {
    const char *path;
    int max_def, max_rep;
    ent *e;
    size_t n, cap;
} exp_col;

static char *arena;
static size_t arena_len, arena_cap;

static size_t arena_put(const void *p, size_t n) {
    if (arena_len + n > arena_cap) {
        arena_cap = (arena_len + n) * 2 + 1024;
        arena = realloc(arena, arena_cap);
        if (!arena)
            abort();
    }
    memcpy(arena + arena_len, p, n);
    arena_len += n;
    return arena_len - n;
}

static void push(exp_col *c, int rep, int def) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->e = realloc(c->e, c->cap * sizeof *c->e);
        if (!c->e)
            abort();
    }
    c->e[c->n++] = (ent){rep, def, def == c->max_def, 0, 0, 0, 0};
}
static void push_i(exp_col *c, int rep, int64_t v) {
    push(c, rep, c->max_def);
    c->e[c->n - 1].i = v;
}
static void push_d(exp_col *c, int rep, double v) {
    push(c, rep, c->max_def);
    c->e[c->n - 1].d = v;
}
static void push_b(exp_col *c, int rep, const void *p, size_t n) {
    push(c, rep, c->max_def);
    c->e[c->n - 1].off = arena_put(p, n);
    c->e[c->n - 1].len = n;
}

static uint64_t rs = 42;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }

/* ---- in-memory sink / source */
typedef struct mem {
    uint8_t *p;
    size_t len, cap;
    int reads;
} mem;
static int mem_write(void *ctx, const void *p, size_t n) {
    mem *m = ctx;
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->p = realloc(m->p, m->cap);
        if (!m->p)
            return -1;
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
    return 0;
}
static int mem_read(void *ctx, uint64_t off, size_t n, void *buf) {
    mem *m = ctx;
    m->reads++;
    if (off > m->len || n > m->len - off)
        return -1; /* the reader promised never to ask */
    memcpy(buf, m->p + off, n);
    return 0;
}

enum {
    C_ID,
    C_S,
    C_U,
    C_B,
    C_I32,
    C_DBL,
    C_TS,
    C_BIN,
    C_LI,
    C_LS,
    C_LB,
    C_LD,
    C_MK,
    C_MV,
    C_STX,
    C_STY,
    NCOL
};

#define ROWS 20000

static void write_file(mem *out, pq_codec codec, exp_col *ec) {
    static const struct {
        const char *path;
        int def, rep;
    } cols[NCOL] = {
        {"id", 0, 0},
        {"s", 1, 0},
        {"u", 0, 0},
        {"b", 1, 0},
        {"i32", 1, 0},
        {"dbl", 0, 0},
        {"ts", 1, 0},
        {"bin", 1, 0},
        {"li.list.element", 3, 1},
        {"ls.list.element", 1, 1},
        {"lb.list.element", 3, 1},
        {"ld.list.element", 2, 1},
        {"m.key_value.key", 2, 1},
        {"m.key_value.value", 3, 1},
        {"st.x", 2, 0},
        {"st.y", 1, 0},
    };
    for (int i = 0; i < NCOL; i++)
        ec[i] = (exp_col){cols[i].path, cols[i].def, cols[i].rep, NULL, 0, 0};
    pq_schema *s = pq_schema_new();
    int id = pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false);
    int sc = pq_schema_add_leaf(s, PQ_ROOT, "s", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    int u = pq_schema_add_leaf(s, PQ_ROOT, "u", PQ_BYTE_ARRAY, PQ_LT_STRING, false);
    int b = pq_schema_add_leaf(s, PQ_ROOT, "b", PQ_BOOLEAN, PQ_LT_NONE, true);
    int i32 = pq_schema_add_leaf(s, PQ_ROOT, "i32", PQ_INT32, PQ_LT_NONE, true);
    int dbl = pq_schema_add_leaf(s, PQ_ROOT, "dbl", PQ_DOUBLE, PQ_LT_NONE, false);
    int ts = pq_schema_add_leaf(s, PQ_ROOT, "ts", PQ_INT64, PQ_LT_TIMESTAMP_MILLIS, true);
    int bin = pq_schema_add_leaf(s, PQ_ROOT, "bin", PQ_BYTE_ARRAY, PQ_LT_NONE, true);
    int li = pq_schema_add_list(s, PQ_ROOT, "li", PQ_INT64, PQ_LT_NONE, true, true);
    int ls = pq_schema_add_list(s, PQ_ROOT, "ls", PQ_BYTE_ARRAY, PQ_LT_STRING, false, false);
    int lb = pq_schema_add_list(s, PQ_ROOT, "lb", PQ_BOOLEAN, PQ_LT_NONE, true, true);
    int ld = pq_schema_add_list(s, PQ_ROOT, "ld", PQ_DOUBLE, PQ_LT_NONE, true, false);
    int m = pq_schema_add_map(s, PQ_ROOT, "m", true);
    int st = pq_schema_add_struct(s, PQ_ROOT, "st", true);
    int stx = pq_schema_add_leaf(s, st, "x", PQ_INT32, PQ_LT_NONE, true);
    int sty = pq_schema_add_leaf(s, st, "y", PQ_BYTE_ARRAY, PQ_LT_STRING, false);
    CHECK(sty > 0);
    pq_options o = PQ_OPTIONS_INIT;
    o.codec = codec;
    o.row_group_rows = 7000;
    o.dict_max_bytes = 4096; /* "m" values fall back to PLAIN inside a chunk */
    pq_kv kv[] = {{"k1", "v1"}, {"nokey", NULL}};
    o.kv = kv;
    o.n_kv = 2;
    o.created_by = "test_read";
    pq_sink sink = {mem_write, out};
    pq_writer *w;
    CHECK(pq_writer_open(&w, s, &sink, &o) == PQ_OK);
    static const char *words[] = {"alpha", "beta", "", "δέλτα", "epsilon-long-word"};
    char tmp[256];
    for (int r = 0; r < ROWS; r++) {
        int64_t idv = (int64_t)rnd();
        pq_set_i64(w, id, idv);
        push_i(&ec[C_ID], 0, idv);
        if (rn(5) == 0) {
            push(&ec[C_S], 0, 0);
        } else {
            const char *wd = words[rn(5)];
            pq_set_bytes(w, sc, wd, strlen(wd));
            push_b(&ec[C_S], 0, wd, strlen(wd));
        }
        int n = snprintf(tmp, sizeof tmp, "unique-%d-%0*d", r, (int)rn(120), r);
        pq_set_bytes(w, u, tmp, (size_t)n);
        push_b(&ec[C_U], 0, tmp, (size_t)n);
        if (rn(3) == 0) {
            push(&ec[C_B], 0, 0);
        } else {
            bool v = rn(2);
            pq_set_bool(w, b, v);
            push_i(&ec[C_B], 0, v);
        }
        if (rn(4) == 0) {
            push(&ec[C_I32], 0, 0);
        } else {
            int32_t v = (int32_t)rnd();
            pq_set_i32(w, i32, v);
            push_i(&ec[C_I32], 0, v);
        }
        double dv = r % 97 == 0 ? -0.0 : (double)(int64_t)rnd() / 3.0;
        pq_set_double(w, dbl, dv);
        push_d(&ec[C_DBL], 0, dv);
        if (r % 2) {
            pq_set_i64(w, ts, 1700000000000LL + r);
            push_i(&ec[C_TS], 0, 1700000000000LL + r);
        } else {
            push(&ec[C_TS], 0, 0);
        }
        if (rn(2)) {
            uint8_t raw[8];
            size_t k = rn(9);
            for (size_t q = 0; q < k; q++)
                raw[q] = (uint8_t)rnd(); /* not UTF-8: written as is */
            pq_set_bytes(w, bin, raw, k);
            push_b(&ec[C_BIN], 0, raw, k);
        } else {
            push(&ec[C_BIN], 0, 0);
        }
        /* li: optional list of optional INT64 */
        unsigned kind = rn(4);
        if (kind == 0) {
            push(&ec[C_LI], 0, 0);
        } else if (kind == 1) {
            pq_list_begin(w, li);
            pq_list_end(w, li);
            push(&ec[C_LI], 0, 1);
        } else {
            pq_list_begin(w, li);
            unsigned k = 1 + rn(6);
            for (unsigned q = 0; q < k; q++) {
                if (rn(5) == 0) {
                    pq_list_push_null(w, li);
                    push(&ec[C_LI], q ? 1 : 0, 2);
                } else {
                    int64_t v = (int64_t)rn(1000) - 500;
                    pq_list_push_i64(w, li, v);
                    push_i(&ec[C_LI], q ? 1 : 0, v);
                }
            }
            pq_list_end(w, li);
        }
        /* ls: required list of required strings */
        pq_list_begin(w, ls);
        unsigned k = rn(4);
        if (!k)
            push(&ec[C_LS], 0, 0);
        for (unsigned q = 0; q < k; q++) {
            const char *wd = words[rn(5)];
            pq_list_push_bytes(w, ls, wd, strlen(wd));
            push_b(&ec[C_LS], q ? 1 : 0, wd, strlen(wd));
        }
        pq_list_end(w, ls);
        /* lb: optional list of optional booleans */
        if (rn(3) == 0) {
            push(&ec[C_LB], 0, 0);
        } else {
            pq_list_begin(w, lb);
            k = rn(3);
            if (!k)
                push(&ec[C_LB], 0, 1);
            for (unsigned q = 0; q < k; q++) {
                if (rn(4) == 0) {
                    pq_list_push_null(w, lb);
                    push(&ec[C_LB], q ? 1 : 0, 2);
                } else {
                    bool v = rn(2);
                    pq_list_push_bool(w, lb, v);
                    push_i(&ec[C_LB], q ? 1 : 0, v);
                }
            }
            pq_list_end(w, lb);
        }
        /* ld: optional list of required doubles, in one call */
        if (rn(4) == 0) {
            push(&ec[C_LD], 0, 0);
        } else {
            double v[5];
            k = rn(5);
            for (unsigned q = 0; q < k; q++) {
                v[q] = (double)rn(100000) / 7.0;
                push_d(&ec[C_LD], q ? 1 : 0, v[q]);
            }
            if (!k)
                push(&ec[C_LD], 0, 1);
            pq_set_list_double(w, ld, v, k);
        }
        /* m: optional map, values unique enough to outgrow the dictionary */
        if (rn(4) == 0) {
            push(&ec[C_MK], 0, 0);
            push(&ec[C_MV], 0, 0);
        } else {
            pq_map_begin(w, m);
            k = rn(3);
            if (!k) {
                push(&ec[C_MK], 0, 1);
                push(&ec[C_MV], 0, 1);
            }
            for (unsigned q = 0; q < k; q++) {
                char key[16], val[32];
                int kl = snprintf(key, sizeof key, "k%u", q);
                int vl = snprintf(val, sizeof val, "v%d-%u", r, q);
                bool nullv = rn(5) == 0;
                pq_map_put(w, m, key, (size_t)kl, nullv ? NULL : val, (size_t)vl);
                push_b(&ec[C_MK], q ? 1 : 0, key, (size_t)kl);
                if (nullv)
                    push(&ec[C_MV], q ? 1 : 0, 2);
                else
                    push_b(&ec[C_MV], q ? 1 : 0, val, (size_t)vl);
            }
            pq_map_end(w, m);
        }
        /* st: optional struct { optional x, required y } */
        if (rn(3) == 0) {
            pq_set_null(w, st);
            push(&ec[C_STX], 0, 0);
            push(&ec[C_STY], 0, 0);
        } else {
            if (rn(2)) {
                pq_set_i32(w, stx, r);
                push_i(&ec[C_STX], 0, r);
            } else {
                push(&ec[C_STX], 0, 1);
            }
            const char *wd = words[rn(5)];
            pq_set_bytes(w, sty, wd, strlen(wd));
            push_b(&ec[C_STY], 0, wd, strlen(wd));
        }
        int rc = pq_end_row(w);
        if (rc) {
            CHECK(rc == PQ_OK, "row %d: %s", r, pq_writer_errmsg(w));
            break;
        }
    }
    CHECK(pq_writer_close(w) == PQ_OK);
    pq_schema_free(s);
}

static void check_values(pqr_file *f, exp_col *ec) {
    for (int ci = 0; ci < NCOL; ci++) {
        exp_col *x = &ec[ci];
        td_test_context = x->path;
        int leaf = pqr_find_leaf(f, x->path);
        CHECK(leaf >= 0);
        if (leaf < 0)
            continue;
        const pqr_leaf *l = pqr_leaf_at(f, leaf);
        CHECK(l->max_def == x->max_def && l->max_rep == x->max_rep, "levels %d/%d", l->max_def,
              l->max_rep);
        pqr_cursor *c;
        CHECK(pqr_cursor_open(&c, f, leaf, -1) == PQR_OK);
        pqr_value v;
        size_t n = 0;
        int rc, bad = 0;
        uint64_t rows = 0;
        while ((rc = pqr_next(c, &v)) == 1) {
            if (n >= x->n) {
                n++;
                continue;
            }
            const ent *e = &x->e[n++];
            bool ok = v.rep == e->rep && v.def == e->def && v.present == e->present;
            if (ok && e->present) {
                switch (l->physical) {
                case PQR_BOOLEAN:
                case PQR_INT32:
                case PQR_INT64:
                    ok = v.i == e->i;
                    break;
                case PQR_DOUBLE:
                    ok = memcmp(&v.d, &e->d, 8) == 0;
                    break;
                default:
                    ok = v.len == e->len && memcmp(v.p, arena + e->off, e->len) == 0;
                }
            }
            if (v.rep == 0)
                rows++;
            if (!ok && bad++ < 3)
                CHECK(ok, "entry %zu: rep %d def %d (want %d %d)", n - 1, v.rep, v.def, e->rep,
                      e->def);
        }
        CHECK(rc == 0, "%s", pqr_cursor_errmsg(c));
        CHECK(n == x->n, "%zu entries, want %zu", n, x->n);
        CHECK(rows == ROWS && v.row == ROWS - 1, "rows %" PRIu64, rows);
        pqr_cursor_close(c);
    }
    td_test_context = "";
}

/* Reads everything, counting entries; returns the first error (or 0). */
static int read_all(const mem *m, char *msg, size_t cap) {
    pqr_source src = {mem_read, (void *)m, m->len};
    pqr_file *f;
    int rc = pqr_open(&f, &src, NULL, msg, cap);
    if (rc)
        return rc;
    for (int i = 0; i < pqr_num_leaves(f) && !rc; i++) {
        pqr_cursor *c;
        if (pqr_cursor_open(&c, f, i, -1))
            break;
        pqr_value v;
        while ((rc = pqr_next(c, &v)) == 1)
            ;
        if (rc < 0)
            snprintf(msg, cap, "%s", pqr_cursor_errmsg(c));
        pqr_cursor_close(c);
    }
    pqr_close(f);
    return rc;
}

static void check_errors(const mem *good) {
    char msg[320];
    mem m = {malloc(good->len), good->len, good->len, 0};
    /* truncations: the footer is gone or points outside */
    size_t cuts[] = {0, 3, 11, good->len / 2, good->len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        memcpy(m.p, good->p, cuts[i]);
        m.len = cuts[i];
        int rc = read_all(&m, msg, sizeof msg);
        CHECK(rc == PQR_E_FORMAT, "cut %zu: %d %s", cuts[i], rc, msg);
        CHECK(strstr(msg, "at offset ") == msg, "%s", msg);
    }
    /* corruptions: random bytes flipped; any outcome but a crash or a hang is fine, and
     * the footer flips must mostly be caught */
    m.len = good->len;
    int fails = 0;
    for (int i = 0; i < 300; i++) {
        memcpy(m.p, good->p, good->len);
        int k = 1 + (int)rn(4);
        for (int q = 0; q < k; q++) {
            size_t at = i % 2 ? good->len - 8 - rn(2000) : rn((unsigned)good->len);
            m.p[at] ^= (uint8_t)(1u << rn(8));
        }
        if (read_all(&m, msg, sizeof msg) < 0)
            fails++;
    }
    CHECK(fails > 50, "%d of 300 corrupted files failed", fails);
    /* a footer length over the limit */
    {
        pqr_source src = {mem_read, (void *)good, good->len};
        pqr_options o = PQR_OPTIONS_INIT;
        o.max_footer_bytes = 100;
        pqr_file *f;
        CHECK(pqr_open(&f, &src, &o, msg, sizeof msg) == PQR_E_LIMIT, "%s", msg);
        CHECK(f == NULL);
        o = (pqr_options)PQR_OPTIONS_INIT;
        o.max_page_bytes = 1000;
        CHECK(pqr_open(&f, &src, &o, msg, sizeof msg) == PQR_OK);
        pqr_cursor *c;
        pqr_value v;
        int rc;
        CHECK(pqr_cursor_open(&c, f, pqr_find_leaf(f, "u"), -1) == PQR_OK);
        while ((rc = pqr_next(c, &v)) == 1)
            ;
        CHECK(rc == PQR_E_LIMIT, "%d %s", rc, pqr_cursor_errmsg(c));
        pqr_cursor_close(c);
        pqr_close(f);
    }
    free(m.p);
}

int main(int argc, char **argv) {
    static const char *names[] = {"none", "snappy", "zstd"};
    for (int codec = 0; codec < 3; codec++) {
        exp_col ec[NCOL];
        mem m = {0};
        arena_len = 0;
        write_file(&m, (pq_codec)codec, ec);
        pqr_source src = {mem_read, &m, m.len};
        pqr_file *f;
        char msg[320];
        int rc = pqr_open(&f, &src, NULL, msg, sizeof msg);
        CHECK(rc == PQR_OK, "%s: %s", names[codec], msg);
        if (!rc) {
            CHECK(pqr_num_leaves(f) == NCOL);
            CHECK(pqr_num_rows(f) == ROWS);
            CHECK(pqr_num_row_groups(f) == 3);
            CHECK(pqr_row_group_rows(f, 0) == 7000 && pqr_row_group_rows(f, 2) == 6000);
            CHECK(strcmp(pqr_kv_get(f, "k1"), "v1") == 0);
            size_t nkv;
            const pq_kv *kv = pqr_kv(f, &nkv);
            CHECK(nkv == 2 && strcmp(kv[1].key, "nokey") == 0 && kv[1].value == NULL);
            CHECK(strcmp(pqr_created_by(f), "test_read") == 0);
            const pqr_leaf *l = pqr_leaf_at(f, pqr_find_leaf(f, "ts"));
            CHECK(l && l->physical == PQR_INT64 && l->converted == 9 && l->logical == 8);
            l = pqr_leaf_at(f, pqr_find_leaf(f, "s"));
            CHECK(l && l->physical == PQR_BYTE_ARRAY && l->converted == 0 && l->logical == 1 &&
                  l->optional);
            check_values(f, ec);
            /* one row group alone: rows count from it */
            pqr_cursor *c;
            CHECK(pqr_cursor_open(&c, f, 0, 1) == PQR_OK);
            pqr_value v;
            size_t n = 0;
            while (pqr_next(c, &v) == 1) {
                if (v.i != ec[C_ID].e[7000 + n].i || v.row != n)
                    break;
                n++;
            }
            CHECK(n == 7000, "row group 1: %zu", n);
            pqr_cursor_close(c);
            CHECK(pqr_cursor_open(&c, f, 0, 3) == PQR_E_USAGE && !c);
            CHECK(pqr_cursor_open(&c, f, NCOL, -1) == PQR_E_USAGE);
            pqr_close(f);
        }
        if (codec == 2)
            check_errors(&m);
        if (argc > 1) {
            char path[4096];
            snprintf(path, sizeof path, "%s/rt_%s.parquet", argv[1], names[codec]);
            FILE *fp = fopen(path, "wb");
            CHECK(fp && fwrite(m.p, 1, m.len, fp) == m.len);
            if (fp)
                fclose(fp);
        }
        for (int i = 0; i < NCOL; i++)
            free(ec[i].e);
        free(m.p);
    }
    free(arena);
    return td_test_report(argv[0]);
}
