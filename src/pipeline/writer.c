/* writer.c - the writer thread: results in, Parquet part files out.
 *
 * Each table (headers, errors) is written to OUT_DIR/[errors/]part-NNNNN.parquet with at
 * most write_chunk_size rows per file. A part is written under a temporary name
 * (.part-NNNNN.parquet.tmp) and renamed only once its footer is written, so every
 * part-*.parquet that exists is complete, whatever happens to the process. Each table gets
 * at least one file (possibly with zero rows) so that a glob over it always matches and
 * always shows the schema. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <uv.h>

#include "parquet.h"
#include "pipeline_internal.h"
#include "table.h"

typedef struct part_out {
    char *dir;
    const pq_schema *schema;
    unsigned index;   /* next part number */
    unsigned files;   /* completed */
    FILE *f;
    pq_writer *w;
    char *tmp, *fin;
    uint64_t rows;
} part_out;

struct td_writer {
    td_writer_options o;
    uv_thread_t th;
    uv_mutex_t mu;
    uv_cond_t cv;
    td_result *qhead, *qtail;  /* handed over, not yet taken by the writer thread */
    td_result *dhead, *dtail;  /* written, not yet taken back by the loop */
    /* loop-thread only: pushed since the last flush. Handing results over one by one
     * cost a lock and a condition signal per row, which showed in profiles at 25k rows/s;
     * the loop hands over once per loop iteration instead (td_writer_flush). */
    td_result *phead, *ptail;
    bool finish, abort, exited, failed;
    char errmsg[512];
    /* writer-thread state */
    pq_schema *hs, *es;
    td_headers_cols hc;
    td_errors_cols ec;
    pq_kv *kv;
    size_t n_kv;
    char *created_by;
    part_out heads, errs;
};

static void wfail(td_writer *w, const char *fmt, const char *a, const char *b) {
    uv_mutex_lock(&w->mu);
    if (!w->failed) {
        w->failed = true;
        snprintf(w->errmsg, sizeof w->errmsg, fmt, a, b ? b : "");
    }
    uv_mutex_unlock(&w->mu);
}

static int sink_write(void *ctx, const void *buf, size_t len) {
    FILE *f = ctx;
    return fwrite(buf, 1, len, f) == len ? 0 : -1;
}

static int part_open(td_writer *w, part_out *po) {
    size_t n = strlen(po->dir) + 40;
    free(po->tmp);
    free(po->fin);
    po->tmp = malloc(n);
    po->fin = malloc(n);
    if (!po->tmp || !po->fin) {
        wfail(w, "out of memory%s%s", "", "");
        return -1;
    }
    snprintf(po->tmp, n, "%s/.part-%05u.parquet.tmp", po->dir, po->index);
    snprintf(po->fin, n, "%s/part-%05u.parquet", po->dir, po->index);
    po->f = fopen(po->tmp, "wb");
    if (!po->f) {
        wfail(w, "cannot create %s: %s", po->tmp, strerror(errno));
        return -1;
    }
    pq_sink sink = {sink_write, po->f};
    pq_options opts = PQ_OPTIONS_INIT;
    opts.codec = (pq_codec)w->o.config->compression;
    opts.zstd_level = w->o.config->zstd_level;
    if (w->o.config->row_group_size)
        opts.row_group_rows = w->o.config->row_group_size;
    opts.created_by = w->created_by;
    opts.kv = w->kv;
    opts.n_kv = w->n_kv;
    int rc = pq_writer_open(&po->w, po->schema, &sink, &opts);
    if (rc != PQ_OK) {
        wfail(w, "cannot start Parquet file %s: %s", po->tmp, pq_strerror(rc));
        fclose(po->f);
        po->f = NULL;
        unlink(po->tmp);
        return -1;
    }
    po->rows = 0;
    po->index++;
    return 0;
}

static int part_close(td_writer *w, part_out *po) {
    if (!po->w)
        return 0;
    int rc = pq_writer_close(po->w);
    po->w = NULL;
    int frc = fclose(po->f);
    po->f = NULL;
    if (rc != PQ_OK || frc != 0) {
        wfail(w, "cannot complete %s: %s", po->tmp, rc != PQ_OK ? pq_strerror(rc) : strerror(errno));
        unlink(po->tmp);
        return -1;
    }
    if (rename(po->tmp, po->fin) != 0) {
        wfail(w, "cannot rename %s: %s", po->tmp, strerror(errno));
        unlink(po->tmp);
        return -1;
    }
    po->files++;
    return 0;
}

static void part_abort(part_out *po) {
    if (!po->w)
        return;
    pq_writer_abort(po->w);
    po->w = NULL;
    fclose(po->f);
    po->f = NULL;
    unlink(po->tmp);
}

