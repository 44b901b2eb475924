/* parquet.h - streaming Parquet writer: the module's whole contract.
 *
 * Pure: writes bytes to a caller-supplied sink, no files, no globals. Memory is bounded by
 * one row group. Follows the parquet-format spec (footer in Thrift compact protocol).
 *
 *   pq_schema *s = pq_schema_new();
 *   int path = pq_schema_add_leaf(s, PQ_ROOT, "path", PQ_BYTE_ARRAY, PQ_LT_STRING, false);
 *   int bps  = pq_schema_add_list(s, PQ_ROOT, "bits_per_sample", PQ_INT64, PQ_LT_NONE, true,
 * false); pq_writer *w; pq_writer_open(&w, s, &sink, &opts); for each row: pq_set_bytes(w, path,
 * key, n); pq_set_list_i64(w, bps, v, k); pq_end_row(w); pq_writer_close(w);   // flushes the last
 * row group and writes the footer
 *
 * Within a row, a node that was not set is null (optional) or an error (required). A null
 * struct nulls its descendants; a struct whose fields are all null is NOT a null struct.
 * An empty list (n == 0) is not a null list.
 *
 * STRING values (leaves, list elements, map keys and values) and the key-value metadata
 * are always written as UTF-8: a byte that is not part of a valid sequence is written as
 * the four characters \xNN (ut_utf8_escape in util.h), because strict readers refuse a
 * whole file for one bad value. BINARY values are written as they are.
 *
 * Layout (parquet_internal.h is what the files share):
 *   parquet.c         the writer: open, errors, byte sink, row-group flush, footer, close
 *   parquet_schema.c  schema tree (pq_schema_*) and its SchemaElements
 *   parquet_row.c     the value API: levels and values into column buffers, chunk dictionary
 *   parquet_page.c    a column chunk at flush: pages, compression, ColumnChunk metadata
 *   parquet_enc.c     RLE / bit-packed hybrid (levels, dictionary indices), PLAIN booleans
 *   parquet_stats.c   column chunk min / max statistics
 *   parquet_thrift.c  Thrift compact protocol writer
 */
#ifndef PARQUET_PARQUET_H
#define PARQUET_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PQ_ERRNO_MAP(X)                                                      \
    X(OK, 0, "ok", "ok")                                                     \
    X(E_SCHEMA, -1, "schema", "invalid schema (name, parent or type)")       \
    X(E_USAGE, -2, "usage", "value does not fit the node, or required null") \
    X(E_NOMEM, -3, "nomem", "out of memory")                                 \
    X(E_SINK, -4, "sink", "the byte sink failed")                            \
    X(E_CODEC, -5, "codec", "compression failed")

typedef enum {
#define PQ_X_ENUM(name, code, short_name, text) PQ_##name = code,
    PQ_ERRNO_MAP(PQ_X_ENUM)
#undef PQ_X_ENUM
} pq_code;

const char *pq_err_name(int code);
const char *pq_strerror(int code);

typedef enum { PQ_BOOLEAN, PQ_INT32, PQ_INT64, PQ_DOUBLE, PQ_BYTE_ARRAY } pq_type;
typedef enum {
    PQ_LT_NONE,
    PQ_LT_STRING,          /* BYTE_ARRAY, UTF-8: bytes that are not are written \xNN */
    PQ_LT_TIMESTAMP_MILLIS /* INT64, milliseconds since epoch, UTC adjusted   */
} pq_logical;
typedef enum { PQ_CODEC_NONE, PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD } pq_codec;

/* ---- schema ---- node ids are small non-negative ints; PQ_ROOT is the message root. */
#define PQ_ROOT 0
typedef struct pq_schema pq_schema;

pq_schema *pq_schema_new(void);
void pq_schema_free(pq_schema *s);
/* Each returns the new node id (> 0) or a negative pq_code. parent: PQ_ROOT or a struct. */
int pq_schema_add_leaf(pq_schema *s, int parent, const char *name, pq_type type, pq_logical lt,
                       bool optional);
int pq_schema_add_struct(pq_schema *s, int parent, const char *name, bool optional);
/* Standard three-level LIST: <optional|required> group name (LIST) { repeated group list
 * { <optional|required> element; } } */
