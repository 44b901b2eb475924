/* store_local.c - the local file system as an object store (file:// URLs and plain paths).
 *
 * Keys are paths relative to the root with '/' separators; a prefix is a key prefix (as in
 * object stores), not necessarily a directory. Blocking file system calls run on libuv's
 * thread pool (uv_queue_work); callbacks run on the loop thread. A listing keeps only a
 * stack of open directories (one per level of the current path), so memory does not grow
 * with the size of the tree. Symbolic links are followed; a link back to a directory of the
 * current chain is reported as a bad entry (STORE_E_LOOP) and not descended.
 *
 * Writes (store_put) go to a temporary name beside the key, fsync, rename: see put_work.
 *
 * This is the one store file that may use POSIX directory APIs (openat, fdopendir...). */
/* realpath() is XSI in glibc's feature macros. */
#define _XOPEN_SOURCE 700
#include "store_impl.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define LOCAL_MAX_DEPTH 256 /* deeper directories are reported, not descended */
#define LOCAL_MAX_KEY 4096  /* keys (relative paths) longer than this are reported */

typedef struct local_store {
    struct store base;
    char *root;         /* absolute, no trailing '/' (except "/" itself -> "") */
    unsigned in_flight; /* queued work items not yet completed */
    bool closing;
} local_store;

static int errno_to_store(int e) {
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return STORE_E_NOT_FOUND;
    case EACCES:
    case EPERM:
        return STORE_E_ACCESS;
    case ELOOP:
        return STORE_E_LOOP;
    case ENOMEM:
        return STORE_E_NOMEM;
    default:
        return STORE_E_IO;
    }
}

static void errtext(int e, char *buf, size_t len) {
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "errno %d", e);
}

static void free_store(local_store *ls) {
    free(ls->root);
    free(ls->base.url);
    free(ls);
}

static void maybe_free(local_store *ls) {
    if (ls->closing && ls->in_flight == 0)
        free_store(ls);
}

/* ------------------------------------------------------------------ listing */

typedef struct dir_frame {
    DIR *d;
    dev_t dev;
    ino_t ino;
    size_t key_len; /* length of the key prefix of this directory's entries ("a/b/") */
} dir_frame;

typedef struct page_item {
    size_t key_off, key_len;
    size_t msg_off; /* bad entries only */
    uint64_t size;
    int64_t mtime_ms;
    int status; /* 0 = entry, < 0 = bad entry, 1 = common prefix (delimiter listings) */
} page_item;

typedef struct list_cursor {
    uv_work_t work;
    local_store *ls;
    store_list_req *req;
    bool started, done;
    int status;
    char errmsg[256];
    /* walk state */
    dir_frame stack[LOCAL_MAX_DEPTH];
    size_t depth;
    dev_t root_dev;
    ino_t root_ino;
    char key[LOCAL_MAX_KEY + 2];
    char *filter; /* name prefix at the starting level */
    size_t filter_len;
    /* delimiter "/": one directory, its subdirectories given as common prefixes. The
     * directories above it (from the root) stand in for the walk's stack in the symbolic
     * link loop check, as each level is listed by its own request */
    bool delimited;
    struct {
        dev_t dev;
        ino_t ino;
    } * anc;
    size_t n_anc;
    /* the page being built */
    page_item *items;
    size_t n_items, items_cap;
    char *arena;
    size_t arena_len, arena_cap;
    store_entry *entries;
    store_bad_entry *bad;
    const char **prefixes;
} list_cursor;

static bool arena_put(list_cursor *c, const char *s, size_t n, size_t *off) {
    if (c->arena_len + n + 1 > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap : 4096;
        while (cap < c->arena_len + n + 1)
            cap *= 2;
        char *a = realloc(c->arena, cap);
        if (!a)
            return false;
        c->arena = a;
        c->arena_cap = cap;
    }
    memcpy(c->arena + c->arena_len, s, n);
    c->arena[c->arena_len + n] = '\0';
    *off = c->arena_len;
    c->arena_len += n + 1;
    return true;
}

