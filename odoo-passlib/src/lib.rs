//! Odoo's password hash format: passlib's `pbkdf2_sha512`.
//!
//! Odoo 18 stores `res_users.password` as
//! `$pbkdf2-sha512$<rounds>$<salt ab64>$<checksum ab64>` produced by
//! `CryptContext(['pbkdf2_sha512', 'plaintext'], pbkdf2_sha512__rounds=600000)`
//! (`odoo/addons/base/models/res_users.py`, `MIN_ROUNDS = 600_000`).
//! passlib's "ab64" alphabet is standard base64 with `+` replaced by `.` and
//! no `=` padding; the salt is 16 random bytes and the checksum 64 bytes.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use sha2::Sha512;
use subtle::ConstantTimeEq;

/// Rounds Odoo 18 uses for new password hashes.
pub const DEFAULT_ROUNDS: u32 = 600_000;
/// passlib's default salt size for pbkdf2_sha512.
pub const SALT_SIZE: usize = 16;
const CHECKSUM_SIZE: usize = 64;

/// Encode bytes in passlib's adapted base64 (`.` instead of `+`, no padding).
pub fn ab64_encode(data: &[u8]) -> String {
    STANDARD_NO_PAD.encode(data).replace('+', ".")
}

/// Decode passlib's adapted base64; `None` on malformed input.
pub fn ab64_decode(data: &str) -> Option<Vec<u8>> {
    let std = data.replace('.', "+");
    let trimmed = std.trim_end_matches('=');
    STANDARD_NO_PAD.decode(trimmed).ok()
}

