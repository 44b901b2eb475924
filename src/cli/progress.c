/* progress.c - progress display of `headers` (see progress.h). */
#include "progress.h"

#include "say.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void td_progress_init(td_progress *p, td_progress_level level, FILE *out) {
    memset(p, 0, sizeof *p);
    p->level = level;
    p->out = out;
    p->tty = isatty(fileno(out));
    /* the run starts from zero at t = 0: the first rates are the rates since the start */
    p->n = 1;
}

unsigned td_progress_period_ms(const td_progress *p) {
    if (p->level == TD_PROGRESS_QUIET)
        return 0;
    return p->tty ? 250u : 5000u;
}

/* ------------------------------------------------------------------ formatting */

void td_progress_clock(double s, char *buf, size_t len) {
    if (!(s >= 0))
        s = 0;
    if (s >= 100.0 * 86400) {
        snprintf(buf, len, "99+ days");
        return;
    }
    unsigned long t = (unsigned long)s;
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%02lu:%02lu", t / 60, t % 60);
}

void td_progress_eta(uint64_t left, double per_s, char *buf, size_t len) {
    if (left == 0) {
        snprintf(buf, len, "ETA 00:00");
        return;
    }
    double s = per_s > 0 ? (double)left / per_s : -1;
    if (!(s >= 0) || s >= 100.0 * 86400) {
        snprintf(buf, len, "ETA --:--");
        return;
    }
    /* rounded up: "00:00" only once nothing is left */
    double up = (double)(uint64_t)s;
    if (up < s)
        up += 1;
    char c[32];
    td_progress_clock(up, c, sizeof c);
    snprintf(buf, len, "ETA %s", c);
}

/* v scaled to 3 significant digits at most, with a decimal prefix. */
static void scaled(double v, char *buf, size_t len, const char *sep, const char *unit,
                   const char *const pfx[4]) {
    if (!(v >= 0))
        v = 0;
    int i = 0;
    while (i < 3 && v >= 999.5) {
        v /= 1000;
        i++;
    }
    if (i == 0)
        snprintf(buf, len, "%.0f%s%s%s", v, sep, pfx[0], unit);
    else
        snprintf(buf, len, v < 99.95 ? "%.1f%s%s%s" : "%.0f%s%s%s", v, sep, pfx[i], unit);
}

void td_progress_rate(double v, const char *unit, char *buf, size_t len) {
    static const char *const pfx[4] = {" ", "k ", "M ", "G "};
    scaled(v, buf, len, "", unit, pfx);
}

void td_progress_bytes_rate(double v, char *buf, size_t len) {
    static const char *const pfx[4] = {"", "k", "M", "G"};
    scaled(v, buf, len, " ", "B/s", pfx);
}

/* A field of the live line: its text, the spaces before it (when not first), and its
 * rank (0 kept first). The bar is the one field of flexible width. */
typedef struct field {
    char text[48];
    unsigned sep, rank, minw;
    bool bar, on;
} field;

static size_t line_width(const field *f, size_t n, const bool *on, const size_t *w) {
    size_t total = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!on[i])
            continue;
        total += w[i] + (first ? 0 : f[i].sep);
        first = false;
    }
    return total;
}

static void add(field *f, size_t *n, unsigned sep, unsigned rank, const char *fmt, ...)
    TD_SAY_FMT(5, 6);
static void add(field *f, size_t *n, unsigned sep, unsigned rank, const char *fmt, ...) {
    field *x = &f[(*n)++];
    memset(x, 0, sizeof *x);
    x->sep = sep;
    x->rank = rank;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->text, sizeof x->text, fmt, ap);
    va_end(ap);
}

