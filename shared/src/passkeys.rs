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

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, DiscoverableAuthentication,
    DiscoverableKey, Passkey as Credential, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey, SecurityKeyAuthentication,
    Url, Uuid, Webauthn, WebauthnBuilder,
};

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

/// The relying party: enrols passkeys and judges assertions.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

/// The options as a browser's `parse…OptionsFromJSON` takes them: the inner
/// `publicKey` object, without the members the crate leaves `null` (WebIDL refuses
/// `null` where a sequence or a dictionary is expected).
fn options_json(outer: Value) -> Value {
    fn without_nulls(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_nulls(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
            v => v,
        }
    }
    match outer {
        Value::Object(mut m) => without_nulls(m.remove("publicKey").unwrap_or(Value::Null)),
        v => without_nulls(v),
    }
}

/// The user handle an authenticator keeps for a user: the user id's UUID.
fn user_handle(user_id: &UserId) -> Result<Uuid, Refused> {
    Uuid::parse_str(user_id.as_str()).map_err(|_| Refused::Invalid("user id is not a UUID".into()))
}

/// What the crate's serialized credential says of the fields it does not expose
/// without its `danger-credential-internals` feature.
fn credential_fields(credential: &Credential) -> Result<(bool, u32), Refused> {
    let v = serde_json::to_value(credential).map_err(|e| Refused::Invalid(e.to_string()))?;
    let cred = &v["cred"];
    let backed_up = cred["backup_state"].as_bool().unwrap_or(false);
    let counter = cred["counter"]
        .as_u64()
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0);
    Ok((backed_up, counter))
}

