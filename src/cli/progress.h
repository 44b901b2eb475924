/* progress.h - what a person running `headers` sees on stderr.
 *
 * On a terminal, one live line redrawn in place 4 times a second ("\r", the line, then
 * erase to its end, as pv and curl do), never wider than the terminal (its width is read
 * with TIOCGWINSZ at every redraw, so a resized window is followed at the next one):
 *   - while the listing runs (the total is not known yet):
 *       [00:06] listed 100000  dumped 87120  failed 0  12852 headers/s  listing...
 *   - once the listing has ended (td_stats.listing_done), a bar of what is left to do
 *     (td_stats.to_do, which leaves out the keys skipped_done counts: resumed or another
 *     shard's):
 *       [00:06] [=======>   ] 87%  87120/100000  12.9k hdr/s  13.0k req/s  3.2 MB/s  ETA 00:01
 *   (hdr/s: headers, i.e. objects finished, per second). Fields that do not fit are
 *   dropped, least useful first (requests/s, MB/s, the counts, the elapsed time, the
 *   rates; the percentage goes last), and the bar takes the room that is left (at most
 *   60 columns; at least 10, or it is dropped). A narrowed window may leave the previous,
 *   longer line wrapped once; the next redraw is the right width.
 * Rates are averages over the last TD_PROGRESS_WINDOW_S seconds (a sliding window of
 * samples, so they follow a change within seconds and do not flicker); the ETA is what is
 * left divided by that headers/s rate. Units: k = 1000, M = 10^6; MB = 10^6 bytes.
 *
 * Otherwise (a log file, a pipe), one plain line every 5 s, e.g.
 *   tiff-dumper: 00:10 listed 100000, dumped 87120, failed 0, skipped 3, 8712 headers/s,
 *   8800 requests/s, 2.1 MB/s, 87% of 100000, ETA 00:02
 * (rates over the last 5 s, bytes in B/s, kB/s, MB/s or GB/s as they come)
 * ("listing" in place of the percentage and ETA until the total is known; retries
 * appended when there were any). --quiet shows nothing; --loud adds one line per failed
 * object (the live line is cleared, the line printed, the live line drawn again). The
 * final summary line is printed by td_progress_end in every mode but quiet. */
#ifndef TD_PROGRESS_H
#define TD_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"

typedef enum { TD_PROGRESS_QUIET, TD_PROGRESS_NORMAL, TD_PROGRESS_LOUD } td_progress_level;

#define TD_PROGRESS_WINDOW_S 5.0
#define TD_PROGRESS_SAMPLES 64 /* > window / period (5 s / 250 ms) */

/* One snapshot of the counters the rates are computed from. */
typedef struct td_progress_sample {
    double t;
    uint64_t done, requests, bytes;
} td_progress_sample;

/* What one line shows: the counters and the smoothed rates (per second). */
typedef struct td_progress_view {
    double elapsed_s;
    uint64_t listed, dumped, failed, skipped;
    bool total_known;
    uint64_t total; /* to do, when total_known */
    double headers_s, requests_s, bytes_s;
} td_progress_view;

typedef struct td_progress {
    td_progress_level level;
    FILE *out;
    bool tty;
    bool line_drawn; /* a live line is on screen and must be cleared before a log line */
    td_progress_sample samples[TD_PROGRESS_SAMPLES]; /* ring, oldest at head */
    size_t head, n;
    char line[1024]; /* the live line last drawn (redrawn after a --loud error line) */
} td_progress;

void td_progress_init(td_progress *p, td_progress_level level, FILE *out);
/* The period to ask the pipeline for: 250 ms on a terminal, 5 s otherwise, 0 when quiet. */
unsigned td_progress_period_ms(const td_progress *p);
/* td_progress_fn and td_error_fn for td_pipeline_options (ud = the td_progress). */
void td_progress_update(const td_stats *st, void *ud);
void td_progress_error(const char *path, const char *stage, const char *kind, const char *message,
                       void *ud);
/* Clears the live line and prints the final summary (unless quiet). */
void td_progress_end(td_progress *p, const td_stats *st, const char *out_dir, int rc);

/* The formatting, pure (for tests). Each writes a NUL-terminated ASCII text into buf. */
/* "00:42", "1:02:03" (hours), "99+ days"... */
void td_progress_clock(double s, char *buf, size_t len);
/* "ETA 00:42"; "ETA --:--" when it cannot be told (no rate yet, or more than 100 days). */
void td_progress_eta(uint64_t left, double per_s, char *buf, size_t len);
/* A count per second with unit: "950 hdr/s", "12.9k hdr/s", "3.2M req/s". */
void td_progress_rate(double v, const char *unit, char *buf, size_t len);
/* Bytes per second: "512 B/s", "3.4 kB/s", "12.0 MB/s", "1.1 GB/s" (decimal units). */
void td_progress_bytes_rate(double v, char *buf, size_t len);
/* The live line for a terminal `width` columns wide: at most width - 1 characters (the
 * last column is left alone: writing there makes some terminals wrap). Returns its length. */
size_t td_progress_line(const td_progress_view *v, unsigned width, char *buf, size_t len);
/* The view of a stats snapshot, with rates over the window of samples. */
void td_progress_view_of(const td_progress *p, const td_stats *st, td_progress_view *v);

#endif
