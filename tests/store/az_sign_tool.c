/* az_sign_tool.c - prints the SharedKey string-to-sign and Authorization value for a request
 * given on the command line, for az_sign_check.py's independent Python implementation:
 *   az_sign_tool ACCOUNT KEY_BASE64 METHOD PATH [q:NAME=VALUE]... [h:NAME=VALUE]... */
#include "az_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: az_sign_tool ACCOUNT KEY METHOD PATH [q:N=V]... [h:N=V]...\n");
        return 2;
    }
    size_t n = (size_t)argc;
    az_pair *q = calloc(n, sizeof *q), *h = calloc(n, sizeof *h);
    size_t nq = 0, nh = 0;
    if (!q || !h)
        return 2;
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || argv[i][1] != ':')
            return 2;
        *eq = 0;
        az_pair p = {argv[i] + 2, eq + 1};
        if (argv[i][0] == 'q')
            q[nq++] = p;
        else
            h[nh++] = p;
    }
    uint8_t key[128];
    long kl = ut_base64_decode(argv[2], strlen(argv[2]), key, sizeof key);
    if (kl < 0)
        return 2;
    ut_buf sts = {0}, auth = {0};
    if (az_string_to_sign(&sts, argv[3], argv[1], argv[4], q, nq, h, nh) != 0 ||
        az_sharedkey_auth(&auth, argv[1], key, (size_t)kl, sts.p, sts.len) != 0)
        return 1;
    fwrite(sts.p, 1, sts.len, stdout);
    printf("\n--AUTH--\n%s\n", auth.p);
    ut_buf_free(&sts);
    ut_buf_free(&auth);
    free(q);
    free(h);
    return 0;
}