static bool page_add(list_cursor *c, const char *key, size_t key_len, int status, const char *msg,
                     uint64_t size, int64_t mtime_ms) {
    if (c->n_items == c->items_cap) {
        size_t cap = c->items_cap ? c->items_cap * 2 : 64;
        page_item *it = realloc(c->items, cap * sizeof *it);
        if (!it)
            return false;
        c->items = it;
        c->items_cap = cap;
    }
    page_item *it = &c->items[c->n_items];
    memset(it, 0, sizeof *it);
    if (!arena_put(c, key, key_len, &it->key_off))
        return false;
    if (status < 0 && !arena_put(c, msg, strlen(msg), &it->msg_off))
        return false;
    it->key_len = key_len;
    it->status = status;
    it->size = size;
    it->mtime_ms = mtime_ms;
    c->n_items++;
    return true;
}

static bool page_bad(list_cursor *c, const char *key, size_t key_len, int status, const char *what,
                     int e) {
    char msg[512], et[128] = "";
    if (e)
        errtext(e, et, sizeof et);
    store__fail(msg, sizeof msg, 0, "'%s/%.*s': %s%s%s", c->ls->root, (int)key_len, key, what,
                e ? ": " : "", et);
    return page_add(c, key, key_len, status, msg, 0, 0);
}

static int64_t mtime_ms_of(const struct stat *st) {
#if defined(__APPLE__)
    return (int64_t)st->st_mtimespec.tv_sec * 1000 + st->st_mtimespec.tv_nsec / 1000000;
#else
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
#endif
}

static void close_frames(list_cursor *c) {
    while (c->depth > 0)
        closedir(c->stack[--c->depth].d);
}

/* Opens root/key[0..key_len) relative to the parent frame (or the root). */
static DIR *open_dir_at(list_cursor *c, int parent_fd, const char *name, int *err) {
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        *err = errno;
        close(fd);
    }
    return d;
}

static bool key_is_safe(const char *key);

static void list_start(list_cursor *c) {
    const char *prefix = c->req->prefix ? c->req->prefix : "";
    while (*prefix == '/')
        prefix++;
    const char *slash = strrchr(prefix, '/');
    size_t dir_len = slash ? (size_t)(slash - prefix) + 1 : 0;
    if (!key_is_safe(prefix)) {
        c->status = STORE_E_CONFIG;
        store__fail(c->errmsg, sizeof c->errmsg, 0, "prefix '%.*s' leaves the store root",
                    ut_utf8_prec(prefix, 200), prefix);
        c->done = true;
        return;
    }
    if (dir_len > LOCAL_MAX_KEY) {
        c->status = STORE_E_CONFIG;
        snprintf(c->errmsg, sizeof c->errmsg, "prefix longer than %d bytes", LOCAL_MAX_KEY);
        c->done = true;
        return;
    }
    c->filter = strdup(slash ? slash + 1 : prefix);
    if (!c->filter) {
        c->status = STORE_E_NOMEM;
        c->done = true;
        return;
    }
    c->filter_len = strlen(c->filter);
    memcpy(c->key, prefix, dir_len);
    c->key[dir_len] = '\0';

    char *path = malloc(strlen(c->ls->root) + dir_len + 3);
    if (!path) {
        c->status = STORE_E_NOMEM;
        c->done = true;
        return;
    }
    sprintf(path, "%s/%s", c->ls->root, c->key);
    int e = 0;
    DIR *d = open_dir_at(c, AT_FDCWD, path, &e);
    free(path);
    if (!d) {
        c->done = true;
        if (e == ENOENT || e == ENOTDIR)
            return; /* as in object stores: a prefix matching nothing is an empty listing */
        c->status = errno_to_store(e);
        char et[128];
        errtext(e, et, sizeof et);
        store__fail(c->errmsg, sizeof c->errmsg, 0, "cannot list '%.*s/%.*s': %.*s",
                    ut_utf8_prec(c->ls->root, 120), c->ls->root, ut_utf8_prec(c->key, 80), c->key,
                    ut_utf8_prec(et, 40), et);
        return;
    }
    if (c->delimited && dir_len > 0) {
        /* the directories from the root down to the listed one (exclusive) */
        size_t n = 0;
        for (size_t i = 0; i < dir_len; i++)
            n += c->key[i] == '/';
        c->anc = calloc(n, sizeof *c->anc);
        char *ap = malloc(strlen(c->ls->root) + dir_len + 2);
        if (!c->anc || !ap) {
            free(ap);
            closedir(d);
            c->status = STORE_E_NOMEM;
            c->done = true;
            return;
        }
        for (size_t i = 0; i + 1 < dir_len; i++) {
            if (c->key[i] != '/')
                continue;
            sprintf(ap, "%s/%.*s", c->ls->root, (int)i, c->key);
            struct stat ast;
            if (stat(ap, &ast) == 0) {
                c->anc[c->n_anc].dev = ast.st_dev;
                c->anc[c->n_anc].ino = ast.st_ino;
                c->n_anc++;
            }
        }
        free(ap);
    }
    struct stat st;
    if (fstat(dirfd(d), &st) == 0) {
        c->stack[0].dev = st.st_dev;
        c->stack[0].ino = st.st_ino;
    }
    c->stack[0].d = d;
    c->stack[0].key_len = dir_len;
    c->depth = 1;
}

