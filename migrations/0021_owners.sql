-- Tenant owners (server/src/owners): the customers' own accounts, the one-time links sent
-- to them by email, their sessions and API tokens, and which tenants they own.

CREATE TABLE owners (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Lowercase; the sign-in name.
    email               text        NOT NULL CONSTRAINT owners_email_key UNIQUE,
    name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- argon2id PHC string.
    password_hash       text        NOT NULL,
    -- Tenants can be created only once the address is confirmed.
    email_verified_at   timestamptz,
    -- Set by a superadmin: no sign-in, sessions and tokens refused.
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX owners_created ON owners (created_at DESC, id DESC);

-- Links sent by email that work once. Only the sha256 of the random token is stored: this
-- table cannot be used to forge a link.
CREATE TABLE owner_links (
    token_sha256        bytea       PRIMARY KEY,
    owner_id            uuid        NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    purpose             text        NOT NULL
                                    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    -- The address an email change moves the account to.
    new_email           text,
    expires_at          timestamptz NOT NULL,
    -- Followed, or replaced by a newer link of the same purpose.
    used_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX owner_links_owner ON owner_links (owner_id, purpose) WHERE used_at IS NULL;

-- Owner portal sessions, by the operations portal's rules (see admin_sessions).
CREATE TABLE owner_sessions (
    token_sha256        bytea       PRIMARY KEY,
    owner_id            uuid        NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    csrf_token          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL
);
CREATE INDEX owner_sessions_owner ON owner_sessions (owner_id);

-- Owners' API tokens (`saas_owner_…`): only the sha256 is stored.
CREATE TABLE owner_api_tokens (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id            uuid        NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_sha256        bytea       NOT NULL CONSTRAINT owner_api_tokens_sha256_key UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz,
    revoked_at          timestamptz
);
CREATE UNIQUE INDEX owner_api_tokens_name ON owner_api_tokens (owner_id, name) WHERE revoked_at IS NULL;

-- Who owns a tenant (NULL: made by a superadmin for someone without an account). The
-- sign-up form's key makes a second submit of the same form find the first's tenant.
ALTER TABLE tenants
    ADD COLUMN owner_user_id uuid REFERENCES owners (id),
    ADD COLUMN signup_key text;
CREATE INDEX tenants_owner_user ON tenants (owner_user_id, created_at DESC) WHERE owner_user_id IS NOT NULL;
CREATE UNIQUE INDEX tenants_signup_key ON tenants (owner_user_id, signup_key) WHERE signup_key IS NOT NULL;

-- Owners' own operations on an active tenant: the Odoo administrator's password, companies.
ALTER TABLE tenants DROP CONSTRAINT tenants_pending_op_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_pending_op_check
    CHECK (pending_op IN ('provision', 'deactivate', 'reactivate', 'delete',
                          'reset_admin_password', 'add_companies'));

-- Account messages name their owner: at most one of a kind every few minutes per owner.
ALTER TABLE outbox ADD COLUMN owner_id uuid;
CREATE INDEX outbox_owner ON outbox (owner_id, template, created_at DESC) WHERE owner_id IS NOT NULL;
