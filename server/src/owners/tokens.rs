//! Owners' API tokens: `Authorization: Bearer saas_owner_…` reaches only that owner's
//! resources. Only a token's sha256 is stored; the token is shown once when it is made.

use crate::audit::{self, Actor};
use crate::platform::Platform;
use crate::service::ServiceError;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Prefix of every owner token (superadmin tokens start with `saas_` and a hex digit).
pub const PREFIX: &str = "saas_owner_";

/// Most live tokens one owner may hold.
pub const MAX_TOKENS: i64 = 20;

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What is known of a token (never the secret).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OwnerToken {
    /// Its name.
    pub name: String,
    /// Made at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last used at (to the minute).
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Makes a token named `name` for `owner`; the secret is returned once.
pub async fn create(
    p: &Platform,
    owner: Uuid,
    email: &str,
    name: &str,
) -> Result<SecretString, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "token_name_invalid",
            "name",
            "A token's name has 1 to 100 characters.",
        ));
    }
    let mut tx = p.pool.begin().await?;
    // Serialises this owner's token changes (the count below, the name check).
    sqlx::query("SELECT 1 FROM owners WHERE id = $1 FOR UPDATE")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM owner_api_tokens WHERE owner_id = $1 AND revoked_at IS NULL",
    )
    .bind(owner)
    .fetch_one(&mut *tx)
    .await?;
    if live >= MAX_TOKENS {
        return Err(ServiceError::conflict(
            "too_many_tokens",
            format!("You have {MAX_TOKENS} tokens; revoke one you no longer use first."),
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    let inserted = sqlx::query(
        "INSERT INTO owner_api_tokens (owner_id, name, token_sha256) VALUES ($1, $2, $3)",
    )
    .bind(owner)
    .bind(name)
    .bind(digest(&token))
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        return Err(match crate::service::unique_violation(&e).as_deref() {
            Some("owner_api_tokens_name") => ServiceError::Conflict {
                code: "token_name_taken",
                message: format!("You have a token named '{name}' already."),
                field: Some("name"),
            },
            _ => e.into(),
        });
    }
    audit::record(
        &mut *tx,
        &Actor::owner(email),
        "owner.api_token_created",
        None,
        None,
        json!({"owner_id": owner, "name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(SecretString::from(token))
}

/// The owner's live tokens, newest first.
pub async fn list(p: &Platform, owner: Uuid) -> Result<Vec<OwnerToken>, ServiceError> {
    Ok(sqlx::query_as(
        "SELECT name, created_at, last_used_at FROM owner_api_tokens \
         WHERE owner_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
    )
    .bind(owner)
    .fetch_all(&p.pool)
    .await?)
}

/// Revokes the owner's live token named `name`.
pub async fn revoke(
    p: &Platform,
    owner: Uuid,
    email: &str,
    name: &str,
) -> Result<(), ServiceError> {
    let mut tx = p.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE owner_api_tokens SET revoked_at = now() WHERE owner_id = $1 AND name = $2 AND revoked_at IS NULL",
    )
    .bind(owner)
    .bind(name.trim())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ServiceError::NotFound("token"));
    }
    audit::record(
        &mut *tx,
        &Actor::owner(email),
        "owner.api_token_revoked",
        None,
        None,
        json!({"owner_id": owner, "name": name.trim()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The owner a live token belongs to (an enabled account), and notes its use.
pub async fn verify(
    p: &Platform,
    token: &SecretString,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let token = token.expose_secret();
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = digest(token);
    let found: Option<(Uuid, String, bool)> = sqlx::query_as(
        "SELECT o.id, o.email, t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' \
         FROM owner_api_tokens t JOIN owners o ON o.id = t.owner_id \
         WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND o.disabled_at IS NULL",
    )
    .bind(&hash)
    .fetch_optional(&p.pool)
    .await?;
    let Some((id, email, stale)) = found else {
        return Ok(None);
    };
    if stale {
        sqlx::query("UPDATE owner_api_tokens SET last_used_at = now() WHERE token_sha256 = $1")
            .bind(&hash)
            .execute(&p.pool)
            .await?;
    }
    Ok(Some((id, email)))
}
