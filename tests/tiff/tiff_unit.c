/* tiff_unit.c - unit tests of the TIFF header parser on hand-built byte arrays.
 * Each test builds a file in memory, serves it like a store would (prefetch, then the
 * needs() rounds) and checks the header, the requests and the errors. */
#include "tiff.h"
#include "td_test.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ file builder */

#define TBMAX (1u << 20)
typedef struct {
    uint8_t *b;
    size_t n; /* file size (max written end) */
    int le, big;
} tb;

static void tb_byte(tb *t, uint64_t off, uint8_t v) {
    if (off >= TBMAX)
        abort();
    t->b[off] = v;
    if (off + 1 > t->n)
        t->n = (size_t)off + 1;
}
static void tb_uint(tb *t, uint64_t off, uint64_t v, unsigned size) {
    for (unsigned i = 0; i < size; i++) {
        unsigned shift = 8 * (t->le ? i : size - 1 - i);
        tb_byte(t, off + i, (uint8_t)(v >> shift));
    }
}

static void tb_init(tb *t, int le, int big, uint64_t ifd0) {
    static uint8_t buf[TBMAX];
    memset(buf, 0, sizeof buf);
    t->b = buf;
    t->n = 0;
    t->le = le;
    t->big = big;
    tb_byte(t, 0, le ? 'I' : 'M');
    tb_byte(t, 1, le ? 'I' : 'M');
    tb_uint(t, 2, big ? 43 : 42, 2);
    if (big) {
        tb_uint(t, 4, 8, 2);
        tb_uint(t, 6, 0, 2);
        tb_uint(t, 8, ifd0, 8);
    } else {
        tb_uint(t, 4, ifd0, 4);
    }
}

typedef struct {
    uint16_t tag, type;
    uint64_t count;
    const void *vals; /* ints: uint64_t[]; 11/12: double[]; 5/10: uint64_t[2*count];
                         1/2/6/7: bytes */
    uint64_t at;      /* out-of-line position (0 = after the IFD) */
} te;

static const unsigned tsize[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};

static void tb_values(tb *t, uint64_t pos, const te *e) {
    unsigned sz = e->type < 19 ? tsize[e->type] : 1;
    if (!sz)
        sz = 1;
    for (uint64_t i = 0; i < e->count && e->vals; i++) {
        uint64_t p = pos + i * sz;
        switch (e->type) {
        case 1:
        case 2:
        case 6:
        case 7:
            tb_byte(t, p, ((const uint8_t *)e->vals)[i]);
            break;
        case 5:
        case 10:
            tb_uint(t, p, ((const uint64_t *)e->vals)[2 * i], 4);
            tb_uint(t, p + 4, ((const uint64_t *)e->vals)[2 * i + 1], 4);
            break;
        case 11: {
            float f = (float)((const double *)e->vals)[i];
            uint32_t u;
            memcpy(&u, &f, 4);
            tb_uint(t, p, u, 4);
            break;
        }
        case 12: {
            uint64_t u;
            memcpy(&u, &((const double *)e->vals)[i], 8);
            tb_uint(t, p, u, 8);
            break;
        }
        default:
            tb_uint(t, p, ((const uint64_t *)e->vals)[i], sz);
        }
    }
}

/* Writes an IFD at off; out-of-line values go to e->at or after the IFD. Returns the end of
 * everything written. */
static uint64_t tb_ifd(tb *t, uint64_t off, const te *es, size_t n, uint64_t next) {
    unsigned cs = t->big ? 8 : 2, esz = t->big ? 20 : 12, os = t->big ? 8 : 4;
    tb_uint(t, off, n, cs);
    uint64_t data = off + cs + n * esz + os, end = data;
    for (size_t i = 0; i < n; i++) {
        const te *e = &es[i];
        uint64_t p = off + cs + i * esz;
        tb_uint(t, p, e->tag, 2);
        tb_uint(t, p + 2, e->type, 2);
        tb_uint(t, p + 4, e->count, t->big ? 8 : 4);
        unsigned sz = e->type < 19 ? tsize[e->type] : 0;
        uint64_t vsize = sz ? e->count * sz : 0;
        uint64_t vf = p + (t->big ? 12 : 8);
        if (sz && vsize <= os) {
            tb_values(t, vf, e);
        } else {
            uint64_t at = e->at ? e->at : data;
            if (!e->at) {
                data += vsize + (vsize & 1);
            }
            tb_uint(t, vf, at, os);
            if (sz)
                tb_values(t, at, e);
            if (sz && at + vsize > end)
                end = at + vsize;
        }
    }
    tb_uint(t, off + cs + n * esz, next, os);
    if (data > end)
        end = data;
    if (t->n < end)
        t->n = (size_t)end;
    return end;
}

/* ------------------------------------------------------------------ serving */

static tiff_parser *P;
static int requests;
static uint64_t fetched;

/* Serve buf like a store: prefetch bytes from 0, then each needs() round. size_known 0 ->
 * the parser learns nothing about the size (ranges past the end are answered short). */
static int serve(const uint8_t *buf, size_t n, size_t prefetch, int size_known) {
    tiff_parser_reset(P, size_known ? n : TIFF_SIZE_UNKNOWN);
    size_t first = prefetch < n ? prefetch : n;
    requests = 1;
    fetched = first;
    if (tiff_parser_feed(P, 0, buf, first) != TIFF_OK)
        return -100;
    int rc;
    int rounds = 0;
    while ((rc = tiff_parser_run(P)) == TIFF_NEED) {
        const tiff_range *r;
        size_t k = tiff_parser_needs(P, &r);
        if (k == 0 || ++rounds > 1000)
            return -101;
        for (size_t i = 0; i < k; i++) {
            if (i && r[i].offset <= r[i - 1].offset + r[i - 1].length)
                return -102; /* merged */
            requests++;
            uint64_t off = r[i].offset, len = r[i].length;
            if (off >= n)
                continue;
            if (off + len > n)
                len = n - off;
            fetched += len;
            if (tiff_parser_feed(P, off, buf + off, (size_t)len) != TIFF_OK)
                return -103;
        }
    }
    return rc;
}

static const tiff_header *H(void) { return tiff_parser_header(P); }

static const tiff_extra *other(uint16_t id) {
    const tiff_header *h = H();
    for (size_t i = 0; h && i < h->n_other_tags; i++)
        if (h->other_tags[i].id == id)
            return &h->other_tags[i];
    return NULL;
}

static int other_is(uint16_t id, const char *json) {
    const tiff_extra *x = other(id);
    if (!x) {
        fprintf(stderr, "  tag %u missing from other_tags\n", id);
        return 0;
    }
    if (strcmp(x->json, json) != 0 || x->json_len != strlen(json)) {
        fprintf(stderr, "  tag %u: got %s\n        want %s\n", id, x->json, json);
        return 0;
    }
    return 1;
}

static int has_warning(const char *needle) {
    const tiff_header *h = H();
    for (size_t i = 0; h && i < h->n_warnings; i++)
        if (strstr(h->warnings[i], needle))
            return 1;
    return 0;
}

static void dump(void) {
    const tiff_header *h = H();
    fprintf(stderr, "  requests %d fetched %llu err '%s'\n", requests, (unsigned long long)fetched,
            tiff_parser_errmsg(P));
    for (size_t i = 0; h && i < h->n_warnings; i++)
        fprintf(stderr, "  warning: %s\n", h->warnings[i]);
    for (size_t i = 0; h && i < h->n_other_tags && i < 5; i++)
        fprintf(stderr, "  other: %u %.200s\n", h->other_tags[i].id, h->other_tags[i].json);
}

static int errmsg_has(const char *needle) { return strstr(tiff_parser_errmsg(P), needle) != NULL; }

#define U64(...) ((const uint64_t[]){__VA_ARGS__})
#define DBL(...) ((const double[]){__VA_ARGS__})
#define STR(s) ((const uint8_t *)(s))

/* ------------------------------------------------------------------ tests */

