/* resume.h - `headers --resume`: what an interrupted run into a local OUT_DIR already did.
 *
 * Every part-*.parquet in OUT_DIR and OUT_DIR/_errors is complete (parts are renamed only
 * once their footer is written, output.h), so the keys in their path / path_bytes column are
 * done and are skipped; temporary files and a stale _SUCCESS are removed, and new parts are
 * numbered after the old ones (output.c skips names that exist).
 *
 * Memory: the done-set keeps a 64-bit fingerprint of each key, not the key, in an
 * open-addressing table of 8-byte slots filled to at most 3/4: 10.7 to 21.3 bytes per key
 * (10^7 keys: at most 213 MB). Two different keys share a fingerprint with probability
 * about n^2 / 2^65 for n keys (10^7 keys: 3e-6; 10^9: 3 %), which would skip one key.
 */
#ifndef TD_RESUME_H
#define TD_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct td_doneset td_doneset;

typedef struct td_resume_info {
    uint64_t header_rows, error_rows;   /* rows of the complete parts found */
    uint64_t header_files, error_files; /* complete parts found */
} td_resume_info;

/* Reads the complete parts of out_dir (creating the folders when missing: resuming a run
 * that never wrote is a plain run) into *out; removes .part-*.tmp and _SUCCESS. Returns 0,
 * or -1 with a message naming the file in err (a part that does not read is an error: it
 * would not be complete). */
int td_resume_load(const char *out_dir, td_doneset **out, td_resume_info *info, char *err,
                   size_t errlen);
bool td_doneset_has(const td_doneset *d, const char *key, size_t len);
size_t td_doneset_count(const td_doneset *d);
size_t td_doneset_bytes(const td_doneset *d); /* memory held */
void td_doneset_free(td_doneset *d);

#endif
