/* output.c - part files and _SUCCESS (output.h). Runs on the writer thread (parts) and
 * on the loop thread after the writer has exited (_SUCCESS, td_output_prepare).
 *
 * Where a part's bytes go is a small "sink" (sink_open / sink_commit / sink_discard): a
 * local folder writes a temporary file beside the part and renames it; an object store
 * (OUT = s3://, gs://, az://) writes an unlinked temporary file in TMPDIR and uploads it
 * whole under its final key once complete (outstore.h), so no temporary name ever shows
 * in OUT. Part names and rotation are the same for both. */
#include "output.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "geo.h"
#include "outstore.h"
#include "parquet.h"
#include "shard.h"
#include "table.h"
#include "util.h"

typedef struct part_out {
    char *dir;
    const pq_schema *schema;
    unsigned index; /* next part number */
    unsigned files; /* completed */
    FILE *f;
    pq_writer *w;
    char *tmp, *fin; /* local: the temporary and final paths; store: fin is the key */
    uint64_t rows;
    int sink_errno; /* why the last write to f failed (ENOSPC, EFBIG, EIO...), 0 if none */
} part_out;

struct td_output {
    const td_output_options *opts;
    td_shard_options shard;
    bool failed;
    char errmsg[512];
    pq_schema *hs, *es;
    td_headers_cols hc;
    td_errors_cols ec;
    pq_kv *kv;
    size_t n_kv;
    char *created_by;
    char *store_url, *config_text; /* redacted copies for the metadata */
    part_out heads, errs;
    td_geo_ctx *geo;         /* PROJ objects of this (the writer's) thread */
    td_geo_summary geo_part; /* `geo` metadata of the open headers part */
    td_outstore *os;         /* OUT is an object store; NULL: a local folder */
};

/* The first failure's message is the one kept: it says what went wrong first. */
static void wfail(td_output *w, const char *fmt, const char *a, const char *b) {
    if (!w->failed) {
        w->failed = true;
        ut_msgf(w->errmsg, sizeof w->errmsg, fmt, a, b ? b : "");
    }
}

static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* The byte sink keeps errno of a failed write: "No space left on device" tells the user
 * what to do, the writer's "the byte sink failed" does not. */
static int sink_write(void *ctx, const void *buf, size_t len) {
    part_out *po = ctx;
    if (fwrite(buf, 1, len, po->f) == len)
        return 0;
    po->sink_errno = errno ? errno : EIO;
    return -1;
}

/* The reason a Parquet call failed: the file system's when the sink failed. */
static const char *pq_reason(const part_out *po, const char *pq_msg) {
    return po->sink_errno ? strerror(po->sink_errno) : pq_msg;
}

/* ---- sinks: where a part's bytes go ---- */

/* A temporary file for a part bound for an object store: in TMPDIR (or /tmp), unlinked at
 * once, so that nothing is left behind whatever happens to the process. */
