/* parquet_schema.c - the schema: building the node tree (leaves, structs, three-level
 * LISTs, MAPs) with its checks, and serializing it as the footer's SchemaElements.
 */
#include "parquet_internal.h"

#include <limits.h>
#include <stdio.h>

pq_schema *pq_schema_new(void) {
    pq_schema *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n = calloc(16, sizeof *s->n);
    if (!s->n) {
        free(s);
        return NULL;
    }
    s->cap = 16;
    s->count = 1;
    s->n[0].name = NULL; /* written as "schema" */
    s->n[0].kind = N_ROOT;
    s->n[0].parent = -1;
    return s;
}

void pq_schema_free(pq_schema *s) {
    if (!s)
        return;
    for (int i = 0; i < s->count; i++) {
        free(s->n[i].name);
        free(s->n[i].kids);
    }
    free(s->n);
    free(s);
}

static int schema_node(pq_schema *s, int parent, const char *name, int kind, int rep, pq_type type,
                       pq_logical lt, bool internal) {
    if (s->count == INT_MAX / 2)
        return PQ_E_NOMEM;
    if (s->count == s->cap) {
        snode *n = realloc(s->n, (size_t)s->cap * 2 * sizeof *n);
        if (!n)
            return PQ_E_NOMEM;
        s->n = n;
        s->cap *= 2;
    }
    snode *p = &s->n[parent];
    if (p->n_kids == p->cap_kids) {
        int c = p->cap_kids ? p->cap_kids * 2 : 4;
        int *k = realloc(p->kids, (size_t)c * sizeof *k);
        if (!k)
            return PQ_E_NOMEM;
        p->kids = k;
        p->cap_kids = c;
    }
    char *nm = strdup(name);
    if (!nm)
        return PQ_E_NOMEM;
    int id = s->count++;
    snode *n = &s->n[id];
    memset(n, 0, sizeof *n);
    n->name = nm;
    n->parent = parent;
    n->kind = kind;
    n->rep = rep;
    n->type = type;
    n->lt = lt;
    n->internal = internal;
    s->n[parent].kids[s->n[parent].n_kids++] = id;
    return id;
}

static int check_new(const pq_schema *s, int parent, const char *name) {
    if (!s || !name || !*name || parent < 0 || parent >= s->count)
        return PQ_E_SCHEMA;
    const snode *p = &s->n[parent];
    if (p->kind != N_ROOT && (p->kind != N_STRUCT || p->internal))
        return PQ_E_SCHEMA;
    for (int i = 0; i < p->n_kids; i++)
        if (strcmp(s->n[p->kids[i]].name, name) == 0)
            return PQ_E_SCHEMA;
    return PQ_OK;
}

static bool type_ok(pq_type t, pq_logical lt) {
    if ((unsigned)t > PQ_BYTE_ARRAY)
        return false;
    switch (lt) {
    case PQ_LT_NONE:
        return true;
    case PQ_LT_STRING:
        return t == PQ_BYTE_ARRAY;
    case PQ_LT_TIMESTAMP_MILLIS:
        return t == PQ_INT64;
    }
    return false;
}

/* Only leaves go below a LIST<STRUCT> element: one repetition level, set by node id. */
static int no_nesting(const pq_schema *s, int parent) {
    return s && parent >= 0 && parent < s->count && s->n[parent].lst ? PQ_E_SCHEMA : PQ_OK;
}

int pq_schema_add_leaf(pq_schema *s, int parent, const char *name, pq_type type, pq_logical lt,
                       bool optional) {
    int rc = check_new(s, parent, name);
    if (rc)
        return rc;
    if (!type_ok(type, lt))
        return PQ_E_SCHEMA;
    int lst = s->n[parent].lst;
    int id = schema_node(s, parent, name, N_LEAF, optional ? REP_OPTIONAL : REP_REQUIRED, type, lt,
                         false);
    if (id > 0)
        s->n[id].lst = lst; /* a field of a LIST<STRUCT> element */
    return id;
}

int pq_schema_add_list_of_struct(pq_schema *s, int parent, const char *name, bool optional_list,
                                 int *element) {
    int rc = check_new(s, parent, name);
    if (rc || (rc = no_nesting(s, parent)))
        return rc;
    int l = schema_node(s, parent, name, N_LIST, optional_list ? REP_OPTIONAL : REP_REQUIRED,
                        PQ_BOOLEAN, PQ_LT_NONE, false);
    if (l < 0)
        return l;
    s->n[l].of_struct = true;
    int g = schema_node(s, l, "list", N_GROUP, REP_REPEATED, PQ_BOOLEAN, PQ_LT_NONE, true);
    if (g < 0)
        return g;
    int e = schema_node(s, g, "element", N_STRUCT, REP_REQUIRED, PQ_BOOLEAN, PQ_LT_NONE, false);
    if (e < 0)
        return e;
    s->n[e].lst = l;
    if (element)
        *element = e;
    return l;
}

