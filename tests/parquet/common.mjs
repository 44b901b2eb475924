// Shared by check_duckdb.mjs and check_hyparquet.mjs: file list, expected rows (JSON Lines
// written by pq_gen), canonical form of values, comparison and expected chunk statistics.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

// Resolve npm packages from the tests' npm project (TD_NODE_DIR), not from this folder.
export async function importPkg(name) {
  const dir = process.env.TD_NODE_DIR;
  if (!dir) throw new Error('TD_NODE_DIR is not set');
  const require = createRequire(path.join(dir, 'package.json'));
  let resolved;
  try {
    resolved = require.resolve(name);
  } catch {
    // ESM-only packages: resolve the package folder and read its "exports"/"module"
    const pj = require.resolve(path.join(name, 'package.json'));
    const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
    let entry = meta.module || meta.main || 'index.js';
    const exp = meta.exports && (meta.exports['.'] || meta.exports);
    if (typeof exp === 'string') entry = exp;
    else if (exp && (exp.import || exp.default)) {
      entry = exp.import || exp.default;
      if (typeof entry === 'object') entry = entry.default;
    }
    resolved = path.join(path.dirname(pj), entry);
  }
  return import(resolved);
}

export function listFiles(dir) {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.meta.json')).sort().map((f) => {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    return { meta, parquet: path.join(dir, `${meta.name}.parquet`), jsonl: path.join(dir, `${meta.name}.jsonl`) };
  });
}

// Streams expected rows in batches: `batch` rows each, or an array of batch sizes (e.g. the
// row groups' row counts; anything left over comes as a last batch).
export async function* expectedBatches(file, batch = 50000) {
  const sizes = Array.isArray(batch) ? batch.slice() : null;
  const want = () => (sizes ? (sizes.length ? sizes[0] : Infinity) : batch);
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let rows = [];
  for await (const line of rl) {
    if (!line) continue;
    rows.push(JSON.parse(line));
    if (rows.length >= want()) {
      yield rows;
      rows = [];
      if (sizes) sizes.shift();
    }
  }
  if (rows.length) yield rows;
}

const dv = new DataView(new ArrayBuffer(8));
export function dblBits(x) {
  dv.setFloat64(0, x, true);
  return dv.getBigUint64(0, true).toString(16).padStart(16, '0');
}
export function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

// Maps become [[k, v], ...] sorted by key (readers may reorder; keys are unique).
function sortPairs(pairs) {
  return pairs.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
}

// Expected JSON -> canonical (maps sorted).
export function canonExpected(desc, v) {
  if (v === null || v === undefined) return null;
  switch (desc.t) {
    case 'list': return v.map((e) => canonExpected(desc.elem, e));
    case 'struct': {
      const o = {};
      for (const f of desc.fields) o[f.name] = canonExpected(f, v[f.name]);
      return o;
    }
    case 'map': return sortPairs(v);
    default: return v;
  }
}

// Reader value -> canonical, with per-reader scalar conversions in `conv`.
export function canon(desc, v, conv) {
  if (v === null || v === undefined) return null;
  switch (desc.t) {
    case 'list': return conv.list(v).map((e) => canon(desc.elem, e, conv));
    case 'struct': {
      const src = conv.struct(v);
      const o = {};
      for (const f of desc.fields) o[f.name] = canon(f, src[f.name], conv);
      return o;
    }
    case 'map': return sortPairs(conv.map(v).map(([k, x]) => [k, x === undefined ? null : x]));
    default: return conv[desc.t](v);
  }
}

export class Mismatches {
  constructor(name) { this.name = name; this.n = 0; }
  // One row: compared whole (fast), per column only to report a difference.
  row(label, columns, get, expected) {
    const g = columns.map((c, i) => canon(c, get(c, i), this.conv));
    const w = columns.map((c) => canonExpected(c, expected[c.name]));
    if (JSON.stringify(g) === JSON.stringify(w)) return;
    columns.forEach((c, i) => this.check(`${label} ${c.name}`, g[i], w[i]));
  }
  check(what, got, want) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    if (g === w) return;
    if (this.n < 20) console.error(`MISMATCH ${this.name} ${what}\n  got:  ${g}\n  want: ${w}`);
    this.n++;
  }
}

