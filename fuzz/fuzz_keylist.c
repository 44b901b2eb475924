/* fuzz_keylist.c - libFuzzer target for the key-list reader (store.keys_from, keysrc.c).
 *
 * The input is the list file's bytes (plain or gzip). It is read through
 * td_keysrc_open_list_fd from a memfd, against roots like a real run's (an s3 store with a
 * prefix, and a local folder), twice: one key per page and a page size taken from the
 * input. Both reads must give the same transcript, every page must keep keysrc.h's
 * promises (fuzz_keysrc.h), and ASan/UBSan/leak checks catch the rest.
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz_keysrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_list(const uint8_t *data, size_t size, size_t page_size, fk_transcript *t) {
    static const char *const roots[] = {"s3://bucket/pre/", "s3://bucket/pre", "/data/tiffs"};
    td_keysrc_options o = {roots, 3, "s3://bucket/pre", page_size};
    td_keysrc *ks;
    char err[512];
    if (td_keysrc_open_list_fd(&ks, fk_mem_fd(data, size), "keys.txt", &o, err, sizeof err) != 0)
        fk_fail(err); /* a descriptor of a regular file always opens */
    /* every page but the last holds a record, and a record is at least a byte + newline,
     * or an error ends the source; gzip may expand, hence the slack */
    fk_drain(ks, true, size * 1032 + 4, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fk_transcript a = {0}, b = {0};
    read_list(data, size, 1, &a);
    read_list(data, size, 1 + (size ? data[size - 1] : 0) % 64, &b);
    fk_same(&a, &b);
    return 0;
}
