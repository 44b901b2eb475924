/* parquet_read.h - Parquet reader: the read half of the module's contract (parquet.h is the
 * writer's).
 *
 * Pure and I/O-free like the writer: bytes come from a caller's random-access source, so a
 * local file, a memory buffer or an object store (ranged GETs) all work. Meant for the
 * tool's own files (resume, report) and for plain files of other writers that use the same
 * encodings:
 *   - data pages v1; dictionary pages; values PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY
 *     (and RLE booleans); levels RLE / bit-packed hybrid;
 *   - codecs UNCOMPRESSED, SNAPPY, ZSTD;
 *   - every physical type (INT96 and FIXED_LEN_BYTE_ARRAY as bytes).
 * Anything else (data page v2, DELTA_* and BYTE_STREAM_SPLIT encodings, GZIP / LZ4 / BROTLI,
 * encrypted files, column chunks in other files) fails with PQR_E_UNSUPPORTED naming it.
 *
 * Nested types need nothing special: a cursor streams one leaf column with its definition
 * and repetition levels (the Dremel encoding), from which lists, maps and structs follow.
 *
 * Every length and count read from a file is checked against the file size, the enclosing
 * structure and the limits in pqr_options before anything is read or allocated: a hostile
 * file fails with PQR_E_FORMAT / PQR_E_LIMIT, never reads out of bounds. Memory: the footer
 * metadata (at most max_footer_bytes of it while parsing; kept: the leaves, 32 bytes per
 * column chunk, the key-values; at most 65,536 schema elements and key-values, 2^20 row
 * groups), and per cursor one page (compressed + uncompressed) and the chunk's dictionary.
 *
 *   pqr_source src = {my_read_at, ctx, file_size};
 *   pqr_file *f; char msg[256];
 *   if (pqr_open(&f, &src, NULL, msg, sizeof msg)) { report msg; }
 *   int leaf = pqr_find_leaf(f, "path");
 *   pqr_cursor *c; pqr_cursor_open(&c, f, leaf, -1);
 *   pqr_value v; while ((rc = pqr_next(c, &v)) == 1) { if (v.present) use v.p, v.len; }
 *   rc < 0: pqr_cursor_errmsg(c);   pqr_cursor_close(c); pqr_close(f);
 */
#ifndef PARQUET_PARQUET_READ_H
#define PARQUET_PARQUET_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet.h" /* pq_kv */

enum {
    PQR_OK = 0,
    PQR_E_IO = -1,          /* the source's read_at failed */
    PQR_E_FORMAT = -2,      /* not Parquet, or corrupt */
    PQR_E_UNSUPPORTED = -3, /* valid Parquet this reader does not decode */
    PQR_E_LIMIT = -4,       /* a size beyond pqr_options' limits */
    PQR_E_NOMEM = -5,
    PQR_E_USAGE = -6 /* bad argument */
};
const char *pqr_strerror(int code);

typedef struct pqr_source {
    /* Reads exactly len bytes at offset into buf; 0 on success. Offsets and lengths are
     * always within [0, size). */
    int (*read_at)(void *ctx, uint64_t offset, size_t len, void *buf);
    void *ctx;
    uint64_t size; /* of the whole file */
} pqr_source;

typedef struct pqr_options {
    size_t max_footer_bytes; /* the serialized FileMetaData */
    size_t max_page_bytes;   /* one page, compressed or not (also a dictionary page) */
} pqr_options;
#define PQR_OPTIONS_INIT \
    { 64u << 20, 256u << 20 }

/* parquet.thrift Type */
enum {
    PQR_BOOLEAN = 0,
    PQR_INT32 = 1,
    PQR_INT64 = 2,
    PQR_INT96 = 3,
    PQR_FLOAT = 4,
    PQR_DOUBLE = 5,
    PQR_BYTE_ARRAY = 6,
    PQR_FIXED_LEN_BYTE_ARRAY = 7
};

typedef struct pqr_leaf {
    const char *path; /* dotted from the root's child: "bits_per_sample.list.element" */
    const char *name; /* last component */
    int physical;     /* PQR_BOOLEAN.. */
    int type_length;  /* FIXED_LEN_BYTE_ARRAY width, else 0 */
    int converted;    /* ConvertedType (0 UTF8, 9 TIMESTAMP_MILLIS, ...) or -1 */
    int logical;      /* LogicalType union field id (1 STRING, 8 TIMESTAMP, ...) or 0 */
    int max_def, max_rep;
    bool optional; /* the leaf itself is OPTIONAL */
} pqr_leaf;

typedef struct pqr_file pqr_file;

/* Reads and checks the footer and schema. opts NULL: PQR_OPTIONS_INIT. On failure *out is
 * NULL and msg names the file offset and the reason. The source must outlive the file. */
int pqr_open(pqr_file **out, const pqr_source *src, const pqr_options *opts, char *msg,
             size_t msg_cap);
void pqr_close(pqr_file *f);

int pqr_num_leaves(const pqr_file *f);
const pqr_leaf *pqr_leaf_at(const pqr_file *f, int i);
int pqr_find_leaf(const pqr_file *f, const char *path); /* index, or -1 */
int64_t pqr_num_rows(const pqr_file *f);
int pqr_num_row_groups(const pqr_file *f);
int64_t pqr_row_group_rows(const pqr_file *f, int rg);
/* Key-value metadata (value NULL when the file has the key without one) and created_by
 * (NULL when absent), owned by f. */
const pq_kv *pqr_kv(const pqr_file *f, size_t *n);
const char *pqr_kv_get(const pqr_file *f, const char *key);
const char *pqr_created_by(const pqr_file *f);

/* ---- column cursor: one leaf column, page by page, in row order. */
typedef struct pqr_cursor pqr_cursor;

typedef struct pqr_value {
    int def, rep;     /* levels; rep == 0 starts a row */
    uint64_t row;     /* 0-based row of the file (or of the row group, when one was asked) */
    bool present;     /* def == max_def: the value below is set, else a null at level def */
    int64_t i;        /* BOOLEAN (0 / 1), INT32, INT64 */
    double d;         /* FLOAT, DOUBLE */
    const uint8_t *p; /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, INT96: valid until the next call */
    size_t len;
} pqr_value;

/* row_group -1: all row groups in order. */
int pqr_cursor_open(pqr_cursor **out, pqr_file *f, int leaf, int row_group);
/* 1: *v is the next level entry; 0: the end; < 0: an error (pqr_cursor_errmsg). Errors are
 * sticky. */
int pqr_next(pqr_cursor *c, pqr_value *v);
const char *pqr_cursor_errmsg(const pqr_cursor *c);
void pqr_cursor_close(pqr_cursor *c);

#endif
