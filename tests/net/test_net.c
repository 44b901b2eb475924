/* test_net.c - the network engine against a real nginx (started by nginx_harness.sh, which
 * passes TD_NGINX_PORT, TD_NGINX_PORT2 and TD_NGINX_ROOT). One case per invocation:
 *   test_net basic|norange|f503|f444|throttle|adaptive|stall|final|cancel|free
 * No timed assertions: every wait is bounded by the engine's own limits. */
#include "net.h"
#include "td_test.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static int port;
static int port2;

/* ---------- test files: byte i of file f is a hash of (f, i) ---------- */
#define N_FILES 100
static size_t file_size(int f) { return 1000u + (size_t)f * 2347u % 150000u; }
static uint8_t file_byte(int f, uint64_t i) {
    uint64_t x = (uint64_t)f * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    return (uint8_t)(x >> 29);
}
static void write_file(const char *path, int f, size_t n) {
    FILE *fp = fopen(path, "wb");
    REQUIRE(fp);
    uint8_t buf[4096];
    for (size_t off = 0; off < n;) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = file_byte(f, off + i);
        REQUIRE(fwrite(buf, 1, k, fp) == k);
        off += k;
    }
    REQUIRE(fclose(fp) == 0);
}
static void make_files(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/r", root);
    mkdir(p, 0755);
    for (int f = 0; f < N_FILES; f++) {
        snprintf(p, sizeof p, "%s/r/f%03d.bin", root, f);
        write_file(p, f, file_size(f));
    }
}

/* ---------- a batch of requests run to completion ---------- */
typedef struct {
    net_request r;
    int calls, status;
    int file;
    char url[256];
    uint8_t *mem;
} treq;

static int done_count;
static void on_done(net_request *r, int status) {
    treq *t = (treq *)r;
    t->calls++;
    t->status = status;
    done_count++;
}

static net_options test_opts(unsigned in_flight) {
    net_options o = {0}; /* the engine has no defaults: every field set here */
    o.max_in_flight = in_flight;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    o.low_speed_time_ms = 0;
    o.max_attempts = 6;
    o.retry_base_ms = 5;
    o.retry_cap_ms = 100;
    o.retry_max_ms = 10000;
    o.adaptive = true;
    o.adaptive_floor = 2;
    return o;
}

static void run_until(uv_loop_t *loop, int target) {
    /* bounded: every request ends within its retry budget */
    while (done_count < target) {
        if (uv_run(loop, UV_RUN_ONCE) == 0 && done_count < target) {
            fprintf(stderr, "loop ran dry with %d/%d done\n", done_count, target);
            exit(1);
        }
    }
}

static net_engine *engine_new(uv_loop_t *loop, const net_options *o) {
    net_engine *e;
    char err[256];
    REQUIRE(net_engine_new(&e, loop, o, err, sizeof err) == NET_OK);
    return e;
}

