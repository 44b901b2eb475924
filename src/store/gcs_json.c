/* gcs_json.c - the GCS documents (objects.list pages, error bodies) read with util's bounded
 * JSON reader (see gcs_json.h). */
#include "gcs_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GCS documents ---- */

#define GCS_MAX_NAME 4096 /* GCS allows 1,024 bytes of UTF-8 */

void gcs_page_free(gcs_page *pg) {
    free(pg->entries);
    free(pg->prefixes);
    ut_buf_free(&pg->arena);
    free(pg->next_token);
    memset(pg, 0, sizeof *pg);
}

int gcs_list_parse(gcs_page *pg, const char *json, size_t len, const char *strip,
                   size_t max_entries, char *err, size_t errlen) {
    memset(pg, 0, sizeof *pg);
    ut_json d;
    /* a page of max_entries objects with every field GCS can send is well under 64 tokens
     * per object (metadata maps aside, which the `fields` selector leaves out) */
    size_t max_tokens = (max_entries + 1) * 256 + 64;
    if (ut_json_parse(&d, json, len, max_tokens, err, errlen) != 0)
        return -1;
    int rc = -1;
    size_t *koff = NULL, *eoff = NULL, *poff = NULL;
    if (d.tok[0].type != UT_JSON_OBJECT) {
        snprintf(err, errlen, "objects.list response is not a JSON object");
        goto out;
    }
    size_t items = ut_json_get(&d, 0, "items");
    size_t n_items = 0;
    if (items != UT_JSON_NONE) {
        if (d.tok[items].type != UT_JSON_ARRAY) {
            snprintf(err, errlen, "objects.list 'items' is not an array");
            goto out;
        }
        n_items = d.tok[items].size;
    }
    size_t pfx = ut_json_get(&d, 0, "prefixes");
    size_t n_pfx = 0;
    if (pfx != UT_JSON_NONE) {
        if (d.tok[pfx].type != UT_JSON_ARRAY) {
            snprintf(err, errlen, "objects.list 'prefixes' is not an array");
            goto out;
        }
        n_pfx = d.tok[pfx].size;
    }
    /* GCS bounds items and prefixes together; emulators bound each alone: either way no
     * more than max_entries of each, which is what the caller's memory bound needs */
    if (n_items > max_entries || n_pfx > STORE_MAX_COMMON_PREFIXES) {
        snprintf(err, errlen, "objects.list page holds %zu items, more than the %zu asked for",
                 n_items > n_pfx ? n_items : n_pfx, max_entries);
        goto out;
    }
    size_t next = ut_json_get(&d, 0, "nextPageToken");
    if (next != UT_JSON_NONE && d.tok[next].type != UT_JSON_NULL) {
        pg->next_token = ut_json_strdup(&d, next);
        if (!pg->next_token || strlen(pg->next_token) > 8192) {
            snprintf(err, errlen, "objects.list nextPageToken is malformed or too long");
            goto out;
        }
        if (!pg->next_token[0]) {
            free(pg->next_token);
            pg->next_token = NULL;
        }
    }
    pg->arena.limit = (n_items + n_pfx + 1) * (GCS_MAX_NAME + 300);
    poff = calloc(n_pfx + 1, sizeof *poff);
    pg->prefixes = calloc(n_pfx + 1, sizeof *pg->prefixes);
    if (!poff || !pg->prefixes) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t strip0 = strlen(strip);
    size_t pt = pfx == UT_JSON_NONE ? 0 : pfx + 1;
    for (size_t k = 0; k < n_pfx; k++, pt = d.tok[pt].after) {
        ut_buf name = {0};
        name.limit = GCS_MAX_NAME;
        if (ut_json_str(&d, pt, &name) != 0 || !name.p || strlen(name.p) != name.len) {
            ut_buf_free(&name);
            snprintf(err, errlen, "objects.list prefix that is not a valid string");
            goto out;
        }
        if (name.len > strip0 && memcmp(name.p, strip, strip0) == 0) {
            poff[pg->n_prefixes++] = pg->arena.len;
            ut_buf_put(&pg->arena, name.p + strip0, name.len - strip0 + 1);
        }
        ut_buf_free(&name);
    }
    koff = calloc(n_items + 1, sizeof *koff);
    eoff = calloc(n_items + 1, sizeof *eoff);
    pg->entries = calloc(n_items + 1, sizeof *pg->entries);
    if (!koff || !eoff || !pg->entries) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t strip_len = strlen(strip);
    size_t it = items == UT_JSON_NONE ? 0 : items + 1;
    for (size_t k = 0; k < n_items; k++, it = d.tok[it].after) {
        if (d.tok[it].type != UT_JSON_OBJECT) {
            snprintf(err, errlen, "objects.list item is not an object");
            goto out;
        }
        size_t nm = ut_json_get(&d, it, "name");
        uint64_t size;
        ut_buf name = {0};
        name.limit = GCS_MAX_NAME;
        if (ut_json_str(&d, nm, &name) != 0 || !name.p || strlen(name.p) != name.len) {
            ut_buf_free(&name);
            snprintf(err, errlen, "objects.list item without a valid name");
            goto out;
        }
        if (ut_json_u64(&d, ut_json_get(&d, it, "size"), &size) != 0) {
            snprintf(err, errlen, "objects.list item '%.*s' without a valid size",
                     ut_utf8_prec(name.p, 100), name.p);
            ut_buf_free(&name);
            goto out;
        }
        if (name.len <= strip_len || memcmp(name.p, strip, strip_len) != 0) {
            ut_buf_free(&name);
            continue;
        }
        store_entry *e = &pg->entries[pg->n];
        koff[pg->n] = pg->arena.len;
        e->key_len = name.len - strip_len;
        ut_buf_put(&pg->arena, name.p + strip_len, e->key_len + 1);
        ut_buf_free(&name);
        e->size = size;
        e->mtime_ms = INT64_MIN;
        size_t up = ut_json_get(&d, it, "updated");
        if (up != UT_JSON_NONE && d.tok[up].type == UT_JSON_STRING && !d.tok[up].escaped)
            e->mtime_ms = ut_rfc3339_parse(json + d.tok[up].start, d.tok[up].end - d.tok[up].start);
        eoff[pg->n] = SIZE_MAX;
        size_t et = ut_json_get(&d, it, "etag");
        if (et != UT_JSON_NONE && d.tok[et].type == UT_JSON_STRING) {
            eoff[pg->n] = pg->arena.len;
            ut_buf tmp = {0};
            tmp.limit = 256;
            if (ut_json_str(&d, et, &tmp) == 0 && tmp.p)
                ut_buf_put(&pg->arena, tmp.p, tmp.len + 1);
            else
                eoff[pg->n] = SIZE_MAX;
            ut_buf_free(&tmp);
        }
        if (pg->arena.bad) {
            snprintf(err, errlen, "objects.list page too large");
            goto out;
        }
        pg->n++;
    }
    if (pg->arena.bad) {
        snprintf(err, errlen, "objects.list page too large");
        goto out;
    }
    for (size_t k = 0; k < pg->n_prefixes; k++)
        pg->prefixes[k] = pg->arena.p + poff[k];
    for (size_t k = 0; k < pg->n; k++) {
        pg->entries[k].key = pg->arena.p + koff[k];
        pg->entries[k].etag = eoff[k] == SIZE_MAX ? NULL : pg->arena.p + eoff[k];
    }
    rc = 0;
out:
    free(koff);
    free(eoff);
    free(poff);
    ut_json_free(&d);
    if (rc != 0) {
        free(pg->entries);
        free(pg->prefixes);
        ut_buf_free(&pg->arena);
        free(pg->next_token);
        memset(pg, 0, sizeof *pg);
    }
    return rc;
}

