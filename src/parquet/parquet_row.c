/* parquet_row.c - buffering the current row group: the value API (pq_set_*, lists, maps,
 * pq_end_row) appends repetition / definition levels and values to each column's buffers,
 * deduplicating INT32 / INT64 / BYTE_ARRAY values through the chunk dictionary (and falling
 * back to PLAIN at a row boundary when it grows too big or too unique).
 *
 * This is the per-value hot path: the dictionary, put_level and put_value stay in this one
 * file so that they inline into the setters.
 */
#include "parquet_internal.h"

#include <limits.h>

/* ------------------------------------------------------------------ dictionary */

static inline uint32_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ k) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    memcpy(&k, p, n);
    h = (h ^ k) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

static int dict_rehash(col *c, size_t n_slots) {
    uint32_t *s = calloc(n_slots, sizeof *s);
    if (!s)
        return -1;
    for (size_t e = 0; e < c->n_dict; e++) {
        size_t i = c->d_hash[e] & (n_slots - 1);
        while (s[i])
            i = (i + 1) & (n_slots - 1);
        s[i] = (uint32_t)e + 1;
    }
    free(c->slots);
    c->slots = s;
    c->n_slots = n_slots;
    return 0;
}

/* Hash of a fixed-width value. */
static inline uint32_t hash_fixed(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32) ^ (uint32_t)k;
}

/* Equality of a dictionary entry and a value. Always inlined (the hint checks of put_value
 * call it for most values): a fixed-width value has n == vsize, a constant in each setter,
 * so the compare becomes one integer compare. */
static inline __attribute__((always_inline)) bool dict_eq(const col *c, size_t e, const void *p,
                                                          size_t n) {
    if (c->vsize)
        return memcmp(c->dict.p + e * n, p, n) == 0;
    uint32_t l;
    memcpy(&l, c->dict.p + c->d_off[e], 4);
    return l == n && memcmp(c->dict.p + c->d_off[e] + 4, p, n) == 0;
}

/* Adds the value (hash h, not in the dictionary) at free slot i; its index, -1 on OOM. */
static __attribute__((noinline)) int64_t dict_insert(col *c, const void *p, size_t n, uint32_t h,
                                                     size_t i) {
    if (c->n_dict == c->cap_dict) {
        size_t cap = c->cap_dict ? c->cap_dict * 2 : 64;
        uint32_t *a = realloc(c->d_hash, cap * sizeof *a);
        if (!a)
            return -1;
        c->d_hash = a;
        if (!c->vsize) {
            uint32_t *b = realloc(c->d_off, cap * sizeof *b);
            if (!b)
                return -1;
            c->d_off = b;
        }
        c->cap_dict = cap;
    }
    size_t e = c->n_dict;
    if (!c->vsize) {
        uint32_t l = (uint32_t)n;
        if (buf_reserve(&c->dict, n + 4))
            return -1;
        c->d_off[e] = (uint32_t)c->dict.len;
        buf_put(&c->dict, &l, 4);
        buf_put(&c->dict, p, n);
    } else if (buf_put(&c->dict, p, n)) {
        return -1;
    }
    c->d_hash[e] = h;
    c->n_dict++;
    c->slots[i] = (uint32_t)e + 1;
    if (c->n_dict * 2 > c->n_slots && dict_rehash(c, c->n_slots * 2))
        return -1;
    return (int64_t)e;
}

/* Index of the value in the chunk dictionary, adding it if new; -1 on OOM. */
static inline int64_t dict_index(col *c, const void *p, size_t n) {
    if (!c->slots && dict_rehash(c, 256))
        return -1;
    uint32_t h;
    if (c->vsize == 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = hash_fixed(k);
    } else if (c->vsize == 4) {
        uint32_t k;
        memcpy(&k, p, 4);
        h = hash_fixed(k);
    } else {
        h = hash_bytes(p, n);
    }
    size_t mask = c->n_slots - 1, i = h & mask;
    int64_t e;
    for (;;) {
        uint32_t s = c->slots[i];
        if (!s) {
            e = dict_insert(c, p, n, h, i);
            break;
        }
        if (c->d_hash[s - 1] == h && dict_eq(c, s - 1, p, n)) {
            e = (int64_t)s - 1;
            break;
        }
        i = (i + 1) & mask;
    }
    return e;
}

/* ------------------------------------------------------------------ lazy nulls */

/* g null rows (repetition and definition 0) in each of the ncols columns from col0. */
static int lazy_fill(pq_writer *w, int col0, int ncols, uint64_t g) {
    for (int j = 0; j < ncols; j++) {
        col *c = &w->c[col0 + j];
        if (c->max_rep) {
            if (buf_reserve(&c->rep, g))
                return -1;
            memset(c->rep.p + c->rep.len, 0, g);
            c->rep.len += g;
        }
        if (c->max_def) {
            if (buf_reserve(&c->def, g))
                return -1;
            memset(c->def.p + c->def.len, 0, g);
            c->def.len += g;
        }
        c->n_levels += g;
    }
    return 0;
}

/* Before a lazy node's first level of this row: the rows since it was last set are null.
 * Called once per node and row, by the setters that give it a value (not pq_set_null: a
 * null is what the fill writes anyway). */
static inline int lazy_catch_up(pq_writer *w, int node) {
    if (!w->lazy[node])
        return 0;
    const unode *u = &w->u[node];
    uint64_t g = w->rg_rows - w->lazy_row[node];
    if (g && lazy_fill(w, u->col0, u->ncols, g))
        return -1;
    w->lazy_row[node] = w->rg_rows + 1;
    w->touched[w->n_touched++] = node;
    w->touched_ncols += (size_t)u->ncols;
    return 0;
}

int pq__lazy_fill_all(pq_writer *w) {
    for (int k = 0; k < w->n_lazy; k++) {
        int id = w->lazy_ids[k];
        const unode *u = &w->u[id];
        uint64_t g = w->rg_rows - w->lazy_row[id];
        if (g && lazy_fill(w, u->col0, u->ncols, g))
            return -1;
        w->lazy_row[id] = 0; /* the next row group starts at row 0 */
    }
    return 0;
}

/* ------------------------------------------------------------------ appending */

static inline int put_level(col *c, int rep, int def) {
    if (c->max_rep && buf_put1(&c->rep, (uint8_t)rep))
        return -1;
    if (c->max_def && buf_put1(&c->def, (uint8_t)def))
        return -1;
    c->n_levels++;
    return 0;
}

/* The setters are always inlined (TD_HOT) so that each pq_set_* is specialized for its type
 * and width: a row of the headers table sets ~250 values, most of them the same as in the
 * previous row, and the per-value checks and calls were the writer's main cost. */
#define TD_HOT static inline __attribute__((always_inline))

