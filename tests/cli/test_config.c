/* test_config.c - the YAML config loader: defaults, every validation rule's message,
 * suggestions, type errors, secret masking, suffix matching.
 * argv[1]: tests/cli/configs, argv[2] (optional): examples/local.yaml */
#include "config.h"
#include "td_test.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE "store:\n  name: data\n"

typedef struct bad_case {
    const char *yaml;
    const char *frag[4]; /* all must occur in the message */
} bad_case;

static const bad_case bad[] = {
    /* the original's rules */
    {BASE "concurrency:\n  n_consumers: 20\n  list_chunk_size: 10\n  max_buffer_size: 20\n"
          "  write_chunk_size: 10\n",
     {"c.yaml:4:16: ",
      "concurrency.n_consumers (20) must be at most concurrency.list_chunk_size (10)"}},
    {BASE "concurrency:\n  max_buffer_size: 15000\n",
     {"c.yaml:4:20: ", "concurrency.max_buffer_size (15000) must be a multiple of "
                       "concurrency.list_chunk_size (10000)"}},
    {BASE "concurrency:\n  max_buffer_size: 5000\n  write_chunk_size: 5000\n",
     {"concurrency.max_buffer_size (5000) must be at least concurrency.list_chunk_size (10000)"}},
    {BASE "concurrency:\n  write_chunk_size: 5000\n",
     {"concurrency.write_chunk_size (5000) must be at least concurrency.list_chunk_size (10000)"}},
    {BASE "concurrency:\n  max_buffer_size: 50000\n",
     {"concurrency.write_chunk_size (100000) must be at most concurrency.max_buffer_size (50000)"}},
    {BASE "concurrency:\n  n_consumers: 0\n",
     {"c.yaml:4:16: ", "n_consumers must be positive, got 0"}},
    {BASE "concurrency:\n  list_chunk_size: -5\n",
     {"4:20", "list_chunk_size must be positive, got -5"}},
    {BASE "concurrency:\n  n_consumers: \"1000\"\n",
     {"4:16", "n_consumers must be an integer, got the quoted string \"1000\""}},
    {BASE "concurrency:\n  n_consumers: many\n", {"n_consumers must be an integer, got 'many'"}},
    {BASE "concurrency:\n  n_consumers: 1.5\n", {"n_consumers must be an integer, got '1.5'"}},
    {BASE "concurrency:\n  n_consumers: true\n", {"must be an integer, got the boolean 'true'"}},
    {BASE "concurrency:\n  n_consumers:\n", {"must be an integer, got null"}},
    {BASE "concurrency:\n  n_consumers: [1]\n", {"must be an integer, got a list"}},
    {BASE "concurrency:\n  max_buffer_size: 18446744073709551616\n",
     {"max_buffer_size is too large: 18446744073709551616 (at most 100000000)"}},
    {BASE "concurrency:\n  n_consumers: 100001\n", {"n_consumers is too large", "at most 100000"}},
    {BASE "concurrency:\n  threads: 0\n", {"4:12", "concurrency.threads must be positive, got 0"}},
    {BASE "concurrency:\n  threads: 257\n", {"concurrency.threads is too large", "at most 256"}},
    /* unknown keys and suggestions */
    {BASE "concurrency:\n  list_chunk_szie: 5\n",
     {"c.yaml:4:3: ", "unknown key 'list_chunk_szie' in 'concurrency'",
      "did you mean 'list_chunk_size'?"}},
    {BASE "concurrency:\n  n_consumer: 1\n", {"'n_consumer'", "did you mean 'n_consumers'?"}},
    {BASE "concurency:\n  n_consumers: 1\n", {"3:1", "did you mean 'concurrency'?"}},
    {BASE "  prefix: [a]\n", {"3:3", "in 'store'", "did you mean 'prefixes'?"}},
    {BASE "  zzzzzzzzzzzzz: 1\n",
     {"unknown key 'zzzzzzzzzzzzz'", "valid keys: name, prefixes, obstore_config"}},
    {BASE "n_consumers: 3\n", {"3:1", "indented under 'concurrency:'"}},
    {BASE "output:\n  compresion: zstd\n", {"did you mean 'compression'?"}},
    {BASE "output:\n  compression: zstdd\n",
     {"unknown compression 'zstdd'", "did you mean 'zstd'?"}},
    {BASE "output:\n  zstd_level: 23\n", {"output.zstd_level is too large", "at most 22"}},
    {BASE "output:\n  row_group_size: 200000\n",
     {"output.row_group_size (200000) must be at most concurrency.write_chunk_size (100000)"}},
    {BASE "fetch:\n  prefetch_bytes: 8\n", {"fetch.prefetch_bytes must be at least 16, got 8"}},
    {BASE "fetch:\n  prefetch_bytes: 65536\n  max_header_bytes: 32768\n",
     {"fetch.prefetch_bytes (65536) must be at most fetch.max_header_bytes (32768)"}},
    {BASE "fetch:\n  suffixes: {a: 1}\n",
     {"fetch.suffixes must be a list of strings, got a mapping"}},
    {BASE "fetch:\n  suffixes: ['.tif', ~]\n", {"fetch.suffixes[1] is empty"}},
    {BASE "network:\n  connect_timeout: 0\n", {"network.connect_timeout must be positive"}},
    {BASE "network:\n  request_timeout: -1\n", {"network.request_timeout must be positive"}},
    {BASE "network:\n  retry_max_time: soon\n", {"retry_max_time must be a number of seconds"}},
    {BASE "network:\n  connect_timeout: 100000\n",
     {"connect_timeout is too large", "86400 seconds"}},
    {BASE "network:\n  max_attempts: 0\n", {"network.max_attempts must be positive"}},
    {BASE "network:\n  ca_bundle: [a]\n", {"network.ca_bundle must be a string, got a list"}},
    {BASE "network:\n  engine: libcurl\n", {"network.engine wants auto or curl, not 'libcurl'"}},
    /* structure */
    {"", {"c.yaml: the config is empty"}},
    {"# only a comment\n", {"the config is empty"}},
    {"- a\n- b\n", {"c.yaml:1:1: ", "must be a mapping", "got a list"}},
    {"store:\n  prefixes: [a]\n", {"c.yaml: store.name is missing"}},
    {"concurrency:\n  n_consumers: 1\n", {"the 'store' section is missing"}},
    {"store:\n  name:\n", {"2:8", "store.name is empty"}},
    {"store:\n  name: ''\n", {"store.name is empty"}},
    {"store: s3://bucket\n", {"1:8", "'store' must be a mapping of keys, got a string"}},
    {BASE "  prefix_mode: bytes\n", {"store.prefix_mode must be segments", "or raw"}},
    {BASE "fetch:\n  suffix_case: upper\n", {"fetch.suffix_case must be insensitive", "sensitive"}},
    {BASE "fetch:\n  ifds: 0\n", {"c.yaml:4:9: ", "fetch.ifds must be all", "or first"}},
    {BASE "fetch:\n  ifds: [first]\n", {"fetch.ifds must be all", "or first"}},
    {BASE "output:\n  footprints: maybe\n",
     {"c.yaml:4:15: ", "output.footprints must be true", "or false"}},
    {BASE "output:\n  footprints: 'false'\n", {"output.footprints must be true"}},
    {BASE "output:\n  footprint: false\n", {"did you mean 'footprints'?"}},
    {BASE "output:\n  list_replay: sometimes\n",
     {"c.yaml:4:16: ", "output.list_replay must be true", "or false"}},
    {BASE "  prefixes: [[a]]\n", {"store.prefixes[0] must be a string, got a list"}},
    {BASE "  obstore_config:\n    a:\n      b: 1\n",
     {"5:7", "store.obstore_config.a must be a single value", "got a mapping"}},
    {BASE "  obstore_config:\n    a: [1]\n", {"store.obstore_config.a must be a single value"}},
    {BASE "  obstore_config: yes\n", {"store.obstore_config must be a mapping"}},
    {BASE "  obstore_config:\n    region:\n", {"store.obstore_config.region has no value"}},
    {BASE "  name: again\n", {"3:3", "duplicate key 'name' in 'store' (first at line 2)"}},
    {BASE "  obstore_config: {a: 1, a: 2}\n", {"duplicate key 'a'"}},
    {BASE "  prefixes: [a\n", {"YAML syntax error"}},
    {"store:\n  name: x\n bad: 1\n", {"c.yaml:3:", "YAML syntax error"}},
    {"store:\n\tname: x\n", {"c.yaml:2:1: ", "YAML syntax error", "tab"}},
    {BASE "---\nstore:\n  name: y\n", {"4:1", "a second YAML document"}},
    {"store: {name: *nope}\n", {"YAML syntax error", "undefined alias"}},
};