static void basic_file(tb *t, int le, int big) {
    tb_init(t, le, big, big ? 16 : 8);
    te e[] = {
        {256, 3, 1, U64(640), 0},
        {257, 4, 1, U64(480), 0},
        {258, 3, 3, U64(8, 8, 8), 0},
        {259, 3, 1, U64(8), 0},
        {262, 3, 1, U64(2), 0},
        {270, 2, 12, STR("a picture\0\0\0"), 0},
        {277, 3, 1, U64(3), 0},
        {282, 5, 1, U64(300, 2), 0},
        {283, 5, 1, U64(1, 0), 0},
        {305, 2, 9, STR("  tool 1 "), 0},
        {322, 3, 1, U64(256), 0},
        {323, 3, 1, U64(256), 0},
        {324, 4, 2, U64(5000, 4000), 0},
        {325, 4, 2, U64(100, 100), 0},
        {339, 3, 3, U64(1, 1, 1), 0},
        {33550, 12, 3, DBL(10.5, 10.5, 0), 0},
        {33922, 12, 6, DBL(0, 0, 0, 440720, 3751320, 0), 0},
        {42113, 2, 4, STR("-99\0"), 0},
    };
    tb_ifd(t, big ? 16 : 8, e, sizeof e / sizeof e[0], 0);
    if (t->n < 6000)
        t->n = 6000;
}

static void test_basic(void) {
    for (int big = 0; big < 2; big++)
        for (int le = 0; le < 2; le++) {
            td_test_context = big ? (le ? "basic BigTIFF II" : "basic BigTIFF MM")
                                  : (le ? "basic classic II" : "basic classic MM");
            tb t;
            basic_file(&t, le, big);
            int rc = serve(t.b, t.n, 16384, 1);
            CHECK(rc == TIFF_OK);
            CHECK(requests == 1);
            const tiff_header *h = H();
            if (!h)
                continue;
            CHECK(h->little_endian == (le != 0));
            CHECK(h->bigtiff == (big != 0));
            CHECK(h->first_ifd_offset == (big ? 16u : 8u));
            CHECK(h->ifd_count == 1);
            CHECK(h->ifd_chain_error == NULL);
            CHECK(h->images.first_data_offset == 4000);
            CHECK(h->field[TIFF_F_image_width].present && h->field[TIFF_F_image_width].u.i == 640);
            CHECK(h->field[TIFF_F_image_height].u.i == 480);
            CHECK(h->field[TIFF_F_bits_per_sample].count == 3 &&
                  h->field[TIFF_F_bits_per_sample].u.ints[2] == 8);
            CHECK(h->field[TIFF_F_compression].u.i == 8);
            CHECK(h->field[TIFF_F_x_resolution].present &&
                  h->field[TIFF_F_x_resolution].u.d == 150.0);
            CHECK(!h->field[TIFF_F_y_resolution].present); /* den 0 */
            CHECK(h->field[TIFF_F_image_description].present &&
                  strcmp(h->field[TIFF_F_image_description].u.str, "a picture") == 0);
            CHECK(strcmp(h->field[TIFF_F_software].u.str, "tool 1") == 0);
            CHECK(h->field[TIFF_F_software].count == 6);
            CHECK(h->field[TIFF_F_tile_offsets_count].present &&
                  h->field[TIFF_F_tile_offsets_count].u.i == 2);
            CHECK(h->field[TIFF_F_tile_byte_counts_count].u.i == 2);
            CHECK(!h->field[TIFF_F_strip_offsets_count].present);
            CHECK(h->field[TIFF_F_model_pixel_scale].count == 3 &&
                  h->field[TIFF_F_model_pixel_scale].u.dbls[0] == 10.5);
            CHECK(h->field[TIFF_F_model_tiepoint].u.dbls[4] == 3751320);
            CHECK(strcmp(h->field[TIFF_F_gdal_nodata].u.str, "-99") == 0);
            CHECK(!h->field[TIFF_F_artist].present);
            /* GDAL_NODATA also in other_tags, as async-tiff 0.1.0 (no getter) has it */
            CHECK(h->n_other_tags == 1 && h->other_tags[0].id == 42113 &&
                  strstr(h->other_tags[0].json, "{\"type\":2,") &&
                  strstr(h->other_tags[0].json, "\"value\":\"-99\"}"));
            CHECK(h->n_warnings == 0);
            CHECK(!h->has_geokeys);
            char *buf = NULL;
            size_t len = 0, cap = 0;
            CHECK(tiff_header_to_json(h, &buf, &len, &cap) == TIFF_OK);
            CHECK(buf && strstr(buf, big ? "\"bigtiff\":true" : "\"bigtiff\":false"));
            CHECK(buf && strstr(buf, le ? "\"byte_order\":\"II\"" : "\"byte_order\":\"MM\""));
            CHECK(buf && strstr(buf, "\"image_width\":640,"));
            CHECK(buf && strstr(buf, "\"y_resolution\":null,"));
            CHECK(buf && strstr(buf, "\"model_pixel_scale\":[10.5,10.5,0.0]"));
            CHECK(buf && strstr(buf, "\"software\":\"tool 1\""));
            CHECK(buf && strstr(buf, "\"geokeys\":null"));
            CHECK(buf && strstr(buf, "\"other_tags\":{\"42113\":{\"type\":2,"));
            CHECK(buf && len == strlen(buf) && buf[len - 1] == '}');
            free(buf);
        }
}

