/* net.c - libcurl multi-socket engine on a libuv loop, with one retry policy.
 *
 * Everything runs on the loop thread: libuv tells curl about socket readiness (one uv_poll_t
 * per socket) and timeouts (one uv_timer_t per multi handle, see shards below); curl tells
 * us which sockets to watch. Requests move between: the start queue (waiting for a transfer
 * slot), running (easy handle in a multi), and backoff (waiting for a retry, holding no slot
 * and no easy handle).
 *
 * Re-entrancy: user callbacks may call net_start, net_cancel and net_engine_free. Callbacks
 * that curl drives (write/header) must not touch the multi handle, so cancels asked from
 * there are deferred; net_engine_free asked from inside any engine callback is deferred to
 * the end of the outermost entry from libuv.
 */
#include "net.h"
#include "h1_parse.h"
#include "util.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define NET_X_NAME(name, code, short_name, text) \
    case code:                                   \
        return short_name;
#define NET_X_TEXT(name, code, short_name, text) \
    case code:                                   \
        return text;
const char *net_err_name(int code) {
    switch (code) { NET_ERRNO_MAP(NET_X_NAME) default : return "unknown"; }
}
const char *net_strerror(int code) {
    switch (code) { NET_ERRNO_MAP(NET_X_TEXT) default : return "unknown error"; }
}

typedef enum { J_QUEUED, J_RUNNING, J_BACKOFF, J_DONE } job_state;
typedef enum {
    STOP_NONE,
    STOP_FULL,
    STOP_TOO_BIG,
    STOP_IGNORED_RANGE,
    STOP_ABORTED,
    STOP_CANCEL,
    STOP_BAD_RANGE,
    STOP_HEAD_TOO_BIG
} stop_reason;

/* The most header bytes one response may send, its interim (1xx) heads included, on both
 * paths: curl 7.88 caps each head but not how many 1xx heads come before the final one. */
#define NET_MAX_HEAD (100u * 1024u)

typedef struct job job;
typedef struct lconn lconn;
typedef struct lhost lhost;
typedef struct net_sock net_sock;
typedef struct net_shard net_shard;
typedef struct {
    job *head, *tail;
} jlist;

struct job {
    net_engine *e;
    net_request *req;
    job_state state;
    job *next, *prev; /* in *list: a queue or the backoff list */
    jlist *list;
    job *anext, *aprev; /* all live jobs */
    CURL *easy;
    net_shard *shard; /* whose multi holds easy while running */
    lconn *lc;        /* lean path: the connection running this attempt */
    bool lean;        /* this attempt runs on the lean path (see "lean path" below) */
    bool lean_fresh;  /* lean: already moved once to a fresh connection */
    uint64_t lean_t0, lean_deadline; /* lean: attempt start and end of its time (uv_now ms) */
    bool easy_primed; /* easy holds the engine's constant options and no method options */
    struct curl_slist *hdrs;
    uint64_t start_ms, due_ms, deadline_ms;
    /* per attempt */
    stop_reason stop;
    bool status_seen, cancel_requested, deferred_cancel;
    bool in_user_cb;     /* inside prepare / retry_check: the job must stay alive */
    bool doomed;         /* marked by net_cancel_all: ends as canceled */
    bool admitted;       /* counted in e->in_progress (left the start queue) */
    bool throttled;      /* this attempt was answered with a throttling signal */
    uint64_t attempt_ms; /* when the current attempt started */
    uint64_t content_range_total, content_length;
    /* the Content-Range of this attempt's response: "bytes cr_start-cr_end/total" */
    bool cr_seen, cr_parsed, range_checked, resp_started;
    uint64_t cr_start, cr_end;
    size_t head_bytes; /* header lines received, all of this attempt's heads */
    long retry_after_s;
    /* last failure, for the final message */
    int last_code;
    char cause[160];
    char errbuf[CURL_ERROR_SIZE];
};

/* One per socket, for the socket's whole life when curl opened it through on_opensocket
 * (owned: created there, closed by on_closesocket, the fd closed once libuv let go of it).
 * Keep-alive makes curl drop a socket from its watch list (CURL_POLL_REMOVE) after every
 * transfer and ask for it again with the next one; keeping the handle, and even its epoll
 * registration, saves a calloc + ioctl + epoll_ctl add/del + uv_close per request. Sockets
 * curl did not open through us (the threaded resolver's socketpair) are not owned: they live
 * from the first socket callback to CURL_POLL_REMOVE, and curl closes their fd. */
struct net_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    net_engine *e;
    /* whose multi polls it: known only from that multi's socket callback (curl opens the
     * socket before saying which multi it is for); a connection stays in the cache of the
     * multi that opened it, so it does not change while the socket lives */
    net_shard *shard;
    int events; /* UV_READABLE/UV_WRITABLE being polled; 0 = stopped */
    bool owned; /* the fd is closed with the handle */
    /* curl is not watching it (a cached connection) but it is still polled for reading,
     * unref'd so it does not keep the loop alive; any event then means the peer closed or
     * misbehaved: the poll stops and curl finds out when it checks the connection */
    bool idle;
};

typedef struct {
    CURL *c;
    bool primed; /* see job.easy_primed: reusable without curl_easy_reset */
} pooled;

/* Shards: the transfers are spread over several multi handles, each with its own connection
 * cache of at most about NET_SHARD_CONNS connections. libcurl 7.88 walks a host's whole
 * connection bundle for every transfer it starts (ConnectionExists and the like), so the cost
 * per request grows with the connections in one multi: with 1000 to one host those loops
 * were ~8% of the CPU of small ranged GETs on loopback, and are gone with 8 shards of 125.
 * Up to NET_SHARD_CONNS transfers there is one shard, as before. A transfer goes to the
 * shard with the fewest running, so no shard runs more than its share of max_in_flight and
 * its cache keeps the connections it needs. All shards share the engine's CURLSH (DNS cache
 * and TLS sessions). The adaptive limit and the queues stay engine-wide. */
#define NET_SHARD_CONNS 128u
struct net_shard {
    net_engine *e;
    CURLM *multi;
    uv_timer_t timer; /* CURLMOPT_TIMERFUNCTION of this multi */
    unsigned active;  /* transfers in this multi */
};

/* The lean path's state (see "lean path" below); one per engine, no globals. */
typedef struct {
    bool on;         /* engine "auto" and no proxy in the environment */
    SSL_CTX *ssl;    /* made on the first https request */
    bool ssl_failed; /* ... and could not be: https goes through curl */
    lhost *hosts;    /* few: one per scheme + host + port the stores talk to */
    lconn *active;   /* connections running an attempt or connecting */
    unsigned n_active, n_conns;
    uv_timer_t timer; /* timeouts of active connections, checked every NET_LEAN_TICK_MS */
    bool timer_on;
    char *rbuf, *pbuf; /* receive buffer, and TLS plaintext buffer */
    BIO_METHOD *bio;   /* the connections' BIO (see lean_bio_*) */
    char *wbuf;        /* request bytes / TLS records about to be written */
    size_t wcap;
    /* TLS connections being opened (connect + handshake) at once, and those waiting for
     * their turn, oldest first (see lean_connect_or_wait) */
    unsigned n_opening;
    lconn *wait_head, *wait_tail;
} lean_state;

struct net_engine {
    uv_loop_t *loop;
    lean_state ln;
    net_options o;
    char *ca_bundle, *user_agent;
    char *proxy, *proxy_ca, *proxy_excludes;
    net_shard *shards;
    unsigned n_shards;
    CURLSH *share;
    uv_timer_t backoff_timer, defer_timer;
    unsigned open_handles;
    net_sock **socks; /* indexed by fd */
    size_t n_socks;
    pooled *pool;
    unsigned n_pool;
    jlist retry_q, start_q, backoff; /* backoff sorted by due_ms */
    job *all;
    unsigned active;
    /* adaptive concurrency (see net_options.adaptive) */
    unsigned limit;            /* attempts allowed to run at once; max_in_flight when off */
    unsigned in_progress;      /* admitted requests not finished: running, backoff, retry_q */
    uint64_t cut_ms;           /* when the limit was last halved */
    unsigned answered;         /* answered attempts since the limit last moved */
    unsigned regain;           /* the limit before an isolated cut: regained quickly */
    uint64_t since_cut;        /* answered attempts since the last cut */
    unsigned depth;            /* nesting of engine entries from libuv / user calls */
    unsigned in_curl;          /* inside curl_multi_* (curl callbacks may run) */
    unsigned n_cancel_pending; /* cancels asked inside curl callbacks, not yet done */
    bool closing, free_pending, freed;
    uint64_t rng;
    net_stats st;
};

/* the lean path (defined below) */
/* scheme://authority/path of a URL the lean path takes */
typedef struct lurl {
    bool tls;
    const char *auth, *path;
    size_t auth_len, path_len;
} lurl;
static bool lean_eligible(net_engine *e, job *j, lurl *u);
static int lean_start(net_engine *e, job *j, const lurl *u);
static void lean_detach(net_engine *e, job *j);
static void lean_release(net_engine *e);

/* ---------- small helpers ---------- */

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static void jl_push_tail(jlist *l, job *j) {
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    j->list = l;
}
static void jl_remove(jlist *l, job *j) {
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->next = j->prev = NULL;
    j->list = NULL;
}
static job *jl_pop(jlist *l) {
    job *j = l->head;
    if (j)
        jl_remove(l, j);
    return j;
}
/* Sorted insert, scanning from the tail: new due times are mostly the latest. */
static void jl_insert_sorted(jlist *l, job *j) {
    job *p = l->tail;
    j->list = l;
    while (p && p->due_ms > j->due_ms)
        p = p->prev;
    if (!p) {
        j->prev = NULL;
        j->next = l->head;
        if (l->head)
            l->head->prev = j;
        else
            l->tail = j;
        l->head = j;
    } else {
        j->prev = p;
        j->next = p->next;
        if (p->next)
            p->next->prev = j;
        else
            l->tail = j;
        p->next = j;
    }
}

static int ascii_ncase_eq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
    return 1;
}

static uint64_t rng_next(net_engine *e) {
    /* xorshift64*: jitter only needs to decorrelate clients, not be secure */
    uint64_t x = e->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    e->rng = x;
    return x * 2685821657736338717ull;
}

/* Method and URL for messages: query strings can carry SAS tokens / signatures, userinfo
 * can carry passwords, so both are dropped. */
static void describe(const net_request *r, char *out, size_t n) {
    const char *u = r->url ? r->url : "";
    const char *scheme_end = strstr(u, "://");
    const char *host = scheme_end ? scheme_end + 3 : u;
    size_t hostlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hostlen);
    size_t pre = (size_t)(host - u);
    const char *rest = at ? at + 1 : host;
    size_t restlen = strcspn(rest, "?#");
    if (restlen > 140)
        restlen = 140;
    snprintf(out, n, "%s %.*s%.*s", r->method ? r->method : "GET", (int)pre, u, (int)restlen, rest);
}

/* ---------- handle lifetime ---------- */

static void engine_maybe_release(net_engine *e) {
    if (e->freed && e->open_handles == 0) {
        lean_release(e);
        free(e->ca_bundle);
        free(e->user_agent);
        free(e->proxy);
        free(e->proxy_ca);
        free(e->proxy_excludes);
        free(e->pool);
        free(e->socks);
        free(e->shards);
        free(e);
    }
}
static void on_handle_closed(uv_handle_t *h) {
    net_engine *e = h->data;
    e->open_handles--;
    engine_maybe_release(e);
}
static void on_sock_closed(uv_handle_t *h) {
    net_sock *s = (net_sock *)h;
    net_engine *e = s->e;
    /* only now: libuv must not watch a closed fd, and a number reused while the handle
     * was closing would collide in its fd-indexed tables (and ours) */
    if (s->owned)
        close(s->fd);
    free(s);
    e->open_handles--;
    engine_maybe_release(e);
}

static void engine_really_free(net_engine *e);
static void pump(net_engine *e);

static void lean_gate_pump(net_engine *e);
static void enter(net_engine *e) { e->depth++; }
static void leave(net_engine *e) {
    if (e->depth == 1 && !e->free_pending && !e->closing) {
        lean_gate_pump(e);
        pump(e);
    }
    if (--e->depth == 0 && e->free_pending)
        engine_really_free(e);
}

/* ---------- finishing ---------- */

/* A handle that ran a plain GET goes back to the pool as it is: its options are the engine's
 * constants plus the per-request ones that easy_setup sets again every time. Any other use
 * (NOBODY, CUSTOMREQUEST, POSTFIELDS, or a setup that failed halfway) is reset. */
