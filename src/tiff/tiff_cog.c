/* tiff_cog.c - the GDAL "ghost" structural metadata, GDAL's overview and mask counts, and the
 * cloud-optimized-GeoTIFF verdict, from the image records of tiff_chain.c.
 *
 * Overviews and masks as GDAL's GTiff driver finds them (GTiffDataset::ScanDirectories,
 * GDAL 3.6+), in this order:
 *   - the SubIFDs of IFD 0, then the IFDs 1.. of the main chain that have no SubIFDs tag;
 *   - overview: NewSubfileType has bit 0 (reduced) and not bit 2 (mask), the same
 *     SamplesPerPixel as IFD 0, a non-zero size; at most 30 (GDAL's cap);
 *   - mask of the main image: bit 2 and not bit 0, the first such IFD only, 1 sample or as
 *     many as IFD 0, the size of IFD 0, byte samples (<= 8 bits, unsigned);
 *   - mask of an overview: bits 0 and 2, byte samples, attached to the first overview found
 *     so far with the same size, no mask yet, and 1 sample or as many as IFD 0.
 *   mask_count = the masks attached (main + overviews).
 *
 * The verdict follows validate_cloud_optimized_geotiff.py, validate(full_check=False)
 * (GDAL's osgeo_utils samples; the messages are GDAL's own so the two can be compared):
 *
 *   rule  condition                                                      gives
 *   R1    overviews in an external .ovr file                             error (GDAL) -
 *         the object alone cannot show a sibling file: not checked here
 *   R2    image > 512 wide or high, block width == width and > 1024      error "not tiled"
 *   R3    image > 512 wide or high and no overview                       warning
 *   R4    IFD 0 not at 8 / 16: the ghost block at 8 / 16 moves the       error "offset of
 *         expected IFD 0 offset to 8/16 + 43 + its declared size,        the main IFD"
 *         rounded up to even; KNOWN_INCOMPATIBLE_EDITION=YES             error
 *   R5    overview i larger than overview i-1 (or the main image)        error
 *         overview block width == its width and > 1024                   error "not tiled"
 *         IFD of overview i before the IFD of i-1 (or the main one)      error
 *   R6    "data offset" of an image = offset of the first block of band 1 (row-major,
 *         first blocks/SamplesPerPixel entries when planar) whose byte count is non-zero,
 *         0 when none. The smallest overview's (or the main image's when there is none)
 *         data offset, when non-zero, before its own IFD                 error
 *         each overview's data offset, when non-zero, before that of     error
 *         the next smaller overview; the main image's before the smallest overview's.
 *   Leader / trailer / mask-interleaving checks are full_check=True only: not done.
 *
 * A rule that needs bytes which were not fetched (IFDs cut by max_fetch_bytes, arrays not
 * read, ghost block not fetched) is skipped with a warning "check skipped: ..." and the
 * verdict is then null (cog_valid -1) unless an error was found anyway.
 */
#include "tiff_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GHOST_PREFIX "GDAL_STRUCTURAL_METADATA_SIZE="
#define GHOST_LINE 43 /* "GDAL_STRUCTURAL_METADATA_SIZE=%06d bytes\n" */

const char *tiff_image_kind_name(tiff_image_kind k) {
    switch (k) {
    case TIFF_IMG_MAIN:
        return "main";
    case TIFF_IMG_OVERVIEW:
        return "overview";
    case TIFF_IMG_MASK:
        return "mask";
    case TIFF_IMG_PAGE:
        return "page";
    }
    return "page";
}

/* ---------------------------------------------------------------- ghost header */

static void ghost_split(tiff_parser *p) {
    struct ghost_buf *g = p->gh.buf;
    memcpy(g->split, g->text, p->gh.len);
    g->split[p->gh.len] = 0;
    p->gh.n = 0;
    char *s = g->split, *end = g->split + p->gh.len;
    while (s < end && p->gh.n < TIFF_MAX_GHOST_KV) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *le = nl ? nl : end;
        *le = 0;
        char *eq = strchr(s, '=');
        if (eq && eq > s) {
            *eq = 0;
            g->kv[p->gh.n].key = s;
            g->kv[p->gh.n].value = eq + 1;
            p->gh.n++;
        }
        s = le + 1;
    }
}

/* Whether the ghost text holds "KNOWN_INCOMPATIBLE_EDITION=YES" anywhere (the validator's
 * substring test). Not strstr: every occurrence has its '=' at INCOMPAT_EQ, and the text has
 * few '=' (about one a line), so testing at each of them is a few memchr and memcmp instead
 * of a general search. The text has no NUL before len (tiff__ghost cuts it at the first), so
 * this sees what strstr would. */
