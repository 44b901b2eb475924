/* dumpread.c - a run's output folder into a td_report (dumpread.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dumpread.h"
#include "output.h"
#include "parquet_read.h"
#include "shard.h"
#include "util.h"

#define SUCCESS_CAP (16u << 20) /* _SUCCESS holds the config: a few KiB, never this */

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

void td_dumpread_info_free(td_dumpread_info *info) {
    free(info->success);
    memset(info, 0, sizeof *info);
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int td_dumpread_info_read(const char *out, td_dumpread_info *info, char *err, size_t errlen) {
    memset(info, 0, sizeof *info);
    DIR *d = opendir(out);
    if (!d) {
        ut_msgf(err, errlen, "cannot open %s: %s", out, strerror(errno));
        return -1;
    }
    struct dirent *e;
    uint32_t i, n;
    while ((e = readdir(d)))
        if (td_shard_marker_of(e->d_name, &i, &n))
            info->shard_markers++;
    closedir(d);
    char *p = join(out, "_SUCCESS");
    if (!p) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    char why[160];
    info->success = ut_read_file(p, SUCCESS_CAP, &info->success_len, why, sizeof why);
    info->complete = info->success != NULL;
    free(p);
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The part files of one table folder, sorted (the order of the rows the tool wrote). */
static int list_parts(const char *dir, char ***names, size_t *n, char *err, size_t errlen) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        ut_msgf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    uint32_t sh;
    int rc = 0;
    while ((e = readdir(d))) {
        if (td_shard_part_of(e->d_name, &sh) < 0)
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(*names, nc * sizeof *nn);
            if (!nn) {
                rc = -1;
                break;
            }
            *names = nn;
            cap = nc;
        }
        if (!((*names)[*n] = ut_strdup(e->d_name))) {
            rc = -1;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc)
        ut_msgf(err, errlen, "out of memory");
    else if (*n)
        qsort(*names, *n, sizeof **names, cmp_name);
    return rc;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* One leaf column read in row lockstep with the others. A list's items follow its first
 * entry (rep > 0); the entry with rep == 0 that ends a list is kept for the next row. */
typedef struct col {
    pqr_cursor *c; /* NULL: the file has no such column (all nulls) */
    pqr_value v;
    bool ahead;
} col;

/* The row's first entry into k->v: 1, 0 at the end, < 0 on error. */
static int col_first(col *k) {
    if (!k->c)
        return 0;
    if (k->ahead) {
        k->ahead = false;
        return 1;
    }
    return pqr_next(k->c, &k->v);
}

/* The row's next list item into k->v: 1, or 0 when the row has no more. */
static int col_more(col *k) {
    if (!k->c || k->ahead)
        return 0;
    int rc = pqr_next(k->c, &k->v);
    if (rc == 1 && k->v.rep == 0) {
        k->ahead = true;
        return 0;
    }
    return rc;
}

static int64_t col_int(col *k, int *err) {
    int rc = col_first(k);
    if (rc < 0)
        *err = 1;
    return rc == 1 && k->v.present ? k->v.i : -1;
}

/* The first item of a list column; the rest are skipped. */
static int64_t col_list_first(col *k, int *err) {
    int64_t x = col_int(k, err);
    int rc;
    while ((rc = col_more(k)) == 1) {
    }
    if (rc < 0)
        *err = 1;
    return x;
}

typedef struct part {
    fsrc fs;
    pqr_source src;
    pqr_file *f;
} part;

static int part_open(part *p, const char *file, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->fs.fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (p->fs.fd < 0 || fstat(p->fs.fd, &st) != 0) {
        ut_msgf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        if (p->fs.fd >= 0)
            close(p->fs.fd);
        return -1;
    }
    p->src = (pqr_source){fd_read_at, &p->fs, (uint64_t)st.st_size};
    char msg[320];
    if (pqr_open(&p->f, &p->src, NULL, msg, sizeof msg) != PQR_OK) {
        ut_msgf(err, errlen, "%s: %s", file, msg);
        close(p->fs.fd);
        return -1;
    }
    return 0;
}

static void part_close(part *p) {
    pqr_close(p->f);
    if (p->fs.fd >= 0)
        close(p->fs.fd);
}

static int cols_open(part *p, col *cols, const char *const *paths, size_t n, const char *file,
                     char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        memset(&cols[i], 0, sizeof cols[i]);
        int leaf = pqr_find_leaf(p->f, paths[i]);
        if (leaf < 0)
            continue;
        if (pqr_cursor_open(&cols[i].c, p->f, leaf, -1) != PQR_OK) {
            ut_msgf(err, errlen, "%s: column %s: out of memory", file, paths[i]);
            return -1;
        }
    }
    return 0;
}

static int cols_error(col *cols, size_t n, const char *file, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++)
        if (cols[i].c && *pqr_cursor_errmsg(cols[i].c)) {
            ut_msgf(err, errlen, "%s: %s", file, pqr_cursor_errmsg(cols[i].c));
            return -1;
        }
    ut_msgf(err, errlen, "%s: a column ended before the others", file);
    return -1;
}

static void cols_close(col *cols, size_t n) {
    for (size_t i = 0; i < n; i++)
        pqr_cursor_close(cols[i].c);
}