static void easy_release(net_engine *e, CURL *easy, bool primed) {
    if (!easy)
        return;
    if (!e->closing && e->n_pool < e->o.max_in_flight) {
        if (primed) {
            /* the job's error buffer is about to be freed */
            curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *)NULL);
        } else {
            curl_easy_reset(easy);
        }
        e->pool[e->n_pool].c = easy;
        e->pool[e->n_pool].primed = primed;
        e->n_pool++;
    } else {
        curl_easy_cleanup(easy);
    }
}

static void job_unlink_all(net_engine *e, job *j) {
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        e->all = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    j->anext = j->aprev = NULL;
}

/* Takes the job out of whatever it is in (queue, backoff list, multi). Must not run inside
 * a curl callback when the job is running. */
static void arm_backoff_timer(net_engine *e);

static void job_detach(net_engine *e, job *j) {
    if (j->list == &e->backoff) {
        /* the timer may be armed for this job: re-armed for the next one, or stopped, so a
         * canceled retry does not keep the loop (and an interrupted run) waiting for it */
        jl_remove(j->list, j);
        arm_backoff_timer(e);
    }
    if (j->list)
        jl_remove(j->list, j);
    if (j->state == J_RUNNING && j->easy) {
        curl_multi_remove_handle(j->shard->multi, j->easy);
        j->shard->active--;
        e->active--;
    } else if (j->state == J_RUNNING && j->lean) {
        lean_detach(e, j);
    }
    j->shard = NULL;
    easy_release(e, j->easy, j->easy_primed);
    j->easy = NULL;
    j->easy_primed = false;
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
}

static void format_final(job *j, int code) {
    net_request *r = j->req;
    char what[160], suffix[64] = "";
    describe(r, what, sizeof what);
    const char *cause = j->cause[0] ? j->cause : net_strerror(code);
    if (r->attempts > 1) {
        double secs = (double)(now_ms() - j->start_ms) / 1000.0;
        snprintf(suffix, sizeof suffix, " after %u attempts over %.1f s", r->attempts, secs);
    }
    /* the cause gives way first, so the URL and the attempt count always show */
    int room = (int)sizeof r->errmsg - 1 - (int)strlen(what) - 2 - (int)strlen(suffix);
    if (room < 0)
        room = 0;
    snprintf(r->errmsg, sizeof r->errmsg, "%s: %.*s%s", what, ut_utf8_prec(cause, (size_t)room),
             cause, suffix);
}

/* Delivers the result; the job is freed before the callback so the callback may free or
 * reuse the request. */
static void job_finish(net_engine *e, job *j, int code) {
    net_request *r = j->req;
    if (j->deferred_cancel)
        e->n_cancel_pending--;
    if (j->admitted)
        e->in_progress--;
    job_detach(e, j);
    job_unlink_all(e, j);
    if (code != NET_OK) {
        if (code == NET_E_CANCELED && !j->cause[0])
            snprintf(j->cause, sizeof j->cause, "canceled");
        format_final(j, code);
    } else {
        r->errmsg[0] = '\0';
    }
    j->state = J_DONE;
    free(j);
    r->priv = NULL;
    r->cb(r, code);
}

/* ---------- Content-Range ---------- */

/* "bytes S-E/T" or "bytes S-E/<star>" (RFC 9110 14.4); *total UINT64_MAX when "*". Strict: a
 * value that does not parse cannot be checked, so it is not trusted either. */
static bool parse_uint(const char **p, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return true;
}
static bool parse_content_range(const char *v, uint64_t *start, uint64_t *end, uint64_t *total) {
    if (!ascii_ncase_eq(v, "bytes ", 6))
        return false;
    const char *p = v + 6;
    while (*p == ' ')
        p++;
    if (!parse_uint(&p, start) || *p++ != '-' || !parse_uint(&p, end) || *p++ != '/')
        return false;
    if (*p == '*' && p[1] == '\0') {
        *total = UINT64_MAX;
        return *end >= *start;
    }
    return parse_uint(&p, total) && *p == '\0' && *end >= *start && *total > *end;
}

/* A 206 must carry exactly the bytes asked for (cut only by the object's end), of an object
 * of the size known so far: bytes from another offset would be parsed as if they were the
 * ones asked for and give a wrong header row, not an error. Returns false and says why in
 * j->cause. */
static bool range_matches(job *j) {
    net_request *r = j->req;
    char got[64];
    if (!j->cr_seen || !j->cr_parsed) {
        snprintf(j->cause, sizeof j->cause, "HTTP 206 with %s Content-Range",
                 j->cr_seen ? "an unreadable" : "no");
        return false;
    }
    uint64_t s = j->cr_start, e = j->cr_end, t = j->content_range_total;
    if (t == UINT64_MAX)
        snprintf(got, sizeof got, "bytes %llu-%llu/*", (unsigned long long)s,
                 (unsigned long long)e);
    else
        snprintf(got, sizeof got, "bytes %llu-%llu/%llu", (unsigned long long)s,
                 (unsigned long long)e, (unsigned long long)t);
    bool ok = s == r->range_offset;
    if (ok && r->range_length) {
        uint64_t want_end = r->range_offset + r->range_length - 1;
        if (t != UINT64_MAX && t - 1 < want_end)
            want_end = t - 1; /* the object ends first */
        ok = e == want_end;
    }
    if (ok && j->content_length != UINT64_MAX)
        ok = j->content_length == e - s + 1;
    if (!ok) {
        if (r->range_length)
            snprintf(j->cause, sizeof j->cause,
                     "HTTP 206 with Content-Range '%s' for the bytes %llu-%llu asked for", got,
                     (unsigned long long)r->range_offset,
                     (unsigned long long)(r->range_offset + r->range_length - 1));
        else
            snprintf(j->cause, sizeof j->cause,
                     "HTTP 206 with Content-Range '%s' for the bytes %llu- asked for", got,
                     (unsigned long long)r->range_offset);
        return false;
    }
    if (r->expect_total && t != UINT64_MAX && t != r->expect_total) {
        snprintf(j->cause, sizeof j->cause,
                 "HTTP 206 with Content-Range '%s' for an object of %llu bytes", got,
                 (unsigned long long)r->expect_total);
        return false;
    }
    return true;
}

/* ---------- curl callbacks ---------- */

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    job *j = ud;
    net_request *r = j->req;
    size_t len = sz * n;
    j->head_bytes += len;
    if (j->head_bytes > NET_MAX_HEAD) {
        j->stop = STOP_HEAD_TOO_BIG;
        return 0; /* CURLE_WRITE_ERROR; the lean path's h1_parse stops before this */
    }
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or similar): forget the previous one */
        j->content_range_total = UINT64_MAX;
        j->content_length = UINT64_MAX;
        j->cr_seen = j->cr_parsed = false;
        j->resp_started = true;
        j->retry_after_s = -1;
        r->resp_header_region[0] = '\0';
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v);
    if (r->on_header)
        r->on_header(r, p, nlen, v, vlen);
    char val[96];
    if (vlen >= sizeof val)
        vlen = sizeof val - 1;
    memcpy(val, v, vlen);
    val[vlen] = '\0';
    if (nlen == 13 && ascii_ncase_eq(p, "content-range", 13)) {
        j->cr_seen = true;
        uint64_t t = UINT64_MAX;
        j->cr_parsed = parse_content_range(val, &j->cr_start, &j->cr_end, &t);
        if (!j->cr_parsed) {
            /* "bytes * / N" (no star-space in a comment) of a 416 still tells the size */
            const char *slash = strrchr(val, '/');
            const char *q = slash ? slash + 1 : NULL;
            if (!q || !parse_uint(&q, &t) || *q)
                t = UINT64_MAX;
        }
        j->content_range_total = t;
    } else if (nlen == 14 && ascii_ncase_eq(p, "content-length", 14)) {
        char *ep;
        if (val[0] >= '0' && val[0] <= '9') {
            unsigned long long t = strtoull(val, &ep, 10);
            if (*ep == '\0')
                j->content_length = t;
        }
    } else if (nlen == 11 && ascii_ncase_eq(p, "retry-after", 11)) {
        char *ep;
        if (val[0] >= '0' && val[0] <= '9') {
            long t = strtol(val, &ep, 10);
            if (*ep == '\0' && t >= 0 && t < 86400)
                j->retry_after_s = t;
        }
    } else if (nlen == 19 && ascii_ncase_eq(p, "x-amz-bucket-region", 19)) {
        size_t m =
            vlen < sizeof r->resp_header_region - 1 ? vlen : sizeof r->resp_header_region - 1;
        memcpy(r->resp_header_region, val, m);
        r->resp_header_region[m] = '\0';
    }
    return len;
}

/* The final response's status is known (before its first body byte): false (j->stop set)
 * when the transfer must stop there. */
static bool status_gate(job *j, long st) {
    net_request *r = j->req;
    r->http_status = st;
    j->status_seen = true;
    /* The server ignored Range and we wanted bytes further in: nothing useful comes. */
    if (r->has_range && st == 200 && r->range_offset != 0) {
        j->stop = STOP_IGNORED_RANGE;
        return false;
    }
    if ((r->has_range || r->check_range) && st == 206) {
        j->range_checked = true;
        if (!range_matches(j)) {
            j->stop = STOP_BAD_RANGE;
            return false;
        }
    }
    return true;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
    job *j = ud;
    net_engine *e = j->e;
    net_request *r = j->req;
    size_t len = sz * n;
    if (j->cancel_requested) {
        j->stop = STOP_CANCEL;
        return 0;
    }
    if (!j->status_seen) {
        long st = 0;
        if (j->easy)
            curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st);
        else
            st = r->http_status; /* the lean path set it */
        if (!status_gate(j, st))
            return 0;
    }
    e->st.bytes += len;
    bool ok_status = r->http_status >= 200 && r->http_status < 300;
    if (r->buf) {
        size_t room = r->buf_cap - (size_t)r->got;
        size_t take = len < room ? len : room;
        if (take)
            memcpy(r->buf + r->got, p, take);
        r->got += take;
        if (take < len) {
            if (!ok_status)
                return len; /* error bodies are kept only as far as they fit */
            j->stop = r->has_range ? STOP_FULL : STOP_TOO_BIG;
            return 0;
        }
        /* A full body of a 200 to a Range request: the rest is unwanted, stop now rather
         * than after the next chunk (unless it is all there is). */
        if (r->got == r->buf_cap && r->has_range && r->http_status == 200 &&
            j->content_length != r->got) {
            j->stop = STOP_FULL;
            return 0;
        }
        return len;
    }
    r->got += len;
    if (r->on_body && r->on_body(r, p, len) != 0) {
        j->stop = STOP_ABORTED;
        return 0;
    }
    return len;
}

/* ---------- attempts ---------- */

int net_add_header(void *headers, const char *line) {
    struct curl_slist **l = headers;
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return NET_E_NOMEM;
    *l = n;
    return NET_OK;
}

static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);
static int on_closesocket(void *ud, curl_socket_t fd);

/* Receive buffer: a ranged GET's bytes and its response headers in one recv (with curl's
 * 16 KiB default a 16 KiB read took a second recv and a poll); other requests get curl's
 * default size plus the same room. Bounded by curl's oldest maximum. */
#define NET_HEADER_ROOM 4096u
#define NET_RECV_BUFFER_MAX (512u * 1024u)
static long recv_buffer_for(const net_request *r) {
    uint64_t n = (r->has_range ? r->range_length : (uint64_t)CURL_MAX_WRITE_SIZE) + NET_HEADER_ROOM;
    return (long)(n < NET_RECV_BUFFER_MAX ? n : NET_RECV_BUFFER_MAX);
}

/* primed: the handle comes from the pool with the constant options already set (see
 * easy_release); only what differs per attempt is set again. Every option set below outside
 * the per-attempt block must be either constant for the engine or make the handle unprimed. */
