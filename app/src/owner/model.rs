//! What the front door and the owner portal show and send: plain serializable types shared
//! by the server (which fills them from the service layer) and the browser. Errors use the
//! portals' one error type, [`crate::admin::model::AdminError`].

use serde::{Deserialize, Serialize};

/// A plan as the front door and the sign-up show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanCard {
    /// Key (part of the sign-up's address).
    pub key: String,
    /// Name.
    pub name: String,
    /// Monthly price in cents.
    pub price_cents: i32,
    /// Yearly price in cents (paid once a year instead of monthly).
    pub yearly_price_cents: i32,
    /// Currency code.
    pub currency: String,
    /// Free days before the first payment.
    pub trial_days: i32,
    /// Most users (none: no limit).
    pub max_users: Option<i32>,
    /// Most companies.
    pub max_companies: i32,
    /// Storage in MB (none: no limit).
    pub storage_mb: Option<i32>,
    /// Odoo modules installed.
    pub modules: Vec<String>,
}

impl PlanCard {
    /// "Free", or "29.00 EUR / month".
    pub fn price(&self) -> String {
        if self.price_cents == 0 {
            "Free".to_owned()
        } else {
            format!(
                "{} / month",
                crate::admin::model::format_price(self.price_cents, &self.currency)
            )
        }
    }

    /// "290.00 EUR / year" for a paid plan.
    pub fn yearly_price(&self) -> Option<String> {
        self.needs_payment().then(|| {
            format!(
                "{} / year",
                crate::admin::model::format_price(self.yearly_price_cents, &self.currency)
            )
        })
    }

    /// A sign-up on this plan goes through Stripe Checkout (a card, even for a trial)
    /// before its Odoo is made.
    pub fn needs_payment(&self) -> bool {
        self.price_cents > 0
    }

    /// What happens at sign-up, for a plan paid through Stripe Checkout.
    pub fn payment_note(&self) -> Option<&'static str> {
        match (self.needs_payment(), self.trial_days > 0) {
            (false, _) => None,
            (true, true) => {
                Some("Your card is asked for at checkout; the first payment is at the trial's end.")
            }
            (true, false) => Some("Your Odoo is made once the first payment is through."),
        }
    }

    /// The limits in words.
    pub fn limits(&self) -> Vec<String> {
        let mut out = vec![
            match self.max_users {
                Some(n) => format!("Up to {n} user{}", if n == 1 { "" } else { "s" }),
                None => "Unlimited users".to_owned(),
            },
            if self.max_companies == 1 {
                "One company".to_owned()
            } else {
                format!("Up to {} companies", self.max_companies)
            },
            match self.storage_mb {
                Some(mb) if mb >= 1024 && mb % 1024 == 0 => format!("{} GB of storage", mb / 1024),
                Some(mb) => format!("{mb} MB of storage"),
                None => "Unlimited storage".to_owned(),
            },
        ];
        if self.trial_days > 0 {
            out.push(format!("{}-day free trial", self.trial_days));
        }
        out
    }
}

/// The signed-in owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerMe {
    /// Email (sign-in name).
    pub email: String,
    /// Name.
    pub name: String,
    /// The address is confirmed.
    pub verified: bool,
    /// The session's CSRF token, sent back with every change.
    pub csrf: String,
}

/// One of the owner's tenants in their list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantCard {
    /// Tenant id (the portal's URLs use it).
    pub id: String,
    /// Subdomain.
    pub slug: String,
    /// Lifecycle state.
    pub state: String,
    /// The operation under way.
    pub pending_op: Option<String>,
    /// The Odoo's address.
    pub url: String,
    /// Main company.
    pub company_name: String,
    /// Plan name.
    pub plan: String,
    /// Created (UTC).
    pub created_at: String,
}

/// A job's progress as the owner sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// What it does: provision, reset_admin_password, add_companies, delete, ...
    pub operation: String,
    /// queued, running, succeeded, failed, dead, cancelled.
    pub state: String,
    /// Steps done.
    pub step: i32,
    /// Steps in all.
    pub total: i32,
    /// What it is doing.
    pub label: String,
    /// Percent done.
    pub percent: i32,
    /// The last error, if an attempt failed.
    pub last_error: Option<String>,
}

