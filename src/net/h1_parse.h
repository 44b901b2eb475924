/* h1_parse.h - incremental HTTP/1.1 response parser for the engine's lean transfer path.
 * Internal to src/net (net.c drives it; fuzz/fuzz_h1.c feeds it arbitrary bytes).
 *
 * Pure: no I/O; the only allocation is a buffer for a line split across feeds (h1_free).
 * Bytes go in as they arrive, in any split; complete header lines (status line included,
 * "\r\n" or "\n" ended) and body bytes come out through the callbacks. Interim 1xx
 * responses are skipped (their lines are still reported, and count toward
 * max_header_bytes). Body framing per RFC 9112 section 6.3: no body for 1xx/204/304 or a
 * HEAD, chunked when the last Transfer-Encoding is chunked, else Content-Length, else until
 * the connection closes.
 * Strict where a lenient reading could mis-frame a keep-alive connection: conflicting
 * Content-Lengths, obs-fold, a header line without a colon, bad chunk sizes are errors.
 */
#ifndef NET_H1_PARSE_H
#define NET_H1_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    H1_MORE = 0,       /* the response is not complete yet                          */
    H1_DONE = 1,       /* a complete final response; *used says how far the input went */
    H1_E_SYNTAX = -1,  /* not HTTP (no status line: HTTP/0.9) or malformed framing   */
    H1_E_TOO_BIG = -2, /* the header block (or a trailer) passed max_header_bytes    */
    H1_E_STOP = -3,    /* a callback asked to stop                                  */
};

/* A header line as received (with its line end), status lines included: return non-zero
 * to stop. Body bytes of the final response: return non-zero to stop. */
typedef int (*h1_line_cb)(void *ud, const char *line, size_t len);
typedef int (*h1_body_cb)(void *ud, const char *data, size_t len);

typedef struct h1_parser {
    /* set by the caller (h1_init) */
    h1_line_cb on_line;
    h1_body_cb on_body;
    void *ud;
    size_t max_header_bytes; /* per response: its interim heads and final head together,
                              * status lines included; the trailer has its own */
    bool head;               /* the request was a HEAD: no body whatever the headers */
    /* results, valid once headers_done */
    int status;              /* of the final response */
    int minor;               /* HTTP/1.minor */
    bool headers_done;       /* the final response's head is complete */
    bool keep_alive;         /* the connection may carry another request after H1_DONE */
    bool until_close;        /* body delimited by the connection closing */
    uint64_t content_length; /* UINT64_MAX if none */
    /* private */
    int st;
    bool started, chunked, close, ka, cl_seen, saw_te;
    uint64_t left;     /* body or chunk bytes still to come */
    size_t head_bytes; /* bytes of this response's heads (or trailer block) so far */
    char *hold;        /* a line split across feeds, kept until its end arrives */
    size_t hold_len, hold_cap;
} h1_parser;

/* Starts a response; keeps the hold buffer of an earlier use of p (h1_free frees it). p must
 * be zeroed (or h1_free'd) before its first h1_init. */
void h1_init(h1_parser *p, h1_line_cb on_line, h1_body_cb on_body, void *ud,
             size_t max_header_bytes, bool head);
void h1_free(h1_parser *p);
/* Feeds len bytes; *used is how many were consumed (all of them unless H1_DONE or an error).
 * Bytes after H1_DONE belong to no request (this client never pipelines). */
int h1_feed(h1_parser *p, const char *data, size_t len, size_t *used);
/* The connection closed: H1_DONE if that ends the body, else H1_E_SYNTAX (see h1_started
 * to tell "no answer at all" from a cut one). */
int h1_eof(h1_parser *p);
/* Any byte of a response received (the server answered). */
bool h1_started(const h1_parser *p);

#endif
