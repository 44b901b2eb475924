/* parquet_stats.c - column chunk statistics: min / max over the chunk's dictionary entries
 * and PLAIN values (NaN skipped, signed zeros as the spec wants), and their PLAIN bytes.
 */
#include "parquet_internal.h"

#include <math.h>

static const uint8_t *dict_entry(const col *c, size_t e, size_t *len) {
    if (c->vsize) {
        *len = c->vsize;
        return c->dict.p + e * c->vsize;
    }
    uint32_t l;
    memcpy(&l, c->dict.p + c->d_off[e], 4);
    *len = l;
    return c->dict.p + c->d_off[e] + 4;
}

static int bcmp_u(const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
    int r = memcmp(a, b, la < lb ? la : lb);
    if (r)
        return r;
    return la < lb ? -1 : la > lb;
}

static void stat_add(const col *c, stats *s, const uint8_t *p, size_t n) {
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

void pq__chunk_stats(const col *c, stats *s) {
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

void pq__stat_bytes(const col *c, const stats *s, bool max, uint8_t tmp[8], const void **p,
                    size_t *n) {
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
