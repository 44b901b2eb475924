/* az_list.c - List Blobs response parser (see az_list.h). */
#include "az_list.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum el {
    EL_OTHER,
    EL_ENUM,
    EL_BLOBS,
    EL_BLOB,
    EL_NAME,
    EL_PROPS,
    EL_LEN,
    EL_LASTMOD,
    EL_ETAG,
    EL_RTYPE,
    EL_NEXT,
    EL_BPREFIX, /* BlobPrefix (delimiter listings) */
    EL_ERROR,
    EL_CODE,
    EL_MESSAGE,
};

#define MAX_DEPTH 16

typedef struct ent {
    size_t key_off, key_len;
    size_t etag_off; /* SIZE_MAX: none */
    bool is_prefix;
    uint64_t size;
    int64_t mtime_ms;
} ent;

struct az_list_parser {
    XML_Parser xp;
    char *strip;
    size_t strip_len;
    size_t max_entries;
    int depth; /* current element depth (1 = root) */
    enum el stack[MAX_DEPTH + 1];
    bool collecting;
    ut_buf text; /* character data of the current leaf */
    /* the blob being read */
    ut_buf name;
    bool name_encoded, is_dir;
    uint64_t size;
    int64_t mtime;
    ut_buf etag;
    /* the page */
    ent *ents;
    size_t n_ents, cap_ents;
    size_t n_blobs, n_prefixes; /* of n_ents */
    ut_buf arena;               /* keys and etags, NUL-separated */
    store_entry *out;
    const char **out_prefixes;
    ut_buf next_marker;
    ut_buf err_code, err_message;
    bool seen_results;
    bool failed;
    char errmsg[160];
};

static void fail(az_list_parser *p, const char *msg) {
    if (!p->failed) {
        p->failed = true;
        snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    }
    XML_StopParser(p->xp, XML_FALSE);
}

static enum el classify(const az_list_parser *p, const char *name) {
    enum el parent = p->depth >= 1 ? p->stack[p->depth] : EL_OTHER;
    int d = p->depth + 1; /* depth of the new element */
    if (d == 1) {
        if (strcmp(name, "EnumerationResults") == 0)
            return EL_ENUM;
        if (strcmp(name, "Error") == 0)
            return EL_ERROR;
        return EL_OTHER;
    }
    switch (parent) {
    case EL_ENUM:
        if (strcmp(name, "Blobs") == 0)
            return EL_BLOBS;
        if (strcmp(name, "NextMarker") == 0)
            return EL_NEXT;
        break;
    case EL_BLOBS:
        if (strcmp(name, "Blob") == 0)
            return EL_BLOB;
        if (strcmp(name, "BlobPrefix") == 0)
            return EL_BPREFIX;
        break;
    case EL_BPREFIX:
        if (strcmp(name, "Name") == 0)
            return EL_NAME;
        break;
    case EL_BLOB:
        if (strcmp(name, "Name") == 0)
            return EL_NAME;
        if (strcmp(name, "Properties") == 0)
            return EL_PROPS;
        break;
    case EL_PROPS:
        if (strcmp(name, "Content-Length") == 0)
            return EL_LEN;
        if (strcmp(name, "Last-Modified") == 0)
            return EL_LASTMOD;
        if (strcmp(name, "Etag") == 0)
            return EL_ETAG;
        if (strcmp(name, "ResourceType") == 0)
            return EL_RTYPE;
        break;
    case EL_ERROR:
        if (strcmp(name, "Code") == 0)
            return EL_CODE;
        if (strcmp(name, "Message") == 0)
            return EL_MESSAGE;
        break;
    default:
        break;
    }
    return EL_OTHER;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
    az_list_parser *p = ud;
    if (p->depth >= MAX_DEPTH) {
        fail(p, "List Blobs response nested too deeply");
        return;
    }
    enum el e = classify(p, name);
    p->stack[++p->depth] = e;
    switch (e) {
    case EL_ENUM:
        p->seen_results = true;
        break;
    case EL_BLOB:
    case EL_BPREFIX:
        ut_buf_reset(&p->name);
        ut_buf_reset(&p->etag);
        p->name_encoded = p->is_dir = false;
        p->size = e == EL_BPREFIX ? 0 : UINT64_MAX;
        p->mtime = INT64_MIN;
        break;
    case EL_NAME:
        for (size_t i = 0; attrs[i]; i += 2)
            if (strcmp(attrs[i], "Encoded") == 0 && strcmp(attrs[i + 1], "true") == 0)
                p->name_encoded = true;
        /* fall through */
    case EL_LEN:
    case EL_LASTMOD:
    case EL_ETAG:
    case EL_RTYPE:
    case EL_NEXT:
    case EL_CODE:
    case EL_MESSAGE:
        ut_buf_reset(&p->text);
        p->collecting = true;
        break;
    default:
        break;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
    az_list_parser *p = ud;
    if (!p->collecting || len <= 0)
        return;
    ut_buf_put(&p->text, s, (size_t)len);
    if (p->text.bad)
        fail(p, "List Blobs response has an over-long value");
}

static bool parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t dg = (uint64_t)(*s - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && dg > UINT64_MAX % 10))
            return false;
        v = v * 10 + dg;
    }
    *out = v;
    return true;
}