/* Appends dictionary index e of a value of n bytes; -1 on OOM. */
TD_HOT int put_index(pq_writer *w, col *c, uint32_t e, size_t n) {
    w->approx += n + 4;
    if (c->n_idx == c->cap_idx) {
        size_t cap = c->cap_idx ? c->cap_idx * 2 : 256;
        uint32_t *a = realloc(c->idx, cap * sizeof *a);
        if (!a)
            return -1;
        c->idx = a;
        c->cap_idx = cap;
    }
    c->idx[c->n_idx++] = e;
    /* Past dict_max_bytes, or when most values are new (a dictionary of unique values
     * only adds an indirection and costs hashing): PLAIN from the end of the row. The
     * dictionary grows only in put_value's hash path, which checks its size there. */
    if ((c->n_idx & (DICT_PROBE - 1)) == 0 && c->n_dict * 2 > c->n_idx && !c->fb_pending) {
        c->fb_pending = true;
        w->fb_list[w->n_fb++] = (int)(c - w->c);
    }
    return 0;
}

/* Appends a value at list position pos (0 outside lists). */
TD_HOT int put_value(pq_writer *w, col *c, const void *p, size_t n, size_t pos) {
    /* The dictionary entry of the value at this list position in an earlier row, then of
     * the previous value, before hashing: dictionary entries are unique, so a match is the
     * index the hash lookup would find (an index from before the chunk was flushed is past
     * n_dict, or compared with what it holds now); and every entry is valid UTF-8, so a
     * match needs no check either. */
    uint32_t *hint = &c->hint[pos < POS_HINTS ? pos : POS_HINTS - 1];
    if (c->dict_on) {
        size_t he = *hint, le = c->last_e;
        if (he && he <= c->n_dict && dict_eq(c, he - 1, p, n)) {
            c->last_e = (uint32_t)he;
            return put_index(w, c, (uint32_t)(he - 1), n);
        }
        if (le && le <= c->n_dict && dict_eq(c, le - 1, p, n)) {
            *hint = (uint32_t)le;
            return put_index(w, c, (uint32_t)(le - 1), n);
        }
    }
    /* A STRING that is not UTF-8 makes strict readers (DuckDB) refuse the whole file, so
     * the writer is where it is stopped, whoever the caller: each byte that is not part of
     * a valid sequence is written as \xNN (ut_utf8_escape: Python's backslashreplace). The
     * check is one pass with an 8-byte ASCII fast path. */
    if (c->utf8 && !ut_utf8_valid(p, n)) {
        w->esc.len = 0;
        if (buf_reserve(&w->esc, ut_utf8_escaped_len(p, n)))
            return -1;
        w->esc.len = ut_utf8_escape((char *)w->esc.p, p, n);
        p = w->esc.p;
        n = w->esc.len;
    }
    if (c->dict_on) {
        int64_t e = dict_index(c, p, n);
        if (e < 0)
            return -1;
        c->last_e = *hint = (uint32_t)e + 1;
        if (c->dict.len > w->o.dict_max_bytes && !c->fb_pending) {
            c->fb_pending = true;
            w->fb_list[w->n_fb++] = (int)(c - w->c);
        }
        return put_index(w, c, (uint32_t)e, n);
    }
    w->approx += n + 4;
    c->n_plain++;
    if (c->vsize == 8) {
        if (buf_reserve(&c->plain, 8))
            return -1;
        memcpy(c->plain.p + c->plain.len, p, 8);
        c->plain.len += 8;
    } else if (c->vsize == 4) {
        if (buf_reserve(&c->plain, 4))
            return -1;
        memcpy(c->plain.p + c->plain.len, p, 4);
        c->plain.len += 4;
    } else if (c->vsize == 1) {
        if (buf_put1(&c->plain, *(const uint8_t *)p))
            return -1;
    } else {
        uint32_t l = (uint32_t)n;
        if (buf_reserve(&c->plain, n + 4))
            return -1;
        memcpy(c->plain.p + c->plain.len, &l, 4);
        memcpy(c->plain.p + c->plain.len + 4, p, n);
        c->plain.len += n + 4;
    }
    return 0;
}

static const char *type_name(pq_type t) {
    static const char *const n[] = {"BOOLEAN", "INT32", "INT64", "DOUBLE", "BYTE_ARRAY"};
    return (unsigned)t <= PQ_BYTE_ARRAY ? n[t] : "?";
}

/* Validates that `node` is a user node of `kind` (any value kind when kind < 0). */
TD_HOT int check_node(pq_writer *w, int node, int kind, const char *fn) {
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: no such node", fn);
    const snode *n = &w->s->n[node];
    if (n->internal)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: internal node of a list or map", fn);
    if (kind >= 0 && n->kind != kind)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: wrong kind of node", fn);
    return PQ_OK;
}

/* A value below a struct makes the struct present (unless it was set null). */
static int touch(pq_writer *w, int node, const char *fn) {
    for (int p = w->s->n[node].parent; p > 0; p = w->s->n[p].parent)
        if (w->state[p] == S_NULL)
            return pq__fail(w, PQ_E_USAGE, false, node, "%s: enclosing struct was set null", fn);
    for (int p = w->s->n[node].parent; p > 0 && w->state[p] != S_TOUCHED; p = w->s->n[p].parent)
        w->state[p] = S_TOUCHED;
    return PQ_OK;
}

/* ------------------------------------------------------------------ LIST<STRUCT> fields */

/* A field of the open element of a LIST<STRUCT>: repetition 1 from the second element on;
 * definition max (value) or max - 1 (null field of a present element). p NULL = null. */
TD_HOT int set_field(pq_writer *w, int node, pq_type t, const void *p, size_t n, const char *fn) {
    const snode *nd = &w->s->n[node];
    int l = nd->lst, e = nd->parent;
    if (w->state[l] != S_OPEN || w->state[e] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: no open element (pq_list_struct_next)",
                        fn);
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: already set in this element", fn);
    col *c = &w->c[w->u[node].col0];
    int rep = w->u[l].count > 1 ? 1 : 0;
    if (!p) {
        if (nd->rep != REP_OPTIONAL)
            return pq__fail(w, PQ_E_USAGE, false, node, "%s: node is required", fn);
        if (put_level(c, rep, c->max_def - 1))
            return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
        w->state[node] = S_NULL;
        return PQ_OK;
    }
    if (nd->type != t)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s on a %s leaf", fn, type_name(nd->type));
    if (n > MAX_VALUE_BYTES)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: value of %zu bytes is too long", fn, n);
    if (put_level(c, rep, c->max_def) || put_value(w, c, p, n, w->u[l].count - 1))
        return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    w->state[node] = S_SET;
    return PQ_OK;
}