/* Every field type, inline (count 1) and at an offset (count 5), in other_tags. */
static void test_types(void) {
    for (int big = 0; big < 2; big++)
        for (int le = 0; le < 2; le++) {
            td_test_context = "field types";
            tb t;
            tb_init(&t, le, big, 8 + 8 * big);
            uint8_t bytes[5] = {0x00, 0x7f, 0x80, 0xff, 0x10};
            uint64_t sb[5] = {0xff, 0x80, 1, 0, 0x7f}; /* as raw bytes below */
            uint8_t sbytes[5];
            for (int i = 0; i < 5; i++)
                sbytes[i] = (uint8_t)sb[i];
            te e[] = {
                {256, 4, 1, U64(1), 0},
                {60001, 1, 1, bytes, 0},
                {60002, 1, 5, bytes, 0},
                {60003, 2, 2, STR("x\0"), 0},
                {60004, 2, 6, STR("hello\0"), 0},
                {60005, 3, 1, U64(65535), 0},
                {60006, 3, 5, U64(1, 2, 3, 4, 65535), 0},
                {60007, 4, 1, U64(4294967295u), 0},
                {60008, 4, 5, U64(1, 2, 3, 4, 4294967295u), 0},
                {60009, 5, 1, U64(1, 3), 0},
                {60010, 5, 2, U64(4294967295u, 1, 0, 0), 0},
                {60011, 6, 1, sbytes, 0},
                {60012, 6, 5, sbytes, 0},
                {60013, 7, 1, bytes, 0},
                {60014, 7, 5, bytes, 0},
                {60015, 8, 1, U64(0xffff), 0},
                {60016, 8, 5, U64(0x8000, 0x7fff, 1, 0, 0xfffe), 0},
                {60017, 9, 1, U64(0xffffffffu), 0},
                {60018, 9, 5, U64(0x80000000u, 0x7fffffffu, 1, 0, 2), 0},
                {60019, 10, 1, U64(0xffffffffu, 3), 0},
                {60020, 10, 2, U64(0x80000000u, 1, 5, 0xfffffffeu), 0},
                {60021, 11, 1, DBL(0.5), 0},
                {60022, 11, 5, DBL(1.5, -2, NAN, INFINITY, -INFINITY), 0},
                {60023, 12, 1, DBL(0.1), 0},
                {60024, 12, 5, DBL(1e300, -0.25, NAN, INFINITY, -INFINITY), 0},
                {60025, 13, 1, U64(1234), 0},
                {60026, 13, 5, U64(1, 2, 3, 4, 5), 0},
                {60027, 16, 1, U64(18446744073709551615ull), 0},
                {60028, 16, 5, U64(1, 2, 3, 4, 18446744073709551615ull), 0},
                {60029, 17, 1, U64(18446744073709551615ull), 0},
                {60030, 17, 5, U64(9223372036854775808ull, 1, 2, 3, 4), 0},
                {60031, 18, 1, U64(77), 0},
                {60032, 18, 5, U64(1, 2, 3, 4, 5), 0},
                {60033, 3, 0, NULL, 0},
                {60034, 2, 0, NULL, 0},
            };
            tb_ifd(&t, 8 + 8 * big, e, sizeof e / sizeof e[0], 0);
            int rc = serve(t.b, t.n, 16384, 1);
            CHECK(rc == TIFF_OK);
            if (rc != TIFF_OK)
                continue;
            CHECK(other_is(60001, "{\"type\":1,\"count\":1,\"value\":\"00\"}"));
            CHECK(other_is(60002, "{\"type\":1,\"count\":5,\"value\":\"007f80ff10\"}"));
            CHECK(other_is(60003, "{\"type\":2,\"count\":2,\"value\":\"x\"}"));
            CHECK(other_is(60004, "{\"type\":2,\"count\":6,\"value\":\"hello\"}"));
            CHECK(other_is(60005, "{\"type\":3,\"count\":1,\"value\":[65535]}"));
            CHECK(other_is(60006, "{\"type\":3,\"count\":5,\"value\":[1,2,3,4,65535]}"));
            CHECK(other_is(60007, "{\"type\":4,\"count\":1,\"value\":[4294967295]}"));
            CHECK(other_is(60008, "{\"type\":4,\"count\":5,\"value\":[1,2,3,4,4294967295]}"));
            CHECK(other_is(60010, "{\"type\":5,\"count\":2,\"value\":[[4294967295,1],[0,0]]}"));
            CHECK(other_is(60012, "{\"type\":6,\"count\":5,\"value\":[-1,-128,1,0,127]}"));
            CHECK(other_is(60013, "{\"type\":7,\"count\":1,\"value\":\"00\"}"));
            CHECK(other_is(60014, "{\"type\":7,\"count\":5,\"value\":\"007f80ff10\"}"));
            CHECK(other_is(60015, "{\"type\":8,\"count\":1,\"value\":[-1]}"));
            CHECK(other_is(60016, "{\"type\":8,\"count\":5,\"value\":[-32768,32767,1,0,-2]}"));
            CHECK(other_is(60017, "{\"type\":9,\"count\":1,\"value\":[-1]}"));
            CHECK(other_is(60018,
                           "{\"type\":9,\"count\":5,\"value\":[-2147483648,2147483647,1,0,2]}"));
            CHECK(other_is(60019, "{\"type\":10,\"count\":1,\"value\":[[-1,3]]}"));
            CHECK(other_is(60020, "{\"type\":10,\"count\":2,\"value\":[[-2147483648,1],[5,-2]]}"));
            CHECK(other_is(60021, "{\"type\":11,\"count\":1,\"value\":[0.5]}"));
            CHECK(other_is(60022, "{\"type\":11,\"count\":5,\"value\":[1.5,-2.0,\"NaN\","
                                  "\"Infinity\",\"-Infinity\"]}"));
            CHECK(other_is(60023, "{\"type\":12,\"count\":1,\"value\":[0.1]}"));
            CHECK(other_is(60024, "{\"type\":12,\"count\":5,\"value\":[1e+300,-0.25,\"NaN\","
                                  "\"Infinity\",\"-Infinity\"]}"));
            CHECK(other_is(60025, "{\"type\":13,\"count\":1,\"value\":[1234]}"));
            CHECK(other_is(60026, "{\"type\":13,\"count\":5,\"value\":[1,2,3,4,5]}"));
            CHECK(other_is(60027, "{\"type\":16,\"count\":1,\"value\":[18446744073709551615]}"));
            CHECK(other_is(60028,
                           "{\"type\":16,\"count\":5,\"value\":[1,2,3,4,18446744073709551615]}"));
            CHECK(other_is(60029, "{\"type\":17,\"count\":1,\"value\":[-1]}"));
            CHECK(other_is(60030,
                           "{\"type\":17,\"count\":5,\"value\":[-9223372036854775808,1,2,3,4]}"));
            CHECK(other_is(60031, "{\"type\":18,\"count\":1,\"value\":[77]}"));
            CHECK(other_is(60032, "{\"type\":18,\"count\":5,\"value\":[1,2,3,4,5]}"));
            CHECK(other_is(60033, "{\"type\":3,\"count\":0,\"value\":[]}"));
            CHECK(other_is(60034, "{\"type\":2,\"count\":0,\"value\":\"\"}"));
            CHECK(H()->n_other_tags == 34);
            CHECK(H()->n_warnings == 0);
        }
}

