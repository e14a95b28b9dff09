//! Attacks on passkeys an outside review tried, each kept as the test that caught it
//! (or that showed the promise held): a claim left behind by an administrator's
//! reset used to lock its former owner out, an oversized credential id answered 5xx,
//! second-factor options steered browsers to an external key; and guards for two
//! enrolments racing on one setup token, a side that disallows passkeys, and user
//! verification on a second factor.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use e2e::gate_store::GateStore;
use e2e::{AppOptions, Backend, Client, Reply, TestApp, spawn_app_over};

use crate::passkeys::{
    access, claims, enrol, finish_passwordless, passwordless_answer, signed_in_user,
};
use serde_json::json;
use twofa::testing::TEST_ORIGIN;
use twofa::testing::authenticator::SoftAuthenticator;
use twofa::testing::fixtures::PASSWORD;
use twofa::user::UserPatch;

/// A passwordless sign-in by `device`, start to finish.
async fn passwordless(app: &TestApp, device: &mut SoftAuthenticator) -> Reply {
    let body = passwordless_answer(app, device).await;
    finish_passwordless(app, &body).await
}

/// A credential id is the assertion's `rawId`, and the passwordless finish reads
/// `CREDENTIAL#<side>#<rawId>`: DynamoDB refuses a partition key over 2048 bytes, and
/// a stranger got a 5xx. An id over WebAuthn's 1023 bytes is no credential: 400, and
/// nothing read or counted.
async fn an_oversized_credential_id_is_bad_input(app: &TestApp) {
    let mut stranger = SoftAuthenticator::new(TEST_ORIGIN);
    // A credential of its own, never enrolled, so that the assertion is well formed.
    let token = signed_in_user(app, "big-id@example.com").await;
    let started = app
        .post("/account/passkeys/register", &json!({}), Some(&token))
        .await;
    stranger.register(&started.body["options"]).expect("made");

    let started = app.post("/passkeys/sign-in", &json!({}), None).await;
    let mut credential = stranger.assert(&started.body["options"]).expect("answers");
    let huge = B64.encode(vec![7u8; 3000]);
    credential["id"] = json!(huge);
    credential["rawId"] = json!(huge);
    let r = app
        .post(
            "/passkeys/sign-in/finish",
            &json!({"ceremony_id": started.body["ceremony_id"], "credential": credential}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str(), r.body["field"].as_str()),
        (400, "invalid_request", Some("credential")),
        "a 4 KB credential id: {} {:?}",
        r.status,
        r.body
    );
}

#[tokio::test]
async fn an_oversized_credential_id_is_bad_input_in_memory() {
    let app = e2e::spawn_app(&Backend::Memory, AppOptions::default()).await;
    an_oversized_credential_id_is_bad_input(&app).await;
}

#[tokio::test]
#[cfg_attr(no_dynamodb, ignore = "needs DynamoDB Local")]
async fn an_oversized_credential_id_is_bad_input_in_dynamodb() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let app = e2e::spawn_app(&backend, AppOptions::default()).await;
    an_oversized_credential_id_is_bad_input(&app).await;
}

