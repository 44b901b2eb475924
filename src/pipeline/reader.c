/* reader.c - the object reader (reader.h): prefetch, then the parser's rounds of ranges.
 *
 * States: idle -> first read -> (run parser -> [admit] -> round of reads)* -> done. Every
 * path to "done" goes through finish(), which calls the owner's callback once. */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

struct td_parser_pool {
    tiff_limits lim;
    tiff_parser **free; /* a stack: the last given back is the next taken */
    size_t n, cap;
};

struct td_reader {
    store *st;
    td_reader_options o;
    tiff_parser *parser; /* the current object's: from o.pool, or own (no pool) */
    unsigned parse_flags;
    uint8_t *prefetch;
    const char *key;
    uint64_t listed_size;
    td_reader_cb cb;
    void *ud;
    store_get_req first;
    /* follow-up requests of the current round and every follow-up buffer of the object
     * (kept until the next start or release: the parser does not copy what it is fed) */
    store_get_req *reqs;
    size_t cap_reqs, pending;
    uint8_t **bufs;
    size_t n_bufs, cap_bufs;
    unsigned rounds;
    int round_status;
    store_get_req *failed_req;
    td_read_result res;
};

static tiff_limits limits_for(uint64_t max_header_bytes) {
    tiff_limits lim = TIFF_LIMITS_INIT;
    lim.max_fetch_bytes = max_header_bytes ? max_header_bytes : TD_READER_DEFAULT_MAX_HEADER;
    return lim;
}

td_parser_pool *td_parser_pool_new(uint64_t max_header_bytes) {
    td_parser_pool *pp = calloc(1, sizeof *pp);
    if (pp)
        pp->lim = limits_for(max_header_bytes);
    return pp;
}

void td_parser_pool_free(td_parser_pool *pp) {
    if (!pp)
        return;
    for (size_t i = 0; i < pp->n; i++)
        tiff_parser_free(pp->free[i]);
    free(pp->free);
    free(pp);
}

int td_reader_new(td_reader **out, store *st, const td_reader_options *o) {
    *out = NULL;
    td_reader *r = calloc(1, sizeof *r);
    if (!r)
        return STORE_E_NOMEM;
    r->st = st;
    r->o = *o;
    if (!r->o.prefetch_bytes)
        r->o.prefetch_bytes = TD_READER_DEFAULT_PREFETCH;
    if (!r->o.max_header_bytes)
        r->o.max_header_bytes = TD_READER_DEFAULT_MAX_HEADER;
    if (!r->o.pool) {
        tiff_limits lim = limits_for(r->o.max_header_bytes);
        r->parser = tiff_parser_new(&lim);
    }
    r->prefetch = malloc(r->o.prefetch_bytes);
    if ((!r->o.pool && !r->parser) || !r->prefetch) {
        td_reader_free(r);
        return STORE_E_NOMEM;
    }
    *out = r;
    return 0;
}

/* The parser for the object being read, reset for it: the reader's own, or the pool's
 * warmest. NULL when out of memory. */
static tiff_parser *take_parser(td_reader *r) {
    td_parser_pool *pp = r->o.pool;
    if (pp && !r->parser)
        r->parser = pp->n ? pp->free[--pp->n] : tiff_parser_new(&pp->lim);
    if (r->parser) {
        tiff_parser_set_options(r->parser, r->parse_flags);
        tiff_parser_reset(r->parser, r->listed_size);
    }
    return r->parser;
}

void td_reader_release(td_reader *r) {
    for (size_t i = 0; i < r->n_bufs; i++)
        free(r->bufs[i]);
    r->n_bufs = 0;
    td_parser_pool *pp = r->o.pool;
    if (pp && r->parser) {
        if (pp->n == pp->cap) {
            size_t cap = pp->cap ? pp->cap * 2 : 16;
            tiff_parser **nf = realloc(pp->free, cap * sizeof *nf);
            if (!nf) { /* the pool cannot hold it: freed, the next take makes one */
                tiff_parser_free(r->parser);
                r->parser = NULL;
                return;
            }
            pp->free = nf;
            pp->cap = cap;
        }
        pp->free[pp->n++] = r->parser;
        r->parser = NULL;
    }
}

