#!/usr/bin/env bash
# nginx on loopback in front of alphacdn replicas, for tests, benches and the local cluster
# (Debian's nginx 1.22), run as the calling user with everything under <dir>.
#
#   scripts/services/nginx.sh install <dir>                          install the package if missing
#   scripts/services/nginx.sh render  <dir> <port> <replica>...      write <dir>/nginx.conf only
#   scripts/services/nginx.sh start   <dir> <port> <replica>...      install if missing, render, start
#   scripts/services/nginx.sh stop    <dir>                          stop the nginx started from <dir>
#   scripts/services/nginx.sh status  <dir>                          exit 0 when it answers HTTP
#
# <replica> is host:port of one `alphacdn serve`. The site config is deploy/nginx/alphacdn.conf
# with its placeholders filled in (<dir>/alphacdn.conf), included from a main config that keeps
# pid, logs, temp files and the cache under <dir>, and every <dir>/extra.d/*.conf (benches add a
# static server there). Environment:
#   NGINX_CACHE_SIZE (1g)  NGINX_MAX_BODY (100m)  NGINX_WORKERS (2)
#   NGINX_DEBUG_HEADERS=1  also answer X-Edge-Upstream (which replica served; tests)
# Exit status 3: nginx is missing and cannot be installed (no root, no mirror).
# `start` prints `export ALPHACDN_EDGE_URL=…` and writes it to <dir>/nginx.env. The cache
# starts empty on every start.
set -euo pipefail

cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || {
    echo "usage: $0 install|render|start|stop|status <dir> [<port> <replica>...]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
template=$root/deploy/nginx/alphacdn.conf

install_packages() {
    [[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null && return 0
    echo "nginx.sh: installing nginx (Debian package)" >&2
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    # the package's own service stays off where there is no init (containers, CI); on a host
    # with systemd it may start on port 80, which nothing here uses
    "${sudo[@]}" apt-get install -y -q --no-install-recommends nginx >&2 ||
        { "${sudo[@]}" apt-get update -q >&2 &&
          "${sudo[@]}" apt-get install -y -q --no-install-recommends nginx >&2; } ||
        { echo "nginx.sh: cannot install nginx" >&2; exit 3; }
}

nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

render() {
    local port=$1; shift
    [[ $# -gt 0 ]] || { echo "nginx.sh: name at least one replica (host:port)" >&2; exit 2; }
    local servers="" replica debug=""
    for replica in "$@"; do
        # a replica that fails once is left alone for 2 s, then tried again
        servers+="server $replica max_fails=1 fail_timeout=2s;"$'\n    '
    done
    [[ ${NGINX_DEBUG_HEADERS:-0} == 1 ]] && debug='add_header X-Edge-Upstream $upstream_addr always;'
    mkdir -p "$dir/cache" "$dir/tmp" "$dir/log"
    # as root, workers would drop to `nobody` and lose access to <dir>: keep the caller's user
    local user=""
    [[ $(id -u) -ne 0 ]] || user="user $(id -un) $(id -gn);"
    local site
    site=$(<"$template")
    site=${site//@LISTEN@/127.0.0.1:$port}
    site=${site//@SERVERS@/$servers}
    site=${site//@CACHE_DIR@/$dir/cache}
    site=${site//@CACHE_SIZE@/${NGINX_CACHE_SIZE:-1g}}
    site=${site//@MAX_BODY@/${NGINX_MAX_BODY:-100m}}
    site=${site//@DEBUG_HEADERS@/$debug}
    printf '%s\n' "$site" >"$dir/alphacdn.conf"
    cat >"$dir/nginx.conf" <<CONF
# written by scripts/services/nginx.sh: the main context for an unprivileged nginx in $dir
$user
worker_processes ${NGINX_WORKERS:-2};
pid $dir/nginx.pid;
error_log $dir/log/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/alphacdn.conf;
    include $dir/extra.d/*.conf;
}
CONF
    mkdir -p "$dir/extra.d"
    echo "export ALPHACDN_EDGE_URL=http://127.0.0.1:$port" >"$dir/nginx.env"
    "$(nginx_bin)" -t -q -c "$dir/nginx.conf" -p "$dir" -e "$dir/log/error.log" ||
        { echo "nginx.sh: the rendered config does not load; see above" >&2; exit 1; }
}

port_of() { sed -n 's|^export ALPHACDN_EDGE_URL=http://127.0.0.1:\([0-9]*\)$|\1|p' "$dir/nginx.env" 2>/dev/null; }

answers() {  # any HTTP status line from the listener
    local port status=""
    port=$(port_of) && [[ -n $port ]] || return 1
    {
        exec 3<>"/dev/tcp/127.0.0.1/$port" &&
            printf 'GET /nginx-health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
            read -r -t 2 status <&3
    } 2>/dev/null
    exec 3>&- 2>/dev/null
    [[ $status == HTTP/1.?\ 200* ]]
}

alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

stop() {
    local pid
    pid=$(cat "$dir/nginx.pid" 2>/dev/null) || return 0
    # the pid file names our master only while it runs nginx
    if alive "$pid" && grep -q nginx "/proc/$pid/cmdline" 2>/dev/null; then
        kill -QUIT "$pid" 2>/dev/null || true  # graceful: finish requests in flight
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 20); do alive "$pid" || break; sleep 0.1; done
    fi
    rm -f "$dir/nginx.pid"
}

start() {
    install_packages
    stop
    rm -rf "$dir/cache"
    render "$@"
    "$(nginx_bin)" -c "$dir/nginx.conf" -p "$dir" -e "$dir/log/error.log"
    for _ in $(seq 100); do
        answers && { cat "$dir/nginx.env"; return 0; }
        sleep 0.05
    done
    echo "nginx.sh: no answer on 127.0.0.1:$1 within 5 s; log in $dir/log/error.log" >&2
    stop
    return 1
}

case $cmd in
    install) install_packages ;;
    render) install_packages; shift 2; render "$@" ;;
    start) shift 2; start "$@" ;;
    stop) stop ;;
    status) answers ;;
    *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac
