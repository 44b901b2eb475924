/* say.c - redacted, escaped, EPIPE-tolerant output for people (see say.h). */
#include "say.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Broken streams: the tool writes to stdout and stderr only. */
static bool broken_out, broken_err;

static bool *broken_flag(FILE *f) { return f == stdout ? &broken_out : &broken_err; }

bool td_say_broken(FILE *f) { return *broken_flag(f); }

void td_say_init(void) {
    /* A standard descriptor closed by the caller (`2>&-`, a daemon's closed stdout) would be
     * the number the next open() returns: a part file or one of libuv's own descriptors
     * would become "stderr", messages would land in a Parquet file, and libuv aborts when it
     * closes a descriptor <= 2. Each closed one is held by /dev/null instead, before
     * anything else is opened. */
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd >= 0 && nfd != fd) { /* a lower one was closed too and got it: move it */
            dup2(nfd, fd);
            close(nfd);
        }
        if (fd == 1)
            broken_out = true;
        else if (fd == 2)
            broken_err = true;
    }
    /* The default action of SIGPIPE kills the process in the middle of a dump (exit 141,
     * temporary part files left behind) when `| head` or a log reader goes away; ignored,
     * the write fails with EPIPE and the run goes on. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

bool td_say_write(FILE *f, const void *s, size_t n) {
    bool *b = broken_flag(f);
    if (*b)
        return false;
    if (n && fwrite(s, 1, n, f) != n) {
        *b = true;
        clearerr(f);
        return false;
    }
    return true;
}

bool td_say_flush(FILE *f) {
    bool *b = broken_flag(f);
    if (*b)
        return false;
    if (fflush(f) != 0) {
        *b = true;
        clearerr(f);
        return false;
    }
    return true;
}

/* Formats into a buffer (messages are short; a longer one is cut). */
static size_t vformat(char *buf, size_t len, const char *fmt, va_list ap) {
    int n = vsnprintf(buf, len, fmt, ap);
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}

/* Redacted, then escaped; line breaks kept when keep_lines. */
static void clean(ut_buf *out, const char *s, size_t n, bool keep_lines) {
    ut_buf r = {0};
    r.limit = 2 * n + 64;
    ut_redact_url(&r, s, n);
    const char *t = ut_buf_str(&r);
    size_t tl = r.bad ? 0 : r.len, from = 0;
    for (size_t i = 0; i <= tl; i++) {
        if (i == tl || (keep_lines && t[i] == '\n')) {
            ut_escape_ctl(out, t + from, i - from);
            if (i < tl)
                ut_buf_putc(out, '\n');
            from = i + 1;
        }
    }
    ut_buf_free(&r);
}

bool td_say(FILE *f, const char *fmt, ...) {
    if (td_say_broken(f))
        return false;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ut_buf out = {0};
    out.limit = 8 * sizeof buf;
    clean(&out, buf, n, true);
    bool ok = td_say_write(f, ut_buf_str(&out), out.len);
    ut_buf_free(&out);
    return ok && td_say_flush(f);
}

bool td_say_raw(FILE *f, const char *fmt, ...) {
    if (td_say_broken(f))
        return false;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return td_say_write(f, buf, n);
}

void td_say_clean(char *dst, size_t dstlen, const char *s) {
    if (!dstlen)
        return;
    ut_buf out = {0};
    out.limit = 8 * dstlen + 64;
    clean(&out, s, strlen(s), false);
    size_t n = out.bad ? 0 : out.len;
    const char *t = ut_buf_str(&out);
    if (n >= dstlen) { /* cut on a character boundary */
        n = dstlen - 1;
        while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, t, n);
    dst[n] = 0;
    ut_buf_free(&out);
}
