//! A software WebAuthn authenticator: the browser and a CTAP2 platform
//! authenticator in one, so passkey ceremonies run in tests without either. It reads
//! the options JSON the server sends and answers with the JSON a browser's
//! `PublicKeyCredential.toJSON()` gives, which webauthn-rs deserializes as
//! `RegisterPublicKeyCredential` / `PublicKeyCredential`.
//!
//! Keys are ECDSA P-256 (COSE alg -7), attestation is "none", every credential is
//! discoverable (resident), whatever the options ask. The knobs make it misbehave
//! the ways a refusal test needs: no user verification, another origin, another RP
//! ID, backup flags, a counter that goes backwards, a bad signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// Authenticator data flags (WebAuthn §6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;
/// COSE ES256: ECDSA P-256 with SHA-256.
const ES256: i64 = -7;

/// One resident credential. The key is kept as PKCS#8 because ring's key pairs are
/// not `Clone`, and a test clones the whole device.
#[derive(Debug, Clone)]
struct Credential {
    id: Vec<u8>,
    rp_id: String,
    user_handle: Vec<u8>,
    pkcs8: Vec<u8>,
}

/// A platform authenticator behind a browser at one origin. `Clone` copies its keys
/// and counter: a cloned device, for counter tests.
///
/// Knobs are setters (`&mut self -> &mut Self`, chainable) that hold until changed,
/// except [`corrupt_next_signature`](Self::corrupt_next_signature), which is spent
/// by the next assertion.
#[derive(Debug, Clone)]
pub struct SoftAuthenticator {
    /// The host of the origin the browser is at: RP IDs are checked against it.
    host: String,
    /// The origin written into clientDataJSON.
    client_origin: String,
    /// The RP ID hashed into authenticator data instead of the real one.
    rp_id_override: Option<String>,
    credentials: Vec<Credential>,
    next_counter: u32,
    user_verified: bool,
    backup_eligible: bool,
    backup_state: bool,
    corrupt_next: bool,
}

impl SoftAuthenticator {
    /// An authenticator used from `origin` (e.g. "http://localhost:3000"); RP IDs
    /// must be the origin's host or a suffix of it, as a browser checks.
    ///
    /// Panics if `origin` has no host: it is a test's constant.
    pub fn new(origin: &str) -> Self {
        let host = origin
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_else(|| panic!("a test authenticator's origin has a host: {origin}"));
        Self {
            host,
            client_origin: origin.to_string(),
            rp_id_override: None,
            credentials: Vec::new(),
            next_counter: 1,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            corrupt_next: false,
        }
    }

    /// Whether the user is verified (the UV flag); true by default. When false the
    /// authenticator answers anyway, with UV clear, even where the options require it.
    pub fn set_user_verified(&mut self, verified: bool) -> &mut Self {
        self.user_verified = verified;
        self
    }

    /// The origin written into clientDataJSON, as a phishing page's browser would.
    pub fn set_client_origin(&mut self, origin: &str) -> &mut Self {
        self.client_origin = origin.to_string();
        self
    }

    /// The RP ID hashed into authenticator data, in place of the one the options name.
    pub fn set_rp_id_hash_of(&mut self, rp_id: &str) -> &mut Self {
        self.rp_id_override = Some(rp_id.to_string());
        self
    }

    /// The backup eligible (BE) and backup state (BS) flags; both false by default.
    pub fn set_backup(&mut self, eligible: bool, state: bool) -> &mut Self {
        self.backup_eligible = eligible;
        self.backup_state = state;
        self
    }

    /// The signature counter of the next ceremony (registration or assertion); later
    /// ones count up from it. It starts at 1; set it lower to make it go backwards.
    pub fn set_next_counter(&mut self, counter: u32) -> &mut Self {
        self.next_counter = counter;
        self
    }

    /// Spoils the next assertion's signature (it stays well-formed DER).
    pub fn corrupt_next_signature(&mut self) -> &mut Self {
        self.corrupt_next = true;
        self
    }

    /// The base64url id of the credential made last, if any is held.
    pub fn credential_id(&self) -> Option<String> {
        self.credentials.last().map(|c| B64.encode(&c.id))
    }

    /// Deletes every credential, as a user resetting the device.
    pub fn forget_all(&mut self) {
        self.credentials.clear();
    }

