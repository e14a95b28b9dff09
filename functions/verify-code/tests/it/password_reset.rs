//! `POST /password/reset` with the code `/password/forgot` emailed: one use, its
//! lifetime, the lockout of the account's side, the stamp rotated, no sign-in,
//! the second factor untouched; an unknown email answers as a wrong code does.

use crate::common;

use common::{Client, EMAIL, Reply, World};
use serde_json::{Value, json};
use twofa::codes::CodePurpose;
use twofa::password::verify_password;
use twofa::store::{CodeStore, TenantStore};
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::json_request;
use twofa::user::User;

const NEW_PASSWORD: &str = "a brand new passphrase for jane";

fn world() -> World {
    common::world_with(&[("PASSWORD_RESET_ANSWER_MS", "0")])
}

async fn forgot(w: &World, email: &str) -> String {
    let r = send_code::handle(
        &w.core,
        &w.out,
        &w.out,
        json_request("POST", "/password/forgot", &json!({"email": email}), None),
    )
    .await;
    assert_eq!(r.status(), 202);
    w.last_code()
}

async fn reset(w: &World, body: Value) -> Reply {
    w.post("/password/reset", &body, None).await
}

fn with_code(email: &str, code: &str) -> Value {
    json!({"email": email, "code": code, "new_password": NEW_PASSWORD})
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap_or(0) + 1) % 1_000_000)
}

/// A host user with a confirmed email, 2FA on and an authenticator.
async fn user(w: &World) -> User {
    let user = w.two_factor_user().await;
    w.enrol_authenticator(&user).await;
    w.user(&user.id).await
}

#[tokio::test]
async fn the_emailed_code_sets_the_new_password_rotates_the_stamp_and_leaves_the_second_factor() {
    let w = world();
    let before = user(&w).await;
    let code = forgot(&w, EMAIL).await;

    let r = reset(&w, with_code(EMAIL, &code)).await;

    assert_eq!(
        (r.status, r.text.as_str()),
        (204, ""),
        "no token: a reset does not sign in"
    );
    let after = w.user(&before.id).await;
    assert!(
        verify_password(NEW_PASSWORD, Some(&after.password_hash))
            .await
            .unwrap()
    );
    assert!(
        !verify_password(PASSWORD, Some(&after.password_hash))
            .await
            .unwrap()
    );
    assert_ne!(
        after.security_stamp, before.security_stamp,
        "tokens and remembered browsers die with the old stamp"
    );
    assert_eq!(
        (
            after.two_factor_enabled,
            &after.authenticator,
            after.phone_number_confirmed
        ),
        (
            before.two_factor_enabled,
            &before.authenticator,
            before.phone_number_confirmed
        ),
        "the second factor is as it was"
    );
    assert!(
        w.outbox()
            .iter()
            .any(|m| m.to == EMAIL && m.subject.as_deref() == Some("Your password was reset")),
        "a security notice"
    );
}

#[tokio::test]
async fn a_code_works_once_even_when_two_resets_race_with_it() {
    let w = world();
    user(&w).await;
    let code = forgot(&w, EMAIL).await;

    let (a, b) = tokio::join!(
        reset(&w, with_code(EMAIL, &code)),
        reset(&w, with_code(EMAIL, &code))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 401]);

    let Reply { status, error, .. } = reset(&w, with_code(EMAIL, &code)).await;
    assert_eq!(
        (status, error.as_str()),
        (401, "invalid_code"),
        "the same code a second time"
    );
}

#[tokio::test]
async fn an_unknown_email_answers_exactly_as_a_wrong_code_does() {
    let w = world();
    let u = user(&w).await;
    let code = forgot(&w, EMAIL).await;

    let known = reset(&w, with_code(EMAIL, &wrong(&code))).await;
    let unknown = reset(&w, with_code("nobody@example.com", &code)).await;
    let malformed = reset(&w, with_code("not an address", &code)).await;
    let other_tenant = reset(
        &w,
        json!({"tenant": "nowhere", "email": EMAIL, "code": code, "new_password": NEW_PASSWORD}),
    )
    .await;

    assert_eq!(known.status, 401);
    assert_eq!(known.error, "invalid_code");
    assert!(
        known.body.get("attempts_remaining").is_none(),
        "a count only a real account could show"
    );
    // The body holds the error code: status and body are the whole answer.
    for other in [&unknown, &malformed, &other_tenant] {
        assert_eq!((other.status, &other.body), (known.status, &known.body));
    }
    assert_eq!(
        w.user(&u.id).await.failed_count,
        1,
        "the wrong code counted"
    );
}

#[tokio::test]
async fn an_expired_code_answers_code_expired_only_to_whoever_typed_it_right() {
    let w = world();
    let u = user(&w).await;
    let code = forgot(&w, EMAIL).await;
    w.clock.advance(301);

    let Reply { status, error, .. } = reset(&w, with_code(EMAIL, &wrong(&code))).await;
    assert_eq!(
        (status, error.as_str()),
        (401, "invalid_code"),
        "a wrong code learns nothing of a pending one"
    );
    // The same code gets the same answer however often it comes, and never counts.
    for _ in 0..2 {
        let Reply { status, error, .. } = reset(&w, with_code(EMAIL, &code)).await;
        assert_eq!((status, error.as_str()), (410, "code_expired"));
    }
    assert!(
        w.store
            .code(&u.id, CodePurpose::PasswordReset)
            .await
            .unwrap()
            .is_some(),
        "the expired code stays until replaced"
    );
    assert_eq!(
        w.user(&u.id).await.failed_count,
        1,
        "only the wrong code counted"
    );
}

