/* parquet_internal.h - what the files of src/parquet share (not part of the contract).
 *
 * The writer state (schema nodes, columns, the writer), the byte buffer with its inline
 * appenders, the Thrift compact-protocol writer, and the functions one file calls in
 * another. Every symbol td_parquet defines outside parquet.h starts with pq__.
 */
#ifndef PARQUET_INTERNAL_H
#define PARQUET_INTERNAL_H

#include "parquet.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "parquet stores PLAIN values with memcpy: little-endian hosts only"
#endif

#define PAGE_TARGET_BYTES (1u << 20)    /* data pages are cut near this many value bytes */
#define PAGE_MAX_LEVELS (1u << 20)      /* ... or this many levels (all-null pages) */
#define STAT_MAX_BYTES 1024             /* longer BYTE_ARRAY min/max are not written */
#define MAX_VALUE_BYTES (INT32_MAX / 4) /* one value must fit a page (i32 sizes) */
#define MAX_DICT_BYTES (1u << 30)
#define DICT_PROBE 4096u /* every this many values, a mostly-unique dictionary is dropped */

/* parquet.thrift enums */
enum { T_BOOLEAN = 0, T_INT32 = 1, T_INT64 = 2, T_DOUBLE = 5, T_BYTE_ARRAY = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { CT_UTF8 = 0, CT_MAP = 1, CT_LIST = 3, CT_TIMESTAMP_MILLIS = 9 };
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICT = 2 };
/* compact protocol types */
enum {
    CT_TRUE = 1,
    CT_FALSE = 2,
    CT_I32 = 5,
    CT_I64 = 6,
    CT_BINARY = 8,
    CT_LIST_T = 9,
    CT_STRUCT = 12
};

/* ------------------------------------------------------------------ byte buffers */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

int pq__buf_grow(buf *b, size_t extra); /* parquet.c */
void pq__buf_free(buf *b);

/* The last two distinct levels given to pq__put_levels_cached and the bytes they encoded to,
 * the most recent first. */
typedef struct pq_lvcache {
    struct pq_lvent {
        buf in, out;
        int max; /* 0: empty */
    } e[2];
} pq_lvcache;

/* Inline: they are the per-value appenders of the hot path (parquet_row.c). */
static inline int buf_reserve(buf *b, size_t extra) {
    return b->cap - b->len >= extra ? 0 : pq__buf_grow(b, extra);
}

