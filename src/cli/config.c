/* config.c - loads and validates the YAML config (libyaml document API).
 *
 * The whole document is loaded into libyaml's node tree first: nodes keep their start
 * marks, so every message can point at line:column, and aliases resolve to the node where
 * the anchor was written (which is what secret masking needs). Validation is strict
 * where the original was lax in ways that would silently do the wrong thing: unknown keys,
 * duplicate keys and quoted numbers are errors rather than ignored or coerced.
 */
#include "config.h"
#include "keysrc.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <sys/stat.h>

#include "util.h"

#define MAX_MAP_KEYS 1000u /* duplicate detection is quadratic; configs have a handful */
/* Values copied out of one config, in bytes. Without aliases they never add up to more than
 * the file (escapes only shrink, "on" -> "true" grows by 2 per option); an alias repeated
 * in a list (prefixes: [*a, *a, ...]) would copy its anchor each time, so a 440 KB file
 * could make 4 GB. Twice the file limit leaves room for ordinary aliases. */
#define MAX_COPIED_BYTES (2u * TD_CONFIG_MAX_FILE_BYTES)

/* The library's defaults (td_pipeline_options_init) are the only ones: a config starts
 * from them. Its default prefix and suffix arrays are static; td_config_free recognises
 * them by pointer and never frees or writes through them. */
static td_pipeline_options lib_defaults(void) {
    td_pipeline_options d;
    td_pipeline_options_init(&d);
    return d;
}
#define default_prefixes (lib_defaults().source.prefixes)
#define default_suffixes (lib_defaults().fetch.suffixes)

void td_config_defaults(td_config *c) {
    td_pipeline_options d = lib_defaults();
    memset(c, 0, sizeof *c);
    c->prefixes = (char **)(uintptr_t)d.source.prefixes;
    c->n_prefixes = d.source.n_prefixes;
    c->n_consumers = d.concurrency.n_consumers;
    c->threads = d.concurrency.threads;
    c->list_chunk_size = d.concurrency.list_chunk_size;
    c->max_buffer_size = d.concurrency.max_buffer_size;
    c->list_parallel = d.concurrency.list_parallel;
    c->list_frontier = d.concurrency.list_frontier;
    c->write_chunk_size = d.output.rows_per_file;
    c->prefetch_bytes = d.fetch.prefetch_bytes;
    c->max_header_bytes = d.fetch.max_header_bytes;
    c->suffixes = (char **)(uintptr_t)d.fetch.suffixes;
    c->n_suffixes = d.fetch.n_suffixes;
    c->compression = d.output.codec;
    c->zstd_level = d.output.zstd_level;
    c->row_group_size = d.output.row_group_size;
    c->part_size = d.output.part_size;
    c->connect_timeout_ms = d.net.connect_timeout_ms;
    c->request_timeout_ms = d.net.request_timeout_ms;
    c->max_attempts = d.net.max_attempts;
    c->retry_max_ms = d.net.retry_max_ms;
}

static void free_strv(char **v, size_t n, const char *const *static_v) {
    if (!v || v == (char **)(uintptr_t)static_v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void td_config_free(td_config *c) {
    if (!c)
        return;
    free(c->store_name);
    free_strv(c->prefixes, c->n_prefixes, default_prefixes);
    free_strv(c->suffixes, c->n_suffixes, default_suffixes);
    for (size_t i = 0; i < c->n_store_kv; i++) {
        free((char *)(uintptr_t)c->store_kv[i].key);
        free((char *)(uintptr_t)c->store_kv[i].value);
    }
    free(c->store_kv);
    for (size_t i = 0; i < c->n_out_kv; i++) {
        free((char *)(uintptr_t)c->out_kv[i].key);
        free((char *)(uintptr_t)c->out_kv[i].value);
    }
    free(c->out_kv);
    free(c->ca_bundle);
    free(c->keys_from);
    free(c->inventory);
    free(c->source_text);
    free(c->user_agent);
    free(c->proxy_url);
    free(c->no_proxy);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    td_config_defaults(c);
}

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch; }

bool td_config_is_tiff(const td_config *c, const char *key, size_t key_len) {
    td_fetch_options f = {
        0, 0, (const char *const *)c->suffixes, c->n_suffixes, c->suffix_case_sensitive, false};
    return td_fetch_is_tiff(&f, key, key_len);
}

void td_config_to_options(const td_config *c, td_pipeline_options *o) {
    td_pipeline_options_init(o);
    o->source.store_url = c->store_name;
    o->source.prefixes = (const char *const *)c->prefixes;
    o->source.n_prefixes = c->n_prefixes;
    o->source.keys_from = c->keys_from;
    o->source.inventory = c->inventory;
    o->source.store_kv = c->store_kv;
    o->source.n_store_kv = c->n_store_kv;
    o->out_store_kv = c->out_kv;
    o->n_out_store_kv = c->n_out_kv;
    o->fetch.prefetch_bytes = c->prefetch_bytes;
    o->fetch.max_header_bytes = c->max_header_bytes;
    o->fetch.suffixes = (const char *const *)c->suffixes;
    o->fetch.n_suffixes = c->n_suffixes;
    o->fetch.suffix_case_sensitive = c->suffix_case_sensitive;
    o->fetch.first_ifd_only = c->first_ifd_only;
    o->output.footprints = !c->no_footprints;
    o->output.no_list_replay = c->no_list_replay;
    o->output.codec = (pq_codec)c->compression;
    o->output.zstd_level = c->zstd_level;
    o->output.row_group_size = c->row_group_size;
    o->output.rows_per_file = c->write_chunk_size;
    o->output.part_size = c->part_size;
    o->output.config_text = c->source_text;
    o->concurrency.n_consumers = c->n_consumers;
    o->concurrency.threads = c->threads;
    o->concurrency.list_chunk_size = c->list_chunk_size;
    o->concurrency.max_buffer_size = c->max_buffer_size;
    o->concurrency.list_parallel = c->list_parallel;
    o->concurrency.list_frontier = c->list_frontier;
    o->net.connect_timeout_ms = c->connect_timeout_ms;
    o->net.request_timeout_ms = c->request_timeout_ms;
    o->net.max_attempts = c->max_attempts;
    o->net.retry_max_ms = c->retry_max_ms;
    o->net.ca_bundle = c->ca_bundle;
    o->net.retry_base_ms = c->retry_base_ms;
    o->net.retry_cap_ms = c->retry_cap_ms;
    o->net.user_agent = c->user_agent;
    o->net.proxy_url = c->proxy_url;
    o->net.no_proxy = c->no_proxy;
    o->net.insecure_tls = c->insecure_tls;
    o->net.engine = c->net_engine;
}

/* ------------------------------------------------------------------------------------ */

enum {
    K_NAME,
    K_PREFIXES,
    K_OBSTORE,
    K_KEYS_FROM,
    K_INVENTORY,
    K_PREFIX_MODE,
    K_SUFFIX_CASE,
    K_NCONS,
    K_THREADS,
    K_LIST,
    K_MAXBUF,
    K_WRITE,
    K_LISTPAR,
    K_FRONTIER,
    K_PREFETCH,
    K_MAXHDR,
    K_SUFFIXES,
    K_COMPRESSION,
    K_ZSTD,
    K_ROWGROUP,
    K_CONNECT,
    K_REQUEST,
    K_ATTEMPTS,
    K_RETRY,
    K_CA,
    K_ENGINE,
    K_SHARDS,
    K_OUT_OBSTORE,
    K_PART_SIZE,
    K_IFDS,
    K_FOOTPRINTS,
    K_LIST_REPLAY,
    K_COUNT
};

typedef enum { F_UINT, F_SECONDS, F_STRING, F_STRLIST, F_OBSTORE, F_CODEC } ftype;

typedef struct field {
    const char *key;
    int id;
    ftype type;
    uint64_t min, max;
    size_t off, width; /* destination in td_config (integers) */
} field;

#define FLD(k, id, t, mn, mx, member) \
    { k, id, t, mn, mx, offsetof(td_config, member), sizeof(((td_config *)0)->member) }
#define FLDX(k, id, t) \
    { k, id, t, 0, 0, 0, 0 }

static const field f_store[] = {
    FLDX("name", K_NAME, F_STRING),
    FLDX("prefixes", K_PREFIXES, F_STRLIST),
    FLDX("obstore_config", K_OBSTORE, F_OBSTORE),
    FLDX("keys_from", K_KEYS_FROM, F_STRING),
    FLDX("inventory", K_INVENTORY, F_STRING),
    FLDX("prefix_mode", K_PREFIX_MODE, F_STRING),
    {NULL, 0, 0, 0, 0, 0, 0},
};
static const field f_conc[] = {
    FLD("n_consumers", K_NCONS, F_UINT, 1, TD_CONFIG_MAX_CONSUMERS, n_consumers),
    FLD("threads", K_THREADS, F_UINT, 1, TD_CONFIG_MAX_THREADS, threads),
    FLD("list_chunk_size", K_LIST, F_UINT, 1, TD_CONFIG_MAX_CHUNK, list_chunk_size),
    FLD("max_buffer_size", K_MAXBUF, F_UINT, 1, TD_CONFIG_MAX_CHUNK, max_buffer_size),
    FLD("write_chunk_size", K_WRITE, F_UINT, 1, TD_CONFIG_MAX_CHUNK, write_chunk_size),
    FLD("list_parallel", K_LISTPAR, F_UINT, 1, 256, list_parallel),
    FLD("list_frontier", K_FRONTIER, F_UINT, 2000, TD_CONFIG_MAX_CHUNK, list_frontier),
    {NULL, 0, 0, 0, 0, 0, 0},
};
static const field f_fetch[] = {
    FLD("prefetch_bytes", K_PREFETCH, F_UINT, TD_CONFIG_MIN_PREFETCH, TD_CONFIG_MAX_HEADER_BYTES,
        prefetch_bytes),
    FLD("max_header_bytes", K_MAXHDR, F_UINT, TD_CONFIG_MIN_PREFETCH, TD_CONFIG_MAX_HEADER_BYTES,
        max_header_bytes),
    FLDX("suffixes", K_SUFFIXES, F_STRLIST),
    FLDX("suffix_case", K_SUFFIX_CASE, F_STRING),
    FLDX("ifds", K_IFDS, F_STRING),
    {NULL, 0, 0, 0, 0, 0, 0},
};
static const field f_output[] = {
    FLDX("compression", K_COMPRESSION, F_CODEC),
    FLD("zstd_level", K_ZSTD, F_UINT, 1, 22, zstd_level),
    FLD("row_group_size", K_ROWGROUP, F_UINT, 1, TD_CONFIG_MAX_CHUNK, row_group_size),
    FLDX("obstore_config", K_OUT_OBSTORE, F_OBSTORE),
    FLD("part_size", K_PART_SIZE, F_UINT, TD_CONFIG_MIN_PART_SIZE, TD_CONFIG_MAX_PART_SIZE,
        part_size),
    FLDX("footprints", K_FOOTPRINTS, F_STRING),
    FLDX("list_replay", K_LIST_REPLAY, F_STRING),
    {NULL, 0, 0, 0, 0, 0, 0},
};
static const field f_network[] = {
    FLD("connect_timeout", K_CONNECT, F_SECONDS, 1, TD_CONFIG_MAX_TIMEOUT_S * 1000ull,
        connect_timeout_ms),
    FLD("request_timeout", K_REQUEST, F_SECONDS, 1, TD_CONFIG_MAX_TIMEOUT_S * 1000ull,
        request_timeout_ms),
    FLD("max_attempts", K_ATTEMPTS, F_UINT, 1, TD_CONFIG_MAX_ATTEMPTS, max_attempts),
    FLD("retry_max_time", K_RETRY, F_SECONDS, 1, TD_CONFIG_MAX_TIMEOUT_S * 1000ull, retry_max_ms),
    FLDX("ca_bundle", K_CA, F_STRING),
    FLDX("engine", K_ENGINE, F_STRING),
    {NULL, 0, 0, 0, 0, 0, 0},
};

/* issue 16: the shard count when the engine gives only an index (JOB_COMPLETION_INDEX) */
static const field f_shards[] = {
    FLD("count", K_SHARDS, F_UINT, 1, 1000000, shards_count),
    {NULL, 0, 0, 0, 0, 0, 0},
};

typedef struct section {
    const char *key;
    const field *fields;
} section;
static const section sections[] = {
    {"store", f_store},     {"concurrency", f_conc}, {"fetch", f_fetch}, {"output", f_output},
    {"network", f_network}, {"shards", f_shards},    {NULL, NULL},
};

typedef struct mask {
    size_t start, end; /* byte range in the source text */
    char *repl;
} mask;

/* The network settings the client options asked for; applied in apply_client (after the
 * whole file is read, so that `network` keys win whatever their place). */
typedef struct client_req {
    uint64_t timeout_ms, connect_ms, retry_ms, base_ms, cap_ms;
    uint64_t attempts; /* max_retries + 1; 0 = not given */
    const yaml_node_t *at_timeout, *at_connect, *at_retry, *at_attempts;
} client_req;

typedef struct ctx {
    yaml_document_t doc;
    const char *name;
    char *err;
    size_t errlen;
    td_config *c;
    const char *text;
    size_t text_len;
    mask *masks;
    size_t n_masks, cap_masks;
    const yaml_node_t **kv_nodes;  /* the value node of each store_kv */
    const yaml_node_t **okv_nodes; /* the value node of each out_kv */
    bool seen[K_COUNT];
    yaml_mark_t mark[K_COUNT]; /* of the value, for cross-field messages */
    bool store_seen;
    client_req client; /* issue 14 (d1): client_options / retry_config, see apply_client */
    bool nomem;
    size_t copied; /* bytes of values copied into c (MAX_COPIED_BYTES) */
} ctx;

#define FMTCHECK(a, b) __attribute__((format(printf, a, b)))

static int vfail(ctx *x, const yaml_mark_t *m, const char *fmt, va_list ap) {
    int n;
    if (m)
        n = snprintf(x->err, x->errlen, "%s:%lu:%lu: ", x->name, (unsigned long)m->line + 1,
                     (unsigned long)m->column + 1);
    else
        n = snprintf(x->err, x->errlen, "%s: ", x->name);
    if (n >= 0 && (size_t)n < x->errlen)
        ut_vmsgf(x->err + n, x->errlen - (size_t)n, fmt, ap); /* cut between characters */
    return -1;
}

static int fail(ctx *x, const yaml_mark_t *m, const char *fmt, ...) FMTCHECK(3, 4);
static int fail(ctx *x, const yaml_mark_t *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(x, m, fmt, ap);
    va_end(ap);
    return -1;
}

static int nomem(ctx *x) {
    x->nomem = true;
    return fail(x, NULL, "out of memory");
}

/* A copy of a value of node at for c, counted against MAX_COPIED_BYTES; NULL after fail(). */
static char *dup_value(ctx *x, const yaml_node_t *at, const char *path, const char *s) {
    size_t n = strlen(s) + 1;
    if (n > MAX_COPIED_BYTES - x->copied) {
        fail(x, &at->start_mark,
             "%s: the config's values add up to more than %u bytes (is an alias repeating a "
             "long value?)",
             path, MAX_COPIED_BYTES);
        return NULL;
    }
    char *d = malloc(n);
    if (!d) {
        nomem(x);
        return NULL;
    }
    x->copied += n;
    return memcpy(d, s, n);
}

/* ---- scalar classification (YAML 1.1 as PyYAML reads it, which the original used) ---- */

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool is_plain(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n) {
    if (!is_plain(n))
        return false;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* A setting of two words: `off` (the default) sets *on false, `on` sets it true; anything
 * else fails with msg, which names both. */
static int get_choice(ctx *x, const yaml_node_t *v, const char *off, const char *on, bool *out,
                      const char *msg) {
    const char *w = v->type == YAML_SCALAR_NODE && !is_null(v) ? sval(v) : "";
    if (strcmp(w, off) && strcmp(w, on))
        return fail(x, &v->start_mark, "%s", msg);
    *out = !strcmp(w, on);
    return 0;
}

/* 1 true, 0 false, -1 not a boolean */
static int as_bool(const yaml_node_t *n) {
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No",
                                    "NO",    "off",   "Off",   "OFF"};
    if (!is_plain(n))
        return -1;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if (!strcmp(sval(n), t[i]))
            return 1;
        if (!strcmp(sval(n), f[i]))
            return 0;
    }
    return -1;
}

