/* fanout.c - the run's listing: serial over the configured prefixes, or a bounded parallel
 * fan-out over '/'-separated prefixes, with small sibling folders coalesced into one listing
 * and, sharded, delimiter prefixes assigned to shards (fanout.h tells the rules and bounds).
 *
 * Why: a listing is a chain of pages, each waiting for the previous one's continuation
 * token; at ~50 ms a page of 1,000 keys that is 20k keys/s whatever the bandwidth. The
 * delimiter splits a tree into independent chains that can be walked at once. But a
 * delimited listing costs one request per folder: a tree of 100-key folders takes ten times
 * the requests of a serial listing, and the fan-out's gain is eaten by them. Siblings whose
 * names share a beginning (000/ ... 099/) are listed instead as one raw prefix without the
 * delimiter (tiles/10/00 = folders 000/ to 009/), 1,000 keys a page again. And a deep
 * tree (Sentinel-2: 8 levels, 13 keys a leaf) costs a round trip a level and small pages
 * when walked with the delimiter to its leaves: once there are prefixes enough to keep the
 * listings busy, each is listed whole instead (full pages), and cut when listings go idle. */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "util.h"

#define SERIAL_LISTERS 8 /* configured prefixes listed at once without fan-out */
#define PROBE_LEVELS 6   /* sharded: levels listed by every shard before keys are hashed */
#define DEPTHS 32        /* folder depths whose sizes are learnt (deeper: the last one's) */
#define MAX_RUN 256      /* most siblings in a run, however small they turn out */

typedef struct item {
    char *prefix; /* owned */
    size_t plen;  /* raw prefix in a parent: its length (the parent's direct keys are
                     dropped, its own listing gave them); 0: a prefix of its own */
    char *skip;   /* owned or NULL: keys up to this one were given (a run cut short) */
    bool run;     /* siblings coalesced: listed whole */
    bool filter;  /* sharded: keys kept by their own hash */
    size_t mlen;  /* raw prefix of a shard unit: only folders whose name is this long */
    uint64_t own; /* shard unit (units_of): its name's hash */
} item;

typedef struct slot {
    struct td_lister *l;
    store_list_req req;
    char *prefix;     /* owned; req.prefix */
    char *last_child; /* delimited: the previous page's last common prefix */
    char *skip;       /* keys up to this one were given already */
    char *stop;       /* a cut run: the folder it finishes (the rest is another listing's) */
    size_t plen;      /* raw prefix: the parent's length */
    size_t mlen;      /* raw prefix: only folders whose name is this long (a shard unit's) */
    size_t base;      /* listed whole: where the first folder level of its keys begins */
    uint64_t keys;    /* keys received (whole or delimited with no folders: the tree's size) */
    bool folders;     /* delimited: common prefixes received */
    bool active, in_flight, delimited, run, chain, filter, probe, past;
} slot;

typedef struct strvec {
    char **v;
    size_t n, cap, head;
} strvec;

struct td_lister {
    store *st;
    td_lister_ops ops;
    size_t chunk;
    unsigned max_in_flight;
    bool fanout, sorted;
    unsigned parallel;
    size_t max_frontier;
    /* the frontier: a stack, the deepest prefix on top */
    item *stack;
    size_t n, cap, peak;
    slot *slots;
    size_t n_slots;
    unsigned in_flight, delimited_active, delimited_in_flight, probes_active;
    bool stopping;
    uint64_t n_delimited, n_whole, n_groups, n_splits;
    /* keys per folder seen in runs' pages, by the folders' depth (their '/'s) */
    uint64_t seen_keys[DEPTHS], seen_folders[DEPTHS];
    /* keys under a prefix listed to its end by itself (whole, or delimited with no folders
     * in it), by the prefix's depth: how big the folders of that depth are */
    uint64_t tree_keys[DEPTHS], trees[DEPTHS];
    uint64_t kids, kid_pages; /* common prefixes received by delimited pages, and pages */
    /* page filtering scratch */
    store_entry *ent;
    store_bad_entry *bad;
    size_t ent_cap, bad_cap;
    /* sharded (fanout.h): 0 off; 1 probing level by level; 2 prefixes assigned; 3 keys
     * hashed under the last level */
    int phase;
    uint32_t sh_index, sh_count;
    size_t sh_threshold;
    unsigned level;
    strvec cur, next; /* probing: this level's prefixes, the next level's */
    item *units;      /* probing: the next level's shares (units_of), not yet assigned */
    size_t n_units, units_cap;
    size_t sh_depth; /* '/'s in the assigned prefixes */
};