int pq_schema_add_struct(pq_schema *s, int parent, const char *name, bool optional) {
    int rc = check_new(s, parent, name);
    if (rc || (rc = no_nesting(s, parent)))
        return rc;
    return schema_node(s, parent, name, N_STRUCT, optional ? REP_OPTIONAL : REP_REQUIRED,
                       PQ_BOOLEAN, PQ_LT_NONE, false);
}

int pq_schema_add_list(pq_schema *s, int parent, const char *name, pq_type elem, pq_logical lt,
                       bool optional_list, bool optional_elements) {
    int rc = check_new(s, parent, name);
    if (rc || (rc = no_nesting(s, parent)))
        return rc;
    if (!type_ok(elem, lt))
        return PQ_E_SCHEMA;
    int l = schema_node(s, parent, name, N_LIST, optional_list ? REP_OPTIONAL : REP_REQUIRED, elem,
                        lt, false);
    if (l < 0)
        return l;
    int g = schema_node(s, l, "list", N_GROUP, REP_REPEATED, elem, lt, true);
    if (g < 0)
        return g;
    int e = schema_node(s, g, "element", N_LEAF, optional_elements ? REP_OPTIONAL : REP_REQUIRED,
                        elem, lt, true);
    return e < 0 ? e : l;
}

int pq_schema_add_map(pq_schema *s, int parent, const char *name, bool optional) {
    int rc = check_new(s, parent, name);
    if (rc || (rc = no_nesting(s, parent)))
        return rc;
    int m = schema_node(s, parent, name, N_MAP, optional ? REP_OPTIONAL : REP_REQUIRED,
                        PQ_BYTE_ARRAY, PQ_LT_STRING, false);
    if (m < 0)
        return m;
    int g =
        schema_node(s, m, "key_value", N_GROUP, REP_REPEATED, PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    if (g < 0)
        return g;
    int k = schema_node(s, g, "key", N_LEAF, REP_REQUIRED, PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    if (k < 0)
        return k;
    int v = schema_node(s, g, "value", N_LEAF, REP_OPTIONAL, PQ_BYTE_ARRAY, PQ_LT_STRING, true);
    return v < 0 ? v : m;
}

void pq__node_path(const pq_schema *s, int id, char *out, size_t cap) {
    int chain[64], n = 0;
    for (int i = id; i > 0 && n < 64; i = s->n[i].parent)
        chain[n++] = i;
    size_t len = 0;
    out[0] = 0;
    while (n-- > 0 && len + 1 < cap) {
        int k = snprintf(out + len, cap - len, "%s%s", len ? "." : "", s->n[chain[n]].name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

void pq__schema_elem(tw *t, const pq_schema *s, int id, int *n_elems) {
    const snode *n = &s->n[id];
    pq__tw_push(t);
    if (n->kind == N_LEAF)
        pq__tw_i32f(t, 1, pq__thrift_type(n->type));
    if (n->kind != N_ROOT)
        pq__tw_i32f(t, 3, n->rep);
    pq__tw_strf(t, 4, n->kind == N_ROOT ? "schema" : n->name);
    if (n->kind != N_LEAF)
        pq__tw_i32f(t, 5, n->n_kids);
    int ct = -1, lt = 0;
    if (n->kind == N_LIST) {
        ct = CT_LIST;
        lt = 3;
    } else if (n->kind == N_MAP) {
        ct = CT_MAP;
        lt = 2;
    } else if (n->kind == N_LEAF && n->lt == PQ_LT_STRING) {
        ct = CT_UTF8;
        lt = 1;
    } else if (n->kind == N_LEAF && n->lt == PQ_LT_TIMESTAMP_MILLIS) {
        ct = CT_TIMESTAMP_MILLIS;
        lt = 8;
    }
    if (ct >= 0)
        pq__tw_i32f(t, 6, ct);
    if (lt) {
        pq__tw_structf(t, 10); /* LogicalType union */
        pq__tw_structf(t, lt);
        if (lt == 8) { /* TimestampType */
            pq__tw_boolf(t, 1, true);
            pq__tw_structf(t, 2); /* TimeUnit */
            pq__tw_structf(t, 1); /* MILLIS */
            pq__tw_end(t);
            pq__tw_end(t);
        }
        pq__tw_end(t);
        pq__tw_end(t);
    }
    pq__tw_end(t);
    (*n_elems)++;
    for (int i = 0; i < n->n_kids; i++)
        pq__schema_elem(t, s, n->kids[i], n_elems);
}
