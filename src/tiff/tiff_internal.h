/* tiff_internal.h - what the files of src/tiff share (not part of the contract).
 *
 * The JSON number / escape helpers (tiff_value.c, used by tiff_json.c too), the parser state
 * and its small inline readers, and the functions one parser file calls in another. Every
 * symbol td_tiff defines outside tiff.h starts with tiff__.
 */
#ifndef TIFF_INTERNAL_H
#define TIFF_INTERNAL_H

#include "tiff.h"

#include <stddef.h>
#include <stdint.h>

/* Longest text tiff__put_double() writes ("-1.2345678901234567e-308" or "\"-Infinity\""). */
#define TIFF__DBL_MAX_CHARS 32

/* Decimal digits of v into dst (no NUL); returns the length (at most 20 / 21). */
size_t tiff__put_u64(char *dst, uint64_t v);
size_t tiff__put_i64(char *dst, int64_t v);
/* A JSON value for v: %.17g (round-trips), or "NaN" / "Infinity" / "-Infinity" as strings,
 * because JSON has no literal for them. */
size_t tiff__put_double(char *dst, double v);

/* ---------------------------------------------------------------- parser state */

/* Per-object memory for decoded values and texts, reset per pass (tiff.c). */
typedef struct blk {
    struct blk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} blk;

typedef struct {
    blk *head, *cur;
    size_t total, limit;
    int failed; /* 1 = over limit, 2 = malloc failed */
} arena;

typedef struct {
    uint64_t off, end;
    const uint8_t *data;
} seg;

typedef struct {
    tiff_range *v;
    size_t n, cap, max;
} rlist;

typedef enum { AV_OK, AV_MISSING, AV_PAST_END, AV_DENIED } avail;

#define WARN_LEN 200
/* IFD entries and strip/tile array items the image walk decodes per object (overlapping
 * IFDs and arrays could otherwise make it quadratic) */
#define SCAN_BUDGET (4u << 20)
#define MAX_SEGS 4096
#define MAX_RAW_NEEDS (1u << 20)

/* A strip/tile array's entry, copied (records outlive the pass that read them). */
typedef struct {
    uint16_t type;
    uint8_t inl;
    uint64_t count, voff;
    uint8_t inb[8];
} arr_ref;

/* What a record needs besides its public tiff_image. */
struct img_x {
    uint64_t nent;       /* entries of the IFD */
    int done;            /* 1: resolved; 2: given up (warning kept in warn) */
    int queued;          /* its SubIFDs were queued */
    int has_sub;         /* it has a SubIFDs tag */
    int sub_known;       /* whether and which SubIFDs it lists is settled */
    int arrays;          /* 0 not read, 1 read, 2 could not be read for lack of bytes, 3 none */
    int64_t first_block; /* offset of band 1's first block with data (GDAL's order), or 0 */
    char warn[WARN_LEN];
};

struct subq_item {
    uint64_t off;
    int32_t parent;
    uint32_t pos;
    int state; /* 0 waiting, 1 handled */
};

/* One IFD entry, decoded. */
typedef struct {
    uint16_t tag, type;
    uint64_t count, vsize, voff, eoff;
    const uint8_t *field; /* the value/offset field inside the entry */
    int inl;              /* value is inline */
} ent;

/* The GDAL ghost block's text, and its lines split into key/value pairs (tiff_cog.c). Kept
 * from one object to the next of a parser: when an object's block is the same as the last
 * one read (raw bytes copied into text), text, split, kv and incompat are already its own. */
struct ghost_buf {
    char text[2048];
    char split[2048];
    tiff_kv kv[TIFF_MAX_GHOST_KV];
    int valid;          /* text, split, kv and incompat are those of the raw bytes below */
    int incompat;       /* the text holds KNOWN_INCOMPATIBLE_EDITION=YES */
    size_t raw, len, n; /* bytes copied into text, then gh.len and gh.n they gave */
};