static bool push(td_lister *l, const char *prefix, size_t plen, bool run, bool filter,
                 const char *skip, size_t mlen) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        item *s = realloc(l->stack, cap * sizeof *s);
        if (!s)
            return false;
        l->stack = s;
        l->cap = cap;
    }
    char *c = ut_strdup(prefix);
    char *k = ut_strdup(skip);
    if (!c || (skip && !k)) {
        free(c);
        free(k);
        return false;
    }
    l->stack[l->n++] = (item){c, plen, k, run, filter, mlen, 0};
    if (l->n > l->peak)
        l->peak = l->n;
    return true;
}

static bool vec_add(strvec *v, const char *s) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        char **a = realloc(v->v, cap * sizeof *a);
        if (!a)
            return false;
        v->v = a;
        v->cap = cap;
    }
    char *c = ut_strdup(s);
    if (!c)
        return false;
    v->v[v->n++] = c;
    return true;
}

static void vec_clear(strvec *v) {
    for (size_t i = v->head; i < v->n; i++)
        free(v->v[i]);
    v->n = v->head = 0;
}

/* Places on the frontier not promised to the delimited pages in flight. */
static size_t frontier_room(const td_lister *l) {
    size_t used = l->n + l->next.n + l->n_units + (size_t)l->delimited_in_flight * TD_FANOUT_PAGE;
    return used >= l->max_frontier ? 0 : l->max_frontier - used;
}

