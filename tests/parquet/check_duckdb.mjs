// Reads every file pq_gen wrote with DuckDB: every value vs the expected JSON Lines, the
// schema (physical / converted / logical types), file and key-value metadata, and per
// column chunk the codec, encodings (dictionary and fall-back) and statistics.
//   node check_duckdb.mjs OUT_DIR        (TD_NODE_DIR = npm project with @duckdb/node-api)
import {
  importPkg, listFiles, expectedBatches, canon, canonExpected, dblBits, hex, Mismatches,
  leaves, leafStats, minMax,
} from './common.mjs';

let warnings = 0;
const origWarn = console.warn;
console.warn = (...a) => { warnings++; origWarn('READER WARNING:', ...a); };
process.on('warning', (w) => { warnings++; origWarn('PROCESS WARNING:', w.message); });

const { DuckDBInstance } = await importPkg('@duckdb/node-api');
const dir = process.argv[2];
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replace(/'/g, "''")}'`;

const conv = {
  i64: (v) => v.toString(),
  i32: (v) => v,
  bool: (v) => v,
  f64: (v) => dblBits(v),
  str: (v) => v,
  bin: (v) => hex(v.bytes),
  ts: (v) => (v.micros / 1000n).toString(),
  list: (v) => v.items,
  struct: (v) => v.entries,
  map: (v) => v.entries.map((e) => [e.key, e.value]),
};

const expectedTypes = {
  i64: ['INT64', null, null], i32: ['INT32', null, null], bool: ['BOOLEAN', null, null],
  f64: ['DOUBLE', null, null], str: ['BYTE_ARRAY', 'UTF8', 'StringType()'],
  bin: ['BYTE_ARRAY', null, null], ts: ['INT64', 'TIMESTAMP_MILLIS', 'TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=MilliSeconds(), MICROS=<null>, NANOS=<null>))'],
};

function schemaExpectation(columns) {
  const out = [{ name: 'schema', num_children: columns.length }];
  const rep = (d) => (d.req ? 'REQUIRED' : 'OPTIONAL');
  const walk = (d, name) => {
    if (d.t === 'struct') {
      out.push({ name, repetition_type: rep(d), num_children: d.fields.length, converted_type: null, logical_type: null });
      for (const f of d.fields) walk(f, f.name);
    } else if (d.t === 'list') {
      out.push({ name, repetition_type: rep(d), num_children: 1, converted_type: 'LIST', logical_type: 'ListType()' });
      out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1, converted_type: null, logical_type: null });
      walk(d.elem, 'element');
    } else if (d.t === 'map') {
      out.push({ name, repetition_type: rep(d), num_children: 1, converted_type: 'MAP', logical_type: 'MapType()' });
      out.push({ name: 'key_value', repetition_type: 'REPEATED', num_children: 2, converted_type: null, logical_type: null });
      walk({ t: 'str', req: true }, 'key');
      walk({ t: 'str' }, 'value');
    } else {
      const [type, ct, lt] = expectedTypes[d.t];
      out.push({ name, type, repetition_type: rep(d), converted_type: ct, logical_type: lt });
    }
  };
  for (const c of columns) walk(c, c.name);
  return out;
}

function statString(desc, v) {
  // DuckDB renders stats as text; bring the expected value to the same text.
  switch (desc.t) {
    case 'i64': case 'i32': return String(v);
    case 'bool': return v ? 'true' : 'false';
    case 'str': return v;
    default: return undefined; // compared by presence only (bin, ts, f64 handled apart)
  }
}

let failures = 0;
for (const { meta, parquet, jsonl } of listFiles(dir)) {
  const mm = new Mismatches(`[duckdb ${meta.name}]`);
  mm.conv = conv;
  const f = lit(parquet);
  // --- schema
  const schema = await q(`SELECT name, type, repetition_type, num_children, converted_type, logical_type FROM parquet_schema(${f})`);
  const want = schemaExpectation(meta.columns);
  mm.check('schema length', schema.length, want.length);
  want.forEach((w, i) => {
    const got = schema[i] || {};
    for (const k of Object.keys(w)) {
      let g = got[k];
      if (typeof g === 'bigint') g = Number(g);
      mm.check(`schema[${i}].${k}`, g ?? null, w[k]);
    }
  });
  // --- file metadata
  const [fm] = await q(`SELECT created_by, num_rows, num_row_groups, format_version FROM parquet_file_metadata(${f})`);
  mm.check('num_rows', Number(fm.num_rows), meta.rows);
  mm.check('created_by', fm.created_by, meta.created_by);
  if (!meta.row_group_bytes) mm.check('num_row_groups', Number(fm.num_row_groups), Math.ceil(meta.rows / meta.row_group_rows));
  else if (Number(fm.num_row_groups) < 2) mm.check('several row groups by bytes', Number(fm.num_row_groups), '>= 2');
  const kv = await q(`SELECT key, value FROM parquet_kv_metadata(${f}) ORDER BY key`);
  const kvGot = {};
  for (const r of kv) kvGot[Buffer.from(r.key.bytes).toString()] = Buffer.from(r.value.bytes).toString();
  mm.check('kv metadata', kvGot, meta.kv);

  // --- values, streamed in id order, compared with the expected rows
  let expIter = expectedBatches(jsonl)[Symbol.asyncIterator]();
  let expBuf = [], expPos = 0, nrow = 0;
  const allExpected = [];
  const keep = meta.rows <= 10000; // small files: keep rows for the statistics check
  const nextExpected = async () => {
    if (expPos >= expBuf.length) {
      const r = await expIter.next();
      if (r.done) return undefined;
      expBuf = r.value; expPos = 0;
    }
    return expBuf[expPos++];
  };
  const result = await con.stream(`SELECT * FROM read_parquet(${f}) ORDER BY id`);
  const names = result.columnNames();
  mm.check('column names', names, meta.columns.map((c) => c.name));
  const rowStats = [];
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const row of chunk.getRows()) {
      const e = await nextExpected();
      if (!e) { mm.check('extra row', nrow, 'none'); break; }
      if (keep) allExpected.push(e);
      mm.row(`row ${nrow}`, meta.columns, (c, i) => row[i], e);
      nrow++;
    }
  }
  mm.check('rows read', nrow, meta.rows);
  // big file: rows are not kept, so statistics are checked on a projection computed in SQL
  const bigStats = !keep;

  // --- column chunks
  const md = await q(`SELECT row_group_id, row_group_num_rows, column_id, path_in_schema, type, num_values,
      stats_null_count, stats_min_value, stats_max_value, compression, encodings,
      dictionary_page_offset, data_page_offset FROM parquet_metadata(${f}) ORDER BY row_group_id, column_id`);
  const lv = leaves(meta.columns);
  let rgStart = 0, curRg = -1, stats = null;
  let sawFallback = false, sawDict = false;
  for (const m of md) {
    const rg = Number(m.row_group_id);
    if (rg !== curRg) {
      if (curRg >= 0) rgStart += rowsInRg;
      curRg = rg;
      var rowsInRg = Number(m.row_group_num_rows);
      stats = keep ? leafStats(meta.columns, allExpected.slice(rgStart, rgStart + rowsInRg)) : null;
    }
    const col = lv[Number(m.column_id)];
    const where = `rg ${rg} col ${col.path}`;
    mm.check(`${where} path`, m.path_in_schema.split(', ').join('.'), col.path);
    mm.check(`${where} compression`, m.compression, meta.codec);
    const enc = m.encodings.split(', ');
    if (enc.includes('RLE_DICTIONARY')) {
      sawDict = true;
      if (m.dictionary_page_offset === null) mm.check(`${where} dictionary page`, null, 'offset');
      if (enc.includes('PLAIN')) { /* PLAIN = the dictionary page, plus any fall-back pages */ }
    }
    if (meta.dict_max === 0) mm.check(`${where} no dictionary`, enc.includes('RLE_DICTIONARY'), false);
    // Low-cardinality columns stay dictionary-encoded; unique ones fall back.
    if (meta.dict_max > 0 && (col.path === 'req_i32' || col.path === 's'))
      mm.check(`${where} dictionary`, enc.includes('RLE_DICTIONARY'), true);
    if (stats) {
      const st = stats.get(col.path);
      mm.check(`${where} num_values`, Number(m.num_values), st.values.length + st.nulls);
      mm.check(`${where} null_count`, m.stats_null_count === null ? null : Number(m.stats_null_count), st.nulls);
      const mmx = minMax(col.desc, st.values);
      if (mmx === null) {
        mm.check(`${where} no min/max`, [m.stats_min_value, m.stats_max_value], [null, null]);
      } else if (col.desc.t === 'f64') {
        const parse = (s) => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
        // DuckDB does not display an infinite bound (hyparquet checks the stored bytes)
        mm.check(`${where} min/max`, [m.stats_min_value, m.stats_max_value].map((s) => (s === null ? null : dblBits(parse(s)))),
          mmx.map((x) => (Number.isFinite(x) ? dblBits(x) : null)));
      } else {
        const w2 = mmx.map((v) => statString(col.desc, v));
        if (w2[0] === undefined) mm.check(`${where} min/max present`, [m.stats_min_value !== null, m.stats_max_value !== null], [true, true]);
        else mm.check(`${where} min/max`, [m.stats_min_value, m.stats_max_value], w2);
      }
    }
    if (enc.includes('RLE_DICTIONARY') && enc.includes('PLAIN') && col.path === (bigStats ? 'name' : 'req_s')) sawFallback = true;
  }
  if (meta.rows > 0 && meta.dict_max > 0 && meta.name !== 'edge' && meta.name !== 'lstruct') {
    mm.check('some chunk dictionary-encoded', sawDict, true);
    mm.check('dictionary fall-back exercised', sawFallback, true);
  }
  if (bigStats) {
    // min/max and null counts of the big file's top-level columns, per row group, from SQL
    const rgs = await q(`SELECT row_group_id, row_group_num_rows, path_in_schema, stats_null_count, stats_min_value, stats_max_value
        FROM parquet_metadata(${f}) WHERE path_in_schema IN ('id','v','s','name') ORDER BY row_group_id, column_id`);
    let start = 0n, prevRg = null;
    for (const r of rgs) {
      if (prevRg !== null && r.row_group_id !== prevRg.id) start += prevRg.n;
      prevRg = { id: r.row_group_id, n: r.row_group_num_rows };
      const c = r.path_in_schema;
      const [agg] = await q(`SELECT count(*) - count(${c}) AS nulls, min(${c})::VARCHAR AS lo, max(${c})::VARCHAR AS hi
          FROM read_parquet(${f}) WHERE id >= ${start} AND id < ${start + r.row_group_num_rows}`);
      mm.check(`big rg ${r.row_group_id} ${c} stats`, [Number(r.stats_null_count), r.stats_min_value, r.stats_max_value],
        [Number(agg.nulls), agg.lo, agg.hi]);
    }
  }
  console.log(`duckdb ${meta.name}: ${nrow} rows, ${md.length} column chunks, ${mm.n} mismatches`);
  failures += mm.n;
}
if (warnings) { console.error(`${warnings} reader warnings`); failures++; }
process.exit(failures ? 1 : 0);