static bool in_chain(const list_cursor *c, dev_t dev, ino_t ino) {
    if (dev == c->root_dev && ino == c->root_ino)
        return true;
    for (size_t i = 0; i < c->n_anc; i++)
        if (c->anc[i].dev == dev && c->anc[i].ino == ino)
            return true;
    for (size_t i = 0; i < c->depth; i++)
        if (c->stack[i].dev == dev && c->stack[i].ino == ino)
            return true;
    return false;
}

/* Fills one page. Runs on the thread pool; only this work item touches the cursor. */
static void list_work(uv_work_t *w) {
    list_cursor *c = w->data;
    size_t page = c->req->page_size ? c->req->page_size : 1000;
    c->n_items = 0;
    c->arena_len = 0;
    c->status = 0;
    c->errmsg[0] = '\0';
    if (!c->started) {
        c->started = true;
        list_start(c);
    }
    while (!c->done && c->n_items < page) {
        if (c->depth == 0) {
            c->done = true;
            break;
        }
        dir_frame *top = &c->stack[c->depth - 1];
        errno = 0;
        struct dirent *de = readdir(top->d);
        if (!de) {
            int e = errno;
            if (e && !page_bad(c, c->key, top->key_len, errno_to_store(e), "reading directory", e))
                goto nomem;
            closedir(top->d);
            c->depth--;
            continue;
        }
        const char *name = de->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        if (c->depth == 1 && c->filter_len && strncmp(name, c->filter, c->filter_len) != 0)
            continue;
        size_t nlen = strlen(name);
        if (top->key_len + nlen > LOCAL_MAX_KEY) {
            if (!page_add(c, c->key, top->key_len, STORE_E_UNSUPPORTED,
                          "entry skipped: key longer than 4096 bytes", 0, 0))
                goto nomem;
            continue;
        }
        memcpy(c->key + top->key_len, name, nlen + 1);
        size_t klen = top->key_len + nlen;
        struct stat st;
        if (fstatat(dirfd(top->d), name, &st, 0) != 0) {
            int e = errno;
            struct stat lst;
            if (e == ENOENT && fstatat(dirfd(top->d), name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(lst.st_mode)) {
                if (!page_bad(c, c->key, klen, STORE_E_NOT_FOUND, "dangling symbolic link", 0))
                    goto nomem;
            } else if (e == ENOENT) {
                continue; /* removed since readdir: it is simply not there any more */
            } else if (!page_bad(c, c->key, klen, errno_to_store(e),
                                 e == ELOOP ? "symbolic link loop" : "cannot stat", e)) {
                goto nomem;
            }
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            c->key[klen] = '/';
            c->key[klen + 1] = '\0';
            if (in_chain(c, st.st_dev, st.st_ino)) {
                if (!page_bad(c, c->key, klen + 1, STORE_E_LOOP,
                              "symbolic link loop: points back to a directory being listed", 0))
                    goto nomem;
                continue;
            }
            if (c->depth + c->n_anc >= LOCAL_MAX_DEPTH) {
                if (!page_bad(c, c->key, klen + 1, STORE_E_UNSUPPORTED,
                              "directory nested too deeply, not listed", 0))
                    goto nomem;
                continue;
            }
            if (c->delimited) { /* one level: the directory is a common prefix */
                if (!page_add(c, c->key, klen + 1, 1, NULL, 0, 0))
                    goto nomem;
                continue;
            }
            int e = 0;
            DIR *d = open_dir_at(c, dirfd(top->d), name, &e);
            if (!d) {
                if (!page_bad(c, c->key, klen + 1, errno_to_store(e), "cannot open directory", e))
                    goto nomem;
                continue;
            }
            dir_frame *f = &c->stack[c->depth++];
            f->d = d;
            f->dev = st.st_dev;
            f->ino = st.st_ino;
            f->key_len = klen + 1;
        } else if (S_ISREG(st.st_mode)) {
            if (!page_add(c, c->key, klen, 0, NULL, (uint64_t)st.st_size, mtime_ms_of(&st)))
                goto nomem;
        } else {
            if (!page_bad(c, c->key, klen, STORE_E_UNSUPPORTED,
                          "not a regular file (fifo, socket or device)", 0))
                goto nomem;
        }
    }
    return;
nomem:
    c->status = STORE_E_NOMEM;
    snprintf(c->errmsg, sizeof c->errmsg, "out of memory while listing");
    close_frames(c);
    c->done = true;
}

static void cursor_free(list_cursor *c) {
    close_frames(c);
    free(c->filter);
    free(c->anc);
    free(c->prefixes);
    free(c->items);
    free(c->arena);
    free(c->entries);
    free(c->bad);
    free(c);
}

static void list_after(uv_work_t *w, int uvstatus) {
    list_cursor *c = w->data;
    local_store *ls = c->ls;
    store_list_req *req = c->req;
    ls->in_flight--;
    size_t n = 0, n_bad = 0, n_cp = 0;
    for (size_t i = 0; i < c->n_items; i++)
        *(c->items[i].status < 0 ? &n_bad : c->items[i].status > 0 ? &n_cp : &n) += 1;
    free(c->entries);
    free(c->bad);
    free(c->prefixes);
    c->entries = n ? malloc(n * sizeof *c->entries) : NULL;
    c->bad = n_bad ? malloc(n_bad * sizeof *c->bad) : NULL;
    c->prefixes = n_cp ? malloc(n_cp * sizeof *c->prefixes) : NULL;
    int status = c->status;
    if ((n && !c->entries) || (n_bad && !c->bad) || (n_cp && !c->prefixes)) {
        status = STORE_E_NOMEM;
        n = n_bad = n_cp = 0;
        c->done = true;
    } else {
        size_t a = 0, b = 0, p = 0;
        for (size_t i = 0; i < c->n_items; i++) {
            const page_item *it = &c->items[i];
            if (it->status > 0) {
                c->prefixes[p++] = c->arena + it->key_off;
            } else if (it->status < 0) {
                c->bad[b].key = c->arena + it->key_off;
                c->bad[b].status = it->status;
                c->bad[b].message = c->arena + it->msg_off;
                c->bad[b].attempts = 0;
                b++;
            } else {
                c->entries[a].key = c->arena + it->key_off;
                c->entries[a].key_len = it->key_len;
                c->entries[a].size = it->size;
                c->entries[a].mtime_ms = it->mtime_ms;
                c->entries[a].etag = NULL;
                a++;
            }
        }
    }
    if (ls->closing || uvstatus == UV_ECANCELED) {
        status = STORE_E_CANCELED;
        n = n_bad = n_cp = 0;
        c->done = true;
        snprintf(c->errmsg, sizeof c->errmsg, "listing canceled");
    }
    if (status < 0)
        snprintf(req->errmsg, sizeof req->errmsg, "%s",
                 c->errmsg[0] ? c->errmsg : store_strerror(status));
    bool done = c->done;
    if (done)
        req->priv = NULL; /* detached: the callback may free req; the cursor is ours */
    req->common_prefixes = c->prefixes;
    req->n_common_prefixes = n_cp;
    req->cb(req, status, c->entries, n, c->bad, n_bad, done);
    if (done)
        cursor_free(c);
    maybe_free(ls);
}

static int local_list_next(store *s, store_list_req *req) {
    local_store *ls = (local_store *)s;
    if (ls->closing)
        return STORE_E_CANCELED;
    if (!req->cb)
        return STORE_E_CONFIG;
    list_cursor *c = req->priv;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return STORE_E_NOMEM;
        c->ls = ls;
        c->req = req;
        c->delimited = req->delimiter && req->delimiter[0];
        struct stat st;
        if (stat(ls->root[0] ? ls->root : "/", &st) == 0) {
            c->root_dev = st.st_dev;
            c->root_ino = st.st_ino;
        }
        req->priv = c;
    }
    req->errmsg[0] = '\0';
    c->work.data = c;
    int rc = uv_queue_work(s->loop, &c->work, list_work, list_after);
    if (rc != 0) {
        req->priv = NULL;
        cursor_free(c);
        snprintf(req->errmsg, sizeof req->errmsg, "uv_queue_work: %s", uv_strerror(rc));
        return STORE_E_IO;
    }
    ls->in_flight++;
    return STORE_OK;
}

