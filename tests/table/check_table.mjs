// Reads the tables td_table_write wrote with DuckDB: column names and types against the
// documented list (td_table_columns), the same types in a file whose columns are all null,
// the schema-version metadata, and the values of the hand-made rows.
//   node check_table.mjs OUT_DIR      (TD_NODE_DIR = npm project with @duckdb/node-api)
import fs from 'node:fs';
import path from 'node:path';
import { importPkg } from '../parquet/common.mjs';

const { DuckDBInstance } = await importPkg('@duckdb/node-api');
const dir = process.argv[2];
const con = await (await DuckDBInstance.create(':memory:')).connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const file = (n) => `'${path.join(dir, n).replace(/'/g, "''")}'`;
let bad = 0;
const check = (what, got, want) => {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) { bad++; console.error(`MISMATCH ${what}\n  got:  ${g}\n  want: ${w}`); }
};

const docs = JSON.parse(fs.readFileSync(path.join(dir, 'columns.json'), 'utf8'));
const duckType = {
  'STRING (required)': 'VARCHAR', STRING: 'VARCHAR', INT64: 'BIGINT', INT32: 'INTEGER', DOUBLE: 'DOUBLE',
  BOOLEAN: 'BOOLEAN', BINARY: 'BLOB', TIMESTAMP_MILLIS: 'TIMESTAMP WITH TIME ZONE',
  'LIST<INT64>': 'BIGINT[]', 'LIST<DOUBLE>': 'DOUBLE[]', 'LIST<STRING>': 'VARCHAR[]',
  'MAP<STRING,STRING>': 'MAP(VARCHAR, VARCHAR)',
};
function expectedColumns(list) {
  const top = [];
  for (const [name, type] of list) {
    const dot = name.indexOf('.');
    if (dot >= 0) {
      const parent = top[top.length - 1];
      parent.fields.push(`${name.slice(dot + 1)} ${duckType[type]}`);
    } else top.push({ name, type, fields: [] });
  }
  // DuckDB reads the GeoParquet `geo` metadata: the WKB column is a GEOMETRY in OGC:CRS84
  return top.map((c) => [c.name, c.type === 'STRUCT' ? `STRUCT(${c.fields.join(', ')})`
    : c.type === 'LIST<STRUCT>' ? `STRUCT(${c.fields.join(', ')})[]`
    : c.name === 'geometry' ? "GEOMETRY('OGC:CRS84')" : duckType[c.type]]);
}

