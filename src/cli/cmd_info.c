/* cmd_info.c - `tiff-dumper info [--json] [-o KEY=VALUE]... FILE|URL...`.
 * Reads each file the way the pipeline reads an object (one 16 KiB prefetch from 0, then the
 * parser's needs() rounds) and prints the header: JSON Lines with --json, an aligned text form
 * otherwise. Local paths are read with pread; URLs (s3://, gs://, az://, http(s)://, file://)
 * go through the same store backends as `headers`, one request at a time on a private loop. */
#include "cmd_info.h"

#include "store.h"
#include "tiff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define INFO_PREFETCH 16384u
#define INFO_MAX_ROUNDS 100000

static const char usage_text[] =
    "usage: tiff-dumper info [--json] [-o KEY=VALUE]... FILE|URL...\n"
    "\n"
    "Parse the TIFF / BigTIFF / GeoTIFF header of each local FILE or store URL (first IFD,\n"
    "IFD chain, GeoKeys) the way `tiff-dumper headers` does: one 16 KiB read from offset 0,\n"
    "then only the ranges the parser asks for. URLs: s3://BUCKET/KEY, gs://BUCKET/KEY,\n"
    "az://CONTAINER/KEY, http(s)://HOST/PATH, file:///PATH; credentials come from the\n"
    "usual environment variables (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*).\n"
    "\n"
    "  --json             one JSON object per file (JSON Lines): {\"path\":..., fields...}\n"
    "                     or {\"path\":..., \"error\":KIND, \"message\":...}\n"
    "  -o, --option K=V   a store option, as under store.obstore_config in the config\n"
    "                     (e.g. -o skip_signature=true -o region=eu-central-1)\n"
    "  -h, --help         this text\n"
    "\n"
    "Without --json: file facts, the named fields present, GeoKeys, other tags, warnings.\n"
    "Exit status: 0 all files parsed, 1 some failed, 2 usage error.\n";

typedef struct {
    unsigned char **bufs;
    size_t n, cap;
} bufset;

static void bufs_free(bufset *b) {
    for (size_t i = 0; i < b->n; i++) free(b->bufs[i]);
    b->n = 0;
}

static unsigned char *bufs_new(bufset *b, size_t len) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8;
        unsigned char **nb = realloc(b->bufs, nc * sizeof *nb);
        if (!nb) return NULL;
        b->bufs = nb;
        b->cap = nc;
    }
    unsigned char *p = malloc(len ? len : 1);
    if (p) b->bufs[b->n++] = p;
    return p;
}

