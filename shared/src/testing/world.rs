//! The one world of the handler tests (send-code, verify-code, manage-settings and
//! the event replay): a core with a manual clock, a log sender whose outbox shows
//! what was sent, users in the states those tests need, and tokens as login issues
//! them. Memory-backed, or over another store ([`World::over`]). Its requests go to
//! the handlers a test crate gives it ([`World::serving`]), through the typed
//! methods of [`Client`]; each answer is read as a [`Reply`].

use crate::amr::Amr;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::fixtures::PASSWORD;
use super::{Client, Reply, json_request, memory_core, seed_user};
use crate::api::{Request, Response};
use crate::app::Core;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::ids::{SignInId, UserId};
use crate::senders::log::{LogSender, OutboxEntry};
use crate::senders::{DeliveryError, SmsMessage, SmsSender};
use crate::side::Side;
use crate::store::UserStore;
use crate::store::memory::MemoryStore;
use crate::tokens::{NewToken, TokenKind};
use crate::user::{Authenticator, User, UserPatch};
use async_trait::async_trait;
use serde_json::Value;

pub use super::fixtures::{EMAIL, PHONE};

/// The handlers a world's requests reach: each test crate gives the ones it tests
/// (the shared crate cannot name the functions, which depend on it).
pub trait Handlers: Send + Sync {
    /// Answers `req` as the function would, with the world's core and senders.
    fn handle<'a>(
        &'a self,
        world: &'a World,
        req: Request,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'a>>;
}

/// A memory-backed world with one clock and one outbox.
pub struct World {
    /// The core handlers take.
    pub core: Core,
    /// The store, counting reads.
    pub store: Arc<MemoryStore>,
    /// The clock tests move.
    pub clock: Arc<ManualClock>,
    /// What the log sender kept: what would have been sent.
    pub out: LogSender,
    /// Where requests go ([`World::serving`]).
    handlers: Option<Arc<dyn Handlers>>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// A world with the default settings.
    pub fn new() -> Self {
        Self::with(&[])
    }

    /// A world whose settings are these environment variables over the defaults.
    pub fn with(env: &[(&str, &str)]) -> Self {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::read(&env).expect("test settings are valid");
        let (core, store, clock) = memory_core(config);
        Self::over(core, store, clock)
    }

    /// A world over `core`, whose store may be another than `store` (which then
    /// counts nothing); users are read and changed through the core's store.
    pub fn over(core: Core, store: Arc<MemoryStore>, clock: Arc<ManualClock>) -> Self {
        let out = LogSender::new(clock.clone());
        Self {
            core,
            store,
            clock,
            out,
            handlers: None,
        }
    }

    /// This world, its requests answered by `handlers`.
    pub fn serving(mut self, handlers: impl Handlers + 'static) -> Self {
        self.handlers = Some(Arc::new(handlers));
        self
    }

    /// Empties the outbox, so that what set-up sent is not taken for what a test sent.
    pub fn forget_sent(&mut self) {
        self.out = LogSender::new(self.clock.clone());
    }

    /// The clock's time.
    pub fn now(&self) -> i64 {
        self.core.now()
    }

    /// A host user with nothing set up.
    pub async fn plain_user(&self, email: &str) -> User {
        seed_user(&self.core, Side::Host, email, PASSWORD, &[]).await
    }

