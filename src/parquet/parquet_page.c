/* parquet_page.c - a column chunk at flush: its dictionary page and data pages (cut at row
 * starts near PAGE_TARGET_BYTES), each compressed (snappy / zstd) behind its Thrift page
 * header, and its ColumnChunk metadata (encodings, sizes, offsets, statistics).
 */
#include "parquet_internal.h"

#include <limits.h>
#include <snappy-c.h>

/* ------------------------------------------------------------------ pages */

typedef struct chunk_acc {
    uint64_t start, data_off, dict_off;
    bool has_dict;
    int64_t unc, comp;
    int n_dict_pages, n_dict_data_pages, n_plain_pages;
} chunk_acc;

/* Compresses w->page and writes header + body. */
static int write_page(pq_writer *w, col *c, chunk_acc *a, int type, size_t num_values, int enc) {
    const uint8_t *body = w->page.p;
    size_t blen = w->page.len, clen = blen;
    if (blen > INT32_MAX)
        return pq__fail(w, PQ_E_USAGE, true, c->leaf, "page of %zu bytes is too large", blen);
    if (w->o.codec == PQ_CODEC_SNAPPY) {
        size_t cap = snappy_max_compressed_length(blen);
        w->comp.len = 0;
        if (buf_reserve(&w->comp, cap))
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        clen = cap;
        if (snappy_compress((const char *)body, blen, (char *)w->comp.p, &clen) != SNAPPY_OK)
            return pq__fail(w, PQ_E_CODEC, true, c->leaf, "snappy compression failed");
        body = w->comp.p;
    } else if (w->o.codec == PQ_CODEC_ZSTD) {
        size_t cap = ZSTD_compressBound(blen);
        w->comp.len = 0;
        if (buf_reserve(&w->comp, cap))
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        clen = ZSTD_compressCCtx(w->zc, w->comp.p, cap, body, blen, w->o.zstd_level);
        if (ZSTD_isError(clen))
            return pq__fail(w, PQ_E_CODEC, true, c->leaf, "zstd compression failed: %s",
                            ZSTD_getErrorName(clen));
        body = w->comp.p;
    }
    if (clen > INT32_MAX || num_values > INT32_MAX)
        return pq__fail(w, PQ_E_USAGE, true, c->leaf, "page too large");
    w->hdr.len = 0;
    tw t;
    pq__tw_init(&t, &w->hdr);
    pq__tw_i32f(&t, 1, type);
    pq__tw_i32f(&t, 2, (int32_t)blen);
    pq__tw_i32f(&t, 3, (int32_t)clen);
    if (type == PAGE_DATA) {
        pq__tw_structf(&t, 5);
        pq__tw_i32f(&t, 1, (int32_t)num_values);
        pq__tw_i32f(&t, 2, enc);
        pq__tw_i32f(&t, 3, ENC_RLE);
        pq__tw_i32f(&t, 4, ENC_RLE);
        pq__tw_end(&t);
    } else {
        pq__tw_structf(&t, 7);
        pq__tw_i32f(&t, 1, (int32_t)num_values);
        pq__tw_i32f(&t, 2, ENC_PLAIN);
        pq__tw_boolf(&t, 3, false);
        pq__tw_end(&t);
    }
    pq__tw_byte(&t, 0);
    if (t.err)
        return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    if (type == PAGE_DICT) {
        a->dict_off = w->pos;
        a->has_dict = true;
    } else if (a->data_off == UINT64_MAX) {
        a->data_off = w->pos;
    }
    int rc = pq__emit(w, w->hdr.p, w->hdr.len);
    if (!rc)
        rc = pq__emit(w, body, clen);
    a->unc += (int64_t)(w->hdr.len + blen);
    a->comp += (int64_t)(w->hdr.len + clen);
    return rc;
}

/* One data page of levels [l0, l1): values are idx[v0..v0+nv) (dict) or the PLAIN bytes
 * [b0, b1) holding nv values. */
