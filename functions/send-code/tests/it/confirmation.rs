//! send-code for confirmations: the account's email address, or a phone number,
//! with a bearer access or setup token; step-up for a new number when 2FA is on.

use crate::common;

use common::{Client, EMAIL, Reply, world, world_with};
use serde_json::json;
use twofa::codes::CodePurpose;
use twofa::store::CodeStore;
use twofa::user::UserPatch;

#[tokio::test]
async fn a_confirmation_code_goes_to_the_account_email_address() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;

    let Reply { status, body, .. } = w
        .send_code(&json!({"purpose": "confirm_email"}), Some(&access))
        .await;

    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["provider"].as_str(), body["destination_hint"].as_str()),
        (Some("email"), Some("j***@example.com"))
    );
    let sent = w.outbox();
    assert_eq!((sent.len(), sent[0].to.as_str()), (1, EMAIL));
    assert!(
        w.store
            .code(&user.id, CodePurpose::ConfirmEmail)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_phone_confirmation_code_goes_to_the_number_given_in_e164() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;

    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+1 (201) 555-0123"}),
            Some(&access),
        )
        .await;

    let Reply { status, body, .. } = r;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["provider"].as_str(), body["destination_hint"].as_str()),
        (Some("sms"), Some("+1*******0123"))
    );
    assert_eq!(w.outbox()[0].to, "+12015550123");
    let pending = w
        .store
        .code(&user.id, CodePurpose::ConfirmPhone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.destination, "+12015550123");
    assert_eq!(
        w.user(&user.id).await.phone_number,
        None,
        "the number is recorded only once confirmed"
    );
}

#[tokio::test]
async fn an_impossible_number_or_a_country_not_allowed_is_invalid_phone() {
    let w = world_with(&[("ALLOWED_COUNTRY_CODES", "1")]);
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;

    let Reply {
        status,
        error: code,
        ..
    } = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "5550100"}),
            Some(&access),
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "invalid_phone"));

    let Reply {
        status,
        error: code,
        body,
        ..
    } = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+447911123456"}),
            Some(&access),
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "invalid_phone"));
    assert!(
        body["message"].as_str().unwrap().contains("not allowed"),
        "{body}"
    );
    assert!(w.outbox().is_empty());
}

#[tokio::test]
async fn a_new_number_needs_a_fresh_second_factor_when_two_factor_is_on() {
    let w = world();
    let user = w.two_factor_user().await;
    let new_number = json!({"purpose": "confirm_phone", "phone_number": "+12015550123"});

    let stale = w.access_token(&user, None).await;
    let Reply {
        status,
        error: code,
        ..
    } = w.send_code(&new_number.clone(), Some(&stale)).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "step_up_required"),
        "no second factor in the token"
    );

    let fresh = w.access_token(&user, Some(w.now())).await;
    w.clock.advance(601);
    let Reply {
        status,
        error: code,
        ..
    } = w.send_code(&new_number.clone(), Some(&fresh)).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "step_up_required"),
        "a second factor 601 seconds old"
    );
    assert!(w.outbox().is_empty());

    let fresh = w.access_token(&user, Some(w.now() - 600)).await;
    assert_eq!(w.send_code(&new_number, Some(&fresh)).await.status, 202);
}

#[tokio::test]
async fn reconfirming_the_confirmed_number_or_a_user_without_two_factor_needs_no_step_up() {
    let w = world();
    let user = w.two_factor_user().await;
    let stale = w.access_token(&user, None).await;
    let same = json!({"purpose": "confirm_phone", "phone_number": common::PHONE});
    assert_eq!(w.send_code(&same, Some(&stale)).await.status, 202);

    let off = w.plain_user("sam@example.com").await;
    let off = w
        .patch(
            &off,
            UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await;
    let token = w.access_token(&off, None).await;
    assert_eq!(
        w.send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&token)
        )
        .await
        .status,
        202
    );
}

#[tokio::test]
async fn a_setup_token_may_ask_for_confirmation_codes() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let setup = w.setup_token(&user);

    assert_eq!(
        w.send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&setup)
        )
        .await
        .status,
        202
    );
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&setup))
            .await
            .status,
        202
    );
}

#[tokio::test]
async fn a_confirmation_needs_a_bearer_access_or_setup_token() {
    let w = world();
    let user = w.two_factor_user().await;
    let two_factor = w.start_sign_in(&user).await;

    for bearer in [None, Some(two_factor.as_str()), Some("forged.token.here")] {
        let Reply {
            status,
            error: code,
            ..
        } = w
            .send_code(&json!({"purpose": "confirm_email"}), bearer)
            .await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{bearer:?}");
    }
    assert!(w.outbox().is_empty());
}
