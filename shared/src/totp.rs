//! Authenticator apps: RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps, ±1 step)
//! through `totp-rs`. Which step was accepted is returned so the caller can refuse a
//! step used before; totp-rs leaves replay protection to us (RFC 6238 §5.2).

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};

use crate::crypto::{CryptoError, random_bytes};
use crate::secret::Secret;

/// Seconds per TOTP step.
pub const STEP_SECONDS: u64 = 30;

/// Why a TOTP key could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid TOTP key: {0}")]
pub struct TotpKeyError(String);

/// A new 160-bit key (RFC 4226 §4 recommends 160 bits; NIST asks for at least 112).
pub fn new_key() -> Result<Secret<Vec<u8>>, CryptoError> {
    Ok(Secret::new(random_bytes(20)?))
}

fn totp(key: &[u8]) -> Result<Totp, TotpKeyError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(key.to_vec())
        .build()
        .map_err(|e| TotpKeyError(e.to_string()))
}

/// Checks `code` at time `now` (one step either side), returning the step it belongs to.
pub fn check(key: &[u8], code: &str, now: i64) -> Result<Option<i64>, TotpKeyError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) || now < 0 {
        return Ok(None);
    }
    Ok(totp(key)?.check(&code, now as u64).map(|s| s as i64))
}

/// A typed authenticator code, judged for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Right, and of a step later than the user's last: accepted once that step is spent.
    Fresh(i64),
    /// Right, but of a step the user has used already (or an earlier one).
    Replayed,
    /// Not a code of the key now.
    Wrong,
}

/// Checks `code` at `now` for a user whose last accepted step is `last_step`: a step
/// is accepted once per user, whichever route took it (the replay ASP.NET Core
/// Identity allows is refused here, RFC 6238 §5.2). Signing in and confirming an
/// authenticator both judge with this; the write that spends the step refuses it
/// again if another request took it meanwhile.
pub fn check_step(
    key: &[u8],
    code: &str,
    now: i64,
    last_step: Option<i64>,
) -> Result<Checked, TotpKeyError> {
    Ok(match check(key, code, now)? {
        Some(step) if last_step.is_none_or(|last| last < step) => Checked::Fresh(step),
        Some(_) => Checked::Replayed,
        None => Checked::Wrong,
    })
}

/// The code an authenticator shows at `now`; for tests and for tools.
pub fn code_at(key: &[u8], now: i64) -> Result<String, TotpKeyError> {
    Ok(totp(key)?.generate(now.max(0) as u64).to_string())
}

/// The key as the base32 text people type into an authenticator app.
pub fn base32(key: &[u8]) -> String {
    totp_rs::Secret::from(key.to_vec()).to_base32()
}

/// The key from the base32 text an authenticator app is given; `None` if it is not base32.
/// What a real authenticator does with the shared key; tests use it to play one.
pub fn key_from_base32(text: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::try_from_base32(text.trim().to_uppercase())
        .ok()
        .map(|s| s.as_bytes().to_vec())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The Key URI Format that authenticator apps scan:
/// `otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30`.
pub fn provisioning_uri(key: &[u8], issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period={STEP_SECONDS}",
        percent_encode(account),
        base32(key).trim_end_matches('='),
    )
}

/// The URI as a QR code in SVG, for a page to show as it is.
pub fn qr_svg(uri: &str) -> Result<String, TotpKeyError> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| TotpKeyError(e.to_string()))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn a_step_is_taken_once_and_never_after_a_later_one() {
        let now = 59 * 30;
        let code = code_at(RFC_SEED, now).unwrap();
        assert_eq!(
            check_step(RFC_SEED, &code, now, None).unwrap(),
            Checked::Fresh(59)
        );
        assert_eq!(
            check_step(RFC_SEED, &code, now, Some(58)).unwrap(),
            Checked::Fresh(59)
        );
        assert_eq!(
            check_step(RFC_SEED, &code, now, Some(59)).unwrap(),
            Checked::Replayed
        );
        assert_eq!(
            check_step(RFC_SEED, &code, now, Some(60)).unwrap(),
            Checked::Replayed
        );
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert_eq!(
            check_step(RFC_SEED, wrong, now, None).unwrap(),
            Checked::Wrong
        );
    }

    #[test]
    fn rfc4226_appendix_d_vectors() {
        // HOTP is TOTP with a one-second step at time = counter.
        let hotp = Builder::new()
            .with_secret(RFC_SEED.to_vec())
            .with_step_duration(1)
            .with_skew(0)
            .build()
            .unwrap();
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp.generate(counter as u64).to_string(),
                *want,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let seed32 = b"12345678901234567890123456789012".to_vec();
        let seed64 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let rows: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in rows {
            for (alg, seed, want) in [
                (Algorithm::SHA1, RFC_SEED.to_vec(), sha1),
                (Algorithm::SHA256, seed32.clone(), sha256),
                (Algorithm::SHA512, seed64.clone(), sha512),
            ] {
                let t8 = Builder::new()
                    .with_algorithm(alg)
                    .with_digits(8)
                    .with_secret(seed)
                    .build()
                    .unwrap();
                assert_eq!(t8.generate(t).to_string(), want, "{alg:?} at {t}");
            }
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_names_its_step() {
        let key = new_key().unwrap();
        let now = 1_700_000_000;
        let code = code_at(key.expose(), now).unwrap();
        assert_eq!(check(key.expose(), &code, now).unwrap(), Some(now / 30));
        assert_eq!(
            check(key.expose(), &code, now + 30).unwrap(),
            Some(now / 30)
        );
        assert_eq!(
            check(key.expose(), &code, now - 30).unwrap(),
            Some(now / 30)
        );
        assert_eq!(check(key.expose(), &code, now + 90).unwrap(), None);
        assert_eq!(check(key.expose(), "12345", now).unwrap(), None);
        assert_eq!(check(key.expose(), "abcdef", now).unwrap(), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let uri = provisioning_uri(RFC_SEED, "twofa", "jane@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/twofa:jane@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=twofa&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            key_from_base32("gezdgnbvgy3tqojqgezdgnbvgy3tqojq").as_deref(),
            Some(RFC_SEED)
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(
            svg.starts_with("<?xml") || svg.starts_with("<svg"),
            "{}",
            &svg[..40]
        );
        assert!(svg.contains("</svg>"));
    }
}
