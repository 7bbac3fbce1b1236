#!/usr/bin/env bash
# The scale-out topology on one machine, on loopback: Redis, a real S3 server (Ceph radosgw),
# two web replicas, one worker and nginx in front (docs/scale-out.md).
#
#   scripts/cluster.sh up       install what is missing (Debian packages), start everything
#   scripts/cluster.sh status   one line per piece; exit 0 when every piece answers
#   scripts/cluster.sh down     stop everything `up` started (the S3 data goes: memstore)
#
# Ports, from CLUSTER_PORT (8080): nginx +0, web replicas +1 and +2, the worker's metrics +9,
# Redis +10, radosgw +11. State, logs and pid files under CLUSTER_DIR (build/cluster).
# The fleet's settings go to <dir>/fleet.env (source it to run `alphacdn` against the cluster).
#
# The processes run `$ALPHACDN` (default: .venv/bin/alphacdn of this checkout, else `alphacdn`
# on PATH). Settings the app reads pass through from the environment, e.g. ALPHACDN_MODEL
# (the worker's model; IS-Net needs ~1.3–2.2 GB), ALPHACDN_MODELS_DIR (default <repo>/data/models,
# where `make models` puts them; fetched there when empty), ALPHACDN_CLOUD_NAME, API keys.
set -euo pipefail