static char *dupn(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static size_t slashes(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '/';
    return n;
}

static bool owned(const td_lister *l, const char *s, size_t len) {
    return td_shard_hash(s, len) % l->sh_count == l->sh_index;
}

td_lister *td_lister_new(store *st, const td_lister_options *o, const td_lister_ops *ops) {
    td_lister *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->st = st;
    l->ops = *ops;
    l->chunk = o->chunk ? o->chunk : 1;
    unsigned par = o->parallel ? o->parallel : 1;
    if (par > TD_FANOUT_MAX_PARALLEL)
        par = TD_FANOUT_MAX_PARALLEL;
    l->fanout = par > 1 && store_can_delimit(st);
    /* S3, GCS and Azure list in byte order, which coalescing relies on (a raw prefix covers
     * a run of adjacent siblings); a local folder lists in directory order, and fast */
    l->sorted = strncmp(store_url(st), "file:", 5) != 0;
    l->parallel = par;
    l->max_in_flight = l->fanout ? par : SERIAL_LISTERS;
    /* delimited listings plus as many whole ones (for when the frontier is full) */
    l->n_slots = l->fanout ? 2 * (size_t)par : SERIAL_LISTERS;
    l->max_frontier = o->max_frontier ? o->max_frontier : TD_FANOUT_DEFAULT_FRONTIER;
    if (l->max_frontier < 2 * TD_FANOUT_PAGE)
        l->max_frontier = 2 * TD_FANOUT_PAGE; /* room for one page beside a full one */
    l->slots = calloc(l->n_slots, sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    bool sharded = l->fanout && o->shard_count > 1 && o->shard_index < o->shard_count;
    if (sharded) {
        l->sh_index = o->shard_index;
        l->sh_count = o->shard_count;
        l->sh_threshold = (size_t)TD_FANOUT_PREFIXES_PER_SHARD * o->shard_count;
        if (l->sh_threshold > l->max_frontier / 2)
            l->sh_threshold = l->max_frontier / 2;
        /* the levels are counted in '/'s: configured prefixes at different depths would
         * make the shards' levels differ from the keys' */
        bool same = true;
        for (size_t i = 1; i < o->n_prefixes; i++)
            same = same && slashes(o->prefixes[i]) == slashes(o->prefixes[0]);
        l->phase = same ? 1 : 3;
    }
    for (size_t i = 0; l->phase == 1 && i < o->n_prefixes; i++)
        if (!vec_add(&l->cur, o->prefixes[i])) {
            td_lister_free(l);
            return NULL;
        }
    /* reversed, so that the first configured prefix is listed first */
    for (size_t i = o->n_prefixes; l->phase != 1 && i-- > 0;)
        if (!push(l, o->prefixes[i], 0, false, l->phase == 3, NULL, 0)) {
            td_lister_free(l);
            return NULL;
        }
    l->peak = 0; /* the configured prefixes are not the fan-out's */
    return l;
}

static void release(td_lister *l, slot *s) {
    if (s->req.priv)
        store_list_free(l->st, &s->req);
    if (s->delimited)
        l->delimited_active--;
    if (s->probe)
        l->probes_active--;
    free(s->prefix);
    free(s->last_child);
    free(s->skip);
    free(s->stop);
    memset(s, 0, sizeof *s);
}

static void units_clear(td_lister *l) {
    for (size_t i = 0; i < l->n_units; i++)
        free(l->units[i].prefix);
    l->n_units = 0;
}

/* Sharded: a unit (a run of siblings or one folder, units_of) is this shard's: onto the
 * frontier, all its keys the shard's. */
static void take_unit(td_lister *l, const item *u) {
    if (u->own % l->sh_count == l->sh_index &&
        !push(l, u->prefix, u->plen, u->run, false, NULL, u->mlen))
        l->ops.error(l->ops.ud, u->prefix, STORE_E_NOMEM, "out of memory: prefix not listed", 0);
}

/* Sharded, probing: the next level's units are many enough to be shared out; the shard
 * keeps its own. */
static void assign(td_lister *l) {
    l->phase = 2;
    l->sh_depth = l->next.n ? slashes(l->next.v[0]) : 0;
    for (size_t i = l->n_units; i-- > 0;)
        take_unit(l, &l->units[i]);
    units_clear(l);
    vec_clear(&l->next);
}

/* Sharded, probing: a level is listed (its units fewer than the threshold); the next level
 * is probed if it has few folders, else this level's units are shared out if at least two
 * a shard, else every shard lists what is under it and keeps keys by their hash. */
static void level_done(td_lister *l) {
    if (l->phase != 1 || l->cur.head < l->cur.n || l->probes_active > 0)
        return;
    vec_clear(&l->cur);
    if (l->next.n == 0) {
        l->phase = 3; /* nothing deeper: every key was a direct one, hashed */
        return;
    }
    /* a next level of few folders is probed (every shard lists them: cheap); a wide one
     * is not: this level's units are shared out if two a shard (the shards' loads vary
     * more), else every shard lists what is under it and keeps keys by their hash */
    bool probe = l->level + 1 < PROBE_LEVELS && l->next.n < l->sh_threshold;
    if (!probe && l->n_units >= 2 * (size_t)l->sh_count) {
        assign(l);
        return;
    }
    if (!probe) { /* every shard lists the units (they hold the same keys as the folders) */
        l->phase = 3;
        for (size_t i = l->n_units; i-- > 0;) {
            const item *u = &l->units[i];
            if (!push(l, u->prefix, u->plen, u->run, true, NULL, u->mlen))
                l->ops.error(l->ops.ud, u->prefix, STORE_E_NOMEM,
                             "out of memory: prefix not listed", 0);
        }
        units_clear(l);
        vec_clear(&l->next);
        return;
    }
    units_clear(l);
    strvec t = l->cur;
    l->cur = l->next;
    l->next = t;
    l->level++;
}

/* Adjacent siblings c[lo..hi) (byte order, all extending the prefix listed, of length
 * pos) as spans to list: one child alone (listed with the delimiter), or a run of at most g
 * siblings sharing a beginning at least as long as the prefix listed, listed as that raw
 * prefix. A raw prefix must not reach a sibling of another page, nor a key given already
 * (guards: the previous page's last child, this page's last one when more pages follow,
 * the last key given): those are listed alone. */
typedef struct span {
    size_t lo, hi, q;
} span;

static bool guarded(const char *const *g, size_t ng, const char *c, size_t q) {
    for (size_t i = 0; i < ng; i++)
        if (g[i] && strncmp(g[i], c, q) == 0)
            return true;
    return false;
}

static size_t plan(const char *const *c, size_t lo, size_t hi, size_t pos, size_t minq, size_t g,
                   const char *const *guards, size_t ng, span *out) {
    if (hi - lo == 1) {
        if (out)
            *out = (span){lo, hi, 0};
        return 1;
    }
    size_t q = pos; /* the run's common beginning (of all: no trust in the order here) */
    for (bool same = true; same && c[lo][q]; q += same)
        for (size_t i = lo + 1; i < hi && same; i++)
            same = c[i][q] == c[lo][q];
    if (!c[lo][q]) { /* the same prefix given twice (a broken server): each alone */
        for (size_t i = lo; out && i < hi; i++)
            out[i - lo] = (span){i, i + 1, 0};
        return hi - lo;
    }
    if (hi - lo <= g && q >= minq && !guarded(guards, ng, c[lo], q)) {
        if (out)
            *out = (span){lo, hi, q};
        return 1;
    }
    size_t n = 0;
    for (size_t i = lo; i < hi;) {
        size_t j = i + 1;
        while (j < hi && c[j][q] == c[i][q])
            j++;
        n += plan(c, i, j, q + 1, minq, g, guards, ng, out ? out + n : NULL);
        i = j;
    }
    return n;
}

static size_t depth_of(const char *s, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += s[i] == '/';
    return d < DEPTHS ? d : DEPTHS - 1;
}

/* Siblings per run at this depth: 16 until runs there are seen, then as many as make a
 * page of keys (1 = none: big folders are listed each alone). */
static size_t run_size(const td_lister *l, size_t depth) {
    if (l->seen_folders[depth] == 0)
        return TD_FANOUT_GROUP;
    uint64_t per = l->seen_keys[depth] / l->seen_folders[depth];
    uint64_t g = per ? TD_FANOUT_PAGE / per : MAX_RUN;
    return g > MAX_RUN ? MAX_RUN : (size_t)g;
}

/* A run's page: how many sibling folders its keys fall in (their sizes, for run_size). */
static size_t folders_in(const slot *s, const store_entry *e, size_t n) {
    size_t f = 0;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].key_len < s->base)
            continue;
        const char *k = e[i].key + s->base;
        const char *sl = memchr(k, '/', e[i].key_len - s->base);
        if (!sl)
            continue; /* the parent's own key */
        size_t len = (size_t)(sl - k);
        if (!prev || len != prev_len || memcmp(prev, k, len) != 0)
            f++;
        prev = k;
        prev_len = len;
    }
    return f;
}

