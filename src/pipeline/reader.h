/* reader.h - one object's TIFF header, read over store_get: the whole contract.
 *
 * A reader is a small state machine: one prefetch read from offset 0, then rounds of the
 * ranges the parser names (the ranges of a round in parallel) until the parser has the
 * header or fails, or the store fails. It infers the object's size (the store's answer, or
 * a short first read when nobody knew the size), holds the parser to max_header_bytes, and
 * counts requests and bytes. All state lives in the td_reader; it runs on the loop of the
 * store it was given and is used from that loop's thread only, so several event loops can
 * each run their own readers. A reader is reused object after object (td_reader_start).
 *
 * Used by the pipeline's fetch slots and by `tiff-dumper info` alike.
 */
#ifndef TD_READER_H
#define TD_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "tiff.h"

/* The defaults of fetch.prefetch_bytes and fetch.max_header_bytes (docs/config.md). */
#define TD_READER_DEFAULT_PREFETCH 16384u
#define TD_READER_DEFAULT_MAX_HEADER (16u << 20)

typedef struct td_reader td_reader;

/* Parsers shared by the readers of one loop thread. A reader takes one when its first bytes
 * come and gives it back at td_reader_release, last in first out: with 1,000 objects in
 * flight, a parser per reader made every header start on ~10 KB of parser state (struct,
 * value arena, image records) that 999 others had pushed out of the cache; the pool keeps as
 * many parsers as headers are being parsed or written at once, and hands out the warmest
 * (issue 12). Not thread-safe: one pool per loop. */
typedef struct td_parser_pool td_parser_pool;
/* max_header_bytes: as td_reader_options (0 = the default); every reader using the pool must
 * have the same. NULL when out of memory. */
td_parser_pool *td_parser_pool_new(uint64_t max_header_bytes);
/* Only once no reader holds one of its parsers (after td_reader_free of all of them). */
void td_parser_pool_free(td_parser_pool *pp);

/* What the owner says before a follow-up round of `need` bytes (all ranges together). */
typedef enum {
    TD_READER_GO,   /* fetch now */
    TD_READER_WAIT, /* not now: the owner calls td_reader_resume later (or starts anew) */
    TD_READER_STOP, /* give up: the reader completes with TD_READ_STOPPED */
} td_reader_admit;

typedef struct td_reader_options {
    uint64_t prefetch_bytes;   /* first read; 0 = TD_READER_DEFAULT_PREFETCH */
    uint64_t max_header_bytes; /* 0 = TD_READER_DEFAULT_MAX_HEADER */
    unsigned max_rounds;       /* follow-up rounds per object; 0 = no cap (the budget caps) */
    /* optional: asked before each follow-up round (e.g. to share a memory budget) */
    td_reader_admit (*admit)(td_reader *r, uint64_t need, void *ud);
    /* optional: where the reader takes its parser from; NULL = a parser of its own */
    td_parser_pool *pool;
} td_reader_options;

typedef enum {
    TD_READ_OK,      /* header ready: td_reader_header */
    TD_READ_FETCH,   /* the store failed: code is a store_code */
    TD_READ_PARSE,   /* not a readable TIFF header: code is a tiff code (tiff_err_name) */
    TD_READ_ROUNDS,  /* more than max_rounds follow-up rounds */
    TD_READ_STOPPED, /* admit said TD_READER_STOP */
} td_read_status;

/* The outcome (status, code, message, http_status, attempts) is set when the callback runs;
 * the size and counters are kept current while reading. */
typedef struct td_read_result {
    td_read_status status;
    int code;
    const char *message;  /* for failures; valid until td_reader_release or the next start */
    int http_status;      /* of the failed request, 0 = none */
    unsigned attempts;    /* of the failed request */
    uint64_t object_size; /* UINT64_MAX = unknown */
    uint64_t requests, fetched_bytes;
} td_read_result;

typedef void (*td_reader_cb)(td_reader *r, const td_read_result *res, void *ud);

/* The store's loop is the reader's loop. Returns 0 or STORE_E_NOMEM. */
int td_reader_new(td_reader **out, store *st, const td_reader_options *o);
/* The parser's options (tiff_parser_set_options: TIFF_OPT_FIRST_IFD), for every object
 * from the next start on; 0 (the default) = every IFD and the COG verdict. */
void td_reader_set_parse_flags(td_reader *r, unsigned flags);
/* Only when nothing is in flight (after the callback, or before any start). */
void td_reader_free(td_reader *r);

/* Reads key's header. size: the object's size if known (e.g. listed), else UINT64_MAX. cb
 * runs exactly once per start, on the loop thread, possibly before this returns (an empty
 * object, a request the store refuses at once). Starting again drops the previous object's
 * header and buffers; only when no callback is pending. */
void td_reader_start(td_reader *r, const char *key, uint64_t size, td_reader_cb cb, void *ud);
/* After admit said TD_READER_WAIT: ask admit again (it may say GO, WAIT or STOP). */
void td_reader_resume(td_reader *r);

/* After TD_READ_OK; valid until td_reader_release or the next start. */
const tiff_header *td_reader_header(const td_reader *r);
/* The current object's outcome and counters so far. */
const td_read_result *td_reader_result(const td_reader *r);
/* Frees the follow-up buffers early and gives a pooled parser back (the header and a parse
 * failure's message are no longer valid). */
void td_reader_release(td_reader *r);

#endif
