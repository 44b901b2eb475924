/* test_enc.c - the writer's shortcuts give the bytes of the plain path (issue 15):
 *  - pq__put_levels_cached encodes like pq__put_levels, hit or miss (same levels again, the
 *    same bytes at another bit width, a prefix, an empty cache);
 *  - a list of structs given by column (pq_list_struct_col_i64 / _i32) writes the same file,
 *    byte for byte, as the element setters, through dictionary hints, hash misses, the
 *    mostly-unique probe and the dict_max_bytes fall-back, nulls and empty lists;
 *  - a list of structs or a map replayed by pq_again writes what giving its values again
 *    would;
 *  - the RLE / bit-packed hybrid encoder (pq__put_dict_indices, pq__put_levels) gives the
 *    bytes of the encoder as it was before its fast paths, on random runs and literals. */
#include "parquet_internal.h"
#include "td_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }

/* ------------------------------------------------------------------ levels cache */

static void fill_levels(uint8_t *lv, size_t n, int max, int kind) {
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: /* a list's repetition levels: 0 then 1s */
            lv[i] = (uint8_t)(i % 6 ? 1 : 0);
            break;
        case 1: /* one long run */
            lv[i] = (uint8_t)max;
            break;
        default: /* anything up to max */
            lv[i] = (uint8_t)rn((unsigned)max + 1);
        }
    }
}

static bool cache_has(const pq_lvcache *lc, const uint8_t *lv, size_t n, int max) {
    for (int k = 0; k < 2; k++)
        if (n && lc->e[k].max == max && lc->e[k].in.len == n && !memcmp(lc->e[k].in.p, lv, n))
            return true;
    return false;
}

static void test_levels_cache(void) {
    pq_lvcache lc;
    memset(&lc, 0, sizeof lc);
    buf plain = {0}, cached = {0};
    static uint8_t lv[5000], hist[3][5000];
    size_t hist_n[3] = {0, 0, 0};
    int hist_max[3] = {0, 0, 0};
    int hits = 0, hits2 = 0;
    for (int round = 0; round < 600; round++) {
        size_t n;
        int max, from = round < 3 ? -1 : (int)rn(5) - 1; /* -1: new; 0..2: an earlier one */
        if (from == 3) {                                 /* a prefix of the last levels */
            n = hist_n[0] ? hist_n[0] - 1 : 0;
            memcpy(lv, hist[0], n);
            max = hist_max[0];
        } else if (from >= 0) { /* again: a hit (0, 1), or evicted (2); or at another width */
            n = hist_n[from];
            memcpy(lv, hist[from], n);
            max = rn(5) == 0 ? 3 : hist_max[from];
        } else {
            n = rn(3) == 0 ? rn(8) : 1 + rn(5000);
            max = 1 + (int)rn(2);
            fill_levels(lv, n, max, (int)rn(3));
        }
        for (size_t i = 0; i < n; i++)
            if (lv[i] > max)
                max = lv[i];
        bool hit = cache_has(&lc, lv, n, max);
        hits += hit;
        hits2 += hit && from == 1 && lc.e[1].in.len == n && !memcmp(lc.e[1].in.p, lv, n);
        plain.len = cached.len = 0;
        CHECK(buf_put(&plain, "x", 1) == 0 && buf_put(&cached, "x", 1) == 0); /* not at 0 */
        CHECK(pq__put_levels(&plain, lv, n, max) == 0);
        CHECK(pq__put_levels_cached(&lc, &cached, lv, n, max) == 0);
        CHECK(plain.len == cached.len && memcmp(plain.p, cached.p, plain.len) == 0);
        /* the levels just given are the most recent entry (none for n == 0) */
        CHECK(!n || (lc.e[0].max == max && lc.e[0].in.len == n && !memcmp(lc.e[0].in.p, lv, n)));
        if (!hit && n) { /* the history follows the cache: distinct levels */
            memmove(hist[2], hist[1], hist_n[1]);
            memmove(hist[1], hist[0], hist_n[0]);
            memcpy(hist[0], lv, n);
            hist_n[2] = hist_n[1], hist_n[1] = hist_n[0], hist_n[0] = n;
            hist_max[2] = hist_max[1], hist_max[1] = hist_max[0], hist_max[0] = max;
        } else if (hit && n && from == 1) {      /* the second entry became the first */
            memcpy(hist[2], hist[0], hist_n[0]); /* scratch */
            memcpy(hist[0], hist[1], hist_n[1]);
            memcpy(hist[1], hist[2], hist_n[0]);
            size_t tn = hist_n[0];
            int tm = hist_max[0];
            hist_n[0] = hist_n[1], hist_max[0] = hist_max[1];
            hist_n[1] = tn, hist_max[1] = tm;
            hist_n[2] = 0;
        }
    }
    CHECK(hits > 100 && hits2 > 20, "hits %d, of the second entry %d", hits, hits2);
    pq__buf_free(&plain);
    pq__buf_free(&cached);
    for (int k = 0; k < 2; k++) {
        pq__buf_free(&lc.e[k].in);
        pq__buf_free(&lc.e[k].out);
    }
}

