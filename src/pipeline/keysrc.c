/* keysrc.c - key lists and S3 Inventory reports as a paged key source (see keysrc.h).
 *
 * Both read text records from gz* streams through one buffer: a key list one line per key,
 * an inventory a CSV record per object (RFC 4180). A page copies what it yields into an
 * arena, so the read buffer can be refilled in the middle of a page. The manifest is JSON,
 * read with src/util's bounded JSON reader, URL decoding and RFC 3339 parsing rather
 * than a second copy of each.
 */
#include "keysrc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

/* The fuzz targets compile this file with small sizes (fuzz/CMakeLists.txt), so that small
 * inputs reach buffer refills and the line limit. READ_BUF must exceed MAX_LINE. */
#ifndef KEYSRC_READ_BUF
#define KEYSRC_READ_BUF (1u << 20)
#endif
#ifndef KEYSRC_MAX_LINE
#define KEYSRC_MAX_LINE (64u << 10)
#endif
#ifndef KEYSRC_GZ_BUF
#define KEYSRC_GZ_BUF (256u << 10)
#endif
#define READ_BUF KEYSRC_READ_BUF
#define MAX_LINE KEYSRC_MAX_LINE /* a record longer than this is a malformed input */
_Static_assert(KEYSRC_READ_BUF > KEYSRC_MAX_LINE, "a whole line must fit the read buffer");
#define MAX_MANIFEST (16u << 20)
#define MAX_COLS 64

enum { SRC_LIST, SRC_INVENTORY };

struct td_keysrc {
    int kind;
    char *name; /* the path as given, or "stdin" */
    size_t page_size;
    char **roots; /* without trailing '/' */
    size_t n_roots;
    /* current file */
    gzFile gz;
    const char *cur;  /* its name, for messages */
    uint64_t line_no; /* lines (list) or records (inventory) read */
    char *buf;
    size_t pos, len;
    bool eof;
    bool done;
    /* inventory */
    char **files; /* resolved data file paths, or the manifest's keys with open_data */
    size_t n_files, next_file;
    td_keysrc_open_fn open_data; /* NULL: files are paths */
    void *open_ctx;
    int n_cols, c_key, c_size, c_mtime, c_etag, c_latest, c_delete;
    char *s3_prefix; /* "prefix/" of an s3 store ("" = the whole bucket), NULL if not s3 */
    char *field;     /* a record's unquoted fields, back to back */
    size_t foff[MAX_COLS + 1];
    ut_buf dec; /* a decoded key */
    /* page */
    store_entry *ents;
    store_bad_entry *bad;
    size_t n, n_bad;
    size_t *key_off, *etag_off, *bkey_off, *bmsg_off;
    char *arena;
    size_t alen, acap;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ut_vmsgf(err, errlen, fmt, ap); /* a cut message ends between characters */
    va_end(ap);
}

/* ------------------------------------------------------------------ common */

static td_keysrc *ks_new(int kind, const char *name, const td_keysrc_options *o) {
    td_keysrc *ks = calloc(1, sizeof *ks);
    if (!ks)
        return NULL;
    ks->kind = kind;
    ks->page_size = o->page_size ? o->page_size : 1;
    ks->name = strdup(name);
    ks->buf = malloc(READ_BUF);
    ks->ents = malloc(ks->page_size * sizeof *ks->ents);
    ks->bad = malloc(ks->page_size * sizeof *ks->bad);
    ks->key_off = malloc(ks->page_size * sizeof *ks->key_off);
    ks->etag_off = malloc(ks->page_size * sizeof *ks->etag_off);
    ks->bkey_off = malloc(ks->page_size * sizeof *ks->bkey_off);
    ks->bmsg_off = malloc(ks->page_size * sizeof *ks->bmsg_off);
    ks->roots = calloc(o->n_roots ? o->n_roots : 1, sizeof *ks->roots);
    bool ok = ks->name && ks->buf && ks->ents && ks->bad && ks->key_off && ks->etag_off &&
              ks->bkey_off && ks->bmsg_off && ks->roots;
    for (size_t i = 0; ok && i < o->n_roots; i++) {
        const char *r = o->roots[i];
        if (!r || !*r)
            continue;
        size_t l = strlen(r);
        while (l > 0 && r[l - 1] == '/')
            l--;
        char *c = malloc(l + 1);
        if (!c) {
            ok = false;
            break;
        }
        memcpy(c, r, l);
        c[l] = '\0';
        ks->roots[ks->n_roots++] = c;
    }
    if (!ok) {
        td_keysrc_close(ks);
        return NULL;
    }
    return ks;
}

