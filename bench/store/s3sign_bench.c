/* s3sign_bench.c - what signing one S3 request costs: time and heap allocations per
 * s3_sign_headers() call (SigV4: canonical request, string to sign, HMAC, the header lines),
 * for a typical ranged GET of a Sentinel-2 key. A benchmark, not a test: it only checks that
 * every signature equals the first one computed without the key cache.
 *
 *   s3sign_bench [SECONDS_PER_MEASUREMENT=0.5]     (pin it: taskset -c 1 s3sign_bench)
 *
 * Cells (each the best of three runs; rates use the thread's CPU time):
 *   sign, key cache       - s3_sign_headers with the store's cache (what every request pays)
 *   sign, no cache        - the same with cache NULL: the four-HMAC key derivation each time
 *   request parts + sign  - s3_reqparts_build + s3_sign_headers into new header lines +
 *                           both freed: all the per-request work of s3_req.c for one GET
 * Allocations are counted by interposing malloc/calloc/realloc (this program's definitions
 * take precedence over libc's for every library, OpenSSL included); free is not counted. */
#include "s3_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- counting allocator: forwards to glibc's own entry points -------------------------- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static unsigned long long n_alloc;
void *malloc(size_t n) {
    n_alloc++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    n_alloc++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    n_alloc++;
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *KEY = "sentinel-s2-l2a-cogs/10/C/CV/2022/6/S2B_10CCV_20220609_0_L2A/B04.tif";

typedef enum { CELL_CACHED, CELL_UNCACHED, CELL_PARTS } cell;

static s3_target tgt;
static s3_creds creds;
static char ref_auth[512];

static const char *auth_of(const s3_hdrs *h) {
    for (size_t i = 0; i < h->n; i++)
        if (strncmp(s3_hdr(h, i), "Authorization: ", 15) == 0)
            return s3_hdr(h, i) + 15;
    return "";
}

/* one measurement: signs for `secs` of CPU time; returns ns per request, sets *allocs */
static double measure(cell c, double secs, double *allocs) {
    s3_reqparts parts;
    if (s3_reqparts_build(&parts, &tgt, KEY, strlen(KEY), NULL, 0) != 0)
        abort();
    s3_hdrs h = {0};
    s3_sigkey_cache cache = {0};
    const time_t now = 1654790400 + 3600; /* 2022-06-09 01:00:00 UTC: a fixed second */
    /* warm up: the first call sizes buffers and derives the key */
    if (s3_sign_headers(&h, &tgt, "GET", &parts, &creds, false, now, &cache) != 0)
        abort();
    unsigned long long a0 = n_alloc;
    long n = 0;
    double t0 = cpu_now(), t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 256; i++) {
            int rc;
            if (c == CELL_PARTS) {
                /* as the store does per request: new parts and header lines each time */
                s3_reqparts p2;
                s3_hdrs h2 = {0};
                if (s3_reqparts_build(&p2, &tgt, KEY, strlen(KEY), NULL, 0) != 0)
                    abort();
                rc = s3_sign_headers(&h2, &tgt, "GET", &p2, &creds, false, now, &cache);
                s3_hdrs_free(&h2);
                s3_reqparts_free(&p2);
            } else {
                rc = s3_sign_headers(&h, &tgt, "GET", &parts, &creds, false, now,
                                     c == CELL_CACHED ? &cache : NULL);
            }
            if (rc != 0)
                abort();
        }
        n += 256;
        t = cpu_now();
    }
    *allocs = (double)(n_alloc - a0) / (double)n;
    if (strcmp(auth_of(&h), ref_auth) != 0) {
        fprintf(stderr, "signature differs from the uncached reference:\n%s\n%s\n", auth_of(&h),
                ref_auth);
        exit(1);
    }
    s3_hdrs_free(&h);
    s3_reqparts_free(&parts);
    return (t - t0) * 1e9 / (double)n;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    if (secs <= 0)
        secs = 0.5;
    char err[256];
    if (s3_target_init(&tgt, "https://127.0.0.1:8443", "sentinel-cogs", "us-west-2", false, false,
                       err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    creds.access_key = "AKIAIOSFODNN7EXAMPLE";
    creds.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    creds.expires_ms = INT64_MAX;
    {
        s3_reqparts parts;
        s3_hdrs h = {0};
        if (s3_reqparts_build(&parts, &tgt, KEY, strlen(KEY), NULL, 0) != 0 ||
            s3_sign_headers(&h, &tgt, "GET", &parts, &creds, false, 1654790400 + 3600, NULL) != 0)
            return 1;
        snprintf(ref_auth, sizeof ref_auth, "%s", auth_of(&h));
        s3_hdrs_free(&h);
        s3_reqparts_free(&parts);
    }
    static const struct {
        cell c;
        const char *name;
    } cells[] = {{CELL_CACHED, "sign, key cache"},
                 {CELL_UNCACHED, "sign, no cache"},
                 {CELL_PARTS, "request parts + sign"}};
    printf("| cell | ns / request | requests / CPU-second | heap allocations / request |\n");
    printf("|---|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        double best = 1e30, allocs = 0;
        for (int r = 0; r < 3; r++) {
            double a, ns = measure(cells[i].c, secs, &a);
            if (ns < best)
                best = ns;
            allocs = a;
        }
        printf("| %s | %.0f | %.0f | %.2f |\n", cells[i].name, best, 1e9 / best, allocs);
    }
    s3_target_free(&tgt);
    return 0;
}
