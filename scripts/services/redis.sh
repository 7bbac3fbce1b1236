#!/usr/bin/env bash
# Redis on loopback for tests and the local cluster (Debian's redis-server 7.0), state in <dir>.
#
#   scripts/services/redis.sh install <dir>         install the Debian package if missing
#   scripts/services/redis.sh start  <dir> <port>   install if missing, start, wait for PONG
#   scripts/services/redis.sh stop   <dir>          stop the server started from <dir>
#   scripts/services/redis.sh status <dir>          exit 0 when it answers PING
#
# Exit status 3: redis-server is missing and cannot be installed (no root, no mirror).
# `start` prints `export ALPHACDN_REDIS_URL=…` and writes it to <dir>/redis.env. No persistence
# (no RDB snapshots, no AOF): a restart is an empty server, as a test wants.
set -euo pipefail

cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 install|start|stop|status <dir> [<port>]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

install_packages() {
    command -v redis-server >/dev/null && return 0
    echo "redis.sh: installing redis-server (Debian package)" >&2
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y -q --no-install-recommends redis-server >&2 ||
        { "${sudo[@]}" apt-get update -q >&2 &&
          "${sudo[@]}" apt-get install -y -q --no-install-recommends redis-server >&2; } ||
        { echo "redis.sh: cannot install redis-server" >&2; exit 3; }
}

port_of() { sed -n 's|^export ALPHACDN_REDIS_URL=redis://127.0.0.1:\([0-9]*\)/0$|\1|p' "$dir/redis.env" 2>/dev/null; }

answers() {
    local port
    port=$(port_of) && [[ -n $port ]] && [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]
}

stop() {
    local pid
    pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z) == Z ]] && break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/redis.pid"
}

start() {
    local port=$1
    install_packages
    stop
    cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
CONF
    redis-server "$dir/redis.conf"
    echo "export ALPHACDN_REDIS_URL=redis://127.0.0.1:$port/0" >"$dir/redis.env"
    for _ in $(seq 100); do
        answers && { cat "$dir/redis.env"; return 0; }
        sleep 0.05
    done
    echo "redis.sh: no PONG on 127.0.0.1:$port within 5 s; log in $dir/redis.log" >&2
    stop
    return 1
}

case $cmd in
    install) install_packages ;;
    start) start "${3:?port}" ;;
    stop) stop ;;
    status) answers ;;
    *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac
