/* report.c - the aggregation behind `tiff-dumper report`: bounded counters per histogram. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

const char *const rp_hist_ids[RP_N] = {
    "crs",      "compression", "dtype",      "tile",      "overviews", "cog",   "cog_reasons",
    "requests", "ifd_bytes",   "image_size", "footprint", "lat",       "errors"};

#define RP_MAX_KEY 1000u /* bytes of one value kept (longer: cut on a character boundary) */

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

static char *dupn(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* The entry of key (created when new and there is room); NULL when counted as other. */
static rp_ent *hist_add(rp_hist *h, const char *key, size_t n, int64_t order, uint64_t count) {
    n = ut_utf8_cut(key, n, RP_MAX_KEY);
    h->total += count;
    if (!h->slot) {
        h->slot = calloc(RP_SLOTS, sizeof *h->slot);
        if (!h->slot) {
            h->nomem = true;
            h->other += count;
            return NULL;
        }
    }
    size_t i = (size_t)fnv(key, n) & (RP_SLOTS - 1);
    for (;;) {
        uint32_t s = h->slot[i];
        if (!s)
            break;
        rp_ent *e = &h->e[s - 1];
        if (e->klen == n && memcmp(e->key, key, n) == 0) {
            e->count += count;
            return e;
        }
        i = (i + 1) & (RP_SLOTS - 1);
    }
    if (h->n >= TD_REPORT_MAX_KEYS) {
        h->other += count;
        return NULL;
    }
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 16;
        rp_ent *ne = realloc(h->e, nc * sizeof *ne);
        if (!ne) {
            h->nomem = true;
            h->other += count;
            return NULL;
        }
        h->e = ne;
        h->cap = nc;
    }
    rp_ent *e = &h->e[h->n];
    memset(e, 0, sizeof *e);
    e->key = dupn(key, n);
    e->klen = n;
    if (!e->key) {
        h->nomem = true;
        h->other += count;
        return NULL;
    }
    e->count = count;
    e->order = order;
    h->slot[i] = (uint32_t)++h->n;
    return e;
}

static rp_ent *hist_addz(rp_hist *h, const char *key, int64_t order) {
    return hist_add(h, key, strlen(key), order, 1);
}

/* Most keys are made of one or two numbers (compression 8, tile 512x512, a bucket): the
 * entry of a pair (a, b) is remembered, so that its text is formatted and hashed only the
 * first time. Without this a report spent a quarter of its time in snprintf. A hit counts
 * the row and returns true; a miss returns false and the caller formats the key, adds it
 * with hist_addz and hands the entry to hist_memo_set. */
static size_t memo_slot(int64_t a, int64_t b) {
    uint64_t x = (uint64_t)a * 0x9E3779B97F4A7C15u ^ (uint64_t)b * 0xC2B2AE3D27D4EB4Fu;
    return (size_t)(x >> 59) & (RP_MEMO - 1);
}

static bool hist_memo(rp_hist *h, int64_t a, int64_t b) {
    size_t i = memo_slot(a, b);
    uint32_t idx = h->memo[i].idx;
    if (!idx || h->memo[i].a != a || h->memo[i].b != b)
        return false;
    h->e[idx - 1].count++;
    h->total++;
    return true;
}

static void hist_memo_set(rp_hist *h, int64_t a, int64_t b, const rp_ent *e) {
    if (!e) /* counted as other: stays uncached, so that it is counted as other again */
        return;
    size_t i = memo_slot(a, b);
    h->memo[i].a = a;
    h->memo[i].b = b;
    h->memo[i].idx = (uint32_t)(e - h->e) + 1;
}

static void hist_free(rp_hist *h) {
    for (size_t i = 0; i < h->n; i++) {
        free(h->e[i].key);
        for (size_t j = 0; j < h->e[i].n_samples; j++)
            free(h->e[i].samples[j]);
    }
    free(h->e);
    free(h->slot);
    memset(h, 0, sizeof *h);
}