struct tiff_parser {
    tiff_limits lim;
    unsigned opts; /* TIFF_OPT_* (tiff_parser_set_options) */
    uint64_t size;
    seg *segs;
    size_t nsegs, capsegs, lastseg;
    uint64_t fed;
    rlist denied, gone, raw, needs, pending; /* denied: over budget; gone: not delivered */
    uint64_t asked;
    arena ar;
    int state; /* 0 running, 1 complete, < 0 error code */
    char errmsg[512];

    char *wbuf; /* max_warnings messages of WARN_LEN, at the first warning (see cogbuf) */
    const char **wptr;
    size_t nw, wmax, wdropped;

    tiff_header h;
    tiff_extra *others, *gothers;
    size_t nothers, capothers, ngothers, capgothers;

    int le, big;
    unsigned cs, es, os; /* entry-count size, entry size, offset size */
    uint64_t ifd0;

    /* IFD-chain walk, kept across passes of one object */
    struct {
        int started, done;
        uint32_t count;
        uint64_t next;
        char err[200];
        int denied;         /* stopped for lack of bytes (budget / not delivered) */
        uint64_t scan_left; /* entries + array items the image walk may still decode */
    } ch;
    /* one record per image (tiff_chain.c), kept across passes */
    tiff_image *img;
    struct img_x *imx;
    size_t nimg, capimg;
    struct subq_item *subq;
    size_t nsubq, capsubq;
    int subq_unsorted;  /* items queued since drain_subq last sorted them */
    size_t sub_settled; /* records 0 .. sub_settled-1 have sub_known set (drain_subq) */
    uint64_t ifd_end;
    size_t img_dropped; /* IFDs seen but not recorded (TIFF_MAX_IMAGES) */
    /* GDAL ghost header (tiff_cog.c): 0 not looked at, 1 none, 2 present, 3 not fetched */
    struct {
        int state;
        size_t len, n;
        uint64_t declared;     /* the size the block declares */
        struct ghost_buf *buf; /* its text and key/value pairs (malloc'd at the first ghost) */
    } gh;
    /* Message buffers (warnings, COG verdict), malloc'd when the first message comes: most
     * objects have none, and a pipeline keeps a parser per fetch slot (1,000 by default), so
     * buffers for the worst case up front would be ~34 KB of memory per slot to little use. */
    char *cogbuf; /* 2 * TIFF_MAX_COG_MSGS messages of WARN_LEN */
    const char **cogptr;
    size_t n_cog_e, n_cog_w;
    uint64_t *vkeys;
    uint32_t *vgen;
    size_t vcap, vcount;
    uint32_t gen;

    uint64_t meta_end; /* IFD 0 contributions, per pass */
    int pass_missing;  /* needs recorded in this pass */
};

/* ---------------------------------------------------------------- inline readers */

/* Readers for a byte order known where they are called (le: 1 little, 0 big endian): with a
 * constant le the compiler makes each of them one load (plus a byte swap when the order is not
 * the host's), which the IFD walk (tiff_chain.c) relies on. */
