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
    /// PBKDF2 rounds of owners' Odoo password hashes (Odoo's own default: 600,000).
    pub password_hash_rounds: u32,
    /// Minutes without a request after which a superadmin session ends.
    pub admin_session_idle_minutes: u32,
    /// Hours after which a superadmin session ends whatever the activity.
    pub admin_session_max_hours: u32,
    /// Failed sign-ins per account within 15 minutes before sign-in is refused.
    pub admin_login_max_failures: u32,
    /// Whether session cookies carry `Secure` (keep true outside local HTTP development).
    pub cookie_secure: bool,
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
            .field("odoo_url", &self.odoo_url.as_ref().map(Url::as_str))
            .field("odoo_is_simulator", &self.odoo_is_simulator)
            .field(
                "odoo_admin_url",
                &self.odoo_admin_url.as_ref().map(Url::as_str),
            )
            .field(
                "odoo_master_password",
                &self.odoo_master_password.as_ref().map(|_| "***"),
            )
            .field("odoo_version", &self.odoo_version)
            .field("odoo_filestore_dir", &self.odoo_filestore_dir)
            .field("backup_dir", &self.backup_dir)
            .field("warm_pool_size", &self.warm_pool_size)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("run_workers", &self.run_workers)
            .field("tenant_db_prefix", &self.tenant_db_prefix)
            .field("job_lease_seconds", &self.job_lease_seconds)
            .field("password_hash_rounds", &self.password_hash_rounds)
            .field(
                "admin_session_idle_minutes",
                &self.admin_session_idle_minutes,
            )
            .field("admin_session_max_hours", &self.admin_session_max_hours)
            .field("admin_login_max_failures", &self.admin_login_max_failures)
            .field("cookie_secure", &self.cookie_secure)
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
            "lowercase letters, digits and _ starting with a letter, at most 20, such as t_",
            |v| {
                let ok = v.len() <= 20
                    && v.starts_with(|c: char| c.is_ascii_lowercase())
                    && v.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                ok.then(|| v.to_owned())
            },
        );
        let job_lease_seconds = r.parsed(
            "JOB_LEASE_SECONDS",
            30,
            "a whole number of seconds from 1 to 3600",
            |v| v.parse().ok().filter(|n| (1..=3600).contains(n)),
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
        let admin_login_max_failures = r.parsed(
            "ADMIN_LOGIN_MAX_FAILURES",
            5,
            "a whole number from 1 to 100",
            |v| v.parse().ok().filter(|n| (1..=100).contains(n)),
        );
        let cookie_secure = r.parsed("COOKIE_SECURE", true, "true or false", parse_bool);

        match (r.errors.is_empty(), database_url) {
            (true, Some(database_url)) => Ok(Config {
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
                backup_dir,
                warm_pool_size,
                worker_concurrency,
                run_workers,
                tenant_db_prefix,
                job_lease_seconds,
                password_hash_rounds,
                admin_session_idle_minutes,
                admin_session_max_hours,
                admin_login_max_failures,
                cookie_secure,
            }),
            _ => Err(ConfigErrors(r.errors)),
        }
    }
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
    fn simulator_flag_needs_an_odoo_url() {
        let errors = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/saas"),
            ("ODOO_IS_SIMULATOR", "true"),
        ]))
        .expect_err("invalid");
        assert!(errors.to_string().contains("ODOO_IS_SIMULATOR"));
    }
}