int pq_schema_add_list(pq_schema *s, int parent, const char *name, pq_type elem, pq_logical lt,
                       bool optional_list, bool optional_elements);
/* Standard MAP<STRING, STRING>: group name (MAP) { repeated group key_value { required
 * binary key (STRING); optional binary value (STRING); } } */
int pq_schema_add_map(pq_schema *s, int parent, const char *name, bool optional);
/* LIST<STRUCT>: <optional|required> group name (LIST) { repeated group list { required group
 * element { fields } } }. Returns the list id and puts the element struct's id in *element;
 * its fields are added with pq_schema_add_leaf(s, *element, ...) (leaves only). */
int pq_schema_add_list_of_struct(pq_schema *s, int parent, const char *name, bool optional_list,
                                 int *element);

/* ---- writer ---- */
typedef struct pq_sink {
    /* Write all len bytes or fail (non-zero). Called from the writer's thread only. */
    int (*write)(void *ctx, const void *buf, size_t len);
    void *ctx;
} pq_sink;

typedef struct pq_kv {
    const char *key;
    const char *value;
} pq_kv;

typedef struct pq_options {
    pq_codec codec;
    int zstd_level;          /* 1..22 */
    uint64_t row_group_rows; /* a row group is flushed at this many rows ...        */
    size_t row_group_bytes;  /* ... or when buffered values exceed this many bytes  */
    size_t dict_max_bytes;   /* per column chunk; past it the column falls back to PLAIN */
    const char *created_by;  /* e.g. "tiff-dumper version 0.1.0 (build ...)" */
    const pq_kv *kv;         /* file key-value metadata, copied at open */
    size_t n_kv;
    bool no_replay; /* pq_keep keeps nothing, so pq_again always declines (the same bytes,
                     * slower: to measure what the replay saves) */
} pq_options;
#define PQ_OPTIONS_INIT \
    { PQ_CODEC_SNAPPY, 3, 100000u, 64u << 20, 1u << 20, NULL, NULL, 0, false }

typedef struct pq_writer pq_writer;

/* The schema must outlive the writer and not change after open. Nothing is written to the
 * sink until the first row group is flushed (or close). */
int pq_writer_open(pq_writer **out, const pq_schema *s, const pq_sink *sink,
                   const pq_options *opts);

/* Values of the current row. `node` is a leaf, list or map id from the schema. */
int pq_set_null(pq_writer *w, int node); /* leaf, struct, list or map */
int pq_set_bool(pq_writer *w, int node, bool v);
int pq_set_i32(pq_writer *w, int node, int32_t v);
int pq_set_i64(pq_writer *w, int node, int64_t v);
int pq_set_double(pq_writer *w, int node, double v);
int pq_set_bytes(pq_writer *w, int node, const void *p, size_t len);
/* Whole lists in one call (no null elements). n == 0 writes an empty list. */
int pq_set_list_i64(pq_writer *w, int node, const int64_t *v, size_t n);
int pq_set_list_i32(pq_writer *w, int node, const int32_t *v, size_t n);
int pq_set_list_double(pq_writer *w, int node, const double *v, size_t n);
/* Element by element, for lists with null elements or of strings/bools: begin, push*, end. */
int pq_list_begin(pq_writer *w, int node);
int pq_list_push_null(pq_writer *w, int node);
int pq_list_push_bool(pq_writer *w, int node, bool v);
int pq_list_push_i32(pq_writer *w, int node, int32_t v);
int pq_list_push_i64(pq_writer *w, int node, int64_t v);
int pq_list_push_double(pq_writer *w, int node, double v);
int pq_list_push_bytes(pq_writer *w, int node, const void *p, size_t len);
int pq_list_end(pq_writer *w, int node);
/* Maps: begin, put*, end (an empty map is begin+end). value NULL = null value. */
int pq_map_begin(pq_writer *w, int node);
int pq_map_put(pq_writer *w, int node, const void *key, size_t klen, const void *value,
               size_t vlen);
int pq_map_end(pq_writer *w, int node);
/* Lists of structs: begin, then per element next followed by pq_set_* / pq_set_null on the
 * element's leaves (a leaf left unset is null; a required one is an error), end. An empty
 * list is begin+end; a list never begun is null. */