size_t td_progress_line(const td_progress_view *v, unsigned width, char *buf, size_t len) {
    enum { MAXF = 10, BAR_MIN = 10 };
    field f[MAXF];
    size_t n = 0;
    char t[32], r[32];
    td_progress_clock(v->elapsed_s, t, sizeof t);
    uint64_t done = v->dumped + v->failed;
    uint64_t total = v->total > done ? v->total : done;
    size_t bar_i = MAXF;
    double frac = 0;
    if (v->total_known) {
        frac = total ? (double)done / (double)total : 1.0;
        add(f, &n, 0, 5, "[%s]", t);
        bar_i = n;
        add(f, &n, 1, 2, "%s", "");
        f[bar_i].bar = true;
        f[bar_i].minw = BAR_MIN;
        /* floor: 100% only when everything is done */
        add(f, &n, 1, 0, "%u%%", (unsigned)(frac * 100));
        add(f, &n, 2, 6, "%" PRIu64 "/%" PRIu64, done, total);
        if (v->failed)
            add(f, &n, 2, 4, "failed %" PRIu64, v->failed);
        td_progress_rate(v->headers_s, "hdr/s", r, sizeof r);
        add(f, &n, 2, 3, "%s", r);
        td_progress_rate(v->requests_s, "req/s", r, sizeof r);
        add(f, &n, 2, 8, "%s", r);
        td_progress_bytes_rate(v->bytes_s, r, sizeof r);
        add(f, &n, 2, 7, "%s", r);
        td_progress_eta(total - done, v->headers_s, r, sizeof r);
        add(f, &n, 2, 1, "%s", r);
    } else {
        add(f, &n, 0, 3, "[%s]", t);
        add(f, &n, 2, 2, "listed %" PRIu64, v->listed);
        add(f, &n, 2, 1, "dumped %" PRIu64, v->dumped);
        add(f, &n, 2, v->failed ? 2 : 5, "failed %" PRIu64, v->failed);
        td_progress_rate(v->headers_s, "headers/s", r, sizeof r);
        add(f, &n, 2, 4, "%s", r);
        add(f, &n, 2, 0, "listing...");
    }
    size_t w[MAXF];
    bool on[MAXF] = {false};
    for (size_t i = 0; i < n; i++)
        w[i] = f[i].bar ? f[i].minw : strlen(f[i].text);
    /* one column short of the width: a character in the last column makes some terminals
     * wrap, and a wrapped line can no longer be redrawn with \r */
    size_t avail = width > 1 ? width - 1 : 0;
    unsigned max_rank = 0;
    for (size_t i = 0; i < n; i++)
        max_rank = f[i].rank > max_rank ? f[i].rank : max_rank;
    for (unsigned rank = 0; rank <= max_rank; rank++)
        for (size_t i = 0; i < n; i++) {
            if (f[i].rank != rank)
                continue;
            on[i] = true;
            if (line_width(f, n, on, w) > avail)
                on[i] = false;
        }
    if (bar_i < n && on[bar_i]) /* the bar takes what is left, up to 60 columns */
        for (size_t used = line_width(f, n, on, w); used < avail && w[bar_i] < 60; used++)
            w[bar_i]++;
    size_t o = 0;
    bool first = true;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < n && o + 1 < len; i++) {
        if (!on[i])
            continue;
        for (unsigned s = first ? 0 : f[i].sep; s > 0 && o + 1 < len; s--)
            buf[o++] = ' ';
        first = false;
        if (f[i].bar) {
            size_t inner = w[i] - 2, fill = (size_t)(frac * (double)inner);
            for (size_t k = 0; k < w[i] && o + 1 < len; k++) {
                char c = ' ';
                if (k == 0)
                    c = '[';
                else if (k == w[i] - 1)
                    c = ']';
                else if (k - 1 < fill)
                    c = '=';
                else if (k - 1 == fill && fill < inner)
                    c = '>';
                buf[o++] = c;
            }
        } else {
            for (const char *c = f[i].text; *c && o + 1 < len; c++)
                buf[o++] = *c;
        }
    }
    buf[o] = '\0';
    return o;
}

/* ------------------------------------------------------------------ rates */

static void push_sample(td_progress *p, const td_stats *st) {
    td_progress_sample s = {st->elapsed_s, st->dumped + st->failed, st->requests,
                            st->bytes_fetched};
    if (p->n == TD_PROGRESS_SAMPLES) {
        p->head = (p->head + 1) % TD_PROGRESS_SAMPLES;
        p->n--;
    }
    p->samples[(p->head + p->n) % TD_PROGRESS_SAMPLES] = s;
    p->n++;
    /* keep one sample at or before the start of the window: the rates span the window */
    while (p->n > 2 &&
           p->samples[(p->head + 1) % TD_PROGRESS_SAMPLES].t <= s.t - TD_PROGRESS_WINDOW_S) {
        p->head = (p->head + 1) % TD_PROGRESS_SAMPLES;
        p->n--;
    }
}

static double per_s(uint64_t a, uint64_t b, double dt) {
    return b > a && dt > 0 ? (double)(b - a) / dt : 0.0;
}

void td_progress_view_of(const td_progress *p, const td_stats *st, td_progress_view *v) {
    memset(v, 0, sizeof *v);
    v->elapsed_s = st->elapsed_s;
    v->listed = st->listed;
    v->dumped = st->dumped;
    v->failed = st->failed;
    v->skipped = st->skipped;
    v->total_known = st->listing_done;
    v->total = st->to_do;
    /* from the newest sample at least a window old (or the oldest kept) to now */
    const td_progress_sample *a = &p->samples[p->head];
    for (size_t i = 1; i < p->n; i++) {
        const td_progress_sample *b = &p->samples[(p->head + i) % TD_PROGRESS_SAMPLES];
        if (b->t > st->elapsed_s - TD_PROGRESS_WINDOW_S)
            break;
        a = b;
    }
    double dt = st->elapsed_s - a->t;
    v->headers_s = per_s(a->done, st->dumped + st->failed, dt);
    v->requests_s = per_s(a->requests, st->requests, dt);
    v->bytes_s = per_s(a->bytes, st->bytes_fetched, dt);
}

