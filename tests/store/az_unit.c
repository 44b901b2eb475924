/* az_unit.c - pure pieces of the Azure/GCS backends: base64, percent-coding, dates, HMAC,
 * the SharedKey string-to-sign on the examples of Azure's "Authorize with Shared Key"
 * page, and the streamed List Blobs parser (fed byte by byte). */
#include "az_list.h"
#include "az_sign.h"
#include "util.h"
#include "td_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_base64(void) {
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        ut_buf b = {0};
        ut_base64_encode(&b, plain[i], strlen(plain[i]), false);
        CHECK_STR(b.p ? b.p : "", enc[i]);
        uint8_t out[16];
        long n = ut_base64_decode(enc[i], strlen(enc[i]), out, sizeof out);
        CHECK(n == (long)strlen(plain[i]) && memcmp(out, plain[i], (size_t)n) == 0);
        ut_buf_free(&b);
    }
    ut_buf b = {0};
    const uint8_t bin[] = {0xfb, 0xff, 0xfe};
    ut_base64_encode(&b, bin, 3, true);
    CHECK_STR(b.p, "-__-");
    ut_buf_free(&b);
    ut_base64_encode(&b, "fo", 2, true); /* base64url: no padding */
    CHECK_STR(b.p, "Zm8");
    ut_buf_free(&b);
    uint8_t out[4];
    CHECK(ut_base64_decode("Zm9vYmFy", 8, out, 4) == -1); /* over the cap */
    CHECK(ut_base64_decode("Zm9v!mFy", 8, out, 4) == -1);
    CHECK(ut_base64_decode("Z", 1, out, 4) == -1);
}

static void test_pct(void) {
    ut_buf b = {0};
    ut_pct_encode(&b, "a b/ü~+%", strlen("a b/ü~+%"), true);
    CHECK_STR(b.p, "a%20b/%C3%BC~%2B%25");
    ut_buf_reset(&b);
    ut_pct_encode(&b, "a/b", 3, false);
    CHECK_STR(b.p, "a%2Fb");
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%20b%2fc+d", 11, UT_PCT_PLUS_SPACE) == 0);
    CHECK_STR(b.p, "a b/c d");
    ut_buf_reset(&b);
    CHECK(ut_pct_decode(&b, "a%2", 3, 0) == -1);
    CHECK(ut_pct_decode(&b, "a%zz", 4, 0) == -1);
    ut_buf_free(&b);
    ut_buf capped = {0};
    capped.limit = 4;
    ut_buf_puts(&capped, "abc");
    ut_buf_puts(&capped, "de");
    CHECK(capped.bad && capped.len == 3);
    ut_buf_free(&capped);
}

