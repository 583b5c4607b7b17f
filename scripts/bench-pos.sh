#!/usr/bin/env bash
# Benchmark of the POS till (docs/benchmarks.md):   ./scripts/bench-pos.sh
# 1. the bundle a tablet downloads (wasm + js + css, gzip -9) of `trunk build --release`,
#    against the 350 KB budget;
# 2. 1,000 waiting orders sent by the sync engine to odoo-sim (real PostgreSQL), against one
#    single-order sync_from_ui call in the same run (`cargo bench -p pos-core --bench sync`);
# 3. in headless Chromium: Pay to Paid with the order durable in IndexedDB (p95), and the
#    offline cold start to an interactive till, each against a baseline of the same run
#    (end2end/bench/pos.bench.mjs, through the e2e runner; needs `cargo leptos build`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres
cargo fetch --locked -q

echo "[bench] trunk build --release (the bundle tablets get)" >&2
trunk build --release >/dev/null
dist=target/pos-dist
total=0
echo
echo "POS bundle (gzip -9), target ≤ 350 KB:"
for f in "$dist"/*.wasm "$dist"/*.js "$dist"/*.css "$dist"/snippets/*/*.js; do
  [ -f "$f" ] || continue
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  total=$((total + gz))
  printf '  %-52s %8d bytes raw %8d gzip\n' "${f#"$dist"/}" "$raw" "$gz"
done
awk -v t="$total" 'BEGIN { printf "  total %.1f KB gzip = %.2f× the 350 KB budget: %s\n", t / 1024, t / 1024 / 350, (t / 1024 <= 350 ? "met" : "MISSED") }'

echo
cargo bench --locked -q -p pos-core --bench sync 2>/dev/null | grep -v '^$' || cargo bench --locked -p pos-core --bench sync

echo
# node --test prints the figures as TAP diagnostics ("# …").
node end2end/run.mjs end2end/bench/pos.bench.mjs 2>&1 | grep -E '^# (POS|  )' | sed 's/^# //'
