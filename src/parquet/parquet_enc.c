/* parquet_enc.c - the RLE / bit-packed hybrid encoding (parquet Encodings.md) of
 * repetition / definition levels and dictionary indices, and bit-packed PLAIN booleans:
 * the bytes of a data page other than PLAIN values.
 */
#include "parquet_internal.h"

static int bit_width(uint64_t max) {
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

/* RLE / bit-packed hybrid (parquet Encodings.md). Runs of 8+ equal values become RLE runs;
 * the rest is bit-packed in groups of 8, values borrowed from a following run to complete a
 * group so that only the final group is padded. The run that lends keeps its RLE run even
 * when what is left of it is shorter than 8. */

/* A varint into reserved bytes (at most 10). */
static size_t varint_at(uint8_t *p, uint64_t v) {
    size_t k = 0;
    while (v >= 0x80) {
        p[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[k++] = (uint8_t)v;
    return k;
}

/* One value of a group into acc (nb bits used), after storing its whole bytes first when the
 * value would not fit the 64 bits. Inlined with a constant bw, nb is a constant at every
 * value: the test, the shifts and the pointer steps fold, leaving a load, a shift and an or
 * a value. The store is 8 bytes wide; what it writes past the bytes kept is rewritten by the
 * next store (the caller reserves 8 bytes of slack). */
#define PACK_VALUE(q)                                   \
    do {                                                \
        if (nb + bw > 64) {                             \
            memcpy(o, &acc, 8);                         \
            o += nb / 8;                                \
            acc = nb / 8 < 8 ? acc >> (nb / 8 * 8) : 0; \
            nb &= 7;                                    \
        }                                               \
        acc |= (uint64_t)a[q] << nb;                    \
        nb += bw;                                       \
    } while (0)

/* Eight values of bw bits into the next bw bytes at o, LSB first; writes up to 8 bytes past
 * them. Values are below 1 << bw. */
#define DEFINE_PACK8(fname, T)                                                                    \
    static inline __attribute__((always_inline)) uint8_t *fname(uint8_t *o, const T *a, int bw) { \
        uint64_t acc = 0;                                                                         \
        int nb = 0;                                                                               \
        PACK_VALUE(0);                                                                            \
        PACK_VALUE(1);                                                                            \
        PACK_VALUE(2);                                                                            \
        PACK_VALUE(3);                                                                            \
        PACK_VALUE(4);                                                                            \
        PACK_VALUE(5);                                                                            \
        PACK_VALUE(6);                                                                            \
        PACK_VALUE(7);                                                                            \
        memcpy(o, &acc, 8); /* nb is a multiple of 8 here: 8 * bw bits in all */                  \
        return o + nb / 8;                                                                        \
    }
DEFINE_PACK8(pack8_u8, uint8_t)
DEFINE_PACK8(pack8_u32, uint32_t)

/* Levels of 1..4 bits (the usual max_rep / max_def of 1..3): the group's 8 bytes in one
 * word, neighbouring fields joined by a shift and an or three times over, so 2 x bw bits in
 * each 16-bit lane (masked), 4 x bw in each 32-bit lane (masked), then 8 x bw; the bits a
 * shift moves into the lane below are masked off, those of the last step lie past the bw
 * bytes kept. Writes up to 8 bytes. */
static inline __attribute__((always_inline)) uint8_t *pack8_u8_swar(uint8_t *o, const uint8_t *a,
                                                                    int bw) {
    uint64_t x;
    memcpy(&x, a, 8);
    x = (x | x >> (8 - bw)) & 0x0001000100010001ull * ((1u << 2 * bw) - 1);
    x = (x | x >> (16 - 2 * bw)) & 0x0000000100000001ull * ((1u << 4 * bw) - 1);
    x |= x >> (32 - 4 * bw);
    memcpy(o, &x, 8);
    return o + bw;
}

/* `groups` whole groups of 8: one loop per bit width, so that pack8 gets a constant bw (the
 * dictionary indices of a page are 1..16 bits but for dictionaries of 65536+ entries,
 * levels 0..8). Returns the end of what was packed. */
#define PACK_CASE(W, pack8)                 \
    case W:                                 \
        for (size_t g = 0; g < groups; g++) \
            o = pack8(o, a + 8 * g, W);     \
        break;

static uint8_t *pack_u8(uint8_t *o, const uint8_t *a, size_t groups, int bw) {
    switch (bw) {
        PACK_CASE(1, pack8_u8_swar)
        PACK_CASE(2, pack8_u8_swar)
        PACK_CASE(3, pack8_u8_swar)
        PACK_CASE(4, pack8_u8_swar)
        PACK_CASE(5, pack8_u8)
        PACK_CASE(6, pack8_u8)
        PACK_CASE(7, pack8_u8)
        PACK_CASE(8, pack8_u8)
    default: /* 0 (max 0): no bytes */
        for (size_t g = 0; g < groups; g++)
            o = pack8_u8(o, a + 8 * g, bw);
    }
    return o;
}

static uint8_t *pack_u32(uint8_t *o, const uint32_t *a, size_t groups, int bw) {
    switch (bw) {
        PACK_CASE(1, pack8_u32)
        PACK_CASE(2, pack8_u32)
        PACK_CASE(3, pack8_u32)
        PACK_CASE(4, pack8_u32)
        PACK_CASE(5, pack8_u32)
        PACK_CASE(6, pack8_u32)
        PACK_CASE(7, pack8_u32)
        PACK_CASE(8, pack8_u32)
        PACK_CASE(9, pack8_u32)
        PACK_CASE(10, pack8_u32)
        PACK_CASE(11, pack8_u32)
        PACK_CASE(12, pack8_u32)
        PACK_CASE(13, pack8_u32)
        PACK_CASE(14, pack8_u32)
        PACK_CASE(15, pack8_u32)
        PACK_CASE(16, pack8_u32)
    default: /* 17..32: the same code with a variable bw */
        for (size_t g = 0; g < groups; g++)
            o = pack8_u32(o, a + 8 * g, bw);
    }
    return o;
}

/* End of the run of equal values starting at i < n. */
static size_t run_end_u8(const uint8_t *a, size_t i, size_t n) {
    /* eight levels at a time: levels are mostly long runs (a whole chunk of one definition
     * level for a column that is always set); little-endian, so the lowest differing byte
     * is the first */
    const uint64_t v = 0x0101010101010101ull * a[i];
    size_t j = i + 1;
    for (; j + 8 <= n; j += 8) {
        uint64_t x;
        memcpy(&x, a + j, 8);
        if ((x ^= v) != 0)
            return j + (size_t)__builtin_ctzll(x) / 8;
    }
    while (j < n && a[j] == a[i])
        j++;
    return j;
}

static size_t run_end_u32(const uint32_t *a, size_t i, size_t n) {
    /* eight indices at a time, two a 64-bit word: a column of a few distinct values has runs
     * of thousands (one value in every row); the lowest differing half is the first */
    const uint64_t v = 0x100000001ull * a[i];
    size_t j = i + 1;
    for (; n - j >= 8; j += 8) {
        uint64_t x[4];
        memcpy(x, a + j, 32);
        x[0] ^= v, x[1] ^= v, x[2] ^= v, x[3] ^= v;
        if (x[0] | x[1] | x[2] | x[3]) {
            int k = x[0] ? 0 : x[1] ? 1 : x[2] ? 2 : 3;
            return j + 2 * (size_t)k + (size_t)__builtin_ctzll(x[k]) / 32;
        }
    }
    while (j < n && a[j] == a[i])
        j++;
    return j;
}

/* The start of the first run of 8+ equal values at or after i, i the start of a run; n when
 * there is none. Literal-heavy input (dictionary indices of lists) is why this is not
 * run_end at every value: a candidate start s is judged by its 8th value, and where
 * a[t] != a[t-1] for t in (s, s+7], no run of 8 starts in [s, t), so t is the next
 * candidate. In literals a[s+7] != a[s+6]: one comparison steps over 7 values. Otherwise
 * the 8 values are compared with a[s+7] two at a time (64-bit words): all equal is a run,
 * else t follows the last one that differs. */
static size_t long_run_u32(const uint32_t *a, size_t i, size_t n) {
    size_t s = i;
    while (n - s >= 8) {
        if (a[s + 6] != a[s + 7]) {
            s += 7;
            continue;
        }
        const uint64_t v = 0x100000001ull * a[s + 7];
        uint64_t x[4];
        memcpy(x, a + s, 32);
        x[0] ^= v, x[1] ^= v, x[2] ^= v, x[3] ^= v;
        if (!(x[0] | x[1] | x[2] | x[3]))
            return s;
        int k = x[3] ? 3 : x[2] ? 2 : x[1] ? 1 : 0;
        s += 2 * (size_t)k + (size_t)(63 - __builtin_clzll(x[k])) / 32 + 1;
    }
    return n;
}

/* The same for levels, the 7 neighbour comparisons in one 64-bit word: byte q of d is
 * nonzero where a[s+q] != a[s+q-1] (little-endian), the highest such q is t - s. */
static size_t long_run_u8(const uint8_t *a, size_t i, size_t n) {
    size_t s = i;
    while (n - s >= 8) {
        uint64_t x;
        memcpy(&x, a + s, 8);
        uint64_t d = (x ^ x << 8) & ~(uint64_t)0xff;
        if (!d)
            return s;
        s += (size_t)(63 - __builtin_clzll(d)) / 8;
    }
    return n;
}

/* Literals a[0..m) as bit-packed groups, the last one padded with zeros; header and groups
 * under one reservation. */
#define DEFINE_LITERALS(fname, T, pack)                                                      \
    static int fname(buf *b, const T *a, size_t m, int bw) {                                 \
        size_t full = m / 8, groups = (m + 7) / 8;                                           \
        if (buf_reserve(b, 10 + groups * (size_t)bw + 8)) /* varint, groups, pack's slack */ \
            return -1;                                                                       \
        uint8_t *o = b->p + b->len;                                                          \
        o += varint_at(o, (uint64_t)groups << 1 | 1);                                        \
        o = pack(o, a, full, bw);                                                            \
        if (m % 8) {                                                                         \
            T last[8] = {0};                                                                 \
            memcpy(last, a + full * 8, m % 8 * sizeof(T));                                   \
            o = pack(o, last, 1, bw);                                                        \
        }                                                                                    \
        b->len = (size_t)(o - b->p);                                                         \
        return 0;                                                                            \
    }
DEFINE_LITERALS(literals_u8, uint8_t, pack_u8)
DEFINE_LITERALS(literals_u32, uint32_t, pack_u32)

/* Literals up to the next run of 8+, completed from that run to whole groups (padded when
 * there is no run), then the run (what is left of it, even when that is below 8). */
#define DEFINE_RLE(fname, T, long_run, run_end, literals)                         \
    static int fname(buf *b, const T *a, size_t n, int bw) {                      \
        size_t vbytes = ((size_t)bw + 7) / 8;                                     \
        size_t i = 0;                                                             \
        while (i < n) {                                                           \
            size_t s = long_run(a, i, n);                                         \
            if (s > i) {                                                          \
                size_t m = s - i;                                                 \
                m += s < n ? (8 - m % 8) % 8 : 0;                                 \
                if (literals(b, a + i, m, bw))                                    \
                    return -1;                                                    \
                i += m;                                                           \
            }                                                                     \
            if (s == n)                                                           \
                break;                                                            \
            size_t e = run_end(a, s + 7, n);                                      \
            if (buf_reserve(b, 10 + 8)) /* varint, value (stored 8 bytes wide) */ \
                return -1;                                                        \
            uint8_t *o = b->p + b->len;                                           \
            o += varint_at(o, (uint64_t)(e - i) << 1);                            \
            uint64_t v = (uint64_t)a[s];                                          \
            memcpy(o, &v, 8);                                                     \
            b->len = (size_t)(o + vbytes - b->p);                                 \
            i = e;                                                                \
        }                                                                         \
        return 0;                                                                 \
    }
DEFINE_RLE(rle_u8, uint8_t, long_run_u8, run_end_u8, literals_u8)
DEFINE_RLE(rle_u32, uint32_t, long_run_u32, run_end_u32, literals_u32)

/* Levels: their byte length (4 bytes LE), then the hybrid runs at the bit width of max. */
int pq__put_levels(buf *b, const uint8_t *lv, size_t n, int max) {
    size_t at = b->len;
    uint32_t z = 0;
    if (buf_put(b, &z, 4) || rle_u8(b, lv, n, bit_width((uint64_t)max)))
        return -1;
    uint32_t len = (uint32_t)(b->len - at - 4);
    memcpy(b->p + at, &len, 4);
    return 0;
}

int pq__put_levels_cached(pq_lvcache *lc, buf *b, const uint8_t *lv, size_t n, int max) {
    /* compared with memcmp (tens of bytes a cycle), against ~10 instructions a level to
     * encode; an empty entry (max 0) never matches a column with levels */
    struct pq_lvent t;
    for (int k = 0; k < 2 && n; k++) {
        struct pq_lvent *e = &lc->e[k];
        if (max == e->max && n == e->in.len && memcmp(lv, e->in.p, n) == 0) {
            if (k) { /* most recent first */
                t = lc->e[0];
                lc->e[0] = lc->e[1];
                lc->e[1] = t;
            }
            return buf_put(b, lc->e[0].out.p, lc->e[0].out.len);
        }
    }
    size_t at = b->len;
    if (pq__put_levels(b, lv, n, max))
        return -1;
    /* into the older entry, which becomes the first; kept only when both copies fit */
    t = lc->e[1];
    lc->e[1] = lc->e[0];
    t.in.len = t.out.len = 0;
    t.max = 0;
    if (!buf_put(&t.in, lv, n) && !buf_put(&t.out, b->p + at, b->len - at))
        t.max = max;
    lc->e[0] = t;
    return 0;
}

/* Bit width of the largest index (at least 1), then the indices. */
int pq__put_dict_indices(buf *b, const uint32_t *idx, size_t n, size_t n_dict) {
    int bw = bit_width(n_dict ? n_dict - 1 : 0);
    if (bw == 0)
        bw = 1;
    if (buf_put1(b, (uint8_t)bw) || rle_u32(b, idx, n, bw))
        return -1;
    return 0;
}

/* PLAIN booleans: one bit each, LSB first. */
int pq__put_bools(buf *b, const uint8_t *v, size_t n) {
    if (buf_reserve(b, (n + 7) / 8))
        return -1;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint8_t)((v[i] & 1) << (i & 7));
        if ((i & 7) == 7 || i + 1 == n) {
            b->p[b->len++] = acc;
            acc = 0;
        }
    }
    return 0;
}