static bool contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static void test_bad(void) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        td_config c;
        char err[1024];
        td_config_defaults(&c);
        int rc = td_config_load_string(&c, bad[i].yaml, "c.yaml", err, sizeof err);
        CHECK(rc == -1, "case %zu accepted:\n%s", i, bad[i].yaml);
        if (rc == -1) {
            for (int f = 0; f < 4 && bad[i].frag[f]; f++)
                CHECK(contains(err, bad[i].frag[f]), "case %zu: '%s' not in message: %s", i,
                      bad[i].frag[f], err);
            /* every message names the file */
            CHECK(!strncmp(err, "c.yaml", 6), "case %zu: %s", i, err);
        }
        /* failure leaves the defaults, and free is safe */
        CHECK(c.store_name == NULL && c.n_consumers == 1000 && c.n_prefixes == 1, "case %zu", i);
        td_config_free(&c);
    }
}

/* prefixes: [] and null are the whole store (the original's `if not prefixes`); prefixes get
 * obstore's segment form unless store.prefix_mode: raw (issue 14). */
static void test_prefixes(void) {
    static const struct {
        const char *yaml;
        size_t n;
        const char *first, *second;
    } cases[] = {
        {"store:\n  name: /d\n  prefixes: []\n", 1, "", NULL},
        {"store:\n  name: /d\n  prefixes: null\n", 1, "", NULL},
        {"store:\n  name: /d\n  prefixes:\n", 1, "", NULL},
        {"store:\n  name: /d\n  prefixes: [a/b, \"/x//y/\"]\n", 2, "a/b/", "x/y/"},
        {"store:\n  name: /d\n  prefixes: [\"\", /]\n", 2, "", ""},
        {"store:\n  name: /d\n  prefixes: [10/C]\n  prefix_mode: segments\n", 1, "10/C/", NULL},
        {"store:\n  name: /d\n  prefix_mode: raw\n  prefixes: [10/C, 2024-0]\n", 2, "10/C",
         "2024-0"},
        /* [] is not "given": it combines with a key list */
        {"store:\n  name: /d\n  prefixes: []\n  keys_from: k.txt\n", 1, "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        td_config c;
        char err[512] = "";
        td_config_defaults(&c);
        int rc = td_config_load_string(&c, cases[i].yaml, "p.yaml", err, sizeof err);
        CHECK(rc == 0, "case %zu: %s", i, err);
        if (rc == 0) {
            CHECK(c.n_prefixes == cases[i].n, "case %zu: %zu prefixes", i, c.n_prefixes);
            CHECK(c.n_prefixes >= 1 && !strcmp(c.prefixes[0], cases[i].first), "case %zu: '%s'", i,
                  c.prefixes[0]);
            if (cases[i].second)
                CHECK(c.n_prefixes >= 2 && !strcmp(c.prefixes[1], cases[i].second),
                      "case %zu: second '%s'", i, c.n_prefixes >= 2 ? c.prefixes[1] : "");
        }
        td_config_free(&c);
    }
}

static bool has_warning(const td_config *c, const char *a, const char *b) {
    for (size_t i = 0; i < c->n_warnings; i++)
        if (strstr(c->warnings[i], a) && (!b || strstr(c->warnings[i], b)))
            return true;
    return false;
}

/* obstore's client_options / retry_config (obstore 0.6, object_store 0.12 names): mapped
 * onto the network settings, warnings for what is accepted but not acted on (issue 14). */
static void test_client_options(void) {
    const char *y = "store:\n  name: s3://b\n  obstore_config:\n"
                    "    region: eu-west-1\n    conditional_put: etag\n    timeout: 45s\n"
                    "    client_options:\n      connect_timeout: 1m 30s\n"
                    "      allow_invalid_certificates: true\n      user_agent: ua/1\n"
                    "      proxy_url: http://proxy:3128\n      proxy_excludes: a.example,b\n"
                    "      pool_max_idle_per_host: 4\n      http1_only: true\n"
                    "      allow_http: true\n"
                    "    retry_config:\n      max_retries: 3\n      retry_timeout: 2.5\n"
                    "      backoff: {init_backoff: 50ms, max_backoff: 2s, base: 2}\n";
    td_config c;
    char err[512] = "";
    td_config_defaults(&c);
    int rc = td_config_load_string(&c, y, "co.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(c.request_timeout_ms == 45000 && c.connect_timeout_ms == 90000, "%u %u",
              c.request_timeout_ms, c.connect_timeout_ms);
        CHECK(c.max_attempts == 4 && c.retry_max_ms == 2500, "%u %u", c.max_attempts,
              c.retry_max_ms);
        CHECK(c.retry_base_ms == 50 && c.retry_cap_ms == 2000, "%u %u", c.retry_base_ms,
              c.retry_cap_ms);
        CHECK(c.insecure_tls && !strcmp(c.user_agent, "ua/1") &&
              !strcmp(c.proxy_url, "http://proxy:3128") && !strcmp(c.no_proxy, "a.example,b"));
        /* the store gets only its own options (allow_http: S3 acts on it) */
        CHECK(c.n_store_kv == 3 && !strcmp(c.store_kv[0].key, "region") &&
                  !strcmp(c.store_kv[1].key, "conditional_put") &&
                  !strcmp(c.store_kv[2].key, "allow_http") && !strcmp(c.store_kv[2].value, "true"),
              "%zu store options", c.n_store_kv);
        CHECK(has_warning(&c, "allow_invalid_certificates", "NOT verified"));
        CHECK(has_warning(&c, "pool_max_idle_per_host", "not acted on"));
        CHECK(has_warning(&c, "conditional_put", "no effect"));
        CHECK(!has_warning(&c, "http1_only", NULL) && !has_warning(&c, "timeout", NULL) &&
              !has_warning(&c, "base", NULL) && !has_warning(&c, "region", NULL));
        CHECK(c.n_warnings == 3, "%zu warnings", c.n_warnings);
        td_pipeline_options o;
        td_config_to_options(&c, &o);
        CHECK(o.net.insecure_tls && o.net.retry_base_ms == 50 && o.net.max_attempts == 4 &&
              !strcmp(o.net.user_agent, "ua/1"));
    }
    td_config_free(&c);

    /* network keys win, with a warning; base other than 2 is said */
    y = "store:\n  name: /d\n  obstore_config:\n    client_options: {timeout: 3s}\n"
        "    retry_config: {max_retries: 0, backoff: {base: 3}}\n"
        "network:\n  request_timeout: 7\n";
    td_config_defaults(&c);
    rc = td_config_load_string(&c, y, "co.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(c.request_timeout_ms == 7000 && c.max_attempts == 1, "%u %u", c.request_timeout_ms,
              c.max_attempts);
        CHECK(has_warning(&c, "timeout", "network.request_timeout is set"));
        CHECK(has_warning(&c, "base: 3", "not acted on"));
    }
    td_config_free(&c);

    static const struct {
        const char *yaml, *frag1, *frag2;
    } bad_co[] = {
        {"store:\n  name: /d\n  obstore_config:\n    client_options: {timeot: 3s}\n",
         "unknown key 'timeot'", "did you mean 'timeout'?"},
        {"store:\n  name: /d\n  obstore_config:\n    client_options: {timeout: soon}\n",
         "client_options.timeout must be a duration", "\"30s\""},
        {"store:\n  name: /d\n  obstore_config:\n    retry_config: {max_retry: 3}\n",
         "unknown key 'max_retry'", "max_retries"},
        {"store:\n  name: /d\n  obstore_config:\n    retry_config: {max_retries: -1}\n",
         "retry_config.max_retries", NULL},
        {"store:\n  name: /d\n  obstore_config:\n    client_options: [a]\n",
         "client_options must be a mapping", NULL},
    };
    for (size_t i = 0; i < sizeof bad_co / sizeof *bad_co; i++) {
        td_config_defaults(&c);
        rc = td_config_load_string(&c, bad_co[i].yaml, "co.yaml", err, sizeof err);
        CHECK(rc == -1 && strstr(err, bad_co[i].frag1) &&
                  (!bad_co[i].frag2 || strstr(err, bad_co[i].frag2)),
              "bad %zu: %s", i, err);
        td_config_free(&c);
    }
}