static int easy_setup(net_engine *e, job *j, bool primed) {
    net_request *r = j->req;
    CURL *c = j->easy;
    uint64_t now = now_ms();
    uint64_t left = j->deadline_ms > now ? j->deadline_ms - now : 1;
    uint64_t tmo = e->o.request_timeout_ms ? e->o.request_timeout_ms : left;
    if (tmo > left)
        tmo = left;
    const char *m = r->method ? r->method : "GET";
    bool plain_get = strcmp(m, "GET") == 0 && !r->body;
    CURLcode rc = CURLE_OK;
    j->easy_primed = false;
#define SET(opt, val)                           \
    do {                                        \
        if (rc == CURLE_OK)                     \
            rc = curl_easy_setopt(c, opt, val); \
    } while (0)
    /* per attempt */
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_PRIVATE, (void *)j);
    SET(CURLOPT_TIMEOUT_MS, (long)tmo);
    SET(CURLOPT_HTTPHEADER, j->hdrs);
    SET(CURLOPT_WRITEDATA, (void *)j);
    SET(CURLOPT_HEADERDATA, (void *)j);
    SET(CURLOPT_ERRORBUFFER, j->errbuf);
    /* Only a hint: libcurl 7.88 refuses a new size (CURLE_BAD_FUNCTION_ARGUMENT) while the
     * handle still holds the buffer of a transfer that failed (e.g. a host that did not
     * resolve), and a retry must then go on with the old size, not end as a config error. */
    if (rc == CURLE_OK)
        (void)curl_easy_setopt(c, CURLOPT_BUFFERSIZE, recv_buffer_for(r));
    if (!primed) {
        /* constant for the engine */
        SET(CURLOPT_SHARE, e->share);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_TCP_NODELAY, 1L);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        SET(CURLOPT_CONNECTTIMEOUT_MS,
            (long)(e->o.connect_timeout_ms ? e->o.connect_timeout_ms : 0));
        if (e->o.low_speed_time_ms) {
            SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
            SET(CURLOPT_LOW_SPEED_TIME, (long)((e->o.low_speed_time_ms + 999) / 1000));
        }
        SET(CURLOPT_WRITEFUNCTION, on_write);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        /* curl keeps these per connection, from the handle that opened it */
        SET(CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
        SET(CURLOPT_OPENSOCKETDATA, (void *)e);
        SET(CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
        SET(CURLOPT_CLOSESOCKETDATA, (void *)e);
        if (e->user_agent)
            SET(CURLOPT_USERAGENT, e->user_agent);
        if (e->ca_bundle)
            SET(CURLOPT_CAINFO, e->ca_bundle);
        if (e->proxy)
            SET(CURLOPT_PROXY, e->proxy);
        if (e->proxy_ca)
            SET(CURLOPT_PROXY_CAINFO, e->proxy_ca);
        if (e->proxy_excludes)
            SET(CURLOPT_NOPROXY, e->proxy_excludes);
        /* allow_invalid_certificates: true in obstore's client_options (the user was
         * warned) */
        if (e->o.insecure_tls) {
            SET(CURLOPT_SSL_VERIFYPEER, 0L);
            SET(CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    /* per method: any of these makes the handle unprimed (reset when released) */
    if (strcmp(m, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, m);
    }
    if (r->body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
        SET(CURLOPT_POSTFIELDS, r->body ? r->body : "");
        if (strcmp(m, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, m);
    }
#undef SET
    if (rc == CURLE_OUT_OF_MEMORY)
        return NET_E_NOMEM;
    if (rc != CURLE_OK) {
        snprintf(j->cause, sizeof j->cause, "curl option: %s", curl_easy_strerror(rc));
        return NET_E_CONFIG;
    }
    j->easy_primed = plain_get;
    return NET_OK;
}

/* Starts one attempt: prepare callback, headers, easy handle into the multi. */
static int attempt_start(net_engine *e, job *j) {
    net_request *r = j->req;
    r->attempts++;
    r->got = 0;
    r->http_status = 0;
    r->total_size = UINT64_MAX;
    r->resp_header_region[0] = '\0';
    j->stop = STOP_NONE;
    j->status_seen = false;
    j->content_range_total = j->content_length = UINT64_MAX;
    j->cr_seen = j->cr_parsed = j->range_checked = j->resp_started = false;
    j->head_bytes = 0;
    j->retry_after_s = -1;
    j->errbuf[0] = '\0';
    j->throttled = false;
    j->attempt_ms = now_ms();
    if (r->attempts > 1)
        e->st.retries++;

    struct curl_slist *h = NULL;
    int rc = NET_OK;
    for (size_t i = 0; i < r->n_headers && rc == NET_OK; i++)
        rc = net_add_header(&h, r->headers[i]);
    if (rc == NET_OK && r->has_range) {
        char line[80];
        if (r->range_length == 0) {
            snprintf(line, sizeof line, "Range: bytes=%llu-", (unsigned long long)r->range_offset);
        } else {
            snprintf(line, sizeof line, "Range: bytes=%llu-%llu",
                     (unsigned long long)r->range_offset,
                     (unsigned long long)(r->range_offset + r->range_length - 1));
        }
        rc = net_add_header(&h, line);
    }
    /* no 100-continue round trip for small bodies (only requests with a body can get one:
     * a GET pays nothing for the line it does not carry) */
    if (rc == NET_OK && (r->body || r->body_len))
        rc = net_add_header(&h, "Expect:");
    if (rc == NET_OK && r->prepare) {
        j->in_user_cb = true;
        int prc = r->prepare(r, &h);
        j->in_user_cb = false;
        if (j->cancel_requested) {
            curl_slist_free_all(h);
            return NET_E_CANCELED;
        }
        if (prc != 0) {
            curl_slist_free_all(h);
            snprintf(j->cause, sizeof j->cause, "prepare callback failed (%s, %d)",
                     net_err_name(prc), prc);
            return prc; /* the contract: the request ends with that code */
        }
    }
    if (rc != NET_OK) {
        curl_slist_free_all(h);
        return rc;
    }
    if (j->cancel_requested) {
        curl_slist_free_all(h);
        return NET_E_CANCELED;
    }
    j->hdrs = h;
    j->lean = false;
    lurl u;
    if (lean_eligible(e, j, &u)) {
        rc = lean_start(e, j, &u);
        if (rc != -1)
            return rc;
        j->lean = false; /* a host the lean path cannot parse: curl's */
    }
    bool primed = false;
    if (e->n_pool) {
        e->n_pool--;
        j->easy = e->pool[e->n_pool].c;
        primed = e->pool[e->n_pool].primed;
    } else {
        j->easy = curl_easy_init();
        if (!j->easy)
            return NET_E_NOMEM;
    }
    rc = easy_setup(e, j, primed);
    if (rc != NET_OK)
        return rc;
    /* the fewest running; ties to the lowest index, so that a few transfers at once keep
     * reusing the connections of the first shards */
    net_shard *sh = &e->shards[0];
    for (unsigned i = 1; i < e->n_shards; i++)
        if (e->shards[i].active < sh->active)
            sh = &e->shards[i];
    CURLMcode mc = curl_multi_add_handle(sh->multi, j->easy);
    if (mc != CURLM_OK) {
        snprintf(j->cause, sizeof j->cause, "curl multi: %s", curl_multi_strerror(mc));
        return mc == CURLM_OUT_OF_MEMORY ? NET_E_NOMEM : NET_E_CONFIG;
    }
    j->state = J_RUNNING;
    j->shard = sh;
    sh->active++;
    e->active++;
    e->st.requests++;
    return NET_OK;
}

/* Starts queued jobs while slots are free; retries before new requests so a retried
 * request's time budget is not spent queueing. A new request is admitted only while fewer
 * than `limit` are in progress: with the limit cut by throttling, the requests already
 * admitted finish first instead of more joining the crowd that is being refused. */
static void pump(net_engine *e) {
    while (!e->closing && !e->free_pending && e->active < e->limit) {
        job *j = jl_pop(&e->retry_q);
        if (j && now_ms() >= j->deadline_ms) {
            /* its time ran out while it waited for a slot: end with the last failure */
            job_finish(e, j, j->last_code);
            continue;
        }
        if (!j) {
            if (e->o.adaptive && e->in_progress >= e->limit)
                break;
            j = jl_pop(&e->start_q);
            if (!j)
                break;
            j->admitted = true;
            e->in_progress++;
            j->start_ms = now_ms();
            j->deadline_ms = j->start_ms + (e->o.retry_max_ms ? e->o.retry_max_ms : UINT32_MAX);
        }
        int rc = attempt_start(e, j);
        if (rc != NET_OK)
            job_finish(e, j, rc);
    }
}

/* AIMD on the number of attempts at once. Halving at most once per round trip (only an
 * attempt that started after the last cut may cut again) keeps one burst of refusals, all
 * answering the same overload, from driving the limit straight to the floor. */
static void adapt(net_engine *e, job *j) {
    if (j->throttled)
        e->st.throttled++;
    if (!e->o.adaptive)
        return;
    if (j->throttled) {
        if (j->attempt_ms < e->cut_ms)
            return;
        /* a refusal after a whole limit's worth of good answers is a blip, and the level
         * before it is regained quickly; one sooner means the level is too high */
        e->regain = e->since_cut >= e->limit ? e->limit : 0;
        e->since_cut = 0;
        unsigned lo = e->o.adaptive_floor ? e->o.adaptive_floor : 1;
        if (lo > e->o.max_in_flight)
            lo = e->o.max_in_flight;
        unsigned nl = e->limit / 2;
        e->limit = nl < lo ? lo : nl;
        e->cut_ms = now_ms();
        if (e->cut_ms <= j->attempt_ms)
            e->cut_ms = j->attempt_ms + 1;
        e->answered = 0;
        if (e->limit < e->st.min_limit)
            e->st.min_limit = e->limit;
    } else if (j->req->http_status > 0) {
        /* any answer that is not a refusal shows the server keeps up. Back up to the level
         * of an isolated cut, one more slot per answer: a lone refusal (one 503 among
         * thousands of answers) costs little. Otherwise one more per limit's worth of
         * answers, about one per round trip. */
        e->since_cut++;
        if (e->limit < e->o.max_in_flight && (e->limit < e->regain || ++e->answered >= e->limit)) {
            e->limit++;
            e->answered = 0;
        }
    }
    e->st.limit = e->limit;
}

static void on_backoff_timer(uv_timer_t *t) {
    net_engine *e = t->data;
    enter(e);
    uint64_t now = now_ms();
    job *j;
    while ((j = e->backoff.head) && j->due_ms <= now) {
        jl_remove(&e->backoff, j);
        j->state = J_QUEUED;
        jl_push_tail(&e->retry_q, j);
    }
    arm_backoff_timer(e);
    leave(e);
}

static void arm_backoff_timer(net_engine *e) {
    if (e->closing)
        return;
    job *j = e->backoff.head;
    if (!j) {
        uv_timer_stop(&e->backoff_timer);
        return;
    }
    uint64_t now = now_ms();
    uv_timer_start(&e->backoff_timer, on_backoff_timer, j->due_ms > now ? j->due_ms - now : 0, 0);
}

static void cause_curl(job *j, const char *prefix, CURLcode cc) {
    snprintf(j->cause, sizeof j->cause, "%s%.*s", prefix,
             ut_utf8_prec(j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc), 140),
             j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc));
}

/* Classifies a finished attempt: returns the net code, sets *retry and j->cause. */
static int classify(net_engine *e, job *j, CURLcode cc, bool *retry) {
    net_request *r = j->req;
    long st = r->http_status;
    *retry = false;
    switch (cc) {
    case CURLE_OK:
        break;
    case CURLE_WRITE_ERROR:
        switch (j->stop) {
        case STOP_FULL:
            cc = CURLE_OK; /* a success: buf is full */
            break;
        case STOP_TOO_BIG:
            snprintf(j->cause, sizeof j->cause, "response body larger than %zu bytes", r->buf_cap);
            return NET_E_TOO_BIG;
        case STOP_IGNORED_RANGE:
            snprintf(j->cause, sizeof j->cause, "server ignored Range (HTTP 200 for bytes %llu-)",
                     (unsigned long long)r->range_offset);
            return NET_E_HTTP;
        case STOP_ABORTED:
            snprintf(j->cause, sizeof j->cause, "aborted by the body callback");
            return NET_E_ABORTED;
        case STOP_CANCEL:
            return NET_E_CANCELED;
        case STOP_BAD_RANGE: /* cause set by range_matches */
            *retry = true;
            return NET_E_PROTOCOL;
        case STOP_HEAD_TOO_BIG:
            *retry = true;
            snprintf(j->cause, sizeof j->cause, "response headers larger than %u bytes",
                     NET_MAX_HEAD);
            return NET_E_PROTOCOL;
        default:
            snprintf(j->cause, sizeof j->cause, "write error");
            return NET_E_ABORTED;
        }
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
        *retry = true;
        cause_curl(j, "", cc);
        return NET_E_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        *retry = true;
        cause_curl(j, "timed out: ", cc);
        return NET_E_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        /* curl does not tell a temporary failure from a missing name; retries are bounded */
        *retry = true;
        cause_curl(j, "", cc);
        return NET_E_DNS;
    case CURLE_SSL_CONNECT_ERROR:
        /* a handshake cut by the network, not a verification failure */
        *retry = true;
        cause_curl(j, "TLS: ", cc);
        return NET_E_TLS;
    case CURLE_PEER_FAILED_VERIFICATION:
        /* final: a certificate does not become trusted by asking again */
        snprintf(j->cause, sizeof j->cause, "TLS: %.*s (a private CA goes in ca_bundle)",
                 ut_utf8_prec(j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc), 90),
                 j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc));
        return NET_E_TLS;
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        cause_curl(j, "TLS: ", cc);
        return NET_E_TLS;
    case CURLE_OUT_OF_MEMORY:
        if (j->resp_started) {
            /* curl refuses a header line or header block beyond its limits (100 KiB, 300 KiB
             * in total) with this code: the server's fault, not ours */
            *retry = true;
            snprintf(j->cause, sizeof j->cause,
                     "response headers larger than curl's limits (a line of 100 KiB, "
                     "300 KiB in all)");
            return NET_E_PROTOCOL;
        }
        return NET_E_NOMEM;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
#if LIBCURL_VERSION_NUM >= 0x080600
    case CURLE_TOO_LARGE: /* newer curl's code for headers beyond its limits */
#endif
        *retry = true;
        cause_curl(j, "malformed response: ", cc);
        return NET_E_PROTOCOL;
    case CURLE_UNSUPPORTED_PROTOCOL:
        if (strstr(j->errbuf, "HTTP/0.9")) {
            /* no status line: whatever the bytes are, they are not an HTTP answer (every
             * URL the stores build is http or https, so this is the only way here) */
            *retry = true;
            cause_curl(j, "malformed response: ", cc);
            return NET_E_PROTOCOL;
        }
        cause_curl(j, "", cc);
        return NET_E_CONFIG;
    case CURLE_URL_MALFORMAT:
        cause_curl(j, "", cc);
        return NET_E_CONFIG;
    case CURLE_ABORTED_BY_CALLBACK:
        return NET_E_CANCELED;
    default:
        cause_curl(j, "", cc);
        return NET_E_CONNECT;
    }
    (void)e;
    if (st >= 200 && st < 300) {
        j->in_user_cb = true;
        bool again = r->retry_check && r->retry_check(r);
        j->in_user_cb = false;
        if (j->cancel_requested)
            return NET_E_CANCELED;
        if (st == 206 && (r->has_range || r->check_range) && !j->range_checked &&
            !range_matches(j)) {
            *retry = true; /* an empty 206: no body byte ran the check */
            return NET_E_PROTOCOL;
        }
        if (again) {
            *retry = true;
            j->throttled = true;
            snprintf(j->cause, sizeof j->cause, "HTTP %ld with an error in the body", st);
            return NET_E_HTTP;
        }
        return NET_OK;
    }
    snprintf(j->cause, sizeof j->cause, "HTTP %ld", st);
    if (st >= 500 || st == 429 || st == 408)
        *retry = true;
    if (st == 429 || st == 503)
        j->throttled = true;
    return NET_E_HTTP;
}

