/* parquet_read.c - the reader's file level: the Thrift compact-protocol reader, the footer
 * (FileMetaData: schema, row groups, column chunk locations, key-value metadata) and the
 * schema tree flattened into leaves with their max definition / repetition levels.
 *
 * Every count and length comes from the file, so each is checked before use: list counts
 * against the bytes left in the footer (an element takes at least one byte), offsets and
 * sizes against the file size, nesting against fixed depths.
 */
#include "parquet_read_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pqr_strerror(int code) {
    switch (code) {
    case PQR_OK:
        return "ok";
    case PQR_E_IO:
        return "read failed";
    case PQR_E_FORMAT:
        return "not a valid Parquet file";
    case PQR_E_UNSUPPORTED:
        return "unsupported Parquet feature";
    case PQR_E_LIMIT:
        return "size beyond the reader's limits";
    case PQR_E_NOMEM:
        return "out of memory";
    case PQR_E_USAGE:
        return "bad argument";
    }
    return "unknown error";
}

void pqr__msg(char *msg, size_t cap, uint64_t off, const char *fmt, ...) {
    if (!msg || !cap)
        return;
    int k = snprintf(msg, cap, "at offset %" PRIu64 ": ", off);
    if (k < 0 || (size_t)k >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + k, cap - (size_t)k, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ Thrift compact reader */

enum {
    TC_TRUE = 1,
    TC_FALSE = 2,
    TC_BYTE = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12
};

void pqr__tr_init(tr *t, const uint8_t *p, size_t n, uint64_t base_off) {
    memset(t, 0, sizeof *t);
    t->p = t->start = p;
    t->end = p + n;
    t->base_off = base_off;
}

uint64_t pqr__tr_off(const tr *t) { return t->base_off + (uint64_t)(t->p - t->start); }

static void tr_fail(tr *t, bool eof, const char *why) {
    if (t->err)
        return;
    t->err = PQR_E_FORMAT;
    t->eof = eof;
    snprintf(t->why, sizeof t->why, "%s", why);
}

static uint8_t tr_byte(tr *t) {
    if (t->err)
        return 0;
    if (t->p >= t->end) {
        tr_fail(t, true, "metadata truncated");
        return 0;
    }
    return *t->p++;
}

static uint64_t tr_varint(tr *t) {
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        uint8_t b = tr_byte(t);
        if (t->err)
            return 0;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
    tr_fail(t, false, "varint longer than 10 bytes");
    return 0;
}

static int64_t tr_zz(tr *t) {
    uint64_t v = tr_varint(t);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void pqr__tr_struct(tr *t) {
    if (t->depth >= PQR_THRIFT_DEPTH) {
        tr_fail(t, false, "metadata nested too deeply");
        return;
    }
    t->last[++t->depth] = 0;
}

int pqr__tr_field(tr *t, int *type) {
    uint8_t b = tr_byte(t);
    if (t->err)
        return 0;
    if (b == 0) {
        if (t->depth > 0)
            t->depth--;
        return 0;
    }
    int ty = b & 0x0f, d = b >> 4;
    int64_t id = d ? t->last[t->depth] + d : tr_zz(t);
    if (t->err)
        return 0;
    if (id <= 0 || id > INT16_MAX || ty == 0 || ty > TC_STRUCT) {
        tr_fail(t, false, "bad field header");
        return 0;
    }
    t->last[t->depth] = (int16_t)id;
    if (ty == TC_TRUE || ty == TC_FALSE)
        t->boolv = ty == TC_TRUE;
    *type = ty;
    return (int)id;
}

int64_t pqr__tr_int(tr *t, int type) {
    if (type == TC_BYTE)
        return (int8_t)tr_byte(t);
    if (type == TC_I16 || type == TC_I32 || type == TC_I64)
        return tr_zz(t);
    tr_fail(t, false, "integer field of another type");
    return 0;
}

const uint8_t *pqr__tr_bin(tr *t, int type, size_t *len) {
    *len = 0;
    if (type != TC_BINARY) {
        tr_fail(t, false, "binary field of another type");
        return NULL;
    }
    uint64_t n = tr_varint(t);
    if (t->err)
        return NULL;
    if (n > (uint64_t)(t->end - t->p)) {
        tr_fail(t, true, "binary longer than the metadata");
        return NULL;
    }
    const uint8_t *p = t->p;
    t->p += n;
    *len = (size_t)n;
    return p;
}

size_t pqr__tr_list(tr *t, int type, int *etype) {
    *etype = 0;
    if (type != TC_LIST && type != TC_SET) {
        tr_fail(t, false, "list field of another type");
        return 0;
    }
    uint8_t b = tr_byte(t);
    uint64_t n = b >> 4;
    if (n == 15)
        n = tr_varint(t);
    if (t->err)
        return 0;
    /* every element takes at least one byte: the count cannot exceed the bytes left */
    if (n > (uint64_t)(t->end - t->p)) {
        tr_fail(t, true, "list longer than the metadata");
        return 0;
    }
    *etype = b & 0x0f;
    return (size_t)n;
}

static void skip_depth(tr *t, int type, int depth) {
    if (t->err)
        return;
    if (depth > PQR_THRIFT_DEPTH) {
        tr_fail(t, false, "metadata nested too deeply");
        return;
    }
    switch (type) {
    case TC_TRUE:
    case TC_FALSE:
        return; /* the value is in the field header */
    case TC_BYTE:
        tr_byte(t);
        return;
    case TC_I16:
    case TC_I32:
    case TC_I64:
        tr_varint(t);
        return;
    case TC_DOUBLE:
        for (int i = 0; i < 8; i++)
            tr_byte(t);
        return;
    case TC_BINARY: {
        size_t n;
        pqr__tr_bin(t, type, &n);
        return;
    }
    case TC_LIST:
    case TC_SET: {
        int et;
        size_t n = pqr__tr_list(t, type, &et);
        for (size_t i = 0; i < n && !t->err; i++) {
            if (et == TC_TRUE || et == TC_FALSE)
                tr_byte(t); /* a bool element is one byte */
            else
                skip_depth(t, et, depth + 1);
        }
        return;
    }
    case TC_MAP: {
        uint64_t n = tr_varint(t);
        if (t->err || n == 0)
            return;
        if (n > (uint64_t)(t->end - t->p)) {
            tr_fail(t, true, "map longer than the metadata");
            return;
        }
        uint8_t kv = tr_byte(t);
        for (uint64_t i = 0; i < n && !t->err; i++) {
            int kt = kv >> 4, vt = kv & 0x0f;
            if (kt == TC_TRUE || kt == TC_FALSE)
                tr_byte(t);
            else
                skip_depth(t, kt, depth + 1);
            if (vt == TC_TRUE || vt == TC_FALSE)
                tr_byte(t);
            else
                skip_depth(t, vt, depth + 1);
        }
        return;
    }
    case TC_STRUCT: {
        pqr__tr_struct(t);
        int ft;
        while (!t->err && pqr__tr_field(t, &ft))
            skip_depth(t, ft, depth + 1);
        return;
    }
    }
    tr_fail(t, false, "unknown Thrift type");
}

void pqr__tr_skip(tr *t, int type) { skip_depth(t, type, 0); }

/* ------------------------------------------------------------------ footer */

typedef struct selem {
    int type, type_length, rep, num_children, converted, logical;
    bool has_type, has_children;
    const uint8_t *name;
    size_t name_len;
} selem;

typedef struct ctx {
    pqr_file *f;
    tr t;
    int rc;
    char *msg;
    size_t cap;
} ctx;

/* A footer-level error: the Thrift reader's, or a semantic one (rc, reason). */
static int bad(ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(ctx *c, int rc, const char *fmt, ...) {
    if (c->rc)
        return c->rc;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pqr__msg(c->msg, c->cap, pqr__tr_off(&c->t), "%s", why);
    c->rc = rc;
    return rc;
}

static int thrift_err(ctx *c) {
    if (c->t.err)
        return bad(c, c->t.err, "footer: %s", c->t.why);
    return c->rc;
}

static char *own(ctx *c, const uint8_t *p, size_t n) {
    pqr_file *f = c->f;
    if (f->n_strs == f->cap_strs) {
        size_t cap = f->cap_strs ? f->cap_strs * 2 : 64;
        char **s = realloc(f->strs, cap * sizeof *s);
        if (!s)
            return NULL;
        f->strs = s;
        f->cap_strs = cap;
    }
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    f->strs[f->n_strs++] = s;
    return s;
}

static void read_logical(tr *t, int *logical) {
    /* LogicalType is a union: the one field set names the type */
    pqr__tr_struct(t);
    int ft, id;
    while (!t->err && (id = pqr__tr_field(t, &ft))) {
        *logical = id;
        pqr__tr_skip(t, ft);
    }
}

static void read_selem(tr *t, selem *e) {
    memset(e, 0, sizeof *e);
    e->converted = -1;
    pqr__tr_struct(t);
    int ft, id;
    while (!t->err && (id = pqr__tr_field(t, &ft))) {
        switch (id) {
        case 1:
            e->type = (int)pqr__tr_int(t, ft);
            e->has_type = true;
            break;
        case 2:
            e->type_length = (int)pqr__tr_int(t, ft);
            break;
        case 3:
            e->rep = (int)pqr__tr_int(t, ft);
            break;
        case 4:
            e->name = pqr__tr_bin(t, ft, &e->name_len);
            break;
        case 5:
            e->num_children = (int)pqr__tr_int(t, ft);
            e->has_children = true;
            break;
        case 6:
            e->converted = (int)pqr__tr_int(t, ft);
            break;
        case 10:
            if (ft == TC_STRUCT)
                read_logical(t, &e->logical);
            else
                pqr__tr_skip(t, ft);
            break;
        default:
            pqr__tr_skip(t, ft);
        }
    }
}

/* The flat depth-first SchemaElement list into leaves with dotted paths and max levels. */
static int build_schema(ctx *c, const selem *e, size_t n) {
    pqr_file *f = c->f;
    if (n < 2 || !e[0].has_children || e[0].num_children < 1)
        return bad(c, PQR_E_FORMAT, "schema has no columns");
    struct lvl {
        int left, def, rep;
        size_t plen;
    } st[PQR_MAX_DEPTH + 1];
    int depth = 1;
    st[0] = (struct lvl){e[0].num_children, 0, 0, 0};
    char path[PQR_MAX_PATH + 1];
    f->leaves = calloc(n, sizeof *f->leaves); /* n - 1 at most; n is bounded by the footer */
    if (!f->leaves)
        return bad(c, PQR_E_NOMEM, "out of memory");
    for (size_t i = 1; i < n; i++) {
        while (depth > 0 && st[depth - 1].left == 0)
            depth--;
        if (depth == 0)
            return bad(c, PQR_E_FORMAT, "schema element %zu is outside the tree", i);
        struct lvl *p = &st[depth - 1];
        p->left--;
        const selem *x = &e[i];
        if (!x->name || x->rep < 0 || x->rep > 2)
            return bad(c, PQR_E_FORMAT, "schema element %zu: no name or bad repetition", i);
        if (x->name_len + 1 + p->plen > PQR_MAX_PATH)
            return bad(c, PQR_E_LIMIT, "schema path longer than %d bytes", PQR_MAX_PATH);
        size_t pl = p->plen;
        if (pl)
            path[pl++] = '.';
        memcpy(path + pl, x->name, x->name_len);
        pl += x->name_len;
        path[pl] = 0;
        int def = p->def + (x->rep != 0), rep = p->rep + (x->rep == 2);
        if (!x->has_type) { /* a group */
            if (x->num_children < 0)
                return bad(c, PQR_E_FORMAT, "schema element %zu: negative children", i);
            if (depth > PQR_MAX_DEPTH - 1)
                return bad(c, PQR_E_LIMIT, "schema nested deeper than %d", PQR_MAX_DEPTH);
            st[depth++] = (struct lvl){x->num_children, def, rep, pl};
            continue;
        }
        if (x->has_children && x->num_children > 0)
            return bad(c, PQR_E_FORMAT, "schema element %zu: a typed group", i);
        if (x->type < 0 || x->type > PQR_FIXED_LEN_BYTE_ARRAY)
            return bad(c, PQR_E_FORMAT, "schema element %zu: unknown type %d", i, x->type);
        if (x->type == PQR_FIXED_LEN_BYTE_ARRAY &&
            (x->type_length <= 0 || x->type_length > (1 << 24)))
            return bad(c, PQR_E_FORMAT, "schema element %zu: bad type_length %d", i,
                       x->type_length);
        pqr_leaf *l = &f->leaves[f->n_leaves++];
        l->path = own(c, (const uint8_t *)path, pl);
        l->name = own(c, x->name, x->name_len);
        if (!l->path || !l->name)
            return bad(c, PQR_E_NOMEM, "out of memory");
        l->physical = x->type;
        l->type_length = x->type == PQR_FIXED_LEN_BYTE_ARRAY ? x->type_length : 0;
        l->converted = x->converted;
        l->logical = x->logical;
        l->max_def = def;
        l->max_rep = rep;
        l->optional = x->rep == 1;
    }
    for (int d = 0; d < depth; d++)
        if (st[d].left)
            return bad(c, PQR_E_FORMAT, "schema tree has fewer elements than it declares");
    if (!f->n_leaves)
        return bad(c, PQR_E_FORMAT, "schema has no columns");
    return PQR_OK;
}

static int read_schema(ctx *c, int ft) {
    tr *t = &c->t;
    int et;
    size_t n = pqr__tr_list(t, ft, &et);
    if (t->err)
        return thrift_err(c);
    if (et != TC_STRUCT)
        return bad(c, PQR_E_FORMAT, "schema is not a list of structs");
    if (n > PQR_MAX_SCHEMA)
        return bad(c, PQR_E_LIMIT, "schema of %zu elements (limit %u)", n, PQR_MAX_SCHEMA);
    selem *e = calloc(n ? n : 1, sizeof *e);
    if (!e)
        return bad(c, PQR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !t->err; i++)
        read_selem(t, &e[i]);
    int rc = t->err ? thrift_err(c) : build_schema(c, e, n);
    free(e);
    return rc;
}

/* ColumnMetaData of leaf `li` into *ch. */
static int read_colmeta(ctx *c, int li, pqr_chunk *ch, uint64_t data_end) {
    tr *t = &c->t;
    const pqr_leaf *l = &c->f->leaves[li];
    int64_t type = -1, data_off = -1, dict_off = -1, comp = -1;
    size_t depth = 0;
    bool path_ok = true;
    ch->codec = -1;
    ch->num_values = -1;
    pqr__tr_struct(t);
    int ft, id;
    while (!t->err && (id = pqr__tr_field(t, &ft))) {
        switch (id) {
        case 1:
            type = pqr__tr_int(t, ft);
            break;
        case 3: { /* path_in_schema must name this leaf: the chunks are in schema order */
            int et;
            size_t n = pqr__tr_list(t, ft, &et);
            const char *want = l->path;
            for (size_t k = 0; k < n && !t->err; k++) {
                size_t len;
                const uint8_t *s = pqr__tr_bin(t, et, &len);
                if (t->err)
                    break;
                if (path_ok && k) {
                    if (*want == '.')
                        want++;
                    else
                        path_ok = false;
                }
                if (path_ok && len <= strlen(want) && memcmp(want, s, len) == 0)
                    want += len;
                else
                    path_ok = false;
            }
            depth = n;
            if (*want)
                path_ok = false;
            break;
        }
        case 4:
            ch->codec = (int)pqr__tr_int(t, ft);
            break;
        case 5:
            ch->num_values = pqr__tr_int(t, ft);
            break;
        case 7:
            comp = pqr__tr_int(t, ft);
            break;
        case 9:
            data_off = pqr__tr_int(t, ft);
            break;
        case 11:
            dict_off = pqr__tr_int(t, ft);
            break;
        default:
            pqr__tr_skip(t, ft);
        }
    }
    if (t->err)
        return thrift_err(c);
    if (type != l->physical || !path_ok || !depth)
        return bad(c, PQR_E_FORMAT, "column chunk does not match schema leaf %s", l->path);
    if (ch->num_values < 0 || comp <= 0 || data_off < 4 || ch->codec < 0)
        return bad(c, PQR_E_FORMAT, "column chunk of %s: missing or negative sizes", l->path);
    int64_t start = dict_off > 0 && dict_off < data_off ? dict_off : data_off;
    if ((uint64_t)start >= data_end || (uint64_t)comp > data_end - (uint64_t)start)
        return bad(c, PQR_E_FORMAT,
                   "column chunk of %s [%" PRId64 ", +%" PRId64 ") is outside the data", l->path,
                   start, comp);
    if (ch->codec != 0 && ch->codec != 1 && ch->codec != 6)
        return bad(c, PQR_E_UNSUPPORTED, "column %s: codec %d (only none, snappy, zstd)", l->path,
                   ch->codec);
    ch->start = (uint64_t)start;
    ch->len = (uint64_t)comp;
    return PQR_OK;
}

static int read_row_group(ctx *c, pqr_rg *rg, uint64_t data_end) {
    tr *t = &c->t;
    pqr_file *f = c->f;
    bool have_cols = false;
    rg->rows = -1;
    pqr__tr_struct(t);
    int ft, id;
    while (!t->err && !c->rc && (id = pqr__tr_field(t, &ft))) {
        if (id == 1) {
            int et;
            size_t n = pqr__tr_list(t, ft, &et);
            if (t->err)
                break;
            if (have_cols || et != TC_STRUCT || n != (size_t)f->n_leaves)
                return bad(c, PQR_E_FORMAT, "row group has %zu column chunks for %d leaves", n,
                           f->n_leaves);
            have_cols = true;
            rg->cols = calloc(n, sizeof *rg->cols);
            if (!rg->cols)
                return bad(c, PQR_E_NOMEM, "out of memory");
            for (size_t k = 0; k < n && !t->err && !c->rc; k++) {
                bool meta = false;
                pqr__tr_struct(t);
                int ft2, id2;
                while (!t->err && !c->rc && (id2 = pqr__tr_field(t, &ft2))) {
                    if (id2 == 1)
                        return bad(c, PQR_E_UNSUPPORTED, "column chunk in another file");
                    if (id2 == 8 || id2 == 9)
                        return bad(c, PQR_E_UNSUPPORTED, "encrypted column");
                    if (id2 == 3 && ft2 == TC_STRUCT) {
                        if (read_colmeta(c, (int)k, &rg->cols[k], data_end))
                            return c->rc;
                        meta = true;
                    } else {
                        pqr__tr_skip(t, ft2);
                    }
                }
                if (!t->err && !meta)
                    return bad(c, PQR_E_FORMAT, "column chunk without metadata");
            }
        } else if (id == 3) {
            rg->rows = pqr__tr_int(t, ft);
        } else {
            pqr__tr_skip(t, ft);
        }
    }
    if (t->err || c->rc)
        return thrift_err(c);
    if (!have_cols || rg->rows < 0)
        return bad(c, PQR_E_FORMAT, "row group without columns or row count");
    return PQR_OK;
}

static int read_footer(ctx *c, uint64_t data_end) {
    tr *t = &c->t;
    pqr_file *f = c->f;
    bool schema = false, rows = false, rgs = false;
    pqr__tr_struct(t);
    int ft, id;
    while (!t->err && !c->rc && (id = pqr__tr_field(t, &ft))) {
        switch (id) {
        case 2:
            if (schema)
                return bad(c, PQR_E_FORMAT, "two schemas");
            if (read_schema(c, ft))
                return c->rc;
            schema = true;
            break;
        case 3:
            f->num_rows = pqr__tr_int(t, ft);
            rows = true;
            break;
        case 4: {
            if (!schema) /* parquet.thrift orders schema (2) before row groups (4) */
                return bad(c, PQR_E_FORMAT, "row groups before the schema");
            if (rgs)
                return bad(c, PQR_E_FORMAT, "two row group lists");
            int et;
            size_t n = pqr__tr_list(t, ft, &et);
            if (t->err)
                break;
            if (et != TC_STRUCT)
                return bad(c, PQR_E_FORMAT, "bad row group list");
            if (n > PQR_MAX_ROW_GROUPS)
                return bad(c, PQR_E_LIMIT, "%zu row groups (limit %u)", n, PQR_MAX_ROW_GROUPS);
            f->rgs = calloc(n ? n : 1, sizeof *f->rgs);
            if (!f->rgs)
                return bad(c, PQR_E_NOMEM, "out of memory");
            for (size_t k = 0; k < n; k++) {
                f->n_rg = (int)k + 1;
                if (read_row_group(c, &f->rgs[k], data_end))
                    return c->rc;
            }
            rgs = true;
            break;
        }
        case 5: {
            int et;
            size_t n = pqr__tr_list(t, ft, &et);
            if (t->err)
                break;
            if (et != TC_STRUCT || f->kv)
                return bad(c, PQR_E_FORMAT, "bad key-value metadata");
            if (n > PQR_MAX_KV)
                return bad(c, PQR_E_LIMIT, "%zu key-value pairs (limit %u)", n, PQR_MAX_KV);
            f->kv = calloc(n ? n : 1, sizeof *f->kv);
            if (!f->kv)
                return bad(c, PQR_E_NOMEM, "out of memory");
            for (size_t k = 0; k < n && !t->err; k++) {
                const uint8_t *key = NULL, *val = NULL;
                size_t kl = 0, vl = 0;
                pqr__tr_struct(t);
                int ft2, id2;
                while (!t->err && (id2 = pqr__tr_field(t, &ft2))) {
                    if (id2 == 1)
                        key = pqr__tr_bin(t, ft2, &kl);
                    else if (id2 == 2)
                        val = pqr__tr_bin(t, ft2, &vl);
                    else
                        pqr__tr_skip(t, ft2);
                }
                if (t->err)
                    break;
                if (!key)
                    return bad(c, PQR_E_FORMAT, "key-value pair without key");
                f->kv[k].key = own(c, key, kl);
                f->kv[k].value = val ? own(c, val, vl) : NULL;
                if (!f->kv[k].key || (val && !f->kv[k].value))
                    return bad(c, PQR_E_NOMEM, "out of memory");
                f->n_kv = k + 1;
            }
            break;
        }
        case 6: {
            size_t n;
            const uint8_t *s = pqr__tr_bin(t, ft, &n);
            if (!t->err && !(f->created_by = own(c, s, n)))
                return bad(c, PQR_E_NOMEM, "out of memory");
            break;
        }
        case 8:
        case 9:
            return bad(c, PQR_E_UNSUPPORTED, "encrypted file");
        default:
            pqr__tr_skip(t, ft);
        }
    }
    if (t->err || c->rc)
        return thrift_err(c);
    if (!schema || !rows || !rgs || f->num_rows < 0)
        return bad(c, PQR_E_FORMAT, "footer without schema, row count or row groups");
    int64_t sum = 0;
    for (int k = 0; k < f->n_rg; k++) {
        if (f->rgs[k].rows > INT64_MAX - sum)
            return bad(c, PQR_E_FORMAT, "row counts overflow");
        sum += f->rgs[k].rows;
    }
    if (sum != f->num_rows)
        return bad(c, PQR_E_FORMAT, "row groups hold %" PRId64 " rows, the footer says %" PRId64,
                   sum, f->num_rows);
    return PQR_OK;
}

int pqr_open(pqr_file **out, const pqr_source *src, const pqr_options *opts, char *msg,
             size_t msg_cap) {
    if (msg && msg_cap)
        msg[0] = 0;
    if (!out || !src || !src->read_at) {
        pqr__msg(msg, msg_cap, 0, "bad argument");
        return PQR_E_USAGE;
    }
    *out = NULL;
    pqr_options o = PQR_OPTIONS_INIT;
    if (opts)
        o = *opts;
    uint64_t size = src->size;
    if (size < 12) {
        pqr__msg(msg, msg_cap, 0, "file of %" PRIu64 " bytes is too small for Parquet", size);
        return PQR_E_FORMAT;
    }
    uint8_t tail[8], head[4];
    if (src->read_at(src->ctx, 0, 4, head) || src->read_at(src->ctx, size - 8, 8, tail)) {
        pqr__msg(msg, msg_cap, size - 8, "reading the footer failed");
        return PQR_E_IO;
    }
    if (memcmp(tail + 4, "PARE", 4) == 0) {
        pqr__msg(msg, msg_cap, size - 4, "encrypted footer (PARE) is not supported");
        return PQR_E_UNSUPPORTED;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0 || memcmp(head, "PAR1", 4) != 0) {
        pqr__msg(msg, msg_cap, memcmp(head, "PAR1", 4) ? 0 : size - 4,
                 "no PAR1 magic: not a Parquet file (or an incomplete one)");
        return PQR_E_FORMAT;
    }
    uint64_t flen = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 |
                    (uint64_t)tail[3] << 24;
    if (flen == 0 || flen > size - 12) {
        pqr__msg(msg, msg_cap, size - 8, "footer length %" PRIu64 " does not fit the file", flen);
        return PQR_E_FORMAT;
    }
    if (flen > o.max_footer_bytes) {
        pqr__msg(msg, msg_cap, size - 8, "footer of %" PRIu64 " bytes is over the limit (%zu)",
                 flen, o.max_footer_bytes);
        return PQR_E_LIMIT;
    }
    uint64_t foff = size - 8 - flen;
    pqr_file *f = calloc(1, sizeof *f);
    uint8_t *fb = malloc((size_t)flen);
    if (!f || !fb) {
        free(f);
        free(fb);
        pqr__msg(msg, msg_cap, foff, "out of memory for a footer of %" PRIu64 " bytes", flen);
        return PQR_E_NOMEM;
    }
    f->src = *src;
    f->o = o;
    if (src->read_at(src->ctx, foff, (size_t)flen, fb)) {
        free(fb);
        free(f);
        pqr__msg(msg, msg_cap, foff, "reading the footer failed");
        return PQR_E_IO;
    }
    ctx c = {.f = f, .msg = msg, .cap = msg_cap};
    pqr__tr_init(&c.t, fb, (size_t)flen, foff);
    int rc = read_footer(&c, foff);
    free(fb);
    if (rc) {
        pqr_close(f);
        return rc;
    }
    *out = f;
    return PQR_OK;
}

void pqr_close(pqr_file *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->n_strs; i++)
        free(f->strs[i]);
    free(f->strs);
    for (int i = 0; i < f->n_rg; i++)
        free(f->rgs[i].cols);
    free(f->rgs);
    free(f->leaves);
    free(f->kv);
    free(f);
}

int pqr_num_leaves(const pqr_file *f) { return f ? f->n_leaves : 0; }
const pqr_leaf *pqr_leaf_at(const pqr_file *f, int i) {
    return f && i >= 0 && i < f->n_leaves ? &f->leaves[i] : NULL;
}
int pqr_find_leaf(const pqr_file *f, const char *path) {
    for (int i = 0; f && path && i < f->n_leaves; i++)
        if (strcmp(f->leaves[i].path, path) == 0)
            return i;
    return -1;
}
int64_t pqr_num_rows(const pqr_file *f) { return f ? f->num_rows : 0; }
int pqr_num_row_groups(const pqr_file *f) { return f ? f->n_rg : 0; }
int64_t pqr_row_group_rows(const pqr_file *f, int rg) {
    return f && rg >= 0 && rg < f->n_rg ? f->rgs[rg].rows : -1;
}
const pq_kv *pqr_kv(const pqr_file *f, size_t *n) {
    if (n)
        *n = f ? f->n_kv : 0;
    return f ? f->kv : NULL;
}
const char *pqr_kv_get(const pqr_file *f, const char *key) {
    for (size_t i = 0; f && key && i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0)
            return f->kv[i].value;
    return NULL;
}
const char *pqr_created_by(const pqr_file *f) { return f ? f->created_by : NULL; }