#define INCOMPAT "KNOWN_INCOMPATIBLE_EDITION=YES"
#define INCOMPAT_EQ (sizeof "KNOWN_INCOMPATIBLE_EDITION" - 1)
static int ghost_incompatible(const struct ghost_buf *g, size_t len) {
    const char *t = g->text, *e = t;
    while ((e = memchr(e, '=', len - (size_t)(e - t))) != NULL) {
        size_t at = (size_t)(e - t);
        /* "YES" first (t[len] is the NUL, so e[1..3] are readable once e[1] is not it): it
         * rules out nearly every '=' before a memcmp call */
        if (e[1] == 'Y' && e[2] == 'E' && e[3] == 'S' && at >= INCOMPAT_EQ &&
            memcmp(t + at - INCOMPAT_EQ, INCOMPAT, INCOMPAT_EQ) == 0)
            return 1;
        e++;
    }
    return 0;
}

/* Looks at the bytes right after the file header, as the validator does: only when IFD 0 is
 * not right there. Asks for them like any value; kept across passes once decided. */
void tiff__ghost(tiff_parser *p) {
    if (p->gh.state)
        return;
    uint64_t hdr = p->big ? 16 : 8;
    if (p->ifd0 == 8 || p->ifd0 == 16) {
        p->gh.state = 1;
        return;
    }
    const uint8_t *b;
    avail a = tiff__get(p, hdr, GHOST_LINE, &b, 1);
    /* past the end while the size is unknown: decided once it is (clipped as then) */
    if (a == AV_MISSING || (a == AV_PAST_END && p->size == TIFF_SIZE_UNKNOWN))
        return;
    if (a != AV_OK) {
        p->gh.state = a == AV_PAST_END ? 1 : 3;
        return;
    }
    if (memcmp(b, GHOST_PREFIX, sizeof GHOST_PREFIX - 1) != 0) {
        p->gh.state = 1;
        return;
    }
    uint64_t size = 0;
    for (int i = 30; i < 36; i++) {
        if (b[i] < '0' || b[i] > '9') {
            p->gh.state = 1; /* the validator would stop with an exception here */
            return;
        }
        size = size * 10 + (uint64_t)(b[i] - '0');
    }
    uint64_t take = size;
    if (p->size != TIFF_SIZE_UNKNOWN)
        take = p->size > hdr + GHOST_LINE ? p->size - hdr - GHOST_LINE : 0;
    if (take > size)
        take = size;
    const uint8_t *t = b;
    if (take) {
        a = tiff__get(p, hdr + GHOST_LINE, take, &t, 1);
        if (a == AV_MISSING || (a == AV_PAST_END && p->size == TIFF_SIZE_UNKNOWN))
            return;
        if (a != AV_OK) {
            p->gh.state = 3;
            return;
        }
    }
    if (!p->gh.buf) {
        if (!(p->gh.buf = malloc(sizeof *p->gh.buf))) {
            p->ar.failed = 2; /* the pass ends in TIFF_E_NOMEM */
            return;
        }
        p->gh.buf->valid = 0;
    }
    struct ghost_buf *g = p->gh.buf;
    p->gh.declared = size;
    size_t raw = take < sizeof g->text - 1 ? (size_t)take : sizeof g->text - 1;
    /* GDAL writes the same block in every file of one layout and version, and a parser
     * reads object after object (a bucket of COGs): when the bytes are those of the last
     * block, so are the text cut at its NUL, the split lines and the pairs (all made from
     * them alone), and a memcmp replaces the copy and the split. */
    if (g->valid && g->raw == raw && memcmp(g->text, t, raw) == 0) {
        p->gh.len = g->len;
        p->gh.n = g->n;
        p->gh.state = 2;
        return;
    }
    g->valid = 0; /* until text, split, kv and incompat are all the new block's */
    p->gh.len = raw;
    memcpy(g->text, t, p->gh.len);
    g->text[p->gh.len] = 0;
    /* keep it a C string: NUL padding ends the block */
    const char *nul = memchr(g->text, 0, p->gh.len);
    if (nul)
        p->gh.len = (size_t)(nul - g->text);
    ghost_split(p);
    g->incompat = ghost_incompatible(g, p->gh.len);
    g->raw = raw;
    g->len = p->gh.len;
    g->n = p->gh.n;
    g->valid = 1;
    p->gh.state = 2;
}

/* ---------------------------------------------------------------- verdict */

typedef struct {
    tiff_parser *p;
    size_t ne, nw;
    int unknown;
} verdict;

