/* parquet_read_col.c - the column cursor: one leaf's column chunks, page by page. Reads a
 * page header (Thrift, in a growing window), loads and decompresses the page, then decodes
 * levels and values lazily, one level entry per pqr_next: nothing is allocated in
 * proportion to a page's value count, so a page claiming 2^31 values in a few bytes costs
 * no memory (and fails as soon as its streams run out).
 */
#include "parquet_read_internal.h"

#include <inttypes.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

enum { ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_RLE_DICT = 8 };
enum { V_PLAIN, V_DICT, V_RLE_BOOL };

static const char *enc_name(int e) {
    static const char *n[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return e >= 0 && e < (int)(sizeof n / sizeof n[0]) ? n[e] : "unknown";
}

/* ------------------------------------------------------------------ RLE / bit-packed hybrid */

typedef struct rle {
    const uint8_t *p, *end;
    int bw;
    uint32_t left; /* values left in the current run */
    bool packed;
    uint32_t val;      /* RLE run value */
    const uint8_t *pk; /* bit-packed run: its bytes ... */
    size_t pk_len;     /* ... that are present (a last run may be cut short) */
    uint32_t pk_i;
} rle;

static void rle_init(rle *r, const uint8_t *p, size_t n, int bw) {
    memset(r, 0, sizeof *r);
    r->p = p;
    r->end = p + n;
    r->bw = bw;
}

/* 0 and *out, or -1 when the stream is exhausted or malformed. */
static int rle_next(rle *r, uint32_t *out) {
    if (r->left == 0) {
        uint64_t h = 0;
        int s = 0;
        for (;;) {
            if (r->p >= r->end || s > 35)
                return -1;
            uint8_t b = *r->p++;
            h |= (uint64_t)(b & 0x7f) << s;
            s += 7;
            if (!(b & 0x80))
                break;
        }
        if (h & 1) {
            uint64_t groups = h >> 1;
            if (groups == 0 || groups > (UINT32_MAX >> 3))
                return -1;
            size_t want = (size_t)groups * (size_t)r->bw, have = (size_t)(r->end - r->p);
            r->packed = true;
            r->pk = r->p;
            r->pk_len = want < have ? want : have;
            r->p += r->pk_len;
            r->pk_i = 0;
            r->left = (uint32_t)(groups * 8);
        } else {
            uint64_t n = h >> 1;
            if (n == 0 || n > UINT32_MAX)
                return -1;
            size_t nb = ((size_t)r->bw + 7) / 8;
            if ((size_t)(r->end - r->p) < nb)
                return -1;
            uint32_t v = 0;
            for (size_t k = 0; k < nb; k++)
                v |= (uint32_t)r->p[k] << (8 * k);
            r->p += nb;
            r->packed = false;
            r->val = v;
            r->left = (uint32_t)n;
        }
    }
    r->left--;
    if (!r->packed) {
        *out = r->val;
        return 0;
    }
    if (r->bw == 0) {
        r->pk_i++;
        *out = 0;
        return 0;
    }
    uint64_t bit = (uint64_t)r->pk_i++ * (uint64_t)r->bw;
    size_t b0 = (size_t)(bit >> 3), b1 = (size_t)((bit + (uint64_t)r->bw - 1) >> 3);
    if (b1 >= r->pk_len)
        return -1;
    uint64_t acc = 0;
    for (size_t k = b0; k <= b1; k++)
        acc |= (uint64_t)r->pk[k] << (8 * (k - b0));
    acc >>= bit & 7;
    *out = (uint32_t)(acc & ((r->bw == 32) ? 0xffffffffu : ((1u << r->bw) - 1)));
    return 0;
}

static int bit_width(uint32_t max) {
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

/* ------------------------------------------------------------------ cursor */

struct pqr_cursor {
    pqr_file *f;
    const pqr_leaf *l;
    int leaf, rg, rg_end; /* current row group, one past the last */
    bool in_chunk;
    uint64_t pos, chunk_end; /* next page header, end of the chunk's pages */
    int64_t chunk_left;      /* level entries the chunk still owes */
    int64_t chunk_rows;
    size_t width; /* fixed PLAIN width, 0 for BYTE_ARRAY and BOOLEAN */
    /* dictionary of the current chunk */
    bool has_dict;
    uint8_t *dict;
    size_t dict_cap;
    uint32_t *doff; /* BYTE_ARRAY: value offsets in dict (length precedes each) */
    size_t doff_cap, n_dict;
    /* current page */
    uint8_t *page, *comp, *hdr;
    size_t page_cap, comp_cap, hdr_cap;
    uint64_t page_off;
    int64_t page_left;
    rle rep, def, vidx;
    int venc;
    const uint8_t *vp, *vend;
    uint64_t bool_bit;
    uint64_t row; /* rows started so far */
    ZSTD_DCtx *zd;
    int err;
    char msg[320];
};

static int cfail(pqr_cursor *c, int rc, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cfail(pqr_cursor *c, int rc, uint64_t off, const char *fmt, ...) {
    if (c->err)
        return c->err;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pqr__msg(c->msg, sizeof c->msg, off, "column %s: %s", c->l->path, why);
    c->err = rc;
    return rc;
}

static int grow(uint8_t **p, size_t *cap, size_t n) {
    if (n <= *cap && *p)
        return 0;
    size_t want = n ? n : 1;
    uint8_t *q = realloc(*p, want);
    if (!q)
        return -1;
    *p = q;
    *cap = want;
    return 0;
}

int pqr_cursor_open(pqr_cursor **out, pqr_file *f, int leaf, int row_group) {
    if (!out)
        return PQR_E_USAGE;
    *out = NULL;
    if (!f || leaf < 0 || leaf >= f->n_leaves || row_group < -1 || row_group >= f->n_rg)
        return PQR_E_USAGE;
    pqr_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return PQR_E_NOMEM;
    c->f = f;
    c->leaf = leaf;
    c->l = &f->leaves[leaf];
    c->rg = row_group < 0 ? 0 : row_group;
    c->rg_end = row_group < 0 ? f->n_rg : row_group + 1;
    static const size_t widths[] = {0, 4, 8, 12, 4, 8, 0, 0};
    c->width = c->l->physical == PQR_FIXED_LEN_BYTE_ARRAY ? (size_t)c->l->type_length
                                                          : widths[c->l->physical];
    *out = c;
    return PQR_OK;
}

void pqr_cursor_close(pqr_cursor *c) {
    if (!c)
        return;
    free(c->dict);
    free(c->doff);
    free(c->page);
    free(c->comp);
    free(c->hdr);
    if (c->zd)
        ZSTD_freeDCtx(c->zd);
    free(c);
}

const char *pqr_cursor_errmsg(const pqr_cursor *c) {
    return !c ? "no cursor" : c->msg[0] ? c->msg : "ok";
}

/* Page body at `off` (csize bytes in the file) into *dst (usize bytes once decompressed). */
static int load_body(pqr_cursor *c, uint64_t off, size_t csize, size_t usize, uint8_t **dst,
                     size_t *dcap) {
    const pqr_chunk *ch = &c->f->rgs[c->rg].cols[c->leaf];
    const pqr_source *s = &c->f->src;
    if (grow(dst, dcap, usize))
        return cfail(c, PQR_E_NOMEM, off, "out of memory for a page of %zu bytes", usize);
    if (ch->codec == 0) {
        if (csize != usize)
            return cfail(c, PQR_E_FORMAT, off, "uncompressed page of %zu bytes says %zu", csize,
                         usize);
        if (usize && s->read_at(s->ctx, off, usize, *dst))
            return cfail(c, PQR_E_IO, off, "read failed");
        return PQR_OK;
    }
    if (grow(&c->comp, &c->comp_cap, csize))
        return cfail(c, PQR_E_NOMEM, off, "out of memory for a page of %zu bytes", csize);
    if (csize && s->read_at(s->ctx, off, csize, c->comp))
        return cfail(c, PQR_E_IO, off, "read failed");
    if (ch->codec == 1) {
        size_t n = 0;
        if (snappy_uncompressed_length((const char *)c->comp, csize, &n) != SNAPPY_OK || n != usize)
            return cfail(c, PQR_E_FORMAT, off, "snappy page does not decompress to %zu bytes",
                         usize);
        n = usize;
        if (snappy_uncompress((const char *)c->comp, csize, (char *)*dst, &n) != SNAPPY_OK ||
            n != usize)
            return cfail(c, PQR_E_FORMAT, off, "snappy page is corrupt");
        return PQR_OK;
    }
    if (!c->zd && !(c->zd = ZSTD_createDCtx()))
        return cfail(c, PQR_E_NOMEM, off, "out of memory");
    size_t n = ZSTD_decompressDCtx(c->zd, *dst, usize, c->comp, csize);
    if (ZSTD_isError(n) || n != usize)
        return cfail(c, PQR_E_FORMAT, off, "zstd page does not decompress to %zu bytes%s%s", usize,
                     ZSTD_isError(n) ? ": " : "", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "");
    return PQR_OK;
}

typedef struct phdr {
    int type;
    int64_t usize, csize;
    int64_t num_values;
    int enc, def_enc, rep_enc;
    bool has_dph, has_dict;
} phdr;

static void read_phdr(tr *t, phdr *h) {
    memset(h, 0, sizeof *h);
    h->type = h->usize = h->csize = h->num_values = -1;
    h->enc = h->def_enc = h->rep_enc = ENC_RLE;
    pqr__tr_struct(t);
    int ft, id;
    while (!t->err && (id = pqr__tr_field(t, &ft))) {
        if (id == 1) {
            h->type = (int)pqr__tr_int(t, ft);
        } else if (id == 2) {
            h->usize = pqr__tr_int(t, ft);
        } else if (id == 3) {
            h->csize = pqr__tr_int(t, ft);
        } else if ((id == 5 || id == 7) && ft == 12) {
            if (id == 5)
                h->has_dph = true;
            else
                h->has_dict = true;
            pqr__tr_struct(t);
            int ft2, id2;
            while (!t->err && (id2 = pqr__tr_field(t, &ft2))) {
                if (id2 == 1)
                    h->num_values = pqr__tr_int(t, ft2);
                else if (id2 == 2)
                    h->enc = (int)pqr__tr_int(t, ft2);
                else if (id == 5 && id2 == 3)
                    h->def_enc = (int)pqr__tr_int(t, ft2);
                else if (id == 5 && id2 == 4)
                    h->rep_enc = (int)pqr__tr_int(t, ft2);
                else
                    pqr__tr_skip(t, ft2);
            }
        } else {
            pqr__tr_skip(t, ft);
        }
    }
}

static int load_dict(pqr_cursor *c, const phdr *h, uint64_t off) {
    if (c->has_dict)
        return cfail(c, PQR_E_FORMAT, off, "a second dictionary page");
    if (h->enc != ENC_PLAIN && h->enc != ENC_PLAIN_DICT)
        return cfail(c, PQR_E_UNSUPPORTED, off, "dictionary encoded %s", enc_name(h->enc));
    if (c->l->physical == PQR_BOOLEAN)
        return cfail(c, PQR_E_UNSUPPORTED, off, "dictionary of booleans");
    if (load_body(c, off, (size_t)h->csize, (size_t)h->usize, &c->dict, &c->dict_cap))
        return c->err;
    size_t n = (size_t)h->num_values, size = (size_t)h->usize;
    if (c->width) {
        if (n > size / c->width)
            return cfail(c, PQR_E_FORMAT, off, "dictionary of %zu values in %zu bytes", n, size);
    } else {
        if (n > size / 4) /* each value has a 4-byte length */
            return cfail(c, PQR_E_FORMAT, off, "dictionary of %zu values in %zu bytes", n, size);
        if (n > c->doff_cap) {
            uint32_t *d = realloc(c->doff, n * sizeof *d);
            if (!d)
                return cfail(c, PQR_E_NOMEM, off, "out of memory");
            c->doff = d;
            c->doff_cap = n;
        }
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            if (size - at < 4)
                return cfail(c, PQR_E_FORMAT, off, "dictionary value %zu truncated", i);
            uint32_t len;
            memcpy(&len, c->dict + at, 4);
            if (len > size - at - 4)
                return cfail(c, PQR_E_FORMAT, off, "dictionary value %zu truncated", i);
            c->doff[i] = (uint32_t)at;
            at += 4 + (size_t)len;
        }
    }
    c->n_dict = n;
    c->has_dict = true;
    return PQR_OK;
}

/* Levels block of a v1 data page: 4-byte length, then the hybrid stream. */
static int levels(pqr_cursor *c, rle *r, const uint8_t **p, const uint8_t *end, int max,
                  uint64_t off) {
    if (end - *p < 4)
        return cfail(c, PQR_E_FORMAT, off, "levels truncated");
    uint32_t len;
    memcpy(&len, *p, 4);
    *p += 4;
    if (len > (size_t)(end - *p))
        return cfail(c, PQR_E_FORMAT, off, "levels of %" PRIu32 " bytes overrun the page", len);
    rle_init(r, *p, len, bit_width((uint32_t)max));
    *p += len;
    return PQR_OK;
}

static int start_data(pqr_cursor *c, const phdr *h, uint64_t off) {
    const pqr_leaf *l = c->l;
    if (h->num_values > c->chunk_left)
        return cfail(c, PQR_E_FORMAT, off, "page of %" PRId64 " values past the chunk's end",
                     h->num_values);
    if ((l->max_rep && h->rep_enc != ENC_RLE) || (l->max_def && h->def_enc != ENC_RLE))
        return cfail(c, PQR_E_UNSUPPORTED, off, "levels encoded %s",
                     enc_name(l->max_rep && h->rep_enc != ENC_RLE ? h->rep_enc : h->def_enc));
    if (h->enc == ENC_PLAIN) {
        c->venc = V_PLAIN;
    } else if (h->enc == ENC_PLAIN_DICT || h->enc == ENC_RLE_DICT) {
        if (!c->has_dict)
            return cfail(c, PQR_E_FORMAT, off, "dictionary-encoded page without a dictionary");
        c->venc = V_DICT;
    } else if (h->enc == ENC_RLE && l->physical == PQR_BOOLEAN) {
        c->venc = V_RLE_BOOL;
    } else {
        return cfail(c, PQR_E_UNSUPPORTED, off, "values encoded %s (%d)", enc_name(h->enc), h->enc);
    }
    if (load_body(c, off, (size_t)h->csize, (size_t)h->usize, &c->page, &c->page_cap))
        return c->err;
    const uint8_t *p = c->page, *end = c->page + h->usize;
    if (l->max_rep && levels(c, &c->rep, &p, end, l->max_rep, off))
        return c->err;
    if (l->max_def && levels(c, &c->def, &p, end, l->max_def, off))
        return c->err;
    if (c->venc == V_DICT) {
        if (p >= end) { /* a page of nulls only may have no index bytes at all */
            rle_init(&c->vidx, p, 0, 0);
        } else {
            int bw = *p++;
            if (bw > 32)
                return cfail(c, PQR_E_FORMAT, off, "dictionary index width %d", bw);
            rle_init(&c->vidx, p, (size_t)(end - p), bw);
        }
    } else if (c->venc == V_RLE_BOOL) {
        if (end - p < 4)
            return cfail(c, PQR_E_FORMAT, off, "boolean values truncated");
        uint32_t len;
        memcpy(&len, p, 4);
        p += 4;
        if (len > (size_t)(end - p))
            return cfail(c, PQR_E_FORMAT, off, "boolean values overrun the page");
        rle_init(&c->vidx, p, len, 1);
    }
    c->vp = p;
    c->vend = end;
    c->bool_bit = 0;
    c->page_left = h->num_values;
    c->chunk_left -= h->num_values;
    c->page_off = off;
    return PQR_OK;
}

/* Reads page headers until a data page is ready (or the chunk is done). */
static int next_page(pqr_cursor *c) {
    const pqr_options *o = &c->f->o;
    while (c->page_left == 0 && c->chunk_left > 0) {
        uint64_t off = c->pos;
        if (off >= c->chunk_end)
            return cfail(c, PQR_E_FORMAT, off, "chunk ends %" PRId64 " values short",
                         c->chunk_left);
        uint64_t avail = c->chunk_end - off;
        size_t win = 256;
        tr t;
        phdr h;
        for (;;) {
            size_t n = avail < win ? (size_t)avail : win;
            if (grow(&c->hdr, &c->hdr_cap, n))
                return cfail(c, PQR_E_NOMEM, off, "out of memory");
            if (c->f->src.read_at(c->f->src.ctx, off, n, c->hdr))
                return cfail(c, PQR_E_IO, off, "read failed");
            pqr__tr_init(&t, c->hdr, n, off);
            read_phdr(&t, &h);
            if (!t.err)
                break;
            if (!t.eof || n == avail || win >= PQR_MAX_PAGE_HDR)
                return cfail(c, t.eof && win >= PQR_MAX_PAGE_HDR ? PQR_E_LIMIT : PQR_E_FORMAT,
                             pqr__tr_off(&t), "page header: %s", t.why);
            win *= 4;
        }
        uint64_t body = pqr__tr_off(&t);
        if (h.type < 0 || h.usize < 0 || h.csize < 0)
            return cfail(c, PQR_E_FORMAT, off, "page header without type or sizes");
        if ((uint64_t)h.csize > c->chunk_end - body)
            return cfail(c, PQR_E_FORMAT, off, "page of %" PRId64 " bytes overruns the chunk",
                         h.csize);
        if ((uint64_t)h.usize > o->max_page_bytes || (uint64_t)h.csize > o->max_page_bytes)
            return cfail(c, PQR_E_LIMIT, off, "page of %" PRId64 " bytes is over the limit (%zu)",
                         h.usize > h.csize ? h.usize : h.csize, o->max_page_bytes);
        c->pos = body + (uint64_t)h.csize;
        if (h.type == 3)
            return cfail(c, PQR_E_UNSUPPORTED, off, "data page v2 is not supported");
        if (h.type == 1)
            continue; /* index page: nothing to read */
        if (h.type == 2) {
            if (!h.has_dict || h.num_values < 0)
                return cfail(c, PQR_E_FORMAT, off, "dictionary page without its header");
            if (load_dict(c, &h, body))
                return c->err;
            continue;
        }
        if (h.type != 0)
            return cfail(c, PQR_E_FORMAT, off, "unknown page type %d", h.type);
        if (!h.has_dph || h.num_values < 0)
            return cfail(c, PQR_E_FORMAT, off, "data page without its header");
        if (start_data(c, &h, body))
            return c->err;
    }
    return PQR_OK;
}

static int start_chunk(pqr_cursor *c) {
    const pqr_chunk *ch = &c->f->rgs[c->rg].cols[c->leaf];
    c->in_chunk = true;
    c->pos = ch->start;
    c->chunk_end = ch->start + ch->len;
    c->chunk_left = ch->num_values;
    c->chunk_rows = 0;
    c->has_dict = false;
    c->n_dict = 0;
    c->page_left = 0;
    return PQR_OK;
}

static int end_chunk(pqr_cursor *c) {
    int64_t want = c->f->rgs[c->rg].rows;
    if (c->chunk_rows != want)
        return cfail(c, PQR_E_FORMAT, c->pos,
                     "row group %d: %" PRId64 " rows, the chunk has %" PRId64, c->rg, want,
                     c->chunk_rows);
    c->in_chunk = false;
    c->rg++;
    return PQR_OK;
}

static int value(pqr_cursor *c, pqr_value *v) {
    const pqr_leaf *l = c->l;
    uint64_t off = c->page_off;
    if (c->venc == V_DICT) {
        uint32_t k;
        if (rle_next(&c->vidx, &k))
            return cfail(c, PQR_E_FORMAT, off, "dictionary indices run out");
        if (k >= c->n_dict)
            return cfail(c, PQR_E_FORMAT, off, "dictionary index %" PRIu32 " of %zu", k, c->n_dict);
        if (c->width) {
            v->p = c->dict + (size_t)k * c->width;
            v->len = c->width;
        } else {
            uint32_t len;
            memcpy(&len, c->dict + c->doff[k], 4);
            v->p = c->dict + c->doff[k] + 4;
            v->len = len;
        }
    } else if (c->venc == V_RLE_BOOL) {
        uint32_t b;
        if (rle_next(&c->vidx, &b))
            return cfail(c, PQR_E_FORMAT, off, "boolean values run out");
        v->i = b & 1;
        return PQR_OK;
    } else if (l->physical == PQR_BOOLEAN) {
        uint64_t byte = c->bool_bit >> 3;
        if (byte >= (uint64_t)(c->vend - c->vp))
            return cfail(c, PQR_E_FORMAT, off, "boolean values run out");
        v->i = (c->vp[byte] >> (c->bool_bit & 7)) & 1;
        c->bool_bit++;
        return PQR_OK;
    } else if (c->width) {
        if ((size_t)(c->vend - c->vp) < c->width)
            return cfail(c, PQR_E_FORMAT, off, "values run out");
        v->p = c->vp;
        v->len = c->width;
        c->vp += c->width;
    } else {
        uint32_t len;
        if (c->vend - c->vp < 4)
            return cfail(c, PQR_E_FORMAT, off, "values run out");
        memcpy(&len, c->vp, 4);
        if (len > (size_t)(c->vend - c->vp) - 4)
            return cfail(c, PQR_E_FORMAT, off, "value of %" PRIu32 " bytes overruns the page", len);
        v->p = c->vp + 4;
        v->len = len;
        c->vp += 4 + (size_t)len;
    }
    switch (l->physical) { /* fixed widths: PLAIN little-endian bytes at v->p */
    case PQR_INT32: {
        int32_t x;
        memcpy(&x, v->p, 4);
        v->i = x;
        break;
    }
    case PQR_INT64:
        memcpy(&v->i, v->p, 8);
        break;
    case PQR_FLOAT: {
        float x;
        memcpy(&x, v->p, 4);
        v->d = x;
        break;
    }
    case PQR_DOUBLE:
        memcpy(&v->d, v->p, 8);
        break;
    }
    return PQR_OK;
}

int pqr_next(pqr_cursor *c, pqr_value *v) {
    if (!c || !v)
        return PQR_E_USAGE;
    for (;;) {
        if (c->err)
            return c->err;
        if (c->in_chunk && c->page_left > 0)
            break;
        if (c->in_chunk && c->chunk_left > 0) {
            if (next_page(c))
                return c->err;
            continue;
        }
        if (c->in_chunk && end_chunk(c))
            return c->err;
        if (c->rg >= c->rg_end)
            return 0;
        start_chunk(c);
    }
    const pqr_leaf *l = c->l;
    memset(v, 0, sizeof *v);
    uint32_t r = 0, d = 0;
    if (l->max_rep && (rle_next(&c->rep, &r) || r > (uint32_t)l->max_rep))
        return cfail(c, PQR_E_FORMAT, c->page_off, "repetition levels run out or exceed %d",
                     l->max_rep);
    if (l->max_def && (rle_next(&c->def, &d) || d > (uint32_t)l->max_def))
        return cfail(c, PQR_E_FORMAT, c->page_off, "definition levels run out or exceed %d",
                     l->max_def);
    if (r == 0) {
        c->row++;
        c->chunk_rows++;
    } else if (c->chunk_rows == 0) {
        return cfail(c, PQR_E_FORMAT, c->page_off, "chunk starts inside a row");
    }
    c->page_left--;
    v->rep = (int)r;
    v->def = (int)d;
    v->row = c->row - 1;
    v->present = (int)d == l->max_def;
    if (v->present && value(c, v))
        return c->err;
    return 1;
}
