//! Every events/ file, as `sam local invoke` would pass it, goes through
//! `lambda_http::request::from_str` and the function that owns its route (over a
//! memory store), and gets the status the contract gives that request. The stored
//! world each event needs (its user, tenant, device, pending code) is set up first,
//! and its placeholder bearer token is swapped for one minted for that user.

use std::sync::Arc;
use twofa::amr::Amr;

use serde_json::{Value, json};
use twofa::api::{Request, Response};
use twofa::app::Core;
use twofa::codes::{CodePurpose, PendingCode, code_hash};
use twofa::devices::Device;
use twofa::flows::passkey::start_ceremony;
use twofa::ids::PasskeyId;
use twofa::passkeys::{Passkey, Purpose};
use twofa::policy::{Behaviour, TwoFactorSettings};
use twofa::side::Side;
use twofa::tenant::Tenant;
use twofa::testing::TEST_ORIGIN;
use twofa::testing::authenticator::SoftAuthenticator;
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{Authenticator, Role, User, UserPatch};

/// The ids the event files use in their paths.
const EVENT_USER_ID: &str = "6f1c5a3e-2b7d-4c9a-9e1f-0d3b8a7c5e21";
const EVENT_DEVICE_ID: &str = "Xq7b2LmP9vRt";
/// The session id in events/account-sessions-end.json.
const EVENT_SESSION_ID: &str = "Zk3pQ7wR2xYt8bNc";
/// The passkey id in events/account-passkeys-rename.json and -remove.json.
const EVENT_PASSKEY_ID: &str = "Qm4xT8vYp2Lk";
/// The code the verify-code events carry.
const EVENT_CODE: &str = "492817";
const JANE: &str = "jane.doe@example.com";
const JANE_PASSWORD: &str = "violet-Harbor-92-lantern";

struct World {
    api: local_api::LocalApi,
}

