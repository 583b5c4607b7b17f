//! Owner sign-in and sessions, by the operations portal's rules: argon2id passwords checked
//! through the platform's sign-in guard (throttle per client address and per account,
//! bounded hashing), sessions stored in PostgreSQL as a token's sha256 with a CSRF token,
//! idle and absolute expiry; cookie `saas_owner` (the superadmin's is `saas_admin`).

use crate::audit::{self, Actor};
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::signin::{Attempt, Refusal, SigninError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use uuid::Uuid;

/// The realm of owners in the sign-in throttle (never shares a count with superadmins).
pub const REALM: &str = "owner";

/// The session cookie's name (the operations portal's is `saas_admin`).
pub const COOKIE: &str = "saas_owner";

/// A signed-in owner, as a live session shows them.
#[derive(Debug, Clone)]
pub struct OwnerPrincipal {
    /// Owner id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// The address is confirmed.
    pub verified: bool,
    /// The session's CSRF token: every change made with the cookie must carry it.
    pub csrf: String,
}

/// Why a sign-in did not open a session.
#[derive(Debug, thiserror::Error)]
pub enum SigninFailure {
    /// Unknown address, wrong password or disabled account: one answer for all three.
    #[error("wrong email or password")]
    Wrong,
    /// Too many failures from this address or for this account.
    #[error("too many failed sign-ins; retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds until a new attempt is checked.
        retry_after_secs: u64,
    },
    /// Every hashing slot is taken: try again in a moment.
    #[error("sign-in is busy")]
    Busy,
    /// The database or hashing failed.
    #[error(transparent)]
    Internal(#[from] ServiceError),
}

impl From<Refusal> for SigninFailure {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::TooLong => SigninFailure::Wrong,
            Refusal::Throttled { retry_after } => SigninFailure::Throttled {
                retry_after_secs: retry_after.as_secs().max(1),
            },
            Refusal::Busy => SigninFailure::Busy,
        }
    }
}

impl From<SigninError> for SigninFailure {
    fn from(e: SigninError) -> Self {
        match e {
            SigninError::Refused(r) => r.into(),
            other => SigninFailure::Internal(ServiceError::internal(other)),
        }
    }
}

/// Checks an owner's password through the platform's sign-in guard (per-address and
/// per-account delays, bounded hashing, the same cost for unknown addresses) and opens a
/// session.
pub async fn sign_in(
    p: &Platform,
    email: &str,
    password: &str,
    client: IpAddr,
) -> Result<(OwnerPrincipal, NewSession), SigninFailure> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() || password.is_empty() {
        return Err(SigninFailure::Wrong);
    }
    let admitted = p
        .signin
        .admit(Attempt {
            realm: REALM,
            account: &email,
            client,
        })
        .await?;
    let account: Option<(Uuid, String, String, bool)> = sqlx::query_as(
        "SELECT id, password_hash, name, email_verified_at IS NOT NULL FROM owners \
         WHERE email = $1 AND disabled_at IS NULL",
    )
    .bind(&email)
    .fetch_optional(&p.pool)
    .await
    .map_err(ServiceError::from)?;
    let matches = admitted
        .verify(account.as_ref().map(|a| a.1.clone()), password)
        .await?;
    let Some((id, _, name, verified)) = account.filter(|_| matches) else {
        tracing::warn!(client = %client, "owner sign-in failed: wrong email or password");
        return Err(SigninFailure::Wrong);
    };
    let (session, csrf) = open(p, id, &email).await?;
    tracing::info!(owner_id = %id, "owner signed in");
    Ok((
        OwnerPrincipal {
            id,
            email,
            name,
            verified,
            csrf,
        },
        session,
    ))
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new session: the cookie value (shown once, stored hashed) and its lifetime.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Cookie value.
    pub token: String,
    /// Lifetime in seconds.
    pub max_age_secs: i64,
}

/// Opens a session for `owner`; returns it and its CSRF token.
pub async fn open(
    p: &Platform,
    owner: Uuid,
    email: &str,
) -> Result<(NewSession, String), ServiceError> {
    let token = random_hex(32);
    let csrf = random_hex(32);
    let max_age_secs = i64::from(p.config.owner_session_max_hours) * 3600;
    let mut tx = p.pool.begin().await?;
    sqlx::query(
        "INSERT INTO owner_sessions (token_sha256, owner_id, csrf_token, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(sha256(&token))
    .bind(owner)
    .bind(&csrf)
    .bind(max_age_secs as f64)
    .execute(&mut *tx)
    .await?;
    // Housekeeping: sessions long dead.
    sqlx::query("DELETE FROM owner_sessions WHERE expires_at < now() - interval '1 day'")
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &Actor::owner(email),
        "owner.signed_in",
        None,
        None,
        serde_json::json!({"owner_id": owner}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        NewSession {
            token,
            max_age_secs,
        },
        csrf,
    ))
}

/// What a session cookie turned out to be.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A live session.
    Valid(OwnerPrincipal),
    /// Ended (idle, too old, signed out everywhere, account disabled) or never existed.
    Ended,
}

/// Resolves a cookie value; the idle clock is written at most once a minute.
pub async fn resolve(p: &Platform, token: &str) -> Result<Lookup, sqlx::Error> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Lookup::Ended);
    }
    let hash = sha256(token);
    let row: Option<(Uuid, String, String, bool, String, bool)> = sqlx::query_as(
        "SELECT o.id, o.email, o.name, o.email_verified_at IS NOT NULL, s.csrf_token, \
                s.last_seen_at < now() - interval '60 seconds' \
         FROM owner_sessions s JOIN owners o ON o.id = s.owner_id \
         WHERE s.token_sha256 = $1 AND o.disabled_at IS NULL AND s.expires_at > now() \
           AND s.last_seen_at > now() - make_interval(mins => $2)",
    )
    .bind(&hash)
    .bind(i32::try_from(p.config.owner_session_idle_minutes).unwrap_or(120))
    .fetch_optional(&p.pool)
    .await?;
    let Some((id, email, name, verified, csrf, stale)) = row else {
        return Ok(Lookup::Ended);
    };
    if stale {
        sqlx::query("UPDATE owner_sessions SET last_seen_at = now() WHERE token_sha256 = $1")
            .bind(&hash)
            .execute(&p.pool)
            .await?;
    }
    Ok(Lookup::Valid(OwnerPrincipal {
        id,
        email,
        name,
        verified,
        csrf,
    }))
}

/// The `Set-Cookie` value of the session cookie; an empty token with 0 clears it.
pub fn set_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session cookie's value among a request's `Cookie` headers.
pub fn cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Ends one session (sign-out).
pub async fn close(p: &Platform, token: &str) -> Result<(), ServiceError> {
    let email: Option<String> = sqlx::query_scalar(
        "DELETE FROM owner_sessions s USING owners o \
         WHERE s.token_sha256 = $1 AND o.id = s.owner_id RETURNING o.email",
    )
    .bind(sha256(token))
    .fetch_optional(&p.pool)
    .await?;
    if let Some(email) = email {
        audit::record(
            &p.pool,
            &Actor::owner(&email),
            "owner.signed_out",
            None,
            None,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(())
}

/// Ends every session of `owner` but `keep` (a cookie value), in the caller's transaction;
/// returns how many ended.
pub async fn end_all(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let keep = keep.map(sha256);
    let done = sqlx::query(
        "DELETE FROM owner_sessions WHERE owner_id = $1 AND ($2::bytea IS NULL OR token_sha256 <> $2)",
    )
    .bind(owner)
    .bind(keep)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
