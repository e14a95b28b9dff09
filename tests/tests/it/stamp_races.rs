//! Stamp changes that write a new password under a stamp the request read, raced
//! against a stamp change made meanwhile: each test
//! holds the success write of one request ([`GateStore::hold_next_success`]) and
//! runs another request in exactly that window.

use std::sync::Arc;
use twofa::amr::Amr;

use e2e::Client;
use e2e::gate_store::{GateStore, Held};
use e2e::{AppOptions, Backend, Reply, TestApp, spawn_app_over};
use serde_json::{Value, json};
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{patch_user, seed_user};
use twofa::user::{User, UserPatch};

const THIEFS: &str = "the thief's own new passphrase";
const OWNERS: &str = "the owner's own new passphrase";

async fn gated_app() -> (TestApp, GateStore) {
    let gate = GateStore::over(e2e::store(&Backend::Memory).await);
    let app = spawn_app_over(Arc::new(gate.clone()), AppOptions::default()).await;
    (app, gate)
}

async fn access(app: &TestApp, user: &User) -> String {
    twofa::flows::issue_access(&app.api.core, user, &[Amr::Pwd], None, &Default::default())
        .await
        .expect("an access token")
        .access_token
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post(
        "/login",
        &json!({"email": email, "password": password}),
        None,
    )
    .await
    .status
}

/// A thief holds a stolen access token and the password (2FA off: no step-up) and
/// sends PUT /account/password. It authenticates under stamp S0 and checks the
/// current password; before its write lands, the owner signs out everywhere
/// (S0 -> S1, 204). The promise: a request authenticated under the old stamp and
/// still in flight loses (401, nothing changed). The password change's success
/// write was not conditional on the caller's stamp, so it went through: the
/// thief's password replaced the owner's after the owner's sign-out, and the owner
/// is locked out of the account.
#[tokio::test]
async fn a_password_change_in_flight_cannot_outrun_sign_out_everywhere() {
    let (app, gate) = gated_app().await;
    let core = &app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let stolen = access(&app, &user).await;
    let owners = access(&app, &user).await;

    let mut held = gate.hold_next_success(|p| p.password_hash.is_some());
    let thief = {
        let app = app.clone();
        tokio::spawn(async move {
            app.call(
                "PUT",
                "/account/password",
                Some(&json!({"current_password": PASSWORD, "new_password": THIEFS})),
                Some(&stolen),
            )
            .await
        })
    };
    held.reached().await;
    let out = app
        .post("/account/sign-out-everywhere", &json!({}), Some(&owners))
        .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    held.release();
    let r = thief.await.expect("the thief's request finished");
    assert_eq!(
        r.status, 401,
        "the thief's change went through: {:?}",
        r.body
    );
    assert_eq!(r.body["error"], "unauthorized");
    assert_eq!(login_status(&app, "jo@example.com", THIEFS).await, 401);
    assert_eq!(login_status(&app, "jo@example.com", PASSWORD).await, 200);
}

/// The same race against the owner's own password change: the thief's change in
/// flight must not overwrite the password the owner just set.
#[tokio::test]
async fn a_password_change_in_flight_cannot_outrun_the_owners_password_change() {
    let (app, gate) = gated_app().await;
    let core = &app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let stolen = access(&app, &user).await;
    let owners = access(&app, &user).await;

    let mut held = gate.hold_next_success(|p| p.password_hash.is_some());
    let thief = {
        let app = app.clone();
        tokio::spawn(async move {
            app.call(
                "PUT",
                "/account/password",
                Some(&json!({"current_password": PASSWORD, "new_password": THIEFS})),
                Some(&stolen),
            )
            .await
        })
    };
    held.reached().await;
    let own = app
        .call(
            "PUT",
            "/account/password",
            Some(&json!({"current_password": PASSWORD, "new_password": OWNERS})),
            Some(&owners),
        )
        .await;
    assert_eq!(own.status, 204, "{:?}", own.body);
    held.release();
    let r = thief.await.expect("the thief's request finished");
    assert_eq!(
        r.status, 401,
        "the thief's change went through: {:?}",
        r.body
    );
    assert_eq!(login_status(&app, "jo@example.com", THIEFS).await, 401);
    assert_eq!(login_status(&app, "jo@example.com", OWNERS).await, 200);
}