/* Strings: tifffile's decoding, always valid UTF-8 out. */
static void test_strings(void) {
    td_test_context = "strings";
    tb t;
    tb_init(&t, 1, 0, 8);
    te e[] = {
        {269, 2, 14, STR("\t first\0second \0\0"), 0}, /* inner NUL kept */
        {270, 2, 7, STR("caf\xc3\xa9!\0"), 0},         /* UTF-8 */
        {305, 2, 6, STR("caf\xe9\x80\0"), 0},          /* cp1252 */
        {315, 2, 4, STR("a\x81z\0"), 0},               /* cp1252 undefined byte */
        {316, 2, 3, STR("  \0"), 0},
        {60000, 2, 5, STR("x\"\\\n\0"), 0},
    };
    tb_ifd(&t, 8, e, sizeof e / sizeof e[0], 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    const tiff_header *h = H();
    if (!h)
        return;
    CHECK(h->field[TIFF_F_document_name].count == 12 &&
          memcmp(h->field[TIFF_F_document_name].u.str, "first\0second", 13) == 0);
    CHECK(strcmp(h->field[TIFF_F_image_description].u.str, "caf\xc3\xa9!") == 0);
    CHECK(strcmp(h->field[TIFF_F_software].u.str, "caf\xc3\xa9\xe2\x82\xac") == 0);
    CHECK(strcmp(h->field[TIFF_F_artist].u.str, "a\xc2\x81z") == 0);
    CHECK(h->field[TIFF_F_host_computer].present && h->field[TIFF_F_host_computer].count == 0);
    CHECK(other_is(60000, "{\"type\":2,\"count\":5,\"value\":\"x\\\"\\\\\"}"));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CHECK(tiff_header_to_json(h, &buf, &len, &cap) == TIFF_OK);
    CHECK(buf && strstr(buf, "\"document_name\":\"first\\u0000second\""));
    free(buf);
}

/* A header inside the prefetch costs one request; values and IFDs beyond it are batched. */
static void test_incremental(void) {
    td_test_context = "incremental: out-of-line values batched";
    tb t;
    tb_init(&t, 1, 0, 8);
    te e[] = {
        {256, 3, 1, U64(10), 0},
        {269, 2, 6, STR("doc 1\0"), 30000},
        {270, 2, 6, STR("desc2\0"), 30100},
        {33550, 12, 3, DBL(1, 2, 3), 30200},
        {60000, 4, 3, U64(7, 8, 9), 30400},
    };
    tb_ifd(&t, 8, e, 5, 0);
    t.n = 50000;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(requests == 2);
    CHECK(H() && strcmp(H()->field[TIFF_F_image_description].u.str, "desc2") == 0);
    CHECK(H() && H()->field[TIFF_F_model_pixel_scale].u.dbls[2] == 3);
    CHECK(other_is(60000, "{\"type\":4,\"count\":3,\"value\":[7,8,9]}"));

    td_test_context = "incremental: needs sorted, merged, grown";
    tiff_parser_reset(P, t.n);
    tiff_parser_feed(P, 0, t.b, 16384);
    CHECK(tiff_parser_run(P) == TIFF_NEED);
    const tiff_range *r;
    size_t k = tiff_parser_needs(P, &r);
    CHECK(k == 1);
    CHECK(k == 1 && r[0].offset == 30000 && r[0].length >= 4096);
    CHECK(tiff_parser_header(P) == NULL);

    td_test_context = "incremental: far values are separate ranges, one round";
    tb_init(&t, 0, 0, 8);
    te e2[] = {
        {269, 2, 6, STR("doc 1\0"), 20000},
        {270, 2, 6, STR("desc2\0"), 40000},
    };
    tb_ifd(&t, 8, e2, 2, 0);
    t.n = 50000;
    tiff_parser_reset(P, t.n);
    tiff_parser_feed(P, 0, t.b, 16384);
    CHECK(tiff_parser_run(P) == TIFF_NEED);
    k = tiff_parser_needs(P, &r);
    CHECK(k == 2 && r[0].offset == 20000 && r[1].offset == 40000);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && requests == 3);

    td_test_context = "incremental: COG with overviews in the prefetch = 1 request";
    tb_init(&t, 1, 0, 8);
    te c0[] = {{256, 3, 1, U64(1024), 0},
               {257, 3, 1, U64(1024), 0},
               {324, 4, 4, U64(9000, 9100, 9200, 9300), 0},
               {325, 4, 4, U64(1, 1, 1, 1), 0}};
    te c1[] = {{254, 4, 1, U64(1), 0},
               {256, 3, 1, U64(512), 0},
               {257, 3, 1, U64(512), 0},
               {324, 4, 1, U64(8500), 0},
               {325, 4, 1, U64(1), 0}};
    te c2[] = {{254, 4, 1, U64(1), 0},
               {256, 3, 1, U64(256), 0},
               {257, 3, 1, U64(256), 0},
               {324, 4, 1, U64(8200), 0},
               {325, 4, 1, U64(1), 0}};
    tb_ifd(&t, 8, c0, 4, 300);
    tb_ifd(&t, 300, c1, 5, 600);
    tb_ifd(&t, 600, c2, 5, 0);
    t.n = 400000;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(requests == 1);
    CHECK(H() && H()->ifd_count == 3 && H()->images.first_data_offset == 8200);
    CHECK(H() && H()->images.n == 3 && H()->images.overview_count == 2);
    CHECK(H() && H()->images.v[1].kind == TIFF_IMG_OVERVIEW && H()->images.v[2].blocks == 1);
    /* IFDs sorted by size, data smallest overview first: GDAL's rules hold */
    CHECK(H() && H()->images.cog_valid == 1 && H()->images.sparse_tiles == 0);

    td_test_context = "incremental: IFD chain beyond the prefetch";
    tb_init(&t, 1, 1, 16);
    te d0[] = {{256, 3, 1, U64(5), 0}};
    tb_ifd(&t, 16, d0, 1, 100000);
    tb_ifd(&t, 100000, d0, 1, 200000);
    tb_ifd(&t, 200000, d0, 1, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(requests == 3);
    CHECK(H() && H()->ifd_count == 3 && H()->ifd_chain_error == NULL);
    CHECK(H() && H()->images.ifd_bytes == 200000 + 8 + 20 + 8 && H()->images.n == 3);

    td_test_context = "incremental: IFD 0 beyond the prefetch";
    tb_init(&t, 0, 0, 70000);
    te f0[] = {{256, 3, 1, U64(5), 0}, {270, 2, 5, STR("abcd\0"), 500}};
    tb_ifd(&t, 70000, f0, 2, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && requests == 2);
    CHECK(serve(t.b, t.n, 64, 1) == TIFF_OK && requests == 3);
    CHECK(H() && strcmp(H()->field[TIFF_F_image_description].u.str, "abcd") == 0);

    td_test_context = "incremental: tiny prefetch, unknown size";
    CHECK(serve(t.b, t.n, 4, 0) == TIFF_OK);
    CHECK(H() && strcmp(H()->field[TIFF_F_image_description].u.str, "abcd") == 0);

    td_test_context = "incremental: value split over two feeds";
    tiff_parser_reset(P, t.n);
    /* [0, 51): the file header and where GDAL's ghost header would be (IFD 0 is not at 8) */
    tiff_parser_feed(P, 0, t.b, 51);
    tiff_parser_feed(P, 70000, t.b + 70000, t.n - 70000);
    tiff_parser_feed(P, 502, t.b + 502, 10);
    tiff_parser_feed(P, 498, t.b + 498, 4);
    CHECK(tiff_parser_run(P) == TIFF_OK);
    CHECK(H() && strcmp(H()->field[TIFF_F_image_description].u.str, "abcd") == 0);
    CHECK(tiff_parser_fed_bytes(P) == 51 + (t.n - 70000) + 14);

    td_test_context = "incremental: size learned later (set_size)";
    tiff_parser_reset(P, TIFF_SIZE_UNKNOWN);
    tiff_parser_feed(P, 0, t.b, 8);
    CHECK(tiff_parser_run(P) == TIFF_NEED);
    tiff_parser_set_size(P, t.n);
    {
        const tiff_range *rr;
        size_t kk = tiff_parser_needs(P, &rr);
        int guard = 0;
        while (kk > 0 && guard++ < 10) {
            for (size_t i = 0; i < kk; i++) {
                uint64_t len =
                    rr[i].offset + rr[i].length > t.n ? t.n - rr[i].offset : rr[i].length;
                tiff_parser_feed(P, rr[i].offset, t.b + rr[i].offset, (size_t)len);
            }
            if (tiff_parser_run(P) != TIFF_NEED)
                break;
            kk = tiff_parser_needs(P, &rr);
            CHECK(kk == 0 || rr[kk - 1].offset + rr[kk - 1].length <= t.n);
        }
    }
    CHECK(H() && strcmp(H()->field[TIFF_F_image_description].u.str, "abcd") == 0);
    CHECK(tiff_parser_needs(P, &r) == 0);

    td_test_context = "incremental: object shorter than the store said (unknown size)";
    tb_init(&t, 1, 0, 8);
    te g0[] = {{256, 3, 1, U64(5), 0}, {270, 2, 5, STR("abcd\0"), 30000}};
    tb_ifd(&t, 8, g0, 2, 0);
    size_t short_n = 20000; /* the value lies past the end */
    CHECK(serve(t.b, short_n, 16384, 0) == TIFF_OK);
    CHECK(H() && !H()->field[TIFF_F_image_description].present);
    CHECK(has_warning("tag 270"));
}

static void test_chain(void) {
    tb t;
    te d0[] = {{256, 3, 1, U64(5), 0}};
    td_test_context = "chain: loop to first";
    tb_init(&t, 1, 0, 8);
    tb_ifd(&t, 8, d0, 1, 100);
    tb_ifd(&t, 100, d0, 1, 8);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->ifd_count == 2);
    CHECK(H() && H()->ifd_chain_error &&
          strcmp(H()->ifd_chain_error, "IFD 2 offset 8 repeats an earlier IFD (cycle)") == 0);

    td_test_context = "chain: loop to self";
    tb_init(&t, 0, 1, 16);
    tb_ifd(&t, 16, d0, 1, 16);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->ifd_count == 1 && H()->ifd_chain_error &&
          strstr(H()->ifd_chain_error, "IFD 1 offset 16 repeats"));

    td_test_context = "chain: next IFD past the end";
    tb_init(&t, 1, 0, 8);
    tb_ifd(&t, 8, d0, 1, 123456789);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->ifd_count == 1 && H()->ifd_chain_error &&
          strcmp(H()->ifd_chain_error, "IFD 1 offset 123456789 outside file of 26 bytes") == 0);

    td_test_context = "chain: IFD 1 truncated";
    tb_init(&t, 1, 0, 8);
    tb_ifd(&t, 8, d0, 1, 40);
    tb_uint(&t, 40, 500, 2);
    t.n = 100;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->ifd_count == 1 && H()->ifd_chain_error &&
          strstr(H()->ifd_chain_error, "truncated"));

    td_test_context = "chain: long chain, max_ifds";
    tb_init(&t, 1, 0, 8);
    for (int i = 0; i < 300; i++)
        tb_ifd(&t, 8 + 20 * (uint64_t)i, d0, 1, i < 299 ? 28 + 20 * (uint64_t)i : 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && H() && H()->ifd_count == 300 &&
          !H()->ifd_chain_error);
    tiff_limits lim = TIFF_LIMITS_INIT;
    lim.max_ifds = 10;
    tiff_parser *save = P;
    P = tiff_parser_new(&lim);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && H() && H()->ifd_count == 10 &&
          H()->ifd_chain_error && strstr(H()->ifd_chain_error, "max_ifds"));
    tiff_parser_free(P);
    P = save;

    td_test_context = "chain: scattered IFDs need one round each, bounded by max_fetch_bytes";
    tb_init(&t, 1, 0, 8);
    for (int i = 0; i < 40; i++)
        tb_ifd(&t, 8 + 20000 * (uint64_t)i, d0, 1, i < 39 ? 8 + 20000 * (uint64_t)(i + 1) : 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && H() && H()->ifd_count == 40);
    CHECK(requests == 40);
    lim = (tiff_limits)TIFF_LIMITS_INIT;
    lim.max_fetch_bytes = 10 * 4096;
    P = tiff_parser_new(&lim);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && H() && H()->ifd_count == 11 &&
          H()->ifd_chain_error && strstr(H()->ifd_chain_error, "not fetched"));
    CHECK(requests == 11);
    tiff_parser_free(P);
    P = save;

    /* found by fuzz_tiff: the first BitsPerSample's values lie past the prefetch, and a
     * duplicate entry with an inline value followed; the duplicate filled the image record
     * while the first one's bytes were on their way */
    td_test_context = "chain: a duplicate tag does not win while the first entry waits";
    te dup[] = {
        {256, 3, 1, U64(5), 0}, {258, 3, 4, U64(1, 0, 537, 0), 30000}, {258, 3, 1, U64(8), 0}};
    tb_init(&t, 1, 0, 8);
    tb_ifd(&t, 8, dup, 3, 0);
    CHECK(serve(t.b, t.n, t.n, 1) == TIFF_OK && requests == 1);
    CHECK(H() && H()->images.n == 1 && H()->images.v[0].bits_per_sample == 1);
    CHECK(serve(t.b, t.n, 1024, 1) == TIFF_OK && requests == 2);
    CHECK(H() && H()->images.n == 1 && H()->images.v[0].bits_per_sample == 1);
}