/* Schedules the next attempt, or returns false when the attempts or time budget are spent. */
static bool schedule_retry(net_engine *e, job *j) {
    net_request *r = j->req;
    if (r->attempts >= e->o.max_attempts)
        return false;
    uint64_t now = now_ms();
    if (now >= j->deadline_ms)
        return false;
    uint64_t left = j->deadline_ms - now;
    uint64_t delay;
    if (j->retry_after_s >= 0) {
        delay = (uint64_t)j->retry_after_s * 1000u;
        if (delay >= left)
            return false; /* the server asks for longer than we may wait */
    } else {
        unsigned shift = r->attempts - 1 < 32 ? r->attempts - 1 : 32;
        uint64_t win = (uint64_t)e->o.retry_base_ms << shift;
        if (win > e->o.retry_cap_ms)
            win = e->o.retry_cap_ms;
        delay = win ? rng_next(e) % (win + 1) : 0;
        if (delay >= left)
            delay = left - 1;
    }
    j->due_ms = now + delay;
    j->state = J_BACKOFF;
    jl_insert_sorted(&e->backoff, j);
    if (e->backoff.head == j)
        arm_backoff_timer(e);
    return true;
}

static void attempt_end(net_engine *e, job *j, CURLcode cc);

static void attempt_done(net_engine *e, CURL *easy, CURLcode cc) {
    job *j = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
    if (!j)
        return;
    net_request *r = j->req;
    long nc = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &nc);
    if (nc > 0)
        e->st.connections += (uint64_t)nc;
    if (!j->status_seen) {
        long st = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st);
        r->http_status = st;
    }
    curl_multi_remove_handle(j->shard->multi, easy);
    j->shard->active--;
    j->shard = NULL;
    e->active--;
    j->state = J_QUEUED; /* not running; detach below must not remove it again */
    easy_release(e, easy, j->easy_primed);
    j->easy = NULL;
    j->easy_primed = false;
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
    attempt_end(e, j, cc);
}

/* An attempt ended (either path; the job holds no easy handle or connection any more):
 * success, retry or final failure. cc is curl's code, or the lean path's equivalent. */
static void attempt_end(net_engine *e, job *j, CURLcode cc) {
    net_request *r = j->req;
    if (j->cancel_requested) {
        job_finish(e, j, NET_E_CANCELED);
        return;
    }
    bool retry;
    int code = classify(e, j, cc, &retry);
    adapt(e, j);
    if (j->content_range_total != UINT64_MAX)
        r->total_size = j->content_range_total;
    else if (r->http_status == 200)
        r->total_size = j->content_length;
    if (code == NET_OK) {
        if (j->stop == STOP_FULL)
            r->got = r->buf_cap;
        job_finish(e, j, NET_OK);
        return;
    }
    j->last_code = code;
    if (retry && !e->closing && schedule_retry(e, j))
        return;
    job_finish(e, j, code);
}

static void check_multi_info(net_engine *e, net_shard *sh) {
    CURLMsg *m;
    int left;
    while (!e->freed && (m = curl_multi_info_read(sh->multi, &left))) {
        if (m->msg == CURLMSG_DONE)
            attempt_done(e, m->easy_handle, m->data.result);
    }
}

static void socket_action(net_engine *e, net_shard *sh, curl_socket_t s, int ev) {
    int running;
    e->in_curl++;
    curl_multi_socket_action(sh->multi, s, ev, &running);
    e->in_curl--;
    check_multi_info(e, sh);
}

static void on_poll(uv_poll_t *p, int status, int events) {
    net_sock *s = (net_sock *)p;
    net_engine *e = s->e;
    if (s->idle) {
        /* a cached connection became readable: EOF or stray bytes; stop (the poll is
         * level-triggered) and let curl find out when it checks the connection for reuse */
        uv_poll_stop(p);
        s->events = 0;
        return;
    }
    int ev = 0;
    if (status < 0)
        ev = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            ev |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            ev |= CURL_CSELECT_OUT;
    }
    enter(e);
    if (!e->closing && s->shard)
        socket_action(e, s->shard, s->fd, ev);
    leave(e);
}