/* ------------------------------------------------------------------ hybrid encoder */

/* The encoder as it was at f8560f2 (one run_end call per run, literals bit-packed value by
 * value): the reference the faster encoder must match byte for byte. */
static int ref_varint(buf *b, uint64_t v) {
    while (v >= 0x80) {
        if (buf_put1(b, (uint8_t)(v | 0x80)))
            return -1;
        v >>= 7;
    }
    return buf_put1(b, (uint8_t)v);
}

static int ref_bit_width(uint64_t max) {
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

/* RLE / bit-packed hybrid (parquet Encodings.md). Runs of 8+ equal values become RLE runs;
 * the rest is bit-packed in groups of 8, values borrowed from a following run to complete a
 * group so that only the final group is padded. */
/* End of the run of equal values starting at i < n. */
static size_t ref_run_end_u8(const uint8_t *a, size_t i, size_t n) {
    /* eight levels at a time: levels are mostly long runs (a whole chunk of one definition
     * level for a column that is always set); little-endian, so the lowest differing byte
     * is the first */
    const uint64_t v = 0x0101010101010101ull * a[i];
    size_t j = i + 1;
    for (; j + 8 <= n; j += 8) {
        uint64_t x;
        memcpy(&x, a + j, 8);
        if ((x ^= v) != 0)
            return j + (size_t)__builtin_ctzll(x) / 8;
    }
    while (j < n && a[j] == a[i])
        j++;
    return j;
}

static size_t ref_run_end_u32(const uint32_t *a, size_t i, size_t n) {
    size_t j = i + 1;
    while (j < n && a[j] == a[i])
        j++;
    return j;
}

#define DEFINE_REF_RLE(fname, T, run_end)                                                      \
    static int fname(buf *b, const T *a, size_t n, int bw) {                                   \
        size_t vbytes = ((size_t)bw + 7) / 8;                                                  \
        size_t i = 0, lit0 = 0, nlit = 0;                                                      \
        for (;;) {                                                                             \
            size_t j = i, r = 0;                                                               \
            if (i < n) {                                                                       \
                j = run_end(a, i, n);                                                          \
                r = j - i;                                                                     \
            }                                                                                  \
            if (i < n && r < 8) {                                                              \
                if (!nlit)                                                                     \
                    lit0 = i;                                                                  \
                nlit += r;                                                                     \
                i = j;                                                                         \
                continue;                                                                      \
            }                                                                                  \
            if (nlit) { /* flush literals, completing the group from the run */                \
                size_t need = i < n ? (8 - nlit % 8) % 8 : 0;                                  \
                nlit += need;                                                                  \
                i += need;                                                                     \
                r -= need;                                                                     \
                size_t groups = (nlit + 7) / 8;                                                \
                if (ref_varint(b, groups << 1 | 1) || buf_reserve(b, groups * (size_t)bw + 8)) \
                    return -1;                                                                 \
                size_t k = 0;                                                                  \
                if (bw <= 8) /* whole groups: 8 values in one word, bw bytes of it kept */     \
                    for (; k + 8 <= nlit; k += 8) {                                            \
                        uint64_t w8 = 0;                                                       \
                        for (int q = 0; q < 8; q++)                                            \
                            w8 |= (uint64_t)a[lit0 + k + (size_t)q] << (q * bw);               \
                        memcpy(b->p + b->len, &w8, 8); /* little-endian; 8 bytes reserved */   \
                        b->len += (size_t)bw;                                                  \
                    }                                                                          \
                uint64_t acc = 0;                                                              \
                int nb = 0;                                                                    \
                for (; k < groups * 8; k++) {                                                  \
                    uint64_t v = k < nlit ? (uint64_t)a[lit0 + k] : 0;                         \
                    acc |= v << nb;                                                            \
                    nb += bw;                                                                  \
                    while (nb >= 8) {                                                          \
                        b->p[b->len++] = (uint8_t)acc;                                         \
                        acc >>= 8;                                                             \
                        nb -= 8;                                                               \
                    }                                                                          \
                }                                                                              \
                nlit = 0;                                                                      \
            }                                                                                  \
            if (i >= n)                                                                        \
                break;                                                                         \
            if (r) {                                                                           \
                uint64_t v = (uint64_t)a[i];                                                   \
                if (ref_varint(b, (uint64_t)r << 1) || buf_reserve(b, vbytes))                 \
                    return -1;                                                                 \
                for (size_t k = 0; k < vbytes; k++)                                            \
                    b->p[b->len++] = (uint8_t)(v >> (8 * k));                                  \
            }                                                                                  \
            i = j;                                                                             \
        }                                                                                      \
        return 0;                                                                              \
    }
DEFINE_REF_RLE(ref_rle_u8, uint8_t, ref_run_end_u8)
DEFINE_REF_RLE(ref_rle_u32, uint32_t, ref_run_end_u32)

static int ref_put_levels(buf *b, const uint8_t *lv, size_t n, int max) {
    size_t at = b->len;
    uint32_t z = 0;
    if (buf_put(b, &z, 4) || ref_rle_u8(b, lv, n, ref_bit_width((uint64_t)max)))
        return -1;
    uint32_t len = (uint32_t)(b->len - at - 4);
    memcpy(b->p + at, &len, 4);
    return 0;
}

static int ref_put_dict_indices(buf *b, const uint32_t *idx, size_t n, size_t n_dict) {
    int bw = ref_bit_width(n_dict ? n_dict - 1 : 0);
    if (bw == 0)
        bw = 1;
    if (buf_put1(b, (uint8_t)bw) || ref_rle_u32(b, idx, n, bw))
        return -1;
    return 0;
}

/* Random values below lim: runs of 1..40 equal values and stretches of literals, in random
 * proportions per array; the values drawn from a few (so that literals repeat and runs of
 * 2..7 occur) or from all of [0, lim). */
static void fill_hybrid(uint32_t *v, size_t n, uint64_t lim) {
    unsigned p_run = rn(101), few = 1 + rn(6);
    bool high = rn(2); /* some values near lim too */
    size_t i = 0;
    while (i < n) {
        size_t k = rn(100) < p_run ? 1 + rn(40) : 1;
        uint64_t x = rn(3) ? rnd() % (few < lim ? few : lim) : rnd() % lim;
        if (high && rn(2))
            x = lim - 1 - x;
        for (; k-- && i < n; i++)
            v[i] = (uint32_t)x;
    }
}

/* Both encoders on the same random arrays: dictionary indices at bit widths 1..32 (n_dict
 * between 2^(bw-1) and 2^bw, also 0 and 1) and levels at widths 1..3 (sometimes 0..8),
 * lengths 0..3000, after a random number of bytes already in the buffer. */
static void test_hybrid_same_bytes(void) {
    static uint32_t v[3000];
    static uint8_t lv[3000];
    buf x = {0}, y = {0};
    size_t arrays = 0, values = 0;
    for (int round = 0; round < 120000; round++) {
        size_t n = rn(8) == 0 ? rn(20) : rn(3001);
        int bw = 1 + (int)rn(32);
        uint64_t top = (uint64_t)1 << bw, half = top / 2;
        uint64_t n_dict = bw == 1 ? rn(3) : half + 1 + rnd() % half;
        fill_hybrid(v, n, n_dict > 1 ? n_dict : 1);
        size_t pre = rn(12);
        x.len = y.len = 0;
        for (size_t k = 0; k < pre; k++)
            CHECK(buf_put1(&x, (uint8_t)k) == 0 && buf_put1(&y, (uint8_t)k) == 0);
        CHECK(pq__put_dict_indices(&x, v, n, (size_t)n_dict) == 0);
        CHECK(ref_put_dict_indices(&y, v, n, (size_t)n_dict) == 0);
        CHECK(x.len == y.len && memcmp(x.p, y.p, x.len) == 0,
              "indices: n %zu, n_dict %llu: %zu vs %zu bytes", n, (unsigned long long)n_dict, x.len,
              y.len);
        int max = rn(20) == 0   ? 0 /* bit width 0 */
                  : rn(10) == 0 ? 1 + (int)rn(255)
                                : 1 + (int)rn(7);
        fill_hybrid(v, n, (uint64_t)max + 1);
        for (size_t k = 0; k < n; k++)
            lv[k] = (uint8_t)v[k];
        x.len = y.len = 0;
        for (size_t k = 0; k < pre; k++)
            CHECK(buf_put1(&x, (uint8_t)k) == 0 && buf_put1(&y, (uint8_t)k) == 0);
        CHECK(pq__put_levels(&x, lv, n, max) == 0);
        CHECK(ref_put_levels(&y, lv, n, max) == 0);
        CHECK(x.len == y.len && memcmp(x.p, y.p, x.len) == 0,
              "levels: n %zu, max %d: %zu vs %zu bytes", n, max, x.len, y.len);
        arrays += 2;
        values += 2 * n;
    }
    CHECK(arrays >= 200000 && values > 100000000u, "%zu arrays, %zu values", arrays, values);
    pq__buf_free(&x);
    pq__buf_free(&y);
}

/* ------------------------------------------------------------------ by column = by element */

typedef struct mem {
    uint8_t *p;
    size_t len, cap;
} mem;

static int mem_write(void *ctx, const void *p, size_t n) {
    mem *m = ctx;
    if (m->len + n > m->cap) {
        size_t cap = (m->len + n) * 2;
        uint8_t *q = realloc(m->p, cap);
        if (!q)
            return -1;
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
    return 0;
}

struct el {
    int64_t a; /* INT64_MIN: null */
    int32_t r; /* INT32_MIN: null */
};

/* One file of `rows` rows of {id, ls: LIST<STRUCT<a INT64, r INT32>>}, the list given by
 * column or element by element, from the same seed. */
static void write_file(mem *m, bool by_col, uint64_t seed, size_t rows, size_t dict_max) {
    pq_schema *s = pq_schema_new();
    int e = 0;
    int id = pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false);
    int ls = pq_schema_add_list_of_struct(s, PQ_ROOT, "ls", true, &e);
    int a = pq_schema_add_leaf(s, e, "a", PQ_INT64, PQ_LT_NONE, true);
    int r = pq_schema_add_leaf(s, e, "r", PQ_INT32, PQ_LT_NONE, true);
    REQUIRE(id > 0 && ls > 0 && a > 0 && r > 0);
    pq_options o = PQ_OPTIONS_INIT;
    o.row_group_rows = 700;
    o.dict_max_bytes = dict_max;
    o.created_by = "test_enc";
    pq_sink sink = {mem_write, m};
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, s, &sink, &o) == PQ_OK);
    rng = seed;
    static struct el v[300];
    for (size_t row = 0; row < rows; row++) {
        CHECK(pq_set_i64(w, id, (int64_t)row) == PQ_OK);
        unsigned n = rn(10) == 0 ? 0 : rn(20) == 0 ? 300 : 1 + rn(8);
        int mode = (int)(row / 1500 % 3); /* repeating lists, a small set, mostly unique */
        for (unsigned k = 0; k < n; k++) {
            int64_t x = mode == 0   ? (int64_t)k * 1000
                        : mode == 1 ? (int64_t)rn(40)
                                    : (int64_t)rnd();
            v[k].a = rn(8) == 0 ? INT64_MIN : x;
            v[k].r = rn(8) == 0 ? INT32_MIN : (int32_t)(mode == 2 ? rnd() : k % 3);
        }
        if (rn(12) == 0) {
            CHECK(pq_set_null(w, ls) == PQ_OK);
        } else if (by_col) {
            CHECK(pq_list_struct_cols(w, ls, n) == PQ_OK);
            CHECK(pq_list_struct_col_i64(w, a, &v[0].a, sizeof v[0], INT64_MIN + 1) == PQ_OK);
            CHECK(pq_list_struct_col_i32(w, r, &v[0].r, sizeof v[0], INT32_MIN + 1) == PQ_OK);
            CHECK(pq_list_struct_end(w, ls) == PQ_OK);
        } else {
            CHECK(pq_list_struct_begin(w, ls) == PQ_OK);
            for (unsigned k = 0; k < n; k++) {
                CHECK(pq_list_struct_next(w, ls) == PQ_OK);
                if (v[k].a != INT64_MIN)
                    CHECK(pq_set_i64(w, a, v[k].a) == PQ_OK);
                if (v[k].r != INT32_MIN)
                    CHECK(pq_set_i32(w, r, v[k].r) == PQ_OK);
            }
            CHECK(pq_list_struct_end(w, ls) == PQ_OK);
        }
        CHECK(pq_end_row(w) == PQ_OK);
    }
    CHECK(pq_writer_close(w) == PQ_OK);
    pq_schema_free(s);
}

