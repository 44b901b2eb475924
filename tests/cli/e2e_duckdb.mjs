// Runs SQL queries with DuckDB (@duckdb/node-api from the tests' npm project) and prints
// every row of every query as one JSON line. Values keep their meaning: BIGINTs as exact
// JSON numbers, NaN/Infinity as the strings "NaN"/"Infinity"/"-Infinity", BLOBs as
// lowercase hex, MAPs as objects, timestamps as ms since the epoch.
//   node e2e_duckdb.mjs NODE_DIR "SQL" ["SQL"...]      (a line "--" separates queries)
import { createRequire } from 'module';
import path from 'path';

const [nodeDir, ...queries] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const duck = require('@duckdb/node-api');

const BIG = '\u0000BIGINT:';
function conv(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return BIG + v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    return v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof duck.DuckDBBlobValue) return Buffer.from(v.bytes).toString('hex');
  if (v instanceof duck.DuckDBMapValue) {
    const o = {};
    for (const e of v.entries) o[String(conv(e.key))] = conv(e.value);
    return o;
  }
  if (v instanceof duck.DuckDBStructValue) {
    const o = {};
    for (const [k, x] of Object.entries(v.entries)) o[k] = conv(x);
    return o;
  }
  if (v instanceof duck.DuckDBListValue || v instanceof duck.DuckDBArrayValue)
    return v.items.map(conv);
  if (v instanceof duck.DuckDBTimestampValue) return BIG + (v.micros / 1000n).toString();
  if (v instanceof duck.DuckDBTimestampMillisecondsValue) return BIG + v.millis.toString();
  if (v instanceof duck.DuckDBTimestampTZValue) return BIG + (v.micros / 1000n).toString();
  return String(v);
}

const inst = await duck.DuckDBInstance.create(':memory:');
const con = await inst.connect();
let first = true;
for (const q of queries) {
  if (!first) process.stdout.write('--\n');
  first = false;
  const r = await con.runAndReadAll(q);
  const cols = r.columnNames();
  for (const row of r.getRows()) {
    const o = {};
    cols.forEach((c, i) => { o[c] = conv(row[i]); });
    const s = JSON.stringify(o).replace(/"\\u0000BIGINT:(-?\d+)"/g, '$1');
    process.stdout.write(s + '\n');
  }
}
