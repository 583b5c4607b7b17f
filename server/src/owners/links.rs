//! Links sent by email that work once: email verification (24 h), password reset (1 h),
//! email change (24 h).
//!
//! A link carries a random 256-bit token; only its sha256 is stored, so the table cannot be
//! used to forge one, and the token itself is the signature: without the server's row no
//! value is accepted, and guessing one is hopeless. (We chose a stored random token over an
//! HMAC-signed one because single use needs a row anyway, and a row can be revoked; there is
//! no signing key to keep or rotate.) Following a link consumes it in the same statement
//! that checks it, so two clicks at once cannot both succeed.

use crate::service::ServiceError;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms the account's address.
    VerifyEmail,
    /// Sets a new password.
    ResetPassword,
    /// Moves the account to a new address.
    ChangeEmail,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::ChangeEmail => "change_email",
        }
    }

    /// How long a link works.
    pub fn lifetime_hours(self) -> i64 {
        match self {
            Purpose::ResetPassword => 1,
            Purpose::VerifyEmail | Purpose::ChangeEmail => 24,
        }
    }

    /// The page that follows it (under `PUBLIC_URL`).
    pub fn path(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "/verify",
            Purpose::ResetPassword => "/reset",
            Purpose::ChangeEmail => "/confirm-email",
        }
    }
}

/// Longest token accepted from a request (ours are 64 hex characters).
const MAX_TOKEN: usize = 128;

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a link for `owner` and returns its token. Earlier unused links of the same
/// purpose stop working (only the newest message's link counts).
pub async fn create(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    purpose: Purpose,
    new_email: Option<&str>,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "UPDATE owner_links SET used_at = now() WHERE owner_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(owner)
    .bind(purpose.as_str())
    .execute(&mut *conn)
    .await?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    sqlx::query(
        "INSERT INTO owner_links (token_sha256, owner_id, purpose, new_email, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5))",
    )
    .bind(digest(&token))
    .bind(owner)
    .bind(purpose.as_str())
    .bind(new_email)
    .bind(i32::try_from(purpose.lifetime_hours()).unwrap_or(1))
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// The full address of a link.
pub fn url(public_url: &url::Url, purpose: Purpose, token: &str) -> String {
    format!(
        "{}{}?token={token}",
        public_url.as_str().trim_end_matches('/'),
        purpose.path()
    )
}

/// A link that was followed.
#[derive(Debug, Clone)]
pub struct Followed {
    /// Its owner.
    pub owner_id: Uuid,
    /// The address an email change moves to.
    pub new_email: Option<String>,
}

/// Why a link did not work, in words for the person who followed it.
fn refusal(state: Option<(bool, bool)>, purpose: Purpose) -> ServiceError {
    let again = match purpose {
        Purpose::VerifyEmail => "Sign in to have a new one sent.",
        Purpose::ResetPassword => "Ask for a new one on the forgotten-password page.",
        Purpose::ChangeEmail => "Ask for the change again from your account page.",
    };
    match state {
        None => ServiceError::invalid(
            "link_invalid",
            "token",
            format!("This link is not valid: check that it was copied whole. {again}"),
        ),
        Some((true, _)) => ServiceError::invalid(
            "link_used",
            "token",
            format!("This link has already been used, or a newer one was sent. {again}"),
        ),
        Some((false, _)) => ServiceError::invalid(
            "link_expired",
            "token",
            format!("This link has expired. {again}"),
        ),
    }
}

/// Checks a link without using it up (a page shows its form only for a working link).
pub async fn check(
    pool: &sqlx::PgPool,
    token: &str,
    purpose: Purpose,
) -> Result<Followed, ServiceError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(refusal(None, purpose));
    }
    let row: Option<(Uuid, Option<String>, bool, bool)> = sqlx::query_as(
        "SELECT owner_id, new_email, used_at IS NOT NULL, expires_at <= now() \
         FROM owner_links WHERE token_sha256 = $1 AND purpose = $2",
    )
    .bind(digest(token))
    .bind(purpose.as_str())
    .fetch_optional(pool)
    .await?;
    match row {
        Some((owner_id, new_email, false, false)) => Ok(Followed {
            owner_id,
            new_email,
        }),
        Some((_, _, used, expired)) => Err(refusal(Some((used, expired)), purpose)),
        None => Err(refusal(None, purpose)),
    }
}

/// Uses a link up, in the caller's transaction: one statement checks and consumes it.
pub async fn consume(
    conn: &mut sqlx::PgConnection,
    token: &str,
    purpose: Purpose,
) -> Result<Followed, ServiceError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(refusal(None, purpose));
    }
    let hash = digest(token);
    let used: Option<(Uuid, Option<String>)> = sqlx::query_as(
        "UPDATE owner_links SET used_at = now() \
         WHERE token_sha256 = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() \
         RETURNING owner_id, new_email",
    )
    .bind(&hash)
    .bind(purpose.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((owner_id, new_email)) = used {
        return Ok(Followed {
            owner_id,
            new_email,
        });
    }
    let state: Option<(bool, bool)> = sqlx::query_as(
        "SELECT used_at IS NOT NULL, expires_at <= now() FROM owner_links \
         WHERE token_sha256 = $1 AND purpose = $2",
    )
    .bind(&hash)
    .bind(purpose.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Err(refusal(state, purpose))
}