static void local_list_free(store *s, store_list_req *req) {
    (void)s;
    list_cursor *c = req->priv;
    req->priv = NULL;
    if (c)
        cursor_free(c);
}

/* Hands a get, put or delete op to the thread pool: its callback is owed from here on
 * (the in-flight count and the request's priv say so). On failure the op is freed and the
 * reason is in errmsg (256 bytes). */
static int queue_op(local_store *ls, void *op, uv_work_t *work, void **priv, char *errmsg,
                    uv_work_cb fn, uv_after_work_cb after) {
    work->data = op;
    int rc = uv_queue_work(ls->base.loop, work, fn, after);
    if (rc != 0) {
        free(op);
        snprintf(errmsg, 256, "uv_queue_work: %s", uv_strerror(rc));
        return STORE_E_IO;
    }
    *priv = op;
    ls->in_flight++;
    return STORE_OK;
}

/* ------------------------------------------------------------------ ranged reads */

typedef struct get_op {
    uv_work_t work;
    local_store *ls;
    store_get_req *req;
    int status;
} get_op;

static bool key_is_safe(const char *key) {
    if (key[0] == '/')
        return false;
    for (const char *p = key; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

static void get_work(uv_work_t *w) {
    get_op *op = w->data;
    store_get_req *req = op->req;
    const char *root = op->ls->root;
    size_t plen = strlen(root) + strlen(req->key) + 2;
    char *path = malloc(plen);
    char et[128];
    if (!path) {
        op->status = STORE_E_NOMEM;
        return;
    }
    snprintf(path, plen, "%s/%s", root, req->key);
    /* O_NONBLOCK: opening a FIFO must not hang a pool thread. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errtext(e, et, sizeof et);
        op->status = errno_to_store(e);
        snprintf(req->errmsg, sizeof req->errmsg, "cannot open '%s': %s", path, et);
        free(path);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        op->status = STORE_E_UNSUPPORTED;
        snprintf(req->errmsg, sizeof req->errmsg, "'%s' is not a regular file", path);
        goto out;
    }
    req->object_size = (uint64_t)st.st_size;
    uint64_t want = req->length;
    if (req->offset >= req->object_size)
        want = 0;
    else if (want > req->object_size - req->offset)
        want = req->object_size - req->offset;
    while (req->got < want) {
        ssize_t r = pread(fd, req->buf + req->got, (size_t)(want - req->got),
                          (off_t)(req->offset + req->got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            errtext(e, et, sizeof et);
            op->status = errno_to_store(e) == STORE_E_NOT_FOUND ? STORE_E_IO : errno_to_store(e);
            snprintf(req->errmsg, sizeof req->errmsg, "reading '%s' at %llu: %s", path,
                     (unsigned long long)(req->offset + req->got), et);
            goto out;
        }
        if (r == 0)
            break; /* shrank since fstat */
        req->got += (uint64_t)r;
    }
out:
    close(fd);
    free(path);
}

static void get_after(uv_work_t *w, int uvstatus) {
    get_op *op = w->data;
    local_store *ls = op->ls;
    store_get_req *req = op->req;
    int status = op->status;
    ls->in_flight--;
    free(op);
    req->priv = NULL;
    if (ls->closing || uvstatus == UV_ECANCELED) {
        status = STORE_E_CANCELED;
        snprintf(req->errmsg, sizeof req->errmsg, "read of '%s' canceled", req->key);
    }
    req->cb(req, status);
    maybe_free(ls);
}

static int local_get(store *s, store_get_req *req) {
    local_store *ls = (local_store *)s;
    req->got = 0;
    req->object_size = UINT64_MAX;
    req->http_status = 0;
    req->attempts = 1;
    req->errmsg[0] = '\0';
    if (ls->closing)
        return STORE_E_CANCELED;
    if (!req->cb || !req->key || (req->length && !req->buf))
        return STORE_E_CONFIG;
    if (!key_is_safe(req->key)) {
        snprintf(req->errmsg, sizeof req->errmsg, "key '%s' leaves the store root", req->key);
        return STORE_E_ACCESS;
    }
    get_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    op->ls = ls;
    op->req = req;
    return queue_op(ls, op, &op->work, &req->priv, req->errmsg, get_work, get_after);
}

/* ------------------------------------------------------------------ writes */

/* A put writes "." NAME ".td-tmp." PID "." N beside the target, fsyncs it, then renames
 * it onto the key (or links it, for create_only: link() fails on an existing name where
 * rename() would replace it), and fsyncs the directory so the new name survives a crash.
 * A failure or a cancel unlinks the temporary file. */
typedef struct put_op {
    uv_work_t work;
    local_store *ls;
    store_put_req *req;
    int status;
    unsigned long seq;
    atomic_bool canceled; /* set on the loop thread, read by the pool thread */
} put_op;

#define LOCAL_COPY_CHUNK (1u << 20)

/* mkdir -p of the directories of root/key (key is safe: no "..", not absolute). */
static int make_parents(const char *root, const char *key, char *errmsg, size_t errlen) {
    size_t rl = strlen(root), kl = strlen(key);
    char *p = malloc(rl + kl + 2);
    if (!p)
        return STORE_E_NOMEM;
    snprintf(p, rl + kl + 2, "%s/%s", root, key);
    int rc = 0;
    for (char *q = p + rl + 1; (q = strchr(q, '/')) != NULL; q++) {
        *q = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            char et[128];
            errtext(e, et, sizeof et);
            rc = errno_to_store(e) == STORE_E_NOT_FOUND ? STORE_E_IO : errno_to_store(e);
            store__fail(errmsg, errlen, 0, "cannot create directory '%.*s': %s", 150, p, et);
            break;
        }
        *q = '/';
    }
    free(p);
    return rc;
}

