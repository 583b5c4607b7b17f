//! Bearer API tokens of the superadmin's API clients: only their sha256 is stored.

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "saas_";

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name is empty or too long.
    #[error("a token name has 1 to 100 characters")]
    BadName,
    /// A token with this name exists.
    #[error("a token named '{0}' exists already")]
    NameTaken(String),
    /// No live token has this name.
    #[error("there is no live token named '{0}' (list them with `server list-api-tokens`)")]
    NotFound(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token named `name`; the returned secret is shown once and never stored.
pub async fn create_token(pool: &PgPool, name: &str) -> Result<SecretString, TokenError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(TokenError::BadName);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let inserted = sqlx::query("INSERT INTO api_tokens (name, token_sha256) VALUES ($1, $2)")
        .bind(name)
        .bind(digest(&token))
        .execute(pool)
        .await;
    match inserted {
        Ok(_) => Ok(SecretString::from(token)),
        Err(e)
            if crate::service::unique_violation(&e).as_deref() == Some("api_tokens_name_key") =>
        {
            Err(TokenError::NameTaken(name.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The name of the live token matching `token`, if any (and notes its use).
pub async fn verify_token(
    pool: &PgPool,
    token: &SecretString,
) -> Result<Option<String>, sqlx::Error> {
    let token = token.expose_secret();
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = digest(token);
    let found: Option<(String, bool)> = sqlx::query_as(
        "SELECT name, last_used_at IS NULL OR last_used_at < now() - interval '1 minute' \
         FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    let Some((name, stale)) = found else {
        return Ok(None);
    };
    // Noted at most once a minute, so a burst of requests does not queue on one row lock.
    if stale {
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE token_sha256 = $1")
            .bind(&hash)
            .execute(pool)
            .await?;
    }
    Ok(Some(name))
}

/// What is known of a token (never the secret: only its hash is stored).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every token, live and revoked, oldest first.
pub async fn list_tokens(pool: &PgPool) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY created_at, name",
    )
    .fetch_all(pool)
    .await
}

/// Revokes the live token named `name`: requests carrying it are refused from now on. The
/// row stays (revoked), so the name keeps pointing at what that client did in the audit log.
pub async fn revoke_token(pool: &PgPool, name: &str) -> Result<(), TokenError> {
    let name = name.trim();
    let mut tx = pool.begin().await?;
    let revoked = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
    )
    .bind(name)
    .execute(&mut *tx)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(TokenError::NotFound(name.to_owned()));
    }
    crate::audit::record(
        &mut *tx,
        &crate::audit::Actor::operator(),
        "api_token.revoked",
        None,
        None,
        serde_json::json!({ "name": name }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
