//! Passkeys (WebAuthn): the records a user's passkeys and a ceremony in flight are
//! kept as, and the relying party that judges an authenticator's answers, on
//! kanidm's `webauthn-rs`.
//!
//! Every passkey is enrolled with user verification required and as a discoverable
//! credential, so that each one also signs in without a password. As a second
//! factor (after the password) it is asked for with the crate's security-key flow,
//! where user verification is preferred, not required: the password is the other
//! factor. A ceremony's challenge state never leaves the server: it is stored under
//! a [`CeremonyId`] for [`crate::config::Config::code_ttl_seconds`] and taken once
//! (see the store's `PasskeyStore`).
//!
//! The sign counter is checked here, not by the crate: the stored credential keeps
//! the counter it was enrolled with, and the user's record the last one seen. A
//! counter that is not zero and not above the last one seen means two devices hold
//! the key (a clone): the assertion is refused and recorded. The write that accepts
//! an assertion holds only while the record still has the counter it was judged
//! against, so two assertions racing with one counter cannot both be accepted.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::amr::Amr;
use crate::clock::Timestamp;
use crate::ids::{CeremonyId, PasskeyId, SignInId, UserId};
use crate::side::Side;

/// How many passkeys one account keeps at most: enough for every device a person
/// carries and a spare key, few enough that the user item stays small.
pub const MAX_PER_USER: usize = 10;

/// The longest name a passkey may be given, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// One of a user's passkeys, kept in the user's own record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passkey {
    /// The account's id for it (paths name it).
    pub id: PasskeyId,
    /// The authenticator's credential id, base64url: what an assertion names.
    pub credential_id: String,
    /// The user's name for it.
    pub name: String,
    /// When it was enrolled.
    pub created_at: Timestamp,
    /// When it last signed in.
    pub last_used_at: Option<Timestamp>,
    /// Whether its provider syncs it (the authenticator's backup state, as last seen).
    pub backed_up: bool,
    /// The last sign counter seen.
    pub counter: u32,
    /// The credential as the relying party enrolled it (public key and flags, JSON).
    pub credential: String,
}

impl fmt::Debug for Passkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential is a public key, but long and of no use in a log.
        f.debug_struct("Passkey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("backed_up", &self.backed_up)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// What a notice of a password change, a reset or a sign-out everywhere adds: those
/// end sessions, not passkeys, which go on signing in alone; one a thief enrolled
/// must be found and removed by its owner. Empty when there are none.
pub fn notice_of_passkeys(passkeys: &[Passkey]) -> String {
    if passkeys.is_empty() {
        return String::new();
    }
    let names: Vec<String> = passkeys
        .iter()
        .map(|p| {
            format!(
                "\"{}\" (added {})",
                p.name,
                crate::clock::utc_date(p.created_at)
            )
        })
        .collect();
    format!(
        " Your passkeys still sign in: {}. If one of them is not yours, remove it in your two-factor settings.",
        names.join(", ")
    )
}

/// A passkey's name as given: trimmed, 1 to [`NAME_MAX_CHARS`] characters; `None`
/// with a control, invisible (zero-width, bidi) or line-breaking character, or a
/// double quote. Notices quote names to their owner, and whoever enrolled one (a
/// thief, perhaps) chose it: it must not pass for another text.
pub fn name(given: &str) -> Option<String> {
    let name = given.trim();
    let refused =
        |c: char| crate::email::is_invisible(c) || matches!(c, '"' | '\u{2028}' | '\u{2029}');
    let ok =
        !name.is_empty() && name.chars().count() <= NAME_MAX_CHARS && !name.chars().any(refused);
    ok.then(|| name.to_string())
}

/// What a ceremony is for, and whose it is: its finish works only for the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// Enrolling a passkey on this user's account, in this signed-in session.
    Register {
        /// Whose account.
        user_id: UserId,
        /// The session that asked (its `sid`).
        session: String,
    },
    /// Proving a second factor for this pending sign-in.
    SecondFactor {
        /// Whose sign-in.
        user_id: UserId,
        /// The pending sign-in (the two-factor token's `sid`).
        sign_in: SignInId,
    },
    /// Signing in without a password on this side.
    SignIn {
        /// The host or the tenant the sign-in asked for.
        side: Side,
    },
}

/// A ceremony in flight: its challenge state, kept server side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// Its id, which the client sends back with the authenticator's answer.
    pub id: CeremonyId,
    /// What it is for.
    pub purpose: Purpose,
    /// The relying party's state for it (the challenge and what it allows).
    pub state: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Why an authenticator's answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a credential in WebAuthn's JSON form.
    #[error("not a WebAuthn credential")]
    Malformed,
    /// The relying party refused it (signature, challenge, origin, RP ID, user
    /// verification, or a credential this ceremony did not allow).
    #[error("refused by the relying party: {0}")]
    Invalid(String),
    /// The sign counter did not go forward: the key may have been cloned.
    #[error("the sign counter went backwards")]
    CounterWentBack,
}

/// The relying party's settings: `WEBAUTHN_RP_ID` (the domain passkeys are bound
/// to), `WEBAUTHN_RP_NAME` (what the authenticator shows), `WEBAUTHN_ORIGINS` (the
/// pages allowed to use them, comma-separated; default `https://<rp id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpConfig {
    /// The RP ID.
    pub rp_id: String,
    /// The RP name.
    pub rp_name: String,
    /// The allowed origins.
    pub origins: Vec<String>,
}