static size_t active_slots(const td_lister *l) {
    size_t n = 0;
    for (size_t i = 0; i < l->n_slots; i++)
        n += l->slots[i].active;
    return n;
}

/* A delimited page's common prefixes onto the frontier: on a store that lists in byte
 * order, adjacent siblings coalesced into runs (plan) when they are at least `parallel`,
 * or the runs and the listings waiting or active keep `parallel` listings busy; else each
 * alone. A run that turns
 * out long is cut when listings are idle (on_page), so coalescing costs no parallelism. */
static void add_children(td_lister *l, slot *s, const char *const *all, size_t k_all, bool done) {
    size_t pos = strlen(s->prefix);
    size_t parent = s->plen ? s->plen : pos;
    const char **cp = malloc(k_all * sizeof *cp);
    if (!cp) {
        l->ops.error(l->ops.ud, s->prefix, STORE_E_NOMEM, "out of memory: prefixes lost", 0);
        return;
    }
    /* after a cut run: children wholly given are dropped, the one it stopped in goes on
     * past the last key given */
    size_t k = 0;
    for (size_t i = 0; i < k_all; i++) {
        const char *c = all[i];
        if (s->skip && strcmp(c, s->skip) < 0 && strncmp(s->skip, c, strlen(c)) != 0)
            continue;
        if (s->mlen && strlen(c) != s->plen + s->mlen + 1)
            continue; /* not a folder of this shard unit (another unit's) */
        cp[k++] = c;
    }
    span *sp = NULL;
    size_t m = 0;
    size_t g = run_size(l, depth_of(s->prefix, parent));
    if (l->sorted && k > 1 && g > 1) {
        const char *guards[3] = {s->last_child, done ? NULL : cp[k - 1], s->skip};
        m = plan(cp, 0, k, pos, pos, g, guards, 3, NULL);
        /* fewer siblings than listings may run, and too little besides: they may be big,
         * each alone (a run would be cut at once, costing a round trip) */
        if (m < k && (k >= l->parallel || active_slots(l) + l->n + m >= l->parallel)) {
            sp = malloc(m * sizeof *sp);
            if (sp)
                plan(cp, 0, k, pos, pos, g, guards, 3, sp);
        }
    }
    /* reversed: the first child is on top, listed next (depth-first, in key order) */
    size_t n = sp ? m : k;
    for (size_t i = n; i-- > 0;) {
        size_t lo = sp ? sp[i].lo : i;
        const char *name = cp[lo];
        char *run = NULL;
        if (sp && sp[i].hi - lo > 1) {
            run = dupn(name, sp[i].q); /* the run's raw prefix */
            name = run;
        }
        const char *skip =
            s->skip && strncmp(s->skip, cp[lo], strlen(cp[lo])) == 0 ? s->skip : NULL;
        if (!name ||
            !push(l, name, run ? parent : 0, run != NULL, s->filter, skip, run ? s->mlen : 0))
            l->ops.error(l->ops.ud, cp[lo], STORE_E_NOMEM, "out of memory: prefix not listed", 0);
        free(run);
    }
    free(sp);
    if (!done && k_all > 0) {
        free(s->last_child);
        s->last_child = ut_strdup(all[k_all - 1]); /* NULL when out of memory: no guard */
    }
    free(cp);
}

