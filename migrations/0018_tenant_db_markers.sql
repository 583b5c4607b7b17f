-- Only a database carrying its tenant's marker is adopted or dropped as that tenant's
-- (server/src/db_manager.rs, `tenant_marker`): `COMMENT ON DATABASE <db> IS
-- 'odoo-saas tenant <id>'`, written before the database takes the tenant's name.
--
-- Databases made before the marker existed get it here when they certainly are the
-- tenant's own: its tenant was active once (provisioning neutralized it as the tenant's).
-- Any other (a tenant that failed or never finished) stays unmarked, so it is never
-- dropped by the platform: an operator looks at it.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT t.id, t.db_name
        FROM tenants t
        JOIN pg_database d ON d.datname = t.db_name
        WHERE t.activated_at IS NOT NULL
          AND t.state IN ('active', 'suspended', 'deleting')
          AND shobj_description(d.oid, 'pg_database') IS NULL
    LOOP
        BEGIN
            EXECUTE format('COMMENT ON DATABASE %I IS %L', r.db_name, 'odoo-saas tenant ' || r.id::text);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'cannot mark the database % of tenant %: %', r.db_name, r.id, SQLERRM;
        END;
    END LOOP;
END
$$;
