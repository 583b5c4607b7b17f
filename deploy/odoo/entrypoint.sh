#!/bin/bash
# Wrapper around the official odoo image's /entrypoint.sh.
#
# Odoo reads its master password (admin_passwd) only from its configuration file; it has
# no command-line flag or environment variable for it. So that no secret lives in the
# repository, the config mounted read-only at /etc/odoo/odoo.conf holds none, and this
# script writes a private copy with `admin_passwd = $ODOO_MASTER_PASSWORD` (and the
# database password) into a tmpfs (/tmp) at start, then hands over to the image's entrypoint
# with ODOO_RC pointing at the copy. The image's entrypoint still waits for PostgreSQL
# and passes db_host/db_port/db_user/db_password from the file to Odoo.
set -euo pipefail

src=${ODOO_CONF_TEMPLATE:-/etc/odoo/odoo.conf}
dir=${ODOO_RUNTIME_DIR:-/tmp/odoo}
dst="$dir/odoo.conf"

fail() { echo "odoo-entrypoint: $*" >&2; exit 1; }

[ -r "$src" ] || fail "cannot read the config template $src"
[ -n "${ODOO_MASTER_PASSWORD:-}" ] || fail "ODOO_MASTER_PASSWORD is not set"
[ -n "${PASSWORD:-}" ] || fail "PASSWORD (the PostgreSQL password of the odoo role) is not set"
case "$ODOO_MASTER_PASSWORD$PASSWORD" in
  *$'\n'* | *$'\r'*) fail "passwords must be one line" ;;
esac
if grep -qE '^\s*(admin_passwd|db_password)\s*=' "$src"; then
  fail "$src must not hold admin_passwd or db_password; they come from the environment"
fi

umask 077
mkdir -p "$dir"
{
  cat "$src"
  printf '\n; written at start by deploy/odoo/entrypoint.sh from the environment\n'
  printf 'admin_passwd = %s\n' "$ODOO_MASTER_PASSWORD"
  printf 'db_password = %s\n' "$PASSWORD"
} >"$dst"

export ODOO_RC="$dst"
exec /entrypoint.sh "$@"
