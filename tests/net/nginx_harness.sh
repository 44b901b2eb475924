#!/bin/sh
# nginx_harness.sh - a private nginx on 127.0.0.1 for tests: temp prefix dir, free port,
# own config, stopped by PID.
#
#   nginx_harness.sh run [--http FILE] [--server FILE] [--keep] -- CMD ARGS...
#       starts nginx, runs CMD with TD_NGINX_PORT, TD_NGINX_PORT2, TD_NGINX_DIR and
#       TD_NGINX_ROOT (= $TD_NGINX_DIR/www, the document root, initially empty) in the
#       environment, stops nginx and removes the dir (unless --keep); exits with CMD's status.
#   nginx_harness.sh start DIR [--http FILE] [--server FILE]   prints the port
#   nginx_harness.sh stop DIR
#
# FILE contents are included in the http{} block (--http) or the server{} block (--server)
# after replacing @DIR@, @ROOT@, @PORT@ and @PORT2@ (a second free port nginx does NOT
# listen on, e.g. for a blackhole upstream the test opens itself). Access logging is off
# unless a snippet turns it on (e.g. `access_log @DIR@/x.log;`).
set -eu

NGINX=${NGINX:-/usr/sbin/nginx}
# 77: skipped (ctest SKIP_RETURN_CODE); scripts/test.sh fails on skips unless TD_ALLOW_SKIP=1
[ -x "$NGINX" ] || { echo "SKIP: $NGINX not found (scripts/deps.sh installs nginx)"; exit 77; }
PY=${TD_PYTHON:-python3}

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

subst() { # file dir port port2
    sed -e "s|@DIR@|$2|g" -e "s|@ROOT@|$2/www|g" -e "s|@PORT@|$3|g" -e "s|@PORT2@|$4|g" "$1"
}

do_start() { # dir httpfile serverfile
    dir=$1; http=$2; server=$3
    mkdir -p "$dir/www" "$dir/tmp" "$dir/logs"
    tries=0
    while :; do
        port=$(free_port); port2=$(free_port)
        : > "$dir/http.conf"; : > "$dir/server.conf"
        [ -n "$http" ] && subst "$http" "$dir" "$port" "$port2" > "$dir/http.conf"
        [ -n "$server" ] && subst "$server" "$dir" "$port" "$port2" > "$dir/server.conf"
        user=""
        [ "$(id -u)" -eq 0 ] && user="user root;"
        cat > "$dir/nginx.conf" <<EOF
$user
worker_processes 1;
worker_rlimit_nofile 16384;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    open_file_cache max=20000 inactive=60s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/http.conf;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        include $dir/server.conf;
    }
}
EOF
        if "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" 2>"$dir/logs/start.err"; then
            break
        fi
        tries=$((tries + 1))
        if [ $tries -ge 5 ] || ! grep -q "Address already in use" "$dir/logs/start.err" "$dir/logs/error.log" 2>/dev/null; then
            cat "$dir/logs/start.err" "$dir/logs/error.log" >&2 2>/dev/null || true
            echo "nginx_harness: nginx failed to start" >&2
            return 1
        fi
    done
    # wait (bounded) until it accepts connections
    i=0
    until "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1).close()" 2>/dev/null; do
        i=$((i + 1)); [ $i -ge 100 ] && { echo "nginx_harness: port $port never opened" >&2; return 1; }
        sleep 0.05
    done
    echo "$port" > "$dir/port"; echo "$port2" > "$dir/port2"
}

do_stop() { # dir
    dir=$1
    [ -f "$dir/nginx.pid" ] || return 0
    pid=$(cat "$dir/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ $i -eq 40 ] && kill -TERM "$pid" 2>/dev/null
        [ $i -ge 100 ] && { kill -KILL "$pid" 2>/dev/null; break; }
        sleep 0.05
    done
    rm -f "$dir/nginx.pid"
}

parse_files() {
    HTTPF=""; SERVERF=""; KEEP=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --http) HTTPF=$2; shift 2 ;;
            --server) SERVERF=$2; shift 2 ;;
            --keep) KEEP=1; shift ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    REST_N=$#
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case "$cmd" in
    start)
        dir=$1; shift
        parse_files "$@"
        do_start "$dir" "$HTTPF" "$SERVERF"
        cat "$dir/port"
        ;;
    stop)
        do_stop "$1"
        ;;
    run)
        parse_files "$@"
        shift $(($# - REST_N))
        dir=$(mktemp -d "${TMPDIR:-/tmp}/td-nginx.XXXXXX")
        trap 'do_stop "$dir"; [ "$KEEP" -eq 1 ] || rm -rf "$dir"' EXIT INT TERM
        do_start "$dir" "$HTTPF" "$SERVERF"
        st=0
        TD_NGINX_DIR=$dir TD_NGINX_ROOT=$dir/www TD_NGINX_PORT=$(cat "$dir/port") \
            TD_NGINX_PORT2=$(cat "$dir/port2") "$@" || st=$?
        [ "$KEEP" -eq 1 ] && echo "nginx_harness: kept $dir" >&2
        exit $st
        ;;
    *)
        echo "usage: $0 run [--http F] [--server F] [--keep] -- CMD... | start DIR [...] | stop DIR" >&2
        exit 2
        ;;
esac