/* TIFF_OPT_FIRST_IFD (fetch.ifds: first): IFD 0 alone, with its arrays; no request for the
 * chain, SubIFDs or the ghost header; the option stays across resets until cleared. */
static void test_first_ifd(void) {
    tb t;
    te d0[] = {{256, 3, 1, U64(5), 0}};
    td_test_context = "first IFD: scattered chain, one request";
    tb_init(&t, 1, 0, 8);
    for (int i = 0; i < 40; i++)
        tb_ifd(&t, 8 + 20000 * (uint64_t)i, d0, 1, i < 39 ? 8 + 20000 * (uint64_t)(i + 1) : 0);
    tiff_parser_set_options(P, TIFF_OPT_FIRST_IFD);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && requests == 1);
    CHECK(H() && H()->images.first_only && H()->images.n == 1 && !H()->ifd_chain_error);
    CHECK(H() && H()->images.v[0].kind == TIFF_IMG_MAIN && H()->images.v[0].width == 5);
    CHECK(H() && H()->images.cog_valid == -1 && H()->images.n_cog_errors == 0 &&
          H()->images.n_cog_warnings == 0 && !H()->images.has_ghost);
    CHECK(H() && H()->images.first_data_offset == TIFF_ABSENT);
    char *js = NULL;
    size_t jl = 0, jc = 0;
    CHECK(H() && tiff_header_to_json(H(), &js, &jl, &jc) == TIFF_OK && js &&
          strstr(js, "\"ifd_count\":null") && strstr(js, "\"overview_count\":null") &&
          strstr(js, "\"ifds\":null") && strstr(js, "\"cog_valid\":null"));
    free(js);

    td_test_context = "first IFD: tiles, SubIFDs far away, IFD 0 after a ghost-sized gap";
    te d1[] = {{256, 3, 1, U64(40), 0},
               {257, 3, 1, U64(40), 0},
               {322, 3, 1, U64(16), 0},
               {323, 3, 1, U64(16), 0},
               {324, 4, 9, U64(900, 0, 1100, 1200, 1300, 1400, 1500, 1600, 1700), 0},
               {325, 4, 9, U64(10, 10, 10, 10, 10, 10, 10, 10, 10), 0},
               {330, 4, 2, U64(60000, 70000), 0}};
    tb_init(&t, 1, 0, 200);
    tb_ifd(&t, 200, d1, 7, 0);
    tb_ifd(&t, 60000, d0, 1, 0);
    tb_ifd(&t, 70000, d0, 1, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && requests == 1);
    CHECK(H() && H()->images.first_only && H()->images.n == 1 && H()->images.v[0].blocks == 9 &&
          H()->images.sparse_tiles == 1 && H()->images.empty == 0 &&
          H()->images.v[0].first_data_offset == 900);
    tiff_parser_set_options(P, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && requests == 3); /* the two SubIFDs */
    CHECK(H() && !H()->images.first_only && H()->images.n == 3 && H()->images.cog_valid >= -1 &&
          H()->images.sparse_tiles == 1 && H()->images.first_data_offset == 900);
}

