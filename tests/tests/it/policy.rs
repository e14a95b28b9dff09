//! The policy over HTTP: a host that forces 2FA, a user with nothing set up who is
//! only let in to enrol, and who must then sign in again with the new factor.

use e2e::{AppOptions, Backend, spawn_app};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_forced_user_without_a_provider_can_only_enrol_and_then_signs_in_with_it() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("a host admin");
    let admin = app
        .post(
            "/login",
            &json!({"email": "root@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    let admin = admin.body["access_token"]
        .as_str()
        .expect("the admin signs in")
        .to_string();
    let forced = app
        .call(
            "PUT",
            "/settings/two-factor",
            Some(&json!({"behaviour": "forced"})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (forced.status, forced.body["behaviour"].as_str()),
        (200, Some("forced")),
        "{:?}",
        forced.body
    );

    assert_eq!(
        app.post(
            "/register",
            &json!({"email": "new@example.com", "password": PASSWORD}),
            None
        )
        .await
        .status,
        201
    );
    let step = app
        .post(
            "/login",
            &json!({"email": "new@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        step.body["status"], "two_factor_setup_required",
        "{:?}",
        step.body
    );
    assert!(step.body.get("access_token").is_none());
    let setup = step.body["setup_token"].as_str().unwrap().to_string();

    // The setup token opens enrolment and nothing else.
    assert_eq!(
        app.call("GET", "/account/two-factor", None, Some(&setup))
            .await
            .status,
        401
    );
    assert_eq!(
        app.call("GET", "/settings/two-factor", None, Some(&setup))
            .await
            .status,
        401
    );
    let enrol = app
        .post("/account/authenticator", &json!({}), Some(&setup))
        .await;
    assert_eq!(enrol.status, 200, "{:?}", enrol.body);
    let key = twofa::totp::key_from_base32(enrol.body["shared_key"].as_str().unwrap()).unwrap();
    let now = twofa::clock::Clock::now(&twofa::clock::SystemClock);
    let done = app
        .post(
            "/account/authenticator/verify",
            &json!({"code": twofa::totp::code_at(&key, now).unwrap()}),
            Some(&setup),
        )
        .await;
    assert_eq!(
        (done.status, done.body["enabled"].as_bool()),
        (200, Some(true)),
        "{:?}",
        done.body
    );
    assert!(
        done.body.get("access_token").is_none(),
        "enrolment signs nobody in"
    );
    let again = app
        .post("/account/authenticator", &json!({}), Some(&setup))
        .await;
    assert_eq!(
        again.status, 401,
        "a setup token enrols one first factor, then stops: {:?}",
        again.body
    );

    // Signing in again now asks for the new factor.
    let step = app
        .post(
            "/login",
            &json!({"email": "new@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (step.body["status"].as_str(), &step.body["providers"]),
        (Some("two_factor_required"), &json!(["authenticator"]))
    );
    let tf = step.body["two_factor_token"].as_str().unwrap();
    let signed = app.post("/verify-code", &json!({"two_factor_token": tf, "provider": "authenticator", "code": twofa::totp::code_at(&key, now + 30).unwrap()}), None).await;
    assert_eq!(signed.body["status"], "signed_in", "{:?}", signed.body);
}

#[tokio::test]
async fn a_user_who_turns_2fa_on_before_setting_anything_up_is_sent_to_set_it_up() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    app.post(
        "/register",
        &json!({"email": "jane@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    let access = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let on = app
        .call(
            "PUT",
            "/account/two-factor",
            Some(&json!({"enabled": true})),
            Some(&access),
        )
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    let step = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        step.body["status"], "two_factor_setup_required",
        "never a session without a second factor: {:?}",
        step.body
    );

    // With the setup token the user confirms the email address, then signs in with it.
    let setup = step.body["setup_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.post(
            "/send-code",
            &json!({"purpose": "confirm_email"}),
            Some(&setup)
        )
        .await
        .status,
        202
    );
    let code = app
        .last_code_to("jane@example.com")
        .await
        .expect("a code in the outbox");
    let ok = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_email", "code": code}),
            Some(&setup),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let step = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (step.body["status"].as_str(), &step.body["providers"]),
        (Some("two_factor_required"), &json!(["email"]))
    );
}