/// PBKDF2-HMAC-SHA512 for one output block (64 bytes = passlib's checksum size).
///
/// The iteration loop calls `sha2::compress512` directly on precomputed HMAC
/// inner/outer states: generic `hmac`/`pbkdf2` code would be monomorphised in
/// this crate, which dev builds compile unoptimised (600k rounds then take
/// seconds), while `compress512` lives in `sha2` which the workspace optimises.
fn derive(plain: &str, salt: &[u8], rounds: u32) -> [u8; CHECKSUM_SIZE] {
    use hmac::{Hmac, Mac};
    use sha2::digest::generic_array::GenericArray;
    use sha2::Digest;

    const IV: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    let mut key = [0u8; 128];
    if plain.len() > 128 {
        key[..64].copy_from_slice(&Sha512::digest(plain.as_bytes()));
    } else {
        key[..plain.len()].copy_from_slice(plain.as_bytes());
    }
    let mut ipad = IV;
    let mut opad = IV;
    let mut kb = [0u8; 128];
    for (d, k) in kb.iter_mut().zip(key.iter()) {
        *d = k ^ 0x36;
    }
    sha2::compress512(&mut ipad, &[*GenericArray::from_slice(&kb)]);
    for (d, k) in kb.iter_mut().zip(key.iter()) {
        *d = k ^ 0x5c;
    }
    sha2::compress512(&mut opad, &[*GenericArray::from_slice(&kb)]);

    // U1 = HMAC(P, salt || INT(1)); the one-off part may use the generic crate.
    let mut out = [0u8; CHECKSUM_SIZE];
    let Ok(mut mac) = <Hmac<Sha512> as Mac>::new_from_slice(plain.as_bytes()) else {
        return out;
    };
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let u1 = mac.finalize().into_bytes();
    out.copy_from_slice(&u1);

    // Block layout for a 64-byte message after a 128-byte key block:
    // msg(64) | 0x80 | zeros | length in bits (192*8) as u128 BE.
    let mut block = [0u8; 128];
    block[64] = 0x80;
    block[126] = 0x06; // 1536 = 0x0600
    block[..64].copy_from_slice(&u1);
    let mut ga = *GenericArray::from_slice(&block);
    for _ in 1..rounds {
        let mut st = ipad;
        sha2::compress512(&mut st, core::slice::from_ref(&ga));
        for (i, w) in st.iter().enumerate() {
            ga[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
        }
        let mut st = opad;
        sha2::compress512(&mut st, core::slice::from_ref(&ga));
        for (i, w) in st.iter().enumerate() {
            let b = w.to_be_bytes();
            ga[i * 8..i * 8 + 8].copy_from_slice(&b);
            for j in 0..8 {
                out[i * 8 + j] ^= b[j];
            }
        }
    }
    out
}

/// Hash with an explicit salt and rounds (deterministic; for tests and fixtures).
pub fn hash_password_with(plain: &str, salt: &[u8], rounds: u32) -> String {
    let checksum = derive(plain, salt, rounds);
    format!(
        "$pbkdf2-sha512${}${}${}",
        rounds,
        ab64_encode(salt),
        ab64_encode(&checksum)
    )
}

/// Hash a password exactly as Odoo 18 stores it (600 000 rounds, 16-byte random salt).
pub fn hash_password(plain: &str) -> String {
    hash_password_rounds(plain, DEFAULT_ROUNDS)
}

/// Hash with a random salt and the given number of rounds.
pub fn hash_password_rounds(plain: &str, rounds: u32) -> String {
    let mut salt = [0u8; SALT_SIZE];
    if getrandom::getrandom(&mut salt).is_err() {
        // No OS randomness: fall back to a time-derived salt rather than panic.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        salt.copy_from_slice(&nanos.to_le_bytes());
    }
    hash_password_with(plain, &salt, rounds)
}

/// Parsed form of a passlib pbkdf2_sha512 hash.
struct Parsed {
    rounds: u32,
    salt: Vec<u8>,
    checksum: Vec<u8>,
}

fn parse(hash: &str) -> Option<Parsed> {
    let rest = hash.strip_prefix("$pbkdf2-sha512$")?;
    let mut parts = rest.split('$');
    let rounds: u32 = parts.next()?.parse().ok()?;
    let salt = ab64_decode(parts.next()?)?;
    let checksum = ab64_decode(parts.next()?)?;
    if parts.next().is_some() || rounds == 0 || checksum.len() != CHECKSUM_SIZE {
        return None;
    }
    Some(Parsed {
        rounds,
        salt,
        checksum,
    })
}

/// True when `hash` is a well-formed passlib pbkdf2_sha512 hash.
pub fn is_pbkdf2_sha512(hash: &str) -> bool {
    parse(hash).is_some()
}

/// Verify a password against a passlib `pbkdf2_sha512` hash (constant-time compare).
/// Malformed hashes never verify.
pub fn verify_password(plain: &str, hash: &str) -> bool {
    let Some(p) = parse(hash) else {
        return false;
    };
    let got = derive(plain, &p.salt, p.rounds);
    got.ct_eq(p.checksum.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Produced by passlib 1.7.4:
    // pbkdf2_sha512.using(rounds=600000, salt=b'0123456789abcdef').hash('admin')
    const PASSLIB_600K: &str = "$pbkdf2-sha512$600000$MDEyMzQ1Njc4OWFiY2RlZg$K2ny/LUfga/mB/towFBfrZB30XOxTc9I1aS4OK7vR/9FiXJSM0GSngInRQBqQGg6xag5mDu41orb5dPzS3Wu2Q";
    // pbkdf2_sha512.using(rounds=1000).hash('admin') (random salt containing '.'-free ab64)
    const PASSLIB_1K: &str = "$pbkdf2-sha512$1000$UWqtVWptTWmN8Z5T6t0bAw$DzSDJzayAN9U7LxyK3/TgPmTlJUIOGJhRDOWBADbM8cbJqChXx9HZdJki63lijLtFT3Zbnz2EXYXCK3TB04ldw";

    #[test]
    fn verifies_passlib_vectors() {
        assert!(verify_password("admin", PASSLIB_600K));
        assert!(!verify_password("admiN", PASSLIB_600K));
        assert!(verify_password("admin", PASSLIB_1K));
        assert!(!verify_password("", PASSLIB_1K));
    }

    #[test]
    fn reproduces_passlib_exactly() {
        assert_eq!(
            hash_password_with("admin", b"0123456789abcdef", 600_000),
            PASSLIB_600K
        );
    }

    #[test]
    fn matches_pbkdf2_crate() {
        for (pw, rounds) in [
            ("admin", 1u32),
            ("x", 2),
            ("", 7),
            (&"long".repeat(40)[..], 1000),
        ] {
            let mut want = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(pw.as_bytes(), b"saltsalt", rounds, &mut want);
            assert_eq!(derive(pw, b"saltsalt", rounds), want, "{pw} {rounds}");
        }
    }

    #[test]
    fn roundtrip_default() {
        let h = hash_password("s3cret+/.");
        assert!(h.starts_with("$pbkdf2-sha512$600000$"));
        assert!(verify_password("s3cret+/.", &h));
        assert!(!verify_password("s3cret", &h));
    }

    #[test]
    fn ab64_uses_dot() {
        assert_eq!(ab64_encode(&[0xfb, 0xef, 0xbe]), "....");
        assert_eq!(
            ab64_decode("....").as_deref(),
            Some(&[0xfb, 0xef, 0xbe][..])
        );
    }

    #[test]
    fn malformed_never_verifies() {
        for h in [
            "",
            "admin",
            "$pbkdf2-sha512$",
            "$pbkdf2-sha512$x$abc$def",
            "$pbkdf2-sha512$0$MDEy$K2ny",
            "$pbkdf2-sha256$1000$UWqtVWptTWmN8Z5T6t0bAw$DzSD",
            "$pbkdf2-sha512$1000$UWqt$DzSD$extra",
        ] {
            assert!(!verify_password("admin", h), "{h}");
        }
    }
}
