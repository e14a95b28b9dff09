//! The one test harness: the [`world::World`] of the handler tests and the
//! [`Client`] interface it shares with the end-to-end crate's `TestApp`, the one
//! response reader [`Reply`], the one set of [`fixtures`], and the cores, users and
//! requests tests build.
//!
//! Tests that need a real service (DynamoDB Local, moto): the test command starts
//! them and exports their endpoints. Without them such a test is ignored, and shows
//! so in cargo's summary (`cfg(no_dynamodb)`, `cfg(no_moto)`, set by `shared/build.rs`);
//! with `CI=true` it runs and fails ([`service_endpoint`]).

/// The endpoint in `var` (e.g. `DYNAMODB_ENDPOINT`, `MOTO_ENDPOINT`), or `None`
/// after saying so on stderr: for a test that runs on the memory store and adds
/// DynamoDB Local when it is there (a test that needs the service is ignored
/// without it, see `shared/build.rs`). Panics under `CI=true` when the variable is unset.
pub fn service_endpoint(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{var} is not set: CI must run this test against the real service (run infra/scripts/test.sh)"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set; run infra/scripts/test.sh to test against the real service"
            );
            None
        }
    }
}

pub mod access_keys;
pub mod authenticator;
pub mod client;
pub mod fixtures;
pub mod world;

pub use client::Client;

/// The SDK configuration for a local emulator (DynamoDB Local, moto) at `endpoint`:
/// test credentials and a region given here, so nothing is read from the machine
/// and no call goes to AWS. The one place tests and the bench build it.
#[cfg(feature = "aws")]
pub fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(crate::sdk::https_client())
        .build()
}

use std::sync::Arc;

use crate::api::Request;
use crate::app::{Core, Keys};
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::email::Email;
use crate::phone::PhoneNumber;
use crate::side::Side;
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::user::{Role, User, UserPatch};

/// A core over a fresh memory store and a manual clock, with random keys. The clock
/// starts in 2100: a core rebuilt over DynamoDB Local with this clock must not write
/// items whose TTL is already past, which DynamoDB Local really deletes.
pub fn memory_core(config: Config) -> (Core, Arc<MemoryStore>, Arc<ManualClock>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(4_102_444_800));
    (
        core_over(store.clone(), clock.clone(), config),
        store,
        clock,
    )
}

/// A core over `store` and `clock` with random keys, as every test core is built.
pub fn core_over(store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut config: Config) -> Core {
    let keys =
        Keys::random(config.token_lifetimes, &access_key()).expect("the system has randomness");
    // Requests built in process have no Host to name an issuer by.
    config
        .token_names
        .issuer
        .get_or_insert_with(|| TEST_ISSUER.to_string());
    config.webauthn.get_or_insert_with(test_relying_party);
    Core::new(store, clock, config, keys)
}

/// The relying party of test cores: passkeys for [`TEST_ORIGIN`], as the software
/// authenticator (`authenticator`) answers from it.
pub fn test_relying_party() -> crate::passkeys::RpConfig {
    crate::passkeys::RpConfig {
        rp_id: "twofa.test".into(),
        rp_name: "twofa tests".into(),
        origins: vec![TEST_ORIGIN.into()],
    }
}

/// The page test clients use passkeys from.
pub const TEST_ORIGIN: &str = "https://twofa.test";

/// A core of another deployment: its own store and keys, its access tokens signed
/// with [`access_keys::OTHER_ACCESS_KEY`]. What it signs, no test core accepts.
pub fn stranger_core() -> Core {
    let config = Config::default();
    let other = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        access_keys::OTHER_ACCESS_KEY,
    )
    .expect("the test key is base64");
    let keys = Keys::random(config.token_lifetimes, &other).expect("the system has randomness");
    let mut config = config;
    config.token_names.issuer = Some(TEST_ISSUER.to_string());
    Core::new(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(4_102_444_800)),
        config,
        keys,
    )
}

/// The issuer of the tokens a test core signs, unless its config names another.
pub const TEST_ISSUER: &str = "https://twofa.test";

/// The access-token key test cores sign with ([`access_keys::ACCESS_KEY`]), as DER.
pub fn access_key() -> Vec<u8> {
    base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        access_keys::ACCESS_KEY,
    )
    .expect("the test key is base64")
}

/// A JSON request as a client would send it, with an optional bearer token.
pub fn json_request(
    method: &str,
    path: &str,
    body: &serde_json::Value,
    bearer: Option<&str>,
) -> Request {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("user-agent", "twofa-tests");
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    b.body(bytes).expect("a request built from valid parts")
}

/// Stores a user with this password (hashed for real) and nothing else set up:
/// email unconfirmed, no phone, 2FA flag off.
pub async fn seed_user(
    core: &Core,
    scope: Side,
    email: &str,
    password: &str,
    roles: &[Role],
) -> User {
    let hash = crate::password::hash_blocking_for_tests(password);
    let user = User {
        roles: roles.to_vec(),
        ..User::new(scope, test_email(email), hash, core.now())
    };
    core.store
        .create_user(&user)
        .await
        .expect("seeding a user into a fresh store");
    user
}

/// Applies a patch to a stored user and reads the user back (test set-up).
pub async fn patch_user(core: &Core, user: &User, patch: UserPatch) -> User {
    core.store
        .update_user(&user.id, &patch)
        .await
        .expect("the user exists");
    core.store
        .user(&user.id)
        .await
        .expect("the store answers")
        .expect("the user exists")
}

/// A response as tests read it, from a handler or over HTTP: the one place a test
/// turns an answer into its status, error code, JSON body and headers. Its fields
/// are public so that a test can take it apart:
/// `let Reply { status, error, body, .. } = w.send_code(&req, None).await;`
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The contract's error code, if the answer is an error (empty otherwise).
    pub error: String,
    /// JSON body (Null when empty or not JSON).
    pub body: serde_json::Value,
    /// The body as it was sent.
    pub text: String,
    /// Headers.
    pub headers: http::HeaderMap,
}

impl Reply {
    /// An answer from its parts, as an HTTP client receives them.
    pub fn new(status: u16, headers: http::HeaderMap, body_text: &str) -> Self {
        let body: serde_json::Value =
            serde_json::from_str(body_text).unwrap_or(serde_json::Value::Null);
        Self {
            status,
            error: body["error"].as_str().unwrap_or("").to_string(),
            body,
            text: body_text.to_string(),
            headers,
        }
    }

    /// A handler's answer.
    pub fn of(resp: &crate::api::Response) -> Self {
        Self::new(resp.status().as_u16(), resp.headers().clone(), resp.body())
    }

    /// The body, once the status is `status` (else the test fails, saying `what`).
    pub fn expect_status(self, status: u16, what: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{what}: {self:?}");
        self.body
    }
}

/// A user value (not stored) with a throwaway password hash; for building fixtures
/// such as a tenant's first admin.
pub fn seed_user_value(scope: &Side, email: &str) -> User {
    User {
        email_confirmed: true,
        roles: vec![Role::TenantAdmin],
        ..User::new(scope.clone(), test_email(email), String::new(), 0)
    }
}

/// A fixture's address, parsed; a test that needs a bad one parses it itself.
pub fn test_email(text: &str) -> Email {
    Email::parse(text).expect("a test fixture's address parses")
}

/// A fixture's phone number, parsed.
pub fn test_phone(text: &str) -> PhoneNumber {
    PhoneNumber::parse(text).expect("a test fixture's number parses")
}