static inline uint16_t rd16(const uint8_t *b, int le) {
    return le ? (uint16_t)(b[0] | (b[1] << 8)) : (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t rd32(const uint8_t *b, int le) {
    return le ? ((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
                 ((uint32_t)b[3] << 24))
              : (((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) |
                 (uint32_t)b[3]);
}
static inline uint64_t rd64(const uint8_t *b, int le) {
    uint64_t lo = rd32(b + (le ? 0 : 4), le), hi = rd32(b + (le ? 4 : 0), le);
    return (hi << 32) | lo;
}
static inline uint16_t r16(const tiff_parser *p, const uint8_t *b) { return rd16(b, p->le); }
static inline uint32_t r32(const tiff_parser *p, const uint8_t *b) { return rd32(b, p->le); }
static inline uint64_t r64(const tiff_parser *p, const uint8_t *b) { return rd64(b, p->le); }
static inline uint64_t roff(const tiff_parser *p, const uint8_t *b) {
    return p->os == 8 ? r64(p, b) : r32(p, b);
}

/* Bytes per item of each field type; 0 = type code unknown (14 and 15 are unassigned). */
static inline unsigned item_size(unsigned type) {
    static const uint8_t type_size[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
    return type < 19 ? type_size[type] : 0;
}
static inline int type_is_int(unsigned t) {
    return t == 1 || t == 3 || t == 4 || t == 6 || t == 8 || t == 9 || t == 13 || t == 16 ||
           t == 17 || t == 18;
}

/* First byte >= off not covered by fed segments starting the scan at off (segments sorted). */
static inline uint64_t covered_to(const tiff_parser *p, uint64_t off, uint64_t end) {
    uint64_t cur = off;
    for (size_t i = 0; i < p->nsegs && cur < end; i++) {
        const seg *s = &p->segs[i];
        if (s->off > cur)
            break;
        if (s->end > cur)
            cur = s->end;
    }
    return cur;
}

/* ---------------------------------------------------------------- between the files */

/* tiff.c: memory, messages, bytes */
void *tiff__ar_alloc(arena *a, size_t n); /* NULL: over max_memory or out of memory */
void tiff__warn(tiff_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tiff__fail(tiff_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Bytes [off, off+len) of the object. want: record a need when missing (else just peek).
 * tiff__get() is the inline fast path of tiff__get_slow() (tiff.c), which does the rest. */
avail tiff__get_slow(tiff_parser *p, uint64_t off, uint64_t len, const uint8_t **out, int want);
static inline avail tiff__get(tiff_parser *p, uint64_t off, uint64_t len, const uint8_t **out,
                              int want) {
    /* Inline so that the common read, inside the segment that served the last one, costs no
     * call (the walk reads ~5 ranges per IFD, nearly all of them there): the same test and
     * the same pointer as tiff__get_slow()'s first step, and like it no state change. Its
     * earlier checks cannot fail here: len - 1 < s->end - off with off <= s->end means
     * 0 < len and off + len <= s->end, so the sum does not wrap, and off + len <= p->size is
     * its size check (TIFF_SIZE_UNKNOWN is UINT64_MAX). */
    if (p->lastseg < p->nsegs) {
        const seg *s = &p->segs[p->lastseg];
        if (s->off <= off && off <= s->end && len - 1 < s->end - off && off + len <= p->size) {
            *out = s->data + (off - s->off);
            return AV_OK;
        }
    }
    return tiff__get_slow(p, off, len, out, want);
}

/* tiff_ifd.c: IFD 0 and entries */
int tiff__parse_ifd0(tiff_parser *p);
int tiff__decode_entry(tiff_parser *p, const uint8_t *eb, uint64_t eoff, ent *e, int report);
avail tiff__entry_bytes(tiff_parser *p, const ent *e, uint64_t want, const uint8_t **out);
void tiff__warn_unavailable(tiff_parser *p, const ent *e, avail a);
void tiff__add_other(tiff_parser *p, const ent *e);

/* tiff_geo.c: GeoTIFF tags of IFD 0 (NULL: absent) into geokey / geokeys_other */
void tiff__geotiff(tiff_parser *p, const ent *kd, const ent *dp, const ent *ap);

/* tiff_chain.c: the main IFD chain, SubIFDs and the image records */
int tiff__chain_start(tiff_parser *p, uint64_t off);
int tiff__walk_chain(tiff_parser *p);
void tiff__images_free(tiff_parser *p);
void tiff__images_order(tiff_parser *p);

/* tiff_cog.c: ghost header (read during the pass), counts and verdict (after the last) */
void tiff__ghost(tiff_parser *p);
void tiff__images_finish(tiff_parser *p);

/* tiff_value.c: values and their texts */
int64_t tiff__item_int(const tiff_parser *p, unsigned type, const uint8_t *b);
double tiff__item_double(const tiff_parser *p, unsigned type, const uint8_t *b);
char *tiff__decode_str(tiff_parser *p, const uint8_t *b, size_t n, int strip, int partial,
                       size_t *outlen, int *was_cp1252);
tiff_extra *tiff__make_extra(tiff_parser *p, tiff_extra *x, unsigned id, unsigned type,
                             uint64_t count, const uint8_t *data, uint64_t have, int partial,
                             const char *str, size_t slen, int geo);
tiff_extra *tiff__push_extra(tiff_parser *p, tiff_extra **arr, size_t *n, size_t *cap);
void tiff__sort_extras(tiff_extra *a, size_t n);

#endif