cmd=${1:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
services=$root/scripts/services
dir=${CLUSTER_DIR:-$root/build/cluster}
mkdir -p "$dir/run"
dir=$(cd "$dir" && pwd)
base=${CLUSTER_PORT:-8080}
edge_port=$base
web_ports=($((base + 1)) $((base + 2)))
worker_port=$((base + 9))
redis_port=$((base + 10))
s3_port=$((base + 11))
bucket=${CLUSTER_BUCKET:-alphacdn}

alphacdn=()
if [[ -n ${ALPHACDN:-} ]]; then
    read -r -a alphacdn <<<"$ALPHACDN"
elif [[ -x $root/.venv/bin/alphacdn ]]; then
    alphacdn=("$root/.venv/bin/alphacdn")
elif command -v alphacdn >/dev/null; then
    alphacdn=(alphacdn)
fi

log() { echo "cluster.sh: $*" >&2; }

alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# the pid in run/<name>.pid, if it still runs one of ours (its command line names alphacdn)
ours() {
    local pid
    pid=$(cat "$dir/run/$1.pid" 2>/dev/null) || return 1
    alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q alphacdn && echo "$pid"
}

# the HTTP status of GET <path> on 127.0.0.1:<port> (bash only: no curl on a bare machine)
http_status() {
    local status=""
    {
        exec 3<>"/dev/tcp/127.0.0.1/$1" &&
            printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 &&
            read -r -t 3 _ status _ <&3
    } 2>/dev/null
    exec 3>&- 2>/dev/null
    echo "${status:-none}"
}

# run <name> <command…>: in a session of its own (a process group `down` can signal whole)
launch() {
    local name=$1; shift
    if ours "$name" >/dev/null; then
        log "$name already runs (pid $(ours "$name"))"
        return 0
    fi
    setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/run/$name.pid"
}

wait_http() {  # <name> <port> <path>: until 200, or the process exits, or 60 s
    local name=$1 port=$2 path=$3
    for _ in $(seq 600); do
        [[ $(http_status "$port" "$path") == 200 ]] && return 0
        ours "$name" >/dev/null || { log "$name exited; its log:"; tail -20 "$dir/$name.log" >&2; return 1; }
        sleep 0.1
    done
    log "$name did not answer $path on 127.0.0.1:$port within 60 s; log in $dir/$name.log"
    return 1
}

models() {  # the worker's weights: fetched into the models dir when it has none
    local models_dir=${ALPHACDN_MODELS_DIR:-$root/data/models}
    if ! compgen -G "$models_dir/*.onnx" >/dev/null; then
        log "no model weights in $models_dir: fetching them"
        "${alphacdn[@]}" fetch-models --models-dir "$models_dir" >&2
    fi
    echo "$models_dir"
}

up() {
    if [[ ${#alphacdn[@]} -eq 0 ]]; then
        log "no alphacdn installed: make install (a venv in $root/.venv)"
        make -C "$root" install >&2
        alphacdn=("$root/.venv/bin/alphacdn")
    fi
    # a piece that already runs is kept (a restart would empty Redis and the memstore S3)
    if bash "$services/redis.sh" status "$dir/redis"; then
        log "redis already runs"
    else
        log "redis on 127.0.0.1:$redis_port"
        bash "$services/redis.sh" start "$dir/redis" "$redis_port" >/dev/null
    fi
    if bash "$services/radosgw.sh" status "$dir/s3"; then
        log "radosgw already runs"
    else
        log "radosgw (S3) on 127.0.0.1:$s3_port"
        bash "$services/radosgw.sh" start "$dir/s3" "$s3_port" >/dev/null
    fi
    bash "$services/nginx.sh" install "$dir/nginx"
    local models_dir
    models_dir=$(models)
    # shellcheck disable=SC1091
    source "$dir/s3/s3.env"
    # shellcheck disable=SC1091
    source "$dir/redis/redis.env"
    cat >"$dir/fleet.env" <<ENV
export ALPHACDN_STORE_URL=s3://$bucket
export ALPHACDN_S3_ENDPOINT_URL=$AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
export ALPHACDN_REDIS_URL=$ALPHACDN_REDIS_URL
export ALPHACDN_PUBLIC_URL=http://127.0.0.1:$edge_port
export ALPHACDN_TRUST_FORWARDED_FOR=1
export ALPHACDN_MODELS_DIR=$models_dir
ENV
    # shellcheck disable=SC1091
    source "$dir/fleet.env"
    local i port
    for i in 0 1; do
        port=${web_ports[$i]}
        log "web replica web$((i + 1)) on 127.0.0.1:$port"
        mkdir -p "$dir/web$((i + 1))"
        launch "web$((i + 1))" env ALPHACDN_ROLE=web "${alphacdn[@]}" serve --role web \
            --host 127.0.0.1 --port "$port" --data-dir "$dir/web$((i + 1))"
    done
    log "worker (metrics on 127.0.0.1:$worker_port)"
    mkdir -p "$dir/worker"
    launch worker env ALPHACDN_ROLE=worker "${alphacdn[@]}" worker \
        --metrics-port "$worker_port" --data-dir "$dir/worker"
    wait_http web1 "${web_ports[0]}" /health
    wait_http web2 "${web_ports[1]}" /health
    wait_http worker "$worker_port" /health
    if bash "$services/nginx.sh" status "$dir/nginx"; then
        log "nginx already runs"
    else
        log "nginx on 127.0.0.1:$edge_port"
        bash "$services/nginx.sh" start "$dir/nginx" "$edge_port" \
            "127.0.0.1:${web_ports[0]}" "127.0.0.1:${web_ports[1]}" >/dev/null
    fi
    status
    echo "the cluster answers on http://127.0.0.1:$edge_port (settings: source $dir/fleet.env)"
}

stop_process() {
    local name=$1 pid
    pid=$(ours "$name") || { rm -f "$dir/run/$name.pid"; return 0; }
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 150); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$dir/run/$name.pid"
}

down() {
    bash "$services/nginx.sh" stop "$dir/nginx"
    stop_process web1
    stop_process web2
    stop_process worker
    bash "$services/radosgw.sh" stop "$dir/s3"
    bash "$services/redis.sh" stop "$dir/redis"
    log "stopped"
}

status() {
    local bad=0 code
    line() { printf '%-8s %-5s %s\n' "$1" "$2" "$3"; [[ $2 == up ]] || bad=1; }
    if bash "$services/redis.sh" status "$dir/redis"; then
        line redis up "redis://127.0.0.1:$redis_port/0"
    else
        line redis down "redis://127.0.0.1:$redis_port/0"
    fi
    if bash "$services/radosgw.sh" status "$dir/s3"; then
        line s3 up "http://127.0.0.1:$s3_port (radosgw, bucket $bucket)"
    else
        line s3 down "http://127.0.0.1:$s3_port (radosgw)"
    fi
    local i port name
    for i in 0 1; do
        name=web$((i + 1)) port=${web_ports[$i]}
        code=$(http_status "$port" /health)
        if ours "$name" >/dev/null && [[ $code == 200 ]]; then
            line "$name" up "http://127.0.0.1:$port (pid $(ours "$name"), role web)"
        else
            line "$name" down "http://127.0.0.1:$port (/health: $code; log $dir/$name.log)"
        fi
    done
    code=$(http_status "$worker_port" /health)
    if ours worker >/dev/null && [[ $code == 200 ]]; then
        line worker up "metrics http://127.0.0.1:$worker_port/metrics (pid $(ours worker))"
    else
        line worker down "metrics port $worker_port (/health: $code; log $dir/worker.log)"
    fi
    if bash "$services/nginx.sh" status "$dir/nginx"; then
        line nginx up "http://127.0.0.1:$edge_port -> web1, web2"
    else
        line nginx down "http://127.0.0.1:$edge_port"
    fi
    return "$bad"
}

case $cmd in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status (CLUSTER_DIR, CLUSTER_PORT: see the top of the file)" >&2; exit 2 ;;
esac
