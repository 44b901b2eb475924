/* parquet_enc.c - the RLE / bit-packed hybrid encoding (parquet Encodings.md) of
 * repetition / definition levels and dictionary indices, and bit-packed PLAIN booleans:
 * the bytes of a data page other than PLAIN values.
 */
#include "parquet_internal.h"

static int rle_varint(buf *b, uint64_t v) {
    while (v >= 0x80) {
        if (buf_put1(b, (uint8_t)(v | 0x80)))
            return -1;
        v >>= 7;
    }
    return buf_put1(b, (uint8_t)v);
}

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
 * group so that only the final group is padded. */
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
    size_t j = i + 1;
    while (j < n && a[j] == a[i])
        j++;
    return j;
}

#define DEFINE_RLE(fname, T, run_end)                                                          \
    static int fname(buf *b, const T *a, size_t n, int bw) {                                   \
        size_t vbytes = ((size_t)bw + 7) / 8;                                                  \
        size_t i = 0, lit0 = 0, nlit = 0;                                                      \
        for (;;) {                                                                             \
            size_t j = i, r = 0;                                                               \
            if (i < n) {                                                                       \
                j = run_end(a, i, n);                                                          \
                r = j - i;                                                                     \
            }                                                                                  \
            if (i < n && r < 8) {                                                              \
                if (!nlit)                                                                     \
                    lit0 = i;                                                                  \
                nlit += r;                                                                     \
                i = j;                                                                         \
                continue;                                                                      \
            }                                                                                  \
            if (nlit) { /* flush literals, completing the group from the run */                \
                size_t need = i < n ? (8 - nlit % 8) % 8 : 0;                                  \
                nlit += need;                                                                  \
                i += need;                                                                     \
                r -= need;                                                                     \
                size_t groups = (nlit + 7) / 8;                                                \
                if (rle_varint(b, groups << 1 | 1) || buf_reserve(b, groups * (size_t)bw + 8)) \
                    return -1;                                                                 \
                size_t k = 0;                                                                  \
                if (bw <= 8) /* whole groups: 8 values in one word, bw bytes of it kept */     \
                    for (; k + 8 <= nlit; k += 8) {                                            \
                        uint64_t w8 = 0;                                                       \
                        for (int q = 0; q < 8; q++)                                            \
                            w8 |= (uint64_t)a[lit0 + k + (size_t)q] << (q * bw);               \
                        memcpy(b->p + b->len, &w8, 8); /* little-endian; 8 bytes reserved */   \
                        b->len += (size_t)bw;                                                  \
                    }                                                                          \
                uint64_t acc = 0;                                                              \
                int nb = 0;                                                                    \
                for (; k < groups * 8; k++) {                                                  \
                    uint64_t v = k < nlit ? (uint64_t)a[lit0 + k] : 0;                         \
                    acc |= v << nb;                                                            \
                    nb += bw;                                                                  \
                    while (nb >= 8) {                                                          \
                        b->p[b->len++] = (uint8_t)acc;                                         \
                        acc >>= 8;                                                             \
                        nb -= 8;                                                               \
                    }                                                                          \
                }                                                                              \
                nlit = 0;                                                                      \
            }                                                                                  \
            if (i >= n)                                                                        \
                break;                                                                         \
            if (r) {                                                                           \
                uint64_t v = (uint64_t)a[i];                                                   \
                if (rle_varint(b, (uint64_t)r << 1) || buf_reserve(b, vbytes))                 \
                    return -1;                                                                 \
                for (size_t k = 0; k < vbytes; k++)                                            \
                    b->p[b->len++] = (uint8_t)(v >> (8 * k));                                  \
            }                                                                                  \
            i = j;                                                                             \
        }                                                                                      \
        return 0;                                                                              \
    }
DEFINE_RLE(rle_u8, uint8_t, run_end_u8)
DEFINE_RLE(rle_u32, uint32_t, run_end_u32)

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
