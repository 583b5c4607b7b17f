-- Billing with Stripe (server/src/billing): plans mirrored to Stripe products and prices,
-- one subscription per paid tenant, and every webhook event id stored once.

-- A plan with a price gets a Stripe product and a monthly and a yearly price. The yearly
-- price is 12 x the monthly one unless set. Free plans (price 0) never touch Stripe.
ALTER TABLE plans
    ADD COLUMN yearly_price_cents integer CHECK (yearly_price_cents >= 0),
    ADD COLUMN trial_days integer NOT NULL DEFAULT 0 CHECK (trial_days BETWEEN 0 AND 730),
    ADD COLUMN stripe_product_id text,
    ADD COLUMN stripe_monthly_price_id text,
    ADD COLUMN stripe_yearly_price_id text,
    -- The billing fields (name, prices, currency, active) the Stripe objects were last made
    -- to match, as a short hash (NULL: never).
    ADD COLUMN stripe_synced_version text,
    ADD COLUMN stripe_synced_at timestamptz,
    ADD COLUMN stripe_sync_error text;

-- A tenant's subscription: what the platform last read from Stripe, and what billing
-- decided for the tenant. Rows stay after cancellation (invoices, audit, MRR history).
CREATE TABLE subscriptions (
    id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id               uuid        NOT NULL CONSTRAINT subscriptions_tenant_key UNIQUE
                                        REFERENCES tenants (id),
    stripe_customer_id      text,
    stripe_subscription_id  text        CONSTRAINT subscriptions_stripe_key UNIQUE,
    -- The Checkout Session of the sign-up (or of a new subscription), while it matters.
    checkout_session_id     text,
    -- Stripe's status (incomplete, trialing, active, past_due, unpaid, canceled,
    -- incomplete_expired, paused), or 'checkout' before the first Checkout completes.
    status                  text        NOT NULL DEFAULT 'checkout',
    stripe_price_id         text,
    plan_interval           text        NOT NULL DEFAULT 'month'
                                        CHECK (plan_interval IN ('month', 'year')),
    -- The price of one period, and the same as a monthly amount (MRR).
    amount_cents            bigint      NOT NULL DEFAULT 0,
    monthly_amount_cents    bigint      NOT NULL DEFAULT 0,
    currency                text        NOT NULL DEFAULT 'eur',
    cancel_at_period_end    boolean     NOT NULL DEFAULT false,
    current_period_end      timestamptz,
    trial_end               timestamptz,
    canceled_at             timestamptz,
    ended_at                timestamptz,
    latest_invoice_id       text,
    -- Dunning: when the subscription fell past due, when its grace period ends, how many
    -- reminders went out.
    past_due_since          timestamptz,
    grace_ends_at           timestamptz,
    reminders_sent          integer     NOT NULL DEFAULT 0,
    -- When an ended subscription's tenant is deleted (with a final backup).
    delete_after            timestamptz,
    -- Set by a superadmin: the tenant is not charged and billing never suspends it.
    comped                  boolean     NOT NULL DEFAULT false,
    comped_reason           text,
    -- What billing wants for the tenant (open, suspended, deleted) and what it last
    -- applied through the tenant lifecycle jobs; they differ until the job is accepted.
    -- Billing only acts on changes of its own decision, so an operator's manual
    -- suspension or reactivation is never fought.
    access                  text        NOT NULL DEFAULT 'open'
                                        CHECK (access IN ('open', 'suspended', 'deleted')),
    access_applied          text        NOT NULL DEFAULT 'open'
                                        CHECK (access_applied IN ('open', 'suspended', 'deleted')),
    -- When the platform last read the subscription from Stripe.
    synced_at               timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_customer ON subscriptions (stripe_customer_id);
CREATE INDEX subscriptions_checkout ON subscriptions (checkout_session_id)
    WHERE checkout_session_id IS NOT NULL;
-- The sweep: grace periods and retention periods that end, decisions not yet applied.
CREATE INDEX subscriptions_grace ON subscriptions (grace_ends_at) WHERE grace_ends_at IS NOT NULL;
CREATE INDEX subscriptions_delete ON subscriptions (delete_after) WHERE delete_after IS NOT NULL;
CREATE INDEX subscriptions_unapplied ON subscriptions (id) WHERE access <> access_applied;
-- The dashboard: past-due tenants and monthly recurring revenue.
CREATE INDEX subscriptions_status ON subscriptions (status);

-- Every Stripe event the webhook accepted, once: the row and the job that processes it are
-- written in one transaction, so a replayed delivery finds the id and does nothing.
CREATE TABLE stripe_events (
    id              text        PRIMARY KEY,
    type            text        NOT NULL,
    object_id       text,
    livemode        boolean     NOT NULL DEFAULT false,
    -- When Stripe created the event, and when we received it.
    created         timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    job_id          uuid
);
CREATE INDEX stripe_events_object ON stripe_events (object_id, received_at DESC);
CREATE INDEX stripe_events_received ON stripe_events (received_at DESC);
