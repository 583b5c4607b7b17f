#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run) and what the README's Quick start gives.
# Installs missing tools, starts what it needs, and stops at the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

started=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }

step "tools"
./scripts/ensure-tools.sh
ensure_postgres
# Trunk runs cargo --offline: fetch every crate first.
cargo fetch --locked -q

step "format"
cargo fmt --all -- --check

step "clippy (native workspace)"
cargo clippy --locked --all-targets -- -D warnings
step "clippy (wasm: pos-pwa, frontend) and odoo-rpc for wasm"
cargo clippy --locked --target wasm32-unknown-unknown -p pos-pwa -p frontend -- -D warnings
cargo check --locked --target wasm32-unknown-unknown -p odoo-rpc --no-default-features --features fetch

step "unit and integration tests (real PostgreSQL)"
cargo test --locked --no-fail-fast

step "build the portals (cargo leptos) and the POS PWA (trunk)"
cargo leptos build
trunk build

step "deployment files (compose, Dockerfile, workflow, Traefik, odoo.conf)"
./scripts/validate-deploy.sh

step "existing Odoo client libraries against odoo-sim"
odoo-sim/tests/clients/run.sh

step "end-to-end tests in headless Chromium"
node end2end/run.mjs

step "the API under schemathesis (generated requests against /api/v1/openapi.json)"
./scripts/schemathesis.sh

step "all tests passed in $((SECONDS - started)) s"
