/* test_remote.c - the remote-store core: one option parser over the backends' tables, one
 * HTTP status table, the same booleans everywhere, store_option_is_secret, and the one
 * lifecycle (holds, close, deferred destroy). */
#include "remote.h"
#include "td_test.h"

#include <stdlib.h>
#include <string.h>

static int open_with(const char *url, const char *key, const char *value, char *err,
                     size_t errlen) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_kv kv = {key, value};
    store_options o = STORE_OPTIONS_INIT;
    o.kv = &kv;
    o.n_kv = key ? 1 : 0;
    store *s = NULL;
    err[0] = 0;
    int rc = store_open(&s, &loop, url, &o, err, errlen);
    if (s)
        store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

static void test_status_table(void) {
    CHECK(remote_http_kind(401) == STORE_E_AUTH);
    CHECK(remote_http_kind(403) == STORE_E_ACCESS);
    CHECK(remote_http_kind(404) == STORE_E_NOT_FOUND);
    CHECK(remote_http_kind(410) == STORE_E_NOT_FOUND);
    CHECK(remote_http_kind(429) == STORE_E_THROTTLED);
    CHECK(remote_http_kind(503) == STORE_E_THROTTLED);
    CHECK(remote_http_kind(500) == STORE_E_HTTP);
    CHECK(remote_http_kind(400) == STORE_E_HTTP);
    CHECK(remote_net_kind(NET_E_TIMEOUT) == STORE_E_TIMEOUT);
    CHECK(remote_net_kind(NET_E_DNS) == STORE_E_NETWORK);
    CHECK(remote_net_kind(NET_E_CANCELED) == STORE_E_CANCELED);
    char msg[128] = "";
    CHECK(remote_net_failure(NET_OK, "x", "http://e", msg, sizeof msg) == STORE_OK && !msg[0]);
    CHECK(remote_net_failure(NET_E_DNS, "reading k", "http://e", msg, sizeof msg) ==
          STORE_E_NETWORK);
    CHECK(strstr(msg, "reading k: ") == msg && strstr(msg, "(http://e)"), "%s", msg);
    CHECK(remote_net_failure(NET_E_TIMEOUT, "k", "http://e", msg, sizeof msg) == STORE_E_TIMEOUT);
    CHECK_STR(msg, "k: timed out");
}

/* skip_signature and its aliases: the same values accepted and refused everywhere */
static void test_skip_signature(void) {
    static const char *const urls[] = {"s3://bucket/p", "gs://bucket/p", "az://container/p"};
    static const char *const names[][2] = {{"skip_signature", "aws_skip_signature"},
                                           {"skip_signature", "google_skip_signature"},
                                           {"skip_signature", "azure_skip_signature"}};
    static const char *const good[] = {"true", "y", "YES", "on", "1", "false", "n", "0"};
    static const char *const bad[] = {"", "maybe", "2", "t"};
    char err[512];
    setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct", 1);
    for (size_t u = 0; u < 3; u++) {
        for (size_t n = 0; n < 2; n++) {
            for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
                int rc = open_with(urls[u], names[u][n], good[g], err, sizeof err);
                /* a false skip_signature may fail later for want of credentials (auth),
                 * never as a bad option */
                CHECK(rc == 0 || rc == STORE_E_AUTH, "%s %s=%s: %d %s", urls[u], names[u][n],
                      good[g], rc, err);
            }
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                int rc = open_with(urls[u], names[u][n], bad[b], err, sizeof err);
                CHECK(rc == STORE_E_CONFIG && strstr(err, "true or false"), "%s %s=%s: %d %s",
                      urls[u], names[u][n], bad[b], rc, err);
            }
        }
        int rc = open_with(urls[u], "no_such_option", "1", err, sizeof err);
        CHECK(rc == STORE_E_CONFIG && strstr(err, "unknown obstore_config key 'no_such_option'"),
              "%s: %s", urls[u], err);
        rc = open_with(urls[u], "allow_invalid_certificates", "true", err, sizeof err);
        CHECK(rc == STORE_E_CONFIG, "%s: %s", urls[u], err);
    }
    /* HTTP has no anonymous switch to make, but the same unknown-key answer */
    int rc = open_with("http://127.0.0.1:9/x", "skip_signature", "true", err, sizeof err);
    CHECK(rc == STORE_E_CONFIG && strstr(err, "unknown obstore_config key"), "%s", err);
    rc = open_with("http://127.0.0.1:9/x", "user_agent", "me", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    /* a service principal without its companions is a config error naming them */
    rc = open_with("az://container/p", "client_secret", "x", err, sizeof err);
    CHECK(rc == STORE_E_CONFIG && strstr(err, "client_id") && strstr(err, "tenant_id"), "%d %s", rc,
          err);
    /* a bad boolean from the environment is refused, naming the option */
    setenv("GOOGLE_SKIP_SIGNATURE", "perhaps", 1);
    rc = open_with("gs://bucket/p", NULL, NULL, err, sizeof err);
    CHECK(rc == STORE_E_CONFIG && strstr(err, "skip_signature"), "%s", err);
    unsetenv("GOOGLE_SKIP_SIGNATURE");
    unsetenv("AZURE_STORAGE_ACCOUNT_NAME");
}

