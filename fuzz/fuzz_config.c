/* fuzz_config.c - libFuzzer target for the YAML config loader (src/cli/config.c).
 *
 * The input is a config file's text. td_config_load_string must either fail with a
 * message naming the file and leave the defaults, or succeed with a config whose cross
 * checks hold (the ones docs/config.md states) and whose source_text (what _SUCCESS and the
 * Parquet metadata carry) holds none of the secret obstore values in full. The loaded
 * config is then translated by td_config_to_options, which must take every value over.
 * ASan/UBSan and the leak checker catch the rest.
 *
 * Known slow inputs (deeply nested flow collections, a large config with many secret-looking
 * comments) are cut short by scripts/fuzz.sh's -max_len, not treated here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* Every secret obstore value of 8 bytes or more is masked wherever it appears. */
static bool secret_name(const char *k) {
    char low[256];
    size_t i = 0;
    for (; k[i] && i + 1 < sizeof low; i++)
        low[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] - 'A' + 'a' : k[i]);
    low[i] = 0;
    if (!strcmp(low, "skip_signature") || !strcmp(low, "aws_skip_signature"))
        return false;
    static const char *const pats[] = {"secret", "password", "passwd",    "token",
                                       "sas",    "key",      "credential"};
    for (size_t p = 0; p < sizeof pats / sizeof *pats; p++)
        if (strstr(low, pats[p]))
            return true;
    return false;
}

static void check_loaded(const td_config *c) {
    if (!c->store_name || !c->store_name[0] || !c->source_text)
        fail("loaded without store.name or source text", NULL);
    if (c->n_prefixes == 0 || !c->prefixes)
        fail("no prefix (the default is one empty prefix)", NULL);
    if (c->n_consumers == 0 || c->n_consumers > c->list_chunk_size ||
        c->max_buffer_size < c->list_chunk_size || c->max_buffer_size % c->list_chunk_size ||
        c->write_chunk_size < c->list_chunk_size || c->write_chunk_size > c->max_buffer_size ||
        c->row_group_size == 0 || c->row_group_size > c->write_chunk_size ||
        c->prefetch_bytes > c->max_header_bytes || c->max_attempts == 0)
        fail("a cross check does not hold", c->source_text);
    if (c->keys_from && c->inventory)
        fail("keys_from and inventory both set", NULL);
    for (size_t i = 0; i < c->n_store_kv; i++) {
        const char *k = c->store_kv[i].key, *v = c->store_kv[i].value;
        if (!k || !v)
            fail("an obstore option without key or value", NULL);
        if (secret_name(k) && strlen(v) >= 8 && strstr(c->source_text, v))
            fail("a secret value is in source_text", k);
    }
    td_pipeline_options o;
    td_config_to_options(c, &o);
    if (o.source.store_url != c->store_name || o.output.config_text != c->source_text ||
        o.concurrency.n_consumers != c->n_consumers ||
        o.output.rows_per_file != c->write_chunk_size || o.fetch.n_suffixes != c->n_suffixes ||
        o.net.max_attempts != c->max_attempts || o.source.n_store_kv != c->n_store_kv)
        fail("td_config_to_options dropped a value", NULL);
    (void)td_config_is_tiff(c, "a/b.TIF", 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    td_config c;
    char err[1024];
    err[0] = 0;
    if (td_config_load_string(&c, text, "fuzz.yaml", err, sizeof err) == 0) {
        check_loaded(&c);
    } else {
        if (strncmp(err, "fuzz.yaml", 9) != 0)
            fail("a failure whose message does not name the file", err);
        if (c.store_name || c.source_text || c.store_kv || c.keys_from || c.inventory)
            fail("a failed load left values behind", err);
    }
    td_config_free(&c);
    free(text);
    return 0;
}
