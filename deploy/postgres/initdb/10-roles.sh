#!/bin/bash
# Run once by the postgres image when the data volume is empty
# (/docker-entrypoint-initdb.d), as the superuser, before the server accepts connections.
#
# Roles:
#   odoo  LOGIN CREATEDB   - used by both Odoo processes; owns every tenant database
#                            t_<slug> (Odoo only sees the databases its user owns).
#                            Odoo refuses to run as the superuser `postgres`.
#   saas  LOGIN CREATEDB   - the platform (server, worker); owns the `saas` database and
#                            is a member of `odoo`, so it can pg_dump tenant databases and
#                            create them from a template owned by `odoo`.
# `odoo` is not a member of `saas` and PUBLIC loses CONNECT on `saas`, so no Odoo request
# can open the platform's database whatever host name it is sent with.
set -euo pipefail

: "${ODOO_DB_PASSWORD:?ODOO_DB_PASSWORD must be set for the postgres service}"
: "${SAAS_DB_PASSWORD:?SAAS_DB_PASSWORD must be set for the postgres service}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v odoo_pw="$ODOO_DB_PASSWORD" -v saas_pw="$SAAS_DB_PASSWORD" <<'SQL'
CREATE ROLE odoo LOGIN CREATEDB PASSWORD :'odoo_pw';
CREATE ROLE saas LOGIN CREATEDB PASSWORD :'saas_pw';
GRANT odoo TO saas;
CREATE DATABASE saas OWNER saas;
REVOKE CONNECT, TEMPORARY ON DATABASE saas FROM PUBLIC;
SQL
