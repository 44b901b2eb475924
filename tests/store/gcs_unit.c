/* gcs_unit.c - the bounded JSON reader and the GCS documents read with it: objects.list
 * pages, error documents, key files and token responses (no network). */
#include "gcs_auth.h"
#include "gcs_json.h"
#include "td_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parses(const char *s) {
    ut_json d;
    char err[128];
    int rc = ut_json_parse(&d, s, strlen(s), 1000, err, sizeof err);
    if (rc == 0)
        ut_json_free(&d);
    return rc == 0;
}

static void test_reader(void) {
    CHECK(parses("{}"));
    CHECK(parses(" [1, -2.5e3, \"x\", true, false, null, {\"a\": []}] "));
    CHECK(parses("\"\\u00e9\\ud83d\\ude00\\n\""));
    CHECK(!parses("{"));
    CHECK(!parses("{\"a\" 1}"));
    CHECK(!parses("[1,]"));
    CHECK(!parses("[1] x"));
    CHECK(!parses("\"\\q\""));
    CHECK(!parses("\"a\nb\""));
    CHECK(!parses("01x"));
    CHECK(!parses("-"));
    CHECK(!parses("\"\\u12\""));
    /* nesting limit */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    ut_json d;
    char err[128];
    CHECK(ut_json_parse(&d, deep, 200, 1000, err, sizeof err) == -1);
    /* token limit */
    CHECK(ut_json_parse(&d, "[1,2,3,4]", 9, 4, err, sizeof err) == -1);
    const char *doc = "{\"a\": {\"x\": [1, 2, {\"y\": 3}]}, \"b\\u0063\": \"caf\\u00e9 \\\"q\\\"\","
                      " \"n\": \"18446744073709551615\", \"big\": 18446744073709551616}";
    CHECK(ut_json_parse(&d, doc, strlen(doc), 100, err, sizeof err) == 0);
    size_t c = ut_json_get(&d, 0, "bc"); /* escaped member name */
    char *s = ut_json_strdup(&d, c);
    CHECK(s && strcmp(s, "caf\xc3\xa9 \"q\"") == 0);
    free(s);
    uint64_t v = 0;
    CHECK(ut_json_u64(&d, ut_json_get(&d, 0, "n"), &v) == 0 && v == UINT64_MAX);
    CHECK(ut_json_u64(&d, ut_json_get(&d, 0, "big"), &v) == -1);
    CHECK(ut_json_get(&d, 0, "zz") == UT_JSON_NONE);
    CHECK(ut_json_get(&d, ut_json_get(&d, 0, "a"), "x") != UT_JSON_NONE);
    CHECK(ut_json_get(&d, 0, "b") == UT_JSON_NONE); /* after the nested object: skipping works */
    ut_json_free(&d);
    const char *emoji = "\"\\ud83d\\ude00\"";
    CHECK(ut_json_parse(&d, emoji, strlen(emoji), 10, err, sizeof err) == 0);
    s = ut_json_strdup(&d, 0);
    CHECK(s && strcmp(s, "\xf0\x9f\x98\x80") == 0);
    free(s);
    ut_json_free(&d);
    const char *nul = "\"a\\u0000b\"";
    CHECK(ut_json_parse(&d, nul, strlen(nul), 10, err, sizeof err) == 0);
    CHECK(ut_json_strdup(&d, 0) == NULL); /* NUL inside: refused as a C string */
    ut_json_free(&d);
}