void td_keysrc_close(td_keysrc *ks) {
    if (!ks)
        return;
    if (ks->gz)
        gzclose(ks->gz);
    free(ks->name);
    free(ks->buf);
    free(ks->ents);
    free(ks->bad);
    free(ks->key_off);
    free(ks->etag_off);
    free(ks->bkey_off);
    free(ks->bmsg_off);
    for (size_t i = 0; i < ks->n_roots; i++)
        free(ks->roots[i]);
    free(ks->roots);
    for (size_t i = 0; i < ks->n_files; i++)
        free(ks->files[i]);
    free(ks->files);
    free(ks->s3_prefix);
    free(ks->field);
    ut_buf_free(&ks->dec);
    free(ks->arena);
    free(ks);
}

const char *td_keysrc_name(const td_keysrc *ks) { return ks->name; }

/* gz reading of fd (taken over: closed on failure): plain and gzip (one or more members)
 * alike. path names it in messages. */
static gzFile open_gz_fd(int fd, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        errf(err, errlen, "'%s' is a directory, not a file", path);
        return NULL;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        errf(err, errlen, "cannot read '%s': out of memory", path);
        return NULL;
    }
    gzbuffer(gz, KEYSRC_GZ_BUF);
    return gz;
}

/* Opens path ("-" = stdin) for gz reading. */
static gzFile open_gz(const char *path, char *err, size_t errlen) {
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    return open_gz_fd(fd, path, err, errlen);
}

/* Appends bytes to the page arena; returns the offset or SIZE_MAX when out of memory. */
static size_t arena_put(td_keysrc *ks, const char *s, size_t n) {
    if (ks->alen + n + 1 > ks->acap) {
        size_t cap = ks->acap ? ks->acap : 4096;
        while (cap < ks->alen + n + 1)
            cap *= 2;
        char *a = realloc(ks->arena, cap);
        if (!a)
            return SIZE_MAX;
        ks->arena = a;
        ks->acap = cap;
    }
    size_t off = ks->alen;
    memcpy(ks->arena + off, s, n);
    ks->arena[off + n] = '\0';
    ks->alen += n + 1;
    return off;
}

static int add_entry(td_keysrc *ks, const char *key, size_t kl, uint64_t size, int64_t mtime,
                     const char *etag, size_t el) {
    size_t i = ks->n;
    ks->key_off[i] = arena_put(ks, key, kl);
    ks->etag_off[i] = etag && el ? arena_put(ks, etag, el) : SIZE_MAX - 1;
    if (ks->key_off[i] == SIZE_MAX || ks->etag_off[i] == SIZE_MAX)
        return -1;
    ks->ents[i] = (store_entry){NULL, kl, size, mtime, NULL};
    ks->n++;
    return 0;
}

static int add_bad(td_keysrc *ks, const char *key, size_t kl, int status, const char *msg) {
    size_t i = ks->n_bad;
    ks->bkey_off[i] = arena_put(ks, key, kl);
    ks->bmsg_off[i] = arena_put(ks, msg, strlen(msg));
    if (ks->bkey_off[i] == SIZE_MAX || ks->bmsg_off[i] == SIZE_MAX)
        return -1;
    ks->bad[i] = (store_bad_entry){NULL, status, NULL, 0};
    ks->n_bad++;
    return 0;
}

/* Turns arena offsets into pointers once the page is complete (the arena may move while
 * it fills). */
static void page_fix(td_keysrc *ks, td_keysrc_page *pg) {
    for (size_t i = 0; i < ks->n; i++) {
        ks->ents[i].key = ks->arena + ks->key_off[i];
        ks->ents[i].etag = ks->etag_off[i] < SIZE_MAX - 1 ? ks->arena + ks->etag_off[i] : NULL;
    }
    for (size_t i = 0; i < ks->n_bad; i++) {
        ks->bad[i].key = ks->arena + ks->bkey_off[i];
        ks->bad[i].message = ks->arena + ks->bmsg_off[i];
    }
    pg->entries = ks->ents;
    pg->n = ks->n;
    pg->bad = ks->bad;
    pg->n_bad = ks->n_bad;
}