TD_HOT int set_leaf(pq_writer *w, int node, pq_type t, const void *p, size_t n, const char *fn) {
    /* a leaf right below the root (most values of a row): the checks below in one byte per
     * node (a user leaf of type t; no struct above to touch, no list) */
    if ((unsigned)node < (unsigned)w->s->count && w->root_leaf[node] == (uint8_t)(t + 1) &&
        w->state[node] == S_UNSET && !w->err && n <= MAX_VALUE_BYTES) {
        col *c = &w->c[w->u[node].col0];
        if (lazy_catch_up(w, node) || put_level(c, 0, c->max_def) || put_value(w, c, p, n, 0))
            return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
        w->state[node] = S_SET;
        return PQ_OK;
    }
    int rc = check_node(w, node, N_LEAF, fn);
    if (rc)
        return rc;
    const snode *nd = &w->s->n[node];
    if (nd->lst)
        return set_field(w, node, t, p, n, fn);
    if (nd->type != t)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s on a %s leaf", fn, type_name(nd->type));
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: already set in this row", fn);
    if (n > MAX_VALUE_BYTES)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: value of %zu bytes is too long", fn, n);
    if ((rc = touch(w, node, fn)))
        return rc;
    col *c = &w->c[w->u[node].col0];
    if (lazy_catch_up(w, node) || put_level(c, 0, c->max_def) || put_value(w, c, p, n, 0))
        return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    w->state[node] = S_SET;
    return PQ_OK;
}

int pq_set_bool(pq_writer *w, int node, bool v) {
    uint8_t b = v;
    return set_leaf(w, node, PQ_BOOLEAN, &b, 1, "pq_set_bool");
}
int pq_set_i32(pq_writer *w, int node, int32_t v) {
    return set_leaf(w, node, PQ_INT32, &v, 4, "pq_set_i32");
}
int pq_set_i64(pq_writer *w, int node, int64_t v) {
    return set_leaf(w, node, PQ_INT64, &v, 8, "pq_set_i64");
}
int pq_set_double(pq_writer *w, int node, double v) {
    return set_leaf(w, node, PQ_DOUBLE, &v, 8, "pq_set_double");
}
int pq_set_bytes(pq_writer *w, int node, const void *p, size_t len) {
    if (!p && len)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_set_bytes: NULL data");
    return set_leaf(w, node, PQ_BYTE_ARRAY, p ? p : "", len, "pq_set_bytes");
}

int pq_set_null(pq_writer *w, int node) {
    int rc = check_node(w, node, -1, "pq_set_null");
    if (rc)
        return rc;
    const snode *n = &w->s->n[node];
    if (n->lst && n->kind == N_LEAF)
        return set_field(w, node, PQ_BOOLEAN, NULL, 0, "pq_set_null");
    if (n->lst)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_set_null: element of a list of structs");
    if (n->rep != REP_OPTIONAL)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_set_null: node is required");
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_set_null: already set in this row");
    if ((rc = touch(w, node, "pq_set_null")))
        return rc;
    w->state[node] = S_NULL;
    return PQ_OK;
}

/* --- lists */

int pq_list_begin(pq_writer *w, int node) {
    int rc = check_node(w, node, N_LIST, "pq_list_begin");
    if (rc)
        return rc;
    if (w->s->n[node].of_struct)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_begin: a list of structs");
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_begin: already set in this row");
    if ((rc = touch(w, node, "pq_list_begin")))
        return rc;
    if (lazy_catch_up(w, node))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_list_begin: out of memory");
    w->state[node] = S_OPEN;
    w->u[node].count = 0;
    return PQ_OK;
}

TD_HOT int list_push(pq_writer *w, int node, pq_type t, const void *p, size_t n, const char *fn) {
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_LIST ||
        w->s->n[node].internal || w->s->n[node].of_struct)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: not a list of values", fn);
    if (w->state[node] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: list not begun", fn);
    unode *u = &w->u[node];
    col *c = &w->c[u->col0];
    if (!p) { /* null element */
        if (c->max_def == u->dl + 1)
            return pq__fail(w, PQ_E_USAGE, false, node, "%s: elements are required", fn);
        if (put_level(c, u->count ? 1 : 0, u->dl + 1))
            return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    } else {
        if (c->type != t)
            return pq__fail(w, PQ_E_USAGE, false, node, "%s on a list of %s", fn,
                            type_name(c->type));
        if (n > MAX_VALUE_BYTES)
            return pq__fail(w, PQ_E_USAGE, false, node, "%s: value of %zu bytes is too long", fn,
                            n);
        if (put_level(c, u->count ? 1 : 0, c->max_def) || put_value(w, c, p, n, u->count))
            return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    }
    u->count++;
    return PQ_OK;
}

int pq_list_push_null(pq_writer *w, int node) {
    return list_push(w, node, PQ_BOOLEAN, NULL, 0, "pq_list_push_null");
}
int pq_list_push_bool(pq_writer *w, int node, bool v) {
    uint8_t b = v;
    return list_push(w, node, PQ_BOOLEAN, &b, 1, "pq_list_push_bool");
}
int pq_list_push_i32(pq_writer *w, int node, int32_t v) {
    return list_push(w, node, PQ_INT32, &v, 4, "pq_list_push_i32");
}
int pq_list_push_i64(pq_writer *w, int node, int64_t v) {
    return list_push(w, node, PQ_INT64, &v, 8, "pq_list_push_i64");
}
int pq_list_push_double(pq_writer *w, int node, double v) {
    return list_push(w, node, PQ_DOUBLE, &v, 8, "pq_list_push_double");
}
int pq_list_push_bytes(pq_writer *w, int node, const void *p, size_t len) {
    if (!p && len)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_push_bytes: NULL data");
    return list_push(w, node, PQ_BYTE_ARRAY, p ? p : "", len, "pq_list_push_bytes");
}

int pq_list_end(pq_writer *w, int node) {
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_LIST ||
        w->s->n[node].internal || w->s->n[node].of_struct)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_end: not a list of values");
    if (w->state[node] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_end: list not begun");
    unode *u = &w->u[node];
    if (u->count == 0 && put_level(&w->c[u->col0], 0, u->dl))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_list_end: out of memory");
    w->state[node] = S_SET;
    return PQ_OK;
}

TD_HOT int set_list(pq_writer *w, int node, pq_type t, const void *v, size_t n, size_t size,
                    const char *fn) {
    int rc = check_node(w, node, N_LIST, fn);
    if (rc)
        return rc;
    if (w->c[w->u[node].col0].type != t)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s on a list of %s", fn,
                        type_name(w->c[w->u[node].col0].type));
    if (n && !v)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: NULL values", fn);
    if (n > UINT32_MAX)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: too many elements", fn);
    if ((rc = pq_list_begin(w, node)))
        return rc;
    /* what list_push does per element, with the checks made once above and the levels
     * written as two runs: repetition 0 then 1, definition max (no null elements) */
    const uint8_t *p = v;
    unode *u = &w->u[node];
    col *c = &w->c[u->col0];
    if (buf_reserve(&c->rep, n) || buf_reserve(&c->def, n))
        return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    for (size_t i = 0; i < n; i++)
        if (put_value(w, c, p + i * size, size, i))
            return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    if (n) { /* a list's column has both kinds of level */
        c->rep.p[c->rep.len] = 0;
        memset(c->rep.p + c->rep.len + 1, 1, n - 1);
        c->rep.len += n;
        memset(c->def.p + c->def.len, c->max_def, n);
        c->def.len += n;
        c->n_levels += n;
        u->count = (uint32_t)n;
    }
    return pq_list_end(w, node);
}