/* The page's entries a slot keeps: a run drops its parent's direct keys (the parent's own
 * listing gave them); a key-hashed listing drops other shards' keys (a folder that could
 * not be read is kept: it may hide keys of any shard). */
static bool keep(const slot *s, const char *key, size_t len, bool dir) {
    if (s->plen && len >= s->plen && !memchr(key + s->plen, '/', len - s->plen))
        return false;
    if (s->mlen && (len <= s->plen + s->mlen || key[s->plen + s->mlen] != '/' ||
                    memchr(key + s->plen, '/', s->mlen)))
        return false; /* a shard unit's raw prefix: a folder of another unit */
    if (s->skip && strcmp(key, s->skip) <= 0)
        return false;
    if (s->stop && strncmp(key, s->stop, strlen(s->stop)) != 0)
        return false;
    return !s->filter || dir || owned(s->l, key, len);
}

static bool grow(void **a, size_t *cap, size_t n, size_t size) {
    if (n <= *cap)
        return true;
    void *p = realloc(*a, n * size);
    if (!p)
        return false;
    *a = p;
    *cap = n;
    return true;
}

static void deliver(td_lister *l, slot *s, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad) {
    if (s->stop && n > 0 && strncmp(e[n - 1].key, s->stop, strlen(s->stop)) != 0)
        s->past = true; /* the cut run has left its folder: it ends here */
    if (!s->plen && !s->filter && !s->skip && !s->stop) {
        l->ops.page(l->ops.ud, e, n, bad, n_bad);
        return;
    }
    if (!grow((void **)&l->ent, &l->ent_cap, n, sizeof *e) ||
        !grow((void **)&l->bad, &l->bad_cap, n_bad, sizeof *bad)) {
        l->ops.error(l->ops.ud, s->prefix, STORE_E_NOMEM, "out of memory: page dropped", 0);
        return;
    }
    size_t ne = 0, nb = 0;
    for (size_t i = 0; i < n; i++)
        if (keep(s, e[i].key, e[i].key_len, false))
            l->ent[ne++] = e[i];
    for (size_t i = 0; i < n_bad; i++) {
        size_t kl = strlen(bad[i].key);
        if (keep(s, bad[i].key, kl, kl > 0 && bad[i].key[kl - 1] == '/'))
            l->bad[nb++] = bad[i];
    }
    l->ops.page(l->ops.ud, l->ent, ne, l->bad, nb);
}

/* Sharded, probing: a probe page's common prefixes as units to share out: its runs of
 * siblings (plan, with the fixed TD_FANOUT_GROUP and the page bounds as guards, so that
 * every shard cuts the same runs from the same pages) and its folders alone, on a store
 * that lists in order; each folder alone on the others. Coalescing a shard's share is not
 * possible later (its folders are not adjacent): hence runs are the units; a run is never
 * the whole parent, so that a deeper level has more units. While probing,
 * the folders are kept for the next level too. */
