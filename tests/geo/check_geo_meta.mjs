// Validates the `geo` key-value metadata of Parquet files against the GeoParquet 1.1.0 JSON
// schema (geoparquet-1.1.0.schema.json beside this file) with ajv, and checks what the schema
// cannot say: the primary column and the covering columns exist with the right types, and
// the file bbox encloses every row's bbox.
//   node check_geo_meta.mjs NODE_DIR FILE.parquet...
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [nodeDir, ...files] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const Ajv = require('ajv');
const duck = require('@duckdb/node-api');
const here = path.dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(fs.readFileSync(path.join(here, 'geoparquet-1.1.0.schema.json'), 'utf8'));
const validate = new Ajv({ strict: false }).compile(schema);
const con = await (await duck.DuckDBInstance.create(':memory:')).connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
let bad = 0;
const fail = (f, m) => { bad++; console.error(`FAIL ${f}: ${m}`); };
for (const f of files) {
  const lit = `'${f.replace(/'/g, "''")}'`;
  const kv = await q(`SELECT decode(value) AS v FROM parquet_kv_metadata(${lit}) WHERE decode(key) = 'geo'`);
  if (kv.length !== 1) { fail(f, `${kv.length} geo keys`); continue; }
  const geo = JSON.parse(kv[0].v);
  if (!validate(geo)) { fail(f, `schema: ${JSON.stringify(validate.errors)}`); continue; }
  const col = geo.columns[geo.primary_column];
  if (!col) { fail(f, 'primary column not in columns'); continue; }
  const types = Object.fromEntries((await q(`SELECT name, type FROM parquet_schema(${lit})`)).map((r) => [r.name, r.type]));
  if (types[geo.primary_column] !== 'BYTE_ARRAY') fail(f, `geometry column type ${types[geo.primary_column]}`);
  for (const [k, [c, fld]] of Object.entries(col.covering.bbox))
    if (c !== 'bbox' || fld !== k || types[fld] !== 'DOUBLE') fail(f, `covering ${k} -> ${c}.${fld} (${types[fld]})`);
  const rows = await q(`SELECT bbox.xmin AS x0, bbox.ymin AS y0, bbox.xmax AS x1, bbox.ymax AS y1
      FROM read_parquet(${lit}) WHERE bbox IS NOT NULL`);
  if (rows.length && !col.bbox) fail(f, 'rows with a bbox but no file bbox');
  for (const r of rows) {
    const [fx0, fy0, fx1, fy1] = col.bbox;
    const xs = r.x0 > r.x1 ? [r.x0, 180, -180, r.x1] : [r.x0, r.x1]; // across the antimeridian
    if (Math.min(...xs) < fx0 || Math.max(...xs) > fx1 || r.y0 < fy0 || r.y1 > fy1)
      fail(f, `row bbox ${JSON.stringify(r)} outside the file bbox ${col.bbox}`);
  }
  const kinds = await q(`SELECT DISTINCT split_part(ST_AsText(geometry), ' ', 1) AS t FROM read_parquet(${lit})
      WHERE geometry IS NOT NULL ORDER BY t`);
  const want = col.geometry_types.map((t) => t.toUpperCase()).sort();
  if (JSON.stringify(kinds.map((k) => k.t)) !== JSON.stringify(want))
    fail(f, `geometry_types ${col.geometry_types} but rows have ${JSON.stringify(kinds)}`);
}
console.log(`check_geo_meta: ${files.length} files, ${bad} failures`);
process.exit(bad ? 1 : 0);