/* A boolean key that is true by default: *off = it was set to false. */
static int get_off_switch(ctx *x, const yaml_node_t *v, bool *off, const char *msg) {
    int b = v->type == YAML_SCALAR_NODE ? as_bool(v) : -1;
    if (b < 0)
        return fail(x, &v->start_mark, "%s", msg);
    *off = b == 0;
    return 0;
}

static const char *kind_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        break;
    }
    if (is_null(n))
        return "null";
    if (as_bool(n) >= 0)
        return "a boolean";
    if (!is_plain(n))
        return "a quoted string";
    return "a string";
}

/* A short, single-line rendering of a scalar for messages. */
static void show(char *buf, size_t len, const yaml_node_t *n) {
    const char *s = sval(n);
    size_t i = 0, o = 0;
    /* at most 40 bytes (and room for "..."), cut between two characters */
    size_t lim = len > 4 ? ut_utf8_cut(s, strlen(s), len - 4 < 40 ? len - 4 : 40) : 0;
    while (s[i] && i < lim) {
        unsigned char ch = (unsigned char)s[i++];
        buf[o++] = ch < 0x20 ? '?' : (char)ch;
    }
    if (s[i] && o + 4 < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
}

/* ---- suggestions ---- */

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions). */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

static int unknown_key(ctx *x, const yaml_node_t *k, const char *where, const char *const *valid,
                       size_t n_valid) {
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    size_t klen = strlen(sval(k));
    for (size_t i = 0; i < n_valid; i++) {
        size_t d = edit_distance(sval(k), valid[i]);
        /* also catch a known key that is a prefix/stem of what was typed, e.g. n_consumer */
        if (d < bestd) {
            bestd = d;
            best = valid[i];
        }
    }
    size_t maxd = klen < 6 ? 2 : klen / 3 + 1;
    char shown[64];
    show(shown, sizeof shown, k);
    if (best && bestd <= maxd)
        return fail(x, &k->start_mark, "unknown key '%s' in %s (did you mean '%s'?)", shown, where,
                    best);
    char list[512];
    size_t o = 0;
    list[0] = 0;
    for (size_t i = 0; i < n_valid && o < sizeof list; i++) {
        int n = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", valid[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    return fail(x, &k->start_mark, "unknown key '%s' in %s (valid keys: %s)", shown, where, list);
}

/* ---- masking ----
 * source_text is the YAML as read with its secrets replaced, built in build_source once the
 * whole document is known (an option's secrecy depends on store.name, which may come after
 * obstore_config). Every step is one forward pass over the text: a megabyte of hostile
 * comments or repeated values costs milliseconds. */

static int add_mask(ctx *x, const yaml_node_t *v, const char *repl) {
    if (x->n_masks == x->cap_masks) {
        size_t cap = x->cap_masks ? x->cap_masks * 2 : 8;
        mask *m = realloc(x->masks, cap * sizeof *m);
        if (!m)
            return nomem(x);
        x->masks = m;
        x->cap_masks = cap;
    }
    char *r = strdup(repl);
    if (!r)
        return nomem(x);
    /* libyaml marks count characters, not bytes (the text is UTF-8): converted later. */
    x->masks[x->n_masks++] = (mask){v->start_mark.index, v->end_mark.index, r};
    return 0;
}

/* A name that looks like a credential's. The store's own table (store_option_is_secret)
 * decides for the options it knows; this guess covers commented-out lines and keys no
 * backend declares (they are refused when the store opens, but the text may be shown
 * before that). */
static bool secret_key(const char *key, bool *keep_prefix) {
    char low[1024];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof low; i++)
        low[i] = (char)lower((unsigned char)key[i]);
    low[i] = 0;
    static const char *const pats[] = {"secret", "password", "passwd",    "token",
                                       "sas",    "key",      "credential"};
    bool hit = false;
    for (size_t p = 0; p < sizeof pats / sizeof *pats; p++)
        if (strstr(low, pats[p]))
            hit = true;
    /* skip_signature is a switch, not a secret */
    if (!strcmp(low, "skip_signature") || !strcmp(low, "aws_skip_signature"))
        hit = false;
    /* an access key id identifies, it does not authenticate: its first 4 characters
     * (AKIA / ASIA...) help debugging, the rest is masked anyway */
    *keep_prefix = hit && strstr(low, "key_id") != NULL;
    return hit;
}

