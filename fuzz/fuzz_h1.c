/* fuzz_h1.c - libFuzzer target for the lean HTTP path's response parser (src/net/h1_parse.c).
 *
 * The input's first byte picks the options (a HEAD request, how the rest is split into
 * feeds, the header limit), the rest is what a server sends. The bytes are parsed twice,
 * all in one feed and in small pieces; both must give the same transcript (lines, body, end
 * state, where the response ended), since a recv can cut a response anywhere. Invariants:
 * a body framed by Content-Length is exactly that long when the parser says done, a head
 * over the limit is refused, and nothing is read past the end. ASan/UBSan catch the rest.
 */
#include "h1_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    unsigned char *lines, *body;
    size_t lines_len, body_len;
    int end, status;
    size_t consumed;
    bool keep_alive, started;
} transcript;

static void put(unsigned char **b, size_t *len, const void *d, size_t n) {
    unsigned char *nb = realloc(*b, *len + n + 1);
    if (!nb)
        abort();
    memcpy(nb + *len, d, n);
    *b = nb;
    *len += n;
}

static int on_line(void *ud, const char *line, size_t len) {
    transcript *t = ud;
    if (len == 0 || line[len - 1] != '\n')
        abort(); /* lines come whole */
    put(&t->lines, &t->lines_len, line, len);
    return 0;
}
static int on_body(void *ud, const char *d, size_t len) {
    transcript *t = ud;
    if (len == 0)
        abort(); /* no empty body calls */
    put(&t->body, &t->body_len, d, len);
    return 0;
}

static void run(const uint8_t *d, size_t n, size_t piece, bool head, size_t max_head,
                transcript *t) {
    h1_parser p;
    memset(&p, 0, sizeof p);
    h1_init(&p, on_line, on_body, t, max_head, head);
    size_t off = 0;
    int rc = H1_MORE;
    while (off < n && rc == H1_MORE) {
        size_t k = n - off < piece ? n - off : piece;
        size_t used = 0;
        rc = h1_feed(&p, (const char *)d + off, k, &used);
        if (used > k || (rc == H1_MORE && used != k))
            abort();
        off += used;
    }
    if (rc == H1_MORE)
        rc = h1_eof(&p) == H1_DONE ? 2 : H1_MORE;
    t->end = rc;
    t->consumed = off;
    t->status = p.status;
    t->keep_alive = rc == H1_DONE && p.keep_alive;
    t->started = h1_started(&p);
    if (rc == H1_DONE || rc == 2) {
        if (p.status < 200 || p.status > 599)
            abort();
        if (!head && !p.until_close && p.content_length != UINT64_MAX && p.status != 204 &&
            p.status != 304 && t->body_len != p.content_length)
            abort();
        if (p.keep_alive && p.until_close)
            abort();
    }
    if (rc == H1_E_TOO_BIG && t->lines_len > max_head)
        abort();
    h1_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    bool head = flags & 1;
    size_t piece = 1 + ((flags >> 1) & 7) * 3; /* 1 to 22 bytes per feed */
    size_t max_head = flags & 0x10 ? 256 : 8192;
    data++;
    size--;
    transcript a = {0}, b = {0};
    run(data, size, size ? size : 1, head, max_head, &a);
    run(data, size, piece, head, max_head, &b);
    /* one feed and many must agree; the one-feed run may stop at an error sooner only in
     * where it says it stopped, never in what it reported */
    if (a.end != b.end || a.status != b.status || a.keep_alive != b.keep_alive ||
        a.lines_len != b.lines_len || a.body_len != b.body_len ||
        (a.lines_len && memcmp(a.lines, b.lines, a.lines_len)) ||
        (a.body_len && memcmp(a.body, b.body, a.body_len)) ||
        (a.end == H1_DONE && a.consumed != b.consumed)) {
        fprintf(stderr,
                "one feed: end %d status %d lines %zu body %zu; pieces of %zu: end %d "
                "status %d lines %zu body %zu\n",
                a.end, a.status, a.lines_len, a.body_len, piece, b.end, b.status, b.lines_len,
                b.body_len);
        abort();
    }
    free(a.lines);
    free(a.body);
    free(b.lines);
    free(b.body);
    return 0;
}