static void test_cols_same_bytes(size_t dict_max) {
    mem x = {0}, y = {0};
    write_file(&x, true, 42 + dict_max, 9000, dict_max);
    write_file(&y, false, 42 + dict_max, 9000, dict_max);
    CHECK(x.len > 1000 && x.len == y.len);
    CHECK(x.len == y.len && memcmp(x.p, y.p, x.len) == 0);
    free(x.p);
    free(y.p);
}

/* Lists that cross a multiple of DICT_PROBE values (4096) inside one by-column call: the
 * probe looks at the dictionary as it was at that value, not at the end of the list. Rows
 * of 10 repeated values up to 4090, then one list of `n` values of which the first `rep`
 * repeat and the rest are new: the count crosses 4096 at the list's 7th value. With rep 20
 * the dictionary has 2 entries there (no fall-back) but thousands at the end of the list;
 * with rep 0 it has 7 of 7 new values there, which is not more than half of 4096 either,
 * so a list of 5,000 reaches the next multiple (8192) with ~5,000 entries: fall-back. */
static void write_probe_file(mem *m, bool by_col, size_t n, size_t rep) {
    pq_schema *s = pq_schema_new();
    int e = 0;
    int ls = pq_schema_add_list_of_struct(s, PQ_ROOT, "ls", true, &e);
    int a = pq_schema_add_leaf(s, e, "a", PQ_INT64, PQ_LT_NONE, true);
    REQUIRE(ls > 0 && a > 0);
    pq_options o = PQ_OPTIONS_INIT;
    o.created_by = "test_enc";
    pq_sink sink = {mem_write, m};
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, s, &sink, &o) == PQ_OK);
    static int64_t v[6000];
    for (size_t row = 0; row < 412; row++) {
        size_t k = row < 409 ? 10 : row == 409 ? n : 50;
        for (size_t j = 0; j < k; j++)
            v[j] = row == 409 && j >= rep ? (int64_t)(1000 + j) : (int64_t)(j % 2);
        if (by_col) {
            CHECK(pq_list_struct_cols(w, ls, k) == PQ_OK);
            CHECK(pq_list_struct_col_i64(w, a, v, sizeof v[0], INT64_MIN + 1) == PQ_OK);
            CHECK(pq_list_struct_end(w, ls) == PQ_OK);
        } else {
            CHECK(pq_list_struct_begin(w, ls) == PQ_OK);
            for (size_t j = 0; j < k; j++) {
                CHECK(pq_list_struct_next(w, ls) == PQ_OK);
                CHECK(pq_set_i64(w, a, v[j]) == PQ_OK);
            }
            CHECK(pq_list_struct_end(w, ls) == PQ_OK);
        }
        CHECK(pq_end_row(w) == PQ_OK);
    }
    CHECK(pq_writer_close(w) == PQ_OK);
    pq_schema_free(s);
}