fn invalid(e: impl fmt::Display) -> Refused {
    Refused::Invalid(e.to_string())
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Refused> {
    T::deserialize(v).map_err(|_| Refused::Malformed)
}

fn state_json<T: Serialize>(state: &T) -> Result<String, Refused> {
    serde_json::to_string(state).map_err(invalid)
}

fn state_from<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Refused> {
    serde_json::from_str(text).map_err(invalid)
}

/// The longest credential id WebAuthn allows, in bytes (§5.8.3). Longer is not a
/// credential at all (and would not fit a DynamoDB key).
pub const CREDENTIAL_ID_MAX_BYTES: usize = 1023;

/// The credential id an assertion names, and the user handle it carries (a
/// discoverable credential's; `None` when absent or not a user id's shape), without
/// judging it. [`Refused::Malformed`] for what is no assertion, or an id over
/// [`CREDENTIAL_ID_MAX_BYTES`].
pub fn named_credential(credential: &Value) -> Result<(String, Option<String>), Refused> {
    let c: PublicKeyCredential = parse(credential)?;
    if c.get_credential_id().len() > CREDENTIAL_ID_MAX_BYTES {
        return Err(Refused::Malformed);
    }
    let id = URL_SAFE_NO_PAD.encode(c.get_credential_id());
    let handle = c
        .get_user_unique_id()
        .and_then(|b| Uuid::from_slice(b).ok())
        .map(|u| u.hyphenated().to_string());
    Ok((id, handle))
}

/// The counter rule (see the module doc): a counter of zero on both sides means the
/// authenticator keeps none; otherwise it must go up.
pub fn counter_went_forward(stored: u32, asserted: u32) -> bool {
    (stored == 0 && asserted == 0) || asserted > stored
}

impl RelyingParty {
    /// A relying party with these settings; an error names what is wrong with them.
    pub fn new(config: &RpConfig) -> Result<Self, String> {
        let origins = config
            .origins
            .iter()
            .map(|o| Url::parse(o).map_err(|e| format!("{o:?} is not an origin: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let Some((first, rest)) = origins.split_first() else {
            return Err("at least one origin is needed".into());
        };
        // The crate checks the first origin against the RP ID, not the ones appended:
        // each is checked here, https unless it is this machine.
        for o in &origins {
            let host = o.host_str().unwrap_or_default();
            let local = host == "localhost";
            if !(host == config.rp_id || host.ends_with(&format!(".{}", config.rp_id))) {
                return Err(format!("origin {o} is not on the RP ID {:?}", config.rp_id));
            }
            if o.scheme() != "https" && !(local && o.scheme() == "http") {
                return Err(format!("origin {o} is not https"));
            }
        }
        let mut builder = WebauthnBuilder::new(&config.rp_id, first)
            .map_err(|e| format!("RP ID {:?} with origin {first}: {e}", config.rp_id))?
            .rp_name(&config.rp_name);
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { webauthn })
    }

    /// Creation options for a new passkey of `user_id` (shown as `user_name`), none
    /// of `existing` again; and the state to keep. The passkey is asked for as a
    /// discoverable credential (`residentKey: required`), so that it signs in
    /// without a password; the crate's passkey flow asks "discouraged" and has no
    /// switch for it, and its registration check does not look at it.
    pub fn start_registration(
        &self,
        user_id: &UserId,
        user_name: &str,
        existing: &[Passkey],
    ) -> Result<(Value, String), Refused> {
        let exclude = existing
            .iter()
            .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
            .collect::<Vec<CredentialID>>();
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) = self
            .webauthn
            .start_passkey_registration(
                user_handle(user_id)?,
                user_name,
                user_name,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(invalid)?;
        let mut options = options_json(serde_json::to_value(options).map_err(invalid)?);
        if let Some(sel) = options
            .get_mut("authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            sel.insert("residentKey".into(), Value::from("required"));
            sel.insert("requireResidentKey".into(), Value::from(true));
        }
        Ok((options, state_json(&state)?))
    }

    /// The enrolled credential, if `credential` answers the registration `state` kept.
    pub fn finish_registration(
        &self,
        state: &str,
        credential: &Value,
    ) -> Result<Enrolled, Refused> {
        let reg: RegisterPublicKeyCredential = parse(credential)?;
        let state: PasskeyRegistration = state_from(state)?;
        let key = self
            .webauthn
            .finish_passkey_registration(&reg, &state)
            .map_err(invalid)?;
        if key.cred_id().len() > CREDENTIAL_ID_MAX_BYTES {
            return Err(Refused::Invalid("a credential id over 1023 bytes".into()));
        }
        let (backed_up, counter) = credential_fields(&key)?;
        Ok(Enrolled {
            credential_id: URL_SAFE_NO_PAD.encode(key.cred_id()),
            backed_up,
            counter,
            credential: serde_json::to_string(&key).map_err(invalid)?,
        })
    }

    /// Request options naming `passkeys` (a second factor after the password: user
    /// verification preferred), and the state to keep.
    pub fn start_second_factor(&self, passkeys: &[Passkey]) -> Result<(Value, String), Refused> {
        let keys = passkeys
            .iter()
            .map(|p| serde_json::from_str::<SecurityKey>(&p.credential).map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state): (RequestChallengeResponse, SecurityKeyAuthentication) = self
            .webauthn
            .start_securitykey_authentication(&keys)
            .map_err(invalid)?;
        let mut options = options_json(serde_json::to_value(options).map_err(invalid)?);
        // The crate hints "security-key", which steers browsers to an external key
        // and away from the platform or phone passkey the user enrolled.
        if let Some(o) = options.as_object_mut() {
            o.remove("hints");
        }
        Ok((options, state_json(&state)?))
    }

    /// The passkey of `passkeys` that made `credential`, judged against the second
    /// factor's `state`.
    pub fn finish_second_factor(
        &self,
        state: &str,
        credential: &Value,
        passkeys: &[Passkey],
    ) -> Result<Asserted, Refused> {
        let answer: PublicKeyCredential = parse(credential)?;
        let state: SecurityKeyAuthentication = state_from(state)?;
        let result = self
            .webauthn
            .finish_securitykey_authentication(&answer, &state)
            .map_err(invalid)?;
        let id = URL_SAFE_NO_PAD.encode(result.cred_id());
        let passkey = passkeys
            .iter()
            .find(|p| p.credential_id == id)
            .ok_or_else(|| Refused::Invalid("a credential the ceremony did not allow".into()))?;
        asserted(passkey, &result)
    }

    /// Request options for a passwordless sign-in: no credential named, user
    /// verification required; and the state to keep.
    pub fn start_sign_in(&self) -> Result<(Value, String), Refused> {
        let (options, state): (RequestChallengeResponse, DiscoverableAuthentication) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(invalid)?;
        Ok((
            options_json(serde_json::to_value(options).map_err(invalid)?),
            state_json(&state)?,
        ))
    }

    /// `passkey` (the one the credential id named) judged against the passwordless
    /// `state`: signature, challenge, origin, RP ID and user verification.
    pub fn finish_sign_in(
        &self,
        state: &str,
        credential: &Value,
        passkey: &Passkey,
    ) -> Result<Asserted, Refused> {
        let answer: PublicKeyCredential = parse(credential)?;
        let state: DiscoverableAuthentication = state_from(state)?;
        let key: Credential = serde_json::from_str(&passkey.credential).map_err(invalid)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&answer, state, DiscoverableKey::from(&key))
            .map_err(invalid)?;
        if !result.user_verified() {
            return Err(Refused::Invalid("the user was not verified".into()));
        }
        asserted(passkey, &result)
    }
}

fn asserted(passkey: &Passkey, result: &AuthenticationResult) -> Result<Asserted, Refused> {
    let counter = result.counter();
    if !counter_went_forward(passkey.counter, counter) {
        return Err(Refused::CounterWentBack);
    }
    Ok(Asserted {
        passkey_id: passkey.id.clone(),
        previous_counter: passkey.counter,
        counter,
        backed_up: result.backup_state(),
        syncable: result.backup_eligible(),
    })
}

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