static void vmsg(verdict *v, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void vmsg(verdict *v, int err, const char *fmt, ...) {
    size_t *n = err ? &v->ne : &v->nw;
    if (*n >= TIFF_MAX_COG_MSGS)
        return;
    tiff_parser *p = v->p;
    if (!p->cogbuf) {
        p->cogbuf = malloc(2 * TIFF_MAX_COG_MSGS * WARN_LEN);
        p->cogptr = malloc(2 * TIFF_MAX_COG_MSGS * sizeof *p->cogptr);
        if (!p->cogbuf || !p->cogptr) {
            free(p->cogbuf);
            free(p->cogptr);
            p->cogbuf = NULL;
            p->cogptr = NULL;
            v->unknown = 1; /* a message lost: the verdict cannot be "valid" */
            return;
        }
    }
    char *slot = v->p->cogbuf + ((err ? 0 : TIFF_MAX_COG_MSGS) + *n) * WARN_LEN;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot, WARN_LEN, fmt, ap);
    va_end(ap);
    v->p->cogptr[(err ? 0 : TIFF_MAX_COG_MSGS) + *n] = slot;
    (*n)++;
}

static void skip(verdict *v, const char *check, const char *why) {
    v->unknown = 1;
    vmsg(v, 0, "check skipped: %s: %s", check, why);
}

static int is_byte(const tiff_image *m) {
    return (m->bits_per_sample == TIFF_ABSENT || m->bits_per_sample <= 8) &&
           (m->sample_format == TIFF_ABSENT || m->sample_format == 1);
}

static int64_t or1(int64_t v) { return v == TIFF_ABSENT ? 1 : v; }
static int64_t nst(const tiff_image *m) {
    return m->new_subfile_type == TIFF_ABSENT ? 0 : m->new_subfile_type;
}

/* GDAL's block width: the tile width when tiled, else the image width (strips). */
static int untiled_wide(const tiff_image *m) {
    int64_t bw = m->tile_width != TIFF_ABSENT ? m->tile_width : m->width;
    return bw == m->width && bw > 1024;
}