static void test_probe_inside_list(void) {
    static const size_t cases[][2] = {{3000, 20}, {3000, 0}, {5000, 0}, {5000, 3000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mem x = {0}, y = {0};
        write_probe_file(&x, true, cases[i][0], cases[i][1]);
        write_probe_file(&y, false, cases[i][0], cases[i][1]);
        CHECK(x.len > 1000 && x.len == y.len && memcmp(x.p, y.p, x.len) == 0,
              "list of %zu, %zu repeated: %zu vs %zu bytes", cases[i][0], cases[i][1], x.len,
              y.len);
        free(x.p);
        free(y.p);
    }
}

/* ------------------------------------------------------------------ kept lists */

/* Rows of {id, ls: LIST<STRUCT<a INT64, r INT32, k STRING>>}, each list one of `pool`
 * templates (some empty, some longer than PQ_KEPT_MAX, some of values seen once), or null.
 * With `again`, a list is first offered to pq_again under its template's bytes,
 * and kept after being given by column; the file must be the same, byte for byte, as the
 * one written without: through row-group flushes, the dict_max_bytes fall-back, the
 * mostly-unique probe and the least-recent slot being reused. */
static const char *const kinds[] = {"main", "overview", "mask", "page"};
struct kel {
    int64_t a;
    int32_t r;
    int k;
};
static struct kel tmpl[16][40];
static unsigned tmpl_n[16];

static void make_templates(unsigned pool) {
    for (unsigned t = 0; t < pool; t++) {
        tmpl_n[t] = t % 7 == 6 ? 0 : t % 5 == 4 ? 17 + rn(20) : 1 + rn(PQ_KEPT_MAX);
        for (unsigned j = 0; j < tmpl_n[t]; j++) {
            tmpl[t][j].a = rn(6) == 0 ? INT64_MIN : (int64_t)rn(50);
            tmpl[t][j].r = rn(6) == 0 ? INT32_MIN : (int32_t)rn(9);
            tmpl[t][j].k = (int)rn(5);
        }
    }
}

/* again: 0 gives every list, 1 tries pq_again / pq_keep, 2 the same with o.no_replay */
static int write_kept_file(mem *m, int again, uint64_t seed, unsigned pool, size_t rows,
                           size_t rg_rows, size_t rg_bytes, size_t dict_max, unsigned uniq,
                           int *replays) {
    pq_schema *s = pq_schema_new();
    int e = 0;
    int id = pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false);
    int ls = pq_schema_add_list_of_struct(s, PQ_ROOT, "ls", true, &e);
    int a = pq_schema_add_leaf(s, e, "a", PQ_INT64, PQ_LT_NONE, true);
    int r = pq_schema_add_leaf(s, e, "r", PQ_INT32, PQ_LT_NONE, true);
    int k = pq_schema_add_leaf(s, e, "k", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    REQUIRE(id > 0 && ls > 0 && a > 0 && r > 0 && k > 0);
    pq_options o = PQ_OPTIONS_INIT;
    o.row_group_rows = rg_rows;
    o.row_group_bytes = rg_bytes;
    o.dict_max_bytes = dict_max;
    o.created_by = "test_enc";
    o.no_replay = again == 2;
    pq_sink sink = {mem_write, m};
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, s, &sink, &o) == PQ_OK);
    rng = seed;
    static struct kel fresh[16];
    for (size_t row = 0; row < rows; row++) {
        CHECK(pq_set_i64(w, id, (int64_t)row) == PQ_OK);
        unsigned pick = rn(20);
        if (pick == 0) {
            CHECK(pq_set_null(w, ls) == PQ_OK);
            CHECK(pq_end_row(w) == PQ_OK);
            continue;
        }
        const struct kel *v = tmpl[pick % pool];
        unsigned n = tmpl_n[pick % pool];
        if (pick <= uniq) { /* values never seen before: hash misses, the probe */
            n = 1 + rn(PQ_KEPT_MAX);
            for (unsigned j = 0; j < n; j++)
                fresh[j] = (struct kel){(int64_t)rnd(), (int32_t)rnd(), (int)rn(4)};
            v = fresh;
        }
        int rc = 1;
        if (again && n) {
            rc = pq_again(w, ls, v, n * sizeof *v);
            CHECK(rc == PQ_OK || rc == 1, "again: %d", rc);
            *replays += rc == PQ_OK;
        }
        if (rc) {
            CHECK(pq_list_struct_cols(w, ls, n) == PQ_OK);
            CHECK(pq_list_struct_col_i64(w, a, &v[0].a, sizeof v[0], INT64_MIN + 1) == PQ_OK);
            CHECK(pq_list_struct_col_i32(w, r, &v[0].r, sizeof v[0], INT32_MIN + 1) == PQ_OK);
            CHECK(pq_list_struct_col_names(w, k, &v[0].k, sizeof v[0], kinds, 4) == PQ_OK);
            CHECK(pq_list_struct_end(w, ls) == PQ_OK);
            if (again && n)
                CHECK(pq_keep(w, ls, v, n * sizeof *v) == PQ_OK);
        }
        CHECK(pq_end_row(w) == PQ_OK);
    }
    CHECK(pq_writer_close(w) == PQ_OK);
    pq_schema_free(s);
    return 0;
}

