//! Owner accounts: sign-up, email verification, password reset and change, email change,
//! sign-out everywhere.
//!
//! No account enumeration: a sign-up with an address that has an account answers exactly
//! like a new one (the same words, and the same work: a password hash, one transaction and
//! one message), and the address's owner is told by email instead. A password-reset request
//! answers the same for any address and does its work after answering.

use super::links::{self, Purpose};
use super::{check_name, check_password, OWNER_COLUMNS};
use crate::audit::{self, Actor};
use crate::mail::templates::{
    self, AccountExistsFacts, Common, EmailChangedFacts, LinkFacts, Recipient,
};
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::tenants::OwnerEmail;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

/// At most one account message (verification, "you have an account", reset) per address
/// in this many minutes: nobody can make the platform flood someone's inbox.
const MESSAGE_GAP_MINUTES: i32 = 2;

/// The audit actor of an owner.
pub fn actor(email: &str) -> Actor {
    Actor::owner(email)
}

/// Hashes an owner's password (argon2id) off the async threads, a few at a time.
pub async fn hash(p: &Platform, plain: &str) -> Result<String, ServiceError> {
    let _permit = p.hashing.acquire().await.map_err(ServiceError::internal)?;
    let plain = plain.to_owned();
    tokio::task::spawn_blocking(move || crate::signin::hash_password(&plain))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)
}

/// Checks an owner's password against their stored hash, a few at a time.
pub async fn verify(p: &Platform, stored: String, plain: &str) -> Result<bool, ServiceError> {
    let _permit = p.hashing.acquire().await.map_err(ServiceError::internal)?;
    let plain = plain.to_owned();
    tokio::task::spawn_blocking(move || crate::signin::verify_password(&stored, &plain))
        .await
        .map_err(ServiceError::internal)
}

fn parse_email(raw: &str, field: &'static str) -> Result<OwnerEmail, ServiceError> {
    OwnerEmail::parse(raw).ok_or_else(|| {
        ServiceError::invalid("email_invalid", field, "This is not an email address.")
    })
}

/// Whether `owner` got a message of `template` in the last [`MESSAGE_GAP_MINUTES`].
async fn messaged_recently(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    template: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE owner_id = $1 AND template = $2 \
         AND created_at > now() - make_interval(mins => $3))",
    )
    .bind(owner)
    .bind(template)
    .bind(MESSAGE_GAP_MINUTES)
    .fetch_one(&mut *conn)
    .await
}

/// Queues a message with a one-time link to `to`.
async fn queue_link(
    conn: &mut sqlx::PgConnection,
    p: &Platform,
    owner: Uuid,
    to: Recipient,
    purpose: Purpose,
    new_email: Option<&str>,
) -> Result<(), ServiceError> {
    let token = links::create(conn, owner, purpose, new_email).await?;
    let settings = &p.config.mail;
    let facts = LinkFacts {
        common: Common::new(settings, &to.name),
        link: links::url(&settings.public_url, purpose, &token),
        hours: purpose.lifetime_hours(),
    };
    let mut email = match purpose {
        Purpose::VerifyEmail => templates::verify_email(&to, &facts)?,
        Purpose::ResetPassword => templates::password_reset(&to, &facts)?,
        Purpose::ChangeEmail => templates::email_change(&to, &facts)?,
    };
    email.owner_id = Some(owner);
    crate::mail::enqueue(conn, settings, email).await?;
    Ok(())
}

/// A sign-up form.
#[derive(Debug, Clone)]
pub struct SignUp {
    /// The person's name.
    pub name: String,
    /// Their email address.
    pub email: String,
    /// Their password.
    pub password: SecretString,
}

