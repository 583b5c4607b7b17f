//! `common.version` result and Odoo major-version detection.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Result of `common.version` (also `/web/webclient/version_info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// E.g. `"18.0-20250702"` or `"saas~18.2+e"`.
    pub server_version: String,
    /// E.g. `[18, 0, 0, "final", 0, ""]`; the first item may be a string like `"saas~18"`.
    #[serde(default)]
    pub server_version_info: Vec<Value>,
    /// E.g. `"18.0"` or `"saas~18.2"`.
    #[serde(default)]
    pub server_serie: String,
    /// Always 1 so far.
    #[serde(default)]
    pub protocol_version: i64,
}

impl VersionInfo {
    /// The major series this server behaves like, if supported (16 and later).
    pub fn odoo_version(&self) -> Option<OdooVersion> {
        self.server_version_info
            .first()
            .and_then(|v| match v {
                Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                Value::String(s) => parse_major(s),
                _ => None,
            })
            .or_else(|| parse_major(&self.server_serie))
            .or_else(|| parse_major(&self.server_version))
            .and_then(OdooVersion::from_major)
    }
}

/// The Odoo series whose RPC behaviour this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OdooVersion {
    /// 16.0 (and saas~16.x).
    V16,
    /// 17.0 (and saas~17.x).
    V17,
    /// 18.0 (and saas~18.x).
    V18,
    /// 19.0 and later (assumed to behave like 19).
    V19,
}

impl OdooVersion {
    /// Maps a major number: 16, 17, 18, ≥19 (as V19); `None` below 16.
    pub fn from_major(major: u32) -> Option<Self> {
        match major {
            16 => Some(OdooVersion::V16),
            17 => Some(OdooVersion::V17),
            18 => Some(OdooVersion::V18),
            m if m >= 19 => Some(OdooVersion::V19),
            _ => None,
        }
    }

    /// Parses a version string such as `"18.0"`, `"18.0-20250702"`, `"saas~18.2"`, `"17"`.
    pub fn parse(s: &str) -> Option<Self> {
        parse_major(s).and_then(Self::from_major)
    }

    /// The major number (19 for V19).
    pub fn major(self) -> u32 {
        match self {
            OdooVersion::V16 => 16,
            OdooVersion::V17 => 17,
            OdooVersion::V18 => 18,
            OdooVersion::V19 => 19,
        }
    }

    /// True for 18 and later (`sync_from_ui`, `load_data`, flat order dicts).
    pub fn is_18_plus(self) -> bool {
        self >= OdooVersion::V18
    }
}

/// The leading major number of a version string, skipping a `saas~` prefix.
fn parse_major(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_prefix("saas~")
        .or_else(|| s.strip_prefix("saas-"))
        .unwrap_or(s);
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    digits.parse().ok()
}
