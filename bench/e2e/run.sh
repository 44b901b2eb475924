#!/usr/bin/env bash
# End-to-end benchmark of tiff-dumper (issue 6): builds a synthetic Sentinel-2-like bucket,
# serves it with nginx on 127.0.0.1, and measures in one run
#   - the ceiling: wrk issuing the same 16 KiB range GETs over the same keys,
#   - tiff-dumper over http:// across n_consumers, and across fetch.prefetch_bytes,
#   - the peers: GDAL (python3-gdal, /vsicurl/, thread pool) and geotiff.js,
#   - wrk and tiff-dumper through a ~50 ms RTT (a delaying loopback proxy), 1000 in flight,
#   - tiff-dumper's peak RSS from 20,000 to 1,000,000 keys (a key list of repeated keys),
#   - system calls per header (strace -c),
#   - how fast a 1,000,000-key list is read (plain and gzip), nothing fetched,
#   - a perf profile of tiff-dumper on loopback,
#   - CPU per 1,000 headers against wrk's per request, http and https, 64 and 1000 in flight
#     (https: a private CA made here, nginx ssl, network.ca_bundle), the server pinned to
#     CPU 0 and the client to the others (taskset),
#   - a concurrency.threads sweep (1 .. the client cores, at least 2) over https,
#   - the s3:// store over the same https server (SigV4 on every request) beside plain https,
# then writes bench/e2e/results.md (markdown table + the command) and
# bench/e2e/headers_vs_consumers.png (gnuplot).
#
# usage: bench/e2e/run.sh [--keys N] [--quick] [--no-deps] [--no-perf] [--work DIR]
#   --keys N     TIFF keys in the synthetic bucket (default 20000)
#   --quick      shorter runs (about 5 minutes after the first build), no perf, RSS to 200k keys
#   --no-deps    skip scripts/deps.sh --bench (everything already installed)
#   --work DIR   where the bucket, servers and outputs live (default build/bench-e2e)
# Environment: TD_BUILD_DIR (default build/release), TD_BENCH_OUT (default bench/e2e: where
# results.md and the PNG go), TD_BENCH_STEPS (default all: a comma list of loopback,
# prefetch, peers, rtt, rss, syscalls, keylist, s3, perf, https, threads, s3sign; and knobs,
# not in the default list: fetch.ifds first and output.footprints false beside the default
# config, same binary, in turn, http and https at 64 and 1000 in flight (issues 14, 15)),
# TD_BENCH_PIN=0 (no taskset: server and clients float over all cores).
#
# Only 127.0.0.1 is used; every server is started here and stopped by its PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cmdline="bench/e2e/run.sh${*:+ $*}"

keys=20000; quick=0; deps=1; perf_on=1; work=$repo/build/bench-e2e
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys=$2; shift 2 ;;
    --quick) quick=1; perf_on=0; shift ;;
    --no-deps) deps=0; shift ;;
    --no-perf) perf_on=0; shift ;;
    --work) work=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