/* A commented-out credential ("# aws_secret_access_key: ...") is common in hand-edited
 * configs, and comments are kept in source_text: such comments are masked. The quote
 * tracking is per line, which is enough for configs (a miss only masks a harmless comment).
 * Appends the result of s[0..n) to out. */
static void mask_comments(ut_buf *out, const char *s, size_t n) {
    static const char cm[] = "# (masked)";
    size_t i = 0;
    while (i < n) {
        size_t eol = i;
        while (eol < n && s[eol] != '\r' && s[eol] != '\n')
            eol++;
        char q = 0;
        size_t cut = eol; /* where a masked comment starts */
        for (size_t p = i; p < eol; p++) {
            if (q) {
                if (q == '"' && s[p] == '\\' && p + 1 < eol)
                    p++;
                else if (s[p] == q)
                    q = 0;
            } else if (s[p] == '"' || s[p] == '\'') {
                q = s[p];
            } else if (s[p] == '#' && (p == i || s[p - 1] == ' ' || s[p - 1] == '\t')) {
                /* secret_key looks at 1023 bytes at most: a longer comment is judged by
                 * its start, and masked whole when that looks like a credential */
                char head[1024];
                size_t hl = eol - p < sizeof head - 1 ? eol - p : sizeof head - 1;
                memcpy(head, s + p, hl);
                head[hl] = 0;
                bool keep;
                bool hit = secret_key(head, &keep);
                /* and by everything after, in 1 KiB windows that overlap by 16 bytes (a
                 * word across two windows) */
                for (size_t ws = p + hl - 16; !hit && ws + 16 < eol && eol - p > hl;
                     ws += sizeof head - 1 - 16) {
                    size_t wl = eol - ws < sizeof head - 1 ? eol - ws : sizeof head - 1;
                    memcpy(head, s + ws, wl);
                    head[wl] = 0;
                    hit = secret_key(head, &keep);
                }
                if (hit)
                    cut = p;
                break;
            }
        }
        ut_buf_put(out, s + i, cut - i);
        if (cut < eol) {
            if (eol - cut >= sizeof cm - 1) {
                ut_buf_put(out, cm, sizeof cm - 1);
            } else {
                ut_buf_putc(out, '#');
                for (size_t k = cut + 1; k < eol; k++)
                    ut_buf_putc(out, '*');
            }
        }
        i = eol;
        while (i < n && (s[i] == '\r' || s[i] == '\n'))
            ut_buf_putc(out, s[i++]);
    }
}

static int cmp_mask(const void *a, const void *b) {
    const mask *p = a, *q = b;
    return p->start < q->start ? -1 : p->start > q->start;
}

/* Advances (*b, *c) (a byte offset and the character count at it) to character index
 * chars; marks only grow along the sorted masks, so all conversions together are linear. */
static size_t char_to_byte_from(const char *t, size_t len, size_t *b, size_t *c, size_t chars) {
    while (*b < len && *c < chars) {
        unsigned char ch = (unsigned char)t[*b];
        size_t w = ch < 0x80 ? 1 : ch < 0xE0 ? 2 : ch < 0xF0 ? 3 : 4;
        *b += w;
        (*c)++;
    }
    if (*b > len)
        *b = len;
    return *b;
}

/* Character index (libyaml marks) -> byte offset in UTF-8 text (for one message). */
static size_t char_to_byte(const char *t, size_t len, size_t chars) {
    size_t b = 0, c = 0;
    return char_to_byte_from(t, len, &b, &c, chars);
}

/* The masks of the obstore options that are secret for the store named: the backend's own
 * table says which (store_option_is_secret); a key it does not declare is judged by its
 * name. */
static int mask_obstore(ctx *x) {
    const td_config *c = x->c;
    for (size_t i = 0; i < c->n_store_kv; i++) {
        const char *ks = c->store_kv[i].key, *vs = c->store_kv[i].value;
        bool keep4 = false;
        bool guess = secret_key(ks, &keep4);
        if (!store_option_is_secret(c->store_name, ks) && !guess)
            continue;
        if (keep4 && strlen(vs) > 8) {
            bool plain_safe = true; /* keep the source valid YAML */
            for (int j = 0; j < 4; j++)
                if (!((vs[j] >= 'A' && vs[j] <= 'Z') || (vs[j] >= '0' && vs[j] <= '9') ||
                      (vs[j] >= 'a' && vs[j] <= 'z')))
                    plain_safe = false;
            char repl[16];
            memcpy(repl, vs, 4);
            strcpy(repl + 4, "***");
            if (add_mask(x, x->kv_nodes[i], plain_safe ? repl : "\"***\""))
                return -1;
        } else if (add_mask(x, x->kv_nodes[i], "\"***\"")) {
            return -1;
        }
    }
    return 0;
}

/* Secret option values written a second time elsewhere (in another scalar, a comment) are
 * masked too: should a mark ever be off, a secret must still not leak. At most this many
 * distinct values are searched (each search is one pass over the text). */
/* Replaces every occurrence of v[0..vl) in a by "***", in place ("***" is never longer
 * than a value of 4 bytes or more). Knuth-Morris-Pratt: linear in a->len + vl whatever
 * the text, where a naive search is quadratic on "aaaa...". */
static int replace_all(ut_buf *a, const char *v, size_t vl) {
    size_t *fail_at = malloc(vl * sizeof *fail_at);
    if (!fail_at)
        return -1;
    fail_at[0] = 0;
    for (size_t i = 1, k = 0; i < vl; i++) {
        while (k && v[i] != v[k])
            k = fail_at[k - 1];
        if (v[i] == v[k])
            k++;
        fail_at[i] = k;
    }
    size_t o = 0, k = 0;
    for (size_t r = 0; r < a->len; r++) {
        char ch = a->p[r];
        a->p[o++] = ch;
        while (k && ch != v[k])
            k = fail_at[k - 1];
        if (ch == v[k])
            k++;
        if (k == vl) { /* the value's bytes are the last vl written: overwrite them */
            o -= vl;
            memcpy(a->p + o, "***", 3);
            o += 3;
            k = 0;
        }
    }
    a->len = o;
    a->p[o] = 0;
    free(fail_at);
    return 0;
}

#define MAX_VALUE_SEARCHES 64u

/* output.obstore_config: OUT's backend is known only from the command line, so a key is
 * masked when any writable backend declares it secret, or its name looks like a
 * credential's. */
static int mask_out_obstore(ctx *x) {
    const td_config *c = x->c;
    static const char *const backends[] = {"s3://b", "gs://b", "az://b"};
    for (size_t i = 0; i < c->n_out_kv; i++) {
        const char *ks = c->out_kv[i].key;
        bool keep4 = false;
        bool hit = secret_key(ks, &keep4);
        for (size_t b = 0; b < 3 && !hit; b++)
            hit = store_option_is_secret(backends[b], ks);
        if (hit && add_mask(x, x->okv_nodes[i], "\"***\""))
            return -1;
    }
    return 0;
}

static int build_source(ctx *x) {
    if (mask_obstore(x) || mask_out_obstore(x))
        return -1;
    size_t skip = 0;
    /* a UTF-8 BOM is not counted by libyaml's marks */
    if (x->text_len >= 3 && !memcmp(x->text, "\xEF\xBB\xBF", 3))
        skip = 3;
    const char *t = x->text + skip;
    size_t len = x->text_len - skip;
    if (x->n_masks > 1)
        qsort(x->masks, x->n_masks, sizeof *x->masks, cmp_mask);
    size_t cb = 0, cc = 0;
    for (size_t i = 0; i < x->n_masks; i++) {
        mask *m = &x->masks[i];
        size_t start = char_to_byte_from(t, len, &cb, &cc, m->start);
        size_t eb = cb, ec = cc; /* the end from the start: the cursor stays at starts */
        m->end = char_to_byte_from(t, len, &eb, &ec, m->end);
        m->start = start;
        /* a block scalar (|, >) ends after its line break: keep the break */
        while (m->end > m->start && (t[m->end - 1] == '\n' || t[m->end - 1] == '\r'))
            m->end--;
    }
    /* byte ranges to hide: the marks, then every other copy of a secret value */
    ut_buf a = {0};
    a.limit = 2 * len + 64;
    size_t pos = 0;
    for (size_t i = 0; i < x->n_masks; i++) {
        mask *m = &x->masks[i];
        if (m->start < pos) /* the same anchored node masked twice */
            continue;
        ut_buf_put(&a, t + pos, m->start - pos);
        ut_buf_puts(&a, m->repl);
        pos = m->end;
    }
    ut_buf_put(&a, t + pos, len - pos);
    if (a.bad || !a.p) {
        ut_buf_free(&a);
        return nomem(x);
    }
    size_t searched = 0;
    for (size_t i = 0; i < x->c->n_store_kv && searched < MAX_VALUE_SEARCHES; i++) {
        bool keep4;
        const char *k = x->c->store_kv[i].key, *v = x->c->store_kv[i].value;
        size_t vl = strlen(v);
        if (vl < 4 || (!store_option_is_secret(x->c->store_name, k) && !secret_key(k, &keep4)))
            continue;
        searched++;
        if (replace_all(&a, v, vl)) {
            ut_buf_free(&a);
            return nomem(x);
        }
    }
    for (size_t i = 0; i < x->c->n_out_kv && searched < MAX_VALUE_SEARCHES; i++) {
        bool keep4;
        const char *k = x->c->out_kv[i].key, *v = x->c->out_kv[i].value;
        size_t vl = strlen(v);
        if (vl < 4 ||
            (!store_option_is_secret("s3://b", k) && !store_option_is_secret("gs://b", k) &&
             !store_option_is_secret("az://b", k) && !secret_key(k, &keep4)))
            continue;
        searched++;
        if (replace_all(&a, v, vl)) {
            ut_buf_free(&a);
            return nomem(x);
        }
    }
    ut_buf b = {0};
    b.limit = 2 * len + 64;
    mask_comments(&b, a.p, a.len);
    ut_buf_free(&a);
    /* URLs anywhere (store.name, prefixes, comments): userinfo and signed query parameters,
     * with the one redaction every output uses */
    ut_buf out = {0};
    out.limit = 4 * len + 64;
    ut_redact_url(&out, ut_buf_str(&b), b.len);
    bool bad = b.bad || out.bad;
    ut_buf_free(&b);
    char *s = bad ? NULL : ut_buf_take(&out);
    ut_buf_free(&out);
    if (!s)
        return nomem(x);
    x->c->source_text = s;
    return 0;
}