/// What an event needs besides its file.
#[derive(Default)]
struct Setup {
    bearer: Option<String>,
    body: Vec<(&'static str, Value)>,
    path_ids: Vec<(&'static str, String)>,
}

impl World {
    /// The shared world (`twofa::testing::world`), served by the local API.
    fn new() -> Self {
        let w = twofa::testing::world::World::new();
        Self {
            api: local_api::LocalApi {
                core: w.core,
                sms: Arc::new(w.out.clone()),
                email: Arc::new(w.out.clone()),
                outbox: w.out,
            },
        }
    }

    fn core(&self) -> &Core {
        &self.api.core
    }

    async fn user(&self, scope: Side, email: &str, roles: &[Role]) -> User {
        twofa::testing::seed_user(self.core(), scope, email, JANE_PASSWORD, roles).await
    }

    async fn patch(&self, user: &User, patch: UserPatch) -> User {
        twofa::testing::patch_user(self.core(), user, patch).await
    }

    /// Jane, whose email is confirmed.
    async fn jane(&self) -> User {
        let jane = self.user(Side::Host, JANE, &[]).await;
        self.patch(
            &jane,
            UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
    }

    /// `user` with a passkey enrolled (as the finish of an enrolment stores it) and
    /// the authenticator that holds it.
    async fn passkey(&self, user: &User) -> (User, PasskeyId, SoftAuthenticator) {
        let rp = self
            .core()
            .passkeys
            .as_ref()
            .expect("test cores have passkeys");
        let mut device = SoftAuthenticator::new(TEST_ORIGIN);
        let (options, state) = rp
            .start_registration(&user.id, user.email.as_str(), &[])
            .expect("creation options");
        let credential = device
            .register(&options)
            .expect("the authenticator answers");
        let enrolled = rp
            .finish_registration(&state, &credential)
            .expect("the relying party accepts it");
        let passkey = Passkey {
            id: PasskeyId::random().expect("randomness"),
            credential_id: enrolled.credential_id,
            name: "Laptop".into(),
            created_at: self.core().now(),
            last_used_at: None,
            backed_up: enrolled.backed_up,
            counter: enrolled.counter,
            credential: enrolled.credential,
        };
        self.core()
            .store
            .add_passkey(&user.id, &user.side, &passkey, &UserPatch::default())
            .await
            .expect("storing the passkey");
        let user = self
            .core()
            .store
            .user(&user.id)
            .await
            .expect("the store answers")
            .expect("the user");
        (user, passkey.id, device)
    }

    /// A password sign-in of `user`'s: a new session and its tokens.
    async fn sign_in(&self, user: &User) -> twofa::tokens::SignedIn {
        twofa::flows::issue_access(self.core(), user, &[Amr::Pwd], None, &Default::default())
            .await
            .expect("signing in")
    }

    async fn access(&self, user: &User, mfa_at: Option<i64>) -> String {
        twofa::flows::issue_access(self.core(), user, &[Amr::Pwd], mfa_at, &Default::default())
            .await
            .expect("signing in")
            .access_token
    }

    /// Jane in the middle of signing in: 2FA on, a pending sign-in, and its two-factor token.
    async fn jane_signing_in(&self) -> (User, String) {
        let jane = self.jane().await;
        let sid = twofa::ids::SignInId::from("sid-from-login");
        let jane = self
            .patch(
                &jane,
                UserPatch {
                    two_factor_enabled: Some(true),
                    pending_sign_in: Some(Some(sid.clone())),
                    ..Default::default()
                },
            )
            .await;
        let t = NewToken {
            amr: twofa::amr::rfc8176(&[Amr::Pwd]),
            sid: Some(sid.to_string()),
            ..twofa::flows::token_for(self.core(), &jane)
        };
        let token = self
            .core()
            .tokens
            .issue(TokenKind::TwoFactor, t, self.core().now())
            .expect("minting a two-factor token");
        (jane, token)
    }

    async fn host_admin(&self) -> String {
        let admin = self
            .user(Side::Host, "root@example.com", &[Role::HostAdmin])
            .await;
        self.access(&admin, None).await
    }

    async fn tenant_acme(&self) {
        let now = self.core().now();
        let tenant = Tenant {
            name: "acme".into(),
            feature: Behaviour::Optional,
            settings: TwoFactorSettings::default(),
            created_at: now,
            lockout: None,
            host_lockout: None,
        };
        let mut admin = User::new(
            tenant.side(),
            twofa::testing::test_email("admin@acme.example"),
            twofa::password::hash_blocking_for_tests("amber-Falcon-37-meadow"),
            now,
        );
        admin.roles = vec![Role::TenantAdmin];
        self.core()
            .store
            .create_tenant(&tenant, &admin)
            .await
            .expect("creating tenant acme");
    }

    /// Gives the user an authenticator (pending or enabled); returns its key.
    async fn authenticator(&self, user: &User, enabled: bool) -> (User, Vec<u8>) {
        let key = twofa::totp::new_key().expect("a TOTP key").expose().clone();
        let sealed_key = self.core().seal_key.seal(&key, &user.id).expect("sealing");
        let patch = UserPatch {
            authenticator: Some(Some(Authenticator {
                sealed_key,
                enabled,
            })),
            two_factor_enabled: enabled.then_some(true),
            ..Default::default()
        };
        (self.patch(user, patch).await, key)
    }

    /// The stored world and substitutions an event needs, and the status the contract gives it.
    async fn prepare(&self, event: &str) -> (Setup, u16) {
        let now = self.core().now();
        match event {
            // 201 {user_id, email, email_confirmed: false}
            "register.json" => (Setup::default(), 201),
            // No second factor applies to a user whose own flag is off: signed in.
            "login.json" => {
                self.user(Side::Host, JANE, &[]).await;
                (Setup::default(), 200)
            }
            "send-code.json" => {
                let (_, token) = self.jane_signing_in().await;
                (
                    Setup {
                        body: vec![("two_factor_token", json!(token))],
                        ..Default::default()
                    },
                    202,
                )
            }
            "verify-code.json" => {
                let (jane, token) = self.jane_signing_in().await;
                let hash = code_hash(
                    &self.core().hash_key,
                    &jane.id,
                    CodePurpose::SignInEmail,
                    jane.email.as_str(),
                    Some("sid-from-login"),
                    EVENT_CODE,
                );
                let code = PendingCode {
                    user_id: jane.id.clone(),
                    purpose: CodePurpose::SignInEmail,
                    destination: jane.email.as_str().to_string(),
                    hash,
                    created_at: now,
                    expires_at: now + 300,
                };
                self.core()
                    .store
                    .put_code(&code)
                    .await
                    .expect("storing the emailed code");
                (
                    Setup {
                        body: vec![("two_factor_token", json!(token))],
                        ..Default::default()
                    },
                    200,
                )
            }
            "settings-get.json" | "settings-put.json" | "tenants-create.json" => (
                Setup {
                    bearer: Some(self.host_admin().await),
                    ..Default::default()
                },
                if event == "tenants-create.json" {
                    201
                } else {
                    200
                },
            ),
            "tenant-feature-get.json" | "tenant-feature-put.json" => {
                self.tenant_acme().await;
                (
                    Setup {
                        bearer: Some(self.host_admin().await),
                        ..Default::default()
                    },
                    200,
                )
            }
            "user-two-factor-get.json" | "user-two-factor-put.json" => {
                let jane = self.jane().await;
                (
                    Setup {
                        bearer: Some(self.host_admin().await),
                        path_ids: vec![(EVENT_USER_ID, jane.id.into())],
                        ..Default::default()
                    },
                    200,
                )
            }
            "account-two-factor-get.json"
            | "account-two-factor-put.json"
            | "account-authenticator-add.json"
            | "account-recovery-codes.json" => {
                let jane = self.jane().await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        ..Default::default()
                    },
                    200,
                )
            }
            "account-authenticator-verify.json" => {
                let (jane, key) = self.authenticator(&self.jane().await, false).await;
                let code = twofa::totp::code_at(&key, now).expect("a code from the authenticator");
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        body: vec![("code", json!(code))],
                        ..Default::default()
                    },
                    200,
                )
            }
            // Removing the authenticator weakens the account: the token proves a second factor just now.
            "account-authenticator-remove.json" => {
                let (jane, _) = self.authenticator(&self.jane().await, true).await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, Some(now)).await),
                        ..Default::default()
                    },
                    204,
                )
            }
            "account-forget-browser.json" => {
                let jane = self.jane().await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        ..Default::default()
                    },
                    204,
                )
            }
            "account-sessions-list.json" | "account-sessions-end.json" => {
                let jane = self.jane().await;
                let signed_in = self.sign_in(&jane).await;
                let session = self
                    .core()
                    .tokens
                    .verify(TokenKind::Access, &signed_in.access_token, now)
                    .expect("a token of ours")
                    .sid
                    .expect("a session");
                (
                    Setup {
                        bearer: Some(signed_in.access_token),
                        path_ids: vec![(EVENT_SESSION_ID, session)],
                        ..Default::default()
                    },
                    if event == "account-sessions-list.json" {
                        200
                    } else {
                        204
                    },
                )
            }
            "token-refresh.json" | "token-revoke.json" => {
                let jane = self.jane().await;
                let signed_in = self.sign_in(&jane).await;
                (
                    Setup {
                        body: vec![("refresh_token", json!(signed_in.refresh_token))],
                        ..Default::default()
                    },
                    200,
                )
            }
            "account-devices-list.json" | "account-devices-forget.json" => {
                let jane = self.jane().await;
                let device = Device {
                    user_id: jane.id.clone(),
                    device_id: EVENT_DEVICE_ID.into(),
                    token_hash: "not-needed-to-list-or-forget".into(),
                    security_stamp: jane.security_stamp.clone(),
                    created_at: now,
                    last_used_at: now,
                    expires_at: now + 14 * 86_400,
                    user_agent: Some(
                        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
                            .into(),
                    ),
                };
                self.core()
                    .store
                    .put_device(&device)
                    .await
                    .expect("remembering a browser");
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        ..Default::default()
                    },
                    if event == "account-devices-list.json" {
                        200
                    } else {
                        204
                    },
                )
            }
            // Whatever the account, 202 {}; Jane's confirmed address gets a code.
            "password-forgot.json" => {
                self.jane().await;
                (Setup::default(), 202)
            }
            "password-reset.json" => {
                let jane = self.jane().await;
                let hash = code_hash(
                    &self.core().hash_key,
                    &jane.id,
                    CodePurpose::PasswordReset,
                    jane.email.as_str(),
                    // A reset code is bound to the stamp it was sent under.
                    Some(&jane.security_stamp),
                    EVENT_CODE,
                );
                let code = PendingCode {
                    user_id: jane.id.clone(),
                    purpose: CodePurpose::PasswordReset,
                    destination: jane.email.as_str().to_string(),
                    hash,
                    created_at: now,
                    expires_at: now + 300,
                };
                self.core()
                    .store
                    .put_code(&code)
                    .await
                    .expect("storing the emailed reset code");
                (Setup::default(), 204)
            }
            "account-password-change.json" | "account-sign-out-everywhere.json" => {
                let jane = self.jane().await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        ..Default::default()
                    },
                    204,
                )
            }
            "settings-lockout-get.json" | "settings-lockout-put.json" => (
                Setup {
                    bearer: Some(self.host_admin().await),
                    ..Default::default()
                },
                200,
            ),
            "console.json" | "console-file.json" | "discovery.json" | "jwks.json" => {
                (Setup::default(), 200)
            }
            "users-list.json" | "events-list.json" => {
                self.jane().await;
                (
                    Setup {
                        bearer: Some(self.host_admin().await),
                        ..Default::default()
                    },
                    200,
                )
            }
            // The host admin has no second factor, so resetting Jane's needs no step-up.
            "user-unlock.json" | "user-reset-two-factor.json" => {
                let (jane, _) = self.authenticator(&self.jane().await, true).await;
                (
                    Setup {
                        bearer: Some(self.host_admin().await),
                        path_ids: vec![(EVENT_USER_ID, jane.id.into())],
                        ..Default::default()
                    },
                    204,
                )
            }
            "account-events.json" => {
                let jane = self.jane().await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        ..Default::default()
                    },
                    200,
                )
            }
            "passkeys-sign-in.json" => (Setup::default(), 200),
            "passkeys-sign-in-finish.json" => {
                let (_, _, mut device) = self.passkey(&self.jane().await).await;
                let rp = self.core().passkeys.as_ref().expect("passkeys");
                let (options, state) = rp.start_sign_in().expect("request options");
                let started = start_ceremony(
                    self.core(),
                    Purpose::SignIn { side: Side::Host },
                    options,
                    state,
                )
                .await
                .expect("a ceremony");
                let credential = device.assert(&started.options).expect("an assertion");
                (
                    Setup {
                        body: vec![
                            ("ceremony_id", json!(started.ceremony_id)),
                            ("credential", credential),
                        ],
                        ..Default::default()
                    },
                    200,
                )
            }
            "account-passkeys-register.json" | "account-passkeys-list.json" => {
                let jane = self.jane().await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        ..Default::default()
                    },
                    200,
                )
            }
            "account-passkeys-register-finish.json" => {
                let jane = self.jane().await;
                let signed_in = self.sign_in(&jane).await;
                let session = self
                    .core()
                    .tokens
                    .verify(TokenKind::Access, &signed_in.access_token, now)
                    .expect("a token of ours")
                    .sid
                    .expect("a session");
                let rp = self.core().passkeys.as_ref().expect("passkeys");
                let (options, state) = rp
                    .start_registration(&jane.id, jane.email.as_str(), &[])
                    .expect("creation options");
                let purpose = Purpose::Register {
                    user_id: jane.id.clone(),
                    session,
                };
                let started = start_ceremony(self.core(), purpose, options, state)
                    .await
                    .expect("a ceremony");
                let credential = SoftAuthenticator::new(TEST_ORIGIN)
                    .register(&started.options)
                    .expect("the authenticator answers");
                (
                    Setup {
                        bearer: Some(signed_in.access_token),
                        body: vec![
                            ("ceremony_id", json!(started.ceremony_id)),
                            ("credential", credential),
                        ],
                        ..Default::default()
                    },
                    201,
                )
            }
            "account-passkeys-rename.json" | "account-passkeys-remove.json" => {
                let (jane, id, _) = self.passkey(&self.jane().await).await;
                (
                    Setup {
                        bearer: Some(self.access(&jane, None).await),
                        path_ids: vec![(EVENT_PASSKEY_ID, id.into())],
                        ..Default::default()
                    },
                    if event == "account-passkeys-rename.json" {
                        200
                    } else {
                        204
                    },
                )
            }
            other => panic!("events/{other} has no expectation here: add one"),
        }
    }

    /// Serves the request through the local API, which hands it to the function
    /// that owns its route, as API Gateway does.
    async fn call(&self, req: Request) -> Response {
        self.api.dispatch(req).await
    }
}