int pq_set_list_i64(pq_writer *w, int node, const int64_t *v, size_t n) {
    return set_list(w, node, PQ_INT64, v, n, 8, "pq_set_list_i64");
}
int pq_set_list_i32(pq_writer *w, int node, const int32_t *v, size_t n) {
    return set_list(w, node, PQ_INT32, v, n, 4, "pq_set_list_i32");
}
int pq_set_list_double(pq_writer *w, int node, const double *v, size_t n) {
    return set_list(w, node, PQ_DOUBLE, v, n, 8, "pq_set_list_double");
}

/* --- maps */

int pq_map_begin(pq_writer *w, int node) {
    int rc = check_node(w, node, N_MAP, "pq_map_begin");
    if (rc)
        return rc;
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_begin: already set in this row");
    if ((rc = touch(w, node, "pq_map_begin")))
        return rc;
    if (lazy_catch_up(w, node))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_map_begin: out of memory");
    w->state[node] = S_OPEN;
    w->u[node].count = 0;
    return PQ_OK;
}

int pq_map_put(pq_writer *w, int node, const void *key, size_t klen, const void *value,
               size_t vlen) {
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_MAP)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_put: not a map");
    if (w->state[node] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_put: map not begun");
    if (!key && klen)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_put: NULL key");
    if (klen > MAX_VALUE_BYTES || vlen > MAX_VALUE_BYTES)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_put: entry too long");
    unode *u = &w->u[node];
    col *k = &w->c[u->col0], *v = &w->c[u->col0 + 1];
    int r = u->count ? 1 : 0;
    if (put_level(k, r, u->dl + 1) || put_value(w, k, key ? key : "", klen, u->count))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_map_put: out of memory");
    if (value ? put_level(v, r, u->dl + 2) || put_value(w, v, value, vlen, u->count)
              : put_level(v, r, u->dl + 1))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_map_put: out of memory");
    u->count++;
    return PQ_OK;
}

int pq_map_end(pq_writer *w, int node) {
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_MAP)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_end: not a map");
    if (w->state[node] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_map_end: map not begun");
    unode *u = &w->u[node];
    if (u->count == 0 &&
        (put_level(&w->c[u->col0], 0, u->dl) || put_level(&w->c[u->col0 + 1], 0, u->dl)))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_map_end: out of memory");
    w->state[node] = S_SET;
    return PQ_OK;
}

/* --- lists of structs */

static int lstruct_check(pq_writer *w, int node, const char *fn) {
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || !w->s->n[node].of_struct)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: not a list of structs", fn);
    if (w->state[node] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: list not begun", fn);
    return PQ_OK;
}

static int lstruct_elem(const pq_writer *w, int list) {
    const snode *g = &w->s->n[w->s->n[list].kids[0]];
    return g->kids[0];
}

/* Closes the open element: fields left unset are null (required ones: an error). */
static int lstruct_close(pq_writer *w, int list, const char *fn) {
    int e = lstruct_elem(w, list);
    if (w->state[e] != S_OPEN)
        return PQ_OK;
    const snode *en = &w->s->n[e];
    int rep = w->u[list].count > 1 ? 1 : 0;
    for (int k = 0; k < en->n_kids; k++) {
        int f = en->kids[k];
        if (w->state[f] == S_UNSET) {
            if (w->s->n[f].rep != REP_OPTIONAL)
                return pq__fail(w, PQ_E_USAGE, true, f, "%s: required field not set", fn);
            col *c = &w->c[w->u[f].col0];
            if (put_level(c, rep, c->max_def - 1))
                return pq__fail(w, PQ_E_NOMEM, true, f, "%s: out of memory", fn);
        }
        w->state[f] = S_UNSET;
    }
    w->state[e] = S_UNSET;
    return PQ_OK;
}

int pq_list_struct_begin(pq_writer *w, int node) {
    int rc = check_node(w, node, N_LIST, "pq_list_struct_begin");
    if (rc)
        return rc;
    if (!w->s->n[node].of_struct)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_struct_begin: not a list of structs");
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node,
                        "pq_list_struct_begin: already set in this row");
    if ((rc = touch(w, node, "pq_list_struct_begin")))
        return rc;
    if (lazy_catch_up(w, node))
        return pq__fail(w, PQ_E_NOMEM, true, node, "pq_list_struct_begin: out of memory");
    w->state[node] = S_OPEN;
    w->u[node].count = 0;
    return PQ_OK;
}

int pq_list_struct_next(pq_writer *w, int node) {
    int rc = lstruct_check(w, node, "pq_list_struct_next");
    if (rc || (rc = lstruct_close(w, node, "pq_list_struct_next")))
        return rc;
    if (w->u[node].count == UINT32_MAX)
        return pq__fail(w, PQ_E_USAGE, false, node, "pq_list_struct_next: too many elements");
    w->u[node].count++;
    w->state[lstruct_elem(w, node)] = S_OPEN;
    return PQ_OK;
}

static int cols_end(pq_writer *w, int node);

int pq_list_struct_end(pq_writer *w, int node) {
    if (!w->err && node > 0 && node < w->s->count && w->s->n[node].of_struct &&
        w->state[node] == S_COLS)
        return cols_end(w, node);
    int rc = lstruct_check(w, node, "pq_list_struct_end");
    if (rc || (rc = lstruct_close(w, node, "pq_list_struct_end")))
        return rc;
    unode *u = &w->u[node];
    if (u->count == 0)
        for (int j = 0; j < u->ncols; j++)
            if (put_level(&w->c[u->col0 + j], 0, u->dl))
                return pq__fail(w, PQ_E_NOMEM, true, node, "pq_list_struct_end: out of memory");
    w->state[node] = S_SET;
    return PQ_OK;
}

