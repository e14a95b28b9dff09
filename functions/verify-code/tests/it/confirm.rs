//! verify-code for confirmations: the account's email address and phone numbers,
//! with step-up for a new number when 2FA is on, and failures that count.

use crate::common;

use common::{Client, EMAIL, PHONE, Reply, world, world_with};
use serde_json::{Value, json};
use twofa::codes::CodePurpose;
use twofa::store::CodeStore;

fn confirm(purpose: &str, code: &str) -> Value {
    json!({"purpose": purpose, "code": code})
}

#[tokio::test]
async fn confirming_the_email_address_marks_it_confirmed() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
            .await
            .status,
        202
    );

    let Reply { status, body, .. } = w
        .verify_code(&confirm("confirm_email", &w.last_code()), Some(&access))
        .await;

    assert_eq!(
        (status, &body["email_confirmed"]),
        (200, &json!(true)),
        "{body}"
    );
    assert!(
        body["access_token"].is_string(),
        "the caller goes on under the new security stamp: {body}"
    );
    assert!(w.user(&user.id).await.email_confirmed);
}

#[tokio::test]
async fn confirming_a_phone_number_records_it_and_changes_the_security_stamp() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;
    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+1 201 555 0123"}),
            Some(&access),
        )
        .await;
    assert_eq!(r.status, 202);

    let Reply { status, body, .. } = w
        .verify_code(&confirm("confirm_phone", &w.last_code()), Some(&access))
        .await;

    assert_eq!(
        (status, &body["phone_number_confirmed"]),
        (200, &json!(true)),
        "{body}"
    );
    let after = w.user(&user.id).await;
    assert_eq!(
        (
            after.phone_number.as_ref().map(|p| p.as_str()),
            after.phone_number_confirmed
        ),
        (Some("+12015550123"), true)
    );
    assert_ne!(
        after.security_stamp, user.security_stamp,
        "remembered browsers die with the old stamp"
    );
    assert_eq!(
        w.store
            .code(&user.id, CodePurpose::ConfirmPhone)
            .await
            .unwrap(),
        None,
        "the code is spent"
    );
}

#[tokio::test]
async fn a_new_number_is_confirmed_only_with_a_fresh_second_factor_when_two_factor_is_on() {
    let w = world();
    let user = w.two_factor_user().await;
    let fresh = w.access_token(&user, Some(w.now())).await;
    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&fresh),
        )
        .await;
    assert_eq!(r.status, 202);
    let code = w.last_code();

    let stale = w.access_token(&user, None).await;
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&confirm("confirm_phone", &code), Some(&stale))
        .await;
    assert_eq!((status, code_name.as_str()), (403, "step_up_required"));
    assert_eq!(
        w.user(&user.id)
            .await
            .phone_number
            .as_ref()
            .map(|p| p.as_str()),
        Some(PHONE),
        "the number did not change"
    );

    let Reply { status, body, .. } = w
        .verify_code(&confirm("confirm_phone", &code), Some(&fresh))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        w.user(&user.id)
            .await
            .phone_number
            .as_ref()
            .map(|p| p.as_str()),
        Some("+12015550123")
    );
}

#[tokio::test]
async fn a_setup_token_can_confirm_a_phone_number() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let setup = w.setup_token(&user);
    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&setup),
        )
        .await;
    assert_eq!(r.status, 202);

    let Reply { status, body, .. } = w
        .verify_code(&confirm("confirm_phone", &w.last_code()), Some(&setup))
        .await;

    assert_eq!(
        (status, body),
        (
            200,
            json!({"phone_number_confirmed": true, "sign_in_again": true})
        )
    );
}

#[tokio::test]
async fn a_wrong_confirmation_code_counts_toward_the_lockout_and_an_old_one_expires() {
    let w = world_with(&[("CODE_TTL_SECONDS", "60")]);
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
            .await
            .status,
        202
    );
    let code = w.last_code();

    let Reply {
        status,
        error: code_name,
        body,
        ..
    } = w
        .verify_code(&confirm("confirm_email", "000000x"), Some(&access))
        .await;
    assert_eq!(
        (
            status,
            code_name.as_str(),
            body["attempts_remaining"].as_u64()
        ),
        (401, "invalid_code", Some(4))
    );
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&confirm("confirm_phone", &code), Some(&access))
        .await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "invalid_code"),
        "an email code does not confirm a phone"
    );
    assert_eq!(w.user(&user.id).await.failed_count, 2);

    w.clock.advance(60);
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&confirm("confirm_email", &code), Some(&access))
        .await;
    assert_eq!((status, code_name.as_str()), (410, "code_expired"));
    assert!(!w.user(&user.id).await.email_confirmed);
}