for (const [table, files] of [['headers', ['headers.parquet', 'headers_allnull.parquet']], ['errors', ['errors.parquet']]]) {
  const want = expectedColumns(docs[table]);
  for (const f of files) {
    const got = (await q(`DESCRIBE FROM ${file(f)}`)).map((r) => [r.column_name, r.column_type.replace(/"/g, "")]);
    check(`${f} columns`, got, want);
    const kv = await q(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${file(f)})
        WHERE decode(key) <> 'geo'`);
    check(`${f} schema version`, kv, [{ k: 'tiff_dumper.schema_version', v: docs.schema_version }]);
    const req = await q(`SELECT name, repetition_type FROM parquet_schema(${file(f)}) WHERE name = 'path'`);
    check(`${f} path required`, req, [{ name: 'path', repetition_type: 'REQUIRED' }]);
  }
}
// the all-null file: every column but the few facts is null, and the geokeys struct is null
const nulls = await q(`SELECT geokeys IS NULL AS g, geokeys_header IS NULL AS gh, geokeys_other IS NULL AS go,
    image_width IS NULL AS w, other_tags AS o, warnings AS wa FROM ${file('headers_allnull.parquet')}`);
check('all-null row', nulls, [{ g: true, gh: true, go: true, w: true, o: [], wa: [] }]);

const rows = await q(`SELECT * FROM ${file('headers.parquet')}`);
check('headers rows', rows.length, 2);
const [full, bare] = rows;
const pick = (r, keys) => Object.fromEntries(keys.map((k) => [k, r[k]]));
check('full facts', pick(full, ['path', 'size', 'last_modified', 'etag', 'byte_order', 'bigtiff', 'first_ifd_offset',
  'ifd_count', 'ifd_chain_error', 'ifd_bytes', 'fetched_bytes', 'requests']), {
  path: 's3://sentinel-cogs/sentinel-s2-l2a-cogs/33/U/UP/2023/1/S2A_33UUP_20230101_0_L2A/B04.tif',
  size: '123456789', last_modified: '2023-11-14 22:13:20.123+00', etag: '"5d41402abc4b2a76b9719d911017c592"',
  byte_order: 'II', bigtiff: false, first_ifd_offset: '8', ifd_count: '5', ifd_chain_error: null,
  ifd_bytes: '16384', fetched_bytes: '16384', requests: 1,
});
check('full fields', pick(full, ['image_width', 'bits_per_sample', 'compression', 'x_resolution', 'software', 'extra_samples',
  'sample_format', 'jpeg_tables', 'model_pixel_scale', 'model_tiepoint', 'tile_offsets_count', 'gdal_nodata', 'copyright']), {
  image_width: '10980', bits_per_sample: ['16'], compression: '8', x_resolution: 72.5, software: 'GDAL 3.é',
  extra_samples: [], sample_format: ['1'], jpeg_tables: '\\xFF\\xD8\\x00\\x7F', model_pixel_scale: [10, 10, 0],
  model_tiepoint: [0, 0, 0, 300000, 5000040, 0], tile_offsets_count: '121', gdal_nodata: '0', copyright: null,
});
check('full geokeys', pick(full.geokeys, ['model_type', 'raster_type', 'citation', 'projected_type', 'geog_semi_major_axis', 'vertical']),
  { model_type: '1', raster_type: '1', citation: 'WGS 84 / UTM zone 33N', projected_type: '32633', geog_semi_major_axis: 6378137, vertical: null });
check('full geokey maps', pick(full, ['geokeys_header', 'geokeys_other', 'other_tags', 'warnings']), {
  geokeys_header: ['1', '1', '0', '4'],
  geokeys_other: [{ key: '3076', value: '{"type":3,"count":1,"value":[9001]}' }],
  other_tags: [{ key: '42033', value: '{"type":2,"count":3,"value":"ab"}' }, { key: '50000', value: '{"type":1,"count":2,"value":"00ff"}' }],
  warnings: ['tag 999 at offset 122: unknown type 77, skipped'],
});
check('full images', pick(full, ['first_data_offset', 'overview_count', 'mask_count', 'sparse_tiles', 'empty',
  'cog_valid', 'cog_errors', 'cog_warnings', 'gdal_structural_metadata']), {
  first_data_offset: '16400', overview_count: 1, mask_count: 0, sparse_tiles: '3', empty: false, cog_valid: false,
  cog_errors: ['The offset of the main IFD should be 8. It is 9 instead'], cog_warnings: [],
  gdal_structural_metadata: [{ key: 'LAYOUT', value: 'IFDS_BEFORE_DATA' }],
});
check('full ifds', full.ifds.map((e) => [e.index, e.parent, e.kind, e.width, e.tile_width, e.rows_per_strip, e.blocks, e.sparse_blocks]),
  [[0, null, 'main', '10980', '1024', null, '121', '3'], [1, null, 'overview', '5490', '1024', null, '36', null],
    [2, 0, 'mask', '10980', null, '8', '1373', null]]);
check('bare images', pick(bare, ['ifd_bytes', 'first_data_offset', 'overview_count', 'cog_valid', 'empty', 'ifds', 'cog_errors', 'gdal_structural_metadata']),
  { ifd_bytes: '200', first_data_offset: null, overview_count: 0, cog_valid: null, empty: null, ifds: [], cog_errors: [], gdal_structural_metadata: null });
check('bare facts', pick(bare, ['path', 'size', 'last_modified', 'etag', 'byte_order', 'bigtiff', 'ifd_chain_error', 'requests', 'image_width']),
  { path: 'dir/bare.tif', size: null, last_modified: null, etag: null, byte_order: 'MM', bigtiff: true,
    ifd_chain_error: 'IFD 1 at offset 16: cycle', requests: 2, image_width: null });
// a GeoKeyDirectory without named keys: a struct of nulls, not a null struct
check('bare geokeys', [bare.geokeys !== null, Object.values(bare.geokeys || {}).every((v) => v === null)], [true, true]);
check('bare maps', pick(bare, ['geokeys_header', 'geokeys_other', 'other_tags', 'warnings']),
  { geokeys_header: ['0', '0', '0', '0'], geokeys_other: [], other_tags: [], warnings: ['affine transform but no CRS'] });
// async-tiff 0.1.0's defaults for absent tags, each named in defaulted (issue 14)
check('full defaults', pick(full, ['compression', 'planar_configuration', 'sample_format', 'samples_per_pixel', 'defaulted']),
  { compression: '8', planar_configuration: '1', sample_format: ['1'], samples_per_pixel: null, defaulted: ['planar_configuration'] });
check('bare defaults', pick(bare, ['compression', 'planar_configuration', 'sample_format', 'defaulted']),
  { compression: '1', planar_configuration: '1', sample_format: ['1'], defaulted: ['compression', 'planar_configuration', 'sample_format'] });

const errs = await q(`SELECT * FROM ${file('errors.parquet')}`);
check('errors', errs, [
  { path: 'a/b.tif', path_bytes: null, size: '5000', stage: 'fetch', kind: 'http', message: 'HTTP 404 Not Found', http_status: 404, attempts: 1 },
  { path: 'c.tif', path_bytes: null, size: null, stage: 'parse', kind: 'not_tiff', message: 'not a TIFF (bad byte order mark)', http_status: null, attempts: null },
]);
// Bytes that are not UTF-8 in every kind of STRING value: DuckDB reads the files (it
// refuses a STRING that is not UTF-8), each bad byte is the text \xNN, and path_bytes holds
// the exact key (DuckDB shows a BLOB's non-ASCII bytes as \XX) only when path needed it.
const J = '\u65e5';
const bad8 = await q(`SELECT path, path_bytes, etag, ifd_chain_error, software, image_description, jpeg_tables,
    geokeys.citation AS citation, geokeys_other, other_tags, warnings FROM ${file('headers_bad_utf8.parquet')}`);
const badRow = {
  path: 'dir/caf\\xe9.tif', path_bytes: 'dir/caf\\xE9.tif', etag: '"caf\\xe9"', ifd_chain_error: 'IFD 1: caf\\xe9',
  software: 'caf\\xe9', image_description: `${J}\\xe6\\x97`, jpeg_tables: 'caf\\xE9', citation: 'caf\\xe9',
  geokeys_other: [{ key: '3076', value: '"caf\\xe9"' }], other_tags: [{ key: '42033', value: `"${J}\\xe6\\x97"` }],
  warnings: ['warning caf\\xe9', 'ok', `${J}\\xe6\\x97`],
};
check('bad utf8 headers', bad8, [badRow, { ...badRow, path: 'dir/caf\u00e9.tif', path_bytes: null, etag: null }]);
const badKv = await q(`SELECT decode(value) AS v FROM parquet_kv_metadata(${file('headers_bad_utf8.parquet')})
    WHERE decode(key) = 'tiff_dumper.config'`);
check('bad utf8 metadata', badKv, [{ v: '# caf\\xe9\n' }]);
const badErr = await q(`SELECT path, path_bytes, kind, message FROM ${file('errors_bad_utf8.parquet')}`);
check('bad utf8 errors', badErr, [{ path: 'k/caf\\xe9.tif', path_bytes: 'k/caf\\xE9.tif', kind: 'not_foundcaf\\xe9',
  message: `file:///k/caf\\xe9.tif: ${J}\\xe6\\x97` }]);
// georeferencing: the full row's footprint and projection fields, the bare row's transform only
const geoRows = await q(`SELECT ST_AsText(geometry) AS g, bbox, proj_code, proj_shape, proj_transform, proj_bbox,
    proj_wkt2, proj_projjson FROM ${file('headers.parquet')}`);
check('geo full row', geoRows[0], {
  g: 'POLYGON ((10 50, 11 50, 11 51, 10 51, 10 50))', bbox: { xmin: 10, ymin: 50, xmax: 11, ymax: 51 }, proj_code: 'EPSG:32633',
  proj_shape: ['10980', '10980'], proj_transform: [10, 0, 399960, 0, -10, 5600040],
  proj_bbox: [399960, 5490240, 509760, 5600040], proj_wkt2: null, proj_projjson: null,
});
check('geo bare row', geoRows[1], {
  g: null, bbox: null, proj_code: null, proj_shape: ['1', '2'], proj_transform: [10, 0, 399960, 0, -10, 5600040],
  proj_bbox: null, proj_wkt2: null, proj_projjson: null,
});
const geoKv = await q(`SELECT decode(value) AS v FROM parquet_kv_metadata(${file('headers.parquet')})
    WHERE decode(key) = 'geo'`);
check('geo metadata', JSON.parse(geoKv[0].v), {
  version: '1.1.0', primary_column: 'geometry', columns: { geometry: {
    encoding: 'WKB', geometry_types: ['Polygon'], bbox: [10, 50, 11, 51],
    covering: { bbox: { xmin: ['bbox', 'xmin'], ymin: ['bbox', 'ymin'], xmax: ['bbox', 'xmax'], ymax: ['bbox', 'ymax'] } },
  } },
});
console.log(`table checks: ${bad} mismatches`);
process.exit(bad ? 1 : 0);
