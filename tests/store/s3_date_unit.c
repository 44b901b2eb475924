/* s3_date_unit.c - the LastModified / Expiration dates of S3 answers: the exact form read
 * digit by digit, other forms as sscanf reads them, malformed ones refused. */
#include "s3_req.h"
#include "td_test.h"

#include <stdint.h>

static void check_date(const char *s, int64_t want) {
    td_test_context = s;
    int64_t got = s3_parse_iso8601_ms(s);
    CHECK(got == want, "got %lld, want %lld", (long long)got, (long long)want);
}

int main(void) {
    check_date("1970-01-01T00:00:00.000Z", 0);
    check_date("2009-10-12T17:50:30.000Z", 1255369830000);
    check_date("2009-10-12T17:50:30.5Z", 1255369830500);
    check_date("2009-10-12T17:50:30Z", 1255369830000);
    check_date("2024-02-29T23:59:60.999Z", 1709251200999); /* a leap second, as timegm */
    /* not the exact form: sscanf's reading, as before */
    check_date("2009-1-2T3:4:5Z", 1230865445000);
    check_date("2009-1-2T3:4:5.25Z", 1230865445250); /* the fraction after a short form */
    /* malformed */
    check_date("", INT64_MIN);
    check_date("2009-13-12T17:50:30.000Z", INT64_MIN);
    check_date("2009-10-00T17:50:30.000Z", INT64_MIN);
    check_date("2009-10-12T24:50:30.000Z", INT64_MIN);
    check_date("2009-10-12T17:60:30.000Z", INT64_MIN);
    check_date("2009-10-12T17:50:61.000Z", INT64_MIN);
    check_date("2009-10-12X17:50:30.000Z", INT64_MIN);
    check_date("20a9-10-12T17:50:30.000Z", INT64_MIN);
    check_date("Mon, 12 Oct 2009 17:50:30 GMT", INT64_MIN);
    td_test_context = "";
    return td_test_report("s3_date_unit");
}