static inline int buf_put(buf *b, const void *p, size_t n) {
    if (buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int buf_put1(buf *b, uint8_t v) {
    if (b->len == b->cap && pq__buf_grow(b, 1))
        return -1;
    b->p[b->len++] = v;
    return 0;
}

/* ------------------------------------------------------------------ thrift compact writer
 * parquet_thrift.c. Errors (out of memory, nesting too deep) are sticky in t->err. */

typedef struct tw {
    buf *b;
    int16_t last[16];
    int depth;
    int err;
} tw;

static inline uint64_t zz64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void pq__tw_init(tw *t, buf *b);
void pq__tw_byte(tw *t, uint8_t v);
void pq__tw_varint(tw *t, uint64_t v);
void pq__tw_fh(tw *t, int id, int type); /* field header */
void pq__tw_i32f(tw *t, int id, int32_t v);
void pq__tw_i64f(tw *t, int id, int64_t v);
void pq__tw_binf(tw *t, int id, const void *p, size_t n);
void pq__tw_strf(tw *t, int id, const char *s);
void pq__tw_boolf(tw *t, int id, bool v);
void pq__tw_push(tw *t); /* a struct as a list element */
void pq__tw_structf(tw *t, int id);
void pq__tw_end(tw *t); /* stop byte of the current struct */
void pq__tw_list(tw *t, int etype, size_t n);
void pq__tw_listf(tw *t, int id, int etype, size_t n);

/* ------------------------------------------------------------------ schema (parquet_schema.c) */

enum { N_ROOT, N_LEAF, N_STRUCT, N_LIST, N_MAP, N_GROUP /* repeated list/key_value */ };

typedef struct node {
    char *name;
    int parent;
    int kind;
    int rep; /* REP_* */
    pq_type type;
    pq_logical lt;
    bool internal;  /* made by add_list/add_map: not addressable by the user */
    bool of_struct; /* a LIST<STRUCT> node */
    int lst;        /* element struct of a LIST<STRUCT> and its leaves: the list's id */
    int *kids;
    int n_kids, cap_kids;
} snode;

struct pq_schema {
    snode *n;
    int count, cap;
};

static inline int pq__thrift_type(pq_type t) {
    static const int m[] = {T_BOOLEAN, T_INT32, T_INT64, T_DOUBLE, T_BYTE_ARRAY};
    return m[t];
}

/* Dotted path of node id into out (for messages and column paths). */
void pq__node_path(const pq_schema *s, int id, char *out, size_t cap);
/* SchemaElements of node id and its descendants, depth first; counts them in *n_elems. */
void pq__schema_elem(tw *t, const pq_schema *s, int id, int *n_elems);

/* ------------------------------------------------------------------ writer state */

enum {
    S_UNSET = 0,
    S_SET,
    S_NULL,
    S_TOUCHED,
    S_OPEN,
    S_COLS /* a LIST<STRUCT> begun by pq_list_struct_cols: its fields are given by column */
};

enum { POS_HINTS = 16 }; /* list positions with a dictionary hint (col.hint) */
_Static_assert((POS_HINTS & (POS_HINTS - 1)) == 0, "fixed_dict_col wraps with a mask");

typedef struct col {
    int leaf;  /* schema node */
    int owner; /* user node (leaf, list or map) */
    int max_def, max_rep;
    pq_type type;
    size_t vsize; /* fixed PLAIN width, 0 for BYTE_ARRAY */
    bool utf8;    /* a STRING column (leaf, list element, map key or value): values are
                   * checked and bytes that are not UTF-8 escaped (put_value) */
    char *path;   /* dotted, for messages */
    buf def, rep; /* one byte per level */
    size_t n_levels;
    buf plain; /* PLAIN values (bools: one byte each, packed when paged) */
    size_t n_plain;
    /* dictionary of this chunk */
    bool dict_ok, dict_on;
    buf dict;        /* PLAIN-encoded entries */
    uint32_t *d_off; /* entry offset in dict (BYTE_ARRAY) */
    uint32_t *d_hash;
    size_t n_dict, cap_dict;
    uint32_t *slots; /* open addressing, entry index + 1 */
    size_t n_slots;
    uint32_t *idx; /* dictionary indices of the dict-encoded values */
    size_t n_idx, cap_idx;
    size_t fb_level;          /* first level encoded PLAIN after a fall-back, SIZE_MAX if none */
    bool fb_pending;          /* dictionary outgrew dict_max_bytes in this row */
    uint32_t last_e;          /* entry of the previous dictionary-encoded value + 1, 0: none. Tried
                               * before hashing: runs of one value are the common case (the same
                               * compression, tile size, kind in every image and row) */
    uint32_t hint[POS_HINTS]; /* entry + 1 of the value at list position k in an earlier
                               * row (past the last hint, put_value uses the last and
                               * fixed_dict_col wraps): a list's values change along the
                               * list (each image's width) but repeat from row to row at
                               * the same position, where last_e misses every time. Only
                               * where to look first: any entry gives the same bytes */
    /* at flush: the ColumnChunk serialized up to its offset-index fields, and the data
     * page locations for the OffsetIndex */
    buf cmeta;
    struct pageloc {
        uint64_t offset, first_row;
        uint32_t size;
    } * pages;
    size_t n_pages, cap_pages;
} col;

typedef struct unode { /* per schema node */
    int col0, ncols;   /* columns of a user leaf / list / map */
    int def_base;      /* optional structs above */
    int dl;            /* def of an empty list/map, or of a present leaf */
    int elem_def;      /* list: def of a non-null element */
    int full_def;      /* struct: optional structs on the path including itself */
    uint32_t count;    /* elements so far in an open list / map */
    uint32_t misses;   /* pq_keep calls since this node's last replay (pq_again) */
} unode;

/* A list of structs kept for pq_again: what it added to each of its columns
 * (definition levels, dictionary indices) under the caller's key. Lists of up to
 * PQ_KEPT_MAX elements, so that a column is replayed with fixed-size copies. */
enum { PQ_KEPT_LISTS = 8, PQ_KEPT_MAX = 16 };
struct pq_kept_col {
    uint8_t def[PQ_KEPT_MAX];
    uint32_t idx[PQ_KEPT_MAX];
    uint32_t nv; /* of idx */
};
typedef struct pq_kept {
    int node;       /* 0: empty slot */
    size_t rg;      /* w->n_rg when kept: the chunk dictionaries its indices are entries of */
    uint64_t stamp; /* last kept or replayed (the least recent slot is reused) */
    uint32_t count; /* elements */
    size_t approx;  /* what it added to w->approx */
    buf key;
    buf col; /* struct pq_kept_col per column of the list */
} pq_kept;

struct pq_writer {
    const pq_schema *s;
    pq_sink sink;
    pq_options o;
    char *created_by;
    pq_kv *kv;
    int err;
    char msg[512];
    col *c;
    int n_cols;
    unode *u;
    uint8_t *state;
    uint8_t *present;
    int *pdef;
    int *structs, n_structs;
    struct vnode { /* user leaf/list/map nodes, what pq_end_row needs of each in one place */
        int id, parent, col0, ncols;
        bool required;
    } * values;
    int n_values;
    uint8_t *root_leaf; /* per node: type + 1 of a user leaf right below the root, else 0 (the
                         * setters' one-byte check for most values of a row) */
    /* Optional values right below the root ("lazy" nodes) get their null levels late: a
     * null there is repetition and definition 0 in each of its columns, whatever the row,
     * so the rows a node was not set in are written as one run of zeros when it is next
     * set (pq__lazy_catch_up) or when the row group is flushed (pq__lazy_fill_all), and
     * pq_end_row does not visit the ~150 nodes left null in a headers row. values[] holds
     * only the other nodes. */
    uint8_t *lazy;           /* per node: 1 for a lazy node */
    uint64_t *lazy_row;      /* per node: rows of this row group its columns have levels for */
    int *lazy_ids, n_lazy;   /* every lazy node */
    size_t lazy_ncols;       /* their columns, in all */
    int *touched, n_touched; /* lazy nodes set in this row (checked by pq_end_row) */
    size_t touched_ncols;    /* their columns */
    int *fb_list, n_fb;      /* columns whose dictionary outgrew the limit in this row */
    int i64s_f0, i64s_n;     /* the run of fields pq_list_struct_set_i64s last found to be INT64
                              * fields of one element: schema facts, checked once */
    uint64_t rows, rg_rows;
    size_t approx;
    bool started;
    uint64_t pos;                /* bytes written to the sink */
    buf page, comp, hdr, rgmeta; /* scratch, and the serialized RowGroups so far */
    buf esc;                     /* scratch: the escaped copy of a STRING value */
    pq_lvcache lvc[2];           /* repetition, definition levels of the last pages */
    pq_kept *kept;               /* PQ_KEPT_LISTS slots, allocated by the first keep */
    uint64_t kept_clock;
    size_t n_rg;
    ZSTD_CCtx *zc;
};

/* ------------------------------------------------------------------ between the files */

/* parquet.c: sets w->msg (and w->err when sticky); returns code. node INT_MIN: none. */
int pq__fail(pq_writer *w, int code, bool sticky, int node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6), cold));
/* parquet.c: n bytes to the sink, counted in w->pos. */
int pq__emit(pq_writer *w, const void *p, size_t n);
/* parquet.c: writes the buffered row group (pages, offset indexes, RowGroup metadata). */
int pq__flush_row_group(pq_writer *w);