static void on_curl_timer(uv_timer_t *t) {
    net_shard *sh = t->data;
    net_engine *e = sh->e;
    enter(e);
    if (!e->closing)
        socket_action(e, sh, CURL_SOCKET_TIMEOUT, 0);
    leave(e);
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *ud) {
    net_shard *sh = ud;
    (void)m;
    if (timeout_ms < 0)
        uv_timer_stop(&sh->timer);
    else
        uv_timer_start(&sh->timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static net_sock *sock_get(const net_engine *e, curl_socket_t fd) {
    return fd >= 0 && (size_t)fd < e->n_socks ? e->socks[fd] : NULL;
}

static void sock_close(net_engine *e, net_sock *s) {
    if (e->socks[s->fd] == s)
        e->socks[s->fd] = NULL;
    if (s->idle)
        uv_ref((uv_handle_t *)&s->poll);
    s->idle = false;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static net_sock *sock_new(net_engine *e, curl_socket_t fd, bool owned) {
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= e->n_socks) {
        size_t n = e->n_socks ? e->n_socks : 64;
        while (n <= (size_t)fd)
            n *= 2;
        net_sock **t = realloc(e->socks, n * sizeof *t);
        if (!t)
            return NULL;
        memset(t + e->n_socks, 0, (n - e->n_socks) * sizeof *t);
        e->socks = t;
        e->n_socks = n;
    }
    net_sock *old = e->socks[fd];
    if (old) {
        /* its fd was closed behind our back and the number handed out again: the old
         * handle goes, without closing the fd, which now belongs to the new socket */
        old->owned = false;
        sock_close(e, old);
    }
    net_sock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (uv_poll_init_socket(e->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->fd = fd;
    s->e = e;
    s->owned = owned;
    s->poll.data = e;
    e->open_handles++;
    e->socks[fd] = s;
    return s;
}

static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
    net_engine *e = ud;
    (void)purpose;
    if (e->closing)
        return CURL_SOCKET_BAD;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        return CURL_SOCKET_BAD;
    if (!sock_new(e, fd, true)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

/* Also called during curl_multi_cleanup in engine_really_free: the close callbacks still
 * find the engine, which open_handles keeps until they ran. */
static int on_closesocket(void *ud, curl_socket_t fd) {
    net_engine *e = ud;
    net_sock *s = sock_get(e, fd);
    if (!s)
        return close(fd);
    s->owned = true; /* curl hands the fd over to be closed */
    sock_close(e, s);
    return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp) {
    net_shard *sh = ud;
    net_engine *e = sh->e;
    net_sock *s = sock_get(e, fd);
    (void)easy;
    (void)sockp;
    if (what == CURL_POLL_REMOVE) {
        if (!s)
            return 0;
        if (!s->owned) {
            sock_close(e, s); /* curl closes the fd next */
        } else if (s->events == UV_READABLE && !e->closing) {
            /* most likely a connection going back to curl's cache, asked for again with
             * the next request (writing it happens without polling): keep it registered */
            if (!s->idle)
                uv_unref((uv_handle_t *)&s->poll);
            s->idle = true;
        } else {
            uv_poll_stop(&s->poll);
            s->events = 0;
        }
        return 0;
    }
    if (e->closing)
        return 0;
    if (!s && !(s = sock_new(e, fd, false)))
        return -1;
    s->shard = sh;
    if (s->idle) {
        uv_ref((uv_handle_t *)&s->poll);
        s->idle = false;
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    /* uv_poll_start re-registers with epoll even for the same events: only on a change */
    if (ev != s->events) {
        if (uv_poll_start(&s->poll, ev, on_poll) != 0) {
            s->events = 0;
            return -1;
        }
        s->events = ev;
    }
    return 0;
}

/* ---------- lean path ----------
 *
 * libcurl's per-transfer work (its HTTP state machine, connection cache walks, two
 * zero-timeout poll()s, a dozen allocations) was over a third of the client's CPU for a 16 KiB
 * ranged GET on a keep-alive connection, and more than the kernel's share of moving the bytes.
 * So the common case runs on the engine's own HTTP/1.1 client: a GET without a body, to an
 * http:// or https:// URL without userinfo, no proxy in the environment, headers that need
 * none of curl's rewriting. Everything else (other methods, listing, auth flows, proxies)
 * still goes through curl, decided per attempt; net_options.engine = NET_ENGINE_CURL sends
 * everything through curl.
 *
 * Connections are libuv TCP handles, read all the time (so a server closing an idle one is
 * seen at once), kept per scheme + host + port, reused most recent first. https is OpenSSL
 * through a BIO of the engine's own, a memory BIO without the copies: OpenSSL reads records
 * straight from the receive buffer and writes them to one buffer per connection, which goes
 * to the socket in one write after each SSL call (OpenSSL's memory BIO zeroed and moved
 * every 16 KiB response once more; it was 10% of the https client's CPU),
 * verification always on (system store plus ca_bundle, peer and host name or IP checked,
 * SNI for names), sessions resumed per host. The response is parsed by h1_parse (fuzzed in
 * fuzz/fuzz_h1.c); header lines and body bytes go through the same on_header / on_write as
 * curl's, so range checks, buffers, stats and the retry policy are shared: a lean attempt ends
 * in attempt_end with the CURLcode curl would have given. A request that fails on a reused
 * connection before any byte of an answer (the server closed it while it sat idle) is sent
 * once more on a fresh connection, as curl does; GET is idempotent. Timeouts (connect,
 * per attempt, low speed) are checked every NET_LEAN_TICK_MS by one timer for all. */
#define NET_LEAN_TICK_MS 100u
#define NET_LEAN_RBUF (64u * 1024u)
#define NET_LEAN_PBUF (16u * 1024u)    /* one TLS record's plaintext */
#define NET_LEAN_DNS_TTL_MS 60000u     /* curl's default DNS cache lifetime */
#define NET_LEAN_KEEP_TLS_BUFFERS 256u /* connections up to which TLS buffers are kept */
#define NET_LEAN_TLS_OPENING 64u       /* TLS connections opening at once (lean_open_cap) */

enum { C_RESOLVE, C_WAIT, C_CONNECT, C_HANDSHAKE, C_READY };

struct lhost {
    lhost *next;
    net_engine *e;
    bool tls, numeric;
    char *auth;    /* authority as in the URL: the pool key */
    char *name;    /* host name or IP literal (no brackets) */
    char *hosthdr; /* Host: value, the default port left out as curl does */
    unsigned short port;
    struct sockaddr_storage *addrs;
    unsigned n_addrs;
    uint64_t resolved_ms;
    uv_getaddrinfo_t *gai; /* a resolution in progress */
    int gai_status;
    lconn *idle;       /* idle connections, most recently used first */
    SSL_SESSION *sess; /* to resume the next connection's TLS session */
    /* a TLS connection to it has answered (a session ticket, if the server gives them, has
     * come with it) or failed: the others no longer wait for the first (lean_open_cap) */
    bool warm;
};

struct lconn {
    uv_tcp_t tcp;
    net_engine *e;
    lhost *h;
    job *j;
    lconn *next, *prev; /* in e->ln.active (is_active) or h->idle (is_idle) */
    int phase;
    bool closing, writing, is_active, is_idle, tcp_init;
    bool opening; /* counted in e->ln.n_opening (TLS, connect to the end of the handshake) */
    lconn *wnext, *wprev;              /* in the wait list (phase C_WAIT) */
    unsigned ai;                       /* the address tried */
    unsigned served;                   /* complete responses on this connection */
    uint64_t t_open, t_io, t_deadline; /* uv_now ms: opened, last byte, attempt deadline */
    uv_connect_t creq;
    uv_write_t wreq;
    SSL *ssl;
    const char *in; /* received TLS bytes OpenSSL has not read yet (in the read buffer) */
    size_t in_len;
    char *tout; /* TLS records OpenSSL wrote, not yet handed to the socket */
    size_t tout_len, tout_cap;
    char *req;
    size_t req_len, req_cap;
    char *wout, *wq; /* bytes in an uv_write, and bytes queued behind it */
    size_t wout_len, wout_cap, wq_len, wq_cap;
    h1_parser hp;
};

static int buf_put(char **b, size_t *len, size_t *cap, const char *d, size_t n) {
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 512;
        while (c < *len + n)
            c *= 2;
        char *nb = realloc(*b, c);
        if (!nb)
            return -1;
        *b = nb;
        *cap = c;
    }
    memcpy(*b + *len, d, n);
    *len += n;
    return 0;
}

static void lean_set_err(job *j, const char *msg) {
    snprintf(j->errbuf, sizeof j->errbuf, "%s", msg);
}

/* Environment proxies are curl's business: with any set, everything goes through curl. */
static bool proxy_in_env(void) {
    static const char *const names[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                        "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return true;
    }
    return false;
}

/* scheme://authority/path: the parts the lean path needs, or false for a URL it leaves to
 * curl (userinfo, odd characters, no host). */
static bool lean_url(const char *u, lurl *o) {
    if (ascii_ncase_eq(u, "http://", 7)) {
        o->tls = false;
        o->auth = u + 7;
    } else if (ascii_ncase_eq(u, "https://", 8)) {
        o->tls = true;
        o->auth = u + 8;
    } else {
        return false;
    }
    o->auth_len = strcspn(o->auth, "/?#");
    if (o->auth_len == 0 || o->auth_len > 255 || memchr(o->auth, '@', o->auth_len))
        return false;
    const char *p = o->auth + o->auth_len;
    size_t n = strcspn(p, "#");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return false;
    for (size_t i = 0; i < o->auth_len; i++)
        if ((unsigned char)o->auth[i] <= 0x20 || o->auth[i] == 0x7f || o->auth[i] == '%')
            return false;
    o->path = p;
    o->path_len = n;
    return true;
}

static lhost *lean_host(net_engine *e, const lurl *u) {
    for (lhost *h = e->ln.hosts; h; h = h->next)
        if (h->tls == u->tls && strlen(h->auth) == u->auth_len &&
            memcmp(h->auth, u->auth, u->auth_len) == 0)
            return h;
    /* new: split host and port */
    const char *a = u->auth;
    size_t n = u->auth_len, hs = 0, he;
    const char *portp = NULL;
    if (a[0] == '[') {
        const char *rb = memchr(a, ']', n);
        if (!rb)
            return NULL;
        hs = 1;
        he = (size_t)(rb - a);
        if (he + 1 < n) {
            if (a[he + 1] != ':')
                return NULL;
            portp = a + he + 2;
        }
    } else {
        const char *c = memchr(a, ':', n);
        he = c ? (size_t)(c - a) : n;
        if (c)
            portp = c + 1;
    }
    unsigned port = u->tls ? 443 : 80;
    if (portp) {
        const char *end = a + n;
        if (portp == end)
            portp = NULL; /* "host:" is the default port */
        else {
            port = 0;
            for (const char *q = portp; q < end; q++) {
                if (*q < '0' || *q > '9' || port > 6553)
                    return NULL;
                port = port * 10 + (unsigned)(*q - '0');
            }
            if (port == 0 || port > 65535)
                return NULL;
        }
    }
    if (he <= hs || he - hs > 253)
        return NULL;
    lhost *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->e = e;
    h->tls = u->tls;
    h->port = (unsigned short)port;
    h->auth = malloc(n + 1);
    h->name = malloc(he - hs + 1);
    h->hosthdr = malloc(n + 1);
    if (!h->auth || !h->name || !h->hosthdr) {
        free(h->auth);
        free(h->name);
        free(h->hosthdr);
        free(h);
        return NULL;
    }
    memcpy(h->auth, a, n);
    h->auth[n] = '\0';
    memcpy(h->name, a + hs, he - hs);
    h->name[he - hs] = '\0';
    /* Host: as curl sends it (and as S3 signs it): the port only when not the default */
    size_t hl = portp && port != (u->tls ? 443u : 80u) ? n : (a[0] == '[' ? he + 1 : he);
    memcpy(h->hosthdr, a, hl);
    h->hosthdr[hl] = '\0';
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    if (uv_ip4_addr(h->name, (int)port, &s4) == 0 || uv_ip6_addr(h->name, (int)port, &s6) == 0) {
        h->addrs = calloc(1, sizeof *h->addrs);
        if (!h->addrs) {
            free(h->auth);
            free(h->name);
            free(h->hosthdr);
            free(h);
            return NULL;
        }
        if (uv_ip4_addr(h->name, (int)port, &s4) == 0)
            memcpy(h->addrs, &s4, sizeof s4);
        else
            memcpy(h->addrs, &s6, sizeof s6);
        h->n_addrs = 1;
        h->numeric = true;
    }
    h->next = e->ln.hosts;
    e->ln.hosts = h;
    return h;
}

static void lhost_free(lhost *h) {
    free(h->auth);
    free(h->name);
    free(h->hosthdr);
    free(h->addrs);
    if (h->sess)
        SSL_SESSION_free(h->sess);
    free(h);
}

/* TLS session tickets arrive after the handshake (TLS 1.3): keep the newest per host. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
    lconn *c = SSL_get_app_data(ssl);
    if (!c || !c->h)
        return 0;
    if (c->h->sess)
        SSL_SESSION_free(c->h->sess);
    c->h->sess = sess;
    return 1; /* we keep the reference */
}

/* The connections' BIO: reads come from the receive buffer (c->in), writes go to c->tout. */
static int lean_bio_write(BIO *b, const char *d, int n) {
    lconn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (n <= 0)
        return 0;
    return buf_put(&c->tout, &c->tout_len, &c->tout_cap, d, (size_t)n) ? -1 : n;
}
static int lean_bio_read(BIO *b, char *out, int n) {
    lconn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!c->in_len || n <= 0) {
        BIO_set_retry_read(b); /* nothing yet: "wait", not end of file */
        return -1;
    }
    size_t k = c->in_len < (size_t)n ? c->in_len : (size_t)n;
    memcpy(out, c->in, k);
    c->in += k;
    c->in_len -= k;
    return (int)k;
}
static long lean_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}
static int lean_bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static SSL_CTX *lean_ssl_ctx(net_engine *e) {
    if (e->ln.ssl || e->ln.ssl_failed)
        return e->ln.ssl;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    bool ok = ctx != NULL;
    if (ok && !e->ln.bio) {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "td-net");
        ok = m && BIO_meth_set_write(m, lean_bio_write) && BIO_meth_set_read(m, lean_bio_read) &&
             BIO_meth_set_ctrl(m, lean_bio_ctrl) && BIO_meth_set_create(m, lean_bio_create);
        if (!ok)
            BIO_meth_free(m);
        else
            e->ln.bio = m;
    }
    if (ok) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        /* the system store, plus ca_bundle: the same trust as the curl path */
        ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
        if (ok && e->ca_bundle)
            ok = SSL_CTX_load_verify_locations(ctx, e->ca_bundle, NULL) == 1;
        static const unsigned char alpn[] = "\x08http/1.1";
        if (ok)
            ok = SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) == 0;
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
        /* OpenSSL's ~35 KB of record buffers per connection: with many connections they go
         * back after each record (1000 connections: 21 MiB less peak RSS, ~10% more CPU per
         * https header); with few they stay (23% less CPU per https header at 64) */
        if (e->o.max_in_flight > NET_LEAN_KEEP_TLS_BUFFERS)
            SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    }
    if (!ok) {
        /* curl reports what is wrong with the CA file, per request: leave https to it */
        SSL_CTX_free(ctx);
        ERR_clear_error();
        e->ln.ssl_failed = true;
        return NULL;
    }
    e->ln.ssl = ctx;
    return ctx;
}

/* Can this attempt run on the lean path? */
static bool lean_eligible(net_engine *e, job *j, lurl *u) {
    net_request *r = j->req;
    if (!e->ln.on || r->body || r->body_len || (r->method && strcmp(r->method, "GET") != 0))
        return false;
    if (e->o.max_host_connections && e->o.max_host_connections < e->o.max_in_flight)
        return false;
    if (!lean_url(r->url, u))
        return false;
    if (u->tls && !lean_ssl_ctx(e))
        return false;
    for (struct curl_slist *l = j->hdrs; l; l = l->next) {
        const char *s = l->data, *c = strchr(s, ':');
        if (!c || c == s || strpbrk(s, "\r\n"))
            return false; /* curl's "Name;" form, or a header curl would refuse */
        const char *v = c + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!*v)
            return false; /* "Name:" removes one of curl's headers: curl's job */
        size_t nl = (size_t)(c - s);
        if ((nl == 10 && ascii_ncase_eq(s, "connection", 10)) ||
            (nl == 17 && ascii_ncase_eq(s, "transfer-encoding", 17)) ||
            (nl == 14 && ascii_ncase_eq(s, "content-length", 14)) ||
            (nl == 6 && ascii_ncase_eq(s, "expect", 6)))
            return false;
    }
    return true;
}

static bool hdr_overrides(const job *j, const char *name, size_t nl) {
    for (struct curl_slist *l = j->hdrs; l; l = l->next)
        if (ascii_ncase_eq(l->data, name, nl) && l->data[nl] == ':')
            return true;
    return false;
}

/* The request as curl would write it: request line, Host, User-Agent, Accept, then the
 * caller's lines (Range among them), which replace curl's of the same name. */
static int lean_build(net_engine *e, job *j, lconn *c, const lurl *u) {
    c->req_len = 0;
    char **b = &c->req;
    size_t *l = &c->req_len, *cp = &c->req_cap;
    int rc = buf_put(b, l, cp, "GET ", 4);
    if (u->path_len == 0 || u->path[0] != '/')
        rc |= buf_put(b, l, cp, "/", 1);
    rc |= buf_put(b, l, cp, u->path, u->path_len);
    rc |= buf_put(b, l, cp, " HTTP/1.1\r\n", 11);
    if (!hdr_overrides(j, "host", 4)) {
        rc |= buf_put(b, l, cp, "Host: ", 6);
        rc |= buf_put(b, l, cp, c->h->hosthdr, strlen(c->h->hosthdr));
        rc |= buf_put(b, l, cp, "\r\n", 2);
    }
    if (e->user_agent && !hdr_overrides(j, "user-agent", 10)) {
        rc |= buf_put(b, l, cp, "User-Agent: ", 12);
        rc |= buf_put(b, l, cp, e->user_agent, strlen(e->user_agent));
        rc |= buf_put(b, l, cp, "\r\n", 2);
    }
    if (!hdr_overrides(j, "accept", 6))
        rc |= buf_put(b, l, cp, "Accept: */*\r\n", 13);
    for (struct curl_slist *h = j->hdrs; h; h = h->next) {
        rc |= buf_put(b, l, cp, h->data, strlen(h->data));
        rc |= buf_put(b, l, cp, "\r\n", 2);
    }
    rc |= buf_put(b, l, cp, "\r\n", 2);
    return rc ? NET_E_NOMEM : NET_OK;
}

