//! The messages: each has a text and an HTML template under `server/templates/mail/`,
//! compiled and type-checked by askama (HTML is escaped, text is not), and a function
//! that fills them and returns an [`Email`] ready for the outbox.

use super::{Email, MailError};
use crate::config::MailSettings;
use askama::Template;
use uuid::Uuid;

/// What every message shows: the platform, its address, and whom it greets.
#[derive(Debug, Clone)]
pub struct Common {
    /// `PLATFORM_NAME`.
    pub platform: String,
    /// `PUBLIC_URL`.
    pub public_url: String,
    /// The recipient's name.
    pub name: String,
}

impl Common {
    /// For `name`, with the platform's settings.
    pub fn new(settings: &MailSettings, name: &str) -> Common {
        Common {
            platform: settings.platform_name.clone(),
            public_url: settings
                .public_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            name: name.to_owned(),
        }
    }
}

/// A text and an HTML template over one context type, and `fn $render(&ctx)` that fills both.
macro_rules! message {
    ($render:ident($ctx:ty), $text:ident = $text_path:tt, $html:ident = $html_path:tt) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $ctx,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $ctx,
        }

        fn $render(m: &$ctx) -> Result<(String, String), askama::Error> {
            Ok(($text { m }.render()?, $html { m }.render()?))
        }
    };
}

/// A tenant as its messages show it.
#[derive(Debug, Clone)]
pub struct TenantFacts {
    /// Greeting and platform.
    pub common: Common,
    /// Main company.
    pub company: String,
    /// `https://<slug>.<domain>/`.
    pub url: String,
    /// The Odoo administrator's login.
    pub login: String,
    /// The point of sale.
    pub pos_url: String,
    /// The owner's portal page of the tenant.
    pub portal_url: String,
}

/// Deleted tenant.
#[derive(Debug, Clone)]
pub struct DeletedFacts {
    /// Greeting and platform.
    pub common: Common,
    /// Main company.
    pub company: String,
    /// The address it had.
    pub url: String,
    /// Whether a final backup was taken.
    pub backup_kept: bool,
}

/// A message around one link that works once.
#[derive(Debug, Clone)]
pub struct LinkFacts {
    /// Greeting and platform.
    pub common: Common,
    /// The link.
    pub link: String,
    /// Hours until it expires.
    pub hours: i64,
}

/// A sign-up with an address that has an account already.
#[derive(Debug, Clone)]
pub struct AccountExistsFacts {
    /// Greeting and platform.
    pub common: Common,
    /// The sign-in page.
    pub signin_url: String,
    /// The forgotten-password page.
    pub reset_url: String,
}

/// The account's address was changed (sent to the old one).
#[derive(Debug, Clone)]
pub struct EmailChangedFacts {
    /// Greeting and platform.
    pub common: Common,
    /// The new address.
    pub new_address: String,
}

message!(
    welcome(TenantFacts),
    WelcomeText = "mail/tenant_welcome.txt",
    WelcomeHtml = "mail/tenant_welcome.html"
);
message!(
    suspended(TenantFacts),
    SuspendedText = "mail/tenant_suspended.txt",
    SuspendedHtml = "mail/tenant_suspended.html"
);
message!(
    reactivated(TenantFacts),
    ReactivatedText = "mail/tenant_reactivated.txt",
    ReactivatedHtml = "mail/tenant_reactivated.html"
);
message!(
    deleted(DeletedFacts),
    DeletedText = "mail/tenant_deleted.txt",
    DeletedHtml = "mail/tenant_deleted.html"
);
message!(
    verify(LinkFacts),
    VerifyText = "mail/verify_email.txt",
    VerifyHtml = "mail/verify_email.html"
);
message!(
    change(LinkFacts),
    ChangeText = "mail/email_change.txt",
    ChangeHtml = "mail/email_change.html"
);
message!(
    reset(LinkFacts),
    ResetText = "mail/password_reset.txt",
    ResetHtml = "mail/password_reset.html"
);
message!(
    exists(AccountExistsFacts),
    ExistsText = "mail/account_exists.txt",
    ExistsHtml = "mail/account_exists.html"
);
message!(
    changed(EmailChangedFacts),
    ChangedText = "mail/email_changed.txt",
    ChangedHtml = "mail/email_changed.html"
);

/// Who receives a message.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Address.
    pub address: String,
    /// Name.
    pub name: String,
}

fn email(
    template: &'static str,
    to: &Recipient,
    subject: String,
    (text, html): (String, String),
    sensitive: bool,
    tenant_id: Option<Uuid>,
) -> Email {
    Email {
        template,
        to_address: to.address.clone(),
        to_name: Some(to.name.clone()).filter(|n| !n.is_empty()),
        subject,
        text,
        html,
        sensitive,
        tenant_id,
        owner_id: None,
    }
}

/// "Your Odoo is ready".
pub fn tenant_welcome(to: &Recipient, id: Uuid, t: &TenantFacts) -> Result<Email, MailError> {
    let subject = format!("Your Odoo for {} is ready", t.company);
    Ok(email(
        "tenant_welcome",
        to,
        subject,
        welcome(t)?,
        false,
        Some(id),
    ))
}

/// "Your Odoo is suspended".
pub fn tenant_suspended(to: &Recipient, id: Uuid, t: &TenantFacts) -> Result<Email, MailError> {
    let subject = format!("Your Odoo for {} is suspended", t.company);
    Ok(email(
        "tenant_suspended",
        to,
        subject,
        suspended(t)?,
        false,
        Some(id),
    ))
}

