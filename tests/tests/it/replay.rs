//! An authenticator's time step is accepted once per user, whichever route took it:
//! the code that confirmed the authenticator in manage-settings cannot sign in at
//! verify-code inside the same step (RFC 6238 §5.2).

use std::future::Future;
use std::pin::Pin;

use serde_json::json;
use twofa::api::{Request, Response};
use twofa::testing::world::{Handlers, World};
use twofa::testing::{Client, Reply};

/// `POST /verify-code` to verify-code, every other request to manage-settings.
struct VerifyAndSettings;

impl Handlers for VerifyAndSettings {
    fn handle<'a>(
        &'a self,
        w: &'a World,
        req: Request,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'a>> {
        if req.uri().path() == "/verify-code" {
            Box::pin(verify_code::handle(&w.core, &w.out, req))
        } else {
            Box::pin(manage_settings::handle(&w.core, &w.out, req))
        }
    }
}

#[tokio::test]
async fn the_code_that_confirmed_an_authenticator_cannot_sign_in_in_the_same_step() {
    let w = World::new().serving(VerifyAndSettings);
    let user = w.two_factor_user().await;
    let access = w.access_token(&user, Some(w.now())).await;
    let Reply {
        status,
        body: enrol,
        ..
    } = w
        .post("/account/authenticator", &json!({}), Some(&access))
        .await;
    assert_eq!(status, 200, "{enrol}");
    let key = twofa::totp::key_from_base32(enrol["shared_key"].as_str().unwrap()).unwrap();
    let code = twofa::totp::code_at(&key, w.now()).unwrap();
    let Reply { status, body, .. } = w
        .post(
            "/account/authenticator/verify",
            &json!({"code": code}),
            Some(&access),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A few seconds later, still inside the step, the same code at sign-in.
    w.clock.advance(5);
    let user = w.user(&user.id).await;
    let token = w.start_sign_in(&user).await;
    let Reply {
        status,
        error,
        body,
        ..
    } = w
        .verify_code(
            &json!({"two_factor_token": token, "provider": "authenticator", "code": code}),
            None,
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
    let Reply { status, body, .. } = w
        .verify_code(
            &json!({"two_factor_token": token, "provider": "authenticator", "code": next}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
