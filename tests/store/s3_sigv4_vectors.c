/* s3_sigv4_vectors.c - checks s3_sigv4 against AWS's published SigV4 test vectors and the
 * S3 documentation's examples (data in s3_sigv4_vectors.txt). Canonical request, string to
 * sign and Authorization (or signature) must match exactly. */
#include "s3_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXH 16
#define MAXQ 16

typedef struct vcase {
    char name[128], method[16], path[512], query[512], body[256];
    char hname[MAXH][64], hval[MAXH][1024];
    size_t nh;
    char creq[4096], sts[1024], authz[1024], signature[80];
} vcase;

typedef struct vdefaults {
    char access[64], secret[128], region[32], service[32], date[32];
} vdefaults;

static int failures;

static void unescape(char *dst, size_t cap, const char *src) {
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 1 < cap; i++) {
        if (src[i] == '\\' && src[i + 1] == 'n') {
            dst[j++] = '\n';
            i++;
        } else {
            dst[j++] = src[i];
        }
    }
    dst[j] = '\0';
}

static void check(const char *name, const char *what, const char *want, const char *got) {
    if (!want[0])
        return;
    if (strcmp(want, got) != 0) {
        failures++;
        printf("FAIL %s: %s\n--- want\n%s\n--- got\n%s\n", name, what, want, got);
    }
}

static void run_case(const vdefaults *d, vcase *c) {
    /* path: encoded the S3 way (each byte but '/' and unreserved) */
    ut_buf uri = {0};
    ut_pct_encode(&uri, c->path, strlen(c->path), true);
    /* query: split raw "a=b&c" into pairs */
    s3_pair q[MAXQ];
    char qcopy[512];
    size_t nq = 0;
    snprintf(qcopy, sizeof qcopy, "%s", c->query);
    for (char *save = NULL, *tok = strtok_r(qcopy, "&", &save); tok && nq < MAXQ;
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        q[nq].name = tok;
        q[nq].value = eq ? eq + 1 : "";
        nq++;
    }
    s3_pair h[MAXH];
    for (size_t i = 0; i < c->nh; i++) {
        h[i].name = c->hname[i];
        h[i].value = c->hval[i];
    }
    char payload[65];
    s3_sha256_hex(c->body, strlen(c->body), payload);
    s3_sign_in in = {c->method, uri.p,     q,          nq,      NULL,      h,        c->nh,
                     payload,   d->region, d->service, d->date, d->access, d->secret};
    ut_buf creq = {0}, sts = {0};
    char auth[1024];
    int failures_before = failures;
    if (s3_sigv4_sign(&in, NULL, &creq, &sts, auth, sizeof auth) != 0) {
        failures++;
        printf("FAIL %s: sign returned an error\n", c->name);
    } else {
        check(c->name, "canonical request", c->creq, creq.p);
        check(c->name, "string to sign", c->sts, sts.p);
        check(c->name, "authorization", c->authz, auth);
        const char *sig = strstr(auth, "Signature=");
        check(c->name, "signature", c->signature, sig ? sig + 10 : "");
        /* the cached signing key must give the same answer, twice */
        s3_sigkey_cache cache = {0};
        char auth2[1024], auth3[1024];
        s3_sigv4_sign(&in, &cache, NULL, NULL, auth2, sizeof auth2);
        s3_sigv4_sign(&in, &cache, NULL, NULL, auth3, sizeof auth3);
        check(c->name, "authorization (cached key)", auth, auth2);
        check(c->name, "authorization (cached key, again)", auth, auth3);
        printf("%s %s\n", failures == failures_before ? "ok  " : "FAIL", c->name);
    }
    ut_buf_free(&uri);
    ut_buf_free(&creq);
    ut_buf_free(&sts);
}

/* The key cache must notice a new secret, day or region. */
static void cache_invalidation(void) {
    s3_pair h[] = {{"host", "h"}, {"x-amz-date", "20150830T123600Z"}};
    s3_sign_in in = {"GET",
                     "/",
                     NULL,
                     0,
                     NULL,
                     h,
                     2,
                     "UNSIGNED-PAYLOAD",
                     "us-east-1",
                     "s3",
                     "20150830T123600Z",
                     "AK",
                     "secret1"};
    s3_sigkey_cache cache = {0};
    char a1[512], a2[512], fresh[512];
    s3_sigv4_sign(&in, &cache, NULL, NULL, a1, sizeof a1);
    in.secret_key = "secret2";
    s3_sigv4_sign(&in, &cache, NULL, NULL, a2, sizeof a2);
    s3_sigv4_sign(&in, NULL, NULL, NULL, fresh, sizeof fresh);
    check("cache", "new secret", fresh, a2);
    in.region = "eu-west-1";
    s3_sigv4_sign(&in, &cache, NULL, NULL, a2, sizeof a2);
    s3_sigv4_sign(&in, NULL, NULL, NULL, fresh, sizeof fresh);
    check("cache", "new region", fresh, a2);
    in.amz_date = "20150831T000000Z";
    s3_sigv4_sign(&in, &cache, NULL, NULL, a2, sizeof a2);
    s3_sigv4_sign(&in, NULL, NULL, NULL, fresh, sizeof fresh);
    check("cache", "new day", fresh, a2);
    if (strcmp(a1, a2) == 0) {
        failures++;
        printf("FAIL cache: signatures did not change\n");
    }
    printf("ok   cache invalidation\n");
}

