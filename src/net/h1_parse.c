/* h1_parse.c - incremental HTTP/1.1 response parser (see h1_parse.h). */
#include "h1_parse.h"

#include <stdlib.h>
#include <string.h>

enum {
    S_STATUS,
    S_HEADER,
    S_BODY_CL,
    S_BODY_CLOSE,
    S_CHUNK_SIZE,
    S_CHUNK_DATA,
    S_CHUNK_END,
    S_TRAILER,
    S_DONE
};

/* A chunk-size line carries at most 16 hex digits and extensions nobody sends: 4 KiB is
 * far more than any server needs and bounds what a hostile one can make us hold. */
#define H1_CHUNK_LINE_MAX 4096u

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static bool ieq(const char *a, size_t alen, const char *b) {
    size_t n = strlen(b);
    if (alen != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != b[i])
            return false;
    return true;
}

static void head_reset(h1_parser *p) {
    p->st = S_STATUS;
    p->status = 0;
    p->minor = 0;
    p->headers_done = false;
    p->keep_alive = false;
    p->until_close = false;
    p->content_length = UINT64_MAX;
    p->chunked = p->close = p->ka = p->cl_seen = p->saw_te = false;
    p->left = 0;
    p->hold_len = 0;
}

void h1_init(h1_parser *p, h1_line_cb on_line, h1_body_cb on_body, void *ud,
             size_t max_header_bytes, bool head) {
    p->on_line = on_line;
    p->on_body = on_body;
    p->ud = ud;
    p->max_header_bytes = max_header_bytes;
    p->head = head;
    p->started = false;
    p->head_bytes = 0;
    head_reset(p);
}

void h1_free(h1_parser *p) {
    free(p->hold);
    p->hold = NULL;
    p->hold_len = p->hold_cap = 0;
}

bool h1_started(const h1_parser *p) { return p->started; }

static int hold_append(h1_parser *p, const char *d, size_t n, size_t limit) {
    if (n > limit || p->hold_len > limit - n)
        return H1_E_TOO_BIG;
    if (p->hold_len + n > p->hold_cap) {
        size_t cap = p->hold_cap ? p->hold_cap : 256;
        while (cap < p->hold_len + n)
            cap *= 2;
        char *h = realloc(p->hold, cap);
        if (!h)
            return H1_E_TOO_BIG; /* no memory for a line this long: refuse it like a long one */
        p->hold = h;
        p->hold_cap = cap;
    }
    memcpy(p->hold + p->hold_len, d, n);
    p->hold_len += n;
    return 0;
}

/* Takes one line from data[*i..len): 1 with line and n set (line end included), 0 when the
 * input ran out first (the part is held), or an error. limit bounds the line's length. */
static int take_line(h1_parser *p, const char *d, size_t len, size_t *i, const char **line,
                     size_t *n, size_t limit) {
    const char *s = d + *i;
    size_t avail = len - *i;
    const char *nl = memchr(s, '\n', avail);
    if (!nl) {
        int rc = hold_append(p, s, avail, limit);
        if (rc)
            return rc;
        *i = len;
        return 0;
    }
    size_t m = (size_t)(nl - s) + 1;
    *i += m;
    if (!p->hold_len) {
        if (m > limit)
            return H1_E_TOO_BIG;
        *line = s;
        *n = m;
        return 1;
    }
    int rc = hold_append(p, s, m, limit);
    if (rc)
        return rc;
    *line = p->hold;
    *n = p->hold_len;
    p->hold_len = 0; /* the caller uses it before the next take_line */
    return 1;
}

/* Length without the line end ("\r\n" or "\n"). */
static size_t content_len(const char *l, size_t n) {
    if (n && l[n - 1] == '\n')
        n--;
    if (n && l[n - 1] == '\r')
        n--;
    return n;
}