    /// Answers creation options (`{"publicKey": {...}}` or the inner object): makes a
    /// resident credential for the user, replacing one it holds for the same RP and
    /// user (as CTAP2 does), and returns the registration JSON.
    pub fn register(&mut self, options: &Value) -> Result<Value, String> {
        let o = options.get("publicKey").unwrap_or(options);
        let challenge = challenge(o)?;
        let rp_id = self.rp_id(o["rp"]["id"].as_str())?;
        let user_handle = decode(&o["user"]["id"], "user.id")?;
        if let Some(params) = o["pubKeyCredParams"].as_array()
            && !params.is_empty()
            && !params.iter().any(|p| p["alg"].as_i64() == Some(ES256))
        {
            return Err("NotSupportedError: the options allow no ES256 (-7) key".into());
        }
        for excluded in o["excludeCredentials"].as_array().into_iter().flatten() {
            let id = decode(&excluded["id"], "excludeCredentials[].id")?;
            if self
                .credentials
                .iter()
                .any(|c| c.rp_id == rp_id && c.id == id)
            {
                return Err("InvalidStateError: it holds an excluded credential".into());
            }
        }

        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| "no randomness for a key")?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| "ring refused its own key")?;
        let mut id = [0u8; 16];
        rng.fill(&mut id).map_err(|_| "no randomness for an id")?;
        // 0x04 || x || y
        let point = key.public_key().as_ref();

        let mut auth_data = self.auth_data(&rp_id, AT);
        auth_data.extend_from_slice(&[0; 16]); // AAGUID: none
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend(cose_p256_key(&point[1..33], &point[33..65]));
        let client_data = self.client_data("webauthn.create", challenge);

        self.credentials
            .retain(|c| !(c.rp_id == rp_id && c.user_handle == user_handle));
        self.credentials.push(Credential {
            id: id.to_vec(),
            rp_id,
            user_handle,
            pkcs8: pkcs8.as_ref().to_vec(),
        });
        // Browsers answer credProps themselves when asked; the key is always resident.
        let extensions = if o["extensions"]["credProps"] == json!(true) {
            json!({"credProps": {"rk": true}})
        } else {
            json!({})
        };
        Ok(json!({
            "id": B64.encode(id),
            "rawId": B64.encode(id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "attestationObject": B64.encode(attestation_none(&auth_data)),
                "transports": ["internal"],
            },
            "clientExtensionResults": extensions,
            "authenticatorAttachment": "platform",
        }))
    }

    /// Answers request options (`{"publicKey": {...}}` or the inner object): with
    /// allowCredentials, signs with the first of them it holds; without, with the
    /// credential made last for the RP ID (passwordless). The user handle is always
    /// returned, every credential being resident.
    pub fn assert(&mut self, options: &Value) -> Result<Value, String> {
        let o = options.get("publicKey").unwrap_or(options);
        let challenge = challenge(o)?;
        let rp_id = self.rp_id(o["rpId"].as_str())?;
        let allowed = o["allowCredentials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| decode(&c["id"], "allowCredentials[].id"))
            .collect::<Result<Vec<_>, _>>()?;
        let credential = if allowed.is_empty() {
            self.credentials.iter().rev().find(|c| c.rp_id == rp_id)
        } else {
            allowed.iter().find_map(|id| {
                self.credentials
                    .iter()
                    .find(|c| c.rp_id == rp_id && &c.id == id)
            })
        }
        .cloned()
        .ok_or_else(|| {
            format!("NotAllowedError: no credential for {rp_id} that the options allow")
        })?;

        let auth_data = self.auth_data(&rp_id, 0);
        let client_data = self.client_data("webauthn.get", challenge);
        let signed = [&auth_data[..], digest(&SHA256, &client_data).as_ref()].concat();
        let rng = SystemRandom::new();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &credential.pkcs8, &rng)
                .map_err(|_| "ring refused its own key")?;
        let mut signature = key
            .sign(&rng, &signed)
            .map_err(|_| "ECDSA signing failed")?
            .as_ref()
            .to_vec();
        if std::mem::take(&mut self.corrupt_next)
            && let Some(last) = signature.last_mut()
        {
            *last ^= 0x01;
        }
        Ok(json!({
            "id": B64.encode(&credential.id),
            "rawId": B64.encode(&credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(&signature),
                "userHandle": B64.encode(&credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }))
    }

    /// The RP ID the options name, or the origin's host; the browser refuses one that
    /// is neither the host nor a suffix of it.
    fn rp_id(&self, named: Option<&str>) -> Result<String, String> {
        let rp_id = named.unwrap_or(&self.host);
        if self.host == rp_id || self.host.ends_with(&format!(".{rp_id}")) {
            Ok(rp_id.to_string())
        } else {
            Err(format!(
                "SecurityError: RP ID {rp_id} is not valid for host {}",
                self.host
            ))
        }
    }

    /// rpIdHash || flags || counter, spending one count.
    fn auth_data(&mut self, rp_id: &str, extra_flags: u8) -> Vec<u8> {
        let hashed = self.rp_id_override.as_deref().unwrap_or(rp_id);
        let flags = UP
            | extra_flags
            | if self.user_verified { UV } else { 0 }
            | if self.backup_eligible { BE } else { 0 }
            | if self.backup_state { BS } else { 0 };
        let counter = self.next_counter;
        self.next_counter = counter.wrapping_add(1);
        [
            digest(&SHA256, hashed.as_bytes()).as_ref(),
            &[flags],
            &counter.to_be_bytes(),
        ]
        .concat()
    }

    /// clientDataJSON with its members in a browser's order.
    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        format!(
            r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
            Value::from(kind),
            Value::from(challenge),
            Value::from(self.client_origin.as_str()),
        )
        .into_bytes()
    }
}

