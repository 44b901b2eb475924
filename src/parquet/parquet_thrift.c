/* parquet_thrift.c - Thrift compact protocol writer: the encoding of page headers, column
 * chunk metadata, offset indexes and the footer, written by hand from parquet.thrift (field
 * ids and types are the callers'). Nested structs are tracked for field-id deltas.
 */
#include "parquet_internal.h"

void pq__tw_init(tw *t, buf *b) {
    t->b = b;
    t->depth = 0;
    t->last[0] = 0;
    t->err = 0;
}

void pq__tw_byte(tw *t, uint8_t v) {
    if (buf_put1(t->b, v))
        t->err = 1;
}

void pq__tw_varint(tw *t, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    if (buf_put(t->b, tmp, n))
        t->err = 1;
}

void pq__tw_fh(tw *t, int id, int type) {
    int d = id - t->last[t->depth];
    if (d > 0 && d <= 15) {
        pq__tw_byte(t, (uint8_t)(d << 4 | type));
    } else {
        pq__tw_byte(t, (uint8_t)type);
        pq__tw_varint(t, zz64(id));
    }
    t->last[t->depth] = (int16_t)id;
}

void pq__tw_i32f(tw *t, int id, int32_t v) {
    pq__tw_fh(t, id, CT_I32);
    pq__tw_varint(t, zz64(v));
}
void pq__tw_i64f(tw *t, int id, int64_t v) {
    pq__tw_fh(t, id, CT_I64);
    pq__tw_varint(t, zz64(v));
}
void pq__tw_binf(tw *t, int id, const void *p, size_t n) {
    pq__tw_fh(t, id, CT_BINARY);
    pq__tw_varint(t, n);
    if (buf_put(t->b, p, n))
        t->err = 1;
}
void pq__tw_strf(tw *t, int id, const char *s) { pq__tw_binf(t, id, s, strlen(s)); }
void pq__tw_boolf(tw *t, int id, bool v) { pq__tw_fh(t, id, v ? CT_TRUE : CT_FALSE); }
void pq__tw_push(tw *t) {
    if (t->depth + 1 >= (int)(sizeof t->last / sizeof t->last[0])) {
        t->err = 1;
        return;
    }
    t->last[++t->depth] = 0;
}
void pq__tw_structf(tw *t, int id) {
    pq__tw_fh(t, id, CT_STRUCT);
    pq__tw_push(t);
}
void pq__tw_end(tw *t) {
    pq__tw_byte(t, 0);
    if (t->depth > 0)
        t->depth--;
}
void pq__tw_list(tw *t, int etype, size_t n) {
    if (n < 15) {
        pq__tw_byte(t, (uint8_t)(n << 4 | (size_t)etype));
    } else {
        pq__tw_byte(t, (uint8_t)(0xF0 | etype));
        pq__tw_varint(t, n);
    }
}
void pq__tw_listf(tw *t, int id, int etype, size_t n) {
    pq__tw_fh(t, id, CT_LIST_T);
    pq__tw_list(t, etype, n);
}