static void test_dates(void) {
    const char *d = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(ut_http_date_parse(d, strlen(d)) == 784111777000LL);
    char out[32];
    ut_http_date_format(784111777, out);
    CHECK_STR(out, d);
    ut_http_date_format(0, out);
    CHECK_STR(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    ut_http_date_format(951782400, out); /* leap day */
    CHECK_STR(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(ut_http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", 29) == 951782400000LL);
    CHECK(ut_http_date_parse("Sun, 06 Nov 1994 08:49:37", 25) == INT64_MIN);
    CHECK(ut_http_date_parse("garbage", 7) == INT64_MIN);
    const char *r = "2024-01-02T03:04:05.678Z";
    CHECK(ut_rfc3339_parse(r, strlen(r)) == 1704164645678LL);
    r = "2024-01-02T03:04:05Z";
    CHECK(ut_rfc3339_parse(r, strlen(r)) == 1704164645000LL);
    r = "2024-01-02T05:04:05.5+02:00";
    CHECK(ut_rfc3339_parse(r, strlen(r)) == 1704164645500LL);
    r = "2024-01-02";
    CHECK(ut_rfc3339_parse(r, strlen(r)) == INT64_MIN);
}

static void test_hmac(void) {
    /* RFC 4231 test case 2 */
    uint8_t mac[32];
    const char *data = "what do ya want for nothing?";
    CHECK(az_hmac_sha256("Jefe", 4, data, strlen(data), mac) == 0);
    static const uint8_t want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                     0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                     0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                     0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    CHECK(memcmp(mac, want, 32) == 0);
}

/* The CanonicalizedResource examples of "Authorize with Shared Key". */
static void test_canonical_resource(void) {
    ut_buf b = {0};
    const az_pair q1[] = {{"restype", "container"}, {"comp", "metadata"}};
    CHECK(az_string_to_sign(&b, "GET", "myaccount", "/mycontainer", q1, 2, NULL, 0) == 0);
    CHECK_STR(b.p, "GET\n\n\n\n\n\n\n\n\n\n\n\n/myaccount/mycontainer\ncomp:metadata\n"
                   "restype:container");
    ut_buf_reset(&b);
    const az_pair q2[] = {{"restype", "container"},
                          {"comp", "list"},
                          {"include", "snapshots"},
                          {"include", "metadata"},
                          {"include", "uncommittedblobs"}};
    CHECK(az_string_to_sign(&b, "GET", "myaccount", "/mycontainer", q2, 5, NULL, 0) == 0);
    CHECK_STR(strstr(b.p, "/myaccount"), "/myaccount/mycontainer\ncomp:list\n"
                                         "include:metadata,snapshots,uncommittedblobs\n"
                                         "restype:container");
    ut_buf_reset(&b);
    CHECK(az_string_to_sign(&b, "GET", "myaccount", "/mycontainer/myblob", NULL, 0, NULL, 0) == 0);
    CHECK_STR(strstr(b.p, "/myaccount"), "/myaccount/mycontainer/myblob");
    ut_buf_reset(&b);
    /* emulator (path-style): the account appears twice */
    CHECK(az_string_to_sign(&b, "GET", "devstoreaccount1", "/devstoreaccount1/mycontainer", NULL, 0,
                            NULL, 0) == 0);
    CHECK_STR(strstr(b.p, "/devstoreaccount1"), "/devstoreaccount1/devstoreaccount1/mycontainer");
    ut_buf_reset(&b);
    /* headers: standard ones in their slots, x-ms-* sorted, lower-cased, folded; a zero
     * Content-Length is signed as empty */
    const az_pair h[] = {{"X-MS-Version", "2021-08-06"},
                         {"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"},
                         {"Range", "bytes=0-99"},
                         {"Content-Length", "0"},
                         {"x-ms-meta-a", "  two   words \t here "},
                         {"Content-Type", "text/plain"}};
    const az_pair q3[] = {{"marker", "a b,c"}, {"COMP", "list"}};
    CHECK(az_string_to_sign(&b, "GET", "acct", "/c%20d/x", q3, 2, h, 6) == 0);
    CHECK_STR(b.p, "GET\n\n\n\n\ntext/plain\n\n\n\n\n\nbytes=0-99\n"
                   "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\n"
                   "x-ms-meta-a:two words here\n"
                   "x-ms-version:2021-08-06\n"
                   "/acct/c%20d/x\ncomp:list\nmarker:a b,c");
    /* the signature: HMAC-SHA256 with the decoded key, base64 */
    ut_buf auth = {0};
    const uint8_t key[] = "Jefe";
    CHECK(az_sharedkey_auth(&auth, "acct", key, 4, "what do ya want for nothing?", 28) == 0);
    CHECK_STR(auth.p, "SharedKey acct:W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    ut_buf_free(&auth);
    ut_buf_free(&b);
}

static const char LIST_XML[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1/devstoreaccount1\" "
    "ContainerName=\"c\"><Prefix>root/</Prefix><MaxResults>3</MaxResults><Blobs>"
    "<Blob><Name>root/a b.tif</Name><Properties><Creation-Time>Sun, 06 Nov 1994 08:49:37 GMT"
    "</Creation-Time><Last-Modified>Sun, 06 Nov 1994 08:49:37 GMT</Last-Modified>"
    "<Etag>0x8D4BCC2E4835CD0</Etag><Content-Length>1234</Content-Length>"
    "<Content-Type>image/tiff</Content-Type></Properties><OrMetadata /></Blob>"
    "<Blob><Name Encoded=\"true\">root%2Fx%01y.tif</Name><Properties><Last-Modified>bad"
    "</Last-Modified><Content-Length>0</Content-Length></Properties></Blob>"
    "<Blob><Name>root/dir</Name><Properties><Content-Length>0</Content-Length>"
    "<ResourceType>directory</ResourceType></Properties></Blob>"
    "<Blob><Name>other/z.tif</Name><Properties><Content-Length>5</Content-Length>"
    "</Properties></Blob>"
    "<BlobPrefix><Name>root/sub/</Name></BlobPrefix>"
    "</"
    "Blobs><NextMarker>2!84!MDAwMDE2IXJvb3QvZGlyITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ-"
    "-"
    "</NextMarker></EnumerationResults>";

static void test_list_parser(void) {
    az_list_parser *p = az_list_new("root/", 10);
    CHECK(p != NULL);
    for (size_t i = 0; i < sizeof LIST_XML - 1; i++) /* byte by byte: streamed */
        CHECK(az_list_feed(p, LIST_XML + i, 1, false) == 0);
    CHECK(az_list_feed(p, NULL, 0, true) == 0);
    size_t n;
    const store_entry *e = az_list_entries(p, &n);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(e[0].key, "a b.tif");
        CHECK(e[0].key_len == 7 && e[0].size == 1234 && e[0].mtime_ms == 784111777000LL);
        CHECK_STR(e[0].etag, "0x8D4BCC2E4835CD0");
        CHECK_STR(e[1].key, "x\001y.tif");
        CHECK(e[1].size == 0 && e[1].mtime_ms == INT64_MIN && e[1].etag == NULL);
    }
    CHECK(az_list_seen_results(p));
    CHECK(strncmp(az_list_next_marker(p), "2!84!", 5) == 0);
    /* a retried attempt starts over */
    CHECK(az_list_reset(p) == 0);
    const char *last = "<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>";
    CHECK(az_list_feed(p, last, strlen(last), true) == 0);
    az_list_entries(p, &n);
    CHECK(n == 0);
    CHECK_STR(az_list_next_marker(p), "");
    /* an error document */
    CHECK(az_list_reset(p) == 0);
    const char *errdoc = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
                         "AuthenticationFailed</Code><Message>Server failed to authenticate "
                         "the request.</Message></Error>";
    CHECK(az_list_feed(p, errdoc, strlen(errdoc), true) == 0);
    CHECK_STR(az_list_err_code(p), "AuthenticationFailed");
    CHECK(!az_list_seen_results(p));
    /* malformed XML */
    CHECK(az_list_reset(p) == 0);
    CHECK(az_list_feed(p, "<EnumerationResults><Blobs>", 27, false) == 0);
    CHECK(az_list_feed(p, "</Nope>", 7, true) == -1);
    CHECK(strstr(az_list_error(p), "malformed XML") != NULL);
    /* missing size */
    CHECK(az_list_reset(p) == 0);
    const char *nosize = "<EnumerationResults><Blobs><Blob><Name>root/a</Name></Blob></Blobs>"
                         "</EnumerationResults>";
    CHECK(az_list_feed(p, nosize, strlen(nosize), true) == -1);
    az_list_free(p);
    /* more entries than asked for */
    p = az_list_new("", 1);
    const char *two = "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
                      "<Content-Length>1</Content-Length></Properties></Blob><Blob><Name>b"
                      "</Name><Properties><Content-Length>1</Content-Length></Properties>"
                      "</Blob></Blobs></EnumerationResults>";
    CHECK(az_list_feed(p, two, strlen(two), true) == -1);
    /* over-long name */
    CHECK(az_list_reset(p) == 0);
    ut_buf big = {0};
    big.limit = 1 << 20;
    ut_buf_puts(&big, "<EnumerationResults><Blobs><Blob><Name>");
    for (int i = 0; i < 5000; i++)
        ut_buf_putc(&big, 'x');
    ut_buf_puts(&big, "</Name></Blob></Blobs></EnumerationResults>");
    CHECK(az_list_feed(p, big.p, big.len, true) == -1);
    ut_buf_free(&big);
    az_list_free(p);
}

int main(void) {
    test_base64();
    test_pct();
    test_dates();
    test_hmac();
    test_canonical_resource();
    test_list_parser();
    if (td_test_failures) {
        fprintf(stderr, "%d check(s) failed\n", td_test_failures);
        return 1;
    }
    printf("az_unit: all checks passed\n");
    return 0;
}
