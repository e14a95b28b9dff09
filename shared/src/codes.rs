//! One-time codes sent by email or SMS, and recovery codes: generated from the
//! CSPRNG, stored only as keyed hashes, each bound to what it was made for.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::crypto::{CryptoError, HashKey, random_below};
use crate::ids::UserId;
use crate::secret::Secret;

/// What a code was sent for. One pending code per user and purpose: a new one replaces the old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// Signing in with an emailed code.
    SignInEmail,
    /// Signing in with a texted code.
    SignInSms,
    /// Confirming the account's email address.
    ConfirmEmail,
    /// Confirming a phone number.
    ConfirmPhone,
    /// Resetting a forgotten password (emailed to a confirmed address only).
    PasswordReset,
}

impl CodePurpose {
    /// A stable name for keys and hashes.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::SignInEmail => "sign_in_email",
            CodePurpose::SignInSms => "sign_in_sms",
            CodePurpose::ConfirmEmail => "confirm_email",
            CodePurpose::ConfirmPhone => "confirm_phone",
            CodePurpose::PasswordReset => "password_reset",
        }
    }
    /// Whether the code goes out by SMS.
    pub fn is_sms(self) -> bool {
        matches!(self, CodePurpose::SignInSms | CodePurpose::ConfirmPhone)
    }
}

/// A code waiting to be entered. Holds the keyed hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    /// Whose code.
    pub user_id: UserId,
    /// What for.
    pub purpose: CodePurpose,
    /// Where it was sent (E.164 number or email address).
    pub destination: String,
    /// HMAC of user, purpose, destination, sign-in (for sign-in codes) and code.
    pub hash: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A fresh 6-digit code, uniform over 000000–999999 (about 20 bits).
pub fn new_code() -> Result<Secret<String>, CryptoError> {
    Ok(Secret::new(format!("{:06}", random_below(1_000_000)?)))
}

/// The keyed hash that binds a code to its user, purpose and destination, and a
/// sign-in code to the sign-in (`sid`) that asked for it: a newer login, a finished
/// sign-in or a lockout starts another sign-in, under which no earlier code matches,
/// with no store write to end them.
pub fn code_hash(
    key: &HashKey,
    user_id: &UserId,
    purpose: CodePurpose,
    destination: &str,
    sign_in: Option<&str>,
    code: &str,
) -> String {
    key.hash(&[
        "otp",
        user_id,
        purpose.as_str(),
        destination,
        sign_in.unwrap_or(""),
        code,
    ])
}

/// What a user typed, as a code: digits only, spaces and dashes removed; `None` if not 6 digits.
pub fn normalise_code(input: &str) -> Option<String> {
    let s: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (s.len() == 6 && s.chars().all(|c| c.is_ascii_digit())).then_some(s)
}

/// How many recovery codes a user gets.
pub const RECOVERY_CODE_COUNT: usize = 10;

// Crockford's base32 alphabet: no I, L, O or U to misread.
const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Ten recovery codes of 120 bits each (24 base32 characters, in groups of six).
/// At ≥112 bits a keyed hash is enough; NIST asks for a salted KDF only below that.
pub fn new_recovery_codes() -> Result<Vec<Secret<String>>, CryptoError> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut s = String::with_capacity(27);
            for i in 0..24 {
                if i > 0 && i % 6 == 0 {
                    s.push('-');
                }
                s.push(ALPHABET[random_below(32)? as usize] as char);
            }
            Ok(Secret::new(s))
        })
        .collect()
}

/// A typed recovery code in canonical form: lower case, separators removed,
/// Crockford's look-alikes mapped (i, l → 1; o → 0).
pub fn normalise_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .collect()
}

/// The keyed hash a recovery code is stored as (of its canonical form).
pub fn recovery_code_hash(key: &HashKey, user_id: &UserId, code: &str) -> String {
    key.hash(&["recovery", user_id, &normalise_recovery_code(code)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..50)
            .map(|_| new_code().unwrap().expose().clone())
            .collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit()))
        );
        assert!(
            codes.len() > 40,
            "50 codes gave only {} distinct values",
            codes.len()
        );
    }

    #[test]
    fn a_code_hash_binds_user_purpose_destination_and_sign_in() {
        let k = HashKey::random().unwrap();
        let sid = Some("s1");
        let h = code_hash(
            &k,
            &UserId::from("u1"),
            CodePurpose::SignInSms,
            "+15555550100",
            sid,
            "123456",
        );
        assert_eq!(
            h,
            code_hash(
                &k,
                &UserId::from("u1"),
                CodePurpose::SignInSms,
                "+15555550100",
                sid,
                "123456"
            )
        );
        assert_ne!(
            h,
            code_hash(
                &k,
                &UserId::from("u2"),
                CodePurpose::SignInSms,
                "+15555550100",
                sid,
                "123456"
            )
        );
        assert_ne!(
            h,
            code_hash(
                &k,
                &UserId::from("u1"),
                CodePurpose::ConfirmPhone,
                "+15555550100",
                sid,
                "123456"
            )
        );
        assert_ne!(
            h,
            code_hash(
                &k,
                &UserId::from("u1"),
                CodePurpose::SignInSms,
                "+15555550101",
                sid,
                "123456"
            )
        );
        assert_ne!(
            h,
            code_hash(
                &k,
                &UserId::from("u1"),
                CodePurpose::SignInSms,
                "+15555550100",
                Some("s2"),
                "123456"
            )
        );
        assert_ne!(
            h,
            code_hash(
                &k,
                &UserId::from("u1"),
                CodePurpose::SignInSms,
                "+15555550100",
                None,
                "123456"
            )
        );
        assert!(!h.contains("123456"));
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(normalise_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalise_code("12345"), None);
        assert_eq!(normalise_code("12345a"), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_120_bit_codes_that_survive_retyping() {
        let k = HashKey::random().unwrap();
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> =
            codes.iter().map(|c| c.expose().clone()).collect();
        assert_eq!(distinct.len(), 10);
        let c = codes[0].expose();
        assert_eq!(c.len(), 27);
        let retyped = c.to_uppercase().replace('-', " ");
        assert_eq!(
            recovery_code_hash(&k, &UserId::from("u"), c),
            recovery_code_hash(&k, &UserId::from("u"), &retyped)
        );
        assert_ne!(
            recovery_code_hash(&k, &UserId::from("u"), c),
            recovery_code_hash(&k, &UserId::from("v"), c)
        );
    }
}