static void write_one(td_writer *w, td_result *r) {
    part_out *po = r->is_header ? &w->heads : &w->errs;
    if (!po->w && part_open(w, po) != 0)
        return;
    int rc;
    if (r->is_header) {
        td_object_facts f = {r->path, r->path_len, r->has_size ? r->size : TD_SIZE_NONE,
                             r->mtime_ms == INT64_MIN ? TD_MTIME_NONE : r->mtime_ms, r->etag,
                             r->fetched_bytes, (int32_t)r->requests};
        rc = td_table_write_header(po->w, &w->hc, &f, r->hdr);
    } else {
        td_error_facts f = {r->path, r->path_len, r->has_size ? r->size : TD_SIZE_NONE,
                            r->stage, r->kind, r->message, r->http_status,
                            r->attempts ? (int32_t)r->attempts : -1};
        rc = td_table_write_error(po->w, &w->ec, &f);
    }
    if (rc != PQ_OK) {
        char what[300];
        snprintf(what, sizeof what, "%.*s", (int)(r->path_len < 200 ? r->path_len : 200), r->path);
        wfail(w, "writing the row of %s failed: %s", what, pq_writer_errmsg(po->w));
        return;
    }
    if (++po->rows >= w->o.config->write_chunk_size)
        part_close(w, po);
}

/* Rows written between two hand-backs: small enough that few slots wait on a row-group
 * flush, large enough that the lock and the loop wake-up are paid once per batch. */
#define WRITER_RETURN_BATCH 64

static void give_back(td_writer *w, td_result *head, td_result *tail) {
    uv_mutex_lock(&w->mu);
    if (w->dtail)
        w->dtail->next = head;
    else
        w->dhead = head;
    w->dtail = tail;
    uv_mutex_unlock(&w->mu);
    w->o.wake(w->o.ud);
}

static void writer_main(void *arg) {
    td_writer *w = arg;
    uv_mutex_lock(&w->mu);
    for (;;) {
        while (!w->qhead && !w->finish)
            uv_cond_wait(&w->cv, &w->mu);
        if (!w->qhead && w->finish)
            break;
        td_result *take = w->qhead;
        w->qhead = w->qtail = NULL;
        bool skip = w->abort || w->failed;
        uv_mutex_unlock(&w->mu);
        /* Results go back in small batches as soon as their rows are in the column
         * buffers, so the slots fetch again while a row group is compressed: the flush runs
         * inside the row that fills a group, and only that row's batch (at most
         * WRITER_RETURN_BATCH slots) waits for it. */
        td_result *back = NULL, *back_tail = NULL;
        unsigned n_back = 0;
        while (take) {
            td_result *r = take;
            take = r->next;
            r->next = NULL;
            if (n_back >= WRITER_RETURN_BATCH) {
                give_back(w, back, back_tail);
                back = back_tail = NULL;
                n_back = 0;
            }
            if (!skip)
                write_one(w, r);
            if (back_tail)
                back_tail->next = r;
            else
                back = r;
            back_tail = r;
            n_back++;
        }
        if (back)
            give_back(w, back, back_tail);
        uv_mutex_lock(&w->mu);
    }
    bool abort = w->abort || w->failed;
    uv_mutex_unlock(&w->mu);
    if (abort) {
        part_abort(&w->heads);
        part_abort(&w->errs);
    } else {
        /* at least one file per table, so globs always match and carry the schema */
        if (!w->heads.w && w->heads.files == 0)
            part_open(w, &w->heads);
        if (!w->errs.w && w->errs.files == 0)
            part_open(w, &w->errs);
        part_close(w, &w->heads);
        part_close(w, &w->errs);
    }
    uv_mutex_lock(&w->mu);
    w->exited = true;
    uv_mutex_unlock(&w->mu);
    w->o.wake(w->o.ud);
}

static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

static void writer_free(td_writer *w) {
    pq_schema_free(w->hs);
    pq_schema_free(w->es);
    free(w->kv);
    free(w->created_by);
    free(w->heads.dir);
    free(w->heads.tmp);
    free(w->heads.fin);
    free(w->errs.dir);
    free(w->errs.tmp);
    free(w->errs.fin);
    uv_mutex_destroy(&w->mu);
    uv_cond_destroy(&w->cv);
    free(w);
}