static bool parse_dec(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "HTTP/1.x SSS[ reason]" */
static int status_line(h1_parser *p, const char *l, size_t n) {
    n = content_len(l, n);
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ')
        return H1_E_SYNTAX;
    int st = 0;
    for (int k = 9; k < 12; k++) {
        if (l[k] < '0' || l[k] > '9')
            return H1_E_SYNTAX;
        st = st * 10 + (l[k] - '0');
    }
    if (st < 100 || st > 599 || (n > 12 && l[12] != ' '))
        return H1_E_SYNTAX;
    p->status = st;
    p->minor = l[7] - '0';
    return 0;
}

/* Does a comma-separated token list contain tok (any case)? *last says whether it was the
 * final element. */
static bool list_has(const char *v, size_t n, const char *tok, bool *last) {
    bool found = false;
    size_t i = 0;
    if (last)
        *last = false;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e == s)
            continue;
        bool m = ieq(v + s, e - s, tok);
        found |= m;
        if (last)
            *last = m;
    }
    return found;
}

static int header_line(h1_parser *p, const char *l, size_t n) {
    size_t c = content_len(l, n);
    if (l[0] == ' ' || l[0] == '\t')
        return H1_E_SYNTAX; /* obs-fold: RFC 9112 5.2 lets a client reject it */
    const char *colon = memchr(l, ':', c);
    if (!colon || colon == l)
        return H1_E_SYNTAX;
    size_t nlen = (size_t)(colon - l);
    for (size_t k = 0; k < nlen; k++)
        if (l[k] == ' ' || l[k] == '\t' || (unsigned char)l[k] < 0x21 || l[k] == 0x7f)
            return H1_E_SYNTAX; /* no whitespace before the colon (RFC 9112 5.1) */
    const char *v = colon + 1, *end = l + c;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (ieq(l, nlen, "content-length")) {
        uint64_t cl;
        if (!parse_dec(v, vlen, &cl))
            return H1_E_SYNTAX;
        if (p->cl_seen && cl != p->content_length)
            return H1_E_SYNTAX; /* which one frames the body? neither can be trusted */
        p->cl_seen = true;
        p->content_length = cl;
    } else if (ieq(l, nlen, "transfer-encoding")) {
        bool last;
        p->saw_te = true;
        list_has(v, vlen, "chunked", &last);
        p->chunked = last; /* chunked only counts as the final coding */
    } else if (ieq(l, nlen, "connection")) {
        if (list_has(v, vlen, "close", NULL))
            p->close = true;
        if (list_has(v, vlen, "keep-alive", NULL))
            p->ka = true;
    }
    return 0;
}

/* The head is complete: an interim response starts over, a final one picks its framing.
 * Interim heads stay counted in head_bytes: the limit is on the whole response's head, so a
 * server sending 1xx heads without end is stopped, not followed. */
static int head_end(h1_parser *p) {
    if (p->status < 200) {
        if (p->status == 101)
            return H1_E_SYNTAX; /* no upgrade was asked for */
        head_reset(p);
        return 0;
    }
    p->headers_done = true;
    if (p->head || p->status == 204 || p->status == 304) {
        p->st = S_DONE;
    } else if (p->saw_te) {
        /* Transfer-Encoding wins over Content-Length (RFC 9112 6.3) */
        p->content_length = UINT64_MAX;
        p->st = p->chunked ? S_CHUNK_SIZE : S_BODY_CLOSE;
    } else if (p->cl_seen) {
        p->left = p->content_length;
        p->st = p->left ? S_BODY_CL : S_DONE;
    } else {
        p->st = S_BODY_CLOSE;
    }
    p->until_close = p->st == S_BODY_CLOSE;
    p->keep_alive =
        !p->close && (p->minor >= 1 || p->ka) && !p->until_close && !(p->saw_te && p->cl_seen);
    return 0;
}

/* "HEX[ext]" */
static int chunk_size_line(h1_parser *p, const char *l, size_t n) {
    size_t c = content_len(l, n), k = 0;
    uint64_t v = 0;
    for (; k < c; k++) {
        int ch = lower((unsigned char)l[k]), d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else
            break;
        if (v >> 60)
            return H1_E_SYNTAX; /* more than 64 bits */
        v = v * 16 + (uint64_t)d;
    }
    if (k == 0)
        return H1_E_SYNTAX;
    while (k < c && (l[k] == ' ' || l[k] == '\t'))
        k++;
    if (k < c && l[k] != ';')
        return H1_E_SYNTAX;
    p->left = v;
    if (v == 0) {
        p->st = S_TRAILER;
        p->head_bytes = 0;
    } else {
        p->st = S_CHUNK_DATA;
    }
    return 0;
}

