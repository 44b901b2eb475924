/* test_lean.c - the engine's lean HTTP/1.1 path (and the curl path beside it) against a
 * fault-injecting server and against nginx over TLS. Started by lean_faults.py and
 * lean_tls.py, which make the files, the servers and the CA:
 *   test_lean faults PORT          faultsrv.py (style http, base /d/) on 127.0.0.1:PORT
 *   test_lean tls PORT CA_FILE     nginx with TLS on PORT, a certificate for "localhost" only
 * Every file's byte i is (i * 31 + 7) & 0xff. No timed assertions: every wait is bounded by
 * the engine's own limits. */
#include "net.h"
#include "td_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    net_request r;
    int calls, status;
    char url[256];
    uint8_t buf[16384];
} treq;

static int done_count;
static void on_done(net_request *r, int status) {
    treq *t = (treq *)r;
    t->calls++;
    t->status = status;
    done_count++;
}

static net_options opts(net_engine_kind k) {
    net_options o = {0};
    o.max_in_flight = 8;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    o.low_speed_time_ms = 1000;
    o.max_attempts = 3;
    o.retry_base_ms = 5;
    o.retry_cap_ms = 50;
    o.retry_max_ms = 15000;
    o.engine = k;
    return o;
}

static void setup(treq *t, const char *url) {
    memset(t, 0, sizeof *t);
    snprintf(t->url, sizeof t->url, "%s", url);
    t->r.method = "GET";
    t->r.url = t->url;
    t->r.has_range = true;
    t->r.range_offset = 0;
    t->r.range_length = sizeof t->buf;
    t->r.buf = t->buf;
    t->r.buf_cap = sizeof t->buf;
    t->r.expect_total = 40000; /* every file's size */
    t->r.cb = on_done;
    t->status = 12345;
}

static void run_until(uv_loop_t *loop, int target) {
    while (done_count < target) {
        if (uv_run(loop, UV_RUN_ONCE) == 0 && done_count < target) {
            fprintf(stderr, "loop ran dry with %d/%d done\n", done_count, target);
            exit(1);
        }
    }
}

static bool bytes_ok(const treq *t) {
    if (t->r.got != sizeof t->buf)
        return false;
    for (size_t i = 0; i < sizeof t->buf; i++)
        if (t->buf[i] != (uint8_t)((i * 31 + 7) & 0xff))
            return false;
    return true;
}

/* Runs the requests one after another on one engine (so keep-alive connections are reused
 * between them), returns the engine's stats. */
static net_stats run_seq(uv_loop_t *loop, const net_options *o, treq **ts, int n) {
    net_engine *e;
    char err[256];
    REQUIRE(net_engine_new(&e, loop, o, err, sizeof err) == NET_OK);
    for (int i = 0; i < n; i++) {
        done_count = 0;
        REQUIRE(net_start(e, &ts[i]->r) == NET_OK);
        run_until(loop, 1);
    }
    net_stats st;
    net_get_stats(e, &st);
    net_engine_free(e);
    uv_run(loop, UV_RUN_DEFAULT);
    return st;
}

/* ---------- against faultsrv ---------- */

typedef struct {
    const char *key;
    int want;          /* the code on the lean path */
    unsigned attempts; /* on the lean path (first run); 0: any */
} fcase;

