/* tiff_internal.h - helpers shared by tiff.c and tiff_json.c (not part of the contract). */
#ifndef TIFF_INTERNAL_H
#define TIFF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Longest text tiff__put_double() writes ("-1.2345678901234567e-308" or "\"-Infinity\""). */
#define TIFF__DBL_MAX_CHARS 32

/* Decimal digits of v into dst (no NUL); returns the length (at most 20 / 21). */
size_t tiff__put_u64(char *dst, uint64_t v);
size_t tiff__put_i64(char *dst, int64_t v);
/* A JSON value for v: %.17g (round-trips), or "NaN" / "Infinity" / "-Infinity" as strings,
 * because JSON has no literal for them. */
size_t tiff__put_double(char *dst, double v);
/* JSON escape of the UTF-8 sequence starting at s[0] (of length n >= 1 bytes of the already
 * valid UTF-8 text); writes at most 6 chars to dst, returns chars written, *used = bytes
 * consumed. */
size_t tiff__esc_unit(char *dst, const unsigned char *s, size_t n, size_t *used);

#endif
