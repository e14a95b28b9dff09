//! Passkeys over HTTP (API.md v1.2), on the embedded store and on DynamoDB Local
//! behind the template's permissions, with the software authenticator
//! (`twofa::testing::authenticator`) in place of a browser: enrolment, passwordless
//! sign-in, a passkey as the second factor, and the refusals a relying party owes:
//! a replayed or raced ceremony, no user verification, a bad signature, another
//! origin or RP ID, a counter that went backwards, an unknown or removed credential,
//! a side that turned passkeys off. Every refusal of a passwordless sign-in answers
//! alike, whether the credential is known or not.

use base64::Engine;
use e2e::{Client, Reply, TestApp};
use serde_json::{Value, json};
use twofa::testing::TEST_ORIGIN;
use twofa::testing::authenticator::SoftAuthenticator;
use twofa::testing::fixtures::PASSWORD;

pub(crate) fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub(crate) fn access(r: &Reply) -> String {
    r.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an access token: {:?}", r.body))
        .to_string()
}

pub(crate) async fn signed_in_user(app: &TestApp, email: &str) -> String {
    let r = app
        .register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app.sign_in(email, PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    access(&r)
}

/// Enrols a passkey from `device` on the account `token` signs in; answers the
/// finish's reply (201 with a fresh token when it worked).
pub(crate) async fn enrol(
    app: &TestApp,
    token: &str,
    device: &mut SoftAuthenticator,
    name: &str,
) -> Reply {
    let started = app
        .post("/account/passkeys/register", &json!({}), Some(token))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let credential = device
        .register(&started.body["options"])
        .expect("the authenticator answers");
    app.post(
        "/account/passkeys/register/finish",
        &json!({"ceremony_id": started.body["ceremony_id"], "credential": credential, "name": name}),
        Some(token),
    )
    .await
}

/// A passwordless ceremony's start and the device's answer to it.
pub(crate) async fn passwordless_answer(app: &TestApp, device: &mut SoftAuthenticator) -> Value {
    let started = app.post("/passkeys/sign-in", &json!({}), None).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let options = &started.body["options"];
    assert_eq!(options["userVerification"], "required");
    assert!(
        options["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "a passwordless ceremony names no credential: {options}"
    );
    let credential = device.assert(options).expect("the authenticator answers");
    json!({"ceremony_id": started.body["ceremony_id"], "credential": credential})
}

pub(crate) async fn finish_passwordless(app: &TestApp, body: &Value) -> Reply {
    app.post("/passkeys/sign-in/finish", body, None).await
}

async fn enrolment_and_passwordless_sign_in(app: &TestApp) {
    let token = signed_in_user(app, "pk-ada@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(app, &token, &mut device, "Ada's laptop").await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["name"], "Ada's laptop");
    assert_eq!(added.body["backed_up"], false);
    // A new factor changes the stamp: the old token is done, the fresh one goes on.
    assert_eq!(app.get("/account/passkeys", Some(&token)).await.status, 401);
    let fresh = access(&added);
    let listed = app.get("/account/passkeys", Some(&fresh)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
    assert_eq!(listed.body[0]["passkey_id"], added.body["passkey_id"]);
    assert!(listed.body[0]["last_used_at"].is_null());

    let body = passwordless_answer(app, &mut device).await;
    let r = finish_passwordless(app, &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "signed_in");
    assert!(r.body["refresh_token"].as_str().is_some());
    let c = claims(&access(&r));
    assert_eq!(c["acr"], "aal2");
    assert_eq!(c["amr"], json!(["hwk", "mfa"]));

    // The same answer again: the ceremony worked once.
    let again = finish_passwordless(app, &body).await;
    assert_eq!(
        (again.status, again.error.as_str()),
        (401, "invalid_credentials")
    );

    let listed = app.get("/account/passkeys", Some(&fresh)).await;
    assert!(listed.body[0]["last_used_at"].as_i64().is_some());
}

async fn two_finishes_of_one_ceremony_sign_in_once(app: &TestApp) {
    let token = signed_in_user(app, "pk-race@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    assert_eq!(enrol(app, &token, &mut device, "key").await.status, 201);
    let body = passwordless_answer(app, &mut device).await;
    let (a, b) = tokio::join!(
        finish_passwordless(app, &body),
        finish_passwordless(app, &body)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{:?} / {:?}", a.body, b.body);
}

async fn refused_assertions_answer_alike_known_or_not(app: &TestApp) {
    let token = signed_in_user(app, "pk-refuse@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    assert_eq!(enrol(app, &token, &mut device, "key").await.status, 201);

    let mut refusals = Vec::new();
    // No user verification where it is required.
    let mut no_uv = device.clone();
    no_uv.set_user_verified(false);
    refusals.push(("no user verification", no_uv));
    let mut bogus = device.clone();
    bogus.corrupt_next_signature();
    refusals.push(("a bad signature", bogus));
    let mut elsewhere = device.clone();
    elsewhere.set_client_origin("https://evil.example");
    refusals.push(("another origin", elsewhere));
    let mut other_rp = device.clone();
    other_rp.set_rp_id_hash_of("evil.example");
    refusals.push(("another RP ID", other_rp));
    let mut bodies = Vec::new();
    for (what, mut d) in refusals {
        let body = passwordless_answer(app, &mut d).await;
        let r = finish_passwordless(app, &body).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (401, "invalid_credentials"),
            "{what}: {:?}",
            r.body
        );
        bodies.push(r.text);
    }
    // A credential no account holds: a device that made one but never finished enrolling.
    let mut stranger = SoftAuthenticator::new(TEST_ORIGIN);
    let other = signed_in_user(app, "pk-stranger@example.com").await;
    let started = app
        .post("/account/passkeys/register", &json!({}), Some(&other))
        .await;
    stranger.register(&started.body["options"]).expect("made");
    let body = passwordless_answer(app, &mut stranger).await;
    let r = finish_passwordless(app, &body).await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
    assert!(
        bodies.iter().all(|b| *b == r.text),
        "an unknown credential is answered as a refused known one: {bodies:?} / {}",
        r.text
    );
    // The user handle is not signed: a right assertion naming another user is refused
    // all the same. The refusals were counted on the account: this fifth one locks it.
    let mut body = passwordless_answer(app, &mut device.clone()).await;
    body["credential"]["response"]["userHandle"] = json!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
    );
    let r = finish_passwordless(app, &body).await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (423, "locked_out"),
        "{:?}",
        r.body
    );
    // Locked, the right passkey waits too.
    let body = passwordless_answer(app, &mut device).await;
    assert_eq!(finish_passwordless(app, &body).await.status, 423);
}

async fn a_counter_that_went_backwards_is_refused(app: &TestApp) {
    let token = signed_in_user(app, "pk-clone@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    assert_eq!(enrol(app, &token, &mut device, "key").await.status, 201);
    let mut clone = device.clone();
    let body = passwordless_answer(app, &mut device).await;
    assert_eq!(finish_passwordless(app, &body).await.status, 200);
    // The clone signs with the counter the original already used.
    let body = passwordless_answer(app, &mut clone).await;
    let r = finish_passwordless(app, &body).await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
    // The original goes on.
    let body = passwordless_answer(app, &mut device).await;
    assert_eq!(finish_passwordless(app, &body).await.status, 200);
}

async fn a_passkey_as_the_second_factor(app: &TestApp) {
    let token = signed_in_user(app, "pk-2fa@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(app, &token, &mut device, "key").await;
    assert_eq!(added.status, 201);
    let fresh = access(&added);
    let on = app
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&fresh),
        )
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);

    let login = app.sign_in("pk-2fa@example.com", PASSWORD).await;
    assert_eq!(
        login.body["status"], "two_factor_required",
        "{:?}",
        login.body
    );
    assert_eq!(login.body["providers"][0], "passkey");
    let two_factor_token = login.body["two_factor_token"].clone();
    let sent = app
        .send_code(
            &json!({"two_factor_token": two_factor_token, "provider": "passkey"}),
            None,
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["provider"], "passkey");
    let allowed = &sent.body["options"]["allowCredentials"];
    assert_eq!(allowed.as_array().map(Vec::len), Some(1), "{allowed}");
    let credential = device.assert(&sent.body["options"]).expect("answers");
    let body = json!({
        "two_factor_token": two_factor_token, "provider": "passkey",
        "ceremony_id": sent.body["ceremony_id"], "credential": credential,
    });
    let r = app.verify_code(&body, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = claims(&access(&r));
    assert_eq!(c["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(c["acr"], "aal2");
    // The same assertion again: the sign-in and its ceremony are over.
    assert_eq!(app.verify_code(&body, None).await.status, 401);

    // A bad assertion counts as a wrong code does.
    let login = app.sign_in("pk-2fa@example.com", PASSWORD).await;
    let two_factor_token = login.body["two_factor_token"].clone();
    let sent = app
        .send_code(
            &json!({"two_factor_token": two_factor_token, "provider": "passkey"}),
            None,
        )
        .await;
    let mut bogus = device.clone();
    bogus.corrupt_next_signature();
    let credential = bogus.assert(&sent.body["options"]).expect("answers");
    let r = app
        .verify_code(
            &json!({
                "two_factor_token": two_factor_token, "provider": "passkey",
                "ceremony_id": sent.body["ceremony_id"], "credential": credential,
            }),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (401, "invalid_code"),
        "{:?}",
        r.body
    );
    assert!(r.body["attempts_remaining"].as_u64().is_some());
}

async fn rename_remove_and_bad_input(app: &TestApp) {
    let token = signed_in_user(app, "pk-manage@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(app, &token, &mut device, "old name").await;
    let fresh = access(&added);
    let id = added.body["passkey_id"]
        .as_str()
        .expect("an id")
        .to_string();
    let path = format!("/account/passkeys/{id}");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({}), ""),
    ] {
        let r = app.settings("PATCH", &path, body, Some(&fresh)).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        if !field.is_empty() {
            assert_eq!(r.body["field"], field);
        }
    }
    let r = app
        .settings("PATCH", &path, json!({"name": "Work key"}), Some(&fresh))
        .await;
    assert_eq!((r.status, &r.body["name"]), (200, &json!("Work key")));
    let r = app
        .settings(
            "PATCH",
            "/account/passkeys/nope",
            json!({"name": "x"}),
            Some(&fresh),
        )
        .await;
    assert_eq!(r.status, 404);

    // Finishing with no ceremony, a stranger's ceremony id, or a credential that is
    // not one: 4xx, nothing enrolled.
    for body in [
        json!({"credential": {}}),
        json!({"ceremony_id": "unknown", "credential": {"id": "x"}}),
        json!({"ceremony_id": 7, "credential": {}}),
    ] {
        let r = app
            .post("/account/passkeys/register/finish", &body, Some(&fresh))
            .await;
        assert!((400..500).contains(&r.status), "{body}: {:?}", r.body);
    }
    let started = app
        .post("/account/passkeys/register", &json!({}), Some(&fresh))
        .await;
    let r = app
        .post(
            "/account/passkeys/register/finish",
            &json!({"ceremony_id": started.body["ceremony_id"], "credential": {"id": "x"}}),
            Some(&fresh),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("credential"))
    );
    for body in [
        json!({}),
        json!({"ceremony_id": "x"}),
        json!({"ceremony_id": "x", "credential": "y"}),
    ] {
        let r = finish_passwordless(app, &body).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
    }
    let listed = app.get("/account/passkeys", Some(&fresh)).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));

    // Removed, it signs nobody in.
    let r = app
        .settings("DELETE", &path, Value::Null, Some(&fresh))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let body = passwordless_answer(app, &mut device).await;
    let r = finish_passwordless(app, &body).await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
}

async fn host_admin(app: &TestApp) -> String {
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("the host admin");
    let r = app.sign_in("root@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    access(&r)
}

fn user_id_of(token: &str) -> String {
    claims(token)["sub"]
        .as_str()
        .expect("a subject")
        .to_string()
}

async fn enrolment_needs_step_up_and_an_admin_reset_removes_passkeys(app: &TestApp) {
    let token = signed_in_user(app, "pk-stepup@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(app, &token, &mut device, "first").await;
    assert_eq!(added.status, 201);
    let events = app.get("/account/events", Some(&access(&added))).await;
    assert!(
        events.text.contains("passkey_added"),
        "the enrolment is an event: {:?}",
        events.body
    );
    let on = app
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&access(&added)),
        )
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    let password_only = access(&on);
    // A session that proved no second factor adds none, and removes none.
    let r = app
        .post(
            "/account/passkeys/register",
            &json!({}),
            Some(&password_only),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    let id = added.body["passkey_id"].as_str().expect("an id");
    let r = app
        .settings(
            "DELETE",
            &format!("/account/passkeys/{id}"),
            Value::Null,
            Some(&password_only),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));

    // With the passkey just proven, it may.
    let login = app.sign_in("pk-stepup@example.com", PASSWORD).await;
    let two_factor_token = login.body["two_factor_token"].clone();
    let sent = app
        .send_code(
            &json!({"two_factor_token": two_factor_token, "provider": "passkey"}),
            None,
        )
        .await;
    let credential = device.assert(&sent.body["options"]).expect("answers");
    let fresh = app
        .verify_code(
            &json!({"two_factor_token": two_factor_token, "provider": "passkey",
                    "ceremony_id": sent.body["ceremony_id"], "credential": credential}),
            None,
        )
        .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
    let mut second = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(app, &access(&fresh), &mut second, "second").await;
    assert_eq!(added.status, 201, "{:?}", added.body);

    // An administrator's reset takes every passkey: none signs in any more.
    let admin = host_admin(app).await;
    let user_id = user_id_of(&access(&added));
    let r = app
        .post(
            &format!("/users/{user_id}/reset-two-factor"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    for d in [&mut device, &mut second] {
        let body = passwordless_answer(app, d).await;
        let r = finish_passwordless(app, &body).await;
        assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
    }
    let login = app.sign_in("pk-stepup@example.com", PASSWORD).await;
    assert_ne!(
        login.body["providers"][0], "passkey",
        "no passkey is offered after the reset: {:?}",
        login.body
    );
}

async fn a_credential_signs_in_only_on_its_own_side(app: &TestApp) {
    let admin = host_admin(app).await;
    let r = app
        .post(
            "/tenants",
            &json!({"name": "Acme", "admin_email": "boss@acme.example", "admin_password": PASSWORD}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = signed_in_user(app, "pk-host@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    assert_eq!(enrol(app, &token, &mut device, "key").await.status, 201);
    // A ceremony of the tenant, answered with the host user's passkey.
    let started = app
        .post("/passkeys/sign-in", &json!({"tenant": "acme"}), None)
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let credential = device.assert(&started.body["options"]).expect("answers");
    let r = finish_passwordless(
        app,
        &json!({"tenant": "acme", "ceremony_id": started.body["ceremony_id"], "credential": credential}),
    )
    .await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
    // A host ceremony finished as the tenant's: the ceremony is the side's it was started on.
    let body = passwordless_answer(app, &mut device).await;
    let mut crossed = body.clone();
    crossed["tenant"] = json!("acme");
    let r = finish_passwordless(app, &crossed).await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
}

async fn a_side_that_turns_passkeys_off_neither_offers_nor_accepts_them(app: &TestApp) {
    let token = signed_in_user(app, "pk-off@example.com").await;
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let added = enrol(app, &token, &mut device, "key").await;
    assert_eq!(added.status, 201);
    let fresh = access(&added);
    let pending = passwordless_answer(app, &mut device).await;
    let admin = host_admin(app).await;
    let r = app
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"allowed_providers": ["authenticator", "email", "sms"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for r in [
        app.post("/passkeys/sign-in", &json!({}), None).await,
        finish_passwordless(app, &pending).await,
        app.post("/account/passkeys/register", &json!({}), Some(&fresh))
            .await,
    ] {
        assert_eq!(
            (r.status, r.error.as_str(), r.body["provider"].as_str()),
            (400, "provider_unavailable", Some("passkey")),
            "{:?}",
            r.body
        );
    }
    let view = app.get("/account/two-factor", Some(&fresh)).await;
    assert_eq!(
        view.body["providers"]["passkey"],
        json!({"count": 1, "allowed": false})
    );
}

/// Runs each scenario on a fresh app over the embedded store and over DynamoDB Local
/// (behind the template's permissions, every call of which must be granted).
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let app = e2e::spawn_app(&e2e::Backend::Memory, e2e::AppOptions::default()).await;
                    super::$scenario(&app).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[cfg_attr(
                    no_dynamodb,
                    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
                )]
                async fn $scenario() {
                    let Some(backend) = e2e::Backend::dynamo() else {
                        return;
                    };
                    let app = e2e::spawn_app(&backend, e2e::AppOptions::default()).await;
                    super::$scenario(&app).await;
                    assert_eq!(app.denied(), Vec::<String>::new(), "the template grants every call");
                }
            )*
        }
    };
}

on_both_stores!(
    enrolment_and_passwordless_sign_in,
    two_finishes_of_one_ceremony_sign_in_once,
    refused_assertions_answer_alike_known_or_not,
    a_counter_that_went_backwards_is_refused,
    a_passkey_as_the_second_factor,
    rename_remove_and_bad_input,
    enrolment_needs_step_up_and_an_admin_reset_removes_passkeys,
    a_credential_signs_in_only_on_its_own_side,
    a_side_that_turns_passkeys_off_neither_offers_nor_accepts_them,
);
