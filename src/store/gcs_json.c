/* gcs_json.c - bounded JSON tokeniser and the GCS documents read with it (see gcs_json.h). */
#include "gcs_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GJ_MAX_DEPTH 64

typedef struct pstate {
    gj_doc *d;
    size_t pos;
    char *err;
    size_t errlen;
    bool failed;
} pstate;

static int perr(pstate *p, const char *what) {
    if (!p->failed && p->err && p->errlen)
        snprintf(p->err, p->errlen, "malformed JSON at byte %zu: %s", p->pos, what);
    p->failed = true;
    return -1;
}

static void skip_ws(pstate *p) {
    const char *t = p->d->text;
    while (p->pos < p->d->len &&
           (t[p->pos] == ' ' || t[p->pos] == '\t' || t[p->pos] == '\n' || t[p->pos] == '\r'))
        p->pos++;
}

static size_t new_tok(pstate *p, gj_type type) {
    gj_doc *d = p->d;
    if (d->n >= d->max_tokens) {
        perr(p, "document has too many values");
        return GJ_NONE;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        if (cap > d->max_tokens)
            cap = d->max_tokens;
        gj_tok *t = realloc(d->tok, cap * sizeof *t);
        if (!t) {
            perr(p, "out of memory");
            return GJ_NONE;
        }
        d->tok = t;
        d->cap = cap;
    }
    gj_tok *t = &d->tok[d->n];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->start = p->pos;
    return d->n++;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int parse_string(pstate *p) {
    const char *t = p->d->text;
    size_t len = p->d->len;
    p->pos++; /* opening quote */
    size_t i = new_tok(p, GJ_STRING);
    if (i == GJ_NONE)
        return -1;
    bool esc = false;
    while (p->pos < len) {
        unsigned char c = (unsigned char)t[p->pos];
        if (c == '"') {
            p->d->tok[i].end = p->pos;
            p->d->tok[i].escaped = esc;
            p->d->tok[i].after = i + 1;
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return perr(p, "control character in a string");
        if (c == '\\') {
            esc = true;
            if (p->pos + 1 >= len)
                return perr(p, "unterminated escape");
            char e = t[p->pos + 1];
            if (e == 'u') {
                unsigned v;
                if (p->pos + 6 > len || hex4(t + p->pos + 2, &v) != 0)
                    return perr(p, "bad \\u escape");
                p->pos += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e))
                return perr(p, "bad escape");
            p->pos += 2;
            continue;
        }
        p->pos++;
    }
    return perr(p, "unterminated string");
}

static int parse_value(pstate *p, int depth);

static int parse_container(pstate *p, int depth, bool object) {
    if (depth >= GJ_MAX_DEPTH)
        return perr(p, "nested too deeply");
    size_t i = new_tok(p, object ? GJ_OBJECT : GJ_ARRAY);
    if (i == GJ_NONE)
        return -1;
    p->pos++;
    char close = object ? '}' : ']';
    size_t count = 0;
    skip_ws(p);
    if (p->pos < p->d->len && p->d->text[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (object) {
                if (p->pos >= p->d->len || p->d->text[p->pos] != '"')
                    return perr(p, "expected a member name");
                if (parse_string(p) != 0)
                    return -1;
                skip_ws(p);
                if (p->pos >= p->d->len || p->d->text[p->pos] != ':')
                    return perr(p, "expected ':'");
                p->pos++;
            }
            if (parse_value(p, depth + 1) != 0)
                return -1;
            count++;
            skip_ws(p);
            if (p->pos >= p->d->len)
                return perr(p, "unterminated container");
            char c = p->d->text[p->pos++];
            if (c == close)
                break;
            if (c != ',')
                return perr(p, "expected ',' or the end of the container");
        }
    }
    p->d->tok[i].end = p->pos;
    p->d->tok[i].size = count;
    p->d->tok[i].after = p->d->n;
    return 0;
}

static int parse_value(pstate *p, int depth) {
    skip_ws(p);
    const char *t = p->d->text;
    size_t len = p->d->len;
    if (p->pos >= len)
        return perr(p, "expected a value");
    char c = t[p->pos];
    if (c == '{')
        return parse_container(p, depth, true);
    if (c == '[')
        return parse_container(p, depth, false);
    if (c == '"')
        return parse_string(p);
    static const struct {
        const char *word;
        gj_type type;
    } words[] = {{"true", GJ_TRUE}, {"false", GJ_FALSE}, {"null", GJ_NULL}};
    for (size_t k = 0; k < 3; k++) {
        size_t wl = strlen(words[k].word);
        if (len - p->pos >= wl && memcmp(t + p->pos, words[k].word, wl) == 0) {
            size_t i = new_tok(p, words[k].type);
            if (i == GJ_NONE)
                return -1;
            p->pos += wl;
            p->d->tok[i].end = p->pos;
            p->d->tok[i].after = i + 1;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t i = new_tok(p, GJ_NUMBER);
        if (i == GJ_NONE)
            return -1;
        size_t s = p->pos;
        if (t[p->pos] == '-')
            p->pos++;
        size_t digits = 0;
        while (p->pos < len && t[p->pos] >= '0' && t[p->pos] <= '9') {
            p->pos++;
            digits++;
        }
        if (!digits)
            return perr(p, "bad number");
        if (p->pos < len && t[p->pos] == '.') {
            p->pos++;
            digits = 0;
            while (p->pos < len && t[p->pos] >= '0' && t[p->pos] <= '9') {
                p->pos++;
                digits++;
            }
            if (!digits)
                return perr(p, "bad number");
        }
        if (p->pos < len && (t[p->pos] == 'e' || t[p->pos] == 'E')) {
            p->pos++;
            if (p->pos < len && (t[p->pos] == '+' || t[p->pos] == '-'))
                p->pos++;
            digits = 0;
            while (p->pos < len && t[p->pos] >= '0' && t[p->pos] <= '9') {
                p->pos++;
                digits++;
            }
            if (!digits)
                return perr(p, "bad number");
        }
        p->d->tok[i].start = s;
        p->d->tok[i].end = p->pos;
        p->d->tok[i].after = i + 1;
        return 0;
    }
    return perr(p, "unexpected character");
}

int gj_parse(gj_doc *d, const char *text, size_t len, size_t max_tokens, char *err,
             size_t errlen) {
    memset(d, 0, sizeof *d);
    d->text = text;
    d->len = len;
    d->max_tokens = max_tokens ? max_tokens : 1;
    pstate p = {d, 0, err, errlen, false};
    if (parse_value(&p, 0) == 0) {
        skip_ws(&p);
        if (p.pos == len)
            return 0;
        perr(&p, "trailing characters");
    }
    gj_free(d);
    return -1;
}

void gj_free(gj_doc *d) {
    free(d->tok);
    memset(d, 0, sizeof *d);
}

static void put_utf8(az_buf *b, unsigned cp) {
    char o[4];
    if (cp < 0x80) {
        o[0] = (char)cp;
        az_buf_put(b, o, 1);
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        az_buf_put(b, o, 2);
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        az_buf_put(b, o, 3);
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        az_buf_put(b, o, 4);
    }
}

int gj_str(const gj_doc *d, size_t i, az_buf *out) {
    if (i == GJ_NONE || i >= d->n || d->tok[i].type != GJ_STRING)
        return -1;
    const gj_tok *t = &d->tok[i];
    const char *s = d->text;
    if (!t->escaped) {
        az_buf_put(out, s + t->start, t->end - t->start);
        return out->bad ? -1 : 0;
    }
    for (size_t k = t->start; k < t->end; k++) {
        if (s[k] != '\\') {
            az_buf_putc(out, s[k]);
            continue;
        }
        char e = s[++k];
        switch (e) {
        case 'b': az_buf_putc(out, '\b'); break;
        case 'f': az_buf_putc(out, '\f'); break;
        case 'n': az_buf_putc(out, '\n'); break;
        case 'r': az_buf_putc(out, '\r'); break;
        case 't': az_buf_putc(out, '\t'); break;
        case 'u': {
            unsigned cp;
            hex4(s + k + 1, &cp); /* validated by the parser */
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && k + 6 < t->end && s[k + 1] == '\\' &&
                s[k + 2] == 'u') {
                unsigned lo;
                if (hex4(s + k + 3, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    k += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* lone surrogate */
            put_utf8(out, cp);
            break;
        }
        default: az_buf_putc(out, e); break;
        }
    }
    return out->bad ? -1 : 0;
}

char *gj_strdup(const gj_doc *d, size_t i) {
    az_buf b = {0};
    b.limit = 1 << 20;
    if (gj_str(d, i, &b) != 0 || (b.p && strlen(b.p) != b.len)) {
        az_buf_free(&b);
        return NULL;
    }
    if (!b.p) {
        char *e = malloc(1);
        if (e)
            e[0] = 0;
        return e;
    }
    return b.p; /* handed over: the caller frees */
}

/* Compares a member name token with key (names are matched undecoded unless escaped). */
static bool name_eq(const gj_doc *d, size_t i, const char *key) {
    const gj_tok *t = &d->tok[i];
    size_t kl = strlen(key);
    if (!t->escaped)
        return t->end - t->start == kl && memcmp(d->text + t->start, key, kl) == 0;
    az_buf b = {0};
    b.limit = 4096;
    bool eq = gj_str(d, i, &b) == 0 && b.len == kl && memcmp(b.p ? b.p : "", key, kl) == 0;
    az_buf_free(&b);
    return eq;
}

size_t gj_get(const gj_doc *d, size_t obj, const char *key) {
    if (obj == GJ_NONE || obj >= d->n || d->tok[obj].type != GJ_OBJECT)
        return GJ_NONE;
    size_t i = obj + 1;
    for (size_t m = 0; m < d->tok[obj].size; m++) {
        size_t v = i + 1;
        if (name_eq(d, i, key))
            return v;
        i = d->tok[v].after;
    }
    return GJ_NONE;
}

int gj_u64(const gj_doc *d, size_t i, uint64_t *out) {
    if (i == GJ_NONE || i >= d->n)
        return -1;
    const gj_tok *t = &d->tok[i];
    if ((t->type != GJ_NUMBER && t->type != GJ_STRING) || t->end == t->start)
        return -1;
    uint64_t v = 0;
    for (size_t k = t->start; k < t->end; k++) {
        char c = d->text[k];
        if (c < '0' || c > '9')
            return -1;
        uint64_t dg = (uint64_t)(c - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && dg > UINT64_MAX % 10))
            return -1;
        v = v * 10 + dg;
    }
    *out = v;
    return 0;
}

/* ---- GCS documents ---- */

#define GCS_MAX_NAME 4096 /* GCS allows 1,024 bytes of UTF-8 */

void gcs_page_free(gcs_page *pg) {
    free(pg->entries);
    az_buf_free(&pg->arena);
    free(pg->next_token);
    memset(pg, 0, sizeof *pg);
}

int gcs_list_parse(gcs_page *pg, const char *json, size_t len, const char *strip,
                   size_t max_entries, char *err, size_t errlen) {
    memset(pg, 0, sizeof *pg);
    gj_doc d;
    /* a page of max_entries objects with every field GCS can send is well under 64 tokens
     * per object (metadata maps aside, which the `fields` selector leaves out) */
    size_t max_tokens = (max_entries + 1) * 256 + 64;
    if (gj_parse(&d, json, len, max_tokens, err, errlen) != 0)
        return -1;
    int rc = -1;
    size_t *koff = NULL, *eoff = NULL;
    if (d.tok[0].type != GJ_OBJECT) {
        snprintf(err, errlen, "objects.list response is not a JSON object");
        goto out;
    }
    size_t items = gj_get(&d, 0, "items");
    size_t n_items = 0;
    if (items != GJ_NONE) {
        if (d.tok[items].type != GJ_ARRAY) {
            snprintf(err, errlen, "objects.list 'items' is not an array");
            goto out;
        }
        n_items = d.tok[items].size;
    }
    if (n_items > max_entries) {
        snprintf(err, errlen, "objects.list page holds %zu items, more than the %zu asked for",
                 n_items, max_entries);
        goto out;
    }
    size_t next = gj_get(&d, 0, "nextPageToken");
    if (next != GJ_NONE && d.tok[next].type != GJ_NULL) {
        pg->next_token = gj_strdup(&d, next);
        if (!pg->next_token || strlen(pg->next_token) > 8192) {
            snprintf(err, errlen, "objects.list nextPageToken is malformed or too long");
            goto out;
        }
        if (!pg->next_token[0]) {
            free(pg->next_token);
            pg->next_token = NULL;
        }
    }
    pg->arena.limit = (n_items + 1) * (GCS_MAX_NAME + 300);
    koff = calloc(n_items + 1, sizeof *koff);
    eoff = calloc(n_items + 1, sizeof *eoff);
    pg->entries = calloc(n_items + 1, sizeof *pg->entries);
    if (!koff || !eoff || !pg->entries) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t strip_len = strlen(strip);
    size_t it = items == GJ_NONE ? 0 : items + 1;
    for (size_t k = 0; k < n_items; k++, it = d.tok[it].after) {
        if (d.tok[it].type != GJ_OBJECT) {
            snprintf(err, errlen, "objects.list item is not an object");
            goto out;
        }
        size_t nm = gj_get(&d, it, "name");
        uint64_t size;
        az_buf name = {0};
        name.limit = GCS_MAX_NAME;
        if (gj_str(&d, nm, &name) != 0 || !name.p || strlen(name.p) != name.len) {
            az_buf_free(&name);
            snprintf(err, errlen, "objects.list item without a valid name");
            goto out;
        }
        if (gj_u64(&d, gj_get(&d, it, "size"), &size) != 0) {
            snprintf(err, errlen, "objects.list item '%.100s' without a valid size", name.p);
            az_buf_free(&name);
            goto out;
        }
        if (name.len <= strip_len || memcmp(name.p, strip, strip_len) != 0) {
            az_buf_free(&name);
            continue;
        }
        store_entry *e = &pg->entries[pg->n];
        koff[pg->n] = pg->arena.len;
        e->key_len = name.len - strip_len;
        az_buf_put(&pg->arena, name.p + strip_len, e->key_len + 1);
        az_buf_free(&name);
        e->size = size;
        e->mtime_ms = INT64_MIN;
        size_t up = gj_get(&d, it, "updated");
        if (up != GJ_NONE && d.tok[up].type == GJ_STRING && !d.tok[up].escaped)
            e->mtime_ms = az_parse_rfc3339(json + d.tok[up].start, d.tok[up].end - d.tok[up].start);
        eoff[pg->n] = SIZE_MAX;
        size_t et = gj_get(&d, it, "etag");
        if (et != GJ_NONE && d.tok[et].type == GJ_STRING) {
            eoff[pg->n] = pg->arena.len;
            az_buf tmp = {0};
            tmp.limit = 256;
            if (gj_str(&d, et, &tmp) == 0 && tmp.p)
                az_buf_put(&pg->arena, tmp.p, tmp.len + 1);
            else
                eoff[pg->n] = SIZE_MAX;
            az_buf_free(&tmp);
        }
        if (pg->arena.bad) {
            snprintf(err, errlen, "objects.list page too large");
            goto out;
        }
        pg->n++;
    }
    for (size_t k = 0; k < pg->n; k++) {
        pg->entries[k].key = pg->arena.p + koff[k];
        pg->entries[k].etag = eoff[k] == SIZE_MAX ? NULL : pg->arena.p + eoff[k];
    }
    rc = 0;
out:
    free(koff);
    free(eoff);
    gj_free(&d);
    if (rc != 0) {
        free(pg->entries);
        az_buf_free(&pg->arena);
        free(pg->next_token);
        memset(pg, 0, sizeof *pg);
    }
    return rc;
}

int gcs_error_parse(const char *json, size_t len, char *message, size_t mlen, char *reason,
                    size_t rlen) {
    gj_doc d;
    char err[8];
    if (mlen)
        message[0] = 0;
    if (rlen)
        reason[0] = 0;
    if (gj_parse(&d, json, len, 4096, err, sizeof err) != 0)
        return -1;
    int rc = -1;
    size_t e = gj_get(&d, 0, "error");
    if (e != GJ_NONE && d.tok[e].type == GJ_OBJECT) {
        az_buf b = {0};
        b.limit = 1024;
        if (gj_str(&d, gj_get(&d, e, "message"), &b) == 0 && b.p)
            snprintf(message, mlen, "%s", b.p);
        az_buf_reset(&b);
        size_t errs = gj_get(&d, e, "errors");
        if (errs != GJ_NONE && d.tok[errs].type == GJ_ARRAY && d.tok[errs].size > 0 &&
            gj_str(&d, gj_get(&d, errs + 1, "reason"), &b) == 0 && b.p)
            snprintf(reason, rlen, "%s", b.p);
        az_buf_free(&b);
        rc = 0;
    } else if (e != GJ_NONE && d.tok[e].type == GJ_STRING) {
        /* OAuth token endpoint: {"error":"invalid_grant","error_description":"..."} */
        az_buf b = {0};
        b.limit = 1024;
        if (gj_str(&d, e, &b) == 0 && b.p)
            snprintf(reason, rlen, "%s", b.p);
        az_buf_reset(&b);
        if (gj_str(&d, gj_get(&d, 0, "error_description"), &b) == 0 && b.p)
            snprintf(message, mlen, "%s", b.p);
        az_buf_free(&b);
        rc = 0;
    }
    gj_free(&d);
    return rc;
}