/* Reads more input after the unread tail. Returns 0, or -1 with the message in pg. */
static int refill(td_keysrc *ks, td_keysrc_page *pg) {
    size_t avail = ks->len - ks->pos;
    if (avail >= MAX_LINE) {
        pg->status = STORE_E_PROTOCOL;
        errf(pg->errmsg, sizeof pg->errmsg, "%s: line %llu is longer than %u bytes", ks->cur,
             (unsigned long long)ks->line_no + 1, MAX_LINE);
        return -1;
    }
    memmove(ks->buf, ks->buf + ks->pos, avail);
    ks->pos = 0;
    ks->len = avail;
    int r = gzread(ks->gz, ks->buf + ks->len, (unsigned)(READ_BUF - ks->len));
    int zerr = Z_OK;
    const char *zmsg = r <= 0 ? gzerror(ks->gz, &zerr) : NULL;
    /* gzread returns 0, not -1, for a truncated gzip stream (Z_BUF_ERROR): so that a
     * growing file can be read on; here it means the file is damaged */
    if (r < 0 || (r == 0 && zerr != Z_OK)) {
        pg->status = STORE_E_IO;
        if (zerr == Z_ERRNO)
            errf(pg->errmsg, sizeof pg->errmsg, "%s: read failed: %s", ks->cur, strerror(errno));
        else
            errf(pg->errmsg, sizeof pg->errmsg, "%s: corrupt gzip data after line %llu: %s",
                 ks->cur, (unsigned long long)ks->line_no, zmsg ? zmsg : "unknown error");
        return -1;
    }
    if (r == 0)
        ks->eof = true;
    ks->len += (size_t)r;
    return 0;
}

/* ------------------------------------------------------------------ key list */

/* One line (no '\n'). Returns 0, or -1 when out of memory. */
static int list_line(td_keysrc *ks, const char *s, size_t n, td_keysrc_page *pg) {
    if (n > 0 && s[n - 1] == '\r')
        n--;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == n || s[0] == '#')
        return 0; /* blank or a comment */
    if (memchr(s, '\0', n)) {
        pg->status = STORE_E_PROTOCOL;
        errf(pg->errmsg, sizeof pg->errmsg,
             "%s: line %llu holds a NUL byte (is it a text file of keys?)", ks->cur,
             (unsigned long long)ks->line_no);
        return 1;
    }
    for (size_t r = 0; r < ks->n_roots; r++) {
        size_t rl = strlen(ks->roots[r]);
        if (n > rl + 1 && s[rl] == '/' && memcmp(s, ks->roots[r], rl) == 0)
            return add_entry(ks, s + rl + 1, n - rl - 1, UINT64_MAX, INT64_MIN, NULL, 0);
    }
    if (ut_url_scheme_len(s, n)) {
        /* a line naming another store may carry its credentials (user:password@, a SAS or
         * presigned query): the error row gets the line without them */
        ut_buf red = {0};
        red.limit = 2 * n + 64;
        ut_redact_url(&red, s, n);
        if (red.bad || !red.p) {
            ut_buf_free(&red);
            return -1;
        }
        char msg[256];
        errf(msg, sizeof msg, "%s line %llu: '%.*s' is not in the store '%s'", ks->cur,
             (unsigned long long)ks->line_no, (int)ut_utf8_cut(red.p, red.len, 120), red.p,
             ks->n_roots ? ks->roots[0] : "");
        int rc = add_bad(ks, red.p, red.len, STORE_E_CONFIG, msg);
        ut_buf_free(&red);
        return rc;
    }
    return add_entry(ks, s, n, UINT64_MAX, INT64_MIN, NULL, 0);
}

int td_keysrc_open_list_fd(td_keysrc **out, int fd, const char *name, const td_keysrc_options *o,
                           char *err, size_t errlen) {
    *out = NULL;
    td_keysrc *ks = ks_new(SRC_LIST, name, o);
    if (!ks) {
        close(fd);
        errf(err, errlen, "out of memory");
        return STORE_E_NOMEM;
    }
    ks->gz = open_gz_fd(fd, name, err, errlen);
    if (!ks->gz) {
        td_keysrc_close(ks);
        return STORE_E_IO;
    }
    ks->cur = ks->name;
    *out = ks;
    return 0;
}