/// An administrator resets a compromised account while the intruder enrols one more
/// passkey: the reset read the passkey list before the enrolment and writes
/// `passkeys = {}` after it, so it frees only the claims it read, and the intruder's
/// claim stays, pointing at the owner. Its assertions must not count on the owner's
/// lockout (they used to, and the owner's right password then met 423).
#[tokio::test]
async fn a_passkey_wiped_by_an_admin_reset_cannot_lock_its_former_owner_out() {
    let gate = GateStore::over(e2e::store(&Backend::Memory).await);
    let app = spawn_app_over(Arc::new(gate.clone()), AppOptions::default()).await;
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("the host admin");
    let admin = access(&app.sign_in("root@example.com", PASSWORD).await);
    let stolen = signed_in_user(&app, "owner@example.com").await;
    let user_id = claims(&stolen)["sub"].as_str().expect("sub").to_string();

    // The reset's write is held after its read.
    let mut held = gate.hold_next_user_update(|p| p.passkeys.is_some());
    let reset = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post(
                &format!("/users/{user_id}/reset-two-factor"),
                &json!({}),
                Some(&admin),
            )
            .await
        })
    };
    held.reached().await;
    let mut intruders = SoftAuthenticator::new(TEST_ORIGIN);
    assert_eq!(
        enrol(&app, &stolen, &mut intruders, "key").await.status,
        201
    );
    held.release();
    assert_eq!(reset.await.expect("joined").status, 204);

    for _ in 0..5 {
        let r = passwordless(&app, &mut intruders).await;
        assert_ne!(r.status, 200, "the wiped passkey signed in: {:?}", r.body);
    }
    let r = app.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(
        r.status, 200,
        "the owner's right password after the intruder used the wiped passkey 5 times: {} {:?}",
        r.status, r.body
    );
}

/// The same, when the reset's function dies after its user write and
/// before `forget_credentials` (simulated by making only that write).
#[tokio::test]
async fn a_reset_killed_before_freeing_claims_leaves_no_lever_on_the_owners_lockout() {
    let app = e2e::spawn_app(&Backend::Memory, AppOptions::default()).await;
    let token = signed_in_user(&app, "killed@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    assert_eq!(enrol(&app, &token, &mut device, "key").await.status, 201);
    let user_id = twofa::ids::UserId::from(claims(&token)["sub"].as_str().expect("sub"));
    app.api
        .core
        .store
        .update_user(&user_id, &UserPatch::second_factor_reset().rotating_stamp())
        .await
        .expect("the reset's first write");
    for _ in 0..5 {
        assert_ne!(passwordless(&app, &mut device).await.status, 200);
    }
    let r = app.sign_in("killed@example.com", PASSWORD).await;
    assert_eq!(
        r.status, 200,
        "the owner's right password after 5 assertions of the reset passkey: {} {:?}",
        r.status, r.body
    );
}

/// The options each ceremony hands the browser: discoverable with user verification
/// to enrol, none named to sign in alone, and no hint steering a second factor to an
/// external key.
#[tokio::test]
async fn options_sent_to_browsers() {
    let app = e2e::spawn_app(&Backend::Memory, AppOptions::default()).await;
    let token = signed_in_user(&app, "opts@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(&app, &token, &mut device, "key").await;
    let fresh = access(&added);
    let reg = app
        .post("/account/passkeys/register", &json!({}), Some(&fresh))
        .await;
    let sel = &reg.body["options"]["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required");
    assert_eq!(sel["userVerification"], "required");
    assert_eq!(
        reg.body["options"]["excludeCredentials"][0]["id"].as_str(),
        device.credential_id().as_deref()
    );
    let pw = app.post("/passkeys/sign-in", &json!({}), None).await;
    assert_eq!(pw.body["options"]["userVerification"], "required");
    assert!(
        pw.body["options"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );

    let on = app
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&fresh),
        )
        .await;
    assert_eq!(on.status, 200);
    let login = app.sign_in("opts@example.com", PASSWORD).await;
    let sent = app
        .send_code(
            &json!({"two_factor_token": login.body["two_factor_token"], "provider": "passkey"}),
            None,
        )
        .await;
    assert!(
        sent.body["options"]["hints"] != json!(["security-key"]),
        "second-factor options steer browsers to an external security key, away from \
         the platform and phone passkeys users enrolled: {}",
        sent.body["options"]
    );
}

/// Guard: a side that disallows passkeys marks users whose only factor was one, so
/// the password alone gets no setup token.
#[tokio::test]
async fn disallowing_passkeys_does_not_let_the_password_enrol_a_new_factor() {
    let app = e2e::spawn_app(&Backend::Memory, AppOptions::default()).await;
    let token = signed_in_user(&app, "only-pk@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(&app, &token, &mut device, "key").await;
    let on = app
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&access(&added)),
        )
        .await;
    assert_eq!(on.status, 200);
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("admin");
    let admin = access(&app.sign_in("root@example.com", PASSWORD).await);
    let r = app
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"allowed_providers": ["authenticator", "email", "sms"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["stranded_users"]),
        (200, &json!(1)),
        "{:?}",
        r.body
    );
    let login = app.sign_in("only-pk@example.com", PASSWORD).await;
    assert_ne!(login.body["status"], "two_factor_setup_required");
    assert_ne!(login.body["status"], "signed_in");
}

