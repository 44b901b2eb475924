/* test_reader.c - the object reader (src/pipeline/reader.c) over the local store: one
 * prefetch or several rounds give the same header, counters and size, the header budget,
 * the round cap, admit (wait, resume, stop), store and parse failures, and readers on two
 * event loops in two threads at once.
 * usage: test_reader CORPUS_DIR (uses $TMPDIR or /tmp for a few files of its own) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "reader.h"
#include "store.h"
#include "td_test.h"
#include "tiff.h"

static const char *corpus;

/* One loop and one store rooted at a folder: what each thread or test uses. */
typedef struct {
    uv_loop_t loop;
    store *st;
} env;

static int env_open(env *e, const char *root) {
    if (uv_loop_init(&e->loop) != 0)
        return -1;
    char err[512] = "";
    store_options so = STORE_OPTIONS_INIT;
    int rc = store_open(&e->st, &e->loop, root, &so, err, sizeof err);
    CHECK(rc == 0, "store_open %s: %s", root, err);
    return rc;
}

static void env_close(env *e) {
    if (e->st)
        store_close(e->st);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
}

typedef struct {
    bool done;
    int calls;
    td_read_result res;
    char json[1 << 16]; /* the header as JSON, or "" */
    char msg[512];      /* res.message points here (the reader's copy dies with it) */
    /* admit */
    int admits;
    td_reader_admit answer; /* what admit says the first time; GO afterwards */
} outcome;

static void read_cb(td_reader *r, const td_read_result *res, void *ud) {
    outcome *o = ud;
    o->done = true;
    o->calls++;
    o->res = *res;
    snprintf(o->msg, sizeof o->msg, "%s", res->message ? res->message : "");
    o->res.message = o->msg;
    o->json[0] = '\0';
    if (res->status == TD_READ_OK) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        if (tiff_header_to_json(td_reader_header(r), &buf, &len, &cap) == TIFF_OK &&
            len < sizeof o->json) {
            memcpy(o->json, buf, len);
            o->json[len] = '\0';
        }
        free(buf);
    }
}

static td_reader_admit admit_cb(td_reader *r, uint64_t need, void *ud) {
    (void)r;
    outcome *o = ud;
    CHECK(need > 0);
    return o->admits++ == 0 ? o->answer : TD_READER_GO;
}

/* Reads key through a new reader on e; waits on the loop. */
static void read_key(env *e, const td_reader_options *ro, const char *key, uint64_t size,
                     outcome *o) {
    td_reader *r = NULL;
    memset(o, 0, sizeof *o);
    o->answer = TD_READER_GO;
    CHECK(td_reader_new(&r, e->st, ro) == 0);
    if (!r)
        return;
    td_reader_start(r, key, size, read_cb, o);
    while (!o->done && uv_run(&e->loop, UV_RUN_ONCE)) {
    }
    CHECK(o->done && o->calls == 1, "%s: callback ran %d times", key, o->calls);
    td_reader_free(r);
}

static uint64_t file_size(const char *root, const char *key) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, key);
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static const td_reader_options DEFAULTS = {0, 0, 0, NULL, NULL};