int td_keysrc_open_list(td_keysrc **out, const char *path, const td_keysrc_options *o, char *err,
                        size_t errlen) {
    *out = NULL;
    bool in = strcmp(path, "-") == 0;
    int fd = in ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return STORE_E_IO;
    }
    return td_keysrc_open_list_fd(out, fd, in ? "stdin" : path, o, err, errlen);
}

static void list_next(td_keysrc *ks, td_keysrc_page *pg) {
    while (ks->n + ks->n_bad < ks->page_size) {
        const char *s = ks->buf + ks->pos;
        size_t avail = ks->len - ks->pos;
        const char *nl = memchr(s, '\n', avail);
        size_t n;
        if (nl) {
            n = (size_t)(nl - s);
            ks->pos += n + 1;
        } else if (ks->eof) {
            if (avail == 0) {
                ks->done = true;
                return;
            }
            n = avail;
            ks->pos = ks->len;
        } else {
            if (refill(ks, pg) < 0)
                return;
            continue;
        }
        ks->line_no++;
        if (n > MAX_LINE) { /* the same limit whether or not the line was read whole */
            pg->status = STORE_E_PROTOCOL;
            errf(pg->errmsg, sizeof pg->errmsg, "%s: line %llu is longer than %u bytes", ks->cur,
                 (unsigned long long)ks->line_no, MAX_LINE);
            return;
        }
        int rc = list_line(ks, s, n, pg);
        if (rc < 0) {
            pg->status = STORE_E_NOMEM;
            errf(pg->errmsg, sizeof pg->errmsg, "%s: out of memory", ks->cur);
        }
        if (rc != 0)
            return;
    }
}

/* ------------------------------------------------------------------ S3 Inventory */

/* Parses one CSV record at buf[pos..len) into ks->field / foff. Returns the number of
 * fields, 0 when the record is not complete in the buffer (and not at EOF), -1 when
 * malformed (a quote inside an unquoted field, text after a closing quote, too many
 * fields). Fields are copied, quotes undone; a record ends at LF or CRLF outside quotes. */
static int csv_record(td_keysrc *ks, size_t *consumed) {
    const char *s = ks->buf + ks->pos, *end = ks->buf + ks->len;
    const char *p = s;
    char *f = ks->field;
    size_t o = 0;
    int nf = 0;
    for (;;) {
        if (nf >= MAX_COLS)
            return -1;
        ks->foff[nf] = o;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p >= end)
                    return ks->eof ? -1 : 0;
                if (*p == '"') {
                    if (p + 1 >= end && !ks->eof)
                        return 0;
                    if (p + 1 < end && p[1] == '"') {
                        if (o >= MAX_LINE)
                            return -1;
                        f[o++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (o >= MAX_LINE)
                    return -1;
                f[o++] = *p++;
            }
        } else {
            while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
                if (*p == '"' || o >= MAX_LINE)
                    return -1;
                f[o++] = *p++;
            }
        }
        f[o++] = '\0';
        nf++;
        if (p >= end) {
            if (!ks->eof)
                return 0;
            break;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\r') {
            if (p + 1 >= end) {
                if (!ks->eof)
                    return 0;
                p++;
                break;
            }
            if (p[1] != '\n')
                return -1;
            p += 2;
            break;
        }
        if (*p == '\n') {
            p++;
            break;
        }
        return -1; /* text after a closing quote */
    }
    ks->foff[nf] = o;
    *consumed = (size_t)(p - s);
    return nf;
}

static const char *fld(const td_keysrc *ks, int c) { return ks->field + ks->foff[c]; }
static size_t fld_len(const td_keysrc *ks, int c) { return ks->foff[c + 1] - ks->foff[c] - 1; }

/* Fields are measured by length, not by their NUL: a field may hold a NUL byte. */
static bool is_true(const td_keysrc *ks, int c) {
    return fld_len(ks, c) == 4 && strncasecmp(fld(ks, c), "true", 4) == 0;
}

