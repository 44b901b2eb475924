/* resume.c - the done-set of `headers --resume` (resume.h): the keys of the complete part
 * files of a local OUT_DIR, read with the Parquet reader (parquet_read.h), two columns of
 * each file streamed in bounded memory.
 */
#define _POSIX_C_SOURCE 200809L
#include "resume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "outstore.h"
#include "parquet_read.h"
#include "shard.h"
#include "util.h"

struct td_doneset {
    uint64_t *slot; /* fingerprint, 0 = empty */
    size_t mask, n;
};

/* 64-bit fingerprint of a key (a multiply / xor-shift mix over 8-byte words). */
static uint64_t fp64(const char *p, size_t n) {
    uint64_t h = 0x243F6A8885A308D3ull ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v *= 0x9E3779B97F4A7C15ull;
        v ^= v >> 32;
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)(uint8_t)p[i] << (8 * i);
    h = (h ^ (v * 0x94D049BB133111EBull)) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    return h ? h : 1;
}

static void put_slot(uint64_t *slot, size_t mask, uint64_t h) {
    size_t i = (size_t)h & mask;
    while (slot[i]) {
        if (slot[i] == h)
            return;
        i = (i + 1) & mask;
    }
    slot[i] = h;
}

/* Adds a fingerprint; the table doubles before it would be more than 3/4 full (the slots
 * are then rehashed into the new table: briefly old + new). 0, or -1 out of memory. */
static int set_add(td_doneset *d, uint64_t h) {
    if (!d->slot || (d->n + 1) > (d->mask + 1) / 4 * 3) {
        size_t cap = d->slot ? (d->mask + 1) * 2 : 1024;
        if (cap > SIZE_MAX / sizeof *d->slot)
            return -1;
        uint64_t *ns = calloc(cap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; d->slot && i <= d->mask; i++)
            if (d->slot[i])
                put_slot(ns, cap - 1, d->slot[i]);
        free(d->slot);
        d->slot = ns;
        d->mask = cap - 1;
    }
    size_t i = (size_t)h & d->mask;
    while (d->slot[i]) {
        if (d->slot[i] == h)
            return 0;
        i = (i + 1) & d->mask;
    }
    d->slot[i] = h;
    d->n++;
    return 0;
}

bool td_doneset_has(const td_doneset *d, const char *key, size_t len) {
    if (!d || !d->n || !d->slot)
        return false;
    uint64_t h = fp64(key, len);
    for (size_t i = (size_t)h & d->mask; d->slot[i]; i = (i + 1) & d->mask)
        if (d->slot[i] == h)
            return true;
    return false;
}

size_t td_doneset_count(const td_doneset *d) { return d ? d->n : 0; }
size_t td_doneset_bytes(const td_doneset *d) {
    return d ? sizeof *d + (d->slot ? (d->mask + 1) * sizeof *d->slot : 0) : 0;
}
void td_doneset_free(td_doneset *d) {
    if (d)
        free(d->slot);
    free(d);
}

/* ------------------------------------------------------------------ the part files */

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int names_add(names *a, const char *dir, const char *name) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (!s)
        return -1;
    snprintf(s, n, "%s/%s", dir, name);
    a->v[a->n++] = s;
    return 0;
}

static int mkdir_p(const char *path, char *err, size_t errlen) {
    char *p = strdup(path);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return 0;
}

/* Whether name is one of this run's own complete parts: kept by a resume. */
static bool own_part(const td_shard_options *sh, const char *name) {
    uint32_t idx = 0;
    int part = td_shard_part_of(name, &idx);
    return sh && sh->count ? part == 1 && idx == sh->index : part == 0;
}

/* Own complete parts of dir into a; the rest of what a fresh run would replace (shard.h
 * td_shard_replaces: temporaries, _SUCCESS, this shard's marker; unsharded, every shard's
 * files) is removed, as it is by a fresh run. */
static int scan(const char *dir, const td_shard_options *sh, names *a, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (own_part(sh, nm)) {
            if (names_add(a, dir, nm)) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        } else if (td_shard_replaces(sh, nm)) {
            names one = {0};
            if (names_add(&one, dir, nm) || (unlink(one.v[0]) != 0 && errno != ENOENT)) {
                snprintf(err, errlen, "cannot remove %s/%s: %s", dir, nm, strerror(errno));
                rc = -1;
            }
            if (one.v)
                free(one.v[0]);
            free(one.v);
        }
    }
    closedir(d);
    return rc;
}

/* Whether an errors part holds a row of kind `interrupted` (an object a Ctrl-C stopped).
 * 1 yes, 0 no, -1 error. */
