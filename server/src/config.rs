//! Typed configuration, read once from the environment and validated at start-up.
//!
//! Every problem is reported on its own line naming the variable, and the process exits
//! non-zero; nothing is read from files or compiled in except documented defaults.

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The validated configuration of the server.
#[derive(Clone)]
pub struct Config {
    /// PostgreSQL URL of the platform database (`saas` by default); holds a password.
    pub database_url: SecretString,
    /// Most connections the pool opens.
    pub db_max_connections: u32,
    /// Address the HTTP server binds.
    pub bind_addr: SocketAddr,
    /// Log line format.
    pub log_format: LogFormat,
    /// Folder of the built portal assets (`target/site`), served at `/pkg` and `/`.
    pub site_root: PathBuf,
    /// Folder of the built POS PWA (`target/pos-dist`), served at `/pos/`.
    pub pos_dist_dir: PathBuf,
    /// Parent domain of the portals and tenants (`<slug>.<base_domain>`).
    pub base_domain: String,
    /// The Odoo the platform drives, if any.
    pub odoo_url: Option<Url>,
    /// True when `odoo_url` is the bundled `odoo-sim`, started by the run script.
    pub odoo_is_simulator: bool,
    /// The internal Odoo with `list_db` on, for `db` service calls (defaults to `odoo_url`).
    pub odoo_admin_url: Option<Url>,
    /// Odoo's master password (`admin_passwd`), needed to build templates.
    pub odoo_master_password: Option<SecretString>,
    /// Odoo major version, part of template names (`tmpl_<version>_<plan>`).
    pub odoo_version: u32,
    /// Odoo's `<data_dir>/filestore`, when the platform mounts it (filestores are copied).
    pub odoo_filestore_dir: Option<PathBuf>,
    /// The PostgreSQL role Odoo connects as (its `db_user`). Tenant and standby databases
    /// are created owned by it; unset, they take their template's owner.
    pub odoo_db_role: Option<String>,
    /// Where `pg_dump -Fc` backups of tenant databases are written.
    pub backup_dir: PathBuf,
    /// Standby databases kept ready per plan template.
    pub warm_pool_size: u32,
    /// Jobs one worker process runs at a time.
    pub worker_concurrency: u32,
    /// Whether `serve` also runs job workers.
    pub run_workers: bool,
    /// Prefix of tenant database names (`t_` + slug); tests change it to stay apart.
    pub tenant_db_prefix: String,
    /// How long a worker's claim on a job lasts without renewal (a dead worker's job is
    /// taken over after this).
    pub job_lease_seconds: u32,
    /// How long jobs keep retrying, spending no attempts, while Odoo or PostgreSQL cannot be
    /// reached (outlives a real outage or restart).
    pub job_outage_retry_minutes: u32,
    /// PBKDF2 rounds of owners' Odoo password hashes (Odoo's own default: 600,000).
    pub password_hash_rounds: u32,
    /// Minutes without a request after which a superadmin session ends.
    pub admin_session_idle_minutes: u32,
    /// Hours after which a superadmin session ends whatever the activity.
    pub admin_session_max_hours: u32,
    /// Minutes without a request after which a tenant owner's session ends.
    pub owner_session_idle_minutes: u32,
    /// Hours after which a tenant owner's session ends whatever the activity.
    pub owner_session_max_hours: u32,
    /// Failed sign-ins of one client address, or of one account, that cost no delay; each
    /// further one doubles the delay (see `server::signin`).
    pub signin_free_failures: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (Traefik's network).
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// Whether session cookies carry `Secure` (keep true outside local HTTP development).
    pub cookie_secure: bool,
    /// How Traefik reaches the platform and which routes it gets (`routing`).
    pub routing: RoutingConfig,
    /// Stripe billing and dunning (see `crate::billing`).
    pub billing: BillingSettings,
    /// Outgoing email: the SMTP server, the sender, retries (see `crate::mail`).
    pub mail: MailSettings,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a local relay or a test sink only).
    None,
    /// Plain connection upgraded with STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// Outgoing email settings, read from `SMTP_*`, `MAIL_*`, `PLATFORM_NAME` and `PUBLIC_URL`.
#[derive(Clone)]
pub struct MailSettings {
    /// SMTP server host name or address.
    pub smtp_host: String,
    /// SMTP server port.
    pub smtp_port: u16,
    /// Connection security.
    pub smtp_tls: SmtpTls,
    /// SMTP user and password, when the server wants authentication.
    pub smtp_credentials: Option<(String, SecretString)>,
    /// How long one SMTP exchange may take.
    pub smtp_timeout_secs: u64,
    /// The `From` of every message, e.g. `Odoo SaaS <no-reply@example.com>`.
    pub from: String,
    /// Attempts before a message is `dead`.
    pub max_attempts: i32,
    /// The product's name in messages and pages.
    pub platform_name: String,
    /// Where owners reach the platform (`https://<BASE_DOMAIN>`): links in messages.
    pub public_url: Url,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field(
                "smtp_user",
                &self.smtp_credentials.as_ref().map(|(user, _)| user),
            )
            .field(
                "smtp_password",
                &self.smtp_credentials.as_ref().map(|_| "***"),
            )
            .field("smtp_timeout_secs", &self.smtp_timeout_secs)
            .field("from", &self.from)
            .field("max_attempts", &self.max_attempts)
            .field("platform_name", &self.platform_name)
            .field("public_url", &self.public_url.as_str())
            .finish()
    }
}