/// The event with the setup's substitutions made.
fn apply(mut event: Value, setup: &Setup) -> String {
    if let Some(token) = &setup.bearer {
        assert!(
            event["headers"]["authorization"].is_string(),
            "an authenticated route's event carries a bearer token"
        );
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    }
    if !setup.body.is_empty() {
        let mut body: Value = serde_json::from_str(event["body"].as_str().expect("an event body"))
            .expect("a JSON body");
        for (field, value) in &setup.body {
            assert!(body.get(*field).is_some(), "the event body has {field}");
            body[*field] = value.clone();
        }
        let text = body.to_string();
        event["headers"]["content-length"] = json!(text.len().to_string());
        event["body"] = json!(text);
    }
    let mut text = event.to_string();
    for (placeholder, id) in &setup.path_ids {
        text = text.replace(placeholder, id);
    }
    text
}

/// Runs one event in a fresh world: (status expected, status and body answered).
async fn run(name: &str, event: Value) -> (u16, u16, String) {
    let world = World::new();
    let (setup, expected) = world.prepare(name).await;
    let lambda_req = lambda_http::request::from_str(&apply(event, &setup))
        .unwrap_or_else(|e| panic!("{name}: lambda_http refuses it: {e}"));
    let resp = world
        .call(twofa::api::lambda::into_request(lambda_req))
        .await;
    (expected, resp.status().as_u16(), resp.body().clone())
}

