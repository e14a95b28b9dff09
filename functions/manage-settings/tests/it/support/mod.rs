//! The shared world populated for the handler tests: a host with an admin and a
//! user, and two tenants (`acme`, `globex`) created through `POST /tenants`, each
//! with its admin and a user (the fixtures of `twofa::testing::fixtures`); tokens of
//! every kind. Requests go to manage-settings' handler through the world's
//! `Client` methods (`w.settings(method, path, body, token)`).
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use twofa::amr::Amr;
use twofa::ids::UserId;

use serde_json::json;
use twofa::api::{Request, Response};
use twofa::flows::{issue_access, token_for};
use twofa::side::Side;
use twofa::testing::fixtures::{ACME, GLOBEX, HOST_ADMIN_EMAIL, HOST_USER_EMAIL, Tenant};
use twofa::testing::seed_user;
use twofa::testing::world::Handlers;
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{Role, User, UserPatch};

pub use twofa::testing::fixtures::PASSWORD;
pub use twofa::testing::{Client, Reply};

/// manage-settings' handler, mailing through the world's log sender.
pub struct ManageSettings;

impl Handlers for ManageSettings {
    fn handle<'a>(
        &'a self,
        w: &'a twofa::testing::world::World,
        req: Request,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'a>> {
        Box::pin(manage_settings::handle(&w.core, &w.out, req))
    }
}

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

    /// `base` with the host's and the tenants' admins and users, answering with
    /// manage-settings.
    pub async fn populate(base: twofa::testing::world::World) -> Self {
        let base = base.serving(ManageSettings);
        let host_admin = seed_user(
            &base.core,
            Side::Host,
            HOST_ADMIN_EMAIL,
            PASSWORD,
            &[Role::HostAdmin],
        )
        .await;
        let host_user = seed_user(&base.core, Side::Host, HOST_USER_EMAIL, PASSWORD, &[]).await;
        let mut w = World {
            base,
            host_user,
            acme_admin: host_admin.clone(),
            acme_user: host_admin.clone(),
            globex_admin: host_admin.clone(),
            globex_user: host_admin.clone(),
            host_admin,
        };
        (w.acme_admin, w.acme_user) = w.create_tenant(ACME).await;
        (w.globex_admin, w.globex_user) = w.create_tenant(GLOBEX).await;
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

    /// Creates `tenant` through `POST /tenants`; returns its admin and a user seeded
    /// beside it.
    async fn create_tenant(&self, tenant: Tenant) -> (User, User) {
        let body = json!({"name": tenant.name, "admin_email": tenant.admin_email, "admin_password": PASSWORD});
        let r = self
            .post("/tenants", &body, Some(&self.token(&self.host_admin).await))
            .await;
        assert_eq!(
            r.status, 201,
            "creating tenant {}: {:?}",
            tenant.name, r.body
        );
        let id = r.body["admin_user_id"]
            .as_str()
            .expect("the new admin's id");
        let admin = self.user(&UserId::from(id)).await;
        let user = seed_user(
            &self.core,
            Side::Tenant(tenant.id.into()),
            tenant.user_email,
            PASSWORD,
            &[],
        )
        .await;
        (admin, user)
    }

    /// An access token from a password-only sign-in.
    pub async fn token(&self, user: &User) -> String {
        issue_access(&self.core, user, &[Amr::Pwd], None, &Default::default())
            .await
            .expect("an access token")
            .access_token
    }

    /// An access token from a sign-in with a second factor, proven now.
    pub async fn mfa_token(&self, user: &User) -> String {
        issue_access(
            &self.core,
            user,
            &[Amr::Pwd, Amr::Otp],
            Some(self.core.now()),
            &Default::default(),
        )
        .await
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
    pub async fn forged_token(&self, user: &User) -> String {
        let other = twofa::testing::stranger_core();
        issue_access(
            &other,
            user,
            &[Amr::Pwd, Amr::Otp],
            Some(self.core.now()),
            &Default::default(),
        )
        .await
        .expect("an access token")
        .access_token
    }
}
