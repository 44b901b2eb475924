/* report_html.c - the page of `tiff-dumper report`: one HTML file, inline CSS and SVG, no
 * script. Everything from the data goes through td_report_html_escape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

void rp_ifd_bounds(uint64_t prefetch, uint64_t b[5]);

#define CHART_ROWS 20u /* bars drawn; the table has more */
#define TABLE_ROWS 30u

void td_report_html_escape(ut_buf *out, const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t ok = ut_utf8_valid_prefix(s + i, n - i);
        for (size_t j = i; j < i + ok; j++) {
            unsigned char c = (unsigned char)s[j];
            switch (c) {
            case '&':
                ut_buf_puts(out, "&amp;");
                break;
            case '<':
                ut_buf_puts(out, "&lt;");
                break;
            case '>':
                ut_buf_puts(out, "&gt;");
                break;
            case '"':
                ut_buf_puts(out, "&quot;");
                break;
            case '\'':
                ut_buf_puts(out, "&#39;");
                break;
            default:
                /* controls are not text: shown as \xNN (newline and tab kept) */
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                    ut_buf_printf(out, "\\x%02x", c);
                else
                    ut_buf_putc(out, (char)c);
            }
        }
        i += ok;
        if (i < n) {
            ut_buf_printf(out, "\\x%02x", (unsigned char)s[i]);
            i++;
        }
    }
}

static void esc(ut_buf *b, const char *s) {
    td_report_html_escape(b, s ? s : "", s ? strlen(s) : 0);
}

const char *td_report_compression_name(int64_t c) {
    switch (c) {
    case 1:
        return "none";
    case 2:
        return "CCITT RLE";
    case 3:
        return "CCITT Group 3";
    case 4:
        return "CCITT Group 4";
    case 5:
        return "LZW";
    case 6:
        return "JPEG (old-style)";
    case 7:
        return "JPEG";
    case 8:
        return "Deflate";
    case 32773:
        return "PackBits";
    case 32946:
        return "Deflate (PKZIP)";
    case 34661:
        return "JBIG";
    case 34712:
        return "JPEG 2000";
    case 34887:
        return "LERC";
    case 34925:
        return "LZMA";
    case 50000:
        return "ZSTD";
    case 50001:
        return "WebP";
    case 50002:
        return "JPEG XL (draft)";
    case 52546:
        return "JPEG XL";
    default:
        return NULL;
    }
}

/* A SQL string literal holding s ('' for '). */
static void sql_lit(ut_buf *b, const char *s) {
    ut_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            ut_buf_putc(b, '\'');
        ut_buf_putc(b, *s);
    }
    ut_buf_putc(b, '\'');
}

typedef struct page {
    td_report *r;
    const td_report_run *run;
    ut_buf *b;
    char heads[4096], errs[4096]; /* read_parquet('OUT/part-*.parquet') */
} page;

static void sources(page *pg) {
    const char *out = pg->run->out_shown ? pg->run->out_shown : ".";
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    ut_buf t = {0}, q = {0};
    ut_buf_put(&t, out, n);
    ut_buf_puts(&t, "/part-*.parquet");
    ut_buf_puts(&q, "read_parquet(");
    sql_lit(&q, ut_buf_str(&t));
    ut_buf_puts(&q, ")");
    snprintf(pg->heads, sizeof pg->heads, "%s", ut_buf_str(&q));
    ut_buf_reset(&t);
    ut_buf_reset(&q);
    ut_buf_put(&t, out, n);
    ut_buf_puts(&t, "/_errors/part-*.parquet");
    ut_buf_puts(&q, "read_parquet(");
    sql_lit(&q, ut_buf_str(&t));
    ut_buf_puts(&q, ")");
    snprintf(pg->errs, sizeof pg->errs, "%s", ut_buf_str(&q));
    ut_buf_free(&t);
    ut_buf_free(&q);
}

static void sql_block(page *pg, const char *sql) {
    ut_buf_puts(pg->b, "<details class=\"sql\"><summary>SQL (DuckDB)</summary><pre><code>");
    esc(pg->b, sql);
    ut_buf_puts(pg->b, "</code></pre></details>\n");
}

/* The label shown for a histogram value (the key stays in data-key). */
typedef void (*label_fn)(page *pg, const rp_ent *e, ut_buf *out);

static void label_plain(page *pg, const rp_ent *e, ut_buf *out) {
    ut_buf_put(out, e->key, e->klen);
}

