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

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

void td_dumpread_info_free(td_dumpread_info *info) {
    free(info->success);
    memset(info, 0, sizeof *info);
}

typedef struct fent {
    char *name; /* relative to OUT: "part-00000.parquet", "_errors/part-00000.parquet" */
    uint64_t size;
} fent;

typedef struct flist {
    fent *v;
    size_t n, cap;
} flist;

struct td_dumpread {
    char *dir; /* local: the folder */
    /* remote: a store on a private loop, run until each request completes */
    bool remote, loop_ok;
    uv_loop_t loop;
    store *st;
    flist heads, errs;
    flist marks; /* the shard markers' names (and sizes: a store's GETs need them) */
    bool has_success;
    uint64_t success_size;
    unsigned markers;
    uint64_t gets; /* remote: GET requests made (before retries) */
};

static int flist_add(flist *l, const char *name, size_t n, uint64_t size) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        fent *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    char *p = malloc(n + 1);
    if (!p)
        return -1;
    memcpy(p, name, n);
    p[n] = 0;
    l->v[l->n++] = (fent){p, size};
    return 0;
}

static void flist_free(flist *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_fent(const void *a, const void *b) {
    return strcmp(((const fent *)a)->name, ((const fent *)b)->name);
}

/* One listed name relative to OUT, sorted into the dataset's files (others ignored). */
static int classify(td_dumpread *d, const char *name, size_t n, uint64_t size) {
    char base[256];
    const char *slash = memchr(name, '/', n);
    size_t el = strlen(TD_OUTPUT_ERRORS_DIR);
    bool in_errs =
        slash && (size_t)(slash - name) == el && memcmp(name, TD_OUTPUT_ERRORS_DIR, el) == 0;
    const char *b = in_errs ? slash + 1 : name;
    size_t bl = n - (size_t)(b - name);
    if ((!in_errs && slash) || memchr(b, '/', bl) || bl >= sizeof base)
        return 0;
    memcpy(base, b, bl);
    base[bl] = 0;
    uint32_t sh, i, cnt;
    if (td_shard_part_of(base, &sh) >= 0)
        return flist_add(in_errs ? &d->errs : &d->heads, name, n, size);
    if (in_errs)
        return 0;
    if (strcmp(base, "_SUCCESS") == 0) {
        d->has_success = true;
        d->success_size = size;
    } else if (td_shard_marker_of(base, &i, &cnt)) {
        for (size_t k = 0; k < d->marks.n; k++)
            if (strcmp(d->marks.v[k].name, base) == 0)
                return 0; /* a store may list a name twice across pages */
        d->markers++;
        return flist_add(&d->marks, name, n, size);
    }
    return 0;
}

static int list_local_dir(td_dumpread *d, const char *sub, char *err, size_t errlen) {
    char *path = sub ? join(d->dir, sub) : ut_strdup(d->dir);
    if (!path) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    DIR *dh = opendir(path);
    if (!dh) {
        int e = errno;
        free(path);
        if (sub && e == ENOENT)
            return 0;
        ut_msgf(err, errlen, "cannot open %s: %s", d->dir, strerror(e));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char rel[512];
        int n = snprintf(rel, sizeof rel, "%s%s%s", sub ? sub : "", sub ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n >= sizeof rel)
            continue;
        struct stat st;
        char *full = join(path, e->d_name);
        if (!full) {
            rc = -1;
            break;
        }
        uint64_t size = stat(full, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        bool reg = stat(full, &st) == 0 && S_ISREG(st.st_mode);
        free(full);
        if (reg && classify(d, rel, (size_t)n, size))
            rc = -1;
    }
    closedir(dh);
    free(path);
    if (rc)
        ut_msgf(err, errlen, "out of memory");
    return rc;
}

/* ---- remote: store requests run to completion on the private loop ---- */

typedef struct wait_list {
    td_dumpread *d;
    bool done;
    int status, oom;
    char msg[256];
} wait_list;

static void list_cb(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    wait_list *w = req->data;
    for (size_t i = 0; i < n; i++)
        if (classify(w->d, e[i].key, e[i].key_len, e[i].size))
            w->oom = 1;
    if (status < 0) {
        w->status = status;
        snprintf(w->msg, sizeof w->msg, "%s", req->errmsg);
        w->done = true;
    } else if (done) {
        w->done = true;
    } else {
        w->status = 1; /* ask for the next page */
    }
}

static int list_remote(td_dumpread *d, char *err, size_t errlen) {
    wait_list w = {d, false, 0, 0, ""};
    store_list_req req;
    memset(&req, 0, sizeof req);
    req.prefix = "";
    req.page_size = 1000;
    req.cb = list_cb;
    req.data = &w;
    int rc = store_list_next(d->st, &req);
    while (rc == 0) {
        while (!w.done && w.status == 0 && uv_run(&d->loop, UV_RUN_ONCE)) {
        }
        if (w.status == 1 && !w.done) {
            w.status = 0;
            rc = store_list_next(d->st, &req);
            continue;
        }
        break;
    }
    if (rc != 0 || w.status < 0 || !w.done) {
        store_list_free(d->st, &req);
        ut_msgf(err, errlen, "cannot list %s: %s", store_url(d->st),
                w.msg[0] ? w.msg
                         : store_strerror(rc         ? rc
                                          : w.status ? w.status
                                                     : STORE_E_CANCELED));
        return -1;
    }
    if (w.oom) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

typedef struct wait_get {
    bool done;
    int status;
} wait_get;

static void get_cb(store_get_req *req, int status) {
    wait_get *w = req->data;
    w->status = status;
    w->done = true;
}

/* Reads [off, off+len) of key whole; 0 or -1 (message in msg). */
static int remote_get(td_dumpread *d, const char *key, uint64_t size, uint64_t off, size_t len,
                      void *buf, char *msg, size_t cap) {
    wait_get w = {false, 0};
    store_get_req req;
    memset(&req, 0, sizeof req);
    req.key = key;
    req.offset = off;
    req.length = len;
    req.buf = buf;
    req.cb = get_cb;
    req.data = &w;
    req.known_size = size;
    d->gets++;
    int rc = store_get(d->st, &req);
    if (rc == 0)
        while (!w.done && uv_run(&d->loop, UV_RUN_ONCE)) {
        }
    if (rc != 0 || !w.done || w.status != 0 || req.got != len) {
        if (msg)
            ut_msgf(msg, cap, "%s: %s", key,
                    req.errmsg[0] ? req.errmsg
                    : rc          ? store_strerror(rc)
                    : w.status    ? store_strerror(w.status)
                                  : "short read");
        return -1;
    }
    return 0;
}

/* A remote part file. Parquet reads come small (a page header: 256 bytes, then its body)
 * and interleaved over the columns, so each small read is served from a cache of aligned
 * blocks, one GET per block: a page header and the pages around it cost one request, not
 * two per page. Reads larger than a block go straight to the store. */
#define RBLOCK ((size_t)1 << 20)
#define RSLOTS 32u /* at most 32 MiB per open file; one file is open at a time */

typedef struct rslot {
    uint8_t *p;
    uint64_t block; /* index of the block held (UINT64_MAX: none) */
    size_t len;     /* bytes held (the last block of the file is shorter) */
    uint64_t used;  /* LRU clock */
} rslot;

typedef struct rsrc {
    td_dumpread *d;
    const char *key;
    uint64_t size;
    rslot slot[RSLOTS];
    uint64_t clock;
} rsrc;

static void rsrc_free(rsrc *r) {
    for (unsigned i = 0; i < RSLOTS; i++)
        free(r->slot[i].p);
    memset(r->slot, 0, sizeof r->slot);
}

static rslot *rsrc_block(rsrc *r, uint64_t b) {
    rslot *victim = &r->slot[0];
    for (unsigned i = 0; i < RSLOTS; i++) {
        rslot *s = &r->slot[i];
        if (s->p && s->block == b) {
            s->used = ++r->clock;
            return s;
        }
        if (!s->p || s->used < victim->used)
            victim = s;
        if (!s->p)
            break;
    }
    if (!victim->p && !(victim->p = malloc(RBLOCK)))
        return NULL;
    uint64_t off = b * RBLOCK;
    size_t len = r->size - off < RBLOCK ? (size_t)(r->size - off) : RBLOCK;
    victim->block = UINT64_MAX;
    if (remote_get(r->d, r->key, r->size, off, len, victim->p, NULL, 0))
        return NULL;
    victim->block = b;
    victim->len = len;
    victim->used = ++r->clock;
    return victim;
}

static int remote_read_at(void *ctx, uint64_t off, size_t len, void *buf) {
    rsrc *r = ctx;
    if (len > RBLOCK)
        return remote_get(r->d, r->key, r->size, off, len, buf, NULL, 0);
    uint8_t *out = buf;
    while (len) {
        rslot *s = rsrc_block(r, off / RBLOCK);
        if (!s)
            return -1;
        size_t in = (size_t)(off % RBLOCK), n = s->len - in < len ? s->len - in : len;
        if (in >= s->len)
            return -1;
        memcpy(out, s->p + in, n);
        out += n;
        off += n;
        len -= n;
    }
    return 0;
}

int td_dumpread_open(td_dumpread **out, const char *url, const store_options *so, char *err,
                     size_t errlen) {
    *out = NULL;
    td_dumpread *d = calloc(1, sizeof *d);
    if (!d) {
        ut_msgf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    if (td_outstore_is_url(url)) {
        d->remote = true;
        store_options def = STORE_OPTIONS_INIT;
        if (uv_loop_init(&d->loop) != 0) {
            ut_msgf(err, errlen, "out of memory");
            free(d);
            return -1;
        }
        d->loop_ok = true;
        int sr = store_open(&d->st, &d->loop, url, so ? so : &def, err, errlen);
        rc = sr != 0 ? -1 : list_remote(d, err, errlen);
    } else {
        d->dir = ut_strdup(strncmp(url, "file://", 7) == 0 ? url + 7 : url);
        if (!d->dir) {
            ut_msgf(err, errlen, "out of memory");
            rc = -1;
        } else {
            rc = list_local_dir(d, NULL, err, errlen);
            if (rc == 0)
                rc = list_local_dir(d, TD_OUTPUT_ERRORS_DIR, err, errlen);
        }
    }
    if (rc) {
        td_dumpread_close(d);
        return -1;
    }
    if (d->heads.n)
        qsort(d->heads.v, d->heads.n, sizeof *d->heads.v, cmp_fent);
    if (d->errs.n)
        qsort(d->errs.v, d->errs.n, sizeof *d->errs.v, cmp_fent);
    *out = d;
    return 0;
}

uint64_t td_dumpread_requests(const td_dumpread *d) { return d->gets; }

void td_dumpread_close(td_dumpread *d) {
    if (!d)
        return;
    if (d->st)
        store_close(d->st);
    if (d->loop_ok) {
        uv_run(&d->loop, UV_RUN_DEFAULT); /* let closing handles finish */
        uv_loop_close(&d->loop);
    }
    flist_free(&d->heads);
    flist_free(&d->errs);
    flist_free(&d->marks);
    free(d->dir);
    free(d);
}

/* ---- the shard markers as a td_shard_io (shard.h), for their summary ---- */

static int marks_list(void *ud, const char *sub, void (*each)(const char *name, void *arg),
                      void *arg, char *err, size_t errlen) {
    const td_dumpread *d = ud;
    if (*sub)
        return 1; /* only OUT itself holds markers */
    for (size_t i = 0; i < d->marks.n; i++)
        each(d->marks.v[i].name, arg);
    return 0;
}

static char *marks_read(void *ud, const char *name, size_t cap, size_t *len, char *err,
                        size_t errlen) {
    td_dumpread *d = ud;
    if (!d->remote) {
        char *p = join(d->dir, name);
        if (!p) {
            ut_msgf(err, errlen, "out of memory");
            return NULL;
        }
        char *t = ut_read_file(p, cap, len, err, errlen);
        free(p);
        return t;
    }
    const fent *fe = NULL;
    for (size_t i = 0; i < d->marks.n && !fe; i++)
        if (strcmp(d->marks.v[i].name, name) == 0)
            fe = &d->marks.v[i];
    if (!fe || fe->size > cap) {
        ut_msgf(err, errlen, fe ? "larger than %zu bytes" : "not listed", cap);
        return NULL;
    }
    char *t = malloc((size_t)fe->size + 1);
    if (!t) {
        ut_msgf(err, errlen, "out of memory");
        return NULL;
    }
    if (fe->size && remote_get(d, fe->name, fe->size, 0, (size_t)fe->size, t, err, errlen)) {
        free(t);
        return NULL;
    }
    t[fe->size] = 0;
    *len = (size_t)fe->size;
    return t;
}

/* No _SUCCESS: the summary finish would write, from the markers there are (shard.c sums them:
 * one code for both, so the page shows what finish will say). */
static int marks_summary(td_dumpread *d, td_dumpread_info *info, char *err, size_t errlen) {
    td_shard_io io = {marks_list, marks_read, NULL, d};
    char shown[1024];
    snprintf(shown, sizeof shown, "%s", d->remote ? store_url(d->st) : d->dir);
    size_t n = strlen(shown);
    if (n && shown[n - 1] == '/')
        shown[n - 1] = 0; /* messages add "/name" */
    uint32_t found = 0, count = 0;
    int rc = td_shard_summary_io(&io, shown, &info->success, &info->success_len, &found, &count,
                                 info->markers_note, sizeof info->markers_note);
    if (rc == 0) { /* markers_note: the missing shards, if any */
        info->summary_markers = found;
        info->shard_count = count;
    } else if (rc > 0) {
        info->markers_note[0] = 0;
    } else if (strstr(info->markers_note, "out of memory")) {
        ut_msgf(err, errlen, "%s", info->markers_note);
        return -1;
    }
    /* other failures (markers of two runs or splits, one unreadable) leave the page without
     * a run section; markers_note says why */
    return 0;
}

int td_dumpread_info_read(td_dumpread *d, td_dumpread_info *info, char *err, size_t errlen) {
    memset(info, 0, sizeof *info);
    info->shard_markers = d->markers;
    if (!d->has_success)
        return d->markers ? marks_summary(d, info, err, errlen) : 0;
    if (!d->remote) {
        char *p = join(d->dir, "_SUCCESS");
        if (!p) {
            ut_msgf(err, errlen, "out of memory");
            return -1;
        }
        info->success = ut_read_file(p, SUCCESS_CAP, &info->success_len, err, errlen);
        free(p);
        if (!info->success)
            return -1;
    } else {
        if (d->success_size > SUCCESS_CAP) {
            ut_msgf(err, errlen, "_SUCCESS: larger than %u bytes", SUCCESS_CAP);
            return -1;
        }
        info->success = malloc(d->success_size + 1);
        if (!info->success) {
            ut_msgf(err, errlen, "out of memory");
            return -1;
        }
        if (d->success_size && remote_get(d, "_SUCCESS", d->success_size, 0, d->success_size,
                                          info->success, err, errlen)) {
            free(info->success);
            info->success = NULL;
            return -1;
        }
        info->success[d->success_size] = 0;
        info->success_len = d->success_size;
    }
    info->complete = true;
    return 0;
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

/* The file as messages name it: OUT's folder or store URL (no credentials) and the name. */
static void shown(const td_dumpread *d, const fent *fe, char *out, size_t cap) {
    ut_msgf(out, cap, "%s/%s", d->remote ? store_url(d->st) : d->dir, fe->name);
}

typedef struct part {
    int fd; /* of a local part file: read with ut_fd_read_at */
    rsrc rs;
    pqr_source src;
    pqr_file *f;
} part;

/* Opens one part file of d: pread on a local file, ranged GETs on a store. */
static int part_open(td_dumpread *d, part *p, const fent *fe, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (d->remote) {
        p->rs.d = d;
        p->rs.key = fe->name;
        p->rs.size = fe->size;
        p->src = (pqr_source){remote_read_at, &p->rs, fe->size};
    } else {
        char *file = join(d->dir, fe->name);
        if (!file) {
            ut_msgf(err, errlen, "out of memory");
            return -1;
        }
        p->fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (p->fd < 0 || fstat(p->fd, &st) != 0) {
            ut_msgf(err, errlen, "cannot open %s: %s", file, strerror(errno));
            free(file);
            if (p->fd >= 0)
                close(p->fd);
            return -1;
        }
        free(file);
        p->src = (pqr_source){ut_fd_read_at, &p->fd, (uint64_t)st.st_size};
    }
    char msg[320];
    if (pqr_open(&p->f, &p->src, NULL, msg, sizeof msg) != PQR_OK) {
        char file[1024];
        shown(d, fe, file, sizeof file);
        ut_msgf(err, errlen, "%s: %s", file, msg);
        if (p->fd >= 0)
            close(p->fd);
        rsrc_free(&p->rs);
        return -1;
    }
    return 0;
}

static void part_close(part *p) {
    pqr_close(p->f);
    if (p->fd >= 0)
        close(p->fd);
    rsrc_free(&p->rs);
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

static int read_headers(td_dumpread *d, const fent *fe, td_report *r, char *err, size_t errlen) {
    char file[1024];
    shown(d, fe, file, sizeof file);
    part p;
    if (part_open(d, &p, fe, err, errlen))
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

static int read_errors(td_dumpread *d, const fent *fe, td_report *r, char *err, size_t errlen) {
    static const char *const names[3] = {"stage", "kind", "path"};
    char file[1024];
    shown(d, fe, file, sizeof file);
    part p;
    if (part_open(d, &p, fe, err, errlen))
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

int td_dumpread_rows(td_dumpread *d, td_report *r, td_dumpread_info *info, char *err,
                     size_t errlen) {
    for (size_t i = 0; i < d->heads.n; i++) {
        if (read_headers(d, &d->heads.v[i], r, err, errlen))
            return -1;
        info->header_files++;
    }
    for (size_t i = 0; i < d->errs.n; i++) {
        if (read_errors(d, &d->errs.v[i], r, err, errlen))
            return -1;
        info->error_files++;
    }
    return 0;
}