int pq_list_struct_set_i64s(pq_writer *w, int field0, const int64_t *v, size_t n,
                            int64_t null_value) {
    const char *fn = "pq_list_struct_set_i64s";
    if (w->err)
        return w->err;
    if (field0 <= 0 || field0 >= w->s->count || n > (size_t)(w->s->count - field0))
        return pq__fail(w, PQ_E_USAGE, false, field0, "%s: no such nodes", fn);
    const snode *n0 = &w->s->n[field0];
    int l = n0->lst, e = n0->parent;
    if (!l || n0->kind != N_LEAF || n0->internal)
        return pq__fail(w, PQ_E_USAGE, false, field0, "%s: not a field of a list of structs", fn);
    if (w->state[l] != S_OPEN || w->state[e] != S_OPEN)
        return pq__fail(w, PQ_E_USAGE, false, field0, "%s: no open element", fn);
    bool known = field0 == w->i64s_f0 && (int)n <= w->i64s_n;
    for (size_t k = 0; k < n; k++) { /* all checked first: a refused call sets nothing */
        int node = field0 + (int)k;
        const snode *nd = &w->s->n[node];
        if (!known && (nd->parent != e || nd->kind != N_LEAF || nd->type != PQ_INT64 ||
                       w->u[node].col0 != w->u[field0].col0 + (int)k))
            return pq__fail(w, PQ_E_USAGE, false, node, "%s: not an INT64 field of the element",
                            fn);
        if (w->state[node] != S_UNSET)
            return pq__fail(w, PQ_E_USAGE, false, node, "%s: already set in this element", fn);
    }
    if (!known) {
        w->i64s_f0 = field0;
        w->i64s_n = (int)n;
    }
    int rep = w->u[l].count > 1 ? 1 : 0;
    size_t pos = w->u[l].count - 1;
    /* the fields' columns are consecutive (one leaf each, in schema order) */
    col *c = &w->c[w->u[field0].col0];
    for (size_t k = 0; k < n; k++, c++) {
        if (v[k] == null_value)
            continue; /* lstruct_close writes the null */
        if (put_level(c, rep, c->max_def) || put_value(w, c, &v[k], 8, pos))
            return pq__fail(w, PQ_E_NOMEM, true, field0 + (int)k, "%s: out of memory", fn);
        w->state[field0 + (int)k] = S_SET;
    }
    return PQ_OK;
}

/* --- lists of structs by column */

int pq_list_struct_cols(pq_writer *w, int node, size_t n) {
    const char *fn = "pq_list_struct_cols";
    int rc = check_node(w, node, N_LIST, fn);
    if (rc)
        return rc;
    if (!w->s->n[node].of_struct)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: not a list of structs", fn);
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: already set in this row", fn);
    if (n > UINT32_MAX)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: too many elements", fn);
    if ((rc = touch(w, node, fn)) || (rc = lazy_catch_up(w, node) ? PQ_E_NOMEM : 0))
        return rc == PQ_E_NOMEM ? pq__fail(w, rc, true, node, "%s: out of memory", fn) : rc;
    w->state[node] = S_COLS;
    w->u[node].count = (uint32_t)n;
    return PQ_OK;
}

/* Reserves the n levels of a whole list in column c and writes its repetition levels (0,
 * then 1 for each further element); the caller writes the n definition levels at
 * c->def.p + c->def.len and adds n to c->def.len. The levels of a LIST<STRUCT> field always
 * have both kinds (the list is repeated, its element defined). Inlined, with a list of up to
 * 16 elements (a file's images) written as two 8-byte stores instead of a call to memset:
 * this runs once per field and row (~20 times a row for the ifds list). */
static inline __attribute__((always_inline)) int cols_reserve(col *c, size_t n) {
    if (buf_reserve(&c->rep, n + 16) || buf_reserve(&c->def, n + 16))
        return -1;
    if (n) {
        uint8_t *r = c->rep.p + c->rep.len;
        if (n <= 16) {
            static const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            memcpy(r, ones, 16); /* past n: inside the reserve, overwritten by the next list */
        } else {
            memset(r, 1, n);
        }
        r[0] = 0;
        c->rep.len += n;
    }
    c->n_levels += n;
    return 0;
}

enum { RD_I32, RD_I64, RD_NAMES };

