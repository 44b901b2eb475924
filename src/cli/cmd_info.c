/* cmd_info.c - `tiff-dumper info [--json] [-o KEY=VALUE]... FILE|URL...`.
 * Reads each object with the pipeline's object reader (reader.h: the prefetch of `headers`'
 * defaults from offset 0, then the parser's rounds of ranges) and prints the header: JSON
 * Lines with --json, an aligned text form otherwise. A local FILE is read through the local
 * store rooted at its folder, a URL (s3://, gs://, az://, http(s)://, file://) through the
 * store backend of its scheme, each on a private loop. */
#include "cmd_info.h"
#include "config.h"
#include "geo.h"

#include "pipeline.h"
#include "reader.h"
#include "say.h"
#include "store.h"
#include "table.h"
#include "tiff.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define INFO_MAX_ROUNDS 100000

static const char usage_text[] =
    "usage: tiff-dumper info [--json] [-o KEY=VALUE]... FILE|URL...\n"
    "\n"
    "Parse the TIFF / BigTIFF / GeoTIFF header of each local FILE or store URL (first IFD,\n"
    "IFD chain, GeoKeys) the way `tiff-dumper headers` does: one 16 KiB read from offset 0,\n"
    "then only the ranges the parser asks for. URLs: s3://BUCKET/KEY, gs://BUCKET/KEY,\n"
    "az://CONTAINER/KEY, http(s)://HOST/PATH, file:///PATH; credentials come from the\n"
    "usual environment variables (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*).\n"
    "\n"
    "  --json             one JSON object per file (JSON Lines): {\"path\":..., fields...}\n"
    "                     or {\"path\":..., \"error\":KIND, \"message\":...}\n"
    "  -o, --option K=V   a store option, as under store.obstore_config in the config\n"
    "                     (e.g. -o skip_signature=true -o region=eu-central-1)\n"
    "  -h, --help         this text\n"
    "\n"
    "Without --json: file facts, the named fields present, GeoKeys, other tags, warnings.\n"
    "Exit status: 0 all files parsed, 1 some failed, 2 usage error.\n";

/* ---- reading: every FILE or URL goes through a store and the object reader ----------- */

typedef struct {
    bool done;
    td_read_result res;
} info_wait;

static void info_read_cb(td_reader *r, const td_read_result *res, void *ud) {
    (void)r;
    info_wait *w = ud;
    w->done = true;
    w->res = *res;
}

/* One object's outcome, as printed: a header, or a kind and a message. */
typedef struct {
    const tiff_header *hdr;
    const char *kind;
    char message[512];
} info_outcome;

/* Reads key from the store at root on a private loop and calls show() while the header is
 * still valid. local: every failure of the store counts as "io" (a local file's kind). */
static void read_object(const char *root, const store_options *opts, const char *key, uint64_t size,
                        bool local, void (*show)(const info_outcome *, void *), void *ud) {
    info_outcome oc = {NULL, "io", ""};
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        oc.kind = "nomem";
        snprintf(oc.message, sizeof oc.message, "out of memory");
        show(&oc, ud);
        return;
    }
    store *st = NULL;
    td_reader *rd = NULL;
    char err[512] = "";
    int rc = store_open(&st, &loop, root, opts, err, sizeof err);
    if (rc != 0) {
        snprintf(oc.message, sizeof oc.message, "%s", err[0] ? err : store_strerror(rc));
        oc.kind = local ? "io" : store_err_name(rc);
    } else {
        /* the fetch defaults of `headers` (td_pipeline_options_init), no config */
        td_pipeline_options d;
        td_pipeline_options_init(&d);
        td_reader_options ro = {d.fetch.prefetch_bytes, d.fetch.max_header_bytes, INFO_MAX_ROUNDS,
                                NULL, NULL};
        info_wait w = {false, {0}};
        if (td_reader_new(&rd, st, &ro) != 0) {
            oc.kind = "nomem";
            snprintf(oc.message, sizeof oc.message, "out of memory");
        } else {
            td_reader_start(rd, key, size, info_read_cb, &w);
            while (!w.done && uv_run(&loop, UV_RUN_ONCE)) {
            }
        }
        if (rd && !w.done) {
            oc.kind = local ? "io" : store_err_name(STORE_E_CANCELED);
            snprintf(oc.message, sizeof oc.message, "%s", store_strerror(STORE_E_CANCELED));
        } else if (rd) {
            switch (w.res.status) {
            case TD_READ_OK:
                oc.hdr = td_reader_header(rd);
                break;
            case TD_READ_FETCH:
                oc.kind = local ? "io" : store_err_name(w.res.code);
                break;
            case TD_READ_PARSE:
                oc.kind = tiff_err_name(w.res.code);
                break;
            case TD_READ_ROUNDS: /* the round cap */
            case TD_READ_STOPPED:
                oc.kind = "limit";
                break;
            }
            if (!oc.hdr)
                snprintf(oc.message, sizeof oc.message, "%s", w.res.message);
        }
    }
    show(&oc, ud);
    td_reader_free(rd);
    if (st)
        store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT); /* let closing handles finish */
    uv_loop_close(&loop);
}

