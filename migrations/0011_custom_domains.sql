-- Custom domains: an owner's own host name (shop.example.org) for a tenant, routed by
-- Traefik like <slug>.<domain> once its DNS points at us.
--   pending  → the DNS check job looks for the CNAME (or an A record to the ingress)
--   verified → seen; the route is published in the next route table
--   active   → Traefik fetched a route table with it (its certificate follows: HTTP-01)
--   failed   → never seen in time; `last_result` says what was found instead
CREATE TABLE custom_domains (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid        NOT NULL REFERENCES tenants (id),
    -- Lowercase, no trailing dot; one tenant only (a domain cannot be routed twice).
    domain          text        NOT NULL CONSTRAINT custom_domains_domain_key UNIQUE
                                CHECK (domain = lower(domain) AND length(domain) BETWEEN 4 AND 253),
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'verified', 'active', 'failed')),
    -- When checking (re)started: a domain still unseen after the configured time fails.
    verify_started_at timestamptz NOT NULL DEFAULT now(),
    -- The last DNS check: when, and what it found (or why verification failed).
    last_checked_at timestamptz,
    last_result     text,
    checks          integer     NOT NULL DEFAULT 0,
    -- The verification job at work (pending only).
    verify_job_id   uuid,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    verified_at     timestamptz,
    activated_at    timestamptz
);
CREATE INDEX custom_domains_tenant ON custom_domains (tenant_id, created_at);

-- Route changes (see 0010): a domain added, verified, activated, failed or removed.
CREATE TRIGGER custom_domains_routes_inserted_or_deleted
    AFTER INSERT OR DELETE ON custom_domains
    FOR EACH ROW EXECUTE FUNCTION notify_routes_changed();

CREATE TRIGGER custom_domains_routes_state_changed
    AFTER UPDATE OF state ON custom_domains
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION notify_routes_changed();
