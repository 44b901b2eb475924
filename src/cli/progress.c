/* progress.c - progress display of `headers` (see progress.h). */
#include "progress.h"

#include "say.h"

#include <inttypes.h>
#include <unistd.h>

void td_progress_init(td_progress *p, td_progress_level level, FILE *out) {
    p->level = level;
    p->out = out;
    p->tty = isatty(fileno(out));
    p->line_drawn = false;
    p->last_t = 0;
    p->last_dumped = 0;
    p->rate = 0;
}

unsigned td_progress_period_ms(const td_progress *p) {
    if (p->level == TD_PROGRESS_QUIET)
        return 0;
    return p->tty ? 250u : 5000u;
}

static void clock_text(double s, char *buf, size_t len) {
    unsigned long t = (unsigned long)s;
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%02lu:%02lu", t / 60, t % 60);
}

void td_progress_update(const td_stats *st, void *ud) {
    td_progress *p = ud;
    if (p->level == TD_PROGRESS_QUIET)
        return;
    double dt = st->elapsed_s - p->last_t;
    if (dt > 0.05) {
        double inst = (double)(st->dumped + st->failed - p->last_dumped) / dt;
        /* smoothed so that the terminal line does not flicker; plain lines are 5 s apart
         * and show the rate over that interval */
        p->rate = (p->tty && p->last_t > 0) ? 0.7 * p->rate + 0.3 * inst : inst;
        p->last_t = st->elapsed_s;
        p->last_dumped = st->dumped + st->failed;
    }
    char el[32];
    clock_text(st->elapsed_s, el, sizeof el);
    if (p->tty) {
        /* kept well under 80 columns: a wrapped line cannot be redrawn with \r */
        td_say_raw(p->out,
                   "\r\033[K[%s] listed %" PRIu64 "  dumped %" PRIu64 "  failed %" PRIu64
                   "  %.0f headers/s",
                   el, st->listed, st->dumped, st->failed, p->rate);
        p->line_drawn = true;
    } else {
        td_say_raw(p->out,
                   "tiff-dumper: %s listed %" PRIu64 ", dumped %" PRIu64 ", failed %" PRIu64
                   ", skipped %" PRIu64 ", %.0f headers/s",
                   el, st->listed, st->dumped, st->failed, st->skipped, p->rate);
        /* in logs of long runs, a store that pushes back is worth seeing before the end */
        if (st->retries)
            td_say_raw(p->out, ", %" PRIu64 " retries (%" PRIu64 " throttled)", st->retries,
                       st->throttled);
        td_say_raw(p->out, "\n");
    }
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
    clear_line(p);
    /* path and message come from the store and the data: redacted, control characters
     * escaped (a key may hold ESC sequences or line breaks) */
    char cpath[1024], cmsg[1024];
    td_say_clean(cpath, sizeof cpath, path);
    td_say_clean(cmsg, sizeof cmsg, message);
    td_say(p->out, "tiff-dumper: %s failed (%s, %s): %s\n", cpath, stage, kind, cmsg);
}

void td_progress_end(td_progress *p, const td_stats *st, const char *out_dir, int rc) {
    clear_line(p);
    if (p->level == TD_PROGRESS_QUIET)
        return;
    char el[32];
    clock_text(st->elapsed_s, el, sizeof el);
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
}