static void case_faults(uv_loop_t *loop, int port) {
    static const fcase cases[] = {
        {"ok/a.bin", NET_OK, 1},
        {"chunked/a.bin", NET_OK, 1},
        {"slow/a.bin", NET_OK, 1},
        {"interim/a.bin", NET_OK, 1},
        /* 5,000 interim heads (125 KB): the head limit covers them all */
        {"interims/a.bin", NET_E_PROTOCOL, 3},
        {"s503/a.bin", NET_OK, 3},
        {"bad_chunk/a.bin", NET_E_PROTOCOL, 3},
        {"early_close/a.bin", NET_E_CONNECT, 3},
        {"short/a.bin", NET_E_CONNECT, 3},
        {"reset/a.bin", NET_E_CONNECT, 3},
        {"http09/a.bin", NET_E_PROTOCOL, 3},
        {"huge/a.bin", NET_E_PROTOCOL, 3},
        {"wrong/a.bin", NET_E_PROTOCOL, 3},
        {"total/a.bin", NET_E_PROTOCOL, 3}, /* a total that is not expect_total */
        {"stall/a.bin", NET_E_TIMEOUT, 3},
        {"s404/a.bin", NET_E_HTTP, 1},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (int k = 0; k < 2; k++) {
        net_engine_kind kind = k ? NET_ENGINE_CURL : NET_ENGINE_AUTO;
        net_options o = opts(kind);
        /* all at once on one engine: faults on some connections do not disturb the others */
        net_engine *e;
        char err[256];
        REQUIRE(net_engine_new(&e, loop, &o, err, sizeof err) == NET_OK);
        treq *ts = calloc(n, sizeof *ts);
        REQUIRE(ts);
        done_count = 0;
        for (size_t i = 0; i < n; i++) {
            char url[200];
            snprintf(url, sizeof url, "http://127.0.0.1:%d/d/%s", port, cases[i].key);
            setup(&ts[i], url);
            REQUIRE(net_start(e, &ts[i].r) == NET_OK);
        }
        run_until(loop, (int)n);
        net_stats st;
        net_get_stats(e, &st);
        net_engine_free(e);
        uv_run(loop, UV_RUN_DEFAULT);
        for (size_t i = 0; i < n; i++) {
            treq *t = &ts[i];
            printf("%s %-20s %-9s attempts %u: %s\n", kind ? "curl" : "lean", cases[i].key,
                   net_err_name(t->status), t->r.attempts, t->r.errmsg);
            CHECK(t->calls == 1);
            if (kind == NET_ENGINE_AUTO) {
                CHECK(t->status == cases[i].want);
                CHECK(!cases[i].attempts || t->r.attempts == cases[i].attempts);
            } else {
                /* curl names some failures differently (a bad chunk is a receive error
                 * there): success and failure must agree, and the attempts */
                CHECK((t->status == NET_OK) == (cases[i].want == NET_OK));
                /* s503's two refusals went to the first run */
                CHECK(!cases[i].attempts || t->r.attempts == cases[i].attempts ||
                      !strcmp(cases[i].key, "s503/a.bin"));
            }
            if (cases[i].want == NET_OK)
                CHECK(bytes_ok(t));
        }
        printf("%s: requests %llu lean %llu connections %llu\n", kind ? "curl" : "lean",
               (unsigned long long)st.requests, (unsigned long long)st.lean_requests,
               (unsigned long long)st.connections);
        if (kind == NET_ENGINE_AUTO)
            CHECK(st.lean_requests == st.requests);
        else
            CHECK(st.lean_requests == 0);
        free(ts);
    }

    /* Keep-alive: a connection the server drops as the next request arrives on it, and one
     * the server closes after its answer. Each next request succeeds on its first attempt
     * (retried once on a fresh connection, or sent on a new one). */
    for (int k = 0; k < 2; k++) {
        net_options o = opts(k ? NET_ENGINE_CURL : NET_ENGINE_AUTO);
        o.max_in_flight = 1;
        static const char *const keys[] = {"ok/a.bin",    "drop/a.bin", "ok/b.bin",
                                           "close/a.bin", "ok/c.bin",   "ok/a.bin"};
        treq t[6], *ts[6];
        for (int i = 0; i < 6; i++) {
            char url[200];
            snprintf(url, sizeof url, "http://127.0.0.1:%d/d/%s", port, keys[i]);
            setup(&t[i], url);
            ts[i] = &t[i];
        }
        net_stats st = run_seq(loop, &o, ts, 6);
        for (int i = 0; i < 6; i++) {
            printf("%s keep-alive %s: %s attempts %u %s\n", k ? "curl" : "lean", keys[i],
                   net_err_name(t[i].status), t[i].r.attempts, t[i].r.errmsg);
            CHECK(t[i].status == NET_OK && t[i].r.attempts == 1 && bytes_ok(&t[i]));
        }
        printf("%s keep-alive: requests %llu connections %llu\n", k ? "curl" : "lean",
               (unsigned long long)st.requests, (unsigned long long)st.connections);
        /* the first connection served ok + drop, the second ok/b + close, the third the rest */
        CHECK(st.connections == 3);
    }

    /* nothing listens: connect refused, retried */
    treq r;
    setup(&r, "http://127.0.0.1:1/d/ok/a.bin");
    treq *rs[1] = {&r};
    net_options o = opts(NET_ENGINE_AUTO);
    run_seq(loop, &o, rs, 1);
    printf("refused: %s\n", r.r.errmsg);
    CHECK(r.status == NET_E_CONNECT && r.r.attempts == 3);
}

/* ---------- TLS against nginx ---------- */

static void case_tls(uv_loop_t *loop, int port, const char *ca) {
    char url[200];
    for (int k = 0; k < 2; k++) {
        net_engine_kind kind = k ? NET_ENGINE_CURL : NET_ENGINE_AUTO;
        const char *name = kind ? "curl" : "lean";
        net_options o = opts(kind);
        o.ca_bundle = ca;
        /* "localhost": resolved, SNI and the name checked; the connections are reused */
        enum { N = 40 };
        treq *t = calloc(N, sizeof *t);
        REQUIRE(t);
        net_engine *e;
        char err[256];
        REQUIRE(net_engine_new(&e, loop, &o, err, sizeof err) == NET_OK);
        done_count = 0;
        snprintf(url, sizeof url, "https://localhost:%d/f.bin", port);
        for (int i = 0; i < N; i++) {
            setup(&t[i], url);
            REQUIRE(net_start(e, &t[i].r) == NET_OK);
        }
        run_until(loop, N);
        net_stats st;
        net_get_stats(e, &st);
        net_engine_free(e);
        uv_run(loop, UV_RUN_DEFAULT);
        for (int i = 0; i < N; i++) {
            if (t[i].status != NET_OK)
                printf("%s tls: %s\n", name, t[i].r.errmsg);
            CHECK(t[i].status == NET_OK && bytes_ok(&t[i]));
        }
        printf("%s tls: requests %llu lean %llu connections %llu\n", name,
               (unsigned long long)st.requests, (unsigned long long)st.lean_requests,
               (unsigned long long)st.connections);
        CHECK(st.connections <= o.max_in_flight);
        CHECK(kind == NET_ENGINE_AUTO ? st.lean_requests == N : st.lean_requests == 0);
        /* the first connection opens alone; the others resume its session (net.c,
         * lean_open_cap) instead of N full handshakes at once */
        if (kind == NET_ENGINE_AUTO) {
            printf("lean tls: resumed %llu\n", (unsigned long long)st.tls_resumed);
            CHECK(st.connections > 1 && st.tls_resumed == st.connections - 1);
        }

        /* freed while connections wait for their turn to open: every request canceled */
        REQUIRE(net_engine_new(&e, loop, &o, err, sizeof err) == NET_OK);
        done_count = 0;
        snprintf(url, sizeof url, "https://localhost:%d/f.bin", port);
        for (int i = 0; i < 8; i++) {
            setup(&t[i], url);
            REQUIRE(net_start(e, &t[i].r) == NET_OK);
        }
        uv_run(loop, UV_RUN_NOWAIT);
        net_engine_free(e);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK(done_count == 8);
        for (int i = 0; i < 8; i++)
            CHECK(t[i].status == NET_E_CANCELED || t[i].status == NET_OK, "%d", t[i].status);
        free(t);

        /* the certificate names localhost, not 127.0.0.1: final, one attempt */
        treq a;
        snprintf(url, sizeof url, "https://127.0.0.1:%d/f.bin", port);
        setup(&a, url);
        treq *as[1] = {&a};
        run_seq(loop, &o, as, 1);
        printf("%s wrong name: %s\n", name, a.r.errmsg);
        CHECK(a.status == NET_E_TLS && a.r.attempts == 1);

        /* without the CA: not trusted, final, and the message says why */
        net_options o2 = opts(kind);
        treq b;
        snprintf(url, sizeof url, "https://localhost:%d/f.bin", port);
        setup(&b, url);
        treq *bs[1] = {&b};
        run_seq(loop, &o2, bs, 1);
        printf("%s no CA: %s\n", name, b.r.errmsg);
        CHECK(b.status == NET_E_TLS && b.r.attempts == 1 && strstr(b.r.errmsg, "certificate"));

        /* plain http to the TLS port: not an HTTP answer */
        treq c;
        snprintf(url, sizeof url, "http://localhost:%d/f.bin", port);
        setup(&c, url);
        treq *cs[1] = {&c};
        run_seq(loop, &o, cs, 1);
        printf("%s http to the TLS port: %s (%s)\n", name, c.r.errmsg, net_err_name(c.status));
        CHECK(c.status != NET_OK);
    }
}

int main(int argc, char **argv) {
    REQUIRE(argc >= 3);
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    if (!strcmp(argv[1], "faults")) {
        case_faults(&loop, atoi(argv[2]));
    } else if (!strcmp(argv[1], "tls") && argc == 4) {
        case_tls(&loop, atoi(argv[2]), argv[3]);
    } else {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 2;
    }
    CHECK(uv_loop_close(&loop) == 0);
    if (td_test_failures)
        fprintf(stderr, "%d failures\n", td_test_failures);
    return td_test_failures ? 1 : 0;
}