static FILE *store_tmpfile(char *path, size_t n) {
    const char *d = getenv("TMPDIR");
    snprintf(path, n, "%s/td-part-XXXXXX", d && *d ? d : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        close(fd);
    return f;
}

/* Names the part (po->index) and opens its byte sink. */
static int sink_open(td_output *w, part_out *po, size_t n) {
    if (w->os) {
        const char *td = getenv("TMPDIR");
        size_t need = (td ? strlen(td) : 0) + 32;
        if (need > n) {
            char *t = realloc(po->tmp, need);
            if (!t) {
                wfail(w, "out of memory%s%s", "", "");
                return -1;
            }
            po->tmp = t;
            n = need;
        }
        /* the key under OUT: part-N.parquet, or _errors/part-N.parquet (a shard's:
         * part-S<I>-N.parquet) */
        char fn[48];
        do { /* past the kept parts of a resumed run (td_outstore_taken) */
            td_shard_part_name(fn, sizeof fn, &w->shard, po->index, false);
            snprintf(po->fin, strlen(po->dir) + 64, "%s%s%s", po->dir, po->dir[0] ? "/" : "", fn);
        } while (td_outstore_taken(w->os, po->fin) && ++po->index != 0);
        po->f = store_tmpfile(po->tmp, n);
        if (!po->f) {
            wfail(w, "cannot create a temporary file for %s: %s", po->fin, strerror(errno));
            return -1;
        }
        return 0;
    }
    /* a name that exists is a complete part of the run being resumed (resume.h): the new
     * parts are numbered after it (a fresh run emptied the folder: never loops) */
    char tn[48], fn[48];
    do {
        td_shard_part_name(tn, sizeof tn, &w->shard, po->index, true);
        td_shard_part_name(fn, sizeof fn, &w->shard, po->index, false);
        snprintf(po->tmp, n, "%s/%s", po->dir, tn);
        snprintf(po->fin, n, "%s/%s", po->dir, fn);
    } while (access(po->fin, F_OK) == 0 && ++po->index != 0);
    po->f = fopen(po->tmp, "wb");
    if (!po->f) {
        wfail(w, "cannot create %s: %s", po->tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* Drops an unfinished part: nothing of it stays. */
static void sink_discard(td_output *w, part_out *po) {
    if (po->f)
        fclose(po->f);
    po->f = NULL;
    if (!w->os)
        unlink(po->tmp);
}

static int flush_sync_close(FILE *f);

/* Publishes a complete part under its final name (the Parquet footer is written). */
static int sink_commit(td_output *w, part_out *po) {
    if (w->os) {
        /* no fsync: the bytes go to the store from this file, and a crash loses the file
         * (unlinked) and the upload together */
        errno = 0;
        int e = fflush(po->f) != 0 ? (errno ? errno : EIO) : 0;
        off_t len = e ? -1 : ftello(po->f);
        if (e || len < 0) {
            wfail(w, "cannot complete %s: %s", po->fin, strerror(e ? e : errno));
            sink_discard(w, po);
            return -1;
        }
        FILE *f = po->f;
        po->f = NULL;
        /* in the background; a failure shows at the next part or at close */
        if (td_outstore_put_file(w->os, po->fin, f, (uint64_t)len, w->opts->part_size) != 0) {
            wfail(w, "%s%s", td_outstore_errmsg(w->os), "");
            return -1;
        }
        return 0;
    }
    /* the last buffered bytes are where a full disk shows up */
    int ferr = flush_sync_close(po->f);
    po->f = NULL;
    if (ferr != 0) {
        wfail(w, "cannot complete %s: %s", po->tmp, strerror(ferr));
        unlink(po->tmp);
        return -1;
    }
    if (rename(po->tmp, po->fin) != 0) {
        wfail(w, "cannot rename %s: %s", po->tmp, strerror(errno));
        unlink(po->tmp);
        return -1;
    }
    return 0;
}

static int part_open(td_output *w, part_out *po) {
    size_t n = strlen(po->dir) + 64;
    free(po->tmp);
    free(po->fin);
    po->tmp = malloc(n);
    po->fin = malloc(n);
    if (!po->tmp || !po->fin) {
        wfail(w, "out of memory%s%s", "", "");
        return -1;
    }
    if (sink_open(w, po, n) != 0)
        return -1;
    po->sink_errno = 0;
    pq_sink sink = {sink_write, po};
    pq_options opts = PQ_OPTIONS_INIT;
    opts.codec = w->opts->codec;
    opts.zstd_level = w->opts->zstd_level;
    if (w->opts->row_group_size)
        opts.row_group_rows = w->opts->row_group_size;
    opts.created_by = w->created_by;
    opts.kv = w->kv;
    opts.n_kv = w->n_kv;
    opts.no_replay = w->opts->no_list_replay;
    int rc = pq_writer_open(&po->w, po->schema, &sink, &opts);
    if (rc != PQ_OK) {
        wfail(w, "cannot start Parquet file %s: %s", po->tmp, pq_reason(po, pq_strerror(rc)));
        sink_discard(w, po);
        return -1;
    }
    po->rows = 0;
    po->index++;
    return 0;
}

/* Flushes, syncs and closes f; 0 or the errno of the first failure. The sync is there so
 * that the rename that follows publishes data that is on disk: without it a power loss can
 * leave a complete-looking name over an empty file (rename is ordered, the data is not). */
static int flush_sync_close(FILE *f) {
    errno = 0;
    int e = fflush(f) != 0 ? (errno ? errno : EIO) : 0;
    if (!e && fsync(fileno(f)) != 0 && errno != EINVAL) /* EINVAL: a file that cannot sync */
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    return e;
}

static int part_close(td_output *w, part_out *po) {
    if (!po->w)
        return 0;
    int rc = PQ_OK;
    if (po == &w->heads) { /* GeoParquet metadata: its bbox is known only now */
        char geo[1024];
        td_table_geo_json(&w->geo_part, geo, sizeof geo);
        rc = pq_writer_set_kv(po->w, TD_GEO_KEY, geo);
        w->geo_part = (td_geo_summary)TD_GEO_SUMMARY_INIT;
    }
    if (rc == PQ_OK)
        rc = pq_writer_close(po->w);
    else
        pq_writer_abort(po->w);
    po->w = NULL;
    if (rc != PQ_OK) {
        wfail(w, "cannot complete %s: %s", w->os ? po->fin : po->tmp,
              pq_reason(po, pq_strerror(rc)));
        sink_discard(w, po);
        return -1;
    }
    if (sink_commit(w, po) != 0)
        return -1;
    po->files++;
    return 0;
}

static void part_abort(td_output *w, part_out *po) {
    if (!po->w)
        return;
    pq_writer_abort(po->w);
    po->w = NULL;
    sink_discard(w, po);
}

/* The row's georeferencing (td_geo's results as the table's values); NULL when none. */
static const td_geo_facts *geo_facts(td_output *w, const tiff_header *h, td_geo *g,
                                     td_geo_facts *f) {
    td_geo_compute(w->geo, h, g);
    if (!g->has_transform && !g->warning)
        return NULL;
    *f = (td_geo_facts){g->wkb,
                        g->wkb_len,
                        g->multi,
                        g->wkb ? g->bbox : NULL,
                        g->proj_code,
                        g->has_transform ? g->shape : NULL,
                        g->has_transform ? g->transform : NULL,
                        g->has_transform ? g->proj_bbox : NULL,
                        g->wkt2,
                        g->projjson,
                        g->warning};
    td_geo_summary_add(&w->geo_part, f);
    return f;
}

int td_output_write(td_output *w, const td_result *r) {
    part_out *po = r->is_header ? &w->heads : &w->errs;
    if (!po->w && part_open(w, po) != 0)
        return -1;
    int rc;
    if (!r->is_header) {
        /* an error row shows what a store or a key list said: no secret in it (a message
         * may quote a URL with a password or a signature; a key-list line naming another
         * store is its path) */
        char msg[1024], path[2048];
        ut_redact_to(msg, sizeof msg, r->message ? r->message : "");
        const char *pth = r->path;
        size_t pl = r->path_len;
        if (pl < sizeof path) {
            memcpy(path, r->path, pl);
            path[pl] = 0;
            /* only a URL form: an object key stays byte for byte what was listed */
            if (!memchr(path, 0, pl) && strstr(path, "://")) {
                ut_redact_to(path, sizeof path, path);
                pth = path;
                pl = strlen(path);
            }
        }
        td_error_facts f = {pth,
                            pl,
                            r->has_size ? r->size : TD_SIZE_NONE,
                            r->stage,
                            r->kind,
                            msg,
                            r->http_status,
                            r->attempts ? (int32_t)r->attempts : -1};
        rc = td_table_write_error(po->w, &w->ec, &f);
    } else {
        td_object_facts f = {r->path,
                             r->path_len,
                             r->has_size ? r->size : TD_SIZE_NONE,
                             r->mtime_ms == INT64_MIN ? TD_MTIME_NONE : r->mtime_ms,
                             r->etag,
                             r->fetched_bytes,
                             (int32_t)r->requests,
                             NULL};
        td_geo g;
        td_geo_facts gf;
        f.geo = w->geo ? geo_facts(w, r->hdr, &g, &gf) : NULL;
        rc = td_table_write_header(po->w, &w->hc, &f, r->hdr);
    }
    if (rc != PQ_OK) {
        char what[300];
        snprintf(what, sizeof what, "%.*s", (int)ut_utf8_cut(r->path, r->path_len, 200), r->path);
        wfail(w, "writing the row of %s failed: %s", what, pq_reason(po, pq_writer_errmsg(po->w)));
        return -1;
    }
    if (++po->rows >= w->opts->rows_per_file)
        return part_close(w, po);
    return 0;
}

static void output_free_fields(td_output *w) {
    td_geo_ctx_free(w->geo);
    pq_schema_free(w->hs);
    pq_schema_free(w->es);
    free(w->kv);
    free(w->created_by);
    free(w->store_url);
    free(w->config_text);
    free(w->heads.dir);
    free(w->heads.tmp);
    free(w->heads.fin);
    free(w->errs.dir);
    free(w->errs.tmp);
    free(w->errs.fin);
}

void td_output_free(td_output *w) {
    if (!w)
        return;
    output_free_fields(w);
    free(w);
}

int td_output_open(td_output **out, const td_output_target *t, char *err, size_t errlen) {
    *out = NULL;
    td_output *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->opts = t->opts;
    w->shard = t->shard;
    w->geo_part = (td_geo_summary)TD_GEO_SUMMARY_INIT;
    /* output.footprints: false -- no PROJ context, so no proj.db start-up either */
    if (t->opts->footprints && td_geo_ctx_new(&w->geo, err, errlen) != 0) {
        td_output_free(w);
        return -1;
    }
    int rc = td_table_headers_schema(&w->hs, &w->hc);
    if (rc == PQ_OK)
        rc = td_table_errors_schema(&w->es, &w->ec);
    if (rc != PQ_OK) {
        snprintf(err, errlen, "output schema: %s", pq_strerror(rc));
        td_output_free(w);
        return -1;
    }
    size_t nt = 0;
    const pq_kv *tkv = td_table_kv(&nt);
    w->kv = calloc(nt + 3, sizeof *w->kv);
    size_t cb = strlen(t->tool_version) + 64;
    w->created_by = malloc(cb);
    w->os = t->store;
    /* a store's keys are relative to OUT: "" and "_errors" */
    w->heads.dir = strdup(w->os ? "" : t->out_dir);
    w->errs.dir =
        w->os ? strdup(TD_OUTPUT_ERRORS_DIR) : join_path(t->out_dir, TD_OUTPUT_ERRORS_DIR);
    if (!w->kv || !w->created_by || !w->heads.dir || !w->errs.dir) {
        snprintf(err, errlen, "out of memory");
        td_output_free(w);
        return -1;
    }
    snprintf(w->created_by, cb, "tiff-dumper version %s", t->tool_version);
    for (size_t i = 0; i < nt; i++)
        w->kv[w->n_kv++] = tkv[i];
    w->kv[w->n_kv++] = (pq_kv){"tiff_dumper.version", t->tool_version};
    /* the one redaction again, whoever built these (the caller masks the config too) */
    w->store_url = ut_redact_dup(t->store_url ? t->store_url : "");
    w->config_text = t->opts->config_text ? ut_redact_dup(t->opts->config_text) : NULL;
    if (!w->store_url || (t->opts->config_text && !w->config_text)) {
        snprintf(err, errlen, "out of memory");
        td_output_free(w);
        return -1;
    }
    w->kv[w->n_kv++] = (pq_kv){"tiff_dumper.store_url", w->store_url};
    if (w->config_text)
        w->kv[w->n_kv++] = (pq_kv){"tiff_dumper.config", w->config_text};
    w->heads.schema = w->hs;
    w->errs.schema = w->es;
    *out = w;
    return 0;
}

int td_output_close(td_output *w, bool abort) {
    if (abort || w->failed) {
        part_abort(w, &w->heads);
        part_abort(w, &w->errs);
    } else {
        /* at least one file per table, so globs always match and carry the schema */
        if (!w->heads.w && w->heads.files == 0)
            part_open(w, &w->heads);
        if (!w->errs.w && w->errs.files == 0)
            part_open(w, &w->errs);
        part_close(w, &w->heads);
        part_close(w, &w->errs);
    }
    /* every upload ended (canceled when the run failed): a part the store refused fails the
     * run here, with the store's message naming the object */
    if (w->os && td_outstore_wait(w->os, abort || w->failed) != 0 && !abort)
        wfail(w, "%s%s", td_outstore_errmsg(w->os), "");
    return w->failed ? -1 : 0;
}

const char *td_output_errmsg(const td_output *w) { return w->errmsg; }

void td_output_files(const td_output *w, uint64_t *header_files, uint64_t *error_files) {
    *header_files = w->heads.files;
    *error_files = w->errs.files;
}

static void json_str(FILE *f, const char *s);

/* A field of _SUCCESS that may hold a URL or the config: redacted first. */
static void json_str_redacted(FILE *f, const char *s) {
    char *r = ut_redact_dup(s ? s : "");
    json_str(f, r ? r : "");
    free(r);
}

static void json_str(FILE *f, const char *s) {
    ut_buf b = {0};
    ut_json_escape(&b, s ? s : "", s ? strlen(s) : 0);
    fputs(b.bad ? "null" : ut_buf_str(&b), f);
    ut_buf_free(&b);
}

static void success_json(FILE *f, const td_output_summary *sm) {
    const td_stats *s = sm->stats;
    fprintf(f, "{\"tool\":\"tiff-dumper\",\"version\":");
    json_str(f, sm->tool_version);
    fprintf(f, ",\"schema_version\":%d,\"store\":", TD_SCHEMA_VERSION);
    json_str_redacted(f, sm->store_url);
    if (sm->keys_from || sm->inventory) {
        fprintf(f, sm->keys_from ? ",\"keys_from\":" : ",\"inventory\":");
        json_str_redacted(f, sm->keys_from ? sm->keys_from : sm->inventory);
    }
    fprintf(f, ",\"prefixes\":[");
    for (size_t i = 0; i < sm->n_prefixes; i++) {
        if (i)
            fputc(',', f);
        json_str_redacted(f, sm->prefixes[i]);
    }
    fputc(']', f);
    if (sm->shard && sm->shard->count)
        fprintf(f, ",\"shard\":%" PRIu32 ",\"shards\":%" PRIu32, sm->shard->index,
                sm->shard->count);
    fprintf(
        f,
        ",\"listed\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"dumped\":%" PRIu64 ",\"failed\":%" PRIu64
        ",\"bytes_fetched\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"header_files\":%" PRIu64
        ",\"error_files\":%" PRIu64 ",\"elapsed_seconds\":%.3f,\"headers_per_second\":%.1f",
        s->listed, s->skipped, s->dumped, s->failed, s->bytes_fetched, s->requests, s->header_files,
        s->error_files, s->elapsed_s, s->elapsed_s > 0 ? (double)s->dumped / s->elapsed_s : 0.0);
    /* when (for `report`): now, and now less the elapsed time, RFC 3339 UTC */
    time_t now = time(NULL), start = now - (time_t)(s->elapsed_s + 0.5);
    char t0[32], t1[32];
    struct tm tm;
    strftime(t0, sizeof t0, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&start, &tm));
    strftime(t1, sizeof t1, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    fprintf(f, ",\"started\":\"%s\",\"finished\":\"%s\"", t0, t1);
    if (s->networked)
        fprintf(f, ",\"retries\":%" PRIu64 ",\"throttled\":%" PRIu64 ",\"lowest_concurrency\":%u",
                s->retries, s->throttled, s->lowest_concurrency);
    if (sm->store) {
        fprintf(f, ",\"output\":");
        json_str_redacted(f, td_outstore_url(sm->store));
        fprintf(f, ",\"output_requests\":%" PRIu64, td_outstore_requests(sm->store));
    }
    fprintf(f, ",\"config\":");
    json_str_redacted(f, sm->config_text ? sm->config_text : "");
    fprintf(f, "}\n");
}

/* OUT on an object store: the JSON is built in memory (a few KiB) and put whole; only
 * then does _SUCCESS exist. */
static int success_store(const td_output_summary *sm, char *err, size_t errlen) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return TD_PIPE_E_NOMEM;
    }
    success_json(f, sm);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return TD_PIPE_E_NOMEM;
    }
    char name[48];
    td_shard_marker_name(name, sizeof name, sm->shard);
    int rc = td_outstore_put_buf(sm->store, name, buf, len, err, errlen);
    free(buf);
    return rc == 0 ? TD_PIPE_OK : TD_PIPE_E_OUTPUT;
}

int td_output_success(const char *out_dir, const td_output_summary *sm, char *err, size_t errlen) {
    if (sm->store)
        return success_store(sm, err, errlen);
    size_t n = strlen(out_dir) + 64;
    char *tmp = malloc(n), *fin = malloc(n), name[48];
    if (!tmp || !fin) {
        free(tmp);
        free(fin);
        snprintf(err, errlen, "out of memory");
        return TD_PIPE_E_NOMEM;
    }
    td_shard_marker_name(name, sizeof name, sm->shard);
    snprintf(tmp, n, "%s/.%s.tmp", out_dir, name);
    snprintf(fin, n, "%s/%s", out_dir, name);
    FILE *f = fopen(tmp, "w");
    int rc = TD_PIPE_OK;
    if (!f) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        rc = TD_PIPE_E_OUTPUT;
        goto out;
    }
    success_json(f, sm);
    int ferr = flush_sync_close(f);
    if (ferr != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(ferr));
        unlink(tmp);
        rc = TD_PIPE_E_OUTPUT;
    } else if (rename(tmp, fin) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", fin, strerror(errno));
        unlink(tmp);
        rc = TD_PIPE_E_OUTPUT;
    }