static void label_compression(page *pg, const rp_ent *e, ut_buf *out) {
    const char *n = e->order >= 0 ? td_report_compression_name(e->order) : NULL;
    if (n)
        ut_buf_printf(out, "%s (%s)", n, e->key);
    else
        ut_buf_puts(out, e->key);
}

static void label_crs(page *pg, const rp_ent *e, ut_buf *out) {
    char name[256];
    ut_buf_puts(out, e->key);
    if (pg->r->o.crs_name && strcmp(e->key, "(none)") != 0 &&
        pg->r->o.crs_name(pg->r->o.crs_ud, e->key, name, sizeof name) == 0)
        ut_buf_printf(out, " %s", name);
}

static void label_lat(page *pg, const rp_ent *e, ut_buf *out) {
    if (e->order == INT64_MAX) {
        ut_buf_puts(out, "(no bbox)");
        return;
    }
    long lo = (long)e->order, hi = lo + 30;
    ut_buf_printf(out, "%ld\xc2\xb0%s to %ld\xc2\xb0%s", labs(lo),
                  lo < 0   ? "S"
                  : lo > 0 ? "N"
                           : "",
                  labs(hi),
                  hi < 0   ? "S"
                  : hi > 0 ? "N"
                           : "");
}

static void label_ifd(page *pg, const rp_ent *e, ut_buf *out) {
    ut_buf_printf(out, "%s bytes", e->key);
    if (e->order >= 0 && e->order < 5) {
        static const char *const rel[] = {"1/4", "1/2", "1\xc3\x97", "2\xc3\x97", "4\xc3\x97"};
        ut_buf_printf(out, " (\xe2\x89\xa4 %s prefetch)", rel[e->order]);
    }
}

static void fmt_pct(char *o, size_t n, uint64_t c, uint64_t total) {
    if (!total)
        snprintf(o, n, "-");
    else
        snprintf(o, n, "%.1f%%", 100.0 * (double)c / (double)total);
}