/// A password change writes the new hash twice: in its success, then on the user
/// item again with login's copy. A thief with a stolen token and the password
/// changes it; its second write stalls; meanwhile the owner resets the password
/// with an emailed code. The stalled write must not put the thief's password back.
#[tokio::test]
async fn a_password_changes_second_write_cannot_undo_a_reset_that_landed_before_it() {
    let (app, gate) = gated_app().await;
    let core = &app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let user = patch_user(
        core,
        &user,
        UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;
    let stolen = access(&app, &user).await;
    let mut held =
        gate.hold_next_user_update(|p| p.password_hash.is_some() && p.security_stamp.is_none());
    let thief = {
        let app = app.clone();
        tokio::spawn(async move {
            app.call(
                "PUT",
                "/account/password",
                Some(&json!({"current_password": PASSWORD, "new_password": THIEFS})),
                Some(&stolen),
            )
            .await
        })
    };
    held.reached().await;
    let asked = app
        .post(
            "/password/forgot",
            &json!({"email": "jo@example.com"}),
            None,
        )
        .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let code = app
        .last_code_to("jo@example.com")
        .await
        .expect("a reset code in the outbox");
    let reset = app
        .post(
            "/password/reset",
            &json!({"email": "jo@example.com", "code": code, "new_password": OWNERS}),
            None,
        )
        .await;
    assert_eq!(reset.status, 204, "{:?}", reset.body);
    held.release();
    thief.await.expect("the thief's request finished");
    assert_eq!(login_status(&app, "jo@example.com", OWNERS).await, 200);
    assert_eq!(login_status(&app, "jo@example.com", THIEFS).await, 401);
}

/// A reset code is bound to the stamp it was sent under ("a password change, sign-out
/// everywhere ... ends it"). Someone who reads the owner's mail asks for a code and
/// sends POST /password/reset; the code is checked against stamp S0; before the
/// write lands, the owner (who noticed the reset mail) changes the password
/// (S0 -> S1). The reset's write was not conditional on the stamp the code was
/// checked under, so the code, dead by then, still replaced the owner's new password.
#[tokio::test]
async fn a_reset_code_in_flight_cannot_outrun_the_owners_password_change() {
    let (app, gate) = gated_app().await;
    let core = &app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let user = patch_user(
        core,
        &user,
        UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;
    let owners = access(&app, &user).await;
    let asked = app
        .post(
            "/password/forgot",
            &json!({"email": "jo@example.com"}),
            None,
        )
        .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let code = app
        .last_code_to("jo@example.com")
        .await
        .expect("a reset code in the outbox");

    // The reset's write is the first success with a new password; the owner's own
    // change (the second) passes.
    let mut held = gate.hold_next_success(|p| p.password_hash.is_some());
    let reset = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post(
                "/password/reset",
                &json!({"email": "jo@example.com", "code": code, "new_password": THIEFS}),
                None,
            )
            .await
        })
    };
    held.reached().await;
    let own = app
        .call(
            "PUT",
            "/account/password",
            Some(&json!({"current_password": PASSWORD, "new_password": OWNERS})),
            Some(&owners),
        )
        .await;
    assert_eq!(own.status, 204, "{:?}", own.body);
    held.release();
    let r = reset.await.expect("the reset finished");
    assert_ne!(
        r.status, 204,
        "the reset went through after the password change"
    );
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(login_status(&app, "jo@example.com", THIEFS).await, 401);
    assert_eq!(login_status(&app, "jo@example.com", OWNERS).await, 200);
}

/// A host admin (2FA off: no step-up) over `backend`'s store behind the gate, and
/// two access tokens of its: the one a thief stole and the admin's own.
struct AdminRace {
    app: TestApp,
    gate: GateStore,
    stolen: String,
    owners: String,
}

impl AdminRace {
    async fn on(backend: Backend) -> Self {
        let gate = GateStore::over(e2e::store(&backend).await);
        let app = spawn_app_over(Arc::new(gate.clone()), AppOptions::default()).await;
        let admin = seed_user(
            &app.api.core,
            Side::Host,
            "root@example.com",
            PASSWORD,
            &[twofa::user::Role::HostAdmin],
        )
        .await;
        let stolen = access(&app, &admin).await;
        let owners = access(&app, &admin).await;
        Self {
            app,
            gate,
            stolen,
            owners,
        }
    }

    /// Sends the thief's request with the stolen token, and while its write is held
    /// the admin signs out everywhere; the thief's answer.
    async fn outrun(
        &self,
        mut held: Held,
        method: &'static str,
        path: String,
        body: Value,
    ) -> Reply {
        let thief = {
            let (app, stolen) = (self.app.clone(), self.stolen.clone());
            tokio::spawn(async move { app.call(method, &path, Some(&body), Some(&stolen)).await })
        };
        held.reached().await;
        let out = self
            .app
            .post(
                "/account/sign-out-everywhere",
                &json!({}),
                Some(&self.owners),
            )
            .await;
        assert_eq!(out.status, 204, "{:?}", out.body);
        held.release();
        thief.await.expect("the thief's request finished")
    }
}