out:
    free(tmp);
    free(fin);
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
            snprintf(err, errlen,
                     "output %s exists and is not a folder: give OUT_DIR a folder's name "
                     "(created when missing)",
                     p);
            rc = -1;
        }
    }
    free(p);
    return rc;
}

static int clean_dir(const char *dir, const td_shard_options *shard, char *err, size_t errlen) {
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
        if (!td_shard_replaces(shard, de->d_name))
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

/* An older version wrote the errors table to OUT_DIR/errors/. Left there, a dataset reader
 * of OUT_DIR (pyarrow.dataset, pandas, Spark: every folder not named _* or .*) would mix it
 * into the headers and fail on the other schema, so it is removed as an output of a previous
 * run: our file names only, then the folder if that emptied it (a user's files keep it). */
static int clean_legacy_errors(const char *out_dir, const td_shard_options *shard, char *err,
                               size_t errlen) {
    char *old = join_path(out_dir, "errors");
    if (!old) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct stat st;
    int rc = 0;
    if (lstat(old, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = clean_dir(old, shard, err, errlen);
        if (rc == 0)
            (void)rmdir(old); /* fails (ENOTEMPTY) when other files are in it: kept */
    }
    free(old);
    return rc;
}

int td_output_prepare(const char *out_dir, const td_shard_options *shard, char *err,
                      size_t errlen) {
    char *errs = join_path(out_dir, TD_OUTPUT_ERRORS_DIR);
    if (!errs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = mkdirs(out_dir, err, errlen);
    if (rc == 0)
        rc = clean_dir(out_dir, shard, err, errlen);
    if (rc == 0)
        rc = clean_legacy_errors(out_dir, shard, err, errlen);
    if (rc == 0)
        rc = mkdirs(errs, err, errlen);
    if (rc == 0)
        rc = clean_dir(errs, shard, err, errlen);
    free(errs);
    return rc;
}

/* ------------------------------------------------------------------ OUT on a store */

/* A key under OUT this run replaces: the tool's part files of both tables (a shard: only
 * its own, and its own marker; td_shard_replaces, as for a folder). _SUCCESS is deleted
 * first on its own. A store has no temporary names to clean. */
static bool ours_store(const char *key, const void *ctx) {
    const td_shard_options *shard = ctx;
    const char *name = key;
    size_t el = strlen(TD_OUTPUT_ERRORS_DIR);
    if (strncmp(key, TD_OUTPUT_ERRORS_DIR, el) == 0 && key[el] == '/')
        name = key + el + 1;
    if (strchr(name, '/'))
        return false;
    size_t n = strlen(name);
    bool part = strncmp(name, "part-", 5) == 0 && n > 13 && strcmp(name + n - 8, ".parquet") == 0;
    if (name == key && strncmp(name, "_SUCCESS.shard-", 15) == 0)
        return td_shard_replaces(shard, name);
    return part && td_shard_replaces(shard, name);
}

int td_output_prepare_store(td_outstore *os, const td_shard_options *shard, char *err,
                            size_t errlen) {
    /* _SUCCESS first: from then on OUT does not claim to be complete. Then every old part
     * (both tables) goes, before any new one is written: OUT never mixes the rows of two
     * runs (a reader, or a later --resume, would take old rows for new ones). */
    static const char *const prefixes[] = {"part-", TD_OUTPUT_ERRORS_DIR "/part-",
                                           "_SUCCESS.shard-"};
    return td_outstore_clean(os, "_SUCCESS", prefixes, 3, ours_store, shard, err, errlen);
}