int td_writer_start(td_writer **out, const td_writer_options *o, char *err, size_t errlen) {
    *out = NULL;
    td_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->o = *o;
    uv_mutex_init(&w->mu);
    uv_cond_init(&w->cv);
    int rc = td_table_headers_schema(&w->hs, &w->hc);
    if (rc == PQ_OK)
        rc = td_table_errors_schema(&w->es, &w->ec);
    if (rc != PQ_OK) {
        snprintf(err, errlen, "output schema: %s", pq_strerror(rc));
        writer_free(w);
        return -1;
    }
    size_t nt = 0;
    const pq_kv *tkv = td_table_kv(&nt);
    w->kv = calloc(nt + 3, sizeof *w->kv);
    size_t cb = strlen(o->tool_version) + 64;
    w->created_by = malloc(cb);
    w->heads.dir = strdup(o->out_dir);
    w->errs.dir = join_path(o->out_dir, "errors");
    if (!w->kv || !w->created_by || !w->heads.dir || !w->errs.dir) {
        snprintf(err, errlen, "out of memory");
        writer_free(w);
        return -1;
    }
    snprintf(w->created_by, cb, "tiff-dumper version %s", o->tool_version);
    for (size_t i = 0; i < nt; i++)
        w->kv[w->n_kv++] = tkv[i];
    w->kv[w->n_kv++] = (pq_kv){"tiff_dumper.version", o->tool_version};
    w->kv[w->n_kv++] = (pq_kv){"tiff_dumper.store_url", o->store_url};
    if (o->config->source_text)
        w->kv[w->n_kv++] = (pq_kv){"tiff_dumper.config", o->config->source_text};
    w->heads.schema = w->hs;
    w->errs.schema = w->es;
    if (uv_thread_create(&w->th, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void td_writer_push(td_writer *w, td_result *r) {
    r->next = NULL;
    if (w->ptail)
        w->ptail->next = r;
    else
        w->phead = r;
    w->ptail = r;
}

void td_writer_flush(td_writer *w) {
    if (!w->phead)
        return;
    uv_mutex_lock(&w->mu);
    if (w->qtail)
        w->qtail->next = w->phead;
    else
        w->qhead = w->phead;
    w->qtail = w->ptail;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
    w->phead = w->ptail = NULL;
}

td_result *td_writer_take_done(td_writer *w) {
    uv_mutex_lock(&w->mu);
    td_result *r = w->dhead;
    w->dhead = w->dtail = NULL;
    uv_mutex_unlock(&w->mu);
    return r;
}

void td_writer_finish(td_writer *w, bool abort) {
    td_writer_flush(w);
    uv_mutex_lock(&w->mu);
    w->finish = true;
    w->abort |= abort;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
}

bool td_writer_exited(td_writer *w) {
    uv_mutex_lock(&w->mu);
    bool e = w->exited;
    uv_mutex_unlock(&w->mu);
    return e;
}

bool td_writer_failed(td_writer *w) {
    uv_mutex_lock(&w->mu);
    bool f = w->failed;
    uv_mutex_unlock(&w->mu);
    return f;
}

int td_writer_join(td_writer *w, uint64_t *header_files, uint64_t *error_files, char *err,
                   size_t errlen) {
    uv_thread_join(&w->th);
    *header_files = w->heads.files;
    *error_files = w->errs.files;
    int rc = 0;
    if (w->failed) {
        snprintf(err, errlen, "%s", w->errmsg);
        rc = -1;
    }
    writer_free(w);
    return rc;
}

/* ------------------------------------------------------------------ output directory */

static int mkdirs(const char *path, char *err, size_t errlen) {
    char *p = strdup(path);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
        rc = -1;
    } else {
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "output %s is not a directory", p);
            rc = -1;
        }
    }
    free(p);
    return rc;
}

static bool ours(const char *name) {
    size_t n = strlen(name);
    if (strcmp(name, "_SUCCESS") == 0 || strcmp(name, "._SUCCESS.tmp") == 0)
        return true;
    if (strncmp(name, "part-", 5) == 0 && n > 13 && strcmp(name + n - 8, ".parquet") == 0)
        return true;
    if (strncmp(name, ".part-", 6) == 0 && n > 18 && strcmp(name + n - 12, ".parquet.tmp") == 0)
        return true;
    return false;
}

static int clean_dir(const char *dir, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    /* _SUCCESS first, so that an interrupted cleanup never leaves it beside partial data */
    char *succ = join_path(dir, "_SUCCESS");
    if (succ)
        unlink(succ);
    free(succ);
    while ((de = readdir(d)) != NULL) {
        if (!ours(de->d_name))
            continue;
        char *p = join_path(dir, de->d_name);
        if (!p || (unlink(p) != 0 && errno != ENOENT)) {
            snprintf(err, errlen, "cannot remove old output %s: %s", p ? p : de->d_name,
                     strerror(errno));
            rc = -1;
        }
        free(p);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

int td_output_prepare(const char *out_dir, char *err, size_t errlen) {
    char *errs = join_path(out_dir, "errors");
    if (!errs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = mkdirs(out_dir, err, errlen);
    if (rc == 0)
        rc = clean_dir(out_dir, err, errlen);
    if (rc == 0)
        rc = mkdirs(errs, err, errlen);
    if (rc == 0)
        rc = clean_dir(errs, err, errlen);
    free(errs);
    return rc;
}