static void test_malformed(void) {
    tb t;
    int rc;
    td_test_context = "not a TIFF";
    CHECK(serve(STR("GIF89a........."), 15, 16384, 1) == TIFF_E_NOT_TIFF);
    CHECK(errmsg_has("byte order"));
    CHECK(serve(STR("II\x2b\x00\x04\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00"), 16, 16384, 1) ==
          TIFF_E_NOT_TIFF);
    CHECK(serve(STR("MM\x00\x2c\x00\x00\x00\x08"), 8, 16384, 1) == TIFF_E_NOT_TIFF);
    CHECK(errmsg_has("magic"));
    CHECK(serve(STR(""), 0, 16384, 1) == TIFF_E_NOT_TIFF);
    CHECK(serve(STR("BM"), 2, 16384, 1) == TIFF_E_NOT_TIFF);

    td_test_context = "truncated header";
    CHECK(serve(STR("II*\x00\x08"), 5, 16384, 1) == TIFF_E_TRUNCATED);
    CHECK(serve(STR("II+\x00\x08\x00\x00\x00\x10\x00"), 10, 16384, 1) == TIFF_E_TRUNCATED);
    CHECK(serve(STR("II*\x00\x08"), 5, 16384, 0) == TIFF_E_TRUNCATED);

    td_test_context = "first IFD outside";
    CHECK(serve(STR("II*\x00\xff\xff\x00\x00\x00\x00"), 10, 16384, 1) == TIFF_E_BAD_IFD);
    CHECK(errmsg_has("65535"));
    CHECK(serve(STR("II*\x00\x00\x00\x00\x00\x00\x00"), 10, 16384, 1) == TIFF_E_BAD_IFD);
    CHECK(serve(STR("II+\x00\x08\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x80"), 16, 16384, 1) ==
          TIFF_E_BAD_IFD);

    td_test_context = "entry count 65535";
    tb_init(&t, 1, 0, 8);
    tb_uint(&t, 8, 65535, 2);
    t.n = 2000;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_E_TRUNCATED);
    CHECK(errmsg_has("IFD 0 at offset 8") && errmsg_has("65535") && errmsg_has("786422"));
    CHECK(serve(t.b, t.n, 16384, 0) == TIFF_E_TRUNCATED);

    td_test_context = "BigTIFF entry count overflow";
    tb_init(&t, 1, 1, 16);
    tb_uint(&t, 16, 0x8000000000000000ull, 8);
    t.n = 100;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_E_TRUNCATED);
    CHECK(serve(t.b, t.n, 16384, 0) == TIFF_E_TRUNCATED || tiff_parser_header(P) == NULL);

    td_test_context = "entry count 65535 inside a big enough file: works";
    tb_init(&t, 0, 0, 8);
    tb_uint(&t, 8, 65535, 2);
    for (uint64_t i = 0; i < 65535; i++) {
        uint64_t p = 10 + 12 * i;
        tb_uint(&t, p, 1000 + i, 2);
        tb_uint(&t, p + 2, 3, 2);
        tb_uint(&t, p + 4, 1, 4);
        tb_uint(&t, p + 8, (i & 0xffff) << 16, 4);
    }
    tb_uint(&t, 10 + 12 * 65535, 0, 4);
    rc = serve(t.b, t.n, 16384, 1);
    CHECK(rc == TIFF_OK);
    CHECK(H() && H()->field[TIFF_F_image_width].present && H()->n_other_tags > 10000);
    CHECK(has_warning("max_memory"));
    if (getenv("TD_DEBUG"))
        dump();

    td_test_context = "unknown type codes are skipped";
    tb_init(&t, 1, 0, 8);
    te e[] = {
        {256, 3, 1, U64(5), 0},  {257, 0, 1, U64(5), 0}, {258, 14, 1, U64(5), 0},
        {259, 99, 1, U64(5), 0}, {262, 3, 1, U64(1), 0},
    };
    tb_ifd(&t, 8, e, 5, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->field[TIFF_F_image_width].present &&
          !H()->field[TIFF_F_image_height].present && !H()->field[TIFF_F_bits_per_sample].present &&
          !H()->field[TIFF_F_compression].present &&
          H()->field[TIFF_F_photometric_interpretation].present);
    CHECK(has_warning("tag 257 at 22: invalid data type 0"));
    CHECK(has_warning("tag 258 at 34: invalid data type 14"));
    CHECK(has_warning("tag 259 at 46: invalid data type 99"));
    CHECK(H() && H()->n_warnings == 3 && H()->n_other_tags == 0);

    td_test_context = "value offsets past the end / below 8, count overflow";
    tb_init(&t, 1, 0, 8);
    te f[] = {
        {256, 3, 1, U64(5), 0},       {270, 2, 100, NULL, 999999},
        {305, 2, 100, NULL, 4},       {33550, 12, 0xffffffffu, NULL, 100},
        {60000, 4, 2, NULL, 1000000},
    };
    tb_ifd(&t, 8, f, 5, 0);
    t.n = 200;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(has_warning("tag 270 at 22: invalid value offset 999999"));
    CHECK(has_warning("tag 305 at 34: invalid value offset 4"));
    CHECK(has_warning("tag 33550 at 46: invalid value offset"));
    CHECK(has_warning("tag 60000 at 58: invalid value offset 1000000"));
    CHECK(H() && H()->n_other_tags == 0 && H()->field[TIFF_F_image_width].u.i == 5);

    td_test_context = "BigTIFF count * size overflows 64 bits";
    tb_init(&t, 1, 1, 16);
    te g[] = {{256, 3, 1, U64(5), 0}, {60000, 12, 0x4000000000000000ull, NULL, 100}};
    tb_ifd(&t, 16, g, 2, 0);
    t.n = 200;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(has_warning("tag 60000 at 44: invalid value offset"));

    td_test_context = "duplicates: first usable entry wins";
    tb_init(&t, 1, 0, 8);
    te d[] = {
        {256, 3, 1, U64(5), 0},  {257, 3, 1, U64(6), 0}, {256, 3, 1, U64(7), 0},
        {300, 99, 1, U64(1), 0}, {258, 3, 1, U64(8), 0}, {258, 3, 1, U64(16), 0},
    };
    tb_ifd(&t, 8, d, 6, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->field[TIFF_F_image_width].u.i == 5 &&
          H()->field[TIFF_F_image_height].u.i == 6 &&
          H()->field[TIFF_F_bits_per_sample].u.ints[0] == 8);
    CHECK(has_warning("tag 256 at 34: duplicate"));
    CHECK(has_warning("tag 258 at 70: duplicate"));

    td_test_context = "named field with an unsuitable type goes to other_tags";
    tb_init(&t, 1, 0, 8);
    te w[] = {{256, 2, 4, STR("abc\0"), 0}, {305, 3, 1, U64(3), 0}, {259, 3, 2, U64(7, 1), 0}};
    tb_ifd(&t, 8, w, 3, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && !H()->field[TIFF_F_image_width].present && !H()->field[TIFF_F_software].present);
    CHECK(other_is(256, "{\"type\":2,\"count\":4,\"value\":\"abc\"}"));
    CHECK(other_is(305, "{\"type\":3,\"count\":1,\"value\":[3]}"));
    CHECK(H() && H()->field[TIFF_F_compression].u.i == 7); /* first of several */
    CHECK(has_warning("tag 259"));

    td_test_context = "named fields: accepted type conversions";
    tb_init(&t, 0, 0, 8);
    te c[] = {{256, 16, 1, U64(70000), 0}, /* LONG8 in classic TIFF */
              {282, 3, 1, U64(300), 0},    /* SHORT resolution */
              {283, 10, 1, U64(0xfffffffeu, 4), 0},
              {33550, 5, 2, U64(1, 2, 3, 4), 0},
              {347, 1, 3, STR("\xff\xd8\x00"), 0}};
    tb_ifd(&t, 8, c, 5, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->field[TIFF_F_image_width].u.i == 70000);
    CHECK(H() && H()->field[TIFF_F_x_resolution].u.d == 300.0);
    CHECK(H() && H()->field[TIFF_F_y_resolution].u.d == -0.5);
    CHECK(H() && H()->field[TIFF_F_model_pixel_scale].count == 2 &&
          H()->field[TIFF_F_model_pixel_scale].u.dbls[1] == 0.75);
    CHECK(H() && H()->field[TIFF_F_jpeg_tables].count == 3 &&
          H()->field[TIFF_F_jpeg_tables].u.bytes[1] == 0xd8);
    {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        CHECK(H() && tiff_header_to_json(H(), &buf, &len, &cap) == TIFF_OK);
        CHECK(buf && strstr(buf, "\"jpeg_tables\":\"ffd800\""));
        CHECK(buf && strstr(buf, "\"y_resolution\":-0.5,"));
        size_t before = len;
        CHECK(H() && tiff_header_to_json(H(), &buf, &len, &cap) == TIFF_OK && len == 2 * before);
        free(buf);
    }

    td_test_context = "IFD 0 entries truncated";
    tb_init(&t, 1, 0, 8);
    tb_ifd(&t, 8, w, 3, 0);
    CHECK(serve(t.b, 30, 16384, 1) == TIFF_E_TRUNCATED);
    CHECK(errmsg_has("IFD 0 at offset 8"));
    CHECK(serve(t.b, 30, 16384, 0) == TIFF_E_TRUNCATED);

    td_test_context = "API misuse";
    tiff_parser_reset(P, 100);
    CHECK(tiff_parser_feed(P, 90, t.b, 20) == TIFF_E_USAGE);
    CHECK(tiff_parser_feed(P, UINT64_MAX - 2, t.b, 20) == TIFF_E_USAGE);
    tiff_parser_feed(P, 0, "GIF89a", 6);
    CHECK(tiff_parser_run(P) == TIFF_E_NOT_TIFF);
    CHECK(tiff_parser_run(P) == TIFF_E_USAGE);
    CHECK(tiff_parser_header(P) == NULL);
    CHECK(strcmp(tiff_err_name(TIFF_E_TRUNCATED), "truncated") == 0);
    CHECK(strcmp(tiff_err_name(12345), "unknown") == 0);
    CHECK(strcmp(tiff_strerror(TIFF_E_NOT_TIFF),
                 "not a TIFF (bad byte order mark or magic number)") == 0);
}

