/* table.c - the headers and errors tables, generated from tiff.h's X-macro tables so that a
 * field added there becomes a column here without a hand-written list. */
#include "table.h"

#include "util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TD_STR_(x) #x
#define TD_STR(x) TD_STR_(x)

/* Type names of the documented list, by tiff_kind token. */
#define TD_T_TIFF_K_INT "INT64"
#define TD_T_TIFF_K_COUNT "INT64"
#define TD_T_TIFF_K_DOUBLE "DOUBLE"
#define TD_T_TIFF_K_STRING "STRING"
#define TD_T_TIFF_K_BINARY "BINARY"
#define TD_T_TIFF_K_INT_LIST "LIST<INT64>"
#define TD_T_TIFF_K_DOUBLE_LIST "LIST<DOUBLE>"

/* Own copies of the kinds (not tiff_field_infos) so that td_table needs only tiff.h. */
static const tiff_kind field_kind[TIFF_FIELD_COUNT] = {
#define TD_X_KIND(name, tag, kind) kind,
    TIFF_FIELDS(TD_X_KIND)
#undef TD_X_KIND
};
static const tiff_kind geokey_kind[TIFF_GEOKEY_COUNT] = {
#define TD_X_KIND(name, id, kind) kind,
    TIFF_GEOKEYS(TD_X_KIND)
#undef TD_X_KIND
};