static void lean_list_add(lconn **head, lconn *c) {
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}
static void lean_list_del(lconn **head, lconn *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

static void on_lean_closed(uv_handle_t *hd) {
    lconn *c = (lconn *)hd;
    net_engine *e = c->e;
    if (c->ssl)
        SSL_free(c->ssl); /* frees the BIOs */
    h1_free(&c->hp);
    free(c->req);
    free(c->wout);
    free(c->wq);
    free(c->tout);
    bool counted = c->tcp_init; /* a connection closed before its connect (resolving, or
                                   waiting for its turn to open) had no handle to count */
    free(c);
    if (counted)
        e->open_handles--;
    engine_maybe_release(e);
}

static void lean_tick(uv_timer_t *t);

static void lean_set_active(net_engine *e, lconn *c, bool on) {
    if (on == c->is_active)
        return;
    c->is_active = on;
    if (on) {
        lean_list_add(&e->ln.active, c);
        if (e->ln.n_active++ == 0 && !e->ln.timer_on && !e->closing) {
            uv_timer_start(&e->ln.timer, lean_tick, NET_LEAN_TICK_MS, NET_LEAN_TICK_MS);
            e->ln.timer_on = true;
        }
    } else {
        lean_list_del(&e->ln.active, c);
        e->ln.n_active--;
    }
}

/* Opening TLS connections is gated: at most NET_LEAN_TLS_OPENING connect + handshakes at
 * once per engine, and to a host none has answered yet, one (the first). That first
 * connection brings the session ticket, so the others resume its session instead of 1,000
 * full handshakes at once, each parsing and verifying the certificate chain and holding
 * its own copy (at 1,000 in flight over https on loopback: peak RSS 124 -> ~103 MiB, and
 * the client's CPU for 20,000 headers 2.8 -> 1.6 s; the server saves its signatures too).
 * The cost on a real network is a ramp-up of about in-flight / NET_LEAN_TLS_OPENING
 * handshake round trips, once per run. */
static unsigned lean_open_cap(const lhost *h) { return h->warm ? NET_LEAN_TLS_OPENING : 1; }
static void lean_opening_done(net_engine *e, lconn *c) {
    if (c->opening) {
        c->opening = false;
        e->ln.n_opening--;
    }
}
static void lean_wait_del(net_engine *e, lconn *c) {
    if (c->phase != C_WAIT)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        e->ln.wait_head = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    else
        e->ln.wait_tail = c->wprev;
    c->wnext = c->wprev = NULL;
    c->phase = C_RESOLVE;
}

/* Closes a connection that runs no attempt (the job, if any, was taken off first). */
static void lean_close(net_engine *e, lconn *c) {
    if (c->closing)
        return;
    lean_wait_del(e, c);
    if (c->opening)
        c->h->warm = true; /* failed: the others need not wait for it */
    lean_opening_done(e, c);
    lean_set_active(e, c, false);
    if (c->is_idle) {
        /* the server closed it while it waited for a request */
        lean_list_del(&c->h->idle, c);
        c->is_idle = false;
    }
    c->closing = true;
    if (c->tcp_init) {
        uv_close((uv_handle_t *)&c->tcp, on_lean_closed);
    } else {
        on_lean_closed((uv_handle_t *)c);
    }
}

/* Ends the attempt on c: the connection goes back to its host's idle list when reuse says it
 * may carry another request, else it is closed; then the shared attempt_end. */
static void lean_end(lconn *c, CURLcode cc, bool reuse) {
    net_engine *e = c->e;
    job *j = c->j;
    c->j = NULL;
    if (j) {
        j->lc = NULL;
        e->active--;
        j->state = J_QUEUED; /* not running: detach must not remove it again */
        curl_slist_free_all(j->hdrs);
        j->hdrs = NULL;
    }
    if (c->phase == C_READY)
        c->h->warm = true;
    if (reuse && !e->closing && c->phase == C_READY && !c->writing) {
        lean_set_active(e, c, false);
        c->served++;
        lean_list_add(&c->h->idle, c);
        c->is_idle = true;
        uv_unref((uv_handle_t *)&c->tcp); /* an idle connection does not keep the loop up */
    } else {
        lean_close(e, c);
    }
    if (j)
        attempt_end(e, j, cc);
}

static int lean_open(net_engine *e, job *j, lhost *h, unsigned ai);

/* The connection failed (reset, EOF, write error). Before any byte of an answer on a
 * connection that had served requests, the attempt moves once to a fresh connection. */
static void lean_broken(lconn *c, int uverr, bool sending) {
    net_engine *e = c->e;
    job *j = c->j;
    if (!j) {
        lean_close(e, c);
        return;
    }
    if (c->served > 0 && !h1_started(&c->hp) && !j->lean_fresh) {
        j->lean_fresh = true;
        c->j = NULL;
        j->lc = NULL;
        lean_close(e, c);
        int rc = lean_open(e, j, c->h, 0);
        if (rc != NET_OK) {
            e->active--;
            j->state = J_QUEUED;
            curl_slist_free_all(j->hdrs);
            j->hdrs = NULL;
            lean_set_err(j, "out of memory");
            attempt_end(e, j, CURLE_OUT_OF_MEMORY);
        }
        return;
    }
    if (c->phase == C_HANDSHAKE) {
        /* cut by the network or refused by the server: retried, as curl's connect error */
        snprintf(j->errbuf, sizeof j->errbuf, "TLS handshake with %s:%u failed: %s", c->h->name,
                 c->h->port, uverr == UV_EOF ? "connection closed" : uv_strerror(uverr));
        lean_end(c, CURLE_SSL_CONNECT_ERROR, false);
        return;
    }
    if (uverr == UV_EOF && h1_started(&c->hp)) {
        int hr = h1_eof(&c->hp);
        if (hr == H1_DONE) {
            /* a body delimited by the close */
            if (!j->status_seen && !status_gate(j, c->hp.status)) {
                lean_end(c, CURLE_WRITE_ERROR, false);
                return;
            }
            lean_end(c, CURLE_OK, false);
            return;
        }
        lean_set_err(j, c->hp.headers_done ? "connection closed before the end of the body"
                                           : "connection closed inside the response headers");
        lean_end(c, c->hp.headers_done ? CURLE_PARTIAL_FILE : CURLE_RECV_ERROR, false);
        return;
    }
    if (uverr == UV_EOF && !h1_started(&c->hp)) {
        lean_set_err(j, "Empty reply from server");
        lean_end(c, CURLE_GOT_NOTHING, false);
        return;
    }
    snprintf(j->errbuf, sizeof j->errbuf, "%s failure: %s", sending ? "Send" : "Recv",
             uv_strerror(uverr));
    lean_end(c, sending ? CURLE_SEND_ERROR : CURLE_RECV_ERROR, false);
}

static void on_lean_written(uv_write_t *w, int status) {
    lconn *c = w->handle->data;
    net_engine *e = c->e;
    c->writing = false;
    c->wout_len = 0;
    if (c->closing)
        return;
    enter(e);
    if (status < 0) {
        lean_broken(c, status, true);
    } else if (c->wq_len) {
        char *t = c->wout;
        size_t tc = c->wout_cap;
        c->wout = c->wq;
        c->wout_cap = c->wq_cap;
        c->wout_len = c->wq_len;
        c->wq = t;
        c->wq_cap = tc;
        c->wq_len = 0;
        uv_buf_t b = uv_buf_init(c->wout, (unsigned)c->wout_len);
        int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_lean_written);
        if (rc)
            lean_broken(c, rc, true);
        else
            c->writing = true;
    }
    leave(e);
}

/* Writes now what the socket takes, the rest through uv_write. */
static int lean_write(lconn *c, const char *d, size_t n) {
    if (c->writing)
        return buf_put(&c->wq, &c->wq_len, &c->wq_cap, d, n) ? UV_ENOMEM : 0;
    uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == (int)n)
        return 0;
    if (w < 0 && w != UV_EAGAIN)
        return w;
    if (w < 0)
        w = 0;
    c->wout_len = 0;
    if (buf_put(&c->wout, &c->wout_len, &c->wout_cap, d + w, n - (size_t)w))
        return UV_ENOMEM;
    b = uv_buf_init(c->wout, (unsigned)c->wout_len);
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_lean_written);
    if (rc)
        return rc;
    c->writing = true;
    return 0;
}

/* Moves the TLS records OpenSSL wrote into the socket (lean_write keeps what the socket
 * does not take at once). */
static int lean_tls_flush(lconn *c) {
    if (!c->tout_len)
        return 0;
    size_t n = c->tout_len;
    c->tout_len = 0;
    return lean_write(c, c->tout, n);
}

/* ---- response ---- */

static int lean_on_line(void *ud, const char *line, size_t len) {
    lconn *c = ud;
    on_header((char *)line, 1, len, c->j);
    return 0;
}
static int lean_on_body(void *ud, const char *data, size_t len) {
    lconn *c = ud;
    job *j = c->j;
    if (!j->status_seen)
        j->req->http_status = c->hp.status;
    return on_write((char *)data, 1, len, j) != len;
}

static void lean_send(lconn *c) {
    job *j = c->j;
    int rc;
    h1_init(&c->hp, lean_on_line, lean_on_body, c, NET_MAX_HEAD, false);
    c->t_io = uv_now(c->e->loop);
    if (c->ssl) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, c->req, (int)c->req_len);
        if (w != (int)c->req_len) {
            lean_set_err(j, "TLS write failed");
            lean_end(c, CURLE_SEND_ERROR, false);
            return;
        }
        rc = lean_tls_flush(c);
    } else {
        rc = lean_write(c, c->req, c->req_len);
    }
    if (rc)
        lean_broken(c, rc, true);
}

/* Plaintext bytes of the response. Returns false when the attempt ended (c may be gone). */
static bool lean_feed(lconn *c, const char *d, size_t n) {
    job *j = c->j;
    size_t used = 0;
    if (!j) {
        lean_close(c->e, c); /* bytes nobody asked for */
        return false;
    }
    int hr = h1_feed(&c->hp, d, n, &used);
    switch (hr) {
    case H1_MORE:
        return true;
    case H1_DONE:
        if (!j->status_seen && !status_gate(j, c->hp.status)) {
            lean_end(c, CURLE_WRITE_ERROR, false);
            return false;
        }
        /* bytes after the response belong to nothing: not a connection to reuse */
        lean_end(c, CURLE_OK, c->hp.keep_alive && used == n);
        return false;
    case H1_E_STOP:
        if (j->stop == STOP_NONE)
            j->stop = STOP_ABORTED;
        lean_end(c, CURLE_WRITE_ERROR, false);
        return false;
    case H1_E_TOO_BIG: /* the heads (or the trailer) over NET_MAX_HEAD: as on curl's path */
        j->resp_started = true;
        j->stop = STOP_HEAD_TOO_BIG;
        lean_end(c, CURLE_WRITE_ERROR, false);
        return false;
    default:
        lean_set_err(j, c->hp.status ? "malformed HTTP response"
                                     : "not an HTTP/1.x response (HTTP/0.9?)");
        lean_end(c, CURLE_WEIRD_SERVER_REPLY, false);
        return false;
    }
}

static void lean_handshake(lconn *c);

static void lean_alloc(uv_handle_t *hd, size_t sug, uv_buf_t *b) {
    lconn *c = hd->data;
    (void)sug;
    *b = uv_buf_init(c->e->ln.rbuf, NET_LEAN_RBUF);
}

static void lean_read_tls_loop(lconn *c);
static void lean_read_tls(lconn *c, const char *d, size_t n) {
    c->in = d;
    c->in_len = n;
    if (c->phase == C_HANDSHAKE)
        lean_handshake(c);
    /* the rest of the input: records after the handshake's last, or the response */
    if (!c->closing && c->phase == C_READY)
        lean_read_tls_loop(c);
    c->in = NULL; /* the receive buffer is the engine's: nothing may point into it */
    c->in_len = 0;
}

static void lean_read_tls_loop(lconn *c) {
    for (;;) {
        ERR_clear_error();
        int k = SSL_read(c->ssl, c->e->ln.pbuf, NET_LEAN_PBUF);
        if (k > 0) {
            /* the attempt may end here: the loop goes on with what is left of the input
             * (a session ticket, or bytes nobody asked for, which close the connection) */
            lean_feed(c, c->e->ln.pbuf, (size_t)k);
            if (c->closing)
                return;
            continue;
        }
        int se = SSL_get_error(c->ssl, k);
        if (se == SSL_ERROR_WANT_READ) {
            /* TLS 1.3 may answer a key update: send what OpenSSL wrote */
            if (lean_tls_flush(c))
                lean_broken(c, UV_EPIPE, true);
            return;
        }
        if (se == SSL_ERROR_ZERO_RETURN) {
            lean_broken(c, UV_EOF, false); /* close_notify */
            return;
        }
        if (c->j)
            snprintf(c->j->errbuf, sizeof c->j->errbuf, "TLS read error: %s",
                     ERR_reason_error_string(ERR_peek_last_error())
                         ? ERR_reason_error_string(ERR_peek_last_error())
                         : "unknown");
        lean_broken(c, UV_EPROTO, false);
        return;
    }
}

