-- Tenant and warm-pool databases made before this release were created by the platform's
-- role (a plain CREATE DATABASE … TEMPLATE), so they belong to it. Odoo serves only the
-- databases its own role owns (odoo/service/db.py, list_dbs), and a browser could not open
-- those tenants by host name. Provisioning now creates them OWNER Odoo's role; queue the
-- one-time repair of the existing ones (job kind tenant.repair_db_owners, see
-- server/src/tenants/lifecycle.rs), only where there is something to repair.
INSERT INTO jobs (id, kind, payload, max_attempts, dedupe_key)
SELECT gen_random_uuid(), 'tenant.repair_db_owners', '{}'::jsonb, 8, 'tenant.repair_db_owners'
WHERE EXISTS (SELECT 1 FROM tenants WHERE state NOT IN ('requested', 'deleted'))
   OR EXISTS (SELECT 1 FROM warm_pool);