static int write_all(put_op *op, int fd, char *errmsg, size_t errlen) {
    store_put_req *req = op->req;
    uint8_t *chunk = NULL;
    if (!req->buf && req->length) {
        chunk = malloc(req->length < LOCAL_COPY_CHUNK ? (size_t)req->length : LOCAL_COPY_CHUNK);
        if (!chunk)
            return STORE_E_NOMEM;
    }
    uint64_t done = 0;
    int rc = 0;
    char et[128];
    while (done < req->length) {
        if (atomic_load(&op->canceled)) {
            rc = STORE_E_CANCELED;
            store__fail(errmsg, errlen, 0, "put of '%.*s' canceled", 150, req->key);
            break;
        }
        uint64_t left = req->length - done;
        size_t n = left < LOCAL_COPY_CHUNK ? (size_t)left : LOCAL_COPY_CHUNK;
        const uint8_t *src = req->buf ? req->buf + done : chunk;
        if (!req->buf) {
            ssize_t r = pread(req->fd, chunk, n, (off_t)(req->fd_offset + done));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                errtext(r < 0 ? errno : EIO, et, sizeof et);
                rc = STORE_E_IO;
                store__fail(errmsg, errlen, 0, "reading the source of '%.*s' at %llu: %s", 100,
                            req->key, (unsigned long long)(req->fd_offset + done),
                            r < 0 ? et : "end of file before length");
                break;
            }
            n = (size_t)r;
        }
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, src + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int e = errno;
                errtext(e, et, sizeof et);
                rc = e == ENOSPC ? STORE_E_IO : errno_to_store(e);
                store__fail(errmsg, errlen, 0, "writing '%.*s': %s", 150, req->key, et);
                break;
            }
            off += (size_t)w;
        }
        if (rc)
            break;
        done += n;
    }
    free(chunk);
    return rc;
}

