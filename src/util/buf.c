/* buf.c - the capped growable buffer (see util.h). */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ut_wipe(void *p, size_t n) {
    /* through a volatile pointer so the stores are not optimised away before free */
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void ut_free_secret(char **p) {
    if (*p) {
        ut_wipe(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

static bool reserve(ut_buf *b, size_t extra) {
    size_t limit = b->limit ? b->limit : UT_BUF_DEFAULT_LIMIT;
    if (b->bad || extra > limit || b->len + extra > limit) {
        b->bad = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = malloc(cap);
    if (!p) {
        b->bad = true;
        return false;
    }
    /* copy rather than realloc so the old bytes (maybe a secret) can be wiped */
    if (b->p) {
        memcpy(p, b->p, b->len + 1);
        ut_wipe(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void ut_buf_put(ut_buf *b, const void *s, size_t n) {
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ut_buf_puts(ut_buf *b, const char *s) { ut_buf_put(b, s, strlen(s)); }

void ut_buf_putc(ut_buf *b, char c) { ut_buf_put(b, &c, 1); }

void ut_buf_printf(ut_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->bad = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        ut_buf_put(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ut_buf_reset(ut_buf *b) {
    b->len = 0;
    b->bad = false;
    if (b->p)
        b->p[0] = 0;
}

void ut_buf_free(ut_buf *b) {
    if (b->p) {
        ut_wipe(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
    b->bad = false;
}

const char *ut_buf_str(const ut_buf *b) { return b->p ? b->p : ""; }

char *ut_buf_take(ut_buf *b) {
    if (b->bad) {
        ut_buf_free(b);
        return NULL;
    }
    char *p = b->p;
    if (!p) {
        p = malloc(1);
        if (p)
            p[0] = 0;
    }
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