/* A local FILE: checked here first, so that a missing or special file says so as it always
 * did; then read through the local store rooted at its folder. */
static void read_file(const char *path, void (*show)(const info_outcome *, void *), void *ud) {
    info_outcome oc = {NULL, "io", ""};
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(oc.message, sizeof oc.message, "cannot open: %s", strerror(errno));
        show(&oc, ud);
        return;
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular) {
        snprintf(oc.message, sizeof oc.message, "not a regular file");
        show(&oc, ud);
        return;
    }
    const char *slash = strrchr(path, '/');
    char *root = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!root) {
        oc.kind = "nomem";
        snprintf(oc.message, sizeof oc.message, "out of memory");
        show(&oc, ud);
        return;
    }
    store_options opts = STORE_OPTIONS_INIT; /* -o options are for URLs' stores */
    opts.max_in_flight = 4;
    read_object(root, &opts, slash ? slash + 1 : path, (uint64_t)st.st_size, true, show, ud);
    free(root);
}

/* A URL names a store (everything up to the last '/') and a key (the rest). */
static int is_url(const char *s) { return ut_url_scheme_len(s, strlen(s)) > 0; }

/* "a%20b" -> "a b" (path decoding: '+' stays, a stray '%' stays); NULL if out of memory or
 * an encoded NUL, and the key is then taken as it is. */
static char *pct_decode(const char *s) {
    ut_buf b = {0};
    if (ut_pct_decode(&b, s, strlen(s), UT_PCT_LENIENT | UT_PCT_NO_NUL) != 0) {
        ut_buf_free(&b);
        return NULL;
    }
    return ut_buf_take(&b);
}

static void read_url(const char *url, const store_options *opts,
                     void (*show)(const info_outcome *, void *), void *ud) {
    info_outcome oc = {NULL, "config", ""};
    const char *host = url + ut_url_scheme_len(url, strlen(url)) + 3; /* is_url said so */
    const char *slash = strrchr(host, '/');
    if (!slash || !slash[1]) {
        snprintf(oc.message, sizeof oc.message,
                 "'%s' names no object: expected SCHEME://BUCKET/KEY", url);
        show(&oc, ud);
        return;
    }
    bool http = !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
    if (http && strpbrk(host, "?#")) {
        /* a presigned or SAS URL: its query would become part of the key (and be sent,
         * percent-encoded, where no redaction recognises it); store URLs take none */
        snprintf(oc.message, sizeof oc.message,
                 "'%s' has a query string or fragment: give the object's plain URL (a "
                 "presigned or SAS URL is not supported; pass credentials with -o)",
                 url);
        show(&oc, ud);
        return;
    }
    char *root = strndup(url, (size_t)(slash - url));
    const char *key = slash + 1;
    /* an http(s) URL's path is percent-encoded (as a browser shows it); stores take the key
     * itself and encode it for their requests */
    char *key_dec = NULL;
    if (http) {
        key_dec = pct_decode(key);
        if (key_dec)
            key = key_dec;
    }
    if (!root) {
        oc.kind = "nomem";
        snprintf(oc.message, sizeof oc.message, "out of memory");
        show(&oc, ud);
    } else {
        read_object(root, opts, key, UINT64_MAX, false, show, ud);
    }
    free(root);
    free(key_dec);
}

