#!/usr/bin/env bash
# Run every benchmark at its default size; results go to bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
for b in bench/bench_*.py; do
  echo "== $b"
  $PY "$b"
done
