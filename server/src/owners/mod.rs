//! Tenant owners: the customers' own accounts.
//!
//! [`accounts`] holds sign-up, email verification, password reset and change, email change
//! and sign-out everywhere; [`links`] the one-time links those send by email; [`sessions`]
//! password sign-in and sessions of the owner portal (cookie `saas_owner`, the operations
//! portal's rules); [`tokens`] owners' API tokens. Tenants belong to an owner through
//! `tenants.owner_user_id`; [`tenants`] holds what an owner may do to their own tenants.

pub mod accounts;
pub mod billing;
pub mod domains;
pub mod http;
pub mod links;
pub mod portal;
pub mod sessions;
pub mod tenants;
pub mod tokens;

use crate::service::ServiceError;
use uuid::Uuid;

/// Shortest owner password.
pub const MIN_PASSWORD: usize = 10;
/// Longest owner password (characters); longer input is refused, not truncated.
pub const MAX_PASSWORD: usize = 128;

/// An owner account as the platform shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Owner {
    /// Owner id.
    pub id: Uuid,
    /// Email address: the sign-in name.
    pub email: String,
    /// Name.
    pub name: String,
    /// When the address was confirmed (tenants can be created only after).
    pub email_verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Created at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Disabled by a superadmin at (no sign-in, sessions and tokens refused).
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Columns read into [`Owner`].
pub(crate) const OWNER_COLUMNS: &str =
    "id, email, name, email_verified_at, created_at, disabled_at";

/// Passwords too common to accept whatever their length (the head of the public lists of
/// leaked passwords, from ten characters on).
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwertyuiop123",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou123",
    "1234567890a",
    "abcdefghij",
    "abc1234567",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "zaq12wsxcde",
    "letmein123",
    "welcome123",
    "administrator",
    "changeme123",
    "football123",
    "baseball123",
    "superman123",
    "sunshine123",
    "princess123",
    "dragon12345",
];

/// Checks a new password: 10 to 128 characters, not one character repeated, not a known
/// common one, not the email address or its name part.
pub fn check_password(password: &str, email: &str) -> Result<(), ServiceError> {
    let count = password.chars().count();
    if count > MAX_PASSWORD || password.len() > 4 * MAX_PASSWORD {
        return Err(ServiceError::invalid(
            "password_too_long",
            "password",
            format!("A password has at most {MAX_PASSWORD} characters."),
        ));
    }
    if count < MIN_PASSWORD {
        return Err(ServiceError::invalid(
            "password_weak",
            "password",
            format!("Choose a password of at least {MIN_PASSWORD} characters."),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "password_invalid",
            "password",
            "A password cannot hold control characters.",
        ));
    }
    let lower = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let first = lower.chars().next();
    let repeated = lower.chars().all(|c| Some(c) == first);
    if repeated
        || COMMON.contains(&lower.as_str())
        || lower == email
        || (!local.is_empty() && lower == local)
    {
        return Err(ServiceError::invalid(
            "password_weak",
            "password",
            "This password is too easy to guess; choose another.",
        ));
    }
    Ok(())
}

/// Checks a person's name: 1 to 100 characters, no control characters.
pub fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "name_invalid",
            "name",
            "Enter your name (1 to 100 characters).",
        ));
    }
    Ok(name.to_owned())
}

/// One owner by id.
pub async fn get(p: &crate::platform::Platform, id: Uuid) -> Result<Owner, ServiceError> {
    sqlx::query_as(&format!("SELECT {OWNER_COLUMNS} FROM owners WHERE id = $1"))
        .bind(id)
        .fetch_optional(&p.pool)
        .await?
        .ok_or(ServiceError::NotFound("owner"))
}

/// An owner account in the superadmin's list.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OwnerSummary {
    /// Owner id.
    pub id: Uuid,
    /// Email address.
    pub email: String,
    /// Name.
    pub name: String,
    /// When the address was confirmed.
    pub email_verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Disabled at.
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Created at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Tenants they own (deleted ones too).
    pub tenants: i64,
}

/// Every owner, newest first, at most `limit`.
pub async fn list(
    p: &crate::platform::Platform,
    limit: i64,
) -> Result<Vec<OwnerSummary>, ServiceError> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.email, o.name, o.email_verified_at, o.disabled_at, o.created_at, \
                (SELECT count(*) FROM tenants t WHERE t.owner_user_id = o.id) AS tenants \
         FROM owners o ORDER BY o.created_at DESC, o.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&p.pool)
    .await?)
}

/// Disables (`true`) or enables an owner account; audited as `owner.disabled` or
/// `owner.enabled`. A disabled owner cannot sign in, their sessions are ended at once (the
/// rows are deleted, and every lookup also refuses a disabled account) and their API
/// tokens are refused while the account stays disabled (enabling it again makes the
/// unrevoked tokens work again; sessions do not come back). Their tenants keep running.
pub async fn set_disabled(
    p: &crate::platform::Platform,
    actor: &crate::audit::Actor,
    id: Uuid,
    disabled: bool,
) -> Result<Owner, ServiceError> {
    let mut tx = p.pool.begin().await?;
    let owner: Option<Owner> = sqlx::query_as(&format!(
        "UPDATE owners SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, \
         updated_at = now() WHERE id = $1 RETURNING {OWNER_COLUMNS}"
    ))
    .bind(id)
    .bind(disabled)
    .fetch_optional(&mut *tx)
    .await?;
    let owner = owner.ok_or(ServiceError::NotFound("owner"))?;
    let ended = if disabled {
        sqlx::query("DELETE FROM owner_sessions WHERE owner_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        0
    };
    crate::audit::record(
        &mut *tx,
        actor,
        if disabled {
            "owner.disabled"
        } else {
            "owner.enabled"
        },
        None,
        None,
        serde_json::json!({"owner_id": id, "email": owner.email, "sessions_ended": ended}),
    )
    .await?;
    tx.commit().await?;
    if disabled {
        tracing::warn!(owner_id = %id, sessions_ended = ended, "owner disabled");
    } else {
        tracing::info!(owner_id = %id, "owner enabled");
    }
    Ok(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_huge_and_guessable_passwords_are_refused_with_the_reason() {
        let code = |p: &str| match check_password(p, "ann.lee@example.com") {
            Ok(()) => "ok",
            Err(ServiceError::Invalid { code, .. }) => code,
            Err(_) => "other",
        };
        assert_eq!(code("short"), "password_weak");
        assert_eq!(code(&"x".repeat(129)), "password_too_long");
        assert_eq!(code("aaaaaaaaaaaa"), "password_weak");
        assert_eq!(code("Password123"), "password_weak");
        assert_eq!(code("ann.lee@example.com"), "password_weak");
        assert_eq!(code("bad\u{0}password"), "password_invalid");
        assert_eq!(code("correct horse battery"), "ok");
        // 128 characters of two bytes each: within the limit, which counts characters.
        assert_eq!(code(&"éà".repeat(64)), "ok");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  Ann Lee ").ok().as_deref(), Some("Ann Lee"));
        assert!(check_name("").is_err());
        assert!(check_name(&"n".repeat(101)).is_err());
        assert!(check_name("a\nb").is_err());
    }
}