static void test_list(void) {
    const char *page =
        "{\"kind\":\"storage#objects\",\"nextPageToken\":\"CgVyb290L2I=\",\"items\":["
        "{\"kind\":\"storage#object\",\"name\":\"root/a b.tif\",\"size\":\"1234\","
        "\"updated\":\"2024-01-02T03:04:05.678Z\",\"etag\":\"CJ+L\",\"metadata\":{\"k\":\"v\"}},"
        "{\"name\":\"root/\\u00fc.tif\",\"size\":\"0\"},"
        "{\"name\":\"other/x\",\"size\":\"5\"},"
        "{\"name\":\"root/\",\"size\":\"0\"}]}";
    gcs_page pg;
    char err[200];
    CHECK(gcs_list_parse(&pg, page, strlen(page), "root/", 10, err, sizeof err) == 0);
    CHECK(pg.n == 2);
    if (pg.n == 2) {
        CHECK(strcmp(pg.entries[0].key, "a b.tif") == 0 && pg.entries[0].key_len == 7);
        CHECK(pg.entries[0].size == 1234 && pg.entries[0].mtime_ms == 1704164645678LL);
        CHECK(pg.entries[0].etag && strcmp(pg.entries[0].etag, "CJ+L") == 0);
        CHECK(strcmp(pg.entries[1].key, "\xc3\xbc.tif") == 0);
        CHECK(pg.entries[1].mtime_ms == INT64_MIN && pg.entries[1].etag == NULL);
    }
    CHECK(pg.next_token && strcmp(pg.next_token, "CgVyb290L2I=") == 0);
    gcs_page_free(&pg);
    const char *last = "{\"kind\":\"storage#objects\"}";
    CHECK(gcs_list_parse(&pg, last, strlen(last), "", 10, err, sizeof err) == 0);
    CHECK(pg.n == 0 && pg.next_token == NULL);
    gcs_page_free(&pg);
    CHECK(gcs_list_parse(&pg, page, strlen(page), "", 3, err, sizeof err) == -1);
    CHECK(strstr(err, "more than") != NULL);
    const char *nosize = "{\"items\":[{\"name\":\"a\"}]}";
    CHECK(gcs_list_parse(&pg, nosize, strlen(nosize), "", 3, err, sizeof err) == -1);
    const char *badsize = "{\"items\":[{\"name\":\"a\",\"size\":\"-1\"}]}";
    CHECK(gcs_list_parse(&pg, badsize, strlen(badsize), "", 3, err, sizeof err) == -1);
    CHECK(gcs_list_parse(&pg, "[]", 2, "", 3, err, sizeof err) == -1);
    CHECK(gcs_list_parse(&pg, "{\"items\":", 9, "", 3, err, sizeof err) == -1);
}

static void test_errors_tokens(void) {
    char msg[128], reason[64];
    const char *e = "{\"error\":{\"code\":403,\"message\":\"x@y does not have storage.objects"
                    ".list access\",\"errors\":[{\"message\":\"m\",\"domain\":\"global\","
                    "\"reason\":\"forbidden\"}]}}";
    CHECK(gcs_error_parse(e, strlen(e), msg, sizeof msg, reason, sizeof reason) == 0);
    CHECK(strcmp(reason, "forbidden") == 0 && strstr(msg, "storage.objects.list") != NULL);
    const char *o = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT\"}";
    CHECK(gcs_error_parse(o, strlen(o), msg, sizeof msg, reason, sizeof reason) == 0);
    CHECK(strcmp(reason, "invalid_grant") == 0 && strcmp(msg, "Invalid JWT") == 0);
    CHECK(gcs_error_parse("No such object", 14, msg, sizeof msg, reason, sizeof reason) == -1);

    /* token documents: store_token_parse, tested in az_auth_unit.c */
    char err[200];

    gcs_key k;
    const char *au = "{\"type\":\"authorized_user\",\"client_id\":\"cid\",\"client_secret\":"
                     "\"s e\",\"refresh_token\":\"1//r\"}";
    CHECK(gcs_key_parse(&k, au, strlen(au), err, sizeof err) == 0);
    ut_buf body = {0};
    CHECK(gcs_token_request_body(&body, &k, 0, err, sizeof err) == 0);
    CHECK(body.p && strcmp(body.p, "grant_type=refresh_token&client_id=cid&client_secret=s%20e"
                                   "&refresh_token=1%2F%2Fr") == 0);
    CHECK(strcmp(k.token_uri, GCS_DEFAULT_TOKEN_URI) == 0);
    ut_buf_free(&body);
    gcs_key_free(&k);
    const char *sa = "{\"type\":\"service_account\",\"client_email\":\"a@b\"}";
    CHECK(gcs_key_parse(&k, sa, strlen(sa), err, sizeof err) == -1);
    CHECK(strstr(err, "private_key") != NULL);
    const char *ext = "{\"type\":\"external_account\"}";
    CHECK(gcs_key_parse(&k, ext, strlen(ext), err, sizeof err) == -1);
    CHECK(gcs_key_parse(&k, "{", 1, err, sizeof err) == -1);
    const char *bad_pem = "{\"type\":\"service_account\",\"client_email\":\"a@b\","
                          "\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END "
                          "PRIVATE KEY-----\\n\"}";
    CHECK(gcs_key_parse(&k, bad_pem, strlen(bad_pem), err, sizeof err) == 0);
    ut_buf jwt = {0};
    CHECK(gcs_jwt_make(&jwt, NULL, &k, GCS_SCOPE_RO, 0, err, sizeof err) == -1);
    CHECK(strstr(err, "PEM") != NULL);
    ut_buf_free(&jwt);
    gcs_key_free(&k);
}

int main(void) {
    test_reader();
    test_list();
    test_errors_tokens();
    if (td_test_failures) {
        fprintf(stderr, "%d check(s) failed\n", td_test_failures);
        return 1;
    }
    printf("gcs_unit: all checks passed\n");
    return 0;
}
