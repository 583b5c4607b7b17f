//! Password sign-in under attack, for every kind of account (superadmins of the operations
//! portal today; tenant owners use the same piece): a throttle per client address and per
//! account with growing delays, a bound on how many password hashes run at once, input size
//! limits, and the argon2id hashing itself.
//!
//! A sign-in goes through [`SigninGuard::admit`], then [`Admitted::verify`]:
//!
//! 1. **Throttle check** (one read): a client address or an account still inside its delay
//!    is refused at once, before any hashing ([`Refusal::Throttled`], HTTP 429).
//! 2. **Hashing slot**: at most one argon2 hash per core runs at a time; a request waits for
//!    a slot at most [`HASH_WAIT`] and only when few others wait, otherwise it is refused
//!    ([`Refusal::Busy`], HTTP 503). Addresses an account signed in from before have a slot
//!    of their own, so a flood of strangers does not keep the account's owner out.
//! 3. **Reservation** (one short transaction, row locks): the attempt is counted as a
//!    failure of the address and of the account *before* the password is checked, so that
//!    parallel requests cannot all slip through between a read and a write.
//! 4. **Check**: argon2 in a blocking thread; an unknown account is checked against a dummy
//!    hash so that timing does not tell which accounts exist. A success takes its count
//!    back, clears the account's failures and remembers the address for the account.
//!
//! Delays: the first [`ThrottlePolicy::free_failures`] failures of a key cost nothing; each
//! further one doubles the delay from 1 s, up to 15 min for an address and 1 min for an
//! account. The account's cap is short because anyone who knows the address can raise it;
//! the known addresses of the account are exempt from it altogether. A quiet window
//! (15 min without a failure) forgets a key's failures; such rows are pruned.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sqlx::PgPool;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest account name (an email address: RFC 5321's 254).
pub const MAX_ACCOUNT_LEN: usize = 254;
/// Longest password checked (argon2 takes any length; nobody types more).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest a sign-in waits for a hashing slot before it is told to come back.
pub const HASH_WAIT: Duration = Duration::from_secs(2);

/// When failures start to cost time, and how much.
#[derive(Clone, Debug)]
pub struct ThrottlePolicy {
    /// Failures of a key that cost no delay (`SIGNIN_FREE_FAILURES`).
    pub free_failures: u32,
    /// The delay after the first failure past the free ones; it doubles with each next one.
    pub first_delay: Duration,
    /// Longest delay of one client address.
    pub address_max_delay: Duration,
    /// Longest delay of one account (short: strangers can raise it).
    pub account_max_delay: Duration,
    /// A key without a failure for this long starts again from zero.
    pub window: Duration,
    /// How long an address stays known to an account after a successful sign-in.
    pub known_client_for: Duration,
}

impl ThrottlePolicy {
    /// The policy with `free_failures` free failures and the documented delays.
    pub fn new(free_failures: u32) -> Self {
        ThrottlePolicy {
            free_failures: free_failures.max(1),
            first_delay: Duration::from_secs(1),
            address_max_delay: Duration::from_secs(15 * 60),
            account_max_delay: Duration::from_secs(60),
            window: Duration::from_secs(15 * 60),
            known_client_for: Duration::from_secs(30 * 24 * 3600),
        }
    }

    /// The delay a key gets after its `failures`-th failure, capped at `cap`.
    pub fn delay_after(&self, failures: u32, cap: Duration) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(30);
        self.first_delay.saturating_mul(1u32 << doublings).min(cap)
    }
}

/// Why a sign-in was refused before its password was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The account name or the password is longer than any real one.
    TooLong,
    /// Too many recent failures from this address or for this account: come back later.
    Throttled {
        /// When a new attempt can be checked.
        retry_after: Duration,
    },
    /// Every hashing slot is taken and enough others already wait: try again shortly.
    Busy,
}