/* One record. Returns 0, 1 on a fatal problem (message in pg), -1 out of memory. */
static int inv_record(td_keysrc *ks, int nf, td_keysrc_page *pg) {
    if (nf != ks->n_cols) {
        pg->status = STORE_E_PROTOCOL;
        errf(pg->errmsg, sizeof pg->errmsg,
             "%s: record %llu has %d fields where the manifest's fileSchema has %d", ks->cur,
             (unsigned long long)ks->line_no, nf, ks->n_cols);
        return 1;
    }
    /* the current version of each object only */
    if (ks->c_delete >= 0 && is_true(ks, ks->c_delete))
        return 0;
    if (ks->c_latest >= 0 && fld_len(ks, ks->c_latest) && !is_true(ks, ks->c_latest))
        return 0;
    const char *raw = fld(ks, ks->c_key);
    size_t rl = fld_len(ks, ks->c_key);
    ut_buf_reset(&ks->dec);
    /* inventory CSVs form-encode keys: %XX, and '+' for a space */
    if (ut_pct_decode(&ks->dec, raw, rl, UT_PCT_PLUS_SPACE) < 0 || ks->dec.bad || !ks->dec.p ||
        memchr(ks->dec.p, '\0', ks->dec.len)) {
        char msg[256];
        errf(msg, sizeof msg, "%s record %llu: the key '%.*s' is not validly URL-encoded", ks->cur,
             (unsigned long long)ks->line_no, (int)ut_utf8_cut(raw, rl, 120), raw);
        return add_bad(ks, raw, rl, STORE_E_PROTOCOL, msg);
    }
    const char *key = ks->dec.p;
    size_t kl = ks->dec.len;
    if (ks->s3_prefix) {
        size_t pl = strlen(ks->s3_prefix);
        if (kl <= pl || memcmp(key, ks->s3_prefix, pl) != 0)
            return 0; /* outside the store's prefix, as a listing would not see it */
        key += pl;
        kl -= pl;
    }
    if (kl == 0)
        return 0;
    uint64_t size = UINT64_MAX;
    if (ks->c_size >= 0 && fld_len(ks, ks->c_size)) {
        const char *z = fld(ks, ks->c_size), *zend = z + fld_len(ks, ks->c_size);
        uint64_t v = 0;
        bool ok = true;
        for (; z < zend && ok; z++) {
            if (*z < '0' || *z > '9' || v > (UINT64_MAX - 9) / 10)
                ok = false;
            else
                v = v * 10 + (uint64_t)(*z - '0');
        }
        if (ok)
            size = v;
    }
    int64_t mtime = INT64_MIN;
    if (ks->c_mtime >= 0 && fld_len(ks, ks->c_mtime))
        mtime = ut_rfc3339_parse(fld(ks, ks->c_mtime), fld_len(ks, ks->c_mtime));
    const char *etag = ks->c_etag >= 0 ? fld(ks, ks->c_etag) : NULL;
    size_t el = ks->c_etag >= 0 ? fld_len(ks, ks->c_etag) : 0;
    if (etag && memchr(etag, '\0', el))
        el = 0; /* not an ETag (a NUL would cut it short downstream): unknown */
    return add_entry(ks, key, kl, size, mtime, etag, el);
}

static int open_next_file(td_keysrc *ks, td_keysrc_page *pg) {
    if (ks->gz) {
        gzclose(ks->gz);
        ks->gz = NULL;
    }
    if (ks->next_file >= ks->n_files) {
        ks->done = true;
        return 1;
    }
    ks->cur = ks->files[ks->next_file++];
    if (ks->open_data) {
        int fd = ks->open_data(ks->open_ctx, ks->cur);
        if (fd < 0)
            errf(pg->errmsg, sizeof pg->errmsg, "cannot open the inventory data file '%s': %s",
                 ks->cur, strerror(errno));
        else
            ks->gz = open_gz_fd(fd, ks->cur, pg->errmsg, sizeof pg->errmsg);
    } else {
        ks->gz = open_gz(ks->cur, pg->errmsg, sizeof pg->errmsg);
    }
    if (!ks->gz) {
        pg->status = STORE_E_IO;
        return -1;
    }
    ks->pos = ks->len = 0;
    ks->eof = false;
    ks->line_no = 0;
    return 0;
}