enum {
    C_COMPRESSION,
    C_BITS,
    C_SF,
    C_TW,
    C_TH,
    C_W,
    C_H,
    C_OVR,
    C_COG,
    C_COGERR,
    C_IFDB,
    C_REQ,
    C_FETCHED,
    C_PROJ,
    C_GEOM,
    C_BX0,
    C_BY0,
    C_BX1,
    C_BY1,
    C_N
};
static const char *const head_cols[C_N] = {"compression",
                                           "bits_per_sample.list.element",
                                           "sample_format.list.element",
                                           "tile_width",
                                           "tile_height",
                                           "image_width",
                                           "image_height",
                                           "overview_count",
                                           "cog_valid",
                                           "cog_errors.list.element",
                                           "ifd_bytes",
                                           "requests",
                                           "fetched_bytes",
                                           "proj_code",
                                           "geometry",
                                           "bbox.xmin",
                                           "bbox.ymin",
                                           "bbox.xmax",
                                           "bbox.ymax"};

static int read_headers(const char *file, td_report *r, char *err, size_t errlen) {
    part p;
    if (part_open(&p, file, err, errlen))
        return -1;
    col c[C_N];
    int rc = cols_open(&p, c, head_cols, C_N, file, err, errlen);
    int64_t rows = pqr_num_rows(p.f);
    for (int64_t row = 0; rc == 0 && row < rows; row++) {
        int bad = 0;
        td_report_row w = TD_REPORT_ROW_INIT;
        w.compression = col_int(&c[C_COMPRESSION], &bad);
        w.bits = col_list_first(&c[C_BITS], &bad);
        w.sample_format = col_list_first(&c[C_SF], &bad);
        w.tile_width = col_int(&c[C_TW], &bad);
        w.tile_height = col_int(&c[C_TH], &bad);
        w.width = col_int(&c[C_W], &bad);
        w.height = col_int(&c[C_H], &bad);
        w.overview_count = col_int(&c[C_OVR], &bad);
        int64_t cog = col_int(&c[C_COG], &bad);
        w.cog_valid = cog < 0 ? -1 : (int)cog;
        w.ifd_bytes = col_int(&c[C_IFDB], &bad);
        w.requests = col_int(&c[C_REQ], &bad);
        w.fetched_bytes = col_int(&c[C_FETCHED], &bad);
        if (col_first(&c[C_PROJ]) == 1 && c[C_PROJ].v.present) {
            w.proj_code = (const char *)c[C_PROJ].v.p;
            w.proj_code_len = c[C_PROJ].v.len;
        }
        if (col_first(&c[C_GEOM]) == 1 && c[C_GEOM].v.present) {
            w.wkb = c[C_GEOM].v.p;
            w.wkb_len = c[C_GEOM].v.len;
        }
        int nb = 0;
        for (int k = 0; k < 4; k++)
            if (col_first(&c[C_BX0 + k]) == 1 && c[C_BX0 + k].v.present) {
                w.bbox[k] = c[C_BX0 + k].v.d;
                nb++;
            }
        w.has_bbox = nb == 4;
        td_report_add_header(r, &w);
        /* the row's cog_errors items */
        col *ce = &c[C_COGERR];
        int k = col_first(ce);
        while (k == 1) {
            if (ce->v.present)
                td_report_add_cog_error(r, (const char *)ce->v.p, ce->v.len);
            k = col_more(ce);
        }
        if (bad || k < 0)
            rc = cols_error(c, C_N, file, err, errlen);
    }
    cols_close(c, C_N);
    part_close(&p);
    return rc;
}

static int read_errors(const char *file, td_report *r, char *err, size_t errlen) {
    static const char *const names[3] = {"stage", "kind", "path"};
    part p;
    if (part_open(&p, file, err, errlen))
        return -1;
    col c[3];
    int rc = cols_open(&p, c, names, 3, file, err, errlen);
    int64_t rows = pqr_num_rows(p.f);
    for (int64_t row = 0; rc == 0 && row < rows; row++) {
        td_report_error e = {0};
        const char *s[3] = {NULL, NULL, NULL};
        size_t n[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            int x = col_first(&c[k]);
            if (x < 0) {
                rc = cols_error(c, 3, file, err, errlen);
                break;
            }
            if (x == 1 && c[k].v.present) {
                s[k] = (const char *)c[k].v.p;
                n[k] = c[k].v.len;
            }
        }
        if (rc)
            break;
        e.stage = s[0], e.stage_len = n[0];
        e.kind = s[1], e.kind_len = n[1];
        e.path = s[2], e.path_len = n[2];
        td_report_add_error(r, &e);
    }
    cols_close(c, 3);
    part_close(&p);
    return rc;
}

static int read_table(const char *dir, bool errors, td_report *r, uint64_t *files, char *err,
                      size_t errlen) {
    char **names;
    size_t n;
    if (list_parts(dir, &names, &n, err, errlen))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *f = join(dir, names[i]);
        if (!f) {
            ut_msgf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        rc = errors ? read_errors(f, r, err, errlen) : read_headers(f, r, err, errlen);
        free(f);
        if (rc == 0)
            (*files)++;
    }
    free_names(names, n);
    return rc;
}

int td_dumpread_rows(const char *out, td_report *r, td_dumpread_info *info, char *err,
                     size_t errlen) {
    if (read_table(out, false, r, &info->header_files, err, errlen))
        return -1;
    char *e = join(out, TD_OUTPUT_ERRORS_DIR);
    if (!e) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    int rc = read_table(e, true, r, &info->error_files, err, errlen);
    free(e);
    return rc;
}
