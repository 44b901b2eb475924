/* date.c - HTTP (RFC 1123) and RFC 3339 dates, UTC only (see util.h). */
#include "util.h"

#include <stdio.h>
#include <string.h>

int64_t ut_timegm_ms(int year, int mon, int day, int hour, int min, int sec, int ms) {
    /* days from civil (proleptic Gregorian), valid for any year */
    int64_t y = year - (mon <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 24 + hour) * 60 + min) * 60000 + (int64_t)sec * 1000 + ms;
}

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const WDAYS[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* Reads exactly `digits` decimal digits at s[*i]. */
static int read_num(const char *s, size_t n, size_t *i, int digits) {
    int v = 0;
    for (int k = 0; k < digits; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return v;
}

static bool expect(const char *s, size_t n, size_t *i, char c) {
    if (*i < n && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

/* "hh:mm:ss" into the three; false if malformed */
static bool read_time(const char *s, size_t n, size_t *i, int *hh, int *mm, int *ss) {
    *hh = read_num(s, n, i, 2);
    if (*hh < 0 || *hh > 23 || !expect(s, n, i, ':'))
        return false;
    *mm = read_num(s, n, i, 2);
    if (*mm < 0 || *mm > 59 || !expect(s, n, i, ':'))
        return false;
    *ss = read_num(s, n, i, 2);
    return *ss >= 0 && *ss <= 60;
}

int64_t ut_http_date_parse(const char *s, size_t n) {
    /* ["Sun, "]"06 Nov 1994 08:49:37 GMT" */
    size_t i = 0;
    const char *comma = memchr(s, ',', n);
    if (comma) {
        i = (size_t)(comma - s) + 1;
        if (!expect(s, n, &i, ' '))
            return INT64_MIN;
    }
    int day = read_num(s, n, &i, 2);
    if (day < 1 || day > 31 || !expect(s, n, &i, ' ') || i + 3 > n)
        return INT64_MIN;
    int mon = -1;
    for (int m = 0; m < 12; m++)
        if (memcmp(s + i, MONTHS[m], 3) == 0)
            mon = m + 1;
    i += 3;
    if (mon < 0 || !expect(s, n, &i, ' '))
        return INT64_MIN;
    int year = read_num(s, n, &i, 4);
    int hh, mm, ss;
    if (year < 0 || !expect(s, n, &i, ' ') || !read_time(s, n, &i, &hh, &mm, &ss))
        return INT64_MIN;
    if (!(i + 4 == n && memcmp(s + i, " GMT", 4) == 0))
        return INT64_MIN;
    return ut_timegm_ms(year, mon, day, hh, mm, ss, 0);
}

int64_t ut_rfc3339_parse(const char *s, size_t n) {
    size_t i = 0;
    int year = read_num(s, n, &i, 4);
    if (year < 0 || !expect(s, n, &i, '-'))
        return INT64_MIN;
    int mon = read_num(s, n, &i, 2);
    if (mon < 1 || mon > 12 || !expect(s, n, &i, '-'))
        return INT64_MIN;
    int day = read_num(s, n, &i, 2);
    if (day < 1 || day > 31 ||
        !(expect(s, n, &i, 'T') || expect(s, n, &i, 't') || expect(s, n, &i, ' ')))
        return INT64_MIN;
    int hh, mm, ss;
    if (!read_time(s, n, &i, &hh, &mm, &ss))
        return INT64_MIN;
    int ms = 0;
    if (expect(s, n, &i, '.')) {
        int scale = 100, digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            digits++;
        }
        if (digits == 0)
            return INT64_MIN;
    }
    int64_t off_ms = 0;
    if (expect(s, n, &i, 'Z') || expect(s, n, &i, 'z')) {
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        int oh = read_num(s, n, &i, 2);
        if (oh < 0 || !expect(s, n, &i, ':'))
            return INT64_MIN;
        int om = read_num(s, n, &i, 2);
        if (om < 0)
            return INT64_MIN;
        off_ms = sign * ((int64_t)oh * 60 + om) * 60000;
    } else {
        return INT64_MIN;
    }
    if (i != n)
        return INT64_MIN;
    return ut_timegm_ms(year, mon, day, hh, mm, ss, ms) - off_ms;
}

void ut_http_date_format(time_t t, char out[32]) {
    int64_t secs = (int64_t)t;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    /* civil from days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", WDAYS[wday], d, MONTHS[m - 1], (int)y,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}