/// "Your Odoo is active again".
pub fn tenant_reactivated(to: &Recipient, id: Uuid, t: &TenantFacts) -> Result<Email, MailError> {
    let subject = format!("Your Odoo for {} is active again", t.company);
    Ok(email(
        "tenant_reactivated",
        to,
        subject,
        reactivated(t)?,
        false,
        Some(id),
    ))
}

/// "Your Odoo has been deleted", saying whether a backup was kept.
pub fn tenant_deleted(to: &Recipient, id: Uuid, t: &DeletedFacts) -> Result<Email, MailError> {
    let subject = format!("Your Odoo for {} has been deleted", t.company);
    Ok(email(
        "tenant_deleted",
        to,
        subject,
        deleted(t)?,
        false,
        Some(id),
    ))
}

/// The sign-up's "confirm your address" message.
pub fn verify_email(to: &Recipient, l: &LinkFacts) -> Result<Email, MailError> {
    let subject = format!("Confirm your email address for {}", l.common.platform);
    Ok(email("verify_email", to, subject, verify(l)?, true, None))
}

/// "Confirm your new address" (an email change).
pub fn email_change(to: &Recipient, l: &LinkFacts) -> Result<Email, MailError> {
    let subject = format!("Confirm your new email address for {}", l.common.platform);
    Ok(email("email_change", to, subject, change(l)?, true, None))
}

/// The password reset link.
pub fn password_reset(to: &Recipient, l: &LinkFacts) -> Result<Email, MailError> {
    let subject = format!("Reset your {} password", l.common.platform);
    Ok(email("password_reset", to, subject, reset(l)?, true, None))
}

/// "You already have an account" (a sign-up with a taken address).
pub fn account_exists(to: &Recipient, f: &AccountExistsFacts) -> Result<Email, MailError> {
    let subject = format!("You already have a {} account", f.common.platform);
    Ok(email(
        "account_exists",
        to,
        subject,
        exists(f)?,
        false,
        None,
    ))
}

/// "Your email address was changed" (to the old address).
pub fn email_changed(to: &Recipient, f: &EmailChangedFacts) -> Result<Email, MailError> {
    let subject = format!("Your {} email address was changed", f.common.platform);
    Ok(email(
        "email_changed",
        to,
        subject,
        changed(f)?,
        false,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common() -> Common {
        Common {
            platform: "Acme Cloud".into(),
            public_url: "https://acme.test".into(),
            name: "Ann <b>O'Neil</b>".into(),
        }
    }

    fn facts() -> TenantFacts {
        TenantFacts {
            common: common(),
            company: "Shop & Co".into(),
            url: "https://shop.acme.test/".into(),
            login: "ann@shop.test".into(),
            pos_url: "https://shop.acme.test/pos/".into(),
            portal_url: "https://acme.test/my/tenants/1".into(),
        }
    }

    fn to() -> Recipient {
        Recipient {
            address: "ann@shop.test".into(),
            name: "Ann".into(),
        }
    }

    #[test]
    fn the_welcome_names_the_address_login_and_point_of_sale_but_never_a_password() {
        let mail = tenant_welcome(&to(), Uuid::nil(), &facts()).expect("render");
        for body in [&mail.text, &mail.html] {
            assert!(body.contains("https://shop.acme.test/"), "{body}");
            assert!(body.contains("ann@shop.test"), "{body}");
            assert!(body.contains("https://shop.acme.test/pos/"), "{body}");
            assert!(body.contains("Acme Cloud"), "{body}");
            assert!(body.contains("the one you chose"), "{body}");
        }
        assert_eq!(mail.subject, "Your Odoo for Shop & Co is ready");
        assert!(!mail.sensitive);
    }

    #[test]
    fn html_bodies_escape_what_people_typed_and_text_bodies_keep_it() {
        let mail = tenant_welcome(&to(), Uuid::nil(), &facts()).expect("render");
        assert!(
            mail.html.contains("Shop &#38; Co") || mail.html.contains("Shop &amp; Co"),
            "{}",
            mail.html
        );
        assert!(!mail.html.contains("<b>O'Neil</b>"), "{}", mail.html);
        assert!(
            mail.text.contains("Hello Ann <b>O'Neil</b>,"),
            "{}",
            mail.text
        );
    }

    #[test]
    fn the_deletion_says_what_became_of_the_backup() {
        let mut d = DeletedFacts {
            common: common(),
            company: "Shop".into(),
            url: "https://shop.acme.test/".into(),
            backup_kept: true,
        };
        let kept = tenant_deleted(&to(), Uuid::nil(), &d).expect("render");
        assert!(kept
            .text
            .contains("A final backup of the database was taken"));
        assert!(kept
            .html
            .contains("A final backup of the database was taken"));
        d.backup_kept = false;
        let gone = tenant_deleted(&to(), Uuid::nil(), &d).expect("render");
        assert!(gone.text.contains("No backup was kept"));
        assert!(!gone.text.contains("A final backup"));
    }

    #[test]
    fn one_time_links_are_sensitive_and_carry_their_link() {
        let l = LinkFacts {
            common: common(),
            link: "https://acme.test/verify?token=abc".into(),
            hours: 24,
        };
        for mail in [
            verify_email(&to(), &l).expect("render"),
            password_reset(&to(), &l).expect("render"),
            email_change(&to(), &l).expect("render"),
        ] {
            assert!(mail.sensitive, "{}", mail.template);
            assert!(mail.text.contains("https://acme.test/verify?token=abc"));
            assert!(mail.html.contains("https://acme.test/verify?token=abc"));
        }
    }
}
