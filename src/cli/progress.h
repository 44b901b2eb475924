/* progress.h - what a person running `headers` sees on stderr: a live one-line display on
 * a terminal (redrawn about 4 times a second), plain log lines every few seconds otherwise,
 * nothing with --quiet; --loud adds one line per failed object. */
#ifndef TD_PROGRESS_H
#define TD_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"

typedef enum { TD_PROGRESS_QUIET, TD_PROGRESS_NORMAL, TD_PROGRESS_LOUD } td_progress_level;

typedef struct td_progress {
    td_progress_level level;
    FILE *out;
    bool tty;
    bool line_drawn; /* a live line is on screen and must be cleared before a log line */
    double last_t;
    uint64_t last_dumped;
    double rate; /* headers/s, smoothed */
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

#endif