/* A string value holding a URL with a secret (user:password@, ?sig=...): masked as a whole
 * double-quoted scalar, since the value differs from the source text for quoted scalars with
 * escapes (which the text pass of build_source would miss). */
static int mask_url_secret(ctx *x, const yaml_node_t *v) {
    const char *s = sval(v);
    char *r = ut_redact_dup(s);
    if (!r)
        return nomem(x);
    int rc = 0;
    if (strcmp(r, s) != 0) {
        ut_buf q = {0};
        q.limit = 4 * strlen(r) + 64;
        ut_json_escape(&q, r, strlen(r)); /* a JSON string is a YAML double-quoted one */
        rc = q.bad || !q.p ? nomem(x) : add_mask(x, v, q.p);
        ut_buf_free(&q);
    }
    free(r);
    return rc;
}

/* ---- typed values ---- */

/* "010": YAML 1.1 readers (PyYAML, so the Python original) read an octal 8, YAML 1.2 readers
 * and a person read 10. Neither guess is safe for a setting, so such a number is refused
 * (docs/config.md); "0" alone and decimals ("0.5", "010.5") are fine. */
#define LEADING_ZERO_MSG                                                                    \
    "%s: '%s' starts with 0, which YAML 1.1 readers (PyYAML, the Python tool) take for an " \
    "octal number and others for a decimal one: write it without the leading zero"

static bool leading_zero(const char *s) {
    return s[0] == '0' && ((s[1] >= '0' && s[1] <= '9') || s[1] == '_');
}

static int get_uint(ctx *x, const yaml_node_t *v, const char *path, uint64_t min, uint64_t max,
                    uint64_t *out) {
    char shown[64];
    if (v->type != YAML_SCALAR_NODE)
        return fail(x, &v->start_mark, "%s must be an integer, got %s", path, kind_name(v));
    show(shown, sizeof shown, v);
    if (is_null(v))
        return fail(x, &v->start_mark,
                    "%s must be an integer, got null (remove the key to use the default)", path);
    if (!is_plain(v))
        return fail(x, &v->start_mark,
                    "%s must be an integer, got the quoted string \"%s\" (remove the quotes)", path,
                    shown);
    if (as_bool(v) >= 0)
        return fail(x, &v->start_mark, "%s must be an integer, got the boolean '%s'", path, shown);
    const char *s = sval(v);
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (leading_zero(s))
        return fail(x, &v->start_mark, LEADING_ZERO_MSG, path, shown);
    uint64_t val = 0;
    bool digits = false, overflow = false;
    for (; *s; s++) {
        if (*s == '_' && digits) /* YAML 1.1 digit separator: 1_000_000 */
            continue;
        if (*s < '0' || *s > '9')
            break;
        digits = true;
        unsigned d = (unsigned)(*s - '0');
        if (val > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            val = val * 10 + d;
    }
    if (!digits || *s)
        return fail(x, &v->start_mark, "%s must be an integer, got '%s'", path, shown);
    if (neg && val)
        return fail(x, &v->start_mark, "%s must be positive, got %s", path, shown);
    if (overflow || val > max)
        return fail(x, &v->start_mark, "%s is too large: %s (at most %llu)", path, shown,
                    (unsigned long long)max);
    if (val < min) {
        if (min == 1)
            return fail(x, &v->start_mark, "%s must be positive, got %s", path, shown);
        return fail(x, &v->start_mark, "%s must be at least %llu, got %s", path,
                    (unsigned long long)min, shown);
    }
    *out = val;
    return 0;
}

/* Seconds, integer or decimal (millisecond resolution) -> milliseconds. */
static int get_seconds(ctx *x, const yaml_node_t *v, const char *path, uint64_t max_ms,
                       uint64_t *out) {
    char shown[64];
    if (v->type != YAML_SCALAR_NODE || !is_plain(v) || is_null(v) || as_bool(v) >= 0) {
        if (v->type == YAML_SCALAR_NODE)
            show(shown, sizeof shown, v);
        return fail(x, &v->start_mark, "%s must be a number of seconds, got %s%s%s%s", path,
                    kind_name(v), v->type == YAML_SCALAR_NODE && !is_null(v) ? " '" : "",
                    v->type == YAML_SCALAR_NODE && !is_null(v) ? shown : "",
                    v->type == YAML_SCALAR_NODE && !is_null(v) ? "'" : "");
    }
    show(shown, sizeof shown, v);
    const char *s = sval(v);
    if (*s == '-')
        return fail(x, &v->start_mark, "%s must be positive, got %s", path, shown);
    if (*s == '+')
        s++;
    if (leading_zero(s) && !strchr(s, '.'))
        return fail(x, &v->start_mark, LEADING_ZERO_MSG, path, shown);
    uint64_t ms = 0;
    bool digits = false, big = false;
    for (; *s >= '0' && *s <= '9'; s++) {
        digits = true;
        ms = ms * 10 + (uint64_t)(*s - '0');
        if (ms > max_ms)
            big = true, ms = max_ms + 1;
    }
    ms *= 1000;
    if (*s == '.') {
        uint64_t scale = 100;
        for (s++; *s >= '0' && *s <= '9'; s++) {
            digits = true;
            ms += (uint64_t)(*s - '0') * scale;
            scale /= 10;
        }
    }
    if (!digits || *s)
        return fail(x, &v->start_mark, "%s must be a number of seconds, got '%s'", path, shown);
    if (big || ms > max_ms)
        return fail(x, &v->start_mark, "%s is too large: %s (at most %llu seconds)", path, shown,
                    (unsigned long long)(max_ms / 1000));
    if (ms == 0)
        return fail(x, &v->start_mark, "%s must be positive (at least 0.001), got %s", path, shown);
    *out = ms;
    return 0;
}

static int get_string(ctx *x, const yaml_node_t *v, const char *path, char **out) {
    if (v->type != YAML_SCALAR_NODE)
        return fail(x, &v->start_mark, "%s must be a string, got %s", path, kind_name(v));
    char *s = dup_value(x, v, path, sval(v));
    if (!s)
        return -1;
    free(*out);
    *out = s;
    return 0;
}

/* A list of strings, or a single string. */
static int get_strlist(ctx *x, const yaml_node_t *v, const char *path, char ***out, size_t *n_out,
                       bool allow_empty_item) {
    const yaml_node_t *single = NULL;
    size_t n;
    if (v->type == YAML_SCALAR_NODE) {
        single = v;
        n = 1;
    } else if (v->type == YAML_SEQUENCE_NODE) {
        n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    } else {
        return fail(x, &v->start_mark, "%s must be a list of strings, got %s", path, kind_name(v));
    }
    if (n > TD_CONFIG_MAX_LIST_ITEMS)
        return fail(x, &v->start_mark, "%s has %zu items (at most %u)", path, n,
                    TD_CONFIG_MAX_LIST_ITEMS);
    char **arr = calloc(n ? n : 1, sizeof *arr);
    if (!arr)
        return nomem(x);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *it =
            single ? single : yaml_document_get_node(&x->doc, v->data.sequence.items.start[i]);
        int rc = 0;
        if (!it || it->type != YAML_SCALAR_NODE)
            rc = fail(x, it ? &it->start_mark : &v->start_mark, "%s[%zu] must be a string, got %s",
                      path, i, it ? kind_name(it) : "nothing");
        else if (is_null(it) && !allow_empty_item)
            rc = fail(x, &it->start_mark, "%s[%zu] is empty", path, i);
        else if (!(arr[i] = dup_value(x, it, path, is_null(it) ? "" : sval(it))))
            rc = -1;
        if (rc) {
            for (size_t j = 0; j < i; j++)
                free(arr[j]);
            free(arr);
            return -1;
        }
    }
    *out = arr;
    *n_out = n;
    return 0;
}

/* ---- issue 14 (d1): obstore's client_options and retry_config ----
 * obstore 0.6's from_url(url, client_options=..., retry_config=..., **config) takes
 * object_store 0.12's ClientConfigKey names (src/client/mod.rs) and RetryConfig
 * (src/client/retry.rs: max_retries, retry_timeout, backoff {init_backoff, max_backoff,
 * base}); the store configs accept the client keys at the top level too. Each is mapped
 * onto the `network` settings when tiff-dumper can act on it, and a warning names every
 * accepted key it cannot act on: nothing is dropped silently. `network` keys written in
 * the config win over these (with a warning). Durations are object_store's humantime
 * strings ("30s", "100ms", "1m 30s") or a number of seconds. */
static int check_keys(ctx *x, const yaml_node_t *m, const char *where);
static int add_store_kv(ctx *x, store_kv *kv, const yaml_node_t **nodes, size_t *n,
                        const yaml_node_t *k, const yaml_node_t *val, const char *path);

