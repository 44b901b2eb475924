/* s3_process.c - a credential_process run on the loop: libuv spawns it, reads its two pipes
 * and times it out. The handles outlive a canceled run: the job frees itself once libuv has
 * closed them all. */
#include "s3_process.h"
#include "util.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROC_MAX_ERR 4096u

void s3_proc_argv_free(char **argv) {
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

char **s3_proc_split(const char *cmd) {
    size_t cap = 8, n = 0;
    char **v = calloc(cap + 1, sizeof *v);
    ut_buf w = {0};
    bool in_word = false;
    const char *p = cmd;
    if (!v)
        return NULL;
    for (;;) {
        char c = *p;
        if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
            if (in_word) {
                ut_buf_puts(&w, "");
                if (w.bad)
                    goto bad;
                if (n == cap) {
                    char **nv = realloc(v, (2 * cap + 1) * sizeof *v);
                    if (!nv)
                        goto bad;
                    v = nv;
                    cap *= 2;
                }
                v[n++] = w.p;
                v[n] = NULL;
                memset(&w, 0, sizeof w);
                in_word = false;
            }
            if (c == '\0')
                break;
            p++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *e = strchr(p + 1, '\'');
            if (!e)
                goto bad;
            ut_buf_put(&w, p + 1, (size_t)(e - p - 1));
            p = e + 1;
        } else if (c == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                ut_buf_putc(&w, *p);
            }
            if (*p != '"')
                goto bad;
            p++;
        } else if (c == '\\' && p[1]) {
            ut_buf_putc(&w, p[1]);
            p += 2;
        } else {
            ut_buf_putc(&w, c);
            p++;
        }
        ut_buf_puts(&w, ""); /* a word may be empty ('' or ""): it still has a buffer */
        if (w.bad)
            goto bad;
    }
    if (n == 0)
        goto bad;
    return v;
bad:
    ut_buf_free(&w);
    s3_proc_argv_free(v);
    return NULL;
}

struct s3_proc {
    s3_proc_cb cb; /* NULL once canceled or called */
    void *arg;
    const char *prog;
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    ut_buf obuf, ebuf;
    int open_handles, eofs;
    bool exited, timed_out, too_big;
    int64_t exit_status;
    int term_signal;
    char chunk[16384]; /* one read buffer for both pipes: each read is consumed at once */
};

static void on_closed(uv_handle_t *h) {
    s3_proc *j = h->data;
    if (--j->open_handles == 0) {
        if (j->obuf.p)
            OPENSSL_cleanse(j->obuf.p, j->obuf.cap);
        ut_buf_free(&j->obuf);
        ut_buf_free(&j->ebuf);
        free(j);
    }
}

static void close_all(s3_proc *j) {
    uv_handle_t *hs[4] = {(uv_handle_t *)&j->proc, (uv_handle_t *)&j->out, (uv_handle_t *)&j->err,
                          (uv_handle_t *)&j->timer};
    for (int i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_closed);
}

static void finish(s3_proc *j) {
    uv_timer_stop(&j->timer);
    s3_proc_cb cb = j->cb;
    j->cb = NULL;
    if (cb) {
        char msg[400];
        /* the last line of stderr, cut short */
        char *e = j->ebuf.p ? j->ebuf.p : (char *)"";
        size_t el = strlen(e);
        while (el && (e[el - 1] == '\n' || e[el - 1] == '\r' || e[el - 1] == ' '))
            e[--el] = '\0';
        char *last = strrchr(e, '\n');
        if (last)
            e = last + 1;
        const char *prog = j->prog;
        if (j->timed_out)
            snprintf(msg, sizeof msg, "credential_process (%.*s) did not finish within %d s",
                     ut_utf8_prec(prog, 100), prog, S3_PROC_TIMEOUT_MS / 1000);
        else if (j->too_big)
            snprintf(msg, sizeof msg, "credential_process (%.*s) wrote more than %u bytes",
                     ut_utf8_prec(prog, 100), prog, S3_PROC_MAX_OUT);
        else if (j->exit_status != 0 || j->term_signal != 0)
            snprintf(msg, sizeof msg, "credential_process (%.*s) failed (exit status %lld%s)%s%.*s",
                     ut_utf8_prec(prog, 100), prog, (long long)j->exit_status,
                     j->term_signal ? ", killed by a signal" : "", *e ? ": " : "",
                     ut_utf8_prec(e, 200), e);
        else
            msg[0] = '\0';
        bool ok = msg[0] == '\0';
        cb(j->arg, ok, ok ? (j->obuf.p ? j->obuf.p : "") : NULL, ok ? j->obuf.len : 0,
           ok ? NULL : msg);
    }
    close_all(j);
}