static void units_of(td_lister *l, slot *s, const char *const *cp, size_t k, bool done) {
    size_t pos = strlen(s->prefix);
    const char *guards[3] = {s->last_child, done ? NULL : (k ? cp[k - 1] : NULL), NULL};
    for (size_t i = 0; i < k;) {
        guards[2] = i ? cp[i - 1] : NULL; /* a longer unit's folders before: not covered */
        /* the unit: the folder's name but its last character (000/ ... 009/: "00") */
        size_t ul = strlen(cp[i]) - 2;
        if (ul < pos)
            ul = pos; /* a name of one character: the unit of such names under the parent */
        /* the folders of the page under that raw prefix (contiguous: byte order) */
        size_t j = i + 1, members = 1;
        while (l->sorted && j < k && strncmp(cp[j], cp[i], ul) == 0) {
            members += strlen(cp[j]) == ul + 2;
            j++;
        }
        /* listed as one raw prefix when it holds only this unit's folders, at least two,
         * none on another page of the parent (guards); else each folder alone, still the
         * unit's (its shard by the unit's name) */
        bool raw = l->sorted && strlen(cp[i]) == ul + 2 && members == j - i && members > 1 &&
                   !guarded(guards, 3, cp[i], ul);
        size_t n = raw ? 1 : j - i;
        for (size_t t = 0; t < n; t++) {
            const char *c = cp[i + t];
            char *name = raw ? dupn(c, ul) : ut_strdup(c);
            size_t cul = strlen(c) >= pos + 2 ? strlen(c) - 2 : pos;
            if (cul < pos)
                cul = pos;
            item u = {name,
                      raw ? pos : 0,
                      NULL,
                      raw,
                      false,
                      raw ? ul + 1 - pos : 0,
                      td_shard_hash(c, cul)};
            if (name && l->phase != 1) {
                take_unit(l, &u); /* assigned meanwhile: this shard's units only */
                free(name);
                continue;
            }
            if (name && l->n_units == l->units_cap) {
                size_t cap = l->units_cap ? 2 * l->units_cap : 64;
                item *a = realloc(l->units, cap * sizeof *a);
                if (a) {
                    l->units = a;
                    l->units_cap = cap;
                }
            }
            if (!name || l->n_units == l->units_cap) {
                free(name);
                l->ops.error(l->ops.ud, c, STORE_E_NOMEM, "out of memory: prefix not listed", 0);
                continue;
            }
            l->units[l->n_units++] = u;
        }
        i = raw ? j : i + n;
    }
    /* a level of as many folders as the threshold is not probed: no need to keep more */
    for (size_t i = 0; l->phase == 1 && i < k && l->next.n < l->sh_threshold; i++)
        if (!vec_add(&l->next, cp[i]))
            l->ops.error(l->ops.ud, cp[i], STORE_E_NOMEM, "out of memory: prefix not listed", 0);
    if (!done && k > 0) {
        free(s->last_child);
        s->last_child = ut_strdup(cp[k - 1]);
    }
    if (l->phase == 1 && l->n_units >= l->sh_threshold)
        assign(l);
}

/* Cuts run s after its last key: the folder F that key is in stays s's (stop), the rest of
 * the run goes back on the frontier, to be listed with the delimiter past F (skip: F with
 * its '/' made '0', the first string after every key under F). */
static void cut(td_lister *l, slot *s, const char *last, size_t len) {
    if (len <= s->base)
        return;
    const char *sl = memchr(last + s->base, '/', len - s->base);
    if (!sl)
        return; /* the parent's own key: nothing to cut at */
    size_t fl = (size_t)(sl - last) + 1;
    char *f = dupn(last, fl);
    char *skip = dupn(last, fl);
    if (f && skip) {
        skip[fl - 1] = '0';
        if (push(l, s->prefix, s->plen, false, s->filter, skip, s->mlen)) {
            s->stop = f;
            f = NULL;
            l->n_splits++;
        }
    }
    free(f);
    free(skip);
}

/* A prefix listed whole is cut when idle unless the prefixes of its depth are known to end
 * within a page of where it is: the cut would cost a round trip (the delimited listing of
 * the rest) and a request, for one page. */
static bool long_chain(const td_lister *l, const slot *s) {
    size_t d = depth_of(s->prefix, strlen(s->prefix));
    return !l->trees[d] || l->tree_keys[d] / l->trees[d] > s->keys + TD_FANOUT_PAGE;
}

