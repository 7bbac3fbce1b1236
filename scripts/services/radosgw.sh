#!/usr/bin/env bash
# A real S3 server on loopback for tests and the local cluster: Ceph radosgw (Debian's 16.2) over a
# throwaway one-node cluster (one mon, one memstore OSD, no mgr) kept in <dir>.
#
#   scripts/services/radosgw.sh install <dir>         install the Debian packages if missing
#   scripts/services/radosgw.sh start  <dir> <port>   install if missing, create, start, wait
#   scripts/services/radosgw.sh stop   <dir>          stop every daemon started from <dir>
#   scripts/services/radosgw.sh status <dir>          exit 0 when the S3 endpoint answers
#
# RADOSGW_LC_DAY_SECONDS=N (tests only) makes a lifecycle day last N seconds.
# Exit status 3: the packages are missing and cannot be installed (no root, no mirror).
# `start` prints `export AWS_…` lines and writes them to <dir>/s3.env (endpoint, access key,
# secret key, region): source that file to talk to the server. Everything binds to 127.0.0.1.
# The cluster lives in memory (memstore), so a start on an existing <dir> rebuilds it from
# scratch; `stop` then `start` is the way to get an empty server.
set -euo pipefail

cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 install|start|stop|status <dir> [<port>]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/ceph.conf
PACKAGES=(radosgw ceph-mon ceph-osd)

log() { echo "radosgw.sh: $*" >&2; }

install_packages() {
    command -v radosgw >/dev/null && command -v ceph-mon >/dev/null &&
        command -v ceph-osd >/dev/null && return 0
    log "installing ${PACKAGES[*]} (Debian packages, ~270 MB)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    # a fresh machine's package lists may be stale or absent: update once and retry
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2 ||
        { "${sudo[@]}" apt-get update -q >&2 &&
          "${sudo[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2; } ||
        { log "cannot install ${PACKAGES[*]}"; exit 3; }
}

# (bash only: a python3 start costs ~0.4 s on a busy 2-core machine, a tenth of the whole start)
free_port() {  # a port nothing listens on, for the mon (its address is fixed in the monmap)
    # below the kernel's ephemeral range, so no outgoing connection's local end can take it
    local port low
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    while :; do
        port=$((10000 + RANDOM % (low - 10000)))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

random_text() { head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c "$1"; }

pids() { cat "$dir"/run/*.pid 2>/dev/null || true; }

alive() {  # running and not a zombie waiting for its parent
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

stop() {
    # SIGKILL at once: the cluster is throwaway (`start` rebuilds it), and a clean shutdown
    # takes radosgw ~4 s and makes the memstore OSD write its whole store to disk
    local pid
    for pid in $(pids); do kill -9 "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local running=0
        for pid in $(pids); do alive "$pid" && running=1; done
        [[ $running -eq 0 ]] && break
        sleep 0.1
    done
    rm -f "$dir"/run/*.pid
}

answers() {  # the S3 endpoint answers an anonymous ListBuckets with an HTTP status line
    local port status=""
    port=$(sed -n 's|^export AWS_ENDPOINT_URL=http://127.0.0.1:||p' "$dir/s3.env" 2>/dev/null)
    [[ -n $port ]] || return 1
    {
        exec 3<>"/dev/tcp/127.0.0.1/$port" &&
            printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
            read -r -t 2 status <&3
    } 2>/dev/null
    exec 3>&- 2>/dev/null
    [[ $status == HTTP/1.?\ [24]0[03]* ]]
}

start() {
    local port=$1
    install_packages
    stop
    rm -rf "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/log" "$dir/run" "$dir/s3.env" "$dir/monmap" \
        "$dir/keyring"
    mkdir -p "$dir/mon" "$dir/osd" "$dir/log" "$dir/run"
    local fsid mon_port
    fsid=$(cat /proc/sys/kernel/random/uuid)
    mon_port=$(free_port)
    cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
# cephx on every hop: with auth_*_required = none, radosgw hangs at startup
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
# one node, one copy, no manager
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
# fast paxos: commit map changes within milliseconds instead of the default second
paxos propose interval = 0.01
paxos min wait = 0.01
mon osd reporter subtree level = osd
mon data avail warn = 1
auth allow insecure global id reclaim = false
# quiet logs: no per-request lines
debug rgw = 0/0
debug ms = 0/0
[mon]
mon data = $dir/mon/\$cluster-\$id
[osd]
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 1073741824
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw data = $dir/rgw
rgw thread pool size = 32
CONF
    # tests only: make a lifecycle "day" this many seconds, so expiry rules act within a test
    [[ -z ${RADOSGW_LC_DAY_SECONDS:-} ]] ||
        echo "rgw lc debug interval = $RADOSGW_LC_DAY_SECONDS" >>"$conf"
    local auth=(ceph-authtool "$dir/keyring")
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    "${auth[@]}" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
        --cap mgr 'allow *' >/dev/null
    "${auth[@]}" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
    "${auth[@]}" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
    ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
    ceph-mon -c "$conf" -i a
    local osd_uuid
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    mkdir -p "$dir/osd/ceph-0" "$dir/rgw"
    # the mon imported every key of the keyring at --mkfs, so `osd new` only allocates the id
    ceph -c "$conf" osd new "$osd_uuid" 0 >/dev/null
    ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$dir/log/osd.0.mkfs.log"
    ceph-osd -c "$conf" -i 0 2>>"$dir/log/osd.0.stderr"
    radosgw -c "$conf" -n client.rgw 2>>"$dir/log/client.rgw.stderr"
    local access secret
    access=AC$(random_text 18 | tr 'a-z' 'A-Z')
    secret=$(random_text 40)
    # blocks until the OSD is up: radosgw-admin's first write waits for a placement group
    timeout 60 radosgw-admin -c "$conf" user create --uid alphacdn --display-name alphacdn \
        --access-key "$access" --secret-key "$secret" >/dev/null
    cat >"$dir/s3.env" <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_DEFAULT_REGION=us-east-1
ENV
    for _ in $(seq 300); do
        answers && { cat "$dir/s3.env"; return 0; }
        sleep 0.1
    done
    log "radosgw did not answer on 127.0.0.1:$port within 30 s; logs in $dir/log"
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