void tiff__images_finish(tiff_parser *p) {
    tiff_images *o = &p->h.images;
    memset(o, 0, sizeof *o);
    tiff__images_order(p);
    o->v = p->img;
    o->n = p->nimg;
    o->ifd_bytes = p->ifd_end;
    o->first_data_offset = TIFF_ABSENT;
    o->sparse_tiles = TIFF_ABSENT;
    o->empty = -1;
    o->cog_valid = -1;
    o->first_only = (p->opts & TIFF_OPT_FIRST_IFD) != 0;
    int complete = !p->ch.denied && !p->img_dropped;
    for (size_t i = 0; i < p->nimg; i++) {
        const tiff_image *m = &p->img[i];
        if (p->imx[i].done != 1 || p->imx[i].arrays == 2)
            complete = 0;
        if (m->first_data_offset != TIFF_ABSENT &&
            (o->first_data_offset == TIFF_ABSENT || m->first_data_offset < o->first_data_offset))
            o->first_data_offset = m->first_data_offset;
    }
    for (size_t q = 0; q < p->nsubq; q++)
        if (p->subq[q].state == 5 || p->subq[q].state == 0)
            complete = 0;
    o->complete = complete;
    o->has_ghost = p->gh.state == 2;
    o->ghost = p->gh.state == 2 ? p->gh.buf->kv : NULL;
    o->n_ghost = o->has_ghost ? p->gh.n : 0;
    if (!p->nimg)
        return;
    const tiff_image *mn = &p->img[0];
    const struct img_x *mx = &p->imx[0];
    if (mx->arrays == 1) {
        o->sparse_tiles = mn->sparse_blocks;
        o->empty = mn->blocks > 0 && mn->sparse_blocks == mn->blocks;
    }
    if (o->first_only) {
        /* IFD 0 alone: what needs the other images is unknown, not "none" */
        o->complete = false;
        o->ifd_bytes = UINT64_MAX;
        o->first_data_offset = TIFF_ABSENT;
        return;
    }

    /* overviews and masks, GDAL's way */
    size_t ov[30], ovmask[30];
    int nov = 0, main_mask = 0, nmask = 0;
    int64_t spp = or1(mn->samples_per_pixel);
    int walk_known = !p->ch.denied;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 1; i < p->nimg; i++) {
            const tiff_image *m = &p->img[i];
            int cand = pass == 0 ? m->parent == 0 : (m->parent == -1 && !p->imx[i].has_sub);
            if (!cand)
                continue;
            if (p->imx[i].done != 1)
                walk_known = 0;
            int64_t t = nst(m), ms = or1(m->samples_per_pixel);
            if ((t & 1) && !(t & 4)) {
                if (nov < 30 && ms == spp && m->width > 0 && m->height > 0) {
                    ovmask[nov] = 0;
                    ov[nov++] = i;
                }
            } else if ((t & 4) && !(t & 1)) {
                if (!main_mask && (ms == 1 || ms == spp) && m->width == mn->width &&
                    m->height == mn->height && is_byte(m))
                    main_mask = 1;
            } else if ((t & 1) && (t & 4)) {
                if (!is_byte(m) || !(ms == 1 || ms == spp))
                    continue;
                for (int k = 0; k < nov; k++) {
                    const tiff_image *v = &p->img[ov[k]];
                    if (!ovmask[k] && v->width == m->width && v->height == m->height) {
                        ovmask[k] = 1;
                        nmask++;
                        break;
                    }
                }
            }
        }
    }
    o->overview_count = nov;
    o->mask_count = main_mask + nmask;

    verdict v = {p, 0, 0, 0};
    if (!walk_known)
        skip(&v, "overviews (R2, R3, R5, R6)", "not every IFD was fetched (max_fetch_bytes)");
    /* R2, R3 */
    if (mn->width > 512 || mn->height > 512) {
        if (untiled_wide(mn))
            vmsg(&v, 1, "The file is greater than 512xH or Wx512, but is not tiled");
        if (nov == 0 && walk_known)
            vmsg(&v, 0,
                 "The file is greater than 512xH or Wx512, it is recommended to include internal "
                 "overviews");
    }
    /* R4 */
    uint64_t hdr = p->big ? 16 : 8;
    if (p->ifd0 != 8 && p->ifd0 != 16) {
        if (p->gh.state == 3 || p->gh.state == 0) {
            skip(&v, "main IFD offset (R4)", "the ghost header bytes were not fetched");
        } else {
            uint64_t expect = hdr;
            if (p->gh.state == 2) {
                if (p->gh.buf->incompat) /* found with the split (tiff__ghost) */
                    vmsg(&v, 1, "KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file");
                expect += GHOST_LINE + p->gh.declared;
                expect += expect % 2;
            }
            if (expect != p->ifd0)
                vmsg(&v, 1, "The offset of the main IFD should be %llu. It is %llu instead",
                     (unsigned long long)expect, (unsigned long long)p->ifd0);
        }
    }
    /* R5 */
    for (int i = 0; i < nov; i++) {
        const tiff_image *m = &p->img[ov[i]], *prev = i ? &p->img[ov[i - 1]] : mn;
        if (m->width > prev->width || m->height > prev->height) {
            if (i == 0)
                vmsg(&v, 1, "First overview has larger dimension than main band");
            else
                vmsg(&v, 1, "Overview of index %d has larger dimension than overview of index %d",
                     i, i - 1);
        }
        if (untiled_wide(m))
            vmsg(&v, 1, "Overview of index %d is not tiled", i);
        if (m->ifd_offset < prev->ifd_offset) {
            if (i == 0)
                vmsg(&v, 1,
                     "The offset of the IFD for overview of index %d is %llu, whereas it should "
                     "be greater than the one of the main image, which is at byte %llu",
                     i, (unsigned long long)m->ifd_offset, (unsigned long long)prev->ifd_offset);
            else
                vmsg(&v, 1,
                     "The offset of the IFD for overview of index %d is %llu, whereas it should "
                     "be greater than the one of index %d, which is at byte %llu",
                     i, (unsigned long long)m->ifd_offset, i - 1,
                     (unsigned long long)prev->ifd_offset);
        }
    }
    /* R6 */
    int64_t dof[31];
    uint64_t ifdo[31];
    int nd = 0, arrays_known = 1;
    for (int i = -1; i < nov; i++) {
        size_t k = i < 0 ? 0 : ov[i];
        if (p->imx[k].arrays == 2 || p->imx[k].done != 1)
            arrays_known = 0;
        dof[nd] = p->imx[k].arrays == 1 ? p->imx[k].first_block : 0;
        ifdo[nd++] = p->img[k].ifd_offset;
    }
    if (!arrays_known) {
        skip(&v, "block order (R6)", "strip/tile arrays not read (max_fetch_bytes)");
    } else {
        if (dof[nd - 1] != 0 && (uint64_t)dof[nd - 1] < ifdo[nd - 1]) {
            if (nov > 0)
                vmsg(&v, 1,
                     "The offset of the first block of the smallest overview should be after its "
                     "IFD");
            else
                vmsg(&v, 1, "The offset of the first block of the image should be after its IFD");
        }
        for (int i = nd - 2; i > 0; i--)
            if (dof[i] != 0 && dof[i] < dof[i + 1])
                vmsg(&v, 1,
                     "The offset of the first block of overview of index %d should be after the "
                     "one of the overview of index %d",
                     i - 1, i);
        if (nd >= 2 && dof[0] != 0 && dof[0] < dof[1])
            vmsg(&v, 1,
                 "The offset of the first block of the main resolution image should be after the "
                 "one of the overview of index %d",
                 nov - 1);
    }
    o->cog_errors = p->cogptr;
    o->n_cog_errors = v.ne;
    o->cog_warnings = p->cogptr ? p->cogptr + TIFF_MAX_COG_MSGS : NULL;
    o->n_cog_warnings = v.nw;
    o->cog_valid = v.ne ? 0 : v.unknown ? -1 : 1;
}
