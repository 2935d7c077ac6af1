#!/usr/bin/env bash
# Measure a proposed change without touching the working tree: export HEAD, apply the
# patch to that copy, run the list, work and intake figures against it, and write the
# results to bench/out/patched/ (summarize.py puts them beside the HEAD figures).
#
#   bash bench/try_patch.sh path/to/change.patch
set -euo pipefail
PATCH=$(realpath "$1")
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1/portal_bench}
CONFIG=${BENCH_CONFIG:-sync:3}
WAIT=${BENCH_WAIT_QUIET:-300}
OUT=$ROOT/bench/out
rev=$(git rev-parse --short HEAD)
tree=$OUT/patched-tree
rm -rf "$tree" && mkdir -p "$tree"
git archive HEAD | tar -x -C "$tree"
patch -d "$tree" -p1 --forward --quiet < "$PATCH"
export BENCH_APP_ROOT=$tree BENCH_APP_REV="$rev + $(basename "$PATCH")" BENCH_RESULTS_DIR=$OUT/patched
mkdir -p "$BENCH_RESULTS_DIR"
cd "$ROOT/bench"
for fig in list work intake; do
  "$PY" benchlib.py wait-quiet --max "$WAIT" --below 0.3 >/dev/null
  "$PY" "${fig}_bench.py" --database-url "$BENCH_DATABASE_URL" --config "$CONFIG" 2>&1 | tee "$BENCH_RESULTS_DIR/$fig.log"
done
"$PY" benchlib.py clean-redis
"$PY" summarize.py > /dev/null
echo "→ $OUT/summary.md (section: with the patch)"
