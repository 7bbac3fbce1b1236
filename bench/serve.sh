#!/bin/sh
# Start a bench server in its own process group: bench/serve.sh PORT DATA_DIR [MODEL]; prints the pgid.
# Stop it with: kill -- -PGID
cd "$(dirname "$0")/.." || exit 1
rm -rf "$2" && mkdir -p "$2"
ALPHACDN_MODELS_DIR="$PWD/data/models" ALPHACDN_MODEL="${3:-isnet}" \
  setsid .venv/bin/alphacdn serve --port "$1" --data-dir "$2" > "$2.log" 2>&1 &
echo $!
