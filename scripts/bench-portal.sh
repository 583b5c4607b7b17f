#!/usr/bin/env bash
# Benchmark of the operations portal's tenants page (docs/benchmarks.md):
#   ./scripts/bench-portal.sh [seconds per run, default 15]
# Seeds a throw-away platform database with 10,000 tenants, starts the release server
# (no job workers), signs in as a superadmin, then loads pages with `wrk` from a second
# process on loopback: 32 connections, 2 threads. It prints p50/p99 latency and requests per
# second of each page, and p99 as a ratio to /healthz measured in the same run (the cost
# of the HTTP stack alone). Target: tenants page p99 under 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres

DURATION="${1:-15}"
PG="${TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}"
TENANTS=10000
TARGET="${CARGO_TARGET_DIR:-target}"
if ! command -v wrk >/dev/null 2>&1; then
  echo "[bench] installing wrk (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "[bench] building the release server" >&2
cargo build --locked --release -q -p server

db="saas_bench_portal_$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
email="bench@example.com"
password="$(head -c12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

export DATABASE_URL="$PG/$db" RUN_WORKERS=false RUST_LOG=warn BIND_ADDR="127.0.0.1:$port" \
  COOKIE_SECURE=false SITE_ROOT=target/site
SUPERADMIN_PASSWORD="$password" "$TARGET/release/server" create-superadmin --email "$email" >/dev/null

echo "[bench] seeding $TENANTS tenants" >&2
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q <<SQL
INSERT INTO plans (key, name, modules) VALUES
  ('starter', 'Starter', '{point_of_sale}'), ('business', 'Business', '{point_of_sale,sale}'),
  ('enterprise', 'Enterprise', '{point_of_sale,sale,stock}');
INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name, created_at)
SELECT 'shop-' || n, 't_shop-' || n, 'shop-' || n || '.localhost',
       (SELECT id FROM plans ORDER BY key OFFSET n % 3 LIMIT 1),
       (ARRAY['active','active','active','active','suspended','failed','deleted'])[1 + n % 7],
       'owner' || n || '@example' || (n % 50) || '.com', 'Owner ' || n, 'Company ' || n,
       now() - n * interval '1 minute'
FROM generate_series(1, $TENANTS) AS n;
INSERT INTO audit_log (actor, action, tenant_id)
SELECT 'system', 'tenant.activated', id FROM tenants;
VACUUM ANALYZE;
-- Flush now, so a checkpoint of the seeding does not land inside a measurement.
CHECKPOINT;
SQL

"$TARGET/release/server" serve &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
cookie=$(curl -fs -D - -o /dev/null -X POST "$base/sfn/auth/sign_in" \
  --data-urlencode "email=$email" --data-urlencode "password=$password" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(saas_admin=[^;]*\).*/\1/p')
[ -n "$cookie" ] || { echo "[bench] could not sign in" >&2; exit 1; }
# Sanity: the page really lists tenants (not a sign-in redirect).
curl -fs -H "Cookie: $cookie" "$base/admin/tenants" | grep -q "of 400 · $TENANTS tenants" ||
  { echo "[bench] the tenants page does not show $TENANTS tenants" >&2; exit 1; }

# Runs wrk; prints "p50_ms p99_ms requests_per_second non_2xx".
measure() {
  local out
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -H "Cookie: $cookie" "$1")
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { printf "%.2f %.2f %.0f %d\n", p50, p99, rps, bad + 0 }' <<<"$out"
}

read -r b50 b99 brps bbad < <(measure "$base/healthz")
printf '\n%-52s %9s %9s %9s %8s\n' "page (32 connections, ${DURATION}s each)" "p50 ms" "p99 ms" "req/s" "p99 ×"
printf '%-52s %9s %9s %9s %8s\n' "/healthz (baseline)" "$b50" "$b99" "$brps" "1.0"
worst=0
for path in "/admin/tenants" "/admin/tenants?sort=owner&dir=asc&page=200" \
  "/admin/tenants?q=example7.com&state=active" "/admin/tenants?plan=business&sort=state&per_page=100"; do
  read -r p50 p99 rps bad < <(measure "$base$path")
  [ "$bad" -eq 0 ] || { echo "[bench] $path answered $bad non-2xx responses" >&2; exit 1; }
  ratio=$(awk -v a="$p99" -v b="$b99" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
  printf '%-52s %9s %9s %9s %8s\n' "$path" "$p50" "$p99" "$rps" "$ratio"
  worst=$(awk -v a="$p99" -v w="$worst" 'BEGIN { print (a > w ? a : w) }')
done
echo
if awk -v w="$worst" 'BEGIN { exit !(w < 50) }'; then
  echo "tenants page p99 (worst of the four): $worst ms — target < 50 ms: met"
else
  echo "tenants page p99 (worst of the four): $worst ms — target < 50 ms: MISSED"
fi