static void test_kept_lists(void) {
    static const struct {
        unsigned pool;
        size_t rg_rows, rg_bytes, dict_max;
        unsigned uniq; /* of 20 rows, those of unique values: 1 .. uniq */
        int min_replays;
    } cases[] = {
        {5, 100000, 64u << 20, 1u << 20, 1, 4000}, /* one row group, every template kept */
        {16, 300, 64u << 20, 1u << 20, 1, 1000},   /* more templates than slots; flushes */
        {12, 100000, 20000, 1u << 20, 1, 1000},    /* flushes by size: w->approx must agree */
        {12, 1000, 64u << 20, 600, 1, 100},        /* the dictionaries fall back to PLAIN */
        {5, 100000, 64u << 20, 1u << 20, 11, 30},  /* mostly unique: the probe, in replays */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rng = 7 + i;
        make_templates(cases[i].pool);
        mem x = {0}, y = {0}, z = {0};
        int replays = 0, none = 0, off = 0;
        write_kept_file(&x, 1, 99 + i, cases[i].pool, 6000, cases[i].rg_rows, cases[i].rg_bytes,
                        cases[i].dict_max, cases[i].uniq, &replays);
        write_kept_file(&y, 0, 99 + i, cases[i].pool, 6000, cases[i].rg_rows, cases[i].rg_bytes,
                        cases[i].dict_max, cases[i].uniq, &none);
        /* o.no_replay (output.list_replay: false): pq_again always declines */
        write_kept_file(&z, 2, 99 + i, cases[i].pool, 6000, cases[i].rg_rows, cases[i].rg_bytes,
                        cases[i].dict_max, cases[i].uniq, &off);
        CHECK(replays > cases[i].min_replays, "case %zu: %d replays", i, replays);
        CHECK(x.len > 1000 && x.len == y.len && memcmp(x.p, y.p, x.len) == 0,
              "case %zu: %zu vs %zu bytes", i, x.len, y.len);
        CHECK(off == 0, "case %zu: %d replays with no_replay", i, off);
        CHECK(z.len == y.len && memcmp(z.p, y.p, z.len) == 0, "case %zu: no_replay bytes", i);
        free(x.p);
        free(y.p);
        free(z.p);
    }
}

