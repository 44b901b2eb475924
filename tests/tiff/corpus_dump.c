/* corpus_dump.c - run the parser over files the way a store would: one 16 KiB prefetch from
 * offset 0, then one request per needs() round, counting requests and bytes.
 *   tiff_corpus_dump [--root DIR] [--max-warnings N] [--max-fetch BYTES] FILE...
 * prints one JSON line per file:
 *   {"path":..., "requests":n, "fetched_bytes":n, "error":kind|null, "message":...,
 * "header":{...}|null}
 */
#include "tiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFETCH 16384u

static void json_str(const char *s) {
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

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        if (len == cap) {
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + len, 1, cap - len, f);
        if (r == 0)
            break;
        len += r;
    }
    fclose(f);
    *n = len;
    return b;
}

int main(int argc, char **argv) {
    const char *root = "";
    tiff_limits lim = TIFF_LIMITS_INIT;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--root") && i + 1 < argc)
            root = argv[++i];
        else if (!strcmp(argv[i], "--max-warnings") && i + 1 < argc)
            lim.max_warnings = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-fetch") && i + 1 < argc) /* fetch.max_header_bytes */
            lim.max_fetch_bytes = strtoull(argv[++i], NULL, 10);
        else
            break;
    }
    tiff_parser *p = tiff_parser_new(&lim);
    if (!p)
        return 2;
    char *jbuf = NULL;
    size_t jlen = 0, jcap = 0;
    size_t rootlen = strlen(root);
    int rc_all = 0;
    for (; i < argc; i++) {
        const char *path = argv[i];
        size_t n;
        unsigned char *data = slurp(path, &n);
        if (!data) {
            fprintf(stderr, "cannot read %s\n", path);
            rc_all = 1;
            continue;
        }
        tiff_parser_reset(p, n);
        unsigned requests = 1;
        unsigned long long fetched = n < PREFETCH ? n : PREFETCH;
        tiff_parser_feed(p, 0, data, (size_t)fetched);
        int rc;
        while ((rc = tiff_parser_run(p)) == TIFF_NEED) {
            const tiff_range *r;
            size_t k = tiff_parser_needs(p, &r);
            /* a store serves each range as one request; they all go out in the same round */
            for (size_t j = 0; j < k; j++) {
                if (getenv("TD_TRACE"))
                    fprintf(stderr, "%s: round need [%llu, +%llu)\n", path,
                            (unsigned long long)r[j].offset, (unsigned long long)r[j].length);
                requests++;
                fetched += r[j].length;
                if (tiff_parser_feed(p, r[j].offset, data + r[j].offset, (size_t)r[j].length)) {
                    fprintf(stderr, "%s: bad feed\n", path);
                    return 2;
                }
            }
            if (requests > 10000) {
                fprintf(stderr, "%s: runaway request loop\n", path);
                return 2;
            }
        }
        const char *rel = path;
        if (rootlen && !strncmp(path, root, rootlen)) {
            rel = path + rootlen;
            while (*rel == '/')
                rel++;
        }
        printf("{\"path\":");
        json_str(rel);
        printf(",\"requests\":%u,\"fetched_bytes\":%llu,\"error\":", requests, fetched);
        if (rc == TIFF_OK) {
            jlen = 0;
            if (tiff_header_to_json(tiff_parser_header(p), &jbuf, &jlen, &jcap) != TIFF_OK)
                return 2;
            printf("null,\"message\":null,\"header\":%s}\n", jbuf);
        } else {
            json_str(tiff_err_name(rc));
            printf(",\"message\":");
            json_str(tiff_parser_errmsg(p));
            printf(",\"header\":null}\n");
        }
        free(data);
    }
    free(jbuf);
    tiff_parser_free(p);
    return rc_all;
}
