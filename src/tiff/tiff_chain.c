/* tiff_chain.c - the main IFD chain after IFD 0: counting IFDs (cycle-safe, max_ifds), why
 * the walk stopped, and the header_bytes scan of strip / tile offset arrays (of every IFD
 * whose entries are already fed). Its state (p->ch) is kept across passes.
 *
 * header_bytes: the smallest non-zero strip/tile data offset found in offset arrays that are
 * inline in their entry or already fed (never fetched for this), over every IFD of the main
 * chain whose entries are fed (IFDs >= 1: at most SCAN_BUDGET entries and offsets per object);
 * if there is none, the end of the furthest IFD structure (entry count + entries + next
 * pointer) or IFD-0 value read, whichever is larger.
 */
#include "tiff_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- visited IFD offsets */

static int visited_has(const tiff_parser *p, uint64_t off) {
    if (!p->vcap)
        return 0;
    size_t mask = p->vcap - 1, i = (size_t)((off * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (p->vgen[i] == p->gen) {
        if (p->vkeys[i] == off)
            return 1;
        i = (i + 1) & mask;
    }
    return 0;
}

static int visited_add(tiff_parser *p, uint64_t off) {
    if ((p->vcount + 1) * 2 > p->vcap) {
        size_t nc = p->vcap ? p->vcap * 2 : 64;
        uint64_t *nk = malloc(nc * sizeof *nk);
        uint32_t *ng = calloc(nc, sizeof *ng);
        if (!nk || !ng) {
            free(nk);
            free(ng);
            return -1;
        }
        /* generation 0 is never current: gen starts at 1 */
        for (size_t j = 0; j < p->vcap; j++) {
            if (p->vgen[j] != p->gen)
                continue;
            uint64_t k = p->vkeys[j];
            size_t i = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 20) & (nc - 1);
            while (ng[i] == p->gen)
                i = (i + 1) & (nc - 1);
            nk[i] = k;
            ng[i] = p->gen;
        }
        free(p->vkeys);
        free(p->vgen);
        p->vkeys = nk;
        p->vgen = ng;
        p->vcap = nc;
    }
    size_t mask = p->vcap - 1, i = (size_t)((off * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (p->vgen[i] == p->gen) {
        if (p->vkeys[i] == off)
            return 0;
        i = (i + 1) & mask;
    }
    p->vkeys[i] = off;
    p->vgen[i] = p->gen;
    p->vcount++;
    return 0;
}

/* IFD 0 at off is the start of the chain; an / nb: its next-IFD pointer (read or not). */
int tiff__chain_start(tiff_parser *p, uint64_t off, avail an, const uint8_t *nb) {
    if (visited_add(p, off) != 0)
        return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
    p->ch.count = 1;
    if (an == AV_OK) {
        p->ch.started = 1;
        p->ch.next = roff(p, nb);
        if (p->ch.next == 0)
            p->ch.done = 1;
    } else if (an != AV_MISSING) {
        p->ch.started = 1;
        p->ch.done = 1;
        snprintf(p->ch.err, sizeof p->ch.err, "IFD 0 offset %llu: next-IFD offset %s",
                 (unsigned long long)off,
                 an == AV_PAST_END ? "lies past the end of the file" : "not fetched");
    }
    return TIFF_OK;
}

/* ---------------------------------------------------------------- header_bytes scan */

static uint32_t bswap32(uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}
static uint64_t bswap64(uint64_t v) {
    return ((uint64_t)bswap32((uint32_t)v) << 32) | bswap32((uint32_t)(v >> 32));
}
static int host_le(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Smallest value >= 8 of an offsets array (0 marks an empty sparse tile), when readable
 * without fetching. This runs over every tile of every IFD of a COG, so the common LONG and
 * LONG8 arrays get loops the compiler can vectorise. */
void tiff__data_offsets_min(tiff_parser *p, const ent *e, uint64_t *min) {
    if (!type_is_int(e->type) || e->count == 0)
        return;
    const uint8_t *d;
    if (e->inl)
        d = e->field;
    else if (tiff__get(p, e->voff, e->vsize, &d, 0) != AV_OK)
        return;
    unsigned isz = item_size(e->type);
    size_t n = (size_t)e->count;
    int swap = p->le != host_le();
    uint64_t m = *min;
    if (isz == 4) {
        /* v - 8 wraps the invalid offsets 0..7 to the top, so a plain unsigned min works */
        uint32_t a = UINT32_MAX;
        if (!swap) {
            for (size_t i = 0; i < n; i++) {
                uint32_t v;
                memcpy(&v, d + 4 * i, 4);
                v -= 8;
                a = v < a ? v : a;
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                uint32_t v;
                memcpy(&v, d + 4 * i, 4);
                v = bswap32(v) - 8;
                a = v < a ? v : a;
            }
        }
        if (a <= UINT32_MAX - 8 && (uint64_t)a + 8 < m)
            m = (uint64_t)a + 8;
    } else if (isz == 8) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, d + 8 * i, 8);
            if (swap)
                v = bswap64(v);
            v = v < 8 ? UINT64_MAX : v;
            m = v < m ? v : m;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint64_t v = isz == 2 ? r16(p, d + i * 2) : d[i];
            if (v >= 8 && v < m)
                m = v;
        }
    }
    *min = m;
}

/* ---------------------------------------------------------------- the walk */

/* Walk the main IFD chain from where the last pass stopped. */
int tiff__walk_chain(tiff_parser *p) {
    while (p->ch.started && !p->ch.done) {
        uint32_t k = p->ch.count;
        uint64_t off = p->ch.next;
        unsigned long long uo = (unsigned long long)off, us = (unsigned long long)p->size;
        if (k >= p->lim.max_ifds) {
            snprintf(p->ch.err, sizeof p->ch.err, "IFD %u offset %llu: max_ifds (%u) reached", k,
                     uo, p->lim.max_ifds);
            p->ch.done = 1;
            break;
        }
        if (visited_has(p, off)) {
            snprintf(p->ch.err, sizeof p->ch.err,
                     "IFD %u offset %llu repeats an earlier IFD (cycle)", k, uo);
            p->ch.done = 1;
            break;
        }
        if (off < (p->big ? 16u : 8u)) {
            snprintf(p->ch.err, sizeof p->ch.err, "IFD %u offset %llu points into the file header",
                     k, uo);
            p->ch.done = 1;
            break;
        }
        const uint8_t *b;
        avail a = tiff__get(p, off, p->cs, &b, 1);
        if (a == AV_MISSING)
            return TIFF_NEED;
        if (a != AV_OK) {
            if (a == AV_PAST_END)
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu outside file of %llu bytes", k, uo, us);
            else
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu not fetched (max_fetch_bytes or not delivered)", k,
                         uo);
            p->ch.done = 1;
            break;
        }
        uint64_t n = p->big ? r64(p, b) : r16(p, b);
        uint64_t room =
            p->size == TIFF_SIZE_UNKNOWN ? UINT64_MAX - off - p->cs : p->size - off - p->cs;
        if (n > room / p->es) {
            snprintf(p->ch.err, sizeof p->ch.err,
                     "IFD %u offset %llu truncated (%llu entries end past file of %llu bytes)", k,
                     uo, (unsigned long long)n, us);
            p->ch.done = 1;
            break;
        }
        uint64_t nptr = off + p->cs + n * p->es;
        const uint8_t *nb;
        a = tiff__get(p, nptr, p->os, &nb, 1);
        if (a == AV_MISSING)
            return TIFF_NEED;
        if (a != AV_OK) {
            if (a == AV_DENIED || p->size == TIFF_SIZE_UNKNOWN) {
                snprintf(
                    p->ch.err, sizeof p->ch.err,
                    "IFD %u offset %llu: entries not fetched (max_fetch_bytes or not delivered)", k,
                    uo);
            } else {
                /* entries inside the file: the IFD counts, the chain ends */
                p->ch.count++;
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu: next-IFD offset lies past the end of the file", k,
                         uo);
            }
            p->ch.done = 1;
            break;
        }
        if (visited_add(p, off) != 0)
            return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
        p->ch.count++;
        if (nptr + p->os > p->ch.meta_end)
            p->ch.meta_end = nptr + p->os;
        /* data offsets of this IFD, if its entries are already here (never fetched for it) */
        /* (bounded: overlapping IFDs could otherwise make this quadratic) */
        const uint8_t *eb;
        if (n <= p->ch.scan_left && n * p->es <= p->lim.max_memory &&
            tiff__get(p, off + p->cs, n * p->es, &eb, 0) == AV_OK) {
            p->ch.scan_left -= n;
            for (uint64_t i = 0; i < n; i++) {
                unsigned tag = r16(p, eb + i * p->es);
                if (tag != 273 && tag != 324)
                    continue;
                ent e;
                if (tiff__decode_entry(p, eb + i * p->es, off + p->cs + i * p->es, &e, 0) == 0 &&
                    e.count <= p->ch.scan_left) {
                    p->ch.scan_left -= e.count;
                    tiff__data_offsets_min(p, &e, &p->ch.data_min);
                }
            }
        }
        p->ch.next = roff(p, nb);
        if (p->ch.next == 0)
            p->ch.done = 1;
    }
    return TIFF_OK;
}