static int add_kind(pq_schema *s, int parent, const char *name, tiff_kind k) {
    switch (k) {
    case TIFF_K_INT:
    case TIFF_K_COUNT:
        return pq_schema_add_leaf(s, parent, name, PQ_INT64, PQ_LT_NONE, true);
    case TIFF_K_DOUBLE:
        return pq_schema_add_leaf(s, parent, name, PQ_DOUBLE, PQ_LT_NONE, true);
    case TIFF_K_STRING:
        return pq_schema_add_leaf(s, parent, name, PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    case TIFF_K_BINARY:
        return pq_schema_add_leaf(s, parent, name, PQ_BYTE_ARRAY, PQ_LT_NONE, true);
    case TIFF_K_INT_LIST:
        return pq_schema_add_list(s, parent, name, PQ_INT64, PQ_LT_NONE, true, false);
    case TIFF_K_DOUBLE_LIST:
        return pq_schema_add_list(s, parent, name, PQ_DOUBLE, PQ_LT_NONE, true, false);
    }
    return PQ_E_SCHEMA;
}

/* ---- every image and the COG verdict (issue 15): one contiguous block of columns */

/* tiff_image's tag values, in the order of td_headers_cols.im.num */
#define TD_IMAGE_NUMS(X) \
    X(width)             \
    X(height)            \
    X(tile_width)        \
    X(tile_height)       \
    X(rows_per_strip)    \
    X(compression)       \
    X(photometric)       \
    X(samples_per_pixel) \
    X(bits_per_sample) X(sample_format) X(new_subfile_type) X(planar) X(predictor)

static const char *const image_num_names[13] = {
#define TD_X_NAME(n) #n,
    TD_IMAGE_NUMS(TD_X_NAME)
#undef TD_X_NAME
};

static int images_schema(pq_schema *s, td_headers_cols *c) {
    int e = 0, r;
#define TD_IM(f, name, t, lt)                                                  \
    if ((r = c->im.f = pq_schema_add_leaf(s, PQ_ROOT, name, t, lt, true)) < 0) \
        return r;
    TD_IM(ifd_bytes, "ifd_bytes", PQ_INT64, PQ_LT_NONE)
    TD_IM(first_data_offset, "first_data_offset", PQ_INT64, PQ_LT_NONE)
    TD_IM(overview_count, "overview_count", PQ_INT32, PQ_LT_NONE)
    TD_IM(mask_count, "mask_count", PQ_INT32, PQ_LT_NONE)
    TD_IM(sparse_tiles, "sparse_tiles", PQ_INT64, PQ_LT_NONE)
    TD_IM(empty, "empty", PQ_BOOLEAN, PQ_LT_NONE)
    TD_IM(cog_valid, "cog_valid", PQ_BOOLEAN, PQ_LT_NONE)
#undef TD_IM
    if ((r = c->im.cog_errors = pq_schema_add_list(s, PQ_ROOT, "cog_errors", PQ_BYTE_ARRAY,
                                                   PQ_LT_STRING, true, false)) < 0 ||
        (r = c->im.cog_warnings = pq_schema_add_list(s, PQ_ROOT, "cog_warnings", PQ_BYTE_ARRAY,
                                                     PQ_LT_STRING, true, false)) < 0 ||
        (r = c->im.ghost = pq_schema_add_map(s, PQ_ROOT, "gdal_structural_metadata", true)) < 0 ||
        (r = c->im.ifds = pq_schema_add_list_of_struct(s, PQ_ROOT, "ifds", true, &e)) < 0)
        return r;
#define TD_EL(f, name, t, lt)                                            \
    if ((r = c->im.f = pq_schema_add_leaf(s, e, name, t, lt, true)) < 0) \
        return r;
    TD_EL(index, "index", PQ_INT32, PQ_LT_NONE)
    TD_EL(parent, "parent", PQ_INT32, PQ_LT_NONE)
    TD_EL(position, "position", PQ_INT32, PQ_LT_NONE)
    TD_EL(ifd_offset, "ifd_offset", PQ_INT64, PQ_LT_NONE)
    TD_EL(kind, "kind", PQ_BYTE_ARRAY, PQ_LT_STRING)
    for (int i = 0; i < 13; i++)
        TD_EL(num[i], image_num_names[i], PQ_INT64, PQ_LT_NONE)
    TD_EL(blocks, "blocks", PQ_INT64, PQ_LT_NONE)
    TD_EL(data_offset, "first_data_offset", PQ_INT64, PQ_LT_NONE)
    TD_EL(sparse, "sparse_blocks", PQ_INT64, PQ_LT_NONE)
#undef TD_EL
    if (c->im.sparse != c->im.num[0] + 15) /* write_images: num[0] + k is the k-th */
        return PQ_E_SCHEMA;
    return PQ_OK;
}

static int set_u64(pq_writer *w, int node, uint64_t v);

static int set_opt(pq_writer *w, int node, int64_t v) {
    return v == TIFF_ABSENT ? PQ_OK : pq_set_i64(w, node, v);
}

static int set_strs(pq_writer *w, int node, const char *const *v, size_t n) {
    int rc = pq_list_begin(w, node);
    for (size_t i = 0; !rc && i < n; i++)
        rc = pq_list_push_bytes(w, node, v[i], strlen(v[i]));
    return rc ? rc : pq_list_end(w, node);
}

/* write_images reads tiff_image members in place: the reading widths must be theirs */
_Static_assert(sizeof(tiff_image_kind) == sizeof(int), "kind is read as an int");
_Static_assert(sizeof(((tiff_image *)0)->index) == 4 && sizeof(((tiff_image *)0)->parent) == 4 &&
                   sizeof(((tiff_image *)0)->position) == 4,
               "INT32 fields are read as 4 bytes");
_Static_assert(offsetof(tiff_image, sparse_blocks) - offsetof(tiff_image, width) == 15 * 8,
               "the 16 numbers are consecutive int64_t members");

/* The GDAL structural metadata map. Its entries are those of the GDAL version that wrote
 * the file, so they repeat from file to file: the writer replays the map kept under its
 * text (each key and value NUL-terminated, so that the text determines the entries). */
static int write_ghost(pq_writer *w, int node, const tiff_kv *kv, size_t n) {
    char key[1024];
    size_t len = 0, kl[16], vl[16];
    bool keyed = n > 0 && n <= 16;
    for (size_t i = 0; keyed && i < n; i++) {
        kl[i] = strlen(kv[i].key);
        vl[i] = strlen(kv[i].value);
        keyed = kl[i] + vl[i] + 2 <= sizeof key - len;
        if (keyed) {
            memcpy(key + len, kv[i].key, kl[i] + 1);
            memcpy(key + len + kl[i] + 1, kv[i].value, vl[i] + 1);
            len += kl[i] + vl[i] + 2;
        }
    }
    int rc = keyed ? pq_again(w, node, key, len) : 1;
    if (rc <= 0)
        return rc;
    if ((rc = pq_map_begin(w, node)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = pq_map_put(w, node, kv[i].key, keyed ? kl[i] : strlen(kv[i].key), kv[i].value,
                             keyed ? vl[i] : strlen(kv[i].value))))
            return rc;
    if ((rc = pq_map_end(w, node)))
        return rc;
    return keyed ? pq_keep(w, node, key, len) : PQ_OK;
}

static int write_images(pq_writer *w, const td_headers_cols *c, const tiff_images *im) {
    int rc = 0;
#define TD_T(expr)          \
    if ((rc = (expr)) != 0) \
        return rc;
    TD_T(set_opt(w, c->im.ifd_bytes,
                 im->ifd_bytes > INT64_MAX ? TIFF_ABSENT : (int64_t)im->ifd_bytes))
    TD_T(set_opt(w, c->im.first_data_offset, im->first_data_offset))
    TD_T(pq_set_i32(w, c->im.overview_count, im->overview_count))
    TD_T(pq_set_i32(w, c->im.mask_count, im->mask_count))
    TD_T(set_opt(w, c->im.sparse_tiles, im->sparse_tiles))
    if (im->empty >= 0)
        TD_T(pq_set_bool(w, c->im.empty, im->empty != 0))
    if (im->cog_valid >= 0)
        TD_T(pq_set_bool(w, c->im.cog_valid, im->cog_valid != 0))
    TD_T(set_strs(w, c->im.cog_errors, im->cog_errors, im->n_cog_errors))
    TD_T(set_strs(w, c->im.cog_warnings, im->cog_warnings, im->n_cog_warnings))
    if (im->has_ghost)
        TD_T(write_ghost(w, c->im.ghost, im->ghost, im->n_ghost))
    /* The list's values are the tiff_image array's bytes: files of one product (the bands
     * of a Sentinel-2 scene, scene after scene) repeat one of a few lists whole, which the
     * writer then replays from its last few (pq_again). The key holds every
     * value written (the parser zeroes the records' padding too). */
    const size_t key_len = im->n * sizeof *im->v;
    if (im->n && (rc = pq_again(w, c->im.ifds, im->v, key_len)) <= 0)
        return rc;
    /* by column: one call per field for all the images (each value read in place from
     * the tiff_image array), the writer's cheapest path for a list of structs */
    static const tiff_image none; /* the base of an empty list's columns: never read */
    const tiff_image *v = im->v ? im->v : &none;
    const size_t st = sizeof *v;
    TD_T(pq_list_struct_cols(w, c->im.ifds, im->n))
    TD_T(pq_list_struct_col_i32(w, c->im.index, &v->index, st, INT32_MIN))
    TD_T(pq_list_struct_col_i32(w, c->im.parent, &v->parent, st, 0)) /* -1: main chain, null */
    TD_T(pq_list_struct_col_i32(w, c->im.position, &v->position, st, INT32_MIN))
    TD_T(pq_list_struct_col_i64(w, c->im.ifd_offset, &v->ifd_offset, st, 0)) /* set_u64's rule */
    /* own names (td_table needs only tiff.h, not td_tiff): tiff_image_kind_name's */
    static const char *const kinds[] = {"main", "overview", "mask", "page"};
    TD_T(pq_list_struct_col_names(w, c->im.kind, &v->kind, st, kinds, 4))
    /* the 16 numbers are consecutive INT64 fields (images_schema) and members; TIFF_ABSENT
     * (INT64_MIN) is null */
    const char *num = (const char *)v + offsetof(tiff_image, width);
    TD_T(pq_list_struct_col_i64s(w, c->im.num[0], 16, num, st, INT64_MIN + 1))
    TD_T(pq_list_struct_end(w, c->im.ifds))
    if (im->n)
        TD_T(pq_keep(w, c->im.ifds, im->v, key_len))
#undef TD_T
    return PQ_OK;
}

int td_table_headers_schema(pq_schema **out, td_headers_cols *c) {
    *out = NULL;
    pq_schema *s = pq_schema_new();
    if (!s)
        return PQ_E_NOMEM;
    int rc;
#define TD_CHECK(expr)     \
    if ((rc = (expr)) < 0) \
        goto bad;
#define TD_LEAF(f, t, lt, opt) TD_CHECK(c->f = pq_schema_add_leaf(s, PQ_ROOT, #f, t, lt, opt))
    TD_LEAF(path, PQ_BYTE_ARRAY, PQ_LT_STRING, false)
    TD_LEAF(path_bytes, PQ_BYTE_ARRAY, PQ_LT_NONE, true)
    TD_LEAF(size, PQ_INT64, PQ_LT_NONE, true)
    TD_LEAF(last_modified, PQ_INT64, PQ_LT_TIMESTAMP_MILLIS, true)
    TD_LEAF(etag, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_LEAF(byte_order, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_LEAF(bigtiff, PQ_BOOLEAN, PQ_LT_NONE, true)
    TD_LEAF(first_ifd_offset, PQ_INT64, PQ_LT_NONE, true)
    TD_LEAF(ifd_count, PQ_INT64, PQ_LT_NONE, true)
    TD_LEAF(ifd_chain_error, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_CHECK(images_schema(s, c))
    TD_LEAF(fetched_bytes, PQ_INT64, PQ_LT_NONE, true)
    TD_LEAF(requests, PQ_INT32, PQ_LT_NONE, true)
#define TD_X_FIELD(name, tag, kind) \
    TD_CHECK(c->field[TIFF_F_##name] = add_kind(s, PQ_ROOT, #name, kind))
    TIFF_FIELDS(TD_X_FIELD)
#undef TD_X_FIELD
    TD_CHECK(c->geokeys = pq_schema_add_struct(s, PQ_ROOT, "geokeys", true))
#define TD_X_GEOKEY(name, id, kind) \
    TD_CHECK(c->geokey[TIFF_G_##name] = add_kind(s, c->geokeys, #name, kind))
    TIFF_GEOKEYS(TD_X_GEOKEY)
#undef TD_X_GEOKEY
    TD_CHECK(c->geokeys_header = pq_schema_add_list(s, PQ_ROOT, "geokeys_header", PQ_INT64,
                                                    PQ_LT_NONE, true, false))
    TD_CHECK(c->geokeys_other = pq_schema_add_map(s, PQ_ROOT, "geokeys_other", true))
    TD_CHECK(c->other_tags = pq_schema_add_map(s, PQ_ROOT, "other_tags", true))
    TD_CHECK(c->warnings = pq_schema_add_list(s, PQ_ROOT, "warnings", PQ_BYTE_ARRAY, PQ_LT_STRING,
                                              true, false))
    /* issue 14 (d1): the columns filled with async-tiff's defaults */
    TD_CHECK(c->defaulted = pq_schema_add_list(s, PQ_ROOT, "defaulted", PQ_BYTE_ARRAY, PQ_LT_STRING,
                                               true, false))
    /* georeferencing: GeoParquet geometry + bbox covering, STAC projection fields */
    TD_LEAF(geometry, PQ_BYTE_ARRAY, PQ_LT_NONE, true)
    TD_CHECK(c->bbox = pq_schema_add_struct(s, PQ_ROOT, "bbox", true))
    TD_CHECK(c->bbox_xmin = pq_schema_add_leaf(s, c->bbox, "xmin", PQ_DOUBLE, PQ_LT_NONE, false))
    TD_CHECK(c->bbox_ymin = pq_schema_add_leaf(s, c->bbox, "ymin", PQ_DOUBLE, PQ_LT_NONE, false))
    TD_CHECK(c->bbox_xmax = pq_schema_add_leaf(s, c->bbox, "xmax", PQ_DOUBLE, PQ_LT_NONE, false))
    TD_CHECK(c->bbox_ymax = pq_schema_add_leaf(s, c->bbox, "ymax", PQ_DOUBLE, PQ_LT_NONE, false))
    TD_LEAF(proj_code, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_CHECK(c->proj_shape =
                 pq_schema_add_list(s, PQ_ROOT, "proj_shape", PQ_INT64, PQ_LT_NONE, true, false))
    TD_CHECK(c->proj_transform = pq_schema_add_list(s, PQ_ROOT, "proj_transform", PQ_DOUBLE,
                                                    PQ_LT_NONE, true, false))
    TD_CHECK(c->proj_bbox =
                 pq_schema_add_list(s, PQ_ROOT, "proj_bbox", PQ_DOUBLE, PQ_LT_NONE, true, false))
    TD_LEAF(proj_wkt2, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_LEAF(proj_projjson, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    *out = s;
    return PQ_OK;
bad:
    pq_schema_free(s);
    return rc;
}

int td_table_errors_schema(pq_schema **out, td_errors_cols *c) {
    *out = NULL;
    pq_schema *s = pq_schema_new();
    if (!s)
        return PQ_E_NOMEM;
    int rc;
    TD_LEAF(path, PQ_BYTE_ARRAY, PQ_LT_STRING, false)
    TD_LEAF(path_bytes, PQ_BYTE_ARRAY, PQ_LT_NONE, true)
    TD_LEAF(size, PQ_INT64, PQ_LT_NONE, true)
    TD_LEAF(stage, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_LEAF(kind, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_LEAF(message, PQ_BYTE_ARRAY, PQ_LT_STRING, true)
    TD_LEAF(http_status, PQ_INT32, PQ_LT_NONE, true)
    TD_LEAF(attempts, PQ_INT32, PQ_LT_NONE, true)
#undef TD_LEAF
#undef TD_CHECK
    *out = s;
    return PQ_OK;
bad:
    pq_schema_free(s);
    return rc;
}

/* path STRING (the writer escapes bytes that are not UTF-8) and, only then, path_bytes:
 * the key's exact bytes, so that the object can still be named to its store. */
static int set_path(pq_writer *w, int path, int path_bytes, const char *p, size_t n) {
    if (!p)
        p = "", n = 0;
    int rc = pq_set_bytes(w, path, p, n);
    if (!rc && !ut_utf8_valid(p, n))
        rc = pq_set_bytes(w, path_bytes, p, n);
    return rc;
}

static int set_u64(pq_writer *w, int node, uint64_t v) {
    /* unknown (TD_SIZE_NONE) and values past INT64 stay null */
    return v > (uint64_t)INT64_MAX ? PQ_OK : pq_set_i64(w, node, (int64_t)v);
}

static int set_str(pq_writer *w, int node, const char *s) {
    return s ? pq_set_bytes(w, node, s, strlen(s)) : PQ_OK;
}

/* An absent value is left unset: the writer makes an unset optional node null at the end
 * of the row, which costs less than a pq_set_null per absent field (most of the ~150). */
static int set_value(pq_writer *w, int node, tiff_kind k, const tiff_value *v) {
    if (!v->present)
        return PQ_OK;
    switch (k) {
    case TIFF_K_INT:
    case TIFF_K_COUNT:
        return pq_set_i64(w, node, v->u.i);
    case TIFF_K_DOUBLE:
        return pq_set_double(w, node, v->u.d);
    case TIFF_K_STRING:
        return pq_set_bytes(w, node, v->u.str, (size_t)v->count);
    case TIFF_K_BINARY:
        return pq_set_bytes(w, node, v->u.bytes, (size_t)v->count);
    case TIFF_K_INT_LIST:
        return pq_set_list_i64(w, node, v->u.ints, (size_t)v->count);
    case TIFF_K_DOUBLE_LIST:
        return pq_set_list_double(w, node, v->u.dbls, (size_t)v->count);
    }
    return PQ_E_USAGE;
}

static int set_extras(pq_writer *w, int node, const tiff_extra *e, size_t n) {
    int rc = pq_map_begin(w, node);
    for (size_t i = 0; !rc && i < n; i++) {
        char key[8], t[8]; /* decimal id (snprintf cost more than the rest of the entry) */
        size_t kl = 0, tl = 0;
        unsigned v = e[i].id;
        do
            t[tl++] = (char)('0' + v % 10);
        while ((v /= 10) != 0 && tl < 5);
        while (tl)
            key[kl++] = t[--tl];
        rc =
            pq_map_put(w, node, key, kl, e[i].json ? e[i].json : "", e[i].json ? e[i].json_len : 0);
    }
    return rc ? rc : pq_map_end(w, node);
}

/* ---- issue 14 (d1): async-tiff 0.1.0's defaults ----
 * ImageFileDirectory::from_tags (async-tiff 0.1.0, src/ifd.rs) fills three fields when
 * their tag is absent: compression = 1 (CompressionMethod::None), planar_configuration = 1
 * (Chunky) and sample_format = [1] * samples_per_pixel (Uint), the TIFF 6.0 defaults. It
 * fills nothing else: bits_per_sample, samples_per_pixel, photometric_interpretation,
 * image_width/height are required (a missing one panics), orientation and resolution_unit
 * stay None, fill_order is not a field. The Python tool's rows hold those three values, so
 * these rows do too; the parser reports only what the file holds, and `defaulted` names
 * the columns filled here so that nothing is hidden. samples_per_pixel absent counts as
 * TIFF 6.0's 1 for the length of sample_format (async-tiff has no row for such a file). */
size_t td_table_defaults(const tiff_header *h, td_field_default out[TD_TABLE_MAX_DEFAULTS]) {
    size_t n = 0;
    if (!h->field[TIFF_F_compression].present)
        out[n++] = (td_field_default){TIFF_F_compression, "compression", 1, 0};
    if (!h->field[TIFF_F_planar_configuration].present)
        out[n++] = (td_field_default){TIFF_F_planar_configuration, "planar_configuration", 1, 0};
    if (!h->field[TIFF_F_sample_format].present) {
        const tiff_value *spp = &h->field[TIFF_F_samples_per_pixel];
        int64_t k = spp->present ? spp->u.i : 1;
        if (k >= 1 && k <= 65535) /* a SHORT: anything else is no count to repeat */
            out[n++] = (td_field_default){TIFF_F_sample_format, "sample_format", 1, (size_t)k};
    }
    return n;
}

static int set_default(pq_writer *w, int node, const td_field_default *d) {
    if (d->list_len == 0)
        return pq_set_i64(w, node, d->value);
    int rc = pq_list_begin(w, node);
    for (size_t i = 0; !rc && i < d->list_len; i++)
        rc = pq_list_push_i64(w, node, d->value);
    return rc ? rc : pq_list_end(w, node);
}
/* ---- end of issue 14 (d1) ---- */
static int set_geo(pq_writer *w, const td_headers_cols *c, const td_geo_facts *g) {
    int rc = PQ_OK;
    if (g->wkb)
        rc = pq_set_bytes(w, c->geometry, g->wkb, g->wkb_len);
    if (!rc && g->bbox) {
        /* a bbox without a geometry would be a covering that matches nothing real */
        if (g->wkb && !(rc = pq_set_double(w, c->bbox_xmin, g->bbox[0])) &&
            !(rc = pq_set_double(w, c->bbox_ymin, g->bbox[1])) &&
            !(rc = pq_set_double(w, c->bbox_xmax, g->bbox[2])))
            rc = pq_set_double(w, c->bbox_ymax, g->bbox[3]);
    }
    if (!rc)
        rc = set_str(w, c->proj_code, g->proj_code);
    if (!rc && g->shape)
        rc = pq_set_list_i64(w, c->proj_shape, g->shape, 2);
    if (!rc && g->transform)
        rc = pq_set_list_double(w, c->proj_transform, g->transform, 6);
    if (!rc && g->proj_bbox)
        rc = pq_set_list_double(w, c->proj_bbox, g->proj_bbox, 4);
    if (!rc)
        rc = set_str(w, c->proj_wkt2, g->proj_wkt2);
    if (!rc)
        rc = set_str(w, c->proj_projjson, g->proj_projjson);
    return rc;
}

void td_geo_summary_add(td_geo_summary *g, const td_geo_facts *f) {
    if (!f || !f->wkb || !f->bbox)
        return;
    const double *b = f->bbox;
    /* a footprint across the antimeridian covers both ends of the longitudes: the file's
       bbox is not wrapped (its readers filter with xmin <= x <= xmax) */
    double x0 = b[0] > b[2] ? -180 : b[0], x1 = b[0] > b[2] ? 180 : b[2];
    if (!g->polygon && !g->multi) {
        g->bbox[0] = x0, g->bbox[1] = b[1], g->bbox[2] = x1, g->bbox[3] = b[3];
    } else {
        g->bbox[0] = x0 < g->bbox[0] ? x0 : g->bbox[0];
        g->bbox[1] = b[1] < g->bbox[1] ? b[1] : g->bbox[1];
        g->bbox[2] = x1 > g->bbox[2] ? x1 : g->bbox[2];
        g->bbox[3] = b[3] > g->bbox[3] ? b[3] : g->bbox[3];
    }
    if (f->multi)
        g->multi = true;
    else
        g->polygon = true;
}

size_t td_table_geo_json(const td_geo_summary *g, char *buf, size_t len) {
    /* GeoParquet 1.1: no "crs" key = OGC:CRS84; planar edges; the bbox struct column as
       the covering; "geometry_types" [] when the file has no footprint */
    char types[40], bbox[128] = "";
    snprintf(types, sizeof types, "%s%s%s", g->polygon ? "\"Polygon\"" : "",
             g->polygon && g->multi ? "," : "", g->multi ? "\"MultiPolygon\"" : "");
    if (g->polygon || g->multi)
        snprintf(bbox, sizeof bbox, ",\"bbox\":[%.17g,%.17g,%.17g,%.17g]", g->bbox[0], g->bbox[1],
                 g->bbox[2], g->bbox[3]);
    int n = snprintf(buf, len,
                     "{\"version\":\"1.1.0\",\"primary_column\":\"geometry\",\"columns\":{"
                     "\"geometry\":{\"encoding\":\"WKB\",\"geometry_types\":[%s]%s,"
                     "\"covering\":{\"bbox\":{\"xmin\":[\"bbox\",\"xmin\"],\"ymin\":[\"bbox\","
                     "\"ymin\"],\"xmax\":[\"bbox\",\"xmax\"],\"ymax\":[\"bbox\",\"ymax\"]}}}}}",
                     types, bbox);
    return n < 0 ? len : (size_t)n;
}

int td_table_write_header(pq_writer *w, const td_headers_cols *c, const td_object_facts *f,
                          const tiff_header *h) {
    int rc;
#define TD_TRY(expr)        \
    if ((rc = (expr)) != 0) \
        return rc;
    TD_TRY(set_path(w, c->path, c->path_bytes, f->path, f->path_len))
    TD_TRY(set_u64(w, c->size, f->size))
    if (f->mtime_ms != TD_MTIME_NONE)
        TD_TRY(pq_set_i64(w, c->last_modified, f->mtime_ms))
    TD_TRY(set_str(w, c->etag, f->etag))
    TD_TRY(pq_set_bytes(w, c->byte_order, h->little_endian ? "II" : "MM", 2))
    TD_TRY(pq_set_bool(w, c->bigtiff, h->bigtiff))
    TD_TRY(set_u64(w, c->first_ifd_offset, h->first_ifd_offset))
    if (h->images.first_only) {
        /* fetch.ifds: first (TIFF_OPT_FIRST_IFD): IFD 0 alone was read; the chain facts,
           the counts, the verdict and ifds stay null (unknown, not "none") */
        TD_TRY(set_opt(w, c->im.sparse_tiles, h->images.sparse_tiles))
        if (h->images.empty >= 0)
            TD_TRY(pq_set_bool(w, c->im.empty, h->images.empty != 0))
    } else {
        TD_TRY(pq_set_i64(w, c->ifd_count, (int64_t)h->ifd_count))
        TD_TRY(set_str(w, c->ifd_chain_error, h->ifd_chain_error))
        TD_TRY(write_images(w, c, &h->images))
    }
    TD_TRY(set_u64(w, c->fetched_bytes, f->fetched_bytes))
    TD_TRY(pq_set_i32(w, c->requests, f->requests))
    td_field_default defs[TD_TABLE_MAX_DEFAULTS];
    size_t n_defs = td_table_defaults(h, defs);
    for (int i = 0; i < TIFF_FIELD_COUNT; i++) {
        const td_field_default *d = NULL;
        for (size_t j = 0; j < n_defs; j++)
            if (defs[j].field == i)
                d = &defs[j];
        TD_TRY(d ? set_default(w, c->field[i], d)
                 : set_value(w, c->field[i], field_kind[i], &h->field[i]))
    }
    if (h->has_geokeys) {
        /* a directory without named keys is a struct of nulls, not a null struct: one
         * field set null makes the struct present when no value does */
        bool any = false;
        for (int i = 0; i < TIFF_GEOKEY_COUNT; i++) {
            TD_TRY(set_value(w, c->geokey[i], geokey_kind[i], &h->geokey[i]))
            any |= h->geokey[i].present;
        }
        if (!any)
            TD_TRY(pq_set_null(w, c->geokey[0]))
        int64_t gh[4];
        for (int i = 0; i < 4; i++)
            gh[i] = h->geokeys_header[i];
        TD_TRY(pq_set_list_i64(w, c->geokeys_header, gh, 4))
        TD_TRY(set_extras(w, c->geokeys_other, h->geokeys_other, h->n_geokeys_other))
    }
    TD_TRY(set_extras(w, c->other_tags, h->other_tags, h->n_other_tags))
    TD_TRY(pq_list_begin(w, c->warnings))
    for (size_t i = 0; i < h->n_warnings; i++)
        if (h->warnings[i])
            TD_TRY(pq_list_push_bytes(w, c->warnings, h->warnings[i], strlen(h->warnings[i])))
    if (f->geo && f->geo->warning)
        TD_TRY(pq_list_push_bytes(w, c->warnings, f->geo->warning, strlen(f->geo->warning)))
    TD_TRY(pq_list_end(w, c->warnings))
    TD_TRY(pq_list_begin(w, c->defaulted))
    for (size_t j = 0; j < n_defs; j++)
        TD_TRY(pq_list_push_bytes(w, c->defaulted, defs[j].name, strlen(defs[j].name)))
    TD_TRY(pq_list_end(w, c->defaulted))
    if (f->geo)
        TD_TRY(set_geo(w, c, f->geo))
    return pq_end_row(w);
}

int td_table_write_error(pq_writer *w, const td_errors_cols *c, const td_error_facts *f) {
    int rc;
    TD_TRY(set_path(w, c->path, c->path_bytes, f->path, f->path_len))
    TD_TRY(set_u64(w, c->size, f->size))
    TD_TRY(set_str(w, c->stage, f->stage))
    TD_TRY(set_str(w, c->kind, f->kind))
    TD_TRY(set_str(w, c->message, f->message))
    if (f->http_status != 0)
        TD_TRY(pq_set_i32(w, c->http_status, f->http_status))
    if (f->attempts >= 0)
        TD_TRY(pq_set_i32(w, c->attempts, f->attempts))
#undef TD_TRY
    return pq_end_row(w);
}

const pq_kv *td_table_kv(size_t *n) {
    static const pq_kv kv[] = {{TD_SCHEMA_VERSION_KEY, TD_STR(TD_SCHEMA_VERSION)}};
    *n = sizeof kv / sizeof kv[0];
    return kv;
}

/* The doc line of each TIFF field column: the tag, and for the three that async-tiff fills
 * (td_table_defaults) the default. */
#define TD_DEFAULT_NOTE "; when absent, async-tiff's default "
#define TD_FIELD_DOC(tag)                                                                \
    ((tag) == 259   ? "TIFF tag 259 of IFD 0" TD_DEFAULT_NOTE "1 (see defaulted)"        \
     : (tag) == 284 ? "TIFF tag 284 of IFD 0" TD_DEFAULT_NOTE "1 (see defaulted)"        \
     : (tag) == 339 ? "TIFF tag 339 of IFD 0" TD_DEFAULT_NOTE "[1] * samples_per_pixel " \
                      "(see defaulted)"                                                  \
                    : "TIFF tag " #tag " of IFD 0")

static const td_column_doc headers_docs[] = {
    {"path", "STRING (required)",
     "object key / path as listed by the store; bytes that are not UTF-8 as `\\xNN`"},
    {"path_bytes", "BINARY", "the key's exact bytes when it is not valid UTF-8, else null"},
    {"size", "INT64", "object size in bytes"},
    {"last_modified", "TIMESTAMP_MILLIS", "last modification time (UTC) from the listing"},
    {"etag", "STRING", "ETag from the listing, when the store gives one"},
    {"byte_order", "STRING", "\"II\" (little-endian) or \"MM\" (big-endian)"},
    {"bigtiff", "BOOLEAN", "BigTIFF (magic 43)"},
    {"first_ifd_offset", "INT64", "offset of IFD 0"},
    {"ifd_count", "INT64", "IFDs in the main chain; null with fetch.ifds: first"},
    {"ifd_chain_error", "STRING",
     "why the IFD chain walk stopped early; null if it did not, or with fetch.ifds: first"},
    {"ifd_bytes", "INT64",
     "end of the furthest IFD structure or out-of-line value of any image: the prefetch a "
     "reader needs; null with fetch.ifds: first"},
    {"first_data_offset", "INT64",
     "smallest strip/tile offset with data, over all images; null with fetch.ifds: first"},
    {"overview_count", "INT32",
     "reduced-resolution images of the main image, as GDAL counts; null with fetch.ifds: first"},
    {"mask_count", "INT32",
     "masks GDAL attaches to the main image and its overviews; null with fetch.ifds: first"},
    {"sparse_tiles", "INT64", "tiles/strips of the main image with offset 0 or byte count 0"},
    {"empty", "BOOLEAN", "every tile/strip of the main image is sparse"},
    {"cog_valid", "BOOLEAN",
     "GDAL's COG validator verdict; null when a check needed bytes not fetched, or with "
     "fetch.ifds: first"},
    {"cog_errors", "LIST<STRING>",
     "the validator's errors (GDAL's wording); null with fetch.ifds: first"},
    {"cog_warnings", "LIST<STRING>",
     "its warnings, and the checks that could not run; null with fetch.ifds: first"},
    {"gdal_structural_metadata", "MAP<STRING,STRING>",
     "GDAL's ghost header after the file header (LAYOUT, BLOCK_ORDER, ...); null if none or "
     "with fetch.ifds: first"},
    {"ifds", "LIST<STRUCT>",
     "every IFD: the main chain in order, then the SubIFDs; null with fetch.ifds: first"},
    {"ifds.index", "INT32", "position in this list"},
    {"ifds.parent", "INT32", "null: main chain; else index of the image whose SubIFDs list it"},
    {"ifds.position", "INT32", "position in the main chain or in the parent's SubIFDs"},
    {"ifds.ifd_offset", "INT64", "offset of the IFD"},
    {"ifds.kind", "STRING", "main (IFD 0), mask, overview (NewSubfileType bits 2, 0) or page"},
#define TD_X_DOC(n) {"ifds." #n, "INT64", "first value of the tag; null when absent"},
    TD_IMAGE_NUMS(TD_X_DOC)
#undef TD_X_DOC
        {"ifds.blocks", "INT64", "tiles (when tiled) or strips"},
    {"ifds.first_data_offset", "INT64", "smallest offset of a tile/strip with data"},
    {"ifds.sparse_blocks", "INT64", "tiles/strips with offset 0 or byte count 0"},
    {"fetched_bytes", "INT64", "bytes fetched to parse the header"},
    {"requests", "INT32", "range requests made for this object, each retry counted"},
#define TD_X_DOC(name, tag, kind) {#name, TD_T_##kind, TD_FIELD_DOC(tag)},
    TIFF_FIELDS(TD_X_DOC)
#undef TD_X_DOC
        {"geokeys", "STRUCT", "named GeoKeys; null when there is no GeoKeyDirectory"},
#define TD_X_DOC(name, id, kind) {"geokeys." #name, TD_T_##kind, "GeoKey " #id},
    TIFF_GEOKEYS(TD_X_DOC)
#undef TD_X_DOC
        {"geokeys_header", "LIST<INT64>",
         "GeoKeyDirectory header: version, revision, minor, count"},
    {"geokeys_other", "MAP<STRING,STRING>", "GeoKeys without a column: decimal id -> JSON"},
    {"other_tags", "MAP<STRING,STRING>", "IFD 0 tags without a column: decimal id -> JSON"},
    {"warnings", "LIST<STRING>", "problems tolerated while parsing (value kept or skipped)"},
    {"defaulted", "LIST<STRING>",
     "columns holding async-tiff's default because the tag is absent (compression, "
     "planar_configuration, sample_format); empty when none"},
    {"geometry", "BINARY",
     "footprint, WKB Polygon/MultiPolygon in OGC:CRS84 (GeoParquet); null when not known; "
     "null with output.footprints: false, as every column below"},
    {"bbox", "STRUCT", "the footprint's bbox (GeoParquet covering); xmin > xmax across 180"},
    {"bbox.xmin", "DOUBLE", "west longitude"},
    {"bbox.ymin", "DOUBLE", "south latitude"},
    {"bbox.xmax", "DOUBLE", "east longitude"},
    {"bbox.ymax", "DOUBLE", "north latitude"},
    {"proj_code", "STRING", "CRS as \"EPSG:n\" (STAC proj:code); null when user-defined"},
    {"proj_shape", "LIST<INT64>", "[height, width] (STAC proj:shape)"},
    {"proj_transform", "LIST<DOUBLE>",
     "affine [a, b, c, d, e, f], PixelIsPoint shifted as GDAL (STAC proj:transform)"},
    {"proj_bbox", "LIST<DOUBLE>", "[xmin, ymin, xmax, ymax] in the native CRS (proj:bbox)"},
    {"proj_wkt2", "STRING", "user-defined CRS as WKT2 (proj:wkt2); null with a proj_code"},
    {"proj_projjson", "STRING", "user-defined CRS as PROJJSON (proj:projjson)"},
};

static const td_column_doc errors_docs[] = {
    {"path", "STRING (required)", "object key / path; bytes that are not UTF-8 as `\\xNN`"},
    {"path_bytes", "BINARY", "the key's exact bytes when it is not valid UTF-8, else null"},
    {"size", "INT64", "object size in bytes, when known"},
    {"stage", "STRING", "list, fetch or parse"},
    {"kind", "STRING", "stable short error code"},
    {"message", "STRING", "human-readable detail"},
    {"http_status", "INT32", "last HTTP status, null when none"},
    {"attempts", "INT32", "attempts made"},
};

size_t td_table_columns(td_table_id t, const td_column_doc **out) {
    if (t == TD_TABLE_ERRORS) {
        *out = errors_docs;
        return sizeof errors_docs / sizeof errors_docs[0];
    }
    *out = headers_docs;
    return sizeof headers_docs / sizeof headers_docs[0];
}
