// Reads whole Parquet files with one reader and prints every row as a JSON line
// {"file": ..., "row": {...}}: strings as text, BINARY values as lowercase hex, BIGINTs as
// decimal strings. A file the reader refuses prints {"file": ..., "error": "..."} and the
// script goes on, so the caller sees which part files are unreadable.
//   node read_parts.mjs duckdb|hyparquet FILE...   (TD_NODE_DIR = the tests' npm project)
// DuckDB refuses a STRING that is not UTF-8; hyparquet's decoder turns it into U+FFFD,
// which the caller looks for.
import fs from 'node:fs';
import { importPkg } from '../parquet/common.mjs';

const [reader, ...files] = process.argv.slice(2);
const hex = (b) => Buffer.from(b).toString('hex');

function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return { hex: hex(v) };
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

if (reader === 'duckdb') {
  const duck = await importPkg('@duckdb/node-api');
  const con = await (await duck.DuckDBInstance.create(':memory:')).connect();
  const duckPlain = (v) => {
    if (v instanceof duck.DuckDBBlobValue) return { hex: hex(v.bytes) };
    if (v instanceof duck.DuckDBMapValue) return v.entries.map((e) => ({ key: duckPlain(e.key), value: duckPlain(e.value) }));
    if (v instanceof duck.DuckDBStructValue) {
      const o = {};
      for (const [k, x] of Object.entries(v.entries)) o[k] = duckPlain(x);
      return o;
    }
    if (v instanceof duck.DuckDBListValue) return v.items.map(duckPlain);
    if (v !== null && typeof v === 'object') return String(v);
    return plain(v);
  };
  for (const f of files) {
    try {
      const r = await con.runAndReadAll(`SELECT * FROM read_parquet('${f.replace(/'/g, "''")}')`);
      const cols = r.columnNames();
      for (const row of r.getRows()) {
        const o = {};
        cols.forEach((c, i) => { o[c] = duckPlain(row[i]); });
        out({ file: f, row: o });
      }
    } catch (e) {
      out({ file: f, error: String(e.message || e) });
    }
  }
} else if (reader === 'hyparquet') {
  const { parquetReadObjects } = await importPkg('hyparquet');
  const { compressors } = await importPkg('hyparquet-compressors');
  for (const f of files) {
    try {
      const buf = fs.readFileSync(f);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      // utf8: false keeps BINARY columns as bytes; STRING columns are still decoded
      const rows = await parquetReadObjects({ file: ab, compressors, utf8: false });
      for (const row of rows) out({ file: f, row: plain(row) });
    } catch (e) {
      out({ file: f, error: String(e.message || e) });
    }
  }
} else {
  console.error('usage: read_parts.mjs duckdb|hyparquet FILE...');
  process.exit(2);
}
