-- Sign-in protection shared by every kind of account (superadmins now, owners next):
-- failures counted per client address and per account, each with a growing delay, instead
-- of a failure log read before the password check (which parallel requests bypassed) and a
-- hard per-account lock that anyone knowing the email could trigger.

CREATE TABLE signin_throttle (
    -- 'address': one client address (an IPv6 /64), whatever account it tries;
    -- 'account': one account (`<realm>:<name>`), from whatever address.
    scope           text        NOT NULL CHECK (scope IN ('address', 'account')),
    key             text        NOT NULL CHECK (length(key) <= 300),
    -- Failures since the last quiet window (a window without failures forgets them).
    failures        integer     NOT NULL DEFAULT 0,
    -- No password is checked for this key before then.
    blocked_until   timestamptz NOT NULL DEFAULT now(),
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
-- Pruning: rows quiet for a window and no longer blocking.
CREATE INDEX signin_throttle_last_failure ON signin_throttle (last_failure_at);

-- Addresses an account signed in from: the account-wide delay (which strangers can
-- raise) does not apply to them, so an attack on an account does not keep its owner out.
CREATE TABLE signin_known_clients (
    realm           text        NOT NULL,
    account         text        NOT NULL CHECK (length(account) <= 300),
    address         text        NOT NULL,
    last_success_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (realm, account, address)
);
CREATE INDEX signin_known_clients_last_success ON signin_known_clients (last_success_at);

-- Replaced by signin_throttle.
DROP TABLE admin_login_failures;