static void maybe_done(s3_proc *j) {
    if (j->exited && j->eofs == 2)
        finish(j);
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *buf) {
    s3_proc *j = h->data;
    (void)sugg;
    buf->base = j->chunk;
    buf->len = sizeof j->chunk;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    s3_proc *j = st->data;
    bool is_out = st == (uv_stream_t *)&j->out;
    if (nread > 0) {
        ut_buf *b = is_out ? &j->obuf : &j->ebuf;
        size_t room = b->limit > b->len + 1 ? b->limit - b->len - 1 : 0; /* and the NUL */
        ut_buf_put(b, buf->base, (size_t)nread < room ? (size_t)nread : room);
        if (is_out && (size_t)nread > room && !j->too_big) {
            j->too_big = true;
            uv_process_kill(&j->proc, SIGKILL);
        }
        OPENSSL_cleanse(buf->base, (size_t)nread);
    } else if (nread < 0) {
        uv_read_stop(st);
        j->eofs++;
        maybe_done(j);
    }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    s3_proc *j = p->data;
    j->exited = true;
    j->exit_status = status;
    j->term_signal = sig;
    maybe_done(j);
}

static void on_timeout(uv_timer_t *t) {
    s3_proc *j = t->data;
    j->timed_out = true;
    uv_process_kill(&j->proc, SIGKILL);
}

s3_proc *s3_proc_start(uv_loop_t *loop, char *const *argv, s3_proc_cb cb, void *arg, char *err,
                       size_t errlen) {
    s3_proc *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->cb = cb;
    j->arg = arg;
    j->prog = argv[0];
    j->obuf.limit = S3_PROC_MAX_OUT + 1;
    j->ebuf.limit = PROC_MAX_ERR + 1;
    uv_pipe_init(loop, &j->out, 0);
    uv_pipe_init(loop, &j->err, 0);
    uv_timer_init(loop, &j->timer);
    j->out.data = j->err.data = j->timer.data = j->proc.data = j;
    j->open_handles = 4;
    uv_stdio_container_t io[3];
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&j->out;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&j->err;
    uv_process_options_t po = {0};
    po.file = argv[0]; /* looked up in PATH (execvp), as the AWS CLI's Popen does */
    po.args = (char **)argv;
    po.exit_cb = on_exit_cb;
    po.stdio = io;
    po.stdio_count = 3;
    int rc = uv_spawn(loop, &j->proc, &po);
    if (rc != 0) {
        /* a process handle is closed even after a failed spawn */
        j->cb = NULL;
        snprintf(err, errlen, "credential_process (%.*s) could not be started: %s",
                 ut_utf8_prec(argv[0], 100), argv[0], uv_strerror(rc));
        close_all(j);
        return NULL;
    }
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&j->err, on_alloc, on_read);
    uv_timer_start(&j->timer, on_timeout, S3_PROC_TIMEOUT_MS, 0);
    return j;
}

void s3_proc_cancel(s3_proc *j) {
    if (!j)
        return;
    j->cb = NULL;
    if (!j->exited)
        uv_process_kill(&j->proc, SIGKILL);
    close_all(j);
}