/* The mostly-unique probe inside a replay: 4,090 values seen once each, then a kept list
 * of 10 replayed across value 4,096, where the dictionary holds more than half as many
 * entries as values: the column falls back to PLAIN at the end of that row, replayed or
 * not. */
static void write_probe_replay(mem *m, bool again, int *replays) {
    pq_schema *s = pq_schema_new();
    int e = 0;
    int ls = pq_schema_add_list_of_struct(s, PQ_ROOT, "ls", true, &e);
    int a = pq_schema_add_leaf(s, e, "a", PQ_INT64, PQ_LT_NONE, true);
    REQUIRE(ls > 0 && a > 0);
    pq_options o = PQ_OPTIONS_INIT;
    o.created_by = "test_enc";
    pq_sink sink = {mem_write, m};
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, s, &sink, &o) == PQ_OK);
    int64_t t[10], u[10];
    for (int j = 0; j < 10; j++)
        t[j] = -1 - j;
    for (int row = 0; row < 450; row++) {
        bool same = row == 400 || row == 409 || row > 420;
        for (int j = 0; j < 10; j++)
            u[j] = row * 10 + j;
        const int64_t *v = same ? t : u;
        int rc = again && same ? pq_again(w, ls, v, sizeof t) : 1;
        *replays += rc == PQ_OK;
        if (rc) {
            CHECK(pq_list_struct_cols(w, ls, 10) == PQ_OK);
            CHECK(pq_list_struct_col_i64(w, a, v, sizeof v[0], INT64_MIN + 1) == PQ_OK);
            CHECK(pq_list_struct_end(w, ls) == PQ_OK);
            if (again && same)
                CHECK(pq_keep(w, ls, v, sizeof t) == PQ_OK);
        }
        CHECK(pq_end_row(w) == PQ_OK);
    }
    CHECK(pq_writer_close(w) == PQ_OK);
    pq_schema_free(s);
}