static void put_work(uv_work_t *w) {
    put_op *op = w->data;
    store_put_req *req = op->req;
    const char *root = op->ls->root;
    char *em = req->errmsg;
    size_t eml = sizeof req->errmsg;
    char et[128];
    int rc = make_parents(root, req->key, em, eml);
    if (rc) {
        op->status = rc;
        return;
    }
    size_t plen = strlen(root) + strlen(req->key) + 2;
    size_t tlen = plen + 64;
    char *path = malloc(plen), *tmp = malloc(tlen);
    if (!path || !tmp) {
        free(path);
        free(tmp);
        op->status = STORE_E_NOMEM;
        return;
    }
    snprintf(path, plen, "%s/%s", root, req->key);
    char *slash = strrchr(path, '/');
    size_t dl = (size_t)(slash - path);
    snprintf(tmp, tlen, "%.*s/.%s.td-tmp.%ld.%lu", (int)dl, path, slash + 1, (long)getpid(),
             op->seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        errtext(e, et, sizeof et);
        op->status = errno_to_store(e) == STORE_E_NOT_FOUND ? STORE_E_IO : errno_to_store(e);
        store__fail(em, eml, 0, "cannot create '%.*s': %s", 150, tmp, et);
        goto out;
    }
    rc = write_all(op, fd, em, eml);
    if (!rc && fsync(fd) != 0) {
        errtext(errno, et, sizeof et);
        rc = STORE_E_IO;
        store__fail(em, eml, 0, "fsync of '%.*s': %s", 150, tmp, et);
    }
    if (close(fd) != 0 && !rc) {
        errtext(errno, et, sizeof et);
        rc = STORE_E_IO;
        store__fail(em, eml, 0, "closing '%.*s': %s", 150, tmp, et);
    }
    if (!rc && atomic_load(&op->canceled)) {
        rc = STORE_E_CANCELED;
        store__fail(em, eml, 0, "put of '%.*s' canceled", 150, req->key);
    }
    if (!rc) {
        int r = req->create_only ? link(tmp, path) : rename(tmp, path);
        if (r != 0) {
            int e = errno;
            errtext(e, et, sizeof et);
            rc = e == EEXIST ? STORE_E_EXISTS : STORE_E_IO;
            store__fail(em, eml, 0, "%s '%.*s': %s",
                        req->create_only ? "creating" : "renaming onto", 150, path, et);
        }
    }
    if (rc || req->create_only)
        unlink(tmp); /* after link() the temporary name is a second name: drop it */
    if (!rc) {
        /* the new directory entry itself must survive a crash */
        *slash = '\0';
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
        if (dfd < 0 || fsync(dfd) != 0) {
            errtext(errno, et, sizeof et);
            rc = STORE_E_IO;
            store__fail(em, eml, 0, "fsync of the directory of '%.*s': %s", 150, path, et);
        }
        if (dfd >= 0)
            close(dfd);
    }
    op->status = rc;
out:
    free(path);
    free(tmp);
}