build=${TD_BUILD_DIR:-$repo/build/release}
case "$build" in /*) ;; *) build=$repo/$build ;; esac
outdir=${TD_BENCH_OUT:-$here}; mkdir -p "$outdir"
py=/usr/bin/python3

consumers=(16 64 256 1000)
prefetches=(4096 8192 16384 32768)
if [ $quick = 1 ]; then
  reps=1; wrk_s=4; td_headers=60000; gdal_n=2000; gtj_n=1500; rss_mid=100000; rss_big=200000; pf_headers=40000
  tls_headers=60000
else
  reps=2; wrk_s=8; td_headers=150000; gdal_n=4000; gtj_n=3000; rss_mid=200000; rss_big=1000000; pf_headers=100000
  tls_headers=150000
fi
cpu_conc=(64 1000) # the in-flight counts of the CPU comparison (issue 12's table)
latency_ms=25   # one way: 50 ms round trip
s3_keys=2000
peer_conc=64

steps=${TD_BENCH_STEPS:-loopback,prefetch,peers,rtt,rss,syscalls,keylist,s3,perf,https,threads,s3sign}
step() { case ",$steps," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ------------------------------------------------------------------ CPU layout
# The server (one nginx worker) on CPU 0, every client (wrk, tiff-dumper, the peers) on the
# other CPUs, so a client's CPU time is its own and the server never competes with it: the
# layout of every CPU-per-header comparison. wrk runs one thread per client CPU.
ncpu=$(nproc)
srv_pin=(); cli_pin=(); cli_cpus="all"; n_cli=$ncpu
if [ "${TD_BENCH_PIN:-1}" != 0 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  cli_cpus="1-$((ncpu - 1))"; [ "$ncpu" = 2 ] && cli_cpus=1
  srv_pin=(taskset -c 0); cli_pin=(taskset -c "$cli_cpus"); n_cli=$((ncpu - 1))
fi
wrk_threads=$n_cli

# ------------------------------------------------------------------ setup
if [ $deps = 1 ]; then log "deps"; "$repo/scripts/deps.sh" --bench; fi
[ -d "$here/node/node_modules/geotiff" ] || (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)

log "build $build"
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_WERROR=ON >/dev/null
cmake --build "$build" --target tiff-dumper -j2 >/dev/null
td=$build/src/cli/tiff-dumper
mkdir -p "$work"
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$work/delay_proxy" "$here/delay_proxy.c"

log "bucket: $keys TIFF keys"
"$here/make_bucket.sh" "$work" "$keys" >&2

# shellcheck source=lib.sh
. "$here/lib.sh"
ngdir=$work/nginx
cleanup() {
  pid_stop "$work/proxy.pid" || true
  pid_stop "$work/s3rver.pid" || true
  nginx_stop "$ngdir" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nginx_stop "$ngdir"; rm -rf "$ngdir"
tlsdir=$work/tls
make_certs "$tlsdir" || { log "openssl failed: $(tail -3 "$tlsdir/openssl.log")"; exit 1; }
read -r port lport sport < <(NGINX_PIN="${srv_pin[*]}" nginx_start "$ngdir" "$work/bucket" "$tlsdir")
base=http://127.0.0.1:$port/
lbase=http://127.0.0.1:$lport/
sbase=https://127.0.0.1:$sport/
log "nginx on $port (logged: $lport, https: $sport); server CPUs: ${srv_pin[*]:-all}, clients: $cli_cpus"

res=$work/results.jsonl
: > "$res"
rm -f "$work/perf_summary.md" "$work/s3sign_bench.md"
emit() { echo "$1" >> "$res"; }
summ() { # one line about the last result
  log "  $(tail -1 "$res" | $py -c "$(cat <<'PY'
import json, sys
r = json.load(sys.stdin)
t = f"{r['label']}: {r['headers_per_s']:,.0f}/s"
if r.get("headers_per_s_inner"):
    t += f" ({r['headers_per_s_inner']:,.0f}/s without start-up)"
t += f", {r['cpu_ms_per_1k']:.1f} CPU ms/1k, RSS {r['rss_kib'] / 1024:.0f} MiB"
t += f", {r['req_per_file']:.3f} req/file, {r['bytes_per_file']:,.0f} B/file, failed {r['failed']}"
if "lat_p50_ms" in r:
    t += f", p50 {r['lat_p50_ms']:.1f} ms, p99 {r['lat_p99_ms']:.1f} ms"
print(t)
PY
)")"
}

# background CPU use (other processes) over 3 s, in percent of all cores
cpu_busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 3; b=($(head -1 /proc/stat))
  local t=0 i=0
  for k in 1 2 3 4 5 6 7 8; do t=$((t + b[k] - a[k])); done
  i=$((b[4] - a[4] + b[5] - a[5]))
  echo $(( (t - i) * 100 / (t > 0 ? t : 1) ))
}

# repeat_keys FILE N OUT: the key list repeated until it has N lines
repeat_keys() {
  local f=$1 n=$2 out=$3 have
  have=$(wc -l < "$f")
  : > "$out"
  while [ "$(wc -l < "$out")" -lt "$n" ]; do cat "$f" >> "$out"; done
  head -n "$n" "$out" > "$out.tmp" && mv "$out.tmp" "$out"
  [ "$have" -gt 0 ]
}

# ------------------------------------------------------------------ tiff-dumper runner
# td_config FILE STORE_NAME N_CONSUMERS PREFETCH KEYS_FROM|"" PREFIX_REPEAT
td_config() {
  local f=$1 name=$2 n=$3 pf=$4 kf=$5 rep=$6
  local lcs=10000 wcs=100000
  case $n in
    default) ;;
    wc10k) n=1000; wcs=10000 ;;   # the defaults but 10,000 rows per Parquet file
    *) [ "$n" -gt $lcs ] && lcs=$n; wcs=$((lcs * 10)) ;;
  esac
  {
    echo "store:"
    echo "  name: \"$name\""
    [ -n "${td_store_extra:-}" ] && printf '%s\n' "$td_store_extra"
    if [ -n "$kf" ]; then
      echo "  keys_from: \"$kf\""
    else
      # local stand-in without a key list: the same prefix listed REP times repeats the keys
      echo "  prefixes:"
      for _ in $(seq "$rep"); do echo "    - \"sentinel-s2-l2a-cogs/\""; done
    fi
    if [ "$n" != default ]; then # n = default: the concurrency defaults (n_consumers 1000)
      echo "concurrency:"
      echo "  n_consumers: $n"
      echo "  list_chunk_size: $lcs"
      echo "  max_buffer_size: $((lcs * 100))"
      echo "  write_chunk_size: $wcs"
      [ -n "${td_threads:-}" ] && echo "  threads: $td_threads"
    fi
    [ -n "${td_network:-}" ] && printf 'network:\n%s\n' "$td_network"
    if [ "$pf" != default ]; then
      echo "fetch:"
      echo "  prefetch_bytes: $pf"
    fi
    # whole extra sections (the knobs step: fetch.ifds, output.footprints; with PREFETCH
    # default only, so that no section is written twice)
    if [ -n "${td_sections:-}" ]; then printf '%s\n' "$td_sections"; fi
  } > "$f"
}

# td_run LABEL SCENARIO STORE_NAME N PREFETCH HEADERS [PERF_DATA]
# runs tiff-dumper over HEADERS keys (the key list repeated) and emits one JSON result line
td_run() {
  local label=$1 scen=$2 name=$3 n=$4 pf=$5 hdrs=$6 perfdata=${7:-}
  local cfg=$work/td.yaml out=$work/td-out kf="" rep=1
  if [ "$td_keys_from" = 1 ]; then
    kf=$work/keys_${hdrs}.txt
    [ -s "$kf" ] || repeat_keys "$work/keys.txt" "$hdrs" "$kf"
  else
    rep=$(( (hdrs + keys - 1) / keys ))
  fi
  td_config "$cfg" "$name" "$n" "$pf" "$kf" "$rep"
  rm -rf "$out"
  local pre=()
  [ -n "$perfdata" ] && pre=(perf record -q -F 499 --call-graph dwarf,16384 -o "$perfdata" --)
  local rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${cli_pin[@]}" "${pre[@]}" "$td" headers "$cfg" "$out" -q \
    2> "$work/td.err" || rc=$?
  if [ ! -f "$out/_SUCCESS" ]; then
    log "tiff-dumper failed (rc $rc): $(tail -3 "$work/td.err")"
    return 1
  fi
  [ "$rc" = 0 ] || log "tiff-dumper rc $rc: $(tail -2 "$work/td.err")"
  read -r wall usr sys rss < "$work/time.txt"
  emit "$($py - "$out/_SUCCESS" "$label" "$scen" "$n" "$pf" "$wall" "$usr" "$sys" "$rss" "$mode" "${td_tags:-}" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
label, scen, n, pf, wall, usr, sys_, rss, mode, tags = sys.argv[2:]
wall, usr, sys_ = float(wall), float(usr), float(sys_)
d, f = s["dumped"], s["failed"]
files = d + f
print(json.dumps({"tool": "tiff-dumper", "label": label, "scenario": scen,
    "conc": int(n) if n.isdigit() else 1000,
    "prefetch": pf, "store": mode, "files": files, "ok": d, "failed": f,
    "wall_s": wall, "pipeline_s": s["elapsed_seconds"],
    "headers_per_s": d / wall if wall else 0,
    "cpu_ms_per_1k": (usr + sys_) * 1000 / (d / 1000) if d else None,
    "rss_kib": int(rss), "req_per_file": s["requests"] / files if files else None,
    "bytes_per_file": s["bytes_fetched"] / files if files else None,
    **(json.loads(tags) if tags else {})}))
PY
)"
  summ
}

# wrk_run LABEL SCENARIO URL CONNS [PATH_PREFIX]
wrk_run() {
  local label=$1 scen=$2 url=$3 c=$4 t=$wrk_threads
  [ "$c" -lt "$t" ] && t=$c
  # over https every connection starts with a handshake (1000 of them take nginx's one core
  # seconds): a longer run keeps that share close to tiff-dumper's, whose run amortises the
  # same handshakes over tls_headers requests
  local secs=$wrk_s
  case $url in https://*) secs=$((wrk_s * 3)) ;; esac
  TD_KEYS=$work/keys.txt TD_RANGE=16384 TD_PREFIX=${5:-/} /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" \
    "${cli_pin[@]}" wrk -t"$t" -c"$c" -d${secs}s --timeout 10s -s "$here/ranges.lua" "$url" > "$work/wrk.out" 2>&1 || true
  read -r wall usr sys rss < "$work/time.txt"
  local j; j=$(grep '^TDJSON ' "$work/wrk.out" | sed 's/^TDJSON //')
  [ -n "$j" ] || { log "wrk failed: $(tail -3 "$work/wrk.out")"; return 1; }
  case $j in *'"requests":0,'*) log "wrk got no response in ${secs} s: $(grep -m1 'requests in' "$work/wrk.out")"; return 1 ;; esac
  emit "$($py - "$j" "$label" "$scen" "$c" "$usr" "$sys" "$rss" "$t" "${td_tags:-}" <<'PY'
import json, sys
w = json.loads(sys.argv[1]); label, scen, c, usr, sys_, rss, t, tags = sys.argv[2:]
ok = w["requests"] - w["errors_status"]
dur = w["duration_us"] / 1e6
print(json.dumps({"tool": "wrk", "label": label, "scenario": scen, "conc": int(c),
    "files": w["requests"], "ok": ok, "failed": w["errors_status"] + w["errors_timeout"],
    "wall_s": dur, "headers_per_s": ok / dur,
    "cpu_ms_per_1k": (float(usr) + float(sys_)) * 1000 / (ok / 1000) if ok else None,
    "rss_kib": int(rss), "req_per_file": 1.0,
    "bytes_per_file": w["bytes"] / w["requests"] if w["requests"] else None,
    "lat_p50_ms": w["lat_p50_us"] / 1000, "lat_p99_ms": w["lat_p99_us"] / 1000,
    "wrk_threads": int(t), **(json.loads(tags) if tags else {})}))
PY
)"
  summ
}

# peer_run TOOL N CONC: a throughput pass on the plain port, then an accounting pass of
# 500 keys on the logged port for requests and bytes per file
peer_run() {
  local tool=$1 n=$2 c=$3 j acc
  local cmd=()
  case $tool in
    gdal) cmd=($py "$here/gdal_peer.py") ;;
    geotiff.js) cmd=(node "$here/node/geotiff_peer.mjs") ;;
  esac
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${cli_pin[@]}" "${cmd[@]}" "$base" "$work/keys.txt" "$n" "$c" \
    > "$work/peer.out" 2> "$work/peer.err" || { log "$tool failed: $(tail -3 "$work/peer.err")"; return 1; }
  read -r wall usr sys rss < "$work/time.txt"
  j=$(tail -1 "$work/peer.out")
  log_reset "$ngdir"
  "${cmd[@]}" "$lbase" "$work/keys.txt" 500 "$c" > /dev/null 2>&1 || true
  acc=$(log_count "$ngdir")
  emit "$($py - "$j" "$tool" "$c" "$wall" "$usr" "$sys" "$rss" "$acc" <<'PY'
import json, sys
p = json.loads(sys.argv[1]); tool, c, wall, usr, sys_, rss, acc = sys.argv[2:]
nreq, nbytes = map(int, acc.split())
ok = p["ok"]; wall = float(wall)
print(json.dumps({"tool": tool, "label": f"{tool} loopback, {c} in flight", "scenario": "loopback",
    "conc": int(c), "files": p["files"], "ok": ok, "failed": p["failed"], "wall_s": wall,
    "inner_s": p["elapsed_s"], "headers_per_s": ok / wall,
    "headers_per_s_inner": p["headers_per_second"],
    "cpu_ms_per_1k": (float(usr) + float(sys_)) * 1000 / (ok / 1000) if ok else None,
    "rss_kib": int(rss), "req_per_file": nreq / 500, "bytes_per_file": nbytes / 500,
    "first_error": p.get("first_error")}))
PY
)"
  summ
}

# ------------------------------------------------------------------ which store tiff-dumper can use
# The http:// store and store.keys_from are the real subject; a build without them falls back
# to the local store on the same bucket folder (no network: a stand-in only, marked as such).
probe=$work/probe; mkdir -p "$probe"; head -5 "$work/keys.txt" > "$probe/keys.txt"
td_keys_from=1; mode=http
td_config "$probe/cfg.yaml" "$base" 4 default "$probe/keys.txt" 1
if ! "$td" headers "$probe/cfg.yaml" "$probe/out" -q 2> "$probe/err" ||
   [ "$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["dumped"])' "$probe/out/_SUCCESS" 2>/dev/null)" != 5 ]; then
  log "http:// store or keys_from not usable ($(head -c 300 "$probe/err")): local store stand-in"
  mode=local
  td_config "$probe/cfg.yaml" "$work/bucket" 4 default "$probe/keys.txt" 1
  if "$td" headers "$probe/cfg.yaml" "$probe/out" -q 2>/dev/null; then td_keys_from=1; else td_keys_from=0; fi
fi
store_name=$base; [ $mode = local ] && store_name=$work/bucket
log "tiff-dumper store: $mode, keys_from: $td_keys_from"

# ------------------------------------------------------------------ measurements
busy=$(cpu_busy)
log "background CPU before measuring: ${busy}% of $(nproc) cores"
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

step loopback && log "loopback: wrk ceiling and tiff-dumper across connections / n_consumers"
# each point is measured $reps times, wrk and tiff-dumper in turn so that both see the same
# background load; the report keeps the best run of each (other processes only slow a run)
step loopback && for _r in $(seq $reps); do for c in "${consumers[@]}"; do
  wrk_run "wrk loopback, $c conns" loopback "$base" "$c"
  td_run "tiff-dumper loopback, n_consumers $c" loopback "$store_name" "$c" default "$td_headers"
done; done

# listing instead of a key list: WebDAV PROPFIND walk of the bucket, default config
if step loopback && [ "$mode" = http ]; then
  log "listing: PROPFIND walk of the whole bucket (no key list), default config"
  td_keys_from=0 td_run "tiff-dumper loopback, PROPFIND listing, default config" listing \
    "$store_name" default default "$keys"
fi

step prefetch && log "prefetch sweep (n_consumers 256)"
step prefetch && for _r in $(seq $reps); do for pf in "${prefetches[@]}"; do
  td_run "tiff-dumper prefetch $pf" prefetch "$store_name" 256 "$pf" "$pf_headers"
done; done
# The synthetic COGs all fit 4 KiB, so the sweep above cannot show what a smaller prefetch
# costs in extra requests: the real third-party files of the test corpus (strip TIFFs with
# the IFD after the data, big GeoTIFF metadata, many-IFD files) do, read from a local folder.
corpus=${TD_CORPUS_DIR:-$repo/tests/corpus}
if step prefetch && [ -d "$corpus" ]; then
  corpus=$(cd "$corpus" && pwd)
  log "prefetch on the real-file corpus ($corpus)"
  for pf in "${prefetches[@]}" 65536; do
    printf 'store:\n  name: "file://%s"\nfetch:\n  prefetch_bytes: %s\n' "$corpus" "$pf" > "$work/pfc.yaml"
    rm -rf "$work/pfc-out"
    # the corpus holds a few broken files on purpose: a non-zero exit with _SUCCESS is normal
    "$td" headers "$work/pfc.yaml" "$work/pfc-out" -q 2> "$work/pfc.err" || true
    if [ -f "$work/pfc-out/_SUCCESS" ]; then
      emit "$($py - "$work/pfc-out/_SUCCESS" "$pf" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); files = s["dumped"] + s["failed"]
print(json.dumps({"tool": "tiff-dumper", "scenario": "pfcorpus", "label": "corpus prefetch " + sys.argv[2],
    "prefetch": sys.argv[2], "files": files, "ok": s["dumped"], "failed": s["failed"],
    "headers_per_s": 0, "req_per_file": s["requests"] / files if files else None,
    "bytes_per_file": s["bytes_fetched"] / files if files else None}))
PY
)"
    else
      log "  corpus run failed: $(tail -3 "$work/pfc.err")"
    fi
  done
fi

if step peers; then
  log "peers"
  # GDAL's best thread count is not obvious: try a few, the report takes the best
  for t in 16 64 128; do peer_run gdal "$gdal_n" "$t"; done
  peer_run geotiff.js "$gtj_n" "$peer_conc"
fi

if step rtt; then
log "latency: ${latency_ms} ms each way through the delay proxy, 1000 in flight"
pport=$(proxy_start "$work/delay_proxy" "$port" "$latency_ms" "$work/proxy.pid")
for _r in $(seq $reps); do
  wrk_run "wrk 50 ms RTT, 1000 conns" rtt50 "http://127.0.0.1:$pport/" 1000
  if [ $mode = http ]; then
    td_run "tiff-dumper 50 ms RTT, n_consumers 1000" rtt50 "http://127.0.0.1:$pport/" 1000 default "$td_headers"
  else
    log "  (tiff-dumper through the proxy needs the http:// store: skipped)"
  fi
done
pid_stop "$work/proxy.pid"
fi

if step rss; then
log "peak RSS with the default config: $keys keys vs $rss_big keys"
if [ "$td_keys_from" = 1 ]; then
  td_run "tiff-dumper RSS, $keys keys" rss "$store_name" default default "$keys"
  td_run "tiff-dumper RSS, $rss_mid keys" rss "$store_name" default default "$rss_mid"
  td_run "tiff-dumper RSS, $rss_big keys" rss "$store_name" default default "$rss_big"
  # diagnostics, not the default config: what the Parquet row buffer (write_chunk_size rows)
  # and the fetches in flight (n_consumers) each add
  td_run "diagnostic: $rss_mid keys, write_chunk_size 10000" rssdiag "$store_name" wc10k default "$rss_mid"
  td_run "diagnostic: $rss_mid keys, n_consumers 64" rssdiag "$store_name" 64 default "$rss_mid"
else
  td_run "tiff-dumper RSS, $keys keys" rss "$store_name" 1000 default "$keys"
  td_run "tiff-dumper RSS, $((keys * 10)) keys (prefix listed 10x)" rss "$store_name" 1000 default $((keys * 10))
fi
fi

# ------------------------------------------------------------------ system calls per header
# strace -c over 20,000 headers at n_consumers 64: what the loop costs in system calls per
# header (a count, so strace's own slowdown does not matter)
if step syscalls && [ "$td_keys_from" = 1 ] && command -v strace >/dev/null; then
  log "system calls per header (strace -c, 20,000 headers, n_consumers 64)"
  td_config "$work/sc.yaml" "$store_name" 64 default "$work/keys.txt" 1
  rm -rf "$work/sc-out"
  if strace -f -c -o "$work/strace.txt" "$td" headers "$work/sc.yaml" "$work/sc-out" -q 2> "$work/sc.err" &&
      [ -f "$work/sc-out/_SUCCESS" ]; then
    emit "$($py - "$work/strace.txt" "$work/sc-out/_SUCCESS" <<'PY'
import json, re, sys
calls = {}
for line in open(sys.argv[1]):
    f = line.split()
    # "% time seconds usecs/call calls [errors] syscall"
    if len(f) >= 5 and re.match(r"^[0-9.]+$", f[0]) and f[-1] != "total":
        calls[f[-1]] = int(f[3])
s = json.load(open(sys.argv[2])); files = s["dumped"] + s["failed"]
print(json.dumps({"tool": "tiff-dumper", "scenario": "syscalls", "label": "strace -c",
    "files": files, "headers_per_s": 0, "calls": calls}))
PY
)"
  else
    log "  strace run failed: $(tail -3 "$work/sc.err")"
  fi
fi

# ------------------------------------------------------------------ key list reading
# How fast a key list is read (store.keys_from), apart from fetching: a list of 1,000,000
# keys, plain and gzip, with fetch.suffixes matching none of them, so every key is read,
# parsed and counted as skipped and nothing is fetched.
if step keylist && [ "$td_keys_from" = 1 ]; then
  kl=$work/keys_1000000.txt
  [ -s "$kl" ] || repeat_keys "$work/keys.txt" 1000000 "$kl"
  [ -s "$kl.gz" ] || gzip -6 -c "$kl" > "$kl.gz"
  log "key list reading: 1,000,000 keys, plain and gzip, none fetched"
  for f in "$kl" "$kl.gz"; do
    printf 'store:\n  name: "%s"\n  keys_from: "%s"\nfetch:\n  suffixes: [".nomatch"]\n' \
      "$store_name" "$f" > "$work/kl.yaml"
    rm -rf "$work/kl-out"
    if /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$td" headers "$work/kl.yaml" "$work/kl-out" -q \
        2> "$work/kl.err" && [ -f "$work/kl-out/_SUCCESS" ]; then
      read -r wall usr sys rss < "$work/time.txt"
      emit "$($py - "$work/kl-out/_SUCCESS" "$f" "$wall" "$usr" "$sys" "$rss" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1])); f = sys.argv[2]; wall, usr, sys_, rss = map(float, sys.argv[3:])
print(json.dumps({"tool": "tiff-dumper", "scenario": "keylist",
    "label": "1,000,000-key list" + (", gzip" if f.endswith(".gz") else ""),
    "list_bytes": os.path.getsize(f), "listed": s["listed"], "skipped": s["skipped"],
    "ok": s["dumped"], "failed": s["failed"], "wall_s": wall, "cpu_s": usr + sys_,
    "headers_per_s": 0, "rss_kib": int(rss)}))
PY
)"
      log "  $(basename "$f"): ${wall} s wall, RSS $((rss / 1024)) MiB"
    else
      log "  key list run failed: $(tail -3 "$work/kl.err")"
    fi
  done
fi

# ------------------------------------------------------------------ S3 path (s3rver)
# s3rver serves about 2,000 range GETs/s (a JavaScript server): this checks the S3 path
# end to end (ListObjectsV2 pages, SigV4, ranged GETs) on a smaller bucket; the numbers are
# the server's limit, not tiff-dumper's.
s3dir=$work/s3rver
s3js=$repo/tests/node/node_modules/s3rver/bin/s3rver.js
if step s3 && [ -f "$s3js" ] && [ "$mode" = http ]; then
  s3n=$s3_keys; [ "$s3n" -gt "$keys" ] && s3n=$keys
  log "S3 path: s3rver with $s3n keys"
  rm -rf "$s3dir"; mkdir -p "$s3dir/data/sentinel-cogs"
  # the store's own on-disk layout (KEY._S3rver_object + .md5), hard links again; the md5 files
  # are written here so that s3rver does not hash 100 MB sparse files on first access
  head -n "$s3n" "$work/keys.txt" | $py -c "$(cat <<'PY'
import hashlib, os, sys
bucket, work = sys.argv[1], sys.argv[2]
md5 = {}
for k in sys.stdin.read().split():
    src = os.path.realpath(os.path.join(work, "bucket", k))
    st = os.stat(src)
    if st.st_ino not in md5:
        h = hashlib.md5()
        with open(src, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        md5[st.st_ino] = h.hexdigest()
    dst = os.path.join(bucket, k + "._S3rver_object")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.link(src, dst)
    with open(dst + ".md5", "w") as f:
        f.write(md5[st.st_ino])
PY
)" "$s3dir/data/sentinel-cogs" "$work"
  s3port=$(free_port)
  NODE_OPTIONS=--openssl-legacy-provider node "$s3js" -d "$s3dir/data" -a 127.0.0.1 -p "$s3port" --silent \
    > "$s3dir/log" 2>&1 &
  echo $! > "$work/s3rver.pid"
  if wait_port "$s3port"; then
    cat > "$s3dir/cfg.yaml" <<YAML
store:
  name: "s3://sentinel-cogs"
  prefixes: ["sentinel-s2-l2a-cogs/"]
  obstore_config:
    endpoint: "http://127.0.0.1:$s3port"
    allow_http: true
    region: us-east-1
    access_key_id: S3RVER
    secret_access_key: S3RVER
concurrency:
  n_consumers: 64
  list_chunk_size: 1000
  max_buffer_size: 10000
  write_chunk_size: 10000
YAML
    rm -rf "$s3dir/out"
    if /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$td" headers "$s3dir/cfg.yaml" "$s3dir/out" -q \
        2> "$s3dir/td.err" && [ -f "$s3dir/out/_SUCCESS" ]; then
      read -r wall usr sys rss < "$work/time.txt"
      emit "$($py - "$s3dir/out/_SUCCESS" "$wall" "$usr" "$sys" "$rss" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); wall, usr, sys_, rss = map(float, sys.argv[2:])
d, f = s["dumped"], s["failed"]; files = d + f
print(json.dumps({"tool": "tiff-dumper", "label": "tiff-dumper S3 (s3rver), n_consumers 64",
    "scenario": "s3rver", "conc": 64, "prefetch": "default", "store": "s3", "files": files,
    "ok": d, "failed": f, "listed": s["listed"], "wall_s": wall, "headers_per_s": d / wall,
    "cpu_ms_per_1k": (usr + sys_) * 1000 / (d / 1000) if d else None, "rss_kib": int(rss),
    "req_per_file": s["requests"] / files if files else None,
    "bytes_per_file": s["bytes_fetched"] / files if files else None}))
PY
)"
      summ
    else
      log "  tiff-dumper on s3rver failed: $(tail -3 "$s3dir/td.err")"
    fi
  fi
  pid_stop "$work/s3rver.pid"
fi

if step perf && [ $perf_on = 1 ] && command -v perf >/dev/null; then
  log "perf profile (loopback, n_consumers 256)"
  if td_run "tiff-dumper under perf (not a measurement)" perf "$store_name" 256 default "$pf_headers" "$work/perf.data"; then
    # self time by library, by function; then inclusive time of the pipeline's own entry
    # points and of the system calls (libcurl has no symbols here: its frames show as
    # addresses, so its share is read from the dso table and its callers)
    perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
      grep '%' > "$work/perf_dso.txt" || true
    perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
      grep '%' | head -60 > "$work/perf_self.txt" || true
    perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
      grep '%' | grep -v ' 0x0000' | head -150 > "$work/perf_children.txt" || true
    $py "$here/perf_summary.py" "$work/perf.data" > "$work/perf_summary.md" 2>/dev/null || true
    log "  perf: by library: $(awk '{printf "%s %s, ", $2, $1}' "$work/perf_dso.txt" | head -c 300)"
  fi
fi

# ------------------------------------------------------------------ CPU per header (issue 12)
# wrk and tiff-dumper in turn, same connections, same server, the pinned layout above: CPU =
# user+sys of the client process (GNU time) per 1,000 headers (wrk: per 1,000 responses).
# https: nginx ssl with the private CA's certificate, tiff-dumper trusting it through
# network.ca_bundle; wrk 4.1 speaks TLS itself (no certificate check).
ca=$tlsdir/ca.pem
cpu_pair() { # PROTO CONC
  local proto=$1 c=$2 url=$base hdrs=$td_headers net=""
  if [ "$proto" = https ]; then url=$sbase; hdrs=$tls_headers; net="  ca_bundle: \"$ca\""; fi
  td_tags="{\"proto\":\"$proto\"}" wrk_run "wrk $proto, $c conns (pinned)" cpu "$url" "$c" || true
  td_tags="{\"proto\":\"$proto\"}" td_network=$net \
    td_run "tiff-dumper $proto, n_consumers $c (pinned)" cpu "$url" "$c" default "$hdrs" || true
}
if step https && [ "$mode" = http ]; then
  log "CPU per header, pinned (server CPU 0, clients CPU $cli_cpus): http and https, ${cpu_conc[*]} in flight"
  for _r in $(seq $reps); do for proto in http https; do for c in "${cpu_conc[@]}"; do
    cpu_pair "$proto" "$c"
  done; done; done
fi

# ------------------------------------------------------------------ thread sweep (issue 12)
# concurrency.threads 1, 2, ... up to the client CPUs (at least 2: on a 2-core machine both
# run on the one client CPU, which shows what threading costs per header), over https at the
# default 1000 in flight, the server alone on CPU 0. A build without the key refuses it in
# `headers --check`: the sweep is then reported as skipped, not failed.
if step threads && [ "$mode" = http ]; then
  tmax=$n_cli; [ "$tmax" -lt 2 ] && tmax=2
  printf 'store:\n  name: "%s"\nconcurrency:\n  threads: 2\nnetwork:\n  ca_bundle: "%s"\n' \
    "$sbase" "$ca" > "$work/thr.yaml"
  if "$td" headers --check "$work/thr.yaml" > "$work/thr.err" 2>&1 && ! grep -qi 'threads' "$work/thr.err"; then
    log "thread sweep: threads 1..$tmax, https, n_consumers 1000, clients on CPU $cli_cpus"
    for _r in $(seq $reps); do for n in $(seq 1 "$tmax"); do
      td_threads=$n td_tags="{\"proto\":\"https\",\"threads\":$n}" td_network="  ca_bundle: \"$ca\"" \
        td_run "tiff-dumper https, threads $n, n_consumers 1000 (pinned)" threads "$sbase" 1000 default "$tls_headers" || true
    done; done
  else
    why=$(tr '\n' ' ' < "$work/thr.err" | head -c 200)
    log "  thread sweep skipped: threads not supported ($why)"
    emit "$($py -c 'import json,sys; print(json.dumps({"tool":"tiff-dumper","scenario":"threads_skipped","label":"thread sweep","headers_per_s":0,"why":sys.argv[1]}))' "$why")"
  fi
fi

# ------------------------------------------------------------------ S3 signing cost (issue 12)
# The s3:// store, path-style, against the same https server (nginx serves /sentinel-cogs/KEY
# from the bucket folder and checks no signature), with fake static credentials: SigV4 on
# every request. Beside the plain https run just before it, the difference is what signing
# and the S3 request path cost. s3sign_bench (bench/store) times signing alone.
if step s3sign && [ "$mode" = http ]; then
  log "S3 signing: s3:// store (SigV4, path-style) vs plain https, ${cpu_conc[*]} in flight"
  for _r in $(seq $reps); do for c in "${cpu_conc[@]}"; do
    # the plain https run right before each s3:// one: the pair sees the same background load
    td_tags='{"proto":"https"}' td_network="  ca_bundle: \"$ca\"" \
      td_run "tiff-dumper https beside s3://, n_consumers $c (pinned)" s3plain "$sbase" "$c" default "$tls_headers" || true
    td_store_extra="  obstore_config:
    endpoint: \"https://127.0.0.1:$sport\"
    region: us-east-1
    access_key_id: AKIDBENCHEXAMPLE
    secret_access_key: bench/secret/never+checked/by+nginx" \
    td_tags='{"proto":"https","store":"s3"}' td_network="  ca_bundle: \"$ca\"" \
      td_run "tiff-dumper s3:// SigV4 https, n_consumers $c (pinned)" s3sign "s3://sentinel-cogs" "$c" default "$tls_headers" || true
  done; done
  sb=$build/bench/store/s3sign_bench
  if cmake --build "$build" --target s3sign_bench -j2 >/dev/null 2>&1 && [ -x "$sb" ]; then
    "${cli_pin[@]}" "$sb" 0.3 > "$work/s3sign_bench.md" 2>&1 || log "  s3sign_bench failed: $(tail -2 "$work/s3sign_bench.md")"
  fi
fi

# ------------------------------------------------------------------ knobs (issues 14, 15)
# The cost of every IFD + the COG verdict and of the footprints, same engine: the default
# config, fetch.ifds: first (IFD 0 only) and output.footprints: false (no PROJ) in turn in
# each cell, so that background load hits the three alike; the report gives medians.
if step knobs && [ "$mode" = http ]; then
  log "knobs: default vs fetch.ifds: first vs output.footprints: false, http/https, ${cpu_conc[*]} in flight"
  for _r in $(seq $reps); do for proto in http https; do for c in "${cpu_conc[@]}"; do
    url=$base; hdrs=$td_headers; net=""
    if [ "$proto" = https ]; then url=$sbase; hdrs=$tls_headers; net="  ca_bundle: \"$ca\""; fi
    for knob in all first nofp; do
      sec=""
      [ $knob = first ] && sec=$'fetch:\n  ifds: first'
      [ $knob = nofp ] && sec=$'output:\n  footprints: false'
      td_sections=$sec td_tags="{\"proto\":\"$proto\",\"knob\":\"$knob\"}" td_network=$net \
        td_run "tiff-dumper $proto, n_consumers $c, knob $knob (pinned)" knobs "$url" "$c" default "$hdrs" || true
    done
  done; done; done
fi

# ------------------------------------------------------------------ report
busy_after=$(cpu_busy)
log "report"
layout="nginx (one worker) on CPU 0, clients on CPU $cli_cpus (taskset), wrk -t$wrk_threads"
[ ${#srv_pin[@]} = 0 ] && layout="not pinned (TD_BENCH_PIN=0 or one CPU): server and clients share all CPUs, wrk -t$wrk_threads"
TD_BENCH_LAYOUT=$layout $py "$here/report.py" "$res" "$outdir" "$cmdline" "$mode" "$busy" "$busy_after" "$loadavg" "$keys" \
  "$work" "$(uname -r)" "$(nproc)"
log "wrote $outdir/results.md and $outdir/headers_vs_consumers.png"