/* "path.key" for messages; a long path or key is cut (the message still names it). */
static void sub_path(char *dst, size_t n, const char *path, const char *key) {
    int w = snprintf(dst, n, "%s.%.60s", path, key);
    if (w < 0 && n)
        dst[0] = '\0';
}
enum { CO_MAP, CO_NOOP_TRUE, CO_WARN };
static const struct {
    const char *key;
    int what; /* CO_MAP: acted on; CO_NOOP_TRUE: true is what happens anyway (no warning),
                 false is warned; CO_WARN: accepted, not acted on */
} client_keys[] = {
    {"timeout", CO_MAP},
    {"connect_timeout", CO_MAP},
    {"user_agent", CO_MAP},
    {"proxy_url", CO_MAP},
    {"proxy_excludes", CO_MAP},
    {"allow_invalid_certificates", CO_MAP},
    {"allow_http", CO_MAP},
    {"http1_only", CO_NOOP_TRUE},
    {"http2_only", CO_WARN},
    {"http2_keep_alive_interval", CO_WARN},
    {"http2_keep_alive_timeout", CO_WARN},
    {"http2_keep_alive_while_idle", CO_WARN},
    {"http2_max_frame_size", CO_WARN},
    {"pool_idle_timeout", CO_WARN},
    {"pool_max_idle_per_host", CO_WARN},
    {"proxy_ca_certificate", CO_MAP},
    {"default_content_type", CO_WARN},
    {"randomize_addresses", CO_WARN},
};
#define N_CLIENT_KEYS (sizeof client_keys / sizeof client_keys[0])

static int client_key(const char *k) {
    for (size_t i = 0; i < N_CLIENT_KEYS; i++)
        if (!strcmp(client_keys[i].key, k))
            return (int)i;
    return -1;
}

static int warnf(ctx *x, const char *fmt, ...) FMTCHECK(2, 3);
static int warnf(ctx *x, const char *fmt, ...) {
    td_config *c = x->c;
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    ut_vmsgf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nw = realloc(c->warnings, (c->n_warnings + 1) * sizeof *nw);
    if (!nw)
        return nomem(x);
    c->warnings = nw;
    if (!(c->warnings[c->n_warnings] = strdup(buf)))
        return nomem(x);
    c->n_warnings++;
    return 0;
}

/* A duration as object_store takes it (humantime: "30s", "1m 30s", "100ms", "2 minutes")
 * or a YAML number of seconds; into ms (at least 1 when positive). */
static int get_duration(ctx *x, const yaml_node_t *v, const char *path, uint64_t *out) {
    char shown[64];
    if (v->type != YAML_SCALAR_NODE || is_null(v) || as_bool(v) >= 0)
        return fail(x, &v->start_mark,
                    "%s must be a duration such as \"30s\", \"500ms\", \"2m\" or a number of "
                    "seconds, got %s",
                    path, kind_name(v));
    show(shown, sizeof shown, v);
    const char *s = sval(v);
    static const struct {
        const char *u;
        double ms;
    } units[] = {{"nanoseconds", 1e-6},
                 {"nanosecond", 1e-6},
                 {"nsec", 1e-6},
                 {"ns", 1e-6},
                 {"microseconds", 1e-3},
                 {"microsecond", 1e-3},
                 {"usec", 1e-3},
                 {"us", 1e-3},
                 {"milliseconds", 1},
                 {"millisecond", 1},
                 {"msec", 1},
                 {"ms", 1},
                 {"seconds", 1e3},
                 {"second", 1e3},
                 {"secs", 1e3},
                 {"sec", 1e3},
                 {"s", 1e3},
                 {"minutes", 6e4},
                 {"minute", 6e4},
                 {"mins", 6e4},
                 {"min", 6e4},
                 {"m", 6e4},
                 {"hours", 3.6e6},
                 {"hour", 3.6e6},
                 {"hrs", 3.6e6},
                 {"hr", 3.6e6},
                 {"h", 3.6e6}};
    double total = 0;
    bool any = false;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        char *end;
        if (*s < '0' || *s > '9')
            goto bad;
        double n = strtod(s, &end);
        if (end == s)
            goto bad;
        s = end;
        while (*s == ' ')
            s++;
        size_t ul = 0;
        while (s[ul] >= 'a' && s[ul] <= 'z')
            ul++;
        if (ul == 0) { /* a bare number: seconds, and only alone */
            if (any || *s)
                goto bad;
            total = n * 1e3;
            any = true;
            break;
        }
        size_t i = 0;
        for (; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].u) == ul && !strncmp(units[i].u, s, ul))
                break;
        if (i == sizeof units / sizeof units[0])
            goto bad;
        total += n * units[i].ms;
        s += ul;
        any = true;
    }
    if (!any)
        goto bad;
    if (total > (double)TD_CONFIG_MAX_TIMEOUT_S * 1000.0)
        return fail(x, &v->start_mark, "%s is too large: %s (at most %u seconds)", path, shown,
                    TD_CONFIG_MAX_TIMEOUT_S);
    if (total <= 0)
        return fail(x, &v->start_mark, "%s must be positive, got %s", path, shown);
    *out = total < 1 ? 1 : (uint64_t)(total + 0.5);
    return 0;
bad:
    return fail(x, &v->start_mark,
                "%s must be a duration such as \"30s\", \"500ms\", \"1m 30s\" or a number of "
                "seconds, got '%s'",
                path, shown);
}

static int set_owned(ctx *x, char **dst, const yaml_node_t *v, const char *path) {
    free(*dst);
    *dst = NULL;
    return get_string(x, v, path, dst);
}

/* One client option (from client_options, or a client key at obstore_config's top level).
 * allow_http and proxy_ca_certificate go on to the store as options of their own. */
static int client_option(ctx *x, client_req *cr, const char *key, const yaml_node_t *v,
                         const char *path, bool *to_store) {
    td_config *c = x->c;
    *to_store = false;
    int i = client_key(key);
    if (i < 0)
        return -2;
    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return fail(x, &v->start_mark, "%s must be a single value, got %s", path, kind_name(v));
    const char *k = client_keys[i].key;
    if (client_keys[i].what == CO_WARN)
        return warnf(x,
                     "%s is accepted but not acted on: tiff-dumper's HTTP/1.1 client has no such "
                     "setting (remove it to silence this warning)",
                     path);
    if (client_keys[i].what == CO_NOOP_TRUE) {
        if (as_bool(v) == 1)
            return 0; /* HTTP/1.1 only is what tiff-dumper speaks */
        return warnf(x, "%s: false is not acted on (tiff-dumper speaks HTTP/1.1 only)", path);
    }
    uint64_t ms;
    if (!strcmp(k, "timeout")) {
        if (get_duration(x, v, path, &ms))
            return -1;
        cr->timeout_ms = ms, cr->at_timeout = v;
    } else if (!strcmp(k, "connect_timeout")) {
        if (get_duration(x, v, path, &ms))
            return -1;
        cr->connect_ms = ms, cr->at_connect = v;
    } else if (!strcmp(k, "user_agent")) {
        return set_owned(x, &c->user_agent, v, path);
    } else if (!strcmp(k, "proxy_url")) {
        return set_owned(x, &c->proxy_url, v, path);
    } else if (!strcmp(k, "proxy_excludes")) {
        return set_owned(x, &c->no_proxy, v, path);
    } else if (!strcmp(k, "allow_invalid_certificates")) {
        int b = as_bool(v);
        if (b < 0)
            return fail(x, &v->start_mark, "%s wants true or false", path);
        c->insecure_tls = b == 1;
        if (b == 1)
            return warnf(x,
                         "%s: true: TLS certificates are NOT verified, so anyone on the path "
                         "can read and alter what is fetched (prefer network.ca_bundle with "
                         "the server's CA)",
                         path);
    } else if (!strcmp(k, "allow_http") || !strcmp(k, "proxy_ca_certificate")) {
        *to_store = true; /* options of the store itself (remote.c hands the proxy CA on) */
    }
    return 0;
}

static int client_options_map(ctx *x, client_req *cr, const yaml_node_t *m, const char *path) {
    if (m->type == YAML_SCALAR_NODE && is_null(m))
        return 0;
    if (m->type != YAML_MAPPING_NODE)
        return fail(x, &m->start_mark, "%s must be a mapping of option: value, got %s", path,
                    kind_name(m));
    if (check_keys(x, m, path))
        return -1;
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = yaml_document_get_node(&x->doc, m->data.mapping.pairs.start[i].key);
        const yaml_node_t *v =
            yaml_document_get_node(&x->doc, m->data.mapping.pairs.start[i].value);
        char sub[160];
        sub_path(sub, sizeof sub, path, sval(k));
        bool to_store = false;
        int rc = client_option(x, cr, sval(k), v, sub, &to_store);
        if (rc == -2) {
            const char *valid[N_CLIENT_KEYS];
            for (size_t j = 0; j < N_CLIENT_KEYS; j++)
                valid[j] = client_keys[j].key;
            return unknown_key(x, k, path, valid, N_CLIENT_KEYS);
        }
        if (rc)
            return -1;
        /* allow_http, proxy_ca_certificate: options of the store itself (obstore_open left
         * room for them) */
        if (to_store && add_store_kv(x, x->c->store_kv, x->kv_nodes, &x->c->n_store_kv, k, v, path))
            return -1;
    }
    return 0;
}

