//! The shared world populated for the handler tests: a host with an admin and a
//! user, and two tenants (`acme`, `globex`) created through `POST /tenants`, each
//! with its admin and a user; tokens of every kind.
#![allow(dead_code)]

use serde_json::{Value, json};
use twofa::amr::Amr;
use twofa::config::Config;
use twofa::tenant::Scope;
use twofa::testing::{json_request, memory_core, seed_user};
use twofa::tokens::{NewToken, TokenKind, issue_access, token_for};
use twofa::user::{Role, User, UserPatch};

pub const PASSWORD: &str = "correct horse battery staple";

pub use twofa::testing::Reply;

/// The shared world (`twofa::testing::world`), populated: what it offers (core,
/// store, clock, outbox, users read and changed) is reached through it.
pub struct World {
    base: twofa::testing::world::World,
    pub host_admin: User,
    pub host_user: User,
    pub acme_admin: User,
    pub acme_user: User,
    pub globex_admin: User,
    pub globex_user: User,
}

impl std::ops::Deref for World {
    type Target = twofa::testing::world::World;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl World {
    /// The world over the memory store.
    pub async fn new() -> Self {
        Self::populate(twofa::testing::world::World::new()).await
    }

    /// `base` with the host's and the tenants' admins and users.
    pub async fn populate(base: twofa::testing::world::World) -> Self {
        let host_admin = seed_user(
            &base.core,
            Scope::Host,
            "root@example.com",
            PASSWORD,
            &[Role::HostAdmin],
        )
        .await;
        let host_user = seed_user(&base.core, Scope::Host, "hana@example.com", PASSWORD, &[]).await;
        let mut w = World {
            base,
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
        w.host_admin = w.patch(&w.host_admin, confirmed()).await;
        w.host_user = w.patch(&w.host_user, confirmed()).await;
        w.acme_admin = w.patch(&w.acme_admin, confirmed()).await;
        w.acme_user = w.patch(&w.acme_user, confirmed()).await;
        w.globex_admin = w.patch(&w.globex_admin, confirmed()).await;
        w.globex_user = w.patch(&w.globex_user, confirmed()).await;
        w.base.forget_sent();
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
        self.user(&id.into()).await
    }

    /// Sends a request to the handler.
    pub async fn call(&self, method: &str, path: &str, body: Value, token: Option<&str>) -> Reply {
        let resp = manage_settings::handle(
            &self.core,
            &self.out,
            json_request(method, path, &body, token),
        )
        .await;
        Reply::of(&resp)
    }

    /// An access token from a password-only sign-in.
    pub fn token(&self, user: &User) -> String {
        issue_access(&self.core, user, &[Amr::Pwd], None)
            .expect("an access token")
            .access_token
    }

    /// An access token from a sign-in with a second factor, proven now.
    pub fn mfa_token(&self, user: &User) -> String {
        issue_access(
            &self.core,
            user,
            &[Amr::Pwd, Amr::Otp],
            Some(self.core.now()),
        )
        .expect("an access token")
        .access_token
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
        issue_access(&other, user, &[Amr::Pwd, Amr::Otp], Some(self.core.now()))
            .expect("an access token")
            .access_token
    }
}