int h1_feed(h1_parser *p, const char *d, size_t len, size_t *used) {
    size_t i = 0;
    int rc = 0;
    if (len)
        p->started = true;
    while (i < len && p->st != S_DONE) {
        const char *l = NULL;
        size_t n = 0;
        switch (p->st) {
        case S_STATUS:
        case S_HEADER:
        case S_TRAILER: {
            size_t room =
                p->max_header_bytes > p->head_bytes ? p->max_header_bytes - p->head_bytes : 0;
            if (p->st == S_STATUS && room < 5) {
                /* interim heads left no room for "HTTP/": too big, whatever the bytes are,
                 * so that the verdict does not depend on where the feeds split them */
                rc = H1_E_TOO_BIG;
                goto out;
            }
            if (p->st == S_STATUS && p->hold_len < 5) {
                /* a server that is not speaking HTTP is told apart before its line ends
                 * (an HTTP/0.9 answer has no line to end), whatever the feeds' sizes */
                char pre[5];
                size_t m = p->hold_len, add = len - i < 5 - m ? len - i : 5 - m;
                if (m)
                    memcpy(pre, p->hold, m);
                memcpy(pre + m, d + i, add);
                if (memcmp(pre, "HTTP/", m + add) != 0) {
                    rc = H1_E_SYNTAX;
                    goto out;
                }
            }
            rc = take_line(p, d, len, &i, &l, &n, room);
            if (rc < 0)
                goto out;
            if (rc == 0)
                break;
            p->head_bytes += n;
            if (p->st == S_STATUS) {
                rc = status_line(p, l, n);
                if (rc < 0)
                    goto out;
                if (p->on_line && p->on_line(p->ud, l, n)) {
                    rc = H1_E_STOP;
                    goto out;
                }
                p->st = S_HEADER;
            } else if (content_len(l, n) == 0) {
                if (p->st == S_TRAILER) {
                    p->st = S_DONE;
                } else {
                    rc = head_end(p);
                    if (rc < 0)
                        goto out;
                }
            } else {
                if (p->st == S_HEADER) {
                    rc = header_line(p, l, n);
                    if (rc < 0)
                        goto out;
                    if (p->on_line && p->on_line(p->ud, l, n)) {
                        rc = H1_E_STOP;
                        goto out;
                    }
                } else if (l[0] == ' ' || l[0] == '\t' || !memchr(l, ':', n)) {
                    rc = H1_E_SYNTAX; /* trailers are header fields too; they are ignored */
                    goto out;
                }
            }
            rc = 0;
            break;
        }
        case S_CHUNK_SIZE:
            rc = take_line(p, d, len, &i, &l, &n, H1_CHUNK_LINE_MAX);
            if (rc < 0) {
                rc = H1_E_SYNTAX;
                goto out;
            }
            if (rc == 1 && (rc = chunk_size_line(p, l, n)) < 0)
                goto out;
            rc = 0;
            break;
        case S_CHUNK_END:
            /* the CRLF after a chunk's data: nothing else may stand there */
            rc = take_line(p, d, len, &i, &l, &n, 2);
            if (rc < 0 || (rc == 1 && content_len(l, n) != 0)) {
                rc = H1_E_SYNTAX;
                goto out;
            }
            if (rc == 1)
                p->st = S_CHUNK_SIZE;
            rc = 0;
            break;
        case S_BODY_CL:
        case S_CHUNK_DATA:
        case S_BODY_CLOSE: {
            size_t avail = len - i;
            size_t take =
                p->st == S_BODY_CLOSE || (uint64_t)avail < p->left ? avail : (size_t)p->left;
            if (p->on_body && take && p->on_body(p->ud, d + i, take)) {
                i += take;
                rc = H1_E_STOP;
                goto out;
            }
            i += take;
            if (p->st != S_BODY_CLOSE) {
                p->left -= take;
                if (p->left == 0)
                    p->st = p->st == S_BODY_CL ? S_DONE : S_CHUNK_END;
            }
            break;
        }
        }
    }
out:
    *used = i;
    if (rc < 0)
        return rc;
    return p->st == S_DONE ? H1_DONE : H1_MORE;
}

int h1_eof(h1_parser *p) {
    if (p->st == S_BODY_CLOSE) {
        p->st = S_DONE;
        return H1_DONE;
    }
    return p->st == S_DONE ? H1_DONE : H1_E_SYNTAX;
}
