-- Paid self-service sign-up (issue 12): a tenant signed up on a plan with a price waits in
-- 'awaiting_payment' (no database, nothing provisioned, no job) until Stripe confirms its
-- subscription; then it moves to 'requested' with its provisioning job, once. A checkout
-- that expires unpaid removes the awaiting tenant (and its subscription row), so its slug
-- is free again; the audit log keeps what happened.
ALTER TABLE tenants DROP CONSTRAINT tenants_state_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_state_check
    CHECK (state IN ('awaiting_payment', 'requested', 'provisioning', 'active', 'suspended',
                     'deleting', 'deleted', 'failed'));

-- The sweep finds awaiting tenants whose checkout never started or was lost.
CREATE INDEX tenants_awaiting_payment ON tenants (created_at) WHERE state = 'awaiting_payment';
