# Shared by the scripts: PATH with the pinned tools, and PostgreSQL up.
# shellcheck shell=bash
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Starts the local PostgreSQL cluster if it is not answering (the machine's own service).
ensure_postgres() {
  local url="${TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}"
  if psql "$url/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    return 0
  fi
  echo "[postgres] not answering on $url; starting the local cluster" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do
    psql "$url/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "[postgres] PostgreSQL is not reachable at $url (set TEST_PG_URL)" >&2
  return 1
}
