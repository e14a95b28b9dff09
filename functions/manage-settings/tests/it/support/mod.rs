//! One world for the handler tests: a host with an admin and a user, and two
//! tenants (`acme`, `globex`) created through `POST /tenants`, each with its admin
//! and a user; tokens of every kind; the notices the log sender kept.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Value, json};
use twofa::app::Core;
use twofa::clock::ManualClock;
use twofa::config::Config;
use twofa::senders::log::{LogSender, OutboxEntry};
use twofa::sign_in::{issue_access, token_for};
use twofa::store::memory::MemoryStore;
use twofa::tenant::Scope;
use twofa::testing::{json_request, memory_core, seed_user};
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{Role, User, UserPatch};

pub const PASSWORD: &str = "correct horse battery staple";

pub use twofa::testing::Reply;

pub struct World {
    pub core: Core,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub email: LogSender,
    pub host_admin: User,
    pub host_user: User,
    pub acme_admin: User,
    pub acme_user: User,
    pub globex_admin: User,
    pub globex_user: User,
}

impl World {
    /// The world over the memory store.
    pub async fn new() -> Self {
        let (core, store, clock) = memory_core(Config::default());
        Self::populate(core, store, clock).await
    }

    /// The world over `core` (another store); `store` counts nothing then.
    pub async fn populate(core: Core, store: Arc<MemoryStore>, clock: Arc<ManualClock>) -> Self {
        let email = LogSender::new(clock.clone());
        let host_admin = seed_user(
            &core,
            Scope::Host,
            "root@example.com",
            PASSWORD,
            &[Role::HostAdmin],
        )
        .await;
        let host_user = seed_user(&core, Scope::Host, "hana@example.com", PASSWORD, &[]).await;
        let mut w = World {
            core,
            store,
            clock,
            email,
            host_user,
            acme_admin: host_admin.clone(),
            acme_user: host_admin.clone(),
            globex_admin: host_admin.clone(),
            globex_user: host_admin.clone(),
            host_admin,
        };
        w.acme_admin = w.create_tenant("Acme", "admin@acme.example").await;
        w.acme_user = seed_user(
            &w.core,
            Scope::Tenant("acme".into()),
            "alice@acme.example",
            PASSWORD,
            &[],
        )
        .await;
        w.globex_admin = w.create_tenant("Globex", "admin@globex.example").await;
        w.globex_user = seed_user(
            &w.core,
            Scope::Tenant("globex".into()),
            "gus@globex.example",
            PASSWORD,
            &[],
        )
        .await;
        let confirmed = || UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        };
        w.host_admin = w.change(&w.host_admin, confirmed()).await;
        w.host_user = w.change(&w.host_user, confirmed()).await;
        w.acme_admin = w.change(&w.acme_admin, confirmed()).await;
        w.acme_user = w.change(&w.acme_user, confirmed()).await;
        w.globex_admin = w.change(&w.globex_admin, confirmed()).await;
        w.globex_user = w.change(&w.globex_user, confirmed()).await;
        w.email = LogSender::new(w.clock.clone());
        w
    }

    async fn create_tenant(&self, name: &str, admin_email: &str) -> User {
        let r = self
            .call(
                "POST",
                "/tenants",
                json!({"name": name, "admin_email": admin_email, "admin_password": PASSWORD}),
                Some(&self.token(&self.host_admin)),
            )
            .await;
        assert_eq!(r.status, 201, "creating tenant {name}: {:?}", r.body);
        let id = r.body["admin_user_id"]
            .as_str()
            .expect("the new admin's id");
        self.user(id).await
    }

    /// Sends a request to the handler.
    pub async fn call(&self, method: &str, path: &str, body: Value, token: Option<&str>) -> Reply {
        let resp = manage_settings::handle(
            &self.core,
            &self.email,
            json_request(method, path, &body, token),
        )
        .await;
        Reply::of(&resp)
    }

    /// An access token from a password-only sign-in.
    pub fn token(&self, user: &User) -> String {
        issue_access(&self.core, user, &["pwd"], None)
            .expect("an access token")
            .access_token
    }

    /// An access token from a sign-in with a second factor, proven now.
    pub fn mfa_token(&self, user: &User) -> String {
        issue_access(&self.core, user, &["pwd", "otp"], Some(self.core.now()))
            .expect("an access token")
            .access_token
    }

    /// A setup token, as login gives a user forced into 2FA without a provider.
    pub fn setup_token(&self, user: &User) -> String {
        self.core
            .tokens
            .issue(
                TokenKind::Setup,
                NewToken {
                    amr: vec!["pwd".into()],
                    ..token_for(&self.core, user)
                },
                self.core.now(),
            )
            .expect("a setup token")
    }

    /// A two-factor token (the wrong kind for every route here).
    pub fn two_factor_token(&self, user: &User) -> String {
        self.core
            .tokens
            .issue(
                TokenKind::TwoFactor,
                NewToken {
                    sid: Some("s".into()),
                    ..token_for(&self.core, user)
                },
                self.core.now(),
            )
            .expect("a two-factor token")
    }

    /// An access token signed with a key this service does not hold.
    pub fn forged_token(&self, user: &User) -> String {
        let (other, _, _) = memory_core(Config::default());
        issue_access(&other, user, &["pwd", "otp"], Some(self.core.now()))
            .expect("an access token")
            .access_token
    }

    /// The user as stored now.
    pub async fn user(&self, id: &str) -> User {
        self.core
            .store
            .user(id)
            .await
            .expect("store")
            .expect("the user exists")
    }

    /// Changes a user directly in the store (test set-up).
    pub async fn change(&self, user: &User, patch: UserPatch) -> User {
        self.core
            .store
            .update_user(&user.id, &patch)
            .await
            .expect("store");
        self.user(&user.id).await
    }

    /// The emails sent to `address`, oldest first.
    pub fn mail_to(&self, address: impl AsRef<str>) -> Vec<OutboxEntry> {
        self.email
            .outbox()
            .into_iter()
            .filter(|m| m.to == address.as_ref())
            .collect()
    }
}
