/* s3_sign_dump.c - prints the URL and headers the S3 backend would send for requests read
 * from stdin, so that s3_botocore.py can have botocore sign the same requests and compare.
 * Input, one request per line, tab-separated, every text field hex-encoded ("-" = none):
 *   method endpoint bucket virtual_hosted(0/1) key query region access secret token
 *   payer(0/1) unix_time
 * where query is "name=value&..." with each name and value hex-encoded.
 * Output per request: "url\t<url>" then "hdr\t<Name: value>" lines, then "end". */
#include "s3_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *unhex(const char *s) {
    if (strcmp(s, "-") == 0)
        return NULL;
    size_t n = strlen(s) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = '\0';
    return out;
}

int main(void) {
    static char line[1 << 16];
    /* one key cache for every request read, as a store keeps one for its life: the requests
     * change day, region and credentials, and botocore checks every signature */
    s3_sigkey_cache cache = {0};
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *f[12];
        size_t nf = 0;
        for (char *save = NULL, *tok = strtok_r(line, "\t", &save); tok && nf < 12;
             tok = strtok_r(NULL, "\t", &save))
            f[nf++] = tok;
        if (nf != 12) {
            fprintf(stderr, "bad line (%zu fields)\n", nf);
            return 2;
        }
        char *method = unhex(f[0]), *endpoint = unhex(f[1]), *bucket = unhex(f[2]);
        bool vhost = f[3][0] == '1';
        char *key = unhex(f[4]), *region = unhex(f[6]);
        s3_creds c = {unhex(f[7]), unhex(f[8]), unhex(f[9]), INT64_MAX};
        bool payer = f[10][0] == '1';
        time_t now = (time_t)strtoll(f[11], NULL, 10);
        /* query pairs */
        s3_pair q[16];
        char *qs[32];
        size_t nq = 0, nqs = 0;
        if (strcmp(f[5], "-") != 0) {
            for (char *save = NULL, *tok = strtok_r(f[5], "&", &save); tok && nq < 16;
                 tok = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(tok, '=');
                *eq = '\0';
                q[nq].name = qs[nqs++] = unhex(tok);
                q[nq].value = qs[nqs++] = unhex(*(eq + 1) ? eq + 1 : "-");
                if (!q[nq].value)
                    q[nq].value = "";
                nq++;
            }
        }
        s3_target t;
        char err[256];
        if (s3_target_init(&t, endpoint, bucket, region, vhost, true, err, sizeof err) != 0) {
            printf("error\t%s\nend\n", err);
        } else {
            s3_reqparts r;
            s3_hdrs h = {0};
            if (s3_reqparts_build(&r, &t, key, key ? strlen(key) : 0, q, nq) != 0 ||
                s3_sign_headers(&h, &t, method, &r, c.access_key ? &c : NULL, payer, now, &cache) !=
                    0) {
                printf("error\tbuild\nend\n");
            } else {
                printf("url\t%s\n", r.url.p);
                for (size_t i = 0; i < h.n; i++)
                    printf("hdr\t%s\n", s3_hdr(&h, i));
                printf("end\n");
                s3_reqparts_free(&r);
            }
            s3_hdrs_free(&h);
            s3_target_free(&t);
        }
        for (size_t i = 0; i < nqs; i++)
            free(qs[i]);
        free(method);
        free(endpoint);
        free(bucket);
        free(key);
        free(region);
        s3_creds_clear(&c);
    }
    s3_sigkey_cache_wipe(&cache);
    return 0;
}
