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
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

if want npm; then
  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ]; then
    log "npm ci (binaryen wasm-opt, playwright-core)"
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
