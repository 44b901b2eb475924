/* corpus_util.h - the shared TIFF corpus as the corpus-wide test programs see it
 * (oracle_libtiff.c, mutate_corpus.c): one sorted list of files, each read whole. */
#ifndef TD_TESTS_CORPUS_UTIL_H
#define TD_TESTS_CORPUS_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct corpus_list {
    char **v; /* paths relative to the corpus root */
    size_t n, cap;
} corpus_list;

/* Every *.tif / *.tiff below ROOT, recursively, sorted by path; dot entries and licenses/
 * folders are skipped. An unreadable ROOT gives an empty list. */
void corpus_list_tiffs(const char *root, corpus_list *out);
void corpus_list_free(corpus_list *l);

/* The whole of ROOT/REL in a malloc'd buffer (*n bytes), NULL when it cannot be opened. */
uint8_t *corpus_read(const char *root, const char *rel, size_t *n);

#endif
