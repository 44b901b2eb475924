/* mutate_corpus.c - generated malformed input for the TIFF parser, from the shared corpus.
 *
 *   tiff_mutate_corpus CORPUS_DIR        (TD_MUTATIONS=N: mutants per file, default 1000;
 *                                          TD_MUTATIONS_VERBOSE=1: outcome per kind)
 *
 * For every corpus file, an independent raw walk (oracle_rawscan.c) finds where the header
 * structures are: the 8/16-byte file header, each IFD's entry count, entries and next
 * pointer, out-of-line values, the GeoKeyDirectory. Mutants are then made from them:
 *   - truncations at every structure boundary (and one byte either side), plus a spread;
 *   - entry counts of 0, n+1 and 65535 (BigTIFF: 2^40, 2^64-1);
 *   - next-IFD pointers to the IFD itself, to the first IFD, misaligned, past the end;
 *   - first-IFD offsets of 0, 1, 7, size-1, size, 2^32-1 (2^63 in BigTIFF);
 *   - per entry: unknown and wrong type codes, counts of 0 / 2^32-1 / counts whose byte
 *     size overflows 32 bits (and 64 bits in BigTIFF), value offsets past the end or into
 *     the entry itself, tag ids breaking the ascending order;
 *   - GeoKeyDirectory: NumberOfKeys 65535 / one too many, keys pointing outside
 *     GeoDoubleParams / GeoAsciiParams, into the directory itself, at an unknown tag;
 *   - a few random byte changes inside the header region; some mutants also truncated.
 * Mutants are patched in place and restored (no copy of large files). Each one goes through
 * the real store protocol (a prefetch, then the rounds of tiff_parser_needs()) under default
 * or tight limits, and for a share of them also whole-object at once. Checked: no crash or
 * sanitizer report (run it in the ASan+UBSan build), termination within a bounded number of
 * rounds, requested ranges inside the object and sorted/merged, every error with a code
 * name and a message, every warning non-empty, the JSON rendering of every header, and the
 * same outcome (and header) fetched piecewise or whole.
 * Deterministic: the PRNG is seeded from the file's path.
 */
#include "tiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus_util.h"
#include "oracle_rawscan.c"

/* ---- deterministic PRNG (xorshift64*) ---------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the path */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    rng_state = h ? h : 1;
}

static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint64_t rng_below(uint64_t n) { return n ? rng() % n : 0; }

/* ---- mutants ------------------------------------------------------------------------ */

#define MAX_PATCHES 4

typedef struct patch {
    uint64_t off;
    unsigned width; /* 1, 2, 4 or 8 bytes, in the file's byte order */
    uint64_t val;
} patch;

typedef struct mutant {
    uint64_t size; /* truncated length, or the file size */
    unsigned np;
    patch p[MAX_PATCHES];
    const char *what; /* for the failure message */
    bool cycle;       /* the IFD chain now loops */
} mutant;

typedef struct mlist {
    mutant *v;
    size_t n, cap;
} mlist;

static void ml_push(mlist *l, mutant m) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    l->v[l->n++] = m;
}

static const raw_tiff *R;
static size_t fsize;

static mutant *add1(mlist *l, const char *what, uint64_t off, unsigned w, uint64_t val) {
    if (off > fsize || w > fsize - off)
        return NULL;
    mutant m = {fsize, 1, {{off, w, val}}, what, false};
    ml_push(l, m);
    return &l->v[l->n - 1];
}

static void add_trunc(mlist *l, uint64_t at) {
    if (at >= fsize)
        return;
    mutant m = {at, 0, {{0, 0, 0}}, "truncated", false};
    ml_push(l, m);
}