static void end_blob(az_list_parser *p, bool is_prefix) {
    if (p->name.bad || p->name.len == 0) {
        fail(p, "List Blobs response has a blob without a name");
        return;
    }
    if (p->size == UINT64_MAX) {
        fail(p, "List Blobs response has a blob without Content-Length");
        return;
    }
    if (p->is_dir)
        return; /* hierarchical-namespace accounts list their directories as blobs */
    const char *name = p->name.p;
    size_t len = p->name.len;
    ut_buf dec = {0};
    if (p->name_encoded) {
        dec.limit = AZ_LIST_MAX_NAME + 1;
        if (ut_pct_decode(&dec, name, len, 0) != 0 || dec.bad) {
            ut_buf_free(&dec);
            fail(p, "List Blobs response has a malformed encoded name");
            return;
        }
        name = dec.p;
        len = dec.len;
    }
    if (len < p->strip_len || memcmp(name, p->strip, p->strip_len) != 0 || len == p->strip_len) {
        ut_buf_free(&dec);
        return;
    }
    /* maxresults counts blobs and prefixes together: no more than max_entries of each is
     * what the caller's memory bound needs, whichever way a server counts */
    size_t *seen = is_prefix ? &p->n_prefixes : &p->n_blobs;
    if (++*seen > (is_prefix ? STORE_MAX_COMMON_PREFIXES : p->max_entries)) {
        ut_buf_free(&dec);
        fail(p, "List Blobs response holds more entries than asked for");
        return;
    }
    if (p->n_ents == p->cap_ents) {
        size_t cap = p->cap_ents ? p->cap_ents * 2 : 64;
        ent *n = realloc(p->ents, cap * sizeof *n);
        if (!n) {
            ut_buf_free(&dec);
            fail(p, "out of memory");
            return;
        }
        p->ents = n;
        p->cap_ents = cap;
    }
    ent *e = &p->ents[p->n_ents];
    e->key_off = p->arena.len;
    e->key_len = len - p->strip_len;
    ut_buf_put(&p->arena, name + p->strip_len, e->key_len + 1);
    e->etag_off = SIZE_MAX;
    if (p->etag.len) {
        e->etag_off = p->arena.len;
        ut_buf_put(&p->arena, p->etag.p, p->etag.len + 1);
    }
    e->size = p->size;
    e->mtime_ms = p->mtime;
    e->is_prefix = is_prefix;
    ut_buf_free(&dec);
    if (p->arena.bad) {
        fail(p, "List Blobs page too large");
        return;
    }
    p->n_ents++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
    az_list_parser *p = ud;
    (void)name;
    if (p->depth <= 0)
        return;
    enum el e = p->stack[p->depth--];
    p->collecting = false;
    const char *t = p->text.p ? p->text.p : "";
    switch (e) {
    case EL_NAME:
        ut_buf_reset(&p->name);
        ut_buf_put(&p->name, t, p->text.len);
        break;
    case EL_LEN:
        if (!parse_u64(t, &p->size))
            fail(p, "List Blobs response has a malformed Content-Length");
        break;
    case EL_LASTMOD:
        p->mtime = ut_http_date_parse(t, p->text.len);
        break;
    case EL_ETAG:
        ut_buf_reset(&p->etag);
        ut_buf_put(&p->etag, t, p->text.len);
        break;
    case EL_RTYPE:
        p->is_dir = strcmp(t, "directory") == 0;
        break;
    case EL_NEXT:
        ut_buf_reset(&p->next_marker);
        ut_buf_put(&p->next_marker, t, p->text.len);
        if (p->next_marker.bad)
            fail(p, "List Blobs NextMarker too long");
        break;
    case EL_CODE:
        ut_buf_reset(&p->err_code);
        ut_buf_put(&p->err_code, t, p->text.len);
        break;
    case EL_MESSAGE:
        ut_buf_reset(&p->err_message);
        ut_buf_put(&p->err_message, t, p->text.len);
        break;
    case EL_BLOB:
        end_blob(p, false);
        break;
    case EL_BPREFIX:
        end_blob(p, true);
        break;
    default:
        break;
    }
}

