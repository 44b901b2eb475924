/* tiff_json.c - tiff_header_to_json(): one JSON line per header (not on the parse hot path). */
#include "tiff.h"
#include "tiff_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char **buf;
    size_t *len, *cap;
    int oom;
} out;

static int reserve(out *o, size_t n) {
    if (o->oom)
        return -1;
    if (*o->len + n + 1 <= *o->cap)
        return 0;
    size_t nc = *o->cap ? *o->cap : 1024;
    while (nc < *o->len + n + 1)
        nc *= 2;
    char *nb = realloc(*o->buf, nc);
    if (!nb) {
        o->oom = 1;
        return -1;
    }
    *o->buf = nb;
    *o->cap = nc;
    return 0;
}

static void put(out *o, const char *s, size_t n) {
    if (reserve(o, n))
        return;
    memcpy(*o->buf + *o->len, s, n);
    *o->len += n;
    (*o->buf)[*o->len] = 0;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(out *o, uint64_t v) {
    char t[24];
    put(o, t, tiff__put_u64(t, v));
}
static void put_i64(out *o, int64_t v) {
    char t[24];
    put(o, t, tiff__put_i64(t, v));
}
static void put_dbl(out *o, double v) {
    char t[TIFF__DBL_MAX_CHARS + 8];
    put(o, t, tiff__put_double(t, v));
}

static void put_str(out *o, const char *s, size_t n) {
    put(o, "\"", 1);
    size_t i = 0;
    while (i < n) {
        char e[8];
        size_t used;
        size_t el = ut_json_escape_unit(e, (const unsigned char *)s + i, n - i, &used);
        put(o, e, el);
        i += used;
    }
    put(o, "\"", 1);
}

static void put_key(out *o, const char *k, int *first) {
    if (!*first)
        put(o, ",", 1);
    *first = 0;
    put(o, "\"", 1);
    puts_(o, k);
    put(o, "\":", 2);
}

static void put_value(out *o, const tiff_value *v, tiff_kind kind) {
    if (!v->present) {
        put(o, "null", 4);
        return;
    }
    switch (kind) {
    case TIFF_K_INT:
    case TIFF_K_COUNT:
        put_i64(o, v->u.i);
        break;
    case TIFF_K_DOUBLE:
        put_dbl(o, v->u.d);
        break;
    case TIFF_K_INT_LIST:
        put(o, "[", 1);
        for (uint64_t i = 0; i < v->count; i++) {
            if (i)
                put(o, ",", 1);
            put_i64(o, v->u.ints[i]);
        }
        put(o, "]", 1);
        break;
    case TIFF_K_DOUBLE_LIST:
        put(o, "[", 1);
        for (uint64_t i = 0; i < v->count; i++) {
            if (i)
                put(o, ",", 1);
            put_dbl(o, v->u.dbls[i]);
        }
        put(o, "]", 1);
        break;
    case TIFF_K_STRING:
        put_str(o, v->u.str, (size_t)v->count);
        break;
    case TIFF_K_BINARY: {
        static const char hex[] = "0123456789abcdef";
        put(o, "\"", 1);
        if (reserve(o, (size_t)v->count * 2))
            return;
        char *d = *o->buf + *o->len;
        for (uint64_t i = 0; i < v->count; i++) {
            d[2 * i] = hex[v->u.bytes[i] >> 4];
            d[2 * i + 1] = hex[v->u.bytes[i] & 15];
        }
        *o->len += (size_t)v->count * 2;
        put(o, "\"", 1);
        break;
    }
    }
}

static void put_extras(out *o, const tiff_extra *x, size_t n) {
    put(o, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(o, ",", 1);
        put(o, "\"", 1);
        put_u64(o, x[i].id);
        put(o, "\":", 2);
        put(o, x[i].json, x[i].json_len);
    }
    put(o, "}", 1);
}

/* ---- every image and the COG verdict (issue 15): keys as the Parquet columns */

static void put_opt(out *o, int64_t v) {
    if (v == TIFF_ABSENT)
        put(o, "null", 4);
    else
        put_i64(o, v);
}

static void put_strs(out *o, const char *const *v, size_t n) {
    put(o, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(o, ",", 1);
        put_str(o, v[i], strlen(v[i]));
    }
    put(o, "]", 1);
}

static void put_tri(out *o, int v) { puts_(o, v < 0 ? "null" : v ? "true" : "false"); }

static void put_nulls(out *o, const char *const *keys, size_t n, int *first) {
    for (size_t i = 0; i < n; i++) {
        put_key(o, keys[i], first);
        put(o, "null", 4);
    }
}

static void put_images(out *o, const tiff_images *im, int *first) {
    /* TIFF_OPT_FIRST_IFD: what needs the other images is null, as in the table */
    static const char *const by_walk[] = {"ifd_bytes", "first_data_offset", "overview_count",
                                          "mask_count"};
    static const char *const verdict[] = {"cog_valid", "cog_errors", "cog_warnings",
                                          "gdal_structural_metadata", "ifds"};
    if (im->first_only) {
        put_nulls(o, by_walk, sizeof by_walk / sizeof *by_walk, first);
    } else {
        put_key(o, "ifd_bytes", first);
        put_u64(o, im->ifd_bytes);
        put_key(o, "first_data_offset", first);
        put_opt(o, im->first_data_offset);
        put_key(o, "overview_count", first);
        put_i64(o, im->overview_count);
        put_key(o, "mask_count", first);
        put_i64(o, im->mask_count);
    }
    put_key(o, "sparse_tiles", first);
    put_opt(o, im->sparse_tiles);
    put_key(o, "empty", first);
    put_tri(o, im->empty);
    if (im->first_only) {
        put_nulls(o, verdict, sizeof verdict / sizeof *verdict, first);
        return;
    }
    put_key(o, "cog_valid", first);
    put_tri(o, im->cog_valid);
    put_key(o, "cog_errors", first);
    put_strs(o, im->cog_errors, im->n_cog_errors);
    put_key(o, "cog_warnings", first);
    put_strs(o, im->cog_warnings, im->n_cog_warnings);
    put_key(o, "gdal_structural_metadata", first);
    if (im->has_ghost) {
        put(o, "{", 1);
        for (size_t i = 0; i < im->n_ghost; i++) {
            if (i)
                put(o, ",", 1);
            put_str(o, im->ghost[i].key, strlen(im->ghost[i].key));
            put(o, ":", 1);
            put_str(o, im->ghost[i].value, strlen(im->ghost[i].value));
        }
        put(o, "}", 1);
    } else {
        put(o, "null", 4);
    }
    put_key(o, "ifds", first);
    put(o, "[", 1);
    for (size_t i = 0; i < im->n; i++) {
        const tiff_image *m = &im->v[i];
        int f = 1;
        put(o, i ? ",{" : "{", i ? 2 : 1);
#define TD_J(name, expr)  \
    put_key(o, name, &f); \
    put_opt(o, expr);
        TD_J("index", m->index)
        TD_J("parent", m->parent < 0 ? TIFF_ABSENT : m->parent)
        TD_J("position", m->position)
        TD_J("ifd_offset", (int64_t)m->ifd_offset)
        put_key(o, "kind", &f);
        put(o, "\"", 1);
        puts_(o, tiff_image_kind_name(m->kind));
        put(o, "\"", 1);
        TD_J("width", m->width)
        TD_J("height", m->height)
        TD_J("tile_width", m->tile_width)
        TD_J("tile_height", m->tile_height)
        TD_J("rows_per_strip", m->rows_per_strip)
        TD_J("compression", m->compression)
        TD_J("photometric", m->photometric)
        TD_J("samples_per_pixel", m->samples_per_pixel)
        TD_J("bits_per_sample", m->bits_per_sample)
        TD_J("sample_format", m->sample_format)
        TD_J("new_subfile_type", m->new_subfile_type)
        TD_J("planar", m->planar)
        TD_J("predictor", m->predictor)
        TD_J("blocks", m->blocks)
        TD_J("first_data_offset", m->first_data_offset)
        TD_J("sparse_blocks", m->sparse_blocks)
#undef TD_J
        put(o, "}", 1);
    }
    put(o, "]", 1);
}

int tiff_header_to_json(const tiff_header *h, char **buf, size_t *len, size_t *cap) {
    out o = {buf, len, cap, 0};
    int first = 1;
    put(&o, "{", 1);
    put_key(&o, "byte_order", &first);
    puts_(&o, h->little_endian ? "\"II\"" : "\"MM\"");
    put_key(&o, "bigtiff", &first);
    puts_(&o, h->bigtiff ? "true" : "false");
    put_key(&o, "first_ifd_offset", &first);
    put_u64(&o, h->first_ifd_offset);
    put_key(&o, "ifd_count", &first);
    if (h->images.first_only)
        put(&o, "null", 4);
    else
        put_u64(&o, h->ifd_count);
    put_key(&o, "ifd_chain_error", &first);
    if (h->ifd_chain_error && !h->images.first_only)
        put_str(&o, h->ifd_chain_error, strlen(h->ifd_chain_error));
    else
        put(&o, "null", 4);
    put_images(&o, &h->images, &first);
    for (int f = 0; f < TIFF_FIELD_COUNT; f++) {
        put_key(&o, tiff_field_infos[f].name, &first);
        put_value(&o, &h->field[f], tiff_field_infos[f].kind);
    }
    put_key(&o, "geokeys", &first);
    if (h->has_geokeys) {
        int gfirst = 1;
        put(&o, "{", 1);
        for (int g = 0; g < TIFF_GEOKEY_COUNT; g++) {
            put_key(&o, tiff_geokey_infos[g].name, &gfirst);
            put_value(&o, &h->geokey[g], tiff_geokey_infos[g].kind);
        }
        put(&o, "}", 1);
    } else {
        put(&o, "null", 4);
    }
    put_key(&o, "geokeys_other", &first);
    if (h->has_geokeys)
        put_extras(&o, h->geokeys_other, h->n_geokeys_other);
    else
        put(&o, "null", 4);
    put_key(&o, "geokeys_header", &first);
    if (h->has_geokeys) {
        put(&o, "[", 1);
        for (int i = 0; i < 4; i++) {
            if (i)
                put(&o, ",", 1);
            put_u64(&o, h->geokeys_header[i]);
        }
        put(&o, "]", 1);
    } else {
        put(&o, "null", 4);
    }
    put_key(&o, "other_tags", &first);
    put_extras(&o, h->other_tags, h->n_other_tags);
    put_key(&o, "warnings", &first);
    put(&o, "[", 1);
    for (size_t i = 0; i < h->n_warnings; i++) {
        if (i)
            put(&o, ",", 1);
        put_str(&o, h->warnings[i], strlen(h->warnings[i]));
    }
    put(&o, "]}", 2);
    return o.oom ? TIFF_E_NOMEM : TIFF_OK;
}
