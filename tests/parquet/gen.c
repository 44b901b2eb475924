/* gen.c - writes randomized Parquet files (seeded) with td_parquet, plus for each one the
 * exact expected rows as JSON Lines and a sidecar describing schema and options, for the
 * node readers (check_duckdb.mjs, check_hyparquet.mjs) to compare against.
 *
 *   pq_gen OUT_DIR [BIG_ROWS]
 *
 * JSON conventions: INT64 and timestamps as decimal strings, doubles as the 16 hex digits
 * of their bit pattern, binary as lowercase hex, maps as [[key, value], ...] in insertion
 * order, structs as objects, lists as arrays.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet.h"

/* ---- small helpers */

static uint64_t rng_state;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }
static int pct(unsigned p) { return rn(100) < p; }

typedef struct sb {
    char *p;
    size_t len, cap;
} sb;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void sb_put(sb *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (c < b->len + n + 1)
            c *= 2;
        b->p = realloc(b->p, c);
        if (!b->p)
            die("oom");
        b->cap = c;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_s(sb *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_f(sb *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
}
static void sb_str(sb *b, const char *p, size_t n) {
    sb_s(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            sb_f(b, "\\%c", c);
        else if (c < 0x20)
            sb_f(b, "\\u%04x", c);
        else
            sb_put(b, &p[i], 1);
    }
    sb_s(b, "\"");
}
static void sb_hex(sb *b, const uint8_t *p, size_t n) {
    sb_s(b, "\"");
    for (size_t i = 0; i < n; i++)
        sb_f(b, "%02x", p[i]);
    sb_s(b, "\"");
}
static void sb_i64(sb *b, int64_t v) { sb_f(b, "\"%" PRId64 "\"", v); }
static void sb_dbl(sb *b, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    sb_f(b, "\"%016" PRIx64 "\"", u);
}
static void sb_key(sb *b, int *first, const char *k) {
    if (!*first)
        sb_s(b, ",");
    *first = 0;
    sb_f(b, "\"%s\":", k);
}

static void chk(int rc, pq_writer *w, const char *what) {
    if (rc)
        die("%s: %s: %s", what, pq_err_name(rc), w ? pq_writer_errmsg(w) : "");
}

static int file_write(void *ctx, const void *p, size_t n) {
    return fwrite(p, 1, n, (FILE *)ctx) == n ? 0 : -1;
}

/* ---- random values */

static int64_t r_i64(void) {
    static const int64_t special[] = {
        INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1, 4294967296LL, -4294967297LL};
    if (pct(30))
        return special[rn(sizeof special / sizeof special[0])];
    return (int64_t)rnd() >> rn(60);
}
static int32_t r_i32(void) {
    static const int32_t special[] = {INT32_MIN, INT32_MAX, 0, -1, 1, 65535, -65536};
    if (pct(30))
        return special[rn(sizeof special / sizeof special[0])];
    return (int32_t)((int64_t)(rnd() & 0xffffffffu) - 2147483648LL) >> rn(31);
}
static double r_dbl(void) {
    static const double special[] = {
        0.0, -0.0, 1.0, -1.5, DBL_MAX, -DBL_MAX, DBL_MIN, 4.9406564584124654e-324, 1e300, -1e-300};
    unsigned k = rn(100);
    if (k < 5)
        return NAN;
    if (k < 8)
        return INFINITY;
    if (k < 10)
        return -INFINITY;
    if (k < 35)
        return special[rn(sizeof special / sizeof special[0])];
    return ((double)(int64_t)rnd() / 1e6) * pow(10.0, (double)rn(40) - 20.0);
}
/* UTF-8 text of 0..maxlen pieces: ASCII, quotes/escapes, 2-, 3- and 4-byte sequences. */
static size_t r_text(char *out, unsigned maxlen, unsigned card) {
    static const char *const pieces[] = {"a",
                                         "b",
                                         "Z",
                                         "0",
                                         " ",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\t",
                                         "\x01",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9d\x84\x9e",
                                         "/",
                                         "{",
                                         "}",
                                         "~"};
    size_t n = 0;
    uint64_t saved = 0;
    if (card) { /* low cardinality: derive the text from a small seed */
        saved = rng_state;
        rng_state = rn(card) * 7919u;
    }
    unsigned len = rn(maxlen + 1);
    for (unsigned i = 0; i < len; i++) {
        const char *p = pieces[rn(sizeof pieces / sizeof pieces[0])];
        memcpy(out + n, p, strlen(p));
        n += strlen(p);
    }
    if (card)
        rng_state = saved;
    return n;
}
static size_t r_bin(uint8_t *out, unsigned maxlen) {
    unsigned len = rn(maxlen + 1);
    for (unsigned i = 0; i < len; i++) {
        unsigned k = rn(4);
        out[i] = k == 0 ? 0 : k == 1 ? 0xff : (uint8_t)rnd();
    }
    return len;
}

/* optional null: either left unset or set null explicitly; both must read back as null.
 * Inside a struct the null is always explicit: a struct none of whose fields is touched is
 * a null struct (that case is generated on purpose, with its own expected value). */
static int in_struct;
static void null_opt(pq_writer *w, int node, sb *b) {
    if (in_struct || pct(50))
        chk(pq_set_null(w, node), w, "set_null");
    sb_s(b, "null");
}

/* ---- the "all" schema */

typedef struct all_cols {
    int id, b, i32, i64, d, s, bin, ts, req_s, req_i32, req_d, req_b, li, ld, ls, li32, lb, lbin,
        st, st_a, st_s, st_inner, st_x, st_l, st_m, rst, rst_y, rst_z, m, m2;
} all_cols;

static const char ALL_SCHEMA[] =
    "[{\"name\":\"id\",\"t\":\"i64\",\"req\":true},"
    "{\"name\":\"b\",\"t\":\"bool\"},{\"name\":\"i32\",\"t\":\"i32\"},"
    "{\"name\":\"i64\",\"t\":\"i64\"},{\"name\":\"d\",\"t\":\"f64\"},"
    "{\"name\":\"s\",\"t\":\"str\"},{\"name\":\"bin\",\"t\":\"bin\"},"
    "{\"name\":\"ts\",\"t\":\"ts\"},{\"name\":\"req_s\",\"t\":\"str\",\"req\":true},"
    "{\"name\":\"req_i32\",\"t\":\"i32\",\"req\":true},"
    "{\"name\":\"req_d\",\"t\":\"f64\",\"req\":true},"
    "{\"name\":\"req_b\",\"t\":\"bool\",\"req\":true},"
    "{\"name\":\"li\",\"t\":\"list\",\"elem\":{\"t\":\"i64\"}},"
    "{\"name\":\"ld\",\"t\":\"list\",\"elem\":{\"t\":\"f64\",\"req\":true}},"
    "{\"name\":\"ls\",\"t\":\"list\",\"req\":true,\"elem\":{\"t\":\"str\"}},"
    "{\"name\":\"li32\",\"t\":\"list\",\"elem\":{\"t\":\"i32\",\"req\":true}},"
    "{\"name\":\"lb\",\"t\":\"list\",\"elem\":{\"t\":\"bool\"}},"
    "{\"name\":\"lbin\",\"t\":\"list\",\"elem\":{\"t\":\"bin\"}},"
    "{\"name\":\"st\",\"t\":\"struct\",\"fields\":["
    "{\"name\":\"a\",\"t\":\"i64\"},{\"name\":\"s\",\"t\":\"str\"},"
    "{\"name\":\"inner\",\"t\":\"struct\",\"fields\":[{\"name\":\"x\",\"t\":\"f64\"},"
    "{\"name\":\"l\",\"t\":\"list\",\"elem\":{\"t\":\"i64\"}}]},"
    "{\"name\":\"m\",\"t\":\"map\"}]},"
    "{\"name\":\"rst\",\"t\":\"struct\",\"req\":true,\"fields\":["
    "{\"name\":\"y\",\"t\":\"i32\",\"req\":true},{\"name\":\"z\",\"t\":\"str\"}]},"
    "{\"name\":\"m\",\"t\":\"map\"},{\"name\":\"m2\",\"t\":\"map\",\"req\":true}]";

static pq_schema *all_schema(all_cols *c) {
    pq_schema *s = pq_schema_new();
    if (!s)
        die("oom");
#define L(f, name, t, lt, opt)                                         \
    if ((c->f = pq_schema_add_leaf(s, PQ_ROOT, name, t, lt, opt)) < 0) \
    die("schema " name)
    L(id, "id", PQ_INT64, PQ_LT_NONE, false);
    L(b, "b", PQ_BOOLEAN, PQ_LT_NONE, true);
    L(i32, "i32", PQ_INT32, PQ_LT_NONE, true);
    L(i64, "i64", PQ_INT64, PQ_LT_NONE, true);
    L(d, "d", PQ_DOUBLE, PQ_LT_NONE, true);
    L(s, "s", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    L(bin, "bin", PQ_BYTE_ARRAY, PQ_LT_NONE, true);
    L(ts, "ts", PQ_INT64, PQ_LT_TIMESTAMP_MILLIS, true);
    L(req_s, "req_s", PQ_BYTE_ARRAY, PQ_LT_STRING, false);
    L(req_i32, "req_i32", PQ_INT32, PQ_LT_NONE, false);
    L(req_d, "req_d", PQ_DOUBLE, PQ_LT_NONE, false);
    L(req_b, "req_b", PQ_BOOLEAN, PQ_LT_NONE, false);
#undef L
    c->li = pq_schema_add_list(s, PQ_ROOT, "li", PQ_INT64, PQ_LT_NONE, true, true);
    c->ld = pq_schema_add_list(s, PQ_ROOT, "ld", PQ_DOUBLE, PQ_LT_NONE, true, false);
    c->ls = pq_schema_add_list(s, PQ_ROOT, "ls", PQ_BYTE_ARRAY, PQ_LT_STRING, false, true);
    c->li32 = pq_schema_add_list(s, PQ_ROOT, "li32", PQ_INT32, PQ_LT_NONE, true, false);
    c->lb = pq_schema_add_list(s, PQ_ROOT, "lb", PQ_BOOLEAN, PQ_LT_NONE, true, true);
    c->lbin = pq_schema_add_list(s, PQ_ROOT, "lbin", PQ_BYTE_ARRAY, PQ_LT_NONE, true, true);
    c->st = pq_schema_add_struct(s, PQ_ROOT, "st", true);
    c->st_a = pq_schema_add_leaf(s, c->st, "a", PQ_INT64, PQ_LT_NONE, true);
    c->st_s = pq_schema_add_leaf(s, c->st, "s", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    c->st_inner = pq_schema_add_struct(s, c->st, "inner", true);
    c->st_x = pq_schema_add_leaf(s, c->st_inner, "x", PQ_DOUBLE, PQ_LT_NONE, true);
    c->st_l = pq_schema_add_list(s, c->st_inner, "l", PQ_INT64, PQ_LT_NONE, true, true);
    c->st_m = pq_schema_add_map(s, c->st, "m", true);
    c->rst = pq_schema_add_struct(s, PQ_ROOT, "rst", false);
    c->rst_y = pq_schema_add_leaf(s, c->rst, "y", PQ_INT32, PQ_LT_NONE, false);
    c->rst_z = pq_schema_add_leaf(s, c->rst, "z", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    c->m = pq_schema_add_map(s, PQ_ROOT, "m", true);
    c->m2 = pq_schema_add_map(s, PQ_ROOT, "m2", false);
    const int *ids = &c->id;
    for (size_t i = 0; i < sizeof *c / sizeof(int); i++)
        if (ids[i] <= 0)
            die("schema node %zu: %d", i, ids[i]);
    return s;
}

static void gen_map(pq_writer *w, int node, sb *b, bool optional) {
    if (optional && pct(20)) {
        null_opt(w, node, b);
        return;
    }
    chk(pq_map_begin(w, node), w, "map_begin");
    unsigned n = pct(25) ? 0 : rn(6);
    sb_s(b, "[");
    for (unsigned j = 0; j < n; j++) {
        char key[64], val[256];
        size_t kl = (size_t)snprintf(key, sizeof key, "%u", j * 7 + rn(7));
        if (pct(30))
            kl = (size_t)snprintf(key, sizeof key, "k%u\xc3\xa9", j);
        size_t vl = r_text(val, 12, 0);
        bool vnull = pct(25);
        chk(pq_map_put(w, node, key, kl, vnull ? NULL : val, vl), w, "map_put");
        sb_s(b, j ? ",[" : "[");
        sb_str(b, key, kl);
        sb_s(b, ",");
        if (vnull)
            sb_s(b, "null");
        else
            sb_str(b, val, vl);
        sb_s(b, "]");
    }
    chk(pq_map_end(w, node), w, "map_end");
    sb_s(b, "]");
}

/* LIST<INT64> with optional list and elements, element by element */
static void gen_list_i64(pq_writer *w, int node, sb *b) {
    if (pct(15)) {
        null_opt(w, node, b);
        return;
    }
    chk(pq_list_begin(w, node), w, "list_begin");
    unsigned n = pct(20) ? 0 : rn(6);
    sb_s(b, "[");
    for (unsigned j = 0; j < n; j++) {
        if (j)
            sb_s(b, ",");
        if (pct(20)) {
            chk(pq_list_push_null(w, node), w, "push_null");
            sb_s(b, "null");
        } else {
            int64_t v = r_i64();
            chk(pq_list_push_i64(w, node, v), w, "push_i64");
            sb_i64(b, v);
        }
    }
    chk(pq_list_end(w, node), w, "list_end");
    sb_s(b, "]");
}

static void gen_all_row(pq_writer *w, const all_cols *c, uint64_t row, sb *b) {
    char txt[512];
    uint8_t bin[64];
    int first = 1;
    sb_s(b, "{");
    sb_key(b, &first, "id");
    chk(pq_set_i64(w, c->id, (int64_t)row), w, "id");
    sb_i64(b, (int64_t)row);

    sb_key(b, &first, "b");
    if (pct(20)) {
        null_opt(w, c->b, b);
    } else {
        bool v = pct(50);
        chk(pq_set_bool(w, c->b, v), w, "b");
        sb_s(b, v ? "true" : "false");
    }
    sb_key(b, &first, "i32");
    if (pct(20)) {
        null_opt(w, c->i32, b);
    } else {
        int32_t v = r_i32();
        chk(pq_set_i32(w, c->i32, v), w, "i32");
        sb_f(b, "%" PRId32, v);
    }
    sb_key(b, &first, "i64");
    if (pct(20)) {
        null_opt(w, c->i64, b);
    } else {
        int64_t v = r_i64();
        chk(pq_set_i64(w, c->i64, v), w, "i64");
        sb_i64(b, v);
    }
    sb_key(b, &first, "d");
    if (pct(20)) {
        null_opt(w, c->d, b);
    } else {
        double v = r_dbl();
        chk(pq_set_double(w, c->d, v), w, "d");
        sb_dbl(b, v);
    }
    sb_key(b, &first, "s");
    if (pct(20)) {
        null_opt(w, c->s, b);
    } else {
        size_t n = r_text(txt, 8, 50); /* 50 distinct values: stays dictionary encoded */
        chk(pq_set_bytes(w, c->s, txt, n), w, "s");
        sb_str(b, txt, n);
    }
    sb_key(b, &first, "bin");
    if (pct(20)) {
        null_opt(w, c->bin, b);
    } else {
        size_t n = r_bin(bin, 16);
        chk(pq_set_bytes(w, c->bin, bin, n), w, "bin");
        sb_hex(b, bin, n);
    }
    sb_key(b, &first, "ts");
    if (pct(20)) {
        null_opt(w, c->ts, b);
    } else {
        int64_t v = (int64_t)(rnd() % 20000000000000ull) - 10000000000000LL;
        chk(pq_set_i64(w, c->ts, v), w, "ts");
        sb_i64(b, v);
    }
    sb_key(b, &first, "req_s");
    { /* unique: the dictionary outgrows dict_max_bytes and falls back to PLAIN */
        size_t n = (size_t)snprintf(txt, sizeof txt, "row-%" PRIu64 "-", row);
        n += r_text(txt + n, 6, 0);
        chk(pq_set_bytes(w, c->req_s, txt, n), w, "req_s");
        sb_str(b, txt, n);
    }
    sb_key(b, &first, "req_i32");
    {
        int32_t v = (int32_t)rn(10) - 5;
        chk(pq_set_i32(w, c->req_i32, v), w, "req_i32");
        sb_f(b, "%" PRId32, v);
    }
    sb_key(b, &first, "req_d");
    {
        double v = r_dbl();
        chk(pq_set_double(w, c->req_d, v), w, "req_d");
        sb_dbl(b, v);
    }
    sb_key(b, &first, "req_b");
    {
        bool v = pct(50);
        chk(pq_set_bool(w, c->req_b, v), w, "req_b");
        sb_s(b, v ? "true" : "false");
    }
    sb_key(b, &first, "li");
    gen_list_i64(w, c->li, b);
    sb_key(b, &first, "ld");
    if (pct(15)) {
        null_opt(w, c->ld, b);
    } else {
        double v[8];
        unsigned n = pct(20) ? 0 : rn(8);
        sb_s(b, "[");
        for (unsigned j = 0; j < n; j++) {
            v[j] = r_dbl();
            if (j)
                sb_s(b, ",");
            sb_dbl(b, v[j]);
        }
        sb_s(b, "]");
        chk(pq_set_list_double(w, c->ld, v, n), w, "ld");
    }
    sb_key(b, &first, "ls"); /* required list, optional elements */
    {
        chk(pq_list_begin(w, c->ls), w, "ls");
        unsigned n = pct(20) ? 0 : rn(5);
        sb_s(b, "[");
        for (unsigned j = 0; j < n; j++) {
            if (j)
                sb_s(b, ",");
            if (pct(20)) {
                chk(pq_list_push_null(w, c->ls), w, "ls null");
                sb_s(b, "null");
            } else {
                size_t tn = r_text(txt, 10, 0);
                chk(pq_list_push_bytes(w, c->ls, txt, tn), w, "ls push");
                sb_str(b, txt, tn);
            }
        }
        chk(pq_list_end(w, c->ls), w, "ls end");
        sb_s(b, "]");
    }
    sb_key(b, &first, "li32");
    if (pct(15)) {
        null_opt(w, c->li32, b);
    } else {
        int32_t v[8];
        unsigned n = pct(20) ? 0 : rn(8);
        sb_s(b, "[");
        for (unsigned j = 0; j < n; j++) {
            v[j] = r_i32();
            sb_f(b, j ? ",%" PRId32 : "%" PRId32, v[j]);
        }
        sb_s(b, "]");
        chk(pq_set_list_i32(w, c->li32, v, n), w, "li32");
    }
    sb_key(b, &first, "lb");
    if (pct(15)) {
        null_opt(w, c->lb, b);
    } else {
        chk(pq_list_begin(w, c->lb), w, "lb");
        unsigned n = rn(12);
        sb_s(b, "[");
        for (unsigned j = 0; j < n; j++) {
            if (j)
                sb_s(b, ",");
            if (pct(15)) {
                chk(pq_list_push_null(w, c->lb), w, "lb null");
                sb_s(b, "null");
            } else {
                bool v = pct(50);
                chk(pq_list_push_bool(w, c->lb, v), w, "lb push");
                sb_s(b, v ? "true" : "false");
            }
        }
        chk(pq_list_end(w, c->lb), w, "lb end");
        sb_s(b, "]");
    }
    sb_key(b, &first, "lbin");
    if (pct(15)) {
        null_opt(w, c->lbin, b);
    } else {
        chk(pq_list_begin(w, c->lbin), w, "lbin");
        unsigned n = rn(4);
        sb_s(b, "[");
        for (unsigned j = 0; j < n; j++) {
            if (j)
                sb_s(b, ",");
            if (pct(15)) {
                chk(pq_list_push_null(w, c->lbin), w, "lbin null");
                sb_s(b, "null");
            } else {
                size_t bn = r_bin(bin, 10);
                chk(pq_list_push_bytes(w, c->lbin, bin, bn), w, "lbin push");
                sb_hex(b, bin, bn);
            }
        }
        chk(pq_list_end(w, c->lbin), w, "lbin end");
        sb_s(b, "]");
    }
    sb_key(b, &first, "st");
    unsigned mode = rn(10);
    if (mode < 2) { /* null struct */
        null_opt(w, c->st, b);
    } else if (mode < 4) { /* struct whose fields are all null: NOT a null struct */
        chk(pq_set_null(w, c->st_a), w, "st.a");
        chk(pq_set_null(w, c->st_s), w, "st.s");
        chk(pq_set_null(w, c->st_inner), w, "st.inner");
        chk(pq_set_null(w, c->st_m), w, "st.m");
        sb_s(b, "{\"a\":null,\"s\":null,\"inner\":null,\"m\":null}");
    } else {
        int f2 = 1;
        in_struct = 1;
        sb_s(b, "{");
        sb_key(b, &f2, "a");
        if (pct(30)) {
            null_opt(w, c->st_a, b);
        } else {
            int64_t v = r_i64();
            chk(pq_set_i64(w, c->st_a, v), w, "st.a");
            sb_i64(b, v);
        }
        sb_key(b, &f2, "s");
        if (pct(30)) {
            null_opt(w, c->st_s, b);
        } else {
            size_t n = r_text(txt, 6, 0);
            chk(pq_set_bytes(w, c->st_s, txt, n), w, "st.s");
            sb_str(b, txt, n);
        }
        sb_key(b, &f2, "inner");
        unsigned im = rn(10);
        if (im < 3) {
            if (pct(50)) /* else left unset while siblings are set (a, s are explicit) */
                chk(pq_set_null(w, c->st_inner), w, "st.inner");
            sb_s(b, "null");
        } else if (im < 5) {
            chk(pq_set_null(w, c->st_x), w, "st.inner.x");
            chk(pq_set_null(w, c->st_l), w, "st.inner.l");
            sb_s(b, "{\"x\":null,\"l\":null}");
        } else {
            int f3 = 1;
            sb_s(b, "{");
            sb_key(b, &f3, "x");
            if (pct(30)) {
                null_opt(w, c->st_x, b);
            } else {
                double v = r_dbl();
                chk(pq_set_double(w, c->st_x, v), w, "st.inner.x");
                sb_dbl(b, v);
            }
            sb_key(b, &f3, "l");
            gen_list_i64(w, c->st_l, b);
            sb_s(b, "}");
        }
        sb_key(b, &f2, "m");
        gen_map(w, c->st_m, b, true);
        sb_s(b, "}");
        in_struct = 0;
    }
    sb_key(b, &first, "rst");
    {
        int32_t y = r_i32();
        chk(pq_set_i32(w, c->rst_y, y), w, "rst.y");
        sb_f(b, "{\"y\":%" PRId32 ",\"z\":", y);
        if (pct(40)) {
            null_opt(w, c->rst_z, b);
        } else {
            size_t n = r_text(txt, 5, 0);
            chk(pq_set_bytes(w, c->rst_z, txt, n), w, "rst.z");
            sb_str(b, txt, n);
        }
        sb_s(b, "}");
    }
    sb_key(b, &first, "m");
    gen_map(w, c->m, b, true);
    sb_key(b, &first, "m2");
    gen_map(w, c->m2, b, false);
    sb_s(b, "}\n");
    chk(pq_end_row(w), w, "end_row");
}

/* ---- the "big" schema: few columns, many rows */

static const char BIG_SCHEMA[] =
    "[{\"name\":\"id\",\"t\":\"i64\",\"req\":true},{\"name\":\"v\",\"t\":\"i64\"},"
    "{\"name\":\"d\",\"t\":\"f64\"},{\"name\":\"s\",\"t\":\"str\"},"
    "{\"name\":\"name\",\"t\":\"str\",\"req\":true},"
    "{\"name\":\"l\",\"t\":\"list\",\"elem\":{\"t\":\"i32\",\"req\":true}}]";

typedef struct big_cols {
    int id, v, d, s, name, l;
} big_cols;

static pq_schema *big_schema(big_cols *c) {
    pq_schema *s = pq_schema_new();
    c->id = pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false);
    c->v = pq_schema_add_leaf(s, PQ_ROOT, "v", PQ_INT64, PQ_LT_NONE, true);
    c->d = pq_schema_add_leaf(s, PQ_ROOT, "d", PQ_DOUBLE, PQ_LT_NONE, true);
    c->s = pq_schema_add_leaf(s, PQ_ROOT, "s", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    c->name = pq_schema_add_leaf(s, PQ_ROOT, "name", PQ_BYTE_ARRAY, PQ_LT_STRING, false);
    c->l = pq_schema_add_list(s, PQ_ROOT, "l", PQ_INT32, PQ_LT_NONE, true, false);
    if (c->id < 0 || c->v < 0 || c->d < 0 || c->s < 0 || c->name < 0 || c->l < 0)
        die("big schema");
    return s;
}

static void gen_big_row(pq_writer *w, const big_cols *c, uint64_t row, sb *b) {
    char txt[128];
    chk(pq_set_i64(w, c->id, (int64_t)row), w, "id");
    sb_f(b, "{\"id\":\"%" PRIu64 "\",\"v\":", row);
    if (pct(10)) {
        sb_s(b, "null");
    } else {
        int64_t v = r_i64();
        chk(pq_set_i64(w, c->v, v), w, "v");
        sb_i64(b, v);
    }
    sb_s(b, ",\"d\":");
    if (pct(10)) {
        chk(pq_set_null(w, c->d), w, "d");
        sb_s(b, "null");
    } else {
        double v = r_dbl();
        chk(pq_set_double(w, c->d, v), w, "d");
        sb_dbl(b, v);
    }
    sb_s(b, ",\"s\":");
    if (pct(10)) {
        sb_s(b, "null");
    } else {
        size_t n = (size_t)snprintf(txt, sizeof txt, "value-%u", rn(1000));
        chk(pq_set_bytes(w, c->s, txt, n), w, "s");
        sb_str(b, txt, n);
    }
    sb_s(b, ",\"name\":");
    {
        size_t n = (size_t)snprintf(txt, sizeof txt, "s3://bucket/tiles/%" PRIu64 "/B%02u.tif",
                                    row * 7, rn(13));
        chk(pq_set_bytes(w, c->name, txt, n), w, "name");
        sb_str(b, txt, n);
    }
    sb_s(b, ",\"l\":");
    if (pct(10)) {
        sb_s(b, "null");
    } else {
        int32_t v[4];
        unsigned n = rn(5);
        sb_s(b, "[");
        for (unsigned j = 0; j < n; j++) {
            v[j] = (int32_t)rn(100000) - 50000;
            sb_f(b, j ? ",%" PRId32 : "%" PRId32, v[j]);
        }
        sb_s(b, "]");
        chk(pq_set_list_i32(w, c->l, v, n), w, "l");
    }
    sb_s(b, "}\n");
    chk(pq_end_row(w), w, "end_row");
}

/* ---- the "edge" schema: statistics corner cases */

static const char EDGE_SCHEMA[] =
    "[{\"name\":\"id\",\"t\":\"i64\",\"req\":true},{\"name\":\"d_nan\",\"t\":\"f64\"},"
    "{\"name\":\"d_zero\",\"t\":\"f64\"},{\"name\":\"s_long\",\"t\":\"str\",\"long\":1024},"
    "{\"name\":\"b_null\",\"t\":\"bool\"}]";

typedef struct edge_cols {
    int id, d_nan, d_zero, s_long, b_null;
} edge_cols;

static pq_schema *edge_schema(edge_cols *c) {
    pq_schema *s = pq_schema_new();
    c->id = pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false);
    c->d_nan = pq_schema_add_leaf(s, PQ_ROOT, "d_nan", PQ_DOUBLE, PQ_LT_NONE, true);
    c->d_zero = pq_schema_add_leaf(s, PQ_ROOT, "d_zero", PQ_DOUBLE, PQ_LT_NONE, true);
    c->s_long = pq_schema_add_leaf(s, PQ_ROOT, "s_long", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    c->b_null = pq_schema_add_leaf(s, PQ_ROOT, "b_null", PQ_BOOLEAN, PQ_LT_NONE, true);
    if (c->id < 0 || c->d_nan < 0 || c->d_zero < 0 || c->s_long < 0 || c->b_null < 0)
        die("edge schema");
    return s;
}

/* Row group 0 (rows < 50): NaN-only doubles (no min/max), zeros of both signs, one string
 * longer than the statistics limit as the maximum (no min/max), an all-null column. Row group 1:
 * NaN and 1.5 (min = max = 1.5), +0.0 only (min written as -0.0, max as +0.0), short strings. */
static void gen_edge_row(pq_writer *w, const edge_cols *c, uint64_t row, sb *b) {
    char txt[2100];
    chk(pq_set_i64(w, c->id, (int64_t)row), w, "id");
    sb_f(b, "{\"id\":\"%" PRIu64 "\",\"d_nan\":", row);
    double d = row == 61 ? 1.5 : NAN;
    if (row % 5 == 4) {
        sb_s(b, "null");
    } else {
        chk(pq_set_double(w, c->d_nan, d), w, "d_nan");
        sb_dbl(b, d);
    }
    sb_s(b, ",\"d_zero\":");
    double z = row < 50 && row % 2 ? -0.0 : 0.0;
    chk(pq_set_double(w, c->d_zero, z), w, "d_zero");
    sb_dbl(b, z);
    sb_s(b, ",\"s_long\":");
    size_t n = row == 7 ? 2000 : 1 + row % 9;
    for (size_t i = 0; i < n; i++)
        txt[i] = row == 7 ? 'z' : (char)('a' + (row + i) % 26);
    chk(pq_set_bytes(w, c->s_long, txt, n), w, "s_long");
    sb_str(b, txt, n);
    sb_s(b, ",\"b_null\":null}\n");
    chk(pq_end_row(w), w, "end_row");
}

/* ---- driver */

typedef struct spec {
    const char *name;
    int schema; /* 0 all, 1 big, 2 edge */
    uint64_t rows, seed;
    pq_codec codec;
    int zstd_level;
    uint64_t rg_rows;
    size_t rg_bytes, dict_max;
} spec;

static const char *codec_name(pq_codec c) {
    return c == PQ_CODEC_NONE ? "UNCOMPRESSED" : c == PQ_CODEC_SNAPPY ? "SNAPPY" : "ZSTD";
}

/* ---- the "lstruct" schema: LIST<STRUCT> (null / empty lists, null fields, many elements) */

static const char LSTRUCT_SCHEMA[] =
    "[{\"name\":\"id\",\"t\":\"i64\",\"req\":true},"
    "{\"name\":\"ls\",\"t\":\"list\",\"elem\":{\"t\":\"struct\",\"req\":true,\"fields\":["
    "{\"name\":\"a\",\"t\":\"i64\"},{\"name\":\"s\",\"t\":\"str\"},{\"name\":\"d\",\"t\":\"f64\"},"
    "{\"name\":\"r\",\"t\":\"i32\",\"req\":true},{\"name\":\"b\",\"t\":\"bool\"}]}},"
    "{\"name\":\"after\",\"t\":\"str\"},"
    "{\"name\":\"lr\",\"t\":\"list\",\"req\":true,\"elem\":{\"t\":\"struct\",\"req\":true,"
    "\"fields\":[{\"name\":\"x\",\"t\":\"i64\"}]}}]";

typedef struct ls_cols {
    int id, ls, a, s, d, r, b, after, lr, x;
} ls_cols;

static pq_schema *ls_schema(ls_cols *c) {
    pq_schema *s = pq_schema_new();
    int e = 0, e2 = 0;
    c->id = pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false);
    c->ls = pq_schema_add_list_of_struct(s, PQ_ROOT, "ls", true, &e);
    c->a = pq_schema_add_leaf(s, e, "a", PQ_INT64, PQ_LT_NONE, true);
    c->s = pq_schema_add_leaf(s, e, "s", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    c->d = pq_schema_add_leaf(s, e, "d", PQ_DOUBLE, PQ_LT_NONE, true);
    c->r = pq_schema_add_leaf(s, e, "r", PQ_INT32, PQ_LT_NONE, false);
    c->b = pq_schema_add_leaf(s, e, "b", PQ_BOOLEAN, PQ_LT_NONE, true);
    c->after = pq_schema_add_leaf(s, PQ_ROOT, "after", PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    c->lr = pq_schema_add_list_of_struct(s, PQ_ROOT, "lr", false, &e2);
    c->x = pq_schema_add_leaf(s, e2, "x", PQ_INT64, PQ_LT_NONE, true);
    if (c->id < 0 || c->ls < 0 || c->a < 0 || c->s < 0 || c->d < 0 || c->r < 0 || c->b < 0 ||
        c->after < 0 || c->lr < 0 || c->x < 0)
        die("lstruct schema");
    /* only leaves below an element */
    if (pq_schema_add_struct(s, e, "no", true) != PQ_E_SCHEMA ||
        pq_schema_add_list(s, e, "no", PQ_INT64, PQ_LT_NONE, true, true) != PQ_E_SCHEMA)
        die("nesting below a list element accepted");
    return s;
}

/* The list "ls" by column (pq_list_struct_cols): a, r and s given for all the elements at
 * once from an array of structs, d and b never (null in every element). */
static void gen_ls_cols(pq_writer *w, const ls_cols *c, uint64_t row, sb *b) {
    static const char *const names[] = {"kind-0", "kind-1", "kind-2", "kind-3"};
    struct el {
        int64_t a; /* INT64_MIN: null (min INT64_MIN + 1), r_i64's too */
        int32_t r;
        int kind; /* names[kind], the last name past the end */
    } v[300];
    unsigned n = pct(15) ? 0 : rn(pct(5) ? 300 : 6);
    bool give_s = pct(80);
    for (unsigned k = 0; k < n; k++) {
        v[k].a = pct(20) ? INT64_MIN : r_i64();
        v[k].r = (int32_t)rn(1000) - 500;
        v[k].kind = (int)rn(6);
    }
    chk(pq_list_struct_cols(w, c->ls, n), w, "ls cols");
    if (row % 997 == 0) { /* misuse: refused, the row goes on */
        if (pq_list_struct_next(w, c->ls) != PQ_E_USAGE || pq_set_i64(w, c->a, 1) != PQ_E_USAGE ||
            pq_list_struct_col_i64(w, c->r, &v[0].r, sizeof v[0], 0) != PQ_E_USAGE ||
            pq_list_struct_col_i32(w, c->id, &v[0].r, sizeof v[0], 0) != PQ_E_USAGE ||
            pq_list_struct_col_i64(w, c->x, &v[0].a, sizeof v[0], 0) != PQ_E_USAGE ||
            pq_list_struct_col_names(w, c->s, &v[0].kind, sizeof v[0], names, 0) !=
                (n ? PQ_E_USAGE : PQ_OK))
            die("a misuse of the column setters of a list of structs was accepted");
        if (!n) /* names checked only when there are elements: s was given */
            give_s = true;
    }
    chk(pq_list_struct_col_i32(w, c->r, &v[0].r, sizeof v[0], INT32_MIN), w, "r col");
    chk(pq_list_struct_col_i64(w, c->a, &v[0].a, sizeof v[0], INT64_MIN + 1), w, "a col");
    if (pq_list_struct_col_i64(w, c->a, &v[0].a, sizeof v[0], 0) != PQ_E_USAGE)
        die("a column given twice was accepted");
    if (give_s && !(row % 997 == 0 && !n))
        chk(pq_list_struct_col_names(w, c->s, &v[0].kind, sizeof v[0], names, 4), w, "s col");
    chk(pq_list_struct_end(w, c->ls), w, "ls end");
    sb_s(b, "[");
    for (unsigned k = 0; k < n; k++) {
        int first = 1;
        sb_s(b, k ? ",{" : "{");
        sb_key(b, &first, "a");
        if (v[k].a == INT64_MIN)
            sb_s(b, "null");
        else
            sb_i64(b, v[k].a);
        sb_key(b, &first, "s");
        if (give_s) {
            const char *t = names[v[k].kind < 4 ? v[k].kind : 3];
            sb_str(b, t, strlen(t));
        } else {
            sb_s(b, "null");
        }
        sb_key(b, &first, "d");
        sb_s(b, "null");
        sb_key(b, &first, "r");
        sb_f(b, "%" PRId32, v[k].r);
        sb_key(b, &first, "b");
        sb_s(b, "null");
        sb_s(b, "}");
    }
    sb_s(b, "]");
}

static void gen_ls_row(pq_writer *w, const ls_cols *c, uint64_t row, sb *b) {
    char txt[64];
    chk(pq_set_i64(w, c->id, (int64_t)row), w, "id");
    sb_f(b, "{\"id\":\"%" PRIu64 "\",\"ls\":", row);
    if (pct(15)) {
        sb_s(b, "null");
        if (pct(50))
            chk(pq_set_null(w, c->ls), w, "ls null");
    } else if (pct(30)) {
        gen_ls_cols(w, c, row, b);
    } else {
        chk(pq_list_struct_begin(w, c->ls), w, "ls begin");
        unsigned n = pct(15) ? 0 : rn(pct(5) ? 300 : 6);
        sb_s(b, "[");
        for (unsigned k = 0; k < n; k++) {
            int first = 1;
            chk(pq_list_struct_next(w, c->ls), w, "ls next");
            sb_s(b, k ? ",{" : "{");
            sb_key(b, &first, "a");
            /* half the elements through the bulk setter (a is the only INT64 field: n = 1;
             * its null_value leaves the field null) */
            bool bulk = pct(50);
            if (pct(20)) {
                sb_s(b, "null");
                int64_t z = 7;
                if (bulk)
                    chk(pq_list_struct_set_i64s(w, c->a, &z, 1, 7), w, "a bulk null");
                else if (pct(50))
                    chk(pq_set_null(w, c->a), w, "a null");
            } else {
                int64_t v = r_i64();
                chk(bulk ? pq_list_struct_set_i64s(w, c->a, &v, 1, (int64_t)((uint64_t)v ^ 1))
                         : pq_set_i64(w, c->a, v),
                    w, "a");
                sb_i64(b, v);
            }
            if (k == 0 && row % 1000 == 0) { /* misuse: refused, the row goes on */
                int64_t two[2] = {1, 2};
                if (pq_list_struct_set_i64s(w, c->a, two, 2, 0) != PQ_E_USAGE ||
                    pq_list_struct_set_i64s(w, c->s, two, 1, 0) != PQ_E_USAGE ||
                    pq_list_struct_set_i64s(w, c->id, two, 1, 0) != PQ_E_USAGE ||
                    pq_list_struct_set_i64s(w, 1 << 20, two, 1, 0) != PQ_E_USAGE)
                    die("pq_list_struct_set_i64s accepted a field that is not an INT64 of the "
                        "element, or one already set");
            }
            sb_key(b, &first, "s");
            if (pct(20)) {
                sb_s(b, "null");
            } else {
                size_t l = (size_t)snprintf(txt, sizeof txt, "kind-%u", rn(4));
                chk(pq_set_bytes(w, c->s, txt, l), w, "s");
                sb_str(b, txt, l);
            }
            sb_key(b, &first, "d");
            if (pct(20)) {
                sb_s(b, "null");
            } else {
                double v = r_dbl();
                chk(pq_set_double(w, c->d, v), w, "d");
                sb_dbl(b, v);
            }
            sb_key(b, &first, "r");
            int32_t r = (int32_t)rn(1000);
            chk(pq_set_i32(w, c->r, r), w, "r");
            sb_f(b, "%" PRId32, r);
            sb_key(b, &first, "b");
            if (pct(20)) {
                sb_s(b, "null");
            } else {
                bool v = pct(50);
                chk(pq_set_bool(w, c->b, v), w, "b");
                sb_s(b, v ? "true" : "false");
            }
            sb_s(b, "}");
        }
        sb_s(b, "]");
        chk(pq_list_struct_end(w, c->ls), w, "ls end");
    }
    sb_s(b, ",\"after\":");
    size_t l = (size_t)snprintf(txt, sizeof txt, "row %" PRIu64, row);
    chk(pq_set_bytes(w, c->after, txt, l), w, "after");
    sb_str(b, txt, l);
    sb_s(b, ",\"lr\":[");
    unsigned n = rn(3);
    if (row % 2) { /* by column: x from an array; a required list's empty case too */
        int64_t xs[3];
        for (unsigned k = 0; k < n; k++) {
            xs[k] = (int64_t)row * 10 + k;
            sb_f(b, k ? ",{\"x\":\"%" PRId64 "\"}" : "{\"x\":\"%" PRId64 "\"}", xs[k]);
        }
        chk(pq_list_struct_cols(w, c->lr, n), w, "lr cols");
        chk(pq_list_struct_col_i64(w, c->x, xs, sizeof xs[0], INT64_MIN), w, "x col");
        chk(pq_list_struct_end(w, c->lr), w, "lr end");
        n = 0;
    } else {
        chk(pq_list_struct_begin(w, c->lr), w, "lr begin");
    }
    for (unsigned k = 0; k < n; k++) {
        chk(pq_list_struct_next(w, c->lr), w, "lr next");
        int64_t v = (int64_t)row * 10 + k;
        chk(pq_set_i64(w, c->x, v), w, "x");
        sb_f(b, k ? ",{\"x\":\"%" PRId64 "\"}" : "{\"x\":\"%" PRId64 "\"}", v);
    }
    if (row % 2 == 0)
        chk(pq_list_struct_end(w, c->lr), w, "lr end");
    sb_s(b, "]}\n");
    chk(pq_end_row(w), w, "end_row");
}

static void gen_file(const char *dir, const spec *sp) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, sp->name);
    FILE *f = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, sp->name);
    FILE *j = fopen(path, "wb");
    if (!f || !j)
        die("cannot create files in %s", dir);
    rng_state = sp->seed;
    all_cols ac = {0};
    big_cols bc = {0};
    edge_cols ec = {0};
    ls_cols lc = {0};
    pq_schema *s = sp->schema == 0   ? all_schema(&ac)
                   : sp->schema == 1 ? big_schema(&bc)
                   : sp->schema == 3 ? ls_schema(&lc)
                                     : edge_schema(&ec);
    pq_kv kv[] = {{"generator", "tests/parquet/gen.c"}, {"seed.text", "\xc3\xa9t\xc3\xa9"}};
    pq_options o = PQ_OPTIONS_INIT;
    o.codec = sp->codec;
    o.zstd_level = sp->zstd_level;
    o.row_group_rows = sp->rg_rows;
    if (sp->rg_bytes)
        o.row_group_bytes = sp->rg_bytes;
    o.dict_max_bytes = sp->dict_max;
    o.created_by = "tiff-dumper pq_gen";
    o.kv = kv;
    o.n_kv = 2;
    pq_sink sink = {file_write, f};
    pq_writer *w;
    chk(pq_writer_open(&w, s, &sink, &o), NULL, "open");
    sb b = {0};
    for (uint64_t r = 0; r < sp->rows; r++) {
        b.len = 0;
        if (sp->schema == 0)
            gen_all_row(w, &ac, r, &b);
        else if (sp->schema == 1)
            gen_big_row(w, &bc, r, &b);
        else if (sp->schema == 3)
            gen_ls_row(w, &lc, r, &b);
        else
            gen_edge_row(w, &ec, r, &b);
        if (fwrite(b.p, 1, b.len, j) != b.len)
            die("write jsonl");
    }
    if (pq_writer_rows(w) != sp->rows)
        die("row count");
    /* metadata known only at the end: one value replaced, one pair added */
    chk(pq_writer_set_kv(w, "seed.text", "late \xc3\xa9"), w, "set_kv replace");
    chk(pq_writer_set_kv(w, "tail.added", "{\"bbox\":[1,2]}"), w, "set_kv add");
    chk(pq_writer_close(w), NULL, "close");
    pq_schema_free(s);
    if (fclose(f) || fclose(j))
        die("close");
    snprintf(path, sizeof path, "%s/%s.meta.json", dir, sp->name);
    FILE *m = fopen(path, "wb");
    if (!m)
        die("meta");
    fprintf(m,
            "{\"name\":\"%s\",\"rows\":%" PRIu64 ",\"row_group_rows\":%" PRIu64
            ",\"row_group_bytes\":%zu,\"dict_max\":%zu,\"codec\":\"%s\","
            "\"kv\":{\"generator\":\"tests/parquet/gen.c\",\"seed.text\":\"late \xc3\xa9\","
            "\"tail.added\":\"{\\\"bbox\\\":[1,2]}\"},"
            "\"created_by\":\"tiff-dumper pq_gen\",\"columns\":%s}\n",
            sp->name, sp->rows, sp->rg_rows, sp->rg_bytes, sp->dict_max, codec_name(sp->codec),
            sp->schema == 0   ? ALL_SCHEMA
            : sp->schema == 1 ? BIG_SCHEMA
            : sp->schema == 3 ? LSTRUCT_SCHEMA
                              : EDGE_SCHEMA);
    fclose(m);
    free(b.p);
}

/* Misuse must be reported with the node named, and must not poison the writer. */
static int null_write(void *ctx, const void *p, size_t n) { return 0; }
static int fail_write(void *ctx, const void *p, size_t n) { return -1; }
static void check_errors(void) {
    all_cols c;
    pq_schema *s = all_schema(&c);
    if (pq_schema_add_leaf(s, PQ_ROOT, "id", PQ_INT64, PQ_LT_NONE, false) != PQ_E_SCHEMA ||
        pq_schema_add_leaf(s, c.li, "x", PQ_INT64, PQ_LT_NONE, false) != PQ_E_SCHEMA ||
        pq_schema_add_leaf(s, PQ_ROOT, "x", PQ_INT32, PQ_LT_STRING, false) != PQ_E_SCHEMA)
        die("schema errors not detected");
    pq_sink sink = {null_write, NULL};
    pq_writer *w;
    chk(pq_writer_open(&w, s, &sink, NULL), NULL, "open");
    if (pq_set_i32(w, c.i64, 1) != PQ_E_USAGE || !strstr(pq_writer_errmsg(w), "'i64'"))
        die("type mismatch not reported: %s", pq_writer_errmsg(w));
    if (pq_set_null(w, c.id) != PQ_E_USAGE || !strstr(pq_writer_errmsg(w), "required"))
        die("required null not reported: %s", pq_writer_errmsg(w));
    chk(pq_set_null(w, c.st), w, "st null");
    if (pq_set_i64(w, c.st_a, 1) != PQ_E_USAGE || !strstr(pq_writer_errmsg(w), "st.a"))
        die("value in null struct not reported: %s", pq_writer_errmsg(w));
    chk(pq_set_i64(w, c.id, 1), w, "id");
    if (pq_set_i64(w, c.id, 2) != PQ_E_USAGE)
        die("double set not reported");
    /* missing required values: sticky error naming the node */
    int rc = pq_end_row(w);
    if (rc != PQ_E_USAGE || !strstr(pq_writer_errmsg(w), "req_s"))
        die("missing required not reported: %s", pq_writer_errmsg(w));
    pq_writer_abort(w);

    /* a failing sink is reported at the flush (here: close) */
    static const pq_sink bad = {fail_write, NULL};
    big_cols bc;
    pq_schema *bs = big_schema(&bc);
    pq_options o = PQ_OPTIONS_INIT;
    o.zstd_level = 0;
    if (pq_writer_open(&w, bs, &bad, &o) != PQ_E_USAGE)
        die("bad zstd level accepted");
    chk(pq_writer_open(&w, bs, &bad, NULL), NULL, "open");
    chk(pq_set_i64(w, bc.id, 1), w, "id");
    chk(pq_set_bytes(w, bc.name, "n", 1), w, "name");
    chk(pq_end_row(w), w, "end_row");
    if (pq_writer_close(w) != PQ_E_SINK)
        die("sink failure not reported");
    pq_schema_free(bs);
    pq_schema_free(s);
}

int main(int argc, char **argv) {
    if (argc < 2)
        die("usage: pq_gen OUT_DIR [BIG_ROWS]");
    uint64_t big = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    check_errors();
    const spec specs[] = {
        {"all_none", 0, 3000, 1, PQ_CODEC_NONE, 3, 700, 0, 2048},
        {"all_snappy", 0, 3000, 2, PQ_CODEC_SNAPPY, 3, 1000, 0, 2048},
        {"all_zstd", 0, 3000, 3, PQ_CODEC_ZSTD, 9, 1024, 0, 4096},
        {"all_nodict", 0, 1000, 4, PQ_CODEC_SNAPPY, 3, 400, 0, 0},
        {"all_bytes_rg", 0, 2000, 5, PQ_CODEC_ZSTD, 1, 1000000, 150000, 1u << 20},
        {"empty", 0, 0, 6, PQ_CODEC_SNAPPY, 3, 1000, 0, 2048},
        {"edge", 2, 100, 8, PQ_CODEC_SNAPPY, 3, 50, 0, 1u << 20},
        {"lstruct", 3, 3000, 9, PQ_CODEC_ZSTD, 3, 700, 0, 2048},
        {"big", 1, big, 7, PQ_CODEC_SNAPPY, 3, big / 4 + 1, 0, 1u << 20},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        gen_file(argv[1], &specs[i]);
    return 0;
}
