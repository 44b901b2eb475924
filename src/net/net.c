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
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
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
    STOP_BAD_RANGE
} stop_reason;

typedef struct job job;
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

struct net_engine {
    uv_loop_t *loop;
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

static void enter(net_engine *e) { e->depth++; }
static void leave(net_engine *e) {
    if (e->depth == 1 && !e->free_pending && !e->closing)
        pump(e);
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
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st);
        r->http_status = st;
        j->status_seen = true;
        /* The server ignored Range and we wanted bytes further in: nothing useful comes. */
        if (r->has_range && st == 200 && r->range_offset != 0) {
            j->stop = STOP_IGNORED_RANGE;
            return 0;
        }
        if ((r->has_range || r->check_range) && st == 206) {
            j->range_checked = true;
            if (!range_matches(j)) {
                j->stop = STOP_BAD_RANGE;
                return 0;
            }
        }
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
    SET(CURLOPT_BUFFERSIZE, recv_buffer_for(r));
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
            cause_curl(j, "response headers too large: ", cc);
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

int net_engine_new(net_engine **out, uv_loop_t *loop, const net_options *opts, char *err,
                   size_t errlen) {
    static bool curl_ready;
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
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            if (err && errlen)
                snprintf(err, errlen, "net: curl_global_init failed");
            return NET_E_NOMEM;
        }
        curl_ready = true;
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
