/* corpus_util.c - listing and reading the shared TIFF corpus for the test programs. */
#include "corpus_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void push(corpus_list *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    l->v[l->n] = strdup(s);
    if (!l->v[l->n])
        abort();
    l->n++;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_tiff_ext(const char *name) {
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".tif") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".tiff") == 0);
}

static void list_below(const char *root, const char *rel, corpus_list *out) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char r[4096], full[8192];
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(de->d_name, "licenses") != 0)
                list_below(root, r, out);
        } else if (S_ISREG(st.st_mode) && has_tiff_ext(de->d_name)) {
            push(out, r);
        }
    }
    closedir(d);
}

void corpus_list_tiffs(const char *root, corpus_list *out) {
    list_below(root, "", out);
    /* readdir order is the file system's: sorted, the runs are reproducible */
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
}

void corpus_list_free(corpus_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

uint8_t *corpus_read(const char *root, const char *rel, size_t *n) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (len == cap)
            b = realloc(b, cap *= 2);
        if (!b)
            abort();
        size_t k = fread(b + len, 1, cap - len, f);
        if (k == 0)
            break;
        len += k;
    }
    fclose(f);
    *n = len;
    return b;
}
