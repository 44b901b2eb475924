/* td_test.h - the few macros every C test of this project uses (header-only).
 *
 * A test program counts failures and keeps going, so one run reports every broken check;
 * main() ends with `return td_test_report(argv[0]);` (0 when nothing failed). */
#ifndef TD_TEST_H
#define TD_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int td_test_failures; /* failed checks so far */
static int td_test_checks;   /* checks run so far (a test may print it) */
/* Optional: the case being run, printed with every failure (e.g. "strings"). */
static const char *td_test_context = "";

/* The message part of a failed CHECK. No format attribute on purpose: CHECK(cond) passes an
 * empty format, and CHECK(cond, fmt, ...) one unused trailing "", which C allows and a
 * format attribute would flag. */
static inline void td_test_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* CHECK(cond) or CHECK(cond, "fmt", ...): a failed check prints where and why, and counts. */
#define CHECK(...) TD_CHECK_(__VA_ARGS__, "")
#define TD_CHECK_(cond, ...)                                                             \
    do {                                                                                 \
        td_test_checks++;                                                                \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: %s%sFAIL %s: ", __FILE__, __LINE__, td_test_context, \
                    *td_test_context ? ": " : "", #cond);                                \
            td_test_msg(__VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                         \
            td_test_failures++;                                                          \
        }                                                                                \
    } while (0)

/* REQUIRE(cond) or REQUIRE(cond, "fmt", ...): a check the rest of the program cannot do
 * without; it prints like CHECK and exits with status 1. */
#define REQUIRE(...) TD_REQUIRE_(__VA_ARGS__, "")
#define TD_REQUIRE_(cond, ...)                                                        \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: REQUIRE failed %s: ", __FILE__, __LINE__, #cond); \
            td_test_msg(__VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                      \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* Two C strings equal (NULL equals only NULL); prints both on failure. */
#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *td_a_ = (a), *td_b_ = (b);                                                  \
        td_test_checks++;                                                                       \
        if (!((td_a_ == NULL && td_b_ == NULL) ||                                               \
              (td_a_ && td_b_ && strcmp(td_a_, td_b_) == 0))) {                                 \
            fprintf(stderr, "%s:%d: FAIL %s == %s: '%s' != '%s'\n", __FILE__, __LINE__, #a, #b, \
                    td_a_ ? td_a_ : "(null)", td_b_ ? td_b_ : "(null)");                        \
            td_test_failures++;                                                                 \
        }                                                                                       \
    } while (0)

static inline int td_test_report(const char *name) {
    if (td_test_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, td_test_failures);
    else
        fprintf(stderr, "%s: all checks passed\n", name);
    return td_test_failures ? 1 : 0;
}

#endif
