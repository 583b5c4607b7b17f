#!/usr/bin/env bash
# The API tried by a tool nobody here wrote: schemathesis (PyPI, the version pinned in
# scripts/ensure-tools.sh) generates requests from /api/v1/openapi.json, valid and invalid,
# and sends them with a superadmin API token to a server started here on a fresh platform
# database. It fails on any 5xx, and on any answer whose status code, content type,
# headers or body the document does not describe.
#
# Usage: scripts/schemathesis.sh [more schemathesis options]
# Needs the server binary (target/debug/server: `cargo leptos build`, or SERVER_BIN).
# Bounded: SCHEMATHESIS_MAX_EXAMPLES generated cases per operation (default 10) after the
# coverage phase's; about two minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ONLY=schemathesis ./scripts/ensure-tools.sh
ensure_postgres

PG="${TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}"
SERVER_BIN="${SERVER_BIN:-target/debug/server}"
version=$(sed -n 's/^SCHEMATHESIS_VERSION=//p' scripts/ensure-tools.sh)
venv="${SAAS_TOOLS_DIR:-$HOME/.cache/saas-tools}/schemathesis-$version"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-10}"

if [ ! -x "$SERVER_BIN" ]; then
  echo "[schemathesis] $SERVER_BIN is missing: run cargo leptos build first" >&2
  exit 1
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One id per run in every name it makes, as end2end/run.mjs does.
run_id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
database="saas_st_$run_id"
port=$(free_port)
work=$(mktemp -d "${TMPDIR:-/tmp}/saas-schemathesis-$run_id.XXXXXX")
server_pid=

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  # The platform database and any tenant database the fuzzer's requests named in it (no
  # workers run, so none was made; dropped anyway in case).
  local names
  names=$(psql "$PG/$database" -At -c "SELECT db_name FROM tenants" 2>/dev/null || true)
  for name in $names "$database"; do
    psql "$PG/postgres" -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# No workers: the fuzzer's tenants and plans stay queued; the API's answers are what is
# tried. No Odoo either: nothing reaches one without workers.
export DATABASE_URL="$PG/$database"
export BIND_ADDR="127.0.0.1:$port"
export INTERNAL_BIND_ADDR="127.0.0.1:$(free_port)"
export RUN_WORKERS=false
export BASE_DOMAIN=saas.test
export SITE_ROOT=target/site
export POS_DIST_DIR=target/pos-dist
export BACKUP_DIR="$work/backups"
export RUST_LOG="${RUST_LOG:-warn}"

"$SERVER_BIN" migrate
token=$("$SERVER_BIN" create-api-token schemathesis)
"$SERVER_BIN" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log" >&2
    echo "[schemathesis] the server stopped" >&2
    exit 1
  fi
  sleep 0.2
done

status=0
# From the run's own folder: schemathesis keeps its state (.schemathesis/) in the current one.
cd "$work"
"$venv/bin/python" -m schemathesis.cli run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$max_examples" \
  --seed "${SCHEMATHESIS_SEED:-20261202}" \
  --workers 2 \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "[schemathesis] the server's log:" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