static void put_after(uv_work_t *w, int uvstatus) {
    put_op *op = w->data;
    local_store *ls = op->ls;
    store_put_req *req = op->req;
    int status = op->status;
    ls->in_flight--;
    free(op);
    req->priv = NULL;
    if (uvstatus == UV_ECANCELED || (ls->closing && status == STORE_OK)) {
        status = STORE_E_CANCELED;
        snprintf(req->errmsg, sizeof req->errmsg, "put of '%.*s' canceled", 150, req->key);
    }
    req->cb(req, status);
    maybe_free(ls);
}

static int local_put(store *s, store_put_req *req) {
    static unsigned long seq;
    local_store *ls = (local_store *)s;
    req->attempts = 1;
    if (ls->closing)
        return STORE_E_CANCELED;
    if (!key_is_safe(req->key) || req->key[strlen(req->key) - 1] == '/') {
        snprintf(req->errmsg, sizeof req->errmsg, "key '%.*s' is not a file under the store root",
                 150, req->key);
        return STORE_E_ACCESS;
    }
    put_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    op->ls = ls;
    op->req = req;
    op->seq = ++seq;
    atomic_init(&op->canceled, false);
    return queue_op(ls, op, &op->work, &req->priv, req->errmsg, put_work, put_after);
}

static void local_put_cancel(store *s, store_put_req *req) {
    (void)s;
    put_op *op = req->priv;
    atomic_store(&op->canceled, true);
    uv_cancel((uv_req_t *)&op->work); /* not started yet: put_after gets UV_ECANCELED */
}

typedef struct del_op {
    uv_work_t work;
    local_store *ls;
    store_delete_req *req;
    int status;
} del_op;

static void del_work(uv_work_t *w) {
    del_op *op = w->data;
    store_delete_req *req = op->req;
    size_t plen = strlen(op->ls->root) + strlen(req->key) + 2;
    char *path = malloc(plen);
    if (!path) {
        op->status = STORE_E_NOMEM;
        return;
    }
    snprintf(path, plen, "%s/%s", op->ls->root, req->key);
    if (unlink(path) != 0 && errno != ENOENT) {
        int e = errno;
        char et[128];
        errtext(e, et, sizeof et);
        op->status = errno_to_store(e);
        store__fail(req->errmsg, sizeof req->errmsg, 0, "cannot delete '%.*s': %s", 150, path, et);
    }
    free(path);
}