/* The same header whichever way it is read; counters add up. */
static void test_rounds(void) {
    env e;
    if (env_open(&e, corpus) != 0)
        return;
    static outcome whole, dflt, tiny, unknown;
    /* coffee.tif: IFD at 183446 of 184509 bytes, so the default prefetch needs rounds */
    const char *key = "exampletiffs/coffee.tif";
    uint64_t size = file_size(corpus, key);
    CHECK(size != UINT64_MAX, "%s missing", key);
    td_reader_options all = {size, 0, 0, NULL, NULL};
    read_key(&e, &all, key, size, &whole);
    CHECK(whole.res.status == TD_READ_OK && whole.res.requests == 1 &&
              whole.res.fetched_bytes == size,
          "one prefetch of the whole file: status %d, %llu requests", whole.res.status,
          (unsigned long long)whole.res.requests);
    read_key(&e, &DEFAULTS, key, size, &dflt);
    CHECK(dflt.res.status == TD_READ_OK && dflt.res.requests >= 2,
          "default prefetch needs more than one round: %llu requests",
          (unsigned long long)dflt.res.requests);
    CHECK(dflt.res.fetched_bytes > TD_READER_DEFAULT_PREFETCH && dflt.res.fetched_bytes < size);
    CHECK_STR(dflt.json, whole.json);
    CHECK(dflt.res.object_size == size);

    /* the smallest prefetch: the header, then the IFDs of the chain and their values */
    const char *multi = "exampletiffs/shapes_multi_color.tif";
    td_reader_options small = {16, 0, 0, NULL, NULL};
    read_key(&e, &small, multi, file_size(corpus, multi), &tiny);
    outcome *ref = &whole;
    read_key(&e, &DEFAULTS, multi, file_size(corpus, multi), ref);
    CHECK(tiny.res.status == TD_READ_OK && tiny.res.requests >= 3,
          "16-byte prefetch: status %d, %llu requests", tiny.res.status,
          (unsigned long long)tiny.res.requests);
    CHECK_STR(tiny.json, ref->json);

    /* size not known beforehand (a key list): the store tells it */
    read_key(&e, &DEFAULTS, key, UINT64_MAX, &unknown);
    CHECK(unknown.res.status == TD_READ_OK && unknown.res.object_size == size,
          "unknown size: status %d, size %llu", unknown.res.status,
          (unsigned long long)unknown.res.object_size);
    CHECK_STR(unknown.json, dflt.json);

    /* the round cap */
    td_reader_options capped = {16, 0, 1, NULL, NULL};
    read_key(&e, &capped, multi, UINT64_MAX, &tiny);
    CHECK(tiny.res.status == TD_READ_ROUNDS, "round cap: status %d", tiny.res.status);
    env_close(&e);
}

/* max_header_bytes: the follow-up reads of an object stay within it; byte.tif's first IFD
 * alone is larger than 16 bytes. */
static void test_budget(void) {
    env e;
    if (env_open(&e, corpus) != 0)
        return;
    static outcome o;
    const char *key = "rasterio/byte.tif";
    td_reader_options tight = {16, 16, 0, NULL, NULL};
    read_key(&e, &tight, key, file_size(corpus, key), &o);
    CHECK(o.res.status == TD_READ_PARSE && o.res.code == TIFF_E_LIMIT,
          "budget hit: status %d, code %s", o.res.status, tiff_err_name(o.res.code));
    CHECK(o.res.fetched_bytes <= 32, "%llu bytes", (unsigned long long)o.res.fetched_bytes);
    read_key(&e, &DEFAULTS, key, file_size(corpus, key), &o);
    CHECK(o.res.status == TD_READ_OK, "default budget: status %d", o.res.status);
    env_close(&e);
}

/* admit: wait then resume, and stop. */
static void test_admit(void) {
    env e;
    if (env_open(&e, corpus) != 0)
        return;
    static outcome o;
    const char *key = "exampletiffs/coffee.tif";
    td_reader_options ro = {0, 0, 0, admit_cb, NULL};
    td_reader *r = NULL;
    CHECK(td_reader_new(&r, e.st, &ro) == 0);
    if (!r) {
        env_close(&e);
        return;
    }
    memset(&o, 0, sizeof o);
    o.answer = TD_READER_WAIT;
    td_reader_start(r, key, UINT64_MAX, read_cb, &o);
    while (!o.done && o.admits == 0 && uv_run(&e.loop, UV_RUN_ONCE)) {
    }
    CHECK(!o.done && o.admits == 1, "waiting: done %d, admits %d", o.done, o.admits);
    uv_run(&e.loop, UV_RUN_NOWAIT);
    CHECK(!o.done, "a waiting reader does nothing");
    td_reader_resume(r);
    while (!o.done && uv_run(&e.loop, UV_RUN_ONCE)) {
    }
    CHECK(o.done && o.res.status == TD_READ_OK && o.admits >= 2, "resumed: status %d",
          o.res.status);

    /* the same reader, next object: stop at the first round */
    memset(&o, 0, sizeof o);
    o.answer = TD_READER_STOP;
    td_reader_start(r, key, UINT64_MAX, read_cb, &o);
    while (!o.done && uv_run(&e.loop, UV_RUN_ONCE)) {
    }
    CHECK(o.res.status == TD_READ_STOPPED && o.res.requests == 1, "stopped: status %d",
          o.res.status);
    td_reader_free(r);
    env_close(&e);
}

