#!/usr/bin/env bash
# The first command of the README: installs what is missing (Debian), builds tiff-dumper,
# dumps the headers of the sample TIFFs in examples/ to out/examples, and shows a few rows
# of the result with DuckDB. No network beyond the Debian/npm registries, no server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" --target tiff-dumper

echo "== build/release/src/cli/tiff-dumper headers examples/local.yaml out/examples"
rc=0
build/release/src/cli/tiff-dumper headers examples/local.yaml out/examples || rc=$?
if [ "$rc" -gt 1 ]; then
  exit "$rc"
fi

echo "== what DuckDB sees in out/examples"
node --input-type=module - "$PWD/tests/node" "$PWD/out/examples" <<'JS'
import { createRequire } from 'module';
import path from 'path';
const [nodeDir, out] = process.argv.slice(2);
const duck = createRequire(path.join(nodeDir, 'package.json'))('@duckdb/node-api');
const con = await (await duck.DuckDBInstance.create(':memory:')).connect();
const show = async (title, sql) => {
  console.log(`\n${title}\n  ${sql.replaceAll(out, 'out/examples')}`);
  const r = await con.runAndReadAll(sql);
  console.table(r.getRowObjectsJson());
};
await show('headers:',
  `SELECT path, size::INT AS size, image_width::INT AS width, image_height::INT AS height,
          bits_per_sample::INT[] AS bps, compression::INT AS compression,
          tile_width::INT AS tile_width,
          coalesce(geokeys.projected_type, geokeys.geographic_type)::INT AS epsg,
          requests, fetched_bytes::INT AS fetched
   FROM read_parquet('${out}/part-*.parquet') ORDER BY path LIMIT 20`);
await show('errors:',
  `SELECT path, stage, kind, message FROM read_parquet('${out}/_errors/part-*.parquet')`);
await show('summary (out/examples/_SUCCESS, config omitted):',
  `SELECT listed::INT AS listed, skipped::INT AS skipped, dumped::INT AS dumped,
          failed::INT AS failed, requests::INT AS requests, elapsed_seconds, version
   FROM read_json('${out}/_SUCCESS')`);
JS