static void on_lean_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    lconn *c = s->data;
    net_engine *e = c->e;
    if (nread == 0 || c->closing)
        return;
    enter(e);
    if (nread < 0) {
        lean_broken(c, (int)nread, false);
    } else {
        c->t_io = uv_now(e->loop);
        if (c->ssl)
            lean_read_tls(c, b->base, (size_t)nread);
        else
            lean_feed(c, b->base, (size_t)nread);
    }
    leave(e);
}

static void lean_handshake(lconn *c) {
    job *j = c->j;
    ERR_clear_error();
    int k = SSL_do_handshake(c->ssl);
    if (lean_tls_flush(c)) {
        lean_broken(c, UV_EPIPE, true);
        return;
    }
    if (k == 1) {
        c->phase = C_READY;
        lean_opening_done(c->e, c);
        if (SSL_session_reused(c->ssl))
            c->e->st.tls_resumed++;
        if (j)
            lean_send(c);
        else
            lean_close(c->e, c);
        return;
    }
    int se = SSL_get_error(c->ssl, k);
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
        return;
    if (!j) {
        lean_close(c->e, c);
        return;
    }
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
        /* final: asking again does not make a certificate trusted */
        snprintf(j->errbuf, sizeof j->errbuf, "SSL certificate problem: %s",
                 X509_verify_cert_error_string(vr));
        lean_end(c, CURLE_PEER_FAILED_VERIFICATION, false);
        return;
    }
    unsigned long ec = ERR_peek_last_error();
    snprintf(j->errbuf, sizeof j->errbuf, "TLS handshake with %s:%u failed: %s", c->h->name,
             c->h->port,
             ec && ERR_reason_error_string(ec) ? ERR_reason_error_string(ec) : "connection closed");
    lean_end(c, CURLE_SSL_CONNECT_ERROR, false);
}

static void on_lean_connect(uv_connect_t *cr, int status) {
    lconn *c = cr->data;
    net_engine *e = c->e;
    if (c->closing)
        return;
    enter(e);
    job *j = c->j;
    if (status < 0) {
        if (j && c->ai + 1 < c->h->n_addrs) {
            /* the next address of the name (IPv6 and IPv4, several A records) */
            unsigned ai = c->ai + 1;
            c->j = NULL;
            j->lc = NULL;
            lean_close(e, c);
            if (lean_open(e, j, c->h, ai) != NET_OK) {
                e->active--;
                j->state = J_QUEUED;
                curl_slist_free_all(j->hdrs);
                j->hdrs = NULL;
                attempt_end(e, j, CURLE_OUT_OF_MEMORY);
            }
        } else if (j) {
            snprintf(j->errbuf, sizeof j->errbuf, "Failed to connect to %s port %u: %s", c->h->name,
                     c->h->port, uv_strerror(status));
            lean_end(c, CURLE_COULDNT_CONNECT, false);
        } else {
            lean_close(e, c);
        }
        leave(e);
        return;
    }
    c->t_io = uv_now(e->loop);
    if (uv_read_start((uv_stream_t *)&c->tcp, lean_alloc, on_lean_read) != 0) {
        if (j)
            lean_broken(c, UV_EIO, false);
        else
            lean_close(e, c);
        leave(e);
        return;
    }
    if (c->h->tls) {
        c->phase = C_HANDSHAKE;
        c->ssl = SSL_new(e->ln.ssl);
        BIO *bio = c->ssl ? BIO_new(e->ln.bio) : NULL;
        if (!bio) {
            if (j) {
                lean_set_err(j, "out of memory");
                lean_end(c, CURLE_OUT_OF_MEMORY, false);
            } else
                lean_close(e, c);
            leave(e);
            return;
        }
        BIO_set_data(bio, c);
        SSL_set_bio(c->ssl, bio, bio); /* one BIO both ways: SSL_free frees it */
        SSL_set_app_data(c->ssl, c);
        SSL_set_connect_state(c->ssl);
        if (c->h->numeric) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->h->name);
        } else {
            SSL_set_tlsext_host_name(c->ssl, c->h->name);
            SSL_set1_host(c->ssl, c->h->name);
        }
        if (c->h->sess)
            SSL_set_session(c->ssl, c->h->sess);
        if (j)
            lean_handshake(c);
        else
            lean_close(e, c);
    } else {
        c->phase = C_READY;
        if (j)
            lean_send(c);
        else
            lean_close(e, c);
    }
    leave(e);
}

static void lean_connect(lconn *c) {
    net_engine *e = c->e;
    lhost *h = c->h;
    c->phase = C_CONNECT;
    if (uv_tcp_init(e->loop, &c->tcp) != 0) {
        lean_set_err(c->j, "could not create a socket");
        lean_end(c, CURLE_COULDNT_CONNECT, false);
        return;
    }
    c->tcp.data = c;
    c->tcp_init = true;
    e->open_handles++;
    e->st.connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&h->addrs[c->ai],
                            on_lean_connect);
    if (rc) {
        snprintf(c->j->errbuf, sizeof c->j->errbuf, "Failed to connect to %s port %u: %s", h->name,
                 h->port, uv_strerror(rc));
        lean_end(c, CURLE_COULDNT_CONNECT, false);
    }
}

/* lean_connect, or the wait list while the TLS gate is full (see lean_open_cap). */
static void lean_connect_or_wait(lconn *c) {
    net_engine *e = c->e;
    if (!c->h->tls) {
        lean_connect(c);
        return;
    }
    if (e->ln.wait_head || e->ln.n_opening >= lean_open_cap(c->h)) {
        c->phase = C_WAIT;
        c->wnext = NULL;
        c->wprev = e->ln.wait_tail;
        if (e->ln.wait_tail)
            e->ln.wait_tail->wnext = c;
        else
            e->ln.wait_head = c;
        e->ln.wait_tail = c;
        return;
    }
    c->opening = true;
    e->ln.n_opening++;
    lean_connect(c);
}

/* From the outermost engine entry: waiting connections whose turn has come. */
static void lean_gate_pump(net_engine *e) {
    while (e->ln.wait_head && !e->closing) {
        lconn *c = e->ln.wait_head;
        if (e->ln.n_opening >= lean_open_cap(c->h))
            break;
        lean_wait_del(e, c);
        c->opening = true;
        e->ln.n_opening++;
        /* the connect timeout and the stall clock count from the connect, not the wait
         * (1,000 connections at 64 a time over a slow link wait many round trips) */
        c->t_open = c->t_io = uv_now(e->loop);
        lean_connect(c);
    }
}

static void on_lean_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
    lhost *h = g->data;
    net_engine *e = h->e;
    free(g);
    h->gai = NULL;
    e->open_handles--;
    if (e->freed || e->closing) {
        uv_freeaddrinfo(res);
        engine_maybe_release(e);
        return;
    }
    enter(e);
    unsigned n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
            n++;
    free(h->addrs);
    h->addrs = n ? calloc(n, sizeof *h->addrs) : NULL;
    h->n_addrs = 0;
    for (struct addrinfo *a = res; a && h->addrs; a = a->ai_next)
        if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
            memcpy(&h->addrs[h->n_addrs++], a->ai_addr, a->ai_addrlen);
    uv_freeaddrinfo(res);
    h->resolved_ms = uv_now(e->loop);
    h->gai_status = status;
    /* every connection waiting for this name goes on (restart: callbacks change the list) */
    for (bool again = true; again;) {
        again = false;
        for (lconn *c = e->ln.active; c; c = c->next) {
            if (c->h != h || c->phase != C_RESOLVE || c->closing)
                continue;
            if (!c->j) {
                lean_close(e, c);
            } else if (h->n_addrs) {
                lean_connect_or_wait(c);
            } else {
                snprintf(c->j->errbuf, sizeof c->j->errbuf, "Could not resolve host: %s (%s)",
                         h->name, status ? uv_strerror(status) : "no address");
                lean_end(c, CURLE_COULDNT_RESOLVE_HOST, false);
            }
            again = true;
            break;
        }
    }
    leave(e);
}

/* A new connection for j (address ai of the host). */
static int lean_open(net_engine *e, job *j, lhost *h, unsigned ai) {
    lconn *c = calloc(1, sizeof *c);
    if (!c)
        return NET_E_NOMEM;
    c->e = e;
    c->h = h;
    c->j = j;
    c->ai = ai;
    c->phase = C_RESOLVE;
    c->t_open = c->t_io = uv_now(e->loop);
    j->lc = c;
    lurl u;
    lean_url(j->req->url, &u);
    if (lean_build(e, j, c, &u) != NET_OK) {
        j->lc = NULL;
        free(c->req);
        free(c);
        return NET_E_NOMEM;
    }
    lean_set_active(e, c, true);
    uint64_t now = uv_now(e->loop);
    bool fresh = h->numeric || (h->n_addrs && now - h->resolved_ms < NET_LEAN_DNS_TTL_MS);
    if (fresh) {
        lean_connect_or_wait(c);
        return NET_OK;
    }
    if (!h->gai) {
        uv_getaddrinfo_t *g = calloc(1, sizeof *g);
        if (!g) {
            lean_set_active(e, c, false);
            j->lc = NULL;
            free(c->req);
            free(c);
            return NET_E_NOMEM;
        }
        g->data = h;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        char port[8];
        snprintf(port, sizeof port, "%u", h->port);
        int rc = uv_getaddrinfo(e->loop, g, on_lean_resolved, h->name, port, &hints);
        if (rc) {
            free(g);
            snprintf(j->errbuf, sizeof j->errbuf, "Could not resolve host: %s (%s)", h->name,
                     uv_strerror(rc));
            lean_end(c, CURLE_COULDNT_RESOLVE_HOST, false);
            return NET_OK;
        }
        h->gai = g;
        e->open_handles++;
    }
    return NET_OK; /* waits in C_RESOLVE */
}

/* Starts the attempt on the lean path: an idle connection of the host, or a new one. */
static int lean_start(net_engine *e, job *j, const lurl *u) {
    lhost *h = lean_host(e, u);
    if (!h)
        return -1; /* not a host we can parse: curl's */
    j->lean = true;
    j->lean_fresh = false;
    j->state = J_RUNNING;
    e->active++;
    e->st.requests++;
    e->st.lean_requests++;
    j->lc = NULL;
    uint64_t now = uv_now(e->loop);
    uint64_t left = j->deadline_ms > now_ms() ? j->deadline_ms - now_ms() : 1;
    uint64_t tmo = e->o.request_timeout_ms ? e->o.request_timeout_ms : left;
    if (tmo > left)
        tmo = left;
    j->lean_t0 = now;
    j->lean_deadline = now + tmo;
    lconn *c = h->idle;
    if (c) {
        lean_list_del(&h->idle, c);
        c->is_idle = false;
        uv_ref((uv_handle_t *)&c->tcp);
        c->j = j;
        j->lc = c;
        if (lean_build(e, j, c, u) != NET_OK) {
            c->j = NULL;
            j->lc = NULL;
            lean_close(e, c);
            e->active--;
            e->st.requests--;
            e->st.lean_requests--;
            j->state = J_QUEUED;
            return NET_E_NOMEM;
        }
        lean_set_active(e, c, true);
        lean_send(c);
        return NET_OK;
    }
    int rc = lean_open(e, j, h, 0);
    if (rc != NET_OK) {
        e->active--;
        e->st.requests--;
        e->st.lean_requests--;
        j->state = J_QUEUED;
    }
    return rc;
}

/* The job leaves while its attempt runs (cancel, engine free): its connection is closed. */
static void lean_detach(net_engine *e, job *j) {
    lconn *c = j->lc;
    j->lc = NULL;
    e->active--;
    if (c) {
        c->j = NULL;
        lean_close(e, c);
    }
}

static void lean_tick(uv_timer_t *t) {
    net_engine *e = t->data;
    enter(e);
    uint64_t now = uv_now(e->loop);
    for (bool again = true; again && !e->closing;) {
        again = false;
        for (lconn *c = e->ln.active; c; c = c->next) {
            job *j = c->j;
            if (!j || c->closing)
                continue;
            /* the same words as curl's messages for the same cases */
            if (c->phase < C_READY && e->o.connect_timeout_ms &&
                now - c->t_open >= e->o.connect_timeout_ms)
                snprintf(j->errbuf, sizeof j->errbuf,
                         "Connection timed out after %llu milliseconds",
                         (unsigned long long)(now - c->t_open));
            else if (now >= j->lean_deadline)
                snprintf(j->errbuf, sizeof j->errbuf, "Operation timed out after %llu milliseconds",
                         (unsigned long long)(now - j->lean_t0));
            else if (e->o.low_speed_time_ms && now - c->t_io >= e->o.low_speed_time_ms)
                snprintf(
                    j->errbuf, sizeof j->errbuf,
                    "Operation too slow. Less than 1 bytes/sec transferred the last %u seconds",
                    (e->o.low_speed_time_ms + 999) / 1000);
            else
                continue;
            lean_end(c, CURLE_OPERATION_TIMEDOUT, false);
            again = true;
            break;
        }
    }
    if (e->ln.n_active == 0 && e->ln.timer_on) {
        uv_timer_stop(&e->ln.timer);
        e->ln.timer_on = false;
    }
    leave(e);
}

