/* tiff.c - incremental TIFF / BigTIFF / GeoTIFF header parser (contract: tiff.h): the reader.
 *
 * This file: names and tables, the arena, warnings, fed segments and byte access (get), the
 * lifecycle, and the rounds (passes, needs, budget). tiff.h lists the other files' jobs.
 *
 * Design
 * - Restartable passes. run() re-parses from byte 0 over the fed ranges. Every read goes
 *   through tiff__get(): bytes present -> pointer; bytes missing -> the range is recorded as
 *   a need and the dependent step is skipped, so one pass collects every need it can see (all
 *   out-of-line values of IFD 0, the GeoTIFF arrays and the next IFD of the chain) and they
 *   go out as one round. The IFD-0 part is cheap to redo; the IFD-chain walk keeps its state
 *   across passes (it can be long) and resumes where it waited.
 * - A range that was requested but not fed by the next run(), or that does not fit the
 *   max_fetch_bytes budget, becomes "denied": later reads of it fail like reads past the end,
 *   so every round makes progress and the number of rounds is bounded.
 * - Decoded values live in one arena per parser, reset per pass, capped by max_memory.
 *   Warnings have their own fixed buffer so they can always be written.
 * - Compatibility with tifffile (what tests/corpus/expected.jsonl was made with): entries with
 *   an unknown type code are skipped, out-of-line values with offset < 8 or past the end of the
 *   object are dropped (both with a warning), duplicates: the first usable entry wins.
 */
#include "tiff_internal.h"
#include "util.h"

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

/* ---------------------------------------------------------------- arena */

static void ar_reset(arena *a) {
    a->cur = a->head;
    if (a->cur)
        a->cur->used = 0;
    a->total = 0;
    a->failed = 0;
}

