#!/usr/bin/env bash
# CPU per header of tiff-dumper against wrk -t1 with the same connections, in one run:
# nginx (one worker) pinned to CPU 0, the client pinned to CPU 1, 16 KiB range GETs of a
# bucket of hard-linked copies of one COG over http and https (self-signed CA given to
# tiff-dumper through network.ca_bundle). Several tiff-dumper binaries (A/B) are run in turn
# with wrk, REPS times, so that background load hits all of them alike; medians are printed.
#
#   bench/net/run.sh [-r REPS] [-n HEADERS] [-d WRK_SECONDS] [-c "64 1000"] [-s "http https"] LABEL=BIN [LABEL=BIN ...]
#   TD_BENCH_DEFAULTS=1: the other concurrency keys at their defaults (for peak RSS)
#   TD_PERF=1: each tiff-dumper run under perf record -e cpu-clock -g (WORK/perf.*.data)
#   extra config for a binary: LABEL=BIN@section.key:value, several @... allowed, e.g.
#     ifd0=td@fetch.ifds:first  nofp=td@output.footprints:false  A=td@network.engine:curl
#     (a key without a section is a network key, the old form: A=td@engine:curl)
#   TD_BENCH_BUCKET=DIR: the bucket of bench/e2e/make_bucket.sh (DIR/bucket, DIR/keys.txt:
#     the synthetic Sentinel-2 bucket, 5 GDAL-made COGs under 20,000 keys; made if missing)
#     instead of 20,000 hard links to one corpus COG
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
reps=3; n=60000; wrk_s=8; concs="64 1000"; schemes="http https"; work=${TD_BENCH_WORK:-/tmp/td-bench-net}
while getopts r:n:c:s:d: o; do case $o in d) wrk_s=$OPTARG;; r) reps=$OPTARG;; n) n=$OPTARG;; c) concs=$OPTARG;; s) schemes=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-r reps] [-n headers] LABEL=BIN[@key:value] ..." >&2; exit 2; }
# shellcheck source=../e2e/lib.sh
. "$root/bench/e2e/lib.sh"
mkdir -p "$work"
# bucket: 20,000 hard links to one COG of the corpus (its header fits 16 KiB), or bench/e2e's
src=${TD_BENCH_TIFF:-$root/tests/corpus/georust-geotiff/zh_dem_25.tif}
bucket=$work/bucket; keys=$work/keys.txt
if [ -n "${TD_BENCH_BUCKET:-}" ]; then
  mkdir -p "$TD_BENCH_BUCKET"; TD_BENCH_BUCKET=$(cd "$TD_BENCH_BUCKET" && pwd)
  [ -s "$TD_BENCH_BUCKET/keys.txt" ] || "$root/bench/e2e/make_bucket.sh" "$TD_BENCH_BUCKET" 20000 >&2
  bucket=$TD_BENCH_BUCKET/bucket; keys=$TD_BENCH_BUCKET/keys.txt
elif [ ! -f "$work/keys.txt" ]; then
  mkdir -p "$work/bucket/k"; cp "$src" "$work/bucket/src.tif"
  for i in $(seq 20000); do ln -f "$work/bucket/src.tif" "$work/bucket/k/$i.tif"; done
  for i in $(seq 20000); do echo "k/$i.tif"; done > "$work/keys.txt"