/* An independent SigV4 signature of a string to sign, with OpenSSL's one-shot HMAC (the
 * code under test uses its own HMAC over SHA256_CTX and caches its keyed state). */
static void ref_signature(const char *secret, const char *date8, const char *region,
                          const char *service, const char *sts, char out[65]) {
    char k0[512];
    snprintf(k0, sizeof k0, "AWS4%s", secret);
    unsigned char k[32];
    unsigned int len = 32;
    HMAC(EVP_sha256(), k0, (int)strlen(k0), (const unsigned char *)date8, 8, k, &len);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)region, strlen(region), k, &len);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)service, strlen(service), k, &len);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"aws4_request", 12, k, &len);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)sts, strlen(sts), k, &len);
    ut_hex_encode(k, 32, out);
}

/* One cache used the way a store uses it, over a run that crosses midnight UTC while the
 * credentials rotate (and rotate back), with secrets of every length class (short; longer
 * than an HMAC block once "AWS4" is added, so hashed first; longer than the cache keeps, so
 * never cached): every signature must equal the uncached one and an independent HMAC. */
static void cache_rotation(void) {
    char longer[100], too_long[S3_SIGKEY_SECRET_MAX + 20];
    memset(longer, 'L', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memset(too_long, 'T', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *secret_of[] = {"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "rotated-secret-2",
                               longer, too_long};
    /* 23:59:58, 23:59:59, 00:00:00 the next day, 00:00:01: a day boundary in the middle */
    static const char *dates[] = {"20221231T235958Z", "20221231T235959Z", "20230101T000000Z",
                                  "20230101T000001Z", "20230101T120000Z"};
    s3_sigkey_cache cache = {0};
    int n = 0, bad = 0;
    for (size_t di = 0; di < sizeof dates / sizeof dates[0]; di++) {
        /* rotate through every secret and back to the first within the same second */
        static const int order[] = {0, 1, 0, 2, 3, 2, 0};
        for (size_t oi = 0; oi < sizeof order / sizeof order[0]; oi++) {
            const char *secret = secret_of[order[oi]];
            s3_pair h[] = {{"Host", "bucket.s3.eu-west-3.amazonaws.com"},
                           {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
                           {"x-amz-date", dates[di]},
                           {"Range", "bytes=0-16383"}};
            s3_sign_in in = {"GET",       "/sentinel-s2-l2a-cogs/10/C/CV/B04.tif",
                             NULL,        0,
                             "",          h,
                             4,           "UNSIGNED-PAYLOAD",
                             "eu-west-3", "s3",
                             dates[di],   "AKIDEXAMPLE",
                             secret};
            char cached[1024], fresh[1024], want[65], date8[9];
            ut_buf sts = {0};
            int rc1 = s3_sigv4_sign(&in, &cache, NULL, NULL, cached, sizeof cached);
            int rc2 = s3_sigv4_sign(&in, NULL, NULL, &sts, fresh, sizeof fresh);
            memcpy(date8, dates[di], 8);
            date8[8] = '\0';
            ref_signature(secret, date8, "eu-west-3", "s3", ut_buf_str(&sts), want);
            const char *sig = strstr(cached, "Signature=");
            if (rc1 || rc2 || strcmp(cached, fresh) != 0 || !sig || strcmp(sig + 10, want) != 0) {
                bad++;
                printf(
                    "FAIL cache rotation: %s, secret %d:\n  cached %s\n  fresh  %s\n  want   %s\n",
                    dates[di], order[oi], cached, fresh, want);
            }
            n++;
            ut_buf_free(&sts);
        }
    }
    /* a wiped cache is empty and usable */
    s3_sigkey_cache_wipe(&cache);
    if (cache.valid || cache.secret_len) {
        bad++;
        printf("FAIL cache rotation: wipe left the cache valid\n");
    }
    failures += bad;
    printf("%s cache across a day boundary and rotated credentials (%d signatures)\n",
           bad ? "FAIL" : "ok  ", n);
}

static void encoding(void) {
    static const struct {
        const char *in;
        bool keep_slash;
        const char *want;
    } t[] = {
        {"a b+c%d/e~f", true, "a%20b%2Bc%25d/e~f"},
        {"a b+c%d/e~f", false, "a%20b%2Bc%25d%2Fe~f"},
        {"\xc3\xa9t\xc3\xa9=&?#", true, "%C3%A9t%C3%A9%3D%26%3F%23"},
        {"*'()!$", true, "%2A%27%28%29%21%24"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ut_buf b = {0};
        ut_pct_encode(&b, t[i].in, strlen(t[i].in), t[i].keep_slash);
        check("uri-encode", t[i].in, t[i].want, b.p);
        ut_buf_free(&b);
    }
    /* values in the query are sorted after encoding, by name then value */
    s3_pair q[] = {{"prefix", "a b"},
                   {"list-type", "2"},
                   {"continuation-token", "x/y=="},
                   {"encoding-type", "url"}};
    ut_buf b = {0};
    s3_canonical_query(&b, q, 4);
    check("canonical-query", "list",
          "continuation-token=x%2Fy%3D%3D&encoding-type=url&"
          "list-type=2&prefix=a%20b",
          b.p);
    ut_buf_free(&b);
    /* the buffer cap holds */
    ut_buf capped = {.limit = 8};
    ut_buf_puts(&capped, "12345678");
    ut_buf_puts(&capped, "9");
    if (!capped.bad || capped.len != 8) {
        failures++;
        printf("FAIL buffer cap\n");
    }
    ut_buf_free(&capped);
    printf("ok   encoding\n");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s s3_sigv4_vectors.txt\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    static char line[8192];
    vdefaults d = {0};
    static vcase c;
    bool in_case = false;
    int n_cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *sp = strchr(line, ' ');
        const char *v = sp ? sp + 1 : "";
        if (sp)
            *sp = '\0';
        const char *k = line;
        if (!strcmp(k, "defaults")) {
            memset(&d, 0, sizeof d);
        } else if (!in_case && !strcmp(k, "access")) {
            snprintf(d.access, sizeof d.access, "%s", v);
        } else if (!in_case && !strcmp(k, "secret")) {
            snprintf(d.secret, sizeof d.secret, "%s", v);
        } else if (!in_case && !strcmp(k, "region")) {
            snprintf(d.region, sizeof d.region, "%s", v);
        } else if (!in_case && !strcmp(k, "service")) {
            snprintf(d.service, sizeof d.service, "%s", v);
        } else if (!in_case && !strcmp(k, "date")) {
            snprintf(d.date, sizeof d.date, "%s", v);
        } else if (!strcmp(k, "case")) {
            memset(&c, 0, sizeof c);
            snprintf(c.name, sizeof c.name, "%s", v);
            in_case = true;
        } else if (!strcmp(k, "method")) {
            snprintf(c.method, sizeof c.method, "%s", v);
        } else if (!strcmp(k, "path")) {
            snprintf(c.path, sizeof c.path, "%s", v);
        } else if (!strcmp(k, "query")) {
            snprintf(c.query, sizeof c.query, "%s", v);
        } else if (!strcmp(k, "body")) {
            snprintf(c.body, sizeof c.body, "%s", v);
        } else if (!strcmp(k, "header") && c.nh < MAXH) {
            const char *colon = strchr(v, ':');
            if (!colon)
                continue;
            snprintf(c.hname[c.nh], sizeof c.hname[0], "%.*s", (int)(colon - v), v);
            snprintf(c.hval[c.nh], sizeof c.hval[0], "%s", colon + 1);
            c.nh++;
        } else if (!strcmp(k, "creq")) {
            unescape(c.creq, sizeof c.creq, v);
        } else if (!strcmp(k, "sts")) {
            unescape(c.sts, sizeof c.sts, v);
        } else if (!strcmp(k, "authz")) {
            snprintf(c.authz, sizeof c.authz, "%s", v);
        } else if (!strcmp(k, "signature")) {
            snprintf(c.signature, sizeof c.signature, "%s", v);
        } else if (!strcmp(k, "end")) {
            run_case(&d, &c);
            n_cases++;
            in_case = false;
        } else {
            fprintf(stderr, "unknown line '%s'\n", k);
            return 2;
        }
    }
    fclose(f);
    encoding();
    cache_invalidation();
    cache_rotation();
    if (n_cases < 20) {
        printf("FAIL only %d cases read\n", n_cases);
        failures++;
    }
    printf("%d cases, %d failures\n", n_cases, failures);
    return failures ? 1 : 0;
}
