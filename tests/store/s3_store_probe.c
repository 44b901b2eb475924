/* s3_store_probe.c - drives the store interface on a uv loop for the S3 tests (the Python
 * harness starts s3rver / the credential server, runs this, and checks what it prints).
 *
 *   s3_store_probe URL [key=value ...] -- COMMAND ARGS
 *   list PREFIX PAGE_SIZE       every entry: "entry\t<hex key>\t<size>\t<mtime_ms>\t<etag>",
 *                               "page\t<n>" after each page, then "status\t<name>\t<msg>"
 *   get HEXKEY OFFSET LENGTH    "get\t<status>\t<got>\t<object_size>\t<http>\t<hex data>"
 *   getall PAGE_SIZE LENGTH INFLIGHT
 *                               lists everything, then reads the first LENGTH bytes of
 *                               every key, INFLIGHT at once: "got\t<hex key>\t<status>\t
 *                               <got>\t<object_size>\t<sha256 of the bytes>"
 *   repeat N                    lists everything N times in a row
 *   soak SECONDS                lists everything again and again for SECONDS (a workload
 *                               for credential refresh, nothing is timed or asserted)
 *   closewait MS                starts a listing and closes the store MS later:
 *                               "closewait\t<canceled-by-close|finished-before>\t<status>"
 * TD_PROBE_CA_BUNDLE: a CA file, as the config's network.ca_bundle.
 * Option values: "@ENV" takes the value from an environment variable (keeps secrets out
 * of argv). Exit status 0 unless the probe itself failed. */
#include "probe_util.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static store *st;
static uv_loop_t *loop;

/* ---- listing ---- */
static probe_keys all;
static int list_status;
static bool list_print = true;
static bool list_finished;

static void on_list(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    (void)bad;
    (void)n_bad;
    for (size_t i = 0; i < n; i++) {
        if (list_print) {
            printf("entry\t");
            probe_hexprint(e[i].key, e[i].key_len);
            printf("\t%llu\t%lld\t%s\n", (unsigned long long)e[i].size, (long long)e[i].mtime_ms,
                   e[i].etag ? e[i].etag : "-");
        }
        probe_keys_add(&all, e[i].key, e[i].key_len);
    }
    if (list_print)
        printf("page\t%zu\n", n);
    if (status != 0 || done) {
        list_status = status;
        list_finished = true;
        if (list_print || status != 0)
            printf("status\t%s\t%s\n", store_err_name(status), status ? req->errmsg : "");
        uv_stop(loop); /* keep-alive connections may keep the loop alive */
        return;
    }
    int rc = store_list_next(st, req);
    if (rc != 0) {
        list_status = rc;
        list_finished = true;
        printf("status\t%s\tlist_next refused\n", store_err_name(rc));
        uv_stop(loop);
    }
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

static int do_list(const char *prefix, size_t page) {
    store_list_req req;
    memset(&req, 0, sizeof req);
    req.prefix = prefix;
    req.page_size = page;
    req.cb = on_list;
    list_finished = false;
    int rc = store_list_next(st, &req);
    if (rc != 0) {
        printf("status\t%s\tstart refused\n", store_err_name(rc));
        return rc;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    store_list_free(st, &req);
    return list_finished ? list_status : -100;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: see the comment at the top\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    const char *url = argv[1];
    store_kv kv[32];
    store_options o = STORE_OPTIONS_INIT;
    int i = probe_parse_args(argc, argv, kv, 32, &o, true);
    if (i < 0)
        return 2;
    const char *cmd = argv[i++];
    loop = uv_default_loop();
    o.max_in_flight = 64;
    /* the fault-injection test asks for more patience */
    const char *att = getenv("TD_PROBE_ATTEMPTS"), *rmax = getenv("TD_PROBE_RETRY_MS");
    o.max_attempts = att ? (unsigned)atoi(att) : 3;
    o.retry_max_ms = rmax ? (unsigned)atoi(rmax) : 10000;
    o.ca_bundle = getenv("TD_PROBE_CA_BUNDLE"); /* the network section's ca_bundle */
    st = probe_open(loop, url, &o);
    if (!st)
        return 0;
    if (!strcmp(cmd, "list") && i + 1 < argc) {
        do_list(argv[i], (size_t)strtoull(argv[i + 1], NULL, 10));
    } else if (!strcmp(cmd, "get") && i + 2 < argc) {
        probe_get_one(st, loop, argv[i], argv[i + 1], argv[i + 2]);
    } else if (!strcmp(cmd, "getall") && i + 2 < argc) {
        list_print = false;
        if (do_list("", (size_t)strtoull(argv[i], NULL, 10)) == 0) {
            size_t ok, done = probe_get_all(st, loop, &all, strtoull(argv[i + 1], NULL, 10),
                                            (size_t)strtoull(argv[i + 2], NULL, 10), &ok);
            printf("gets\t%zu\n", done);
        }
    } else if (!strcmp(cmd, "repeat") && i < argc) {
        list_print = false;
        int n = atoi(argv[i]);
        for (int k = 0; k < n; k++) {
            int s = do_list("", 1000);
            printf("repeat\t%d\t%s\n", k, store_err_name(s));
        }
    } else if (!strcmp(cmd, "soak") && i < argc) {
        list_print = false;
        double secs = atof(argv[i]);
        uint64_t t0 = uv_hrtime();
        int k = 0, bad = 0;
        while ((double)(uv_hrtime() - t0) / 1e9 < secs && k < 100000) {
            probe_keys_free(&all);
            if (do_list("", 1000) != 0)
                bad++;
            k++;
        }
        printf("soak\t%d\t%d\n", k, bad);
    } else if (!strcmp(cmd, "closewait") && i < argc) {
        /* a listing, then the store closed MS later (while credentials are still being
         * fetched, say): its callback runs once, canceled, and nothing is left behind */
        store_list_req req;
        memset(&req, 0, sizeof req);
        req.prefix = "";
        req.page_size = 10;
        req.cb = on_list;
        list_finished = false;
        if (store_list_next(st, &req) == 0) {
            uv_timer_t t;
            uv_timer_init(loop, &t);
            uv_timer_start(&t, stop_loop, (uint64_t)atoi(argv[i]), 0);
            uv_run(loop, UV_RUN_DEFAULT);
            uv_close((uv_handle_t *)&t, NULL);
            bool before = list_finished;
            if (before)
                store_list_free(st, &req); /* a canceled page frees its own cursor */
            store_close(st);
            uv_run(loop, UV_RUN_DEFAULT);
            printf("closewait\t%s\t%s\n", before ? "finished-before" : "canceled-by-close",
                   list_finished ? store_err_name(list_status) : "no-callback");
        } else {
            store_close(st);
        }
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        fflush(stdout);
        return 0;
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        store_close(st);
        return 2;
    }
    store_close(st);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    probe_keys_free(&all);
    fflush(stdout);
    return 0;
}
