/* http_probe.c - drives the store interface on a uv loop for the HTTP store tests (the
 * Python harness starts nginx, runs this and checks what it prints).
 *
 *   http_probe URL [key=value ...] -- COMMAND ARGS
 *   list PREFIX PAGE_SIZE     "entry\t<hex key>\t<size>\t<mtime_ms>" per entry,
 *                             "bad\t<hex key>\t<status name>\t<message>" per bad entry,
 *                             "page\t<n>\t<n_bad>" per callback, then "status\t<name>\t<msg>"
 *   get HEXKEY OFFSET LENGTH  "get\t<status>\t<got>\t<object_size>\t<http>\t<hex data>\t<msg>"
 *   getall PAGE LENGTH INFLIGHT
 *                             lists everything, reads the first LENGTH bytes of every key,
 *                             INFLIGHT at once: "got\t<hex key>\t<status>\t<got>\t<size>\t
 *                             <sha256>" per key, then "gets\t<n ok>\t<n failed>"
 *   listfree PAGE             takes one page, then frees the listing and closes the store
 *   listclose PAGE            asks for a page and closes the store at once (the callback
 *                             must come back canceled)
 * Exit status 0 unless the probe itself failed. */
#include "probe_util.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static store *st;
static uv_loop_t *loop;

static probe_keys keys;
static int list_status;
static bool list_done, list_print = true, stop_after_page;
static unsigned pages;

static void on_list(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    pages++;
    if (n + n_bad > req->page_size)
        printf("oversized_page\t%zu\t%zu\n", n + n_bad, req->page_size);
    for (size_t i = 0; i < n; i++) {
        if (list_print) {
            printf("entry\t");
            probe_hexprint(e[i].key, e[i].key_len);
            printf("\t%llu\t%lld\n", (unsigned long long)e[i].size, (long long)e[i].mtime_ms);
        }
        probe_keys_add(&keys, e[i].key, e[i].key_len);
    }
    for (size_t i = 0; i < n_bad; i++) {
        printf("bad\t");
        probe_hexprint(bad[i].key, strlen(bad[i].key));
        printf("\t%s\t%s\n", store_err_name(bad[i].status), bad[i].message);
    }
    if (list_print)
        printf("page\t%zu\t%zu\n", n, n_bad);
    if (status != 0 || done || stop_after_page) {
        list_status = status;
        list_done = done || status != 0;
        printf("status\t%s\t%s\n", store_err_name(status), status ? req->errmsg : "");
        uv_stop(loop); /* keep-alive connections keep the loop alive */
        return;
    }
    int rc = store_list_next(st, req);
    if (rc != 0) {
        list_status = rc;
        list_done = true;
        printf("status\t%s\tlist_next refused\n", store_err_name(rc));
        uv_stop(loop);
    }
}

static int do_list(store_list_req *req, const char *prefix, size_t page) {
    memset(req, 0, sizeof *req);
    req->prefix = prefix;
    req->page_size = page;
    req->cb = on_list;
    int rc = store_list_next(st, req);
    if (rc != 0) {
        printf("status\t%s\tstart refused\n", store_err_name(rc));
        return rc;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return list_status;
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: http_probe URL [k=v ...] -- COMMAND ARGS\n");
        return 2;
    }
    const char *url = argv[1];
    store_kv kv[32];
    store_options o = STORE_OPTIONS_INIT;
    int i = probe_parse_args(argc, argv, kv, 32, &o, false);
    if (i < 0)
        return 2;
    const char *cmd = argv[i++];
    loop = uv_default_loop();
    const char *att = getenv("TD_PROBE_ATTEMPTS");
    if (att)
        o.max_attempts = (unsigned)atoi(att);
    const char *inf = getenv("TD_PROBE_INFLIGHT");
    if (inf)
        o.max_in_flight = (unsigned)atoi(inf);
    st = probe_open(loop, url, &o);
    if (!st)
        return 0;
    store_list_req req;
    if (!strcmp(cmd, "list") && i + 1 < argc) {
        do_list(&req, argv[i], (size_t)strtoull(argv[i + 1], NULL, 10));
        store_list_free(st, &req);
    } else if (!strcmp(cmd, "get") && i + 2 < argc) {
        probe_get_one(st, loop, argv[i], argv[i + 1], argv[i + 2]);
    } else if (!strcmp(cmd, "getall") && i + 2 < argc) {
        list_print = false;
        if (do_list(&req, "", (size_t)strtoull(argv[i], NULL, 10)) == 0 && keys.n) {
            size_t ok, done = probe_get_all(st, loop, &keys, strtoull(argv[i + 1], NULL, 10),
                                            (size_t)strtoull(argv[i + 2], NULL, 10), &ok);
            printf("gets\t%zu\t%zu\n", ok, done - ok);
        }
        store_list_free(st, &req);
    } else if (!strcmp(cmd, "listfree") && i < argc) {
        stop_after_page = true;
        do_list(&req, "", (size_t)strtoull(argv[i], NULL, 10));
        store_list_free(st, &req);
    } else if (!strcmp(cmd, "listclose") && i < argc) {
        memset(&req, 0, sizeof req);
        req.prefix = "";
        req.page_size = (size_t)strtoull(argv[i], NULL, 10);
        req.cb = on_list;
        int rc = store_list_next(st, &req);
        printf("start\t%s\n", store_err_name(rc));
        store_close(st);
        st = NULL;
        printf("closed\t%u\n", pages);
    } else {
        fprintf(stderr, "bad command\n");
        return 2;
    }
    if (st)
        store_close(st);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    probe_keys_free(&keys);
    fflush(stdout);
    return 0;
}
