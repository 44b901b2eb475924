/* test_share.c - store_share (src/store/store_share.h): a leader on the main loop, followers
 * on threads of their own. Followers asking at once make one ask on the leader (which
 * "fetches" for 20 ms, then publishes); each gets the credential on its own loop; a
 * failure is handed over with its message; after the leader closed, an ask gets
 * STORE_E_CANCELED; leaving and closing in any order frees everything (ASan). */
#include "store.h"
#include "store_share.h"
#include "td_test.h"

#include <stdatomic.h>
#include <uv.h>

enum { N_FOLLOWERS = 4 };

typedef struct {
    store_share *sh;
    uv_timer_t fetch; /* the simulated fetch */
    int fail;         /* publish a failure instead */
    unsigned fetches;
} leader;

static void fetched(uv_timer_t *t) {
    leader *l = t->data;
    l->fetches++;
    if (l->fail)
        store_share_publish(l->sh, STORE_E_AUTH, NULL, 0, 0, 0, "refused: check the role");
    else
        store_share_publish(l->sh, STORE_OK, "tok-1", 6, 1000, 2000, NULL);
}

static void ask(void *ctx) {
    leader *l = ctx;
    if (!uv_is_active((uv_handle_t *)&l->fetch))
        uv_timer_start(&l->fetch, fetched, 20, 0);
}

typedef struct {
    uv_loop_t loop;
    uv_thread_t th;
    store_share_follower *f;
    int status;
    char blob[16], err[128];
    int64_t fetched, expires;
    uv_timer_t keep; /* keeps the loop running until the answer (the share's handle does not) */
    atomic_int done;
} follower;

static void tick(uv_timer_t *t) { (void)t; }

static void got(void *ctx) {
    follower *fo = ctx;
    char *b = NULL;
    size_t n = 0;
    fo->status =
        store_share_take(fo->f, &b, &n, &fo->fetched, &fo->expires, fo->err, sizeof fo->err);
    if (b && n <= sizeof fo->blob)
        memcpy(fo->blob, b, n);
    free(b);
    store_share_leave(fo->f); /* its handle closes: the loop runs out */
    fo->f = NULL;
    uv_close((uv_handle_t *)&fo->keep, NULL);
    atomic_store(&fo->done, 1);
}

static void follower_main(void *arg) {
    follower *fo = arg;
    uv_timer_init(&fo->loop, &fo->keep);
    uv_timer_start(&fo->keep, tick, 1000, 1000);
    store_share_ask(fo->f);
    uv_run(&fo->loop, UV_RUN_DEFAULT); /* until got closed both handles */
}

/* Runs the leader loop until every follower is done (bounded: 10 s). A referenced timer
 * keeps the loop alive meanwhile: the share's own handle does not (nor in the pipeline,
 * whose loop has handles of its own). */
static void run_until_done(uv_loop_t *loop, follower *fs, int n) {
    uv_timer_t keep;
    uv_timer_init(loop, &keep);
    uv_timer_start(&keep, tick, 1000, 1000);
    for (int i = 0; i < 1000; i++) {
        int left = 0;
        for (int k = 0; k < n; k++)
            left += !atomic_load(&fs[k].done);
        if (!left)
            break;
        uv_run(loop, UV_RUN_NOWAIT);
        uv_sleep(10);
    }
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    for (int k = 0; k < n; k++)
        REQUIRE(atomic_load(&fs[k].done), "follower %d did not finish", k);
}

static void round_trip(uv_loop_t *loop, leader *l, int fail) {
    follower fs[N_FOLLOWERS];
    memset(fs, 0, sizeof fs);
    l->fail = fail;
    unsigned asks0 = store_share_asks(l->sh), fetches0 = l->fetches;
    for (int i = 0; i < N_FOLLOWERS; i++) {
        REQUIRE(uv_loop_init(&fs[i].loop) == 0);
        fs[i].f = store_share_join(l->sh, &fs[i].loop, got, &fs[i]);
        REQUIRE(fs[i].f);
    }
    for (int i = 0; i < N_FOLLOWERS; i++)
        REQUIRE(uv_thread_create(&fs[i].th, follower_main, &fs[i]) == 0);
    run_until_done(loop, fs, N_FOLLOWERS);
    for (int i = 0; i < N_FOLLOWERS; i++) {
        uv_thread_join(&fs[i].th);
        CHECK(uv_loop_close(&fs[i].loop) == 0);
        if (fail) {
            CHECK(fs[i].status == STORE_E_AUTH && strstr(fs[i].err, "check the role"),
                  "follower %d: %d %s", i, fs[i].status, fs[i].err);
        } else {
            CHECK(fs[i].status == STORE_OK && !strcmp(fs[i].blob, "tok-1") &&
                      fs[i].fetched == 1000 && fs[i].expires == 2000,
                  "follower %d: %d %s", i, fs[i].status, fs[i].err);
        }
    }
    /* asks that came together are one fetch (all 4 asked within the 20 ms fetch) */
    unsigned asks = store_share_asks(l->sh) - asks0, fetches = l->fetches - fetches0;
    printf("%s: %u asks on the leader, %u fetches for %d followers\n", fail ? "fail" : "ok", asks,
           fetches, N_FOLLOWERS);
    CHECK(asks >= 1 && asks <= N_FOLLOWERS && fetches >= 1 && fetches <= asks);
}

int main(void) {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    leader l = {0};
    l.fetch.data = &l;
    uv_timer_init(&loop, &l.fetch);
    l.sh = store_share_new(&loop, ask, &l);
    REQUIRE(l.sh);

    round_trip(&loop, &l, 0);
    round_trip(&loop, &l, 1);

    /* after the leader closed: canceled, and the last follower to leave frees the share */
    follower late;
    memset(&late, 0, sizeof late);
    REQUIRE(uv_loop_init(&late.loop) == 0);
    late.f = store_share_join(l.sh, &late.loop, got, &late);
    REQUIRE(late.f);
    store_share_close(l.sh);
    uv_close((uv_handle_t *)&l.fetch, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE(uv_thread_create(&late.th, follower_main, &late) == 0);
    uv_thread_join(&late.th);
    CHECK(uv_loop_close(&late.loop) == 0);
    CHECK(late.status == STORE_E_CANCELED, "after close: %d %s", late.status, late.err);

    CHECK(uv_loop_close(&loop) == 0);
    return td_test_report(__FILE__);
}
