#!/usr/bin/env bash
# Reproduce the delivery benchmarks of issue 3 (see bench/README_delivery.md).
#   bench/run_delivery.sh [delivery.py options, e.g. --phases cold,hit --reps 3]
# Installs what it needs if missing: nginx-light, libvips-tools (vipsthumbnail), wrk (Debian), and an overlay
# venv with httptools + uvloop (PyPI) used only for the optional "alphacdn+httptools+uvloop" row.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null || ! command -v vipsthumbnail >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -q && apt-get install -y -q nginx-light libvips-tools wrk
fi
UV=${BENCH_UVSTD_VENV:-/tmp/bench-delivery-uvstd}
[ -d "$UV/lib/python3.11/site-packages/uvloop" ] || { .venv/bin/python -m venv "$UV" && "$UV/bin/pip" install -q httptools uvloop; }
echo "load before: $(cat /proc/loadavg)"
exec .venv/bin/python bench/delivery.py "$@"