#[tokio::test]
async fn a_locked_account_cannot_confirm() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
            .await
            .status,
        202
    );
    let code = w.last_code();
    for _ in 0..4 {
        assert_eq!(
            w.verify_code(&confirm("confirm_email", "nope"), Some(&access))
                .await
                .status,
            401
        );
    }
    assert_eq!(
        w.verify_code(&confirm("confirm_email", "nope"), Some(&access))
            .await
            .error,
        "locked_out"
    );

    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&confirm("confirm_email", &code), Some(&access))
        .await;

    assert_eq!((status, code_name.as_str()), (423, "locked_out"));
    assert!(!w.user(&user.id).await.email_confirmed);
}

#[tokio::test]
async fn a_two_factor_token_or_no_token_cannot_confirm() {
    let w = world();
    let user = w.two_factor_user().await;
    let two_factor = w.start_sign_in(&user).await;

    for bearer in [None, Some(two_factor.as_str())] {
        let Reply {
            status,
            error: code_name,
            ..
        } = w
            .verify_code(&confirm("confirm_email", "123456"), bearer)
            .await;
        assert_eq!(
            (status, code_name.as_str()),
            (401, "unauthorized"),
            "{bearer:?}"
        );
    }
    assert_eq!(w.user(&user.id).await.failed_count, 0);
}

#[tokio::test]
async fn a_setup_token_stops_working_once_a_first_factor_is_confirmed() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let setup = w.setup_token(&user);
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&setup))
            .await
            .status,
        202
    );
    let Reply { status, body, .. } = w
        .verify_code(&confirm("confirm_email", &w.last_code()), Some(&setup))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sign_in_again"], true, "{body}");

    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&setup),
        )
        .await;
    let Reply {
        status,
        error: code_name,
        ..
    } = r;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "unauthorized"),
        "no second destination with the spent setup token"
    );
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&confirm("confirm_phone", "123456"), Some(&setup))
        .await;
    assert_eq!((status, code_name.as_str()), (401, "unauthorized"));
}

#[tokio::test]
async fn a_setup_token_cannot_confirm_a_second_phone_number() {
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
        w.verify_code(&confirm("confirm_phone", &w.last_code()), Some(&setup))
            .await
            .status,
        200
    );
    w.clock.advance(30);

    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550199"}),
            Some(&setup),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        w.user(&user.id)
            .await
            .phone_number
            .as_ref()
            .map(|p| p.as_str()),
        Some("+12015550123")
    );
}

#[tokio::test]
async fn a_confirmation_ends_earlier_access_tokens_and_hands_the_caller_a_fresh_one() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let other_session = w.access_token(&user, None).await;
    let access = w.access_token(&user, None).await;
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
            .await
            .status,
        202
    );

    let Reply { status, body, .. } = w
        .verify_code(&confirm("confirm_email", &w.last_code()), Some(&access))
        .await;
    assert_eq!(
        (status, &body["email_confirmed"]),
        (200, &json!(true)),
        "{body}"
    );

    for (what, old) in [
        ("the acting token", &access),
        ("another session", &other_session),
    ] {
        let r = w
            .send_code(
                &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
                Some(old),
            )
            .await;
        assert_eq!(r.status, 401, "{what}");
    }
    let fresh = body["access_token"].as_str().expect("a fresh access token");
    let r = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(fresh),
        )
        .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn a_wrong_confirmation_code_is_recorded_as_a_failed_attempt_naming_its_purpose() {
    let w = world();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;
    let sent = w
        .send_code(&json!({"purpose": "confirm_email"}), Some(&access))
        .await;
    assert_eq!(sent.status, 202);
    w.verify_code(&confirm("confirm_email", "000000x"), Some(&access))
        .await;
    let recorded =
        twofa::store::EventStore::user_events(w.store.as_ref(), &user.id, None, None, 10)
            .await
            .unwrap()
            .items;
    let seen: Vec<(&str, &Value)> = recorded
        .iter()
        .map(|e| (e.event_type.as_str(), &e.details["factor"]))
        .collect();
    assert_eq!(seen, [("sign_in_failed", &json!("confirm_email"))]);
}