/// Settings of the route table Traefik polls (`server::routing`) and of custom domains.
#[derive(Clone)]
pub struct RoutingConfig {
    /// Address of the internal listener serving `/internal/traefik/config` (when
    /// `traefik_config_secret` is set) and `/metrics`; never routed by Traefik.
    pub internal_bind_addr: SocketAddr,
    /// The value Traefik must send in `X-Traefik-Config-Secret`; unset = endpoint off.
    pub traefik_config_secret: Option<SecretString>,
    /// The entry point every generated router attaches to (`web` locally, `websecure`).
    pub entrypoint: String,
    /// How Traefik reaches this server (the `platform` service of the route table).
    pub platform_url: Url,
    /// Where Odoo's long-polling path `/websocket` goes (its gevent port); default `ODOO_URL`.
    pub odoo_websocket_url: Option<Url>,
    /// Certificate resolver of the one wildcard certificate `<domain>` + `*.<domain>`
    /// (DNS-01); unset = the routers carry no TLS (plain HTTP, the local topology).
    pub wildcard_resolver: Option<String>,
    /// Certificate resolver of custom domains (HTTP-01, one certificate per host).
    pub custom_domain_resolver: Option<String>,
    /// Nameservers the custom-domain check asks (`ip:port`); empty = `/etc/resolv.conf`.
    pub dns_nameservers: Vec<SocketAddr>,
    /// Public addresses of the ingress: an A/AAAA record to one of them also verifies a
    /// custom domain (for apex domains, which cannot have a CNAME).
    pub ingress_ips: Vec<std::net::IpAddr>,
    /// Time between two DNS checks of a pending custom domain.
    pub custom_domain_check_interval: std::time::Duration,
    /// How long a custom domain may stay pending before it fails.
    pub custom_domain_verify_timeout: std::time::Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database", &redacted_database_url(&self.database_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("bind_addr", &self.bind_addr)
            .field("log_format", &self.log_format)
            .field("site_root", &self.site_root)
            .field("pos_dist_dir", &self.pos_dist_dir)
            .field("base_domain", &self.base_domain)
            .field("odoo_url", &self.odoo_url.as_ref().map(redacted_url))
            .field("odoo_is_simulator", &self.odoo_is_simulator)
            .field(
                "odoo_admin_url",
                &self.odoo_admin_url.as_ref().map(redacted_url),
            )
            .field(
                "odoo_master_password",
                &self.odoo_master_password.as_ref().map(|_| "***"),
            )
            .field("odoo_version", &self.odoo_version)
            .field("odoo_filestore_dir", &self.odoo_filestore_dir)
            .field("odoo_db_role", &self.odoo_db_role)
            .field("backup_dir", &self.backup_dir)
            .field("warm_pool_size", &self.warm_pool_size)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("run_workers", &self.run_workers)
            .field("tenant_db_prefix", &self.tenant_db_prefix)
            .field("job_lease_seconds", &self.job_lease_seconds)
            .field("job_outage_retry_minutes", &self.job_outage_retry_minutes)
            .field("password_hash_rounds", &self.password_hash_rounds)
            .field(
                "admin_session_idle_minutes",
                &self.admin_session_idle_minutes,
            )
            .field("admin_session_max_hours", &self.admin_session_max_hours)
            .field(
                "owner_session_idle_minutes",
                &self.owner_session_idle_minutes,
            )
            .field("owner_session_max_hours", &self.owner_session_max_hours)
            .field("signin_free_failures", &self.signin_free_failures)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cookie_secure", &self.cookie_secure)
            .field("routing", &self.routing)
            .field("billing", &self.billing)
            .field("mail", &self.mail)
            .finish()
    }
}

impl fmt::Debug for RoutingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingConfig")
            .field("internal_bind_addr", &self.internal_bind_addr)
            .field(
                "traefik_config_secret",
                &self.traefik_config_secret.as_ref().map(|_| "***"),
            )
            .field("entrypoint", &self.entrypoint)
            .field("platform_url", &redacted_url(&self.platform_url))
            .field(
                "odoo_websocket_url",
                &self.odoo_websocket_url.as_ref().map(redacted_url),
            )
            .field("wildcard_resolver", &self.wildcard_resolver)
            .field("custom_domain_resolver", &self.custom_domain_resolver)
            .field("dns_nameservers", &self.dns_nameservers)
            .field("ingress_ips", &self.ingress_ips)
            .field(
                "custom_domain_check_interval",
                &self.custom_domain_check_interval,
            )
            .field(
                "custom_domain_verify_timeout",
                &self.custom_domain_verify_timeout,
            )
            .finish()
    }
}

/// The database URL without its password, safe to log.
pub fn redacted_database_url(url: &SecretString) -> String {
    match Url::parse(url.expose_secret()) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable>".to_owned(),
    }
}