static int make_parser(az_list_parser *p) {
    if (p->xp)
        XML_ParserFree(p->xp);
    p->xp = XML_ParserCreate("UTF-8");
    if (!p->xp)
        return -1;
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    return 0;
}

az_list_parser *az_list_new(const char *strip, size_t max_entries) {
    az_list_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->strip = strdup(strip ? strip : "");
    p->strip_len = p->strip ? strlen(p->strip) : 0;
    p->max_entries = max_entries;
    p->text.limit = AZ_LIST_MAX_NAME;
    p->name.limit = AZ_LIST_MAX_NAME;
    p->etag.limit = 256;
    p->next_marker.limit = AZ_LIST_MAX_MARKER;
    p->err_code.limit = 256;
    p->err_message.limit = AZ_LIST_MAX_NAME;
    p->arena.limit = (max_entries + 1) * (AZ_LIST_MAX_NAME + 260);
    if (!p->strip || az_list_reset(p) != 0) {
        az_list_free(p);
        return NULL;
    }
    return p;
}

void az_list_free(az_list_parser *p) {
    if (!p)
        return;
    if (p->xp)
        XML_ParserFree(p->xp);
    free(p->strip);
    free(p->ents);
    free(p->out);
    free(p->out_prefixes);
    ut_buf_free(&p->text);
    ut_buf_free(&p->name);
    ut_buf_free(&p->etag);
    ut_buf_free(&p->arena);
    ut_buf_free(&p->next_marker);
    ut_buf_free(&p->err_code);
    ut_buf_free(&p->err_message);
    free(p);
}

int az_list_reset(az_list_parser *p) {
    p->depth = 0;
    p->collecting = false;
    p->n_ents = p->n_blobs = p->n_prefixes = 0;
    p->seen_results = false;
    p->failed = false;
    p->errmsg[0] = 0;
    ut_buf_reset(&p->text);
    ut_buf_reset(&p->arena);
    ut_buf_reset(&p->next_marker);
    ut_buf_reset(&p->err_code);
    ut_buf_reset(&p->err_message);
    return make_parser(p);
}

int az_list_feed(az_list_parser *p, const void *data, size_t len, bool final) {
    if (p->failed)
        return -1;
    while (len > 0 || final) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        bool last = final && (size_t)chunk == len;
        if (XML_Parse(p->xp, data, chunk, last ? XML_TRUE : XML_FALSE) != XML_STATUS_OK) {
            if (!p->failed) {
                p->failed = true;
                snprintf(p->errmsg, sizeof p->errmsg, "malformed XML from the store: %s",
                         XML_ErrorString(XML_GetErrorCode(p->xp)));
            }
            return -1;
        }
        data = (const char *)data + chunk;
        len -= (size_t)chunk;
        if (last)
            break;
    }
    return p->failed ? -1 : 0;
}

const char *az_list_error(const az_list_parser *p) { return p->errmsg; }

const store_entry *az_list_entries(az_list_parser *p, size_t *n) {
    free(p->out);
    p->out = NULL;
    *n = 0;
    if (p->n_ents == 0)
        return NULL;
    p->out = malloc(p->n_ents * sizeof *p->out);
    if (!p->out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < p->n_ents; i++) {
        const ent *e = &p->ents[i];
        if (e->is_prefix)
            continue;
        p->out[k].key = p->arena.p + e->key_off;
        p->out[k].key_len = e->key_len;
        p->out[k].size = e->size;
        p->out[k].mtime_ms = e->mtime_ms;
        p->out[k].etag = e->etag_off == SIZE_MAX ? NULL : p->arena.p + e->etag_off;
        k++;
    }
    *n = k;
    return p->out;
}

const char *const *az_list_prefixes(az_list_parser *p, size_t *n) {
    free(p->out_prefixes);
    p->out_prefixes = NULL;
    *n = 0;
    size_t k = 0;
    for (size_t i = 0; i < p->n_ents; i++)
        k += p->ents[i].is_prefix;
    if (k == 0 || !(p->out_prefixes = malloc(k * sizeof *p->out_prefixes)))
        return NULL;
    k = 0;
    for (size_t i = 0; i < p->n_ents; i++)
        if (p->ents[i].is_prefix)
            p->out_prefixes[k++] = p->arena.p + p->ents[i].key_off;
    *n = k;
    return p->out_prefixes;
}

const char *az_list_next_marker(const az_list_parser *p) {
    return p->next_marker.p ? p->next_marker.p : "";
}
bool az_list_seen_results(const az_list_parser *p) { return p->seen_results; }
const char *az_list_err_code(const az_list_parser *p) { return p->err_code.p ? p->err_code.p : ""; }
const char *az_list_err_message(const az_list_parser *p) {
    return p->err_message.p ? p->err_message.p : "";
}