/// The options' challenge, which the browser hands back as it was given.
fn challenge(o: &Value) -> Result<&str, String> {
    let text = o["challenge"]
        .as_str()
        .ok_or("TypeError: the options have no challenge")?;
    B64.decode(text)
        .map_err(|_| format!("TypeError: the challenge is not base64url: {text}"))?;
    Ok(text)
}

fn decode(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    v.as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| format!("TypeError: {what} is not a base64url string"))
}

/// The attestation object for format "none": {"fmt":"none","attStmt":{},"authData":..}
/// in CTAP2 canonical key order.
fn attestation_none(auth_data: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(5, 3);
    out.extend(cbor_text("fmt"));
    out.extend(cbor_text("none"));
    out.extend(cbor_text("attStmt"));
    out.extend(cbor_head(5, 0));
    out.extend(cbor_text("authData"));
    out.extend(cbor_bytes(auth_data));
    out
}

/// The COSE_Key of a P-256 public key: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
fn cose_p256_key(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(5, 5);
    out.extend([cbor_head(0, 1), cbor_head(0, 2)].concat());
    out.extend([cbor_head(0, 3), cbor_head(1, 6)].concat()); // -7 = -1 - 6
    out.extend([cbor_head(1, 0), cbor_head(0, 1)].concat()); // -1: 1
    out.extend([cbor_head(1, 1), cbor_bytes(x)].concat()); // -2: x
    out.extend([cbor_head(1, 2), cbor_bytes(y)].concat()); // -3: y
    out
}

/// A CBOR item head: major type and argument, in the shortest form.
fn cbor_head(major: u8, arg: usize) -> Vec<u8> {
    let m = major << 5;
    match arg {
        0..24 => vec![m | arg as u8],
        24..0x100 => vec![m | 24, arg as u8],
        0x100..0x1_0000 => [&[m | 25][..], &(arg as u16).to_be_bytes()].concat(),
        _ => [&[m | 26][..], &(arg as u32).to_be_bytes()].concat(),
    }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    [cbor_head(2, b.len()), b.to_vec()].concat()
}

