-- The superadmin portal: operators who sign in with a password, their sessions, and failed
-- sign-ins (the rate limit). Plans get a price for the portals.

CREATE TABLE superadmins (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text        NOT NULL CONSTRAINT superadmins_email_key UNIQUE,
    -- argon2id PHC string.
    password_hash   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz
);

-- Only the sha256 of a session token is stored: a copy of this table signs nobody in.
CREATE TABLE admin_sessions (
    token_sha256    bytea       PRIMARY KEY,
    superadmin_id   uuid        NOT NULL REFERENCES superadmins (id) ON DELETE CASCADE,
    -- Synchronizer token: every state-changing request of this session must carry it.
    csrf_token      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Idle expiry: refreshed at most once a minute while the operator is active.
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    -- Absolute expiry, whatever the activity.
    expires_at      timestamptz NOT NULL
);
CREATE INDEX admin_sessions_superadmin ON admin_sessions (superadmin_id);

CREATE TABLE admin_login_failures (
    id              bigserial   PRIMARY KEY,
    email           text        NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_login_failures_email_at ON admin_login_failures (email, at DESC);

-- Monthly price in the smallest unit of the currency (cents).
ALTER TABLE plans ADD COLUMN price_cents integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0);
ALTER TABLE plans ADD COLUMN currency text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$');

-- The tenants table's search: one lowercase text of slug, owner email and company, matched
-- with LIKE '%…%' through a trigram index (pg_trgm is a trusted extension: the database
-- owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE tenants ADD COLUMN search text
    GENERATED ALWAYS AS (lower(slug || ' ' || owner_email || ' ' || company_name)) STORED;
CREATE INDEX tenants_search ON tenants USING gin (search gin_trgm_ops);
-- The tenants table of the portal sorts by these; the audit page filters by actor.
CREATE INDEX tenants_state_created ON tenants (state, created_at DESC, id DESC);
CREATE INDEX tenants_plan_created ON tenants (plan_id, created_at DESC, id DESC);
CREATE INDEX tenants_state_slug ON tenants (state, slug);
CREATE INDEX tenants_plan_state_slug ON tenants (plan_id, state, slug);
CREATE INDEX tenants_owner_email ON tenants (owner_email, id);
CREATE INDEX audit_log_actor_at ON audit_log (actor, at DESC);
