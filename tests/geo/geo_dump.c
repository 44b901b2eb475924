/* geo_dump.c - td_geo over whole files, for the Python comparisons with GDAL:
 *   td_geo_dump [--repeat N] FILE...
 * prints one JSON line per file: {"path", "error", "transform", "shape", "proj_bbox",
 * "proj_code", "wkt2", "projjson", "wkb" (hex), "multi", "bbox", "warning"}.
 * With --repeat N the computation runs N times per file and the mean microseconds per
 * header go to stderr (the footprint step's cost, PROJ objects cached as in a run). */
#include "geo.h"
#include "tiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void jstr(const char *s) {
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void jdbls(const double *d, int n) {
    putchar('[');
    for (int i = 0; i < n; i++)
        printf("%s%.17g", i ? "," : "", d[i]);
    putchar(']');
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    int i = 1;
    long repeat = 0;
    if (i + 1 < argc && !strcmp(argv[i], "--repeat")) {
        repeat = strtol(argv[i + 1], NULL, 10);
        i += 2;
    }
    char err[256];
    td_geo_ctx *g;
    if (td_geo_ctx_new(&g, err, sizeof err) != 0) {
        fprintf(stderr, "td_geo_ctx_new: %s\n", err);
        return 2;
    }
    tiff_parser *p = tiff_parser_new(NULL);
    double total_us = 0;
    long total_n = 0;
    for (; i < argc; i++) {
        size_t n;
        unsigned char *data = slurp(argv[i], &n);
        printf("{\"path\":");
        jstr(argv[i]);
        tiff_parser_reset(p, data ? n : 0);
        int rc = data ? tiff_parser_feed(p, 0, data, n) : TIFF_E_TRUNCATED;
        if (rc == TIFF_OK)
            rc = tiff_parser_run(p);
        if (rc != TIFF_OK) {
            printf(",\"error\":\"%s\"}\n", tiff_err_name(rc));
            free(data);
            continue;
        }
        const tiff_header *h = tiff_parser_header(p);
        td_geo r;
        td_geo_compute(g, h, &r);
        if (repeat > 0) {
            double t0 = now_us();
            for (long k = 0; k < repeat; k++)
                td_geo_compute(g, h, &r);
            total_us += now_us() - t0;
            total_n += repeat;
        }
        printf(",\"error\":null,\"transform\":");
        if (r.has_transform) {
            jdbls(r.transform, 6);
            printf(",\"shape\":[%lld,%lld],\"proj_bbox\":", (long long)r.shape[0],
                   (long long)r.shape[1]);
            jdbls(r.proj_bbox, 4);
        } else {
            printf("null,\"shape\":null,\"proj_bbox\":null");
        }
        printf(",\"proj_code\":");
        jstr(r.proj_code);
        printf(",\"wkt2\":");
        jstr(r.wkt2);
        printf(",\"projjson\":");
        jstr(r.projjson);
        printf(",\"wkb\":");
        if (r.wkb) {
            putchar('"');
            for (size_t k = 0; k < r.wkb_len; k++)
                printf("%02x", r.wkb[k]);
            printf("\",\"multi\":%s,\"bbox\":", r.multi ? "true" : "false");
            jdbls(r.bbox, 4);
        } else {
            printf("null,\"multi\":null,\"bbox\":null");
        }
        printf(",\"warning\":");
        jstr(r.warning);
        printf("}\n");
        free(data);
    }
    if (repeat > 0 && total_n > 0)
        fprintf(stderr, "td_geo_compute: %.2f us per header (%ld computations)\n",
                total_us / (double)total_n, total_n);
    tiff_parser_free(p);
    td_geo_ctx_free(g);
    return 0;
}
