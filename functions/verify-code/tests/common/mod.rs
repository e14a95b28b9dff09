//! One memory-backed world per test: a core with a manual clock, a log sender whose
//! outbox shows what was sent, and helpers that act as login and as the client do.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use twofa::api::Response;
use twofa::app::Core;
use twofa::clock::ManualClock;
use twofa::config::Config;
use twofa::senders::log::{LogSender, OutboxEntry};
use twofa::senders::{DeliveryError, SmsMessage, SmsSender};
use twofa::store::memory::MemoryStore;
use twofa::store::UserStore;
use twofa::tenant::Scope;
use twofa::testing::{json_request, memory_core, seed_user};
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{Authenticator, User, UserPatch};

pub const EMAIL: &str = "jane@example.com";
pub const PHONE: &str = "+15555550100";

pub struct World {
    pub core: Core,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub out: LogSender,
}

impl World {
    pub fn new() -> Self {
        Self::with(&[])
    }

    /// A world whose settings are these environment variables over the defaults.
    pub fn with(env: &[(&str, &str)]) -> Self {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = Config::from(&env).expect("test settings are valid");
        let (core, store, clock) = memory_core(config);
        let out = LogSender::new(clock.clone());
        Self { core, store, clock, out }
    }

    pub fn now(&self) -> i64 {
        self.core.now()
    }

    /// A host user with nothing set up.
    pub async fn plain_user(&self, email: &str) -> User {
        seed_user(&self.core, Scope::Host, email, "correct horse battery staple", &[]).await
    }

    /// A host user with 2FA on, email and phone confirmed.
    pub async fn two_factor_user(&self) -> User {
        let user = self.plain_user(EMAIL).await;
        self.patch(
            &user,
            UserPatch {
                email_confirmed: Some(true),
                phone_number: Some(Some(PHONE.into())),
                phone_number_confirmed: Some(true),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn patch(&self, user: &User, patch: UserPatch) -> User {
        self.store.update_user(&user.id, &patch).await.expect("user exists");
        self.user(&user.id).await
    }

    pub async fn user(&self, id: &str) -> User {
        self.store.user(id).await.expect("memory store").expect("user exists")
    }

    /// Enrols and enables an authenticator; returns its key.
    pub async fn enrol_authenticator(&self, user: &User) -> Vec<u8> {
        let key = twofa::totp::new_key().unwrap().expose().clone();
        let sealed_key = self.core.seal_key.seal(&key, &user.id).unwrap();
        self.patch(user, UserPatch { authenticator: Some(Some(Authenticator { sealed_key, enabled: true })), ..Default::default() })
            .await;
        key
    }

    /// Gives the user ten recovery codes; returns them in plain text.
    pub async fn give_recovery_codes(&self, user: &User) -> Vec<String> {
        let codes: Vec<String> = twofa::codes::new_recovery_codes().unwrap().iter().map(|c| c.expose().clone()).collect();
        let hashes = codes.iter().map(|c| twofa::codes::recovery_code_hash(&self.core.hash_key, &user.id, c)).collect();
        self.patch(user, UserPatch { recovery_codes: Some(hashes), ..Default::default() }).await;
        codes
    }

    /// What login does when 2FA applies: a new pending sign-in and its two-factor token.
    pub async fn start_sign_in(&self, user: &User) -> String {
        let sid = uuid::Uuid::new_v4().to_string();
        self.store
            .update_user(&user.id, &UserPatch { pending_sign_in: Some(Some(sid.clone())), ..Default::default() })
            .await
            .unwrap();
        self.token(TokenKind::TwoFactor, user, None, Some(sid))
    }

    /// An access token as login or verify-code issues it; `mfa_at` when a second factor was proven.
    pub fn access_token(&self, user: &User, mfa_at: Option<i64>) -> String {
        self.token(TokenKind::Access, user, mfa_at, None)
    }

    pub fn setup_token(&self, user: &User) -> String {
        self.token(TokenKind::Setup, user, None, None)
    }

    fn token(&self, kind: TokenKind, user: &User, mfa_at: Option<i64>, sid: Option<String>) -> String {
        let amr = if mfa_at.is_some() { vec!["pwd".into(), "otp".into()] } else { vec!["pwd".into()] };
        self.core
            .tokens
            .issue(kind, NewToken { user_id: user.id.clone(), scope: user.scope.key(), amr, mfa_at, sid, ..Default::default() }, self.now())
            .unwrap()
    }

    pub async fn send(&self, body: Value, bearer: Option<&str>) -> Response {
        self.send_with(&self.out, body, bearer).await
    }

    pub async fn send_with(&self, sms: &dyn SmsSender, body: Value, bearer: Option<&str>) -> Response {
        send_code::handle(&self.core, sms, &self.out, json_request("POST", "/send-code", &body, bearer)).await
    }

    pub async fn verify(&self, body: Value, bearer: Option<&str>) -> Response {
        verify_code::handle(&self.core, &self.out, json_request("POST", "/verify-code", &body, bearer)).await
    }

    /// Sends a sign-in code by `provider` and returns it as the user reads it.
    pub async fn send_sign_in_code(&self, token: &str, provider: &str) -> String {
        let r = self.send(json!({"two_factor_token": token, "provider": provider}), None).await;
        assert_eq!(r.status(), 202, "{}", r.body());
        self.last_code()
    }

    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.out.outbox()
    }

    /// The code of the newest message that carried one.
    pub fn last_code(&self) -> String {
        self.outbox().iter().rev().find_map(|m| m.code.clone()).expect("a code was sent")
    }
}

/// The status, the contract's error code and the body.
pub fn answer(r: &Response) -> (u16, String, Value) {
    let body = twofa::testing::body_json(r);
    (r.status().as_u16(), body["error"].as_str().unwrap_or("").to_string(), body)
}

/// An SMS provider that refuses every message, keeping what it was asked to send.
#[derive(Default)]
pub struct RefusingSms {
    pub codes: Mutex<Vec<String>>,
}

#[async_trait]
impl SmsSender for RefusingSms {
    async fn send_sms(&self, m: &SmsMessage) -> Result<(), DeliveryError> {
        if let Some(c) = &m.code {
            self.codes.lock().unwrap().push(c.expose().clone());
        }
        Err(DeliveryError::Refused("the number is opted out".into()))
    }
}