/* ------------------------------------------------------------------ output */

static unsigned term_width(FILE *out) {
    /* read at every redraw (an ioctl, 4 times a second): a resized window is followed
     * without a SIGWINCH handler */
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long n = c ? strtol(c, NULL, 10) : 0;
    return n > 0 && n < 10000 ? (unsigned)n : 80;
}

static void draw(td_progress *p) {
    /* numbers only (no data): written raw; erase after the text so that it never blinks */
    td_say_raw(p->out, "\r%s\033[K", p->line);
    p->line_drawn = true;
    td_say_flush(p->out);
}

void td_progress_update(const td_stats *st, void *ud) {
    td_progress *p = ud;
    if (p->level == TD_PROGRESS_QUIET)
        return;
    td_progress_view v;
    td_progress_view_of(p, st, &v);
    push_sample(p, st);
    if (p->tty) {
        td_progress_line(&v, term_width(p->out), p->line, sizeof p->line);
        draw(p);
        return;
    }
    char el[32], mbs[32];
    td_progress_clock(st->elapsed_s, el, sizeof el);
    td_progress_bytes_rate(v.bytes_s, mbs, sizeof mbs);
    td_say_raw(p->out,
               "tiff-dumper: %s listed %" PRIu64 ", dumped %" PRIu64 ", failed %" PRIu64
               ", skipped %" PRIu64 ", %.0f headers/s, %.0f requests/s, %s",
               el, st->listed, st->dumped, st->failed, st->skipped, v.headers_s, v.requests_s, mbs);
    if (v.total_known) {
        uint64_t done = v.dumped + v.failed, total = v.total > done ? v.total : done;
        char eta[48];
        td_progress_eta(total - done, v.headers_s, eta, sizeof eta);
        td_say_raw(p->out, ", %u%% of %" PRIu64 ", %s",
                   (unsigned)(total ? (double)done * 100 / (double)total : 100), total, eta);
    } else {
        td_say_raw(p->out, ", listing");
    }
    /* in logs of long runs, a store that pushes back is worth seeing before the end */
    if (st->retries)
        td_say_raw(p->out, ", %" PRIu64 " retries (%" PRIu64 " throttled)", st->retries,
                   st->throttled);
    td_say_raw(p->out, "\n");
    td_say_flush(p->out);
}

static void clear_line(td_progress *p) {
    if (p->line_drawn) {
        td_say_raw(p->out, "\r\033[K");
        p->line_drawn = false;
    }
}

void td_progress_error(const char *path, const char *stage, const char *kind, const char *message,
                       void *ud) {
    td_progress *p = ud;
    if (p->level != TD_PROGRESS_LOUD)
        return;
    bool redraw = p->line_drawn;
    clear_line(p);
    /* path and message come from the store and the data: redacted, control characters
     * escaped (a key may hold ESC sequences or line breaks) */
    char cpath[1024], cmsg[1024];
    td_say_clean(cpath, sizeof cpath, path);
    td_say_clean(cmsg, sizeof cmsg, message);
    td_say(p->out, "tiff-dumper: %s failed (%s, %s): %s\n", cpath, stage, kind, cmsg);
    if (redraw) /* the bar stays under the error lines, as it was */
        draw(p);
}

void td_progress_end(td_progress *p, const td_stats *st, const char *out_dir, int rc) {
    clear_line(p);
    if (p->level == TD_PROGRESS_QUIET)
        return;
    char el[32];
    td_progress_clock(st->elapsed_s, el, sizeof el);
    td_say_raw(p->out,
               "tiff-dumper: %s %" PRIu64 " headers dumped, %" PRIu64 " failed, %" PRIu64
               " skipped (%" PRIu64 " listed) in %s (%.3f s, %.0f headers/s), %" PRIu64
               " requests, %" PRIu64 " bytes fetched",
               rc == 0 ? "done:" : "stopped:", st->dumped, st->failed, st->skipped, st->listed, el,
               st->elapsed_s, st->elapsed_s > 0 ? (double)st->dumped / st->elapsed_s : 0.0,
               st->requests, st->bytes_fetched);
    if (st->retries)
        td_say_raw(p->out, ", %" PRIu64 " retries (%" PRIu64 " throttled, concurrency down to %u)",
                   st->retries, st->throttled, st->lowest_concurrency);
    td_say(p->out, " -> %s\n", out_dir);
    if (p->level == TD_PROGRESS_LOUD && st->threads) /* the default follows the CPUs */
        td_say(p->out, "tiff-dumper: %u fetch thread%s (concurrency.threads)\n", st->threads,
               st->threads == 1 ? "" : "s");
}
