/* parquet.c - streaming Parquet writer (see parquet.h).
 *
 * Values and levels are appended to per-column buffers as they are set; a row group is
 * encoded only when it is flushed, so page cuts can be chosen at row boundaries and the
 * dictionary / plain split of a chunk is known. Buffers are kept across row groups.
 * Footer and page headers are Thrift compact protocol, written by hand from parquet.thrift.
 */
#include "parquet.h"

#include <limits.h>
#include <math.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "parquet.c stores PLAIN values with memcpy: little-endian hosts only"
#endif

#define PAGE_TARGET_BYTES (1u << 20) /* data pages are cut near this many value bytes */
#define PAGE_MAX_LEVELS (1u << 20)   /* ... or this many levels (all-null pages) */
#define STAT_MAX_BYTES 1024          /* longer BYTE_ARRAY min/max are not written */
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
enum { CT_TRUE = 1, CT_FALSE = 2, CT_I32 = 5, CT_I64 = 6, CT_BINARY = 8, CT_LIST_T = 9,
       CT_STRUCT = 12 };

const char *pq_err_name(int code)
{
    switch (code) {
#define PQ_X_NAME(name, c, short_name, text) \
    case c:                                  \
        return short_name;
        PQ_ERRNO_MAP(PQ_X_NAME)
#undef PQ_X_NAME
    }
    return "unknown";
}

const char *pq_strerror(int code)
{
    switch (code) {
#define PQ_X_TEXT(name, c, short_name, text) \
    case c:                                  \
        return text;
        PQ_ERRNO_MAP(PQ_X_TEXT)
#undef PQ_X_TEXT
    }
    return "unknown error";
}

