-- The audit log: every state change of the platform, who made it and why.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,            -- 'system', 'superadmin:<email>', 'api:<token name>'
    action      text        NOT NULL,            -- e.g. 'tenant.created', 'tenant.suspended'
    tenant_id   uuid,
    job_id      uuid,
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at DESC);
CREATE INDEX audit_log_at ON audit_log (at DESC);