    /// A host user with 2FA on, email and phone confirmed.
    pub async fn two_factor_user(&self) -> User {
        let user = self.plain_user(EMAIL).await;
        self.patch(
            &user,
            UserPatch {
                email_confirmed: Some(true),
                phone_number: Some(Some(super::test_phone(PHONE))),
                phone_number_confirmed: Some(true),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await
    }

    /// Applies a patch and reads the user back.
    pub async fn patch(&self, user: &User, patch: UserPatch) -> User {
        super::patch_user(&self.core, user, patch).await
    }

    /// The user as stored.
    pub async fn user(&self, id: &UserId) -> User {
        self.core
            .store
            .user(id)
            .await
            .expect("the store answers")
            .expect("user exists")
    }

    /// Enrols and enables an authenticator; returns its key.
    pub async fn enrol_authenticator(&self, user: &User) -> Vec<u8> {
        let key = crate::totp::new_key().expect("randomness").expose().clone();
        let sealed_key = self.core.seal_key.seal(&key, &user.id).expect("sealing");
        self.patch(
            user,
            UserPatch {
                authenticator: Some(Some(Authenticator {
                    sealed_key,
                    enabled: true,
                })),
                ..Default::default()
            },
        )
        .await;
        key
    }

    /// Gives the user ten recovery codes; returns them in plain text.
    pub async fn give_recovery_codes(&self, user: &User) -> Vec<String> {
        let codes: Vec<String> = crate::codes::new_recovery_codes()
            .expect("randomness")
            .iter()
            .map(|c| c.expose().clone())
            .collect();
        let hashes = codes
            .iter()
            .map(|c| crate::codes::recovery_code_hash(&self.core.hash_key, &user.id, c))
            .collect();
        self.patch(
            user,
            UserPatch {
                recovery_codes: Some(hashes),
                ..Default::default()
            },
        )
        .await;
        codes
    }

    /// What login does when 2FA applies: a new pending sign-in and its two-factor token.
    pub async fn start_sign_in(&self, user: &User) -> String {
        let sid = SignInId::from(uuid::Uuid::new_v4().to_string());
        self.store
            .update_user(
                &user.id,
                &UserPatch {
                    pending_sign_in: Some(Some(sid.clone())),
                    ..Default::default()
                },
            )
            .await
            .expect("user exists");
        self.token(TokenKind::TwoFactor, user, None, Some(sid))
    }

    /// An access token as login or verify-code issues it, of a new session; `mfa_at`
    /// when a second factor was proven.
    pub async fn access_token(&self, user: &User, mfa_at: Option<i64>) -> String {
        let amr = if mfa_at.is_some() {
            vec![Amr::Pwd, Amr::Otp]
        } else {
            vec![Amr::Pwd]
        };
        crate::app::flows::issue_access(&self.core, user, &amr, mfa_at, &Default::default())
            .await
            .expect("signing in a test user")
            .access_token
    }

    /// A setup token.
    pub fn setup_token(&self, user: &User) -> String {
        self.token(TokenKind::Setup, user, None, None)
    }

    fn token(
        &self,
        kind: TokenKind,
        user: &User,
        mfa_at: Option<i64>,
        sid: Option<SignInId>,
    ) -> String {
        let amr = if mfa_at.is_some() {
            vec![Amr::Pwd, Amr::Otp]
        } else {
            vec![Amr::Pwd]
        };
        let t = NewToken {
            amr: crate::amr::rfc8176(&amr),
            mfa_at,
            sid: sid.map(String::from),
            ..crate::app::flows::token_for(&self.core, user)
        };
        self.core
            .tokens
            .issue(kind, t, self.now())
            .expect("signing a test token")
    }

    /// What the log sender kept.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.out.outbox()
    }

    /// The emails sent to `address`, oldest first.
    pub fn mail_to(&self, address: impl AsRef<str>) -> Vec<OutboxEntry> {
        self.outbox()
            .into_iter()
            .filter(|m| m.to == address.as_ref())
            .collect()
    }

    /// The code of the newest message that carried one.
    pub fn last_code(&self) -> String {
        self.outbox()
            .iter()
            .rev()
            .find_map(|m| m.code.clone())
            .expect("a code was sent")
    }
}

impl Client for World {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let handlers = self
            .handlers
            .as_ref()
            .expect("a world that answers requests is built with World::serving");
        let req = json_request(method, path, body.unwrap_or(&Value::Null), bearer);
        Reply::of(&handlers.handle(self, req).await)
    }
}

/// An SMS provider that refuses every message, keeping what it was asked to send.
#[derive(Default)]
pub struct RefusingSms {
    /// The codes it was asked to send.
    pub codes: Mutex<Vec<String>>,
}

#[async_trait]
impl SmsSender for RefusingSms {
    async fn send_sms(&self, m: &SmsMessage) -> Result<(), DeliveryError> {
        if let Some(c) = &m.code {
            self.codes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(c.expose().clone());
        }
        Err(DeliveryError::Refused("the number is opted out".into()))
    }
}