/// One tenant's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnerTenant {
    /// Tenant id.
    pub id: String,
    /// Subdomain.
    pub slug: String,
    /// Lifecycle state.
    pub state: String,
    /// The operation under way.
    pub pending_op: Option<String>,
    /// The Odoo's address.
    pub url: String,
    /// The point of sale's address.
    pub pos_url: String,
    /// The Odoo administrator's login.
    pub login: String,
    /// Main company.
    pub company_name: String,
    /// Further companies.
    pub extra_companies: Vec<String>,
    /// Plan name.
    pub plan: String,
    /// The plan's most companies.
    pub max_companies: i32,
    /// The last job error.
    pub last_error: Option<String>,
    /// Created (UTC).
    pub created_at: String,
    /// The current (or last) job's progress.
    pub progress: Option<Progress>,
    /// Its custom domains, oldest first (the superadmin's rows: state, DNS records, checks).
    #[serde(default)]
    pub domains: Vec<crate::admin::model::DomainRow>,
}

impl OwnerTenant {
    /// Ready to use (active, nothing under way).
    pub fn ready(&self) -> bool {
        self.state == "active" && self.pending_op.is_none()
    }

    /// Companies the plan still allows.
    pub fn companies_left(&self) -> i32 {
        (self.max_companies - 1 - self.extra_companies.len() as i32).max(0)
    }
}

/// The live availability check of a subdomain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlugCheck {
    /// The name checked.
    pub slug: String,
    /// Free to take.
    pub available: bool,
    /// Why not, or "available".
    pub message: String,
}

/// An API token as listed (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// Name.
    pub name: String,
    /// Made (UTC).
    pub created_at: String,
    /// Last used (UTC).
    pub last_used_at: Option<String>,
}

/// A token just made: shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// Name.
    pub name: String,
    /// The secret.
    pub token: String,
}

/// The self-service sign-up form of a new tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewOwnerTenant {
    /// Plan key.
    pub plan: String,
    /// Subdomain.
    pub slug: String,
    /// Main company.
    pub company_name: String,
    /// Further companies, one a line.
    pub extra_companies: Vec<String>,
    /// The Odoo administrator's password.
    pub odoo_password: String,
    /// The form's own key (a second submit returns the first's tenant).
    pub signup_key: String,
    /// `month` or `year` (a paid plan's billing).
    pub interval: String,
}

/// A tenant just signed up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTenant {
    /// Its id.
    pub id: String,
    /// Stripe Checkout, where the owner pays first (a plan with a price).
    pub checkout_url: Option<String>,
}

/// What the sign-up form of a new tenant needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignupForm {
    /// The plans on offer.
    pub plans: Vec<PlanCard>,
    /// A fresh key for this form (a second submit returns the first's tenant).
    pub signup_key: String,
    /// Tenants live at `<slug>.<base_domain>`.
    pub base_domain: String,
    /// The Odoo administrator's login (the owner's address).
    pub login: String,
}

/// Splits a textarea into trimmed, non-empty lines.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> PlanCard {
        PlanCard {
            key: "team".into(),
            name: "Team".into(),
            price_cents: 2900,
            yearly_price_cents: 29000,
            currency: "EUR".into(),
            trial_days: 0,
            max_users: Some(1),
            max_companies: 3,
            storage_mb: Some(2048),
            modules: vec![],
        }
    }

    #[test]
    fn plans_say_their_price_limits_and_whether_they_wait_for_a_payment() {
        let mut p = plan();
        assert_eq!(p.price(), "29.00 EUR / month");
        assert_eq!(p.yearly_price().as_deref(), Some("290.00 EUR / year"));
        assert!(p.needs_payment());
        assert_eq!(
            p.limits(),
            vec!["Up to 1 user", "Up to 3 companies", "2 GB of storage"]
        );
        p.trial_days = 14;
        assert!(p.needs_payment(), "a trial is started at checkout too");
        assert!(p.limits().contains(&"14-day free trial".to_owned()));
        p.price_cents = 0;
        assert_eq!(p.price(), "Free");
        assert_eq!(
            p.yearly_price(),
            None,
            "a free plan has no billing to choose"
        );
        assert!(!p.needs_payment());
    }
}