/* One histogram: a bar chart (inline SVG), the accessible table beside it, the SQL. */
static void render_hist(page *pg, int id, const char *title, const char *what, bool by_order,
                        label_fn lab, const char *sql) {
    ut_buf *b = pg->b;
    const rp_hist *h = &pg->r->h[id];
    const char *hid = rp_hist_ids[id];
    rp_ent **v = rp_sorted(h, by_order);
    size_t n = h->n;
    uint64_t max = h->other;
    for (size_t i = 0; i < n && v; i++)
        if (v[i]->count > max)
            max = v[i]->count;
    ut_buf_printf(b, "<section class=\"fig\" id=\"h-%s\"><h3>", hid);
    esc(b, title);
    ut_buf_puts(b, "</h3>");
    if (what) {
        ut_buf_puts(b, "<p class=\"what\">");
        esc(b, what);
        ut_buf_puts(b, "</p>");
    }
    ut_buf_puts(b, "<div class=\"pair\">");
    size_t bars = n < CHART_ROWS ? n : CHART_ROWS;
    if (!v || !bars) {
        ut_buf_puts(b, "<p class=\"empty\">No rows.</p>");
    } else {
        int rowh = 20, lw = 210, bw = 230;
        ut_buf_printf(b,
                      "<svg class=\"bars\" viewBox=\"0 0 %d %zu\" width=\"%d\" height=\"%zu\" "
                      "role=\"img\" aria-labelledby=\"st-%s\"><title id=\"st-%s\">",
                      lw + bw + 60, bars * (size_t)rowh + 4, lw + bw + 60, bars * (size_t)rowh + 4,
                      hid, hid);
        esc(b, title);
        ut_buf_puts(b, " (chart; the table beside it has the numbers)</title>");
        ut_buf lb = {0};
        for (size_t i = 0; i < bars; i++) {
            ut_buf_reset(&lb);
            lab(pg, v[i], &lb);
            const char *l = ut_buf_str(&lb);
            size_t ll = lb.len, cut = ut_utf8_cut(l, ll, 24);
            double w = max ? (double)bw * (double)v[i]->count / (double)max : 0;
            size_t y = i * (size_t)rowh + 2;
            ut_buf_printf(b, "<text x=\"%d\" y=\"%zu\" class=\"bl\">", lw - 6, y + 14);
            td_report_html_escape(b, l, cut);
            if (cut < ll)
                ut_buf_puts(b, "\xe2\x80\xa6");
            ut_buf_printf(b,
                          "</text><rect x=\"%d\" y=\"%zu\" width=\"%.1f\" height=\"%d\" "
                          "class=\"bar\"/><text x=\"%.1f\" y=\"%zu\" class=\"bv\">%" PRIu64
                          "</text>",
                          lw, y + 2, w < 1 && v[i]->count ? 1.0 : w, rowh - 5, lw + w + 4, y + 14,
                          v[i]->count);
        }
        ut_buf_free(&lb);
        ut_buf_puts(b, "</svg>");
    }
    ut_buf_printf(b, "<table id=\"t-%s\" data-total=\"%" PRIu64 "\"><caption>", hid, h->total);
    esc(b, title);
    ut_buf_puts(b, "</caption><thead><tr><th scope=\"col\">value</th><th scope=\"col\" "
                   "class=\"n\">count</th><th scope=\"col\" class=\"n\">share</th></tr></thead>"
                   "<tbody>");
    char pct[32];
    ut_buf lb = {0};
    uint64_t rest = h->other;
    size_t rest_n = 0;
    for (size_t i = 0; i < n && v; i++) {
        if (i >= TABLE_ROWS) {
            rest += v[i]->count;
            rest_n++;
            continue;
        }
        ut_buf_reset(&lb);
        lab(pg, v[i], &lb);
        fmt_pct(pct, sizeof pct, v[i]->count, h->total);
        ut_buf_puts(b, "<tr data-key=\"");
        td_report_html_escape(b, v[i]->key, v[i]->klen);
        ut_buf_printf(b, "\" data-count=\"%" PRIu64 "\"><th scope=\"row\">", v[i]->count);
        td_report_html_escape(b, ut_buf_str(&lb), lb.len);
        if (v[i]->n_samples) {
            ut_buf_puts(b, "<ul class=\"samples\">");
            for (size_t j = 0; j < v[i]->n_samples; j++) {
                ut_buf_puts(b, "<li><code>");
                esc(b, v[i]->samples[j]);
                ut_buf_puts(b, "</code></li>");
            }
            ut_buf_puts(b, "</ul>");
        }
        ut_buf_printf(b, "</th><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%s</td></tr>",
                      v[i]->count, pct);
    }
    ut_buf_free(&lb);
    if (rest) {
        fmt_pct(pct, sizeof pct, rest, h->total);
        ut_buf_printf(b,
                      "<tr data-key=\"(more)\" data-count=\"%" PRIu64 "\"><th scope=\"row\">"
                      "%zu more value%s%s</th><td class=\"n\">%" PRIu64
                      "</td><td class=\"n\">%s</td></tr>",
                      rest, rest_n, rest_n == 1 ? "" : "s",
                      h->other ? " (and values past the report's limit)" : "", rest, pct);
    }
    ut_buf_printf(b,
                  "</tbody><tfoot><tr><th scope=\"row\">total</th><td class=\"n\">%" PRIu64
                  "</td><td></td></tr></tfoot></table></div>",
                  h->total);
    if (sql)
        sql_block(pg, sql);
    ut_buf_puts(b, "</section>\n");
    free(v);
}

/* ---- the run, from _SUCCESS ---- */

static void json_text(ut_buf *b, const ut_json *d, size_t i) {
    if (i == UT_JSON_NONE) {
        ut_buf_puts(b, "-");
        return;
    }
    const ut_json_tok *t = &d->tok[i];
    if (t->type == UT_JSON_STRING) {
        /* the tool redacted _SUCCESS when it wrote it; the one redaction again, as for
         * everything shown that may hold a URL or a config (a file from elsewhere) */
        ut_buf s = {0}, red = {0};
        s.limit = red.limit = 1u << 20;
        if (ut_json_str(d, i, &s) == 0) {
            ut_redact_url(&red, s.p ? s.p : "", s.len);
            td_report_html_escape(b, ut_buf_str(&red), red.len);
        }
        ut_buf_free(&s);
        ut_buf_free(&red);
    } else if (t->type == UT_JSON_ARRAY) {
        size_t j = i + 1;
        for (size_t k = 0; k < t->size; k++) {
            if (k)
                ut_buf_puts(b, ", ");
            /* items quoted, so that the prefix "" (everything) shows */
            bool q = d->tok[j].type == UT_JSON_STRING;
            if (q)
                ut_buf_puts(b, "&quot;");
            json_text(b, d, j);
            if (q)
                ut_buf_puts(b, "&quot;");
            j = d->tok[j].after;
        }
    } else {
        td_report_html_escape(b, d->text + t->start, t->end - t->start);
    }
}

static double json_num(const ut_json *d, size_t i) {
    if (i == UT_JSON_NONE || d->tok[i].type != UT_JSON_NUMBER)
        return -1;
    char tmp[64];
    size_t n = d->tok[i].end - d->tok[i].start;
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, d->text + d->tok[i].start, n);
    tmp[n] = 0;
    return strtod(tmp, NULL);
}