static void test_caps(void) {
    tb t;
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    td_test_context = "caps: max_tag_text, fetch only the shown prefix";
    tb_init(&t, 1, 0, 8);
    te e[] = {
        {256, 3, 1, U64(5), 0}, {60000, 7, 100000, big, 200000}, {60001, 2, 100000, big, 400000}};
    tb_ifd(&t, 8, e, 3, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    if (getenv("TD_DEBUG"))
        dump();
    CHECK(requests == 3 && fetched < 16384 + 3 * 8192);
    const tiff_extra *x = other(60000);
    CHECK(x && x->capped && x->json_len <= 4096 && strstr(x->json, ",\"capped\":true}") &&
          strncmp(x->json, "{\"type\":7,\"count\":100000,\"value\":\"00070e15", 42) == 0);
    x = other(60001);
    CHECK(x && x->capped && x->json_len <= 4096);

    td_test_context = "caps: big numeric list";
    static uint64_t nums[3000];
    for (int i = 0; i < 3000; i++)
        nums[i] = (uint64_t)i * 1000000;
    tb_init(&t, 0, 0, 8);
    te n[] = {{60000, 4, 3000, nums, 0}};
    tb_ifd(&t, 8, n, 1, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    x = other(60000);
    CHECK(x && x->capped && x->json_len <= 4096 && strstr(x->json, "[0,1000000,2000000,"));
    CHECK(x && strcmp(x->json + x->json_len - 16, "],\"capped\":true}") == 0);

    tiff_parser *save = P;
    td_test_context = "caps: max_memory";
    tiff_limits lim = TIFF_LIMITS_INIT;
    lim.max_memory = 50000;
    P = tiff_parser_new(&lim);
    tb_init(&t, 1, 0, 8);
    te m[] = {{256, 3, 1, U64(5), 0}, {270, 2, 100000, big, 1000}};
    tb_ifd(&t, 8, m, 2, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && !H()->field[TIFF_F_image_description].present && has_warning("max_memory"));
    CHECK(H() && H()->field[TIFF_F_image_width].u.i == 5);
    tiff_parser_free(P);

    td_test_context = "caps: max_fetch_bytes";
    lim = (tiff_limits)TIFF_LIMITS_INIT;
    lim.max_fetch_bytes = 1000;
    P = tiff_parser_new(&lim);
    tb_init(&t, 1, 0, 8);
    te f[] = {{256, 3, 1, U64(5), 0}, {270, 2, 10, STR("123456789\0"), 50000}};
    tb_ifd(&t, 8, f, 2, 0);
    t.n = 200000;
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->field[TIFF_F_image_description].present && requests == 2 &&
          fetched == 16384 + 1000);
    te f2[] = {{256, 3, 1, U64(5), 0}, {270, 2, 2000, big, 50000}};
    tb_ifd(&t, 8, f2, 2, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    if (getenv("TD_DEBUG"))
        dump();
    CHECK(H() && !H()->field[TIFF_F_image_description].present && has_warning("tag 270"));
    CHECK(requests == 2);
    tiff_parser_free(P);

    td_test_context = "caps: max_warnings";
    lim = (tiff_limits)TIFF_LIMITS_INIT;
    lim.max_warnings = 3;
    P = tiff_parser_new(&lim);
    tb_init(&t, 1, 0, 8);
    te w[] = {{256, 0, 1, U64(5), 0},
              {257, 0, 1, U64(5), 0},
              {258, 0, 1, U64(5), 0},
              {259, 0, 1, U64(5), 0},
              {262, 0, 1, U64(5), 0}};
    tb_ifd(&t, 8, w, 5, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->n_warnings == 3 && strstr(H()->warnings[2], "3 further warnings suppressed"));
    tiff_parser_free(P);
    P = save;
}

static void test_geokeys(void) {
    td_test_context = "geokeys";
    tb t;
    tb_init(&t, 0, 0, 8);
    uint64_t dir[] = {
        1,    1,     0, 10,   1024, 0, 1, 2, /* model_type = 2 */
        1026, 34737, 7, 0,                   /* citation "WGS 84" (| removed) */
        2048, 0,     1, 4326,                /* geographic_type */
        2057, 34736, 1, 0,                   /* semi major */
        2062, 34736, 3, 1,                   /* TOWGS84 -> other, list */
        3059, 0,     1, 9,                   /* unknown id -> other, int */
        3096, 34736, 1, 4,                   /* unknown double -> other, float */
        3080, 34736, 2, 0,                   /* named double with 2 values -> other + warning */
        3081, 34736, 1, 50,                  /* outside the doubles -> dropped */
        2049, 34737, 5, 7,                   /* geog_citation "NAD83" */
    };
    te e[] = {
        {256, 3, 1, U64(5), 0},
        {34735, 3, sizeof dir / sizeof dir[0], dir, 0},
        {34736, 12, 5, DBL(6378137.0, 1, 2, 3, NAN), 0},
        {34737, 2, 13, STR("WGS 84|NAD83|"), 0},
    };
    tb_ifd(&t, 8, e, 4, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    const tiff_header *h = H();
    if (!h)
        return;
    CHECK(h->has_geokeys);
    CHECK(h->geokeys_header[0] == 1 && h->geokeys_header[3] == 10);
    CHECK(h->geokey[TIFF_G_model_type].present && h->geokey[TIFF_G_model_type].u.i == 2);
    CHECK(h->geokey[TIFF_G_citation].present &&
          strcmp(h->geokey[TIFF_G_citation].u.str, "WGS 84") == 0);
    CHECK(h->geokey[TIFF_G_geog_citation].present &&
          strcmp(h->geokey[TIFF_G_geog_citation].u.str, "NAD83") == 0);
    CHECK(h->geokey[TIFF_G_geographic_type].u.i == 4326);
    CHECK(h->geokey[TIFF_G_geog_semi_major_axis].u.d == 6378137.0);
    CHECK(!h->geokey[TIFF_G_proj_nat_origin_long].present);
    CHECK(!h->geokey[TIFF_G_proj_nat_origin_lat].present);
    CHECK(h->n_geokeys_other == 4);
    if (h->n_geokeys_other == 4) {
        CHECK(h->geokeys_other[0].id == 2062 &&
              strcmp(h->geokeys_other[0].json,
                     "{\"type\":12,\"count\":3,\"value\":[1.0,2.0,3.0]}") == 0);
        CHECK(h->geokeys_other[1].id == 3059 &&
              strcmp(h->geokeys_other[1].json, "{\"type\":3,\"count\":1,\"value\":9}") == 0);
        CHECK(h->geokeys_other[2].id == 3080 &&
              strcmp(h->geokeys_other[2].json,
                     "{\"type\":12,\"count\":2,\"value\":[6378137.0,1.0]}") == 0);
        CHECK(h->geokeys_other[3].id == 3096 &&
              strcmp(h->geokeys_other[3].json, "{\"type\":12,\"count\":1,\"value\":\"NaN\"}") == 0);
    }
    CHECK(has_warning("GeoKey 3081"));
    CHECK(has_warning("GeoKey 3080"));
    CHECK(h->n_other_tags == 0);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CHECK(tiff_header_to_json(h, &buf, &len, &cap) == TIFF_OK);
    CHECK(
        buf &&
        strstr(buf, "\"geokeys\":{\"model_type\":2,\"raster_type\":null,\"citation\":\"WGS 84\""));
    CHECK(buf && strstr(buf, "\"geokeys_other\":{\"2062\":{\"type\":12"));
    CHECK(buf && strstr(buf, "\"geokeys_header\":[1,1,0,10]"));
    free(buf);

    td_test_context = "geokeys: NumberOfKeys too large, missing params";
    tb_init(&t, 1, 0, 8);
    uint64_t dir2[] = {1, 1, 0, 50, 1024, 0, 1, 1, 1026, 34737, 5, 0, 2057, 34736, 1, 0};
    te e2[] = {{34735, 3, 16, dir2, 0}};
    tb_ifd(&t, 8, e2, 1, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && H()->has_geokeys && H()->geokey[TIFF_G_model_type].u.i == 1);
    CHECK(H() && !H()->geokey[TIFF_G_citation].present &&
          !H()->geokey[TIFF_G_geog_semi_major_axis].present);
    CHECK(has_warning("NumberOfKeys 50"));
    CHECK(has_warning("GeoKey 1026"));
    CHECK(has_warning("GeoKey 2057"));

    td_test_context = "geokeys: unusable directory goes to other_tags";
    tb_init(&t, 1, 0, 8);
    te e3[] = {{34735, 4, 2, U64(1, 1), 0}, {34737, 2, 4, STR("ab|\0"), 0}};
    tb_ifd(&t, 8, e3, 2, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK);
    CHECK(H() && !H()->has_geokeys);
    CHECK(other_is(34735, "{\"type\":4,\"count\":2,\"value\":[1,1]}"));
    CHECK(other_is(34737, "{\"type\":2,\"count\":4,\"value\":\"ab|\"}"));

    td_test_context = "geokeys: arrays beyond the prefetch come in the same round as other values";
    tb_init(&t, 1, 0, 8);
    te e4[] = {{270, 2, 8, STR("abcdefg\0"), 30000},
               {34735, 3, 8, U64(1, 1, 0, 1, 2057, 34736, 1, 0), 40000},
               {34736, 12, 1, DBL(42.5), 0}};
    tb_ifd(&t, 8, e4, 3, 0);
    CHECK(serve(t.b, t.n, 16384, 1) == TIFF_OK && requests == 3);
    if (getenv("TD_DEBUG"))
        dump();
    CHECK(H() && H()->geokey[TIFF_G_geog_semi_major_axis].u.d == 42.5);
}

/* Inputs built to make a careless parser quadratic: must stay fast (no timing asserted; a
 * regression shows as a test that takes minutes). */
static void test_pathological(void) {
    tb t;
    td_test_context = "pathological: 3000 entries in descending order";
    tb_init(&t, 1, 0, 8);
    for (uint64_t i = 0; i < 3000; i++) {
        uint64_t p = 10 + 12 * i;
        tb_uint(&t, p, 63000 - i, 2);
        tb_uint(&t, p + 2, 3, 2);
        tb_uint(&t, p + 4, 1, 4);
    }
    tb_uint(&t, 8, 3000, 2);
    tb_uint(&t, 10 + 12 * 3000, 0, 4);
    CHECK(serve(t.b, t.n, 1 << 20, 1) == TIFF_OK);
    CHECK(H() && H()->n_other_tags == 3000 && H()->other_tags[0].id == 60001 &&
          H()->other_tags[2999].id == 63000);

    td_test_context = "pathological: 20000 overlapping IFDs of 60138 entries each";
    tb_init(&t, 1, 0, 16);
    const uint64_t A = 16, K = 20000, n = 0xEAEA;
    memset(t.b + A, 0xEA, 4 * K + 2);
    for (uint64_t j = 0; j < K; j++)
        tb_uint(&t, A + 4 * j + 2 + 12 * n, j + 1 < K ? A + 4 * (j + 1) : 0, 4);
    CHECK(serve(t.b, t.n, t.n, 1) == TIFF_OK);
    CHECK(H() && H()->ifd_count == K);

    td_test_context = "pathological: GeoKey directory with 16000 keys";
    tb_init(&t, 0, 0, 8);
    static uint64_t dir[4 + 4 * 16000];
    dir[0] = 1, dir[1] = 1, dir[2] = 0, dir[3] = 16000;
    for (uint64_t i = 0; i < 16000; i++) {
        dir[4 + 4 * i] = 60000 - i / 2; /* every id twice */
        dir[5 + 4 * i] = 0;
        dir[6 + 4 * i] = 1;
        dir[7 + 4 * i] = i;
    }
    te g[] = {{34735, 3, 4 + 4 * 16000, dir, 0}};
    tb_ifd(&t, 8, g, 1, 0);
    CHECK(serve(t.b, t.n, t.n, 1) == TIFF_OK);
    CHECK(H() && H()->has_geokeys && H()->n_geokeys_other == 8000 &&
          H()->geokeys_other[0].id == 52001 && has_warning("duplicate key"));
}

/* Random damage to a valid file: no crash, no hang, no leak (run under ASan/UBSan). */
static void test_mutations(void) {
    td_test_context = "mutations";
    tb t;
    basic_file(&t, 1, 0);
    static uint8_t m[8192];
    size_t n = t.n < sizeof m ? t.n : sizeof m;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int ok = 0, err = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, t.b, n);
        int k = 1 + (int)(s % 8);
        for (int j = 0; j < k; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            size_t pos = (size_t)(s % 400);
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            m[pos] = (uint8_t)s;
        }
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t len = (it % 5 == 0) ? (size_t)(s % n) : n;
        int rc = serve(m, len, (it & 1) ? 16384 : 64, (it % 3) != 0);
        if (rc == TIFF_OK) {
            ok++;
            char *buf = NULL;
            size_t bl = 0, cap = 0;
            CHECK(tiff_header_to_json(H(), &buf, &bl, &cap) == TIFF_OK);
            free(buf);
        } else if (rc < 0 && rc > -100) {
            err++;
        } else {
            CHECK(!"serve protocol error");
            fprintf(stderr, "  iteration %d rc %d\n", it, rc);
            break;
        }
    }
    CHECK(ok > 1000 && err > 100);
}

/* A file with GDAL's ghost block (body of blen bytes, NULs allowed) and IFD 0 after it. */
static void ghost_file(tb *t, const char *body, size_t blen) {
    uint64_t ifd0 = 8 + 43 + blen;
    ifd0 += ifd0 % 2;
    tb_init(t, 1, 0, ifd0);
    char line[64];
    snprintf(line, sizeof line, "GDAL_STRUCTURAL_METADATA_SIZE=%06zu bytes\n", blen);
    for (size_t i = 0; i < 43; i++)
        tb_byte(t, 8 + i, (uint8_t)line[i]);
    for (size_t i = 0; i < blen; i++)
        tb_byte(t, 8 + 43 + i, (uint8_t)body[i]);
    te e[] = {{256, 3, 1, U64(64), 0},
              {257, 3, 1, U64(64), 0},
              {273, 4, 1, U64(4000), 0},
              {279, 4, 1, U64(10), 0}};
    tb_ifd(t, ifd0, e, 4, 0);
    if (t->n < 4100)
        t->n = 4100;
}

/* The JSON of the header of t read by parser q (NULL: failed); the caller frees it. */
static char *header_json(tiff_parser *q, const tb *t) {
    tiff_parser *keep = P;
    P = q;
    char *js = NULL;
    size_t jl = 0, jc = 0;
    if (serve(t->b, t->n, 16384, 1) != TIFF_OK || !H() ||
        tiff_header_to_json(H(), &js, &jl, &jc) != TIFF_OK) {
        free(js);
        js = NULL;
    }
    P = keep;
    return js;
}

/* The ghost block's split is kept from one object to the next of a parser (tiff_cog.c): a
 * parser that read other objects before must give what a new one gives, whether the block
 * repeats, changes (same length or not), holds a NUL or is absent. */
static void test_ghost_reuse(void) {
    static const char a[] = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\n"
                            "KNOWN_INCOMPATIBLE_EDITION=NO\n ";
    static const char b[] = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\n"
                            "KNOWN_INCOMPATIBLE_EDITION=YES\n";
    static const char c[] = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\0"
                            "KNOWN_INCOMPATIBLE_EDITION=NO\n ";
    static const char d[] = "LAYOUT=COG\n";
    static const char e[] = "=YES\nX=1\nKNOWN_INCOMPATIBLE_EDITION=YESNO\n";
    struct {
        const char *body;
        size_t len;
    } seq[] = {{a, sizeof a - 1}, {a, sizeof a - 1}, {b, sizeof b - 1}, {a, sizeof a - 1},
               {c, sizeof c - 1}, {c, sizeof c - 1}, {a, sizeof a - 1}, {d, sizeof d - 1},
               {NULL, 0},         {a, sizeof a - 1}, {e, sizeof e - 1}, {a, 20},
               {a, sizeof a - 1}};
    tiff_parser *q = tiff_parser_new(NULL);
    CHECK(q != NULL);
    if (!q)
        return;
    tiff_parser_set_options(P, 0);
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "ghost reuse: object %zu", i);
        td_test_context = ctx;
        tb t;
        if (seq[i].body) {
            ghost_file(&t, seq[i].body, seq[i].len);
        } else {
            basic_file(&t, 1, 0); /* IFD 0 at 8: no ghost block */
        }
        tiff_parser *fresh = tiff_parser_new(NULL);
        char *got = header_json(P, &t), *want = fresh ? header_json(fresh, &t) : NULL;
        CHECK(got && want && strcmp(got, want) == 0);
        if (got && want && strcmp(got, want) != 0)
            fprintf(stderr, "  got  %s\n  want %s\n", got, want);
        /* and a third parser that only ever reads this sequence */
        char *seq_js = header_json(q, &t);
        CHECK(seq_js && want && strcmp(seq_js, want) == 0);
        free(got);
        free(want);
        free(seq_js);
        tiff_parser_free(fresh);
    }
    tiff_parser_free(q);
}

int main(void) {
    P = tiff_parser_new(NULL);
    if (!P)
        return 1;
    test_basic();
    test_types();
    test_strings();
    test_incremental();
    test_chain();
    test_first_ifd();
    test_malformed();
    test_caps();
    test_geokeys();
    test_pathological();
    test_mutations();
    test_ghost_reuse();
    tiff_parser_free(P);
    printf("%d checks, %d failures\n", td_test_checks, td_test_failures);
    return td_test_failures ? 1 : 0;
}
