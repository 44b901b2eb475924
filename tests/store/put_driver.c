/* put_driver.c - drives store_put / store_delete on a uv loop for the put_* tests (the
 * Python harness starts the servers, runs this, and checks what it prints).
 *
 *   put_driver URL [key=value ...] -- COMMAND ARGS
 *   put KEY SIZE SEED PART_SIZE FLAGS
 *        uploads SIZE pseudo-random bytes (from SEED) under KEY, parts of PART_SIZE (0: the
 *        default); FLAGS: "-" or letters: c = create_only, f = from a file descriptor
 *        (a temporary file at an offset) instead of a buffer, n = from a sparse file
 *        without holding or checking the bytes (for memory and time figures, see
 *        cmd_put_nomem). Otherwise reads KEY back with
 *        store_get and compares:
 *        "put\t<status>\t<attempts>\t<parts>\t<http>\t<verify>\t<msg>" where verify is
 *        "same", "differs", "-" (put failed) or the read's status name (an empty
 *        object is checked by listing: size 0)
 *   cancel KEY SIZE PART_SIZE AFTER_PARTS
 *        starts a buffer upload and cancels it once AFTER_PARTS parts are up (0: at once):
 *        "cancel\t<status>\t<parts>\t<msg>", then "after\t<status of a read of KEY>"
 *   close KEY SIZE PART_SIZE AFTER_PARTS
 *        starts a buffer upload and closes the store once AFTER_PARTS parts are up:
 *        "close\t<status>\t<parts>" (the callback ran, once, before the store was gone)
 *   many N SIZE PART_SIZE
 *        N puts of SIZE bytes at once ("many/<i>"), each read back:
 *        "many\t<ok puts>\t<same>\t<first failure>"
 *   get KEY          "get\t<status>\t<got>"
 *   delete KEY       "delete\t<status>\t<attempts>\t<msg>"
 *   list PREFIX      "list\t<status>\t<n>" and "entry\t<key>\t<size>" per key
 * Exit status 0 unless the driver itself failed. */
#define _XOPEN_SOURCE 700
#include "probe_util.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static store *st;
static uv_loop_t *loop;
static bool finished;

static uint8_t *make_bytes(uint64_t n, uint64_t seed) {
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return NULL;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)(x >> 24);
    }
    return b;
}

static void run_until(bool *flag) {
    /* every wait bounded: 120 s of loop turns at most */
    uint64_t start = uv_now(loop);
    while (!*flag && uv_now(loop) - start < 120000) {
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
    }
    if (!*flag) {
        fprintf(stderr, "put_driver: timed out\n");
        exit(2);
    }
}

static int put_status;
static void on_put(store_put_req *req, int status) {
    (void)req;
    put_status = status;
    finished = true;
}

static int get_status;
static void on_get(store_get_req *req, int status) {
    (void)req;
    get_status = status;
    finished = true;
}

/* Reads key whole (up to cap bytes) into *out; returns the status, *got the bytes. */
static int read_back(const char *key, uint64_t cap, uint8_t **out, uint64_t *got) {
    store_get_req g = {0};
    g.key = key;
    g.offset = 0;
    g.length = cap + 1; /* one more: a longer object shows */
    g.buf = malloc((size_t)g.length);
    g.cb = on_get;
    g.known_size = UINT64_MAX;
    *out = g.buf;
    *got = 0;
    if (!g.buf)
        return STORE_E_NOMEM;
    finished = false;
    int rc = store_get(st, &g);
    if (rc)
        return rc;
    run_until(&finished);
    *got = g.got;
    return get_status;
}

static size_t n_listed;
static bool listed_empty_key; /* the listing named put_key with size 0 */
static const char *put_key;
static void cmd_list(const char *prefix);

/* Flag n: SIZE bytes of a sparse temporary file, never held in memory and not read back
 * (the driver's peak RSS then shows what the store keeps: one part); prints
 * "put\t<status>\t<attempts>\t<parts>\t<http>\t-\t<msg>" and "time\t<seconds>". */
static void cmd_put_nomem(const char *key, uint64_t size, uint64_t part) {
    char path[] = "/tmp/td-put-driver-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        fprintf(stderr, "put_driver: temporary file\n");
        exit(2);
    }
    unlink(path);
    store_put_req req = {0};
    req.key = key;
    req.length = size;
    req.part_size = part;
    req.cb = on_put;
    req.fd = fd;
    finished = false;
    uint64_t t0 = uv_hrtime();
    int rc = store_put(st, &req);
    if (rc == 0)
        run_until(&finished);
    else
        put_status = rc;
    printf("put\t%s\t%u\t%u\t%d\t-\t%s\n", store_err_name(put_status), req.attempts, req.parts,
           req.http_status, put_status ? req.errmsg : "");
    printf("time\t%.3f\n", (double)(uv_hrtime() - t0) / 1e9);
    close(fd);
}