static void run_row(ut_buf *b, const char *key, const char *label, const ut_json *d, size_t i) {
    ut_buf_printf(b, "<tr data-key=\"%s\"", key);
    if (i != UT_JSON_NONE && d->tok[i].type == UT_JSON_NUMBER) {
        ut_buf_puts(b, " data-count=\"");
        json_text(b, d, i);
        ut_buf_puts(b, "\"");
    }
    ut_buf_printf(b, "><th scope=\"row\">%s</th><td>", label);
    json_text(b, d, i);
    ut_buf_puts(b, "</td></tr>");
}

static void render_run(page *pg) {
    ut_buf *b = pg->b;
    const td_report_run *run = pg->run;
    ut_json d = {0};
    char err[128];
    bool have =
        run->success_json &&
        ut_json_parse(&d, run->success_json, run->success_len, 100000, err, sizeof err) == 0 &&
        d.n && d.tok[0].type == UT_JSON_OBJECT;
    bool summed = !run->complete && run->summary_markers;
    ut_buf_puts(b, "<section id=\"run\"><h2>The run</h2><div class=\"pair\">"
                   "<table id=\"t-run\"><caption>");
    if (summed)
        ut_buf_printf(b,
                      "What %" PRIu32 " of %" PRIu32 " shard markers say, summed as "
                      "<code>tiff-dumper finish</code> would (no _SUCCESS)",
                      run->summary_markers, run->shard_count);
    else
        ut_buf_printf(b, "What _SUCCESS says%s",
                      run->complete ? "" : " (no _SUCCESS: the run is incomplete)");
    ut_buf_puts(b, "</caption><tbody>");
    if (summed)
        ut_buf_printf(b,
                      "<tr data-key=\"markers_summed\" data-count=\"%" PRIu32
                      "\"><th scope=\"row\">shard markers summed</th><td>%" PRIu32 " of %" PRIu32
                      "</td></tr>",
                      run->summary_markers, run->summary_markers, run->shard_count);
    if (have) {
        static const char *const keys[][2] = {
            {"started", "started (UTC)"},
            {"finished", "finished (UTC)"},
            {"store", "store"},
            {"keys_from", "key list"},
            {"inventory", "inventory"},
            {"prefixes", "prefixes"},
            {"shards", "shards"},
            {"listed", "listed"},
            {"skipped", "skipped (not TIFF by name)"},
            {"dumped", "dumped (header rows)"},
            {"failed", "failed (error rows)"},
            {"requests", "requests"},
            {"bytes_fetched", "bytes fetched"},
            {"retries", "retries"},
            {"throttled", "throttled answers"},
            {"elapsed_seconds", "elapsed seconds"},
            {"headers_per_second", "headers per second"},
            {"output", "output store"},
            {"version", "tool version"},
        };
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t i = ut_json_get(&d, 0, keys[k][0]);
            if (i != UT_JSON_NONE)
                run_row(b, keys[k][0], keys[k][1], &d, i);
        }
        double el = json_num(&d, ut_json_get(&d, 0, "elapsed_seconds"));
        double by = json_num(&d, ut_json_get(&d, 0, "bytes_fetched"));
        double rq = json_num(&d, ut_json_get(&d, 0, "requests"));
        if (el > 0 && by >= 0)
            ut_buf_printf(b,
                          "<tr data-key=\"mb_per_second\"><th scope=\"row\">MB/s fetched</th>"
                          "<td>%.2f</td></tr>",
                          by / el / 1e6);
        if (el > 0 && rq >= 0)
            ut_buf_printf(b,
                          "<tr data-key=\"requests_per_second\"><th scope=\"row\">requests/s</th>"
                          "<td>%.1f</td></tr>",
                          rq / el);
    } else {
        ut_buf_puts(b, "<tr><td colspan=\"2\">No readable _SUCCESS");
        if (run->markers_note && *run->markers_note) {
            ut_buf_puts(b, "; the shard markers cannot be summed: ");
            esc(b, run->markers_note);
        }
        ut_buf_puts(b, ".</td></tr>");
    }
    ut_buf_puts(b, "</tbody></table>");
    /* What the report itself read */
    ut_buf_printf(b,
                  "<table id=\"t-read\"><caption>What this report read</caption><tbody>"
                  "<tr data-key=\"rows_headers\" data-count=\"%" PRIu64
                  "\"><th scope=\"row\">header rows</th><td>%" PRIu64 "</td></tr>"
                  "<tr data-key=\"rows_errors\" data-count=\"%" PRIu64
                  "\"><th scope=\"row\">error rows</th><td>%" PRIu64 "</td></tr>"
                  "<tr data-key=\"header_files\" data-count=\"%" PRIu64
                  "\"><th scope=\"row\">header part files</th><td>%" PRIu64 "</td></tr>"
                  "<tr data-key=\"error_files\" data-count=\"%" PRIu64
                  "\"><th scope=\"row\">error part files</th><td>%" PRIu64 "</td></tr>"
                  "<tr data-key=\"sum_requests\" data-count=\"%" PRIu64
                  "\"><th scope=\"row\">requests of the header rows</th><td>%" PRIu64 "</td></tr>"
                  "<tr data-key=\"sum_fetched_bytes\" data-count=\"%" PRIu64
                  "\"><th scope=\"row\">bytes fetched for the header rows</th><td>%" PRIu64
                  "</td></tr>",
                  pg->r->headers, pg->r->headers, pg->r->errors, pg->r->errors, run->header_files,
                  run->header_files, run->error_files, run->error_files, pg->r->requests,
                  pg->r->requests, pg->r->fetched_bytes, pg->r->fetched_bytes);
    if (run->shard_markers)
        ut_buf_printf(b,
                      "<tr data-key=\"shard_markers\" data-count=\"%u\"><th scope=\"row\">"
                      "shard markers (_SUCCESS.shard-*)</th><td>%u</td></tr>",
                      run->shard_markers, run->shard_markers);
    ut_buf_puts(b, "</tbody></table></div>");
    ut_buf q = {0};
    ut_buf_printf(&q,
                  "SELECT count(*) AS header_rows, sum(requests) AS requests,\n"
                  "       sum(fetched_bytes) AS fetched_bytes FROM %s;\n"
                  "SELECT count(*) AS error_rows FROM %s;",
                  pg->heads, pg->errs);
    sql_block(pg, ut_buf_str(&q));
    ut_buf_free(&q);
    if (have) {
        size_t c = ut_json_get(&d, 0, "config");
        if (c != UT_JSON_NONE) {
            ut_buf_puts(b, "<details class=\"config\"><summary>Config (secrets masked)"
                           "</summary><pre id=\"config\">");
            json_text(b, &d, c);
            ut_buf_puts(b, "</pre></details>");
        }
    }
    ut_buf_puts(b, "</section>\n");
    ut_json_free(&d);
}

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "color:#1d2330;background:#f6f7f9}"
    "header{background:#1d3557;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}"
    "header p{margin:4px 0 0;opacity:.85;word-break:break-all}"
    "nav{margin-top:6px;font-size:13px}nav a{color:#cfe3f5;margin-right:10px}"
    "main{padding:8px 24px 40px;max-width:1400px}"
    "h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ccd;padding-bottom:3px}"
    "h3{font-size:15px;margin:0 0 6px}"
    ".banner{background:#fdecea;border:1px solid #d9534f;color:#8a1f1b;padding:10px 14px;"
    "margin:14px 0;font-weight:600}"
    ".banner.note{background:#fff8e1;border-color:#e0a800;color:#6b4e00}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:14px}"
    "section.fig,#run,#map{background:#fff;border:1px solid #dde;border-radius:6px;"
    "padding:10px 14px}"
    ".pair{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}"
    "table{border-collapse:collapse;font-size:13px}caption{text-align:left;font-weight:600;"
    "padding-bottom:3px}"
    "th,td{padding:2px 8px;border-bottom:1px solid #eef;text-align:left;vertical-align:top}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tfoot th,tfoot td{border-top:1px solid #99a;font-weight:600}"
    ".bars .bl{font-size:12px;text-anchor:end;fill:#333}.bars .bv{font-size:11px;fill:#555}"
    ".bars .bar{fill:#457b9d}"
    ".what{margin:0 0 6px;color:#555;font-size:13px}"
    ".big{font-size:22px;font-weight:600;margin:6px 0}"
    "details.sql summary,details.config summary{cursor:pointer;color:#1d3557;font-size:12px}"
    "pre{background:#f1f3f6;padding:8px;overflow:auto;font-size:12px;max-width:100%}"
    ".samples{margin:2px 0 0 0;padding-left:16px;font-weight:400;font-size:12px;"
    "word-break:break-all;max-width:520px}"
    "#map svg{max-width:100%;height:auto}"
    "section>h2:first-child{margin-top:4px}"
    "footer{color:#777;font-size:12px;padding:0 24px 20px}";