int gcs_error_parse(const char *json, size_t len, char *message, size_t mlen, char *reason,
                    size_t rlen) {
    ut_json d;
    char err[8];
    if (mlen)
        message[0] = 0;
    if (rlen)
        reason[0] = 0;
    if (ut_json_parse(&d, json, len, 4096, err, sizeof err) != 0)
        return -1;
    int rc = -1;
    size_t e = ut_json_get(&d, 0, "error");
    if (e != UT_JSON_NONE && d.tok[e].type == UT_JSON_OBJECT) {
        ut_buf b = {0};
        b.limit = 1024;
        if (ut_json_str(&d, ut_json_get(&d, e, "message"), &b) == 0 && b.p)
            snprintf(message, mlen, "%s", b.p);
        ut_buf_reset(&b);
        size_t errs = ut_json_get(&d, e, "errors");
        if (errs != UT_JSON_NONE && d.tok[errs].type == UT_JSON_ARRAY && d.tok[errs].size > 0 &&
            ut_json_str(&d, ut_json_get(&d, errs + 1, "reason"), &b) == 0 && b.p)
            snprintf(reason, rlen, "%s", b.p);
        ut_buf_free(&b);
        rc = 0;
    } else if (e != UT_JSON_NONE && d.tok[e].type == UT_JSON_STRING) {
        /* OAuth token endpoint: {"error":"invalid_grant","error_description":"..."} */
        ut_buf b = {0};
        b.limit = 1024;
        if (ut_json_str(&d, e, &b) == 0 && b.p)
            snprintf(reason, rlen, "%s", b.p);
        ut_buf_reset(&b);
        if (ut_json_str(&d, ut_json_get(&d, 0, "error_description"), &b) == 0 && b.p)
            snprintf(message, mlen, "%s", b.p);
        ut_buf_free(&b);
        rc = 0;
    }
    ut_json_free(&d);
    return rc;
}
