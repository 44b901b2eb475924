# Helpers sourced by run.sh: private servers on 127.0.0.1, stopped by PID.
# shellcheck shell=bash

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # port: bounded wait until something accepts on it
  local i=0
  until /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null; do
    i=$((i + 1)); [ $i -ge 200 ] && { echo "port $1 never opened" >&2; return 1; }
    sleep 0.05
  done
}

# nginx_start DIR ROOT [TLSDIR] -> prints "PORT LOGPORT [TLSPORT]": the same root served
# twice, on LOGPORT with an access log (DIR/logs/access.log: status, body bytes, request) to
# count a client's requests and bytes, on PORT without one for speed; with TLSDIR (holding
# server.pem / server.key) a third time over https on TLSPORT, where /sentinel-cogs/KEY is
# also the root's KEY, so the s3:// store can use it path-style (nginx checks no signature).
# One worker: the server gets one core and the client the others, the same split for wrk
# and for every client tool; the caller pins it (NGINX_PIN, e.g. "taskset -c 0": the worker
# inherits the master's CPU affinity).
nginx_start() {
  local dir=$1 root=$2 tls=${3:-} port lport sport="" user="" mod=""
  mkdir -p "$dir/tmp" "$dir/logs"
  port=$(free_port); lport=$(free_port)
  local tls_server=""
  if [ -n "$tls" ]; then
    sport=$(free_port)
    tls_server="    server {
        listen 127.0.0.1:$sport ssl backlog=4096;
        ssl_certificate $tls/server.pem;
        ssl_certificate_key $tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $root;
        location / { }
        location /sentinel-cogs/ { alias $root/; }
    }"
  fi
  [ "$(id -u)" -eq 0 ] && user="user root;"
  [ -f /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] &&
    mod="load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;"
  # The worker gets the shell's hard limit on descriptors (raising it needs CAP_SYS_RESOURCE,
  # which this sandbox lacks; the hard limit here is 20,000). open_file_cache stays off: it
  # keeps a descriptor per cached key, and with 20,000 keys fetched in turn an LRU smaller
  # than the key set never hits, while one that size exhausts the descriptors ("Too many
  # open files" on accept). An object store has no such cache either.
  local nofile; nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=65536
  [ "$nofile" -gt 65536 ] && nofile=65536
  cat > "$dir/nginx.conf" <<CONF
$mod
$user
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections $((nofile / 2)); multi_accept on; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port backlog=4096;
        root $root;
        location / {
            $( [ -n "$mod" ] && echo "dav_ext_methods PROPFIND OPTIONS;" )
        }
    }
    log_format td '\$status \$body_bytes_sent "\$request"';
    server {
        listen 127.0.0.1:$lport backlog=4096;
        root $root;
        access_log $dir/logs/access.log td;
        location / {
            $( [ -n "$mod" ] && echo "dav_ext_methods PROPFIND OPTIONS;" )
        }
    }
$tls_server
}
CONF
  ${NGINX_PIN:-} /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" || return 1
  wait_port "$port" || return 1
  [ -z "$sport" ] || wait_port "$sport" || return 1
  echo "$port $lport${sport:+ $sport}"
}

# make_certs DIR: a private CA (DIR/ca.pem) and a server certificate for 127.0.0.1 that it
# signs (DIR/server.pem, server.key), made once; tiff-dumper trusts it through
# network.ca_bundle, wrk does not check certificates.
make_certs() {
  local d=$1
  [ -s "$d/server.pem" ] && [ -s "$d/ca.pem" ] && return 0
  mkdir -p "$d"
  ( cd "$d" &&
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tiff-dumper bench CA" \
      -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
      -extfile ext.cnf -out server.pem ) > "$d/openssl.log" 2>&1
}

nginx_stop() { # dir
  local dir=$1 pid i=0
  [ -f "$dir/nginx.pid" ] || return 0
  pid=$(cat "$dir/nginx.pid")
  kill -QUIT "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1)); [ $i -eq 40 ] && kill -TERM "$pid" 2>/dev/null
    [ $i -ge 100 ] && { kill -KILL "$pid" 2>/dev/null; break; }
    sleep 0.05
  done
  rm -f "$dir/nginx.pid"
}

# proxy_start BIN BACKEND_PORT ONE_WAY_MS PIDFILE -> prints the port
proxy_start() {
  local bin=$1 bport=$2 ms=$3 pidf=$4 out; out=$(mktemp)
  "$bin" 0 "$bport" "$ms" > "$out" 2>&1 &
  echo $! > "$pidf"
  local i=0
  until grep -q '^port ' "$out"; do
    i=$((i + 1)); [ $i -ge 100 ] && { cat "$out" >&2; return 1; }
    sleep 0.05
  done
  awk '/^port /{print $2; exit}' "$out"; rm -f "$out"
}

pid_stop() { # pidfile
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f"); kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$f"
}

# log_count DIR -> "REQUESTS BYTES" logged since the last log_reset (reopens the log first)
log_reset() { : > "$1/logs/access.log"; }
log_count() {
  kill -USR1 "$(cat "$1/nginx.pid")" 2>/dev/null; sleep 0.3
  awk '{n++; b+=$2} END {printf "%d %d\n", n, b}' "$1/logs/access.log"
}