static void cmd_put(const char *key, uint64_t size, uint64_t seed, uint64_t part, const char *fl) {
    if (strchr(fl, 'n')) {
        cmd_put_nomem(key, size, part);
        return;
    }
    uint8_t *data = make_bytes(size, seed);
    store_put_req req = {0};
    req.key = key;
    req.length = size;
    req.part_size = part;
    req.create_only = strchr(fl, 'c') != NULL;
    req.cb = on_put;
    req.fd = -1;
    char path[] = "/tmp/td-put-driver-XXXXXX";
    int fd = -1;
    if (strchr(fl, 'f')) {
        fd = mkstemp(path);
        if (fd < 0 || write(fd, "0123456789", 10) != 10 ||
            (size && write(fd, data, size) != (ssize_t)size)) {
            fprintf(stderr, "put_driver: temporary file\n");
            exit(2);
        }
        unlink(path);
        req.fd = fd;
        req.fd_offset = 10;
        lseek(fd, 3, SEEK_SET); /* the store must not use the file position */
    } else {
        req.buf = data;
    }
    finished = false;
    int rc = store_put(st, &req);
    if (rc == 0)
        run_until(&finished);
    else
        put_status = rc;
    const char *verify = "-";
    if (put_status == STORE_OK && size == 0) {
        /* an empty object is checked by listing it: s3rver answers a Range on one with a
         * 206 promising a byte it never sends (an emulator bug; S3 answers 416) */
        put_key = key;
        cmd_list(key);
        verify = listed_empty_key ? "same" : "differs";
    } else if (put_status == STORE_OK) {
        uint8_t *back;
        uint64_t got;
        int g = read_back(key, size, &back, &got);
        verify = g != STORE_OK                              ? store_err_name(g)
                 : got == size && !memcmp(back, data, size) ? "same"
                                                            : "differs";
        free(back);
    }
    printf("put\t%s\t%u\t%u\t%d\t%s\t%s\n", store_err_name(put_status), req.attempts, req.parts,
           req.http_status, verify, put_status ? req.errmsg : "");
    if (fd >= 0)
        close(fd);
    free(data);
}

static store_put_req creq;
static unsigned cancel_after;
static bool cancel_sent;
static void on_tick(uv_timer_t *t) {
    if (!cancel_sent && creq.parts >= cancel_after) {
        cancel_sent = true;
        store_put_cancel(st, &creq);
    }
    if (finished)
        uv_timer_stop(t);
}

static void cmd_cancel(const char *key, uint64_t size, uint64_t part, unsigned after) {
    uint8_t *data = make_bytes(size, 99);
    creq.key = key;
    creq.buf = data;
    creq.fd = -1;
    creq.length = size;
    creq.part_size = part;
    creq.cb = on_put;
    cancel_after = after;
    finished = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    int rc = store_put(st, &creq);
    if (rc == 0) {
        if (after == 0) {
            cancel_sent = true;
            store_put_cancel(st, &creq);
        }
        uv_timer_start(&t, on_tick, 1, 1);
        run_until(&finished);
    } else {
        put_status = rc;
    }
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    printf("cancel\t%s\t%u\t%s\n", store_err_name(put_status), creq.parts, creq.errmsg);
    uint8_t *back;
    uint64_t got;
    printf("after\t%s\n", store_err_name(read_back(key, size, &back, &got)));
    free(back);
    free(data);
}

static unsigned close_calls;
static void on_close_put(store_put_req *req, int status) {
    (void)req;
    put_status = status;
    close_calls++;
    finished = true;
}

static void on_close_tick(uv_timer_t *t) {
    if (!cancel_sent && creq.parts >= cancel_after) {
        cancel_sent = true;
        store_close(st); /* runs the put's callback with STORE_E_CANCELED */
        st = NULL;
        uv_timer_stop(t);
    }
}

static void cmd_close(const char *key, uint64_t size, uint64_t part, unsigned after) {
    uint8_t *data = make_bytes(size, 7);
    creq.key = key;
    creq.buf = data;
    creq.fd = -1;
    creq.length = size;
    creq.part_size = part;
    creq.cb = on_close_put;
    cancel_after = after;
    finished = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    int rc = store_put(st, &creq);
    if (rc == 0) {
        uv_timer_start(&t, on_close_tick, 1, 1);
        run_until(&finished);
    } else {
        put_status = rc;
    }
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT); i++)
        ;
    printf("close\t%s\t%u\t%u\n", store_err_name(put_status), creq.parts, close_calls);
    free(data);
}

#define MANY_MAX 64
static unsigned many_left;
static int many_status[MANY_MAX];
static void on_many(store_put_req *req, int status) {
    many_status[(int *)req->data - many_status] = status;
    if (--many_left == 0)
        finished = true;
}