#[tokio::test]
async fn every_event_file_gets_the_status_the_contract_gives_it() {
    let events = e2e::event_files();
    assert!(events.len() >= 20, "an event for every route");
    let mut wrong = Vec::new();
    for (name, event) in events {
        let (expected, got, body) = run(&name, event).await;
        if got != expected {
            wrong.push(format!(
                "events/{name}: expected {expected}, got {got} {body}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} event(s) answered otherwise:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn an_event_with_its_placeholder_token_is_refused_as_unauthorized() {
    // The files as committed carry a token no deployment signed: a real API must refuse it.
    for (name, event) in e2e::event_files()
        .into_iter()
        .filter(|(_, e)| e["headers"]["authorization"].is_string())
    {
        let world = World::new();
        let req = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
        let resp = world.call(twofa::api::lambda::into_request(req)).await;
        assert_eq!(
            resp.status().as_u16(),
            401,
            "events/{name} with its placeholder token: {}",
            resp.body()
        );
    }
}

#[tokio::test]
async fn the_remembered_browser_event_sets_a_strict_cookie() {
    let (name, event) = e2e::event_files()
        .into_iter()
        .find(|(n, _)| n == "verify-code.json")
        .expect("events/verify-code.json");
    assert_eq!(
        event["body"]
            .as_str()
            .map(|b| b.contains("\"remember_browser\":true")),
        Some(true),
        "the event asks to remember the browser"
    );
    let world = World::new();
    let (setup, _) = world.prepare(&name).await;
    let req = lambda_http::request::from_str(&apply(event, &setup)).expect("a valid event");
    let resp = world.call(twofa::api::lambda::into_request(req)).await;
    // One Set-Cookie each: the refresh token's, scoped to /token, and the browser's.
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    for (name, path) in [
        ("twofa_refresh=", "Path=/token"),
        ("Identity.TwoFactorRememberMe=", "Path=/"),
    ] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in Set-Cookie: {cookies:?} ({})", resp.body()));
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", path] {
            assert!(
                cookie.split("; ").any(|a| a == attribute),
                "Set-Cookie lacks {attribute}: {cookie}"
            );
        }
    }
}

#[test]
fn the_client_address_of_an_api_gateway_event_reaches_the_handlers() {
    let (_, event) = e2e::event_files()
        .into_iter()
        .find(|(n, _)| n == "account-events.json")
        .expect("events/account-events.json");
    let req = twofa::api::lambda::into_request(
        lambda_http::request::from_str(&event.to_string()).expect("a valid event"),
    );
    let origin = twofa::api::origin(&req);
    assert_eq!(
        origin.ip.as_deref(),
        Some("203.0.113.24"),
        "requestContext.http.sourceIp"
    );
    assert!(
        origin
            .user_agent
            .is_some_and(|ua| ua.starts_with("Mozilla/5.0"))
    );
}

#[test]
fn the_source_ip_and_user_agent_of_the_request_context_reach_the_handlers() {
    let (_, event) = e2e::event_files()
        .into_iter()
        .find(|(n, _)| n == "send-code.json")
        .expect("events/send-code.json");
    let req = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
    let req = twofa::api::lambda::into_request(req);
    let client = twofa::api::client_info(&req);
    assert_eq!(
        client.source_ip.map(|ip| ip.to_string()).as_deref(),
        event["requestContext"]["http"]["sourceIp"].as_str()
    );
    assert_eq!(
        client.user_agent.as_deref(),
        event["requestContext"]["http"]["userAgent"].as_str()
    );
    assert!(client.source_ip.is_some(), "the event carries a source IP");
}
