-- Plans, tenants, the warm pool of standby databases and the superadmin's API tokens.
-- (0001 is the audit log, 0002 the job queue's `jobs` table.)

-- What a customer buys: the Odoo modules installed and the limits that apply.
CREATE TABLE plans (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Short stable key, part of the template database's name (`tmpl_<odoo major>_<key>`).
    key             text        NOT NULL CONSTRAINT plans_key_key UNIQUE
                                CHECK (key ~ '^[a-z][a-z0-9_]{0,30}$'),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    modules         text[]      NOT NULL DEFAULT '{}',
    max_users       integer     CHECK (max_users > 0),
    max_companies   integer     NOT NULL DEFAULT 1 CHECK (max_companies > 0),
    storage_mb      integer     CHECK (storage_mb > 0),
    active          boolean     NOT NULL DEFAULT true,
    -- State of the plan's template database: none, building, ready, failed.
    template_state  text        NOT NULL DEFAULT 'none'
                                CHECK (template_state IN ('none', 'building', 'ready', 'failed')),
    template_error  text,
    template_built_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One Odoo database per tenant. Rows are never deleted (audit and billing): a deleted
-- tenant keeps its row in state 'deleted', and its slug stays taken.
CREATE TABLE tenants (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    slug            text        NOT NULL CONSTRAINT tenants_slug_key UNIQUE,
    db_name         text        NOT NULL CONSTRAINT tenants_db_name_key UNIQUE,
    hostname        text        NOT NULL,
    plan_id         uuid        NOT NULL REFERENCES plans (id),
    state           text        NOT NULL DEFAULT 'requested'
                                CHECK (state IN ('requested', 'provisioning', 'active', 'suspended',
                                                 'deleting', 'deleted', 'failed')),
    -- The operation a queued or running job is doing on the tenant (one at a time).
    pending_op      text        CHECK (pending_op IN ('provision', 'deactivate', 'reactivate', 'delete')),
    pending_job_id  uuid,
    owner_email     text        NOT NULL,
    owner_name      text        NOT NULL,
    company_name    text        NOT NULL,
    -- Extra companies created at provisioning (multi-company); empty for one company.
    extra_companies text[]      NOT NULL DEFAULT '{}',
    -- Odoo-format (pbkdf2-sha512) hash of the owner's password, cleared once provisioned.
    owner_password_hash text,
    -- Provisioning steps already done (idempotency across retries): database, neutralized, ...
    steps_done      text[]      NOT NULL DEFAULT '{}',
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    activated_at    timestamptz,
    suspended_at    timestamptz,
    deleted_at      timestamptz
);
CREATE INDEX tenants_state ON tenants (state);
CREATE INDEX tenants_created ON tenants (created_at DESC, id DESC);

-- Standby databases cloned from a template, waiting to be claimed by a new tenant.
CREATE TABLE warm_pool (
    db_name         text        PRIMARY KEY,
    template        text        NOT NULL,
    -- False while the refill job is still creating it (a crash leaves it to be dropped).
    ready           boolean     NOT NULL DEFAULT false,
    -- Set when a provisioning job claims it (then renamed to the tenant's name).
    claimed_by      uuid        REFERENCES tenants (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX warm_pool_free ON warm_pool (template, created_at) WHERE claimed_by IS NULL AND ready;

-- Bearer tokens of the superadmin's API clients; only the sha256 of a token is stored.
CREATE TABLE api_tokens (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text        NOT NULL CONSTRAINT api_tokens_name_key UNIQUE,
    token_sha256    bytea       NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
