//! An authenticator's time step is accepted once per user, whichever route took it:
//! the code that confirmed the authenticator in manage-settings cannot sign in at
//! verify-code inside the same step (RFC 6238 §5.2).

use serde_json::{Value, json};
use twofa::testing::json_request;
use twofa::testing::world::{World, answer};

async fn settings(w: &World, path: &str, body: Value, token: &str) -> (u16, String, Value) {
    let req = json_request("POST", path, &body, Some(token));
    answer(&manage_settings::handle(&w.core, &w.out, req).await)
}

async fn verify(w: &World, body: Value) -> (u16, String, Value) {
    let req = json_request("POST", "/verify-code", &body, None);
    answer(&verify_code::handle(&w.core, &w.out, req).await)
}

#[tokio::test]
async fn the_code_that_confirmed_an_authenticator_cannot_sign_in_in_the_same_step() {
    let w = World::new();
    let user = w.two_factor_user().await;
    let access = w.access_token(&user, Some(w.now()));
    let (status, _, enrol) = settings(&w, "/account/authenticator", json!({}), &access).await;
    assert_eq!(status, 200, "{enrol}");
    let key = twofa::totp::key_from_base32(enrol["shared_key"].as_str().unwrap()).unwrap();
    let code = twofa::totp::code_at(&key, w.now()).unwrap();
    let (status, _, body) = settings(
        &w,
        "/account/authenticator/verify",
        json!({"code": code}),
        &access,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A few seconds later, still inside the step, the same code at sign-in.
    w.clock.advance(5);
    let user = w.user(&user.id).await;
    let token = w.start_sign_in(&user).await;
    let (status, error, body) = verify(
        &w,
        json!({"two_factor_token": token, "provider": "authenticator", "code": code}),
    )
    .await;
    assert_eq!(
        (status, error.as_str(), &body["attempts_remaining"]),
        (401, "invalid_code", &json!(4))
    );
    assert_eq!(
        w.user(&user.id).await.failed_count,
        1,
        "the replay is counted"
    );

    // The next step's code signs in: the refusal was the replay, not the authenticator.
    w.clock.advance(30);
    let next = twofa::totp::code_at(&key, w.now()).unwrap();
    let (status, _, body) = verify(
        &w,
        json!({"two_factor_token": token, "provider": "authenticator", "code": next}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