/// An administrator's change to someone else's account is held to the stamp its
/// request was authenticated under, in the same write. A thief with a stolen
/// host-admin access token sends POST /users/{id}/reset-two-factor; before its
/// write lands, the admin signs out everywhere. The reset then changes nothing and
/// answers 401: the user keeps its recovery codes and sessions.
async fn an_admins_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on(
    backend: Backend,
) {
    let race = AdminRace::on(backend).await;
    let core = &race.app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let user = patch_user(
        core,
        &user,
        UserPatch {
            recovery_codes: Some(vec!["a-recovery-code-hash".into()]),
            ..Default::default()
        },
    )
    .await;
    let held = race
        .gate
        .hold_next_user_update(|p| p.recovery_codes.is_some() && p.security_stamp.is_some());
    let path = format!("/users/{}/reset-two-factor", user.id);
    let r = race.outrun(held, "POST", path, json!({})).await;
    let after = core.store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        after.recovery_codes.len(),
        1,
        "the reset went through after the admin's sign-out ({} {:?})",
        r.status,
        r.body
    );
    assert_eq!(r.status, 401, "{:?}", r.body);
}

/// As for a change to a user, a change of a side's settings made under a stolen
/// admin token and held in flight cannot land after the admin signed out
/// everywhere: it answers 401 and the side keeps its settings.
async fn an_admins_settings_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on(
    backend: Backend,
) {
    let race = AdminRace::on(backend).await;
    let core = &race.app.api.core;
    let before = core.store.host().await.unwrap().settings;
    let held = race.gate.hold_next_settings_change();
    let body = json!({"allowed_providers": ["authenticator"]});
    let r = race
        .outrun(held, "PUT", "/settings/two-factor".into(), body)
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(
        core.store.host().await.unwrap().settings,
        before,
        "the settings changed after the admin's sign-out"
    );
}

#[tokio::test]
async fn an_admins_settings_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere() {
    an_admins_settings_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on(
        Backend::Memory,
    )
    .await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_admins_settings_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on_dynamodb_local()
 {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    an_admins_settings_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on(backend)
        .await;
}

#[tokio::test]
async fn an_admins_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere() {
    an_admins_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on(Backend::Memory)
        .await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_admins_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on_dynamodb_local()
{
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    an_admins_change_in_flight_cannot_outrun_the_admins_sign_out_everywhere_on(backend).await;
}

/// A thief with a stolen, stepped-up access token asks for new recovery codes; the
/// request authenticates under stamp S0, and before its write lands the owner signs
/// out everywhere (S0 -> S1). The write was unconditional: the thief got ten
/// recovery codes that work after the sign-out, a second factor of its own that
/// outlives the session the owner ended (with the password, a sign-in whenever it
/// likes). Fixed: the codes are written only under the caller's stamp.
#[tokio::test]
async fn new_recovery_codes_in_flight_cannot_outrun_sign_out_everywhere() {
    let (app, gate) = gated_app().await;
    let core = &app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let user = patch_user(
        core,
        &user,
        UserPatch {
            email_confirmed: Some(true),
            two_factor_enabled: Some(true),
            recovery_codes: Some(vec!["the-owners-code-hash".into()]),
            ..Default::default()
        },
    )
    .await;
    let now = core.now();
    let stolen = twofa::flows::issue_access(
        core,
        &user,
        &[Amr::Pwd, Amr::Otp],
        Some(now),
        &Default::default(),
    )
    .await
    .expect("an access token")
    .access_token;
    let owners = access(&app, &user).await;

    let mut held = gate.hold_next_user_update(|p| p.recovery_codes.is_some());
    let thief = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post("/account/recovery-codes", &json!({}), Some(&stolen))
                .await
        })
    };
    held.reached().await;
    let out = app
        .post("/account/sign-out-everywhere", &json!({}), Some(&owners))
        .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    held.release();
    let r = thief.await.expect("the thief's request finished");
    let after = core.store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        after.recovery_codes,
        vec!["the-owners-code-hash".to_string()],
        "new recovery codes were written after the sign-out ({} {:?})",
        r.status,
        r.body
    );
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(r.body["error"], "unauthorized");
}
