/* list_driver.c - the run's lister (src/pipeline/fanout.c) alone over any store, for the
 * fan-out tests (list_fanout.py) and the listing bench (bench/list/).
 *
 * usage: list_driver URL [key=value ...] -- PARALLEL FRONTIER CHUNK MAXBUF PREFIX...
 * Prints "key\t<hex key>" per listed key, "bad\t<hex key>\t<kind>" per bad entry,
 * "err\t<hex prefix>\t<kind>\t<message>" per failed prefix, then
 * "done\t<keys>\t<seconds>\t<delimited>\t<whole>\t<frontier peak>\t<pages in flight peak>
 * \t<requests>\t<coalesced runs>\t<partitions>\t<shard depth>\t<runs cut>". LIST_DRIVER_SHARD=I/N
 * lists as shard I of N (fanout.h: prefixes assigned to shards). Keys are taken at once: the queue
 * bound MAXBUF only limits the reservations of the pages in flight, as in the pipeline. */
#include "fanout.h"
#include "probe_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct drv {
    td_lister *l;
    uint64_t maxbuf, chunk, keys, max_reserved;
    bool quiet;
} drv;

static void on_page(void *ud, const store_entry *e, size_t n, const store_bad_entry *bad,
                    size_t n_bad) {
    drv *d = ud;
    d->keys += n;
    for (size_t i = 0; i < n && !d->quiet; i++) {
        fputs("key\t", stdout);
        probe_hexprint(e[i].key, e[i].key_len);
        fputc('\n', stdout);
    }
    for (size_t i = 0; i < n_bad; i++) {
        fputs("bad\t", stdout);
        probe_hexprint(bad[i].key, strlen(bad[i].key));
        printf("\t%s\n", store_err_name(bad[i].status));
    }
}

static void on_error(void *ud, const char *prefix, int status, const char *msg, unsigned attempts) {
    (void)ud;
    (void)attempts;
    fputs("err\t", stdout);
    probe_hexprint(prefix, strlen(prefix));
    printf("\t%s\t%s\n", store_err_name(status), msg);
}

static uint64_t on_room(void *ud) {
    drv *d = ud;
    uint64_t r = td_lister_reserved(d->l);
    if (r > d->max_reserved)
        d->max_reserved = r;
    return r >= d->maxbuf ? 0 : d->maxbuf - r;
}

static void on_after(void *ud) {
    drv *d = ud;
    td_lister_pump(d->l);
    uint64_t r = td_lister_reserved(d->l);
    if (r > d->max_reserved)
        d->max_reserved = r;
}

int main(int argc, char **argv) {
    store_kv kv[32];
    store_options o = STORE_OPTIONS_INIT;
    int ci = probe_parse_args(argc, argv, kv, 32, &o, true);
    if (ci < 0 || argc - ci < 5) {
        fprintf(stderr, "usage: %s URL [k=v ...] -- PARALLEL FRONTIER CHUNK MAXBUF PREFIX...\n",
                argv[0]);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    store *st = probe_open(&loop, argv[1], &o);
    if (!st)
        return 1;
    drv d = {0};
    d.quiet = getenv("LIST_DRIVER_QUIET") != NULL;
    d.chunk = strtoull(argv[ci + 2], NULL, 10);
    d.maxbuf = strtoull(argv[ci + 3], NULL, 10);
    td_lister_options lo = {(const char *const *)(argv + ci + 4),
                            (size_t)(argc - ci - 4),
                            (size_t)d.chunk,
                            (unsigned)strtoul(argv[ci], NULL, 10),
                            (size_t)strtoull(argv[ci + 1], NULL, 10),
                            0,
                            0};
    const char *sh = getenv("LIST_DRIVER_SHARD");
    if (sh && sscanf(sh, "%u/%u", &lo.shard_index, &lo.shard_count) != 2) {
        fprintf(stderr, "LIST_DRIVER_SHARD must be I/N\n");
        return 2;
    }
    td_lister_ops ops = {on_page, on_error, on_room, on_after, &d};
    d.l = td_lister_new(st, &lo, &ops);
    if (!d.l) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t t0 = uv_hrtime();
    td_lister_pump(d.l);
    uv_run(&loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    uint64_t nd, nw;
    size_t peak;
    td_lister_counts(d.l, &nd, &nw, &peak);
    store_stats ss;
    store_get_stats(st, &ss);
    printf("done\t%llu\t%.3f\t%llu\t%llu\t%zu\t%llu\t%llu\t%llu\t%d\t%zu\t%llu\n",
           (unsigned long long)d.keys, secs, (unsigned long long)nd, (unsigned long long)nw, peak,
           (unsigned long long)(d.max_reserved / (d.chunk ? d.chunk : 1)),
           (unsigned long long)ss.requests, (unsigned long long)td_lister_groups(d.l),
           (int)td_lister_partitions(d.l), td_lister_shard_depth(d.l),
           (unsigned long long)td_lister_splits(d.l));
    bool done = td_lister_done(d.l);
    td_lister_free(d.l);
    store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return done ? 0 : 1;
}
