#!/usr/bin/env bash
# Runs the platform locally: installs missing tools, builds, starts odoo-sim as the local
# Odoo when ODOO_URL is not set, and serves the portals on http://127.0.0.1:3000.
# Every setting comes from the environment (see .env.example); these are local defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

./scripts/ensure-tools.sh
ensure_postgres
cargo fetch --locked -q

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/saas}"
export BIND_ADDR="${BIND_ADDR:-127.0.0.1:3000}"
export SITE_ROOT="${SITE_ROOT:-target/site}"
export POS_DIST_DIR="${POS_DIST_DIR:-target/pos-dist}"
export RUST_LOG="${RUST_LOG:-info,sqlx=warn}"

echo "[run] building the portals and the POS app (first build takes a few minutes)" >&2
cargo leptos build
trunk build

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -z "${ODOO_URL:-}" ]; then
  sim_port="${ODOO_SIM_PORT:-8069}"
  sim_url="postgres://postgres@127.0.0.1:5432/postgres"
  echo "[run] ODOO_URL is not set: starting the bundled Odoo simulator (odoo-sim) on 127.0.0.1:$sim_port" >&2
  cargo build --locked -q -p odoo-sim
  # A fresh master password per run, shared by the simulator and the platform (template
  # builds call Odoo's db service with it); nothing secret is written to disk.
  ODOO_MASTER_PASSWORD="${ODOO_MASTER_PASSWORD:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
  export ODOO_MASTER_PASSWORD
  ODOO_SIM_MASTER_PASSWORD="$ODOO_MASTER_PASSWORD" target/debug/odoo-sim serve \
    --port "$sim_port" --database-url "$sim_url" --dbfilter '^t_%d$' &
  pids+=($!)
  export ODOO_URL="http://127.0.0.1:$sim_port"
  export ODOO_IS_SIMULATOR=true
fi

# The first superadmin of the operations portal: created once, its random password printed
# here a single time (change it with `server create-superadmin --reset-password`).
target/debug/server create-superadmin --email "${SUPERADMIN_EMAIL:-admin@example.com}" --if-none

echo "[run] serving on http://$BIND_ADDR (Ctrl-C stops); operations portal: http://$BIND_ADDR/admin" >&2
target/debug/server serve &
pids+=($!)
wait -n "${pids[@]}"
