/* shard.c - partition, names, engine variables and dataset completion (shard.h). */
#include "shard.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "outstore.h"
#include "util.h"

uint64_t td_shard_hash(const void *key, size_t len) {
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    /* FNV-1a alone leaves the low bits (those mod N keeps) weak for keys that differ in
     * their last byte only (tile_001.tif, tile_002.tif...): fmix64 mixes every bit in */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

bool td_shard_owns(const td_shard_options *s, const char *key, size_t len) {
    if (!s || s->count == 0)
        return true;
    return td_shard_hash(key, len) % s->count == s->index;
}

/* A whole decimal number (no sign, no spaces, no leading '+'), at most max. */
static int parse_u32(const char *s, size_t n, uint32_t max, uint32_t *out) {
    if (n == 0 || n > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int td_shard_parse(const char *spec, td_shard_options *out, char *err, size_t errlen) {
    const char *slash = strchr(spec, '/');
    uint32_t i = 0, n = 0;
    if (!slash || parse_u32(spec, (size_t)(slash - spec), UINT32_MAX, &i) != 0 ||
        parse_u32(slash + 1, strlen(slash + 1), UINT32_MAX, &n) != 0) {
        ut_msgf(err, errlen,
                "--shard '%s': expected I/N, two whole numbers with 0 <= I < N (e.g. 3/10)", spec);
        return -1;
    }
    if (n == 0 || n > TD_SHARD_MAX_COUNT) {
        ut_msgf(err, errlen, "--shard '%s': the shard count N must be 1 to %u", spec,
                TD_SHARD_MAX_COUNT);
        return -1;
    }
    if (i >= n) {
        ut_msgf(err, errlen,
                "--shard '%s': shard index %u is out of range: shards are numbered 0 to %u", spec,
                i, n - 1);
        return -1;
    }
    out->index = i;
    out->count = n;
    return 0;
}

static const char *env_get(const char *(*fn)(const char *), const char *name) {
    const char *v = fn ? fn(name) : getenv(name);
    return v && *v ? v : NULL; /* set but empty counts as unset */
}

/* A variable's value as a number (signed: SLURM ids may be anything >= 0). */
static int env_num(const char *name, const char *v, uint32_t *out, char *err, size_t errlen) {
    if (parse_u32(v, strlen(v), UINT32_MAX, out) != 0) {
        ut_msgf(err, errlen, "%s='%s' is not a whole number", name, v);
        return -1;
    }
    return 0;
}

int td_shard_from_env(td_shard_options *out, uint32_t count_hint,
                      const char *(*getenv_fn)(const char *name), char *source, size_t srclen,
                      char *err, size_t errlen) {
    const char *k8s = env_get(getenv_fn, "JOB_COMPLETION_INDEX");
    const char *aws = env_get(getenv_fn, "AWS_BATCH_JOB_ARRAY_INDEX");
    const char *slurm = env_get(getenv_fn, "SLURM_ARRAY_TASK_ID");
    uint32_t idx = 0, count = 0;
    const char *count_name = NULL; /* the engine's count variable, if it gave one */
    if (k8s) {
        if (env_num("JOB_COMPLETION_INDEX", k8s, &idx, err, errlen) != 0)
            return -1;
        ut_msgf(source, srclen, "JOB_COMPLETION_INDEX=%s", k8s);
    } else if (aws) {
        if (env_num("AWS_BATCH_JOB_ARRAY_INDEX", aws, &idx, err, errlen) != 0)
            return -1;
        const char *sz = env_get(getenv_fn, "AWS_BATCH_JOB_ARRAY_SIZE");
        if (sz) {
            if (env_num("AWS_BATCH_JOB_ARRAY_SIZE", sz, &count, err, errlen) != 0)
                return -1;
            count_name = "AWS_BATCH_JOB_ARRAY_SIZE";
            ut_msgf(source, srclen, "AWS_BATCH_JOB_ARRAY_INDEX=%s, AWS_BATCH_JOB_ARRAY_SIZE=%s",
                    aws, sz);
        } else
            ut_msgf(source, srclen, "AWS_BATCH_JOB_ARRAY_INDEX=%s", aws);
    } else if (slurm) {
        uint32_t id = 0, min = 0, step = 1;
        if (env_num("SLURM_ARRAY_TASK_ID", slurm, &id, err, errlen) != 0)
            return -1;
        const char *mn = env_get(getenv_fn, "SLURM_ARRAY_TASK_MIN");
        const char *st = env_get(getenv_fn, "SLURM_ARRAY_TASK_STEP");
        const char *cn = env_get(getenv_fn, "SLURM_ARRAY_TASK_COUNT");
        if (mn && env_num("SLURM_ARRAY_TASK_MIN", mn, &min, err, errlen) != 0)
            return -1;
        if (st && (env_num("SLURM_ARRAY_TASK_STEP", st, &step, err, errlen) != 0))
            return -1;
        if (step == 0) {
            ut_msgf(err, errlen, "SLURM_ARRAY_TASK_STEP=%s: a step must be at least 1", st);
            return -1;
        }
        if (id < min || (id - min) % step != 0) {
            ut_msgf(err, errlen,
                    "SLURM_ARRAY_TASK_ID=%s is not SLURM_ARRAY_TASK_MIN=%s plus a multiple of "
                    "SLURM_ARRAY_TASK_STEP=%s: submit the array as one range, e.g. "
                    "--array=0-9 (or --array=0-18:2), not as a list",
                    slurm, mn ? mn : "0", st ? st : "1");
            return -1;
        }
        idx = (id - min) / step;
        if (cn) {
            if (env_num("SLURM_ARRAY_TASK_COUNT", cn, &count, err, errlen) != 0)
                return -1;
            count_name = "SLURM_ARRAY_TASK_COUNT";
        }
        ut_msgf(source, srclen,
                "SLURM_ARRAY_TASK_ID=%s, SLURM_ARRAY_TASK_MIN=%s, SLURM_ARRAY_TASK_STEP=%s%s%s",
                slurm, mn ? mn : "0 (unset)", st ? st : "1 (unset)",
                cn ? ", SLURM_ARRAY_TASK_COUNT=" : "", cn ? cn : "");
    } else
        return 0;
    if (count_name && count_hint && count != count_hint) {
        ut_msgf(err, errlen,
                "%s=%" PRIu32 " but --shards (or shards.count) says %" PRIu32 ": they must agree",
                count_name, count, count_hint);
        return -1;
    }
    if (!count_name)
        count = count_hint;
    if (count == 0) {
        ut_msgf(err, errlen,
                "%s gives this run's shard index but not the shard count: pass --shards N "
                "(or set shards.count in the config)",
                source);
        return -1;
    }
    if (count > TD_SHARD_MAX_COUNT) {
        ut_msgf(err, errlen, "shard count %" PRIu32 " is more than %u", count, TD_SHARD_MAX_COUNT);
        return -1;
    }
    if (idx >= count) {
        ut_msgf(err, errlen,
                "%s: shard index %" PRIu32 " is out of range for %" PRIu32 " shards (0 to %" PRIu32
                ")",
                source, idx, count, count - 1);
        return -1;
    }
    out->index = idx;
    out->count = count;
    return 1;
}

/* ------------------------------------------------------------------ names */

void td_shard_part_name(char *buf, size_t n, const td_shard_options *s, unsigned index, bool tmp) {
    if (s && s->count)
        snprintf(buf, n, "%spart-S%04" PRIu32 "-%05u.parquet%s", tmp ? "." : "", s->index, index,
                 tmp ? ".tmp" : "");
    else
        snprintf(buf, n, "%spart-%05u.parquet%s", tmp ? "." : "", index, tmp ? ".tmp" : "");
}

void td_shard_marker_name(char *buf, size_t n, const td_shard_options *s) {
    if (s && s->count)
        snprintf(buf, n, "_SUCCESS.shard-%04" PRIu32 "-of-%04" PRIu32, s->index, s->count);
    else
        snprintf(buf, n, "_SUCCESS");
}

/* Digits at s, as a number; *end past them. -1 if none. */
static int digits(const char *s, const char **end, uint32_t *v) {
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    *end = s + n;
    return parse_u32(s, n, UINT32_MAX, v);
}

int td_shard_part_of(const char *name, uint32_t *shard) {
    if (strncmp(name, "part-", 5) != 0)
        return -1;
    const char *p = name + 5, *e;
    uint32_t v;
    int sharded = 0;
    if (*p == 'S') {
        if (digits(p + 1, &e, shard) != 0 || *e != '-')
            return -1;
        p = e + 1;
        sharded = 1;
    }
    if (digits(p, &e, &v) != 0 || strcmp(e, ".parquet") != 0)
        return -1;
    return sharded;
}

bool td_shard_marker_of(const char *name, uint32_t *i, uint32_t *n) {
    static const char pre[] = "_SUCCESS.shard-";
    if (strncmp(name, pre, sizeof pre - 1) != 0)
        return false;
    const char *e;
    if (digits(name + sizeof pre - 1, &e, i) != 0 || strncmp(e, "-of-", 4) != 0)
        return false;
    if (digits(e + 4, &e, n) != 0 || *e)
        return false;
    return *n > 0 && *i < *n;
}

bool td_shard_replaces(const td_shard_options *s, const char *name) {
    bool sharded = s && s->count;
    if (strcmp(name, "_SUCCESS") == 0)
        return true;
    /* temporaries: ._SUCCESS.tmp[.tag], .part-...parquet.tmp */
    char plain[256];
    size_t n = strlen(name);
    if (name[0] == '.' && n < sizeof plain) {
        if (strncmp(name, "._SUCCESS.tmp", 13) == 0) {
            /* another shard's finish may be writing one right now: only our own */
            char own[64];
            if (!sharded)
                return true;
            snprintf(own, sizeof own, "._SUCCESS.tmp.shard-%04" PRIu32 ".", s->index);
            return strncmp(name, own, strlen(own)) == 0;
        }
        if (n > 5 && strcmp(name + n - 4, ".tmp") == 0) {
            memcpy(plain, name + 1, n - 5);
            plain[n - 5] = 0;
            name = plain;
        } else
            return false;
    }
    uint32_t sh, i, cnt;
    int part = td_shard_part_of(name, &sh);
    if (part >= 0)
        return !sharded || (part == 1 && sh == s->index);
    if (td_shard_marker_of(name, &i, &cnt))
        return !sharded || i == s->index;
    return false;
}

/* ------------------------------------------------------------------ finish */

typedef struct marker {
    uint32_t index;
    char *text;
    size_t len;
    ut_json j;
    bool parsed;
} marker;

/* The JSON text of member key (strings with their quotes, containers whole), or an empty
 * span when absent. */
static void raw_member(const ut_json *d, const char *key, const char **s, size_t *n) {
    size_t t = ut_json_get(d, 0, key);
    *s = "";
    *n = 0;
    if (t == UT_JSON_NONE)
        return;
    const ut_json_tok *k = &d->tok[t];
    size_t a = k->start, b = k->end;
    if (k->type == UT_JSON_STRING) {
        a--;
        b++;
    }
    *s = d->text + a;
    *n = b - a;
}

static bool same_member(const marker *x, const marker *y, const char *key) {
    const char *a, *b;
    size_t na, nb;
    raw_member(&x->j, key, &a, &na);
    raw_member(&y->j, key, &b, &nb);
    return na == nb && memcmp(a, b, na) == 0;
}

static uint64_t u64_member(const marker *m, const char *key, bool *present) {
    uint64_t v = 0;
    size_t t = ut_json_get(&m->j, 0, key);
    if (t != UT_JSON_NONE && ut_json_u64(&m->j, t, &v) == 0) {
        if (present)
            *present = true;
        return v;
    }
    return 0;
}

static double dbl_member(const marker *m, const char *key) {
    const char *s;
    size_t n;
    raw_member(&m->j, key, &s, &n);
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    return strtod(buf, NULL);
}

static int cmp_marker(const void *a, const void *b) {
    const marker *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Part files of OUT_DIR (or _errors) that do not belong to N shards. */
typedef struct part_check {
    uint32_t n;
    const char *where;
    char *err;
    size_t errlen;
    bool bad;
} part_check;

static void check_part(const char *name, void *arg) {
    part_check *c = arg;
    uint32_t sh = 0;
    int part = td_shard_part_of(name, &sh);
    if (c->bad || !(part == 0 || (part == 1 && sh >= c->n)))
        return;
    ut_msgf(c->err, c->errlen,
            "%s%s does not belong to a run of %" PRIu32 " shards (%s): remove it, or rerun into "
            "an empty OUT_DIR",
            c->where, name, c->n,
            part == 0 ? "an unsharded run wrote it" : "its shard number is too high");
    c->bad = true;
}

static int check_parts(const td_shard_io *io, const char *shown, const char *sub, uint32_t n,
                       char *err, size_t errlen) {
    char where[1024];
    snprintf(where, sizeof where, "%s/%s%s", shown, sub, *sub ? "/" : "");
    part_check c = {n, where, err, errlen, false};
    int rc = io->list(io->ud, sub, check_part, &c, err, errlen);
    if (rc < 0)
        return -1;
    return c.bad ? -1 : 0;
}

static void put_raw(ut_buf *b, const marker *m, const char *key) {
    const char *s;
    size_t n;
    raw_member(&m->j, key, &s, &n);
    if (n) {
        ut_buf_printf(b, ",\"%s\":", key);
        ut_buf_put(b, s, n);
    }
}

/* The earliest (first true) or latest `key` of the markers, a raw JSON string: the times are
 * all "YYYY-MM-DDTHH:MM:SSZ", so their bytes compare as the times do. */
static void put_time(ut_buf *b, const marker *m, size_t n, const char *key, bool first) {
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        raw_member(&m[i].j, key, &s, &len);
        if (!len)
            continue;
        int c = best ? memcmp(s, best, len < best_n ? len : best_n) : 0;
        if (!best || (first ? c < 0 : c > 0)) {
            best = s;
            best_n = len;
        }
    }
    if (best) {
        ut_buf_printf(b, ",\"%s\":", key);
        ut_buf_put(b, best, best_n);
    }
}

/* The dataset's _SUCCESS: the markers' run description once, their counts summed, the
 * earliest start and the latest finish. A pure function of the markers, so that every writer
 * writes the same bytes. n markers of a split into count shards (n < count only for a
 * report's summary of shards not all done). */
static void summarise(ut_buf *b, const marker *m, size_t n, uint32_t count) {
    uint64_t sums[8] = {0}, retries = 0, throttled = 0, lowest = 0;
    static const char *const keys[8] = {"listed",        "skipped",  "dumped",       "failed",
                                        "bytes_fetched", "requests", "header_files", "error_files"};
    double elapsed = 0;
    bool networked = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 8; k++)
            sums[k] += u64_member(&m[i], keys[k], NULL);
        double e = dbl_member(&m[i], "elapsed_seconds");
        if (e > elapsed)
            elapsed = e;
        bool net = false;
        retries += u64_member(&m[i], "retries", &net);
        throttled += u64_member(&m[i], "throttled", NULL);
        uint64_t lc = u64_member(&m[i], "lowest_concurrency", NULL);
        if (net && (!networked || lc < lowest))
            lowest = lc;
        networked |= net;
    }
    ut_buf_puts(b, "{\"tool\":\"tiff-dumper\"");
    put_raw(b, &m[0], "version");
    put_raw(b, &m[0], "schema_version");
    put_raw(b, &m[0], "store");
    put_raw(b, &m[0], "keys_from");
    put_raw(b, &m[0], "inventory");
    put_raw(b, &m[0], "prefixes");
    ut_buf_printf(b, ",\"shards\":%" PRIu32, count);
    for (size_t k = 0; k < 8; k++)
        ut_buf_printf(b, ",\"%s\":%" PRIu64, keys[k], sums[k]);
    /* the slowest shard's time: the shards ran side by side (as far as the engine let them) */
    ut_buf_printf(b, ",\"elapsed_seconds\":%.3f,\"headers_per_second\":%.1f", elapsed,
                  elapsed > 0 ? (double)sums[2] / elapsed : 0.0);
    put_time(b, m, n, "started", true);
    put_time(b, m, n, "finished", false);
    if (networked)
        ut_buf_printf(
            b, ",\"retries\":%" PRIu64 ",\"throttled\":%" PRIu64 ",\"lowest_concurrency\":%" PRIu64,
            retries, throttled, lowest);
    put_raw(b, &m[0], "config");
    ut_buf_puts(b, "}\n");
}

/* ---- the local OUT_DIR as a td_shard_io ---- */

static int local_list(void *ud, const char *sub, void (*each)(const char *name, void *arg),
                      void *arg, char *err, size_t errlen) {
    ut_buf p = {0};
    ut_buf_printf(&p, "%s%s%s", (const char *)ud, *sub ? "/" : "", sub);
    DIR *d = p.bad ? NULL : opendir(ut_buf_str(&p));
    int rc = 0;
    if (!d) {
        rc = *sub && errno == ENOENT ? 1 : -1; /* no _errors/: nothing in it */
        if (rc < 0)
            ut_msgf(err, errlen, "cannot read %s: %s", ut_buf_str(&p), strerror(errno));
    } else {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            each(de->d_name, arg);
        closedir(d);
    }
    ut_buf_free(&p);
    return rc;
}

static char *local_read(void *ud, const char *name, size_t cap, size_t *len, char *err,
                        size_t errlen) {
    ut_buf p = {0};
    ut_buf_printf(&p, "%s/%s", (const char *)ud, name);
    char *t = ut_read_file(ut_buf_str(&p), cap, len, err, errlen);
    ut_buf_free(&p);
    return t;
}

static int local_write(void *ud, const char *name, const char *tmp_tag, const void *data,
                       size_t len, char *err, size_t errlen) {
    const char *dir = ud;
    ut_buf tp = {0}, fp = {0};
    ut_buf_printf(&tp, "%s/.%s.tmp.%s.%ld", dir, name, tmp_tag ? tmp_tag : "x", (long)getpid());
    ut_buf_printf(&fp, "%s/%s", dir, name);
    int rc = -1;
    FILE *f = tp.bad || fp.bad ? NULL : fopen(ut_buf_str(&tp), "w");
    if (!f) {
        ut_msgf(err, errlen, "cannot create %s: %s", ut_buf_str(&tp), strerror(errno));
        goto out;
    }
    bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0;
    ok = ok && (fsync(fileno(f)) == 0 || errno == EINVAL);
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        ut_msgf(err, errlen, "cannot write %s: %s", ut_buf_str(&tp), strerror(errno ? errno : EIO));
        unlink(ut_buf_str(&tp));
        goto out;
    }
    /* rename replaces atomically: two shards completing the set at once both rename the
     * same bytes over _SUCCESS, and a reader sees one complete copy or the other */
    if (rename(ut_buf_str(&tp), ut_buf_str(&fp)) != 0) {
        ut_msgf(err, errlen, "cannot write %s: %s", ut_buf_str(&fp), strerror(errno));
        unlink(ut_buf_str(&tp));
        goto out;
    }
    rc = 0;
out:
    ut_buf_free(&tp);
    ut_buf_free(&fp);
    return rc;
}

