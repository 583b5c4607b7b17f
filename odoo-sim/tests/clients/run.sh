#!/usr/bin/env bash
# Drive odoo-sim with existing, unmodified Odoo client libraries from PyPI.
#
# Starts odoo-sim on a free port with a fresh demo database, runs the Python client
# tests against it, then always stops the sim and drops the database. Exits non-zero
# when anything fails. Self-sufficient on a fresh machine: creates <repo>/.venv and
# installs the pinned client libraries when they are missing, and builds odoo-sim
# (cargo build -p odoo-sim, workspace target dir) when its binary is missing.
#
# Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#      PYTHON (default <repo>/.venv/bin/python), CARGO_TARGET_DIR (only read, to find
#      the binary where cargo puts it).
set -euo pipefail

ODOORPC_VERSION="0.10.1"          # PyPI OdooRPC, JSON-RPC over /jsonrpc + /web/session/*
ODOO_CLIENT_LIB_VERSION="2.0.1"   # PyPI odoo-client-lib (Odoo SA's odoolib), protocol "jsonrpc"
MASTER="sim-clients-master"

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

log() { printf '[clients] %s\n' "$*" >&2; }

# ---- Python environment -------------------------------------------------------
if [[ -n "${PYTHON:-}" ]]; then
  py="$PYTHON"
else
  py="$repo/.venv/bin/python"
  if [[ ! -x "$py" ]]; then
    log "creating $repo/.venv"
    python3 -m venv "$repo/.venv"
  fi
fi
pip_install() {
  "$py" -m pip install --disable-pip-version-check -q "$@"
}
if ! "$py" -c 'import odoorpc' 2>/dev/null; then
  log "installing odoorpc==$ODOORPC_VERSION"
  pip_install "odoorpc==$ODOORPC_VERSION"
fi
if ! "$py" -c 'import odoolib' 2>/dev/null; then
  log "installing odoo-client-lib==$ODOO_CLIENT_LIB_VERSION"
  pip_install "odoo-client-lib==$ODOO_CLIENT_LIB_VERSION"
fi

# ---- odoo-sim binary ----------------------------------------------------------
# The workspace's target dir: cargo's default unless the caller set CARGO_TARGET_DIR.
target="${CARGO_TARGET_DIR:-$repo/target}"
bin="$target/debug/odoo-sim"
if [[ ! -x "$bin" ]]; then
  log "building odoo-sim"
  (cd "$repo" && cargo build -q -p odoo-sim --bin odoo-sim)
elif ! (cd "$repo" && cargo build -q -p odoo-sim --bin odoo-sim) 2>/dev/null; then
  log "warning: could not rebuild odoo-sim, using the existing $bin"
fi
[[ -x "$bin" ]] || { log "no odoo-sim binary at $bin"; exit 1; }

# ---- start the sim --------------------------------------------------------------
db="sim_client_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
simlog="${TMPDIR:-/tmp}/odoo-sim-$db.log"
pid=""

rpc_drop() {
  # db.drop through the running sim (needs no psql on the machine).
  curl -s -m 20 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,\"params\":{\"service\":\"db\",\"method\":\"drop\",\"args\":[\"$MASTER\",\"$1\"]}}" \
    "http://127.0.0.1:$port/jsonrpc" >/dev/null 2>&1
}
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    rpc_drop "$db"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  if command -v psql >/dev/null 2>&1; then
    psql "$url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
  fi
  if [[ $rc -ne 0 && -f "$simlog" ]]; then
    log "odoo-sim log (last 30 lines):"
    tail -n 30 "$simlog" >&2
  fi
  rm -f "$simlog"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Like Odoo, the sim connects as a role of its own (never postgres) and serves only the
# databases that role owns: create the role once, and the database as that role.
"$bin" ensure-role odoo_sim --admin-url "$url" >/dev/null
sim_url="$("$py" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(netloc="odoo_sim@" + p.netloc.rpartition("@")[2])))' "$url")"
"$bin" init-template "$db" --database-url "$sim_url" --catalogue demo >/dev/null
# The clients talk to 127.0.0.1, so no Host-based dbfilter: the session picks the db.
"$bin" serve --port "$port" --database-url "$sim_url" --dbfilter '' \
  --master-password "$MASTER" >"$simlog" 2>&1 &
pid=$!
up=""
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$port/web/health" >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$up" ]] || { log "odoo-sim did not come up on port $port"; exit 1; }

# ---- run the client tests ---------------------------------------------------------
export SIM_PORT="$port" SIM_DB="$db" SIM_MASTER="$MASTER"
if "$py" -c 'import pytest' 2>/dev/null; then
  "$py" -m pytest -q -p no:cacheprovider "$here/test_odoorpc.py" "$here/test_odoolib.py"
else
  "$py" "$here/test_odoorpc.py"
  "$py" "$here/test_odoolib.py"
fi
log "ok"