static void test_original(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/original.yaml", dir);
    td_config c;
    char err[1024] = "";
    td_config_defaults(&c);
    int rc = td_config_load(&c, path, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc)
        return;
    CHECK(!strcmp(c.store_name, "s3://sentinel-cogs"), "%s", c.store_name);
    CHECK(c.n_prefixes == 1 && !strcmp(c.prefixes[0], "sentinel-s2-l2a-cogs/1/C/CV/2018/10/"),
          "prefixes");
    CHECK(c.n_store_kv == 2, "%zu", c.n_store_kv);
    CHECK(!strcmp(c.store_kv[0].key, "skip_signature") && !strcmp(c.store_kv[0].value, "true"),
          "kv0");
    CHECK(!strcmp(c.store_kv[1].key, "region") && !strcmp(c.store_kv[1].value, "us-west-2"), "kv1");
    CHECK(c.n_consumers == 1000 && c.list_chunk_size == 10000 && c.max_buffer_size == 1000000 &&
              c.write_chunk_size == 100000,
          "concurrency");
    /* nothing secret: the source is the file verbatim */
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    CHECK(!strcmp(buf, c.source_text), "source_text differs:\n%s", c.source_text);
    td_config_free(&c);

    /* the same with all concurrency keys absent: the original's defaults */
    td_config_defaults(&c);
    rc = td_config_load_string(&c, "store:\n  name: s3://sentinel-cogs\n", "d.yaml", err,
                               sizeof err);
    CHECK(rc == 0, "%s", err);
    CHECK(c.n_consumers == 1000 && c.list_chunk_size == 10000 && c.max_buffer_size == 1000000 &&
              c.write_chunk_size == 100000 && c.n_prefixes == 1 && !strcmp(c.prefixes[0], "") &&
              c.n_store_kv == 0,
          "defaults");
    CHECK(c.prefetch_bytes == 16384 && c.max_header_bytes == 16777216 && c.n_suffixes == 2 &&
              c.compression == PQ_CODEC_SNAPPY && c.zstd_level == 3 && c.row_group_size == 10000,
          "own defaults");
    CHECK(c.connect_timeout_ms == 10000 && c.request_timeout_ms == 60000 && c.max_attempts == 6 &&
              c.retry_max_ms == 120000 && c.ca_bundle == NULL && c.net_engine == 0,
          "network defaults");
    td_config_free(&c);

    /* every key spelled out with its default gives the same as the defaults */
    snprintf(path, sizeof path, "%s/all_keys.yaml", dir);
    td_config d;
    td_config_defaults(&d);
    rc = td_config_load(&c, path, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (!rc) {
        CHECK(!strcmp(c.store_name, "/data/rasters") && c.n_store_kv == 0 && c.n_prefixes == 1 &&
                  !strcmp(c.prefixes[0], "") && c.n_suffixes == 2 &&
                  !strcmp(c.suffixes[0], ".tif") && !strcmp(c.suffixes[1], ".tiff"),
              "all_keys lists");
        CHECK(c.n_consumers == d.n_consumers && c.list_chunk_size == d.list_chunk_size &&
                  c.max_buffer_size == d.max_buffer_size &&
                  c.write_chunk_size == d.write_chunk_size &&
                  c.prefetch_bytes == d.prefetch_bytes &&
                  c.max_header_bytes == d.max_header_bytes && c.compression == d.compression &&
                  c.zstd_level == d.zstd_level && c.row_group_size == d.row_group_size &&
                  c.connect_timeout_ms == d.connect_timeout_ms &&
                  c.request_timeout_ms == d.request_timeout_ms &&
                  c.max_attempts == d.max_attempts && c.retry_max_ms == d.retry_max_ms &&
                  c.ca_bundle == NULL && c.first_ifd_only == d.first_ifd_only &&
                  c.no_footprints == d.no_footprints && c.no_list_replay == d.no_list_replay,
              "all_keys values differ from the defaults");
    }
    td_config_free(&c);

    snprintf(path, sizeof path, "%s/does-not-exist.yaml", dir);
    CHECK(td_config_load(&c, path, err, sizeof err) == -1 && contains(err, "does-not-exist.yaml") &&
              contains(err, "cannot open"),
          "%s", err);
    td_config_free(&c);
}

static void test_full(void) {
    const char *y = "store:\n"
                    "  name: file:///data\n"
                    "  prefixes: only/this/\n"
                    "  obstore_config: {t: 30, allow_http: yes, n: 1.5}\n"
                    "concurrency:\n"
                    "  n_consumers: 4\n"
                    "  threads: 3\n"
                    "  list_chunk_size: 10\n"
                    "  max_buffer_size: 1_000\n"
                    "  write_chunk_size: 50\n"
                    "fetch:\n"
                    "  prefetch_bytes: 4096\n"
                    "  max_header_bytes: 65536\n"
                    "  suffixes: [.TIF, .gtiff]\n"
                    "output:\n"
                    "  compression: ZSTD\n"
                    "  zstd_level: 9\n"
                    "  row_group_size: 25\n"
                    "network:\n"
                    "  connect_timeout: 2.5\n"
                    "  request_timeout: 30\n"
                    "  max_attempts: 2\n"
                    "  retry_max_time: 0.25\n"
                    "  ca_bundle: /etc/ca.pem\n"
                    "  engine: curl\n";
    td_config c;
    char err[1024] = "";
    td_config_defaults(&c);
    int rc = td_config_load_string(&c, y, "full.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc)
        return;
    CHECK(!strcmp(c.store_name, "file:///data"), "name");
    CHECK(c.n_prefixes == 1 && !strcmp(c.prefixes[0], "only/this/"), "single-string prefixes");
    CHECK(c.n_store_kv == 3 && !strcmp(c.store_kv[0].value, "30") &&
              !strcmp(c.store_kv[1].value, "true") && !strcmp(c.store_kv[2].value, "1.5"),
          "obstore values");
    CHECK(c.n_consumers == 4 && c.list_chunk_size == 10 && c.max_buffer_size == 1000 &&
              c.write_chunk_size == 50,
          "concurrency");
    {
        td_pipeline_options po, d;
        td_pipeline_options_init(&po);
        td_pipeline_options_init(&d);
        td_config_to_options(&c, &po);
        CHECK(c.threads == 3 && po.concurrency.threads == 3, "threads %u", c.threads);
        /* the default: the CPUs the process may use, at most 16 */
        unsigned cpus = ut_cpus_available();
        CHECK(d.concurrency.threads >= 1 && d.concurrency.threads <= 16 &&
                  d.concurrency.threads == (cpus < 16 ? cpus : 16),
              "default threads %u, %u CPUs", d.concurrency.threads, cpus);
    }
    CHECK(c.prefetch_bytes == 4096 && c.max_header_bytes == 65536, "fetch");
    CHECK(c.compression == PQ_CODEC_ZSTD && c.zstd_level == 9 && c.row_group_size == 25, "output");
    CHECK(c.connect_timeout_ms == 2500 && c.request_timeout_ms == 30000 && c.max_attempts == 2 &&
              c.retry_max_ms == 250 && !strcmp(c.ca_bundle, "/etc/ca.pem") && c.net_engine == 1,
          "network");
    CHECK(td_config_is_tiff(&c, "a/b.tif", 7), "upper-case suffix matches lower-case key");
    CHECK(td_config_is_tiff(&c, "x.GTIFF", 7), "case-insensitive");
    CHECK(!td_config_is_tiff(&c, "x.tiff", 6), "not in the list");
    CHECK(!td_config_is_tiff(&c, "tif", 3), "shorter than the suffix");
    td_config_free(&c);

    /* default suffixes; [] = every key; sections left empty; row groups follow small files */
    td_config_defaults(&c);
    CHECK(td_config_is_tiff(&c, "a.TIFF", 6) && td_config_is_tiff(&c, "a.tif", 5) &&
              !td_config_is_tiff(&c, "a.tif.aux.xml", 13) && !td_config_is_tiff(&c, "", 0),
          "default suffixes");
    rc = td_config_load_string(&c,
                               "store: {name: d}\nfetch:\n  suffixes: []\noutput:\nnetwork:\n"
                               "concurrency: {n_consumers: 2, list_chunk_size: 5, "
                               "max_buffer_size: 10, write_chunk_size: 10}\n",
                               "e.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    CHECK(c.n_suffixes == 0 && td_config_is_tiff(&c, "README.txt", 10), "[] = every key");
    CHECK(c.row_group_size == 10, "row_group_size clamped to write_chunk_size: %llu",
          (unsigned long long)c.row_group_size);
    td_config_free(&c);

    td_config_defaults(&c);
    rc = td_config_load_string(&c, "store:\n  name: d\noutput: {compression: none}\n", "e.yaml",
                               err, sizeof err);
    CHECK(rc == 0 && c.compression == PQ_CODEC_NONE, "%s", err);
    td_config_free(&c);
}

static void test_masks(void) {
    const char *y = "store:\n"
                    "  name: \"https://user:hunter2@example.com/bucket\"\n"
                    "  obstore_config:\n"
                    "    region: eu-west-1\n"
                    "    note: \"h\xc3\xa9llo w\xc3\xb6rld\"\n"
                    "    aws_secret_access_key: \"wJalrXUtnFEMI/K7MDENG\"\n"
                    "    aws_access_key_id: AKIAIOSFODNN7EXAMPLE\n"
                    "    aws_session_token: &tok FwoGZXIvYXdzEJr\n"
                    "    azure_storage_sas_key: 'sv=2021&sig=abc%2F'\n"
                    "    google_service_account_key: |\n"
                    "      {\"private_key\": \"-----BEGIN\"}\n"
                    "    client_secret: s3cr3tvalue\n"
                    "    password: pw12\n"
                    "    skip_signature: true\n";
    td_config c;
    char err[1024] = "";
    td_config_defaults(&c);
    int rc = td_config_load_string(&c, y, "m.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc)
        return;
    const char *s = c.source_text;
    static const char *const secrets[] = {"hunter2",         "wJalrXUtnFEMI", "IOSFODNN7EXAMPLE",
                                          "FwoGZXIvYXdzEJr", "sig=abc",       "BEGIN",
                                          "s3cr3tvalue",     "pw12"};
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        CHECK(!contains(s, secrets[i]), "secret '%s' in source_text:\n%s", secrets[i], s);
    CHECK(contains(s, "aws_access_key_id: AKIA***"), "key id keeps 4 chars:\n%s", s);
    CHECK(contains(s, "region: eu-west-1"), "non-secret kept:\n%s", s);
    CHECK(contains(s, "note: \"h\xc3\xa9llo w\xc3\xb6rld\""), "UTF-8 before a mask:\n%s", s);
    CHECK(contains(s, "skip_signature: true"), "skip_signature is not a secret:\n%s", s);
    CHECK(contains(s, "https://***@example.com/bucket"), "URL password:\n%s", s);
    /* the real values are untouched */
    bool found = false;
    for (size_t i = 0; i < c.n_store_kv; i++)
        if (!strcmp(c.store_kv[i].key, "aws_secret_access_key"))
            found = !strcmp(c.store_kv[i].value, "wJalrXUtnFEMI/K7MDENG");
    CHECK(found, "secret value kept in store_kv");
    CHECK(!strcmp(c.store_name, "https://user:hunter2@example.com/bucket"), "name as written");
    /* the masked text is still a valid config that loads */
    td_config c2;
    td_config_defaults(&c2);
    CHECK(td_config_load_string(&c2, s, "masked.yaml", err, sizeof err) == 0, "%s\n%s", err, s);
    td_config_free(&c2);
    td_config_free(&c);

    /* commented-out credentials are masked too, other comments kept */
    td_config_defaults(&c);
    rc = td_config_load_string(&c,
                               "store:\n  name: x # the bucket\n  obstore_config:\n"
                               "    # aws_secret_access_key: OLDSECRET1234\n"
                               "    region: 'a#b' # token=zzzz9999\n#password hunter22\n",
                               "c.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (!rc) {
        CHECK(!contains(c.source_text, "OLDSECRET") && !contains(c.source_text, "zzzz9999") &&
                  !contains(c.source_text, "hunter22"),
              "comment leak:\n%s", c.source_text);
        CHECK(contains(c.source_text, "name: x # the bucket") &&
                  contains(c.source_text, "region: 'a#b' # (masked)\n"),
              "comments:\n%s", c.source_text);
    }
    td_config_free(&c);

    /* CRLF line ends and a BOM */
    td_config_defaults(&c);
    rc = td_config_load_string(&c,
                               "\xEF\xBB\xBFstore:\r\n  name: x\r\n  obstore_config:\r\n"
                               "    n: \"\xc3\xa9\xc3\xa9\"\r\n    secret: abcdef\r\n    z: 1\r\n",
                               "crlf.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (!rc) {
        CHECK(contains(c.source_text, "secret: \"***\"\r\n    z: 1"), "crlf:\n%s", c.source_text);
        CHECK(!contains(c.source_text, "abcdef"), "crlf leak");
    }
    td_config_free(&c);
}

/* Every byte of a full config replaced by a few troublesome ones: the loader must either
 * accept or fail with a message, never crash or leak (run under ASan in CI). */
static void test_mutations(void) {
    const char *y = "store:\n  name: \"https://u:p@h/x\"\n  prefixes: [a, \"b\"]\n"
                    "  obstore_config: {secret: &s abc, x: *s, t: yes}\n"
                    "concurrency:\n  n_consumers: 4\n  list_chunk_size: 10\n"
                    "  max_buffer_size: 20\n  write_chunk_size: 10\n"
                    "fetch: {prefetch_bytes: 64, suffixes: .tif}\n"
                    "network:\n  connect_timeout: 1.5\n  ca_bundle: ~\n";
    static const char repl[] = {'\0', ':',  '-', '[', '{',  '"', '\'',  '&',
                                '*',  '\n', ' ', '#', '\t', '9', '\xc3'};
    size_t n = strlen(y);
    char *buf = malloc(n + 1);
    size_t ok = 0, bad_n = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < sizeof repl; r++) {
            memcpy(buf, y, n + 1);
            buf[i] = repl[r];
            td_config c;
            char err[512];
            td_config_defaults(&c);
            if (td_config_load_string(&c, buf, "mut.yaml", err, sizeof err) == 0) {
                ok++;
                CHECK(c.store_name && c.source_text, "mutation %zu/%zu", i, r);
                for (size_t k = 0; k < c.n_store_kv; k++)
                    if (!strcmp(c.store_kv[k].key, "secret") && strlen(c.store_kv[k].value) > 2)
                        CHECK(!strstr(c.source_text, c.store_kv[k].value), "mutation %zu/%zu:\n%s",
                              i, r, c.source_text);
            } else {
                bad_n++;
                CHECK(!strncmp(err, "mut.yaml", 8) && strlen(err) > 10, "mutation %zu/%zu: %s", i,
                      r, err);
            }
            td_config_free(&c);
        }
    }
    free(buf);
    CHECK(ok > 0 && bad_n > 0, "ok %zu bad %zu", ok, bad_n);
}

/* fetch.ifds, output.footprints and output.list_replay (issues 14/15): the defaults, both
 * values, and what the pipeline is told */
static void test_knobs(void) {
    td_config c;
    td_pipeline_options o;
    char err[512];
    int rc = td_config_load_string(&c, BASE, "c.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    td_config_to_options(&c, &o);
    CHECK(!o.fetch.first_ifd_only && o.output.footprints && !o.output.no_list_replay,
          "defaults: every IFD, footprints, list replay");
    td_config_free(&c);
    rc = td_config_load_string(&c, BASE "output:\n  list_replay: false\n", "c.yaml", err,
                               sizeof err);
    CHECK(rc == 0, "%s", err);
    td_config_to_options(&c, &o);
    CHECK(o.output.no_list_replay && o.output.footprints, "list_replay: false");
    td_config_free(&c);
    rc = td_config_load_string(&c, BASE "fetch:\n  ifds: first\noutput:\n  footprints: false\n",
                               "c.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    td_config_to_options(&c, &o);
    CHECK(o.fetch.first_ifd_only && !o.output.footprints, "ifds: first, footprints: false");
    td_config_free(&c);
    rc = td_config_load_string(&c, BASE "fetch:\n  ifds: all\noutput:\n  footprints: yes\n",
                               "c.yaml", err, sizeof err);
    CHECK(rc == 0, "%s", err);
    td_config_to_options(&c, &o);
    CHECK(!o.fetch.first_ifd_only && o.output.footprints, "ifds: all, footprints: yes");
    td_config_free(&c);
}

static void test_example(const char *path) {
    td_config c;
    char err[1024] = "";
    td_config_defaults(&c);
    int rc = td_config_load(&c, path, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (!rc)
        CHECK(!strcmp(c.store_name, "examples/data"), "%s", c.store_name);
    td_config_free(&c);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_config CONFIGS_DIR [EXAMPLE_YAML]\n");
        return 2;
    }
    test_bad();
    test_prefixes();
    test_client_options();
    test_knobs();
    test_original(argv[1]);
    test_full();
    test_masks();
    test_mutations();
    if (argc > 2)
        test_example(argv[2]);
    if (td_test_failures) {
        fprintf(stderr, "%d failure(s)\n", td_test_failures);
        return 1;
    }
    printf("test_config: all passed\n");
    return 0;
}
