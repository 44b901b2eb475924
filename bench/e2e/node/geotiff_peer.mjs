// Peer of the end-to-end benchmark: geotiff.js reading each key's first image header over
// HTTP (fromUrl + getImage) with bounded concurrency, and the fields tiff-dumper reports:
// size, bands, data type, block size, geotransform, nodata.
//   node geotiff_peer.mjs BASE_URL KEYS_FILE N_KEYS CONCURRENCY
// Prints one JSON line: {"tool":"geotiff.js","files":..,"ok":..,"failed":..,"elapsed_s":..}
import { readFileSync } from 'node:fs';
import { fromUrl } from 'geotiff';

const [base, keysFile, nArg, concArg] = process.argv.slice(2);
const keys = readFileSync(keysFile, 'utf8').split('\n').filter((k) => k.length > 0)
  .slice(0, Number(nArg));
const conc = Number(concArg);

let ok = 0; let failed = 0; let next = 0; let firstError = null;
let checksum = 0;

async function one(key) {
  const tiff = await fromUrl(base + key);
  const img = await tiff.getImage(0);
  const rec = {
    w: img.getWidth(), h: img.getHeight(), bands: img.getSamplesPerPixel(),
    bits: img.getBitsPerSample(0), fmt: img.getSampleFormat(0),
    tw: img.getTileWidth(), th: img.getTileHeight(),
    origin: img.getOrigin(), res: img.getResolution(), nodata: img.getGDALNoData(),
  };
  checksum += rec.w + rec.bands + rec.tw; // keep the reads from being optimised away
}

async function worker() {
  while (next < keys.length) {
    const k = keys[next++];
    try {
      await one(k);
      ok++;
    } catch (e) {
      failed++;
      if (!firstError) firstError = `${k}: ${e && e.message}`;
    }
  }
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: conc }, worker));
const el = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ tool: 'geotiff.js', files: keys.length, ok, failed, concurrency: conc,
  elapsed_s: el, headers_per_second: ok / el, checksum, first_error: firstError }));
