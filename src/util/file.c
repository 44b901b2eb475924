/* file.c - the one bounded file read and the positioned read of a whole range (see util.h). */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ut_read_file(const char *path, size_t cap, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    /* read one byte more than cap: that is how an oversized file shows */
    char *buf = cap < SIZE_MAX ? malloc(cap + 1) : NULL;
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    bool failed = buf && ferror(f);
    fclose(f);
    if (!buf || failed || n > cap) {
        if (err && errlen)
            snprintf(err, errlen,
                     !buf     ? "out of memory reading %s"
                     : failed ? "cannot read %s"
                              : "%s is too large",
                     path);
        free(buf);
        errno = !buf ? ENOMEM : failed ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

int ut_fd_read_at(void *fd, uint64_t off, size_t len, void *buf) {
    char *p = buf;
    while (len) {
        ssize_t k = pread(*(int *)fd, p, len, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            if (k == 0)
                errno = EIO; /* the file is shorter than it said */
            return -1;
        }
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}
