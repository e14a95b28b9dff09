//! Races with the policy and the stamp that the per-request checks do not see. Each
//! test holds one store write of one request ([`GateStore`]) and runs another
//! request in exactly that window, so the interleaving is certain, not lucky.

use std::sync::Arc;
use twofa::amr::Amr;

use e2e::Client;
use e2e::gate_store::GateStore;
use e2e::{AppOptions, Backend, TestApp, spawn_app_over};
use serde_json::json;
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{patch_user, seed_user};
use twofa::user::{Authenticator, User, UserPatch};

/// The local API over the memory store, behind a gate.
async fn gated_app() -> (TestApp, GateStore) {
    let gate = GateStore::over(e2e::store(&Backend::Memory).await);
    let app = spawn_app_over(Arc::new(gate.clone()), AppOptions::default()).await;
    (app, gate)
}

async fn access(app: &TestApp, user: &User, amr: &[Amr], mfa_at: Option<i64>) -> String {
    twofa::flows::issue_access(&app.api.core, user, amr, mfa_at, &Default::default())
        .await
        .expect("an access token")
        .access_token
}

/// A tenant `acme` whose admin has 2FA on (an authenticator), and a user of it whose
/// only second factor is a confirmed phone (no recovery codes).
pub(crate) async fn sms_side(app: &TestApp) -> (User, User) {
    let core = &app.api.core;
    local_api::admin::seed_host_admin(core, "root@example.com", PASSWORD)
        .await
        .expect("a host admin");
    let root = app
        .post(
            "/login",
            &json!({"email": "root@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    let root = root.body["access_token"].as_str().expect("root signs in");
    let r = app
        .post(
            "/tenants",
            &json!({"name": "Acme", "admin_email": "boss@acme.example", "admin_password": PASSWORD}),
            Some(root),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let admin_id = r.body["admin_user_id"].as_str().unwrap();
    let admin = core.store.user(&admin_id.into()).await.unwrap().unwrap();
    let admin = patch_user(
        core,
        &admin,
        UserPatch {
            two_factor_enabled: Some(true),
            authenticator: Some(Some(Authenticator {
                sealed_key: "sealed".into(),
                enabled: true,
            })),
            ..Default::default()
        },
    )
    .await;
    let user = seed_user(
        core,
        Side::Tenant("acme".into()),
        "sam@acme.example",
        PASSWORD,
        &[],
    )
    .await;
    let sms_user = patch_user(
        core,
        &user,
        UserPatch {
            phone_number: Some(Some(twofa::testing::test_phone("+12015550123"))),
            phone_number_confirmed: Some(true),
            two_factor_enabled: Some(true),
            ..Default::default()
        },
    )
    .await;
    (admin, sms_user)
}

async fn sms_user_login(app: &TestApp) -> e2e::Reply {
    app.post(
        "/login",
        &json!({"tenant": "acme", "email": "sam@acme.example", "password": PASSWORD}),
        None,
    )
    .await
}

/// An admin with a fresh second factor takes SMS away (told: one user stranded).
/// The settings handler marks the stranded user (`second_factor_lost`) and only then
/// writes the settings. Whoever has the SMS user's password signs in between the
/// two: login reads the old settings (SMS still allowed, so a usable provider) and the
/// marked user, and its "a usable provider again ends the mark" patch clears the
/// mark. Once the settings land, the user has 2FA on, no factor, no mark: the
/// password alone gets a setup token and enrols the attacker's authenticator on an
/// account that had a confirmed factor. The window is the mark loop plus one write:
/// on a side with many stranded users, seconds, and the attacker can keep polling
/// login (a right password costs nothing against the lockout). Fixed: login no
/// longer clears the mark; only an administrator's reset does.
#[tokio::test]
async fn a_login_racing_a_stranding_change_keeps_the_mark_and_the_password_alone_enrols_nothing() {
    let (app, gate) = gated_app().await;
    let (admin, _sms_user) = sms_side(&app).await;
    let fresh = access(
        &app,
        &admin,
        &[Amr::Pwd, Amr::Otp],
        Some(app.api.core.now()),
    )
    .await;

    let mut held = gate.hold_next_settings_change();
    let change = {
        let app = app.clone();
        tokio::spawn(async move {
            app.call(
                "PUT",
                "/settings/two-factor",
                Some(&json!({"allowed_providers": ["authenticator"]})),
                Some(&fresh),
            )
            .await
        })
    };
    // The stranded user is marked; the settings are not written yet.
    held.reached().await;
    let during = sms_user_login(&app).await;
    assert_eq!(
        during.body["status"], "two_factor_required",
        "the old settings still allow SMS: {:?}",
        during.body
    );
    held.release();
    let r = change.await.expect("the change finished");
    assert_eq!(
        (r.status, &r.body["stranded_users"]),
        (200, &json!(1)),
        "{:?}",
        r.body
    );

    // The promise: the password alone never enrols a factor on this account.
    let after = sms_user_login(&app).await;
    assert!(
        after.body.get("setup_token").is_none(),
        "the password alone got a setup token on an account whose factor was taken away: {:?}",
        after.body
    );
    assert_eq!(
        (after.status, after.error.as_str()),
        (403, "forbidden"),
        "{:?}",
        after.body
    );
}

/// The bar (SECURITY.md): "a request in flight cannot outrun a stamp change: no token
/// is issued under a stamp that is no longer current; conditional on the stamp
/// read". A thief's stolen access token sends PUT /account/two-factor (turning 2FA
/// on needs no step-up). It authenticates under stamp S0; before it writes, the
/// owner signs out everywhere (S0 -> S2, 204: every session is over). Were the
/// thief's write unconditional, it would overwrite S2 with S1 and hand back a fresh
/// access token under S1 that works on every route, undoing the owner's sign-out.
#[tokio::test]
async fn a_request_in_flight_cannot_outrun_sign_out_everywhere_to_keep_a_live_token() {
    let (app, gate) = gated_app().await;
    let core = &app.api.core;
    let user = seed_user(core, Side::Host, "jo@example.com", PASSWORD, &[]).await;
    let stolen = access(&app, &user, &[Amr::Pwd], None).await;
    let owners = access(&app, &user, &[Amr::Pwd], None).await;

    let mut held = gate.hold_next_user_update(|p| {
        p.two_factor_enabled == Some(true) && p.security_stamp.is_some()
    });
    let thief = {
        let app = app.clone();
        tokio::spawn(async move {
            app.call(
                "PUT",
                "/account/two-factor",
                Some(&json!({"enabled": true})),
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
    let token = r.body["access_token"].as_str().map(str::to_string);

    // Whatever the thief's request answered, no token it got may work after the
    // owner's sign-out-everywhere finished.
    if let Some(token) = token {
        let after = app
            .call("GET", "/account/two-factor", None, Some(&token))
            .await;
        assert_eq!(
            after.status, 401,
            "a token from a request that authenticated before sign-out-everywhere still works: {:?}",
            after.body
        );
    }
}

/// An admin (with step-up) takes SMS away; the SMS-only user is stranded and marked:
/// "403 forbidden until an administrator resets its second factor". But a
/// remembered browser still signs the password in (`pwd`, `device`: no fresh second
/// factor), and POST /account/authenticator asks for step-up only when the user
/// `can_prove_second_factor`, which a stranded user cannot: so a session without a
/// fresh second factor adds a factor of its own to an account that had one (what
/// `authenticator::create`'s own comment forbids), and the mark is bypassed. The same
/// holds for a stolen access token minted before the change, and for confirming a
/// new phone (`require_step_up_for_phone` uses the same test). Fixed: adding a factor
/// needs step-up also when the account is marked and 2FA is on
/// (`policy::adding_a_factor_needs_step_up`).
#[tokio::test]
async fn a_remembered_browser_of_a_stranded_user_cannot_enrol_a_factor_without_step_up() {
    use twofa::devices::{Device, device_token_hash, new_device_token};
    let (app, _gate) = gated_app().await;
    let core = &app.api.core;
    let (admin, sms_user) = sms_side(&app).await;
    // The owner ticked "remember this browser" at an earlier SMS sign-in; the
    // password and this cookie are what a shared computer leaves behind.
    let (device_id, token) = new_device_token().unwrap();
    let device = Device {
        user_id: sms_user.id.clone(),
        device_id,
        token_hash: device_token_hash(&core.hash_key, &sms_user.id, token.expose()),
        security_stamp: sms_user.security_stamp.clone(),
        created_at: core.now(),
        last_used_at: core.now(),
        expires_at: core.now() + 14 * 86_400,
        user_agent: None,
    };
    twofa::store::DeviceStore::put_device(core.store.as_ref(), &device)
        .await
        .unwrap();

    let fresh = access(&app, &admin, &[Amr::Pwd, Amr::Otp], Some(core.now())).await;
    let r = app
        .call(
            "PUT",
            "/settings/two-factor",
            Some(&json!({"allowed_providers": ["authenticator"]})),
            Some(&fresh),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["stranded_users"]),
        (200, &json!(1)),
        "{:?}",
        r.body
    );
    assert_eq!(sms_user_login(&app).await.status, 403, "marked");

    let login = app
        .post(
            "/login",
            &json!({"tenant": "acme", "email": "sam@acme.example", "password": PASSWORD,
                    "remember_browser_token": token.expose()}),
            None,
        )
        .await;
    assert_eq!(login.body["status"], "signed_in", "{:?}", login.body);
    let session = login.body["access_token"].as_str().unwrap();
    let enrol = app
        .post("/account/authenticator", &json!({}), Some(session))
        .await;
    assert_eq!(
        (enrol.status, enrol.error.as_str()),
        (403, "step_up_required"),
        "a session without a fresh second factor started enrolment on a stranded account"
    );
}