static void put(uint8_t *b, const patch *p, bool le) {
    for (unsigned i = 0; i < p->width; i++) {
        unsigned sh = le ? 8 * i : 8 * (p->width - 1 - i);
        b[p->off + i] = (uint8_t)(p->val >> sh);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every offset where a header structure begins or ends. */
static size_t boundaries(uint64_t **out) {
    size_t cap = 64 + 8 * R->n_ifds + 4 * R->n_entries, n = 0;
    uint64_t *v = malloc(cap * sizeof *v);
    if (!v)
        abort();
    unsigned hdr = R->big ? 16 : 8, cw = R->big ? 8 : 2, ow = R->big ? 8 : 4;
    for (unsigned i = 1; i <= hdr; i++)
        v[n++] = i;
    for (size_t k = 0; k < R->n_ifds; k++) {
        v[n++] = R->ifd_pos[k];
        v[n++] = R->ifd_pos[k] + 1;
        v[n++] = R->ifd_pos[k] + cw;
        v[n++] = R->next_pos[k];
        v[n++] = R->next_pos[k] + ow - 1;
        v[n++] = R->next_pos[k] + ow;
    }
    for (size_t i = 0; i < R->n_entries; i++) {
        const raw_entry *e = &R->e[i];
        v[n++] = e->pos;
        v[n++] = e->value_pos;
        if (e->data_pos != e->value_pos && raw_data_inside(e, fsize)) {
            v[n++] = e->data_pos;
            v[n++] = e->data_pos + e->data_len - (e->data_len > 0);
        }
    }
    qsort(v, n, sizeof *v, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > 0 && v[i] < fsize && (w == 0 || v[w - 1] != v[i]))
            v[w++] = v[i];
    *out = v;
    return w;
}

static void gen_truncations(mlist *l, size_t budget) {
    uint64_t *b;
    size_t nb = boundaries(&b);
    /* boundaries and their left neighbours, thinned evenly when over budget */
    size_t want = budget * 3 / 4 + 1;
    size_t step = nb > want ? (nb + want - 1) / want : 1;
    for (size_t i = rng_below(step); i < nb; i += step) {
        add_trunc(l, b[i]);
        if (b[i] > 1 && step == 1)
            add_trunc(l, b[i] - 1);
    }
    free(b);
    /* a spread over the whole object, so data regions and odd places are covered too */
    size_t spread = budget / 4 + 1;
    for (size_t i = 0; i < spread; i++)
        add_trunc(l, 1 + rng_below(fsize > 1 ? fsize - 1 : 1));
}

static void gen_header(mlist *l) {
    bool big = R->big;
    uint64_t fo = big ? 8 : 4;
    unsigned ow = big ? 8 : 4;
    add1(l, "magic 41", 2, 2, 41);
    add1(l, "magic 43<->42", 2, 2, big ? 42 : 43);
    add1(l, "byte order mark XX", 0, 2, 0x5858);
    {
        /* the other byte order: every multi-byte value now reads swapped */
        mutant m = {
            fsize, 2, {{0, 1, R->le ? 'M' : 'I'}, {1, 1, R->le ? 'M' : 'I'}}, "swap BOM", false};
        ml_push(l, m);
    }
    if (big) {
        add1(l, "bigtiff offset size 4", 4, 2, 4);
        add1(l, "bigtiff offset size 16", 4, 2, 16);
        add1(l, "bigtiff reserved", 6, 2, 0xFFFF);
        add1(l, "first ifd 2^63", fo, 8, 1ull << 63);
        add1(l, "first ifd 2^64-1", fo, 8, UINT64_MAX);
    }
    add1(l, "first ifd 0", fo, ow, 0);
    add1(l, "first ifd 1", fo, ow, 1);
    add1(l, "first ifd 7", fo, ow, 7);
    add1(l, "first ifd size-1", fo, ow, fsize - 1);
    add1(l, "first ifd size", fo, ow, fsize);
    add1(l, "first ifd 2^32-1", fo, ow, UINT32_MAX);
    add1(l, "first ifd odd", fo, ow, R->first_ifd + 1);
}

static void gen_ifds(mlist *l) {
    unsigned cw = R->big ? 8 : 2, ow = R->big ? 8 : 4;
    for (size_t k = 0; k < R->n_ifds; k++) {
        uint64_t c = R->ifd_pos[k], np = R->next_pos[k];
        add1(l, "entry count 0", c, cw, 0);
        add1(l, "entry count 65535", c, cw, 65535);
        add1(l, "entry count n+1", c, cw, R->ifd_n[k] + 1);
        if (R->big) {
            add1(l, "entry count 2^40", c, cw, 1ull << 40);
            add1(l, "entry count 2^64-1", c, cw, UINT64_MAX);
        }
        mutant *cy = add1(l, "next ifd = itself", np, ow, R->ifd_pos[k]);
        if (cy)
            cy->cycle = true;
        if ((cy = add1(l, "next ifd = first", np, ow, R->ifd_pos[0])) != NULL)
            cy->cycle = true;
        add1(l, "next ifd misaligned", np, ow, R->ifd_pos[k] + 1);
        add1(l, "next ifd size-2", np, ow, fsize - 2);
        add1(l, "next ifd past end", np, ow, fsize + 1000);
        add1(l, "next ifd 2^32-1", np, ow, UINT32_MAX);
        if (k > 0) {
            if ((cy = add1(l, "next ifd = previous", np, ow, R->ifd_pos[k - 1])) != NULL)
                cy->cycle = true;
        }
        if (k >= 8)
            break; /* long chains: the first ones are representative */
    }
}

static void gen_entry(mlist *l, const raw_entry *e) {
    unsigned cnt_w = R->big ? 8 : 4, ow = R->big ? 8 : 4;
    uint64_t p = e->pos;
    add1(l, "type 0", p + 2, 2, 0);
    add1(l, "type 14", p + 2, 2, 14);
    add1(l, "type 19", p + 2, 2, 19);
    add1(l, "type 65535", p + 2, 2, 0xFFFF);
    add1(l, "type ASCII", p + 2, 2, 2);
    add1(l, "type DOUBLE", p + 2, 2, 12);
    add1(l, "type LONG8", p + 2, 2, 16);
    add1(l, "type RATIONAL", p + 2, 2, 5);
    add1(l, "count 0", p + 4, cnt_w, 0);
    add1(l, "count +1", p + 4, cnt_w, e->count + 1);
    add1(l, "count 2^32-1", p + 4, cnt_w, UINT32_MAX);
    add1(l, "count *8 overflows 32 bits", p + 4, cnt_w, 0x20000001u);
    add1(l, "count 2^30+1", p + 4, cnt_w, 0x40000001u);
    if (R->big) {
        add1(l, "count *8 overflows 64 bits", p + 4, cnt_w, 0x2000000000000001ull);
        add1(l, "count 2^64-1", p + 4, cnt_w, UINT64_MAX);
    }
    add1(l, "value offset size", e->value_pos, ow, fsize);
    add1(l, "value offset size-1", e->value_pos, ow, fsize - 1);
    add1(l, "value offset 2^32-1", e->value_pos, ow, UINT32_MAX);
    add1(l, "value offset = entry", e->value_pos, ow, e->pos);
    add1(l, "value offset 0", e->value_pos, ow, 0);
    add1(l, "tag 65535", p, 2, 0xFFFF);
    add1(l, "tag 0", p, 2, 0);
    add1(l, "tag 34735", p, 2, 34735);
    add1(l, "tag 324 (tile offsets)", p, 2, 324);
    {
        /* a count that overflows together with a type change */
        mutant m = {fsize,
                    2,
                    {{p + 2, 2, 12}, {p + 4, cnt_w, R->big ? 0x2000000000000000ull : 0x20000000u}},
                    "DOUBLE with 2^29 (2^61) items",
                    false};
        if (p + 4 + cnt_w <= fsize)
            ml_push(l, m);
    }
}

/* The image walk: SubIFDs (tag 330) pointing back into the chain, at IFD 0, into the file
 * header, past the end, or listing 65535 IFDs; IFDs overlapping another IFD's entries; and
 * GDAL's ghost header (its size digits, its prefix, KNOWN_INCOMPATIBLE_EDITION). */
static void gen_walk(mlist *l, const uint8_t *b) {
    unsigned ow = R->big ? 8 : 4, es = R->big ? 20 : 12, cw = R->big ? 8 : 2;
    for (size_t i = 0; i < R->n_entries; i++) {
        const raw_entry *e = &R->e[i];
        if (e->tag != 330 || e->data_len == UINT64_MAX || e->count == 0)
            continue;
        unsigned w = raw_type_size(e->type);
        if (w != 4 && w != 8)
            continue;
        add1(l, "SubIFD = IFD 0", e->data_pos, w, R->ifd_pos[0]);
        add1(l, "SubIFD = its own IFD", e->data_pos, w, R->ifd_pos[e->ifd]);
        if (R->n_ifds > 1)
            add1(l, "SubIFD = IFD 1 of the chain", e->data_pos, w, R->ifd_pos[1]);
        add1(l, "SubIFD into the file header", e->data_pos, w, 3);
        add1(l, "SubIFD past the end", e->data_pos, w, fsize + 100);
        add1(l, "SubIFD misaligned", e->data_pos, w, R->ifd_pos[e->ifd] + 1);
        add1(l, "SubIFDs count 65535", e->pos + 4, R->big ? 8 : 4, 65535);
    }
    for (size_t k = 0; k < R->n_ifds && k < 8; k++) {
        /* the next IFD starts inside this one's entries (overlapping IFDs) */
        add1(l, "next ifd inside this IFD", R->next_pos[k], ow, R->ifd_pos[k] + cw + es);
        add1(l, "next ifd = IFD 0 entries", R->next_pos[k], ow, R->ifd_pos[0] + 2);
    }
    uint64_t hdr = R->big ? 16 : 8;
    static const char pre[] = "GDAL_STRUCTURAL_METADATA_SIZE=";
    if (fsize < hdr + 43 || memcmp(b + hdr, pre, sizeof pre - 1) != 0)
        return;
    uint64_t d = hdr + sizeof pre - 1; /* the six digits */
    mutant m = {fsize,
                4,
                {{d, 1, '9'}, {d + 1, 1, '9'}, {d + 2, 1, '9'}, {d + 3, 1, '9'}},
                "ghost size 9999xx",
                false};
    ml_push(l, m);
    mutant z = {
        fsize, 3, {{d + 3, 1, '0'}, {d + 4, 1, '0'}, {d + 5, 1, '0'}}, "ghost size 000", false};
    ml_push(l, z);
    add1(l, "ghost size not a number", d + 2, 1, 'x');
    add1(l, "ghost size odd", d + 5, 1, '7');
    add1(l, "ghost prefix broken", hdr, 1, 'X');
    add1(l, "ghost NUL in block", hdr + 43 + 3, 1, 0);
    static const char kie[] = "KNOWN_INCOMPATIBLE_EDITION=NO";
    size_t kl = sizeof kie - 1;
    for (uint64_t i = hdr + 43; i + kl + 1 < fsize && i < hdr + 43 + 4096; i++)
        if (memcmp(b + i, kie, kl) == 0) {
            mutant y = {fsize,
                        3,
                        {{i + kl - 2, 1, 'Y'}, {i + kl - 1, 1, 'E'}, {i + kl, 1, 'S'}},
                        "ghost KNOWN_INCOMPATIBLE_EDITION=YES",
                        false};
            ml_push(l, y);
            break;
        }
}

/* GeoKeyDirectory: SHORTs [version, revision, minor, NumberOfKeys, {id, loc, count, off}...] */
static void gen_geokeys(mlist *l) {
    const raw_entry *kd = raw_find0(R, 34735);
    if (!kd || kd->type != 3 || kd->count < 8 || !raw_data_inside(kd, fsize))
        return;
    uint64_t d = kd->data_pos;
    uint64_t max_keys = (kd->count - 4) / 4;
    add1(l, "geokeys NumberOfKeys 65535", d + 6, 2, 65535);
    add1(l, "geokeys NumberOfKeys +1", d + 6, 2, max_keys + 1);
    add1(l, "geokeys NumberOfKeys 0", d + 6, 2, 0);
    add1(l, "geokeys version 2", d, 2, 2);
    for (uint64_t k = 0; k < max_keys && k < 6; k++) {
        uint64_t kp = d + 8 + 8 * k;
        add1(l, "geokey loc 34736 off 65535", kp + 6, 2, 65535);
        {
            mutant m = {fsize,
                        2,
                        {{kp + 2, 2, 34736}, {kp + 6, 2, 60000}},
                        "geokey -> doubles, outside",
                        false};
            ml_push(l, m);
        }
        {
            mutant m = {fsize,
                        3,
                        {{kp + 2, 2, 34737}, {kp + 4, 2, 65535}, {kp + 6, 2, 10}},
                        "geokey -> ascii, count outside",
                        false};
            ml_push(l, m);
        }
        {
            mutant m = {fsize,
                        3,
                        {{kp + 2, 2, 34735}, {kp + 4, 2, 4}, {kp + 6, 2, 65530}},
                        "geokey -> directory itself, outside",
                        false};
            ml_push(l, m);
        }
        add1(l, "geokey loc unknown tag", kp + 2, 2, 33550);
        add1(l, "geokey count 0", kp + 4, 2, 0);
        add1(l, "geokey count 65535", kp + 4, 2, 65535);
        add1(l, "geokey id 65535", kp, 2, 65535);
    }
    /* the parameter arrays themselves */
    const raw_entry *dp = raw_find0(R, 34736), *ap = raw_find0(R, 34737);
    if (dp) {
        add1(l, "geo doubles count 0", dp->pos + 4, R->big ? 8 : 4, 0);
        add1(l, "geo doubles offset past end", dp->value_pos, R->big ? 8 : 4, fsize + 8);
    }
    if (ap) {
        add1(l, "geo ascii count 0", ap->pos + 4, R->big ? 8 : 4, 0);
        add1(l, "geo ascii offset past end", ap->value_pos, R->big ? 8 : 4, fsize + 8);
    }
}

static void gen_random(mlist *l, size_t n) {
    /* header region: up to the end of the last structure the raw walk saw */
    uint64_t end = R->big ? 16 : 8;
    for (size_t k = 0; k < R->n_ifds; k++)
        if (R->next_pos[k] + 8 > end)
            end = R->next_pos[k] + 8;
    for (size_t i = 0; i < R->n_entries; i++) {
        const raw_entry *e = &R->e[i];
        if (raw_data_inside(e, fsize) && e->data_len < 65536 && e->data_pos + e->data_len > end)
            end = e->data_pos + e->data_len;
    }
    if (end > fsize)
        end = fsize;
    for (size_t i = 0; i < n; i++) {
        mutant m = {
            fsize, 1 + (unsigned)rng_below(MAX_PATCHES), {{0, 0, 0}}, "random bytes", false};
        for (unsigned j = 0; j < m.np; j++) {
            m.p[j].off = rng_below(end);
            m.p[j].width = 1;
            m.p[j].val = rng() & 0xFF;
        }
        ml_push(l, m);
    }
}

/* ---- running one mutant ------------------------------------------------------------ */

static unsigned long n_mutants, n_ok, n_err, n_fail, n_rounds_total, n_warned, n_whole;

/* outcome per kind of mutant, printed with TD_MUTATIONS_VERBOSE=1 */
typedef struct kind_stat {
    const char *what;
    unsigned long n, ok, warned, err;
} kind_stat;
static kind_stat kinds[128];
static size_t n_kinds;

static void count_kind(const char *what, int rc, bool warned) {
    size_t i = 0;
    while (i < n_kinds && strcmp(kinds[i].what, what) != 0)
        i++;
    if (i == n_kinds) {
        if (n_kinds == sizeof kinds / sizeof kinds[0])
            return;
        kinds[n_kinds++].what = what;
    }
    kinds[i].n++;
    if (rc == TIFF_OK)
        kinds[i].ok++;
    else
        kinds[i].err++;
    if (warned)
        kinds[i].warned++;
}
static unsigned long by_code[8];
static const char *cur_path;
static const mutant *cur_mut;
static char *jbuf;
static size_t jcap;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void
failed(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s [%s, size %llu", cur_path, cur_mut->what, (unsigned long long)cur_mut->size);
    for (unsigned j = 0; j < cur_mut->np; j++)
        printf(", @%llu/%u=%llu", (unsigned long long)cur_mut->p[j].off, cur_mut->p[j].width,
               (unsigned long long)cur_mut->p[j].val);
    printf("]: ");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    n_fail++;
}

static void check_result(tiff_parser *p, int rc) {
    if (rc == TIFF_OK) {
        const tiff_header *h = tiff_parser_header(p);
        if (!h) {
            failed("OK without header");
            return;
        }
        for (size_t i = 0; i < h->n_warnings; i++)
            if (!h->warnings[i] || !h->warnings[i][0])
                failed("empty warning %zu", i);
        if (h->n_warnings)
            n_warned++;
        size_t len = 0;
        if (tiff_header_to_json(h, &jbuf, &len, &jcap) != TIFF_OK || len < 2 || jbuf[0] != '{' ||
            jbuf[len - 1] != '}')
            failed("JSON rendering");
    } else if (rc < 0) {
        const char *name = tiff_err_name(rc), *msg = tiff_parser_errmsg(p);
        if (strcmp(name, "unknown") == 0)
            failed("error %d has no code name", rc);
        if (!msg || !msg[0])
            failed("error %s without message", name);
        if (tiff_parser_header(p))
            failed("error %s but a header", name);
    } else {
        failed("run returned %d", rc);
    }
}

/* The store protocol: prefetch, then rounds of needs(), bounded. */
static int run_store(tiff_parser *p, const uint8_t *b, uint64_t size, size_t prefetch) {
    tiff_parser_reset(p, size);
    size_t first = size < prefetch ? (size_t)size : prefetch;
    if (first && tiff_parser_feed(p, 0, b, first) != TIFF_OK) {
        failed("prefetch feed refused");
        return TIFF_E_USAGE;
    }
    int rc;
    unsigned rounds = 0;
    while ((rc = tiff_parser_run(p)) == TIFF_NEED) {
        const tiff_range *r;
        size_t k = tiff_parser_needs(p, &r);
        n_rounds_total++;
        if (k == 0) {
            failed("NEED without ranges");
            return TIFF_E_USAGE;
        }
        if (++rounds > 1000) {
            failed("more than 1000 rounds");
            return TIFF_E_USAGE;
        }
        for (size_t j = 0; j < k; j++) {
            if (r[j].length == 0 || r[j].offset >= size || r[j].length > size - r[j].offset) {
                failed("need [%llu,+%llu) outside the object", (unsigned long long)r[j].offset,
                       (unsigned long long)r[j].length);
                return TIFF_E_USAGE;
            }
            if (j > 0 && r[j].offset <= r[j - 1].offset + r[j - 1].length) {
                failed("needs not sorted/merged");
                return TIFF_E_USAGE;
            }
        }
        for (size_t j = 0; j < k; j++) {
            int frc = tiff_parser_feed(p, r[j].offset, b + r[j].offset, (size_t)r[j].length);
            if (frc != TIFF_OK)
                return frc;
        }
    }
    return rc;
}

/* Equal JSON lines: every value, the images and the COG verdict included, must not depend
 * on how the bytes were fetched. */
static bool same_json(const char *a, size_t la, const char *b, size_t lb) {
    return la == lb && memcmp(a, b, la) == 0;
}

static void run_mutant(tiff_parser *store, tiff_parser *whole, tiff_parser *tight, const uint8_t *b,
                       const mutant *m, unsigned variant) {
    cur_mut = m;
    n_mutants++;
    /* alternate prefetch sizes and limits so every mutant meets one combination */
    size_t prefetch = (variant & 1) ? 16384 : 64 + (variant % 7) * 100;
    tiff_parser *p = (variant % 5 == 4) ? tight : store;
    int rc = run_store(p, b, m->size, prefetch);
    check_result(p, rc);
    if (rc == TIFF_OK)
        n_ok++;
    else
        n_err++;
    count_kind(m->what, rc, rc == TIFF_OK && tiff_parser_header(p)->n_warnings > 0);
    /* a cycle must be noticed and said, never walked */
    if (rc == TIFF_OK && m->cycle && !tiff_parser_header(p)->ifd_chain_error)
        failed("cyclic IFD chain without ifd_chain_error (ifd_count %u)",
               tiff_parser_header(p)->ifd_count);
    if (rc <= 0 && -rc < 8)
        by_code[-rc]++;
    if (p != store || variant % 3 != 0)
        return;
    /* whole object at once must give the same outcome */
    n_whole++;
    size_t la = 0;
    char *ja = NULL;
    if (rc == TIFF_OK) {
        tiff_header_to_json(tiff_parser_header(p), &jbuf, &la, &jcap);
        ja = malloc(la ? la : 1);
        if (!ja)
            abort();
        memcpy(ja, jbuf, la);
    }
    tiff_parser_reset(whole, m->size);
    int rw = m->size ? tiff_parser_feed(whole, 0, b, (size_t)m->size) : TIFF_OK;
    if (rw == TIFF_OK)
        rw = tiff_parser_run(whole);
    check_result(whole, rw);
    if ((rw == TIFF_OK) != (rc == TIFF_OK)) {
        failed("store rc %s (%s), whole-object rc %s (%s)", tiff_err_name(rc),
               tiff_parser_errmsg(p), tiff_err_name(rw), tiff_parser_errmsg(whole));
    } else if (rc == TIFF_OK) {
        size_t lb = 0;
        tiff_header_to_json(tiff_parser_header(whole), &jbuf, &lb, &jcap);
        if (!same_json(ja, la, jbuf, lb)) {
            size_t d = 0;
            while (d < la && d < lb && ja[d] == jbuf[d])
                d++;
            size_t from = d > 60 ? d - 60 : 0;
            failed("store and whole-object headers differ at byte %zu:\n  store: %.160s\n  whole: "
                   "%.160s",
                   d, ja + from < ja + la ? ja + from : "", jbuf + from);
        }
    }
    free(ja);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr,
                "usage: %s CORPUS_DIR   (env TD_MUTATIONS = mutants per file, default 1000)\n",
                argv[0]);
        return 2;
    }
    size_t per_file = 1000;
    const char *env = getenv("TD_MUTATIONS");
    if (env && atol(env) > 0)
        per_file = (size_t)atol(env);
    corpus_list files = {0};
    corpus_list_tiffs(argv[1], &files);
    if (files.n == 0) {
        fprintf(stderr, "mutate: no TIFF files below %s\n", argv[1]);
        return 2;
    }
    static const tiff_limits tl = {1u << 20, 64u << 10, 16u, 256u, 8u, 4096u};
    tiff_parser *store = tiff_parser_new(NULL), *whole = tiff_parser_new(NULL),
                *tight = tiff_parser_new(&tl);
    if (!store || !whole || !tight)
        return 2;
    static raw_tiff raw;
    mlist ml = {0}, pool = {0};
    unsigned long n_notiff = 0;
    for (size_t fi = 0; fi < files.n; fi++) {
        uint8_t *b = corpus_read(argv[1], files.v[fi], &fsize);
        if (!b)
            continue;
        cur_path = files.v[fi];
        rng_seed(cur_path);
        raw_scan(b, fsize, &raw);
        R = &raw;
        ml.n = pool.n = 0;
        if (!raw.ok) {
            n_notiff++; /* still truncated, and randomly changed below */
        } else {
            gen_header(&ml);
            gen_ifds(&ml);
            gen_walk(&ml, b);
            gen_geokeys(&ml);
            for (size_t i = 0; i < raw.n_entries; i++)
                gen_entry(&pool, &raw.e[i]);
        }
        /* budget: fixed structural ones, then truncations, entry corruptions, random */
        size_t budget = per_file > ml.n ? per_file - ml.n : per_file / 4;
        size_t n_trunc = budget * 2 / 5, n_rand = budget / 10;
        size_t n_entry = budget > n_trunc + n_rand ? budget - n_trunc - n_rand : 0;
        gen_truncations(&ml, n_trunc);
        if (pool.n) {
            /* IFD 0's entries matter most: they are visited first in the pool */
            size_t step = pool.n > n_entry ? pool.n / (n_entry ? n_entry : 1) : 1;
            if (step == 0)
                step = 1;
            for (size_t i = rng_below(step); i < pool.n; i += step) {
                mutant m = pool.v[i];
                /* one in eight also cut short somewhere after the patch */
                if (rng_below(8) == 0 && m.np) {
                    uint64_t lo = m.p[0].off + m.p[0].width;
                    if (lo < fsize)
                        m.size = lo + rng_below(fsize - lo);
                }
                ml_push(&ml, m);
            }
        }
        /* the rest of the budget: random changes in the header region */
        gen_random(&ml, ml.n + n_rand < per_file ? per_file - ml.n : n_rand);
        for (size_t i = 0; i < ml.n; i++) {
            mutant *m = &ml.v[i];
            uint8_t saved[MAX_PATCHES][8];
            for (unsigned j = 0; j < m->np; j++) {
                memcpy(saved[j], b + m->p[j].off, m->p[j].width);
                put(b, &m->p[j], raw.ok ? raw.le : true);
            }
            run_mutant(store, whole, tight, b, m, (unsigned)(i + fi));
            for (unsigned j = m->np; j-- > 0;)
                memcpy(b + m->p[j].off, saved[j], m->p[j].width);
        }
        free(b);
    }
    printf("mutate: %zu files (%lu not TIFF to the raw walk), %lu mutants (TD_MUTATIONS=%zu per "
           "file target), %lu also parsed whole\n",
           files.n, n_notiff, n_mutants, per_file, n_whole);
    printf("mutate: %lu parsed OK (%lu with warnings), %lu errors:", n_ok, n_warned, n_err);
    for (int c = 1; c < 8; c++)
        if (by_code[c])
            printf(" %s %lu", tiff_err_name(-c), by_code[c]);
    printf("; %lu follow-up rounds; %lu failures\n", n_rounds_total, n_fail);
    if (getenv("TD_MUTATIONS_VERBOSE")) {
        printf("| mutant | count | OK | OK with warnings | error |\n|---|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < n_kinds; i++)
            printf("| %s | %lu | %lu | %lu | %lu |\n", kinds[i].what, kinds[i].n, kinds[i].ok,
                   kinds[i].warned, kinds[i].err);
    }
    tiff_parser_free(store);
    tiff_parser_free(whole);
    tiff_parser_free(tight);
    free(ml.v);
    free(pool.v);
    free(jbuf);
    corpus_list_free(&files);
    return n_fail ? 1 : 0;
}