static void test_secret(void) {
    CHECK(store_option_is_secret("s3://b", "secret_access_key"));
    CHECK(store_option_is_secret("s3a://b/p", "AWS_SECRET_ACCESS_KEY"));
    CHECK(store_option_is_secret("s3://b", "session_token"));
    CHECK(store_option_is_secret("s3://b", "aws_token"));
    CHECK(!store_option_is_secret("s3://b", "region"));
    CHECK(!store_option_is_secret("s3://b", "skip_signature"));
    CHECK(store_option_is_secret("az://c", "account_key"));
    CHECK(store_option_is_secret("az://c", "azure_storage_sas_token"));
    CHECK(store_option_is_secret("https://acct.blob.core.windows.net/c", "sas_key"));
    CHECK(store_option_is_secret("abfss://c@acct.dfs.core.windows.net/", "bearer_token"));
    CHECK(!store_option_is_secret("az://c", "account_name"));
    CHECK(store_option_is_secret("gs://b", "service_account_key"));
    CHECK(store_option_is_secret("gs://b", "google_bearer_token"));
    CHECK(!store_option_is_secret("gs://b", "service_account"));
    CHECK(!store_option_is_secret("https://example.com/x", "user_agent"));
    CHECK(!store_option_is_secret("/local/dir", "secret_access_key"));
    CHECK(!store_option_is_secret("s3://b", "not_an_option"));
    CHECK(!store_option_is_secret(NULL, "x") && !store_option_is_secret("s3://b", NULL));
}

/* obstore's https S3 / R2 / GCS URL forms select those backends (issue 14): the store's
 * display URL is the backend's own; options the URL implies yield to given ones. */