/* ---- an object-store OUT as a td_shard_io (outstore.h) ---- */

typedef struct store_list_ctx {
    void (*each)(const char *name, void *arg);
    void *arg;
} store_list_ctx;

static int store_io_list(void *ud, const char *sub, void (*each)(const char *name, void *arg),
                         void *arg, char *err, size_t errlen) {
    td_outstore *os = ud;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s%s", sub, *sub ? "/" : "");
    td_outstore_keys k;
    if (td_outstore_list(os, prefix, true, NULL, NULL, &k, err, errlen) != 0)
        return -1;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < k.n; i++) {
        const char *name = k.keys[i] + (strncmp(k.keys[i], prefix, pl) == 0 ? pl : 0);
        if (*name && !strchr(name, '/')) /* a store without delimiters lists deeper keys too */
            each(name, arg);
    }
    td_outstore_keys_free(&k);
    return 0;
}

static char *store_io_read(void *ud, const char *name, size_t cap, size_t *len, char *err,
                           size_t errlen) {
    td_outstore *os = ud;
    /* the size is unknown until the first answer: 64 KiB at a time (a marker is a few KiB
     * plus the config) */
    size_t n = 0, have = 0, step = 64u << 10;
    uint64_t total = UINT64_MAX;
    char *buf = NULL;
    for (;;) {
        uint64_t want = total != UINT64_MAX ? total - n : step;
        if (want == 0)
            break;
        if (n + want > cap) {
            ut_msgf(err, errlen, "larger than %zu bytes", cap);
            free(buf);
            return NULL;
        }
        if (n + want + 1 > have) {
            char *g = realloc(buf, n + (size_t)want + 1);
            if (!g) {
                ut_msgf(err, errlen, "out of memory");
                free(buf);
                return NULL;
            }
            buf = g;
            have = n + (size_t)want + 1;
        }
        uint64_t got = 0, size = UINT64_MAX;
        if (td_outstore_get(os, name, n, want, buf + n, 0, &got, &size, err, errlen) != 0) {
            free(buf);
            return NULL;
        }
        n += (size_t)got;
        if (size != UINT64_MAX)
            total = size;
        if (got < want || (total != UINT64_MAX && n >= total))
            break;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int store_io_write(void *ud, const char *name, const char *tmp_tag, const void *data,
                          size_t len, char *err, size_t errlen) {
    (void)tmp_tag; /* a PUT is atomic: no temporary name; concurrent writers put equal bytes */
    return td_outstore_put_buf(ud, name, data, len, err, errlen);
}

int td_shard_finish_store(td_outstore *os, uint32_t expect_count, uint32_t *count_out, char *err,
                          size_t errlen) {
    td_shard_io io = {store_io_list, store_io_read, store_io_write, os};
    char shown[1024];
    snprintf(shown, sizeof shown, "%s", td_outstore_url(os));
    size_t n = strlen(shown);
    if (n && shown[n - 1] == '/')
        shown[n - 1] = 0; /* messages add "/name" */
    return td_shard_finish_io(&io, shown, expect_count, "store", count_out, err, errlen);
}

int td_shard_finish_opts(const td_pipeline_options *o, uint32_t expect_count, const char *tmp_tag,
                         uint32_t *count_out, char *err, size_t errlen) {
    const char *out = o->out_dir;
    if (!td_outstore_is_url(out))
        return td_shard_finish(out, expect_count, tmp_tag, count_out, err, errlen);
    /* the output store as the run opens it: output.obstore_config and the run's network
     * settings (pipeline.c) */
    store_options so = STORE_OPTIONS_INIT;
    so.kv = o->out_store_kv;
    so.n_kv = o->n_out_store_kv;
    so.max_in_flight = TD_OUTSTORE_MAX_DELETES;
    so.connect_timeout_ms = o->net.connect_timeout_ms;
    so.request_timeout_ms = o->net.request_timeout_ms;
    so.max_attempts = o->net.max_attempts;
    so.retry_max_ms = o->net.retry_max_ms;
    so.ca_bundle = o->net.ca_bundle;
    so.retry_base_ms = o->net.retry_base_ms;
    so.retry_cap_ms = o->net.retry_cap_ms;
    so.user_agent = o->net.user_agent;
    so.proxy_url = o->net.proxy_url;
    so.no_proxy = o->net.no_proxy;
    so.insecure_tls = o->net.insecure_tls;
    so.net_engine = o->net.engine;
    td_outstore *os = NULL;
    int orc = td_outstore_open(&os, out, &so, err, errlen);
    if (orc != STORE_OK) /* a bad option or scheme is the caller's mistake: -2 */
        return orc == STORE_E_CONFIG || orc == STORE_E_UNSUPPORTED ? -2 : -1;
    int rc = td_shard_finish_store(os, expect_count, count_out, err, errlen);
    td_outstore_close(os);
    return rc;
}

int td_shard_finish(const char *out_dir, uint32_t expect_count, const char *tmp_tag,
                    uint32_t *count_out, char *err, size_t errlen) {
    if (td_outstore_is_url(out_dir)) { /* the environment's credentials and endpoint */
        td_pipeline_options o;
        td_pipeline_options_init(&o);
        o.out_dir = out_dir;
        return td_shard_finish_opts(&o, expect_count, tmp_tag, count_out, err, errlen);
    }
    if (strncmp(out_dir, "file://", 7) == 0)
        out_dir += 7;
    td_shard_io io = {local_list, local_read, local_write, (void *)out_dir};
    return td_shard_finish_io(&io, out_dir, expect_count, tmp_tag, count_out, err, errlen);
}

/* The markers a listing shows (of one N: the first seen, or the expected). */
typedef struct marker_scan {
    marker *m;
    size_t nm, cap;
    uint32_t n;
    char other[300]; /* a marker of another N */
    bool nomem;
} marker_scan;

static void scan_marker(const char *name, void *arg) {
    marker_scan *sc = arg;
    uint32_t i, cnt;
    if (sc->nomem || !td_shard_marker_of(name, &i, &cnt))
        return;
    if (sc->n == 0)
        sc->n = cnt;
    if (cnt != sc->n) {
        snprintf(sc->other, sizeof sc->other, "%s", name);
        return;
    }
    for (size_t k = 0; k < sc->nm; k++)
        if (sc->m[k].index == i)
            return; /* a store may list a name twice across pages; a folder never does */
    if (sc->nm == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 16;
        marker *g = realloc(sc->m, nc * sizeof *g);
        if (!g) {
            sc->nomem = true;
            return;
        }
        sc->m = g;
        sc->cap = nc;
    }
    memset(&sc->m[sc->nm], 0, sizeof *sc->m);
    sc->m[sc->nm++].index = i;
}

/* The markers io lists, of one N (expect_count, or the first seen), read and checked to be
 * of one run: finish and the markers' summary share this, so that they agree on what a set
 * of markers is. need_all: every one of the N must be there (finish), or any that are (a
 * report of shards not yet finished). 0 with ms->m[0..nm) sorted by index and ms->n; 1
 * when shards are missing (need_all) or none of the expected N is there; -1. The caller
 * frees with markers_free. */
typedef struct markers {
    marker *m;
    size_t nm;
    uint32_t n;
} markers;

static void markers_free(markers *ms) {
    for (size_t i = 0; i < ms->nm; i++) {
        if (ms->m[i].parsed)
            ut_json_free(&ms->m[i].j);
        free(ms->m[i].text);
    }
    free(ms->m);
    memset(ms, 0, sizeof *ms);
}

/* "14 of 16 shards done in OUT; missing shards 3, 11" (the first 20 named). */
static void missing_msg(const markers *ms, const char *out_dir, char *err, size_t errlen) {
    size_t nm = ms->nm;
    uint32_t n = ms->n;
    ut_buf b = {0};
    ut_buf_printf(&b, "%zu of %" PRIu32 " shards done in %s; missing shard", nm, n, out_dir);
    ut_buf_puts(&b, n - nm > 1 ? "s" : "");
    size_t j = 0, shown = 0;
    for (uint32_t i = 0; i < n && shown < 20; i++) {
        if (j < nm && ms->m[j].index == i) {
            j++;
            continue;
        }
        ut_buf_printf(&b, "%s %" PRIu32, shown ? "," : "", i);
        shown++;
    }
    if (n - nm > shown)
        ut_buf_printf(&b, " and %zu more", (size_t)(n - nm - shown));
    ut_msgf(err, errlen, "%s", ut_buf_str(&b));
    ut_buf_free(&b);
}

static int markers_load(const td_shard_io *io, const char *out_dir, uint32_t expect_count,
                        bool need_all, markers *ms, char *err, size_t errlen) {
    marker_scan sc;
    memset(&sc, 0, sizeof sc);
    memset(ms, 0, sizeof *ms);
    sc.n = expect_count;
    int rc = io->list(io->ud, "", scan_marker, &sc, err, errlen);
    ms->m = sc.m;
    ms->nm = sc.nm;
    ms->n = sc.n;
    if (rc < 0)
        return -1;
    marker *m = sc.m;
    size_t nm = sc.nm;
    uint32_t n = sc.n;
    char *other = sc.other;
    if (sc.nomem) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    if (other[0] && nm == 0 && expect_count) {
        ut_msgf(err, errlen,
                "%s holds markers of another shard count (%s), none of %" PRIu32 " shards", out_dir,
                other, expect_count);
        return -1;
    }
    if (other[0]) {
        ut_msgf(err, errlen,
                "%s holds markers of different shard counts (%s beside markers of %" PRIu32
                " shards): one OUT_DIR takes one split; remove the markers of the other",
                out_dir, other, n);
        return -1;
    }
    if (nm == 0) {
        if (n)
            ut_msgf(err, errlen,
                    "no shard is done in %s: no _SUCCESS.shard-*-of-%04" PRIu32 " there", out_dir,
                    n);
        else
            ut_msgf(err, errlen,
                    "no shard marker (_SUCCESS.shard-*) in %s: not a sharded output (finish is for "
                    "runs "
                    "with --shard I/N; an unsharded run writes _SUCCESS itself)",
                    out_dir);
        return n || !need_all ? 1 : -1;
    }
    qsort(m, nm, sizeof *m, cmp_marker);
    if (need_all && nm < n) {
        missing_msg(ms, out_dir, err, errlen);
        return 1;
    }
    /* read and check every marker: the same run, or the sum means nothing */
    for (size_t i = 0; i < nm; i++) {
        char name[64], jerr[128];
        td_shard_options s = {m[i].index, n};
        td_shard_marker_name(name, sizeof name, &s);
        m[i].text = io->read(io->ud, name, 64u << 20, &m[i].len, jerr, sizeof jerr);
        if (!m[i].text) {
            ut_msgf(err, errlen, "%s/%s: %s", out_dir, name, jerr);
            return -1;
        }
        if (ut_json_parse(&m[i].j, m[i].text, m[i].len, 1u << 20, jerr, sizeof jerr) != 0 ||
            m[i].j.n == 0 || m[i].j.tok[0].type != UT_JSON_OBJECT) {
            ut_msgf(err, errlen, "%s/%s is not a shard summary: %s", out_dir, name,
                    m[i].j.n ? "not a JSON object" : jerr);
            return -1;
        }
        m[i].parsed = true;
        static const char *const same[] = {"store",    "keys_from", "inventory",
                                           "prefixes", "config",    "shards"};
        for (size_t k = 0; k < sizeof same / sizeof *same; k++)
            if (i > 0 && !same_member(&m[0], &m[i], same[k])) {
                char n0[64];
                td_shard_options s0 = {m[0].index, n};
                td_shard_marker_name(n0, sizeof n0, &s0);
                ut_msgf(err, errlen,
                        "%s and %s describe different runs (their \"%s\" differ): every shard "
                        "must run the same config into one OUT_DIR",
                        n0, name, same[k]);
                return -1;
            }
    }
    return 0;
}

int td_shard_finish_io(const td_shard_io *io, const char *out_dir, uint32_t expect_count,
                       const char *tmp_tag, uint32_t *count_out, char *err, size_t errlen) {
    markers ms;
    int rc = markers_load(io, out_dir, expect_count, true, &ms, err, errlen);
    uint32_t n = ms.n;
    if (rc >= 0 && ms.nm && count_out)
        *count_out = n;
    if (rc != 0)
        goto out;
    rc = -1;
    if (check_parts(io, out_dir, "", n, err, errlen) != 0 ||
        check_parts(io, out_dir, TD_OUTPUT_ERRORS_DIR, n, err, errlen) != 0)
        goto out;
    {
        ut_buf b = {0};
        b.limit = 64u << 20; /* the config is in it */
        summarise(&b, ms.m, ms.nm, n);
        if (b.bad) {
            ut_msgf(err, errlen, "out of memory");
            ut_buf_free(&b);
            goto out;
        }
        rc = io->write(io->ud, "_SUCCESS", tmp_tag, ut_buf_str(&b), b.len, err, errlen);
        ut_buf_free(&b);
    }
out:
    markers_free(&ms);
    return rc;
}

int td_shard_summary_io(const td_shard_io *io, const char *shown, char **text, size_t *len,
                        uint32_t *found, uint32_t *count, char *err, size_t errlen) {
    *text = NULL;
    *len = 0;
    *found = *count = 0;
    markers ms;
    int rc = markers_load(io, shown, 0, false, &ms, err, errlen);
    if (rc == 0) {
        ut_buf b = {0};
        b.limit = 64u << 20; /* the config is in it */
        summarise(&b, ms.m, ms.nm, ms.n);
        if (b.bad) {
            ut_msgf(err, errlen, "out of memory");
            ut_buf_free(&b);
            rc = -1;
        } else {
            *len = b.len;
            *text = ut_buf_take(&b);
            *found = (uint32_t)ms.nm;
            *count = ms.n;
            if (ms.nm < ms.n)
                missing_msg(&ms, shown, err, errlen);
            else if (errlen)
                err[0] = 0;
        }
    }
    markers_free(&ms);
    return rc;
}
