/* parquet_read_internal.h - what parquet_read.c (footer, schema, Thrift reader) and
 * parquet_read_col.c (column cursor) share. Not part of the contract; symbols start pqr__.
 */
#ifndef PARQUET_READ_INTERNAL_H
#define PARQUET_READ_INTERNAL_H

#include "parquet_read.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PQR_MAX_DEPTH 64             /* schema nesting, also bounds max def / rep levels */
#define PQR_MAX_PATH 4096            /* a leaf's dotted path */
#define PQR_THRIFT_DEPTH 32          /* nested Thrift structs / lists while skipping */
#define PQR_MAX_PAGE_HDR (16u << 20) /* a page header (statistics included) */
/* Counts that size allocations: a list count is only bounded by the footer's bytes (one per
 * element), and each element costs far more in memory than that byte, so these cap them. */
#define PQR_MAX_SCHEMA 65536u /* schema elements */
#define PQR_MAX_KV 65536u     /* key-value pairs */
#define PQR_MAX_ROW_GROUPS (1u << 20)

/* ------------------------------------------------------------------ Thrift compact reader
 * Over an in-memory span; errors are sticky in t->err (PQR_E_FORMAT on truncation or a bad
 * type), t->eof is set when the span ended early (a page header read in a too short
 * window). Offsets in messages are base_off + position. */
typedef struct tr {
    const uint8_t *p, *start, *end;
    uint64_t base_off;
    int err;
    bool eof;
    bool boolv; /* value of the last bool field */
    int depth;
    int16_t last[PQR_THRIFT_DEPTH + 1];
    char why[96];
} tr;

void pqr__tr_init(tr *t, const uint8_t *p, size_t n, uint64_t base_off);
/* Next field of the current struct: its id (> 0), its compact type in *type; 0 at the stop
 * byte (the struct is left) or on error. */
int pqr__tr_field(tr *t, int *type);
void pqr__tr_struct(tr *t); /* enter a struct (a field of type 12, or a list element) */
void pqr__tr_skip(tr *t, int type);
int64_t pqr__tr_int(tr *t, int type); /* i8 / i16 / i32 / i64 */
/* Binary: pointer into the span and its length. */
const uint8_t *pqr__tr_bin(tr *t, int type, size_t *len);
/* List header: element count (bounded by the bytes left) and element type. */
size_t pqr__tr_list(tr *t, int type, int *etype);
uint64_t pqr__tr_off(const tr *t);

/* ------------------------------------------------------------------ file */

typedef struct pqr_chunk {
    int codec;
    int64_t num_values;
    uint64_t start, len; /* the pages: dictionary (if any) then data, within the file */
} pqr_chunk;

typedef struct pqr_rg {
    int64_t rows;
    pqr_chunk *cols; /* one per leaf */
} pqr_rg;

struct pqr_file {
    pqr_source src;
    pqr_options o;
    pqr_leaf *leaves;
    int n_leaves;
    pqr_rg *rgs;
    int n_rg;
    int64_t num_rows;
    pq_kv *kv;
    size_t n_kv;
    char *created_by;
    char **strs; /* every string the file owns, freed at close */
    size_t n_strs, cap_strs;
};

/* Formats into msg (cap bytes): "at offset N: reason". */
void pqr__msg(char *msg, size_t cap, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