fn cbor_text(s: &str) -> Vec<u8> {
    [cbor_head(3, s.len()), s.as_bytes().to_vec()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use webauthn_rs::prelude::*;

    const ORIGIN: &str = "http://localhost:3000";

    fn relying_party() -> Webauthn {
        let origin = Url::parse(ORIGIN).expect("the test origin parses");
        WebauthnBuilder::new("localhost", &origin)
            .and_then(WebauthnBuilder::build)
            .expect("a relying party for localhost")
    }

    fn to_json(v: &impl serde::Serialize) -> Value {
        serde_json::to_value(v).expect("options serialize")
    }

    /// Registers a passkey for a new user through the authenticator.
    fn register(rp: &Webauthn, device: &mut SoftAuthenticator) -> (Uuid, Passkey) {
        let user = Uuid::new_v4();
        let (options, state) = rp
            .start_passkey_registration(user, "jane@example.com", "Jane", None)
            .expect("registration starts");
        let reply = device
            .register(&to_json(&options))
            .expect("the device registers");
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(reply).expect("webauthn-rs reads the registration");
        let passkey = rp
            .finish_passkey_registration(&credential, &state)
            .expect("webauthn-rs accepts the registration");
        (user, passkey)
    }

    /// A passkey sign-in (allowCredentials naming the passkey), as webauthn-rs judges it.
    fn sign_in(
        rp: &Webauthn,
        device: &mut SoftAuthenticator,
        passkey: &Passkey,
    ) -> WebauthnResult<AuthenticationResult> {
        let (options, state) = rp
            .start_passkey_authentication(std::slice::from_ref(passkey))
            .expect("authentication starts");
        let reply = device
            .assert(&to_json(&options))
            .expect("the device asserts");
        let credential: PublicKeyCredential =
            serde_json::from_value(reply).expect("webauthn-rs reads the assertion");
        rp.finish_passkey_authentication(&credential, &state)
    }

    #[test]
    fn webauthn_rs_accepts_its_registration_and_sign_in() {
        let rp = relying_party();
        let mut device = SoftAuthenticator::new(ORIGIN);
        let (_, passkey) = register(&rp, &mut device);
        assert_eq!(device.credential_id(), Some(B64.encode(passkey.cred_id())));

        let result = sign_in(&rp, &mut device, &passkey).expect("the sign-in verifies");
        assert!(result.user_verified());
        assert_eq!(result.counter(), 2, "registration counted 1");
        assert!(!result.backup_eligible() && !result.backup_state());
    }

    #[test]
    fn passwordless_sign_in_names_the_user() {
        let rp = relying_party();
        let mut device = SoftAuthenticator::new(ORIGIN);
        let (user, passkey) = register(&rp, &mut device);

        let (options, state) = rp.start_discoverable_authentication().expect("starts");
        // The inner object, as a page hands it to navigator.credentials.get.
        let options = to_json(&options)["publicKey"].clone();
        assert_eq!(
            options["allowCredentials"],
            json!([]),
            "no credential is named"
        );
        let reply = device.assert(&options).expect("the device asserts");
        let credential: PublicKeyCredential = serde_json::from_value(reply).expect("reads");
        let (named, cred_id) = rp
            .identify_discoverable_authentication(&credential)
            .expect("the assertion names a user");
        assert_eq!(named, user);
        assert_eq!(cred_id, passkey.cred_id().as_slice());
        rp.finish_discoverable_authentication_v2(
            &credential,
            state,
            DiscoverableKey::from(&passkey),
        )
        .expect("the passwordless sign-in verifies");
    }

    /// Each knob spoils a sign-in in the way webauthn-rs must catch; the device
    /// without it still signs in between, so each refusal is the knob's doing.
    #[test]
    fn webauthn_rs_refuses_what_each_knob_spoils() {
        type Spoiler = fn(&mut SoftAuthenticator) -> &mut SoftAuthenticator;
        let rp = relying_party();
        let mut device = SoftAuthenticator::new(ORIGIN);
        let (_, passkey) = register(&rp, &mut device);
        let cases: [(Spoiler, &str); 4] = [
            (|d| d.set_user_verified(false), "UserNotVerified"),
            (|d| d.corrupt_next_signature(), "AuthenticationFailure"),
            (
                |d| d.set_client_origin("http://evil.example:3000"),
                "InvalidRPOrigin",
            ),
            (|d| d.set_rp_id_hash_of("evil.example"), "InvalidRPIDHash"),
        ];
        for (spoil, refusal) in cases {
            let mut spoiled = device.clone();
            spoil(&mut spoiled);
            let err = sign_in(&rp, &mut spoiled, &passkey).expect_err(refusal);
            assert_eq!(format!("{err:?}"), refusal);
            sign_in(&rp, &mut device, &passkey).expect("the unspoiled device signs in");
        }
    }

    #[test]
    fn knobs_reach_the_authenticator_data() {
        let rp = relying_party();
        let mut device = SoftAuthenticator::new(ORIGIN);
        device.set_backup(true, true);
        let (_, passkey) = register(&rp, &mut device);
        device.set_next_counter(7);
        let result = sign_in(&rp, &mut device, &passkey).expect("verifies");
        assert!(result.backup_eligible() && result.backup_state());
        assert_eq!(result.counter(), 7);
    }

    #[test]
    fn the_browser_refuses_an_rp_id_foreign_to_the_origin() {
        let rp = relying_party();
        let (options, _) = rp
            .start_passkey_registration(Uuid::new_v4(), "jane", "Jane", None)
            .expect("registration starts");
        let mut options = to_json(&options);
        options["publicKey"]["rp"]["id"] = json!("example.com");
        let err = SoftAuthenticator::new(ORIGIN)
            .register(&options)
            .expect_err("refused");
        assert!(err.starts_with("SecurityError"), "{err}");
    }
}