/* Read [off, off+len) fully; returns bytes read (short at end of file) or -1. */
static long long read_at(int fd, unsigned char *buf, size_t len, off_t off) {
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Parse one file. Returns TIFF_OK or a negative tiff code; io errors: *io_err set. */
static int parse_file(tiff_parser *p, const char *path, bufset *bufs, char *io_err,
                      size_t io_len) {
    io_err[0] = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(io_err, io_len, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(io_err, io_len, "not a regular file");
        close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    tiff_parser_reset(p, size);
    size_t first = size < INFO_PREFETCH ? (size_t)size : INFO_PREFETCH;
    unsigned char *b = bufs_new(bufs, first);
    long long r = b ? read_at(fd, b, first, 0) : -1;
    int rc;
    if (r < 0 || (rc = tiff_parser_feed(p, 0, b, (size_t)r)) != TIFF_OK) {
        snprintf(io_err, io_len, "read failed: %s", r < 0 ? strerror(errno) : "feed");
        close(fd);
        return -1;
    }
    int rounds = 0;
    while ((rc = tiff_parser_run(p)) == TIFF_NEED && rounds++ < INFO_MAX_ROUNDS) {
        const tiff_range *need;
        size_t k = tiff_parser_needs(p, &need);
        for (size_t i = 0; i < k; i++) {
            uint64_t off = need[i].offset, len = need[i].length;
            if (off >= size) continue;
            if (len > size - off) len = size - off;
            unsigned char *nb = bufs_new(bufs, (size_t)len);
            long long got = nb ? read_at(fd, nb, (size_t)len, (off_t)off) : -1;
            if (got < 0) {
                snprintf(io_err, io_len, "read failed at %llu: %s", (unsigned long long)off,
                         strerror(errno));
                close(fd);
                return -1;
            }
            if (got > 0 && tiff_parser_feed(p, off, nb, (size_t)got) != TIFF_OK) {
                snprintf(io_err, io_len, "file changed while reading");
                close(fd);
                return -1;
            }
        }
    }
    close(fd);
    return rc;
}

/* ---- store URLs ---------------------------------------------------------------------- */

typedef struct {
    int done, status;
} get_wait;

static void get_cb(store_get_req *req, int status) {
    get_wait *w = req->data;
    w->done = 1;
    w->status = status;
}

/* One ranged read, waited for on the private loop. */
static int store_read(uv_loop_t *loop, store *st, store_get_req *g, const char *key,
                      uint64_t off, uint8_t *buf, uint64_t len) {
    get_wait w = {0, 0};
    memset(g, 0, sizeof *g);
    g->key = key;
    g->offset = off;
    g->length = len;
    g->buf = buf;
    g->cb = get_cb;
    g->data = &w;
    int rc = store_get(st, g);
    if (rc != 0)
        return rc;
    while (!w.done && uv_run(loop, UV_RUN_ONCE)) {
    }
    return w.done ? w.status : STORE_E_CANCELED;
}

/* A URL names a store (everything up to the last '/') and a key (the rest). */
static int is_url(const char *s) {
    const char *c = strstr(s, "://");
    if (!c || c == s) return 0;
    for (const char *q = s; q < c; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              *q == '+' || *q == '-' || *q == '.'))
            return 0;
    return 1;
}

static int hexdig(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "a%20b" -> "a b" (path decoding: '+' stays); NULL if out of memory or an encoded NUL. */
static char *pct_decode(const char *s) {
    size_t n = strlen(s), j = 0;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n && s[i] == '%' ? hexdig(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexdig(s[i + 2]) : -1;
        if (lo >= 0 && (hi | lo)) {
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (lo >= 0) {
            free(out);
            return NULL;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return out;
}

static int parse_url(tiff_parser *p, const char *url, const store_options *opts, bufset *bufs,
                     char *io_err, size_t io_len, const char **kind) {
    io_err[0] = 0;
    const char *host = strstr(url, "://") + 3;
    const char *slash = strrchr(host, '/');
    if (!slash || !slash[1]) {
        snprintf(io_err, io_len, "'%s' names no object: expected SCHEME://BUCKET/KEY", url);
        *kind = "config";
        return -1;
    }
    char *root = strndup(url, (size_t)(slash - url));
    const char *key = slash + 1;
    /* an http(s) URL's path is percent-encoded (as a browser shows it); stores take the key
     * itself and encode it for their requests */
    char *key_dec = NULL;
    if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) {
        key_dec = pct_decode(key);
        if (key_dec) key = key_dec;
    }
    uv_loop_t loop;
    if (!root || uv_loop_init(&loop) != 0) {
        free(root);
        snprintf(io_err, io_len, "out of memory");
        *kind = "nomem";
        return -1;
    }
    store *st = NULL;
    char err[512];
    int rc = store_open(&st, &loop, root, opts, err, sizeof err);
    free(root);
    if (rc != 0) {
        snprintf(io_err, io_len, "%s", err);
        *kind = store_err_name(rc);
    } else {
        /* Store failures (srv) and parse results (rc) use different code spaces. */
        store_get_req g;
        int srv = 0;
        tiff_parser_reset(p, TIFF_SIZE_UNKNOWN);
        unsigned char *b = bufs_new(bufs, INFO_PREFETCH);
        srv = b ? store_read(&loop, st, &g, key, 0, b, INFO_PREFETCH) : STORE_E_NOMEM;
        if (srv == 0) {
            if (g.object_size != UINT64_MAX)
                tiff_parser_set_size(p, g.object_size);
            else if (g.got < INFO_PREFETCH)
                tiff_parser_set_size(p, g.got); /* a short read is the end of the object */
            if (g.got) tiff_parser_feed(p, 0, b, (size_t)g.got);
            int rounds = 0;
            while (srv == 0 && (rc = tiff_parser_run(p)) == TIFF_NEED &&
                   rounds++ < INFO_MAX_ROUNDS) {
                const tiff_range *need;
                size_t k = tiff_parser_needs(p, &need);
                for (size_t i = 0; i < k && srv == 0; i++) {
                    unsigned char *nb = bufs_new(bufs, (size_t)need[i].length);
                    srv = nb ? store_read(&loop, st, &g, key, need[i].offset, nb,
                                          need[i].length)
                             : STORE_E_NOMEM;
                    if (srv == 0 && g.got)
                        tiff_parser_feed(p, need[i].offset, nb, (size_t)g.got);
                }
            }
        }
        if (srv != 0) {
            snprintf(io_err, io_len, "%s", g.errmsg[0] ? g.errmsg : store_strerror(srv));
            *kind = store_err_name(srv);
        }
        store_close(st);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* let closing handles finish */
    uv_loop_close(&loop);
    free(key_dec);
    return io_err[0] ? -1 : rc;
}

static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
        else if (*c == '\n') fputs("\\n", out);
        else if (*c == '\t') fputs("\\t", out);
        else if (*c < 0x20) fprintf(out, "\\u%04x", *c);
        else fputc(*c, out);
    }
    fputc('"', out);
}

/* Printable form of a string value: control characters escaped, long text cut. */
static void text_str(FILE *out, const char *s, size_t n) {
    size_t shown = n > 200 ? 200 : n;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", out);
        else if (c < 0x20) fprintf(out, "\\x%02x", c);
        else fputc(c, out);
    }
    if (shown < n) fprintf(out, "... (%zu bytes)", n);
}

static void text_value(FILE *out, const tiff_value *v, tiff_kind kind) {
    switch (kind) {
    case TIFF_K_INT:
    case TIFF_K_COUNT:
        fprintf(out, "%lld", (long long)v->u.i);
        break;
    case TIFF_K_DOUBLE:
        fprintf(out, "%.17g", v->u.d);
        break;
    case TIFF_K_INT_LIST:
        for (uint64_t i = 0; i < v->count && i < 32; i++)
            fprintf(out, "%s%lld", i ? ", " : "", (long long)v->u.ints[i]);
        if (v->count > 32) fprintf(out, ", ... (%llu values)", (unsigned long long)v->count);
        break;
    case TIFF_K_DOUBLE_LIST:
        for (uint64_t i = 0; i < v->count && i < 32; i++)
            fprintf(out, "%s%.17g", i ? ", " : "", v->u.dbls[i]);
        if (v->count > 32) fprintf(out, ", ... (%llu values)", (unsigned long long)v->count);
        break;
    case TIFF_K_STRING:
        text_str(out, v->u.str, (size_t)v->count);
        break;
    case TIFF_K_BINARY:
        for (uint64_t i = 0; i < v->count && i < 24; i++) fprintf(out, "%02x", v->u.bytes[i]);
        fprintf(out, "%s (%llu bytes)", v->count > 24 ? "..." : "", (unsigned long long)v->count);
        break;
    }
}

static void print_text(FILE *out, const char *path, const tiff_header *h) {
    fprintf(out, "%s\n", path);
    fprintf(out, "  %-28s %s\n", "byte_order",
            h->little_endian ? "II (little-endian)" : "MM (big-endian)");
    fprintf(out, "  %-28s %s\n", "bigtiff", h->bigtiff ? "yes" : "no");
    fprintf(out, "  %-28s %llu\n", "first_ifd_offset", (unsigned long long)h->first_ifd_offset);
    fprintf(out, "  %-28s %u\n", "ifd_count", h->ifd_count);
    if (h->ifd_chain_error) fprintf(out, "  %-28s %s\n", "ifd_chain_error", h->ifd_chain_error);
    fprintf(out, "  %-28s %llu\n", "header_bytes", (unsigned long long)h->header_bytes);
    for (int f = 0; f < TIFF_FIELD_COUNT; f++) {
        if (!h->field[f].present) continue;
        fprintf(out, "  %-28s ", tiff_field_infos[f].name);
        text_value(out, &h->field[f], tiff_field_infos[f].kind);
        fputc('\n', out);
    }
    if (h->has_geokeys) {
        fprintf(out, "  geokeys (version %u, revision %u.%u, %u keys)\n", h->geokeys_header[0],
                h->geokeys_header[1], h->geokeys_header[2], h->geokeys_header[3]);
        for (int g = 0; g < TIFF_GEOKEY_COUNT; g++) {
            if (!h->geokey[g].present) continue;
            fprintf(out, "    %-26s ", tiff_geokey_infos[g].name);
            text_value(out, &h->geokey[g], tiff_geokey_infos[g].kind);
            fputc('\n', out);
        }
        for (size_t i = 0; i < h->n_geokeys_other; i++)
            fprintf(out, "    %-26u %s\n", h->geokeys_other[i].id, h->geokeys_other[i].json);
    }
    if (h->n_other_tags) {
        fprintf(out, "  other tags\n");
        for (size_t i = 0; i < h->n_other_tags; i++) {
            const tiff_extra *x = &h->other_tags[i];
            fprintf(out, "    %-26u ", x->id);
            text_str(out, x->json, x->json_len);
            fputc('\n', out);
        }
    }
    if (h->n_warnings) {
        fprintf(out, "  warnings\n");
        for (size_t i = 0; i < h->n_warnings; i++) fprintf(out, "    %s\n", h->warnings[i]);
    }
}

/* "KEY=VALUE" into kv (pointers into arg, which is modified). */
static int split_kv(char *arg, store_kv *kv) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return -1;
    *eq = '\0';
    kv->key = arg;
    kv->value = eq + 1;
    return 0;
}

int td_cmd_info(int argc, char **argv) {
    int json = 0, nfiles = 0;
    /* argv entries only; at most argc of each */
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    store_kv *kvs = calloc((size_t)argc + 1, sizeof *kvs);
    size_t n_kv = 0;
    if (!files || !kvs) {
        free(files);
        free(kvs);
        fprintf(stderr, "tiff-dumper info: out of memory\n");
        return 1;
    }
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (++i < argc) files[nfiles++] = argv[i];
            break;
        }
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            free(files);
            free(kvs);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--option") || !strncmp(a, "--option=", 9)) {
            char *v = a[1] == 'o' ? (i + 1 < argc ? argv[++i] : NULL)
                      : a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || split_kv(v, &kvs[n_kv]) != 0) {
                fprintf(stderr, "tiff-dumper info: %s needs KEY=VALUE, e.g. -o skip_signature=true\n\n%s",
                        a, usage_text);
                bad = 1;
            } else {
                n_kv++;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tiff-dumper info: unknown option '%s'\n\n%s", a, usage_text);
            bad = 1;
        } else {
            files[nfiles++] = a;
        }
    }
    if (!bad && nfiles == 0) {
        fprintf(stderr, "tiff-dumper info: no FILE given\n\n%s", usage_text);
        bad = 1;
    }
    tiff_parser *p = bad ? NULL : tiff_parser_new(NULL);
    if (!p) {
        if (!bad) fprintf(stderr, "tiff-dumper info: out of memory\n");
        free(files);
        free(kvs);
        return bad ? 2 : 1;
    }
    store_options opts = STORE_OPTIONS_INIT;
    opts.kv = kvs;
    opts.n_kv = n_kv;
    opts.max_in_flight = 4;
    bufset bufs = {0};
    char *jbuf = NULL;
    size_t jlen = 0, jcap = 0;
    int failed = 0, printed = 0;
    for (int k = 0; k < nfiles; k++) {
        const char *path = files[k];
        char io_err[512];
        const char *io_kind = "io";
        int rc = is_url(path) ? parse_url(p, path, &opts, &bufs, io_err, sizeof io_err, &io_kind)
                              : parse_file(p, path, &bufs, io_err, sizeof io_err);
        const tiff_header *h = rc == TIFF_OK ? tiff_parser_header(p) : NULL;
        const char *kind = io_err[0] ? io_kind : tiff_err_name(rc);
        const char *msg = io_err[0] ? io_err : tiff_parser_errmsg(p);
        if (rc == TIFF_NEED) { /* only when the round cap was hit */
            kind = "limit";
            msg = "too many request rounds";
        }
        if (json) {
            fputs("{\"path\":", stdout);
            json_str(stdout, path);
            if (h) {
                jlen = 0;
                if (tiff_header_to_json(h, &jbuf, &jlen, &jcap) == TIFF_OK && jlen > 2) {
                    fputc(',', stdout);
                    fwrite(jbuf + 1, 1, jlen - 1, stdout); /* the object without its '{' */
                } else {
                    h = NULL;
                    kind = "nomem";
                    msg = "out of memory";
                }
            }
            if (!h) {
                fputs(",\"error\":", stdout);
                json_str(stdout, kind);
                fputs(",\"message\":", stdout);
                json_str(stdout, msg);
                fputc('}', stdout);
            }
            fputc('\n', stdout);
        } else {
            if (printed++) fputc('\n', stdout);
            if (h) print_text(stdout, path, h);
            else fprintf(stdout, "%s\n  error: %s: %s\n", path, kind, msg);
        }
        if (!h) failed = 1;
        bufs_free(&bufs);
    }
    fflush(stdout);
    free(jbuf);
    free(bufs.bufs);
    free(files);
    free(kvs);
    tiff_parser_free(p);
    return failed ? 1 : 0;
}