static int retry_map(ctx *x, client_req *cr, const yaml_node_t *m, const char *path, bool backoff) {
    if (m->type == YAML_SCALAR_NODE && is_null(m))
        return 0;
    if (m->type != YAML_MAPPING_NODE)
        return fail(x, &m->start_mark, "%s must be a mapping, got %s", path, kind_name(m));
    if (check_keys(x, m, path))
        return -1;
    static const char *const rkeys[] = {"max_retries", "retry_timeout", "backoff"};
    static const char *const bkeys[] = {"init_backoff", "max_backoff", "base"};
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = yaml_document_get_node(&x->doc, m->data.mapping.pairs.start[i].key);
        const yaml_node_t *v =
            yaml_document_get_node(&x->doc, m->data.mapping.pairs.start[i].value);
        const char *key = sval(k);
        char sub[160];
        sub_path(sub, sizeof sub, path, key);
        uint64_t u = 0;
        if (!backoff && !strcmp(key, "max_retries")) {
            if (get_uint(x, v, sub, 0, TD_CONFIG_MAX_ATTEMPTS - 1, &u))
                return -1;
            cr->attempts = u + 1, cr->at_attempts = v;
        } else if (!backoff && !strcmp(key, "retry_timeout")) {
            if (get_duration(x, v, sub, &u))
                return -1;
            cr->retry_ms = u, cr->at_retry = v;
        } else if (!backoff && !strcmp(key, "backoff")) {
            if (retry_map(x, cr, v, sub, true))
                return -1;
        } else if (backoff && !strcmp(key, "init_backoff")) {
            if (get_duration(x, v, sub, &u))
                return -1;
            cr->base_ms = u;
        } else if (backoff && !strcmp(key, "max_backoff")) {
            if (get_duration(x, v, sub, &u))
                return -1;
            cr->cap_ms = u;
        } else if (backoff && !strcmp(key, "base")) {
            char *end = NULL;
            double b = v->type == YAML_SCALAR_NODE ? strtod(sval(v), &end) : 0;
            if (!end || *end || end == sval(v) || b <= 1)
                return fail(x, &v->start_mark, "%s must be a number above 1, got %s", sub,
                            kind_name(v));
            if (b != 2.0 && warnf(x,
                                  "%s: %s is not acted on: the wait before retry n is "
                                  "random(0, min(max_backoff, init_backoff * 2^n)), base 2",
                                  sub, sval(v)))
                return -1;
        } else {
            return unknown_key(x, k, path, backoff ? bkeys : rkeys, 3);
        }
    }
    return 0;
}

/* After the whole file: client settings onto the network fields `network` did not set. */
static int apply_client(ctx *x, const client_req *cr) {
    td_config *c = x->c;
    static const struct {
        int key;
        const char *net, *client;
    } pairs[] = {{K_REQUEST, "network.request_timeout", "timeout"},
                 {K_CONNECT, "network.connect_timeout", "connect_timeout"},
                 {K_ATTEMPTS, "network.max_attempts", "retry_config.max_retries"},
                 {K_RETRY, "network.retry_max_time", "retry_config.retry_timeout"}};
    const uint64_t vals[] = {cr->timeout_ms, cr->connect_ms, cr->attempts, cr->retry_ms};
    for (size_t i = 0; i < 4; i++) {
        if (!vals[i])
            continue;
        if (x->seen[pairs[i].key]) {
            if (warnf(x, "store.obstore_config %s is not used: %s is set and wins", pairs[i].client,
                      pairs[i].net))
                return -1;
            continue;
        }
        switch (pairs[i].key) {
        case K_REQUEST:
            c->request_timeout_ms = (unsigned)vals[i];
            break;
        case K_CONNECT:
            c->connect_timeout_ms = (unsigned)vals[i];
            break;
        case K_ATTEMPTS:
            c->max_attempts = (unsigned)vals[i];
            break;
        default:
            c->retry_max_ms = (unsigned)vals[i];
        }
    }
    c->retry_base_ms = (unsigned)cr->base_ms;
    c->retry_cap_ms = (unsigned)cr->cap_ms;
    if (cr->base_ms && cr->cap_ms && cr->cap_ms < cr->base_ms)
        c->retry_cap_ms = c->retry_base_ms; /* object_store caps the first wait too */
    return 0;
}
/* ---- end of issue 14 (d1) client options ---- */

/* Client keys that are options of the store too (client_option's *to_store): one
 * client_options key of obstore_config can yield this many store options. */
#define STORE_CLIENT_KEYS 2 /* allow_http, proxy_ca_certificate */

/* The opening both obstore_config mappings share: nothing given sets nothing (returns 1);
 * else a mapping of at most MAX_MAP_KEYS plain, distinct keys, and room for the store
 * options it yields with their value nodes (one per key, STORE_CLIENT_KEYS more for a
 * client_options key). */
static int obstore_open(ctx *x, const yaml_node_t *v, const char *path, store_kv **kv,
                        const yaml_node_t ***nodes, size_t *n) {
    if (v->type == YAML_SCALAR_NODE && is_null(v))
        return 1;
    if (v->type != YAML_MAPPING_NODE)
        return fail(x, &v->start_mark, "%s must be a mapping of option: value, got %s", path,
                    kind_name(v));
    char where[112];
    snprintf(where, sizeof where, "'%s'", path);
    if (check_keys(x, v, where)) /* MAX_MAP_KEYS, before anything is copied */
        return -1;
    *n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    *kv = calloc(*n + STORE_CLIENT_KEYS, sizeof **kv);
    *nodes = calloc(*n + STORE_CLIENT_KEYS, sizeof **nodes);
    return *kv && *nodes ? 0 : nomem(x);
}

/* Appends key k: val of mapping `path` to a store option list opened by obstore_open: one
 * value (booleans written true/false), copied within MAX_COPIED_BYTES; its node is kept for
 * build_source to mask. */
static int add_store_kv(ctx *x, store_kv *kv, const yaml_node_t **nodes, size_t *n,
                        const yaml_node_t *k, const yaml_node_t *val, const char *path) {
    if (val->type != YAML_SCALAR_NODE)
        return fail(x, &val->start_mark,
                    "%s.%s must be a single value (string, number or boolean), got %s", path,
                    sval(k), kind_name(val));
    if (is_null(val))
        return fail(x, &val->start_mark, "%s.%s has no value (give one or remove the key)", path,
                    sval(k));
    int b = as_bool(val);
    char *ks = dup_value(x, k, path, sval(k));
    char *vs = ks ? dup_value(x, val, path, b == 1 ? "true" : b == 0 ? "false" : sval(val)) : NULL;
    if (!ks || !vs) {
        free(ks);
        free(vs);
        return -1;
    }
    kv[*n].key = ks;
    kv[*n].value = vs;
    nodes[*n] = val;
    (*n)++;
    return 0;
}

/* store.obstore_config (out false) and output.obstore_config (out true), flat store
 * options both. In the store's, obstore's nested client_options / retry_config and the
 * client keys at the top level are network settings, not store options (issue 14), but
 * for the client keys that are store options too. output.obstore_config has the names of
 * store.obstore_config (endpoint, region, credentials, ...); timeouts, retries, TLS and
 * proxies are the run's own (the `network` section and store.obstore_config's client
 * options): reads and writes share one retry policy, so they are refused there with the
 * place to set them. Checked against OUT's backend when the output store opens. */
static int get_obstore(ctx *x, const yaml_node_t *v, const char *path, bool out) {
    td_config *c = x->c;
    store_kv **kv = out ? &c->out_kv : &c->store_kv;
    size_t *n_kv = out ? &c->n_out_kv : &c->n_store_kv;
    const yaml_node_t ***nodes = out ? &x->okv_nodes : &x->kv_nodes;
    size_t n = 0;
    int rc = obstore_open(x, v, path, kv, nodes, &n);
    if (rc)
        return rc < 0 ? -1 : 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
        const yaml_node_t *k = yaml_document_get_node(&x->doc, p->key);
        const yaml_node_t *val = yaml_document_get_node(&x->doc, p->value);
        const char *key = sval(k);
        bool nested = !strcmp(key, "client_options") || !strcmp(key, "retry_config");
        if (out && (nested || (client_key(key) >= 0 && strcmp(key, "allow_http") != 0)))
            return fail(x, &k->start_mark,
                        "%s.%.60s: timeouts, retries, TLS and proxies of the output are the "
                        "run's: set them in the 'network' section or in "
                        "store.obstore_config (they apply to reads and writes alike)",
                        path, key);
        char sub[160];
        sub_path(sub, sizeof sub, path, key);
        if (nested) {
            if (!strcmp(key, "client_options") ? client_options_map(x, &x->client, val, sub)
                                               : retry_map(x, &x->client, val, sub, false))
                return -1;
            continue;
        }
        if (!out && client_key(key) >= 0 && strcmp(key, "allow_http") != 0) {
            bool to_store = false;
            if (client_option(x, &x->client, key, val, sub, &to_store))
                return -1;
            if (!to_store)
                continue;
        }
        if (add_store_kv(x, *kv, *nodes, n_kv, k, val, path))
            return -1;
    }
    return 0;
}

static int get_codec(ctx *x, const yaml_node_t *v, const char *path, int *out) {
    static const char *const names[] = {"snappy", "zstd", "none"};
    if (v->type != YAML_SCALAR_NODE || is_null(v) || as_bool(v) >= 0)
        return fail(x, &v->start_mark, "%s must be one of snappy, zstd, none; got %s", path,
                    kind_name(v));
    char low[16];
    const char *s = sval(v);
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof low; i++)
        low[i] = (char)lower((unsigned char)s[i]);
    low[i] = 0;
    if (!s[i]) {
        if (!strcmp(low, "snappy")) {
            *out = PQ_CODEC_SNAPPY;
            return 0;
        }
        if (!strcmp(low, "zstd")) {
            *out = PQ_CODEC_ZSTD;
            return 0;
        }
        if (!strcmp(low, "none") || !strcmp(low, "uncompressed")) {
            *out = PQ_CODEC_NONE;
            return 0;
        }
    }
    char shown[64];
    show(shown, sizeof shown, v);
    const char *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t j = 0; j < 3; j++) {
        size_t d = edit_distance(s, names[j]);
        if (d < bd)
            bd = d, best = names[j];
    }
    if (bd <= 2)
        return fail(x, &v->start_mark,
                    "%s: unknown compression '%s' (did you mean '%s'?; one of snappy, zstd, none)",
                    path, shown, best);
    return fail(x, &v->start_mark, "%s: unknown compression '%s' (one of snappy, zstd, none)", path,
                shown);
}

static void set_int(td_config *c, const field *f, uint64_t v) {
    char *p = (char *)c + f->off;
    if (f->width == 8) {
        uint64_t u = v;
        memcpy(p, &u, 8);
    } else {
        unsigned u = (unsigned)v; /* every 4-byte field's max fits (checked above) */
        memcpy(p, &u, 4);
    }
}