fi
: > "$work/keys_rep.txt"; while [ "$(wc -l < "$work/keys_rep.txt")" -lt "$n" ]; do cat "$keys" >> "$work/keys_rep.txt"; done
head -n "$n" "$work/keys_rep.txt" > "$work/keys_n.txt"
# CA and server certificate for 127.0.0.1
if [ ! -f "$work/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" -days 30 -subj /CN=td-bench-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$work/srv.key" -out "$work/srv.csr" -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$work/ext.cnf"
  openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -out "$work/srv.pem" -days 30 -extfile "$work/ext.cnf" 2>/dev/null
fi
ng=$work/nginx; mkdir -p "$ng/tmp" "$ng/logs"
port=$(free_port); sport=$(free_port)
user=""; [ "$(id -u)" -eq 0 ] && user="user root;"
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=65536; [ "$nofile" -gt 65536 ] && nofile=65536
cat > "$ng/nginx.conf" <<CONF
$user
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $ng/nginx.pid;
error_log $ng/logs/error.log warn;
events { worker_connections $((nofile / 2)); multi_accept on; }
http {
  access_log off; default_type application/octet-stream; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; keepalive_timeout 300s;
  client_body_temp_path $ng/tmp/body; proxy_temp_path $ng/tmp/proxy; fastcgi_temp_path $ng/tmp/f;
  uwsgi_temp_path $ng/tmp/u; scgi_temp_path $ng/tmp/s;
  ssl_certificate $work/srv.pem; ssl_certificate_key $work/srv.key; ssl_session_cache shared:S:10m;
  server { listen 127.0.0.1:$port backlog=4096; root $bucket; }
  server { listen 127.0.0.1:$sport ssl backlog=4096; root $bucket; }
}
CONF
trap 'nginx_stop "$ng"' EXIT
taskset -c 0 /usr/sbin/nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/logs/error.log"
wait_port "$port"; wait_port "$sport"
res=$work/results.txt; : > "$res"
run_td() { # label bin extra scheme conc
  local label=$1 bin=$2 extra=$3 scheme=$4 c=$5 base cfg=$work/cfg.yaml out=$work/out
  if [ "$scheme" = http ]; then base=http://127.0.0.1:$port/; else base=https://127.0.0.1:$sport/; fi
  # the config: sections in a fixed order, then each @section.key:value of the label on top
  python3 - "$cfg" "$base" "$work" "$c" "${TD_BENCH_DEFAULTS:-}" "$extra" <<'PY'
import sys
cfg, base, work, c, defaults, extra = sys.argv[1:]
conf = {"store": {"name": f'"{base}"', "keys_from": f'"{work}/keys_n.txt"'},
        "concurrency": {"n_consumers": c}, "network": {"ca_bundle": f'"{work}/ca.pem"'}}
if not defaults:
    conf["concurrency"].update(list_chunk_size="10000", max_buffer_size="1000000",
                               write_chunk_size="100000")
for item in filter(None, extra.split("@")):
    key, _, value = item.partition(":")
    sec, _, k = key.rpartition(".")
    conf.setdefault(sec or "network", {})[k] = value
with open(cfg, "w") as f:
    for sec, kv in conf.items():
        f.write(f"{sec}:\n" + "".join(f"  {k}: {v}\n" for k, v in kv.items()))
PY
  rm -rf "$out"
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" taskset -c 1 ${TD_PERF:+perf record -q -e cpu-clock -g -o "$work/perf.$label.$scheme.$c.data"} "$bin" headers "$cfg" "$out" -q 2> "$work/td.err" || { echo "td failed: $(tail -3 "$work/td.err")" >&2; return 0; }
  read -r wall usr sys rss < "$work/time.txt"
  local ok; ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dumped"])' "$out/_SUCCESS")
  python3 -c 'import sys; l,s,c,w,u,y,ok,r=sys.argv[1:]; ok=int(ok); print(f"{l} {s} {c} cpu_ms_per_1k={(float(u)+float(y))*1e6/ok:.1f} hps={ok/float(w):.0f} ok={ok} rss_mib={int(r)/1024:.0f}")' "$label" "$scheme" "$c" "$wall" "$usr" "$sys" "$ok" "$rss" | tee -a "$res"
}
run_wrk() { # scheme conc
  local scheme=$1 c=$2 base
  if [ "$scheme" = http ]; then base=http://127.0.0.1:$port/; else base=https://127.0.0.1:$sport/; fi
  TD_KEYS=$keys /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" taskset -c 1 wrk -t1 -c"$c" -d"${wrk_s}"s --timeout 10s -s "$root/bench/e2e/ranges.lua" "$base" > "$work/wrk.out" 2>&1 || true
  read -r wall usr sys rss < "$work/time.txt"
  local nreq; nreq=$(sed -n 's/^TDJSON //p' "$work/wrk.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
  [ "${nreq:-0}" -gt 0 ] || { echo "wrk $scheme $c: no requests ($(tail -2 "$work/wrk.out"))" >&2; return 0; }
  python3 -c 'import sys; s,c,w,u,y,ok=sys.argv[1:]; ok=int(ok); print(f"wrk {s} {c} cpu_ms_per_1k={(float(u)+float(y))*1e6/ok:.1f} hps={ok/float(w):.0f} ok={ok}")' "$scheme" "$c" "$wall" "$usr" "$sys" "$nreq" | tee -a "$res"
}
for _ in $(seq "$reps"); do
  for s in $schemes; do for c in $concs; do
    run_wrk "$s" "$c"
    for spec in "$@"; do
      label=${spec%%=*}; rest=${spec#*=}; bin=${rest%%@*}; extra=""; [ "$rest" != "$bin" ] && extra=${rest#*@}
      run_td "$label" "$bin" "$extra" "$s" "$c"
    done
  done; done
done
echo "== medians (CPU ms per 1,000 headers of the client; headers/s; [min-max] of the runs) =="
first=${1%%=*}
python3 - "$res" "$first" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 5: continue
    kv = dict(x.split("=") for x in p[3:] if "=" in x)
    d[(p[1], int(p[2]), p[0])].append((float(kv["cpu_ms_per_1k"]), float(kv["hps"])))
med = lambda k, i: statistics.median(x[i] for x in d[k])
for k in sorted(d):
    cpu, hps = med(k, 0), med(k, 1)
    w, b = (k[0], k[1], "wrk"), (k[0], k[1], sys.argv[2])
    ratio = cpu / med(w, 0) if w in d else float("nan")
    # against the first binary given (the baseline of an A/B): headers/s and CPU ratios
    vs = f"  vs {sys.argv[2]}: hps x{hps / med(b, 1):.3f} cpu x{cpu / med(b, 0):.3f}" \
        if b in d and k[2] not in ("wrk", sys.argv[2]) else ""
    print(f"{k[0]:5} {k[1]:5} {k[2]:8} cpu/1k={cpu:6.1f} ms [{min(x[0] for x in d[k]):.1f}-"
          f"{max(x[0] for x in d[k]):.1f}]  x wrk={ratio:4.2f}  hps={hps:7.0f} "
          f"[{min(x[1] for x in d[k]):.0f}-{max(x[1] for x in d[k]):.0f}]  runs={len(d[k])}{vs}")
PY
