/* az_auth_unit.c - the pure parts of the token flows (no network): token documents of every
 * shape the identity endpoints answer (OAuth2, IMDS's strings, the Azure CLI's two expiry
 * forms, Google's expireTime), error documents into messages, external_account files, and
 * the bounded CLI runner (time and output bounds, exit status, stderr's first line). */
#include "az_token.h"
#include "gcs_auth.h"
#include "store_token.h"
#include "td_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t parse(const char *json, const char *field, int64_t now, char **tok) {
    int64_t left = -1;
    char err[160];
    if (store_token_parse(json, strlen(json), field, now, tok, &left, err, sizeof err) != 0) {
        *tok = NULL;
        return -1;
    }
    return left;
}

static void test_parse(void) {
    td_test_context = "parse";
    char *t;
    CHECK(parse("{\"access_token\":\"abc\",\"expires_in\":3599}", "access_token", 0, &t) == 3599 &&
          strcmp(t, "abc") == 0);
    free(t);
    /* IMDS: numbers as strings; expires_in first */
    CHECK(parse("{\"access_token\":\"x\",\"expires_in\":\"86399\",\"expires_on\":\"1\"}",
                "access_token", 1000, &t) == 86399);
    free(t);
    CHECK(parse("{\"access_token\":\"x\",\"expires_on\":\"1700003600\"}", "access_token",
                1700000000, &t) == 3600);
    free(t);
    /* Google impersonation: expireTime RFC 3339 UTC */
    CHECK(parse("{\"accessToken\":\"y\",\"expireTime\":\"2023-11-14T22:13:20.5Z\"}", "accessToken",
                1700000000 - 600, &t) == 600);
    free(t);
    /* Azure CLI: expires_on (new) wins over expiresOn (local time) */
    CHECK(parse("{\"accessToken\":\"z\",\"expiresOn\":\"2000-01-01 00:00:00.000000\","
                "\"expires_on\":1700001000}",
                "accessToken", 1700000000, &t) == 1000);
    free(t);
    time_t later = time(NULL) + 1800;
    char local[64], doc[200];
    strftime(local, sizeof local, "%Y-%m-%d %H:%M:%S.000000", localtime(&later));
    snprintf(doc, sizeof doc, "{\"accessToken\":\"z\",\"expiresOn\":\"%s\"}", local);
    int64_t l = parse(doc, "accessToken", time(NULL), &t);
    CHECK(l > 1790 && l <= 1800, "local expiresOn: %lld", (long long)l);
    free(t);
    /* no expiry at all: an hour */
    CHECK(parse("{\"access_token\":\"x\"}", "access_token", 0, &t) == 3600);
    free(t);
    /* refused: expired, malformed, wrong field, line breaks, not JSON */
    CHECK(parse("{\"access_token\":\"x\",\"expires_on\":\"5\"}", "access_token", 10, &t) < 0);
    CHECK(parse("{\"access_token\":\"x\",\"expires_in\":\"soon\"}", "access_token", 0, &t) < 0);
    CHECK(parse("{\"accessToken\":\"x\"}", "access_token", 0, &t) < 0);
    CHECK(parse("{\"access_token\":\"a\\nb\"}", "access_token", 0, &t) < 0);
    CHECK(parse("[\"access_token\"]", "access_token", 0, &t) < 0);
    CHECK(parse("<html>", "access_token", 0, &t) < 0);
}

static void test_failure(void) {
    td_test_context = "failure";
    char err[300];
    const char *aad = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
                      "Invalid client secret provided.\\r\\nTrace ID: 12\"}";
    store_token_resp r = {NET_E_HTTP, 401, aad, strlen(aad)};
    CHECK(store_token_failure(&r, "Azure AD", "http://h/t", "check client_secret", err,
                              sizeof err) == STORE_E_AUTH);
    CHECK(strstr(err, "AADSTS7000215") && !strstr(err, "Trace") && strstr(err, "client_secret"),
          "%s", err);
    const char *g = "{\"error\":{\"code\":403,\"message\":\"Permission denied\","
                    "\"status\":\"PERMISSION_DENIED\"}}";
    r = (store_token_resp){NET_E_HTTP, 403, g, strlen(g)};
    CHECK(store_token_failure(&r, "IAM", "u", "", err, sizeof err) == STORE_E_AUTH);
    CHECK(strstr(err, "PERMISSION_DENIED: Permission denied") != NULL, "%s", err);
    r = (store_token_resp){NET_E_HTTP, 500, "oops", 4};
    CHECK(store_token_failure(&r, "IMDS", "u", "x", err, sizeof err) == STORE_E_HTTP);
    r = (store_token_resp){NET_E_CONNECT, 0, "", 0};
    CHECK(store_token_failure(&r, "IMDS", "http://169.254.169.254/x", "", err, sizeof err) ==
          STORE_E_NETWORK);
    CHECK(strstr(err, "169.254.169.254") != NULL, "%s", err);
}