static int data_page(pq_writer *w, col *c, chunk_acc *a, size_t l0, size_t l1, bool dict, size_t v0,
                     size_t nv, size_t b0, size_t b1, uint64_t first_row) {
    if (c->n_pages == c->cap_pages) {
        size_t cap = c->cap_pages ? c->cap_pages * 2 : 16;
        struct pageloc *pl = realloc(c->pages, cap * sizeof *pl);
        if (!pl)
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
        c->pages = pl;
        c->cap_pages = cap;
    }
    buf *p = &w->page;
    p->len = 0;
    if ((c->max_rep && pq__put_levels_cached(&w->lvc[0], p, c->rep.p + l0, l1 - l0, c->max_rep)) ||
        (c->max_def && pq__put_levels_cached(&w->lvc[1], p, c->def.p + l0, l1 - l0, c->max_def)))
        return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    if (dict) {
        if (pq__put_dict_indices(p, c->idx + v0, nv, c->n_dict))
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    } else if (c->type == PQ_BOOLEAN) {
        if (pq__put_bools(p, c->plain.p + b0, nv))
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    } else if (buf_put(p, c->plain.p + b0, b1 - b0)) {
        return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    }
    if (dict)
        a->n_dict_data_pages++;
    else
        a->n_plain_pages++;
    uint64_t at = w->pos;
    int rc = write_page(w, c, a, PAGE_DATA, l1 - l0, dict ? ENC_RLE_DICTIONARY : ENC_PLAIN);
    if (!rc) {
        if (w->pos - at > UINT32_MAX)
            return pq__fail(w, PQ_E_USAGE, true, c->leaf, "page too large");
        c->pages[c->n_pages++] = (struct pageloc){at, first_row, (uint32_t)(w->pos - at)};
    }
    return rc;
}

/* Pages of levels [l0, l1), cut at row starts near PAGE_TARGET_BYTES. *vi / *bi: next value
 * index (dict) or plain byte offset. */
/* How many of the n levels equal v: eight at a time (a zero byte of x = word ^ v has its
 * high bit clear in (x & 0x7f..) + 0x7f.. | x; the flags are summed by one multiply). */
static size_t count_eq(const uint8_t *p, size_t n, uint8_t v) {
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull;
    size_t k = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        x ^= ones * v;
        uint64_t z = ~(((x & lo7) + lo7) | x | lo7); /* 0x80 in each zero byte */
        k += (size_t)(((z >> 7) * ones) >> 56);
    }
    for (; i < n; i++)
        k += p[i] == v;
    return k;
}