/* parquet_row.c: brings the columns of every lazy node to the rows of the row group (their
 * nulls), before the row group is written; -1 when out of memory. */
int pq__lazy_fill_all(pq_writer *w);

/* parquet_page.c: writes the chunk's pages and serializes its ColumnChunk into c->cmeta,
 * all but the offset-index fields and the stop byte (added once the index is written). */
int pq__write_chunk(pq_writer *w, col *c, int64_t *unc_total, int64_t *comp_total);

/* parquet_enc.c: RLE / bit-packed hybrid streams and PLAIN booleans, appended to b;
 * -1 when out of memory. */
int pq__put_levels(buf *b, const uint8_t *lv, size_t n, int max); /* 4-byte length first */
/* pq__put_levels through a small cache (pq_lvcache) of the last levels encoded and their
 * bytes: the fields of a list of structs (the ifds list: 21 columns) have the same
 * repetition levels, and most of them one of two definition levels (always set, or null
 * where the image has no such tag), page after page, so each is encoded once. */
int pq__put_levels_cached(pq_lvcache *lc, buf *b, const uint8_t *lv, size_t n, int max);
int pq__put_dict_indices(buf *b, const uint32_t *idx, size_t n, size_t n_dict);
int pq__put_bools(buf *b, const uint8_t *v, size_t n); /* one byte per value in */

/* parquet_stats.c: min / max of a column chunk (dictionary entries and PLAIN values). */
typedef struct stats {
    bool has;
    int64_t imin, imax;
    double dmin, dmax;
    const uint8_t *bmin, *bmax;
    size_t lmin, lmax;
} stats;
void pq__chunk_stats(const col *c, stats *s);
/* The PLAIN bytes of s's min or max (tmp holds fixed-width ones). */
void pq__stat_bytes(const col *c, const stats *s, bool max, uint8_t tmp[8], const void **p,
                    size_t *n);

#endif