void *tiff__ar_alloc(arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (n > a->limit || a->total > a->limit - n) {
        a->failed = 1;
        return NULL;
    }
    blk *b = a->cur;
    while (b && b->used + n > b->cap) {
        b = b->next;
        if (b)
            b->used = 0;
        else
            break;
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

/* ---------------------------------------------------------------- small helpers */

static int rl_push(rlist *l, uint64_t off, uint64_t len) {
    if (l->n == l->cap) {
        if (l->cap >= l->max)
            return -1;
        size_t nc = l->cap ? l->cap * 2 : 16;
        if (nc > l->max)
            nc = l->max;
        tiff_range *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].offset = off;
    l->v[l->n].length = len;
    l->n++;
    return 0;
}

void tiff__warn(tiff_parser *p, const char *fmt, ...) {
    if (p->nw >= p->wmax) {
        p->wdropped++;
        return;
    }
    if (!p->wbuf) {
        p->wbuf = malloc(p->wmax * WARN_LEN + 1);
        p->wptr = malloc((p->wmax + 1) * sizeof *p->wptr);
        if (!p->wbuf || !p->wptr) {
            free(p->wbuf);
            free(p->wptr);
            p->wbuf = NULL;
            p->wptr = NULL;
            p->wdropped++; /* the pass ends in TIFF_E_NOMEM when malloc fails elsewhere too */
            return;
        }
    }
    char *w = p->wbuf + p->nw * WARN_LEN;
    va_list ap;
    va_start(ap, fmt);
    ut_vmsgf(w, WARN_LEN, fmt, ap); /* warnings become STRING values: cut between characters */
    va_end(ap);
    p->wptr[p->nw++] = w;
}

int tiff__fail(tiff_parser *p, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ut_vmsgf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

static int cmp_range(const void *a, const void *b) {
    const tiff_range *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* ---------------------------------------------------------------- byte access */

static int overlaps(const rlist *l, uint64_t off, uint64_t end) {
    for (size_t i = 0; i < l->n; i++) {
        const tiff_range *d = &l->v[i];
        if (d->offset < end && off < d->offset + d->length)
            return 1;
    }
    return 0;
}

/* Bytes [off, off+len) of the object. want: record a need when missing (else just peek). */
avail tiff__get_slow(tiff_parser *p, uint64_t off, uint64_t len, const uint8_t **out, int want) {
    static const uint8_t empty[1];
    if (len == 0) {
        *out = empty;
        return AV_OK;
    }
    if (off > UINT64_MAX - len)
        return AV_PAST_END;
    uint64_t end = off + len;
    if (p->size != TIFF_SIZE_UNKNOWN && end > p->size)
        return AV_PAST_END;
    if (p->lastseg < p->nsegs) {
        const seg *s = &p->segs[p->lastseg];
        if (s->off <= off && end <= s->end) {
            *out = s->data + (off - s->off);
            return AV_OK;
        }
    }
    for (size_t i = 0; i < p->nsegs; i++) {
        const seg *s = &p->segs[i];
        if (s->off > off)
            break;
        if (end <= s->end) {
            p->lastseg = i;
            *out = s->data + (off - s->off);
            return AV_OK;
        }
    }
    uint64_t cov = covered_to(p, off, end);
    if (cov >= end) {
        /* Spread over several feeds: copy into the arena. */
        if (len > SIZE_MAX)
            return AV_DENIED;
        uint8_t *buf = tiff__ar_alloc(&p->ar, (size_t)len);
        if (!buf)
            return AV_DENIED;
        uint64_t cur = off;
        for (size_t i = 0; i < p->nsegs && cur < end; i++) {
            const seg *s = &p->segs[i];
            if (s->off > cur)
                break;
            if (s->end <= cur)
                continue;
            uint64_t e = s->end < end ? s->end : end;
            memcpy(buf + (cur - off), s->data + (cur - s->off), (size_t)(e - cur));
            cur = e;
        }
        *out = buf;
        return AV_OK;
    }
    /* bytes asked for and not delivered: the object ends before them */
    if (overlaps(&p->gone, cov, end))
        return AV_PAST_END;
    if (overlaps(&p->denied, cov, end))
        return AV_DENIED;
    if (want) {
        if (rl_push(&p->raw, cov, end - cov) != 0)
            return AV_DENIED;
        p->pass_missing = 1;
    }
    return AV_MISSING;
}

/* ---------------------------------------------------------------- lifecycle */

tiff_parser *tiff_parser_new(const tiff_limits *limits) {
    static const tiff_limits def = TIFF_LIMITS_INIT;
    tiff_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->lim = limits ? *limits : def;
    /* The JSON envelope of one tag alone needs ~60 bytes. */
    if (p->lim.max_tag_text < 64)
        p->lim.max_tag_text = 64;
    if (p->lim.max_ifds < 1)
        p->lim.max_ifds = 1;
    p->wmax = p->lim.max_warnings;
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
    if (!p)
        return;
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
    tiff__images_free(p);
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
    p->nimg = p->nsubq = p->img_dropped = p->sub_settled = 0;
    p->ifd_end = 0;
    p->gh.state = 0;
    p->gh.n = p->gh.len = 0;
    p->gen++;
    if (p->gen == 0) { /* wrapped: clear stamps so no stale slot looks current */
        if (p->vgen)
            memset(p->vgen, 0, p->vcap * sizeof *p->vgen);
        p->gen = 1;
    }
    p->vcount = 0;
}

void tiff_parser_set_size(tiff_parser *p, uint64_t size) { p->size = size; }

void tiff_parser_set_options(tiff_parser *p, unsigned flags) { p->opts = flags; }

int tiff_parser_feed(tiff_parser *p, uint64_t offset, const void *data, size_t len) {
    if (len == 0)
        return TIFF_OK;
    if (!data || offset > UINT64_MAX - len)
        return TIFF_E_USAGE;
    if (p->size != TIFF_SIZE_UNKNOWN && offset + len > p->size) {
        snprintf(p->errmsg, sizeof p->errmsg,
                 "fed bytes [%llu, %llu) lie outside the object of %llu bytes",
                 (unsigned long long)offset, (unsigned long long)(offset + len),
                 (unsigned long long)p->size);
        return TIFF_E_USAGE;
    }
    if (p->nsegs == p->capsegs) {
        if (p->capsegs >= MAX_SEGS)
            return TIFF_E_LIMIT;
        size_t nc = p->capsegs ? p->capsegs * 2 : 8;
        seg *ns = realloc(p->segs, nc * sizeof *ns);
        if (!ns)
            return TIFF_E_NOMEM;
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

const tiff_header *tiff_parser_header(const tiff_parser *p) { return p->state == 1 ? &p->h : NULL; }

/* ---------------------------------------------------------------- rounds */

static int one_pass(tiff_parser *p) {
    ar_reset(&p->ar);
    p->raw.n = 0;
    p->pass_missing = 0;
    p->nw = p->wdropped = 0;
    p->others = p->gothers = NULL;
    p->nothers = p->capothers = p->ngothers = p->capgothers = 0;
    memset(&p->h, 0, sizeof p->h);
    p->meta_end = 0;
    int rc = tiff__parse_ifd0(p);
    if (rc < 0)
        return rc;
    if (rc == TIFF_NEED)
        return TIFF_NEED;
    rc = tiff__walk_chain(p);
    if (rc < 0)
        return rc;
    if (p->ar.failed == 2)
        return tiff__fail(p, TIFF_E_NOMEM, "out of memory");
    return p->pass_missing ? TIFF_NEED : TIFF_OK;
}

/* Turn the raw needs of a pass into the request list: only missing bytes, grown to
 * min_request, clipped to the object, merged, within the fetch budget. Returns the number. */
static int build_needs(tiff_parser *p) {
    rlist *nd = &p->needs;
    nd->n = 0;
    if (p->raw.n)
        qsort(p->raw.v, p->raw.n, sizeof *p->raw.v, cmp_range);
    for (size_t i = 0; i < p->raw.n; i++) {
        uint64_t off = p->raw.v[i].offset, len = p->raw.v[i].length;
        if (len < p->lim.min_request)
            len = p->lim.min_request;
        if (off > UINT64_MAX - len)
            len = UINT64_MAX - off;
        uint64_t end = off + len;
        if (p->size != TIFF_SIZE_UNKNOWN && end > p->size)
            end = p->size;
        if (end <= off)
            continue;
        if (nd->n && nd->v[nd->n - 1].offset + nd->v[nd->n - 1].length >= off) {
            tiff_range *l = &nd->v[nd->n - 1];
            if (end > l->offset + l->length)
                l->length = end - l->offset;
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
        if (off >= end)
            continue;
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
            if (rl_push(&p->denied, nd->v[i].offset + rest, len - rest) != 0)
                return -1;
        } else {
            if (rl_push(&p->denied, nd->v[i].offset, len) != 0)
                return -1;
        }
    }
    nd->n = w;
    return (int)w;
}

int tiff_parser_run(tiff_parser *p) {
    if (p->state == 1)
        return TIFF_OK;
    if (p->state < 0)
        return TIFF_E_USAGE;
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
                if (p->segs[s].off > off && p->segs[s].off < e)
                    e = p->segs[s].off;
            if (rl_push(&p->gone, off, e - off) != 0) {
                p->state = TIFF_E_LIMIT;
                return tiff__fail(p, TIFF_E_LIMIT, "too many unanswered ranges");
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
            tiff__images_finish(p);
            tiff__sort_extras(p->others, p->nothers);
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
            return tiff__fail(p, TIFF_E_NOMEM, "out of memory for the request list");
        }
        if (k > 0) {
            for (size_t i = 0; i < p->needs.n; i++)
                if (rl_push(&p->pending, p->needs.v[i].offset, p->needs.v[i].length) != 0) {
                    p->state = TIFF_E_NOMEM;
                    return tiff__fail(p, TIFF_E_NOMEM, "out of memory for the request list");
                }
            return TIFF_NEED;
        }
        /* everything needed was denied: pass again, the reads now fail softly */
    }
    p->state = TIFF_E_LIMIT;
    return tiff__fail(p, TIFF_E_LIMIT, "no progress after 64 passes");
}
