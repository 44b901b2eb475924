/* gcs_jwt_tool.c - prints the JWT tiff-dumper builds for a service-account key file, and
 * its signing input, for gcs_jwt_check.py (which re-signs the input with openssl):
 *   gcs_jwt_tool KEYFILE NOW_SECONDS
 * Output: line 1 the signing input "header.claims", line 2 the whole JWT, line 3 the
 * token request body. */
#include "gcs_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 2;
    static char json[1 << 16];
    size_t n = fread(json, 1, sizeof json - 1, f);
    fclose(f);
    gcs_key k;
    char err[256];
    if (gcs_key_parse(&k, json, n, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t now = strtoll(argv[2], NULL, 10);
    ut_buf jwt = {0}, in = {0}, body = {0};
    if (gcs_jwt_make(&jwt, &in, &k, GCS_SCOPE_RO, now, err, sizeof err) != 0 ||
        gcs_token_request_body(&body, &k, now, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s\n%s\n%s\n", in.p, jwt.p, body.p);
    ut_buf_free(&jwt);
    ut_buf_free(&in);
    ut_buf_free(&body);
    gcs_key_free(&k);
    return 0;
}