static int has_interrupted(const char *file, pqr_file *f, char *err, size_t errlen) {
    int lk = pqr_find_leaf(f, "kind");
    if (lk < 0)
        return 0;
    pqr_cursor *c = NULL;
    if (pqr_cursor_open(&c, f, lk, -1) != PQR_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    static const char word[] = "interrupted";
    int found = 0;
    for (;;) {
        pqr_value v;
        int a = pqr_next(c, &v);
        if (a < 0) {
            snprintf(err, errlen, "%s: %s", file, pqr_cursor_errmsg(c));
            found = -1;
        }
        if (a <= 0)
            break;
        if (v.present && v.len == sizeof word - 1 && memcmp(v.p, word, v.len) == 0) {
            found = 1;
            break;
        }
    }
    pqr_cursor_close(c);
    return found;
}

/* Adds every row's key of a part (path_bytes when set, else path) to d. errors_part: a
 * part with `interrupted` rows is left out whole (returns 1, nothing added): its keys are
 * read again, the interrupted ones retried. 0, 1, -1 (err), or -2: not (a whole) Parquet
 * file. */
static int read_keys(const char *file, const pqr_source *src, bool errors_part,
                     const td_shard_options *sh, td_doneset *d, uint64_t *rows, char *err,
                     size_t errlen) {
    pqr_file *f;
    char msg[320];
    int rc = pqr_open(&f, src, NULL, msg, sizeof msg);
    if (rc) {
        snprintf(err, errlen, "%s: %s", file, msg);
        return rc == PQR_E_FORMAT ? -2 : -1;
    }
    *rows = (uint64_t)pqr_num_rows(f);
    if (errors_part && (rc = has_interrupted(file, f, err, errlen)) != 0) {
        pqr_close(f);
        *rows = 0;
        return rc;
    }
    int lp = pqr_find_leaf(f, "path"), lb = pqr_find_leaf(f, "path_bytes");
    if (lp < 0 || lb < 0 || pqr_leaf_at(f, lp)->max_rep || pqr_leaf_at(f, lb)->max_rep) {
        snprintf(err, errlen, "%s: no path / path_bytes columns: not a part of ours", file);
        rc = -1;
    }
    pqr_cursor *cp = NULL, *cb = NULL;
    if (!rc &&
        (pqr_cursor_open(&cp, f, lp, -1) != PQR_OK || pqr_cursor_open(&cb, f, lb, -1) != PQR_OK)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    while (!rc) {
        pqr_value vp, vb;
        int a = pqr_next(cp, &vp), b = pqr_next(cb, &vb);
        if (a < 0 || b < 0) {
            snprintf(err, errlen, "%s: %s", file, pqr_cursor_errmsg(a < 0 ? cp : cb));
            rc = -1;
        } else if (a != b) {
            snprintf(err, errlen, "%s: path columns of different lengths", file);
            rc = -1;
        } else if (a == 0) {
            break;
        } else {
            const pqr_value *k = vb.present ? &vb : &vp;
            /* a header row's key is always its shard's (an error row of stage list may
             * be any shard's): else the part is of another split, and keeping it would
             * duplicate keys that another shard of this split dumps */
            if (!errors_part && !td_shard_owns(sh, (const char *)k->p, k->present ? k->len : 0)) {
                snprintf(err, errlen,
                         "%s holds keys of another shard split, not of shard %u of %u: rerun "
                         "this shard without --resume (it replaces its own parts)",
                         file, (unsigned)sh->index, (unsigned)sh->count);
                rc = -1;
                break;
            }
            if (set_add(d, fp64((const char *)k->p, k->present ? k->len : 0)) != 0) {
                snprintf(err, errlen, "out of memory for the done-set (%zu keys)", d->n);
                rc = -1;
            }
        }
    }
    pqr_cursor_close(cp);
    pqr_cursor_close(cb);
    pqr_close(f);
    return rc;
}

static int read_local_part(const char *file, bool errors_part, const td_shard_options *sh,
                           td_doneset *d, uint64_t *rows, char *err, size_t errlen) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    pqr_source src = {ut_fd_read_at, &fd, (uint64_t)st.st_size};
    int rc = read_keys(file, &src, errors_part, sh, d, rows, err, errlen);
    close(fd);
    return rc;
}

static int finish_load(td_doneset *d, int rc, td_doneset **out) {
    if (rc) {
        td_doneset_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

int td_resume_load(const char *out_dir, const td_shard_options *shard, td_doneset **out,
                   td_resume_info *info, char *err, size_t errlen) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    size_t n = strlen(out_dir) + sizeof TD_OUTPUT_ERRORS_DIR + 2;
    char *errs = malloc(n);
    td_doneset *d = calloc(1, sizeof *d);
    if (!errs || !d) {
        free(errs);
        free(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(errs, n, "%s/%s", out_dir, TD_OUTPUT_ERRORS_DIR);
    names hdr = {0}, er = {0};
    int rc = mkdir_p(errs, err, errlen);
    if (!rc)
        rc = scan(out_dir, shard, &hdr, err, errlen);
    if (!rc)
        rc = scan(errs, shard, &er, err, errlen);
    size_t kept_er = 0;
    for (size_t i = 0; !rc && i < hdr.n + er.n; i++) {
        uint64_t rows = 0;
        bool is_er = i >= hdr.n;
        const char *file = is_er ? er.v[i - hdr.n] : hdr.v[i];
        rc = read_local_part(file, is_er, shard, d, &rows, err, errlen);
        if (rc == 1) { /* interrupted rows: the part goes, its keys are read again */
            if (unlink(file) != 0 && errno != ENOENT) {
                snprintf(err, errlen, "cannot remove %s: %s", file, strerror(errno));
                rc = -1;
            } else {
                rc = 0;
                info->retried++;
            }
            continue;
        }
        if (rc)
            rc = -1;
        kept_er += is_er;
        *(is_er ? &info->error_rows : &info->header_rows) += rows;
    }
    info->header_files = hdr.n;
    info->error_files = kept_er;
    for (size_t i = 0; i < hdr.n; i++)
        free(hdr.v[i]);
    for (size_t i = 0; i < er.n; i++)
        free(er.v[i]);
    free(hdr.v);
    free(er.v);
    free(errs);
    return finish_load(d, rc, out);
}

/* ------------------------------------------------------------------ OUT on a store */

/* A part on the store as a pqr_source. The reader asks for small pieces (4 bytes of magic,
 * the 8-byte tail, the footer, then each page's header and its body), each of which would
 * be a request; on an object store a request's latency (~10-50 ms) costs more than its
 * bytes. So a part of at most RS_WHOLE bytes (the default 100,000 rows make ~1.5-5 MiB) is
 * read whole with one GET; a larger one through a few read-ahead windows of RS_WIN bytes,
 * least recently used replaced: a window from a page header holds its body, usually the
 * path and path_bytes chunks of a row group together (10,000 rows of path: ~0.06-0.3 MiB,
 * written side by side), and the tail window the footer. So a big part costs about one GET
 * per row group, for a fraction of its bytes (measured: README "Many machines"). */
#define RS_WHOLE (8u << 20)
#define RS_WIN (256u << 10)
#define RS_NWIN 4

typedef struct rwin {
    uint8_t *buf;
    uint64_t off, len, used;
} rwin;

typedef struct rsrc {
    td_outstore *os;
    const char *key;
    uint64_t size, tick, whole;
    rwin w[RS_NWIN];
    td_resume_info *info;
    char err[320];
} rsrc;

static int rs_get(rsrc *r, uint64_t off, uint64_t len, void *buf) {
    uint64_t got = 0;
    if (td_outstore_get(r->os, r->key, off, len, buf, r->size, &got, NULL, r->err, sizeof r->err) !=
        0)
        return -1;
    r->info->requests++;
    r->info->bytes += got;
    if (got != len) {
        snprintf(r->err, sizeof r->err, "%s: %llu bytes where %llu were asked for at %llu", r->key,
                 (unsigned long long)got, (unsigned long long)len, (unsigned long long)off);
        return -1;
    }
    return 0;
}

static int rs_read_at(void *ctx, uint64_t off, size_t len, void *buf) {
    rsrc *r = ctx;
    if (r->size <= r->whole && !r->w[0].buf) { /* small: the whole part at the first read */
        if (!(r->w[0].buf = malloc(r->size ? r->size : 1))) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        if (rs_get(r, 0, r->size, r->w[0].buf) != 0) {
            free(r->w[0].buf);
            r->w[0].buf = NULL;
            return -1;
        }
        r->w[0].off = 0;
        r->w[0].len = r->size;
    }
    for (size_t i = 0; i < RS_NWIN; i++) {
        rwin *w = &r->w[i];
        if (w->buf && off >= w->off && off + len <= w->off + w->len) {
            memcpy(buf, w->buf + (off - w->off), len);
            w->used = ++r->tick;
            return 0;
        }
    }
    if (len >= RS_WIN) /* a big page: read as it is, no copy */
        return rs_get(r, off, len, buf);
    rwin *w = &r->w[0];
    for (size_t i = 1; i < RS_NWIN; i++)
        if (!r->w[i].buf || (w->buf && r->w[i].used < w->used))
            w = &r->w[i];
    if (!w->buf && !(w->buf = malloc(RS_WIN))) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    uint64_t start = off, end = off + RS_WIN < r->size ? off + RS_WIN : r->size;
    if (end == r->size) /* near the end (the tail, the footer): the whole last window */
        start = r->size > RS_WIN ? r->size - RS_WIN : 0;
    w->len = 0;
    if (rs_get(r, start, end - start, w->buf) != 0)
        return -1;
    w->off = start;
    w->len = end - start;
    w->used = ++r->tick;
    memcpy(buf, w->buf + (off - start), len);
    return 0;
}

/* A key of the store OUT as the name resume and shard.h see ("_errors/part-1" -> "part-1"). */
static const char *base_name(const char *key) {
    size_t el = strlen(TD_OUTPUT_ERRORS_DIR);
    if (strncmp(key, TD_OUTPUT_ERRORS_DIR, el) == 0 && key[el] == '/')
        return key + el + 1;
    return key;
}

int td_resume_load_store(td_outstore *os, const td_shard_options *shard, td_doneset **out,
                         td_resume_info *info, char *err, size_t errlen) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    td_doneset *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* TD_RESUME_WHOLE_MAX (bytes): the tests' way to send every part through the windows */
    uint64_t whole = RS_WHOLE;
    const char *wv = getenv("TD_RESUME_WHOLE_MAX");
    if (wv && *wv)
        whole = strtoull(wv, NULL, 10);
    /* the dataset is not complete while (a shard of) it is resumed: _SUCCESS goes first */
    char succ_name[] = "_SUCCESS", *succ[1] = {succ_name};
    int rc = td_outstore_delete(os, succ, 1, err, errlen);
    static const char *const prefixes[] = {"part-", TD_OUTPUT_ERRORS_DIR "/part-",
                                           "_SUCCESS.shard-"};
    td_outstore_keys k[3];
    memset(k, 0, sizeof k);
    for (size_t p = 0; !rc && p < 3; p++)
        rc = td_outstore_list(os, prefixes[p], true, NULL, NULL, &k[p], err, errlen);
    /* what a fresh run would replace goes (a marker of this shard, another layout's
     * parts), except this run's own complete parts: those are kept and read */
    for (size_t p = 0; !rc && p < 3; p++) {
        size_t nd = 0;
        for (size_t i = 0; i < k[p].n; i++) {
            const char *nm = base_name(k[p].keys[i]);
            if (strchr(nm, '/') || (p < 2 && own_part(shard, nm)))
                continue;
            if (td_shard_replaces(shard, nm)) { /* to delete: moved to the front */
                char *t = k[p].keys[nd];
                k[p].keys[nd++] = k[p].keys[i];
                k[p].keys[i] = t;
            }
        }
        rc = td_outstore_delete(os, k[p].keys, nd, err, errlen);
    }
    for (size_t p = 0; !rc && p < 2; p++) {
        for (size_t i = 0; !rc && i < k[p].n; i++) {
            const char *nm = base_name(k[p].keys[i]);
            if (strchr(nm, '/') || !own_part(shard, nm))
                continue;
            rsrc r;
            memset(&r, 0, sizeof r);
            r.os = os;
            r.key = k[p].keys[i];
            r.size = k[p].sizes[i];
            r.info = info;
            r.whole = whole;
            pqr_source src = {rs_read_at, &r, r.size};
            uint64_t rows = 0;
            char shown[1024];
            snprintf(shown, sizeof shown, "%s%s", td_outstore_url(os), r.key);
            rc = read_keys(shown, &src, p == 1, shard, d, &rows, err, errlen);
            if (rc && r.err[0])
                snprintf(err, errlen, "%s", r.err);
            for (size_t w = 0; w < RS_NWIN; w++)
                free(r.w[w].buf);
            if (rc == 1) { /* interrupted rows: the part goes, its keys are read again */
                rc = td_outstore_delete(os, &k[p].keys[i], 1, err, errlen);
                info->retried++;
                continue;
            }
            if (rc == -2) {
                /* A store shows an object only once its upload completed, so this is not
                 * ours to find: yet an emulator (s3rver) leaves a truncated object behind
                 * a killed PUT. Not a complete part: deleted, its keys are read again. */
                rc = td_outstore_delete(os, &k[p].keys[i], 1, err, errlen);
                info->dropped++;
                continue;
            }
            if (!rc && td_outstore_taken_add(os, r.key) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
            *(p == 0 ? &info->header_rows : &info->error_rows) += rows;
            *(p == 0 ? &info->header_files : &info->error_files) += 1;
        }
    }
    for (size_t p = 0; p < 3; p++)
        td_outstore_keys_free(&k[p]);
    return finish_load(d, rc, out);
}