static void on_page(store_list_req *req, int status, const store_entry *e, size_t n,
                    const store_bad_entry *bad, size_t n_bad, bool done) {
    slot *s = req->data;
    td_lister *l = s->l;
    s->in_flight = false;
    l->in_flight--;
    if (s->delimited)
        l->delimited_in_flight--;
    if (!l->stopping) {
        deliver(l, s, e, n, bad, n_bad);
        /* a prefix no longer than the one listed would be listed again forever: only a
         * broken server sends it */
        const char **cp = malloc((req->n_common_prefixes + 1) * sizeof *cp);
        size_t k = 0;
        for (size_t i = 0; cp && i < req->n_common_prefixes; i++) {
            if (strlen(req->common_prefixes[i]) <= strlen(req->prefix))
                l->ops.error(l->ops.ud, req->common_prefixes[i], STORE_E_PROTOCOL,
                             "the store returned a common prefix that does not extend the "
                             "prefix listed",
                             req->attempts);
            else
                cp[k++] = req->common_prefixes[i];
        }
        if (!cp && req->n_common_prefixes)
            l->ops.error(l->ops.ud, req->prefix, STORE_E_NOMEM, "out of memory: prefixes lost", 0);
        if (s->probe) {
            units_of(l, s, cp, k, done || status < 0);
        } else if (k) {
            add_children(l, s, cp, k, done || status < 0);
        }
        free(cp);
        s->keys += n;
        s->folders = s->folders || req->n_common_prefixes > 0;
        if (s->delimited) {
            l->kids += req->n_common_prefixes;
            l->kid_pages++;
        }
        size_t folders = 0;
        if ((s->run || s->chain) && n > 0)
            folders = folders_in(s, e, n);
        if (s->run && n > 0) {
            size_t d = depth_of(s->prefix, s->plen);
            l->seen_keys[d] += n;
            l->seen_folders[d] += folders;
        }
        /* a run with more pages, whose page fell in one folder (big folders) or while
         * listings are idle, is cut: it finishes the folder it is in, and its raw prefix
         * is listed again with the delimiter past that folder, which splits the rest */
        bool idle = l->n == 0 && l->cur.head == l->cur.n && active_slots(l) < l->parallel;
        bool more = !s->stop && !s->past && !done && status >= 0 && n > 0;
        if (more && ((s->run && (idle || folders <= 1)) ||
                     (s->chain && (idle || folders == 1) && long_chain(l, s))))
            cut(l, s, e[n - 1].key, e[n - 1].key_len);
        if (status < 0 && status != STORE_E_CANCELED)
            l->ops.error(l->ops.ud, req->prefix, status,
                         req->errmsg[0] ? req->errmsg : store_strerror(status), req->attempts);
    }
    if (done || status < 0 || l->stopping || s->past) {
        /* a prefix listed to its end by itself: its tree's size, for chains() */
        if (done && status >= 0 && !s->run && !s->plen && !s->skip && !s->stop &&
            !(s->delimited && s->folders)) {
            size_t d = depth_of(s->prefix, strlen(s->prefix));
            l->tree_keys[d] += s->keys;
            l->trees[d]++;
        }
        if (done)
            s->req.priv = NULL; /* the store freed its cursor */
        release(l, s);
        level_done(l);
    }
    l->ops.after(l->ops.ud);
}

static void start_page(td_lister *l, slot *s) {
    s->in_flight = true;
    l->in_flight++;
    if (s->delimited)
        l->delimited_in_flight++;
    int rc = store_list_next(l->st, &s->req);
    if (rc < 0) {
        s->in_flight = false;
        l->in_flight--;
        if (s->delimited)
            l->delimited_in_flight--;
        l->ops.error(l->ops.ud, s->prefix, rc,
                     s->req.errmsg[0] ? s->req.errmsg : store_strerror(rc), 0);
        release(l, s);
        level_done(l);
    }
}

static slot *free_slot(td_lister *l) {
    for (size_t i = 0; i < l->n_slots; i++)
        if (!l->slots[i].active)
            return &l->slots[i];
    return NULL;
}

static void setup(td_lister *l, slot *s, char *prefix, size_t plen, bool filter, bool delimited) {
    memset(s, 0, sizeof *s);
    s->run = plen > 0 && !delimited;
    s->chain = !delimited && plen == 0 && l->fanout && l->sorted;
    s->base = plen ? plen : strlen(prefix);
    s->l = l;
    s->active = true;
    s->delimited = delimited;
    s->filter = filter;
    s->plen = plen;
    s->prefix = prefix;
    s->req.prefix = s->prefix;
    s->req.delimiter = delimited ? "/" : NULL;
    s->req.page_size = delimited && l->chunk > TD_FANOUT_PAGE ? TD_FANOUT_PAGE : l->chunk;
    s->req.cb = on_page;
    s->req.data = s;
    if (delimited) {
        l->delimited_active++;
        l->n_delimited++;
    } else {
        l->n_whole++;
        l->n_groups += s->run;
    }
}

/* Takes the frontier's top into a free slot: listed with the delimiter or whole (a run of
 * siblings is always listed whole). */
static slot *take(td_lister *l, bool delimited) {
    slot *s = free_slot(l);
    if (!s)
        return NULL;
    item it = l->stack[--l->n];
    setup(l, s, it.prefix, it.plen, it.filter, delimited && !it.run);
    s->skip = it.skip;
    s->mlen = it.mlen;
    return s;
}

/* Sharded, probing: this level's next prefix, listed with the delimiter by every shard. */
static slot *take_probe(td_lister *l) {
    slot *s = free_slot(l);
    if (!s)
        return NULL;
    setup(l, s, l->cur.v[l->cur.head], 0, true, true);
    l->cur.v[l->cur.head++] = NULL;
    s->probe = true;
    l->probes_active++;
    return s;
}

