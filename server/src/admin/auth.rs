//! Superadmin passwords (argon2id), sessions stored in PostgreSQL (only a token's sha256
//! is kept), idle and absolute expiry, and the per-account sign-in rate limit.

use crate::audit::{self, Actor};
use crate::platform::Platform;
use app::admin::backend::{Principal, SignedIn};
use app::admin::model::{AdminError, ErrorKind};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
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
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Shortest superadmin password.
pub const MIN_PASSWORD: usize = 12;

/// Hashes a password as an argon2id PHC string (a fresh random salt each time).
pub fn hash_password(plain: &str) -> Result<String, SuperadminError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| SuperadminError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SuperadminError::Hash(e.to_string()))
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

/// Creates a superadmin, or sets a new password when `reset` is given. Returns true when
/// the account was created.
pub async fn create_superadmin(
    pool: &PgPool,
    email: &str,
    password: &str,
    reset: bool,
) -> Result<bool, SuperadminError> {
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
    let created: Option<bool> = sqlx::query_scalar(
        "INSERT INTO superadmins (email, password_hash) VALUES ($1, $2) \
         ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, disabled_at = NULL \
         WHERE $3 RETURNING (xmax = 0)",
    )
    .bind(email.as_str())
    .bind(&hash)
    .bind(reset)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(created) = created else {
        return Err(SuperadminError::Exists(email.as_str().to_owned()));
    };
    if !created {
        // A new password ends every open session of the account.
        sqlx::query(
            "DELETE FROM admin_sessions WHERE superadmin_id = (SELECT id FROM superadmins WHERE email = $1)",
        )
        .bind(email.as_str())
        .execute(&mut *tx)
        .await?;
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
    Ok(created)
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

// A valid hash of a random password: unknown accounts cost the same time as known ones,
// so response times do not reveal which emails are superadmins.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Checks the password (unless the account is rate-limited) and opens a session.
pub async fn sign_in(p: &Platform, email: &str, password: &str) -> Result<SignedIn, AdminError> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() || password.is_empty() {
        return Err(AdminError::new(
            ErrorKind::Invalid,
            "Enter your email and password.",
        ));
    }
    let max_failures = i64::from(p.config.admin_login_max_failures);
    let recent_failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_login_failures WHERE email = $1 AND at > now() - interval '15 minutes'",
    )
    .bind(&email)
    .fetch_one(&p.pool)
    .await
    .map_err(internal)?;
    if recent_failures >= max_failures {
        tracing::warn!(%email, "superadmin sign-in refused: too many failures");
        return Err(AdminError::new(
            ErrorKind::TooManyRequests,
            "Too many failed sign-ins for this account. Wait 15 minutes and try again.",
        ));
    }
    let account: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, password_hash FROM superadmins WHERE email = $1 AND disabled_at IS NULL",
    )
    .bind(&email)
    .fetch_optional(&p.pool)
    .await
    .map_err(internal)?;
    let stored = match &account {
        Some((_, hash)) => hash.clone(),
        None => DUMMY_HASH
            .get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
            .clone(),
    };
    let plain = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&stored, &plain))
        .await
        .map_err(internal)?;
    let Some((admin_id, _)) = account.filter(|_| matches) else {
        sqlx::query("INSERT INTO admin_login_failures (email) VALUES ($1)")
            .bind(&email)
            .execute(&p.pool)
            .await
            .map_err(internal)?;
        tracing::warn!(%email, "superadmin sign-in failed: wrong email or password");
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
    sqlx::query("DELETE FROM admin_login_failures WHERE email = $1")
        .bind(&email)
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

/// Resolves a cookie value; refreshes the idle clock at most once a minute so that busy
/// pages do not write on every request.
pub async fn resolve(p: &Platform, token: &str) -> Result<SessionLookup, sqlx::Error> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(SessionLookup::Ended);
    }
    let hash = sha256(token);
    let row: Option<(Uuid, String, String, bool)> = sqlx::query_as(
        "SELECT a.id, a.email, s.csrf_token, s.last_seen_at < now() - interval '60 seconds' \
         FROM admin_sessions s JOIN superadmins a ON a.id = s.superadmin_id \
         WHERE s.token_sha256 = $1 AND a.disabled_at IS NULL AND s.expires_at > now() \
           AND s.last_seen_at > now() - make_interval(mins => $2)",
    )
    .bind(&hash)
    .bind(i32::try_from(p.config.admin_session_idle_minutes).unwrap_or(30))
    .fetch_optional(&p.pool)
    .await?;
    let Some((id, email, csrf, stale)) = row else {
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
}