/* frees the engine and lets the loop close what it leaves behind */
static void engine_free(uv_loop_t *loop, net_engine *e) {
    net_engine_free(e);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* one request alone on a fresh engine with options o, run to its end; the engine is gone
 * when this returns (what the request holds, errmsg included, stays readable) */
static void run_alone(uv_loop_t *loop, const net_options *o, treq *t) {
    net_engine *e = engine_new(loop, o);
    done_count = 0;
    REQUIRE(net_start(e, &t->r) == NET_OK);
    run_until(loop, 1);
    engine_free(loop, e);
}

static void setup_range(treq *t, const char *loc, int f, uint64_t off, uint64_t len) {
    memset(t, 0, sizeof *t);
    t->file = f;
    snprintf(t->url, sizeof t->url, "http://127.0.0.1:%d/%s/f%03d.bin?sig=SECRET", port, loc, f);
    t->r.method = "GET";
    t->r.url = t->url;
    t->r.has_range = true;
    t->r.range_offset = off;
    t->r.range_length = len;
    t->mem = malloc(len ? len : 1);
    REQUIRE(t->mem);
    t->r.buf = t->mem;
    t->r.buf_cap = len;
    t->r.cb = on_done;
    t->status = 12345;
}

static void check_range_ok(treq *t) {
    CHECK(t->calls == 1);
    if (t->status != NET_OK) {
        fprintf(stderr, "request failed: %s (%s)\n", t->r.errmsg, net_err_name(t->status));
        td_test_failures++;
        return;
    }
    uint64_t size = file_size(t->file);
    uint64_t want = t->r.range_offset >= size ? 0 : size - t->r.range_offset;
    if (want > t->r.range_length)
        want = t->r.range_length;
    CHECK(t->r.got == want);
    CHECK(t->r.total_size == size);
    CHECK(t->r.http_status == 206);
    for (uint64_t i = 0; i < t->r.got; i++) {
        if (t->mem[i] != file_byte(t->file, t->r.range_offset + i)) {
            fprintf(stderr, "byte mismatch file %d at %llu\n", t->file,
                    (unsigned long long)(t->r.range_offset + i));
            td_test_failures++;
            break;
        }
    }
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* many range GETs with `in_flight` transfers; returns the engine stats */
static void many_ranges(uv_loop_t *loop, const char *loc, int n, unsigned in_flight, net_options o,
                        net_stats *st, unsigned *max_attempts_seen) {
    net_engine *e = engine_new(loop, &o);
    treq *ts = calloc((size_t)n, sizeof *ts);
    REQUIRE(ts);
    done_count = 0;
    for (int i = 0; i < n; i++) {
        int f = (int)(rnd() % N_FILES);
        uint64_t size = file_size(f);
        uint64_t off = rnd() % 3 == 0 ? 0 : rnd() % size;
        uint64_t len = 1 + rnd() % 40000;
        setup_range(&ts[i], loc, f, off, len);
        REQUIRE(net_start(e, &ts[i].r) == NET_OK);
    }
    run_until(loop, n);
    unsigned maxa = 0;
    for (int i = 0; i < n; i++) {
        check_range_ok(&ts[i]);
        if (ts[i].r.attempts > maxa)
            maxa = ts[i].r.attempts;
        CHECK(ts[i].r.attempts >= 1 && ts[i].r.attempts <= o.max_attempts);
        free(ts[i].mem);
    }
    net_get_stats(e, st);
    if (max_attempts_seen)
        *max_attempts_seen = maxa;
    engine_free(loop, e);
    free(ts);
    (void)in_flight;
}

static void case_basic(uv_loop_t *loop) {
    net_options o = test_opts(256);
    net_stats st;
    many_ranges(loop, "r", 2000, 256, o, &st, NULL);
    printf("basic: requests=%llu retries=%llu connections=%llu bytes=%llu\n",
           (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.connections, (unsigned long long)st.bytes);
    CHECK(st.requests == 2000);
    CHECK(st.retries == 0);
    CHECK(st.connections >= 1 && st.connections <= 400); /* reused: far fewer than 2000 */

    /* whole-object GET (no Range) into a buffer, HEAD, and a body too big for the buffer */
    net_engine *e = engine_new(loop, &o);
    treq a, h, big;
    setup_range(&a, "r", 7, 0, file_size(7) + 10);
    a.r.has_range = false;
    memset(&h, 0, sizeof h);
    snprintf(h.url, sizeof h.url, "http://127.0.0.1:%d/r/f009.bin", port);
    h.r.method = "HEAD";
    h.r.url = h.url;
    h.r.cb = on_done;
    setup_range(&big, "r", 8, 0, 100);
    big.r.has_range = false;
    done_count = 0;
    REQUIRE(net_start(e, &a.r) == NET_OK);
    REQUIRE(net_start(e, &h.r) == NET_OK);
    REQUIRE(net_start(e, &big.r) == NET_OK);
    run_until(loop, 3);
    CHECK(a.calls == 1 && a.status == NET_OK && a.r.http_status == 200);
    CHECK(a.r.got == file_size(7) && a.r.total_size == file_size(7));
    CHECK(a.r.got > 0 && memcmp(a.mem, (uint8_t[]){file_byte(7, 0)}, 1) == 0);
    CHECK(h.calls == 1 && h.status == NET_OK && h.r.http_status == 200 && h.r.got == 0);
    CHECK(h.r.total_size == file_size(9));
    CHECK(big.calls == 1 && big.status == NET_E_TOO_BIG && big.r.attempts == 1);
    printf("too big: %s\n", big.r.errmsg);
    free(a.mem);
    free(big.mem);
    engine_free(loop, e);
}

/* more than 128 at once: the engine spreads the transfers over several multi handles */
static void case_shards(uv_loop_t *loop) {
    net_options o = test_opts(300);
    net_stats st;
    many_ranges(loop, "r", 300, 300, o, &st, NULL);
    printf("shards: requests=%llu retries=%llu connections=%llu\n", (unsigned long long)st.requests,
           (unsigned long long)st.retries, (unsigned long long)st.connections);
    CHECK(st.requests == 300);
    CHECK(st.retries == 0);
    CHECK(st.connections >= 1 && st.connections <= 300);
    /* a per-host limit split across the shards still lets everything through */
    o.max_host_connections = 20;
    many_ranges(loop, "r", 600, 300, o, &st, NULL);
    printf("shards (20 per host): requests=%llu connections=%llu\n",
           (unsigned long long)st.requests, (unsigned long long)st.connections);
    CHECK(st.requests == 600);
    CHECK(st.retries == 0);
    /* the limit holds in total, not per shard (the server keeps connections alive) */
    CHECK(st.connections >= 1 && st.connections <= 20);
}

static void case_norange(uv_loop_t *loop) {
    /* a big sparse file: if the engine read it all, tens of MB would move */
    char p[1024];
    snprintf(p, sizeof p, "%s/norange", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/norange/f000.bin", root);
    write_file(p, 0, 4096);
    const uint64_t big = 256ull << 20;
    REQUIRE(truncate(p, (off_t)big) == 0);

    net_options o = test_opts(8);
    net_engine *e = engine_new(loop, &o);
    treq a, b;
    setup_range(&a, "norange", 0, 0, 3000);
    setup_range(&b, "norange", 0, 100, 3000); /* offset != 0: 200 is useless */
    done_count = 0;
    REQUIRE(net_start(e, &a.r) == NET_OK);
    REQUIRE(net_start(e, &b.r) == NET_OK);
    run_until(loop, 2);
    CHECK(a.calls == 1 && a.status == NET_OK);
    CHECK(a.r.http_status == 200 && a.r.got == 3000 && a.r.total_size == big);
    for (int i = 0; i < 3000; i++) {
        if (a.mem[i] != file_byte(0, (uint64_t)i)) {
            CHECK(!"norange byte mismatch");
            break;
        }
    }
    CHECK(b.calls == 1 && b.status == NET_E_HTTP && b.r.http_status == 200 && b.r.attempts == 1);
    printf("ignored range at offset: %s\n", b.r.errmsg);
    net_stats st;
    net_get_stats(e, &st);
    printf("norange: bytes received %llu of a %llu-byte file (x2)\n", (unsigned long long)st.bytes,
           (unsigned long long)big);
    CHECK(st.bytes < (1u << 20));
    free(a.mem);
    free(b.mem);
    engine_free(loop, e);

    /* nginx's own count of what it sent: wait (bounded) for both log lines */
    snprintf(p, sizeof p, "%s/../logs/norange.log", root);
    int lines = 0;
    for (int tries = 0; tries < 100 && lines < 2; tries++) {
        lines = 0;
        FILE *fp = fopen(p, "r");
        if (fp) {
            char line[512];
            while (fgets(line, sizeof line, fp)) {
                char uri[256];
                int status;
                unsigned long long sent;
                if (sscanf(line, "%255s %d %llu", uri, &status, &sent) == 3) {
                    lines++;
                    printf("nginx sent %llu bytes (status %d)\n", sent, status);
                    CHECK(sent < big / 2);
                }
            }
            fclose(fp);
        }
        if (lines < 2)
            uv_sleep(50);
    }
    CHECK(lines == 2);
}

static void case_f503(uv_loop_t *loop) {
    net_options o = test_opts(64);
    o.max_attempts = 12;
    net_stats st;
    unsigned maxa;
    many_ranges(loop, "f503", 500, 64, o, &st, &maxa);
    printf("f503: requests=%llu retries=%llu max attempts=%u\n", (unsigned long long)st.requests,
           (unsigned long long)st.retries, maxa);
    CHECK(st.retries > 50 && maxa > 1 && maxa <= 12);
    CHECK(st.requests == 500 + st.retries);

    /* always 503: bounded by max_attempts, message names the URL without its query */
    o.max_attempts = 4;
    net_engine *e = engine_new(loop, &o);
    treq a, ra;
    setup_range(&a, "always503", 1, 0, 100);
    setup_range(&ra, "retryafter", 1, 0, 100); /* Retry-After: 100 s > budget: give up */
    done_count = 0;
    REQUIRE(net_start(e, &a.r) == NET_OK);
    REQUIRE(net_start(e, &ra.r) == NET_OK);
    run_until(loop, 2);
    printf("always503: %s\n", a.r.errmsg);
    printf("retryafter: %s\n", ra.r.errmsg);
    CHECK(a.calls == 1 && a.status == NET_E_HTTP && a.r.http_status == 503 && a.r.attempts == 4);
    CHECK(strstr(a.r.errmsg, "GET http://127.0.0.1:") && strstr(a.r.errmsg, "/always503/f001.bin"));
    CHECK(strstr(a.r.errmsg, "HTTP 503") && strstr(a.r.errmsg, "4 attempts"));
    CHECK(!strstr(a.r.errmsg, "SECRET") && !strstr(a.r.errmsg, "?"));
    CHECK(ra.calls == 1 && ra.status == NET_E_HTTP && ra.r.attempts == 1);
    free(a.mem);
    free(ra.mem);
    engine_free(loop, e);
}

static void case_f444(uv_loop_t *loop) {
    net_options o = test_opts(64);
    o.max_attempts = 12;
    net_stats st;
    unsigned maxa;
    many_ranges(loop, "f444", 500, 64, o, &st, &maxa);
    /* nginx's count of the connections it dropped. Not every drop is one of our retries:
     * libcurl itself sends a request again, once, on a fresh connection when a reused one
     * dies before any answer, so how many reach the engine depends on connection reuse. */
    char p[1024];
    snprintf(p, sizeof p, "%s/../logs/f444.log", root);
    unsigned long long drops = 0;
    for (int tries = 0; tries < 100; tries++) {
        unsigned long long lines = 0, d = 0;
        FILE *fp = fopen(p, "r");
        if (fp) {
            char line[512], uri[256];
            int status;
            unsigned long long sent;
            while (fgets(line, sizeof line, fp))
                if (sscanf(line, "%255s %d %llu", uri, &status, &sent) == 3) {
                    lines++;
                    d += status == 444;
                }
            fclose(fp);
        }
        drops = d;
        if (lines >= 500 + d)
            break; /* every answer and every drop logged */
        uv_sleep(20);
    }
    printf("f444: requests=%llu retries=%llu connections=%llu max attempts=%u drops=%llu\n",
           (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.connections, maxa, drops);
    CHECK(drops > 50);                            /* the faults were really injected */
    CHECK(st.retries > 0 && st.retries <= drops); /* and only they were retried */
    CHECK(maxa > 1 && maxa <= 12);
}

static void case_throttle(uv_loop_t *loop) {
    /* nginx allows 200 r/s (burst 5) and answers 429 beyond: the run must slow down and
     * succeed, not fail */
    net_options o = test_opts(32);
    o.max_attempts = 40;
    o.retry_base_ms = 10;
    o.retry_cap_ms = 300;
    o.retry_max_ms = 30000;
    net_stats st;
    unsigned maxa;
    many_ranges(loop, "thr", 400, 32, o, &st, &maxa);
    printf("throttle: requests=%llu retries=%llu max attempts=%u\n",
           (unsigned long long)st.requests, (unsigned long long)st.retries, maxa);
    CHECK(st.retries > 0 && maxa > 1);
}

/* N reads through a location limited to 50 r/s (burst 5): returns how many failed. */
static int throttled_batch(uv_loop_t *loop, const char *loc, int n, net_options o, net_stats *st) {
    net_engine *e = engine_new(loop, &o);
    treq *ts = calloc((size_t)n, sizeof *ts);
    REQUIRE(ts);
    done_count = 0;
    for (int i = 0; i < n; i++) {
        setup_range(&ts[i], loc, i % N_FILES, 0, 100);
        REQUIRE(net_start(e, &ts[i].r) == NET_OK);
    }
    run_until(loop, n);
    int failed = 0;
    unsigned maxa = 0;
    for (int i = 0; i < n; i++) {
        CHECK(ts[i].calls == 1);
        if (ts[i].r.attempts > maxa)
            maxa = ts[i].r.attempts;
        CHECK(ts[i].r.attempts >= 1 && ts[i].r.attempts <= o.max_attempts);
        if (ts[i].status != NET_OK) {
            CHECK(ts[i].status == NET_E_HTTP && ts[i].r.http_status == 429);
            failed++;
        } else {
            check_range_ok(&ts[i]);
        }
        free(ts[i].mem);
    }
    net_get_stats(e, st);
    printf("%s: most attempts of one request: %u\n", loc, maxa);
    engine_free(loop, e);
    free(ts);
    return failed;
}

static void case_adaptive(uv_loop_t *loop) {
    /* nginx allows 50 r/s (burst 5) and answers 429 beyond; delay_proxy.py puts an 80 ms
     * round trip in between. With 64 attempts at once, the crowd refused together retries
     * together and dozens of requests use up their 10 attempts; with the adaptive limit the
     * refused requests finish first, a few at a time, and every request succeeds (measured:
     * at most 5-6 attempts for one request, against ~45 of 200 failing without it): the
     * run slows down instead of failing. No timing is asserted. */
    net_options o = test_opts(64);
    o.max_attempts = 10;
    o.retry_base_ms = 50;
    o.retry_cap_ms = 400;
    o.retry_max_ms = 60000;
    net_stats st;
    o.adaptive = false;
    int failed_fixed = throttled_batch(loop, "thrf", 200, o, &st);
    printf("adaptive off: %d of 200 failed, requests=%llu retries=%llu throttled=%llu\n",
           failed_fixed, (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.throttled);
    CHECK(failed_fixed > 0);
    CHECK(st.limit == 64 && st.min_limit == 64);
    o.adaptive = true;
    int failed = throttled_batch(loop, "thra", 200, o, &st);
    printf("adaptive on: %d of 200 failed, requests=%llu retries=%llu throttled=%llu "
           "limit now %u, lowest %u\n",
           failed, (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.throttled, st.limit, st.min_limit);
    CHECK(failed == 0);
    CHECK(st.throttled > 0 && st.min_limit < 64 && st.min_limit >= o.adaptive_floor);
}

static void case_stall(uv_loop_t *loop) {
    /* nginx proxies /stall/ to PORT2, where we listen and never accept: no answer ever */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s >= 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port2);
    a.sin_addr.s_addr = htonl(0x7f000001);
    REQUIRE(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(s, 64) == 0);

    /* low-speed abort: 1 s without a byte */
    net_options o = test_opts(8);
    o.request_timeout_ms = 20000;
    o.low_speed_time_ms = 1000;
    o.max_attempts = 2;
    treq t1;
    setup_range(&t1, "stall", 1, 0, 100);
    run_alone(loop, &o, &t1);
    printf("stall (low speed): %s\n", t1.r.errmsg);
    CHECK(t1.calls == 1 && t1.status == NET_E_TIMEOUT && t1.r.attempts == 2);
    free(t1.mem);

    /* request timeout */
    o.low_speed_time_ms = 0;
    o.request_timeout_ms = 700;
    o.max_attempts = 3;
    treq t2;
    setup_range(&t2, "stall", 1, 0, 100);
    run_alone(loop, &o, &t2);
    printf("stall (request timeout): %s\n", t2.r.errmsg);
    CHECK(t2.calls == 1 && t2.status == NET_E_TIMEOUT && t2.r.attempts == 3);
    free(t2.mem);

    /* total budget smaller than the attempts: ends by retry_max_ms */
    o.request_timeout_ms = 400;
    o.max_attempts = 100;
    o.retry_max_ms = 1500;
    treq t3;
    setup_range(&t3, "stall", 1, 0, 100);
    run_alone(loop, &o, &t3);
    printf("stall (budget): %s\n", t3.r.errmsg);
    CHECK(t3.calls == 1 && t3.status == NET_E_TIMEOUT && t3.r.attempts > 1 && t3.r.attempts < 100);
    free(t3.mem);
    close(s);

    /* connection refused (nothing listens on PORT2 now): retried, then E_CONNECT */
    o.request_timeout_ms = 2000;
    o.max_attempts = 3;
    o.retry_max_ms = 10000;
    treq t4;
    setup_range(&t4, "r", 1, 0, 100);
    snprintf(t4.url, sizeof t4.url, "http://127.0.0.1:%d/r/f001.bin", port2);
    run_alone(loop, &o, &t4);
    printf("refused: %s\n", t4.r.errmsg);
    CHECK(t4.calls == 1 && t4.status == NET_E_CONNECT && t4.r.attempts == 3);
    free(t4.mem);
}

static void case_final(uv_loop_t *loop) {
    net_options o = test_opts(8);
    net_engine *e = engine_new(loop, &o);
    treq nf, fb, past;
    setup_range(&nf, "r", 1, 0, 100);
    snprintf(nf.url, sizeof nf.url, "http://127.0.0.1:%d/r/missing.bin", port);
    setup_range(&fb, "forbidden", 1, 0, 100);
    setup_range(&past, "r", 1, file_size(1) + 10, 100);
    done_count = 0;
    REQUIRE(net_start(e, &nf.r) == NET_OK);
    REQUIRE(net_start(e, &fb.r) == NET_OK);
    REQUIRE(net_start(e, &past.r) == NET_OK);
    run_until(loop, 3);
    printf("404: %s\n403: %s\n416: %s\n", nf.r.errmsg, fb.r.errmsg, past.r.errmsg);
    CHECK(nf.calls == 1 && nf.status == NET_E_HTTP && nf.r.http_status == 404 &&
          nf.r.attempts == 1);
    CHECK(fb.calls == 1 && fb.status == NET_E_HTTP && fb.r.http_status == 403 &&
          fb.r.attempts == 1);
    CHECK(past.calls == 1 && past.status == NET_E_HTTP && past.r.http_status == 416 &&
          past.r.attempts == 1);
    CHECK(past.r.total_size == file_size(1)); /* Content-Range: bytes * / N */
    free(nf.mem);
    free(fb.mem);
    free(past.mem);
    engine_free(loop, e);
}

/* ---------- callbacks: prepare on every attempt, retry_check, streaming body ---------- */
static int prepare_calls;
static int prepare_sig(net_request *r, void *headers) {
    prepare_calls++;
    char line[64];
    snprintf(line, sizeof line, "X-Sig: attempt-%u", r->attempts);
    return net_add_header(headers, line);
}
static int prepare_fail(net_request *r, void *headers) { return -99; }
static int check_calls;
static bool retry_twice(net_request *r) { return ++check_calls <= 2; }
static uint64_t streamed;
static int stream_bad;
static int on_body_check(net_request *r, const void *data, size_t len) {
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != file_byte(3, streamed + i))
            stream_bad++;
    streamed += len;
    return 0;
}
static int on_body_abort(net_request *r, const void *data, size_t len) { return 1; }

static void case_callbacks(uv_loop_t *loop) {
    net_options o = test_opts(8);
    o.max_attempts = 10;
    net_engine *e = engine_new(loop, &o);
    treq sig, nosig, fail, rc, st, ab, many[40];
    setup_range(&sig, "needhdr", 2, 10, 100);
    sig.r.prepare = prepare_sig;
    setup_range(&nosig, "needhdr", 2, 10, 100);
    setup_range(&fail, "r", 2, 0, 100);
    fail.r.prepare = prepare_fail;
    setup_range(&rc, "r", 2, 0, 100);
    rc.r.retry_check = retry_twice;
    setup_range(&st, "r", 3, 0, 0);
    st.r.has_range = false;
    st.r.buf = NULL;
    st.r.on_body = on_body_check;
    setup_range(&ab, "r", 3, 0, 0);
    ab.r.buf = NULL;
    ab.r.has_range = false;
    ab.r.on_body = on_body_abort;
    done_count = 0;
    REQUIRE(net_start(e, &sig.r) == NET_OK);
    REQUIRE(net_start(e, &nosig.r) == NET_OK);
    REQUIRE(net_start(e, &fail.r) == NET_OK);
    REQUIRE(net_start(e, &rc.r) == NET_OK);
    REQUIRE(net_start(e, &st.r) == NET_OK);
    REQUIRE(net_start(e, &ab.r) == NET_OK);
    /* prepare on every attempt of requests that fail 30% of the time */
    for (int i = 0; i < 40; i++) {
        setup_range(&many[i], "f503", i, 0, 500);
        many[i].r.prepare = prepare_sig;
        REQUIRE(net_start(e, &many[i].r) == NET_OK);
    }
    run_until(loop, 46);
    CHECK(sig.calls == 1 && sig.status == NET_OK && sig.r.http_status == 206);
    check_range_ok(&sig);
    CHECK(nosig.calls == 1 && nosig.status == NET_E_HTTP && nosig.r.http_status == 400);
    CHECK(fail.calls == 1 && fail.status == -99 && fail.r.attempts == 1);
    printf("prepare failed: %s\n", fail.r.errmsg);
    CHECK(rc.calls == 1 && rc.status == NET_OK && rc.r.attempts == 3 && check_calls == 3);
    CHECK(st.calls == 1 && st.status == NET_OK && streamed == file_size(3) && stream_bad == 0);
    CHECK(st.r.got == file_size(3));
    CHECK(ab.calls == 1 && ab.status == NET_E_ABORTED && ab.r.attempts == 1);
    unsigned attempts = sig.r.attempts;
    for (int i = 0; i < 40; i++) {
        check_range_ok(&many[i]);
        attempts += many[i].r.attempts;
        free(many[i].mem);
    }
    CHECK(prepare_calls == (int)attempts);
    printf("prepare calls %d for %u attempts\n", prepare_calls, attempts);
    free(sig.mem);
    free(nosig.mem);
    free(fail.mem);
    free(rc.mem);
    free(st.mem);
    free(ab.mem);
    engine_free(loop, e);
}

/* ---------- cancel and free with requests everywhere (queued, running, backing off) ---------- */
static net_engine *cancel_engine;
static treq *cancel_ts;
static int cancel_n;
static int on_cancel_prepare(net_request *r, void *headers) {
    return net_add_header(headers, "X-Test: 1");
}
static void on_done_cancel_some(net_request *r, int status) {
    on_done(r, status);
    /* cancel a later request from inside a callback */
    treq *t = (treq *)r;
    long idx = t - cancel_ts;
    if (idx + 7 < cancel_n)
        net_cancel(cancel_engine, &cancel_ts[idx + 7].r);
}

static void case_cancel(uv_loop_t *loop, bool free_engine, unsigned in_flight) {
    net_options o = test_opts(in_flight);
    o.max_attempts = 50;
    o.retry_base_ms = 50;
    o.retry_cap_ms = 200;
    net_engine *e = engine_new(loop, &o);
    cancel_engine = e;
    int n = 300;
    treq *ts = calloc((size_t)n, sizeof *ts);
    REQUIRE(ts);
    cancel_ts = ts;
    cancel_n = n;
    done_count = 0;
    for (int i = 0; i < n; i++) {
        /* a mix of normal, always-failing (backing off) and stalled-looking big ones */
        const char *loc = i % 3 == 0 ? "always503" : i % 3 == 1 ? "f503" : "r";
        setup_range(&ts[i], loc, i % N_FILES, 0, 30000);
        ts[i].r.cb = on_done_cancel_some;
        ts[i].r.prepare = on_cancel_prepare;
        REQUIRE(net_start(e, &ts[i].r) == NET_OK);
    }
    /* let some run and complete, then cancel a few directly */
    while (done_count < 60)
        REQUIRE(uv_run(loop, UV_RUN_ONCE) != 0);
    for (int i = 0; i < n; i += 5)
        net_cancel(e, &ts[i].r);
    if (free_engine) {
        net_engine_free(e);
        CHECK(done_count == n);
    } else {
        for (int i = 0; i < n; i++)
            net_cancel(e, &ts[i].r);
        CHECK(done_count == n);
        net_engine_free(e);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    int canceled = 0;
    for (int i = 0; i < n; i++) {
        CHECK(ts[i].calls == 1);
        if (ts[i].status == NET_E_CANCELED)
            canceled++;
        free(ts[i].mem);
    }
    printf("%s (%u at once): %d of %d canceled\n", free_engine ? "free" : "cancel", in_flight,
           canceled, n);
    CHECK(canceled > 0);
    free(ts);
}

/* cancels asked from inside engine callbacks: prepare (itself), on_body (another request,
 * which is running: the engine must defer it), retry_check (itself) */
static treq *inside;
static int prepare_cancel_self(net_request *r, void *headers) {
    net_cancel(cancel_engine, r);
    return 0;
}
static int body_cancel_other(net_request *r, const void *data, size_t len) {
    net_cancel(cancel_engine, &inside[2].r);
    net_cancel(cancel_engine, &inside[3].r);
    return 0;
}
static bool check_cancel_self(net_request *r) {
    net_cancel(cancel_engine, r);
    return false;
}
static void case_cancel_inside(uv_loop_t *loop) {
    net_options o = test_opts(8);
    net_engine *e = engine_new(loop, &o);
    cancel_engine = e;
    treq ts[5];
    inside = ts;
    setup_range(&ts[0], "r", 1, 0, 100);
    ts[0].r.prepare = prepare_cancel_self;
    setup_range(&ts[1], "r", 3, 0, 0);
    ts[1].r.buf = NULL;
    ts[1].r.has_range = false;
    ts[1].r.on_body = body_cancel_other;
    setup_range(&ts[2], "stall", 1, 0, 100);     /* no answer ever: running when canceled */
    setup_range(&ts[3], "always503", 1, 0, 100); /* probably backing off when canceled */
    setup_range(&ts[4], "r", 1, 0, 100);
    ts[4].r.retry_check = check_cancel_self;
    done_count = 0;
    for (int i = 0; i < 5; i++)
        REQUIRE(net_start(e, &ts[i].r) == NET_OK);
    run_until(loop, 5);
    CHECK(ts[0].calls == 1 && ts[0].status == NET_E_CANCELED);
    CHECK(ts[1].calls == 1 && ts[1].status == NET_OK);
    CHECK(ts[2].calls == 1 && ts[2].status == NET_E_CANCELED);
    CHECK(ts[3].calls == 1 && ts[3].status == NET_E_CANCELED);
    CHECK(ts[4].calls == 1 && ts[4].status == NET_E_CANCELED);
    for (int i = 0; i < 5; i++)
        free(ts[i].mem);
    engine_free(loop, e);
}

/* net_engine_free from inside a completion callback (deferred to the end of the entry) */
static void on_done_free(net_request *r, int status) {
    on_done(r, status);
    if (done_count == 1)
        net_engine_free(cancel_engine);
}
static void case_free_in_cb(uv_loop_t *loop) {
    net_options o = test_opts(4);
    net_engine *e = engine_new(loop, &o);
    cancel_engine = e;
    treq ts[20];
    done_count = 0;
    for (int i = 0; i < 20; i++) {
        setup_range(&ts[i], "r", i, 0, 1000);
        ts[i].r.cb = on_done_free;
        REQUIRE(net_start(e, &ts[i].r) == NET_OK);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 20);
    for (int i = 0; i < 20; i++) {
        CHECK(ts[i].calls == 1);
        free(ts[i].mem);
    }
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    root = getenv("TD_NGINX_ROOT");
    const char *ps = getenv("TD_NGINX_PORT"), *ps2 = getenv("TD_NGINX_PORT2");
    REQUIRE(root && ps && ps2);
    port = atoi(ps);
    port2 = atoi(ps2);
    make_files();
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    const char *c = argv[1];
    if (!strcmp(c, "basic")) {
        case_basic(&loop);
        case_shards(&loop);
    } else if (!strcmp(c, "norange"))
        case_norange(&loop);
    else if (!strcmp(c, "f503"))
        case_f503(&loop);
    else if (!strcmp(c, "f444"))
        case_f444(&loop);
    else if (!strcmp(c, "throttle"))
        case_throttle(&loop);
    else if (!strcmp(c, "adaptive"))
        case_adaptive(&loop);
    else if (!strcmp(c, "stall"))
        case_stall(&loop);
    else if (!strcmp(c, "final")) {
        case_final(&loop);
        case_callbacks(&loop);
    } else if (!strcmp(c, "cancel")) {
        case_cancel(&loop, false, 16);
        case_cancel(&loop, true, 16);
        /* with transfers in flight in several multi handles (over 128 at once) */
        case_cancel(&loop, false, 300);
        case_cancel(&loop, true, 300);
        case_free_in_cb(&loop);
        case_cancel_inside(&loop);
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    CHECK(uv_loop_close(&loop) == 0);
    if (td_test_failures)
        fprintf(stderr, "%d failures\n", td_test_failures);
    return td_test_failures ? 1 : 0;
}