/// A URL for logs: its password, if any, as `***`.
pub fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// A URL for pages: without its user name or password.
pub fn url_without_credentials(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// Every problem found in the environment, one per variable.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "configuration error: {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads variables and collects problems instead of stopping at the first one.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    errors: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn required(&mut self, name: &str, what: &str) -> Option<String> {
        match self.raw(name) {
            Some(v) => Some(v.to_owned()),
            None => {
                self.errors
                    .push(format!("{name} is not set; it must be {what}"));
                None
            }
        }
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        default: T,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        match self.raw(name) {
            None => default,
            Some(v) => match parse(v) {
                Some(parsed) => parsed,
                None => {
                    self.errors
                        .push(format!("{name}={v:?} is not valid; it must be {what}"));
                    default
                }
            },
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the given variables (the environment, or a map in tests).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigErrors> {
        let mut r = Reader {
            vars,
            errors: Vec::new(),
        };

        let database_url = r
            .required(
                "DATABASE_URL",
                "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/saas",
            )
            .and_then(|raw| match Url::parse(&raw) {
                Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") && u.host_str().is_some() => {
                    Some(raw)
                }
                _ => {
                    // The value may hold a password: never echo it.
                    r.errors.push(
                        "DATABASE_URL is not a valid PostgreSQL URL (expected postgres://user[:password]@host[:port]/database)"
                            .to_owned(),
                    );
                    None
                }
            });
        let db_max_connections = r.parsed(
            "DB_MAX_CONNECTIONS",
            10,
            "a whole number from 1 to 1000",
            |v| v.parse().ok().filter(|n| (1..=1000).contains(n)),
        );
        let bind_addr = r.parsed(
            "BIND_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 3000)),
            "an address and port such as 127.0.0.1:3000",
            |v| v.parse().ok(),
        );
        let log_format = r.parsed(
            "LOG_FORMAT",
            LogFormat::Pretty,
            "pretty or json",
            |v| match v.to_ascii_lowercase().as_str() {
                "pretty" => Some(LogFormat::Pretty),
                "json" => Some(LogFormat::Json),
                _ => None,
            },
        );
        let site_root = PathBuf::from(r.raw("SITE_ROOT").unwrap_or("target/site"));
        let pos_dist_dir = PathBuf::from(r.raw("POS_DIST_DIR").unwrap_or("target/pos-dist"));
        let base_domain = r.parsed(
            "BASE_DOMAIN",
            "localhost".to_owned(),
            "a DNS name such as example.com",
            |v| {
                let ok = v.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
                ok.then(|| v.to_ascii_lowercase())
            },
        );
        let odoo_url = r.parsed(
            "ODOO_URL",
            None,
            "an http(s) URL such as http://127.0.0.1:8069",
            |v| {
                Url::parse(v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .map(Some)
            },
        );
        let odoo_is_simulator = r.parsed("ODOO_IS_SIMULATOR", false, "true or false", parse_bool);
        if odoo_is_simulator && odoo_url.is_none() {
            r.errors
                .push("ODOO_IS_SIMULATOR=true needs ODOO_URL, the simulator's address".to_owned());
        }

        let odoo_admin_url = r.parsed(
            "ODOO_ADMIN_URL",
            odoo_url.clone(),
            "an http(s) URL such as http://odoo-admin:8069",
            |v| {
                Url::parse(v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .map(Some)
            },
        );
        let odoo_master_password = r
            .raw("ODOO_MASTER_PASSWORD")
            .map(|v| SecretString::from(v.to_owned()));
        let odoo_version = r.parsed(
            "ODOO_VERSION",
            18,
            "an Odoo major version from 16 to 99",
            |v| v.parse().ok().filter(|n| (16..=99).contains(n)),
        );
        let odoo_filestore_dir = r.raw("ODOO_FILESTORE_DIR").map(PathBuf::from);
        let odoo_db_role = r.parsed(
            "ODOO_DB_ROLE",
            None,
            "a PostgreSQL role name of lowercase letters, digits and _ (Odoo's db_user), such as odoo",
            |v| {
                let ok = v.len() <= 63
                    && v.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && v.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                ok.then(|| Some(v.to_owned()))
            },
        );
        let backup_dir = PathBuf::from(r.raw("BACKUP_DIR").unwrap_or("./backups"));
        let warm_pool_size = r.parsed("WARM_POOL_SIZE", 2, "a whole number from 0 to 100", |v| {
            v.parse().ok().filter(|n| *n <= 100)
        });
        let worker_concurrency = r.parsed(
            "WORKER_CONCURRENCY",
            4,
            "a whole number from 1 to 256",
            |v| v.parse().ok().filter(|n| (1..=256).contains(n)),
        );
        let run_workers = r.parsed("RUN_WORKERS", true, "true or false", parse_bool);
        let tenant_db_prefix = r.parsed(
            "TENANT_DB_PREFIX",
            "t_".to_owned(),
            "lowercase letters, digits and _ starting with a letter, at most 20, such as t_, \
             not starting with the platform's own tmpl_, build_, pool_, clone_ or dump_",
            |v| {
                let ok = v.len() <= 20
                    && v.starts_with(|c: char| c.is_ascii_lowercase())
                    && v.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && !crate::db_manager::RESERVED_PREFIXES
                        .iter()
                        .any(|r| v.starts_with(r));
                ok.then(|| v.to_owned())
            },
        );
        let job_lease_seconds = r.parsed(
            "JOB_LEASE_SECONDS",
            30,
            "a whole number of seconds from 1 to 3600",
            |v| v.parse().ok().filter(|n| (1..=3600).contains(n)),
        );
        let job_outage_retry_minutes = r.parsed(
            "JOB_OUTAGE_RETRY_MINUTES",
            60,
            "a whole number of minutes from 1 to 10080",
            |v| v.parse().ok().filter(|n| (1..=10_080).contains(n)),
        );
        let password_hash_rounds = r.parsed(
            "PASSWORD_HASH_ROUNDS",
            600_000,
            "a whole number from 1000 to 10000000",
            |v| v.parse().ok().filter(|n| (1000..=10_000_000).contains(n)),
        );
        let admin_session_idle_minutes = r.parsed(
            "ADMIN_SESSION_IDLE_MINUTES",
            30,
            "a whole number of minutes from 1 to 1440",
            |v| v.parse().ok().filter(|n| (1..=1440).contains(n)),
        );
        let admin_session_max_hours = r.parsed(
            "ADMIN_SESSION_MAX_HOURS",
            12,
            "a whole number of hours from 1 to 168",
            |v| v.parse().ok().filter(|n| (1..=168).contains(n)),
        );
        let owner_session_idle_minutes = r.parsed(
            "OWNER_SESSION_IDLE_MINUTES",
            120,
            "a whole number of minutes from 1 to 10080",
            |v| v.parse().ok().filter(|n| (1..=10080).contains(n)),
        );
        let owner_session_max_hours = r.parsed(
            "OWNER_SESSION_MAX_HOURS",
            72,
            "a whole number of hours from 1 to 720",
            |v| v.parse().ok().filter(|n| (1..=720).contains(n)),
        );
        let signin_free_failures = r.parsed(
            "SIGNIN_FREE_FAILURES",
            5,
            "a whole number from 1 to 100",
            |v| v.parse().ok().filter(|n| (1..=100).contains(n)),
        );
        let trusted_proxies = r.parsed(
            "TRUSTED_PROXIES",
            crate::client_address::TrustedProxies::default(),
            "addresses or networks separated by commas, such as 172.16.0.0/12,10.0.0.5",
            crate::client_address::TrustedProxies::parse,
        );
        let cookie_secure = r.parsed("COOKIE_SECURE", true, "true or false", parse_bool);
        let routing = read_routing(&mut r, bind_addr, odoo_url.as_ref());
        let billing = read_billing_settings(&mut r);
        let mail = read_mail_settings(&mut r, &base_domain);

        match (r.errors.is_empty(), database_url, mail) {
            (true, Some(database_url), Some(mail)) => Ok(Config {
                database_url: SecretString::from(database_url),
                db_max_connections,
                bind_addr,
                log_format,
                site_root,
                pos_dist_dir,
                base_domain,
                odoo_url,
                odoo_is_simulator,
                odoo_admin_url,
                odoo_master_password,
                odoo_version,
                odoo_filestore_dir,
                odoo_db_role,
                backup_dir,
                warm_pool_size,
                worker_concurrency,
                run_workers,
                tenant_db_prefix,
                job_lease_seconds,
                job_outage_retry_minutes,
                password_hash_rounds,
                admin_session_idle_minutes,
                admin_session_max_hours,
                owner_session_idle_minutes,
                owner_session_max_hours,
                signin_free_failures,
                trusted_proxies,
                cookie_secure,
                routing,
                billing,
                mail,
            }),
            _ => Err(ConfigErrors(r.errors)),
        }
    }
}

/// Stripe billing: the API key and endpoint, the webhook signing secrets (two during a
/// rotation), and the dunning calendar.
#[derive(Clone)]
pub struct BillingSettings {
    /// Stripe secret API key (`sk_…`/`rk_…`); unset: paid plans cannot be sold.
    pub stripe_secret_key: Option<SecretString>,
    /// Stripe's API base URL (localstripe in tests and the local run).
    pub stripe_api_base: Url,
    /// Webhook signing secrets: the current one, then the previous one during a rotation.
    pub webhook_secrets: Vec<SecretString>,
    /// Days a past-due subscription keeps its tenant running before it is suspended.
    pub grace_days: u32,
    /// Days a cancelled tenant is kept (suspended) before it is deleted with a final backup.
    pub retention_days: u32,
    /// Reminder emails during the grace period, as days before the suspension.
    pub reminder_days: Vec<u32>,
    /// How often the dunning sweep runs.
    pub sweep_interval_secs: u64,
}

impl fmt::Debug for BillingSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingSettings")
            .field(
                "stripe_secret_key",
                &self.stripe_secret_key.as_ref().map(|_| "***"),
            )
            .field("stripe_api_base", &self.stripe_api_base.as_str())
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("grace_days", &self.grace_days)
            .field("retention_days", &self.retention_days)
            .field("reminder_days", &self.reminder_days)
            .field("sweep_interval_secs", &self.sweep_interval_secs)
            .finish()
    }
}