/* A file written by `write` with replays (pq_again / pq_keep) and without: the same bytes,
 * and between lo and hi replays (so that the shortcut was taken). */
static void same_bytes_replayed(void (*write)(mem *, bool, int *), int lo, int hi,
                                const char *what) {
    mem x = {0}, y = {0};
    int replays = 0, none = 0;
    write(&x, true, &replays);
    write(&y, false, &none);
    CHECK(replays >= lo && replays <= hi, "%s: %d replays", what, replays);
    CHECK(x.len > 1000 && x.len == y.len && memcmp(x.p, y.p, x.len) == 0, "%s: %zu vs %zu bytes",
          what, x.len, y.len);
    free(x.p);
    free(y.p);
}

/* A MAP<STRING, STRING> replayed: one of 10 maps (some with null values, one empty, one
 * over 16 entries) in each row, kept under its text; the same bytes as the maps given
 * again, through flushes every 700 rows. */
static void write_kept_maps(mem *m, bool again, int *replays) {
    pq_schema *s = pq_schema_new();
    int mp = pq_schema_add_map(s, PQ_ROOT, "m", true);
    REQUIRE(mp > 0);
    pq_options o = PQ_OPTIONS_INIT;
    o.row_group_rows = 700;
    o.created_by = "test_enc";
    pq_sink sink = {mem_write, m};
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, s, &sink, &o) == PQ_OK);
    rng = 5;
    char keys[20][8], vals[20][8];
    for (int j = 0; j < 20; j++) {
        snprintf(keys[j], sizeof keys[j], "K%d", j);
        snprintf(vals[j], sizeof vals[j], "v%d", j * 7);
    }
    for (int row = 0; row < 5000; row++) {
        unsigned t = rn(11);
        if (t == 10) { /* null map */
            CHECK(pq_end_row(w) == PQ_OK);
            continue;
        }
        unsigned n = t == 0 ? 0 : t == 1 ? 20 : 1 + t;
        char key[256];
        int kl = snprintf(key, sizeof key, "map %u", t);
        int rc = again ? pq_again(w, mp, key, (size_t)kl) : 1;
        CHECK(rc == PQ_OK || rc == 1, "again: %d", rc);
        *replays += rc == PQ_OK;
        if (rc) {
            CHECK(pq_map_begin(w, mp) == PQ_OK);
            for (unsigned j = 0; j < n; j++)
                CHECK(pq_map_put(w, mp, keys[j], strlen(keys[j]), (j + t) % 3 ? vals[j] : NULL,
                                 strlen(vals[j])) == PQ_OK);
            CHECK(pq_map_end(w, mp) == PQ_OK);
            if (again)
                CHECK(pq_keep(w, mp, key, (size_t)kl) == PQ_OK);
        }
        CHECK(pq_end_row(w) == PQ_OK);
    }
    CHECK(pq_writer_close(w) == PQ_OK);
    pq_schema_free(s);
}

int main(void) {
    test_hybrid_same_bytes();
    test_levels_cache();
    same_bytes_replayed(write_kept_maps, 3001, INT32_MAX, "maps");
    test_kept_lists();
    same_bytes_replayed(write_probe_replay, 1, 1, "probe"); /* row 409; then PLAIN */
    test_probe_inside_list();
    test_cols_same_bytes(1u << 20); /* the probe drops the unique dictionaries */
    test_cols_same_bytes(2000);     /* dict_max_bytes is reached inside a list */
    return td_test_report("test_enc");
}