/* ------------------------------------------------------------------ byte buffers */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static int buf_grow(buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_reserve(buf *b, size_t extra)
{
    return b->cap - b->len >= extra ? 0 : buf_grow(b, extra);
}

static inline int buf_put(buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int buf_put1(buf *b, uint8_t v)
{
    if (b->len == b->cap && buf_grow(b, 1))
        return -1;
    b->p[b->len++] = v;
    return 0;
}

static void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ thrift compact writer */

typedef struct tw {
    buf *b;
    int16_t last[16];
    int depth;
    int err;
} tw;

static void tw_init(tw *t, buf *b)
{
    t->b = b;
    t->depth = 0;
    t->last[0] = 0;
    t->err = 0;
}

static void tw_byte(tw *t, uint8_t v)
{
    if (buf_put1(t->b, v))
        t->err = 1;
}

static void tw_varint(tw *t, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    if (buf_put(t->b, tmp, n))
        t->err = 1;
}

static uint64_t zz64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static void tw_fh(tw *t, int id, int type)
{
    int d = id - t->last[t->depth];
    if (d > 0 && d <= 15) {
        tw_byte(t, (uint8_t)(d << 4 | type));
    } else {
        tw_byte(t, (uint8_t)type);
        tw_varint(t, zz64(id));
    }
    t->last[t->depth] = (int16_t)id;
}

static void tw_i32f(tw *t, int id, int32_t v)
{
    tw_fh(t, id, CT_I32);
    tw_varint(t, zz64(v));
}
static void tw_i64f(tw *t, int id, int64_t v)
{
    tw_fh(t, id, CT_I64);
    tw_varint(t, zz64(v));
}
static void tw_binf(tw *t, int id, const void *p, size_t n)
{
    tw_fh(t, id, CT_BINARY);
    tw_varint(t, n);
    if (buf_put(t->b, p, n))
        t->err = 1;
}
static void tw_strf(tw *t, int id, const char *s) { tw_binf(t, id, s, strlen(s)); }
static void tw_boolf(tw *t, int id, bool v) { tw_fh(t, id, v ? CT_TRUE : CT_FALSE); }
static void tw_push(tw *t)
{
    if (t->depth + 1 >= (int)(sizeof t->last / sizeof t->last[0])) {
        t->err = 1;
        return;
    }
    t->last[++t->depth] = 0;
}
static void tw_structf(tw *t, int id)
{
    tw_fh(t, id, CT_STRUCT);
    tw_push(t);
}
static void tw_end(tw *t)
{
    tw_byte(t, 0);
    if (t->depth > 0)
        t->depth--;
}
static void tw_list(tw *t, int etype, size_t n)
{
    if (n < 15) {
        tw_byte(t, (uint8_t)(n << 4 | (size_t)etype));
    } else {
        tw_byte(t, (uint8_t)(0xF0 | etype));
        tw_varint(t, n);
    }
}
static void tw_listf(tw *t, int id, int etype, size_t n)
{
    tw_fh(t, id, CT_LIST_T);
    tw_list(t, etype, n);
}

/* ------------------------------------------------------------------ schema */

enum { N_ROOT, N_LEAF, N_STRUCT, N_LIST, N_MAP, N_GROUP /* repeated list/key_value */ };

typedef struct node {
    char *name;
    int parent;
    int kind;
    int rep; /* REP_* */
    pq_type type;
    pq_logical lt;
    bool internal; /* made by add_list/add_map: not addressable by the user */
    int *kids;
    int n_kids, cap_kids;
} snode;

struct pq_schema {
    snode *n;
    int count, cap;
};

pq_schema *pq_schema_new(void)
{
    pq_schema *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n = calloc(16, sizeof *s->n);
    if (!s->n) {
        free(s);
        return NULL;
    }
    s->cap = 16;
    s->count = 1;
    s->n[0].name = NULL; /* written as "schema" */
    s->n[0].kind = N_ROOT;
    s->n[0].parent = -1;
    return s;
}

void pq_schema_free(pq_schema *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++) {
        free(s->n[i].name);
        free(s->n[i].kids);
    }
    free(s->n);
    free(s);
}

static int schema_node(pq_schema *s, int parent, const char *name, int kind, int rep,
                       pq_type type, pq_logical lt, bool internal)
{
    if (s->count == INT_MAX / 2)
        return PQ_E_NOMEM;
    if (s->count == s->cap) {
        snode *n = realloc(s->n, (size_t)s->cap * 2 * sizeof *n);
        if (!n)
            return PQ_E_NOMEM;
        s->n = n;
        s->cap *= 2;
    }
    snode *p = &s->n[parent];
    if (p->n_kids == p->cap_kids) {
        int c = p->cap_kids ? p->cap_kids * 2 : 4;
        int *k = realloc(p->kids, (size_t)c * sizeof *k);
        if (!k)
            return PQ_E_NOMEM;
        p->kids = k;
        p->cap_kids = c;
    }
    char *nm = strdup(name);
    if (!nm)
        return PQ_E_NOMEM;
    int id = s->count++;
    snode *n = &s->n[id];
    memset(n, 0, sizeof *n);
    n->name = nm;
    n->parent = parent;
    n->kind = kind;
    n->rep = rep;
    n->type = type;
    n->lt = lt;
    n->internal = internal;
    s->n[parent].kids[s->n[parent].n_kids++] = id;
    return id;
}

static int check_new(const pq_schema *s, int parent, const char *name)
{
    if (!s || !name || !*name || parent < 0 || parent >= s->count)
        return PQ_E_SCHEMA;
    const snode *p = &s->n[parent];
    if (p->kind != N_ROOT && (p->kind != N_STRUCT || p->internal))
        return PQ_E_SCHEMA;
    for (int i = 0; i < p->n_kids; i++)
        if (strcmp(s->n[p->kids[i]].name, name) == 0)
            return PQ_E_SCHEMA;
    return PQ_OK;
}

static bool type_ok(pq_type t, pq_logical lt)
{
    if ((unsigned)t > PQ_BYTE_ARRAY)
        return false;
    switch (lt) {
    case PQ_LT_NONE:
        return true;
    case PQ_LT_STRING:
        return t == PQ_BYTE_ARRAY;
    case PQ_LT_TIMESTAMP_MILLIS:
        return t == PQ_INT64;
    }
    return false;
}

int pq_schema_add_leaf(pq_schema *s, int parent, const char *name, pq_type type, pq_logical lt,
                       bool optional)
{
    int rc = check_new(s, parent, name);
    if (rc)
        return rc;
    if (!type_ok(type, lt))
        return PQ_E_SCHEMA;
    return schema_node(s, parent, name, N_LEAF, optional ? REP_OPTIONAL : REP_REQUIRED, type,
                       lt, false);
}

int pq_schema_add_struct(pq_schema *s, int parent, const char *name, bool optional)
{
    int rc = check_new(s, parent, name);
    if (rc)
        return rc;
    return schema_node(s, parent, name, N_STRUCT, optional ? REP_OPTIONAL : REP_REQUIRED,
                       PQ_BOOLEAN, PQ_LT_NONE, false);
}

int pq_schema_add_list(pq_schema *s, int parent, const char *name, pq_type elem, pq_logical lt,
                       bool optional_list, bool optional_elements)
{
    int rc = check_new(s, parent, name);
    if (rc)
        return rc;
    if (!type_ok(elem, lt))
        return PQ_E_SCHEMA;
    int l = schema_node(s, parent, name, N_LIST, optional_list ? REP_OPTIONAL : REP_REQUIRED,
                        elem, lt, false);
    if (l < 0)
        return l;
    int g = schema_node(s, l, "list", N_GROUP, REP_REPEATED, elem, lt, true);
    if (g < 0)
        return g;
    int e = schema_node(s, g, "element", N_LEAF,
                        optional_elements ? REP_OPTIONAL : REP_REQUIRED, elem, lt, true);
    return e < 0 ? e : l;
}

int pq_schema_add_map(pq_schema *s, int parent, const char *name, bool optional)
{
    int rc = check_new(s, parent, name);
    if (rc)
        return rc;
    int m = schema_node(s, parent, name, N_MAP, optional ? REP_OPTIONAL : REP_REQUIRED,
                        PQ_BYTE_ARRAY, PQ_LT_STRING, false);
    if (m < 0)
        return m;
    int g = schema_node(s, m, "key_value", N_GROUP, REP_REPEATED, PQ_BYTE_ARRAY, PQ_LT_STRING,
                        true);
    if (g < 0)
        return g;
    int k = schema_node(s, g, "key", N_LEAF, REP_REQUIRED, PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    if (k < 0)
        return k;
    int v = schema_node(s, g, "value", N_LEAF, REP_OPTIONAL, PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    return v < 0 ? v : m;
}

/* ------------------------------------------------------------------ writer state */

enum { S_UNSET = 0, S_SET, S_NULL, S_TOUCHED, S_OPEN };

typedef struct col {
    int leaf;  /* schema node */
    int owner; /* user node (leaf, list or map) */
    int max_def, max_rep;
    pq_type type;
    size_t vsize; /* fixed PLAIN width, 0 for BYTE_ARRAY */
    char *path;   /* dotted, for messages */
    buf def, rep; /* one byte per level */
    size_t n_levels;
    buf plain; /* PLAIN values (bools: one byte each, packed when paged) */
    size_t n_plain;
    /* dictionary of this chunk */
    bool dict_ok, dict_on;
    buf dict;            /* PLAIN-encoded entries */
    uint32_t *d_off;     /* entry offset in dict (BYTE_ARRAY) */
    uint32_t *d_hash;
    size_t n_dict, cap_dict;
    uint32_t *slots; /* open addressing, entry index + 1 */
    size_t n_slots;
    uint32_t *idx; /* dictionary indices of the dict-encoded values */
    size_t n_idx, cap_idx;
    size_t fb_level; /* first level encoded PLAIN after a fall-back, SIZE_MAX if none */
    bool fb_pending; /* dictionary outgrew dict_max_bytes in this row */
    /* at flush: the ColumnChunk serialized up to its offset-index fields, and the data
     * page locations for the OffsetIndex */
    buf cmeta;
    struct pageloc {
        uint64_t offset, first_row;
        uint32_t size;
    } *pages;
    size_t n_pages, cap_pages;
} col;

typedef struct unode { /* per schema node */
    int col0, ncols;   /* columns of a user leaf / list / map */
    int def_base;      /* optional structs above */
    int dl;            /* def of an empty list/map, or of a present leaf */
    int elem_def;      /* list: def of a non-null element */
    int full_def;      /* struct: optional structs on the path including itself */
    uint32_t count;    /* elements so far in an open list / map */
} unode;

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
    int *values, n_values; /* user leaf/list/map nodes */
    int *fb_list, n_fb;    /* columns whose dictionary outgrew the limit in this row */
    uint64_t rows, rg_rows;
    size_t approx;
    bool started;
    uint64_t pos; /* bytes written to the sink */
    buf page, comp, hdr, rgmeta; /* scratch, and the serialized RowGroups so far */
    size_t n_rg;
    ZSTD_CCtx *zc;
};

static void node_path(const pq_schema *s, int id, char *out, size_t cap)
{
    int chain[64], n = 0;
    for (int i = id; i > 0 && n < 64; i = s->n[i].parent)
        chain[n++] = i;
    size_t len = 0;
    out[0] = 0;
    while (n-- > 0 && len + 1 < cap) {
        int k = snprintf(out + len, cap - len, "%s%s", len ? "." : "", s->n[chain[n]].name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

static int fail(pq_writer *w, int code, bool sticky, int node, const char *fmt, ...)
{
    char path[256] = "";
    if (node > 0 && node < w->s->count)
        node_path(w->s, node, path, sizeof path);
    int k = 0;
    if (node > 0)
        k = snprintf(w->msg, sizeof w->msg, "node '%s': ", path);
    else if (node < 0 && node != INT_MIN)
        k = snprintf(w->msg, sizeof w->msg, "node id %d: ", node);
    if (k < 0 || (size_t)k >= sizeof w->msg)
        k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg + k, sizeof w->msg - (size_t)k, fmt, ap);
    va_end(ap);
    if (sticky)
        w->err = code;
    return code;
}

const char *pq_writer_errmsg(const pq_writer *w) { return w ? w->msg : "no writer"; }
uint64_t pq_writer_rows(const pq_writer *w) { return w ? w->rows : 0; }

/* ------------------------------------------------------------------ open / free */

static void col_free(col *c)
{
    free(c->path);
    buf_free(&c->def);
    buf_free(&c->rep);
    buf_free(&c->plain);
    buf_free(&c->dict);
    buf_free(&c->cmeta);
    free(c->pages);
    free(c->d_off);
    free(c->d_hash);
    free(c->slots);
    free(c->idx);
}

static void writer_free(pq_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n_cols; i++)
        col_free(&w->c[i]);
    free(w->c);
    free(w->u);
    free(w->state);
    free(w->present);
    free(w->pdef);
    free(w->structs);
    free(w->values);
    free(w->fb_list);
    free(w->created_by);
    if (w->kv) {
        for (size_t i = 0; i < w->o.n_kv; i++) {
            free((char *)w->kv[i].key);
            free((char *)w->kv[i].value);
        }
        free(w->kv);
    }
    buf_free(&w->page);
    buf_free(&w->comp);
    buf_free(&w->hdr);
    buf_free(&w->rgmeta);
    ZSTD_freeCCtx(w->zc);
    free(w);
}

void pq_writer_abort(pq_writer *w) { writer_free(w); }

/* Depth-first leaf order = column order of the file. */
static int add_cols(pq_writer *w, int id, int owner, int def, int rep)
{
    const snode *n = &w->s->n[id];
    if (n->kind != N_ROOT) {
        if (n->rep == REP_OPTIONAL)
            def++;
        if (n->rep == REP_REPEATED) {
            def++;
            rep++;
        }
    }
    if ((n->kind == N_STRUCT || n->kind == N_LIST || n->kind == N_MAP || n->kind == N_GROUP ||
         n->kind == N_ROOT) &&
        n->n_kids == 0)
        return fail(w, PQ_E_SCHEMA, true, id, "a group needs at least one field");
    if (n->kind == N_LIST || n->kind == N_MAP || (n->kind == N_LEAF && !n->internal))
        owner = id;
    if (n->kind == N_LEAF) {
        col *c = &w->c[w->n_cols++];
        c->leaf = id;
        c->owner = owner;
        c->max_def = def;
        c->max_rep = rep;
        c->type = n->type;
        c->vsize = n->type == PQ_BOOLEAN  ? 1
                   : n->type == PQ_INT32  ? 4
                   : n->type == PQ_BYTE_ARRAY ? 0
                                              : 8;
        c->dict_ok = w->o.dict_max_bytes > 0 &&
                     (n->type == PQ_INT32 || n->type == PQ_INT64 || n->type == PQ_BYTE_ARRAY);
        c->dict_on = c->dict_ok;
        c->fb_level = SIZE_MAX;
        char path[256];
        node_path(w->s, id, path, sizeof path);
        c->path = strdup(path);
        if (!c->path)
            return PQ_E_NOMEM;
        if (w->u[owner].ncols == 0)
            w->u[owner].col0 = w->n_cols - 1;
        w->u[owner].ncols++;
        return PQ_OK;
    }
    for (int i = 0; i < n->n_kids; i++) {
        int rc = add_cols(w, n->kids[i], owner, def, rep);
        if (rc)
            return rc;
    }
    return PQ_OK;
}

int pq_writer_open(pq_writer **out, const pq_schema *s, const pq_sink *sink,
                   const pq_options *opts)
{
    *out = NULL;
    if (!s || !sink || !sink->write)
        return PQ_E_USAGE;
    pq_writer *w = calloc(1, sizeof *w);
    if (!w)
        return PQ_E_NOMEM;
    pq_options def = PQ_OPTIONS_INIT;
    w->o = opts ? *opts : def;
    w->s = s;
    w->sink = *sink;
    int rc = PQ_E_NOMEM;
    if (w->o.codec != PQ_CODEC_NONE && w->o.codec != PQ_CODEC_SNAPPY &&
        w->o.codec != PQ_CODEC_ZSTD) {
        rc = PQ_E_USAGE;
        goto bad;
    }
    if (w->o.zstd_level < 1 || w->o.zstd_level > 22) {
        rc = PQ_E_USAGE;
        goto bad;
    }
    if (w->o.row_group_rows == 0)
        w->o.row_group_rows = 100000;
    if (w->o.row_group_bytes == 0)
        w->o.row_group_bytes = 64u << 20;
    if (w->o.dict_max_bytes > MAX_DICT_BYTES)
        w->o.dict_max_bytes = MAX_DICT_BYTES;
    w->created_by = strdup(w->o.created_by ? w->o.created_by : "tiff-dumper parquet writer");
    if (!w->created_by)
        goto bad;
    if (w->o.n_kv) {
        w->kv = calloc(w->o.n_kv, sizeof *w->kv);
        if (!w->kv)
            goto bad;
        for (size_t i = 0; i < w->o.n_kv; i++) {
            if (!w->o.kv[i].key) {
                w->o.n_kv = i;
                rc = PQ_E_USAGE;
                goto bad;
            }
            w->kv[i].key = strdup(w->o.kv[i].key);
            w->kv[i].value = w->o.kv[i].value ? strdup(w->o.kv[i].value) : NULL;
            if (!w->kv[i].key || (w->o.kv[i].value && !w->kv[i].value)) {
                w->o.n_kv = i + 1;
                goto bad;
            }
        }
    }
    w->o.kv = NULL;
    w->o.created_by = NULL;
    size_t nn = (size_t)s->count;
    int n_leaves = 0;
    for (int i = 0; i < s->count; i++)
        n_leaves += s->n[i].kind == N_LEAF;
    w->c = calloc((size_t)n_leaves + 1, sizeof *w->c);
    w->u = calloc(nn, sizeof *w->u);
    w->state = calloc(nn, 1);
    w->present = calloc(nn, 1);
    w->pdef = calloc(nn, sizeof *w->pdef);
    w->structs = calloc(nn, sizeof *w->structs);
    w->values = calloc(nn, sizeof *w->values);
    w->fb_list = calloc((size_t)n_leaves + 1, sizeof *w->fb_list);
    if (!w->c || !w->u || !w->state || !w->present || !w->pdef || !w->structs || !w->values ||
        !w->fb_list)
        goto bad;
    rc = add_cols(w, PQ_ROOT, 0, 0, 0);
    if (rc)
        goto bad;
    for (int i = 1; i < s->count; i++) {
        const snode *n = &s->n[i];
        unode *u = &w->u[i];
        if (n->internal)
            continue;
        int base = 0;
        for (int p = n->parent; p > 0; p = s->n[p].parent)
            base += s->n[p].rep == REP_OPTIONAL;
        u->def_base = base;
        u->dl = base + (n->rep == REP_OPTIONAL);
        if (n->kind == N_STRUCT) {
            u->full_def = u->dl;
            w->structs[w->n_structs++] = i;
        } else {
            if (n->kind == N_LIST)
                u->elem_def = w->c[u->col0].max_def;
            w->values[w->n_values++] = i;
        }
    }
    if (w->o.codec == PQ_CODEC_ZSTD) {
        w->zc = ZSTD_createCCtx();
        if (!w->zc)
            goto bad;
    }
    *out = w;
    return PQ_OK;
bad:
    writer_free(w);
    return rc;
}

/* ------------------------------------------------------------------ dictionary */

static inline uint32_t hash_bytes(const uint8_t *p, size_t n)
{
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

static const uint8_t *dict_entry(const col *c, size_t e, size_t *len)
{
    if (c->vsize) {
        *len = c->vsize;
        return c->dict.p + e * c->vsize;
    }
    uint32_t l;
    memcpy(&l, c->dict.p + c->d_off[e], 4);
    *len = l;
    return c->dict.p + c->d_off[e] + 4;
}

static int dict_rehash(col *c, size_t n_slots)
{
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

/* Index of the value in the chunk dictionary, adding it if new; -1 on OOM. */
static inline uint32_t hash_fixed(uint64_t k)
{
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32) ^ (uint32_t)k;
}

/* Equality of a dictionary entry and a value; fixed widths compare as integers. */
static inline bool dict_eq(const col *c, size_t e, const void *p, size_t n)
{
    if (c->vsize == 8)
        return memcmp(c->dict.p + e * 8, p, 8) == 0;
    if (c->vsize == 4)
        return memcmp(c->dict.p + e * 4, p, 4) == 0;
    uint32_t l;
    memcpy(&l, c->dict.p + c->d_off[e], 4);
    return l == n && memcmp(c->dict.p + c->d_off[e] + 4, p, n) == 0;
}

static int64_t dict_index(col *c, const void *p, size_t n)
{
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
    for (;;) {
        uint32_t s = c->slots[i];
        if (!s)
            break;
        size_t e = s - 1;
        if (c->d_hash[e] == h && dict_eq(c, e, p, n))
            return (int64_t)e;
        i = (i + 1) & mask;
    }
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

/* ------------------------------------------------------------------ appending */

static inline int put_level(col *c, int rep, int def)
{
    if (c->max_rep && buf_put1(&c->rep, (uint8_t)rep))
        return -1;
    if (c->max_def && buf_put1(&c->def, (uint8_t)def))
        return -1;
    c->n_levels++;
    return 0;
}

static int put_value(pq_writer *w, col *c, const void *p, size_t n)
{
    w->approx += n + 4;
    if (c->dict_on) {
        int64_t e = dict_index(c, p, n);
        if (e < 0)
            return -1;
        if (c->n_idx == c->cap_idx) {
            size_t cap = c->cap_idx ? c->cap_idx * 2 : 256;
            uint32_t *a = realloc(c->idx, cap * sizeof *a);
            if (!a)
                return -1;
            c->idx = a;
            c->cap_idx = cap;
        }
        c->idx[c->n_idx++] = (uint32_t)e;
        /* Past dict_max_bytes, or when most values are new (a dictionary of unique values
         * only adds an indirection and costs hashing): PLAIN from the end of the row. */
        if ((c->dict.len > w->o.dict_max_bytes ||
             ((c->n_idx & (DICT_PROBE - 1)) == 0 && c->n_dict * 2 > c->n_idx)) &&
            !c->fb_pending) {
            c->fb_pending = true;
            w->fb_list[w->n_fb++] = (int)(c - w->c);
        }
        return 0;
    }
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

static const char *type_name(pq_type t)
{
    static const char *const n[] = {"BOOLEAN", "INT32", "INT64", "DOUBLE", "BYTE_ARRAY"};
    return (unsigned)t <= PQ_BYTE_ARRAY ? n[t] : "?";
}

/* Validates that `node` is a user node of `kind` (any value kind when kind < 0). */
static int check_node(pq_writer *w, int node, int kind, const char *fn)
{
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count)
        return fail(w, PQ_E_USAGE, false, node, "%s: no such node", fn);
    const snode *n = &w->s->n[node];
    if (n->internal)
        return fail(w, PQ_E_USAGE, false, node, "%s: internal node of a list or map", fn);
    if (kind >= 0 && n->kind != kind)
        return fail(w, PQ_E_USAGE, false, node, "%s: wrong kind of node", fn);
    return PQ_OK;
}

/* A value below a struct makes the struct present (unless it was set null). */
static int touch(pq_writer *w, int node, const char *fn)
{
    for (int p = w->s->n[node].parent; p > 0; p = w->s->n[p].parent)
        if (w->state[p] == S_NULL)
            return fail(w, PQ_E_USAGE, false, node, "%s: enclosing struct was set null", fn);
    for (int p = w->s->n[node].parent; p > 0 && w->state[p] != S_TOUCHED;
         p = w->s->n[p].parent)
        w->state[p] = S_TOUCHED;
    return PQ_OK;
}

static int set_leaf(pq_writer *w, int node, pq_type t, const void *p, size_t n, const char *fn)
{
    int rc = check_node(w, node, N_LEAF, fn);
    if (rc)
        return rc;
    const snode *nd = &w->s->n[node];
    if (nd->type != t)
        return fail(w, PQ_E_USAGE, false, node, "%s on a %s leaf", fn, type_name(nd->type));
    if (w->state[node] != S_UNSET)
        return fail(w, PQ_E_USAGE, false, node, "%s: already set in this row", fn);
    if (n > MAX_VALUE_BYTES)
        return fail(w, PQ_E_USAGE, false, node, "%s: value of %zu bytes is too long", fn, n);
    if ((rc = touch(w, node, fn)))
        return rc;
    col *c = &w->c[w->u[node].col0];
    if (put_level(c, 0, c->max_def) || put_value(w, c, p, n))
        return fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    w->state[node] = S_SET;
    return PQ_OK;
}

int pq_set_bool(pq_writer *w, int node, bool v)
{
    uint8_t b = v;
    return set_leaf(w, node, PQ_BOOLEAN, &b, 1, "pq_set_bool");
}
int pq_set_i32(pq_writer *w, int node, int32_t v)
{
    return set_leaf(w, node, PQ_INT32, &v, 4, "pq_set_i32");
}
int pq_set_i64(pq_writer *w, int node, int64_t v)
{
    return set_leaf(w, node, PQ_INT64, &v, 8, "pq_set_i64");
}
int pq_set_double(pq_writer *w, int node, double v)
{
    return set_leaf(w, node, PQ_DOUBLE, &v, 8, "pq_set_double");
}
int pq_set_bytes(pq_writer *w, int node, const void *p, size_t len)
{
    if (!p && len)
        return fail(w, PQ_E_USAGE, false, node, "pq_set_bytes: NULL data");
    return set_leaf(w, node, PQ_BYTE_ARRAY, p ? p : "", len, "pq_set_bytes");
}

int pq_set_null(pq_writer *w, int node)
{
    int rc = check_node(w, node, -1, "pq_set_null");
    if (rc)
        return rc;
    const snode *n = &w->s->n[node];
    if (n->rep != REP_OPTIONAL)
        return fail(w, PQ_E_USAGE, false, node, "pq_set_null: node is required");
    if (w->state[node] != S_UNSET)
        return fail(w, PQ_E_USAGE, false, node, "pq_set_null: already set in this row");
    if ((rc = touch(w, node, "pq_set_null")))
        return rc;
    w->state[node] = S_NULL;
    return PQ_OK;
}

/* --- lists */

int pq_list_begin(pq_writer *w, int node)
{
    int rc = check_node(w, node, N_LIST, "pq_list_begin");
    if (rc)
        return rc;
    if (w->state[node] != S_UNSET)
        return fail(w, PQ_E_USAGE, false, node, "pq_list_begin: already set in this row");
    if ((rc = touch(w, node, "pq_list_begin")))
        return rc;
    w->state[node] = S_OPEN;
    w->u[node].count = 0;
    return PQ_OK;
}

static int list_push(pq_writer *w, int node, pq_type t, const void *p, size_t n, const char *fn)
{
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_LIST ||
        w->s->n[node].internal)
        return fail(w, PQ_E_USAGE, false, node, "%s: not a list", fn);
    if (w->state[node] != S_OPEN)
        return fail(w, PQ_E_USAGE, false, node, "%s: list not begun", fn);
    unode *u = &w->u[node];
    col *c = &w->c[u->col0];
    if (!p) { /* null element */
        if (c->max_def == u->dl + 1)
            return fail(w, PQ_E_USAGE, false, node, "%s: elements are required", fn);
        if (put_level(c, u->count ? 1 : 0, u->dl + 1))
            return fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    } else {
        if (c->type != t)
            return fail(w, PQ_E_USAGE, false, node, "%s on a list of %s", fn,
                        type_name(c->type));
        if (n > MAX_VALUE_BYTES)
            return fail(w, PQ_E_USAGE, false, node, "%s: value of %zu bytes is too long", fn,
                        n);
        if (put_level(c, u->count ? 1 : 0, c->max_def) || put_value(w, c, p, n))
            return fail(w, PQ_E_NOMEM, true, node, "%s: out of memory", fn);
    }
    u->count++;
    return PQ_OK;
}

int pq_list_push_null(pq_writer *w, int node)
{
    return list_push(w, node, PQ_BOOLEAN, NULL, 0, "pq_list_push_null");
}
int pq_list_push_bool(pq_writer *w, int node, bool v)
{
    uint8_t b = v;
    return list_push(w, node, PQ_BOOLEAN, &b, 1, "pq_list_push_bool");
}
int pq_list_push_i32(pq_writer *w, int node, int32_t v)
{
    return list_push(w, node, PQ_INT32, &v, 4, "pq_list_push_i32");
}
int pq_list_push_i64(pq_writer *w, int node, int64_t v)
{
    return list_push(w, node, PQ_INT64, &v, 8, "pq_list_push_i64");
}
int pq_list_push_double(pq_writer *w, int node, double v)
{
    return list_push(w, node, PQ_DOUBLE, &v, 8, "pq_list_push_double");
}
int pq_list_push_bytes(pq_writer *w, int node, const void *p, size_t len)
{
    if (!p && len)
        return fail(w, PQ_E_USAGE, false, node, "pq_list_push_bytes: NULL data");
    return list_push(w, node, PQ_BYTE_ARRAY, p ? p : "", len, "pq_list_push_bytes");
}

int pq_list_end(pq_writer *w, int node)
{
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_LIST ||
        w->s->n[node].internal)
        return fail(w, PQ_E_USAGE, false, node, "pq_list_end: not a list");
    if (w->state[node] != S_OPEN)
        return fail(w, PQ_E_USAGE, false, node, "pq_list_end: list not begun");
    unode *u = &w->u[node];
    if (u->count == 0 && put_level(&w->c[u->col0], 0, u->dl))
        return fail(w, PQ_E_NOMEM, true, node, "pq_list_end: out of memory");
    w->state[node] = S_SET;
    return PQ_OK;
}

static int set_list(pq_writer *w, int node, pq_type t, const void *v, size_t n, size_t size,
                    const char *fn)
{
    int rc = check_node(w, node, N_LIST, fn);
    if (rc)
        return rc;
    if (w->c[w->u[node].col0].type != t)
        return fail(w, PQ_E_USAGE, false, node, "%s on a list of %s", fn,
                    type_name(w->c[w->u[node].col0].type));
    if (n && !v)
        return fail(w, PQ_E_USAGE, false, node, "%s: NULL values", fn);
    if ((rc = pq_list_begin(w, node)))
        return rc;
    const uint8_t *p = v;
    for (size_t i = 0; i < n; i++)
        if ((rc = list_push(w, node, t, p + i * size, size, fn)))
            return rc;
    return pq_list_end(w, node);
}

int pq_set_list_i64(pq_writer *w, int node, const int64_t *v, size_t n)
{
    return set_list(w, node, PQ_INT64, v, n, 8, "pq_set_list_i64");
}
int pq_set_list_i32(pq_writer *w, int node, const int32_t *v, size_t n)
{
    return set_list(w, node, PQ_INT32, v, n, 4, "pq_set_list_i32");
}
int pq_set_list_double(pq_writer *w, int node, const double *v, size_t n)
{
    return set_list(w, node, PQ_DOUBLE, v, n, 8, "pq_set_list_double");
}

/* --- maps */

int pq_map_begin(pq_writer *w, int node)
{
    int rc = check_node(w, node, N_MAP, "pq_map_begin");
    if (rc)
        return rc;
    if (w->state[node] != S_UNSET)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_begin: already set in this row");
    if ((rc = touch(w, node, "pq_map_begin")))
        return rc;
    w->state[node] = S_OPEN;
    w->u[node].count = 0;
    return PQ_OK;
}

int pq_map_put(pq_writer *w, int node, const void *key, size_t klen, const void *value,
               size_t vlen)
{
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_MAP)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_put: not a map");
    if (w->state[node] != S_OPEN)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_put: map not begun");
    if (!key && klen)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_put: NULL key");
    if (klen > MAX_VALUE_BYTES || vlen > MAX_VALUE_BYTES)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_put: entry too long");
    unode *u = &w->u[node];
    col *k = &w->c[u->col0], *v = &w->c[u->col0 + 1];
    int r = u->count ? 1 : 0;
    if (put_level(k, r, u->dl + 1) || put_value(w, k, key ? key : "", klen))
        return fail(w, PQ_E_NOMEM, true, node, "pq_map_put: out of memory");
    if (value ? put_level(v, r, u->dl + 2) || put_value(w, v, value, vlen)
              : put_level(v, r, u->dl + 1))
        return fail(w, PQ_E_NOMEM, true, node, "pq_map_put: out of memory");
    u->count++;
    return PQ_OK;
}

int pq_map_end(pq_writer *w, int node)
{
    if (w->err)
        return w->err;
    if (node <= 0 || node >= w->s->count || w->s->n[node].kind != N_MAP)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_end: not a map");
    if (w->state[node] != S_OPEN)
        return fail(w, PQ_E_USAGE, false, node, "pq_map_end: map not begun");
    unode *u = &w->u[node];
    if (u->count == 0 &&
        (put_level(&w->c[u->col0], 0, u->dl) || put_level(&w->c[u->col0 + 1], 0, u->dl)))
        return fail(w, PQ_E_NOMEM, true, node, "pq_map_end: out of memory");
    w->state[node] = S_SET;
    return PQ_OK;
}

/* ------------------------------------------------------------------ RLE / bit-packing */

static int rle_varint(buf *b, uint64_t v)
{
    while (v >= 0x80) {
        if (buf_put1(b, (uint8_t)(v | 0x80)))
            return -1;
        v >>= 7;
    }
    return buf_put1(b, (uint8_t)v);
}

static int bit_width(uint64_t max)
{
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
#define DEFINE_RLE(fname, T)                                                                 \
    static int fname(buf *b, const T *a, size_t n, int bw)                                  \
    {                                                                                        \
        size_t vbytes = ((size_t)bw + 7) / 8;                                                \
        size_t i = 0, lit0 = 0, nlit = 0;                                                    \
        for (;;) {                                                                           \
            size_t j = i, r = 0;                                                             \
            if (i < n) {                                                                     \
                j = i + 1;                                                                   \
                while (j < n && a[j] == a[i])                                                \
                    j++;                                                                     \
                r = j - i;                                                                   \
            }                                                                                \
            if (i < n && r < 8) {                                                            \
                if (!nlit)                                                                   \
                    lit0 = i;                                                                \
                nlit += r;                                                                   \
                i = j;                                                                       \
                continue;                                                                    \
            }                                                                                \
            if (nlit) { /* flush literals, completing the group from the run */              \
                size_t need = i < n ? (8 - nlit % 8) % 8 : 0;                                \
                nlit += need;                                                                \
                i += need;                                                                   \
                r -= need;                                                                   \
                size_t groups = (nlit + 7) / 8;                                              \
                if (rle_varint(b, groups << 1 | 1) || buf_reserve(b, groups * (size_t)bw))   \
                    return -1;                                                               \
                uint64_t acc = 0;                                                            \
                int nb = 0;                                                                  \
                for (size_t k = 0; k < groups * 8; k++) {                                    \
                    uint64_t v = k < nlit ? (uint64_t)a[lit0 + k] : 0;                       \
                    acc |= v << nb;                                                          \
                    nb += bw;                                                                \
                    while (nb >= 8) {                                                        \
                        b->p[b->len++] = (uint8_t)acc;                                       \
                        acc >>= 8;                                                           \
                        nb -= 8;                                                             \
                    }                                                                        \
                }                                                                            \
                nlit = 0;                                                                    \
            }                                                                                \
            if (i >= n)                                                                      \
                break;                                                                       \
            if (r) {                                                                         \
                uint64_t v = (uint64_t)a[i];                                                 \
                if (rle_varint(b, (uint64_t)r << 1) || buf_reserve(b, vbytes))               \
                    return -1;                                                               \
                for (size_t k = 0; k < vbytes; k++)                                          \
                    b->p[b->len++] = (uint8_t)(v >> (8 * k));                                \
            }                                                                                \
            i = j;                                                                           \
        }                                                                                    \
        return 0;                                                                            \
    }
DEFINE_RLE(rle_u8, uint8_t)
DEFINE_RLE(rle_u32, uint32_t)

/* ------------------------------------------------------------------ pages */

typedef struct chunk_acc {
    uint64_t start, data_off, dict_off;
    bool has_dict;
    int64_t unc, comp;
    int n_dict_pages, n_dict_data_pages, n_plain_pages;
} chunk_acc;

static int emit(pq_writer *w, const void *p, size_t n)
{
    if (n && w->sink.write(w->sink.ctx, p, n))
        return fail(w, PQ_E_SINK, true, INT_MIN, "the byte sink failed after %llu bytes",
                    (unsigned long long)w->pos);
    w->pos += n;
    return PQ_OK;
}

/* Compresses w->page and writes header + body. */
static int write_page(pq_writer *w, col *c, chunk_acc *a, int type, size_t num_values, int enc)
{
    const uint8_t *body = w->page.p;
    size_t blen = w->page.len, clen = blen;
    if (blen > INT32_MAX)
        return fail(w, PQ_E_USAGE, true, c->leaf, "page of %zu bytes is too large", blen);
    if (w->o.codec == PQ_CODEC_SNAPPY) {
        size_t cap = snappy_max_compressed_length(blen);
        w->comp.len = 0;
        if (buf_reserve(&w->comp, cap))
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        clen = cap;
        if (snappy_compress((const char *)body, blen, (char *)w->comp.p, &clen) != SNAPPY_OK)
            return fail(w, PQ_E_CODEC, true, c->leaf, "snappy compression failed");
        body = w->comp.p;
    } else if (w->o.codec == PQ_CODEC_ZSTD) {
        size_t cap = ZSTD_compressBound(blen);
        w->comp.len = 0;
        if (buf_reserve(&w->comp, cap))
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        clen = ZSTD_compressCCtx(w->zc, w->comp.p, cap, body, blen, w->o.zstd_level);
        if (ZSTD_isError(clen))
            return fail(w, PQ_E_CODEC, true, c->leaf, "zstd compression failed: %s",
                        ZSTD_getErrorName(clen));
        body = w->comp.p;
    }
    if (clen > INT32_MAX || num_values > INT32_MAX)
        return fail(w, PQ_E_USAGE, true, c->leaf, "page too large");
    w->hdr.len = 0;
    tw t;
    tw_init(&t, &w->hdr);
    tw_i32f(&t, 1, type);
    tw_i32f(&t, 2, (int32_t)blen);
    tw_i32f(&t, 3, (int32_t)clen);
    if (type == PAGE_DATA) {
        tw_structf(&t, 5);
        tw_i32f(&t, 1, (int32_t)num_values);
        tw_i32f(&t, 2, enc);
        tw_i32f(&t, 3, ENC_RLE);
        tw_i32f(&t, 4, ENC_RLE);
        tw_end(&t);
    } else {
        tw_structf(&t, 7);
        tw_i32f(&t, 1, (int32_t)num_values);
        tw_i32f(&t, 2, ENC_PLAIN);
        tw_boolf(&t, 3, false);
        tw_end(&t);
    }
    tw_byte(&t, 0);
    if (t.err)
        return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    if (type == PAGE_DICT) {
        a->dict_off = w->pos;
        a->has_dict = true;
    } else if (a->data_off == UINT64_MAX) {
        a->data_off = w->pos;
    }
    int rc = emit(w, w->hdr.p, w->hdr.len);
    if (!rc)
        rc = emit(w, body, clen);
    a->unc += (int64_t)(w->hdr.len + blen);
    a->comp += (int64_t)(w->hdr.len + clen);
    return rc;
}

static int put_levels(buf *b, const uint8_t *lv, size_t n, int max)
{
    size_t at = b->len;
    uint32_t z = 0;
    if (buf_put(b, &z, 4) || rle_u8(b, lv, n, bit_width((uint64_t)max)))
        return -1;
    uint32_t len = (uint32_t)(b->len - at - 4);
    memcpy(b->p + at, &len, 4);
    return 0;
}

/* One data page of levels [l0, l1): values are idx[v0..v0+nv) (dict) or the PLAIN bytes
 * [b0, b1) holding nv values. */
static int data_page(pq_writer *w, col *c, chunk_acc *a, size_t l0, size_t l1, bool dict,
                     size_t v0, size_t nv, size_t b0, size_t b1, uint64_t first_row)
{
    if (c->n_pages == c->cap_pages) {
        size_t cap = c->cap_pages ? c->cap_pages * 2 : 16;
        struct pageloc *pl = realloc(c->pages, cap * sizeof *pl);
        if (!pl)
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        c->pages = pl;
        c->cap_pages = cap;
    }
    buf *p = &w->page;
    p->len = 0;
    if ((c->max_rep && put_levels(p, c->rep.p + l0, l1 - l0, c->max_rep)) ||
        (c->max_def && put_levels(p, c->def.p + l0, l1 - l0, c->max_def)))
        return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    if (dict) {
        int bw = bit_width(c->n_dict ? c->n_dict - 1 : 0);
        if (bw == 0)
            bw = 1;
        if (buf_put1(p, (uint8_t)bw) || rle_u32(p, c->idx + v0, nv, bw))
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    } else if (c->type == PQ_BOOLEAN) {
        if (buf_reserve(p, (nv + 7) / 8))
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        uint8_t acc = 0;
        for (size_t i = 0; i < nv; i++) {
            acc |= (uint8_t)((c->plain.p[b0 + i] & 1) << (i & 7));
            if ((i & 7) == 7 || i + 1 == nv) {
                p->p[p->len++] = acc;
                acc = 0;
            }
        }
    } else if (buf_put(p, c->plain.p + b0, b1 - b0)) {
        return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    }
    if (dict)
        a->n_dict_data_pages++;
    else
        a->n_plain_pages++;
    uint64_t at = w->pos;
    int rc = write_page(w, c, a, PAGE_DATA, l1 - l0, dict ? ENC_RLE_DICTIONARY : ENC_PLAIN);
    if (!rc) {
        if (w->pos - at > UINT32_MAX)
            return fail(w, PQ_E_USAGE, true, c->leaf, "page too large");
        c->pages[c->n_pages++] = (struct pageloc){at, first_row, (uint32_t)(w->pos - at)};
    }
    return rc;
}

/* Pages of levels [l0, l1), cut at row starts near PAGE_TARGET_BYTES. *vi / *bi: next value
 * index (dict) or plain byte offset. */
static int page_run(pq_writer *w, col *c, chunk_acc *a, size_t l0, size_t l1, bool dict,
                    size_t *vi, size_t *bi, int64_t *nulls, uint64_t *row)
{
    size_t start = l0, pv = *vi, pb = *bi, v = *vi, b = *bi, est = 0;
    uint64_t prow = *row, r = *row; /* rows started before level i / before the page */
    size_t vbytes = dict ? 2 : c->vsize ? c->vsize : 0;
    for (size_t i = l0; i < l1; i++) {
        if (i > start && (!c->max_rep || c->rep.p[i] == 0) &&
            (est >= PAGE_TARGET_BYTES || i - start >= PAGE_MAX_LEVELS)) {
            int rc = data_page(w, c, a, start, i, dict, pv, v - pv, pb, b, prow);
            if (rc)
                return rc;
            start = i;
            pv = v;
            pb = b;
            prow = r;
            est = 0;
        }
        if (!c->max_rep || c->rep.p[i] == 0)
            r++;
        if (!c->max_def || c->def.p[i] == c->max_def) {
            v++;
            if (dict) {
                est += vbytes;
            } else if (vbytes) {
                b += vbytes;
                est += vbytes;
            } else {
                uint32_t l;
                memcpy(&l, c->plain.p + b, 4);
                b += 4 + (size_t)l;
                est += 4 + (size_t)l;
            }
        } else {
            (*nulls)++;
        }
    }
    if (l1 > start) {
        int rc = data_page(w, c, a, start, l1, dict, pv, v - pv, pb, b, prow);
        if (rc)
            return rc;
    }
    *vi = v;
    *bi = b;
    *row = r;
    return PQ_OK;
}

/* --- statistics */

typedef struct stats {
    bool has;
    int64_t imin, imax;
    double dmin, dmax;
    const uint8_t *bmin, *bmax;
    size_t lmin, lmax;
} stats;

static int bcmp_u(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
    int r = memcmp(a, b, la < lb ? la : lb);
    if (r)
        return r;
    return la < lb ? -1 : la > lb;
}

static void stat_add(const col *c, stats *s, const uint8_t *p, size_t n)
{
    switch (c->type) {
    case PQ_BOOLEAN:
    case PQ_INT32:
    case PQ_INT64: {
        int64_t v;
        if (c->type == PQ_BOOLEAN) {
            v = p[0] & 1;
        } else if (c->type == PQ_INT32) {
            int32_t x;
            memcpy(&x, p, 4);
            v = x;
        } else {
            memcpy(&v, p, 8);
        }
        if (!s->has || v < s->imin)
            s->imin = v;
        if (!s->has || v > s->imax)
            s->imax = v;
        s->has = true;
        break;
    }
    case PQ_DOUBLE: {
        double d;
        memcpy(&d, p, 8);
        if (isnan(d))
            return;
        if (!s->has || d < s->dmin)
            s->dmin = d;
        if (!s->has || d > s->dmax)
            s->dmax = d;
        s->has = true;
        break;
    }
    case PQ_BYTE_ARRAY:
        if (!s->has || bcmp_u(p, n, s->bmin, s->lmin) < 0) {
            s->bmin = p;
            s->lmin = n;
        }
        if (!s->has || bcmp_u(p, n, s->bmax, s->lmax) > 0) {
            s->bmax = p;
            s->lmax = n;
        }
        s->has = true;
        break;
    }
}

static void chunk_stats(const col *c, stats *s)
{
    memset(s, 0, sizeof *s);
    for (size_t e = 0; e < c->n_dict; e++) {
        size_t n;
        const uint8_t *p = dict_entry(c, e, &n);
        stat_add(c, s, p, n);
    }
    const uint8_t *p = c->plain.p, *end = c->plain.p + c->plain.len;
    while (p && p < end) {
        if (c->vsize) {
            stat_add(c, s, p, c->vsize);
            p += c->vsize;
        } else {
            uint32_t l;
            memcpy(&l, p, 4);
            stat_add(c, s, p + 4, l);
            p += 4 + (size_t)l;
        }
    }
    if (s->has && c->type == PQ_DOUBLE) {
        /* spec: a zero min is written as -0.0 and a zero max as +0.0 */
        if (s->dmin == 0.0)
            s->dmin = -0.0;
        if (s->dmax == 0.0)
            s->dmax = 0.0;
    }
}

static void stat_bytes(const col *c, const stats *s, bool max, uint8_t tmp[8], const void **p,
                       size_t *n)
{
    switch (c->type) {
    case PQ_BOOLEAN:
        tmp[0] = (uint8_t)(max ? s->imax : s->imin);
        *p = tmp;
        *n = 1;
        break;
    case PQ_INT32: {
        int32_t v = (int32_t)(max ? s->imax : s->imin);
        memcpy(tmp, &v, 4);
        *p = tmp;
        *n = 4;
        break;
    }
    case PQ_INT64:
        memcpy(tmp, max ? &s->imax : &s->imin, 8);
        *p = tmp;
        *n = 8;
        break;
    case PQ_DOUBLE:
        memcpy(tmp, max ? &s->dmax : &s->dmin, 8);
        *p = tmp;
        *n = 8;
        break;
    case PQ_BYTE_ARRAY:
        *p = max ? s->bmax : s->bmin;
        *n = max ? s->lmax : s->lmin;
        if (!*p)
            *p = "";
        break;
    }
}

static const int pq_to_thrift_type[] = {T_BOOLEAN, T_INT32, T_INT64, T_DOUBLE, T_BYTE_ARRAY};

/* Writes the chunk's pages and serializes its ColumnChunk into c->cmeta, all but the
 * offset-index fields and the stop byte (added once the index is written). */
static int write_chunk(pq_writer *w, col *c, int64_t *unc_total, int64_t *comp_total)
{
    c->cmeta.len = 0;
    c->n_pages = 0;
    tw tt, *t = &tt;
    tw_init(t, &c->cmeta);
    chunk_acc a = {0};
    a.start = w->pos;
    a.data_off = UINT64_MAX;
    int rc;
    bool dict = c->n_idx > 0;
    size_t lb = dict ? (c->fb_level == SIZE_MAX ? c->n_levels : c->fb_level) : 0;
    if (dict) {
        w->page.len = 0;
        if (buf_put(&w->page, c->dict.p, c->dict.len))
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        a.n_dict_pages = 1;
        if ((rc = write_page(w, c, &a, PAGE_DICT, c->n_dict, ENC_PLAIN)))
            return rc;
    }
    int64_t nulls = 0;
    size_t vi = 0, bi = 0;
    uint64_t row = 0;
    if (lb > 0 && (rc = page_run(w, c, &a, 0, lb, true, &vi, &bi, &nulls, &row)))
        return rc;
    vi = bi = 0;
    if (c->n_levels > lb &&
        (rc = page_run(w, c, &a, lb, c->n_levels, false, &vi, &bi, &nulls, &row)))
        return rc;
    if (a.data_off == UINT64_MAX) /* no levels at all cannot happen with rows > 0 */
        a.data_off = w->pos;

    stats st;
    chunk_stats(c, &st);
    if (c->type == PQ_BYTE_ARRAY && (st.lmin > STAT_MAX_BYTES || st.lmax > STAT_MAX_BYTES))
        st.has = false;

    tw_i64f(t, 2, (int64_t)a.start); /* ColumnChunk, an element of RowGroup.columns */
    tw_structf(t, 3);
    tw_i32f(t, 1, pq_to_thrift_type[c->type]);
    int encs[3], ne = 0;
    if (dict || a.n_plain_pages)
        encs[ne++] = ENC_PLAIN;
    if (c->max_def || c->max_rep)
        encs[ne++] = ENC_RLE;
    if (dict)
        encs[ne++] = ENC_RLE_DICTIONARY;
    tw_listf(t, 2, CT_I32, (size_t)ne);
    for (int i = 0; i < ne; i++)
        tw_varint(t, zz64(encs[i]));
    int chain[64], depth = 0;
    for (int i = c->leaf; i > 0 && depth < 64; i = w->s->n[i].parent)
        chain[depth++] = i;
    tw_listf(t, 3, CT_BINARY, (size_t)depth);
    while (depth-- > 0) {
        const char *nm = w->s->n[chain[depth]].name;
        tw_varint(t, strlen(nm));
        if (buf_put(t->b, nm, strlen(nm)))
            t->err = 1;
    }
    static const int codec_id[] = {0, 1, 6};
    tw_i32f(t, 4, codec_id[w->o.codec]);
    tw_i64f(t, 5, (int64_t)c->n_levels);
    tw_i64f(t, 6, a.unc);
    tw_i64f(t, 7, a.comp);
    tw_i64f(t, 9, (int64_t)a.data_off);
    if (a.has_dict)
        tw_i64f(t, 11, (int64_t)a.dict_off);
    tw_structf(t, 12);
    tw_i64f(t, 3, nulls);
    if (st.has) {
        uint8_t tmin[8], tmax[8];
        const void *pmin = "", *pmax = "";
        size_t nmin = 0, nmax = 0;
        stat_bytes(c, &st, false, tmin, &pmin, &nmin);
        stat_bytes(c, &st, true, tmax, &pmax, &nmax);
        tw_binf(t, 5, pmax, nmax);
        tw_binf(t, 6, pmin, nmin);
        tw_boolf(t, 7, true);
        tw_boolf(t, 8, true);
    }
    tw_end(t);
    int n_es = (a.n_dict_pages > 0) + (a.n_dict_data_pages > 0) + (a.n_plain_pages > 0);
    tw_listf(t, 13, CT_STRUCT, (size_t)n_es);
    struct {
        int type, enc, count;
    } es[3] = {{PAGE_DICT, ENC_PLAIN, a.n_dict_pages},
               {PAGE_DATA, ENC_RLE_DICTIONARY, a.n_dict_data_pages},
               {PAGE_DATA, ENC_PLAIN, a.n_plain_pages}};
    for (int i = 0; i < 3; i++) {
        if (!es[i].count)
            continue;
        tw_push(t);
        tw_i32f(t, 1, es[i].type);
        tw_i32f(t, 2, es[i].enc);
        tw_i32f(t, 3, es[i].count);
        tw_end(t);
    }
    tw_end(t); /* meta_data */
    if (t->err)
        return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    *unc_total += a.unc;
    *comp_total += a.comp;
    return PQ_OK;
}

static void col_reset(col *c)
{
    c->def.len = c->rep.len = c->plain.len = c->dict.len = 0;
    c->n_levels = c->n_plain = c->n_dict = c->n_idx = 0;
    if (c->slots)
        memset(c->slots, 0, c->n_slots * sizeof *c->slots);
    c->dict_on = c->dict_ok;
    c->fb_level = SIZE_MAX;
}

static int flush_row_group(pq_writer *w)
{
    if (w->rg_rows == 0)
        return PQ_OK;
    int rc;
    if (!w->started) {
        if ((rc = emit(w, "PAR1", 4)))
            return rc;
        w->started = true;
    }
    uint64_t rg_start = w->pos;
    int64_t unc = 0, comp = 0;
    for (int i = 0; i < w->n_cols; i++)
        if ((rc = write_chunk(w, &w->c[i], &unc, &comp)))
            return rc;
    /* OffsetIndex of every chunk, after the row group's data */
    tw t;
    for (int i = 0; i < w->n_cols; i++) {
        col *c = &w->c[i];
        w->hdr.len = 0;
        tw_init(&t, &w->hdr);
        tw_listf(&t, 1, CT_STRUCT, c->n_pages);
        for (size_t k = 0; k < c->n_pages; k++) {
            tw_push(&t);
            tw_i64f(&t, 1, (int64_t)c->pages[k].offset);
            tw_i32f(&t, 2, (int32_t)c->pages[k].size);
            tw_i64f(&t, 3, (int64_t)c->pages[k].first_row);
            tw_end(&t);
        }
        tw_byte(&t, 0);
        if (t.err)
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        uint64_t at = w->pos;
        if ((rc = emit(w, w->hdr.p, w->hdr.len)))
            return rc;
        /* complete the ColumnChunk: its last field so far is 3 (meta_data) */
        tw_init(&t, &c->cmeta);
        t.last[0] = 3;
        tw_i64f(&t, 4, (int64_t)at);
        tw_i32f(&t, 5, (int32_t)w->hdr.len);
        tw_byte(&t, 0);
        if (t.err)
            return fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    }
    /* RowGroup: a list element, serialized now, listed at close */
    tw_init(&t, &w->rgmeta);
    tw_listf(&t, 1, CT_STRUCT, (size_t)w->n_cols);
    for (int i = 0; i < w->n_cols; i++)
        if (buf_put(&w->rgmeta, w->c[i].cmeta.p, w->c[i].cmeta.len))
            t.err = 1;
    tw_i64f(&t, 2, unc);
    tw_i64f(&t, 3, (int64_t)w->rg_rows);
    tw_i64f(&t, 5, (int64_t)rg_start);
    tw_i64f(&t, 6, comp);
    if (w->n_rg < INT16_MAX)
        tw_fh(&t, 7, 4), tw_varint(&t, zz64((int64_t)w->n_rg));
    tw_byte(&t, 0);
    if (t.err)
        return fail(w, PQ_E_NOMEM, true, INT_MIN, "out of memory");
    w->n_rg++;
    for (int i = 0; i < w->n_cols; i++)
        col_reset(&w->c[i]);
    w->rg_rows = 0;
    w->approx = 0;
    return PQ_OK;
}

/* ------------------------------------------------------------------ rows */

int pq_end_row(pq_writer *w)
{
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
    for (int k = 0; k < w->n_values; k++) {
        int id = w->values[k];
        uint8_t st = w->state[id];
        if (st == S_SET)
            continue;
        if (st == S_OPEN)
            return fail(w, PQ_E_USAGE, true, id, "pq_end_row: list or map not ended");
        int p = s->n[id].parent;
        if (s->n[id].rep == REP_REQUIRED && w->present[p])
            return fail(w, PQ_E_USAGE, true, id, "pq_end_row: required value not set");
        const unode *u = &w->u[id];
        for (int j = 0; j < u->ncols; j++)
            if (put_level(&w->c[u->col0 + j], 0, w->pdef[p]))
                return fail(w, PQ_E_NOMEM, true, id, "out of memory");
        w->approx += (size_t)u->ncols;
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
        return flush_row_group(w);
    return PQ_OK;
}

/* ------------------------------------------------------------------ footer */

static void schema_elem(tw *t, const pq_schema *s, int id, int *n_elems)
{
    const snode *n = &s->n[id];
    tw_push(t);
    if (n->kind == N_LEAF)
        tw_i32f(t, 1, pq_to_thrift_type[n->type]);
    if (n->kind != N_ROOT)
        tw_i32f(t, 3, n->rep);
    tw_strf(t, 4, n->kind == N_ROOT ? "schema" : n->name);
    if (n->kind != N_LEAF)
        tw_i32f(t, 5, n->n_kids);
    int ct = -1, lt = 0;
    if (n->kind == N_LIST) {
        ct = CT_LIST;
        lt = 3;
    } else if (n->kind == N_MAP) {
        ct = CT_MAP;
        lt = 2;
    } else if (n->kind == N_LEAF && n->lt == PQ_LT_STRING) {
        ct = CT_UTF8;
        lt = 1;
    } else if (n->kind == N_LEAF && n->lt == PQ_LT_TIMESTAMP_MILLIS) {
        ct = CT_TIMESTAMP_MILLIS;
        lt = 8;
    }
    if (ct >= 0)
        tw_i32f(t, 6, ct);
    if (lt) {
        tw_structf(t, 10); /* LogicalType union */
        tw_structf(t, lt);
        if (lt == 8) { /* TimestampType */
            tw_boolf(t, 1, true);
            tw_structf(t, 2); /* TimeUnit */
            tw_structf(t, 1); /* MILLIS */
            tw_end(t);
            tw_end(t);
        }
        tw_end(t);
        tw_end(t);
    }
    tw_end(t);
    (*n_elems)++;
    for (int i = 0; i < n->n_kids; i++)
        schema_elem(t, s, n->kids[i], n_elems);
}

static int write_footer(pq_writer *w)
{
    buf *b = &w->page;
    b->len = 0;
    tw t;
    tw_init(&t, b);
    tw_i32f(&t, 1, 1);
    tw_listf(&t, 2, CT_STRUCT, (size_t)w->s->count);
    int n_elems = 0;
    schema_elem(&t, w->s, PQ_ROOT, &n_elems);
    tw_i64f(&t, 3, (int64_t)w->rows);
    tw_listf(&t, 4, CT_STRUCT, w->n_rg);
    if (buf_put(b, w->rgmeta.p, w->rgmeta.len))
        t.err = 1;
    if (w->o.n_kv) {
        tw_listf(&t, 5, CT_STRUCT, w->o.n_kv);
        for (size_t i = 0; i < w->o.n_kv; i++) {
            tw_push(&t);
            tw_strf(&t, 1, w->kv[i].key);
            if (w->kv[i].value)
                tw_strf(&t, 2, w->kv[i].value);
            tw_end(&t);
        }
    }
    tw_strf(&t, 6, w->created_by);
    tw_listf(&t, 7, CT_STRUCT, (size_t)w->n_cols);
    for (int i = 0; i < w->n_cols; i++) {
        tw_push(&t);
        tw_structf(&t, 1); /* TYPE_ORDER */
        tw_end(&t);
        tw_end(&t);
    }
    tw_byte(&t, 0);
    if (t.err || b->len > UINT32_MAX)
        return fail(w, PQ_E_NOMEM, true, INT_MIN, "out of memory writing the footer");
    uint32_t len = (uint32_t)b->len;
    int rc = emit(w, b->p, b->len);
    if (!rc)
        rc = emit(w, &len, 4);
    if (!rc)
        rc = emit(w, "PAR1", 4);
    return rc;
}

int pq_writer_close(pq_writer *w)
{
    if (!w)
        return PQ_E_USAGE;
    int rc = w->err;
    if (!rc) {
        for (int i = 1; i < w->s->count; i++)
            if (w->state[i] != S_UNSET) {
                rc = PQ_E_USAGE; /* a started row is dropped, but say so */
                break;
            }
    }
    if (!rc)
        rc = flush_row_group(w);
    if (!rc && !w->started) {
        rc = emit(w, "PAR1", 4);
        w->started = true;
    }
    if (!rc)
        rc = write_footer(w);
    writer_free(w);
    return rc;
}
