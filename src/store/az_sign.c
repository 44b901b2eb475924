/* az_sign.c - Azure SharedKey string-to-sign and signature (see az_sign.h). */
#include "az_sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int icmp(const char *a, const char *b) {
    for (;; a++, b++) {
        int x = lower((unsigned char)*a), y = lower((unsigned char)*b);
        if (x != y || !x)
            return x - y;
    }
}

static bool istarts(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++)
        if (lower((unsigned char)*s) != *prefix)
            return false;
    return true;
}

static const char *header_value(const az_pair *h, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (icmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

/* Values are trimmed and runs of whitespace folded to one space, as the docs require for
 * canonicalized headers. */
static void put_folded(ut_buf *b, const char *v) {
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = true;
            continue;
        }
        if (space)
            ut_buf_putc(b, ' ');
        space = false;
        ut_buf_putc(b, c);
    }
}

static int cmp_pair_name(const void *a, const void *b) {
    const az_pair *x = *(const az_pair *const *)a, *y = *(const az_pair *const *)b;
    int c = icmp(x->name, y->name);
    if (c)
        return c;
    return strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

static void put_lower(ut_buf *b, const char *s) {
    for (; *s; s++)
        ut_buf_putc(b, (char)lower((unsigned char)*s));
}

int az_string_to_sign(ut_buf *out, const char *method, const char *account, const char *path,
                      const az_pair *query, size_t n_query, const az_pair *headers,
                      size_t n_headers) {
    static const char *const std_headers[] = {"content-encoding",
                                              "content-language",
                                              "content-length",
                                              "content-md5",
                                              "content-type",
                                              "date",
                                              "if-modified-since",
                                              "if-match",
                                              "if-none-match",
                                              "if-unmodified-since",
                                              "range"};
    ut_buf_puts(out, method);
    ut_buf_putc(out, '\n');
    for (size_t i = 0; i < sizeof std_headers / sizeof *std_headers; i++) {
        const char *v = header_value(headers, n_headers, std_headers[i]);
        /* since version 2015-02-21 a zero Content-Length is signed as empty */
        if (v && !(i == 2 && strcmp(v, "0") == 0))
            ut_buf_puts(out, v);
        ut_buf_putc(out, '\n');
    }
    size_t n_ptr = n_headers > n_query ? n_headers : n_query;
    const az_pair **sorted = malloc((n_ptr ? n_ptr : 1) * sizeof *sorted);
    if (!sorted)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < n_headers; i++)
        if (istarts(headers[i].name, "x-ms-"))
            sorted[n++] = &headers[i];
    qsort(sorted, n, sizeof *sorted, cmp_pair_name);
    for (size_t i = 0; i < n; i++) {
        put_lower(out, sorted[i]->name);
        ut_buf_putc(out, ':');
        put_folded(out, sorted[i]->value ? sorted[i]->value : "");
        ut_buf_putc(out, '\n');
    }
    ut_buf_putc(out, '/');
    ut_buf_puts(out, account);
    ut_buf_puts(out, path && *path ? path : "/");
    for (size_t i = 0; i < n_query; i++)
        sorted[i] = &query[i];
    qsort(sorted, n_query, sizeof *sorted, cmp_pair_name);
    for (size_t i = 0; i < n_query; i++) {
        if (i > 0 && icmp(sorted[i]->name, sorted[i - 1]->name) == 0) {
            ut_buf_putc(out, ',');
        } else {
            ut_buf_putc(out, '\n');
            put_lower(out, sorted[i]->name);
            ut_buf_putc(out, ':');
        }
        ut_buf_puts(out, sorted[i]->value ? sorted[i]->value : "");
    }
    free(sorted);
    return out->bad ? -1 : 0;
}

int az_sharedkey_auth(ut_buf *out, const char *account, const uint8_t *key, size_t key_len,
                      const char *sts, size_t sts_len) {
    uint8_t mac[32];
    if (az_hmac_sha256(key, key_len, sts, sts_len, mac) != 0)
        return -1;
    ut_buf_puts(out, "SharedKey ");
    ut_buf_puts(out, account);
    ut_buf_putc(out, ':');
    ut_base64_encode(out, mac, sizeof mac, false);
    return out->bad ? -1 : 0;
}

int az_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen, uint8_t out[32]) {
    unsigned int len = 32;
    if (klen > INT32_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &len) || len != 32)
        return -1;
    return 0;
}
