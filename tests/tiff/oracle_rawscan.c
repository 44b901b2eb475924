/* oracle_rawscan.c - a deliberately small, independent TIFF directory walker for the tests.
 *
 * It is #included (not linked) by oracle_libtiff.c, mutate_corpus.c and the fuzz/bench
 * programs' siblings, so everything is static inline: a unit that uses only part of it does
 * not trip -Wunused-function. It is written separately from src/tiff on purpose: it tells the
 * oracle which tags are really in IFD 0 (libtiff fills in defaults, so its TIFFGetField alone
 * cannot say), and tells the mutator where the structures it corrupts live in the file.
 * It trusts nothing: every read is bounds-checked against the buffer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RAW_MAX_IFDS 64
#define RAW_MAX_ENTRIES 2048

typedef struct raw_entry {
    uint16_t tag, type;
    uint64_t count;
    uint64_t pos;       /* file offset of the entry                                   */
    uint64_t value_pos; /* file offset of its value/offset field                      */
    uint64_t data_pos;  /* where the value bytes are (inline = value_pos), if in file */
    uint64_t data_len;  /* count * type size, UINT64_MAX on overflow / unknown type   */
    uint16_t ifd;       /* index of the IFD in the chain                              */
} raw_entry;

typedef struct raw_tiff {
    bool ok; /* header valid */
    bool le, big;
    uint64_t first_ifd;
    size_t n_ifds;                   /* IFDs whose count and entries are inside the buffer */
    uint64_t ifd_pos[RAW_MAX_IFDS];  /* offset of each IFD's entry count                  */
    uint64_t ifd_n[RAW_MAX_IFDS];    /* its entry count                                   */
    uint64_t next_pos[RAW_MAX_IFDS]; /* offset of its next-IFD pointer                   */
    bool chain_cycle;
    size_t n_entries;
    size_t n_ifd0_entries; /* the first n_ifd0_entries entries belong to IFD 0 */
    raw_entry e[RAW_MAX_ENTRIES];
} raw_tiff;

static inline unsigned raw_type_size(unsigned type) {
    switch (type) {
    case 1:
    case 2:
    case 6:
    case 7:
        return 1;
    case 3:
    case 8:
        return 2;
    case 4:
    case 9:
    case 11:
    case 13:
        return 4;
    case 5:
    case 10:
    case 12:
    case 16:
    case 17:
    case 18:
        return 8;
    default:
        return 0;
    }
}

static inline uint64_t raw_get(const uint8_t *b, size_t n, uint64_t off, unsigned w, bool le,
                               bool *ok) {
    if (off > n || w > n - off) {
        *ok = false;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++) {
        unsigned sh = le ? 8 * i : 8 * (w - 1 - i);
        v |= (uint64_t)b[off + i] << sh;
    }
    return v;
}

static inline void raw_scan(const uint8_t *b, size_t n, raw_tiff *t) {
    memset(t, 0, offsetof(raw_tiff, e));
    t->n_entries = 0;
    if (n < 8)
        return;
    if (b[0] == 'I' && b[1] == 'I')
        t->le = true;
    else if (b[0] == 'M' && b[1] == 'M')
        t->le = false;
    else
        return;
    bool ok = true;
    uint64_t magic = raw_get(b, n, 2, 2, t->le, &ok);
    if (magic == 43) {
        if (n < 16 || raw_get(b, n, 4, 2, t->le, &ok) != 8)
            return;
        t->big = true;
        t->first_ifd = raw_get(b, n, 8, 8, t->le, &ok);
    } else if (magic == 42) {
        t->first_ifd = raw_get(b, n, 4, 4, t->le, &ok);
    } else {
        return;
    }
    t->ok = true;
    unsigned cw = t->big ? 8 : 2, ew = t->big ? 20 : 12, ow = t->big ? 8 : 4;
    uint64_t off = t->first_ifd;
    while (off != 0 && t->n_ifds < RAW_MAX_IFDS) {
        for (size_t i = 0; i < t->n_ifds; i++)
            if (t->ifd_pos[i] == off) {
                t->chain_cycle = true;
                return;
            }
        ok = true;
        uint64_t cnt = raw_get(b, n, off, cw, t->le, &ok);
        if (!ok || cnt > (n - off - cw) / ew)
            return;
        uint64_t next_pos = off + cw + cnt * ew;
        size_t k = t->n_ifds++;
        t->ifd_pos[k] = off;
        t->ifd_n[k] = cnt;
        t->next_pos[k] = next_pos;
        for (uint64_t i = 0; i < cnt && t->n_entries < RAW_MAX_ENTRIES; i++) {
            raw_entry *e = &t->e[t->n_entries++];
            uint64_t p = off + cw + i * ew;
            e->pos = p;
            e->ifd = (uint16_t)k;
            e->tag = (uint16_t)raw_get(b, n, p, 2, t->le, &ok);
            e->type = (uint16_t)raw_get(b, n, p + 2, 2, t->le, &ok);
            e->count = raw_get(b, n, p + 4, t->big ? 8 : 4, t->le, &ok);
            e->value_pos = p + (t->big ? 12 : 8);
            unsigned sz = raw_type_size(e->type);
            if (sz == 0 || e->count > UINT64_MAX / sz) {
                e->data_len = UINT64_MAX;
                e->data_pos = UINT64_MAX;
            } else {
                e->data_len = e->count * sz;
                e->data_pos =
                    e->data_len <= ow ? e->value_pos : raw_get(b, n, e->value_pos, ow, t->le, &ok);
            }
        }
        if (k == 0)
            t->n_ifd0_entries = t->n_entries;
        ok = true;
        off = raw_get(b, n, next_pos, ow, t->le, &ok);
        if (!ok)
            return;
    }
}

/* The first IFD-0 entry with this tag, or NULL. */
static inline const raw_entry *raw_find0(const raw_tiff *t, uint16_t tag) {
    for (size_t i = 0; i < t->n_ifd0_entries; i++)
        if (t->e[i].tag == tag)
            return &t->e[i];
    return NULL;
}

/* Whether the entry's value bytes lie inside the buffer. */
static inline bool raw_data_inside(const raw_entry *e, size_t n) {
    return e->data_len != UINT64_MAX && e->data_pos <= n && e->data_len <= n - e->data_pos;
}