/* Checks a mapping's keys: scalars, no duplicates. */
static int check_keys(ctx *x, const yaml_node_t *m, const char *where) {
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    if (n > MAX_MAP_KEYS)
        return fail(x, &m->start_mark, "%s has %zu keys (at most %u)", where, n, MAX_MAP_KEYS);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *k = yaml_document_get_node(&x->doc, m->data.mapping.pairs.start[i].key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return fail(x, k ? &k->start_mark : &m->start_mark,
                        "keys in %s must be plain names, got %s", where,
                        k ? kind_name(k) : "nothing");
        for (size_t j = 0; j < i; j++) {
            const yaml_node_t *o =
                yaml_document_get_node(&x->doc, m->data.mapping.pairs.start[j].key);
            if (!strcmp(sval(o), sval(k))) {
                char shown[64];
                show(shown, sizeof shown, k);
                return fail(x, &k->start_mark, "duplicate key '%s' in %s (first at line %lu)",
                            shown, where, (unsigned long)o->start_mark.line + 1);
            }
        }
    }
    return 0;
}

static int load_section(ctx *x, const section *sec, const yaml_node_t *m) {
    char where[64];
    snprintf(where, sizeof where, "'%s'", sec->key);
    if (m->type == YAML_SCALAR_NODE && is_null(m))
        return 0; /* "fetch:" with nothing under it: all defaults */
    if (m->type != YAML_MAPPING_NODE)
        return fail(x, &m->start_mark, "'%s' must be a mapping of keys, got %s", sec->key,
                    kind_name(m));
    if (check_keys(x, m, where))
        return -1;
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &m->data.mapping.pairs.start[i];
        const yaml_node_t *k = yaml_document_get_node(&x->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&x->doc, p->value);
        const field *f = sec->fields;
        while (f->key && strcmp(f->key, sval(k)))
            f++;
        if (!f->key) {
            const char *valid[16];
            size_t nv = 0;
            for (const field *g = sec->fields; g->key && nv < 16; g++)
                valid[nv++] = g->key;
            return unknown_key(x, k, where, valid, nv);
        }
        char path[96];
        snprintf(path, sizeof path, "%s.%s", sec->key, f->key);
        x->seen[f->id] = true;
        x->mark[f->id] = v->start_mark;
        td_config *c = x->c;
        uint64_t u = 0;
        int rc = 0;
        switch (f->type) {
        case F_UINT:
            rc = get_uint(x, v, path, f->min, f->max, &u);
            if (!rc)
                set_int(c, f, u);
            break;
        case F_SECONDS:
            rc = get_seconds(x, v, path, f->max, &u);
            if (!rc)
                set_int(c, f, u);
            break;
        case F_CODEC:
            rc = get_codec(x, v, path, &c->compression);
            break;
        case F_OBSTORE:
            rc = get_obstore(x, v, path, f->id == K_OUT_OBSTORE);
            break;
        case F_STRING:
            if (f->id == K_SUFFIX_CASE) {
                /* the original matched ".tif" exactly (str.endswith); ours ignores case */
                rc = get_choice(x, v, "insensitive", "sensitive", &c->suffix_case_sensitive,
                                "fetch.suffix_case must be insensitive (the default: .tif also "
                                "matches X.TIF) or sensitive (as the Python tool's endswith)");
            } else if (f->id == K_IFDS) {
                /* every IFD and the COG verdict, or IFD 0 alone (the Python tool's view) */
                rc = get_choice(x, v, "all", "first", &c->first_ifd_only,
                                "fetch.ifds must be all (the default: every IFD, overviews and "
                                "the COG verdict) or first (IFD 0 only, as the Python tool)");
            } else if (f->id == K_FOOTPRINTS) {
                rc = get_off_switch(x, v, &c->no_footprints,
                                    "output.footprints must be true (the default: geometry, bbox "
                                    "and the proj_* columns, with PROJ) or false (those columns "
                                    "null, PROJ not started)");
            } else if (f->id == K_LIST_REPLAY) {
                rc = get_off_switch(x, v, &c->no_list_replay,
                                    "output.list_replay must be true (the default: an ifds list "
                                    "or GDAL metadata map equal to a recent one is copied) or "
                                    "false (always encoded again; the same output, for measuring)");
            } else if (f->id == K_PREFIX_MODE) {
                /* segments (obstore's semantics, the default) or raw byte prefixes */
                rc = get_choice(x, v, "segments", "raw", &c->raw_prefixes,
                                "store.prefix_mode must be segments (the default: 'a/b' lists "
                                "a/b/... only, as obstore does) or raw ('2024-0' also lists "
                                "2024-01/...)");
            } else if (f->id == K_KEYS_FROM || f->id == K_INVENTORY) {
                char **dst = f->id == K_KEYS_FROM ? &c->keys_from : &c->inventory;
                if (is_null(v))
                    return fail(x, &v->start_mark, "%s is empty: give a file%s (or remove it)",
                                path, f->id == K_KEYS_FROM ? ", or - for stdin," : "");
                rc = get_string(x, v, path, dst);
                if (!rc && !**dst)
                    rc = fail(x, &v->start_mark, "%s is empty: give a file%s (or remove it)", path,
                              f->id == K_KEYS_FROM ? ", or - for stdin," : "");
            } else if (f->id == K_ENGINE) {
                /* auto: plain GETs on the engine's own HTTP/1.1 path; curl: all via libcurl */
                char *s = NULL;
                rc = get_string(x, v, path, &s);
                if (!rc && s && strcmp(s, "auto") == 0)
                    c->net_engine = 0;
                else if (!rc && s && strcmp(s, "curl") == 0)
                    c->net_engine = 1;
                else if (!rc)
                    rc = fail(x, &v->start_mark, "%s wants auto or curl, not '%.*s'", path,
                              ut_utf8_prec(s ? s : "", 64), s ? s : "");
                free(s);
            } else if (f->id == K_CA) {
                if (is_null(v)) {
                    free(c->ca_bundle);
                    c->ca_bundle = NULL;
                    break;
                }
                rc = get_string(x, v, path, &c->ca_bundle);
                if (!rc && !*c->ca_bundle)
                    rc = fail(x, &v->start_mark, "%s is empty (remove it or give a file)", path);
            } else { /* store.name */
                if (is_null(v))
                    return fail(x, &v->start_mark,
                                "store.name is empty: give a store URL (s3://bucket, "
                                "https://host/path, ...) or a local folder");
                rc = get_string(x, v, path, &c->store_name);
                if (!rc && !*c->store_name)
                    rc = fail(x, &v->start_mark,
                              "store.name is empty: give a store URL (s3://bucket, "
                              "https://host/path, ...) or a local folder");
                if (!rc)
                    rc = mask_url_secret(x, v);
            }
            break;
        case F_STRLIST:
            if (f->id == K_PREFIXES) {
                /* null and [] mean the whole store, as in the original (`if not
                 * prefixes: prefixes = [""]`); neither counts as given (keys_from) */
                if (is_null(v)) {
                    x->seen[K_PREFIXES] = false;
                    break;
                }
                char **arr = NULL;
                size_t na = 0;
                rc = get_strlist(x, v, path, &arr, &na, true);
                if (!rc && na == 0) {
                    free(arr);
                    x->seen[K_PREFIXES] = false;
                    break;
                }
                if (!rc) {
                    free_strv(c->prefixes, c->n_prefixes, default_prefixes);
                    c->prefixes = arr;
                    c->n_prefixes = na;
                }
            } else { /* fetch.suffixes; [] = every key */
                char **arr = NULL;
                size_t na = 0;
                if (is_null(v)) {
                    rc = fail(x, &v->start_mark,
                              "fetch.suffixes is null: give a list, or [] to take every key");
                    break;
                }
                rc = get_strlist(x, v, path, &arr, &na, false);
                if (!rc) {
                    free_strv(c->suffixes, c->n_suffixes, default_suffixes);
                    c->suffixes = arr;
                    c->n_suffixes = na;
                }
            }
            break;
        }
        if (rc)
            return -1;
    }
    return 0;
}

/* For messages about two keys: point at the first one written in the file. */
static const yaml_mark_t *mark_of(ctx *x, int a, int b) {
    if (x->seen[a])
        return &x->mark[a];
    if (x->seen[b])
        return &x->mark[b];
    return NULL;
}

/* Segment semantics (td_prefix_segments) unless store.prefix_mode is raw: done once all
 * keys are read, whatever their order in the file. */
static int normalise_prefixes(ctx *x) {
    td_config *c = x->c;
    if (c->raw_prefixes || c->prefixes == (char **)(uintptr_t)default_prefixes)
        return 0;
    for (size_t i = 0; i < c->n_prefixes; i++) {
        char *n = td_prefix_segments(c->prefixes[i]);
        if (!n)
            return nomem(x);
        free(c->prefixes[i]);
        c->prefixes[i] = n;
    }
    return 0;
}