/// The `STRIPE_*` and `BILLING_*` variables.
fn read_billing_settings(r: &mut Reader<'_>) -> BillingSettings {
    let stripe_secret_key = match r.raw("STRIPE_SECRET_KEY") {
        Some(v)
            if (v.starts_with("sk_") || v.starts_with("rk_"))
                && v.len() > 5
                && v.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Some(SecretString::from(v.to_owned()))
        }
        Some(_) => {
            // Never echo a secret.
            r.errors.push(
                "STRIPE_SECRET_KEY is not a Stripe secret key; it must start with sk_ or rk_"
                    .to_owned(),
            );
            None
        }
        None => None,
    };
    let stripe_api_base = r.parsed(
        "STRIPE_API_BASE",
        Url::parse("https://api.stripe.com/").expect("valid default"),
        "an http(s) URL such as https://api.stripe.com/",
        |v| {
            Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        },
    );
    let mut webhook_secrets = Vec::new();
    for name in ["STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_PREVIOUS"] {
        match r.raw(name) {
            Some(v) if v.starts_with("whsec_") && v.len() > 6 => {
                webhook_secrets.push(SecretString::from(v.to_owned()))
            }
            Some(_) => r.errors.push(format!(
                "{name} is not a webhook signing secret; it must start with whsec_"
            )),
            None => {}
        }
    }
    if r.raw("STRIPE_WEBHOOK_SECRET_PREVIOUS").is_some() && r.raw("STRIPE_WEBHOOK_SECRET").is_none()
    {
        r.errors.push(
            "STRIPE_WEBHOOK_SECRET_PREVIOUS is set without STRIPE_WEBHOOK_SECRET (the current one)"
                .to_owned(),
        );
    }
    let grace_days = r.parsed(
        "BILLING_GRACE_DAYS",
        7,
        "a whole number of days from 0 to 60",
        |v| v.parse().ok().filter(|n| *n <= 60),
    );
    let retention_days = r.parsed(
        "BILLING_RETENTION_DAYS",
        30,
        "a whole number of days from 1 to 365",
        |v| v.parse().ok().filter(|n| (1..=365).contains(n)),
    );
    let reminder_days = r.parsed(
        "BILLING_REMINDER_DAYS",
        vec![3, 1],
        "comma-separated days before the suspension, each from 1 to 60, such as 3,1",
        |v| {
            let mut days = Vec::new();
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                days.push(part.parse::<u32>().ok().filter(|n| (1..=60).contains(n))?);
            }
            days.sort_unstable_by(|a, b| b.cmp(a));
            days.dedup();
            Some(days)
        },
    );
    let sweep_interval_secs = r.parsed(
        "BILLING_SWEEP_SECONDS",
        600,
        "a whole number of seconds from 10 to 86400",
        |v| v.parse().ok().filter(|n| (10..=86_400).contains(n)),
    );
    BillingSettings {
        stripe_secret_key,
        stripe_api_base,
        webhook_secrets,
        grace_days,
        retention_days,
        reminder_days,
        sweep_interval_secs,
    }
}

