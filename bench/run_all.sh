#!/usr/bin/env bash
# Every figure of issues 2 and 3 against one PostgreSQL database, in order, then
# bench/out/summary.md. Generates the cases only if the database has none.
#
#   bash bench/run_all.sh                      # postgresql://postgres@127.0.0.1/portal_bench, 1M cases
#   BENCH_CASES=100000 BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/portal_bench_100k bash bench/run_all.sh
#
# BENCH_TREE=head (default) measures a snapshot of the HEAD commit exported with `git archive`
# into bench/out/tree-<rev>/ (the working tree changes under our feet while others edit);
# BENCH_TREE=working measures the working tree as it is.
# BENCH_CONFIG: gunicorn workers, sync:N or gthread:N:T (default sync:3: fastest here, see README).
# BENCH_WAIT_QUIET: seconds to wait, at most, for the machine to go quiet before each figure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1/portal_bench}
CASES=${BENCH_CASES:-1000000}
CONFIG=${BENCH_CONFIG:-sync:3}
WAIT=${BENCH_WAIT_QUIET:-300}
OUT=$ROOT/bench/out
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

rev=$(git rev-parse --short HEAD)
if [ "${BENCH_TREE:-head}" = head ]; then
  snap=$OUT/tree-$rev
  if [ ! -d "$snap" ]; then
    rm -rf "$snap.tmp" && mkdir -p "$snap.tmp"
    git archive HEAD | tar -x -C "$snap.tmp"
    mv "$snap.tmp" "$snap"
  fi
  export BENCH_APP_ROOT=$snap BENCH_APP_REV=$rev
else
  export BENCH_APP_ROOT=$ROOT BENCH_APP_REV="$rev + working tree"
fi
echo "measuring $BENCH_APP_REV against $BENCH_DATABASE_URL with $CONFIG"

cd "$ROOT/bench"
: > "$OUT/quiet.log"
quiet() {  # bounded wait for other work on the machine to settle; logged, never fatal
  local r
  r=$("$PY" benchlib.py wait-quiet --max "$WAIT" --below 0.3)
  echo "$1: $r" | tee -a "$OUT/quiet.log"
}

# Migrate and seed always (idempotent); generate only into an empty database.
"$PY" generate.py --database-url "$BENCH_DATABASE_URL" --cases "$CASES" --leader-waiting 200 --if-missing \
  2>&1 | grep -v '^INFO  \[alembic' | tee "$OUT/generate-last.log"

rm -f "$OUT"/ratio.json "$OUT"/list.json "$OUT"/work.json "$OUT"/intake.json "$OUT"/transition.json
failed=""
# The ratios to the shared ceiling (../shared/bench-ceiling, its own database peer_ceiling):
# its own fixed settings, 2 sync workers and wrk -t2 -c4 for both sides, one server at a time.
quiet ratio
"$PY" ratio_bench.py --database-url "$BENCH_DATABASE_URL" 2>&1 | tee "$OUT/ratio.log" || failed="$failed ratio"
for fig in list work intake transition; do  # one failing figure does not stop the others
  quiet "$fig"
  "$PY" "${fig}_bench.py" --database-url "$BENCH_DATABASE_URL" --config "$CONFIG" 2>&1 | tee "$OUT/$fig.log" \
    || failed="$failed $fig"
done

# The benches' transitions wrote real audit events: the chain must still verify.
(cd "$BENCH_APP_ROOT" && DATABASE_URL=$BENCH_DATABASE_URL SECRET_KEY=bench-secret PYTHONPATH=$BENCH_APP_ROOT \
  PORTAL_INSTANCE=$OUT/instance REDIS_URL=redis://127.0.0.1:6379/13 "$ROOT/.venv/bin/flask" --app wsgi audit-verify) \
  2>&1 | tee "$OUT/audit-verify.log" || failed="$failed audit-verify"

# Deliveries and rendition jobs the benches enqueued went to Redis database 13 (no worker runs there).
"$PY" benchlib.py clean-redis

"$PY" summarize.py > /dev/null
echo "→ $OUT/summary.md"
if [ -n "$failed" ]; then echo "failed:$failed (see bench/out/<figure>.log)" >&2; exit 1; fi