void td_reader_free(td_reader *r) {
    if (!r)
        return;
    td_reader_release(r);
    free(r->bufs);
    free(r->reqs);
    tiff_parser_free(r->parser); /* own (a pooled one went back to the pool) */
    free(r->prefetch);
    free(r);
}

void td_reader_set_parse_flags(td_reader *r, unsigned flags) { r->parse_flags = flags; }

const tiff_header *td_reader_header(const td_reader *r) {
    return r->parser ? tiff_parser_header(r->parser) : NULL;
}

const td_read_result *td_reader_result(const td_reader *r) { return &r->res; }

static void finish(td_reader *r, td_read_status status, int code, const char *message,
                   int http_status, unsigned attempts) {
    r->res.status = status;
    r->res.code = code;
    r->res.message = message;
    r->res.http_status = http_status;
    r->res.attempts = attempts;
    r->cb(r, &r->res, r->ud);
}

static void fetch_failed(td_reader *r, int code, store_get_req *q, int http_status,
                         unsigned attempts) {
    finish(r, TD_READ_FETCH, code, q->errmsg[0] ? q->errmsg : store_strerror(code), http_status,
           attempts);
}

/* requests: attempts, as the store counts them (a read retried twice made three) */
static void count(td_reader *r, const store_get_req *q) {
    r->res.requests += q->attempts ? q->attempts : 1;
    r->res.fetched_bytes += q->got;
}

static void fetch_round(td_reader *r);

/* Run the parser on what it has; finish, or go on to the next round. */
static void step(td_reader *r) {
    int rc = tiff_parser_run(r->parser);
    if (rc == TIFF_OK) {
        finish(r, TD_READ_OK, TIFF_OK, "", 0, 0);
        return;
    }
    if (rc != TIFF_NEED) {
        finish(r, TD_READ_PARSE, rc, tiff_parser_errmsg(r->parser), 0, 0);
        return;
    }
    if (r->o.max_rounds && r->rounds >= r->o.max_rounds) {
        finish(r, TD_READ_ROUNDS, TIFF_NEED, "too many request rounds", 0, 0);
        return;
    }
    r->rounds++;
    td_reader_resume(r);
}

void td_reader_resume(td_reader *r) {
    const tiff_range *need;
    size_t k = tiff_parser_needs(r->parser, &need);
    if (k == 0) {
        finish(r, TD_READ_PARSE, TIFF_E_USAGE, "parser needs bytes but named no range", 0, 0);
        return;
    }
    if (r->o.admit) {
        uint64_t total = 0;
        for (size_t i = 0; i < k; i++)
            total += need[i].length;
        td_reader_admit a = r->o.admit(r, total, r->ud);
        if (a == TD_READER_WAIT)
            return;
        if (a == TD_READER_STOP) {
            finish(r, TD_READ_STOPPED, 0, "", 0, 0);
            return;
        }
    }
    fetch_round(r);
}

static void first_cb(store_get_req *q, int status) {
    td_reader *r = q->data;
    if (status < 0) {
        fetch_failed(r, status, q, q->http_status, q->attempts);
        return;
    }
    count(r, q);
    if (!take_parser(r)) {
        finish(r, TD_READ_FETCH, STORE_E_NOMEM, "out of memory", 0, 0);
        return;
    }
    uint64_t size = q->object_size;
    if (size == UINT64_MAX && r->listed_size == UINT64_MAX && q->got < q->length)
        size = q->got; /* a short read ends the object, whose size nobody told */
    if (size != UINT64_MAX && size != r->listed_size)
        tiff_parser_set_size(r->parser, size); /* changed since listing, or not listed */
    if (size != UINT64_MAX)
        r->res.object_size = size;
    if (q->got)
        tiff_parser_feed(r->parser, 0, r->prefetch, (size_t)q->got);
    step(r);
}