/// The routing settings (`TRAEFIK_*`, `INTERNAL_BIND_ADDR`, `ODOO_WEBSOCKET_URL`).
fn read_routing(
    r: &mut Reader<'_>,
    bind_addr: SocketAddr,
    odoo_url: Option<&Url>,
) -> RoutingConfig {
    let http_url = |v: &str| {
        Url::parse(v)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
    };
    let internal_bind_addr = r.parsed(
        "INTERNAL_BIND_ADDR",
        SocketAddr::from(([127, 0, 0, 1], 3002)),
        "an address and port such as 127.0.0.1:3002",
        |v| v.parse().ok(),
    );
    let traefik_config_secret = match r.raw("TRAEFIK_CONFIG_SECRET") {
        Some(v) if v.len() < 16 || !v.chars().all(|c| c.is_ascii_graphic()) => {
            // Never echo a secret, even a bad one.
            r.errors.push(
                "TRAEFIK_CONFIG_SECRET is not valid; it must be at least 16 visible ASCII characters (openssl rand -hex 32)"
                    .to_owned(),
            );
            None
        }
        Some(v) => Some(SecretString::from(v.to_owned())),
        None => None,
    };
    let resolver_name = |v: &str| {
        (v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .then(|| v.to_owned())
    };
    let entrypoint = r.parsed(
        "TRAEFIK_ENTRYPOINT",
        "web".to_owned(),
        "a Traefik entry point name such as web or websecure",
        resolver_name,
    );
    // Traefik reaches this server at its own address unless told otherwise (a wildcard
    // bind address is not a destination: use loopback).
    let default_platform = {
        let mut addr = bind_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Url::parse(&format!("http://{addr}")).ok()
    };
    let platform_url = r.parsed(
        "TRAEFIK_PLATFORM_URL",
        default_platform,
        "an http(s) URL such as http://server:3000",
        |v| http_url(v).map(Some),
    );
    let odoo_websocket_url = r.parsed(
        "ODOO_WEBSOCKET_URL",
        odoo_url.cloned(),
        "an http(s) URL such as http://odoo:8072",
        |v| http_url(v).map(Some),
    );
    let wildcard_resolver = r.parsed(
        "TRAEFIK_WILDCARD_RESOLVER",
        None,
        "a Traefik certificate resolver name such as wildcard",
        |v| resolver_name(v).map(Some),
    );
    let custom_domain_resolver = r.parsed(
        "TRAEFIK_CUSTOM_DOMAIN_RESOLVER",
        None,
        "a Traefik certificate resolver name such as custom-domains",
        |v| resolver_name(v).map(Some),
    );
    let dns_nameservers = r.parsed(
        "CUSTOM_DOMAIN_NAMESERVERS",
        Vec::new(),
        "a comma-separated list of ip:port such as 1.1.1.1:53,8.8.8.8:53",
        |v| v.split(',').map(|s| s.trim().parse().ok()).collect(),
    );
    let ingress_ips = r.parsed(
        "INGRESS_IPS",
        Vec::new(),
        "a comma-separated list of IP addresses such as 203.0.113.7,2001:db8::7",
        |v| v.split(',').map(|s| s.trim().parse().ok()).collect(),
    );
    let custom_domain_check_interval = r.parsed(
        "CUSTOM_DOMAIN_CHECK_SECONDS",
        std::time::Duration::from_secs(60),
        "a whole number of seconds from 1 to 3600",
        |v| {
            v.parse()
                .ok()
                .filter(|n| (1..=3600).contains(n))
                .map(std::time::Duration::from_secs)
        },
    );
    let custom_domain_verify_timeout = r.parsed(
        "CUSTOM_DOMAIN_VERIFY_TIMEOUT_SECONDS",
        std::time::Duration::from_secs(72 * 3600),
        "a whole number of seconds from 1 to 2592000 (30 days)",
        |v| {
            v.parse()
                .ok()
                .filter(|n| (1..=2_592_000).contains(n))
                .map(std::time::Duration::from_secs)
        },
    );
    RoutingConfig {
        dns_nameservers,
        ingress_ips,
        custom_domain_check_interval,
        custom_domain_verify_timeout,
        internal_bind_addr,
        traefik_config_secret,
        entrypoint,
        platform_url: platform_url.unwrap_or_else(|| {
            // Unreachable: a SocketAddr always makes a valid URL.
            Url::parse("http://127.0.0.1:3000").expect("a valid literal URL")
        }),
        odoo_websocket_url,
        wildcard_resolver,
        custom_domain_resolver,
    }
}

/// The `SMTP_*`, `MAIL_*`, `PLATFORM_NAME` and `PUBLIC_URL` variables. The defaults reach the
/// local sink `scripts/run.sh` starts (maildev on 127.0.0.1:1025, plain SMTP).
fn read_mail_settings(r: &mut Reader<'_>, base_domain: &str) -> Option<MailSettings> {
    let smtp_host = r.parsed(
        "SMTP_HOST",
        "127.0.0.1".to_owned(),
        "a host name or IP address such as smtp.example.com",
        |v| {
            let ok = v.len() <= 253
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            ok.then(|| v.to_owned())
        },
    );
    let smtp_tls = r.parsed(
        "SMTP_TLS",
        SmtpTls::None,
        "none, starttls or tls",
        |v| match v.to_ascii_lowercase().as_str() {
            "none" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::Starttls),
            "tls" => Some(SmtpTls::Tls),
            _ => None,
        },
    );
    let default_port = match smtp_tls {
        SmtpTls::None => 1025,
        SmtpTls::Starttls => 587,
        SmtpTls::Tls => 465,
    };
    let smtp_port = r.parsed(
        "SMTP_PORT",
        default_port,
        "a port number from 1 to 65535",
        |v| v.parse().ok().filter(|p| *p >= 1),
    );
    let user = r.raw("SMTP_USERNAME").map(str::to_owned);
    let password = r
        .raw("SMTP_PASSWORD")
        .map(|v| SecretString::from(v.to_owned()));
    let smtp_credentials = match (user, password) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        (Some(_), None) => {
            r.errors
                .push("SMTP_USERNAME is set without SMTP_PASSWORD; set both or neither".to_owned());
            None
        }
        (None, Some(_)) => {
            r.errors
                .push("SMTP_PASSWORD is set without SMTP_USERNAME; set both or neither".to_owned());
            None
        }
    };
    let loopback = matches!(
        smtp_host.as_str(),
        "127.0.0.1" | "::1" | "[::1]" | "localhost"
    );
    if smtp_credentials.is_some() && smtp_tls == SmtpTls::None && !loopback {
        r.errors.push(format!(
            "SMTP_TLS=none with SMTP_USERNAME would send the SMTP password in clear to {smtp_host}; use SMTP_TLS=starttls or tls"
        ));
    }
    if smtp_tls != SmtpTls::None
        && lettre::transport::smtp::client::TlsParameters::new(smtp_host.clone()).is_err()
    {
        r.errors.push(format!(
            "SMTP_HOST={smtp_host:?} cannot be checked against a TLS certificate; use the server's DNS name"
        ));
    }
    let smtp_timeout_secs = r.parsed(
        "SMTP_TIMEOUT_SECONDS",
        15,
        "a whole number of seconds from 1 to 300",
        |v| v.parse().ok().filter(|n| (1..=300).contains(n)),
    );
    let platform_name = r.parsed(
        "PLATFORM_NAME",
        "Odoo SaaS".to_owned(),
        "1 to 60 printable characters",
        |v| {
            let ok = v.chars().count() <= 60 && !v.chars().any(|c| c.is_control() || c == '"');
            ok.then(|| v.to_owned())
        },
    );
    let from = r.parsed(
        "MAIL_FROM",
        format!("{platform_name} <no-reply@{base_domain}>"),
        "a mailbox such as \"Odoo SaaS <no-reply@example.com>\" or no-reply@example.com",
        |v| {
            v.parse::<lettre::message::Mailbox>()
                .ok()
                .map(|m| m.to_string())
        },
    );
    let max_attempts = r.parsed(
        "MAIL_MAX_ATTEMPTS",
        20,
        "a whole number from 1 to 100",
        |v| v.parse().ok().filter(|n| (1..=100).contains(n)),
    );
    // BASE_DOMAIN is a checked DNS name, so the default always parses.
    let default_public_url = Url::parse(&format!("https://{base_domain}/")).ok();
    let public_url = r.parsed(
        "PUBLIC_URL",
        default_public_url,
        "the http(s) address owners open, such as https://example.com",
        |v| {
            Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .map(Some)
        },
    )?;
    Some(MailSettings {
        smtp_host,
        smtp_port,
        smtp_tls,
        smtp_credentials,
        smtp_timeout_secs,
        from,
        max_attempts,
        platform_name,
        public_url,
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn minimal_environment_gets_local_defaults() {
        let config = Config::from_vars(&vars(&[(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1/saas",
        )]))
        .expect("valid");
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.base_domain, "localhost");
        assert!(config.odoo_url.is_none());
    }

    #[test]
    fn every_problem_is_reported_on_its_own_line_naming_the_variable() {
        let errors = Config::from_vars(&vars(&[
            ("BIND_ADDR", "not-an-address"),
            ("LOG_FORMAT", "xml"),
            ("DB_MAX_CONNECTIONS", "0"),
            ("ODOO_URL", "ftp://x"),
        ]))
        .expect_err("invalid");
        let text = errors.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        for name in [
            "DATABASE_URL",
            "BIND_ADDR",
            "LOG_FORMAT",
            "DB_MAX_CONNECTIONS",
            "ODOO_URL",
        ] {
            assert!(
                lines.iter().any(|l| l.contains(name)),
                "{name} missing in {text}"
            );
        }
    }

    #[test]
    fn a_bad_database_url_is_refused_without_echoing_its_password() {
        let errors = Config::from_vars(&vars(&[("DATABASE_URL", "mysql://u:hunter2@db/x")]))
            .expect_err("invalid");
        assert!(errors.to_string().contains("DATABASE_URL"));
        assert!(!errors.to_string().contains("hunter2"));
    }

    #[test]
    fn debug_output_redacts_the_database_password() {
        let config = Config::from_vars(&vars(&[(
            "DATABASE_URL",
            "postgres://u:hunter2@db:5432/saas",
        )]))
        .expect("valid");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db:5432/saas"), "{shown}");
    }

    #[test]
    fn odoo_urls_never_show_their_credentials() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("ODOO_URL", "http://odoo:s3cret-odoo@odoo.internal:8069"),
            (
                "ODOO_ADMIN_URL",
                "http://admin:s3cret-admin@odoo.internal:8070",
            ),
        ]))
        .expect("valid");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("odoo.internal:8069"), "{shown}");
        let url = config.odoo_url.as_ref().expect("odoo url");
        assert_eq!(url_without_credentials(url), "http://odoo.internal:8069/");
    }

    #[test]
    fn tenant_settings_have_defaults_and_the_master_password_is_redacted() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("ODOO_URL", "http://127.0.0.1:8069"),
            ("ODOO_MASTER_PASSWORD", "sup3r-secret"),
        ]))
        .expect("valid");
        assert_eq!(config.odoo_admin_url, config.odoo_url);
        assert_eq!(config.odoo_version, 18);
        assert_eq!(config.warm_pool_size, 2);
        assert_eq!(config.worker_concurrency, 4);
        assert!(config.run_workers);
        assert_eq!(config.tenant_db_prefix, "t_");
        assert!(!format!("{config:?}").contains("sup3r-secret"));
    }

    #[test]
    fn bad_tenant_settings_name_their_variable() {
        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("WARM_POOL_SIZE", "lots"),
            ("TENANT_DB_PREFIX", "T-"),
            ("RUN_WORKERS", "maybe"),
        ]))
        .expect_err("invalid");
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        for name in ["WARM_POOL_SIZE", "TENANT_DB_PREFIX", "RUN_WORKERS"] {
            assert!(text.contains(name), "{name} missing in {text}");
        }
    }

    #[test]
    fn bad_domain_hash_rounds_and_odoo_version_name_their_variable() {
        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("BASE_DOMAIN", "bad_domain..com"),
            ("PASSWORD_HASH_ROUNDS", "10"),
            ("ODOO_VERSION", "15"),
        ]))
        .expect_err("invalid");
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        for name in ["BASE_DOMAIN", "PASSWORD_HASH_ROUNDS", "ODOO_VERSION"] {
            assert!(text.contains(name), "{name} missing in {text}");
        }
    }

    #[test]
    fn odoo_db_role_is_a_plain_role_name() {
        let ok = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("ODOO_DB_ROLE", "odoo"),
        ]))
        .expect("valid");
        assert_eq!(ok.odoo_db_role.as_deref(), Some("odoo"));
        for bad in ["Odoo", "odoo; drop", "1odoo", "odoo\"x"] {
            let errors = Config::from_vars(&vars(&[
                ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
                ("ODOO_DB_ROLE", bad),
            ]))
            .expect_err("refused");
            assert!(
                errors.to_string().contains("ODOO_DB_ROLE"),
                "{bad}: {errors}"
            );
        }
    }

    #[test]
    fn routing_settings_have_local_defaults_and_bad_ones_name_their_variable() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("BIND_ADDR", "0.0.0.0:3000"),
            ("ODOO_URL", "http://odoo:8069"),
            ("TRAEFIK_CONFIG_SECRET", "0123456789abcdef-secret"),
        ]))
        .expect("valid");
        let routing = &config.routing;
        assert_eq!(routing.internal_bind_addr.to_string(), "127.0.0.1:3002");
        assert_eq!(routing.entrypoint, "web");
        assert_eq!(routing.platform_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(
            routing.odoo_websocket_url.as_ref().map(Url::as_str),
            Some("http://odoo:8069/")
        );
        assert!(routing.wildcard_resolver.is_none());
        assert!(!format!("{config:?}").contains("0123456789abcdef-secret"));

        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("TRAEFIK_CONFIG_SECRET", "short-secret"),
            ("TRAEFIK_WILDCARD_RESOLVER", "le@prod"),
            ("INGRESS_IPS", "203.0.113.7,not-an-ip"),
            ("CUSTOM_DOMAIN_NAMESERVERS", "1.1.1.1"),
        ]))
        .expect_err("invalid");
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(!text.contains("short-secret"), "{text}");
        for name in [
            "TRAEFIK_CONFIG_SECRET",
            "TRAEFIK_WILDCARD_RESOLVER",
            "INGRESS_IPS",
            "CUSTOM_DOMAIN_NAMESERVERS",
        ] {
            assert!(text.contains(name), "{name} missing in {text}");
        }
    }

    #[test]
    fn billing_settings_have_defaults_and_secrets_are_redacted() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("STRIPE_SECRET_KEY", "sk_test_hunter2hunter2"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_new"),
            ("STRIPE_WEBHOOK_SECRET_PREVIOUS", "whsec_old"),
            ("BILLING_REMINDER_DAYS", "1, 5,3"),
        ]))
        .expect("valid");
        let b = &config.billing;
        assert_eq!(b.stripe_api_base.as_str(), "https://api.stripe.com/");
        assert_eq!(b.webhook_secrets.len(), 2);
        assert_eq!((b.grace_days, b.retention_days), (7, 30));
        assert_eq!(b.reminder_days, vec![5, 3, 1]);
        let shown = format!("{config:?}");
        for secret in ["hunter2", "whsec_new", "whsec_old"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn bad_billing_settings_name_their_variable_without_echoing_secrets() {
        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("STRIPE_SECRET_KEY", "pk_live_not_a_secret_key"),
            ("STRIPE_WEBHOOK_SECRET_PREVIOUS", "whsec_old"),
            ("BILLING_GRACE_DAYS", "-1"),
            ("BILLING_REMINDER_DAYS", "3,zero"),
        ]))
        .expect_err("invalid");
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 4, "{text}");
        for name in [
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET_PREVIOUS",
            "BILLING_GRACE_DAYS",
            "BILLING_REMINDER_DAYS",
        ] {
            assert!(text.contains(name), "{name} missing in {text}");
        }
        assert!(!text.contains("pk_live_not_a_secret_key"), "{text}");
    }

    #[test]
    fn mail_settings_default_to_the_local_sink_and_hide_the_smtp_password() {
        let config = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("BASE_DOMAIN", "cloud.example.com"),
            ("SMTP_USERNAME", "mailer"),
            ("SMTP_PASSWORD", "smtp-s3cret"),
        ]))
        .expect("valid");
        let mail = &config.mail;
        assert_eq!(
            (mail.smtp_host.as_str(), mail.smtp_port),
            ("127.0.0.1", 1025)
        );
        assert_eq!(mail.smtp_tls, SmtpTls::None);
        assert_eq!(mail.from, "Odoo SaaS <no-reply@cloud.example.com>");
        assert_eq!(mail.public_url.as_str(), "https://cloud.example.com/");
        assert_eq!(mail.max_attempts, 20);
        let shown = format!("{config:?}");
        assert!(!shown.contains("smtp-s3cret"), "{shown}");
        assert!(shown.contains("mailer"), "{shown}");
    }

    #[test]
    fn smtp_tls_modes_pick_their_standard_ports() {
        for (mode, port) in [("starttls", 587), ("tls", 465), ("none", 1025)] {
            let config = Config::from_vars(&vars(&[
                ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
                ("SMTP_HOST", "smtp.example.com"),
                ("SMTP_TLS", mode),
            ]))
            .expect("valid");
            assert_eq!(config.mail.smtp_port, port, "{mode}");
        }
    }

    #[test]
    fn bad_mail_settings_name_their_variable() {
        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("SMTP_TLS", "ssl3"),
            ("SMTP_PORT", "70000"),
            ("SMTP_USERNAME", "only-a-user"),
            ("MAIL_FROM", "not a mailbox"),
            ("PUBLIC_URL", "ftp://example.com"),
            ("MAIL_MAX_ATTEMPTS", "0"),
        ]))
        .expect_err("invalid");
        let text = errors.to_string();
        for name in [
            "SMTP_TLS",
            "SMTP_PORT",
            "SMTP_USERNAME",
            "MAIL_FROM",
            "PUBLIC_URL",
            "MAIL_MAX_ATTEMPTS",
        ] {
            assert!(text.contains(name), "{name} missing in {text}");
        }
        assert_eq!(text.lines().count(), 6, "{text}");
    }

    #[test]
    fn simulator_flag_needs_an_odoo_url() {
        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("ODOO_IS_SIMULATOR", "true"),
        ]))
        .expect_err("invalid");
        assert!(errors.to_string().contains("ODOO_IS_SIMULATOR"));
    }
}