int td_report_html(td_report *r, const td_report_run *run, ut_buf *b, char *msg, size_t cap) {
    page pg = {.r = r, .run = run, .b = b};
    sources(&pg);
    ut_buf q = {0};
    q.limit = 1u << 16;

    ut_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'; img-src data:\"><title>tiff-dumper report: ");
    esc(b, run->out_shown);
    ut_buf_printf(b,
                  "</title><style>%s</style></head>\n<body><header><h1>tiff-dumper report"
                  "</h1><p>",
                  CSS);
    esc(b, run->out_shown);
    ut_buf_puts(b, " &middot; generated ");
    esc(b, run->generated_at);
    if (run->tool_version) {
        ut_buf_puts(b, " by tiff-dumper ");
        esc(b, run->tool_version);
    }
    ut_buf_puts(b, "</p><nav aria-label=\"sections\"><a href=\"#run\">run</a> <a "
                   "href=\"#map\">footprints</a> <a href=\"#h-crs\">CRS</a> <a "
                   "href=\"#h-compression\">compression</a> <a href=\"#h-dtype\">data type</a> "
                   "<a href=\"#h-tile\">tiles</a> <a href=\"#h-cog\">COG</a> <a "
                   "href=\"#h-requests\">requests</a> <a href=\"#h-errors\">errors</a></nav>"
                   "</header><main>\n");
    if (!run->complete && run->summary_markers && run->summary_markers >= run->shard_count)
        /* every shard done, the set not completed: the data is whole, only finish is due */
        ut_buf_printf(b,
                      "<div class=\"banner note\" id=\"unfinished\" role=\"note\">Made from "
                      "%" PRIu32 " of %" PRIu32 " shard markers without _SUCCESS: every shard "
                      "is done, but <code>tiff-dumper finish</code> was not run. The run "
                      "section is the markers' sum, as finish would write it.</div>\n",
                      run->summary_markers, run->shard_count);
    else if (!run->complete && run->summary_markers) {
        ut_buf_printf(b,
                      "<div class=\"banner\" id=\"incomplete\" role=\"alert\">Incomplete run: "
                      "made from %" PRIu32 " of %" PRIu32 " shard markers without _SUCCESS "
                      "(%" PRIu32 " shard%s not done",
                      run->summary_markers, run->shard_count,
                      run->shard_count - run->summary_markers,
                      run->shard_count - run->summary_markers > 1 ? "s" : "");
        if (run->markers_note && *run->markers_note) { /* which: "missing shards 3, 11" */
            ut_buf_puts(b, ": ");
            esc(b, run->markers_note);
        }
        ut_buf_puts(b, "). The run section sums the shards that are done; the figures cover "
                       "the part files that exist now.</div>\n");
    } else if (!run->complete)
        ut_buf_printf(b,
                      "<div class=\"banner\" id=\"incomplete\" role=\"alert\">Incomplete run: "
                      "OUT has no _SUCCESS%s. The figures cover the part files that exist "
                      "now.</div>\n",
                      run->shard_markers ? " (only shard markers: run `tiff-dumper finish`)" : "");

    render_run(&pg);

    /* the map */
    ut_buf_puts(b, "<section id=\"map\"><h2>Footprints</h2><div class=\"pair\"><div>");
    if (td_map_svg(r->map, b, msg, cap) != 0) {
        ut_buf_free(&q);
        return -1;
    }
    size_t drawn = 0, gridded = 0, skipped = 0;
    td_map_counts(r->map, &drawn, &gridded, &skipped);
    ut_buf_printf(b,
                  "</div><table id=\"t-map\"><caption>On the map</caption><tbody>"
                  "<tr data-key=\"drawn\" data-count=\"%zu\"><th scope=\"row\">footprints drawn"
                  "</th><td class=\"n\">%zu</td></tr>"
                  "<tr data-key=\"gridded\" data-count=\"%zu\"><th scope=\"row\">in the density "
                  "grid</th><td class=\"n\">%zu</td></tr>"
                  "<tr data-key=\"skipped\" data-count=\"%zu\"><th scope=\"row\">geometries "
                  "not drawn (unreadable)</th><td class=\"n\">%zu</td></tr></tbody></table>"
                  "</div></section>\n",
                  drawn, drawn, gridded, gridded, skipped, skipped);

    ut_buf_puts(b, "<h2>Georeferencing</h2><div class=\"grid\">");
    ut_buf_printf(&q,
                  "SELECT CASE WHEN geometry IS NULL THEN 'without footprint'\n"
                  "            ELSE 'with footprint' END AS key, count(*) AS n\n"
                  "FROM %s GROUP BY 1 ORDER BY 1;",
                  pg.heads);
    render_hist(&pg, RP_FOOTPRINT, "Footprints",
                "Rows with a footprint (geometry column, OGC:CRS84).", true, label_plain,
                ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT CASE WHEN bbox IS NULL THEN '(none)' ELSE CAST(CAST(\n"
                  "         least(greatest(floor((bbox.ymin + bbox.ymax) / 2 / 30) * 30, -90), "
                  "60)\n"
                  "       AS BIGINT) AS VARCHAR) END AS key, count(*) AS n\n"
                  "FROM %s GROUP BY 1 ORDER BY 1;",
                  pg.heads);
    render_hist(&pg, RP_LAT, "Latitude of the footprint's centre",
                "30\xc2\xb0 bands of the bbox centre latitude.", true, label_lat, ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT coalesce(proj_code, '(none)') AS key, count(*) AS n\n"
                  "FROM %s GROUP BY 1 ORDER BY n DESC;",
                  pg.heads);
    render_hist(&pg, RP_CRS, "CRS",
                "proj_code: the EPSG code of the CRS (none: not georeferenced, or a "
                "user-defined CRS with no code).",
                false, label_crs, ut_buf_str(&q));
    ut_buf_puts(b, "</div>\n<h2>How the files are made</h2><div class=\"grid\">");

    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT coalesce(CAST(compression AS VARCHAR), '(none)') AS key, count(*) AS n\n"
                  "FROM %s GROUP BY 1 ORDER BY n DESC;",
                  pg.heads);
    render_hist(&pg, RP_COMPRESSION, "Compression", "First image's Compression tag.", false,
                label_compression, ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(
        &q,
        "SELECT coalesce(CASE coalesce(sample_format[1], 1) WHEN 1 THEN 'uint' WHEN 2 THEN 'int'\n"
        "         WHEN 3 THEN 'float' WHEN 4 THEN 'void' WHEN 5 THEN 'complex int'\n"
        "         WHEN 6 THEN 'complex float' ELSE 'format' || sample_format[1] || ' ' END\n"
        "       || bits_per_sample[1], '(none)') AS key, count(*) AS n\n"
        "FROM %s GROUP BY 1 ORDER BY n DESC;",
        pg.heads);
    render_hist(&pg, RP_DTYPE, "Data type",
                "SampleFormat and BitsPerSample of the first sample of the first image.", false,
                label_plain, ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT coalesce(tile_width || 'x' || tile_height, 'stripped') AS key, "
                  "count(*) AS n\nFROM %s GROUP BY 1 ORDER BY n DESC;",
                  pg.heads);
    render_hist(&pg, RP_TILE, "Tile size", "First image's tile width x height.", false, label_plain,
                ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT coalesce(CAST(overview_count AS VARCHAR), '(null)') AS key, "
                  "count(*) AS n\nFROM %s GROUP BY overview_count ORDER BY overview_count;",
                  pg.heads);
    render_hist(&pg, RP_OVERVIEWS, "Overviews", "Reduced-resolution images per file.", true,
                label_plain, ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT CASE WHEN image_width IS NULL OR image_height IS NULL THEN '(null)'\n"
                  "  WHEN greatest(image_width, image_height) < 256 THEN '< 256'\n"
                  "  WHEN greatest(image_width, image_height) < 1024 THEN '256-1023'\n"
                  "  WHEN greatest(image_width, image_height) < 4096 THEN '1024-4095'\n"
                  "  WHEN greatest(image_width, image_height) < 16384 THEN '4096-16383'\n"
                  "  WHEN greatest(image_width, image_height) < 65536 THEN '16384-65535'\n"
                  "  ELSE '>= 65536' END AS key, count(*) AS n\nFROM %s GROUP BY 1;",
                  pg.heads);
    render_hist(&pg, RP_IMAGE_SIZE, "Image size",
                "The larger of width and height of the first image, in pixels.", true, label_plain,
                ut_buf_str(&q));
    ut_buf_puts(b, "</div>\n<h2>Cloud-optimized GeoTIFF</h2><div class=\"grid\">");
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT CASE WHEN cog_valid THEN 'valid' WHEN NOT cog_valid THEN 'not valid'\n"
                  "            ELSE '(null)' END AS key, count(*) AS n\nFROM %s GROUP BY 1;",
                  pg.heads);
    render_hist(&pg, RP_COG, "COG validity", "cog_valid: the COG verdict.", true, label_plain,
                ut_buf_str(&q));
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT r AS key, count(*) AS n\n"
                  "FROM (SELECT unnest(cog_errors) AS r FROM %s)\nGROUP BY 1 ORDER BY n DESC;",
                  pg.heads);
    render_hist(&pg, RP_COG_REASONS, "Why not a COG",
                "Items of cog_errors over all rows (a file may have several).", false, label_plain,
                ut_buf_str(&q));
    ut_buf_puts(b, "</div>\n<h2>Headers and requests</h2><div class=\"grid\">");
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT CASE WHEN requests IS NULL THEN '(null)' WHEN requests >= 4 THEN '4+'\n"
                  "            ELSE CAST(requests AS VARCHAR) END AS key, count(*) AS n\n"
                  "FROM %s GROUP BY 1 ORDER BY 1;",
                  pg.heads);
    char what[256];
    snprintf(what, sizeof what,
             "Requests per file: 1 = the prefetch of %" PRIu64
             " bytes held the whole header; more = follow-up reads.",
             r->o.prefetch_bytes);
    render_hist(&pg, RP_REQUESTS, "Requests per file", what, true, label_plain, ut_buf_str(&q));
    /* the one number people ask first: how many files the prefetch did not cover */
    {
        const rp_hist *h = &r->h[RP_REQUESTS];
        uint64_t more = h->other;
        for (size_t i = 0; i < h->n; i++)
            if (strcmp(h->e[i].key, "1") != 0 && strcmp(h->e[i].key, "(null)") != 0)
                more += h->e[i].count;
        char pct[32];
        fmt_pct(pct, sizeof pct, more, h->total);
        ut_buf_printf(b,
                      "<section class=\"fig\" id=\"second\"><h3>Files that needed a second "
                      "request</h3><p class=\"big\" id=\"second-request\" data-count=\"%" PRIu64
                      "\">%" PRIu64 " of %" PRIu64 " (%s)</p><p class=\"what\">The prefetch of "
                      "%" PRIu64 " bytes did not hold their whole header; a larger "
                      "<code>fetch.prefetch_bytes</code> saves a round trip each.</p>",
                      more, more, h->total, pct, r->o.prefetch_bytes);
        ut_buf_reset(&q);
        ut_buf_printf(&q, "SELECT count(*) FILTER (WHERE requests > 1) AS n FROM %s;", pg.heads);
        sql_block(&pg, ut_buf_str(&q));
        ut_buf_puts(b, "</section>\n");
    }
    uint64_t bd[5];
    rp_ifd_bounds(r->o.prefetch_bytes, bd);
    ut_buf_reset(&q);
    ut_buf_puts(&q, "SELECT CASE WHEN ifd_bytes IS NULL THEN '(null)'\n");
    for (int i = 0; i < 5; i++)
        ut_buf_printf(&q, "  WHEN ifd_bytes <= %" PRIu64 " THEN '<= %" PRIu64 "'\n", bd[i], bd[i]);
    ut_buf_printf(&q, "  ELSE '> %" PRIu64 "' END AS key, count(*) AS n\nFROM %s GROUP BY 1;",
                  bd[4], pg.heads);
    snprintf(what, sizeof what,
             "ifd_bytes (the header's extent) against the prefetch of %" PRIu64 " bytes.",
             r->o.prefetch_bytes);
    render_hist(&pg, RP_IFD_BYTES, "Header size", what, true, label_ifd, ut_buf_str(&q));
    ut_buf_puts(b, "</div>\n<h2>Errors</h2><div class=\"grid\">");
    ut_buf_reset(&q);
    ut_buf_printf(&q,
                  "SELECT coalesce(stage, '(null)') || '/' || coalesce(kind, '(null)') AS key,\n"
                  "       count(*) AS n, list(path)[1:5] AS sample\n"
                  "FROM %s GROUP BY 1 ORDER BY n DESC;",
                  pg.errs);
    render_hist(&pg, RP_ERRORS, "Errors by stage/kind",
                "Rows of the errors table (_errors/), with the first paths of each kind.", false,
                label_plain, ut_buf_str(&q));
    ut_buf_puts(b, "</div>\n</main><footer>One self-contained file: no script, no network. "
                   "Numbers are in the tables (data-key / data-count attributes); each figure's "
                   "SQL gives the same numbers with DuckDB.</footer></body></html>\n");
    bool bad = q.bad;
    ut_buf_free(&q);
    if (b->bad || bad) {
        ut_msgf(msg, cap, "the page is larger than the output buffer's limit");
        return -1;
    }
    return 0;
}
