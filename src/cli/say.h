/* say.h - every line the tool writes for people goes through here (stderr messages,
 * progress, `headers --check` and `info` on stdout).
 *
 * - No secret: the text passes through ut_redact_url (URL userinfo, signed query
 *   parameters), whatever produced it (a store's message may quote a URL as given).
 * - No terminal control from data: keys and messages are written with ut_escape_ctl, so a
 *   hostile object name cannot move the cursor, retitle the terminal or forge log lines.
 * - A closed stream never stops a run: SIGPIPE is ignored (td_say_init) and a write that
 *   fails (EPIPE: the reader of the pipe went away; any other error alike) only stops the
 *   printing to that stream for the rest of the process.
 */
#ifndef TD_CLI_SAY_H
#define TD_CLI_SAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Once, first thing in main: ignore SIGPIPE (a broken pipe becomes EPIPE on write), and
 * hold a closed standard descriptor (0, 1, 2) with /dev/null so that no file the run opens
 * takes its number. */
void td_say_init(void);

#if defined(__GNUC__)
#define TD_SAY_FMT(a, b) __attribute__((format(printf, a, b)))
#else
#define TD_SAY_FMT(a, b)
#endif

/* Formats, redacts and writes to f, with control characters escaped except line breaks
 * (messages of the tool itself may span lines); returns false once f is broken. */
bool td_say(FILE *f, const char *fmt, ...) TD_SAY_FMT(2, 3);
/* Writes as formatted (the live progress line's own "\r\033[K"); numbers only, no data. */
bool td_say_raw(FILE *f, const char *fmt, ...) TD_SAY_FMT(2, 3);
/* Writes s[0..n) as it is (an already clean JSON or text rendering). */
bool td_say_write(FILE *f, const void *s, size_t n);
/* One piece of data for a line (a key, a message from a store): redacted, with every
 * control character escaped (line breaks too), truncated to dstlen. */
void td_say_clean(char *dst, size_t dstlen, const char *s);
/* Flushes f; false once f is broken. */
bool td_say_flush(FILE *f);
/* True when f was found broken (nothing more is written to it). */
bool td_say_broken(FILE *f);

#endif
