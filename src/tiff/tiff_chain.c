/* tiff_chain.c - the IFD walk: the main chain (count, cycles, max_ifds, why it stopped) and,
 * breadth first, the IFDs that SubIFDs tags (330) list, with one record per image
 * (tiff_image) kept across passes. Records are made when an IFD's entry count is known and
 * filled ("refreshed") pass after pass until every value they need is here: the first value
 * of the per-image tags, the SubIFDs offsets and the strip/tile offset and byte-count arrays.
 * Missing bytes are asked for like any other value (within max_fetch_bytes); bytes that do
 * not come make the record give up with a warning, never a guess.
 *
 * Bounds: at most TIFF_MAX_IMAGES records (the chain is still counted up to max_ifds), each
 * IFD offset walked once (one visited set for the chain and SubIFDs), and at most
 * SCAN_BUDGET entries + array items decoded per object over all passes (overlapping IFDs and
 * arrays would otherwise make the walk quadratic).
 */
#include "tiff_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- visited IFD offsets */

/* Both inline (the walk tests and adds every IFD it meets: a call each cost about as much
 * as the probe), the rare growth apart. */
static inline int visited_has(const tiff_parser *p, uint64_t off) {
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

static __attribute__((noinline)) int visited_grow(tiff_parser *p) {
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
    return 0;
}

static inline int visited_add(tiff_parser *p, uint64_t off) {
    if ((p->vcount + 1) * 2 > p->vcap && visited_grow(p) != 0)
        return -1;
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

/* IFD 0 at off is the start of the chain: the walk reads it again as record 0. */
int tiff__chain_start(tiff_parser *p, uint64_t off) {
    p->ch.started = 1;
    p->ch.next = off;
    p->ch.count = 0;
    p->ch.scan_left = SCAN_BUDGET;
    p->ifd_end = p->big ? 16 : 8;
    return TIFF_OK;
}

void tiff__images_free(tiff_parser *p) {
    free(p->img);
    free(p->imx);
    free(p->subq);
    free(p->cogbuf);
    free(p->cogptr);
    free(p->gh.buf);
}

/* ---------------------------------------------------------------- records */

static inline __attribute__((always_inline)) int
add_record(tiff_parser *p, uint64_t off, uint64_t nent, int32_t parent, uint32_t pos) {
    if (p->nimg >= TIFF_MAX_IMAGES) {
        p->img_dropped++;
        return 0;
    }
    if (p->nimg == p->capimg) {
        size_t nc = p->capimg ? p->capimg * 2 : 4; /* most files: 1-8 images */
        tiff_image *ni = realloc(p->img, nc * sizeof *ni);
        if (!ni)
            return -1;
        p->img = ni;
        struct img_x *nx = realloc(p->imx, nc * sizeof *nx);
        if (!nx)
            return -1;
        p->imx = nx;
        p->capimg = nc;
    }
    tiff_image *im = &p->img[p->nimg];
    struct img_x *x = &p->imx[p->nimg];
    /* field by field rather than a memset of the whole: the warning buffer is most of it and
     * only its first byte matters until snprintf writes a message there */
    x->done = x->queued = x->has_sub = x->sub_known = x->arrays = 0;
    x->first_block = 0;
    x->warn[0] = 0;
    /* the record's bytes, padding included, are the key under which the Parquet writer
     * replays the ifds list of an earlier file (table.c, pq_again): zeroed first so that
     * equal records are equal bytes */
    memset(im, 0, sizeof *im);
    im->index = (uint32_t)p->nimg;
    im->parent = parent;
    im->position = pos;
    im->ifd_offset = off;
    im->kind = p->nimg == 0 ? TIFF_IMG_MAIN : TIFF_IMG_PAGE;
    im->width = im->height = im->tile_width = im->tile_height = im->rows_per_strip =
        im->compression = im->photometric = im->samples_per_pixel = im->bits_per_sample =
            im->sample_format = im->new_subfile_type = im->planar = im->predictor = im->blocks =
                im->first_data_offset = im->sparse_blocks = TIFF_ABSENT;
    x->nent = nent;
    p->nimg++;
    return 0;
}

static void give_up(tiff_parser *p, size_t i, const char *fmt, unsigned long long a,
                    unsigned long long b) {
    struct img_x *x = &p->imx[i];
    x->done = 2;
    x->sub_known = 1;
    if (!x->warn[0])
        snprintf(x->warn, sizeof x->warn, fmt, (unsigned)i, a, b);
}

static int host_le(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Sparse count and smallest offset of the non-sparse blocks (UINT64_MAX: none) of LONG /
 * LONG8 arrays in host order, one function per pair of item sizes: this runs over every tile
 * of every image. The smallest offset starts at all ones, the "none" value: an all-ones
 * offset of a block with data leaves it there too, which read_arrays() checks the slow way.
 * A plain loop with branches (empty blocks are rare): 11 instructions per block, where the
 * branch-free form (an all-ones mask for an empty block) took 16, not vectorised by GCC at
 * -O2 (the default build). The LONG / LONG case, the common one, is vectorised by hand
 * below. */
#define TD_SCAN(name, OT, CT)                                                              \
    static uint64_t name(const uint8_t *restrict od, const uint8_t *restrict cd, size_t m, \
                         uint64_t *min) {                                                  \
        OT mn = (OT)-1;                                                                    \
        uint64_t sp = 0;                                                                   \
        for (size_t k = 0; k < m; k++) {                                                   \
            OT o;                                                                          \
            CT c;                                                                          \
            memcpy(&o, od + sizeof o * k, sizeof o);                                       \
            memcpy(&c, cd + sizeof c * k, sizeof c);                                       \
            if (__builtin_expect(o == 0 || c == 0, 0))                                     \
                sp++;                                                                      \
            else if (o < mn)                                                               \
                mn = o;                                                                    \
        }                                                                                  \
        *min = mn == (OT)-1 ? UINT64_MAX : (uint64_t)mn;                                   \
        return sp;                                                                         \
    }
TD_SCAN(scan44_1, uint32_t, uint32_t)
TD_SCAN(scan88, uint64_t, uint64_t)
TD_SCAN(scan84, uint64_t, uint32_t)
TD_SCAN(scan48, uint32_t, uint64_t)
#undef TD_SCAN

/* LONG / LONG, four blocks at a time with GCC / Clang vector extensions (SSE2 on x86-64, any
 * target's vectors or plain code elsewhere): about 5 instructions per block. Branch-free: e
 * is all ones for an empty block, which both counts it (n - e) and makes its offset the
 * "none" value of the minimum. Four 32-bit counts cannot wrap: the walk's decode budget
 * (SCAN_BUDGET) bounds the blocks. The last m % 4 blocks go to scan44_1. */
typedef uint32_t td_u32x4 __attribute__((vector_size(16)));
_Static_assert(SCAN_BUDGET < UINT32_MAX, "scan44 counts blocks in 32 bits");

static uint64_t scan44(const uint8_t *restrict od, const uint8_t *restrict cd, size_t m,
                       uint64_t *min) {
    size_t m4 = m & ~(size_t)3;
    uint64_t sp = scan44_1(od + 4 * m4, cd + 4 * m4, m - m4, min);
    if (m4 == 0)
        return sp; /* one to three blocks: the smallest overviews */
    const td_u32x4 zero = {0, 0, 0, 0};
    td_u32x4 mn4 = ~zero, n4 = zero;
    for (size_t k = 0; k < m4; k += 4) {
        td_u32x4 o, c;
        memcpy(&o, od + 4 * k, sizeof o);
        memcpy(&c, cd + 4 * k, sizeof c);
        td_u32x4 e = (td_u32x4)((o == zero) | (c == zero));
        n4 -= e;
        o |= e;
        td_u32x4 lt = (td_u32x4)(o < mn4);
        mn4 = (o & lt) | (mn4 & ~lt);
    }
    for (int j = 0; j < 4; j++) {
        sp += n4[j];
        if (mn4[j] != UINT32_MAX && mn4[j] < *min)
            *min = mn4[j];
    }
    return sp;
}

/* LONG8 offsets / LONG byte counts (what GDAL writes in a BigTIFF), like scan44 when every
 * offset fits in 32 bits (an object under 4 GiB): an offset is then its low word, which on a
 * little-endian host comes first, so two vectors of offsets give the four low words with one
 * shuffle, and the high words are ORed together to see at the end that they were all zero
 * (else the whole array goes to scan84, the plain loop: its result stands alone). About 5
 * instructions per block instead of 9. Like scan44's, a low word 0xFFFFFFFF looks like "none"
 * to the minimum: read_arrays checks that case the slow way. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define TD_SCAN84_VEC 1
#endif
#endif
#ifdef TD_SCAN84_VEC
static uint64_t scan84v(const uint8_t *restrict od, const uint8_t *restrict cd, size_t m,
                        uint64_t *min) {
    size_t m4 = m & ~(size_t)3;
    uint64_t mt, sp = scan84(od + 8 * m4, cd + 4 * m4, m - m4, &mt);
    if (m4 == 0) {
        *min = mt;
        return sp;
    }
    const td_u32x4 zero = {0, 0, 0, 0};
    td_u32x4 mn4 = ~zero, n4 = zero, hi = zero;
    for (size_t k = 0; k < m4; k += 4) {
        td_u32x4 a, b, c;
        memcpy(&a, od + 8 * k, sizeof a); /* offsets k, k+1: low, high, low, high */
        memcpy(&b, od + 8 * k + 16, sizeof b);
        memcpy(&c, cd + 4 * k, sizeof c);
        hi |= a | b; /* lanes 1 and 3: the high words */
        td_u32x4 o = __builtin_shufflevector(a, b, 0, 2, 4, 6);
        td_u32x4 e = (td_u32x4)((o == zero) | (c == zero));
        n4 -= e;
        o |= e;
        td_u32x4 lt = (td_u32x4)(o < mn4);
        mn4 = (o & lt) | (mn4 & ~lt);
    }
    if (hi[1] | hi[3])
        return scan84(od, cd, m, min); /* an offset past 4 GiB */
    *min = mt;
    for (int j = 0; j < 4; j++) {
        sp += n4[j];
        if (mn4[j] != UINT32_MAX && mn4[j] < *min)
            *min = mn4[j];
    }
    return sp;
}
#else
#define scan84v scan84
#endif

static uint64_t item_u(const tiff_parser *p, unsigned isz, const uint8_t *d, size_t i) {
    switch (isz) {
    case 1:
        return d[i];
    case 2:
        return r16(p, d + 2 * i);
    case 4:
        return r32(p, d + 4 * i);
    default:
        return r64(p, d + 8 * i);
    }
}

/* item_u() of a LONG or LONG8 array in host order, inline. */
static inline uint64_t host_u(unsigned isz, const uint8_t *d, size_t i) {
    if (isz == 4) {
        uint32_t v;
        memcpy(&v, d + 4 * i, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, d + 8 * i, 8);
    return v;
}

/* Bytes of an array (want: ask when missing). */
static avail arr_bytes(tiff_parser *p, const arr_ref *a, const uint8_t **out) {
    if (a->inl) {
        *out = a->inb;
        return AV_OK;
    }
    uint64_t n = a->count * item_size(a->type);
    if (n > p->lim.max_memory)
        return AV_DENIED;
    return tiff__get(p, a->voff, n, out, 1);
}

/* The arrays of record i: blocks, sparse blocks, first data offset, GDAL's first block. */
static avail read_arrays(tiff_parser *p, size_t i, const arr_ref *off, const arr_ref *cnt,
                         int have_cnt) {
    tiff_image *im = &p->img[i];
    struct img_x *x = &p->imx[i];
    const uint8_t *od, *cd = NULL;
    avail a = arr_bytes(p, off, &od), b = AV_OK;
    if (have_cnt)
        b = arr_bytes(p, cnt, &cd);
    if (a == AV_MISSING || b == AV_MISSING)
        return AV_MISSING;
    if (a != AV_OK || b != AV_OK)
        return a != AV_OK ? a : b;
    uint64_t n = off->count, nc = have_cnt ? cnt->count : 0;
    if (n + nc > p->ch.scan_left)
        return AV_DENIED;
    p->ch.scan_left -= n + nc;
    unsigned oisz = item_size(off->type), cisz = have_cnt ? item_size(cnt->type) : 0;
    /* GDAL's band 1: the first blocks/samples entries when planar (2), all otherwise */
    uint64_t band = n;
    if (im->planar == 2 && im->samples_per_pixel > 1)
        band = n / (uint64_t)im->samples_per_pixel;
    uint64_t sparse = 0, first = UINT64_MAX;
    int64_t fb = 0;
    int fb_found = 0;
    uint64_t m = n < nc ? n : nc; /* blocks with both an offset and a byte count */
    int fast = (oisz == 4 || oisz == 8) && (cisz == 4 || cisz == 8) && p->le == host_le();
    if (fast) {
        uint64_t mn;
        size_t mm = (size_t)m;
        sparse = oisz == 4 ? (cisz == 4 ? scan44(od, cd, mm, &mn) : scan48(od, cd, mm, &mn))
                           : (cisz == 4 ? scan84v(od, cd, mm, &mn) : scan88(od, cd, mm, &mn));
        if (mn != UINT64_MAX) {
            first = mn;
        } else {
            /* the all-ones value itself may be a real offset: check it the slow way */
            for (uint64_t k = 0; k < m; k++)
                if (item_u(p, oisz, od, (size_t)k) && item_u(p, cisz, cd, (size_t)k)) {
                    first = item_u(p, oisz, od, (size_t)k);
                    break;
                }
        }
        /* GDAL: a block is available when its byte count is non-zero (its offset may be 0) */
        for (uint64_t k = 0; k < m && k < band; k++)
            if (host_u(cisz, cd, (size_t)k) != 0) {
                uint64_t o = host_u(oisz, od, (size_t)k);
                fb = o > INT64_MAX ? 0 : (int64_t)o;
                fb_found = 1;
                break;
            }
    }
    for (uint64_t k = fast ? m : 0; k < n; k++) { /* the rest, or all of a slow case */
        uint64_t o = item_u(p, oisz, od, (size_t)k);
        int has_c = k < nc;
        uint64_t c = has_c ? item_u(p, cisz, cd, (size_t)k) : 1;
        if (o == 0 || c == 0) {
            sparse++;
        } else if (o < first) {
            first = o;
        }
        /* GDAL: a block is available when its byte count is non-zero (its offset may be 0) */
        if (!fb_found && k < band && (has_c ? c != 0 : o != 0)) {
            fb_found = 1;
            fb = o > INT64_MAX ? 0 : (int64_t)o;
        }
    }
    im->blocks = (int64_t)n;
    im->sparse_blocks = (int64_t)sparse;
    im->first_data_offset = first <= INT64_MAX ? (int64_t)first : TIFF_ABSENT;
    x->first_block = fb;
    return AV_OK;
}

static void note_ifd_end(tiff_parser *p, uint64_t end) {
    if (end > p->ifd_end)
        p->ifd_end = end;
}

static int queue_sub(tiff_parser *p, uint64_t off, int32_t parent, uint32_t pos) {
    if (p->nsubq >= TIFF_MAX_IMAGES) {
        p->img_dropped++;
        return 0;
    }
    if (p->nsubq == p->capsubq) {
        size_t nc = p->capsubq ? p->capsubq * 2 : 16;
        struct subq_item *n = realloc(p->subq, nc * sizeof *n);
        if (!n)
            return -1;
        p->subq = n;
        p->capsubq = nc;
    }
    p->subq[p->nsubq++] = (struct subq_item){off, parent, pos, 0};
    p->subq_unsorted = 1;
    return 0;
}

/* What refresh() takes from the entries of one IFD. */
struct gather {
    int pending; /* a value it needs waits for bytes */
    int have[4];
    arr_ref arr[4]; /* strip offsets, strip byte counts, tile offsets, tile byte counts */
    int have_sub;
    ent sub;
    uint64_t end; /* where the IFD's out-of-line values end (note_ifd_end) */
};

/* Where the first value of each per-image tag goes in a record, by tag - 254 (0: not one of
 * them; offset 0 is the record's index): a table rather than a switch, which GCC compiles to
 * an indirect jump per entry. */
#define FIELD(tag, name) [(tag)-254] = offsetof(tiff_image, name)
static const uint8_t field_at[339 - 254 + 1] = {
    FIELD(254, new_subfile_type),  FIELD(256, width),          FIELD(257, height),
    FIELD(258, bits_per_sample),   FIELD(259, compression),    FIELD(262, photometric),
    FIELD(277, samples_per_pixel), FIELD(278, rows_per_strip), FIELD(284, planar),
    FIELD(317, predictor),         FIELD(322, tile_width),     FIELD(323, tile_height),
    FIELD(339, sample_format),
};
#undef FIELD
_Static_assert(sizeof(tiff_image) <= UINT8_MAX, "field_at holds offsets in bytes");

/* The field of record im that takes the first value of tag, NULL for other tags. */
static inline int64_t *field_of(tiff_image *im, unsigned tag) {
    unsigned at = tag - 254 < sizeof field_at ? field_at[tag - 254] : 0;
    return at ? (int64_t *)(void *)((char *)im + at) : NULL;
}

/* The classic bounds test below adds an offset and a size: it relies on "size unknown" being
 * the largest size. */
_Static_assert(TIFF_SIZE_UNKNOWN == UINT64_MAX, "TIFF_SIZE_UNKNOWN must be UINT64_MAX");

/* The n entries at eb (the first at file offset eoff) of record im's IFD into g.
 *
 * Decoded here rather than by tiff__decode_entry: this runs for every entry of every IFD,
 * and none of the tags read below is one of tifffile's reader tags, so the plain rules apply
 * (unknown type: skipped; value inline when it fits, else at an offset that must lie inside
 * the object). Every entry that passes them counts towards ifd_bytes (g->end) whether its
 * tag is used or not.
 *
 * Always inlined, with big and le constants (refresh() has one call per layout): the entry
 * size, value field and offset size are then constants and every read is one load (and a
 * byte swap for a byte order not the host's) instead of branches on p->le and p->big. */
static inline __attribute__((always_inline)) void gather(tiff_parser *p, tiff_image *im,
                                                         struct gather *g, const uint8_t *eb,
                                                         uint64_t n, uint64_t eoff, const int big,
                                                         const int le) {
    const unsigned es = big ? 20 : 12, fo = big ? 12 : 8, os = big ? 8 : 4;
    const uint64_t size = p->size;
    uint64_t end = g->end;
    /* Fields whose first usable entry waits for bytes: a later duplicate entry of the same
     * tag must not fill them meanwhile, or the value would depend on how the object was
     * fetched (whole, the first entry wins; in rounds, the duplicate did: found by fuzz_tiff).
     * Such a field holds a mark until the loop ends, and is then absent again: to every
     * entry after it the field looks filled (any value but TIFF_ABSENT does, the mark or a
     * file's value alike), so the one test per entry is whether the field is filled. A
     * field is marked at most once: 13 at most. */
    const int64_t waiting_mark = TIFF_ABSENT + 1;
    int64_t *waiting[16];
    size_t n_waiting = 0;
    for (const uint8_t *q = eb, *qend = eb + n * es; q != qend; q += es) {
        unsigned tag, type;
        uint64_t count;
        int64_t *dst;
        /* Most entries of an IFD are one SHORT or LONG of a field (12 of 15 in a COG's
         * overview): such a value is inline (nothing for ifd_bytes) and usable, so the rules
         * below come down to this, in about half their instructions. */
        if (!big) {
            /* A classic entry's tag, type and count are its first 8 bytes: read as one
             * number in the file's order, the tag is its low 16 bits (little-endian) or its
             * high 16 (big-endian), and the type and count together the other 48, which
             * for one SHORT / one LONG are one of two constants: one load and one test
             * instead of three loads and two tests. */
            const uint64_t w = rd64(q, le), tc = le ? w >> 16 : w & 0xFFFFFFFFFFFFu;
            const uint64_t one_short = le ? 0x10003u : 0x300000001u,
                           one_long = le ? 0x10004u : 0x400000001u;
            tag = le ? (unsigned)(w & 0xFFFF) : (unsigned)(w >> 48);
            if ((tc == one_short || tc == one_long) && (dst = field_of(im, tag))) {
                if (*dst == TIFF_ABSENT)
                    *dst = tc == one_short ? rd16(q + fo, le) : rd32(q + fo, le);
                continue;
            }
            type = le ? (unsigned)(tc & 0xFFFF) : (unsigned)(tc >> 32);
            count = le ? w >> 32 : (uint32_t)w;
        } else {
            tag = rd16(q, le);
            type = rd16(q + 2, le);
            count = rd64(q + 4, le);
            if (count == 1 && (type == 3 || type == 4) && (dst = field_of(im, tag))) {
                if (*dst == TIFF_ABSENT)
                    *dst = type == 3 ? rd16(q + fo, le) : rd32(q + fo, le);
                continue;
            }
        }
        unsigned isz = item_size(type);
        if (!isz)
            continue;
        if (big && count > UINT64_MAX / isz)
            continue; /* a classic count (32 bits) times an item size (<= 8) cannot wrap */
        uint64_t vsize = count * isz;
        /* the value field read as an offset, which it is when the value is not inline */
        uint64_t voff = big ? rd64(q + fo, le) : rd32(q + fo, le);
        int inl = vsize <= os;
        if (!inl) {
            /* classic: voff + vsize < 2^36 cannot wrap, and exceeds no unknown size */
            if (voff < 8 || (big ? size != TIFF_SIZE_UNKNOWN && (voff > size || vsize > size - voff)
                                 : voff + vsize > size))
                continue;
            end = voff + vsize > end ? voff + vsize : end;
        }
        dst = field_of(im, tag);
        if (!dst) {
            /* the arrays and SubIFDs: once per IFD each, kept for after the loop */
            if (tag != 273 && tag != 279 && tag != 324 && tag != 325 && tag != 330)
                continue;
            uint64_t at = eoff + (uint64_t)(q - eb); /* the entry's offset */
            int j = tag == 273 ? 0 : tag == 279 ? 1 : tag == 324 ? 2 : tag == 325 ? 3 : -1;
            if (j >= 0 && !g->have[j] && type_is_int(type)) { /* the first integer entry */
                arr_ref *ar = &g->arr[j];
                ar->type = (uint16_t)type;
                ar->count = count;
                ar->inl = (uint8_t)inl;
                ar->voff = inl ? at + fo : voff;
                /* inline: the whole value field, a constant size (the bytes past the value,
                 * if any, are never read) */
                memset(ar->inb, 0, sizeof ar->inb);
                if (inl)
                    memcpy(ar->inb, q + fo, os);
                g->have[j] = 1;
            } else if (tag == 330 && !g->have_sub && !(p->opts & TIFF_OPT_FIRST_IFD) &&
                       type_is_int(type) && type != 3 && type != 8) {
                /* TIFF_OPT_FIRST_IFD: IFD 0 alone, its SubIFDs are not walked */
                g->sub = (ent){(uint16_t)tag,
                               (uint16_t)type,
                               count,
                               vsize,
                               inl ? at + fo : voff,
                               at,
                               q + fo,
                               inl};
                g->have_sub = 1;
            }
            continue;
        }
        if (*dst != TIFF_ABSENT || !type_is_int(type) || count == 0)
            continue; /* the first usable entry wins, as in IFD 0 */
        const uint8_t *d = q + fo, *got;
        if (!inl) {
            avail va = tiff__get(p, voff, isz, &got, 1);
            if (va == AV_MISSING) {
                g->pending = 1;
                *dst = waiting_mark;
                waiting[n_waiting++] = dst;
                continue;
            }
            if (va != AV_OK)
                continue;
            d = got; /* not &d above: that would keep d in memory for every entry */
        }
        *dst = type == 3 ? rd16(d, le) : type == 4 ? rd32(d, le) : tiff__item_int(p, type, d);
    }
    while (n_waiting > 0)
        *waiting[--n_waiting] = TIFF_ABSENT;
    g->end = end;
}

/* Fill record i from its IFD as far as the fed bytes allow. */
static int refresh(tiff_parser *p, size_t i) {
    tiff_image *im = &p->img[i];
    struct img_x *x = &p->imx[i];
    uint64_t off = im->ifd_offset, n = x->nent;
    const uint8_t *eb;
    if (n * p->es > p->lim.max_memory) {
        give_up(p, i, "image %u (IFD at %llu): %llu entries exceed max_memory", off, n);
        return 0;
    }
    avail a = tiff__get(p, off + p->cs, n * p->es, &eb, 1);
    if (a == AV_MISSING)
        return 0;
    if (a != AV_OK) {
        give_up(p, i, "image %u (IFD at %llu): %llu entries not fetched", off, n);
        return 0;
    }
    if (n > p->ch.scan_left) {
        give_up(p, i, "image %u (IFD at %llu): %llu entries past the walk's decode budget", off, n);
        return 0;
    }
    p->ch.scan_left -= n;
    note_ifd_end(p, off + p->cs + n * p->es + p->os);
    struct gather g; /* the arrays are filled as their flags say */
    g.pending = g.have_sub = 0;
    memset(g.have, 0, sizeof g.have);
    g.end = p->ifd_end;
    uint64_t eoff = off + p->cs;
    if (p->big) {
        if (p->le)
            gather(p, im, &g, eb, n, eoff, 1, 1);
        else
            gather(p, im, &g, eb, n, eoff, 1, 0);
    } else if (p->le) {
        gather(p, im, &g, eb, n, eoff, 0, 1);
    } else {
        gather(p, im, &g, eb, n, eoff, 0, 0);
    }
    p->ifd_end = g.end;
    int pending = g.pending, have_sub = g.have_sub, *have = g.have;
    const arr_ref *arr = g.arr;
    const ent *sub = &g.sub; /* when have_sub */
    x->has_sub = have_sub;
    if (!have_sub)
        x->sub_known = 1;
    if (have_sub && !x->queued) {
        const uint8_t *d;
        uint64_t cnt = sub->count;
        unsigned isz = item_size(sub->type);
        avail sa = sub->inl ? AV_OK : tiff__get(p, sub->voff, cnt * isz, &d, 1);
        if (sub->inl)
            d = sub->field;
        if (sa == AV_MISSING) {
            pending = 1;
        } else if (sa == AV_OK) {
            x->queued = x->sub_known = 1;
            for (uint64_t k = 0; k < cnt && k < TIFF_MAX_IMAGES; k++)
                if (queue_sub(p, item_u(p, isz, d, (size_t)k), (int32_t)i, (uint32_t)k) != 0)
                    return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
        } else {
            x->queued = x->sub_known = 1;
            snprintf(x->warn, sizeof x->warn,
                     "image %u (IFD at %llu): SubIFDs offsets at %llu not fetched", (unsigned)i,
                     (unsigned long long)off, (unsigned long long)sub->voff);
        }
    }
    /* kind from NewSubfileType: mask (bit 2) before reduced resolution (bit 0) */
    if (i > 0) {
        int64_t t = im->new_subfile_type == TIFF_ABSENT ? 0 : im->new_subfile_type;
        im->kind = (t & 4) ? TIFF_IMG_MASK : (t & 1) ? TIFF_IMG_OVERVIEW : TIFF_IMG_PAGE;
    }
    if (x->arrays == 0 && !pending) {
        int tiled = have[2] || (im->tile_width != TIFF_ABSENT && !have[0]);
        int jo = tiled ? 2 : 0;
        if (!have[jo]) {
            x->arrays = 3;
        } else {
            avail ra = read_arrays(p, i, &arr[jo], &arr[jo + 1], have[jo + 1]);
            if (ra == AV_MISSING) {
                pending = 1;
            } else if (ra == AV_OK) {
                x->arrays = 1;
            } else {
                x->arrays = 2;
                im->blocks = (int64_t)arr[jo].count;
                snprintf(x->warn, sizeof x->warn,
                         "image %u (IFD at %llu): %s offset / byte count arrays (%llu items) not "
                         "read (max_fetch_bytes, max_memory or not delivered)",
                         (unsigned)i, (unsigned long long)off, tiled ? "tile" : "strip",
                         (unsigned long long)arr[jo].count);
            }
        }
    }
    if (!pending && !x->done)
        x->done = 1;
    return 0;
}

static const char *const subq_why[] = {"",
                                       "",
                                       "points into the file header",
                                       "repeats an earlier IFD",
                                       "lies past the end of the file",
                                       "not fetched",
                                       "is truncated (entry count past the end)"};

/* SubIFDs queued by refreshed records: each becomes a record once its entry count is here.
 * A SubIFD that cannot be walked keeps its reason (state >= 2), reported every pass.
 * So that the outcome does not depend on how the bytes arrive, SubIFDs are walked only once
 * the main chain is done and every record's SubIFDs list is settled (the main chain claims
 * its IFDs first), in (parent, position) order, generation after generation;
 * tiff__images_order() puts the records in breadth-first order at the end. */
static int cmp_subq(const void *a, const void *b) {
    const struct subq_item *x = a, *y = b;
    uint64_t kx = ((uint64_t)(uint32_t)x->parent << 32) | x->pos,
             ky = ((uint64_t)(uint32_t)y->parent << 32) | y->pos;
    return kx < ky ? -1 : kx > ky;
}

static int drain_subq(tiff_parser *p) {
    if (!p->ch.done)
        return TIFF_OK;
    /* Called after every refresh: rather than test every record each time (quadratic in the
     * records), resume where the last call stopped. sub_known only goes from 0 to 1, records
     * are only appended (at nimg, with 0) and reordered after the last pass
     * (tiff__images_order), and nimg and sub_settled go back to 0 together
     * (tiff_parser_reset), so records below sub_settled stay settled. */
    while (p->sub_settled < p->nimg && p->imx[p->sub_settled].sub_known)
        p->sub_settled++;
    if (p->sub_settled < p->nimg)
        return TIFF_OK;
    /* The queue is in the order the records' SubIFDs lists came in, which depends on how the
     * bytes arrived (a record whose list waited for a round queues after a later one); by
     * (parent, position) it is the same however they come, and so are the records made from
     * it and their indices (breadth first already), and the order of the warnings below
     * (found by fuzz_tiff: whole-object and round-by-round results differed). */
    if (p->subq_unsorted) {
        qsort(p->subq, p->nsubq, sizeof *p->subq, cmp_subq);
        p->subq_unsorted = 0;
    }
    /* Records are made only once the entry counts of all the waiting SubIFDs are here
     * (asked for together, in this round), so that they are made in that order */
    int waiting = 0;
    for (size_t q = 0; q < p->nsubq; q++) {
        const struct subq_item *it = &p->subq[q];
        const uint8_t *b;
        if (!it->state && it->off >= (p->big ? 16u : 8u) &&
            tiff__get(p, it->off, p->cs, &b, 1) == AV_MISSING)
            waiting = 1;
    }
    if (waiting)
        return TIFF_OK;
    for (size_t q = 0; q < p->nsubq; q++) {
        struct subq_item *it = &p->subq[q];
        if (it->state)
            continue;
        uint64_t off = it->off;
        if (off < (p->big ? 16u : 8u)) {
            it->state = 2;
            continue;
        }
        if (visited_has(p, off)) {
            it->state = 3;
            continue;
        }
        const uint8_t *b;
        avail a = tiff__get(p, off, p->cs, &b, 1);
        if (a == AV_MISSING)
            continue;
        if (a != AV_OK) {
            it->state = a == AV_PAST_END ? 4 : 5;
            continue;
        }
        uint64_t n = p->big ? r64(p, b) : r16(p, b);
        uint64_t room =
            p->size == TIFF_SIZE_UNKNOWN ? UINT64_MAX - off - p->cs : p->size - off - p->cs;
        if (n > room / p->es) {
            it->state = 6;
            continue;
        }
        it->state = 1;
        if (visited_add(p, off) != 0 || add_record(p, off, n, it->parent, it->pos) != 0)
            return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
    }
    return TIFF_OK;
}

/* ---------------------------------------------------------------- final order */

/* A SubIFD record's sort key: (parent, position), with its index (no global state: the
 * comparator sees only the pair, so parsers on several threads never share anything). */
typedef struct {
    uint64_t key;
    size_t idx;
} kid_key;

static int cmp_kid(const void *a, const void *b) {
    const kid_key *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* Records in breadth-first order: the main chain (made in chain order), then the SubIFDs of
 * each record in the new order, by position. Indices and parents renumbered. */
void tiff__images_order(tiff_parser *p) {
    size_t n = p->nimg, nm = 0;
    while (nm < n && p->img[nm].parent < 0)
        nm++;
    if (nm == n)
        return; /* no SubIFDs: already in order */
    kid_key *kids = malloc(n * sizeof *kids);
    size_t *ord = malloc(n * sizeof *ord), *newi = malloc(n * sizeof *newi);
    tiff_image *ti = malloc(n * sizeof *ti);
    struct img_x *tx = malloc(n * sizeof *tx);
    if (!kids || !ord || !newi || !ti || !tx)
        goto out; /* out of memory: the records stay in the order they were made */
    size_t nk = 0;
    for (size_t i = nm; i < n; i++) {
        kids[nk].key = ((uint64_t)(uint32_t)p->img[i].parent << 32) | p->img[i].position;
        kids[nk++].idx = i;
    }
    qsort(kids, nk, sizeof *kids, cmp_kid);
    size_t no = 0;
    for (size_t i = 0; i < nm; i++)
        ord[no++] = i;
    for (size_t o = 0; o < no && no < n; o++) {
        /* children of ord[o]: a contiguous run of kids */
        size_t lo = 0, hi = nk;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if ((size_t)p->img[kids[mid].idx].parent < ord[o])
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < nk && (size_t)p->img[kids[lo].idx].parent == ord[o]; lo++)
            ord[no++] = kids[lo].idx;
    }
    if (no != n)
        goto out; /* a record whose parent is missing cannot happen; keep the order then */
    for (size_t k = 0; k < n; k++)
        newi[ord[k]] = k;
    for (size_t k = 0; k < n; k++) {
        ti[k] = p->img[ord[k]];
        tx[k] = p->imx[ord[k]];
        ti[k].index = (uint32_t)k;
        if (ti[k].parent >= 0)
            ti[k].parent = (int32_t)newi[ti[k].parent];
    }
    memcpy(p->img, ti, n * sizeof *ti);
    memcpy(p->imx, tx, n * sizeof *tx);
    for (size_t q = 0; q < p->nsubq; q++)
        if (p->subq[q].parent >= 0 && (size_t)p->subq[q].parent < n)
            p->subq[q].parent = (int32_t)newi[p->subq[q].parent];
out:
    free(kids);
    free(ord);
    free(newi);
    free(ti);
    free(tx);
}

/* ---------------------------------------------------------------- the walk */

static int walk_main(tiff_parser *p) {
    while (p->ch.started && !p->ch.done) {
        uint32_t k = p->ch.count;
        uint64_t off = p->ch.next;
        if (k >= 1 && (p->opts & TIFF_OPT_FIRST_IFD)) { /* IFD 0 is all that is asked for */
            p->ch.done = 1;
            break;
        }
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
            if (a == AV_PAST_END) {
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu outside file of %llu bytes", k, uo, us);
            } else {
                p->ch.denied = 1;
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu not fetched (max_fetch_bytes or not delivered)", k,
                         uo);
            }
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
            if (k == 0) {
                /* IFD 0 itself was parsed: it counts, the chain ends */
                p->ch.count++;
                if (visited_add(p, off) != 0 || add_record(p, off, n, -1, k) != 0)
                    return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
                if (a != AV_PAST_END && p->size != TIFF_SIZE_UNKNOWN)
                    p->ch.denied = 1;
                snprintf(p->ch.err, sizeof p->ch.err, "IFD 0 offset %llu: next-IFD offset %s", uo,
                         a == AV_PAST_END ? "lies past the end of the file" : "not fetched");
            } else if (a == AV_DENIED || p->size == TIFF_SIZE_UNKNOWN) {
                p->ch.denied = 1;
                snprintf(
                    p->ch.err, sizeof p->ch.err,
                    "IFD %u offset %llu: entries not fetched (max_fetch_bytes or not delivered)", k,
                    uo);
            } else {
                /* entries inside the file: the IFD counts, the chain ends */
                p->ch.count++;
                if (visited_add(p, off) != 0 || add_record(p, off, n, -1, k) != 0)
                    return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu: next-IFD offset lies past the end of the file", k,
                         uo);
            }
            p->ch.done = 1;
            break;
        }
        if (visited_add(p, off) != 0 || add_record(p, off, n, -1, k) != 0)
            return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
        p->ch.count++;
        p->ch.next = roff(p, nb);
        if (p->ch.next == 0)
            p->ch.done = 1;
    }
    return TIFF_OK;
}

