// Writes Parquet files with DuckDB for the reader test (test_read_duckdb.c): one table of
// flat and nested columns whose values follow formulas of the row number i (the C test
// computes the same), in each codec the reader supports, plus files it must refuse
// cleanly (PARQUET_VERSION v2: DELTA_* / BYTE_STREAM_SPLIT encodings; gzip).
//   node duckdb_write.mjs OUT_DIR ROWS      (TD_NODE_DIR = npm project with @duckdb/node-api)
import { importPkg } from './common.mjs';

const { DuckDBInstance } = await importPkg('@duckdb/node-api');
const [dir, rows] = [process.argv[2], Number(process.argv[3] || 50000)];
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
await con.run(`CREATE TABLE t AS SELECT
    i::INTEGER AS i32,
    i::BIGINT * 1000003 AS i64,
    i / 7.0::DOUBLE AS dbl,
    (i * 0.5)::FLOAT AS flt,
    i % 3 = 0 AS b,
    CASE WHEN i % 5 = 0 THEN NULL ELSE i END::BIGINT AS oi,
    's' || (i % 100) AS s,
    'unique-' || i AS u,
    TIMESTAMP '2020-01-01 00:00:00' + INTERVAL (i) SECOND AS ts,
    CASE WHEN i % 7 = 0 THEN NULL WHEN i % 4 = 0 THEN []::BIGINT[]
         ELSE [i, NULL, i + 1]::BIGINT[] END AS l,
    CASE WHEN i % 9 = 0 THEN NULL ELSE {'a': i, 'b': 'x' || i} END AS st,
    CASE WHEN i % 6 = 0 THEN NULL ELSE MAP {'k' || (i % 3): i} END AS m
  FROM range(${rows}) r(i) ORDER BY i`);
const files = [
  ['zstd', "COMPRESSION zstd"],
  ['snappy', "COMPRESSION snappy"],
  ['none', "COMPRESSION uncompressed"],
  ['v2', "COMPRESSION zstd, PARQUET_VERSION v2"],
  ['gzip', "COMPRESSION gzip"],
];
for (const [name, opts] of files)
  await con.run(`COPY t TO '${dir}/duckdb_${name}.parquet' (FORMAT parquet, ${opts}, ROW_GROUP_SIZE 20000)`);
console.log(`wrote ${files.length} files of ${rows} rows to ${dir}`);