static void json_str(FILE *out, const char *s) {
    if (!s) {
        fputs("null", out);
        return;
    }
    ut_buf b = {0};
    ut_json_escape(&b, s, strlen(s));
    fputs(b.bad ? "null" : ut_buf_str(&b), out);
    ut_buf_free(&b);
}

/* Printable form of a string value: control characters escaped (ut_escape_ctl: C0, DEL,
 * C1 and bytes that are not UTF-8, so a tag cannot drive the terminal), long text cut. */
static void text_str(FILE *out, const char *s, size_t n) {
    size_t shown = n > 200 ? 200 : n;
    while (shown < n && shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
        shown--; /* not inside a character */
    ut_buf b = {0};
    ut_escape_ctl(&b, s, shown);
    fputs(ut_buf_str(&b), out);
    ut_buf_free(&b);
    if (shown < n)
        fprintf(out, "... (%zu bytes)", n);
}

static void text_value(FILE *out, const tiff_value *v, tiff_kind kind) {
    switch (kind) {
    case TIFF_K_INT:
    case TIFF_K_COUNT:
        fprintf(out, "%lld", (long long)v->u.i);
        break;
    case TIFF_K_DOUBLE:
        fprintf(out, "%.17g", v->u.d);
        break;
    case TIFF_K_INT_LIST:
        for (uint64_t i = 0; i < v->count && i < 32; i++)
            fprintf(out, "%s%lld", i ? ", " : "", (long long)v->u.ints[i]);
        if (v->count > 32)
            fprintf(out, ", ... (%llu values)", (unsigned long long)v->count);
        break;
    case TIFF_K_DOUBLE_LIST:
        for (uint64_t i = 0; i < v->count && i < 32; i++)
            fprintf(out, "%s%.17g", i ? ", " : "", v->u.dbls[i]);
        if (v->count > 32)
            fprintf(out, ", ... (%llu values)", (unsigned long long)v->count);
        break;
    case TIFF_K_STRING:
        text_str(out, v->u.str, (size_t)v->count);
        break;
    case TIFF_K_BINARY:
        for (uint64_t i = 0; i < v->count && i < 24; i++)
            fprintf(out, "%02x", v->u.bytes[i]);
        fprintf(out, "%s (%llu bytes)", v->count > 24 ? "..." : "", (unsigned long long)v->count);
        break;
    }
}

/* ---- every image and the COG verdict (issue 15) */

static void text_opt(FILE *out, int w, int64_t v) {
    if (v == TIFF_ABSENT)
        fprintf(out, " %*s", w, "-");
    else
        fprintf(out, " %*lld", w, (long long)v);
}

static void print_images(FILE *out, const tiff_images *im) {
    fprintf(out, "  %-28s %llu\n", "ifd_bytes", (unsigned long long)im->ifd_bytes);
    fprintf(out, "  %-28s ", "first_data_offset");
    if (im->first_data_offset == TIFF_ABSENT)
        fprintf(out, "-\n");
    else
        fprintf(out, "%lld\n", (long long)im->first_data_offset);
    fprintf(out, "  %-28s %d\n", "overview_count", im->overview_count);
    fprintf(out, "  %-28s %d\n", "mask_count", im->mask_count);
    if (im->sparse_tiles != TIFF_ABSENT)
        fprintf(out, "  %-28s %lld%s\n", "sparse_tiles", (long long)im->sparse_tiles,
                im->empty == 1 ? " (empty: every tile/strip)" : "");
    fprintf(out, "  %-28s %s\n", "cog_valid",
            im->cog_valid < 0 ? "unknown"
            : im->cog_valid   ? "yes"
                              : "no");
    for (size_t i = 0; i < im->n_cog_errors; i++) {
        fprintf(out, "    error: ");
        text_str(out, im->cog_errors[i], strlen(im->cog_errors[i]));
        fputc('\n', out);
    }
    for (size_t i = 0; i < im->n_cog_warnings; i++) {
        fprintf(out, "    warning: ");
        text_str(out, im->cog_warnings[i], strlen(im->cog_warnings[i]));
        fputc('\n', out);
    }
    if (im->has_ghost) {
        fprintf(out, "  gdal_structural_metadata\n");
        for (size_t i = 0; i < im->n_ghost; i++) {
            fprintf(out, "    %-26s ", im->ghost[i].key);
            text_str(out, im->ghost[i].value, strlen(im->ghost[i].value));
            fputc('\n', out);
        }
    }
    if (!im->n)
        return;
    fprintf(out,
            "  ifds\n    %4s %6s %-8s %7s %7s %5s %5s %6s %5s %5s %3s %4s %3s %6s %4s %7s %11s %7s "
            "%11s\n",
            "#", "parent", "kind", "width", "height", "tile", "tileh", "rows", "compr", "photo",
            "spp", "bits", "fmt", "subtyp", "plan", "pred", "ifd_offset", "blocks", "first_data");
    for (size_t i = 0; i < im->n; i++) {
        const tiff_image *m = &im->v[i];
        fprintf(out, "    %4u", m->index);
        text_opt(out, 6, m->parent < 0 ? TIFF_ABSENT : m->parent);
        fprintf(out, " %-8s", tiff_image_kind_name(m->kind));
        text_opt(out, 7, m->width);
        text_opt(out, 7, m->height);
        text_opt(out, 5, m->tile_width);
        text_opt(out, 5, m->tile_height);
        text_opt(out, 6, m->rows_per_strip);
        text_opt(out, 5, m->compression);
        text_opt(out, 5, m->photometric);
        text_opt(out, 3, m->samples_per_pixel);
        text_opt(out, 4, m->bits_per_sample);
        text_opt(out, 3, m->sample_format);
        text_opt(out, 6, m->new_subfile_type);
        text_opt(out, 4, m->planar);
        text_opt(out, 7, m->predictor);
        fprintf(out, " %11llu", (unsigned long long)m->ifd_offset);
        text_opt(out, 7, m->blocks);
        text_opt(out, 11, m->first_data_offset);
        if (m->sparse_blocks > 0)
            fprintf(out, " (%lld sparse)", (long long)m->sparse_blocks);
        fputc('\n', out);
    }
}

static void print_text(FILE *out, const char *path, const tiff_header *h) {
    fprintf(out, "%s\n", path); /* cleaned by the caller */
    fprintf(out, "  %-28s %s\n", "byte_order",
            h->little_endian ? "II (little-endian)" : "MM (big-endian)");
    fprintf(out, "  %-28s %s\n", "bigtiff", h->bigtiff ? "yes" : "no");
    fprintf(out, "  %-28s %llu\n", "first_ifd_offset", (unsigned long long)h->first_ifd_offset);
    fprintf(out, "  %-28s %u\n", "ifd_count", h->ifd_count);
    if (h->ifd_chain_error) {
        fprintf(out, "  %-28s ", "ifd_chain_error");
        text_str(out, h->ifd_chain_error, strlen(h->ifd_chain_error));
        fputc('\n', out);
    }
    print_images(out, &h->images);
    for (int f = 0; f < TIFF_FIELD_COUNT; f++) {
        if (!h->field[f].present)
            continue;
        fprintf(out, "  %-28s ", tiff_field_infos[f].name);
        text_value(out, &h->field[f], tiff_field_infos[f].kind);
        fputc('\n', out);
    }
    if (h->has_geokeys) {
        fprintf(out, "  geokeys (version %u, revision %u.%u, %u keys)\n", h->geokeys_header[0],
                h->geokeys_header[1], h->geokeys_header[2], h->geokeys_header[3]);
        for (int g = 0; g < TIFF_GEOKEY_COUNT; g++) {
            if (!h->geokey[g].present)
                continue;
            fprintf(out, "    %-26s ", tiff_geokey_infos[g].name);
            text_value(out, &h->geokey[g], tiff_geokey_infos[g].kind);
            fputc('\n', out);
        }
        for (size_t i = 0; i < h->n_geokeys_other; i++)
            fprintf(out, "    %-26u %s\n", h->geokeys_other[i].id, h->geokeys_other[i].json);
    }
    if (h->n_other_tags) {
        fprintf(out, "  other tags\n");
        for (size_t i = 0; i < h->n_other_tags; i++) {
            const tiff_extra *x = &h->other_tags[i];
            fprintf(out, "    %-26u ", x->id);
            text_str(out, x->json, x->json_len);
            fputc('\n', out);
        }
    }
    if (h->n_warnings) {
        fprintf(out, "  warnings\n");
        for (size_t i = 0; i < h->n_warnings; i++) {
            fputs("    ", out);
            text_str(out, h->warnings[i], strlen(h->warnings[i]));
            fputc('\n', out);
        }
    }
}

typedef struct {
    int json, failed, printed;
    const char *path;
    char *jbuf;
    size_t jlen, jcap;
    td_geo_ctx *geo; /* NULL: PROJ unusable, no georeferencing shown */
} info_print;

/* issue 14 (d1): the header as the headers table has it, async-tiff's defaults filled
 * (td_table_defaults) into a shallow copy; names the filled fields in defs. NULL stays NULL;
 * on out of memory the header as parsed. *ones is freed by the caller. */
static const tiff_header *with_defaults(const tiff_header *h, tiff_header *copy, int64_t **ones,
                                        td_field_default *defs, size_t *n_defs) {
    *n_defs = h ? td_table_defaults(h, defs) : 0;
    if (!*n_defs)
        return h;
    *copy = *h;
    for (size_t i = 0; i < *n_defs; i++) {
        const td_field_default *d = &defs[i];
        tiff_value *v = &copy->field[d->field];
        if (d->list_len) {
            *ones = malloc(d->list_len * sizeof **ones);
            if (!*ones) {
                *n_defs = 0;
                return h;
            }
            for (size_t j = 0; j < d->list_len; j++)
                (*ones)[j] = d->value;
            *v = (tiff_value){true, d->list_len, {.ints = *ones}};
        } else {
            *v = (tiff_value){true, 1, {.i = d->value}};
        }
    }
    return copy;
}

/* ---- georeferencing (src/geo): the same values as the Parquet columns of that name */

static uint32_t wkb_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static double wkb_f64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* td_geo's WKB (little-endian Polygon / MultiPolygon, one ring each) as GeoJSON. */
static void geojson(FILE *out, const td_geo *g) {
    const uint8_t *p = g->wkb;
    uint32_t np = 1;
    if (g->multi) {
        np = wkb_u32(p + 5);
        p += 9;
    }
    fprintf(out, "{\"type\":\"%s\",\"coordinates\":[", g->multi ? "MultiPolygon" : "Polygon");
    for (uint32_t k = 0; k < np; k++) {
        uint32_t n = wkb_u32(p + 9); /* byte order, type, ring count (1), point count */
        p += 13;
        fprintf(out, "%s%s[", k ? "," : "", g->multi ? "[" : "");
        for (uint32_t i = 0; i < n; i++, p += 16)
            fprintf(out, "%s[%.17g,%.17g]", i ? "," : "", wkb_f64(p), wkb_f64(p + 8));
        fprintf(out, "]%s", g->multi ? "]" : "");
    }
    fputs("]}", out);
}

static void dbls(FILE *out, const double *d, int n, const char *sep) {
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%.17g", i ? sep : "", d[i]);
}

static void geo_json(FILE *out, const td_geo *g) {
    fputs(",\"geometry\":", out);
    if (g->wkb)
        geojson(out, g);
    else
        fputs("null", out);
    fputs(",\"bbox\":", out);
    if (g->wkb) {
        fprintf(out, "{\"xmin\":%.17g,\"ymin\":%.17g,\"xmax\":%.17g,\"ymax\":%.17g}", g->bbox[0],
                g->bbox[1], g->bbox[2], g->bbox[3]);
    } else {
        fputs("null", out);
    }
    fputs(",\"proj_code\":", out);
    json_str(out, g->proj_code);
    if (g->has_transform) {
        fprintf(out, ",\"proj_shape\":[%lld,%lld],\"proj_transform\":[", (long long)g->shape[0],
                (long long)g->shape[1]);
        dbls(out, g->transform, 6, ",");
        fputs("],\"proj_bbox\":[", out);
        dbls(out, g->proj_bbox, 4, ",");
        fputc(']', out);
    } else {
        fputs(",\"proj_shape\":null,\"proj_transform\":null,\"proj_bbox\":null", out);
    }
    fputs(",\"proj_wkt2\":", out);
    json_str(out, g->wkt2);
    fputs(",\"proj_projjson\":", out);
    json_str(out, g->projjson);
    fputs(",\"footprint_warning\":", out);
    json_str(out, g->warning);
}

static void geo_text(FILE *out, const td_geo *g) {
    if (!g->has_transform && !g->warning)
        return;
    fputs("  georeferencing\n", out);
    if (g->has_transform) {
        fprintf(out, "    %-26s %s\n", "proj_code", g->proj_code ? g->proj_code : "(none)");
        fprintf(out, "    %-26s %lld, %lld\n", "proj_shape", (long long)g->shape[0],
                (long long)g->shape[1]);
        fprintf(out, "    %-26s ", "proj_transform");
        dbls(out, g->transform, 6, ", ");
        fprintf(out, "\n    %-26s ", "proj_bbox");
        dbls(out, g->proj_bbox, 4, ", ");
        fputc('\n', out);
    }
    if (g->wkt2)
        fprintf(out, "    %-26s %s\n", "proj_wkt2", g->wkt2);
    if (g->wkb) {
        fprintf(out, "    %-26s ", "bbox (OGC:CRS84)");
        dbls(out, g->bbox, 4, ", ");
        fprintf(out, "%s\n    %-26s ", g->bbox[0] > g->bbox[2] ? " (across 180)" : "", "geometry");
        geojson(out, g);
        fputc('\n', out);
    }
    if (g->warning)
        fprintf(out, "    %-26s %s\n", "warning", g->warning);
}

/* Prints one object's outcome (called while its header is valid). */
static void show_outcome(const info_outcome *oc, void *ud) {
    info_print *pr = ud;
    tiff_header copy;
    int64_t *ones = NULL;
    td_field_default defs[TD_TABLE_MAX_DEFAULTS];
    size_t n_defs = 0;
    const tiff_header *h = with_defaults(oc->hdr, &copy, &ones, defs, &n_defs);
    const char *kind = oc->kind, *msg = oc->message;
    /* the path as given may be a URL with a password or a signature, and a store's message
     * may quote it: both redacted; for the text form also escaped (JSON escapes its own) */
    char rpath[2048], rmsg[1024], tpath[2048];
    ut_redact_to(rpath, sizeof rpath, pr->path);
    ut_redact_to(rmsg, sizeof rmsg, msg);
    msg = rmsg;
    if (pr->json) {
        fputs("{\"path\":", stdout);
        json_str(stdout, rpath);
        if (h) {
            pr->jlen = 0;
            if (tiff_header_to_json(h, &pr->jbuf, &pr->jlen, &pr->jcap) == TIFF_OK &&
                pr->jlen > 2) {
                fputc(',', stdout);
                /* the object without its braces, then defaulted and the georeferencing */
                fwrite(pr->jbuf + 1, 1, pr->jlen - 2, stdout);
                fputs(",\"defaulted\":[", stdout);
                for (size_t i = 0; i < n_defs; i++)
                    printf("%s\"%s\"", i ? "," : "", defs[i].name);
                fputc(']', stdout);
                td_geo g;
                if (pr->geo && td_geo_compute(pr->geo, h, &g) == 0)
                    geo_json(stdout, &g);
                fputc('}', stdout);
            } else {
                h = NULL;
                kind = "nomem";
                msg = "out of memory";
            }
        }
        if (!h) {
            fputs(",\"error\":", stdout);
            json_str(stdout, kind);
            fputs(",\"message\":", stdout);
            json_str(stdout, msg);
            fputc('}', stdout);
        }
        fputc('\n', stdout);
    } else {
        if (pr->printed++)
            fputc('\n', stdout);
        td_say_clean(tpath, sizeof tpath, rpath);
        char tmsg[1024];
        td_say_clean(tmsg, sizeof tmsg, msg);
        td_geo g;
        if (h) {
            print_text(stdout, tpath, h);
            for (size_t i = 0; i < n_defs; i++)
                printf("%s%s", i ? ", " : "  defaulted (tag absent)       ", defs[i].name);
            if (n_defs)
                fputc('\n', stdout);
            if (pr->geo && td_geo_compute(pr->geo, h, &g) == 0)
                geo_text(stdout, &g);
        } else {
            fprintf(stdout, "%s\n  error: %s: %s\n", tpath, kind, tmsg);
        }
    }
    if (!h)
        pr->failed = 1;
    free(ones);
}

int td_cmd_info(int argc, char **argv) {
    int json = 0, nfiles = 0;
    /* argv entries only; at most argc of each */
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    store_kv *kvs = calloc((size_t)argc + 1, sizeof *kvs);
    size_t n_kv = 0;
    if (!files || !kvs) {
        free(files);
        free(kvs);
        fprintf(stderr, "tiff-dumper info: out of memory\n");
        return 1;
    }
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (++i < argc)
                files[nfiles++] = argv[i];
            break;
        }
        if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            free(files);
            free(kvs);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--option") || !strncmp(a, "--option=", 9)) {
            char *v = a[1] == 'o'   ? (i + 1 < argc ? argv[++i] : NULL)
                      : a[8] == '=' ? a + 9
                                    : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || td_config_split_kv(v, &kvs[n_kv]) != 0) {
                td_say(stderr,
                       "tiff-dumper info: %s needs KEY=VALUE, e.g. -o skip_signature=true\n\n%s", a,
                       usage_text);
                bad = 1;
            } else {
                n_kv++;
            }
        } else if (a[0] == '-' && a[1]) {
            td_say(stderr, "tiff-dumper info: unknown option '%s'\n\n%s", a, usage_text);
            bad = 1;
        } else {
            files[nfiles++] = a;
        }
    }
    if (!bad && nfiles == 0) {
        fprintf(stderr, "tiff-dumper info: no FILE given\n\n%s", usage_text);
        bad = 1;
    }
    if (bad) {
        free(files);
        free(kvs);
        return 2;
    }
    store_options opts = STORE_OPTIONS_INIT;
    opts.kv = kvs;
    opts.n_kv = n_kv;
    opts.max_in_flight = 4;
    /* issue 14 (d1): an option the URL's store accepts without effect is said, once */
    for (size_t j = 0; j < n_kv; j++)
        for (int k = 0; k < nfiles; k++)
            if (is_url(files[k]) && store_option_is_ignored(files[k], kvs[j].key)) {
                td_say(stderr, "tiff-dumper info: warning: -o %s is accepted but has no effect\n",
                       kvs[j].key);
                break;
            }
    info_print pr = {json, 0, 0, NULL, NULL, 0, 0, NULL};
    char gerr[256];
    if (td_geo_ctx_new(&pr.geo, gerr, sizeof gerr) != 0)
        td_say(stderr, "tiff-dumper info: no georeferencing: %s\n", gerr);
    for (int k = 0; k < nfiles; k++) {
        pr.path = files[k];
        if (is_url(pr.path))
            read_url(pr.path, &opts, show_outcome, &pr);
        else
            read_file(pr.path, show_outcome, &pr);
    }
    fflush(stdout);
    td_geo_ctx_free(pr.geo);
    free(pr.jbuf);
    free(files);
    free(kvs);
    return pr.failed ? 1 : 0;
}
