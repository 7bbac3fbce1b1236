#!/usr/bin/env bash
# mypy --strict over the installed layout: setuptools maps transform/ engine/ cache/ models/ to
# alphacdn.*, which mypy cannot follow through the editable-install import hook, so we check a
# symlink tree that has the installed shape.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree="$top/build/typecheck"
rm -rf "$tree" && mkdir -p "$tree/alphacdn"
for f in "$top"/alphacdn/*; do ln -s "$f" "$tree/alphacdn/"; done
for room in transform engine cache models; do ln -s "$top/$room" "$tree/alphacdn/$room"; done
cd "$tree" && exec "$top/.venv/bin/mypy" --config-file "$top/pyproject.toml" -p alphacdn
