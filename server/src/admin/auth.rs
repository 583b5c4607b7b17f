//! Superadmin passwords (argon2id), sessions stored in PostgreSQL (only a token's sha256
//! is kept), idle and absolute expiry, and the per-account sign-in rate limit.

use crate::audit::{self, Actor};
use crate::platform::Platform;
use crate::signin::{Attempt, Refusal, SigninError};
use app::admin::backend::{Principal, SignedIn};
use app::admin::model::{AdminError, ErrorKind};
use app::client::ClientAddress;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// What can go wrong managing superadmins from the command line.
#[derive(Debug, thiserror::Error)]
pub enum SuperadminError {
    /// Not an email address.
    #[error("'{0}' is not an email address")]
    BadEmail(String),
    /// Too short a password.
    #[error("the password must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    /// The account exists and no reset was asked.
    #[error("a superadmin '{0}' exists already (use --reset-password to change the password)")]
    Exists(String),
    /// No superadmin has this email.
    #[error("there is no superadmin '{0}'")]
    NotFound(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Shortest superadmin password.
pub const MIN_PASSWORD: usize = 12;

/// The realm of superadmins in the sign-in throttle.
pub const REALM: &str = "superadmin";

/// Hashes a password as an argon2id PHC string (a fresh random salt each time).
pub fn hash_password(plain: &str) -> Result<String, SuperadminError> {
    crate::signin::hash_password(plain).map_err(|e| SuperadminError::Hash(e.to_string()))
}

/// What [`create_superadmin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuperadminChange {
    /// A new account.
    Created,
    /// A new password for an existing account; `disabled` when the account stays disabled.
    PasswordReset {
        /// The account is disabled (a reset never enables it).
        disabled: bool,
    },
}

/// Creates a superadmin, or sets a new password when `reset` is given (ending its sessions
/// and its sign-in delay; a disabled account stays disabled).
pub async fn create_superadmin(
    pool: &PgPool,
    email: &str,
    password: &str,
    reset: bool,
) -> Result<SuperadminChange, SuperadminError> {
    let email = crate::tenants::OwnerEmail::parse(email)
        .ok_or_else(|| SuperadminError::BadEmail(email.to_owned()))?;
    if password.chars().count() < MIN_PASSWORD {
        return Err(SuperadminError::WeakPassword);
    }
    let plain = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&plain))
        .await
        .map_err(|e| SuperadminError::Hash(e.to_string()))??;
    let mut tx = pool.begin().await?;
    let changed: Option<(bool, bool)> = sqlx::query_as(
        // A reset changes the password only: a disabled account stays disabled.
        "INSERT INTO superadmins (email, password_hash) VALUES ($1, $2) \
         ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash \
         WHERE $3 RETURNING (xmax = 0), disabled_at IS NOT NULL",
    )
    .bind(email.as_str())
    .bind(&hash)
    .bind(reset)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((created, disabled)) = changed else {
        return Err(SuperadminError::Exists(email.as_str().to_owned()));
    };
    if !created {
        // A new password ends every open session of the account and its sign-in delay
        // (failures of strangers guessing it no longer hold its owner back).
        sqlx::query(
            "DELETE FROM admin_sessions WHERE superadmin_id = (SELECT id FROM superadmins WHERE email = $1)",
        )
        .bind(email.as_str())
        .execute(&mut *tx)
        .await?;
        crate::signin::clear_account(&mut *tx, REALM, email.as_str()).await?;
    }
    audit::record(
        &mut *tx,
        &Actor::system(),
        if created {
            "superadmin.created"
        } else {
            "superadmin.password_reset"
        },
        None,
        None,
        serde_json::json!({"email": email.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(if created {
        SuperadminChange::Created
    } else {
        SuperadminChange::PasswordReset { disabled }
    })
}

/// Disables (ending its sessions) or enables a superadmin; audited. Errors if there is no
/// such account.
pub async fn set_superadmin_disabled(
    pool: &PgPool,
    email: &str,
    disabled: bool,
) -> Result<(), SuperadminError> {
    let email = email.trim().to_ascii_lowercase();
    let mut tx = pool.begin().await?;
    let found: Option<Uuid> = sqlx::query_scalar(
        "UPDATE superadmins SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END \
         WHERE email = $1 RETURNING id",
    )
    .bind(&email)
    .bind(disabled)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = found else {
        return Err(SuperadminError::NotFound(email));
    };
    if disabled {
        sqlx::query("DELETE FROM admin_sessions WHERE superadmin_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut *tx,
        &Actor::system(),
        if disabled {
            "superadmin.disabled"
        } else {
            "superadmin.enabled"
        },
        None,
        None,
        serde_json::json!({"email": email}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// True when at least one enabled superadmin exists.
pub async fn any_superadmin(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM superadmins WHERE disabled_at IS NULL)")
        .fetch_one(pool)
        .await
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn internal(error: impl std::fmt::Display) -> AdminError {
    tracing::error!(%error, "superadmin sign-in failed internally");
    AdminError::new(
        ErrorKind::Internal,
        "Signing in failed on our side; the error is in the server log.",
    )
}

fn refused(refusal: Refusal) -> AdminError {
    match refusal {
        Refusal::TooLong => AdminError::new(ErrorKind::Invalid, "Wrong email or password."),
        Refusal::Throttled { retry_after } => {
            let secs = retry_after.as_secs().max(1);
            let wait = if secs < 120 {
                format!("{secs} seconds")
            } else {
                format!("{} minutes", secs.div_ceil(60))
            };
            AdminError::new(
                ErrorKind::TooManyRequests,
                format!("Too many failed sign-ins. Wait {wait} and try again."),
            )
            .retry_after(secs)
        }
        Refusal::Busy => AdminError::new(
            ErrorKind::Unavailable,
            "Signing in is busy right now. Try again in a moment.",
        )
        .retry_after(1),
    }
}

/// Checks the password through the sign-in guard (per-address and per-account delays,
/// bounded hashing) and opens a session.
pub async fn sign_in(
    p: &Platform,
    email: &str,
    password: &str,
    client: ClientAddress,
) -> Result<SignedIn, AdminError> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() || password.is_empty() {
        return Err(AdminError::new(
            ErrorKind::Invalid,
            "Enter your email and password.",
        ));
    }
    let attempt = Attempt {
        realm: REALM,
        account: &email,
        client: client.0,
    };
    let admitted = match p.signin.admit(attempt).await {
        Ok(admitted) => admitted,
        Err(SigninError::Refused(refusal)) => {
            tracing::warn!(%email, client = %client.0, ?refusal, "superadmin sign-in refused before the password check");
            return Err(refused(refusal));
        }
        Err(error) => return Err(internal(error)),
    };
    let account: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, password_hash FROM superadmins WHERE email = $1 AND disabled_at IS NULL",
    )
    .bind(&email)
    .fetch_optional(&p.pool)
    .await
    .map_err(internal)?;
    let matches = match admitted
        .verify(account.as_ref().map(|(_, hash)| hash.clone()), password)
        .await
    {
        Ok(matches) => matches,
        Err(SigninError::Refused(refusal)) => return Err(refused(refusal)),
        Err(error) => return Err(internal(error)),
    };
    let Some((admin_id, _)) = account.filter(|_| matches) else {
        tracing::warn!(%email, client = %client.0, "superadmin sign-in failed: wrong email or password");
        return Err(AdminError::new(
            ErrorKind::Unauthorized,
            "Wrong email or password.",
        ));
    };
    let token = random_hex(32);
    let max_age_secs = i64::from(p.config.admin_session_max_hours) * 3600;
    let mut tx = p.pool.begin().await.map_err(internal)?;
    sqlx::query(
        "INSERT INTO admin_sessions (token_sha256, superadmin_id, csrf_token, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(sha256(&token))
    .bind(admin_id)
    .bind(random_hex(32))
    .bind(max_age_secs as f64)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    // Housekeeping: sessions long dead.
    sqlx::query("DELETE FROM admin_sessions WHERE expires_at < now() - interval '1 day'")
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    audit::record(
        &mut *tx,
        &Actor::superadmin(&email),
        "superadmin.signed_in",
        None,
        None,
        serde_json::json!({}),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    tracing::info!(%email, "superadmin signed in");
    Ok(SignedIn {
        token,
        max_age_secs,
    })
}

/// What a session cookie turned out to be.
#[derive(Debug, Clone)]
pub enum SessionLookup {
    /// A live session.
    Valid(Principal),
    /// A session that ended (idle, too old, account disabled) or never existed.
    Ended,
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The live session of a token hash: (superadmin id, email, CSRF token, idle clock stale).
async fn live_session(
    p: &Platform,
    hash: &[u8],
) -> Result<Option<(Uuid, String, String, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.email, s.csrf_token, s.last_seen_at < now() - interval '60 seconds' \
         FROM admin_sessions s JOIN superadmins a ON a.id = s.superadmin_id \
         WHERE s.token_sha256 = $1 AND a.disabled_at IS NULL AND s.expires_at > now() \
           AND s.last_seen_at > now() - make_interval(mins => $2)",
    )
    .bind(hash)
    .bind(i32::try_from(p.config.admin_session_idle_minutes).unwrap_or(30))
    .fetch_optional(&p.pool)
    .await
}

/// Resolves a cookie value; refreshes the idle clock at most once a minute so that busy
/// pages do not write on every request.
pub async fn resolve(p: &Platform, token: &str) -> Result<SessionLookup, sqlx::Error> {
    if !well_formed(token) {
        return Ok(SessionLookup::Ended);
    }
    let hash = sha256(token);
    let Some((id, email, csrf, stale)) = live_session(p, &hash).await? else {
        return Ok(SessionLookup::Ended);
    };
    if stale {
        sqlx::query("UPDATE admin_sessions SET last_seen_at = now() WHERE token_sha256 = $1")
            .bind(&hash)
            .execute(&p.pool)
            .await?;
    }
    Ok(SessionLookup::Valid(Principal {
        id: id.to_string(),
        email,
        csrf,
    }))
}

/// Whether the session is still live (signed out, expired, its password reset or its
/// account disabled all end it), without counting as activity: a page left open on a
/// live stream does not keep its session from going idle.
pub async fn still_live(p: &Platform, token: &str) -> Result<bool, sqlx::Error> {
    if !well_formed(token) {
        return Ok(false);
    }
    Ok(live_session(p, &sha256(token)).await?.is_some())
}

/// Ends a session.
pub async fn sign_out(p: &Platform, token: &str) -> Result<(), AdminError> {
    let email: Option<String> = sqlx::query_scalar(
        "DELETE FROM admin_sessions s USING superadmins a \
         WHERE s.token_sha256 = $1 AND a.id = s.superadmin_id RETURNING a.email",
    )
    .bind(sha256(token))
    .fetch_optional(&p.pool)
    .await
    .map_err(internal)?;
    if let Some(email) = email {
        audit::record(
            &p.pool,
            &Actor::superadmin(&email),
            "superadmin.signed_out",
            None,
            None,
            serde_json::json!({}),
        )
        .await
        .map_err(internal)?;
    }
    Ok(())
}