static void inv_next(td_keysrc *ks, td_keysrc_page *pg) {
    while (ks->n + ks->n_bad < ks->page_size) {
        if (!ks->gz || (ks->eof && ks->pos == ks->len)) {
            if (open_next_file(ks, pg) != 0)
                return;
            continue;
        }
        size_t used = 0;
        int nf = csv_record(ks, &used);
        if (nf == 0) {
            if (ks->eof) { /* nothing but the end */
                ks->pos = ks->len;
                continue;
            }
            if (refill(ks, pg) < 0)
                return;
            continue;
        }
        ks->line_no++;
        if (nf < 0) {
            pg->status = STORE_E_PROTOCOL;
            errf(pg->errmsg, sizeof pg->errmsg, "%s: record %llu is not valid CSV", ks->cur,
                 (unsigned long long)ks->line_no);
            return;
        }
        ks->pos += used;
        /* a blank line (one empty field) between records */
        if (nf == 1 && fld_len(ks, 0) == 0)
            continue;
        int rc = inv_record(ks, nf, pg);
        if (rc < 0) {
            pg->status = STORE_E_NOMEM;
            errf(pg->errmsg, sizeof pg->errmsg, "%s: out of memory", ks->cur);
        }
        if (rc != 0)
            return;
    }
}

/* Reads the whole manifest (at most max bytes) from fd, NUL-terminated; closes fd. The
 * buffer grows with what is read, so a small manifest costs little. Returns NULL with a
 * message in err. */