static void test_external(void) {
    td_test_context = "external_account";
    gcs_key k;
    char err[300];
    const char *ok = "{\"type\":\"external_account\",\"audience\":\"//iam/x\","
                     "\"subject_token_type\":\"urn:ietf:params:oauth:token-type:jwt\","
                     "\"credential_source\":{\"url\":\"http://h/s\",\"headers\":{\"A\":\"1\","
                     "\"B\":\"2\"},\"format\":{\"type\":\"json\",\"subject_token_field_name\":"
                     "\"v\"}},\"service_account_impersonation\":{\"token_lifetime_seconds\":"
                     "1200}}";
    CHECK(gcs_key_parse(&k, ok, strlen(ok), err, sizeof err) == 0, "%s", err);
    CHECK(k.ext.url && !k.ext.file && strcmp(k.ext.token_url, GCS_DEFAULT_STS_URL) == 0 &&
          k.ext.headers[0] && strcmp(k.ext.headers[1], "B: 2") == 0 && !k.ext.headers[2] &&
          strcmp(k.ext.field, "v") == 0 && k.ext.lifetime_s == 1200);
    gcs_key_free(&k);
    const char *bad[] = {
        "{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
        "\"credential_source\":{\"environment_id\":\"aws1\"}}",
        "{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
        "\"credential_source\":{\"file\":\"f\",\"url\":\"http://u\"}}",
        "{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
        "\"credential_source\":{\"url\":\"file:///etc/passwd\"}}",
        "{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
        "\"credential_source\":{\"file\":\"f\",\"format\":{\"type\":\"json\"}}}",
        "{\"type\":\"external_account\",\"credential_source\":{\"file\":\"f\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(gcs_key_parse(&k, bad[i], strlen(bad[i]), err, sizeof err) != 0, "case %zu", i);
    gcs_key_parse(&k, bad[0], strlen(bad[0]), err, sizeof err);
    CHECK(strstr(err, "AWS") && strstr(err, "file or url"), "%s", err);
}

static void test_run(void) {
    td_test_context = "run";
    ut_buf out = {0};
    char line[256];
    char *echo[] = {"sh", "-c",
                    "echo '{\"a\":1}'; echo 'WARNING: w' >&2; echo 'ERROR: e' >&2; "
                    "exit 3",
                    NULL};
    CHECK(az_run_capture(echo, 5000, 1024, &out, line, sizeof line) == 3);
    CHECK(strcmp(ut_buf_str(&out), "{\"a\":1}\n") == 0 && strcmp(line, "ERROR: e") == 0, "%s|%s",
          ut_buf_str(&out), line);
    ut_buf_free(&out);
    char *slow[] = {"sleep", "10", NULL};
    time_t t0 = time(NULL);
    CHECK(az_run_capture(slow, 300, 1024, &out, line, sizeof line) == -1 && strstr(line, "within"));
    CHECK(time(NULL) - t0 < 5, "the timeout bounds the run");
    ut_buf_free(&out);
    char *big[] = {"yes", NULL};
    CHECK(az_run_capture(big, 5000, 4096, &out, line, sizeof line) == -1 &&
          strstr(line, "more than"));
    ut_buf_free(&out);
    char *none[] = {"td-no-such-program-here", NULL};
    CHECK(az_run_capture(none, 1000, 1024, &out, line, sizeof line) == -1 &&
          strstr(line, "cannot run"));
    ut_buf_free(&out);
}

int main(int argc, char **argv) {
    (void)argc;
    test_parse();
    test_failure();
    test_external();
    test_run();
    return td_test_report(argv[0]);
}