static int cmp_count(const void *a, const void *b) {
    const rp_ent *x = *(rp_ent *const *)a, *y = *(rp_ent *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int cmp_order(const void *a, const void *b) {
    const rp_ent *x = *(rp_ent *const *)a, *y = *(rp_ent *const *)b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->key, y->key);
}

rp_ent **rp_sorted(const rp_hist *h, bool by_order) {
    if (!h->n)
        return NULL;
    rp_ent **v = malloc(h->n * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < h->n; i++)
        v[i] = &h->e[i];
    qsort(v, h->n, sizeof *v, by_order ? cmp_order : cmp_count);
    return v;
}

int td_report_new(td_report **out, const td_report_options *o, char *msg, size_t cap) {
    *out = NULL;
    td_report *r = calloc(1, sizeof *r);
    if (!r) {
        ut_msgf(msg, cap, "out of memory");
        return -1;
    }
    if (o)
        r->o = *o;
    if (!r->o.prefetch_bytes)
        r->o.prefetch_bytes = 16384;
    td_map_options mo = {r->o.map_width, r->o.map_height, r->o.map_max_shapes};
    if (td_map_new(&r->map, (mo.width_px || mo.height_px || mo.max_shapes) ? &mo : NULL, msg,
                   cap) != 0) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void td_report_free(td_report *r) {
    if (!r)
        return;
    for (int i = 0; i < RP_N; i++)
        hist_free(&r->h[i]);
    td_map_free(r->map);
    free(r);
}

uint64_t td_report_headers(const td_report *r) { return r->headers; }
uint64_t td_report_errors(const td_report *r) { return r->errors; }

/* The data type's name as the page and its SQL spell it: "uint8", "float32". */
static void dtype_key(char *k, size_t n, int64_t sf, int64_t bits) {
    static const char *const names[] = {NULL,   "uint",        "int",          "float",
                                        "void", "complex int", "complex float"};
    if (bits < 0) {
        snprintf(k, n, "(none)");
        return;
    }
    if (sf < 0)
        sf = 1; /* TIFF's default SampleFormat */
    if (sf >= 1 && sf <= 6)
        snprintf(k, n, "%s%lld", names[sf], (long long)bits);
    else
        snprintf(k, n, "format%lld %lld", (long long)sf, (long long)bits);
}

/* The buckets of ifd_bytes against the prefetch; the SQL of the page uses the same bounds. */
void rp_ifd_bounds(uint64_t prefetch, uint64_t b[5]);
void rp_ifd_bounds(uint64_t prefetch, uint64_t b[5]) {
    b[0] = prefetch / 4;
    b[1] = prefetch / 2;
    b[2] = prefetch;
    b[3] = prefetch * 2;
    b[4] = prefetch * 4;
}

static const int64_t size_bounds[] = {256, 1024, 4096, 16384, 65536};

void td_report_add_header(td_report *r, const td_report_row *w) {
    char k[96];
    r->headers++;
    if (w->fetched_bytes > 0)
        r->fetched_bytes += (uint64_t)w->fetched_bytes;
    if (w->requests > 0)
        r->requests += (uint64_t)w->requests;

    if (w->proj_code)
        hist_add(&r->h[RP_CRS], w->proj_code, w->proj_code_len, 0, 1);
    else
        hist_addz(&r->h[RP_CRS], "(none)", 0);

    rp_hist *h = &r->h[RP_COMPRESSION];
    if (!hist_memo(h, w->compression < 0 ? -1 : w->compression, 0)) {
        if (w->compression >= 0)
            snprintf(k, sizeof k, "%lld", (long long)w->compression);
        hist_memo_set(h, w->compression < 0 ? -1 : w->compression, 0,
                      hist_addz(h, w->compression >= 0 ? k : "(none)",
                                w->compression >= 0 ? w->compression : -1));
    }

    h = &r->h[RP_DTYPE];
    if (!hist_memo(h, w->sample_format, w->bits)) {
        dtype_key(k, sizeof k, w->sample_format, w->bits);
        hist_memo_set(h, w->sample_format, w->bits, hist_addz(h, k, 0));
    }

    bool tiled = w->tile_width >= 0 && w->tile_height >= 0;
    h = &r->h[RP_TILE];
    if (!hist_memo(h, tiled ? w->tile_width : -1, tiled ? w->tile_height : -1)) {
        if (tiled)
            snprintf(k, sizeof k, "%lldx%lld", (long long)w->tile_width, (long long)w->tile_height);
        hist_memo_set(h, tiled ? w->tile_width : -1, tiled ? w->tile_height : -1,
                      hist_addz(h, tiled ? k : "stripped", 0));
    }

    int64_t ov = w->overview_count >= 0 ? w->overview_count : -1;
    h = &r->h[RP_OVERVIEWS];
    if (!hist_memo(h, ov, 0)) {
        if (ov >= 0)
            snprintf(k, sizeof k, "%lld", (long long)ov);
        hist_memo_set(h, ov, 0, hist_addz(h, ov >= 0 ? k : "(null)", ov >= 0 ? ov : INT64_MAX));
    }

    h = &r->h[RP_COG];
    if (!hist_memo(h, w->cog_valid, 0))
        hist_memo_set(h, w->cog_valid, 0,
                      hist_addz(h,
                                w->cog_valid == 1   ? "valid"
                                : w->cog_valid == 0 ? "not valid"
                                                    : "(null)",
                                w->cog_valid == 1   ? 0
                                : w->cog_valid == 0 ? 1
                                                    : 2));

    int64_t rq = w->requests < 0 ? -1 : w->requests >= 4 ? 4 : w->requests;
    h = &r->h[RP_REQUESTS];
    if (!hist_memo(h, rq, 0)) {
        if (rq >= 0 && rq < 4)
            snprintf(k, sizeof k, "%lld", (long long)rq);
        hist_memo_set(h, rq, 0,
                      hist_addz(h,
                                rq < 0    ? "(null)"
                                : rq == 4 ? "4+"
                                          : k,
                                rq < 0 ? INT64_MAX : rq));
    }

    int bi = -1; /* the bucket of ifd_bytes against the prefetch */
    uint64_t b[5];
    rp_ifd_bounds(r->o.prefetch_bytes, b);
    if (w->ifd_bytes >= 0)
        for (bi = 0; bi < 5 && (uint64_t)w->ifd_bytes > b[bi];)
            bi++;
    h = &r->h[RP_IFD_BYTES];
    if (!hist_memo(h, bi, 0)) {
        if (bi >= 0 && bi < 5)
            snprintf(k, sizeof k, "<= %llu", (unsigned long long)b[bi]);
        else if (bi == 5)
            snprintf(k, sizeof k, "> %llu", (unsigned long long)b[4]);
        hist_memo_set(h, bi, 0, hist_addz(h, bi < 0 ? "(null)" : k, bi < 0 ? INT64_MAX : bi));
    }

    int si = -1; /* the bucket of the image's larger side */
    if (w->width >= 0 && w->height >= 0) {
        int64_t m = w->width > w->height ? w->width : w->height;
        for (si = 0; si < 5 && m >= size_bounds[si];)
            si++;
    }
    h = &r->h[RP_IMAGE_SIZE];
    if (!hist_memo(h, si, 0)) {
        if (si == 0)
            snprintf(k, sizeof k, "< %lld", (long long)size_bounds[0]);
        else if (si == 5)
            snprintf(k, sizeof k, ">= %lld", (long long)size_bounds[4]);
        else if (si > 0)
            snprintf(k, sizeof k, "%lld-%lld", (long long)size_bounds[si - 1],
                     (long long)size_bounds[si] - 1);
        hist_memo_set(h, si, 0, hist_addz(h, si < 0 ? "(null)" : k, si < 0 ? INT64_MAX : si));
    }

    h = &r->h[RP_FOOTPRINT];
    if (!hist_memo(h, w->wkb != NULL, 0))
        hist_memo_set(h, w->wkb != NULL, 0,
                      hist_addz(h, w->wkb ? "with footprint" : "without footprint", !w->wkb));
    if (w->wkb && td_map_add_wkb(r->map, w->wkb, w->wkb_len) < 0)
        r->map_failed++;
    int64_t band = INT64_MIN; /* the 30 degree band of the footprint's centre */
    if (w->has_bbox && isfinite(w->bbox[1]) && isfinite(w->bbox[3])) {
        double d = floor((w->bbox[1] + w->bbox[3]) / 2 / 30) * 30;
        band = d < -90 ? -90 : d > 60 ? 60 : (int64_t)d;
    }
    h = &r->h[RP_LAT];
    if (!hist_memo(h, band, 0)) {
        if (band != INT64_MIN)
            snprintf(k, sizeof k, "%d", (int)band);
        hist_memo_set(
            h, band, 0,
            hist_addz(h, band == INT64_MIN ? "(none)" : k, band == INT64_MIN ? INT64_MAX : band));
    }
}

void td_report_add_cog_error(td_report *r, const char *s, size_t n) {
    hist_add(&r->h[RP_COG_REASONS], s ? s : "(null)", s ? n : 6, 0, 1);
}

static void put_part(ut_buf *b, const char *s, size_t n) {
    if (s)
        ut_buf_put(b, s, n);
    else
        ut_buf_puts(b, "(null)");
}

void td_report_add_error(td_report *r, const td_report_error *e) {
    r->errors++;
    ut_buf k = {0};
    k.limit = 2 * RP_MAX_KEY + 16;
    put_part(&k, e->stage, ut_utf8_cut(e->stage ? e->stage : "", e->stage_len, RP_MAX_KEY));
    ut_buf_putc(&k, '/');
    put_part(&k, e->kind, ut_utf8_cut(e->kind ? e->kind : "", e->kind_len, RP_MAX_KEY));
    rp_ent *en =
        hist_add(&r->h[RP_ERRORS], k.bad ? "(too long)" : ut_buf_str(&k), k.bad ? 10 : k.len, 0, 1);
    ut_buf_free(&k);
    if (en && e->path && en->n_samples < TD_REPORT_SAMPLES) {
        char *p = dupn(e->path, ut_utf8_cut(e->path, e->path_len, 4096));
        if (p)
            en->samples[en->n_samples++] = p;
    }
}

int64_t td_report_count(const td_report *r, const char *hist, const char *key) {
    for (int i = 0; i < RP_N; i++) {
        if (strcmp(rp_hist_ids[i], hist) != 0)
            continue;
        const rp_hist *h = &r->h[i];
        for (size_t j = 0; j < h->n; j++)
            if (h->e[j].klen == strlen(key) && memcmp(h->e[j].key, key, h->e[j].klen) == 0)
                return (int64_t)h->e[j].count;
        return strcmp(key, "(other)") == 0 ? (int64_t)h->other : 0;
    }
    return -1;
}
