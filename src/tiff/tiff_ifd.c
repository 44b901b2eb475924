/* tiff_ifd.c - IFD 0: the file header (byte order, classic / BigTIFF), the entry count and
 * entries, decoding each entry (type, count, inline or out-of-line value, tifffile's rules for
 * unusable ones), named fields (TIFF_FIELDS) and other_tags. Hands the GeoTIFF tags to
 * tiff_geo.c and the next-IFD pointer to tiff_chain.c.
 */
#include "tiff_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tag tables */

static int field_of_tag(unsigned tag) {
    switch (tag) {
#define TIFF_X_CASE(name, tag, kind) \
    case tag:                        \
        return TIFF_F_##name;
        TIFF_FIELDS(TIFF_X_CASE)
#undef TIFF_X_CASE
    }
    return -1;
}

/* Tags tifffile reads through a special reader: it takes their value field as an offset even
 * when the value would fit inline, and drops the entry when that offset is < 8 or past the
 * end. Mirrored so the same entries survive (the raw inline value is still what we report). */
static int tifffile_reader_tag(unsigned tag) {
    switch (tag) {
    case 301:
    case 320:
    case 33723:
    case 33628:
    case 33629:
    case 33630:
    case 33631:
    case 34118:
    case 34361:
    case 34362:
    case 34363:
    case 34386:
    case 34412:
    case 34680:
    case 34682:
    case 37706:
    case 37724:
    case 33923:
    case 43314:
    case 40100:
    case 50288:
    case 50296:
    case 50839:
    case 51123:
    case 33471:
    case 33560:
    case 34665:
    case 34853:
    case 40965:
    case 65426:
    case 65432:
    case 65439:
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- IFD 0 entries */

static void note_end(tiff_parser *p, uint64_t end) {
    if (end > p->meta_end)
        p->meta_end = end;
}

/* Bytes of an entry's value (at most `want` bytes from its start). */
avail tiff__entry_bytes(tiff_parser *p, const ent *e, uint64_t want, const uint8_t **out) {
    if (want > e->vsize)
        want = e->vsize;
    if (e->inl) {
        *out = e->field;
        return AV_OK;
    }
    avail a = tiff__get(p, e->voff, want, out, 1);
    if (a == AV_OK)
        note_end(p, e->voff + want);
    return a;
}

void tiff__warn_unavailable(tiff_parser *p, const ent *e, avail a) {
    if (a == AV_DENIED)
        tiff__warn(p,
                   "tag %u at %llu: value at %llu (%llu bytes) not fetched (max_fetch_bytes, "
                   "max_memory or not delivered); entry dropped",
                   e->tag, (unsigned long long)e->eoff, (unsigned long long)e->voff,
                   (unsigned long long)e->vsize);
    else if (a == AV_PAST_END)
        tiff__warn(p, "tag %u at %llu: invalid value offset %llu (past the end); entry dropped",
                   e->tag, (unsigned long long)e->eoff, (unsigned long long)e->voff);
}

/* Store an unnamed (or unusable named) entry in other_tags, reading only what the text cap
 * can show. */
void tiff__add_other(tiff_parser *p, const ent *e) {
    uint64_t isz = item_size(e->type);
    uint64_t items = p->lim.max_tag_text / 2 + 1; /* each item takes >= 2 chars of text */
    if (e->type == 2)
        items = p->lim.max_tag_text + 1;
    if (items > e->count)
        items = e->count;
    const uint8_t *d;
    avail a = tiff__entry_bytes(p, e, items * isz, &d);
    if (a == AV_MISSING)
        return;
    if (a != AV_OK) {
        tiff__warn_unavailable(p, e, a);
        return;
    }
    if (p->pass_missing)
        return; /* output of this pass is discarded anyway */
    tiff_extra *x = tiff__push_extra(p, &p->others, &p->nothers, &p->capothers);
    if (!x)
        goto nomem;
    const char *s = NULL;
    size_t sl = 0;
    if (e->type == 2) {
        int cp;
        s = tiff__decode_str(p, d, (size_t)items, 1, items < e->count, &sl, &cp);
        if (!s) {
            p->nothers--;
            goto nomem;
        }
    }
    if (!tiff__make_extra(p, x, e->tag, e->type, e->count, d, items, items < e->count, s, sl, 0)) {
        p->nothers--;
        goto nomem;
    }
    return;
nomem:
    tiff__warn(p, "tag %u at %llu: dropped, max_memory reached", e->tag,
               (unsigned long long)e->eoff);
}

/* Named field: returns 1 if the entry's type/count suit the field (value stored or waiting),
 * 0 if it must go to other_tags instead. */
static int set_named(tiff_parser *p, const ent *e, int fid) {
    tiff_kind kind = tiff_field_infos[fid].kind;
    unsigned t = e->type;
    tiff_value *v = &p->h.field[fid];
    switch (kind) {
    case TIFF_K_COUNT:
        v->present = true;
        v->count = 1;
        v->u.i = (int64_t)e->count;
        return 1;
    case TIFF_K_INT:
        if (!type_is_int(t) || e->count == 0)
            return 0;
        break;
    case TIFF_K_INT_LIST:
        if (!type_is_int(t))
            return 0;
        break;
    case TIFF_K_DOUBLE:
        if (t == 2 || t == 7 || e->count == 0)
            return 0;
        break;
    case TIFF_K_DOUBLE_LIST:
        if (t == 2 || t == 7)
            return 0;
        break;
    case TIFF_K_STRING:
        if (t != 2)
            return 0;
        break;
    case TIFF_K_BINARY:
        if (t != 1 && t != 7 && t != 6)
            return 0;
        break;
    }
    uint64_t vsize = e->vsize;
    if ((kind == TIFF_K_INT || kind == TIFF_K_DOUBLE) && e->count > 1) {
        /* a scalar field with several values: the first one is used (as tifffile's readers
           and the corpus do) */
        tiff__warn(p, "tag %u at %llu: %llu values for a single-valued field, the first is used",
                   e->tag, (unsigned long long)e->eoff, (unsigned long long)e->count);
        vsize = item_size(t);
    }
    if (vsize > p->lim.max_memory) {
        tiff__warn(p, "tag %u at %llu: value of %llu bytes exceeds max_memory; dropped", e->tag,
                   (unsigned long long)e->eoff, (unsigned long long)e->vsize);
        return 1;
    }
    const uint8_t *d;
    avail a = tiff__entry_bytes(p, e, vsize, &d);
    if (a == AV_MISSING)
        return 1;
    if (a != AV_OK) {
        tiff__warn_unavailable(p, e, a);
        return 1;
    }
    if (p->pass_missing)
        return 1;
    unsigned isz = item_size(t);
    size_t cnt = (size_t)e->count;
    switch (kind) {
    case TIFF_K_INT:
        v->u.i = tiff__item_int(p, t, d);
        v->count = 1;
        v->present = true;
        break;
    case TIFF_K_INT_LIST: {
        int64_t *a64 = tiff__ar_alloc(&p->ar, cnt * sizeof *a64);
        if (!a64)
            goto nomem;
        for (size_t i = 0; i < cnt; i++)
            a64[i] = tiff__item_int(p, t, d + i * isz);
        v->u.ints = a64;
        v->count = cnt;
        v->present = true;
        break;
    }
    case TIFF_K_DOUBLE:
        if ((t == 5 || t == 10) && r32(p, d + 4) == 0)
            break; /* den 0: absent */
        v->u.d = tiff__item_double(p, t, d);
        v->count = 1;
        v->present = true;
        break;
    case TIFF_K_DOUBLE_LIST: {
        double *dd = tiff__ar_alloc(&p->ar, cnt * sizeof *dd);
        if (!dd)
            goto nomem;
        for (size_t i = 0; i < cnt; i++)
            dd[i] = tiff__item_double(p, t, d + i * isz);
        v->u.dbls = dd;
        v->count = cnt;
        v->present = true;
        break;
    }
    case TIFF_K_STRING: {
        int cp;
        size_t sl;
        char *s = tiff__decode_str(p, d, cnt, 1, 0, &sl, &cp);
        if (!s)
            goto nomem;
        v->u.str = s;
        v->count = sl;
        v->present = true;
        break;
    }
    case TIFF_K_BINARY:
        v->u.bytes = d;
        v->count = cnt;
        v->present = true;
        break;
    case TIFF_K_COUNT:
        break;
    }
    return 1;
nomem:
    tiff__warn(p, "tag %u at %llu: dropped, max_memory reached", e->tag,
               (unsigned long long)e->eoff);
    return 1;
}

/* Decode entry i of an IFD at `base` (pointer to its first entry). 0 = usable. */
int tiff__decode_entry(tiff_parser *p, const uint8_t *eb, uint64_t eoff, ent *e, int report) {
    e->tag = r16(p, eb);
    e->type = r16(p, eb + 2);
    e->count = p->big ? r64(p, eb + 4) : r32(p, eb + 4);
    e->field = eb + (p->big ? 12 : 8);
    e->eoff = eoff;
    unsigned isz = item_size(e->type);
    if (!isz) {
        if (report)
            tiff__warn(p, "tag %u at %llu: invalid data type %u; entry skipped", e->tag,
                       (unsigned long long)eoff, e->type);
        return -1;
    }
    if (e->count > UINT64_MAX / isz) {
        if (report)
            tiff__warn(p,
                       "tag %u at %llu: invalid value offset (count %llu of %u-byte items "
                       "overflows); entry skipped",
                       e->tag, (unsigned long long)eoff, (unsigned long long)e->count, isz);
        return -1;
    }
    e->vsize = e->count * isz;
    int reader = tifffile_reader_tag(e->tag);
    if (e->vsize <= p->os && !reader) {
        e->inl = 1;
        e->voff = eoff + (p->big ? 12 : 8);
        return 0;
    }
    e->inl = e->vsize <= p->os;
    e->voff = roff(p, e->field);
    if (e->voff < 8 ||
        (p->size != TIFF_SIZE_UNKNOWN && (e->voff > p->size || e->vsize > p->size - e->voff))) {
        if (report)
            tiff__warn(p,
                       "tag %u at %llu: invalid value offset %llu (%llu bytes, object %llu); "
                       "entry skipped",
                       e->tag, (unsigned long long)eoff, (unsigned long long)e->voff,
                       (unsigned long long)e->vsize, (unsigned long long)p->size);
        return -1;
    }
    if (e->inl)
        e->voff = eoff + (p->big ? 12 : 8);
    return 0;
}

/* ---------------------------------------------------------------- IFD 0 */

int tiff__parse_ifd0(tiff_parser *p) {
    const uint8_t *b;
    /* reject a non-TIFF as soon as its first bytes are here, without asking for more */
    if (tiff__get(p, 0, 2, &b, 0) == AV_OK) {
        if (!(b[0] == 'I' && b[1] == 'I') && !(b[0] == 'M' && b[1] == 'M'))
            return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: byte order mark %02x%02x", b[0],
                              b[1]);
        p->le = b[0] == 'I';
        if (tiff__get(p, 2, 2, &b, 0) == AV_OK && r16(p, b) != 42 && r16(p, b) != 43)
            return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: magic number %u", r16(p, b));
    }
    avail a = tiff__get(p, 0, 8, &b, 1);
    if (a != AV_OK) {
        if (a == AV_MISSING)
            return TIFF_NEED;
        /* shorter than 8 bytes: say not_tiff when the bytes we have are no TIFF */
        uint64_t have = p->size == TIFF_SIZE_UNKNOWN ? covered_to(p, 0, 8) : p->size;
        if (have >= 2 && tiff__get(p, 0, 2, &b, 0) == AV_OK && !(b[0] == 'I' && b[1] == 'I') &&
            !(b[0] == 'M' && b[1] == 'M'))
            return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: byte order mark %02x%02x", b[0],
                              b[1]);
        if (a == AV_DENIED)
            return tiff__fail(p, TIFF_E_TRUNCATED, "header bytes [0, 8) not delivered");
        if (have == 0)
            return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: empty object");
        return tiff__fail(p, TIFF_E_TRUNCATED, "object of %llu bytes ends inside the 8-byte header",
                          (unsigned long long)have);
    }
    if (b[0] == 'I' && b[1] == 'I')
        p->le = 1;
    else if (b[0] == 'M' && b[1] == 'M')
        p->le = 0;
    else
        return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: byte order mark %02x%02x", b[0], b[1]);
    unsigned magic = r16(p, b + 2);
    if (magic == 42) {
        p->big = 0;
        p->cs = 2, p->es = 12, p->os = 4;
        p->ifd0 = r32(p, b + 4);
    } else if (magic == 43) {
        p->big = 1;
        p->cs = 8, p->es = 20, p->os = 8;
        if (r16(p, b + 4) != 8 || r16(p, b + 6) != 0)
            return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: BigTIFF offset size %u, reserved %u",
                              r16(p, b + 4), r16(p, b + 6));
        a = tiff__get(p, 8, 8, &b, 1);
        if (a == AV_MISSING)
            return TIFF_NEED;
        if (a != AV_OK)
            return tiff__fail(p, a == AV_DENIED ? TIFF_E_LIMIT : TIFF_E_TRUNCATED,
                              "object ends inside the 16-byte BigTIFF header");
        p->ifd0 = r64(p, b);
    } else {
        return tiff__fail(p, TIFF_E_NOT_TIFF, "not a TIFF: magic number %u", magic);
    }
    tiff_header *h = &p->h;
    h->little_endian = p->le;
    h->bigtiff = p->big;
    h->first_ifd_offset = p->ifd0;
    uint64_t hdr = p->big ? 16 : 8;
    note_end(p, hdr);
    uint64_t off = p->ifd0;
    if (off < hdr || (p->size != TIFF_SIZE_UNKNOWN && off >= p->size))
        return tiff__fail(p, TIFF_E_BAD_IFD, "first IFD offset %llu invalid (object of %llu bytes)",
                          (unsigned long long)off, (unsigned long long)p->size);
    a = tiff__get(p, off, p->cs, &b, 1);
    if (a == AV_MISSING)
        return TIFF_NEED;
    if (a != AV_OK)
        return tiff__fail(p, a == AV_DENIED ? TIFF_E_LIMIT : TIFF_E_TRUNCATED,
                          "IFD 0 at offset %llu: entry count past the end of the object",
                          (unsigned long long)off);
    uint64_t n = p->big ? r64(p, b) : r16(p, b);
    uint64_t avail_bytes = p->size == TIFF_SIZE_UNKNOWN ? UINT64_MAX : p->size - off - p->cs;
    if (n > avail_bytes / p->es)
        return tiff__fail(
            p, TIFF_E_TRUNCATED,
            "IFD 0 at offset %llu: entry count %llu needs %llu bytes but the "
            "object has %llu",
            (unsigned long long)off, (unsigned long long)n,
            (unsigned long long)(n <= UINT64_MAX / p->es - 1 ? n * p->es + p->cs : UINT64_MAX),
            (unsigned long long)p->size);
    uint64_t ebytes = n * p->es;
    if (ebytes > p->lim.max_fetch_bytes || ebytes > p->lim.max_memory)
        return tiff__fail(p, TIFF_E_LIMIT, "IFD 0 at offset %llu: %llu entries exceed the limits",
                          (unsigned long long)off, (unsigned long long)n);
    const uint8_t *eb;
    a = tiff__get(p, off + p->cs, ebytes, &eb, 1);
    /* the next-IFD pointer comes with the entries (for the chain walk) */
    const uint8_t *nb = NULL;
    avail an = tiff__get(p, off + p->cs + ebytes, p->os, &nb, 1);
    if (a == AV_MISSING)
        return TIFF_NEED;
    if (a != AV_OK)
        return tiff__fail(p, a == AV_DENIED ? TIFF_E_LIMIT : TIFF_E_TRUNCATED,
                          "IFD 0 at offset %llu: %llu entries not available",
                          (unsigned long long)off, (unsigned long long)n);
    note_end(p, off + p->cs + ebytes + (an == AV_OK ? p->os : 0));
    if (n == 0)
        tiff__warn(p, "IFD 0 at offset %llu has no entries", (unsigned long long)off);

    ent kd = {0}, dp = {0}, ap = {0};
    int have_kd = 0, have_dp = 0, have_ap = 0;
    unsigned last_tag = 0;
    int any = 0;
    uint8_t *seen = NULL;
    for (uint64_t i = 0; i < n; i++) {
        ent e;
        uint64_t eoff = off + p->cs + i * p->es;
        if (tiff__decode_entry(p, eb + i * p->es, eoff, &e, 1) != 0)
            continue;
        if (!seen && any && e.tag <= last_tag) {
            /* out of order: from now on track every usable tag in a bitmap */
            seen = tiff__ar_alloc(&p->ar, 8192);
            if (!seen)
                return tiff__fail(p, TIFF_E_LIMIT, "IFD 0: max_memory reached");
            memset(seen, 0, 8192);
            for (uint64_t k = 0; k < i; k++) {
                ent e2;
                if (tiff__decode_entry(p, eb + k * p->es, off + p->cs + k * p->es, &e2, 0) == 0)
                    seen[e2.tag >> 3] |= (uint8_t)(1u << (e2.tag & 7));
            }
        }
        if (seen) {
            if (seen[e.tag >> 3] & (1u << (e.tag & 7))) {
                tiff__warn(p, "tag %u at %llu: duplicate entry ignored (the first one is used)",
                           e.tag, (unsigned long long)eoff);
                continue;
            }
            seen[e.tag >> 3] |= (uint8_t)(1u << (e.tag & 7));
        }
        if (!any || e.tag > last_tag)
            last_tag = e.tag;
        any = 1;
        if (e.tag == 34735)
            kd = e, have_kd = 1;
        else if (e.tag == 34736)
            dp = e, have_dp = 1;
        else if (e.tag == 34737)
            ap = e, have_ap = 1;
        else {
            int fid = field_of_tag(e.tag);
            if (fid >= 0) {
                if (set_named(p, &e, fid)) {
                    /* async-tiff 0.1.0 has no getter for these: the Python tool has them in
                     * other_tags, so they are there too (issue 14), beside their column */
                    if (e.tag == 34264 || e.tag == 42112 || e.tag == 42113)
                        tiff__add_other(p, &e);
                    continue;
                }
                tiff__warn(p,
                           "tag %u at %llu: type %u count %llu does not suit field %s; kept in "
                           "other_tags",
                           e.tag, (unsigned long long)eoff, e.type, (unsigned long long)e.count,
                           tiff_field_infos[fid].name);
            }
            tiff__add_other(p, &e);
        }
    }
    tiff__geotiff(p, have_kd ? &kd : NULL, have_dp ? &dp : NULL, have_ap ? &ap : NULL);

    /* start the chain walk (it reads IFD 0 again, as a record) */
    (void)nb;
    if (!p->ch.started && !p->ch.done)
        return tiff__chain_start(p, off);
    return TIFF_OK;
}