/* Failures: a missing key, an empty object, not a TIFF. */
/* pooled: the readers take their parsers from a pool (the empty object and the not-TIFF
 * are parse failures, whose message is the pooled parser's) */
static void test_failures(const char *dir, bool pooled) {
    char p[600];
    snprintf(p, sizeof p, "%s/empty.tif", dir);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    snprintf(p, sizeof p, "%s/text.tif", dir);
    f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("not a tiff at all\n", f);
        fclose(f);
    }
    env e;
    if (env_open(&e, dir) != 0)
        return;
    td_parser_pool *pool = pooled ? td_parser_pool_new(0) : NULL;
    CHECK(!pooled || pool);
    const td_reader_options pro = {0, 0, 0, NULL, pool}, *ro = pooled ? &pro : &DEFAULTS;
    static outcome o;
    read_key(&e, ro, "missing.tif", UINT64_MAX, &o);
    CHECK(o.res.status == TD_READ_FETCH && o.res.code == STORE_E_NOT_FOUND &&
              strstr(o.res.message, "missing.tif"),
          "missing: status %d code %d '%s'", o.res.status, o.res.code, o.res.message);
    read_key(&e, ro, "empty.tif", 0, &o);
    CHECK(o.res.status == TD_READ_PARSE && o.res.requests == 0,
          "empty object: status %d, %llu requests", o.res.status,
          (unsigned long long)o.res.requests);
    read_key(&e, ro, "text.tif", UINT64_MAX, &o);
    CHECK(o.res.status == TD_READ_PARSE && o.res.code == TIFF_E_NOT_TIFF && o.res.object_size == 18,
          "not a TIFF: status %d code %s size %llu", o.res.status, tiff_err_name(o.res.code),
          (unsigned long long)o.res.object_size);
    read_key(&e, ro, "../escape.tif", UINT64_MAX, &o);
    CHECK(o.res.status == TD_READ_FETCH && o.res.attempts == 1, "refused at once: status %d",
          o.res.status);
    td_parser_pool_free(pool);
    env_close(&e);
    snprintf(p, sizeof p, "%s/empty.tif", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/text.tif", dir);
    unlink(p);
}

/* Several readers at once on each of two loops, one thread per loop. */
static const char *const many[] = {
    "exampletiffs/capitol.tif", "exampletiffs/coffee.tif", "exampletiffs/shapes_multi_size.tif",
    "rasterio/RGB.byte.tif",    "rasterio/byte.tif",       "rasterio/cogeo.tif",
    "rasterio/goes.tif",        "rasterio/alpha.tif",
};
#define N_MANY (sizeof many / sizeof many[0])

typedef struct {
    uv_thread_t th;
    outcome out[N_MANY];
    unsigned prefetch;
    bool pooled;
} worker;

