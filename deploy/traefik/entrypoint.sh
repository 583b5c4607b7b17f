#!/bin/sh
# Writes the static configuration with the ACME e-mail from the environment and starts
# Traefik with it (Traefik takes its static configuration from one source only).
set -eu
src=/etc/traefik/traefik.yml
dst=/tmp/traefik.yml
case "${ACME_EMAIL:-}" in
  *@*.*) ;;
  *) echo "traefik-entrypoint: ACME_EMAIL must be an e-mail address" >&2; exit 1 ;;
esac
case "$ACME_EMAIL" in
  *[!A-Za-z0-9@._+-]*) echo "traefik-entrypoint: ACME_EMAIL has characters it may not" >&2; exit 1 ;;
esac
sed "s/__ACME_EMAIL__/$ACME_EMAIL/" "$src" >"$dst"
exec traefik --configFile="$dst" "$@"
