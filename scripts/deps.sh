#!/usr/bin/env bash
# Installs everything tiff-dumper needs to build, test and benchmark on Debian 12, and only
# what is missing: running it twice does nothing the second time.
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --bench    also the benchmark peers (GDAL, wrk, gnuplot)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
      libcurl4-openssl-dev libuv1-dev libyaml-dev libexpat1-dev libsnappy-dev libzstd-dev
      libssl-dev zlib1g-dev libproj-dev proj-data
      libtiff-dev libtiff-tools python3 python3-tifffile python3-botocore python3-gdal gdal-bin
      nginx libnginx-mod-http-dav-ext curl ca-certificates
      dpkg-dev man-db zsh tmux
      chromium)  # tests/report: renders the report page headless
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(wrk gnuplot-nox hyperfine linux-perf strace valgrind iproute2 time)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages of the tests (Parquet readers, S3/Azure emulators), pinned by the lockfile.
# Reinstalled only when the lockfile changed since the last install.
node_dir=tests/node
stamp=$node_dir/node_modules/.td-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s "$node_dir/package-lock.json" "$stamp"; then
  echo "deps: npm ci in $node_dir"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$node_dir/package-lock.json" "$stamp"
fi

# npm peers of the end-to-end benchmark (geotiff.js), kept apart from the tests' packages.
if [ "${1:-}" = "--bench" ]; then
  bench_dir=bench/e2e/node
  bstamp=$bench_dir/node_modules/.td-lock-stamp
  if [ ! -f "$bstamp" ] || ! cmp -s "$bench_dir/package-lock.json" "$bstamp"; then
    echo "deps: npm ci in $bench_dir"
    (cd "$bench_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$bench_dir/package-lock.json" "$bstamp"
  fi
fi
