// Reads every file pq_gen wrote with hyparquet (+ hyparquet-compressors): every value vs the
// expected JSON Lines, and the raw footer (schema, statistics bytes, encodings) as decoded
// by hyparquet's own Thrift reader.
//   node check_hyparquet.mjs OUT_DIR     (TD_NODE_DIR = npm project with hyparquet)
import fs from 'node:fs';
import {
  importPkg, listFiles, expectedBatches, canon, canonExpected, dblBits, hex, Mismatches,
  leaves, leafStats, minMax,
} from './common.mjs';

let warnings = 0;
const origWarn = console.warn;
console.warn = (...a) => { warnings++; origWarn('READER WARNING:', ...a); };
process.on('warning', (w) => { warnings++; origWarn('PROCESS WARNING:', w.message); });

const { parquetReadObjects, parquetMetadata, readOffsetIndex } = await importPkg('hyparquet');
const { compressors } = await importPkg('hyparquet-compressors');
const dir = process.argv[2];

const conv = {
  i64: (v) => v.toString(),
  i32: (v) => v,
  bool: (v) => v,
  f64: (v) => dblBits(v),
  str: (v) => v,
  bin: (v) => hex(v),
  ts: (v) => v.toString(),
  list: (v) => v,
  struct: (v) => v,
  map: (v) => Object.entries(v),
};

// Raw statistics bytes -> canonical value.
function statValue(desc, bytes) {
  const b = Buffer.from(bytes);
  switch (desc.t) {
    case 'i64': case 'ts': return b.readBigInt64LE(0).toString();
    case 'i32': return b.readInt32LE(0);
    case 'bool': return b[0] === 1;
    case 'f64': return dblBits(b.readDoubleLE(0));
    case 'str': return b.toString('utf8');
    case 'bin': return b.toString('hex');
  }
  return undefined;
}