/* The lean path is on for NET_ENGINE_AUTO without a proxy in the environment. TD_NET_ENGINE
 * (curl or auto) overrides the option: a switch for tests and for a quick check in the field
 * without editing a config. */
static bool lean_wanted(const net_options *o) {
    const char *v = getenv("TD_NET_ENGINE");
    net_engine_kind k = o->engine;
    if (v && strcmp(v, "curl") == 0)
        k = NET_ENGINE_CURL;
    else if (v && strcmp(v, "auto") == 0)
        k = NET_ENGINE_AUTO;
    /* a proxy (options or environment) and allow_invalid_certificates are libcurl's job */
    return k == NET_ENGINE_AUTO && !proxy_in_env() && !o->proxy && !o->insecure_tls;
}

/* Engine memory of the lean path, once every handle is closed. */
static void lean_release(net_engine *e) {
    while (e->ln.hosts) {
        lhost *h = e->ln.hosts;
        e->ln.hosts = h->next;
        lhost_free(h);
    }
    if (e->ln.ssl)
        SSL_CTX_free(e->ln.ssl);
    e->ln.ssl = NULL;
    BIO_meth_free(e->ln.bio);
    e->ln.bio = NULL;
    free(e->ln.rbuf);
    free(e->ln.pbuf);
    e->ln.rbuf = e->ln.pbuf = NULL;
}

/* Closes every connection (the jobs are gone already). */
static void lean_free_all(net_engine *e) {
    for (lhost *h = e->ln.hosts; h; h = h->next) {
        while (h->idle)
            lean_close(e, h->idle);
        if (h->gai)
            uv_cancel((uv_req_t *)h->gai);
    }
    while (e->ln.active) {
        lconn *c = e->ln.active;
        c->j = NULL;
        lean_close(e, c);
    }
}

/* ---------- deferred work (cancels asked from inside curl callbacks, first pump) ---------- */

static void on_defer(uv_timer_t *t) {
    net_engine *e = t->data;
    enter(e);
    for (job *j = e->all; j && !e->closing && e->n_cancel_pending;) {
        job *nx = j->anext;
        if (j->deferred_cancel) {
            job_finish(e, j, NET_E_CANCELED); /* decrements n_cancel_pending */
            nx = e->all;                      /* the callback may have changed the list: restart */
        }
        j = nx;
    }
    leave(e);
}

static void kick(net_engine *e) {
    if (!e->closing && e->depth == 0)
        uv_timer_start(&e->defer_timer, on_defer, 0, 0);
}

/* ---------- public API ---------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int net_engine_new(net_engine **out, uv_loop_t *loop, const net_options *opts, char *err,
                   size_t errlen) {
    *out = NULL;
    if (!opts) {
        if (err && errlen)
            snprintf(err, errlen, "net: no options");
        return NET_E_CONFIG;
    }
    net_options o = *opts;
    if (o.max_in_flight == 0 || o.max_attempts == 0) {
        if (err && errlen)
            snprintf(err, errlen, "net: max_in_flight and max_attempts must be > 0");
        return NET_E_CONFIG;
    }
    if (o.ca_bundle) {
        /* libcurl would only say "problem with the SSL CA cert" at the first https request,
         * as a failed request per object: a wrong path is a configuration error, said once */
        struct stat sb;
        int serr = 0;
        if (stat(o.ca_bundle, &sb) != 0)
            serr = errno;
        else if (!S_ISREG(sb.st_mode))
            serr = EISDIR;
        else if (access(o.ca_bundle, R_OK) != 0)
            serr = errno;
        if (serr) {
            if (err && errlen)
                snprintf(err, errlen, "ca_bundle '%.*s' is not a readable CA file: %s",
                         ut_utf8_prec(o.ca_bundle, 200), o.ca_bundle,
                         serr == EISDIR ? "not a regular file" : strerror(serr));
            return NET_E_CONFIG;
        }
    }
    /* once per process, whichever thread's engine comes first (one engine per loop, any
     * number of loops in threads): curl_global_init itself is not thread-safe */
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        if (err && errlen)
            snprintf(err, errlen, "net: curl_global_init failed");
        return NET_E_NOMEM;
    }
    net_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NET_E_NOMEM;
    e->loop = loop;
    e->o = o;
    e->limit = o.max_in_flight;
    e->st.limit = e->st.min_limit = o.max_in_flight;
    e->o.ca_bundle = e->o.user_agent = NULL;
    if (o.ca_bundle && !(e->ca_bundle = strdup(o.ca_bundle)))
        goto nomem;
    if (o.user_agent && !(e->user_agent = strdup(o.user_agent)))
        goto nomem;
    e->o.proxy = e->o.proxy_ca = e->o.proxy_excludes = NULL;
    if ((o.proxy && !(e->proxy = strdup(o.proxy))) ||
        (o.proxy_ca && !(e->proxy_ca = strdup(o.proxy_ca))) ||
        (o.proxy_excludes && !(e->proxy_excludes = strdup(o.proxy_excludes))))
        goto nomem;
    if (!(e->pool = calloc(o.max_in_flight, sizeof *e->pool)))
        goto nomem;
    e->ln.on = lean_wanted(&o);
    if (e->ln.on &&
        (!(e->ln.rbuf = malloc(NET_LEAN_RBUF)) || !(e->ln.pbuf = malloc(NET_LEAN_PBUF))))
        goto nomem;
    /* max_in_flight >= 1, so this is at least 1; no more shards than connections allowed
     * per host, so that each shard gets at least one of them */
    e->n_shards = (o.max_in_flight + NET_SHARD_CONNS - 1) / NET_SHARD_CONNS;
    if (o.max_host_connections && e->n_shards > o.max_host_connections)
        e->n_shards = o.max_host_connections;
    if (!(e->shards = calloc(e->n_shards, sizeof *e->shards)))
        goto nomem;
    e->share = curl_share_init();
    if (!e->share)
        goto nomem;
    /* Each shard's multi pools its connections in its own cache; the share adds the DNS
     * cache and TLS sessions for all of them (one thread, so no lock callbacks). */
    curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    /* The cache size is split rounded up: a shard never runs more than its share of
     * max_in_flight (see attempt_start). The per-host limit is a promise to the server, so
     * it is split exactly: the shares add up to max_host_connections. */
    long maxconn = (long)((o.max_in_flight + e->n_shards - 1) / e->n_shards);
    for (unsigned i = 0; i < e->n_shards; i++) {
        net_shard *sh = &e->shards[i];
        sh->e = e;
        if (!(sh->multi = curl_multi_init()))
            goto nomem;
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
        curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, maxconn);
        if (o.max_host_connections) {
            long hostconn = (long)(o.max_host_connections / e->n_shards +
                                   (i < o.max_host_connections % e->n_shards));
            curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, hostconn);
        }
        curl_multi_setopt(sh->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    }
    for (unsigned i = 0; i < e->n_shards; i++) {
        uv_timer_init(loop, &e->shards[i].timer);
        e->shards[i].timer.data = &e->shards[i];
    }
    uv_timer_init(loop, &e->backoff_timer);
    uv_timer_init(loop, &e->defer_timer);
    e->backoff_timer.data = e->defer_timer.data = e;
    e->open_handles = 2 + e->n_shards;
    uv_timer_init(loop, &e->ln.timer);
    e->ln.timer.data = e;
    e->open_handles++;
    e->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)e) | 1u;
    *out = e;
    return NET_OK;
nomem:
    for (unsigned i = 0; e->shards && i < e->n_shards; i++)
        if (e->shards[i].multi)
            curl_multi_cleanup(e->shards[i].multi);
    free(e->shards);
    if (e->share)
        curl_share_cleanup(e->share);
    free(e->pool);
    free(e->ca_bundle);
    free(e->user_agent);
    free(e->proxy);
    free(e->proxy_ca);
    free(e->proxy_excludes);
    free(e->ln.rbuf);
    free(e->ln.pbuf);
    free(e);
    if (err && errlen)
        snprintf(err, errlen, "net: out of memory");
    return NET_E_NOMEM;
}

int net_start(net_engine *e, net_request *req) {
    if (!e || !req || !req->url || !req->cb)
        return NET_E_CONFIG;
    if (e->closing || e->free_pending)
        return NET_E_CANCELED;
    if (!req->buf && req->buf_cap)
        return NET_E_CONFIG;
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NET_E_NOMEM;
    j->e = e;
    j->req = req;
    j->start_ms = now_ms(); /* both set again when the request leaves the start queue */
    j->deadline_ms = UINT64_MAX;
    req->priv = j;
    req->attempts = 0;
    req->got = 0;
    req->http_status = 0;
    req->total_size = UINT64_MAX;
    req->errmsg[0] = '\0';
    req->resp_header_region[0] = '\0';
    j->anext = e->all;
    if (e->all)
        e->all->aprev = j;
    e->all = j;
    j->state = J_QUEUED;
    jl_push_tail(&e->start_q, j);
    /* Started from the loop (not here) so the callback never runs inside net_start. */
    kick(e);
    return NET_OK;
}

void net_cancel(net_engine *e, net_request *req) {
    if (!e || !req || !req->priv || e->freed)
        return;
    job *j = req->priv;
    if (j->e != e || j->state == J_DONE)
        return;
    if (j->cancel_requested)
        return;
    j->cancel_requested = true;
    if (j->in_user_cb)
        return; /* seen when that callback returns */
    if (e->in_curl) {
        /* inside a curl callback: the multi handle may not be touched now */
        e->n_cancel_pending++;
        j->deferred_cancel = true;
        uv_timer_start(&e->defer_timer, on_defer, 0, 0);
        return;
    }
    /* enter/leave: the callback may start requests, which leave() then pumps */
    enter(e);
    job_finish(e, j, NET_E_CANCELED);
    leave(e);
}

void net_cancel_all(net_engine *e) {
    if (!e || e->closing || e->freed)
        return;
    for (job *j = e->all; j; j = j->anext)
        j->doomed = true;
    if (e->depth > 0 || e->in_curl) {
        /* inside an engine callback: the multi handle may not be touched now; each doomed
         * job goes through net_cancel's deferred path */
        for (job *j = e->all; j; j = j->anext) {
            if (!j->doomed || j->cancel_requested)
                continue;
            j->cancel_requested = true;
            if (j->in_user_cb)
                continue;
            e->n_cancel_pending++;
            j->deferred_cancel = true;
        }
        uv_timer_start(&e->defer_timer, on_defer, 0, 0);
        return;
    }
    enter(e);
    /* callbacks may start requests (not doomed) or cancel others: restart from the head
     * after each; bounded by the jobs that existed at the call */
    for (;;) {
        job *j = e->all;
        while (j && !j->doomed)
            j = j->anext;
        if (!j || e->closing)
            break;
        job_finish(e, j, NET_E_CANCELED);
    }
    leave(e);
}

static void engine_really_free(net_engine *e) {
    e->free_pending = false;
    e->closing = true;
    e->depth++;
    while (e->all)
        job_finish(e, e->all, NET_E_CANCELED);
    e->depth--;
    for (unsigned i = 0; i < e->n_pool; i++)
        curl_easy_cleanup(e->pool[i].c);
    e->n_pool = 0;
    lean_free_all(e);
    for (unsigned i = 0; i < e->n_shards; i++) {
        curl_multi_cleanup(e->shards[i].multi); /* may report sockets removed */
        e->shards[i].multi = NULL;
    }
    curl_share_cleanup(e->share);
    e->share = NULL;
    /* what curl did not close: transient sockets, and owned ones whose fd is closed here */
    for (size_t i = 0; i < e->n_socks; i++)
        if (e->socks[i])
            sock_close(e, e->socks[i]);
    e->freed = true;
    for (unsigned i = 0; i < e->n_shards; i++) {
        e->shards[i].timer.data = e; /* no more curl timeouts: closed like the others */
        uv_close((uv_handle_t *)&e->shards[i].timer, on_handle_closed);
    }
    uv_close((uv_handle_t *)&e->backoff_timer, on_handle_closed);
    uv_close((uv_handle_t *)&e->defer_timer, on_handle_closed);
    uv_close((uv_handle_t *)&e->ln.timer, on_handle_closed);
}

void net_engine_free(net_engine *e) {
    if (!e || e->closing || e->freed)
        return;
    if (e->depth > 0 || e->in_curl) {
        e->free_pending = true;
        return;
    }
    engine_really_free(e);
}

void net_get_stats(const net_engine *e, net_stats *out) { *out = e->st; }
