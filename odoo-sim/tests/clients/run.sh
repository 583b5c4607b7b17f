#!/usr/bin/env bash
# Start odoo-sim on a free port with a fresh demo database, run the odoorpc client
# test against it, stop the sim and drop the database.
# Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#      CARGO_TARGET_DIR, PYTHON (default <repo>/.venv/bin/python; odoorpc must be installed:
#      python3 -m venv .venv && .venv/bin/pip install odoorpc pytest).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
py="${PYTHON:-$repo/.venv/bin/python}"
target="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build -q -p odoo-sim --bin odoo-sim)
bin="$target/debug/odoo-sim"
db="sim_client_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" init-template "$db" --database-url "$url" --catalogue demo
# odoorpc talks to 127.0.0.1, so no Host-based dbfilter: the session picks the db.
"$bin" serve --port "$port" --database-url "$url" --dbfilter '' >"${TMPDIR:-/tmp}/odoo-sim-$db.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  psql "$url" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/web/health" >/dev/null && break
  sleep 0.1
done
if "$py" -c 'import pytest' 2>/dev/null; then
  SIM_PORT="$port" SIM_DB="$db" "$py" -m pytest -q "$here/test_odoorpc.py"
else
  SIM_PORT="$port" SIM_DB="$db" "$py" "$here/test_odoorpc.py"
fi
