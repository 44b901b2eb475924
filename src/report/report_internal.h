/* report_internal.h - shared by report.c (aggregation) and report_html.c (the page). */
#ifndef REPORT_REPORT_INTERNAL_H
#define REPORT_REPORT_INTERNAL_H

#include "map.h"
#include "report.h"

/* One value of a histogram. order sorts the histograms shown in value order. */
typedef struct rp_ent {
    char *key;
    size_t klen; /* key may hold a NUL (a STRING value may) */
    uint64_t count;
    int64_t order;
    char *samples[TD_REPORT_SAMPLES]; /* errors: the first paths */
    size_t n_samples;
} rp_ent;

#define RP_SLOTS 8192u /* >= 2 * TD_REPORT_MAX_KEYS, a power of two */

#define RP_MEMO 32 /* a power of two */

typedef struct rp_hist {
    rp_ent *e;
    size_t n, cap;
    uint32_t *slot; /* RP_SLOTS indices + 1 into e; 0 = empty */
    uint64_t other; /* values past TD_REPORT_MAX_KEYS */
    uint64_t total;
    bool nomem;
    /* the entries of recent (a, b) number pairs of this histogram's key (hist_memo in
     * report.c): index + 1 into e, 0 = empty */
    struct {
        int64_t a, b;
        uint32_t idx;
    } memo[RP_MEMO];
} rp_hist;

enum {
    RP_CRS,
    RP_COMPRESSION,
    RP_DTYPE,
    RP_TILE,
    RP_OVERVIEWS,
    RP_COG,
    RP_COG_REASONS,
    RP_REQUESTS,
    RP_IFD_BYTES,
    RP_IMAGE_SIZE,
    RP_FOOTPRINT,
    RP_LAT,
    RP_ERRORS,
    RP_N
};

struct td_report {
    td_report_options o;
    rp_hist h[RP_N];
    td_map *map;
    uint64_t headers, errors, map_failed;
    uint64_t fetched_bytes, requests; /* sums over the rows */
};

extern const char *const rp_hist_ids[RP_N];
/* Entries of h sorted for display (by order when by_order, else by count): a new array of
 * pointers (NULL when out of memory or empty). */
rp_ent **rp_sorted(const rp_hist *h, bool by_order);

#endif
