/* fuzz_inventory.c - libFuzzer target for the S3 Inventory reader (store.inventory,
 * keysrc.c): the manifest.json and its CSV (or CSV.gz) data files.
 *
 * Input layout, so that seeds stay readable and mutations reach every part:
 *     store URL line ("s3://bucket/prefix", a local folder, or empty)
 *     manifest.json bytes
 *     "\n====\n" data file 1 bytes
 *     "\n====\n" data file 2 bytes ...
 * The manifest's files[] are opened in order through td_keysrc_open_inventory_fd's callback:
 * the i-th file opened gets the i-th data part (cycling; no part: ENOENT). Read twice, one
 * record per page and a page size from the input; the transcripts must agree and every page
 * keep keysrc.h's promises (fuzz_keysrc.h).
 */
#define _GNU_SOURCE /* memfd_create, memmem */
#include "fuzz_keysrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 16

typedef struct parts {
    const uint8_t *p[MAX_PARTS];
    size_t n[MAX_PARTS];
    size_t count, next;
} parts;

static int open_data(void *ctx, const char *key) {
    parts *d = ctx;
    if (!key || !key[0])
        fk_fail("open_data without a key");
    if (d->count == 0) {
        errno = ENOENT;
        return -1;
    }
    size_t i = d->next++ % d->count;
    return fk_mem_fd(d->p[i], d->n[i]);
}

static void read_inventory(const char *url, const uint8_t *man, size_t man_len, parts *d,
                           size_t page_size, size_t size, fk_transcript *t) {
    td_keysrc_options o = {NULL, 0, url[0] ? url : NULL, page_size};
    td_keysrc *ks;
    char err[512];
    d->next = 0;
    int rc = td_keysrc_open_inventory_fd(&ks, fk_mem_fd(man, man_len), "manifest.json", open_data,
                                         d, &o, err, sizeof err);
    if (rc != 0) {
        if (rc >= 0 || !err[0] || ks)
            fk_fail("open failed without a status, a message, or left a source");
        fk_put(&t->ent, "O", 1);
        fk_put(&t->ent, err, strlen(err) + 1);
        return;
    }
    /* records per data part are bounded by its bytes (x1032 for gzip), plus one page per
     * file switch */
    fk_drain(ks, false, size * 1032 + 4 + 2 * MAX_PARTS * (man_len + 1), t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t sep[] = "\n====\n";
    const uint8_t *end = data + size;
    const uint8_t *nl = memchr(data, '\n', size);
    char url[257] = "";
    const uint8_t *p = data;
    if (nl) {
        size_t ul = (size_t)(nl - data);
        if (ul < sizeof url && !memchr(data, '\0', ul)) {
            memcpy(url, data, ul);
            url[ul] = '\0';
        }
        p = nl + 1;
    }
    const uint8_t *s = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
    const uint8_t *man = p;
    size_t man_len = (size_t)((s ? s : end) - p);
    parts d = {.count = 0};
    while (s && d.count < MAX_PARTS) {
        const uint8_t *q = s + sizeof sep - 1;
        s = memmem(q, (size_t)(end - q), sep, sizeof sep - 1);
        d.p[d.count] = q;
        d.n[d.count++] = (size_t)((s ? s : end) - q);
    }
    fk_transcript a = {0}, b = {0};
    read_inventory(url, man, man_len, &d, 1, size, &a);
    read_inventory(url, man, man_len, &d, 1 + (size ? data[size - 1] : 0) % 64, size, &b);
    fk_same(&a, &b);
    return 0;
}