// Leaf columns in file order: { path: 'a.list.element', desc } (desc of the leaf value).
export function leaves(columns) {
  const out = [];
  const walk = (d, p) => {
    if (d.t === 'struct') for (const f of d.fields) walk(f, `${p}.${f.name}`);
    else if (d.t === 'list' && d.elem.t === 'struct') walk(d.elem, `${p}.list.element`);
    else if (d.t === 'list') out.push({ path: `${p}.list.element`, desc: d.elem });
    else if (d.t === 'map') {
      out.push({ path: `${p}.key_value.key`, desc: { t: 'str' } });
      out.push({ path: `${p}.key_value.value`, desc: { t: 'str' } });
    } else out.push({ path: p, desc: d });
  };
  for (const c of columns) walk(c, c.name);
  return out;
}

// Per leaf: non-null values and null count (levels with def < max) of the given rows.
export function leafStats(columns, rows) {
  const acc = new Map();
  const get = (p) => { if (!acc.has(p)) acc.set(p, { values: [], nulls: 0 }); return acc.get(p); };
  const nullAll = (d, p) => {
    if (d.t === 'struct') for (const f of d.fields) nullAll(f, `${p}.${f.name}`);
    else if (d.t === 'list') nullAll(d.elem.t === 'struct' ? d.elem : { t: 'leaf' }, `${p}.list.element`);
    else if (d.t === 'map') { get(`${p}.key_value.key`).nulls++; get(`${p}.key_value.value`).nulls++; }
    else get(p).nulls++;
  };
  const walk = (d, v, p) => {
    if (v === null || v === undefined) return nullAll(d, p);
    if (d.t === 'struct') for (const f of d.fields) walk(f, v[f.name], `${p}.${f.name}`);
    else if (d.t === 'list') {
      if (!v.length) nullAll(d.elem.t === 'struct' ? d.elem : { t: 'leaf' }, `${p}.list.element`);
      for (const e of v) walk(d.elem, e, `${p}.list.element`);
    } else if (d.t === 'map') {
      if (!v.length) nullAll(d, p);
      for (const [k, x] of v) { get(`${p}.key_value.key`).values.push(k); walk({ t: 'str' }, x, `${p}.key_value.value`); }
    } else get(p).values.push(v);
  };
  for (const c of columns) get(c.name); // make sure order exists
  for (const r of rows) for (const c of columns) walk(c, r[c.name], c.name);
  return acc;
}

// Expected min/max of canonical values, or null when not defined (no values / all NaN).
export function minMax(desc, values) {
  let lo = null, hi = null;
  const cmp = {
    i64: (a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0),
    ts: (a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0),
    i32: (a, b) => a - b,
    bool: (a, b) => Number(a) - Number(b),
    str: (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')),
    bin: (a, b) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')),
  }[desc.t];
  if (desc.t === 'f64') {
    let l = null, h = null;
    for (const bits of values) {
      dv.setBigUint64(0, BigInt(`0x${bits}`), true);
      const x = dv.getFloat64(0, true);
      if (Number.isNaN(x)) continue;
      if (l === null || x < l) l = x;
      if (h === null || x > h) h = x;
    }
    if (l === null) return null;
    if (l === 0) l = -0; // spec: zero min is -0.0, zero max is +0.0
    if (h === 0) h = 0;
    return [l, h];
  }
  for (const v of values) {
    if (lo === null || cmp(v, lo) < 0) lo = v;
    if (hi === null || cmp(v, hi) > 0) hi = v;
  }
  // the writer leaves out BYTE_ARRAY min/max longer than its limit (desc.long bytes)
  const len = (v) => Buffer.byteLength(v, desc.t === 'bin' ? 'hex' : 'utf8');
  if (lo !== null && desc.long && (len(lo) > desc.long || len(hi) > desc.long)) return null;
  return lo === null ? null : [lo, hi];
}