/* Walk from where the last pass stopped: the main chain, then every record not yet filled
 * and the SubIFDs they list. Needs of all of them go out in the same round. */
int tiff__walk_chain(tiff_parser *p) {
    int rc = walk_main(p);
    if (rc < 0)
        return rc;
    if (!(p->opts & TIFF_OPT_FIRST_IFD)) /* the ghost header serves the verdict only */
        tiff__ghost(p);
    for (size_t i = 0; i < p->nimg; i++) {
        if (!p->imx[i].done && (rc = refresh(p, i)) < 0)
            return rc;
        if ((rc = drain_subq(p)) < 0)
            return rc;
    }
    /* warnings of records are kept with them: every pass reports them again */
    for (size_t i = 0; i < p->nimg; i++)
        if (p->imx[i].warn[0])
            tiff__warn(p, "%s", p->imx[i].warn);
    for (size_t q = 0; q < p->nsubq; q++)
        if (p->subq[q].state >= 2)
            tiff__warn(p, "SubIFD %u of image %d: offset %llu %s; not walked", p->subq[q].pos,
                       p->subq[q].parent, (unsigned long long)p->subq[q].off,
                       subq_why[p->subq[q].state]);
    if (p->img_dropped)
        tiff__warn(p, "%zu IFDs beyond the first %u images not recorded", p->img_dropped,
                   TIFF_MAX_IMAGES);
    return TIFF_OK;
}