/* The frontier and the listings hold enough prefixes to keep `parallel` chains busy: the
 * next one is listed whole, full pages, instead of level by level (a delimited listing costs
 * a round trip per level, and small leaves make small pages). A chain that turns out long
 * is cut when listings go idle (on_page). A prefix past a cut is listed with the delimiter
 * (listing it whole would list again what was given). */
static bool chains(const td_lister *l) {
    const item *t = &l->stack[l->n - 1];
    if (!l->sorted || t->skip)
        return false;
    /* the prefixes waiting, the listings, and the folders the delimited pages in flight
     * are expected to bring (as many as those pages brought on average); the first two
     * at least half of them (a guess alone would make a few long chains of big folders) */
    uint64_t coming = l->kid_pages ? l->delimited_in_flight * l->kids / l->kid_pages : 0;
    size_t here = l->n + active_slots(l);
    if (here + coming >= l->parallel && 2 * here >= l->parallel)
        return true;
    /* folders of this depth hold at most two pages: listing one with the delimiter would
     * cost as many round trips as listing it whole, and more requests */
    size_t d = depth_of(t->prefix, strlen(t->prefix));
    return l->trees[d] > 0 && l->tree_keys[d] / l->trees[d] <= 2 * TD_FANOUT_PAGE;
}

void td_lister_pump(td_lister *l) {
    while (!l->stopping && l->in_flight < l->max_in_flight && l->ops.room(l->ops.ud) >= l->chunk) {
        /* a listing between pages goes on first (a delimited one only if its page's
         * prefixes have room), else the next prefix starts */
        slot *pick = NULL;
        for (size_t i = 0; i < l->n_slots && !pick; i++) {
            slot *s = &l->slots[i];
            if (s->active && !s->in_flight && (!s->delimited || frontier_room(l) >= TD_FANOUT_PAGE))
                pick = s;
        }
        bool fits = frontier_room(l) + 1 >= TD_FANOUT_PAGE;
        if (!pick && l->cur.head < l->cur.n && fits && l->delimited_active < l->parallel)
            pick = take_probe(l);
        if (!pick && l->n > 0) {
            if (!l->fanout || chains(l))
                pick = take(l, false);
            else if (l->delimited_active < l->parallel && fits)
                pick = take(l, true);
            else if (frontier_room(l) < TD_FANOUT_PAGE)
                pick = take(l, false); /* the frontier is full: drain it */
        }
        if (!pick)
            break;
        start_page(l, pick);
    }
}

uint64_t td_lister_reserved(const td_lister *l) { return (uint64_t)l->in_flight * l->chunk; }

bool td_lister_busy(const td_lister *l) { return l->in_flight > 0; }

bool td_lister_done(const td_lister *l) {
    if (l->n > 0 || l->in_flight > 0 || l->cur.head < l->cur.n || l->next.n > 0 || l->n_units)
        return false;
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i].active)
            return false;
    return true;
}

bool td_lister_partitions(const td_lister *l) { return l->phase != 0; }

size_t td_lister_shard_depth(const td_lister *l) { return l->phase == 2 ? l->sh_depth : 0; }

void td_lister_stop(td_lister *l) {
    l->stopping = true;
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i].active && !l->slots[i].in_flight)
            release(l, &l->slots[i]);
}

void td_lister_counts(const td_lister *l, uint64_t *delimited, uint64_t *whole,
                      size_t *frontier_peak) {
    *delimited = l->n_delimited;
    *whole = l->n_whole;
    *frontier_peak = l->peak;
}

uint64_t td_lister_groups(const td_lister *l) { return l->n_groups; }

uint64_t td_lister_splits(const td_lister *l) { return l->n_splits; }

void td_lister_free(td_lister *l) {
    if (!l)
        return;
    for (size_t i = 0; l->slots && i < l->n_slots; i++)
        if (l->slots[i].active)
            release(l, &l->slots[i]);
    for (size_t i = 0; i < l->n; i++) {
        free(l->stack[i].prefix);
        free(l->stack[i].skip);
    }
    vec_clear(&l->cur);
    vec_clear(&l->next);
    units_clear(l);
    free(l->units);
    free(l->cur.v);
    free(l->next.v);
    free(l->stack);
    free(l->slots);
    free(l->ent);
    free(l->bad);
    free(l);
}
