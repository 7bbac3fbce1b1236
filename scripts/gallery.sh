#!/usr/bin/env bash
# What the React gallery's browser test needs (tests/e2e/test_gallery_browser.py, bench/gallery.py):
#
#   scripts/gallery.sh install   Debian's chromium (apt-get, when missing; no browser download),
#                                and the example's npm packages from the registry (`npm ci`, as
#                                locked in examples/react-gallery/package-lock.json) into
#                                build/react-gallery/node_modules, linked from the example
#   scripts/gallery.sh build     install, then build examples/react-gallery/dist
#
# node_modules is reinstalled only when the lock file changed (its hash is kept beside it).
# Exit status 3: chromium, node or npm is missing and cannot be installed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
example=$root/examples/react-gallery
cache=$root/build/react-gallery

install_debian() {  # <command> <package>…
    local cmd=$1; shift
    command -v "$cmd" >/dev/null && return 0
    echo "gallery.sh: installing $* (Debian packages)" >&2
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >&2 ||
        { "${sudo[@]}" apt-get update -q >&2 &&
          "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >&2; } ||
        { echo "gallery.sh: cannot install $*" >&2; exit 3; }
}

install() {
    install_debian chromium chromium
    install_debian node nodejs
    install_debian npm npm
    mkdir -p "$cache"
    local want have
    want=$(sha256sum "$example/package-lock.json" | cut -d' ' -f1)
    have=$(cat "$cache/lock.sha256" 2>/dev/null || true)
    if [[ $want != "$have" || ! -d $cache/node_modules ]]; then
        cp "$example/package.json" "$example/package-lock.json" "$cache/"
        (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >&2)
        echo "$want" > "$cache/lock.sha256"
    fi
    # the example resolves its packages through this link (a user's own `npm install` makes
    # a real directory instead, which is left alone)
    if [[ ! -e $example/node_modules || -L $example/node_modules ]]; then
        ln -sfn ../../build/react-gallery/node_modules "$example/node_modules"
    fi
}

case ${1:-} in
    install) install ;;
    build) install; (cd "$example" && node scripts/build.mjs >&2) ;;
    *) echo "usage: $0 install|build" >&2; exit 2 ;;
esac