/// A newly enrolled credential, before it has a name and an id of the account's.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    /// Whether its provider syncs it.
    pub backed_up: bool,
    /// The sign counter it started at.
    pub counter: u32,
    /// The credential (JSON).
    pub credential: String,
}

/// An accepted assertion: what the write that accepts it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    /// The passkey it was made with.
    pub passkey_id: PasskeyId,
    /// The counter the record held when it was judged (the write's condition).
    pub previous_counter: u32,
    /// The new counter.
    pub counter: u32,
    /// The backup state it reported.
    pub backed_up: bool,
    /// Whether its provider may sync it (backup eligibility): what decides between a
    /// hardware and a software key. Self-reported: enrolment asks no attestation.
    pub syncable: bool,
}

impl Asserted {
    /// The method a sign-in with it used: `swk` for a passkey its provider may sync,
    /// `hwk` for one bound to its device.
    pub fn amr(&self) -> Amr {
        if self.syncable || self.backed_up {
            Amr::Swk
        } else {
            Amr::Hwk
        }
    }
}

/// The longest credential id WebAuthn allows, in bytes (§5.8.3). Longer is not a
/// credential at all (and would not fit a DynamoDB key).
pub const CREDENTIAL_ID_MAX_BYTES: usize = 1023;

/// The counter rule (see the module doc): a counter of zero on both sides means the
/// authenticator keeps none; otherwise it must go up.
pub fn counter_went_forward(stored: u32, asserted: u32) -> bool {
    (stored == 0 && asserted == 0) || asserted > stored
}

#[cfg(feature = "passkeys")]
mod relying_party;
#[cfg(feature = "passkeys")]
pub use relying_party::{RelyingParty, named_credential};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_bounded() {
        assert_eq!(name("  Laptop  ").as_deref(), Some("Laptop"));
        assert_eq!(name(""), None);
        assert_eq!(name("   "), None);
        assert_eq!(name("a\u{7}b"), None);
        for lookalike in ["iPhone\", \"Mac", "a\u{200B}b", "a\u{202E}b", "a\u{2028}b"] {
            assert_eq!(name(lookalike), None, "{lookalike:?}");
        }
        assert_eq!(name("Ada's iPhone").as_deref(), Some("Ada's iPhone"));
        assert!(name(&"é".repeat(NAME_MAX_CHARS)).is_some());
        assert_eq!(name(&"é".repeat(NAME_MAX_CHARS + 1)), None);
    }

    #[test]
    fn a_passkey_its_provider_may_sync_is_a_software_key_backed_up_yet_or_not() {
        let a = |syncable, backed_up| Asserted {
            passkey_id: PasskeyId::from("p"),
            previous_counter: 0,
            counter: 0,
            backed_up,
            syncable,
        };
        assert_eq!(a(false, false).amr(), Amr::Hwk);
        assert_eq!(a(true, false).amr(), Amr::Swk);
        assert_eq!(a(true, true).amr(), Amr::Swk);
    }

    #[test]
    fn a_counter_must_go_forward_unless_the_authenticator_keeps_none() {
        assert!(counter_went_forward(0, 0));
        assert!(counter_went_forward(0, 1));
        assert!(counter_went_forward(5, 6));
        assert!(!counter_went_forward(5, 5));
        assert!(!counter_went_forward(5, 4));
        assert!(!counter_went_forward(5, 0));
    }

    #[cfg(feature = "passkeys")]
    #[test]
    fn a_relying_party_needs_an_origin_that_matches_its_rp_id() {
        let rp = |id: &str, origins: &[&str]| {
            RelyingParty::new(&RpConfig {
                rp_id: id.into(),
                rp_name: "twofa".into(),
                origins: origins.iter().map(|o| o.to_string()).collect(),
            })
        };
        assert!(rp("example.com", &["https://example.com"]).is_ok());
        assert!(
            rp(
                "example.com",
                &["https://example.com", "https://app.example.com"]
            )
            .is_ok()
        );
        assert!(rp("example.com", &[]).is_err());
        assert!(rp("example.com", &["not a url"]).is_err());
        assert!(rp("example.com", &["https://other.org"]).is_err());
        // Every origin, not only the first, is on the RP ID and https.
        assert!(rp("example.com", &["https://example.com", "https://other.org"]).is_err());
        assert!(
            rp(
                "example.com",
                &["https://example.com", "http://app.example.com"]
            )
            .is_err()
        );
        assert!(
            rp(
                "example.com",
                &["https://example.com", "https://evil-example.com"]
            )
            .is_err()
        );
        assert!(rp("localhost", &["http://localhost:3000"]).is_ok());
    }

    #[cfg(feature = "passkeys")]
    #[test]
    fn creation_options_ask_for_a_discoverable_credential_with_user_verification() {
        let rp = RelyingParty::new(&RpConfig {
            rp_id: "localhost".into(),
            rp_name: "twofa".into(),
            origins: vec!["http://localhost:3000".into()],
        })
        .unwrap();
        let (options, state) = rp
            .start_registration(&UserId::random(), "ada@example.com", &[])
            .unwrap();
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(
            options["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert_eq!(options["rp"]["id"], "localhost");
        assert!(options["challenge"].as_str().is_some_and(|c| c.len() >= 43));
        assert!(!options.to_string().contains("null"));
        assert!(state.contains("challenge"));
    }
}