static void worker_main(void *arg) {
    worker *w = arg;
    env e;
    if (env_open(&e, corpus) != 0)
        return;
    td_reader *r[N_MANY] = {0};
    /* the second thread's readers share a parser pool, as a fetch thread's slots do */
    td_parser_pool *pool = w->pooled ? td_parser_pool_new(0) : NULL;
    CHECK(!w->pooled || pool);
    td_reader_options ro = {w->prefetch, 0, 0, NULL, pool};
    for (size_t i = 0; i < N_MANY; i++) {
        CHECK(td_reader_new(&r[i], e.st, &ro) == 0);
        if (r[i])
            td_reader_start(r[i], many[i], UINT64_MAX, read_cb, &w->out[i]);
    }
    uv_run(&e.loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < N_MANY; i++)
        td_reader_free(r[i]);
    td_parser_pool_free(pool);
    env_close(&e);
}

static void test_threads(void) {
    static worker w[2];
    memset(w, 0, sizeof w);
    w[0].prefetch = 16384;
    w[1].prefetch = 64; /* more rounds, different timing */
    w[1].pooled = true;
    for (int t = 0; t < 2; t++)
        CHECK(uv_thread_create(&w[t].th, worker_main, &w[t]) == 0);
    for (int t = 0; t < 2; t++)
        uv_thread_join(&w[t].th);
    for (size_t i = 0; i < N_MANY; i++) {
        CHECK(w[0].out[i].calls == 1 && w[1].out[i].calls == 1, "%s", many[i]);
        CHECK(w[0].out[i].res.status == w[1].out[i].res.status, "%s", many[i]);
        CHECK_STR(w[0].out[i].json, w[1].out[i].json);
    }
    CHECK(w[0].out[0].res.status == TD_READ_OK);
}

/* A parser pool: a reader takes a parser at its first bytes and gives it back at release,
 * the last given back first; readers at once hold different ones; the header is valid until
 * release. */
static void test_pool(void) {
    env e;
    if (env_open(&e, corpus) != 0)
        return;
    td_parser_pool *pool = td_parser_pool_new(0);
    CHECK(pool != NULL);
    td_reader_options ro = {0, 0, 0, NULL, pool};
    td_reader *a = NULL, *b = NULL;
    CHECK(td_reader_new(&a, e.st, &ro) == 0 && td_reader_new(&b, e.st, &ro) == 0);
    static outcome oa, ob, own;
    const char *k1 = "rasterio/byte.tif", *k2 = "exampletiffs/coffee.tif";
    if (a && b && pool) {
        CHECK(td_reader_header(a) == NULL, "no parser before the first bytes");
        td_reader_start(a, k1, file_size(corpus, k1), read_cb, &oa);
        td_reader_start(b, k2, UINT64_MAX, read_cb, &ob); /* rounds: holds its parser longer */
        while ((!oa.done || !ob.done) && uv_run(&e.loop, UV_RUN_ONCE)) {
        }
        CHECK(oa.res.status == TD_READ_OK && ob.res.status == TD_READ_OK);
        const tiff_header *ha = td_reader_header(a), *hb = td_reader_header(b);
        CHECK(ha && hb && ha != hb, "two readers at once, two parsers");
        td_reader_release(b);
        CHECK(td_reader_header(b) == NULL, "released: no header");
        td_reader_release(a);
        /* a takes the parser given back last: its own (b gave its back first) */
        memset(&oa, 0, sizeof oa);
        td_reader_start(a, k2, UINT64_MAX, read_cb, &oa);
        while (!oa.done && uv_run(&e.loop, UV_RUN_ONCE)) {
        }
        CHECK(oa.res.status == TD_READ_OK && td_reader_header(a) == ha, "the warmest parser");
        CHECK_STR(oa.json, ob.json); /* a reused parser gives the same header */
        read_key(&e, &DEFAULTS, k2, UINT64_MAX, &own);
        CHECK_STR(own.json, oa.json);
    }
    td_reader_free(a);
    td_reader_free(b);
    td_parser_pool_free(pool);
    env_close(&e);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    corpus = argv[1];
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/test_reader.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_rounds();
    test_budget();
    test_admit();
    test_failures(dir, false);
    test_failures(dir, true);
    test_threads();
    test_pool();
    rmdir(dir);
    return td_test_report(argv[0]);
}