/// Opens an account (unverified) and sends the verification link. With an address that
/// has an account already, the answer is the same: a verified account's owner gets a "you
/// already have an account" message; an unverified one gets a new link and the new
/// password replaces the old (only whoever reads that inbox can use the account).
pub async fn sign_up(p: &Platform, input: SignUp) -> Result<(), ServiceError> {
    let name = check_name(&input.name)?;
    let email = parse_email(&input.email, "email")?;
    check_password(input.password.expose_secret(), email.as_str())?;
    let hash = hash(p, input.password.expose_secret()).await?;
    let mut tx = p.pool.begin().await?;
    let created: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO owners (email, name, password_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(email.as_str())
    .bind(&name)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let to = Recipient {
        address: email.as_str().to_owned(),
        name: name.clone(),
    };
    if let Some(id) = created {
        queue_link(&mut tx, p, id, to, Purpose::VerifyEmail, None).await?;
        audit::record(
            &mut *tx,
            &actor(email.as_str()),
            "owner.signed_up",
            None,
            None,
            json!({"owner_id": id}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(owner_id = %id, "owner signed up");
        return Ok(());
    }
    let (id, verified, disabled, old_name): (Uuid, bool, bool, String) = sqlx::query_as(
        "SELECT id, email_verified_at IS NOT NULL, disabled_at IS NOT NULL, name FROM owners \
         WHERE email = $1 FOR UPDATE",
    )
    .bind(email.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if disabled {
        // Nothing to send: the account is closed to its owner until a superadmin opens it.
        tx.commit().await?;
        return Ok(());
    }
    if verified {
        if !messaged_recently(&mut tx, id, "account_exists").await? {
            let facts = AccountExistsFacts {
                common: Common::new(&p.config.mail, &old_name),
                signin_url: format!("{}/signin", public_base(p)),
                reset_url: format!("{}/forgot", public_base(p)),
            };
            let mut message = templates::account_exists(
                &Recipient {
                    address: email.as_str().to_owned(),
                    name: old_name,
                },
                &facts,
            )?;
            message.owner_id = Some(id);
            crate::mail::enqueue(&mut tx, &p.config.mail, message).await?;
        }
        audit::record(
            &mut *tx,
            &Actor::anonymous(),
            "owner.signup_for_existing_account",
            None,
            None,
            json!({"owner_id": id}),
        )
        .await?;
    } else {
        sqlx::query(
            "UPDATE owners SET name = $2, password_hash = $3, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(&name)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        if !messaged_recently(&mut tx, id, "verify_email").await? {
            queue_link(&mut tx, p, id, to, Purpose::VerifyEmail, None).await?;
        }
        audit::record(
            &mut *tx,
            &Actor::anonymous(),
            "owner.signed_up_again",
            None,
            None,
            json!({"owner_id": id}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn public_base(p: &Platform) -> String {
    p.config
        .mail
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_owned()
}

/// Sends a new verification link to a signed-in owner whose address is not confirmed yet.
pub async fn resend_verification(p: &Platform, owner: Uuid) -> Result<(), ServiceError> {
    let mut tx = p.pool.begin().await?;
    let row: Option<(String, String, bool)> = sqlx::query_as(
        "SELECT email, name, email_verified_at IS NOT NULL FROM owners WHERE id = $1 FOR UPDATE",
    )
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((email, name, verified)) = row else {
        return Err(ServiceError::NotFound("owner"));
    };
    if verified {
        return Err(ServiceError::conflict(
            "already_verified",
            "Your address is already confirmed.",
        ));
    }
    if messaged_recently(&mut tx, owner, "verify_email").await? {
        return Err(ServiceError::conflict(
            "sent_recently",
            format!("A link was sent less than {MESSAGE_GAP_MINUTES} minutes ago; check your inbox (and spam folder)."),
        ));
    }
    queue_link(
        &mut tx,
        p,
        owner,
        Recipient {
            address: email,
            name,
        },
        Purpose::VerifyEmail,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Follows a verification link: the account's address is confirmed. Returns the address.
pub async fn verify_email(p: &Platform, token: &str) -> Result<String, ServiceError> {
    let mut tx = p.pool.begin().await?;
    let followed = links::consume(&mut tx, token, Purpose::VerifyEmail).await?;
    let email: String = sqlx::query_scalar(
        "UPDATE owners SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now() \
         WHERE id = $1 RETURNING email",
    )
    .bind(followed.owner_id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &actor(&email),
        "owner.email_verified",
        None,
        None,
        json!({"owner_id": followed.owner_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(email)
}

/// Asks for a password-reset link. Answers at once, the same for every address; the link
/// (one hour, single use) is made and queued afterwards, so neither the answer nor its
/// timing says whether the address has an account.
pub async fn request_password_reset(p: &Platform, email: &str) -> Result<(), ServiceError> {
    let email = parse_email(email, "email")?;
    let p = p.clone();
    tokio::spawn(async move {
        if let Err(error) = queue_password_reset(&p, email.as_str()).await {
            tracing::error!(%error, "queueing a password reset failed");
        }
    });
    Ok(())
}

async fn queue_password_reset(p: &Platform, email: &str) -> Result<(), ServiceError> {
    let mut tx = p.pool.begin().await?;
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM owners WHERE email = $1 AND disabled_at IS NULL FOR UPDATE",
    )
    .bind(email)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, name)) = row else {
        return Ok(());
    };
    if messaged_recently(&mut tx, id, "password_reset").await? {
        return Ok(());
    }
    let to = Recipient {
        address: email.to_owned(),
        name,
    };
    queue_link(&mut tx, p, id, to, Purpose::ResetPassword, None).await?;
    audit::record(
        &mut *tx,
        &Actor::anonymous(),
        "owner.password_reset_requested",
        None,
        None,
        json!({"owner_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a password-reset link still works (the page shows its form only then).
pub async fn check_reset_link(p: &Platform, token: &str) -> Result<(), ServiceError> {
    links::check(&p.pool, token, Purpose::ResetPassword)
        .await
        .map(|_| ())
}

/// Follows a password-reset link: sets the new password, confirms the address (the link
/// proves it), and ends every session of the account.
pub async fn reset_password(
    p: &Platform,
    token: &str,
    password: &SecretString,
) -> Result<String, ServiceError> {
    let link = links::check(&p.pool, token, Purpose::ResetPassword).await?;
    let owner = super::get(p, link.owner_id).await?;
    check_password(password.expose_secret(), &owner.email)?;
    let hash = hash(p, password.expose_secret()).await?;
    let mut tx = p.pool.begin().await?;
    let followed = links::consume(&mut tx, token, Purpose::ResetPassword).await?;
    let email: String = sqlx::query_scalar(
        "UPDATE owners SET password_hash = $2, email_verified_at = COALESCE(email_verified_at, now()), \
         updated_at = now() WHERE id = $1 RETURNING email",
    )
    .bind(followed.owner_id)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await?;
    super::sessions::end_all(&mut tx, followed.owner_id, None).await?;
    // Whoever guessed at the old password no longer holds the owner back.
    crate::signin::clear_account(&mut *tx, super::sessions::REALM, &email).await?;
    audit::record(
        &mut *tx,
        &actor(&email),
        "owner.password_reset",
        None,
        None,
        json!({"owner_id": followed.owner_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(email)
}

/// Checks a signed-in owner's current password (changes of password and address need it).
async fn check_current(
    p: &Platform,
    owner: Uuid,
    current: &SecretString,
) -> Result<super::Owner, ServiceError> {
    let (stored,): (String,) = sqlx::query_as("SELECT password_hash FROM owners WHERE id = $1")
        .bind(owner)
        .fetch_optional(&p.pool)
        .await?
        .ok_or(ServiceError::NotFound("owner"))?;
    if current.expose_secret().len() > 4 * super::MAX_PASSWORD
        || !verify(p, stored, current.expose_secret()).await?
    {
        return Err(ServiceError::invalid(
            "password_wrong",
            "current_password",
            "Your current password is not right.",
        ));
    }
    super::get(p, owner).await
}

/// Changes a signed-in owner's password; every other session of the account ends.
pub async fn change_password(
    p: &Platform,
    owner: Uuid,
    session_token: Option<&str>,
    current: &SecretString,
    new: &SecretString,
) -> Result<(), ServiceError> {
    let account = check_current(p, owner, current).await?;
    check_password(new.expose_secret(), &account.email)?;
    let hash = hash(p, new.expose_secret()).await?;
    let mut tx = p.pool.begin().await?;
    sqlx::query("UPDATE owners SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(owner)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    super::sessions::end_all(&mut tx, owner, session_token).await?;
    audit::record(
        &mut *tx,
        &actor(&account.email),
        "owner.password_changed",
        None,
        None,
        json!({"owner_id": owner}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Asks to move a signed-in owner's account to `new_email`: a link goes to the new address,
/// and nothing changes until it is followed.
pub async fn request_email_change(
    p: &Platform,
    owner: Uuid,
    current: &SecretString,
    new_email: &str,
) -> Result<(), ServiceError> {
    let account = check_current(p, owner, current).await?;
    let new_email = parse_email(new_email, "new_email")?;
    if new_email.as_str() == account.email {
        return Err(ServiceError::invalid(
            "email_unchanged",
            "new_email",
            "This is already your address.",
        ));
    }
    let mut tx = p.pool.begin().await?;
    let to = Recipient {
        address: new_email.as_str().to_owned(),
        name: account.name.clone(),
    };
    queue_link(
        &mut tx,
        p,
        owner,
        to,
        Purpose::ChangeEmail,
        Some(new_email.as_str()),
    )
    .await?;
    audit::record(
        &mut *tx,
        &actor(&account.email),
        "owner.email_change_requested",
        None,
        None,
        json!({"owner_id": owner}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Follows an email-change link: the account moves to the new address, and the old one is
/// told. Returns the new address.
pub async fn confirm_email_change(p: &Platform, token: &str) -> Result<String, ServiceError> {
    let mut tx = p.pool.begin().await?;
    let followed = links::consume(&mut tx, token, Purpose::ChangeEmail).await?;
    let new_email = followed
        .new_email
        .ok_or_else(|| ServiceError::internal("an email-change link without an address"))?;
    let old: (String, String) =
        sqlx::query_as("SELECT email, name FROM owners WHERE id = $1 FOR UPDATE")
            .bind(followed.owner_id)
            .fetch_one(&mut *tx)
            .await?;
    let moved = sqlx::query(
        "UPDATE owners SET email = $2, email_verified_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind(followed.owner_id)
    .bind(&new_email)
    .execute(&mut *tx)
    .await;
    if let Err(e) = moved {
        return Err(match crate::service::unique_violation(&e).as_deref() {
            Some("owners_email_key") => ServiceError::conflict(
                "email_taken",
                "This address belongs to another account: sign in with it, or choose another.",
            ),
            _ => e.into(),
        });
    }
    let facts = EmailChangedFacts {
        common: Common::new(&p.config.mail, &old.1),
        new_address: new_email.clone(),
    };
    let mut notice = templates::email_changed(
        &Recipient {
            address: old.0.clone(),
            name: old.1,
        },
        &facts,
    )?;
    notice.owner_id = Some(followed.owner_id);
    crate::mail::enqueue(&mut tx, &p.config.mail, notice).await?;
    audit::record(
        &mut *tx,
        &actor(&new_email),
        "owner.email_changed",
        None,
        None,
        json!({"owner_id": followed.owner_id, "from": old.0}),
    )
    .await?;
    tx.commit().await?;
    Ok(new_email)
}

/// Ends every session of the owner (every browser signs in again).
pub async fn sign_out_everywhere(p: &Platform, owner: Uuid) -> Result<u64, ServiceError> {
    let mut tx = p.pool.begin().await?;
    let ended = super::sessions::end_all(&mut tx, owner, None).await?;
    let email: String = sqlx::query_scalar("SELECT email FROM owners WHERE id = $1")
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &actor(&email),
        "owner.signed_out_everywhere",
        None,
        None,
        json!({"owner_id": owner, "sessions": ended}),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// The account of a signed-in owner.
pub async fn account(p: &Platform, owner: Uuid) -> Result<super::Owner, ServiceError> {
    sqlx::query_as(&format!(
        "SELECT {OWNER_COLUMNS} FROM owners WHERE id = $1 AND disabled_at IS NULL"
    ))
    .bind(owner)
    .fetch_optional(&p.pool)
    .await?
    .ok_or(ServiceError::NotFound("owner"))
}
