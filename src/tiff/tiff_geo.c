/* tiff_geo.c - GeoTIFF: GeoKeyDirectory (34735) with GeoDoubleParams (34736) and
 * GeoAsciiParams (34737) into the named GeoKeys (TIFF_GEOKEYS) and geokeys_other.
 *
 * GeoKeys: a key goes to its named field only when stored as async-tiff expects it (SHORT
 * keys in the directory itself, location 0 or 34735 with one value; DOUBLE keys one value in
 * GeoDoubleParams; ASCII keys in GeoAsciiParams). Anything else - a named DOUBLE key with
 * several values, a SHORT key stored as a double, ... - keeps its full value in
 * geokeys_other (with a warning), as do ids without a name. Keys pointing outside their array,
 * into a missing or wrongly typed params tag, or with an unknown location are dropped with a
 * warning; NumberOfKeys larger than the directory is cut to what it holds (warning); a later
 * duplicate key id is ignored (warning). A directory that is not SHORT[>= 4] is not used:
 * 34735-34737 then appear in other_tags.
 */
#include "tiff_internal.h"

#include <string.h>

/* ---------------------------------------------------------------- GeoKeys */

static int geokey_of_id(unsigned id) {
    switch (id) {
#define TIFF_X_CASE(name, id, kind) \
    case id:                        \
        return TIFF_G_##name;
        TIFF_GEOKEYS(TIFF_X_CASE)
#undef TIFF_X_CASE
    }
    return -1;
}

static void geo_other(tiff_parser *p, unsigned id, unsigned type, uint64_t count,
                      const uint8_t *data, uint64_t have, const char *s, size_t sl) {
    tiff_extra *x = tiff__push_extra(p, &p->gothers, &p->ngothers, &p->capgothers);
    if (!x || !tiff__make_extra(p, x, id, type, count, data, have, 0, s, sl, 1)) {
        if (x)
            p->ngothers--;
        tiff__warn(p, "GeoKey %u: dropped, max_memory reached", id);
    }
}

/* kdd, dpd, apd: the arrays' bytes; dp / ap are only read when dpd / apd are (else NULL). */
static void parse_geokeys(tiff_parser *p, const ent *kd, const ent *dp, const ent *ap,
                          const uint8_t *kdd, const uint8_t *dpd, const uint8_t *apd) {
    size_t nshort = (size_t)kd->count;
    tiff_header *h = &p->h;
    h->has_geokeys = true;
    for (int i = 0; i < 4; i++)
        h->geokeys_header[i] = r16(p, kdd + 2 * i);
    if (h->geokeys_header[0] != 1)
        tiff__warn(p, "GeoKeyDirectory: KeyDirectoryVersion %u (expected 1)", h->geokeys_header[0]);
    size_t nkeys = h->geokeys_header[3], room = (nshort - 4) / 4;
    if (nkeys > room) {
        tiff__warn(p,
                   "GeoKeyDirectory: NumberOfKeys %zu but the directory (%zu shorts) holds %zu; "
                   "reading %zu",
                   nkeys, nshort, room, room);
        nkeys = room;
    }
    uint64_t ndbl = dpd ? dp->count : 0, nasc = apd ? ap->count : 0;
    /* key ids seen: a short list for the usual directory, a bitmap for huge ones */
    uint16_t few[64];
    uint8_t *seen = NULL;
    if (nkeys > 64) {
        seen = tiff__ar_alloc(&p->ar, 8192);
        if (!seen) {
            tiff__warn(p, "GeoKeyDirectory: dropped, max_memory reached");
            return;
        }
        memset(seen, 0, 8192);
    }
    for (size_t k = 0; k < nkeys; k++) {
        const uint8_t *kb = kdd + 8 + 8 * k;
        unsigned id = r16(p, kb), loc = r16(p, kb + 2), cnt = r16(p, kb + 4), off = r16(p, kb + 6);
        int g = geokey_of_id(id);
        tiff_kind want = g >= 0 ? tiff_geokey_infos[g].kind : TIFF_K_INT;
        int dup = 0;
        if (seen) {
            dup = (seen[id >> 3] >> (id & 7)) & 1;
            seen[id >> 3] |= (uint8_t)(1u << (id & 7));
        } else {
            for (size_t i = 0; i < k && !dup; i++)
                dup = few[i] == id;
            few[k] = (uint16_t)id;
        }
        if (dup) {
            tiff__warn(p, "GeoKey %u (index %zu): duplicate key ignored", id, k);
            continue;
        }
        if (loc == 0) {
            if (g >= 0 && want == TIFF_K_INT) {
                h->geokey[g].present = true;
                h->geokey[g].count = 1;
                h->geokey[g].u.i = off;
                continue;
            }
            if (g >= 0)
                tiff__warn(p,
                           "GeoKey %u: stored as a SHORT in the directory, expected %s; kept in "
                           "geokeys_other",
                           id, want == TIFF_K_DOUBLE ? "a DOUBLE" : "ASCII");
            uint8_t b[2];
            b[p->le ? 0 : 1] = (uint8_t)off;
            b[p->le ? 1 : 0] = (uint8_t)(off >> 8);
            geo_other(p, id, 3, 1, b, 1, NULL, 0);
            continue;
        }
        if (loc == 34735) {
            if ((uint64_t)off + cnt > nshort) {
                tiff__warn(p,
                           "GeoKey %u: values [%u, %u) outside the GeoKeyDirectory of %zu "
                           "shorts; key dropped",
                           id, off, off + cnt, nshort);
                continue;
            }
            if (g >= 0 && want == TIFF_K_INT && cnt == 1) {
                h->geokey[g].present = true;
                h->geokey[g].count = 1;
                h->geokey[g].u.i = r16(p, kdd + 2 * (size_t)off);
                continue;
            }
            if (g >= 0)
                tiff__warn(p,
                           "GeoKey %u: %u SHORTs in the directory, unexpected for this key; "
                           "kept in geokeys_other",
                           id, cnt);
            geo_other(p, id, 3, cnt, kdd + 2 * (size_t)off, cnt, NULL, 0);
            continue;
        }
        if (loc == 34736) {
            if (!dpd || (uint64_t)off + cnt > ndbl) {
                tiff__warn(p,
                           "GeoKey %u: values [%u, %u) outside GeoDoubleParams of %llu; "
                           "key dropped",
                           id, off, off + cnt, (unsigned long long)ndbl);
                continue;
            }
            if (g >= 0 && want == TIFF_K_DOUBLE && cnt == 1) {
                h->geokey[g].present = true;
                h->geokey[g].count = 1;
                h->geokey[g].u.d = tiff__item_double(p, 12, dpd + 8 * (size_t)off);
                continue;
            }
            if (g >= 0)
                tiff__warn(p,
                           "GeoKey %u: %u DOUBLEs, unexpected for this key; kept in "
                           "geokeys_other",
                           id, cnt);
            geo_other(p, id, 12, cnt, dpd + 8 * (size_t)off, cnt, NULL, 0);
            continue;
        }
        if (loc == 34737) {
            if (!apd || (uint64_t)off + cnt > nasc) {
                tiff__warn(p,
                           "GeoKey %u: values [%u, %u) outside GeoAsciiParams of %llu; "
                           "key dropped",
                           id, off, off + cnt, (unsigned long long)nasc);
                continue;
            }
            size_t n = cnt;
            const uint8_t *s = apd + off;
            if (n > 1 && s[n - 1] == '|')
                n--;
            int cp;
            size_t sl;
            char *str = tiff__decode_str(p, s, n, 0, 0, &sl, &cp);
            if (!str) {
                tiff__warn(p, "GeoKey %u: dropped, max_memory reached", id);
                continue;
            }
            if (g >= 0 && want == TIFF_K_STRING) {
                h->geokey[g].present = true;
                h->geokey[g].count = sl;
                h->geokey[g].u.str = str;
                continue;
            }
            if (g >= 0)
                tiff__warn(p,
                           "GeoKey %u: stored as ASCII, expected a number; kept in "
                           "geokeys_other",
                           id);
            geo_other(p, id, 2, cnt, NULL, n, str, sl);
            continue;
        }
        tiff__warn(p, "GeoKey %u: unsupported location tag %u; key dropped", id, loc);
    }
    tiff__sort_extras(p->gothers, p->ngothers);
    h->geokeys_other = p->gothers;
    h->n_geokeys_other = p->ngothers;
}