static char *slurp_fd(int fd, const char *path, size_t max, size_t *len, char *err, size_t errlen) {
    struct stat st;
    char *b = NULL;
    size_t n = 0, cap = 0;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        errf(err, errlen, "the inventory manifest '%s' is a directory, not a file", path);
        goto fail;
    }
    for (;;) {
        if (n == cap) {
            /* one byte past max is how an oversized manifest shows */
            size_t ncap = cap ? (cap > max / 2 ? max + 1 : cap * 2) : 65536;
            if (ncap <= cap) {
                errf(err, errlen, "the inventory manifest '%s' is larger than %zu bytes", path,
                     max);
                goto fail;
            }
            char *nb = realloc(b, ncap + 1);
            if (!nb) {
                errf(err, errlen, "out of memory");
                goto fail;
            }
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            errf(err, errlen, "cannot read the inventory manifest '%s': %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = '\0';
    *len = n;
    return b;
fail:
    close(fd);
    free(b);
    return NULL;
}

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A data file's key is relative to the inventory's destination bucket. Locally: DIR/key for
 * DIR the manifest's folder or one of its parents (a copy of the destination bucket), else
 * the key's last component beside the manifest (a flat copy). */
static bool relative_key(const char *key) {
    bool up = false; /* a ".." component */
    for (const char *c = key; *c; c += strcspn(c, "/"), c += *c == '/')
        if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            up = true;
    return key[0] && key[0] != '/' && !up;
}

static char *resolve_data(const char *mdir, const char *key, char *err, size_t errlen) {
    size_t kl = strlen(key);
    size_t cap = strlen(mdir) + kl + 2;
    char *path = malloc(cap);
    char *dir = strdup(mdir);
    if (!path || !dir) {
        free(path);
        free(dir);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    for (;;) {
        snprintf(path, cap, "%s/%s", dir, key);
        if (is_file(path)) {
            free(dir);
            return path;
        }
        char *sl = strrchr(dir, '/');
        if (!sl || sl == dir)
            break;
        *sl = '\0';
    }
    free(dir);
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    snprintf(path, cap, "%s/%s", mdir, base);
    if (is_file(path))
        return path;
    free(path);
    errf(err, errlen,
         "inventory data file '%.*s' not found: looked for it under the manifest's folder "
         "'%.*s' and its parents, and for '%.*s' beside the manifest",
         ut_utf8_prec(key, 200), key, ut_utf8_prec(mdir, 200), mdir, ut_utf8_prec(base, 100), base);
    return NULL;
}

/* fileSchema "Bucket, Key, Size, ..." -> column indices. */
static int parse_schema(td_keysrc *ks, const char *schema, char *err, size_t errlen) {
    ks->c_key = ks->c_size = ks->c_mtime = ks->c_etag = ks->c_latest = ks->c_delete = -1;
    int n = 0;
    const char *p = schema;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p + strcspn(p, ",");
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        size_t l = (size_t)(t - p);
        if (n >= MAX_COLS) {
            errf(err, errlen, "inventory manifest: fileSchema has more than %d columns", MAX_COLS);
            return -1;
        }
#define COL(name, var)                                        \
    if (l == sizeof name - 1 && strncasecmp(p, name, l) == 0) \
        ks->var = n;
        COL("Key", c_key)
        COL("Size", c_size)
        COL("LastModifiedDate", c_mtime)
        COL("ETag", c_etag)
        COL("IsLatest", c_latest)
        COL("IsDeleteMarker", c_delete)
#undef COL
        n++;
        if (!*e)
            break;
        p = e + 1;
    }
    ks->n_cols = n;
    if (ks->c_key < 0) {
        errf(err, errlen, "inventory manifest: fileSchema '%.*s' has no Key column",
             ut_utf8_prec(schema, 200), schema);
        return -1;
    }
    return 0;
}

/* The manifest on fd (closed here), named path in messages. Data files are opened with
 * open_data, or else looked up on disk relative to path. */
static int open_inventory(td_keysrc **out, int fd, const char *path, td_keysrc_open_fn open_data,
                          void *ctx, const td_keysrc_options *o, char *err, size_t errlen) {
    *out = NULL;
    td_keysrc *ks = ks_new(SRC_INVENTORY, path, o);
    if (!ks) {
        close(fd);
        errf(err, errlen, "out of memory");
        return STORE_E_NOMEM;
    }
    ks->open_data = open_data;
    ks->open_ctx = ctx;
    int rc = STORE_E_IO;
    size_t len = 0;
    char *text = slurp_fd(fd, path, MAX_MANIFEST, &len, err, errlen);
    ut_json d;
    memset(&d, 0, sizeof d);
    char *schema = NULL, *format = NULL, *bucket = NULL, *mdir = NULL;
    if (!text)
        goto out;
    rc = STORE_E_CONFIG;
    char jerr[256];
    if (ut_json_parse(&d, text, len, len / 2 + 64, jerr, sizeof jerr) != 0) {
        errf(err, errlen, "inventory manifest '%s': %s", path, jerr);
        goto out;
    }
    if (d.n == 0 || d.tok[0].type != UT_JSON_OBJECT) {
        errf(err, errlen, "inventory manifest '%s': not a JSON object", path);
        goto out;
    }
    format = ut_json_strdup(&d, ut_json_get(&d, 0, "fileFormat"));
    schema = ut_json_strdup(&d, ut_json_get(&d, 0, "fileSchema"));
    bucket = ut_json_strdup(&d, ut_json_get(&d, 0, "sourceBucket"));
    if (!format || strcasecmp(format, "CSV") != 0) {
        errf(err, errlen,
             "inventory manifest '%s': fileFormat is %s%s%s; only CSV inventories are "
             "supported",
             path, format ? "'" : "missing", format ? format : "", format ? "'" : "");
        goto out;
    }
    if (!schema) {
        errf(err, errlen, "inventory manifest '%s': fileSchema is missing", path);
        goto out;
    }
    char serr[300];
    if (parse_schema(ks, schema, serr, sizeof serr) != 0) {
        errf(err, errlen, "%s ('%s')", serr, path);
        goto out;
    }
    /* an s3 store: the inventory must be of its bucket, and only keys under its prefix
     * are the store's */
    const char *su = o->store_url;
    if (su && strncmp(su, "s3://", 5) == 0) {
        const char *b = su + 5;
        size_t bl = strcspn(b, "/");
        if (!bucket || strlen(bucket) != bl || strncmp(bucket, b, bl) != 0) {
            errf(err, errlen,
                 "inventory manifest '%s': sourceBucket '%s' is not the store's bucket '%.*s'",
                 path, bucket ? bucket : "(missing)", (int)bl, b);
            goto out;
        }
        const char *pre = b + bl;
        while (*pre == '/')
            pre++;
        size_t pl = strlen(pre);
        ks->s3_prefix = malloc(pl + 2);
        if (!ks->s3_prefix) {
            rc = STORE_E_NOMEM;
            errf(err, errlen, "out of memory");
            goto out;
        }
        memcpy(ks->s3_prefix, pre, pl);
        if (pl && pre[pl - 1] != '/')
            ks->s3_prefix[pl++] = '/';
        ks->s3_prefix[pl] = '\0';
    }
    size_t files = ut_json_get(&d, 0, "files");
    if (files == UT_JSON_NONE || d.tok[files].type != UT_JSON_ARRAY) {
        errf(err, errlen, "inventory manifest '%s': 'files' is missing or not a list", path);
        goto out;
    }
    mdir = malloc(strlen(path) + 2); /* room for "." whatever the name */
    if (mdir)
        strcpy(mdir, path);
    ks->files = calloc(d.tok[files].size ? d.tok[files].size : 1, sizeof *ks->files);
    ks->field = malloc(MAX_LINE + MAX_COLS + 1);
    if (!mdir || !ks->files || !ks->field) {
        rc = STORE_E_NOMEM;
        errf(err, errlen, "out of memory");
        goto out;
    }
    char *sl = strrchr(mdir, '/');
    if (!sl)
        strcpy(mdir, ".");
    else if (sl == mdir)
        mdir[1] = '\0';
    else
        *sl = '\0';
    for (size_t t = files + 1; t < d.tok[files].after; t = d.tok[t].after) {
        char *k =
            d.tok[t].type == UT_JSON_OBJECT ? ut_json_strdup(&d, ut_json_get(&d, t, "key")) : NULL;
        if (!k) {
            errf(err, errlen, "inventory manifest '%s': files[%zu] has no string 'key'", path,
                 ks->n_files);
            goto out;
        }
        if (!relative_key(k)) {
            errf(err, errlen,
                 "inventory manifest: data file key '%.*s' is not a relative path ('%s')",
                 ut_utf8_prec(k, 200), k, path);
            free(k);
            goto out;
        }
        if (open_data) { /* opened when reached */
            ks->files[ks->n_files++] = k;
            continue;
        }
        char rerr[512];
        ks->files[ks->n_files] = resolve_data(mdir, k, rerr, sizeof rerr);
        free(k);
        if (!ks->files[ks->n_files]) {
            errf(err, errlen, "%s ('%s')", rerr, path);
            rc = STORE_E_NOT_FOUND;
            goto out;
        }
        ks->n_files++;
    }
    ks->dec.limit = MAX_LINE;
    ks->cur = ks->name;
    rc = 0;
out:
    ut_json_free(&d);
    free(text);
    free(schema);
    free(format);
    free(bucket);
    free(mdir);
    if (rc != 0)
        td_keysrc_close(ks);
    else
        *out = ks;
    return rc;
}

int td_keysrc_open_inventory(td_keysrc **out, const char *manifest, const td_keysrc_options *o,
                             char *err, size_t errlen) {
    *out = NULL;
    const char *path = manifest;
    if (strncmp(path, "file://", 7) == 0)
        path += 7;
    else if (ut_url_scheme_len(path, strlen(path))) {
        errf(err, errlen,
             "store.inventory '%s': only a local manifest.json is supported; copy the "
             "manifest and its data files to a folder first",
             manifest);
        return STORE_E_UNSUPPORTED;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errf(err, errlen, "cannot open the inventory manifest '%s': %s", path, strerror(errno));
        return STORE_E_IO;
    }
    return open_inventory(out, fd, path, NULL, NULL, o, err, errlen);
}

int td_keysrc_open_inventory_fd(td_keysrc **out, int fd, const char *name,
                                td_keysrc_open_fn open_data, void *ctx, const td_keysrc_options *o,
                                char *err, size_t errlen) {
    return open_inventory(out, fd, name, open_data, ctx, o, err, errlen);
}

/* ------------------------------------------------------------------ paging */

void td_keysrc_next(td_keysrc *ks, td_keysrc_page *pg) {
    memset(pg, 0, sizeof *pg);
    ks->n = ks->n_bad = 0;
    ks->alen = 0;
    if (!ks->done) {
        if (ks->kind == SRC_LIST)
            list_next(ks, pg);
        else
            inv_next(ks, pg);
    }
    if (pg->status < 0)
        ks->done = true;
    pg->done = ks->done;
    page_fix(ks, pg);
}

char *td_prefix_segments(const char *prefix) {
    size_t n = strlen(prefix);
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t seg = strcspn(prefix + i, "/");
        if (seg) { /* a non-empty segment, then its '/' */
            memcpy(out + o, prefix + i, seg);
            o += seg;
            out[o++] = '/';
        }
        i += seg;
        while (i < n && prefix[i] == '/')
            i++;
    }
    out[o] = '\0';
    return out;
}