/// Guard: two enrolments racing on one setup token enrol one passkey at most.
async fn two_enrolments_on_one_setup_token_enrol_one(app: &TestApp) {
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("admin");
    let admin = access(&app.sign_in("root@example.com", PASSWORD).await);
    let r = app
        .register(&json!({"email": "setup@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "forced"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let login = app.sign_in("setup@example.com", PASSWORD).await;
    let setup = login.body["setup_token"]
        .as_str()
        .expect("a setup token")
        .to_string();
    let mut a = SoftAuthenticator::new(TEST_ORIGIN);
    let mut b = SoftAuthenticator::new(TEST_ORIGIN);
    let sa = app
        .post("/account/passkeys/register", &json!({}), Some(&setup))
        .await;
    let sb = app
        .post("/account/passkeys/register", &json!({}), Some(&setup))
        .await;
    let ca = a.register(&sa.body["options"]).expect("a");
    let cb = b.register(&sb.body["options"]).expect("b");
    let fa = json!({"ceremony_id": sa.body["ceremony_id"], "credential": ca});
    let fb = json!({"ceremony_id": sb.body["ceremony_id"], "credential": cb});
    let (ra, rb) = tokio::join!(
        app.post("/account/passkeys/register/finish", &fa, Some(&setup)),
        app.post("/account/passkeys/register/finish", &fb, Some(&setup))
    );
    let ok = [ra.status, rb.status].iter().filter(|s| **s == 201).count();
    assert_eq!(
        ok, 1,
        "{} {:?} / {} {:?}",
        ra.status, ra.body, rb.status, rb.body
    );
}

#[tokio::test]
async fn two_enrolments_on_one_setup_token_enrol_one_in_memory() {
    let app = e2e::spawn_app(&Backend::Memory, AppOptions::default()).await;
    two_enrolments_on_one_setup_token_enrol_one(&app).await;
}

#[tokio::test]
#[cfg_attr(no_dynamodb, ignore = "needs DynamoDB Local")]
async fn two_enrolments_on_one_setup_token_enrol_one_in_dynamodb() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let app = e2e::spawn_app(&backend, AppOptions::default()).await;
    two_enrolments_on_one_setup_token_enrol_one(&app).await;
}

/// As a second factor too, an assertion without user verification is refused and
/// counted: webauthn-rs holds a credential to the verification it was registered with
/// (required, for every passkey here), whatever the ceremony prefers.
#[tokio::test]
async fn a_second_factor_assertion_without_user_verification_is_refused() {
    let app = e2e::spawn_app(&Backend::Memory, AppOptions::default()).await;
    let token = signed_in_user(&app, "uv@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(&app, &token, &mut device, "key").await;
    let on = app
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&access(&added)),
        )
        .await;
    assert_eq!(on.status, 200);
    let login = app.sign_in("uv@example.com", PASSWORD).await;
    let tft = login.body["two_factor_token"].clone();
    let sent = app
        .send_code(
            &json!({"two_factor_token": tft, "provider": "passkey"}),
            None,
        )
        .await;
    let credential = device
        .set_user_verified(false)
        .assert(&sent.body["options"])
        .expect("answers");
    let r = app
        .verify_code(
            &json!({"two_factor_token": tft, "provider": "passkey",
                    "ceremony_id": sent.body["ceremony_id"], "credential": credential}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (401, "invalid_code"),
        "{:?}",
        r.body
    );
}