#[tokio::test]
async fn a_weak_new_password_is_refused_without_spending_the_code() {
    let w = world();
    let u = user(&w).await;
    let code = forgot(&w, EMAIL).await;

    for weak in ["short", "password1234"] {
        let Reply {
            status,
            error,
            body,
            ..
        } = reset(
            &w,
            json!({"email": EMAIL, "code": code, "new_password": weak}),
        )
        .await;
        assert_eq!(
            (status, error.as_str(), &body["field"]),
            (400, "weak_password", &json!("new_password"))
        );
    }
    assert_eq!(w.user(&u.id).await.failed_count, 0);
    assert_eq!(
        reset(&w, with_code(EMAIL, &code)).await.status,
        204,
        "the code still works"
    );
}

#[tokio::test]
async fn wrong_codes_lock_the_account_by_its_sides_lockout_values_and_a_locked_account_cannot_reset()
 {
    let w = world();
    let u = user(&w).await;
    w.store
        .set_host_lockout(
            &twofa::lockout::LockoutPolicy {
                max_failed_attempts: 2,
                duration_seconds: 600,
            },
            None,
        )
        .await
        .unwrap();
    let code = forgot(&w, EMAIL).await;

    let Reply { status, error, .. } = reset(&w, with_code(EMAIL, &wrong(&code))).await;
    assert_eq!((status, error.as_str()), (401, "invalid_code"));
    let r = reset(&w, with_code(EMAIL, &wrong(&code))).await;
    let Reply {
        status,
        error,
        body,
        ..
    } = r;
    assert_eq!(
        (status, error.as_str(), &body["retry_after_seconds"]),
        (423, "locked_out", &json!(600)),
        "the host's 2, not the default 5"
    );

    let Reply { status, error, .. } = reset(&w, with_code(EMAIL, &code)).await;
    assert_eq!(
        (status, error.as_str()),
        (423, "locked_out"),
        "not even the right code while locked"
    );
    assert!(
        verify_password(PASSWORD, Some(&w.user(&u.id).await.password_hash))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_reset_ends_a_sign_in_waiting_for_its_second_factor() {
    let w = world();
    let u = user(&w).await;
    w.start_sign_in(&u).await;
    let code = forgot(&w, EMAIL).await;
    assert_eq!(reset(&w, with_code(EMAIL, &code)).await.status, 204);
    assert_eq!(w.user(&u.id).await.pending_sign_in, None);
}

#[tokio::test]
async fn a_body_that_is_not_the_contract_is_refused_with_400_and_changes_nothing() {
    let w = world();
    let u = user(&w).await;
    for body in [
        json!({}),
        json!({"email": EMAIL, "code": 123456, "new_password": NEW_PASSWORD}),
        json!({"email": EMAIL, "code": "123456"}),
    ] {
        let Reply { status, error, .. } = reset(&w, body.clone()).await;
        assert_eq!((status, error.as_str()), (400, "invalid_request"), "{body}");
    }
    assert_eq!(w.user(&u.id).await, u);
}

#[tokio::test]
async fn nothing_a_client_sends_gets_a_5xx() {
    let w = world();
    user(&w).await;
    let long_email = format!("{}@example.com", "é".repeat(5000));
    let bodies = [
        json!({"email": long_email, "code": "123456", "new_password": NEW_PASSWORD}),
        json!({"email": EMAIL, "code": "1".repeat(10_000), "new_password": NEW_PASSWORD}),
        json!({"email": EMAIL, "code": "123456", "new_password": "ü".repeat(5000)}),
        json!({"tenant": "x".repeat(3000), "email": EMAIL, "code": "123456", "new_password": NEW_PASSWORD}),
        json!({"tenant": null, "email": "\u{0000}@\u{0000}", "code": "\u{202e}", "new_password": NEW_PASSWORD}),
        json!({"email": [EMAIL], "code": "123456", "new_password": NEW_PASSWORD}),
    ];
    for body in bodies {
        let r = reset(&w, body.clone()).await;
        assert!(
            (400..500).contains(&r.status),
            "{} for {}",
            r.status,
            &body.to_string()[..80.min(body.to_string().len())]
        );
    }
}

#[tokio::test]
async fn an_unknown_email_locks_after_as_many_wrong_codes_as_an_account_does() {
    let w = world();
    w.store
        .set_host_lockout(
            &twofa::lockout::LockoutPolicy {
                max_failed_attempts: 2,
                duration_seconds: 600,
            },
            None,
        )
        .await
        .unwrap();
    user(&w).await;
    let mut answers = Vec::new();
    for email in [EMAIL, "nobody@example.com"] {
        let first = reset(&w, with_code(email, "abcdef")).await;
        let second = reset(&w, with_code(email, "abcdef")).await;
        answers.push([(first.status, first.body), (second.status, second.body)]);
    }
    assert_eq!(
        answers[0], answers[1],
        "an account and an unknown email answer alike, lock included"
    );
    assert_eq!(answers[1][1].0, 423);
}

#[tokio::test]
async fn an_account_registered_before_addresses_were_normalised_resets_its_password_as_typed_then()
{
    let w = world();
    // Stored as it was typed (decomposed é): its key is not the normalised address's.
    let typed = "Rene\u{301}@example.com";
    let old = User::new(
        twofa::side::Side::Host,
        twofa::email::Email::from_stored(typed).expect("stored before normalisation"),
        twofa::password::hash_blocking_for_tests(PASSWORD),
        w.now(),
    );
    w.core.store.create_user(&old).await.expect("a new account");
    w.patch(
        &old,
        twofa::user::UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;

    let code = forgot(&w, typed).await;
    let r = reset(&w, with_code(typed, &code)).await;

    assert_eq!(r.status, 204, "{}", r.body);
    let after = w.user(&old.id).await;
    assert!(
        verify_password(NEW_PASSWORD, Some(&after.password_hash))
            .await
            .unwrap()
    );
}
