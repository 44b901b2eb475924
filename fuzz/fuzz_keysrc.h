/* fuzz_keysrc.h - what the two key-source targets (fuzz_keylist.c, fuzz_inventory.c) share:
 * bytes into an in-memory descriptor, and reading a source to its end into a transcript
 * while checking every page against keysrc.h's promises.
 *
 * The transcript is what the pipeline would see: the entries, the bad entries (a separate
 * sequence: a page does not say how the two interleave), the final status and message.
 * Each input is read twice with different page sizes and the transcripts must be equal:
 * paging is backpressure only and must never change what is read.
 */
#ifndef FUZZ_KEYSRC_H
#define FUZZ_KEYSRC_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keysrc.h"

/* A memfd holding d[0..n), positioned at 0 (no file system involved). */
static int fk_mem_fd(const uint8_t *d, size_t n) {
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t o = 0; o < n;) {
        ssize_t w = write(fd, d + o, n - o);
        if (w <= 0)
            abort();
        o += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0)
        abort();
    return fd;
}

typedef struct fk_buf {
    char *p;
    size_t len, cap;
} fk_buf;

typedef struct fk_transcript {
    fk_buf ent, bad;
} fk_transcript;

static void fk_put(fk_buf *b, const void *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void fk_fail(const char *what) {
    fprintf(stderr, "key source: %s\n", what);
    abort();
}

/* Reads ks to its end into t (and closes it). list: a key list (no size, no mtime, no
 * newline in a key). max_pages bounds the loop: every page but the last yields something. */
static void fk_drain(td_keysrc *ks, bool list, size_t max_pages, fk_transcript *tr) {
    fk_buf *t = &tr->ent;
    td_keysrc_page pg;
    size_t pages = 0;
    for (;;) {
        if (++pages > max_pages)
            fk_fail("more pages than the input has records");
        td_keysrc_next(ks, &pg);
        for (size_t i = 0; i < pg.n; i++) {
            const store_entry *e = &pg.entries[i];
            if (!e->key || e->key_len == 0 || strlen(e->key) != e->key_len)
                fk_fail("an entry's key is empty, missing or holds a NUL");
            if (list && (memchr(e->key, '\n', e->key_len) || e->size != UINT64_MAX ||
                         e->mtime_ms != INT64_MIN || e->etag))
                fk_fail("a key-list entry with a newline, a size, an mtime or an etag");
            if (e->etag && strlen(e->etag) == 0)
                fk_fail("an empty etag instead of none");
            fk_put(t, "E", 1);
            fk_put(t, e->key, e->key_len + 1);
            fk_put(t, &e->size, sizeof e->size);
            fk_put(t, &e->mtime_ms, sizeof e->mtime_ms);
            if (e->etag)
                fk_put(t, e->etag, strlen(e->etag) + 1);
        }
        for (size_t i = 0; i < pg.n_bad; i++) {
            const store_bad_entry *b = &pg.bad[i];
            if (!b->key || !b->message || !b->message[0] || b->status >= 0)
                fk_fail("a bad entry without key, message or error status");
            fk_put(&tr->bad, b->key, strlen(b->key) + 1);
            fk_put(&tr->bad, b->message, strlen(b->message) + 1);
        }
        if (pg.status > 0 || (pg.status < 0 && (!pg.errmsg[0] || !pg.done)))
            fk_fail("a failure without a message, or not the end");
        if (pg.done) {
            fk_put(t, "S", 1);
            fk_put(t, &pg.status, sizeof pg.status);
            fk_put(t, pg.errmsg, strlen(pg.errmsg) + 1);
            break;
        }
        if (pg.n + pg.n_bad == 0)
            fk_fail("an empty page before the end");
    }
    td_keysrc_close(ks);
}

static bool fk_eq(const fk_buf *a, const fk_buf *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Compares and frees both. */
static void fk_same(fk_transcript *a, fk_transcript *b) {
    if (!fk_eq(&a->ent, &b->ent) || !fk_eq(&a->bad, &b->bad))
        fk_fail("the page size changed what was read");
    free(a->ent.p);
    free(a->bad.p);
    free(b->ent.p);
    free(b->bad.p);
}

#endif
