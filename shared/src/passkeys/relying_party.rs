//! The relying party on webauthn-rs (feature `passkeys`, on by default; the fuzz
//! targets, which parse no WebAuthn, build without it): options for the browser,
//! and the judgement of an authenticator's answers (see the parent module).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, DiscoverableAuthentication,
    DiscoverableKey, Passkey as Credential, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey, SecurityKeyAuthentication,
    Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{
    Asserted, CREDENTIAL_ID_MAX_BYTES, Enrolled, Passkey, Refused, RpConfig, counter_went_forward,
};
use crate::ids::UserId;

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
