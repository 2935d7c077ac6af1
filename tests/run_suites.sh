#!/usr/bin/env bash
# `make test`: the suite on PostgreSQL when one answers at 127.0.0.1:5432, and on SQLite,
# the embedded default. With both, the two runs go at once (each has its own database,
# Redis database and temporary folder), their lines prefixed [pg] and [sqlite]; the exit
# status is non-zero when either fails.
set -uo pipefail
PY=${PY:-.venv/bin/python}
export TZ=Asia/Shanghai

pg_answers() {
  [ -z "${TEST_DB:-}${TEST_DATABASE_URL:-}" ] &&
    "$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1)' 2>/dev/null
}

if ! pg_answers; then
  exec "$PY" -m pytest -q "$@"
fi

base=$(mktemp -d /tmp/portal-tests.XXXXXX)
run() {  # name, then the environment for it
  local name=$1; shift
  env "$@" "$PY" -m pytest -q -p no:cacheprovider --basetemp="$base/$name" "${ARGS[@]}" 2>&1 \
    | sed -u "s/^/[$name] /"
}
ARGS=("$@")
run pg TEST_DB=auto & pg=$!
run sqlite TEST_DB=sqlite & sqlite=$!
wait $pg; pg_status=$?
wait $sqlite; sqlite_status=$?
rm -rf "$base"
echo "== PostgreSQL: $([ $pg_status = 0 ] && echo passed || echo FAILED), SQLite: $([ $sqlite_status = 0 ] && echo passed || echo FAILED) =="
[ $pg_status = 0 ] && [ $sqlite_status = 0 ]