static void test_https_aliases(void) {
    static const struct {
        const char *url, *want;
    } ok[] = {
        {"https://s3.us-west-2.amazonaws.com/sentinel-cogs/a/b", "s3://sentinel-cogs/a/b"},
        {"https://sentinel-cogs.s3.us-west-2.amazonaws.com/a%20b/c/", "s3://sentinel-cogs/a b/c"},
        {"https://my.dotted.bucket.s3.eu-west-1.amazonaws.com", "s3://my.dotted.bucket"},
        {"https://b.s3.amazonaws.com/p", "s3://b/p"},
        {"https://s3.amazonaws.com/b", "s3://b"},
        {"https://acc.r2.cloudflarestorage.com/bkt/x", "s3://bkt/x"},
        {"https://storage.googleapis.com/gbkt/dir", "gs://gbkt/dir"},
        {"https://example.com/data", "https://example.com/data"},
        /* someone's own server on a port: plain HTTP, as for object_store's users */
        {"https://s3.us-west-2.amazonaws.com:8443/b", "https://s3.us-west-2.amazonaws.com:8443/b"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        bool gs = strstr(ok[i].url, "googleapis") != NULL;
        bool http = strstr(ok[i].want, "https://") == ok[i].want;
        store_kv kv[] = {{gs ? "bearer_token" : "skip_signature", gs ? "t" : "true"},
                         {"region", "ap-south-1"}}; /* given: wins over the URL's */
        store_options o = STORE_OPTIONS_INIT;
        o.kv = kv;
        o.n_kv = http ? 0 : gs ? 1 : 2;
        store *s = NULL;
        char err[256] = "";
        int rc = store_open(&s, &loop, ok[i].url, &o, err, sizeof err);
        CHECK(rc == 0, "%s: %s", ok[i].url, err);
        if (s) {
            CHECK(!strcmp(store_url(s), ok[i].want), "%s: %s", ok[i].url, store_url(s));
            store_close(s);
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    char err[256];
    CHECK(open_with("https://s3.us-west-2.amazonaws.com/", "skip_signature", "true", err,
                    sizeof err) == STORE_E_CONFIG &&
              strstr(err, "no bucket"),
          "%s", err);
    CHECK(open_with("https://b.s3.us-west-2.amazonaws.com/k?x-id=1", "skip_signature", "true", err,
                    sizeof err) == STORE_E_CONFIG &&
              strstr(err, "query"),
          "%s", err);
    /* the option tables follow the URL: S3's secrets and ignored keys */
    CHECK(store_option_is_secret("https://b.s3.us-east-1.amazonaws.com", "secret_access_key"));
    CHECK(store_option_is_ignored("https://s3.us-east-1.amazonaws.com/b", "conditional_put"));
    CHECK(store_option_is_secret("https://storage.googleapis.com/b", "service_account_key"));
    CHECK(!store_option_is_ignored("gs://b", "allow_http") &&
          !store_option_is_ignored("az://c", "allow_http") &&
          store_option_is_ignored("az://c", "disable_tagging"));
}

/* ---- the one lifecycle: holds, one close path, deferred destroy (a fake backend with no
 * engine, whose reads wait in a queue of one until the test or close finishes them) ---- */
typedef struct fake_store {
    remote_store rs;
    remote_read *waiting;
    int cancels, closeds;
} fake_store;
static int destroyed, read_freed, cb_calls, cb_status;
static bool close_in_cb;

static void fake_cancel(remote_store *rs) {
    fake_store *f = (fake_store *)rs;
    f->cancels++;
    if (f->waiting) {
        remote_read *rd = f->waiting;
        f->waiting = NULL;
        remote_read_finish(rd, STORE_E_CANCELED);
    }
}
static void fake_closed(remote_store *rs) { ((fake_store *)rs)->closeds++; }
static void fake_destroy(remote_store *rs) {
    destroyed++;
    free(rs);
}
static int fake_submit(remote_read *rd) {
    ((fake_store *)rd->rs)->waiting = rd;
    return 0;
}
static void fake_read_free(remote_read *rd) {
    read_freed++;
    free(rd);
}
static const remote_ops fake_ops = {.cancel = fake_cancel,
                                    .closed = fake_closed,
                                    .destroy = fake_destroy,
                                    .read_submit = fake_submit,
                                    .read_free = fake_read_free};
static const store_vtable fake_vt = {remote_close, NULL, NULL, NULL, NULL, NULL, NULL, false};

static void fake_cb(store_get_req *req, int status) {
    cb_calls++;
    cb_status = status;
    if (close_in_cb)
        store_close(req->data); /* the store must outlive this callback */
}

static fake_store *fake_new(uv_loop_t *loop) {
    fake_store *f = calloc(1, sizeof *f);
    remote_store_init(&f->rs, &fake_vt, &fake_ops, loop);
    return f;
}

static int fake_read(fake_store *f, store_get_req *req, uint8_t *buf) {
    memset(req, 0, sizeof *req);
    req->key = "k";
    req->length = 4;
    req->buf = buf;
    req->cb = fake_cb;
    req->data = &f->rs.base;
    remote_read *rd = calloc(1, sizeof *rd);
    remote_read_init(rd, &f->rs, req, "http://x/k", NULL);
    return remote_read_start(rd);
}

static void test_lifecycle(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint8_t buf[4];
    store_get_req req;

    /* nothing in flight: close destroys at once, hooks once each */
    destroyed = 0;
    fake_store *f = fake_new(&loop);
    store_close(&f->rs.base);
    CHECK(destroyed == 1);

    /* a waiting read: close finishes it with canceled, exactly once, then destroys */
    destroyed = read_freed = cb_calls = 0;
    close_in_cb = false;
    f = fake_new(&loop);
    CHECK(fake_read(f, &req, buf) == 0 && f->rs.in_flight == 1 && req.priv);
    store_close(&f->rs.base);
    CHECK(cb_calls == 1 && cb_status == STORE_E_CANCELED && read_freed == 1 && !req.priv);
    CHECK(destroyed == 1);

    /* a callback that closes the store: hooks run, destroy waits for the callback's end */
    destroyed = read_freed = cb_calls = 0;
    close_in_cb = true;
    f = fake_new(&loop);
    CHECK(fake_read(f, &req, buf) == 0);
    remote_read *rd = f->waiting;
    f->waiting = NULL;
    remote_hold(&f->rs); /* watch the hooks before the last release */
    remote_read_finish(rd, STORE_OK);
    CHECK(cb_calls == 1 && cb_status == STORE_OK && f->cancels == 1 && f->closeds == 1);
    CHECK(destroyed == 0 && f->rs.closing && f->rs.in_flight == 1);
    store_close(&f->rs.base); /* a second close does nothing */
    CHECK(f->cancels == 1 && destroyed == 0);
    remote_release(&f->rs);
    CHECK(destroyed == 1 && cb_calls == 1);

    /* a closing store refuses new reads without a callback */
    destroyed = cb_calls = 0;
    close_in_cb = false;
    f = fake_new(&loop);
    remote_hold(&f->rs);
    store_close(&f->rs.base);
    memset(&req, 0, sizeof req);
    req.key = "k";
    req.length = 4;
    req.buf = buf;
    req.cb = fake_cb;
    CHECK(remote_get_begin(f->rs.closing, &req) == STORE_E_CANCELED && cb_calls == 0);
    remote_release(&f->rs);
    CHECK(destroyed == 1);
    uv_loop_close(&loop);
}

int main(int argc, char **argv) {
    (void)argc;
    /* no credentials from the machine running the test */
    static const char *const clear[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",          "AWS_SKIP_SIGNATURE",
        "AWS_PROFILE",       "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_SKIP_SIGNATURE"};
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++)
        unsetenv(clear[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("HOME", "/nonexistent", 1);
    test_status_table();
    test_skip_signature();
    test_secret();
    test_https_aliases();
    test_lifecycle();
    return td_test_report(argv[0]);
}