/* A value read from a list element as int64 (vs: 8 or 4 bytes). */
static inline __attribute__((always_inline)) int64_t fixed_at(const char *p, size_t vs) {
    if (vs == 8) {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The entry + 1 in the first slot dict_index probes for v (a vs-byte value), 0 if that
 * slot is empty or there are no slots yet. Slots hold only this chunk's entries (col_reset
 * clears them), so a non-zero one is an entry below n_dict. */
static inline __attribute__((always_inline)) uint32_t slot_of(const col *c, size_t vs, int64_t v) {
    if (!c->n_slots)
        return 0;
    uint32_t h = hash_fixed(vs == 8 ? (uint64_t)v : (uint64_t)(uint32_t)(int32_t)v);
    return c->slots[h & (c->n_slots - 1)];
}

/* Whether dictionary entry e (a vs-byte PLAIN value) holds v. */
static inline __attribute__((always_inline)) bool fixed_eq(const uint8_t *dict, size_t e, size_t vs,
                                                           int64_t v) {
    return fixed_at((const char *)dict + e * vs, vs) == v;
}

/* Room for n more dictionary indices in c; -1 when out of memory. */
static int grow_idx(col *c, size_t n) {
    size_t cap = c->cap_idx ? c->cap_idx : 256;
    while (cap - c->n_idx < n)
        cap *= 2;
    uint32_t *a = realloc(c->idx, cap * sizeof *a);
    if (!a)
        return -1;
    c->idx = a;
    c->cap_idx = cap;
    return 0;
}

/* Whether the mostly-unique probe of put_index fires for a column whose indices ni0 .. ni - 1
 * were appended by one fixed_dict_col call that started with nd0 dictionary entries: put_index
 * checks, after each index that makes the count a multiple of DICT_PROBE, whether the
 * dictionary then had more than half as many entries. The entries a call adds are numbered
 * from nd0 and each is appended when added, so the count at such a point m is nd0 or one
 * past the largest index among the first m - ni0, whichever is more. Checking after the loop
 * takes the probe out of the per-value path; the outcome (the fall-back at the end of the
 * row) is the same. */
static bool probe_fires(const uint32_t *idx, size_t ni0, size_t ni, size_t nd0, size_t nd) {
    size_t top = nd0, j = ni0;
    for (size_t m = (ni0 / DICT_PROBE + 1) * DICT_PROBE; m <= ni; m += DICT_PROBE) {
        if (nd != nd0)
            for (; j < m; j++)
                if (idx[j] + (size_t)1 > top)
                    top = idx[j] + (size_t)1;
        if (top * 2 > m)
            return true;
    }
    return false;
}

/* set_col's values of an INT64 / INT32 field into a dictionary-encoded column: what
 * put_value and put_index do value by value (the hints, then the hash; the probe for a
 * mostly-unique dictionary at the same counts), with the column's fields held in locals and
 * the indices reserved once for the whole list. The lists of images (ifds) set ~120 values
 * per row this way, most of them hint hits, so the loop is kept to what a hit needs: the
 * definition levels are written all defined first (nulls overwrite theirs), the probe is
 * checked after the loop (probe_fires), and the position hint wraps instead of stopping at
 * the last (a hint is only where to look first). The dictionary sees the values in the same
 * order, so the bytes are the same as the element setters'. Writes the n definition levels
 * at def (cols_reserve leaves 16 bytes spare) and adds n to c->def.len; -1 when out of memory
 * (the levels so far are kept consistent). */
static inline __attribute__((always_inline)) int fixed_dict_col(pq_writer *w, col *c, size_t vs,
                                                                const char *p, size_t stride,
                                                                size_t n, int64_t min,
                                                                uint8_t *def) {
    uint8_t dv = (uint8_t)c->max_def, dn = (uint8_t)(c->max_def - 1);
    if (c->cap_idx - c->n_idx < n && grow_idx(c, n))
        return -1;
    if (n <= 16) {
        uint64_t dvs = 0x0101010101010101ull * dv;
        memcpy(def, &dvs, 8);
        memcpy(def + 8, &dvs, 8);
    } else {
        memset(def, dv, n);
    }
    /* in locals: the stores to def (bytes) could alias any field of c for the compiler */
    uint32_t *idx = c->idx, *hints = c->hint;
    const uint8_t *dict = c->dict.p;
    const size_t ni0 = c->n_idx, nd0 = c->n_dict;
    size_t ni = ni0, nd = nd0;
    uint32_t le = c->last_e, s;
    int rc = 0;
    size_t k = 0;
    for (; k < n; k++, p += stride) {
        int64_t v = fixed_at(p, vs);
        if (v < min) {
            def[k] = dn;
            continue;
        }
        uint32_t *hint = &hints[k & (POS_HINTS - 1)];
        uint32_t he = *hint, e;
        if (he - 1u < nd && fixed_eq(dict, he - 1, vs, v)) { /* he - 1u: he == 0 wraps */
            e = he - 1;
            le = he;
        } else if (le - 1u < nd && fixed_eq(dict, le - 1, vs, v)) {
            e = le - 1;
            *hint = le;
        } else if ((s = slot_of(c, vs, v)) && fixed_eq(dict, s - 1, vs, v)) {
            e = s - 1; /* dict_index's first probe, inlined: the usual way a value is found */
            le = *hint = s;
        } else {
            uint8_t bytes[8];
            if (vs == 8) {
                memcpy(bytes, &v, 8);
            } else {
                int32_t v4 = (int32_t)v;
                memcpy(bytes, &v4, 4);
            }
            int64_t r = dict_index(c, bytes, vs);
            if (r < 0) {
                rc = -1;
                break;
            }
            e = (uint32_t)r;
            le = *hint = e + 1;
            dict = c->dict.p; /* may have grown */
            nd = c->n_dict;
            if (c->dict.len > w->o.dict_max_bytes && !c->fb_pending) {
                c->fb_pending = true;
                w->fb_list[w->n_fb++] = (int)(c - w->c);
            }
        }
        idx[ni++] = e;
    }
    if (!c->fb_pending && probe_fires(idx, ni0, ni, nd0, nd)) {
        c->fb_pending = true;
        w->fb_list[w->n_fb++] = (int)(c - w->c);
    }
    c->n_idx = ni;
    c->last_e = le;
    w->approx += (ni - ni0) * (vs + 4);
    c->def.len += k;
    return rc;
}

/* Field `field` of every element of a list begun by pq_list_struct_cols, into its column c
 * (checked by the caller). Always inlined with a constant `rd`: one loop per kind of value.
 * Values go through put_value with their list position, as the element setters do (the
 * numbers of a dictionary-encoded column through fixed_dict_col, its unrolled copy), so the
 * dictionary sees them in the same order and the bytes are the same. */
TD_HOT int col_fill(pq_writer *w, int field, col *c, int rd, const void *base, size_t stride,
                    size_t n, int64_t min, const char *const *names, size_t n_names,
                    const char *fn) {
    if (cols_reserve(c, n))
        return pq__fail(w, PQ_E_NOMEM, true, field, "%s: out of memory", fn);
    uint8_t *def = c->def.p + c->def.len;
    uint8_t dv = (uint8_t)c->max_def, dn = (uint8_t)(c->max_def - 1);
    if (rd != RD_NAMES && c->dict_on) {
        if (fixed_dict_col(w, c, rd == RD_I64 ? 8 : 4, base, stride, n, min, def))
            return pq__fail(w, PQ_E_NOMEM, true, field, "%s: out of memory", fn);
        w->state[field] = S_SET;
        return PQ_OK;
    }
    const char *p = base;
    for (size_t k = 0; k < n; k++, p += stride) {
        int r;
        if (rd == RD_I64) {
            int64_t v;
            memcpy(&v, p, 8);
            if (v < min) {
                def[k] = dn;
                continue;
            }
            r = put_value(w, c, &v, 8, k);
        } else if (rd == RD_I32) {
            int32_t v;
            memcpy(&v, p, 4);
            if (v < min) {
                def[k] = dn;
                continue;
            }
            r = put_value(w, c, &v, 4, k);
        } else {
            int v;
            memcpy(&v, p, sizeof v);
            const char *s = (unsigned)v < n_names ? names[v] : names[n_names - 1];
            size_t l = strlen(s);
            if (l > MAX_VALUE_BYTES) {
                c->def.len += k; /* the levels so far stay consistent with the values */
                return pq__fail(w, PQ_E_USAGE, true, field, "%s: name of %zu bytes", fn, l);
            }
            r = put_value(w, c, s, l, k);
        }
        if (r) {
            c->def.len += k;
            return pq__fail(w, PQ_E_NOMEM, true, field, "%s: out of memory", fn);
        }
        def[k] = dv;
    }
    c->def.len += n;
    w->state[field] = S_SET;
    return PQ_OK;
}

/* The checks of a field given by column: a leaf of a list begun by pq_list_struct_cols, of
 * type t, not yet set in this row. */
static inline int col_check(pq_writer *w, int field, pq_type t, const char *fn) {
    if (field <= 0 || field >= w->s->count)
        return pq__fail(w, PQ_E_USAGE, false, field, "%s: no such node", fn);
    const snode *nd = &w->s->n[field];
    if (!nd->lst || nd->kind != N_LEAF || nd->internal)
        return pq__fail(w, PQ_E_USAGE, false, field, "%s: not a field of a list of structs", fn);
    if (w->state[nd->lst] != S_COLS)
        return pq__fail(w, PQ_E_USAGE, false, field, "%s: list not begun by pq_list_struct_cols",
                        fn);
    if (nd->type != t)
        return pq__fail(w, PQ_E_USAGE, false, field, "%s on a %s leaf", fn, type_name(nd->type));
    if (w->state[field] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, field, "%s: already set in this row", fn);
    return PQ_OK;
}

/* One field of every element of a list begun by pq_list_struct_cols (the checks made once
 * per field instead of once per value). */
TD_HOT int set_col(pq_writer *w, int field, pq_type t, int rd, const void *base, size_t stride,
                   int64_t min, const char *const *names, size_t n_names, const char *fn) {
    if (w->err)
        return w->err;
    int rc = col_check(w, field, t, fn);
    if (rc)
        return rc;
    size_t n = w->u[w->s->n[field].lst].count;
    if (n && (!base || (rd == RD_NAMES && (!names || !n_names))))
        return pq__fail(w, PQ_E_USAGE, false, field, "%s: NULL values", fn);
    return col_fill(w, field, &w->c[w->u[field].col0], rd, base, stride, n, min, names, n_names,
                    fn);
}

int pq_list_struct_col_i32(pq_writer *w, int field, const void *base, size_t stride, int32_t min) {
    return set_col(w, field, PQ_INT32, RD_I32, base, stride, min, NULL, 0,
                   "pq_list_struct_col_i32");
}
int pq_list_struct_col_i64(pq_writer *w, int field, const void *base, size_t stride, int64_t min) {
    return set_col(w, field, PQ_INT64, RD_I64, base, stride, min, NULL, 0,
                   "pq_list_struct_col_i64");
}
int pq_list_struct_col_names(pq_writer *w, int field, const void *base, size_t stride,
                             const char *const *names, size_t n_names) {
    return set_col(w, field, PQ_BYTE_ARRAY, RD_NAMES, base, stride, 0, names, n_names,
                   "pq_list_struct_col_names");
}

/* nf consecutive INT64 fields in one call (the ifds list's 16 numbers): the checks of all
 * of them first, so that a refused call sets nothing, then each column's values. A call per
 * field cost ~150 instructions before its first value, as much as its values (issue 15). */
int pq_list_struct_col_i64s(pq_writer *w, int field0, int nf, const void *base, size_t stride,
                            int64_t min) {
    const char *fn = "pq_list_struct_col_i64s";
    if (w->err)
        return w->err;
    if (nf <= 0 || field0 <= 0 || field0 >= w->s->count || nf > w->s->count - field0)
        return pq__fail(w, PQ_E_USAGE, false, field0, "%s: no such nodes", fn);
    int l = w->s->n[field0].lst, col0 = w->u[field0].col0, rc;
    for (int k = 0; k < nf; k++) {
        int f = field0 + k;
        if ((rc = col_check(w, f, PQ_INT64, fn)))
            return rc;
        if (w->s->n[f].lst != l || w->u[f].col0 != col0 + k)
            return pq__fail(w, PQ_E_USAGE, false, f, "%s: not consecutive fields of one list", fn);
    }
    size_t n = w->u[l].count;
    if (n && !base)
        return pq__fail(w, PQ_E_USAGE, false, field0, "%s: NULL values", fn);
    for (int k = 0; k < nf; k++)
        if ((rc = col_fill(w, field0 + k, &w->c[col0 + k], RD_I64, (const char *)base + 8 * k,
                           stride, n, min, NULL, 0, fn)))
            return rc;
    return PQ_OK;
}

/* pq_list_struct_end of a list begun by pq_list_struct_cols: the fields not given are null
 * in each of its elements, written as one run per column. */
static int cols_end(pq_writer *w, int node) {
    unode *u = &w->u[node];
    size_t n = u->count;
    const snode *en = &w->s->n[lstruct_elem(w, node)];
    for (int k = 0; k < en->n_kids; k++) {
        int f = en->kids[k];
        if (w->state[f] == S_SET)
            continue;
        if (w->s->n[f].rep != REP_OPTIONAL && n)
            return pq__fail(w, PQ_E_USAGE, true, f, "pq_list_struct_end: required field not set");
        col *c = &w->c[w->u[f].col0];
        if (cols_reserve(c, n))
            return pq__fail(w, PQ_E_NOMEM, true, f, "pq_list_struct_end: out of memory");
        memset(c->def.p + c->def.len, c->max_def - 1, n);
        c->def.len += n;
    }
    if (n == 0)
        for (int j = 0; j < u->ncols; j++)
            if (put_level(&w->c[u->col0 + j], 0, u->dl))
                return pq__fail(w, PQ_E_NOMEM, true, node, "pq_list_struct_end: out of memory");
    w->state[node] = S_SET;
    return PQ_OK;
}

/* ------------------------------------------------------------------ kept lists */

/* Replaying a list's levels and indices is what giving its values again would write: a
 * value's dictionary entry in a chunk is unique, so the lookups of the same values find the
 * same entries, add none, and so never reach the dict_max_bytes check; the mostly-unique
 * probe is checked at the same counts (probe_fires); w->approx grows by the same bytes. It
 * holds while the columns are in the same row group (the dictionaries are reset at a
 * flush) and still dictionary-encoded (a fall-back makes later values PLAIN). */

/* A list of structs or a map: a repeated group of leaves, each a column of its own. */
static bool keepable(const pq_writer *w, int node) {
    if (node <= 0 || node >= w->s->count)
        return false;
    const snode *n = &w->s->n[node];
    return (n->kind == N_LIST && n->of_struct) || n->kind == N_MAP;
}

int pq_keep(pq_writer *w, int node, const void *key, size_t key_len) {
    const char *fn = "pq_keep";
    if (w->err)
        return w->err;
    if (!keepable(w, node))
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: not a list of structs or a map", fn);
    if (w->state[node] != S_SET)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: not ended in this row", fn);
    if (key_len && !key)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: NULL key", fn);
    if (w->o.no_replay)
        return PQ_OK;
    /* When values rarely repeat, keeping each costs more than the replays save: past 64 kept
     * without a replay of this node, one in 16 is kept (a repeating run is still found, a
     * little later) */
    unode *u = &w->u[node];
    uint32_t miss = u->misses;
    u->misses = miss < UINT32_MAX ? miss + 1 : miss;
    size_t L = u->count;
    if (L == 0 || L > PQ_KEPT_MAX || (miss >= 64 && miss % 16))
        return PQ_OK;
    for (int j = 0; j < u->ncols; j++) {
        const col *c = &w->c[u->col0 + j];
        if (!c->dict_on || c->def.len < L || c->max_rep != 1)
            return PQ_OK; /* not kept: only dictionary indices of a list not in a list */
    }
    if (!w->kept && !(w->kept = calloc(PQ_KEPT_LISTS, sizeof *w->kept)))
        return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    pq_kept *k = &w->kept[0];
    for (int i = 1; i < PQ_KEPT_LISTS; i++) /* the least recent (an empty slot: stamp 0) */
        if (w->kept[i].stamp < k->stamp)
            k = &w->kept[i];
    k->node = 0;
    size_t nc = (size_t)u->ncols;
    k->key.len = 0;
    if (buf_reserve(&k->col, nc * sizeof(struct pq_kept_col)) || buf_put(&k->key, key, key_len))
        return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    struct pq_kept_col *kc = (struct pq_kept_col *)(void *)k->col.p;
    size_t approx = 0;
    for (size_t j = 0; j < nc; j++) {
        const col *c = &w->c[(size_t)u->col0 + j];
        const uint8_t *d = c->def.p + c->def.len - L;
        uint32_t nv = 0;
        for (size_t i = 0; i < L; i++)
            nv += d[i] == c->max_def;
        if (c->n_idx < nv)
            return PQ_OK; /* cannot happen: each defined level of a dict column has an index */
        const uint32_t *e = c->idx + c->n_idx - nv;
        if (c->vsize) {
            approx += nv * (c->vsize + 4);
        } else {
            for (uint32_t i = 0; i < nv; i++) {
                uint32_t l;
                memcpy(&l, c->dict.p + c->d_off[e[i]], 4);
                approx += (size_t)l + 4;
            }
        }
        memset(&kc[j], 0, sizeof kc[j]);
        memcpy(kc[j].def, d, L);
        memcpy(kc[j].idx, e, nv * sizeof *e);
        kc[j].nv = nv;
    }
    k->node = node;
    k->rg = w->n_rg;
    k->count = (uint32_t)L;
    k->approx = approx;
    k->stamp = ++w->kept_clock;
    return PQ_OK;
}

int pq_again(pq_writer *w, int node, const void *key, size_t key_len) {
    const char *fn = "pq_again";
    int rc = check_node(w, node, -1, fn);
    if (rc)
        return rc;
    if (!keepable(w, node))
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: not a list of structs or a map", fn);
    if (w->state[node] != S_UNSET)
        return pq__fail(w, PQ_E_USAGE, false, node, "%s: already set in this row", fn);
    if (!w->kept || (key_len && !key))
        return 1;
    pq_kept *k = NULL;
    for (int i = 0; i < PQ_KEPT_LISTS && !k; i++) {
        pq_kept *t = &w->kept[i];
        if (t->node == node && t->rg == w->n_rg && t->key.len == key_len &&
            (key_len == 0 || memcmp(t->key.p, key, key_len) == 0))
            k = t;
    }
    if (!k)
        return 1;
    const unode *u = &w->u[node];
    col *c0 = &w->c[u->col0];
    for (int j = 0; j < u->ncols; j++)
        if (!c0[j].dict_on)
            return 1;
    if ((rc = touch(w, node, fn)) || (rc = lazy_catch_up(w, node) ? PQ_E_NOMEM : 0))
        return rc == PQ_E_NOMEM ? pq__fail(w, rc, true, node, "%s: out of memory", fn) : rc;
    size_t L = k->count;
    const struct pq_kept_col *kc = (const struct pq_kept_col *)(const void *)k->col.p;
    /* fixed-size copies (L <= PQ_KEPT_MAX): the bytes past L and nv land in the reserves
     * (cols_reserve's 16 spare levels, 16 spare indices) and are overwritten by what comes
     * next */
    for (int j = 0; j < u->ncols; j++) {
        col *c = &c0[j];
        uint32_t nv = kc[j].nv;
        if (cols_reserve(c, L) || (c->cap_idx - c->n_idx < PQ_KEPT_MAX && grow_idx(c, PQ_KEPT_MAX)))
            return pq__fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
        memcpy(c->def.p + c->def.len, kc[j].def, PQ_KEPT_MAX);
        c->def.len += L;
        size_t ni0 = c->n_idx;
        memcpy(c->idx + ni0, kc[j].idx, sizeof kc[j].idx);
        c->n_idx = ni0 + nv;
        if ((ni0 ^ c->n_idx) >= DICT_PROBE && !c->fb_pending &&
            probe_fires(c->idx, ni0, c->n_idx, c->n_dict, c->n_dict)) {
            c->fb_pending = true;
            w->fb_list[w->n_fb++] = u->col0 + j;
        }
    }
    w->approx += k->approx;
    w->u[node].count = k->count;
    w->state[node] = S_SET;
    k->stamp = ++w->kept_clock;
    w->u[node].misses = 0;
    return PQ_OK;
}

/* ------------------------------------------------------------------ rows */

int pq_end_row(pq_writer *w) {
    if (w->err)
        return w->err;
    const pq_schema *s = w->s;
    w->present[0] = 1;
    w->pdef[0] = 0;
    for (int k = 0; k < w->n_structs; k++) {
        int id = w->structs[k], p = s->n[id].parent;
        uint8_t st = w->state[id];
        bool req = s->n[id].rep == REP_REQUIRED;
        bool pres = st == S_TOUCHED || (st != S_NULL && req && w->present[p]);
        w->present[id] = pres;
        w->pdef[id] = pres ? w->u[id].full_def : w->pdef[p];
    }
    for (int k = 0; k < w->n_touched; k++) { /* the lazy nodes set in this row */
        uint8_t st = w->state[w->touched[k]];
        if (st == S_OPEN || st == S_COLS)
            return pq__fail(w, PQ_E_USAGE, true, w->touched[k],
                            "pq_end_row: list or map not ended");
    }
    /* the lazy nodes left null count as the levels pq_end_row writes for the others */
    w->approx += w->lazy_ncols - w->touched_ncols;
    w->n_touched = 0;
    w->touched_ncols = 0;
    for (int k = 0; k < w->n_values; k++) {
        const struct vnode *v = &w->values[k];
        uint8_t st = w->state[v->id];
        if (st == S_SET)
            continue;
        if (st == S_OPEN || st == S_COLS)
            return pq__fail(w, PQ_E_USAGE, true, v->id, "pq_end_row: list or map not ended");
        if (v->required && w->present[v->parent])
            return pq__fail(w, PQ_E_USAGE, true, v->id, "pq_end_row: required value not set");
        int d = w->pdef[v->parent];
        col *c = &w->c[v->col0];
        for (int j = 0; j < v->ncols; j++)
            if (put_level(c + j, 0, d))
                return pq__fail(w, PQ_E_NOMEM, true, v->id, "out of memory");
        w->approx += (size_t)v->ncols;
    }
    memset(w->state, 0, (size_t)s->count);
    w->rows++;
    w->rg_rows++;
    for (int i = 0; i < w->n_fb; i++) {
        /* later rows of this chunk go PLAIN; the switch is at a row boundary so that no
         * page mixes encodings */
        col *c = &w->c[w->fb_list[i]];
        c->dict_on = false;
        c->fb_pending = false;
        c->fb_level = c->n_levels;
    }
    w->n_fb = 0;
    if (w->rg_rows >= w->o.row_group_rows || w->approx >= w->o.row_group_bytes)
        return pq__flush_row_group(w);
    return PQ_OK;
}