static int page_run(pq_writer *w, col *c, chunk_acc *a, size_t l0, size_t l1, bool dict, size_t *vi,
                    size_t *bi, int64_t *nulls, uint64_t *row) {
    size_t start = l0, pv = *vi, pb = *bi, v = *vi, b = *bi, est = 0;
    /* One page when the whole run fits: the usual case (row groups of a few MB), where the
     * level-by-level walk below cuts nothing and only counts rows, values and bytes, which
     * whole-array counts give at a fraction of the cost. The run's values are the rest of
     * the chunk's (the dictionary indices, or the PLAIN values after a fall-back). */
    size_t nl = l1 - l0;
    if (nl < PAGE_MAX_LEVELS) {
        /* A run to the end of the chunk holds the rest of its values, and a run over all of
         * it starts each row of the row group once (rows are never split): the counts are
         * the column's own, without a pass over the levels */
        bool tail = l1 == c->n_levels && (dict || (v == 0 && b == 0));
        size_t nv = tail         ? (dict ? c->n_idx - v : c->n_plain)
                    : c->max_def ? count_eq(c->def.p + l0, nl, (uint8_t)c->max_def)
                                 : nl;
        bool whole = dict ? v + nv == c->n_idx : v == 0 && b == 0 && nv == c->n_plain;
        size_t bytes = dict ? 2 * nv : c->plain.len; /* what the walk's estimate adds up to */
        if (whole && bytes < PAGE_TARGET_BYTES) {
            if (nl) {
                int rc = data_page(w, c, a, l0, l1, dict, v, nv, b, b + (dict ? 0 : bytes), *row);
                if (rc)
                    return rc;
            }
            *nulls += (int64_t)(nl - nv);
            *vi = v + nv;
            *bi = b + (dict ? 0 : bytes);
            *row += l0 == 0 && l1 == c->n_levels ? w->rg_rows
                    : c->max_rep                 ? count_eq(c->rep.p + l0, nl, 0)
                                                 : nl;
            return PQ_OK;
        }
    }
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

/* ------------------------------------------------------------------ column chunk */

int pq__write_chunk(pq_writer *w, col *c, int64_t *unc_total, int64_t *comp_total) {
    c->cmeta.len = 0;
    c->n_pages = 0;
    tw tt, *t = &tt;
    pq__tw_init(t, &c->cmeta);
    chunk_acc a = {0};
    a.start = w->pos;
    a.data_off = UINT64_MAX;
    int rc;
    bool dict = c->n_idx > 0;
    size_t lb = dict ? (c->fb_level == SIZE_MAX ? c->n_levels : c->fb_level) : 0;
    if (dict) {
        w->page.len = 0;
        if (buf_put(&w->page, c->dict.p, c->dict.len))
            return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
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
    pq__chunk_stats(c, &st);
    if (c->type == PQ_BYTE_ARRAY && (st.lmin > STAT_MAX_BYTES || st.lmax > STAT_MAX_BYTES))
        st.has = false;

    pq__tw_i64f(t, 2, (int64_t)a.start); /* ColumnChunk, an element of RowGroup.columns */
    pq__tw_structf(t, 3);
    pq__tw_i32f(t, 1, pq__thrift_type(c->type));
    int encs[3], ne = 0;
    if (dict || a.n_plain_pages)
        encs[ne++] = ENC_PLAIN;
    if (c->max_def || c->max_rep)
        encs[ne++] = ENC_RLE;
    if (dict)
        encs[ne++] = ENC_RLE_DICTIONARY;
    pq__tw_listf(t, 2, CT_I32, (size_t)ne);
    for (int i = 0; i < ne; i++)
        pq__tw_varint(t, zz64(encs[i]));
    int chain[64], depth = 0;
    for (int i = c->leaf; i > 0 && depth < 64; i = w->s->n[i].parent)
        chain[depth++] = i;
    pq__tw_listf(t, 3, CT_BINARY, (size_t)depth);
    while (depth-- > 0) {
        const char *nm = w->s->n[chain[depth]].name;
        pq__tw_varint(t, strlen(nm));
        if (buf_put(t->b, nm, strlen(nm)))
            t->err = 1;
    }
    static const int codec_id[] = {0, 1, 6};
    pq__tw_i32f(t, 4, codec_id[w->o.codec]);
    pq__tw_i64f(t, 5, (int64_t)c->n_levels);
    pq__tw_i64f(t, 6, a.unc);
    pq__tw_i64f(t, 7, a.comp);
    pq__tw_i64f(t, 9, (int64_t)a.data_off);
    if (a.has_dict)
        pq__tw_i64f(t, 11, (int64_t)a.dict_off);
    pq__tw_structf(t, 12);
    pq__tw_i64f(t, 3, nulls);
    if (st.has) {
        uint8_t tmin[8], tmax[8];
        const void *pmin = "", *pmax = "";
        size_t nmin = 0, nmax = 0;
        pq__stat_bytes(c, &st, false, tmin, &pmin, &nmin);
        pq__stat_bytes(c, &st, true, tmax, &pmax, &nmax);
        pq__tw_binf(t, 5, pmax, nmax);
        pq__tw_binf(t, 6, pmin, nmin);
        pq__tw_boolf(t, 7, true);
        pq__tw_boolf(t, 8, true);
    }
    pq__tw_end(t);
    int n_es = (a.n_dict_pages > 0) + (a.n_dict_data_pages > 0) + (a.n_plain_pages > 0);
    pq__tw_listf(t, 13, CT_STRUCT, (size_t)n_es);
    struct {
        int type, enc, count;
    } es[3] = {{PAGE_DICT, ENC_PLAIN, a.n_dict_pages},
               {PAGE_DATA, ENC_RLE_DICTIONARY, a.n_dict_data_pages},
               {PAGE_DATA, ENC_PLAIN, a.n_plain_pages}};
    for (int i = 0; i < 3; i++) {
        if (!es[i].count)
            continue;
        pq__tw_push(t);
        pq__tw_i32f(t, 1, es[i].type);
        pq__tw_i32f(t, 2, es[i].enc);
        pq__tw_i32f(t, 3, es[i].count);
        pq__tw_end(t);
    }
    pq__tw_end(t); /* meta_data */
    if (t->err)
        return pq__fail(w, PQ_E_NOMEM, true, c->leaf, "out of memory");
    *unc_total += a.unc;
    *comp_total += a.comp;
    return PQ_OK;
}
