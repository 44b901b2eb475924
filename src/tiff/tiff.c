/* tiff.c - incremental TIFF / BigTIFF / GeoTIFF header parser (contract: tiff.h).
 *
 * Design
 * - Restartable passes. run() re-parses from byte 0 over the fed ranges. Every read goes
 *   through get(): bytes present -> pointer; bytes missing -> the range is recorded as a need
 *   and the dependent step is skipped, so one pass collects every need it can see (all
 *   out-of-line values of IFD 0, the GeoTIFF arrays and the next IFD of the chain) and they
 *   go out as one round. The IFD-0 part is cheap to redo; the IFD-chain walk keeps its state
 *   across passes (it can be long) and resumes where it waited.
 * - A range that was requested but not fed by the next run(), or that does not fit the
 *   max_fetch_bytes budget, becomes "denied": later reads of it fail like reads past the end,
 *   so every round makes progress and the number of rounds is bounded.
 * - Decoded values live in one arena per parser, reset per pass, capped by max_memory.
 *   Warnings have their own fixed buffer so they can always be written.
 * - Compatibility with tifffile (what shared/corpus/expected.jsonl was made with): entries with
 *   an unknown type code are skipped, out-of-line values with offset < 8 or past the end of the
 *   object are dropped (both with a warning), duplicates: the first usable entry wins.
 *
 * header_bytes: the smallest non-zero strip/tile data offset found in offset arrays that are
 * inline in their entry or already fed (never fetched for this), over every IFD of the main
 * chain whose entries are fed (IFDs >= 1: at most SCAN_BUDGET entries and offsets per object);
 * if there is none, the end of the furthest IFD structure (entry count + entries + next
 * pointer) or IFD-0 value read, whichever is larger.
 *
 * GeoKeys: a key goes to its named field only when stored as async-tiff expects it (SHORT
 * keys in the directory itself, location 0 or 34735 with one value; DOUBLE keys one value in
 * GeoDoubleParams; ASCII keys in GeoAsciiParams). Anything else - a named DOUBLE key with
 * several values, a SHORT key stored as a double, ... - keeps its full value in
 * geokeys_other (with a warning), as do ids without a name. Keys pointing outside their array,
 * into a missing or wrongly typed params tag, or with an unknown location are dropped with a
 * warning; NumberOfKeys larger than the directory is cut to what it holds (warning); a later
 * duplicate key id is ignored (warning). A directory that is not SHORT[>= 4] is not used:
 * 34735-34737 then appear in other_tags.
 */
#include "tiff.h"
#include "tiff_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tables and names */

const tiff_field_info tiff_field_infos[TIFF_FIELD_COUNT] = {
#define TIFF_X_INFO(name, tag, kind) {#name, tag, kind},
    TIFF_FIELDS(TIFF_X_INFO)
#undef TIFF_X_INFO
};

const tiff_field_info tiff_geokey_infos[TIFF_GEOKEY_COUNT] = {
#define TIFF_X_INFO(name, id, kind) {#name, id, kind},
    TIFF_GEOKEYS(TIFF_X_INFO)
#undef TIFF_X_INFO
};

const char *tiff_err_name(int c) {
    switch (c) {
#define TIFF_X_NAME(name, code, short_name, text) \
    case code:                                    \
        return short_name;
        TIFF_ERRNO_MAP(TIFF_X_NAME)
#undef TIFF_X_NAME
    }
    return "unknown";
}

const char *tiff_strerror(int c) {
    switch (c) {
#define TIFF_X_TEXT(name, code, short_name, text) \
    case code:                                    \
        return text;
        TIFF_ERRNO_MAP(TIFF_X_TEXT)
#undef TIFF_X_TEXT
    }
    return "unknown error";
}

static int field_of_tag(unsigned tag) {
    switch (tag) {
#define TIFF_X_CASE(name, tag, kind) \
    case tag:                        \
        return TIFF_F_##name;
        TIFF_FIELDS(TIFF_X_CASE)
#undef TIFF_X_CASE
    }
    return -1;
}

static int geokey_of_id(unsigned id) {
    switch (id) {
#define TIFF_X_CASE(name, id, kind) \
    case id:                        \
        return TIFF_G_##name;
        TIFF_GEOKEYS(TIFF_X_CASE)
#undef TIFF_X_CASE
    }
    return -1;
}

/* Tags tifffile reads through a special reader: it takes their value field as an offset even
 * when the value would fit inline, and drops the entry when that offset is < 8 or past the
 * end. Mirrored so the same entries survive (the raw inline value is still what we report). */
static int tifffile_reader_tag(unsigned tag) {
    switch (tag) {
    case 301: case 320: case 33723: case 33628: case 33629: case 33630: case 33631:
    case 34118: case 34361: case 34362: case 34363: case 34386: case 34412: case 34680:
    case 34682: case 37706: case 37724: case 33923: case 43314: case 40100: case 50288:
    case 50296: case 50839: case 51123: case 33471: case 33560: case 34665: case 34853:
    case 40965: case 65426: case 65432: case 65439:
        return 1;
    }
    return 0;
}

/* Bytes per item of each field type; 0 = type code unknown (14 and 15 are unassigned). */
static const uint8_t type_size[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};

static unsigned item_size(unsigned type) { return type < 19 ? type_size[type] : 0; }
static int type_is_int(unsigned t) {
    return t == 1 || t == 3 || t == 4 || t == 6 || t == 8 || t == 9 || t == 13 || t == 16 ||
           t == 17 || t == 18;
}

/* ---------------------------------------------------------------- arena */

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

static void ar_reset(arena *a) {
    a->cur = a->head;
    if (a->cur) a->cur->used = 0;
    a->total = 0;
    a->failed = 0;
}

static void *ar_alloc(arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (n > a->limit || a->total > a->limit - n) {
        a->failed = 1;
        return NULL;
    }
    blk *b = a->cur;
    while (b && b->used + n > b->cap) {
        b = b->next;
        if (b) b->used = 0;
        else break;
    }
    if (!b) {
        size_t cap = n > (64u << 10) ? n : (64u << 10);
        blk *nb = malloc(sizeof(blk) + cap);
        if (!nb) {
            a->failed = 2;
            return NULL;
        }
        nb->cap = cap;
        nb->used = 0;
        if (a->cur) {
            nb->next = a->cur->next;
            a->cur->next = nb;
        } else {
            nb->next = NULL;
            a->head = nb;
        }
        b = nb;
    }
    a->cur = b;
    void *r = b->data + b->used;
    b->used += n;
    a->total += n;
    return r;
}

static void ar_free(arena *a) {
    blk *b = a->head;
    while (b) {
        blk *n = b->next;
        free(b);
        b = n;
    }
    a->head = a->cur = NULL;
}

/* ---------------------------------------------------------------- parser state */

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
/* IFD entries and strip/tile offsets the header_bytes scan of IFDs >= 1 reads per object */
#define SCAN_BUDGET (4u << 20)
#define MAX_SEGS 4096
#define MAX_RAW_NEEDS (1u << 20)

/* One IFD entry, decoded. */
typedef struct {
    uint16_t tag, type;
    uint64_t count, vsize, voff, eoff;
    const uint8_t *field; /* the value/offset field inside the entry */
    int inl;              /* value is inline */
} ent;

struct tiff_parser {
    tiff_limits lim;
    uint64_t size;
    seg *segs;
    size_t nsegs, capsegs, lastseg;
    uint64_t fed;
    rlist denied, gone, raw, needs, pending; /* denied: over budget; gone: not delivered */
    uint64_t asked;
    arena ar;
    int state; /* 0 running, 1 complete, < 0 error code */
    char errmsg[512];

    char *wbuf;
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
        uint64_t data_min, meta_end;
        uint64_t scan_left; /* entries + offsets the data-offset scan may still read */
    } ch;
    uint64_t *vkeys;
    uint32_t *vgen;
    size_t vcap, vcount;
    uint32_t gen;

    uint64_t data_min, meta_end; /* IFD 0 contributions, per pass */
    int pass_missing;            /* needs recorded in this pass */
};

/* ---------------------------------------------------------------- small helpers */

