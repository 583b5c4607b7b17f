#!/bin/sh
# Checks the settings Traefik takes from the environment, writes them into a private copy
# of the static configuration and starts Traefik with it (Traefik takes its static
# configuration from one source only, so they cannot be passed as flags).
#
#   ACME_EMAIL              Let's Encrypt account e-mail (required)
#   ACME_DNS_PROVIDER       lego's code of the DNS provider of the wildcard certificate,
#                           e.g. cloudflare, route53 (required); its credentials stay in
#                           the environment, where lego reads them
#   ACME_CA_SERVER          ACME directory (default: Let's Encrypt production)
#   TRAEFIK_CONFIG_SECRET   the route table's shared secret, the server's value (required)
#
# STATIC_TEMPLATE and STATIC_CONFIG move the input and output files (the validator runs
# this script outside the container).
set -eu
src=${STATIC_TEMPLATE:-/etc/traefik/traefik.yml}
dst=${STATIC_CONFIG:-/tmp/traefik.yml}

fail() {
  echo "traefik-entrypoint: $*" >&2
  exit 1
}

case "${ACME_EMAIL:-}" in
  *@*.*) ;;
  *) fail "ACME_EMAIL must be an e-mail address" ;;
esac
case "$ACME_EMAIL" in
  *[!A-Za-z0-9@._+-]*) fail "ACME_EMAIL has characters it may not" ;;
esac

acme_ca_server=${ACME_CA_SERVER:-https://acme-v02.api.letsencrypt.org/directory}
case "$acme_ca_server" in
  https://?*) ;;
  *) fail "ACME_CA_SERVER must be an https:// ACME directory URL" ;;
esac
case "$acme_ca_server" in
  *[!A-Za-z0-9:/._~%-]*) fail "ACME_CA_SERVER has characters it may not" ;;
esac

case "${ACME_DNS_PROVIDER:-}" in
  "") fail "ACME_DNS_PROVIDER must name lego's DNS provider, e.g. cloudflare (see docs/deploy.md)" ;;
  *[!a-z0-9._-]*) fail "ACME_DNS_PROVIDER must be lego's provider code: lowercase letters, digits, . _ -" ;;
esac

# The server refuses fewer than 16 characters; hex (openssl rand -hex 32) is safe to
# substitute into the YAML file.
secret=${TRAEFIK_CONFIG_SECRET:-}
case "$secret" in
  *[!A-Za-z0-9._~-]*) fail "TRAEFIK_CONFIG_SECRET may hold letters, digits and . _ ~ - only (openssl rand -hex 32)" ;;
esac
[ "${#secret}" -ge 16 ] || fail "TRAEFIK_CONFIG_SECRET must be at least 16 characters (openssl rand -hex 32)"

umask 077
sed -e "s|__ACME_EMAIL__|$ACME_EMAIL|g" \
    -e "s|__ACME_CA_SERVER__|$acme_ca_server|g" \
    -e "s|__ACME_DNS_PROVIDER__|$ACME_DNS_PROVIDER|g" \
    -e "s|__TRAEFIK_CONFIG_SECRET__|$secret|g" \
    "$src" >"$dst"
if grep -q '__[A-Z_]*__' "$dst"; then
  fail "$src has a placeholder this script does not fill: $(grep -o '__[A-Z_]*__' "$dst" | head -n 1)"
fi
# The secret is in the private copy; Traefik's own environment does not need it.
unset TRAEFIK_CONFIG_SECRET
exec traefik --configFile="$dst" "$@"