static int cross_checks(ctx *x) {
    td_config *c = x->c;
    if (normalise_prefixes(x) || apply_client(x, &x->client))
        return -1;
    /* store options accepted with no effect on listing and reading: said, not dropped */
    for (size_t i = 0; c->store_name && i < c->n_store_kv; i++)
        if (store_option_is_ignored(c->store_name, c->store_kv[i].key) &&
            warnf(x,
                  "store.obstore_config.%.60s is accepted but has no effect: tiff-dumper only "
                  "lists and reads (remove it to silence this warning)",
                  c->store_kv[i].key))
            return -1;
    if (!x->store_seen)
        return fail(x, NULL,
                    "the 'store' section is missing; at least store.name is needed, e.g.\n"
                    "  store:\n    name: s3://bucket   # or a local folder");
    if (!c->store_name)
        return fail(x, NULL,
                    "store.name is missing: give a store URL (s3://bucket, https://host/path, "
                    "...) or a local folder");
    if (c->keys_from && c->inventory)
        return fail(x, mark_of(x, K_KEYS_FROM, K_INVENTORY),
                    "store.keys_from and store.inventory exclude each other: give one source "
                    "of keys");
    if ((c->keys_from || c->inventory) && x->seen[K_PREFIXES])
        return fail(x, mark_of(x, K_PREFIXES, K_PREFIXES),
                    "store.prefixes cannot be combined with store.%s: the key source says which "
                    "keys to read (remove prefixes)",
                    c->keys_from ? "keys_from" : "inventory");
    if (c->n_consumers > c->list_chunk_size)
        return fail(x, mark_of(x, K_NCONS, K_LIST),
                    "concurrency.n_consumers (%u) must be at most concurrency.list_chunk_size "
                    "(%zu)",
                    c->n_consumers, c->list_chunk_size);
    if (c->max_buffer_size < c->list_chunk_size)
        return fail(x, mark_of(x, K_MAXBUF, K_LIST),
                    "concurrency.max_buffer_size (%zu) must be at least "
                    "concurrency.list_chunk_size (%zu)",
                    c->max_buffer_size, c->list_chunk_size);
    if (c->max_buffer_size % c->list_chunk_size)
        return fail(x, mark_of(x, K_MAXBUF, K_LIST),
                    "concurrency.max_buffer_size (%zu) must be a multiple of "
                    "concurrency.list_chunk_size (%zu)",
                    c->max_buffer_size, c->list_chunk_size);
    if (c->write_chunk_size < c->list_chunk_size)
        return fail(x, mark_of(x, K_WRITE, K_LIST),
                    "concurrency.write_chunk_size (%zu) must be at least "
                    "concurrency.list_chunk_size (%zu)",
                    c->write_chunk_size, c->list_chunk_size);
    if (c->write_chunk_size > c->max_buffer_size)
        return fail(x, mark_of(x, K_WRITE, K_MAXBUF),
                    "concurrency.write_chunk_size (%zu) must be at most "
                    "concurrency.max_buffer_size (%zu)",
                    c->write_chunk_size, c->max_buffer_size);
    if (x->seen[K_ROWGROUP]) {
        if (c->row_group_size > c->write_chunk_size)
            return fail(x, &x->mark[K_ROWGROUP],
                        "output.row_group_size (%llu) must be at most "
                        "concurrency.write_chunk_size (%zu)",
                        (unsigned long long)c->row_group_size, c->write_chunk_size);
    } else if (c->row_group_size > c->write_chunk_size) {
        c->row_group_size = c->write_chunk_size; /* a file never holds more rows */
    }
    if (c->prefetch_bytes > c->max_header_bytes)
        return fail(x, mark_of(x, K_PREFETCH, K_MAXHDR),
                    "fetch.prefetch_bytes (%llu) must be at most fetch.max_header_bytes (%llu)",
                    (unsigned long long)c->prefetch_bytes, (unsigned long long)c->max_header_bytes);
    return 0;
}

static int load_doc(ctx *x) {
    const yaml_node_t *root = yaml_document_get_root_node(&x->doc);
    if (!root || (root->type == YAML_SCALAR_NODE && is_null(root)))
        return fail(x, NULL,
                    "the config is empty; it needs at least:\n  store:\n    name: s3://bucket"
                    "   # or a local folder");
    if (root->type != YAML_MAPPING_NODE)
        return fail(x, &root->start_mark,
                    "the config must be a mapping with the sections store, concurrency, fetch, "
                    "output, network; got %s",
                    kind_name(root));
    if (check_keys(x, root, "the top level"))
        return -1;
    size_t n = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &root->data.mapping.pairs.start[i];
        const yaml_node_t *k = yaml_document_get_node(&x->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&x->doc, p->value);
        const section *s = sections;
        while (s->key && strcmp(s->key, sval(k)))
            s++;
        if (!s->key) {
            const char *valid[8];
            size_t nv = 0;
            for (const section *t = sections; t->key; t++)
                valid[nv++] = t->key;
            /* a section key at the top level is a common indentation slip */
            for (const section *t = sections; t->key; t++)
                for (const field *f = t->fields; f->key; f++)
                    if (!strcmp(f->key, sval(k)))
                        return fail(x, &k->start_mark,
                                    "unknown key '%s' at the top level (did you mean '%s' "
                                    "indented under '%s:'?)",
                                    f->key, f->key, t->key);
            return unknown_key(x, k, "the top level", valid, nv);
        }
        if (s == sections)
            x->store_seen = true;
        if (load_section(x, s, v))
            return -1;
    }
    return cross_checks(x);
}

/* Nesting and anchors a config never needs, refused before the document is built:
 * libyaml's scanner and composer are quadratic in both (every token looks at every open
 * flow level; every anchor and alias is looked up in a list), so 600 KB of "[[[[..." or of
 * anchors would run for minutes. The event pass stops at the first excess, in
 * microseconds; a syntax error is left to the load that follows, which reports it. */
#define MAX_DEPTH 64
#define MAX_ANCHORS 256
#define MAX_ALIASES 4096

static int precheck(ctx *x) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return nomem(x);
    yaml_parser_set_input_string(&p, (const unsigned char *)x->text, x->text_len);
    int depth = 0, rc = 0;
    size_t anchors = 0, aliases = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t type = ev.type;
        const yaml_char_t *anchor = NULL;
        switch (type) {
        case YAML_SEQUENCE_START_EVENT:
            anchor = ev.data.sequence_start.anchor;
            depth++;
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = ev.data.mapping_start.anchor;
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            anchor = ev.data.scalar.anchor;
            break;
        case YAML_ALIAS_EVENT:
            aliases++;
            break;
        default:
            break;
        }
        if (anchor)
            anchors++;
        if (depth > MAX_DEPTH)
            rc = fail(x, &ev.start_mark,
                      "the YAML nests deeper than %d levels (a config needs 3): is it a config?",
                      MAX_DEPTH);
        else if (anchors > MAX_ANCHORS)
            rc = fail(x, &ev.start_mark, "more than %d YAML anchors (&name) in the config",
                      MAX_ANCHORS);
        else if (aliases > MAX_ALIASES)
            rc = fail(x, &ev.start_mark, "more than %d YAML aliases (*name) in the config",
                      MAX_ALIASES);
        yaml_event_delete(&ev);
        if (rc || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static int parse(ctx *x) {
    if (precheck(x))
        return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return nomem(x);
    yaml_parser_set_input_string(&parser, (const unsigned char *)x->text, x->text_len);
    if (!yaml_parser_load(&parser, &x->doc)) {
        if (parser.error == YAML_MEMORY_ERROR) {
            yaml_parser_delete(&parser);
            return nomem(x);
        }
        const char *prob = parser.problem ? parser.problem : "invalid YAML";
        size_t at = char_to_byte(x->text, x->text_len, parser.problem_mark.index);
        if (at < x->text_len && x->text[at] == '\t')
            fail(x, &parser.problem_mark,
                 "YAML syntax error: a tab; YAML indents with spaces only");
        else if (parser.context)
            fail(x, &parser.problem_mark, "YAML syntax error: %s (%s at line %lu column %lu)", prob,
                 parser.context, (unsigned long)parser.context_mark.line + 1,
                 (unsigned long)parser.context_mark.column + 1);
        else
            fail(x, &parser.problem_mark, "YAML syntax error: %s", prob);
        yaml_parser_delete(&parser);
        return -1;
    }
    /* A second document would be silently ignored: refuse it. */
    yaml_document_t more;
    int rc = 0;
    if (yaml_document_get_root_node(&x->doc)) {
        if (!yaml_parser_load(&parser, &more)) {
            const char *prob = parser.problem ? parser.problem : "invalid YAML";
            rc = fail(x, &parser.problem_mark, "YAML syntax error: %s", prob);
        } else {
            const yaml_node_t *r2 = yaml_document_get_root_node(&more);
            if (r2)
                rc = fail(x, &r2->start_mark,
                          "a second YAML document ('---'): the config is one document");
            yaml_document_delete(&more);
        }
        if (rc)
            yaml_document_delete(&x->doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int load_text(td_config *c, const char *text, size_t len, const char *name, char *err,
                     size_t errlen) {
    ctx x;
    memset(&x, 0, sizeof x);
    x.name = name && *name ? name : "config";
    x.err = err;
    x.errlen = errlen;
    x.c = c;
    x.text = text;
    x.text_len = len;
    td_config_defaults(c);
    if (errlen)
        err[0] = 0;
    int rc = -1;
    if (memchr(text, 0, len))
        rc = fail(&x, NULL, "the config contains a NUL byte (is it a text file?)");
    else if (parse(&x) == 0) {
        rc = load_doc(&x);
        if (!rc)
            rc = build_source(&x);
        yaml_document_delete(&x.doc);
    }
    for (size_t i = 0; i < x.n_masks; i++)
        free(x.masks[i].repl);
    free(x.masks);
    free(x.kv_nodes);
    free(x.okv_nodes);
    if (rc) {
        td_config_free(c);
        return -1;
    }
    return 0;
}

int td_config_load_string(td_config *c, const char *yaml, const char *name, char *err,
                          size_t errlen) {
    size_t len = strlen(yaml);
    if (len > TD_CONFIG_MAX_FILE_BYTES) {
        td_config_defaults(c);
        snprintf(err, errlen, "%s: the config is larger than %u bytes", name ? name : "config",
                 TD_CONFIG_MAX_FILE_BYTES);
        return -1;
    }
    return load_text(c, yaml, len, name, err, errlen);
}

int td_config_load(td_config *c, const char *path, char *err, size_t errlen) {
    td_config_defaults(c);
    size_t n = 0;
    char *buf = ut_read_file(path, TD_CONFIG_MAX_FILE_BYTES, &n, NULL, 0);
    if (!buf) {
        int e = errno;
        struct stat st;
        if (e == EFBIG)
            snprintf(err, errlen, "%s: the config is larger than %u bytes", path,
                     TD_CONFIG_MAX_FILE_BYTES);
        else if (e == ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) /* read() says only EIO */
            snprintf(err, errlen,
                     "%s is a folder, not a YAML config (the order is: tiff-dumper headers "
                     "CONFIG OUT_DIR)",
                     path);
        else
            snprintf(err, errlen, "%s: cannot %s the config: %s", path, e == EIO ? "read" : "open",
                     strerror(e));
        return -1;
    }
    int rc = load_text(c, buf, n, path, err, errlen);
    free(buf);
    return rc;
}

int td_config_split_kv(char *arg, store_kv *kv) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return -1;
    *eq = '\0';
    kv->key = arg;
    kv->value = eq + 1;
    return 0;
}