/// What went wrong admitting or checking a sign-in.
#[derive(Debug, thiserror::Error)]
pub enum SigninError {
    /// Refused before the password was checked.
    #[error("sign-in refused: {0:?}")]
    Refused(Refusal),
    /// The platform database failed.
    #[error("sign-in bookkeeping failed: {0}")]
    Database(#[from] sqlx::Error),
    /// Hashing failed (a panicked blocking task, a salt that cannot be encoded).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Who tries to sign in, from where.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The kind of account (`superadmin`, `owner`): accounts of different realms never share
    /// a count.
    pub realm: &'a str,
    /// The account's name as typed, normalised by the caller (a lowercase email).
    pub account: &'a str,
    /// The client's address (see `server::client_address`).
    pub client: IpAddr,
}

/// The throttle key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber
/// usually holds a whole /64, so single addresses in it would be free for the taking).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

fn account_key(realm: &str, account: &str) -> String {
    format!("{realm}:{account}")
}

/// Hashes a password as an argon2id PHC string (argon2's defaults, a fresh random salt).
pub fn hash_password(plain: &str) -> Result<String, SigninError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| SigninError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SigninError::Hashing(e.to_string()))
}

/// Checks a password against a PHC string; a malformed hash never matches.
pub fn verify_password(hash: &str, plain: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(plain.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

struct Inner {
    pool: PgPool,
    policy: ThrottlePolicy,
    /// One slot per core for everyone.
    hashing: Arc<Semaphore>,
    /// One more slot for addresses that signed in to the account before.
    known_lane: Arc<Semaphore>,
    /// Requests waiting for a slot of `hashing`, and how many may.
    waiting: AtomicUsize,
    max_waiting: usize,
    /// A valid hash of a random password, for unknown accounts.
    dummy: OnceLock<String>,
}

/// The sign-in protection of the platform (cheap to clone).
#[derive(Clone)]
pub struct SigninGuard {
    inner: Arc<Inner>,
}

/// A sign-in that may check its password now: it holds a hashing slot and its failure is
/// already counted (taken back on success).
pub struct Admitted {
    guard: SigninGuard,
    realm: String,
    account: String,
    address: String,
    _slot: OwnedSemaphorePermit,
}

impl SigninGuard {
    /// A guard over the platform database; `slots` hashes run at once (the core count).
    pub fn new(pool: PgPool, policy: ThrottlePolicy, slots: usize) -> Self {
        let slots = slots.max(1);
        SigninGuard {
            inner: Arc::new(Inner {
                pool,
                policy,
                hashing: Arc::new(Semaphore::new(slots)),
                known_lane: Arc::new(Semaphore::new(1)),
                waiting: AtomicUsize::new(0),
                max_waiting: 8 * slots,
                dummy: OnceLock::new(),
            }),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.inner.policy
    }

    /// Admits a sign-in attempt (throttle, hashing slot, reservation), or says why not.
    pub async fn admit(&self, attempt: Attempt<'_>) -> Result<Admitted, SigninError> {
        if attempt.account.len() > MAX_ACCOUNT_LEN {
            return Err(SigninError::Refused(Refusal::TooLong));
        }
        let address = address_key(attempt.client);
        let account = account_key(attempt.realm, attempt.account);
        let policy = &self.inner.policy;
        // 1. A cheap read: refuse throttled keys before queueing for a hashing slot.
        let (known, wait): (bool, Option<f64>) = sqlx::query_as(
            "WITH known AS (SELECT EXISTS (SELECT 1 FROM signin_known_clients \
               WHERE realm = $3 AND account = $4 AND address = $1 \
                 AND last_success_at > now() - make_interval(secs => $5)) AS known) \
             SELECT known.known, EXTRACT(EPOCH FROM (SELECT max(t.blocked_until) FROM signin_throttle t \
               WHERE (t.scope = 'address' AND t.key = $1) \
                  OR (t.scope = 'account' AND t.key = $2 AND NOT known.known)) - now())::float8 \
             FROM known",
        )
        .bind(&address)
        .bind(&account)
        .bind(attempt.realm)
        .bind(attempt.account)
        .bind(policy.known_client_for.as_secs_f64())
        .fetch_one(&self.inner.pool)
        .await?;
        if let Some(wait) = wait.filter(|w| *w > 0.0) {
            return Err(throttled(wait));
        }
        // 2. A hashing slot.
        let slot = self.slot(known).await?;
        // 3. Count the failure up front, under row locks; refuse if a parallel attempt
        // used up the last free failure meanwhile.
        self.reserve(&address, &account, known).await?;
        self.maybe_prune();
        Ok(Admitted {
            guard: self.clone(),
            realm: attempt.realm.to_owned(),
            account: attempt.account.to_owned(),
            address,
            _slot: slot,
        })
    }

    async fn slot(&self, known: bool) -> Result<OwnedSemaphorePermit, SigninError> {
        let inner = &self.inner;
        if let Ok(permit) = inner.hashing.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if known {
            if let Ok(permit) = inner.known_lane.clone().try_acquire_owned() {
                return Ok(permit);
            }
            // Known clients queue on both lanes, whichever frees first.
            let any = async {
                tokio::select! {
                    p = inner.hashing.clone().acquire_owned() => p,
                    p = inner.known_lane.clone().acquire_owned() => p,
                }
            };
            return match tokio::time::timeout(HASH_WAIT, any).await {
                Ok(Ok(permit)) => Ok(permit),
                _ => Err(SigninError::Refused(Refusal::Busy)),
            };
        }
        if inner.waiting.fetch_add(1, Ordering::AcqRel) >= inner.max_waiting {
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(SigninError::Refused(Refusal::Busy));
        }
        let acquired = tokio::time::timeout(HASH_WAIT, inner.hashing.clone().acquire_owned()).await;
        inner.waiting.fetch_sub(1, Ordering::AcqRel);
        match acquired {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(SigninError::Refused(Refusal::Busy)),
        }
    }

    async fn reserve(&self, address: &str, account: &str, known: bool) -> Result<(), SigninError> {
        let policy = &self.inner.policy;
        let mut tx = self.inner.pool.begin().await?;
        // Locks both rows (made if absent) in one order: 'account' before 'address'.
        let rows: Vec<(String, i32, bool, f64)> = sqlx::query_as(
            "INSERT INTO signin_throttle AS t (scope, key) VALUES ('account', $2), ('address', $1) \
             ON CONFLICT (scope, key) DO UPDATE SET key = t.key \
             RETURNING t.scope, t.failures, t.last_failure_at < now() - make_interval(secs => $3), \
                       EXTRACT(EPOCH FROM t.blocked_until - now())::float8",
        )
        .bind(address)
        .bind(account)
        .bind(policy.window.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        let mut scopes = Vec::new();
        let mut keys = Vec::new();
        let mut counts = Vec::new();
        let mut delays = Vec::new();
        let mut wait = 0.0f64;
        for (scope, failures, stale, blocked_for) in rows {
            let is_account = scope == "account";
            if !(is_account && known) {
                wait = wait.max(blocked_for);
            }
            let failures = if stale { 1 } else { failures.saturating_add(1) };
            let cap = if is_account {
                policy.account_max_delay
            } else {
                policy.address_max_delay
            };
            let delay = policy.delay_after(u32::try_from(failures).unwrap_or(u32::MAX), cap);
            keys.push(if is_account { account } else { address }.to_owned());
            scopes.push(scope);
            counts.push(failures);
            delays.push(delay.as_secs_f64());
        }
        if wait > 0.0 {
            tx.rollback().await?;
            return Err(throttled(wait));
        }
        sqlx::query(
            "UPDATE signin_throttle t SET failures = v.failures, last_failure_at = now(), \
               blocked_until = now() + make_interval(secs => v.delay) \
             FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[]) AS v(scope, key, failures, delay) \
             WHERE t.scope = v.scope AND t.key = v.key",
        )
        .bind(&scopes)
        .bind(&keys)
        .bind(&counts)
        .bind(&delays)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes old rows on about one sign-in in 64 (the housekeeping task does it too).
    fn maybe_prune(&self) {
        if rand::random::<u8>() >= 4 {
            return;
        }
        let guard = self.clone();
        tokio::spawn(async move {
            if let Err(error) = guard.prune().await {
                tracing::warn!(%error, "pruning sign-in throttle rows failed");
            }
        });
    }

    /// Deletes throttle rows that no longer count (quiet for a window and not blocking) and
    /// known addresses past their time. Returns how many rows went.
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        let policy = &self.inner.policy;
        let throttle = sqlx::query(
            "DELETE FROM signin_throttle WHERE last_failure_at < now() - make_interval(secs => $1) \
               AND blocked_until < now()",
        )
        .bind(policy.window.as_secs_f64())
        .execute(&self.inner.pool)
        .await?;
        let known = sqlx::query(
            "DELETE FROM signin_known_clients WHERE last_success_at < now() - make_interval(secs => $1)",
        )
        .bind(policy.known_client_for.as_secs_f64())
        .execute(&self.inner.pool)
        .await?;
        Ok(throttle.rows_affected() + known.rows_affected())
    }

    fn dummy_hash(&self) -> String {
        self.inner
            .dummy
            .get_or_init(|| {
                let mut random = [0u8; 16];
                rand::thread_rng().fill_bytes(&mut random);
                hash_password(&hex::encode(random)).unwrap_or_default()
            })
            .clone()
    }
}

/// Forgets an account's failures (a password reset from the command line): the account's
/// delay ends at once. Address delays are not an account's and stay.
pub async fn clear_account<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    realm: &str,
    account: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM signin_throttle WHERE scope = 'account' AND key = $1")
        .bind(account_key(realm, account))
        .execute(executor)
        .await?;
    Ok(())
}

fn throttled(wait_secs: f64) -> SigninError {
    SigninError::Refused(Refusal::Throttled {
        retry_after: Duration::from_secs_f64(wait_secs.clamp(0.0, 86_400.0).ceil().max(1.0)),
    })
}

impl Admitted {
    /// Checks `password` against `stored` (the account's PHC string, `None` when there is no
    /// such account: a dummy hash is checked instead, at the same cost). True on a match.
    pub async fn verify(self, stored: Option<String>, password: &str) -> Result<bool, SigninError> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(SigninError::Refused(Refusal::TooLong));
        }
        let exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.guard.dummy_hash());
        let plain = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &plain))
            .await
            .map_err(|e| SigninError::Hashing(e.to_string()))?;
        let Admitted {
            guard,
            realm,
            account,
            address,
            _slot,
        } = self;
        drop(_slot);
        if !(matches && exists) {
            return Ok(false);
        }
        let free = i32::try_from(guard.inner.policy.free_failures).unwrap_or(i32::MAX);
        let mut tx = guard.inner.pool.begin().await?;
        // The failure counted up front was not one.
        sqlx::query(
            "UPDATE signin_throttle SET failures = greatest(failures - 1, 0), \
               blocked_until = CASE WHEN failures - 1 < $2 THEN least(blocked_until, now()) ELSE blocked_until END \
             WHERE scope = 'address' AND key = $1",
        )
        .bind(&address)
        .bind(free)
        .execute(&mut *tx)
        .await?;
        clear_account(&mut *tx, &realm, &account).await?;
        sqlx::query(
            "INSERT INTO signin_known_clients (realm, account, address) VALUES ($1, $2, $3) \
             ON CONFLICT (realm, account, address) DO UPDATE SET last_success_at = now()",
        )
        .bind(&realm)
        .bind(&account)
        .bind(&address)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_hashes_verify_only_their_own_password() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse battery").expect("hash"));
    }

    #[test]
    fn delays_start_after_the_free_failures_double_and_stop_at_the_cap() {
        let policy = ThrottlePolicy::new(5);
        let cap = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=12)
            .map(|n| policy.delay_after(n, cap).as_secs())
            .collect();
        assert_eq!(delays, [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy.delay_after(1000, cap), cap);
    }

    /// The sustained rate the delays allow: a patient attacker who always comes back the
    /// moment a delay ends, over one 15-minute window.
    fn checks_in_15_minutes(policy: &ThrottlePolicy, cap: Duration) -> u32 {
        let window = Duration::from_secs(15 * 60);
        let (mut at, mut checks) = (Duration::ZERO, 0u32);
        while at < window {
            checks += 1;
            at += policy.delay_after(checks, cap);
            if policy.delay_after(checks, cap).is_zero() {
                at += Duration::from_millis(1);
            }
        }
        checks
    }

    #[test]
    fn guesses_per_15_minutes_are_bounded_per_address_and_per_account() {
        let policy = ThrottlePolicy::new(5);
        // One address, any accounts: 5 free at once, then checks 1, 3, 7, …, 511 s in (each
        // delay doubling), the next at 1,023 s is past the window.
        assert_eq!(checks_in_15_minutes(&policy, policy.address_max_delay), 14);
        // One account from many addresses (not its known ones): 5 free, 6 more within
        // 63 s, then one a minute until 843 s.
        assert_eq!(checks_in_15_minutes(&policy, policy.account_max_delay), 24);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(address_key(mapped), "192.0.2.7");
    }
}
