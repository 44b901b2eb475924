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
#include "parquet_read.h"

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

static void set_add(td_doneset *d, uint64_t h) {
    size_t i = (size_t)h & d->mask;
    while (d->slot[i]) {
        if (d->slot[i] == h)
            return;
        i = (i + 1) & d->mask;
    }
    d->slot[i] = h;
    d->n++;
}

bool td_doneset_has(const td_doneset *d, const char *key, size_t len) {
    if (!d || !d->n)
        return false;
    uint64_t h = fp64(key, len);
    for (size_t i = (size_t)h & d->mask; d->slot[i]; i = (i + 1) & d->mask)
        if (d->slot[i] == h)
            return true;
    return false;
}

size_t td_doneset_count(const td_doneset *d) { return d ? d->n : 0; }
size_t td_doneset_bytes(const td_doneset *d) {
    return d ? sizeof *d + (d->mask + 1) * sizeof *d->slot : 0;
}
void td_doneset_free(td_doneset *d) {
    if (d)
        free(d->slot);
    free(d);
}

/* ------------------------------------------------------------------ the part files */

typedef struct fsrc {
    int fd;
} fsrc;

static int fd_read_at(void *ctx, uint64_t off, size_t len, void *buf) {
    int fd = ((fsrc *)ctx)->fd;
    char *p = buf;
    while (len) {
        ssize_t k = pread(fd, p, len, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

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

static bool ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
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

/* Complete parts of dir into a; removes temporary files (and _SUCCESS when top). */
static int scan(const char *dir, bool top, names *a, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        bool tmp = (strncmp(nm, ".part-", 6) == 0 && ends(nm, ".parquet.tmp")) ||
                   (top && (strcmp(nm, "_SUCCESS") == 0 || strcmp(nm, "._SUCCESS.tmp") == 0));
        if (tmp) {
            names one = {0};
            if (names_add(&one, dir, nm) || (unlink(one.v[0]) != 0 && errno != ENOENT)) {
                snprintf(err, errlen, "cannot remove %s/%s: %s", dir, nm, strerror(errno));
                rc = -1;
            }
            if (one.v)
                free(one.v[0]);
            free(one.v);
        } else if (strncmp(nm, "part-", 5) == 0 && ends(nm, ".parquet")) {
            if (names_add(a, dir, nm)) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
    }
    closedir(d);
    return rc;
}

/* Opens a part; with d, adds every row's key (path_bytes when set, else path). */
static int read_part(const char *file, td_doneset *d, uint64_t *rows, char *err, size_t errlen) {
    fsrc fs = {open(file, O_RDONLY | O_CLOEXEC)};
    struct stat st;
    if (fs.fd < 0 || fstat(fs.fd, &st) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        if (fs.fd >= 0)
            close(fs.fd);
        return -1;
    }
    pqr_source src = {fd_read_at, &fs, (uint64_t)st.st_size};
    pqr_file *f;
    char msg[320];
    int rc = pqr_open(&f, &src, NULL, msg, sizeof msg);
    if (rc) {
        snprintf(err, errlen, "%s: %s", file, msg);
        close(fs.fd);
        return -1;
    }
    *rows = (uint64_t)pqr_num_rows(f);
    int lp = pqr_find_leaf(f, "path"), lb = pqr_find_leaf(f, "path_bytes");
    if (lp < 0 || lb < 0 || pqr_leaf_at(f, lp)->max_rep || pqr_leaf_at(f, lb)->max_rep) {
        snprintf(err, errlen, "%s: no path / path_bytes columns: not a part of ours", file);
        rc = -1;
    }
    pqr_cursor *cp = NULL, *cb = NULL;
    if (!rc && d &&
        (pqr_cursor_open(&cp, f, lp, -1) != PQR_OK || pqr_cursor_open(&cb, f, lb, -1) != PQR_OK)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    while (!rc && d) {
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
            set_add(d, fp64((const char *)k->p, k->present ? k->len : 0));
        }
    }
    pqr_cursor_close(cp);
    pqr_cursor_close(cb);
    pqr_close(f);
    close(fs.fd);
    return rc;
}

int td_resume_load(const char *out_dir, td_doneset **out, td_resume_info *info, char *err,
                   size_t errlen) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    size_t n = strlen(out_dir) + sizeof TD_OUTPUT_ERRORS_DIR + 2;
    char *errs = malloc(n);
    if (!errs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(errs, n, "%s/%s", out_dir, TD_OUTPUT_ERRORS_DIR);
    names hdr = {0}, er = {0};
    int rc = mkdir_p(errs, err, errlen);
    if (!rc)
        rc = scan(out_dir, true, &hdr, err, errlen);
    if (!rc)
        rc = scan(errs, false, &er, err, errlen);
    /* first the footers: the row counts size the table once */
    uint64_t total = 0;
    for (size_t i = 0; !rc && i < hdr.n + er.n; i++) {
        uint64_t rows = 0;
        rc = read_part(i < hdr.n ? hdr.v[i] : er.v[i - hdr.n], NULL, &rows, err, errlen);
        if (i < hdr.n)
            info->header_rows += rows;
        else
            info->error_rows += rows;
        total += rows;
    }
    td_doneset *d = NULL;
    if (!rc) {
        d = calloc(1, sizeof *d);
        size_t cap = 16;
        while (cap / 4 * 3 < total && cap < SIZE_MAX / 16)
            cap *= 2;
        if (d)
            d->slot = calloc(cap, sizeof *d->slot);
        if (!d || !d->slot) {
            snprintf(err, errlen, "out of memory for the done-set of %llu keys",
                     (unsigned long long)total);
            rc = -1;
        } else {
            d->mask = cap - 1;
        }
    }
    for (size_t i = 0; !rc && i < hdr.n + er.n; i++) {
        uint64_t rows;
        rc = read_part(i < hdr.n ? hdr.v[i] : er.v[i - hdr.n], d, &rows, err, errlen);
    }
    info->header_files = hdr.n;
    info->error_files = er.n;
    for (size_t i = 0; i < hdr.n; i++)
        free(hdr.v[i]);
    for (size_t i = 0; i < er.n; i++)
        free(er.v[i]);
    free(hdr.v);
    free(er.v);
    free(errs);
    if (rc) {
        td_doneset_free(d);
        return -1;
    }
    *out = d;
    return 0;
}