static inline uint16_t r16(const tiff_parser *p, const uint8_t *b) {
    return p->le ? (uint16_t)(b[0] | (b[1] << 8)) : (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t r32(const tiff_parser *p, const uint8_t *b) {
    return p->le ? ((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
                    ((uint32_t)b[3] << 24))
                 : (((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) |
                    (uint32_t)b[3]);
}
static inline uint64_t r64(const tiff_parser *p, const uint8_t *b) {
    uint64_t lo = r32(p, b + (p->le ? 0 : 4)), hi = r32(p, b + (p->le ? 4 : 0));
    return (hi << 32) | lo;
}
static uint64_t roff(const tiff_parser *p, const uint8_t *b) {
    return p->os == 8 ? r64(p, b) : r32(p, b);
}

static int rl_push(rlist *l, uint64_t off, uint64_t len) {
    if (l->n == l->cap) {
        if (l->cap >= l->max) return -1;
        size_t nc = l->cap ? l->cap * 2 : 16;
        if (nc > l->max) nc = l->max;
        tiff_range *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].offset = off;
    l->v[l->n].length = len;
    l->n++;
    return 0;
}

static void warn(tiff_parser *p, const char *fmt, ...) {
    if (p->nw >= p->wmax) {
        p->wdropped++;
        return;
    }
    char *w = p->wbuf + p->nw * WARN_LEN;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w, WARN_LEN, fmt, ap);
    va_end(ap);
    p->wptr[p->nw++] = w;
}

static int fail(tiff_parser *p, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

static int cmp_range(const void *a, const void *b) {
    const tiff_range *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* ---------------------------------------------------------------- byte access */

/* First byte >= off not covered by fed segments starting the scan at off (segments sorted). */
static uint64_t covered_to(const tiff_parser *p, uint64_t off, uint64_t end) {
    uint64_t cur = off;
    for (size_t i = 0; i < p->nsegs && cur < end; i++) {
        const seg *s = &p->segs[i];
        if (s->off > cur) break;
        if (s->end > cur) cur = s->end;
    }
    return cur;
}

static int overlaps(const rlist *l, uint64_t off, uint64_t end) {
    for (size_t i = 0; i < l->n; i++) {
        const tiff_range *d = &l->v[i];
        if (d->offset < end && off < d->offset + d->length) return 1;
    }
    return 0;
}

/* Bytes [off, off+len) of the object. want: record a need when missing (else just peek). */
static avail get(tiff_parser *p, uint64_t off, uint64_t len, const uint8_t **out, int want) {
    static const uint8_t empty[1];
    if (len == 0) {
        *out = empty;
        return AV_OK;
    }
    if (off > UINT64_MAX - len) return AV_PAST_END;
    uint64_t end = off + len;
    if (p->size != TIFF_SIZE_UNKNOWN && end > p->size) return AV_PAST_END;
    if (p->lastseg < p->nsegs) {
        const seg *s = &p->segs[p->lastseg];
        if (s->off <= off && end <= s->end) {
            *out = s->data + (off - s->off);
            return AV_OK;
        }
    }
    for (size_t i = 0; i < p->nsegs; i++) {
        const seg *s = &p->segs[i];
        if (s->off > off) break;
        if (end <= s->end) {
            p->lastseg = i;
            *out = s->data + (off - s->off);
            return AV_OK;
        }
    }
    uint64_t cov = covered_to(p, off, end);
    if (cov >= end) {
        /* Spread over several feeds: copy into the arena. */
        if (len > SIZE_MAX) return AV_DENIED;
        uint8_t *buf = ar_alloc(&p->ar, (size_t)len);
        if (!buf) return AV_DENIED;
        uint64_t cur = off;
        for (size_t i = 0; i < p->nsegs && cur < end; i++) {
            const seg *s = &p->segs[i];
            if (s->off > cur) break;
            if (s->end <= cur) continue;
            uint64_t e = s->end < end ? s->end : end;
            memcpy(buf + (cur - off), s->data + (cur - s->off), (size_t)(e - cur));
            cur = e;
        }
        *out = buf;
        return AV_OK;
    }
    /* bytes asked for and not delivered: the object ends before them */
    if (overlaps(&p->gone, cov, end)) return AV_PAST_END;
    if (overlaps(&p->denied, cov, end)) return AV_DENIED;
    if (want) {
        if (rl_push(&p->raw, cov, end - cov) != 0) return AV_DENIED;
        p->pass_missing = 1;
    }
    return AV_MISSING;
}

/* ---------------------------------------------------------------- visited IFD offsets */

static int visited_has(const tiff_parser *p, uint64_t off) {
    if (!p->vcap) return 0;
    size_t mask = p->vcap - 1, i = (size_t)((off * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (p->vgen[i] == p->gen) {
        if (p->vkeys[i] == off) return 1;
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
            if (p->vgen[j] != p->gen) continue;
            uint64_t k = p->vkeys[j];
            size_t i = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 20) & (nc - 1);
            while (ng[i] == p->gen) i = (i + 1) & (nc - 1);
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
        if (p->vkeys[i] == off) return 0;
        i = (i + 1) & mask;
    }
    p->vkeys[i] = off;
    p->vgen[i] = p->gen;
    p->vcount++;
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

tiff_parser *tiff_parser_new(const tiff_limits *limits) {
    static const tiff_limits def = TIFF_LIMITS_INIT;
    tiff_parser *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->lim = limits ? *limits : def;
    /* The JSON envelope of one tag alone needs ~60 bytes. */
    if (p->lim.max_tag_text < 64) p->lim.max_tag_text = 64;
    if (p->lim.max_ifds < 1) p->lim.max_ifds = 1;
    p->wmax = p->lim.max_warnings;
    p->wbuf = malloc(p->wmax * WARN_LEN + 1);
    p->wptr = malloc((p->wmax + 1) * sizeof *p->wptr);
    if (!p->wbuf || !p->wptr) {
        tiff_parser_free(p);
        return NULL;
    }
    p->ar.limit = p->lim.max_memory;
    p->denied.max = 1u << 16;
    p->gone.max = 1u << 16;
    p->raw.max = MAX_RAW_NEEDS;
    p->needs.max = MAX_RAW_NEEDS;
    p->pending.max = MAX_RAW_NEEDS;
    tiff_parser_reset(p, TIFF_SIZE_UNKNOWN);
    return p;
}

void tiff_parser_free(tiff_parser *p) {
    if (!p) return;
    ar_free(&p->ar);
    free(p->segs);
    free(p->denied.v);
    free(p->gone.v);
    free(p->raw.v);
    free(p->needs.v);
    free(p->pending.v);
    free(p->wbuf);
    free(p->wptr);
    free(p->vkeys);
    free(p->vgen);
    free(p);
}

void tiff_parser_reset(tiff_parser *p, uint64_t size) {
    p->size = size;
    p->nsegs = p->lastseg = 0;
    p->fed = 0;
    p->denied.n = p->gone.n = p->raw.n = p->needs.n = p->pending.n = 0;
    p->asked = 0;
    ar_reset(&p->ar);
    p->state = 0;
    p->errmsg[0] = 0;
    p->nw = p->wdropped = 0;
    memset(&p->ch, 0, sizeof p->ch);
    p->gen++;
    if (p->gen == 0) { /* wrapped: clear stamps so no stale slot looks current */
        if (p->vgen) memset(p->vgen, 0, p->vcap * sizeof *p->vgen);
        p->gen = 1;
    }
    p->vcount = 0;
}

void tiff_parser_set_size(tiff_parser *p, uint64_t size) { p->size = size; }

int tiff_parser_feed(tiff_parser *p, uint64_t offset, const void *data, size_t len) {
    if (len == 0) return TIFF_OK;
    if (!data || offset > UINT64_MAX - len) return TIFF_E_USAGE;
    if (p->size != TIFF_SIZE_UNKNOWN && offset + len > p->size) {
        snprintf(p->errmsg, sizeof p->errmsg,
                 "fed bytes [%llu, %llu) lie outside the object of %llu bytes",
                 (unsigned long long)offset, (unsigned long long)(offset + len),
                 (unsigned long long)p->size);
        return TIFF_E_USAGE;
    }
    if (p->nsegs == p->capsegs) {
        if (p->capsegs >= MAX_SEGS) return TIFF_E_LIMIT;
        size_t nc = p->capsegs ? p->capsegs * 2 : 8;
        seg *ns = realloc(p->segs, nc * sizeof *ns);
        if (!ns) return TIFF_E_NOMEM;
        p->segs = ns;
        p->capsegs = nc;
    }
    size_t i = p->nsegs;
    while (i > 0 && p->segs[i - 1].off > offset) {
        p->segs[i] = p->segs[i - 1];
        i--;
    }
    p->segs[i].off = offset;
    p->segs[i].end = offset + len;
    p->segs[i].data = data;
    p->nsegs++;
    p->lastseg = i;
    p->fed += len;
    return TIFF_OK;
}

uint64_t tiff_parser_fed_bytes(const tiff_parser *p) { return p->fed; }
const char *tiff_parser_errmsg(const tiff_parser *p) { return p->errmsg; }

size_t tiff_parser_needs(const tiff_parser *p, const tiff_range **out) {
    *out = p->needs.v;
    return p->state == 0 ? p->needs.n : 0;
}

const tiff_header *tiff_parser_header(const tiff_parser *p) {
    return p->state == 1 ? &p->h : NULL;
}

/* ---------------------------------------------------------------- strings */

static size_t utf8_valid_prefix(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) len = 3, lo = 0xA0;
        else if (c == 0xED) len = 3, hi = 0x9F;
        else if (c >= 0xE1 && c <= 0xEF) len = 3;
        else if (c == 0xF0) len = 4, lo = 0x90;
        else if (c == 0xF4) len = 4, hi = 0x8F;
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else return i;
        if (i + len > n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += len;
    }
    return n;
}

/* cp1252 0x80..0x9F; the five undefined bytes map to the C1 control of the same value
 * (as the WHATWG windows-1252 decoder does). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static int is_pyspace(uint8_t c) { return c == ' ' || (c >= 9 && c <= 13); }

/* tifffile's ASCII decoding: trailing NULs removed, then surrounding whitespace, then UTF-8,
 * else cp1252. `strip` 0 = take the bytes as they are (GeoAscii slices). `partial` = the bytes
 * are a prefix of a longer value (cut, not stripped at the end). Returns NUL-terminated valid
 * UTF-8 in the arena, NULL when over the memory limit. */
static char *decode_str(tiff_parser *p, const uint8_t *b, size_t n, int strip, int partial,
                        size_t *outlen, int *was_cp1252) {
    if (strip) {
        if (!partial)
            while (n > 0 && b[n - 1] == 0) n--;
        while (n > 0 && is_pyspace(b[0])) b++, n--;
        if (!partial)
            while (n > 0 && is_pyspace(b[n - 1])) n--;
    }
    size_t ok = utf8_valid_prefix(b, n);
    if (ok < n && partial && n - ok < 4 && b[ok] >= 0xC2 && b[ok] <= 0xF4) {
        /* maybe a sequence cut by the cap: accept if the rest is a valid beginning */
        size_t want = b[ok] >= 0xF0 ? 4 : b[ok] >= 0xE0 ? 3 : 2;
        int good = n - ok < want;
        for (size_t k = ok + 1; k < n && good; k++) good = b[k] >= 0x80 && b[k] <= 0xBF;
        if (good) n = ok;
    }
    *was_cp1252 = 0;
    if (ok >= n) {
        char *s = ar_alloc(&p->ar, n + 1);
        if (!s) return NULL;
        memcpy(s, b, n);
        s[n] = 0;
        *outlen = n;
        return s;
    }
    *was_cp1252 = 1;
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *s = ar_alloc(&p->ar, n * 3 + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = b[i];
        if (c >= 0x80 && c < 0xA0) c = cp1252_hi[c - 0x80];
        if (c < 0x80) s[o++] = (char)c;
        else if (c < 0x800) {
            s[o++] = (char)(0xC0 | (c >> 6));
            s[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            s[o++] = (char)(0xE0 | (c >> 12));
            s[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            s[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    s[o] = 0;
    *outlen = o;
    return s;
}

/* ---------------------------------------------------------------- number formatting */

size_t tiff__put_u64(char *dst, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    return n;
}

size_t tiff__put_i64(char *dst, int64_t v) {
    if (v < 0) {
        dst[0] = '-';
        return 1 + tiff__put_u64(dst + 1, (uint64_t)0 - (uint64_t)v);
    }
    return tiff__put_u64(dst, (uint64_t)v);
}

size_t tiff__put_double(char *dst, double v) {
    if (isnan(v)) {
        memcpy(dst, "\"NaN\"", 5);
        return 5;
    }
    if (isinf(v)) {
        if (v > 0) {
            memcpy(dst, "\"Infinity\"", 10);
            return 10;
        }
        memcpy(dst, "\"-Infinity\"", 11);
        return 11;
    }
    if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
        size_t n = tiff__put_i64(dst, (int64_t)v);
        if (v == 0 && signbit(v)) {
            memcpy(dst, "-0.0", 4);
            return 4;
        }
        memcpy(dst + n, ".0", 2);
        return n + 2;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    if (n < 0 || n >= TIFF__DBL_MAX_CHARS) n = 0;
    /* shortest of %.15g / %.16g / %.17g that reads back as v: nicer and still exact */
    for (int prec = 15; prec <= 16; prec++) {
        char t2[40];
        int m = snprintf(t2, sizeof t2, "%.*g", prec, v);
        if (m > 0 && m < TIFF__DBL_MAX_CHARS && strtod(t2, NULL) == v) {
            memcpy(dst, t2, (size_t)m);
            return (size_t)m;
        }
    }
    memcpy(dst, tmp, (size_t)n);
    return (size_t)n;
}

size_t tiff__esc_unit(char *dst, const unsigned char *s, size_t n, size_t *used) {
    unsigned char c = s[0];
    *used = 1;
    if (c == '"' || c == '\\') {
        dst[0] = '\\';
        dst[1] = (char)c;
        return 2;
    }
    if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        char e = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b'
                 : c == '\f' ? 'f' : 0;
        if (e) {
            dst[0] = '\\';
            dst[1] = e;
            return 2;
        }
        memcpy(dst, "\\u00", 4);
        dst[4] = hex[c >> 4];
        dst[5] = hex[c & 15];
        return 6;
    }
    if (c < 0x80) {
        dst[0] = (char)c;
        return 1;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (len > n) len = n;
    memcpy(dst, s, len);
    *used = len;
    return len;
}

/* ---------------------------------------------------------------- value access */

static int64_t item_int(const tiff_parser *p, unsigned type, const uint8_t *b) {
    switch (type) {
    case 1: case 7: case 2: return b[0];
    case 6: return (int8_t)b[0];
    case 3: return r16(p, b);
    case 8: return (int16_t)r16(p, b);
    case 4: case 13: return r32(p, b);
    case 9: return (int32_t)r32(p, b);
    case 16: case 18: return (int64_t)r64(p, b);
    case 17: return (int64_t)r64(p, b);
    }
    return 0;
}

static double item_double(const tiff_parser *p, unsigned type, const uint8_t *b) {
    switch (type) {
    case 11: {
        uint32_t u = r32(p, b);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case 12: {
        uint64_t u = r64(p, b);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case 5: {
        uint32_t n = r32(p, b), d = r32(p, b + 4);
        return (double)n / (double)d;
    }
    case 10: {
        int32_t n = (int32_t)r32(p, b), d = (int32_t)r32(p, b + 4);
        return (double)n / (double)d;
    }
    case 16: case 18: return (double)r64(p, b);
    }
    return (double)item_int(p, type, b);
}

/* ---------------------------------------------------------------- JSON of unnamed tags */

typedef struct {
    char *buf;
    size_t len, max; /* max = text limit incl. the closing part */
} jb;

static void jb_put(jb *j, const char *s, size_t n) {
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

/* Value of `count` items of `type` (only `have` of them present in data) as JSON into an arena
 * buffer, {"type":T,"count":N,"value":V[,"capped":true]}. geo: GeoKey conventions (a single
 * item is a scalar). */
static tiff_extra *make_extra(tiff_parser *p, tiff_extra *x, unsigned id, unsigned type,
                              uint64_t count, const uint8_t *data, uint64_t have, int partial,
                              const char *str, size_t slen, int geo) {
    size_t max = p->lim.max_tag_text;
    /* allocate what this value can take, not the whole cap */
    uint64_t per = (type == 1 || type == 7) ? 2 : type == 2 ? 6 : (type == 5 || type == 10) ? 26
                   : (type == 11 || type == 12) ? TIFF__DBL_MAX_CHARS + 1 : 22;
    uint64_t bound = type == 2 ? 80 + (uint64_t)slen * per : 80 + have * per;
    size_t alloc = bound < max ? (size_t)bound : max;
    jb j = {ar_alloc(&p->ar, alloc + 8), 0, max};
    if (!j.buf) return NULL;
    char tmp[80];
    size_t n = (size_t)snprintf(tmp, sizeof tmp, "{\"type\":%u,\"count\":%llu,\"value\":", type,
                                (unsigned long long)count);
    jb_put(&j, tmp, n);
    int capped = 0;
    static const char capt[] = ",\"capped\":true}";
    const size_t tail = sizeof capt - 1 + 1; /* closer of the value + capped marker */
    if (type == 1 || type == 7) {
        static const char hex[] = "0123456789abcdef";
        jb_put(&j, "\"", 1);
        for (uint64_t i = 0; i < have; i++) {
            size_t reserve = (i + 1 == count) ? 2 : tail;
            if (j.len + 2 + reserve > max) {
                capped = 1;
                break;
            }
            j.buf[j.len++] = hex[data[i] >> 4];
            j.buf[j.len++] = hex[data[i] & 15];
        }
        if (have < count) capped = 1;
        jb_put(&j, "\"", 1);
    } else if (type == 2) {
        jb_put(&j, "\"", 1);
        size_t i = 0;
        while (i < slen) {
            char e[8];
            size_t used;
            size_t el = tiff__esc_unit(e, (const unsigned char *)str + i, slen - i, &used);
            size_t reserve = (i + used >= slen && !partial) ? 2 : tail;
            if (j.len + el + reserve > max) {
                capped = 1;
                break;
            }
            jb_put(&j, e, el);
            i += used;
        }
        if (partial) capped = 1;
        jb_put(&j, "\"", 1);
    } else {
        unsigned isz = item_size(type);
        int scalar = geo && count == 1 && have == 1;
        if (!scalar) jb_put(&j, "[", 1);
        for (uint64_t i = 0; i < have; i++) {
            const uint8_t *b = data + i * isz;
            size_t m = 0;
            if (i) tmp[m++] = ',';
            if (type == 5 || type == 10) {
                tmp[m++] = '[';
                if (type == 5) {
                    m += tiff__put_u64(tmp + m, r32(p, b));
                    tmp[m++] = ',';
                    m += tiff__put_u64(tmp + m, r32(p, b + 4));
                } else {
                    m += tiff__put_i64(tmp + m, (int32_t)r32(p, b));
                    tmp[m++] = ',';
                    m += tiff__put_i64(tmp + m, (int32_t)r32(p, b + 4));
                }
                tmp[m++] = ']';
            } else if (type == 11 || type == 12) {
                m += tiff__put_double(tmp + m, item_double(p, type, b));
            } else if (type == 16 || type == 18) {
                m += tiff__put_u64(tmp + m, r64(p, b));
            } else {
                m += tiff__put_i64(tmp + m, item_int(p, type, b));
            }
            size_t reserve = (i + 1 == count) ? 2 : tail;
            if (j.len + m + reserve > max) {
                capped = 1;
                break;
            }
            jb_put(&j, tmp, m);
        }
        if (have < count) capped = 1;
        if (!scalar) jb_put(&j, "]", 1);
    }
    if (capped) jb_put(&j, capt, sizeof capt - 1);
    else jb_put(&j, "}", 1);
    j.buf[j.len] = 0;
    x->id = (uint16_t)id;
    x->json = j.buf;
    x->json_len = j.len;
    x->capped = capped != 0;
    return x;
}

static tiff_extra *push_extra(tiff_parser *p, tiff_extra **arr, size_t *n, size_t *cap) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        tiff_extra *na = ar_alloc(&p->ar, nc * sizeof *na);
        if (!na) return NULL;
        if (*n) memcpy(na, *arr, *n * sizeof *na);
        *arr = na;
        *cap = nc;
    }
    return &(*arr)[(*n)++];
}

static int cmp_extra(const void *a, const void *b) {
    const tiff_extra *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Ids are unique here (duplicates were dropped); usually already in order. */
static void sort_extras(tiff_extra *a, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (a[i - 1].id > a[i].id) {
            qsort(a, n, sizeof *a, cmp_extra);
            return;
        }
}

/* ---------------------------------------------------------------- IFD 0 entries */

static void note_end(tiff_parser *p, uint64_t end) {
    if (end > p->meta_end) p->meta_end = end;
}

/* Bytes of an entry's value (at most `want` bytes from its start). */
static avail entry_bytes(tiff_parser *p, const ent *e, uint64_t want, const uint8_t **out) {
    if (want > e->vsize) want = e->vsize;
    if (e->inl) {
        *out = e->field;
        return AV_OK;
    }
    avail a = get(p, e->voff, want, out, 1);
    if (a == AV_OK) note_end(p, e->voff + want);
    return a;
}

static void warn_unavailable(tiff_parser *p, const ent *e, avail a) {
    if (a == AV_DENIED)
        warn(p, "tag %u at %llu: value at %llu (%llu bytes) not fetched (max_fetch_bytes, "
                "max_memory or not delivered); entry dropped",
             e->tag, (unsigned long long)e->eoff, (unsigned long long)e->voff,
             (unsigned long long)e->vsize);
    else if (a == AV_PAST_END)
        warn(p, "tag %u at %llu: invalid value offset %llu (past the end); entry dropped",
             e->tag, (unsigned long long)e->eoff, (unsigned long long)e->voff);
}

/* Store an unnamed (or unusable named) entry in other_tags, reading only what the text cap
 * can show. */
static void add_other(tiff_parser *p, const ent *e) {
    uint64_t isz = item_size(e->type);
    uint64_t items = p->lim.max_tag_text / 2 + 1; /* each item takes >= 2 chars of text */
    if (e->type == 2) items = p->lim.max_tag_text + 1;
    if (items > e->count) items = e->count;
    const uint8_t *d;
    avail a = entry_bytes(p, e, items * isz, &d);
    if (a == AV_MISSING) return;
    if (a != AV_OK) {
        warn_unavailable(p, e, a);
        return;
    }
    if (p->pass_missing) return; /* output of this pass is discarded anyway */
    tiff_extra *x = push_extra(p, &p->others, &p->nothers, &p->capothers);
    if (!x) goto nomem;
    const char *s = NULL;
    size_t sl = 0;
    if (e->type == 2) {
        int cp;
        s = decode_str(p, d, (size_t)items, 1, items < e->count, &sl, &cp);
        if (!s) {
            p->nothers--;
            goto nomem;
        }
    }
    if (!make_extra(p, x, e->tag, e->type, e->count, d, items, items < e->count, s, sl, 0)) {
        p->nothers--;
        goto nomem;
    }
    return;
nomem:
    warn(p, "tag %u at %llu: dropped, max_memory reached", e->tag, (unsigned long long)e->eoff);
}

/* Named field: returns 1 if the entry's type/count suit the field (value stored or waiting),
 * 0 if it must go to other_tags instead. */
static int set_named(tiff_parser *p, const ent *e, int fid) {
    tiff_kind kind = tiff_field_infos[fid].kind;
    unsigned t = e->type;
    tiff_value *v = &p->h.field[fid];
    switch (kind) {
    case TIFF_K_COUNT:
        v->present = true;
        v->count = 1;
        v->u.i = (int64_t)e->count;
        return 1;
    case TIFF_K_INT:
        if (!type_is_int(t) || e->count == 0) return 0;
        break;
    case TIFF_K_INT_LIST:
        if (!type_is_int(t)) return 0;
        break;
    case TIFF_K_DOUBLE:
        if (t == 2 || t == 7 || e->count == 0) return 0;
        break;
    case TIFF_K_DOUBLE_LIST:
        if (t == 2 || t == 7) return 0;
        break;
    case TIFF_K_STRING:
        if (t != 2) return 0;
        break;
    case TIFF_K_BINARY:
        if (t != 1 && t != 7 && t != 6) return 0;
        break;
    }
    uint64_t vsize = e->vsize;
    if ((kind == TIFF_K_INT || kind == TIFF_K_DOUBLE) && e->count > 1) {
        /* a scalar field with several values: the first one is used (as tifffile's readers
           and the corpus do) */
        warn(p, "tag %u at %llu: %llu values for a single-valued field, the first is used",
             e->tag, (unsigned long long)e->eoff, (unsigned long long)e->count);
        vsize = item_size(t);
    }
    if (vsize > p->lim.max_memory) {
        warn(p, "tag %u at %llu: value of %llu bytes exceeds max_memory; dropped", e->tag,
             (unsigned long long)e->eoff, (unsigned long long)e->vsize);
        return 1;
    }
    const uint8_t *d;
    avail a = entry_bytes(p, e, vsize, &d);
    if (a == AV_MISSING) return 1;
    if (a != AV_OK) {
        warn_unavailable(p, e, a);
        return 1;
    }
    if (p->pass_missing) return 1;
    unsigned isz = item_size(t);
    size_t cnt = (size_t)e->count;
    switch (kind) {
    case TIFF_K_INT:
        v->u.i = item_int(p, t, d);
        v->count = 1;
        v->present = true;
        break;
    case TIFF_K_INT_LIST: {
        int64_t *a64 = ar_alloc(&p->ar, cnt * sizeof *a64);
        if (!a64) goto nomem;
        for (size_t i = 0; i < cnt; i++) a64[i] = item_int(p, t, d + i * isz);
        v->u.ints = a64;
        v->count = cnt;
        v->present = true;
        break;
    }
    case TIFF_K_DOUBLE:
        if ((t == 5 || t == 10) && r32(p, d + 4) == 0) break; /* den 0: absent */
        v->u.d = item_double(p, t, d);
        v->count = 1;
        v->present = true;
        break;
    case TIFF_K_DOUBLE_LIST: {
        double *dd = ar_alloc(&p->ar, cnt * sizeof *dd);
        if (!dd) goto nomem;
        for (size_t i = 0; i < cnt; i++) dd[i] = item_double(p, t, d + i * isz);
        v->u.dbls = dd;
        v->count = cnt;
        v->present = true;
        break;
    }
    case TIFF_K_STRING: {
        int cp;
        size_t sl;
        char *s = decode_str(p, d, cnt, 1, 0, &sl, &cp);
        if (!s) goto nomem;
        v->u.str = s;
        v->count = sl;
        v->present = true;
        break;
    }
    case TIFF_K_BINARY:
        v->u.bytes = d;
        v->count = cnt;
        v->present = true;
        break;
    case TIFF_K_COUNT:
        break;
    }
    return 1;
nomem:
    warn(p, "tag %u at %llu: dropped, max_memory reached", e->tag, (unsigned long long)e->eoff);
    return 1;
}

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
static void data_offsets_min(tiff_parser *p, const ent *e, uint64_t *min) {
    if (!type_is_int(e->type) || e->count == 0) return;
    const uint8_t *d;
    if (e->inl) d = e->field;
    else if (get(p, e->voff, e->vsize, &d, 0) != AV_OK) return;
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
        if (a <= UINT32_MAX - 8 && (uint64_t)a + 8 < m) m = (uint64_t)a + 8;
    } else if (isz == 8) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, d + 8 * i, 8);
            if (swap) v = bswap64(v);
            v = v < 8 ? UINT64_MAX : v;
            m = v < m ? v : m;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint64_t v = isz == 2 ? r16(p, d + i * 2) : d[i];
            if (v >= 8 && v < m) m = v;
        }
    }
    *min = m;
}

/* Decode entry i of an IFD at `base` (pointer to its first entry). 0 = usable. */
static int decode_entry(tiff_parser *p, const uint8_t *eb, uint64_t eoff, ent *e, int report) {
    e->tag = r16(p, eb);
    e->type = r16(p, eb + 2);
    e->count = p->big ? r64(p, eb + 4) : r32(p, eb + 4);
    e->field = eb + (p->big ? 12 : 8);
    e->eoff = eoff;
    unsigned isz = item_size(e->type);
    if (!isz) {
        if (report)
            warn(p, "tag %u at %llu: invalid data type %u; entry skipped", e->tag,
                 (unsigned long long)eoff, e->type);
        return -1;
    }
    if (e->count > UINT64_MAX / isz) {
        if (report)
            warn(p, "tag %u at %llu: invalid value offset (count %llu of %u-byte items "
                    "overflows); entry skipped",
                 e->tag, (unsigned long long)eoff, (unsigned long long)e->count, isz);
        return -1;
    }
    e->vsize = e->count * isz;
    int reader = tifffile_reader_tag(e->tag);
    if (e->vsize <= p->os && !reader) {
        e->inl = 1;
        e->voff = eoff + (p->big ? 12 : 8);
        return 0;
    }
    e->inl = e->vsize <= p->os;
    e->voff = roff(p, e->field);
    if (e->voff < 8 ||
        (p->size != TIFF_SIZE_UNKNOWN && (e->voff > p->size || e->vsize > p->size - e->voff))) {
        if (report)
            warn(p, "tag %u at %llu: invalid value offset %llu (%llu bytes, object %llu); entry "
                    "skipped",
                 e->tag, (unsigned long long)eoff, (unsigned long long)e->voff,
                 (unsigned long long)e->vsize, (unsigned long long)p->size);
        return -1;
    }
    if (e->inl) e->voff = eoff + (p->big ? 12 : 8);
    return 0;
}

/* ---------------------------------------------------------------- GeoKeys */

static void geo_other(tiff_parser *p, unsigned id, unsigned type, uint64_t count,
                      const uint8_t *data, uint64_t have, const char *s, size_t sl) {
    tiff_extra *x = push_extra(p, &p->gothers, &p->ngothers, &p->capgothers);
    if (!x || !make_extra(p, x, id, type, count, data, have, 0, s, sl, 1)) {
        if (x) p->ngothers--;
        warn(p, "GeoKey %u: dropped, max_memory reached", id);
    }
}

static void parse_geokeys(tiff_parser *p, const ent *kd, const ent *dp, const ent *ap,
                          const uint8_t *kdd, const uint8_t *dpd, const uint8_t *apd) {
    size_t nshort = (size_t)kd->count;
    tiff_header *h = &p->h;
    h->has_geokeys = true;
    for (int i = 0; i < 4; i++) h->geokeys_header[i] = r16(p, kdd + 2 * i);
    if (h->geokeys_header[0] != 1)
        warn(p, "GeoKeyDirectory: KeyDirectoryVersion %u (expected 1)", h->geokeys_header[0]);
    size_t nkeys = h->geokeys_header[3], room = (nshort - 4) / 4;
    if (nkeys > room) {
        warn(p, "GeoKeyDirectory: NumberOfKeys %zu but the directory (%zu shorts) holds %zu; "
                "reading %zu",
             nkeys, nshort, room, room);
        nkeys = room;
    }
    uint64_t ndbl = dpd ? dp->count : 0, nasc = apd ? ap->count : 0;
    /* key ids seen: a short list for the usual directory, a bitmap for huge ones */
    uint16_t few[64];
    uint8_t *seen = NULL;
    if (nkeys > 64) {
        seen = ar_alloc(&p->ar, 8192);
        if (!seen) {
            warn(p, "GeoKeyDirectory: dropped, max_memory reached");
            return;
        }
        memset(seen, 0, 8192);
    }
    for (size_t k = 0; k < nkeys; k++) {
        const uint8_t *kb = kdd + 8 + 8 * k;
        unsigned id = r16(p, kb), loc = r16(p, kb + 2), cnt = r16(p, kb + 4), off = r16(p, kb + 6);
        int g = geokey_of_id(id);
        tiff_kind want = g >= 0 ? tiff_geokey_infos[g].kind : TIFF_K_INT;
        int dup = 0;
        if (seen) {
            dup = (seen[id >> 3] >> (id & 7)) & 1;
            seen[id >> 3] |= (uint8_t)(1u << (id & 7));
        } else {
            for (size_t i = 0; i < k && !dup; i++) dup = few[i] == id;
            few[k] = (uint16_t)id;
        }
        if (dup) {
            warn(p, "GeoKey %u (index %zu): duplicate key ignored", id, k);
            continue;
        }
        if (loc == 0) {
            if (g >= 0 && want == TIFF_K_INT) {
                h->geokey[g].present = true;
                h->geokey[g].count = 1;
                h->geokey[g].u.i = off;
                continue;
            }
            if (g >= 0)
                warn(p, "GeoKey %u: stored as a SHORT in the directory, expected %s; kept in "
                        "geokeys_other",
                     id, want == TIFF_K_DOUBLE ? "a DOUBLE" : "ASCII");
            uint8_t b[2];
            b[p->le ? 0 : 1] = (uint8_t)off;
            b[p->le ? 1 : 0] = (uint8_t)(off >> 8);
            geo_other(p, id, 3, 1, b, 1, NULL, 0);
            continue;
        }
        if (loc == 34735) {
            if ((uint64_t)off + cnt > nshort) {
                warn(p, "GeoKey %u: values [%u, %u) outside the GeoKeyDirectory of %zu shorts; "
                        "key dropped",
                     id, off, off + cnt, nshort);
                continue;
            }
            if (g >= 0 && want == TIFF_K_INT && cnt == 1) {
                h->geokey[g].present = true;
                h->geokey[g].count = 1;
                h->geokey[g].u.i = r16(p, kdd + 2 * (size_t)off);
                continue;
            }
            if (g >= 0)
                warn(p, "GeoKey %u: %u SHORTs in the directory, unexpected for this key; kept in "
                        "geokeys_other", id, cnt);
            geo_other(p, id, 3, cnt, kdd + 2 * (size_t)off, cnt, NULL, 0);
            continue;
        }
        if (loc == 34736) {
            if (!dpd || (uint64_t)off + cnt > ndbl) {
                warn(p, "GeoKey %u: values [%u, %u) outside GeoDoubleParams of %llu; key dropped",
                     id, off, off + cnt, (unsigned long long)ndbl);
                continue;
            }
            if (g >= 0 && want == TIFF_K_DOUBLE && cnt == 1) {
                h->geokey[g].present = true;
                h->geokey[g].count = 1;
                h->geokey[g].u.d = item_double(p, 12, dpd + 8 * (size_t)off);
                continue;
            }
            if (g >= 0)
                warn(p, "GeoKey %u: %u DOUBLEs, unexpected for this key; kept in geokeys_other",
                     id, cnt);
            geo_other(p, id, 12, cnt, dpd + 8 * (size_t)off, cnt, NULL, 0);
            continue;
        }
        if (loc == 34737) {
            if (!apd || (uint64_t)off + cnt > nasc) {
                warn(p, "GeoKey %u: values [%u, %u) outside GeoAsciiParams of %llu; key dropped",
                     id, off, off + cnt, (unsigned long long)nasc);
                continue;
            }
            size_t n = cnt;
            const uint8_t *s = apd + off;
            if (n > 1 && s[n - 1] == '|') n--;
            int cp;
            size_t sl;
            char *str = decode_str(p, s, n, 0, 0, &sl, &cp);
            if (!str) {
                warn(p, "GeoKey %u: dropped, max_memory reached", id);
                continue;
            }
            if (g >= 0 && want == TIFF_K_STRING) {
                h->geokey[g].present = true;
                h->geokey[g].count = sl;
                h->geokey[g].u.str = str;
                continue;
            }
            if (g >= 0)
                warn(p, "GeoKey %u: stored as ASCII, expected a number; kept in geokeys_other", id);
            geo_other(p, id, 2, cnt, NULL, n, str, sl);
            continue;
        }
        warn(p, "GeoKey %u: unsupported location tag %u; key dropped", id, loc);
    }
    sort_extras(p->gothers, p->ngothers);
    h->geokeys_other = p->gothers;
    h->n_geokeys_other = p->ngothers;
}

/* ---------------------------------------------------------------- the pass */

static int parse_ifd0(tiff_parser *p) {
    const uint8_t *b;
    /* reject a non-TIFF as soon as its first bytes are here, without asking for more */
    if (get(p, 0, 2, &b, 0) == AV_OK) {
        if (!(b[0] == 'I' && b[1] == 'I') && !(b[0] == 'M' && b[1] == 'M'))
            return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: byte order mark %02x%02x", b[0], b[1]);
        p->le = b[0] == 'I';
        if (get(p, 2, 2, &b, 0) == AV_OK && r16(p, b) != 42 && r16(p, b) != 43)
            return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: magic number %u", r16(p, b));
    }
    avail a = get(p, 0, 8, &b, 1);
    if (a != AV_OK) {
        if (a == AV_MISSING) return TIFF_NEED;
        /* shorter than 8 bytes: say not_tiff when the bytes we have are no TIFF */
        uint64_t have = p->size == TIFF_SIZE_UNKNOWN ? covered_to(p, 0, 8) : p->size;
        if (have >= 2 && get(p, 0, 2, &b, 0) == AV_OK && !(b[0] == 'I' && b[1] == 'I') &&
            !(b[0] == 'M' && b[1] == 'M'))
            return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: byte order mark %02x%02x", b[0], b[1]);
        if (a == AV_DENIED)
            return fail(p, TIFF_E_TRUNCATED, "header bytes [0, 8) not delivered");
        if (have == 0) return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: empty object");
        return fail(p, TIFF_E_TRUNCATED, "object of %llu bytes ends inside the 8-byte header",
                    (unsigned long long)have);
    }
    if (b[0] == 'I' && b[1] == 'I') p->le = 1;
    else if (b[0] == 'M' && b[1] == 'M') p->le = 0;
    else return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: byte order mark %02x%02x", b[0], b[1]);
    unsigned magic = r16(p, b + 2);
    if (magic == 42) {
        p->big = 0;
        p->cs = 2, p->es = 12, p->os = 4;
        p->ifd0 = r32(p, b + 4);
    } else if (magic == 43) {
        p->big = 1;
        p->cs = 8, p->es = 20, p->os = 8;
        if (r16(p, b + 4) != 8 || r16(p, b + 6) != 0)
            return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: BigTIFF offset size %u, reserved %u",
                        r16(p, b + 4), r16(p, b + 6));
        a = get(p, 8, 8, &b, 1);
        if (a == AV_MISSING) return TIFF_NEED;
        if (a != AV_OK)
            return fail(p, a == AV_DENIED ? TIFF_E_LIMIT : TIFF_E_TRUNCATED,
                        "object ends inside the 16-byte BigTIFF header");
        p->ifd0 = r64(p, b);
    } else {
        return fail(p, TIFF_E_NOT_TIFF, "not a TIFF: magic number %u", magic);
    }
    tiff_header *h = &p->h;
    h->little_endian = p->le;
    h->bigtiff = p->big;
    h->first_ifd_offset = p->ifd0;
    uint64_t hdr = p->big ? 16 : 8;
    note_end(p, hdr);
    uint64_t off = p->ifd0;
    if (off < hdr || (p->size != TIFF_SIZE_UNKNOWN && off >= p->size))
        return fail(p, TIFF_E_BAD_IFD, "first IFD offset %llu invalid (object of %llu bytes)",
                    (unsigned long long)off, (unsigned long long)p->size);
    a = get(p, off, p->cs, &b, 1);
    if (a == AV_MISSING) return TIFF_NEED;
    if (a != AV_OK)
        return fail(p, a == AV_DENIED ? TIFF_E_LIMIT : TIFF_E_TRUNCATED,
                    "IFD 0 at offset %llu: entry count past the end of the object",
                    (unsigned long long)off);
    uint64_t n = p->big ? r64(p, b) : r16(p, b);
    uint64_t avail_bytes = p->size == TIFF_SIZE_UNKNOWN ? UINT64_MAX : p->size - off - p->cs;
    if (n > avail_bytes / p->es)
        return fail(p, TIFF_E_TRUNCATED,
                    "IFD 0 at offset %llu: entry count %llu needs %llu bytes but the object has "
                    "%llu",
                    (unsigned long long)off, (unsigned long long)n,
                    (unsigned long long)(n <= UINT64_MAX / p->es - 1 ? n * p->es + p->cs : UINT64_MAX),
                    (unsigned long long)p->size);
    uint64_t ebytes = n * p->es;
    if (ebytes > p->lim.max_fetch_bytes || ebytes > p->lim.max_memory)
        return fail(p, TIFF_E_LIMIT, "IFD 0 at offset %llu: %llu entries exceed the limits",
                    (unsigned long long)off, (unsigned long long)n);
    const uint8_t *eb;
    a = get(p, off + p->cs, ebytes, &eb, 1);
    /* the next-IFD pointer comes with the entries (for the chain walk) */
    const uint8_t *nb = NULL;
    avail an = get(p, off + p->cs + ebytes, p->os, &nb, 1);
    if (a == AV_MISSING) return TIFF_NEED;
    if (a != AV_OK)
        return fail(p, a == AV_DENIED ? TIFF_E_LIMIT : TIFF_E_TRUNCATED,
                    "IFD 0 at offset %llu: %llu entries not available", (unsigned long long)off,
                    (unsigned long long)n);
    note_end(p, off + p->cs + ebytes + (an == AV_OK ? p->os : 0));
    if (n == 0) warn(p, "IFD 0 at offset %llu has no entries", (unsigned long long)off);

    ent kd = {0}, dp = {0}, ap = {0};
    int have_kd = 0, have_dp = 0, have_ap = 0;
    unsigned last_tag = 0;
    int any = 0;
    uint8_t *seen = NULL;
    ent offs[2];
    int noffs = 0;
    for (uint64_t i = 0; i < n; i++) {
        ent e;
        uint64_t eoff = off + p->cs + i * p->es;
        if (decode_entry(p, eb + i * p->es, eoff, &e, 1) != 0) continue;
        if (!seen && any && e.tag <= last_tag) {
            /* out of order: from now on track every usable tag in a bitmap */
            seen = ar_alloc(&p->ar, 8192);
            if (!seen) return fail(p, TIFF_E_LIMIT, "IFD 0: max_memory reached");
            memset(seen, 0, 8192);
            for (uint64_t k = 0; k < i; k++) {
                ent e2;
                if (decode_entry(p, eb + k * p->es, off + p->cs + k * p->es, &e2, 0) == 0)
                    seen[e2.tag >> 3] |= (uint8_t)(1u << (e2.tag & 7));
            }
        }
        if (seen) {
            if (seen[e.tag >> 3] & (1u << (e.tag & 7))) {
                warn(p, "tag %u at %llu: duplicate entry ignored (the first one is used)", e.tag,
                     (unsigned long long)eoff);
                continue;
            }
            seen[e.tag >> 3] |= (uint8_t)(1u << (e.tag & 7));
        }
        if (!any || e.tag > last_tag) last_tag = e.tag;
        any = 1;
        if (e.tag == 34735) kd = e, have_kd = 1;
        else if (e.tag == 34736) dp = e, have_dp = 1;
        else if (e.tag == 34737) ap = e, have_ap = 1;
        else {
            int fid = field_of_tag(e.tag);
            if (fid >= 0) {
                if (tiff_field_infos[fid].kind == TIFF_K_COUNT && (e.tag == 273 || e.tag == 324) &&
                    noffs < 2)
                    offs[noffs++] = e;
                if (set_named(p, &e, fid)) continue;
                warn(p, "tag %u at %llu: type %u count %llu does not suit field %s; kept in "
                        "other_tags",
                     e.tag, (unsigned long long)eoff, e.type, (unsigned long long)e.count,
                     tiff_field_infos[fid].name);
            }
            add_other(p, &e);
        }
    }
    /* GeoTIFF */
    int geo_ok = have_kd && kd.type == 3 && kd.count >= 4;
    if (have_kd && !geo_ok)
        warn(p, "tag 34735 at %llu: GeoKeyDirectory with type %u count %llu is unusable; kept "
                "in other_tags",
             (unsigned long long)kd.eoff, kd.type, (unsigned long long)kd.count);
    if (geo_ok) {
        const uint8_t *kdd = NULL, *dpd = NULL, *apd = NULL;
        avail ak = AV_OK, ad = AV_OK, aa = AV_OK;
        if (kd.vsize > p->lim.max_memory) ak = AV_DENIED;
        else ak = entry_bytes(p, &kd, kd.vsize, &kdd);
        if (have_dp) {
            if (dp.type != 12) {
                warn(p, "tag 34736 at %llu: GeoDoubleParams of type %u (expected 12) not used; "
                        "kept in other_tags",
                     (unsigned long long)dp.eoff, dp.type);
                add_other(p, &dp);
                ad = AV_PAST_END;
            } else if (dp.vsize > p->lim.max_memory) {
                ad = AV_DENIED;
            } else {
                ad = entry_bytes(p, &dp, dp.vsize, &dpd);
            }
            if (ad == AV_DENIED || (ad == AV_PAST_END && dp.type == 12)) warn_unavailable(p, &dp, ad);
        }
        if (have_ap) {
            if (ap.type != 2) {
                warn(p, "tag 34737 at %llu: GeoAsciiParams of type %u (expected 2) not used; "
                        "kept in other_tags",
                     (unsigned long long)ap.eoff, ap.type);
                add_other(p, &ap);
                aa = AV_PAST_END;
            } else if (ap.vsize > p->lim.max_memory) {
                aa = AV_DENIED;
            } else {
                aa = entry_bytes(p, &ap, ap.vsize, &apd);
            }
            if (aa == AV_DENIED || (aa == AV_PAST_END && ap.type == 2)) warn_unavailable(p, &ap, aa);
        }
        if (ak != AV_OK && ak != AV_MISSING) {
            warn_unavailable(p, &kd, ak);
        } else if (ak == AV_OK && ad != AV_MISSING && aa != AV_MISSING && !p->pass_missing) {
            parse_geokeys(p, &kd, &dp, &ap, kdd, ad == AV_OK ? dpd : NULL,
                          aa == AV_OK ? apd : NULL);
        }
    } else {
        if (have_kd) add_other(p, &kd);
        if (have_dp) add_other(p, &dp);
        if (have_ap) add_other(p, &ap);
    }
    for (int i = 0; i < noffs; i++) data_offsets_min(p, &offs[i], &p->data_min);

    /* start the chain walk */
    if (!p->ch.started && !p->ch.done) {
        if (visited_add(p, off) != 0) return fail(p, TIFF_E_NOMEM, "out of memory");
        p->ch.count = 1;
        if (an == AV_OK) {
            p->ch.started = 1;
            p->ch.next = roff(p, nb);
            if (p->ch.next == 0) p->ch.done = 1;
        } else if (an != AV_MISSING) {
            p->ch.started = 1;
            p->ch.done = 1;
            snprintf(p->ch.err, sizeof p->ch.err, "IFD 0 offset %llu: next-IFD offset %s",
                     (unsigned long long)off,
                     an == AV_PAST_END ? "lies past the end of the file" : "not fetched");
        }
    }
    return TIFF_OK;
}

/* Walk the main IFD chain from where the last pass stopped. */
static int walk_chain(tiff_parser *p) {
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
            snprintf(p->ch.err, sizeof p->ch.err, "IFD %u offset %llu repeats an earlier IFD (cycle)",
                     k, uo);
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
        avail a = get(p, off, p->cs, &b, 1);
        if (a == AV_MISSING) return TIFF_NEED;
        if (a != AV_OK) {
            if (a == AV_PAST_END)
                snprintf(p->ch.err, sizeof p->ch.err, "IFD %u offset %llu outside file of %llu bytes",
                         k, uo, us);
            else
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu not fetched (max_fetch_bytes or not delivered)", k, uo);
            p->ch.done = 1;
            break;
        }
        uint64_t n = p->big ? r64(p, b) : r16(p, b);
        uint64_t room = p->size == TIFF_SIZE_UNKNOWN ? UINT64_MAX - off - p->cs
                                                     : p->size - off - p->cs;
        if (n > room / p->es) {
            snprintf(p->ch.err, sizeof p->ch.err,
                     "IFD %u offset %llu truncated (%llu entries end past file of %llu bytes)", k, uo,
                     (unsigned long long)n, us);
            p->ch.done = 1;
            break;
        }
        uint64_t nptr = off + p->cs + n * p->es;
        const uint8_t *nb;
        a = get(p, nptr, p->os, &nb, 1);
        if (a == AV_MISSING) return TIFF_NEED;
        if (a != AV_OK) {
            if (a == AV_DENIED || p->size == TIFF_SIZE_UNKNOWN) {
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu: entries not fetched (max_fetch_bytes or not delivered)",
                         k, uo);
            } else {
                /* entries inside the file: the IFD counts, the chain ends */
                p->ch.count++;
                snprintf(p->ch.err, sizeof p->ch.err,
                         "IFD %u offset %llu: next-IFD offset lies past the end of the file", k, uo);
            }
            p->ch.done = 1;
            break;
        }
        if (visited_add(p, off) != 0) return fail(p, TIFF_E_NOMEM, "out of memory");
        p->ch.count++;
        if (nptr + p->os > p->ch.meta_end) p->ch.meta_end = nptr + p->os;
        /* data offsets of this IFD, if its entries are already here (never fetched for it) */
        /* (bounded: overlapping IFDs could otherwise make this quadratic) */
        const uint8_t *eb;
        if (n <= p->ch.scan_left && n * p->es <= p->lim.max_memory &&
            get(p, off + p->cs, n * p->es, &eb, 0) == AV_OK) {
            p->ch.scan_left -= n;
            for (uint64_t i = 0; i < n; i++) {
                unsigned tag = r16(p, eb + i * p->es);
                if (tag != 273 && tag != 324) continue;
                ent e;
                if (decode_entry(p, eb + i * p->es, off + p->cs + i * p->es, &e, 0) == 0 &&
                    e.count <= p->ch.scan_left) {
                    p->ch.scan_left -= e.count;
                    data_offsets_min(p, &e, &p->ch.data_min);
                }
            }
        }
        p->ch.next = roff(p, nb);
        if (p->ch.next == 0) p->ch.done = 1;
    }
    return TIFF_OK;
}

static int one_pass(tiff_parser *p) {
    ar_reset(&p->ar);
    p->raw.n = 0;
    p->pass_missing = 0;
    p->nw = p->wdropped = 0;
    p->others = p->gothers = NULL;
    p->nothers = p->capothers = p->ngothers = p->capgothers = 0;
    memset(&p->h, 0, sizeof p->h);
    p->data_min = UINT64_MAX;
    p->meta_end = 0;
    if (!p->ch.started) {
        p->ch.data_min = UINT64_MAX;
        p->ch.scan_left = SCAN_BUDGET;
    }
    int rc = parse_ifd0(p);
    if (rc < 0) return rc;
    if (rc == TIFF_NEED) return TIFF_NEED;
    rc = walk_chain(p);
    if (rc < 0) return rc;
    if (p->ar.failed == 2) return fail(p, TIFF_E_NOMEM, "out of memory");
    return p->pass_missing ? TIFF_NEED : TIFF_OK;
}

/* Turn the raw needs of a pass into the request list: only missing bytes, grown to
 * min_request, clipped to the object, merged, within the fetch budget. Returns the number. */
static int build_needs(tiff_parser *p) {
    rlist *nd = &p->needs;
    nd->n = 0;
    if (p->raw.n) qsort(p->raw.v, p->raw.n, sizeof *p->raw.v, cmp_range);
    for (size_t i = 0; i < p->raw.n; i++) {
        uint64_t off = p->raw.v[i].offset, len = p->raw.v[i].length;
        if (len < p->lim.min_request) len = p->lim.min_request;
        if (off > UINT64_MAX - len) len = UINT64_MAX - off;
        uint64_t end = off + len;
        if (p->size != TIFF_SIZE_UNKNOWN && end > p->size) end = p->size;
        if (end <= off) continue;
        if (nd->n && nd->v[nd->n - 1].offset + nd->v[nd->n - 1].length >= off) {
            tiff_range *l = &nd->v[nd->n - 1];
            if (end > l->offset + l->length) l->length = end - l->offset;
        } else if (rl_push(nd, off, end - off) != 0) {
            return -1;
        }
    }
    /* don't ask again for bytes already fed: trim each range's start and end */
    size_t w = 0;
    for (size_t i = 0; i < nd->n; i++) {
        uint64_t off = nd->v[i].offset, end = off + nd->v[i].length;
        off = covered_to(p, off, end);
        for (size_t s = 0; s < p->nsegs; s++) {
            const seg *sg = &p->segs[s];
            if (sg->off > off && sg->off < end && sg->end >= end) {
                end = sg->off;
                break;
            }
        }
        if (off >= end) continue;
        nd->v[w].offset = off;
        nd->v[w].length = end - off;
        w++;
    }
    nd->n = w;
    /* budget */
    w = 0;
    for (size_t i = 0; i < nd->n; i++) {
        uint64_t len = nd->v[i].length;
        if (p->asked <= p->lim.max_fetch_bytes && len <= p->lim.max_fetch_bytes - p->asked) {
            p->asked += len;
            nd->v[w++] = nd->v[i];
        } else if (p->asked < p->lim.max_fetch_bytes) {
            /* cut to what the budget still allows: its start is a needed byte */
            uint64_t rest = p->lim.max_fetch_bytes - p->asked;
            p->asked += rest;
            nd->v[w].offset = nd->v[i].offset;
            nd->v[w].length = rest;
            w++;
            if (rl_push(&p->denied, nd->v[i].offset + rest, len - rest) != 0) return -1;
        } else {
            if (rl_push(&p->denied, nd->v[i].offset, len) != 0) return -1;
        }
    }
    nd->n = w;
    return (int)w;
}

int tiff_parser_run(tiff_parser *p) {
    if (p->state == 1) return TIFF_OK;
    if (p->state < 0) return TIFF_E_USAGE;
    /* ranges asked for last time and still not fed will not come */
    for (size_t i = 0; i < p->pending.n; i++) {
        uint64_t off = p->pending.v[i].offset, end = off + p->pending.v[i].length;
        while (off < end) {
            uint64_t c = covered_to(p, off, end);
            if (c > off) {
                off = c;
                continue;
            }
            uint64_t e = end;
            for (size_t s = 0; s < p->nsegs; s++)
                if (p->segs[s].off > off && p->segs[s].off < e) e = p->segs[s].off;
            if (rl_push(&p->gone, off, e - off) != 0) {
                p->state = TIFF_E_LIMIT;
                return fail(p, TIFF_E_LIMIT, "too many unanswered ranges");
            }
            off = e;
        }
    }
    p->pending.n = 0;
    p->needs.n = 0;
    for (int iter = 0; iter < 64; iter++) {
        int rc = one_pass(p);
        if (rc < 0) {
            p->state = rc;
            return rc;
        }
        if (rc == TIFF_OK) {
            tiff_header *h = &p->h;
            h->ifd_count = p->ch.count;
            h->ifd_chain_error = p->ch.err[0] ? p->ch.err : NULL;
            uint64_t dmin = p->data_min < p->ch.data_min ? p->data_min : p->ch.data_min;
            uint64_t mend = p->meta_end > p->ch.meta_end ? p->meta_end : p->ch.meta_end;
            h->header_bytes = dmin != UINT64_MAX ? dmin : mend;
            sort_extras(p->others, p->nothers);
            h->other_tags = p->others;
            h->n_other_tags = p->nothers;
            if (p->wdropped && p->nw) {
                snprintf(p->wbuf + (p->nw - 1) * WARN_LEN, WARN_LEN,
                         "%zu further warnings suppressed (max_warnings)", p->wdropped + 1);
            }
            h->warnings = p->wptr;
            h->n_warnings = p->nw;
            p->state = 1;
            return TIFF_OK;
        }
        int k = build_needs(p);
        if (k < 0) {
            p->state = TIFF_E_NOMEM;
            return fail(p, TIFF_E_NOMEM, "out of memory for the request list");
        }
        if (k > 0) {
            for (size_t i = 0; i < p->needs.n; i++)
                if (rl_push(&p->pending, p->needs.v[i].offset, p->needs.v[i].length) != 0) {
                    p->state = TIFF_E_NOMEM;
                    return fail(p, TIFF_E_NOMEM, "out of memory for the request list");
                }
            return TIFF_NEED;
        }
        /* everything needed was denied: pass again, the reads now fail softly */
    }
    p->state = TIFF_E_LIMIT;
    return fail(p, TIFF_E_LIMIT, "no progress after 64 passes");
}