void td_reader_start(td_reader *r, const char *key, uint64_t size, td_reader_cb cb, void *ud) {
    td_reader_release(r);
    memset(&r->res, 0, sizeof r->res);
    r->res.object_size = size;
    r->key = key;
    r->listed_size = size;
    r->cb = cb;
    r->ud = ud;
    r->rounds = 0;
    r->pending = 0;
    uint64_t len = r->o.prefetch_bytes;
    if (len > size)
        len = size;
    if (len == 0) {
        if (!take_parser(r))
            finish(r, TD_READ_FETCH, STORE_E_NOMEM, "out of memory", 0, 0);
        else
            step(r); /* an empty object: the parser says what is wrong with it */
        return;
    }
    memset(&r->first, 0, sizeof r->first);
    r->first.key = key;
    r->first.offset = 0;
    r->first.length = len;
    r->first.buf = r->prefetch;
    r->first.cb = first_cb;
    r->first.data = r;
    int rc = store_get(r->st, &r->first);
    if (rc < 0)
        fetch_failed(r, rc, &r->first, 0, 1);
}

static void round_done(td_reader *r) {
    if (r->round_status < 0) {
        store_get_req *f = r->failed_req;
        fetch_failed(r, r->round_status, f, f->http_status, f->attempts);
    } else {
        step(r);
    }
}

static void follow_cb(store_get_req *q, int status) {
    td_reader *r = q->data;
    r->pending--;
    if (status < 0) {
        if (r->round_status == 0) {
            r->round_status = status;
            r->failed_req = q;
        }
    } else {
        count(r, q);
        if (q->got)
            tiff_parser_feed(r->parser, q->offset, q->buf, (size_t)q->got);
    }
    if (r->pending == 0)
        round_done(r);
}

static void fetch_round(td_reader *r) {
    const tiff_range *need;
    size_t k = tiff_parser_needs(r->parser, &need);
    if (k > r->cap_reqs) {
        store_get_req *nr = realloc(r->reqs, k * sizeof *nr);
        if (!nr) {
            finish(r, TD_READ_FETCH, STORE_E_NOMEM, "out of memory", 0, 0);
            return;
        }
        r->reqs = nr;
        r->cap_reqs = k;
    }
    if (r->n_bufs + k > r->cap_bufs) {
        size_t cap = (r->n_bufs + k) * 2;
        uint8_t **nb = realloc(r->bufs, cap * sizeof *nb);
        if (!nb) {
            finish(r, TD_READ_FETCH, STORE_E_NOMEM, "out of memory", 0, 0);
            return;
        }
        r->bufs = nb;
        r->cap_bufs = cap;
    }
    /* The parser caps what it asks for (max_fetch_bytes), so these allocations are bounded
     * per object. */
    for (size_t i = 0; i < k; i++) {
        uint8_t *b = malloc(need[i].length ? (size_t)need[i].length : 1);
        if (!b) {
            finish(r, TD_READ_FETCH, STORE_E_NOMEM, "out of memory", 0, 0);
            return;
        }
        r->bufs[r->n_bufs++] = b;
        store_get_req *q = &r->reqs[i];
        memset(q, 0, sizeof *q);
        q->key = r->key;
        q->offset = need[i].offset;
        q->length = need[i].length;
        q->buf = b;
        /* the size the first read told (or the listing, if it did not): a follow-up
         * answered for an object of another size is a protocol error, not bytes to parse.
         * The first read is not held to the listed size: the object may have changed since
         * it was listed, which the parser handles. */
        q->known_size = r->res.object_size;
        q->cb = follow_cb;
        q->data = r;
    }
    r->round_status = 0;
    r->failed_req = NULL;
    /* pending counts the whole round before any start, so that a callback that ran early
     * (none does today, but a store may) cannot see zero while ranges are still to start */
    r->pending = k + 1;
    for (size_t i = 0; i < k; i++) {
        int rc = store_get(r->st, &r->reqs[i]);
        if (rc < 0) {
            r->pending--;
            if (r->round_status == 0) {
                r->round_status = rc;
                r->failed_req = &r->reqs[i];
            }
        }
    }
    /* every range started (or refused synchronously: no callback comes for those) */
    if (--r->pending == 0)
        round_done(r);
}