/* The three GeoTIFF tags of IFD 0 (NULL: absent): the directory and its params arrays are
 * read (or their needs recorded) and parsed once all three are here; unusable ones go to
 * other_tags. */
void tiff__geotiff(tiff_parser *p, const ent *kd, const ent *dp, const ent *ap) {
    int geo_ok = kd && kd->type == 3 && kd->count >= 4;
    if (kd && !geo_ok)
        tiff__warn(p,
                   "tag 34735 at %llu: GeoKeyDirectory with type %u count %llu is unusable; "
                   "kept in other_tags",
                   (unsigned long long)kd->eoff, kd->type, (unsigned long long)kd->count);
    if (geo_ok) {
        const uint8_t *kdd = NULL, *dpd = NULL, *apd = NULL;
        avail ak = AV_OK, ad = AV_OK, aa = AV_OK;
        if (kd->vsize > p->lim.max_memory)
            ak = AV_DENIED;
        else
            ak = tiff__entry_bytes(p, kd, kd->vsize, &kdd);
        if (dp) {
            if (dp->type != 12) {
                tiff__warn(p,
                           "tag 34736 at %llu: GeoDoubleParams of type %u (expected 12) not "
                           "used; kept in other_tags",
                           (unsigned long long)dp->eoff, dp->type);
                tiff__add_other(p, dp);
                ad = AV_PAST_END;
            } else if (dp->vsize > p->lim.max_memory) {
                ad = AV_DENIED;
            } else {
                ad = tiff__entry_bytes(p, dp, dp->vsize, &dpd);
            }
            if (ad == AV_DENIED || (ad == AV_PAST_END && dp->type == 12))
                tiff__warn_unavailable(p, dp, ad);
        }
        if (ap) {
            if (ap->type != 2) {
                tiff__warn(p,
                           "tag 34737 at %llu: GeoAsciiParams of type %u (expected 2) not used; "
                           "kept in other_tags",
                           (unsigned long long)ap->eoff, ap->type);
                tiff__add_other(p, ap);
                aa = AV_PAST_END;
            } else if (ap->vsize > p->lim.max_memory) {
                aa = AV_DENIED;
            } else {
                aa = tiff__entry_bytes(p, ap, ap->vsize, &apd);
            }
            if (aa == AV_DENIED || (aa == AV_PAST_END && ap->type == 2))
                tiff__warn_unavailable(p, ap, aa);
        }
        if (ak != AV_OK && ak != AV_MISSING) {
            tiff__warn_unavailable(p, kd, ak);
        } else if (ak == AV_OK && ad != AV_MISSING && aa != AV_MISSING && !p->pass_missing) {
            parse_geokeys(p, kd, dp, ap, kdd, ad == AV_OK ? dpd : NULL, aa == AV_OK ? apd : NULL);
        }
    } else {
        if (kd)
            tiff__add_other(p, kd);
        if (dp)
            tiff__add_other(p, dp);
        if (ap)
            tiff__add_other(p, ap);
    }
}