static void del_after(uv_work_t *w, int uvstatus) {
    del_op *op = w->data;
    local_store *ls = op->ls;
    store_delete_req *req = op->req;
    int status = uvstatus == UV_ECANCELED ? STORE_E_CANCELED : op->status;
    ls->in_flight--;
    free(op);
    req->priv = NULL;
    req->cb(req, status);
    maybe_free(ls);
}

static int local_delete(store *s, store_delete_req *req) {
    local_store *ls = (local_store *)s;
    req->attempts = 1;
    if (ls->closing)
        return STORE_E_CANCELED;
    if (!key_is_safe(req->key)) {
        snprintf(req->errmsg, sizeof req->errmsg, "key '%.*s' leaves the store root", 150,
                 req->key);
        return STORE_E_ACCESS;
    }
    del_op *op = calloc(1, sizeof *op);
    if (!op)
        return STORE_E_NOMEM;
    op->ls = ls;
    op->req = req;
    return queue_op(ls, op, &op->work, &req->priv, req->errmsg, del_work, del_after);
}

/* ------------------------------------------------------------------ open / close */

static void local_close(store *s) {
    local_store *ls = (local_store *)s;
    ls->closing = true;
    maybe_free(ls);
}

static const store_vtable local_vtable = {local_close, local_list_next,  local_list_free, local_get,
                                          local_put,   local_put_cancel, local_delete,    true};

int store_local_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                     char *err, size_t errlen) {
    *out = NULL;
    if (opts && opts->n_kv > 0)
        return store__fail(err, errlen, STORE_E_CONFIG,
                           "option '%s' is not supported by the local store (it takes none)",
                           opts->kv[0].key);
    char *path;
    if (strncmp(url, "file://", 7) == 0) {
        const char *p = url + 7;
        if (strncmp(p, "localhost/", 10) == 0)
            p += 9;
        if (*p != '/')
            return store__fail(err, errlen, STORE_E_CONFIG,
                               "file URL '%s' must be absolute: file:///path", url);
        /* decoding never grows the text: its length is the cap */
        ut_buf dec = {.limit = strlen(p) + 1};
        ut_pct_decode(&dec, p, strlen(p), UT_PCT_LENIENT);
        path = ut_buf_take(&dec);
        if (!path)
            return STORE_E_NOMEM;
    } else {
        path = strdup(url);
        if (!path)
            return STORE_E_NOMEM;
    }
    char *real = realpath(path, NULL);
    if (!real) {
        int e = errno;
        char et[128];
        errtext(e, et, sizeof et);
        int code = errno_to_store(e);
        /* The two usual slips, said where they are seen: a URL that lost a slash is read as
         * a folder name, and a relative folder is the process's, not the config file's. */
        char hint[PATH_MAX + 128] = "";
        size_t sl = strspn(path, "abcdefghijklmnopqrstuvwxyz0123456789+.-");
        char cwd[PATH_MAX];
        if (e == ENOENT && sl > 0 && path[sl] == ':' && path[sl + 1] == '/' && path[sl + 2] != '/')
            snprintf(hint, sizeof hint, " (a URL has two slashes after the scheme: %.*s://%s?)",
                     (int)sl, path, path + sl + 2);
        else if (e == ENOENT && path[0] != '/' && getcwd(cwd, sizeof cwd))
            snprintf(hint, sizeof hint,
                     " (a relative path is taken from the current directory, %s, not from the "
                     "config file's)",
                     cwd);
        store__fail(err, errlen, code, "local store '%s': %s%s", path, et, hint);
        free(path);
        return code;
    }
    free(path);
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        store__fail(err, errlen, STORE_E_CONFIG, "local store '%s' is not a directory", real);
        free(real);
        return STORE_E_CONFIG;
    }
    local_store *ls = calloc(1, sizeof *ls);
    char *disp = malloc(strlen(real) + 8);
    if (!ls || !disp) {
        free(ls);
        free(disp);
        free(real);
        return STORE_E_NOMEM;
    }
    if (strcmp(real, "/") == 0)
        real[0] = '\0';
    sprintf(disp, "file://%s", real[0] ? real : "/");
    ls->root = real;
    ls->base.vt = &local_vtable;
    ls->base.loop = loop;
    ls->base.url = disp;
    *out = &ls->base;
    return STORE_OK;
}