static void cmd_many(unsigned n, uint64_t size, uint64_t part) {
    if (n > MANY_MAX)
        n = MANY_MAX;
    static store_put_req reqs[MANY_MAX];
    static char keys[MANY_MAX][32];
    uint8_t *data[MANY_MAX];
    many_left = 0;
    finished = false;
    for (unsigned i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "many/%u", i);
        data[i] = make_bytes(size, 1000 + i);
        reqs[i] = (store_put_req){.key = keys[i],
                                  .buf = data[i],
                                  .fd = -1,
                                  .length = size,
                                  .part_size = part,
                                  .cb = on_many,
                                  .data = &many_status[i]};
        many_status[i] = store_put(st, &reqs[i]);
        if (many_status[i] == 0)
            many_left++;
    }
    if (many_left)
        run_until(&finished);
    unsigned ok = 0, same = 0;
    const char *first = "";
    for (unsigned i = 0; i < n; i++) {
        if (many_status[i] != STORE_OK) {
            if (!*first)
                first = reqs[i].errmsg;
            continue;
        }
        ok++;
        uint8_t *back;
        uint64_t got;
        if (read_back(keys[i], size, &back, &got) == STORE_OK && got == size &&
            !memcmp(back, data[i], size))
            same++;
        free(back);
    }
    for (unsigned i = 0; i < n; i++)
        free(data[i]);
    printf("many\t%u\t%u\t%s\n", ok, same, first);
}

static int del_status;
static void on_del(store_delete_req *req, int status) {
    (void)req;
    del_status = status;
    finished = true;
}

static void cmd_delete(const char *key) {
    store_delete_req d = {0};
    d.key = key;
    d.cb = on_del;
    finished = false;
    int rc = store_delete(st, &d);
    if (rc == 0)
        run_until(&finished);
    else
        del_status = rc;
    printf("delete\t%s\t%u\t%s\n", store_err_name(del_status), d.attempts,
           del_status ? d.errmsg : "");
}

static int list_status;
static void on_list(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    (void)bad;
    (void)n_bad;
    for (size_t i = 0; i < n; i++) {
        if (put_key) {
            if (e[i].key_len == strlen(put_key) && !memcmp(e[i].key, put_key, e[i].key_len))
                listed_empty_key = e[i].size == 0;
            continue;
        }
        printf("entry\t%.*s\t%llu\n", (int)e[i].key_len, e[i].key, (unsigned long long)e[i].size);
    }
    n_listed += n;
    if (status || done) {
        list_status = status;
        finished = true;
        return;
    }
    if (store_list_next(st, req) != 0) {
        list_status = STORE_E_HTTP;
        finished = true;
    }
}

static void cmd_list(const char *prefix) {
    store_list_req l = {0};
    l.prefix = prefix;
    l.page_size = 1000;
    l.cb = on_list;
    finished = false;
    int rc = store_list_next(st, &l);
    if (rc == 0)
        run_until(&finished);
    else
        list_status = rc;
    if (!put_key)
        printf("list\t%s\t%zu\n", store_err_name(list_status), n_listed);
}

int main(int argc, char **argv) {
    store_kv kv[32];
    store_options o = STORE_OPTIONS_INIT;
    int ci = probe_parse_args(argc, argv, kv, 32, &o, true);
    if (ci < 0) {
        fprintf(stderr, "usage: put_driver URL [k=v ...] -- COMMAND ARGS\n");
        return 2;
    }
    o.max_attempts = 4;
    o.retry_max_ms = 20000;
    loop = uv_default_loop();
    st = probe_open(loop, argv[1], &o);
    if (!st)
        return 0;
    const char *cmd = argv[ci];
    int na = argc - ci - 1;
    char **a = argv + ci + 1;
    if (!strcmp(cmd, "put") && na == 5)
        cmd_put(a[0], strtoull(a[1], NULL, 10), strtoull(a[2], NULL, 10), strtoull(a[3], NULL, 10),
                a[4]);
    else if (!strcmp(cmd, "cancel") && na == 4)
        cmd_cancel(a[0], strtoull(a[1], NULL, 10), strtoull(a[2], NULL, 10),
                   (unsigned)strtoul(a[3], NULL, 10));
    else if (!strcmp(cmd, "close") && na == 4)
        cmd_close(a[0], strtoull(a[1], NULL, 10), strtoull(a[2], NULL, 10),
                  (unsigned)strtoul(a[3], NULL, 10));
    else if (!strcmp(cmd, "many") && na == 3)
        cmd_many((unsigned)strtoul(a[0], NULL, 10), strtoull(a[1], NULL, 10),
                 strtoull(a[2], NULL, 10));
    else if (!strcmp(cmd, "get") && na == 1) {
        uint8_t *back;
        uint64_t got;
        int s = read_back(a[0], 1 << 20, &back, &got);
        printf("get\t%s\t%llu\n", store_err_name(s), (unsigned long long)got);
        free(back);
    } else if (!strcmp(cmd, "delete") && na == 1)
        cmd_delete(a[0]);
    else if (!strcmp(cmd, "list") && na == 1)
        cmd_list(a[0]);
    else {
        fprintf(stderr, "put_driver: unknown command or arguments\n");
        return 2;
    }
    fflush(stdout);
    if (st)
        store_close(st);
    /* bounded: the engine's handles close within a few turns */
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT); i++)
        ;
    return 0;
}