int pq_list_struct_begin(pq_writer *w, int list);
int pq_list_struct_next(pq_writer *w, int list);
int pq_list_struct_end(pq_writer *w, int list);
/* The same as pq_set_i64(w, field0 + k, v[k]) for k < n, leaving fields whose value is
 * null_value unset (null), in one call: field0 .. field0 + n - 1 are INT64 leaves of the open
 * element (consecutive node ids: added one after the other). For the many numbers of an
 * element, at a fraction of the per-call cost. */
int pq_list_struct_set_i64s(pq_writer *w, int field0, const int64_t *v, size_t n,
                            int64_t null_value);

/* Lists of structs by column, for many elements of a few kinds of value: the whole list in
 * one call per field instead of one per value. pq_list_struct_cols begins the list with n
 * elements (n == 0: an empty list); each pq_list_struct_col_* then gives one field for all n
 * elements, element k's value read at (const char *)base + k * stride (e.g. a field of an
 * array of the caller's structs); pq_list_struct_end ends it, fields not given being null in
 * every element (a required one not given is an error). The element setters (next, pq_set_*)
 * are refused on such a list. Values below `min` are null (INT32_MIN / INT64_MIN: none), so
 * a uint64 read as INT64 with min 0 is null past INT64_MAX. col_names writes the STRING
 * names[v] for the int v read (names[n_names - 1] when v is not below n_names). The output
 * is the same as the element-wise calls'. */
int pq_list_struct_cols(pq_writer *w, int list, size_t n);
int pq_list_struct_col_i32(pq_writer *w, int field, const void *base, size_t stride, int32_t min);
int pq_list_struct_col_i64(pq_writer *w, int field, const void *base, size_t stride, int64_t min);
int pq_list_struct_col_names(pq_writer *w, int field, const void *base, size_t stride,
                             const char *const *names, size_t n_names);
/* nf consecutive INT64 fields (consecutive node ids of one element) in one call: field
 * field0 + j of element k read at (const char *)base + k * stride + 8 * j. As nf calls of
 * col_i64, each with the same min; all are checked before any is set. */
int pq_list_struct_col_i64s(pq_writer *w, int field0, int nf, const void *base, size_t stride,
                            int64_t min);

/* A list of structs or a map given again (one not inside another list). After it ends in a
 * row (pq_list_struct_end, pq_map_end), pq_keep keeps what it wrote under the caller's key
 * (up to 8, the least recently used replaced); in a later row, pq_again with an equal key
 * (same bytes) writes the kept one in place of the whole begin ... end sequence. The key
 * must determine every value (e.g. the bytes of the array the columns were read from): the
 * bytes written are then the same as giving the values again. pq_again returns PQ_OK
 * (written), 1 (nothing kept under that key, or no longer replayable: a row group was
 * flushed since, or a column fell back to PLAIN; nothing written: give the values) or an
 * error code. pq_keep may keep nothing (empty, more than 16 elements, a column not
 * dictionary-encoded, or keys that rarely repeat); pq_again then returns 1. For the ifds
 * list and the GDAL metadata map, which repeat whole from file to file of a product
 * (issue 15). */
int pq_keep(pq_writer *w, int node, const void *key, size_t key_len);
int pq_again(pq_writer *w, int node, const void *key, size_t key_len);

/* Completes the row; unset optional nodes become null. */
int pq_end_row(pq_writer *w);
uint64_t pq_writer_rows(const pq_writer *w); /* rows completed so far */

/* Sets file key-value metadata known only at the end (e.g. a bbox of all rows): replaces
 * the value of `key` (from the options or an earlier call) or adds the pair. Copied; written
 * by close. value NULL = the key without a value. Returns PQ_OK, PQ_E_NOMEM or PQ_E_USAGE. */
int pq_writer_set_kv(pq_writer *w, const char *key, const char *value);

/* Flushes, writes the footer and frees the writer (also on error). */
int pq_writer_close(pq_writer *w);
/* Frees without writing anything more (the output is then incomplete). */
void pq_writer_abort(pq_writer *w);

/* Message of the last error, naming the node and the reason. */
const char *pq_writer_errmsg(const pq_writer *w);

#endif
