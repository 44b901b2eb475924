/* parquet.c - the writer and the file it writes (see parquet.h for the layout of the module).
 *
 * Values and levels are appended to per-column buffers as they are set (parquet_row.c); a
 * row group is encoded only when it is flushed, so page cuts can be chosen at row boundaries
 * and the dictionary / plain split of a chunk is known. Buffers are kept across row groups.
 * This file: open (column layout from the schema), errors, the byte sink, row-group flush
 * (chunks, then their offset indexes, then the RowGroup metadata), the footer, close.
 */
#include "parquet_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

const char *pq_err_name(int code) {
    switch (code) {
#define PQ_X_NAME(name, c, short_name, text) \
    case c:                                  \
        return short_name;
        PQ_ERRNO_MAP(PQ_X_NAME)
#undef PQ_X_NAME
    }
    return "unknown";
}

const char *pq_strerror(int code) {
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

int pq__buf_grow(buf *b, size_t extra) {
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

void pq__buf_free(buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ errors */

int pq__fail(pq_writer *w, int code, bool sticky, int node, const char *fmt, ...) {
    char path[256] = "";
    if (node > 0 && node < w->s->count)
        pq__node_path(w->s, node, path, sizeof path);
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

static void col_free(col *c) {
    free(c->path);
    pq__buf_free(&c->def);
    pq__buf_free(&c->rep);
    pq__buf_free(&c->plain);
    pq__buf_free(&c->dict);
    pq__buf_free(&c->cmeta);
    free(c->pages);
    free(c->d_off);
    free(c->d_hash);
    free(c->slots);
    free(c->idx);
}

static void writer_free(pq_writer *w) {
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
    free(w->root_leaf);
    free(w->lazy);
    free(w->lazy_row);
    free(w->lazy_ids);
    free(w->touched);
    free(w->fb_list);
    free(w->created_by);
    if (w->kv) {
        for (size_t i = 0; i < w->o.n_kv; i++) {
            free((char *)w->kv[i].key);
            free((char *)w->kv[i].value);
        }
        free(w->kv);
    }
    if (w->kept)
        for (int k = 0; k < PQ_KEPT_LISTS; k++) {
            pq__buf_free(&w->kept[k].key);
            pq__buf_free(&w->kept[k].col);
        }
    free(w->kept);
    pq__buf_free(&w->page);
    pq__buf_free(&w->comp);
    pq__buf_free(&w->hdr);
    pq__buf_free(&w->rgmeta);
    pq__buf_free(&w->esc);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 2; j++) {
            pq__buf_free(&w->lvc[k].e[j].in);
            pq__buf_free(&w->lvc[k].e[j].out);
        }
    ZSTD_freeCCtx(w->zc);
    free(w);
}

void pq_writer_abort(pq_writer *w) { writer_free(w); }

/* Depth-first leaf order = column order of the file. */
static int add_cols(pq_writer *w, int id, int owner, int def, int rep) {
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
        return pq__fail(w, PQ_E_SCHEMA, true, id, "a group needs at least one field");
    if (n->kind == N_LIST || n->kind == N_MAP || (n->kind == N_LEAF && !n->internal && !n->lst))
        owner = id;
    if (n->kind == N_LEAF) {
        col *c = &w->c[w->n_cols++];
        c->leaf = id;
        c->owner = owner;
        c->max_def = def;
        c->max_rep = rep;
        c->type = n->type;
        c->utf8 = n->type == PQ_BYTE_ARRAY && n->lt == PQ_LT_STRING;
        c->vsize = n->type == PQ_BOOLEAN      ? 1
                   : n->type == PQ_INT32      ? 4
                   : n->type == PQ_BYTE_ARRAY ? 0
                                              : 8;
        c->dict_ok = w->o.dict_max_bytes > 0 &&
                     (n->type == PQ_INT32 || n->type == PQ_INT64 || n->type == PQ_BYTE_ARRAY);
        c->dict_on = c->dict_ok;
        c->fb_level = SIZE_MAX;
        char path[256];
        pq__node_path(w->s, id, path, sizeof path);
        c->path = strdup(path);
        if (!c->path)
            return PQ_E_NOMEM;
        if (w->u[owner].ncols == 0)
            w->u[owner].col0 = w->n_cols - 1;
        w->u[owner].ncols++;
        if (n->lst) { /* a LIST<STRUCT> field: its own column, owned by the list */
            w->u[id].col0 = w->n_cols - 1;
            w->u[id].ncols = 1;
        }
        return PQ_OK;
    }
    for (int i = 0; i < n->n_kids; i++) {
        int rc = add_cols(w, n->kids[i], owner, def, rep);
        if (rc)
            return rc;
    }
    return PQ_OK;
}

/* A copy of a metadata string (a Thrift string: UTF-8), with bytes that are not UTF-8
 * escaped as STRING values are (ut_utf8_escape). */
static char *utf8_dup(const char *s) {
    size_t n = strlen(s);
    if (ut_utf8_valid(s, n))
        return strdup(s);
    char *d = malloc(ut_utf8_escaped_len(s, n) + 1);
    if (d)
        d[ut_utf8_escape(d, s, n)] = '\0';
    return d;
}

int pq_writer_open(pq_writer **out, const pq_schema *s, const pq_sink *sink,
                   const pq_options *opts) {
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
    w->created_by = utf8_dup(w->o.created_by ? w->o.created_by : "tiff-dumper parquet writer");
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
            w->kv[i].key = utf8_dup(w->o.kv[i].key);
            w->kv[i].value = w->o.kv[i].value ? utf8_dup(w->o.kv[i].value) : NULL;
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
    w->root_leaf = calloc(nn, 1);
    w->lazy = calloc(nn, 1);
    w->lazy_row = calloc(nn, sizeof *w->lazy_row);
    w->lazy_ids = calloc(nn, sizeof *w->lazy_ids);
    w->touched = calloc(nn, sizeof *w->touched);
    w->fb_list = calloc((size_t)n_leaves + 1, sizeof *w->fb_list);
    if (!w->c || !w->u || !w->state || !w->present || !w->pdef || !w->structs || !w->values ||
        !w->root_leaf || !w->lazy || !w->lazy_row || !w->lazy_ids || !w->touched || !w->fb_list)
        goto bad;
    rc = add_cols(w, PQ_ROOT, 0, 0, 0);
    if (rc)
        goto bad;
    for (int i = 1; i < s->count; i++) {
        const snode *n = &s->n[i];
        unode *u = &w->u[i];
        if (n->internal || n->lst) /* LIST<STRUCT> element and fields: levels by the list */
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
            if (n->kind == N_LEAF && n->parent == PQ_ROOT)
                w->root_leaf[i] = (uint8_t)(n->type + 1);
            if (n->parent == PQ_ROOT && n->rep == REP_OPTIONAL) {
                w->lazy[i] = 1;
                w->lazy_ids[w->n_lazy++] = i;
                w->lazy_ncols += (size_t)u->ncols;
            } else {
                w->values[w->n_values++] =
                    (struct vnode){i, n->parent, u->col0, u->ncols, n->rep == REP_REQUIRED};
            }
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

/* ------------------------------------------------------------------ byte sink */

int pq__emit(pq_writer *w, const void *p, size_t n) {
    if (n && w->sink.write(w->sink.ctx, p, n))
        return pq__fail(w, PQ_E_SINK, true, INT_MIN, "the byte sink failed after %llu bytes",
                        (unsigned long long)w->pos);
    w->pos += n;
    return PQ_OK;
}

/* ------------------------------------------------------------------ row groups */

static void col_reset(col *c) {
    c->def.len = c->rep.len = c->plain.len = c->dict.len = 0;
    c->n_levels = c->n_plain = c->n_dict = c->n_idx = 0;
    if (c->slots)
        memset(c->slots, 0, c->n_slots * sizeof *c->slots);
    c->dict_on = c->dict_ok;
    c->fb_level = SIZE_MAX;
}

int pq__flush_row_group(pq_writer *w) {
    if (w->rg_rows == 0)
        return PQ_OK;
    int rc;
    if (pq__lazy_fill_all(w))
        return pq__fail(w, PQ_E_NOMEM, true, INT_MIN, "out of memory");
    if (!w->started) {
        if ((rc = pq__emit(w, "PAR1", 4)))
            return rc;
        w->started = true;
    }
    uint64_t rg_start = w->pos;
    int64_t unc = 0, comp = 0;
    for (int i = 0; i < w->n_cols; i++)
        if ((rc = pq__write_chunk(w, &w->c[i], &unc, &comp)))
            return rc;
    /* OffsetIndex of every chunk, after the row group's data */
    tw t;
    for (int i = 0; i < w->n_cols; i++) {
        col *c = &w->c[i];
        w->hdr.len = 0;
        pq__tw_init(&t, &w->hdr);
        pq__tw_listf(&t, 1, CT_STRUCT, c->n_pages);
        for (size_t k = 0; k < c->n_pages; k++) {
            pq__tw_push(&t);
            pq__tw_i64f(&t, 1, (int64_t)c->pages[k].offset);
            pq__tw_i32f(&t, 2, (int32_t)c->pages[k].size);
            pq__tw_i64f(&t, 3, (int64_t)c->pages[k].first_row);
            pq__tw_end(&t);
        }
        pq__tw_byte(&t, 0);
        if (t.err)
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        uint64_t at = w->pos;
        if ((rc = pq__emit(w, w->hdr.p, w->hdr.len)))
            return rc;
        /* complete the ColumnChunk: its last field so far is 3 (meta_data) */
        pq__tw_init(&t, &c->cmeta);
        t.last[0] = 3;
        pq__tw_i64f(&t, 4, (int64_t)at);
        pq__tw_i32f(&t, 5, (int32_t)w->hdr.len);
        pq__tw_byte(&t, 0);
        if (t.err)
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    }
    /* RowGroup: a list element, serialized now, listed at close */
    pq__tw_init(&t, &w->rgmeta);
    pq__tw_listf(&t, 1, CT_STRUCT, (size_t)w->n_cols);
    for (int i = 0; i < w->n_cols; i++)
        if (buf_put(&w->rgmeta, w->c[i].cmeta.p, w->c[i].cmeta.len))
            t.err = 1;
    pq__tw_i64f(&t, 2, unc);
    pq__tw_i64f(&t, 3, (int64_t)w->rg_rows);
    pq__tw_i64f(&t, 5, (int64_t)rg_start);
    pq__tw_i64f(&t, 6, comp);
    if (w->n_rg < INT16_MAX)
        pq__tw_fh(&t, 7, 4), pq__tw_varint(&t, zz64((int64_t)w->n_rg));
    pq__tw_byte(&t, 0);
    if (t.err)
        return pq__fail(w, PQ_E_NOMEM, true, INT_MIN, "out of memory");
    w->n_rg++;
    for (int i = 0; i < w->n_cols; i++)
        col_reset(&w->c[i]);
    w->rg_rows = 0;
    w->approx = 0;
    return PQ_OK;
}

int pq_writer_set_kv(pq_writer *w, const char *key, const char *value) {
    if (!w || !key)
        return PQ_E_USAGE;
    char *v = value ? utf8_dup(value) : NULL;
    if (value && !v)
        return PQ_E_NOMEM;
    for (size_t i = 0; i < w->o.n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free((char *)w->kv[i].value);
            w->kv[i].value = v;
            return PQ_OK;
        }
    char *k = utf8_dup(key);
    pq_kv *kv = k ? realloc(w->kv, (w->o.n_kv + 1) * sizeof *kv) : NULL;
    if (!kv) {
        free(k);
        free(v);
        return PQ_E_NOMEM;
    }
    w->kv = kv;
    w->kv[w->o.n_kv++] = (pq_kv){k, v};
    return PQ_OK;
}

/* ------------------------------------------------------------------ footer */

static int write_footer(pq_writer *w) {
    buf *b = &w->page;
    b->len = 0;
    tw t;
    pq__tw_init(&t, b);
    pq__tw_i32f(&t, 1, 1);
    pq__tw_listf(&t, 2, CT_STRUCT, (size_t)w->s->count);
    int n_elems = 0;
    pq__schema_elem(&t, w->s, PQ_ROOT, &n_elems);
    pq__tw_i64f(&t, 3, (int64_t)w->rows);
    pq__tw_listf(&t, 4, CT_STRUCT, w->n_rg);
    if (buf_put(b, w->rgmeta.p, w->rgmeta.len))
        t.err = 1;
    if (w->o.n_kv) {
        pq__tw_listf(&t, 5, CT_STRUCT, w->o.n_kv);
        for (size_t i = 0; i < w->o.n_kv; i++) {
            pq__tw_push(&t);
            pq__tw_strf(&t, 1, w->kv[i].key);
            if (w->kv[i].value)
                pq__tw_strf(&t, 2, w->kv[i].value);
            pq__tw_end(&t);
        }
    }
    pq__tw_strf(&t, 6, w->created_by);
    pq__tw_listf(&t, 7, CT_STRUCT, (size_t)w->n_cols);
    for (int i = 0; i < w->n_cols; i++) {
        pq__tw_push(&t);
        pq__tw_structf(&t, 1); /* TYPE_ORDER */
        pq__tw_end(&t);
        pq__tw_end(&t);
    }
    pq__tw_byte(&t, 0);
    if (t.err || b->len > UINT32_MAX)
        return pq__fail(w, PQ_E_NOMEM, true, INT_MIN, "out of memory writing the footer");
    uint32_t len = (uint32_t)b->len;
    int rc = pq__emit(w, b->p, b->len);
    if (!rc)
        rc = pq__emit(w, &len, 4);
    if (!rc)
        rc = pq__emit(w, "PAR1", 4);
    return rc;
}

int pq_writer_close(pq_writer *w) {
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
        rc = pq__flush_row_group(w);
    if (!rc && !w->started) {
        rc = pq__emit(w, "PAR1", 4);
        w->started = true;
    }
    if (!rc)
        rc = write_footer(w);
    writer_free(w);
    return rc;
}