let failures = 0;
for (const { meta, parquet, jsonl } of listFiles(dir)) {
  const mm = new Mismatches(`[hyparquet ${meta.name}]`);
  mm.conv = conv;
  const buf = fs.readFileSync(parquet);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  mm.check('magic', [buf.subarray(0, 4).toString(), buf.subarray(buf.length - 4).toString()], ['PAR1', 'PAR1']);
  const md = parquetMetadata(ab);
  mm.check('num_rows', Number(md.num_rows), meta.rows);
  mm.check('created_by', md.created_by, meta.created_by);
  const kv = {};
  for (const e of md.key_value_metadata || []) kv[e.key] = e.value;
  mm.check('kv', kv, meta.kv);
  mm.check('column_orders', (md.column_orders || []).every((o) => o === 'TYPE_DEFINED_ORDER' || (o && o.TYPE_ORDER !== undefined) || o === 'TYPE_ORDER'), true);

  // --- values, by row group ranges to bound memory
  const lv = leaves(meta.columns);
  let row = 0;
  const rgRows = md.row_groups.map((g) => Number(g.num_rows));
  let rgIdx = 0, rgStart = 0;
  // one batch per row group: each read decodes whole pages, and statistics are per group
  for await (const batch of expectedBatches(jsonl, rgRows)) {
    const got = await parquetReadObjects({
      file: ab, compressors, rowStart: row, rowEnd: row + batch.length, utf8: false,
      parsers: { timestampFromMilliseconds: (v) => BigInt(v) },
    });
    mm.check(`rows ${row}..`, got.length, batch.length);
    for (let i = 0; i < batch.length && i < got.length; i++) {
      mm.row(`row ${row + i}`, meta.columns, (c) => got[i][c.name], batch[i]);
    }
    // statistics of the row groups wholly inside this batch (small files are one batch)
    while (rgIdx < rgRows.length && rgStart + rgRows[rgIdx] <= row + batch.length && rgStart >= row) {
      const rows = batch.slice(rgStart - row, rgStart - row + rgRows[rgIdx]);
      const stats = leafStats(meta.columns, rows);
      md.row_groups[rgIdx].columns.forEach((cc, ci) => {
        const m = cc.meta_data, col = lv[ci], where = `rg ${rgIdx} col ${col.path}`;
        mm.check(`${where} path`, m.path_in_schema.join('.'), col.path);
        mm.check(`${where} codec`, m.codec, meta.codec);
        const st = stats.get(col.path);
        mm.check(`${where} num_values`, Number(m.num_values), st.values.length + st.nulls);
        mm.check(`${where} null_count`, Number(m.statistics.null_count), st.nulls);
        const mmx = minMax(col.desc, st.values);
        const s = m.statistics;
        const raw = (x) => (x === undefined ? undefined : x instanceof Uint8Array || Array.isArray(x) ? x : null);
        if (col.desc.t === 'bin' && mmx !== null) {
          // hyparquet turns BYTE_ARRAY statistics into (lossy) text: presence only
          mm.check(`${where} min/max present`, [s.min_value !== undefined, s.max_value !== undefined], [true, true]);
        } else if (mmx === null) {
          mm.check(`${where} no min/max`, [s.min_value ?? null, s.max_value ?? null], [null, null]);
        } else {
          // hyparquet converts stats to values; fall back to raw bytes when it does not
          const norm = (x) => {
            if (x === undefined || x === null) return null;
            if (raw(x)) return statValue(col.desc, x);
            if (col.desc.t === 'f64') return dblBits(x);
            if (col.desc.t === 'i64' || col.desc.t === 'ts') return (x instanceof Date ? BigInt(x.getTime()) : BigInt(x)).toString();
            if (col.desc.t === 'bin') return hex(typeof x === 'string' ? Buffer.from(x) : x);
            return x;
          };
          const want = col.desc.t === 'f64' ? mmx.map(dblBits) : mmx;
          mm.check(`${where} min/max`, [norm(s.min_value), norm(s.max_value)], want);
        }
      });
      rgStart += rgRows[rgIdx];
      rgIdx++;
    }
    row += batch.length;
  }
  mm.check('rows read', row, meta.rows);
  mm.check('row groups with statistics checked', rgIdx, rgRows.length);
  // structure of every chunk, big file included
  md.row_groups.forEach((g, rgi) => g.columns.forEach((cc, ci) => {
    const m = cc.meta_data, col = lv[ci], where = `rg ${rgi} col ${col.path}`;
    mm.check(`${where} path`, m.path_in_schema.join('.'), col.path);
    mm.check(`${where} codec`, m.codec, meta.codec);
    // OffsetIndex: contiguous data pages after the dictionary page, rows from 0
    if (cc.offset_index_offset === undefined) mm.check(`${where} offset index`, null, 'present');
    else {
      const oi = readOffsetIndex({ view: new DataView(ab, Number(cc.offset_index_offset), cc.offset_index_length), offset: 0 });
      const pl = oi.page_locations;
      let pos = Number(m.data_page_offset), prevRow = -1, ok = pl.length > 0 && Number(pl[0].first_row_index) === 0;
      for (const p of pl) {
        ok = ok && Number(p.offset) === pos && Number(p.first_row_index) > prevRow && Number(p.first_row_index) < Number(g.num_rows);
        pos += p.compressed_page_size;
        prevRow = Number(p.first_row_index);
      }
      const start = Number(m.dictionary_page_offset ?? m.data_page_offset);
      mm.check(`${where} offset index pages`, [ok, pos - start], [true, Number(m.total_compressed_size)]);
    }
        const encs = m.encodings;
    const pages = (type, enc) => (m.encoding_stats || []).filter((e) => e.page_type === type && e.encoding === enc)
      .reduce((a, e) => a + e.count, 0);
    mm.check(`${where} encoding_stats vs encodings`,
      [pages('DATA_PAGE', 'RLE_DICTIONARY') > 0, pages('DICTIONARY_PAGE', 'PLAIN')],
      [encs.includes('RLE_DICTIONARY'), encs.includes('RLE_DICTIONARY') ? 1 : 0]);
    if (meta.name === 'big' && col.path === 'name' && Number(m.total_uncompressed_size) > (3 << 20)) {
      // ~11 MB of unique strings per chunk: dictionary pages first, then the fall-back
      // to PLAIN, cut into several ~1 MiB data pages
      mm.check(`${where} pages`, [pages('DATA_PAGE', 'RLE_DICTIONARY') >= 1, pages('DATA_PAGE', 'PLAIN') >= 2], [true, true]);
    }
    if (meta.dict_max === 0) mm.check(`${where} no dictionary`, encs.includes('RLE_DICTIONARY'), false);
    if (encs.includes('RLE_DICTIONARY')) {
      mm.check(`${where} dictionary_page_offset`, m.dictionary_page_offset !== undefined, true);
      mm.check(`${where} dictionary page first`, Number(m.dictionary_page_offset) < Number(m.data_page_offset), true);
    }
  }));
  console.log(`hyparquet ${meta.name}: ${row} rows, ${mm.n} mismatches`);
  failures += mm.n;
}
if (warnings) { console.error(`${warnings} reader warnings`); failures++; }
process.exit(failures ? 1 : 0);
