//! verify-code for the second factor of a sign-in: every method, single use, expiry,
//! replacement, TOTP replay, lockout, remember-browser, and refusals.

use crate::common;

use common::{
    Client, RefusingSms, Reply, World, send_code_via, send_sign_in_code, world, world_with,
};
use serde_json::{Value, json};
use twofa::codes::CodePurpose;
use twofa::policy::{Provider, TwoFactorSettings};
use twofa::store::{CodeStore, DeviceStore, TenantStore};
use twofa::tokens::TokenKind;

fn sign_in(token: &str, provider: &str, code: &str) -> Value {
    json!({"two_factor_token": token, "provider": provider, "code": code})
}

/// The access token's amr and mfa_at, checked as an authenticated route would.
fn access_claims(w: &World, body: &Value) -> (Vec<String>, Option<i64>) {
    assert_eq!(
        (body["status"].as_str(), body["token_type"].as_str()),
        (Some("signed_in"), Some("Bearer")),
        "{body}"
    );
    let claims = w
        .core
        .tokens
        .verify(
            TokenKind::Access,
            body["access_token"].as_str().unwrap(),
            w.now(),
        )
        .unwrap();
    (
        claims.amr.iter().map(ToString::to_string).collect(),
        claims.mfa_at,
    )
}

#[tokio::test]
async fn an_emailed_code_signs_in_once_and_the_token_records_the_method() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;

    let Reply { status, body, .. } = w.verify_code(&sign_in(&token, "email", &code), None).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("remember_browser_token").is_none());
    assert_eq!(
        access_claims(&w, &body),
        // RFC 8176 has no value for email: an emailed code is a one-time code.
        (
            vec!["pwd".into(), "otp".into(), "mfa".into()],
            Some(w.now())
        )
    );
    assert_eq!(w.user(&user.id).await.pending_sign_in, None);

    let Reply {
        status,
        error: code_name,
        ..
    } = w.verify_code(&sign_in(&token, "email", &code), None).await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "unauthorized"),
        "the two-factor token is spent"
    );
    let again = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code_name,
        ..
    } = w.verify_code(&sign_in(&again, "email", &code), None).await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "invalid_code"),
        "the code is spent"
    );
}

/// A login in flight when the password changed may write its sign-in after the
/// change cleared the pending one; its two-factor token still names the stamp of
/// before, and signs nobody in under the new one.
#[tokio::test]
async fn a_two_factor_token_issued_under_a_stamp_since_changed_signs_nobody_in() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;
    w.core
        .store
        .update_user(
            &user.id,
            &twofa::user::UserPatch::default().rotating_stamp(),
        )
        .await
        .unwrap();

    let Reply {
        status,
        error: code_name,
        body,
        ..
    } = w.verify_code(&sign_in(&token, "email", &code), None).await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "unauthorized"),
        "{body}"
    );
}

#[tokio::test]
async fn a_texted_code_signs_in_and_may_be_typed_with_spaces() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "sms").await;
    let typed = format!("{} {}", &code[..3], &code[3..]);

    let Reply { status, body, .. } = w.verify_code(&sign_in(&token, "sms", &typed), None).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        access_claims(&w, &body).0,
        vec!["pwd".to_string(), "sms".to_string(), "mfa".to_string()]
    );
}

#[tokio::test]
async fn a_code_for_one_channel_does_not_work_for_the_other() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "sms").await;

    let Reply {
        status,
        error: code_name,
        ..
    } = w.verify_code(&sign_in(&token, "email", &code), None).await;

    assert_eq!((status, code_name.as_str()), (401, "invalid_code"));
}

#[tokio::test]
async fn an_expired_code_answers_410_every_time_it_is_tried_and_counts_no_failure() {
    let w = world_with(&[("CODE_TTL_SECONDS", "60")]);
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;
    w.clock.advance(60);

    for attempt in [&code, &code, &"000000".to_string()] {
        let Reply {
            status,
            error: code_name,
            ..
        } = w
            .verify_code(&sign_in(&token, "email", attempt), None)
            .await;
        assert_eq!((status, code_name.as_str()), (410, "code_expired"));
    }
    assert_eq!(
        w.user(&user.id).await.failed_count,
        0,
        "an expired code is no guess"
    );
    assert!(
        w.store
            .code(&user.id, CodePurpose::SignInEmail)
            .await
            .unwrap()
            .is_some(),
        "TTL deletes it, a grace period later"
    );
}

#[tokio::test]
async fn a_new_code_replaces_the_previous_one() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let first = send_sign_in_code(&w, &token, "email").await;
    w.clock.advance(30);
    let second = send_sign_in_code(&w, &token, "email").await;

    if first != second {
        let Reply {
            status,
            error: code_name,
            ..
        } = w.verify_code(&sign_in(&token, "email", &first), None).await;
        assert_eq!(
            (status, code_name.as_str()),
            (401, "invalid_code"),
            "the replaced code"
        );
    }
    assert_eq!(
        w.verify_code(&sign_in(&token, "email", &second), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_body_naming_the_provider_twice_is_refused_and_changes_nothing() {
    let w = world();
    let user = w.two_factor_user().await;
    let key = w.enrol_authenticator(&user).await;
    let code = twofa::totp::code_at(&key, w.now()).unwrap();
    let token = w.start_sign_in(&user).await;
    // A proxy, a log or a client library reading the first "provider" sees email; a
    // parser where the last wins would judge an authenticator code.
    let raw = format!(
        r#"{{"two_factor_token":"{token}","provider":"email","provider":"authenticator","code":"{code}"}}"#
    );
    let mut req = twofa::testing::json_request("POST", "/verify-code", &Value::Null, None);
    *req.body_mut() = raw.into_bytes();
    let Reply {
        status,
        error,
        body,
        ..
    } = Reply::of(&verify_code::handle(&w.core, &w.out, req).await);
    assert_eq!((status, error.as_str()), (400, "invalid_request"), "{body}");
    let after = w.user(&user.id).await;
    assert_eq!(after.failed_count, 0);
    assert_eq!(
        after.totp_last_step, user.totp_last_step,
        "the step is not spent"
    );
    assert!(
        after.pending_sign_in.is_some(),
        "the sign-in is still pending"
    );
    // The honest body still signs in with that code.
    assert_eq!(
        w.verify_code(&sign_in(&token, "authenticator", &code), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_authenticator_code_is_accepted_once_and_its_replay_is_counted() {
    let w = world();
    let user = w.two_factor_user().await;
    let key = w.enrol_authenticator(&user).await;
    let code = twofa::totp::code_at(&key, w.now()).unwrap();
    let token = w.start_sign_in(&user).await;

    let Reply { status, body, .. } = w
        .verify_code(&sign_in(&token, "authenticator", &code), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        access_claims(&w, &body).0,
        vec!["pwd".to_string(), "otp".to_string(), "mfa".to_string()]
    );

    // The same code, still inside its 30-second window, in a new sign-in.
    w.clock.advance(5);
    let again = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code_name,
        body,
        ..
    } = w
        .verify_code(&sign_in(&again, "authenticator", &code), None)
        .await;
    assert_eq!((status, code_name.as_str()), (401, "invalid_code"));
    assert_eq!(body["attempts_remaining"], 4);
    assert_eq!(w.user(&user.id).await.failed_count, 1);

    // The next step's code still works.
    w.clock.advance(30);
    let next = twofa::totp::code_at(&key, w.now()).unwrap();
    assert_eq!(
        w.verify_code(&sign_in(&again, "authenticator", &next), None)
            .await
            .status,
        200
    );
    assert_eq!(
        w.user(&user.id).await.failed_count,
        0,
        "a success resets the count"
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_account_and_kill_the_two_factor_token() {
    let w = world_with(&[("LOCKOUT_DURATION_SECONDS", "60")]);
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;

    for remaining in [4, 3, 2, 1] {
        let Reply {
            status,
            error: code_name,
            body,
            ..
        } = w
            .verify_code(&sign_in(&token, "email", "abcdef"), None)
            .await;
        assert_eq!(
            (
                status,
                code_name.as_str(),
                body["attempts_remaining"].as_u64()
            ),
            (401, "invalid_code", Some(remaining))
        );
    }
    let r = w
        .verify_code(&sign_in(&token, "email", "12345"), None)
        .await;
    let Reply {
        status,
        error: code_name,
        body,
        ..
    } = r;
    assert_eq!((status, code_name.as_str()), (423, "locked_out"), "{body}");
    assert_eq!(
        (
            body["retry_after_seconds"].as_i64(),
            r.headers["retry-after"].to_str().unwrap()
        ),
        (Some(60), "60")
    );
    assert!(
        w.outbox()
            .iter()
            .any(|m| m.subject.as_deref() == Some("Your account was locked")),
        "the lockout notice"
    );

    let Reply {
        status,
        error: code_name,
        ..
    } = w.verify_code(&sign_in(&token, "email", &code), None).await;
    assert_eq!(
        (status, code_name.as_str()),
        (423, "locked_out"),
        "even the right code while locked"
    );

    w.clock.advance(61);
    let Reply {
        status,
        error: code_name,
        ..
    } = w.verify_code(&sign_in(&token, "email", &code), None).await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "unauthorized"),
        "the lock ended the sign-in"
    );
    let r = w
        .send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn wrong_sign_in_and_confirmation_codes_lock_by_the_sides_lockout_values() {
    let w = world();
    w.store
        .set_host_lockout(
            &twofa::lockout::LockoutPolicy {
                max_failed_attempts: 2,
                duration_seconds: 45,
            },
            None,
        )
        .await
        .unwrap();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    send_sign_in_code(&w, &token, "email").await;
    let Reply { status, body, .. } = w
        .verify_code(&sign_in(&token, "email", "abcdef"), None)
        .await;
    assert_eq!(
        (status, body["attempts_remaining"].as_u64()),
        (401, Some(1)),
        "the host's 2 attempts, not the default 5"
    );
    let Reply {
        status,
        error: code_name,
        body,
        ..
    } = w
        .verify_code(&sign_in(&token, "email", "abcdef"), None)
        .await;
    assert_eq!(
        (
            status,
            code_name.as_str(),
            body["retry_after_seconds"].as_i64()
        ),
        (423, "locked_out", Some(45))
    );

    let other = w.plain_user("otto@example.com").await;
    let access = w.access_token(&other, None).await;
    assert_eq!(
        w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
            .await
            .status,
        202
    );
    let confirm = json!({"purpose": "confirm_email", "code": "abcdef"});
    assert_eq!(
        w.verify_code(&confirm.clone(), Some(&access)).await.body["attempts_remaining"].as_u64(),
        Some(1)
    );
    assert_eq!(w.verify_code(&confirm, Some(&access)).await.status, 423);
}

#[tokio::test]
async fn a_code_works_only_for_the_sign_in_that_asked_for_it() {
    let w = world();
    let user = w.two_factor_user().await;
    let first = w.start_sign_in(&user).await;
    let email_code = send_sign_in_code(&w, &first, "email").await;
    let sms_code = send_sign_in_code(&w, &first, "sms").await;

    // A new login replaces the sign-in: its codes do not carry over.
    let second = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&sign_in(&second, "email", &email_code), None)
        .await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "invalid_code"),
        "a code of the replaced sign-in"
    );

    // A completed sign-in ends the codes it did not use.
    w.clock.advance(30);
    let used = send_sign_in_code(&w, &second, "email").await;
    assert_eq!(
        w.verify_code(&sign_in(&second, "email", &used), None)
            .await
            .status,
        200
    );
    let third = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&sign_in(&third, "sms", &sms_code), None)
        .await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "invalid_code"),
        "a code left over from a finished sign-in"
    );
}

#[tokio::test]
async fn a_lockout_ends_the_codes_pending_before_it() {
    let w = world_with(&[
        ("LOCKOUT_DURATION_SECONDS", "60"),
        ("LOCKOUT_MAX_FAILED_ATTEMPTS", "2"),
    ]);
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "sms").await;
    assert_eq!(
        w.verify_code(&sign_in(&token, "email", "000000"), None)
            .await
            .status,
        401
    );
    assert_eq!(
        w.verify_code(&sign_in(&token, "email", "000000"), None)
            .await
            .status,
        423
    );

    w.clock.advance(61);
    let after = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code_name,
        ..
    } = w.verify_code(&sign_in(&after, "sms", &code), None).await;
    assert_eq!(
        (status, code_name.as_str()),
        (401, "invalid_code"),
        "a code sent before the lockout"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once_and_the_user_is_told() {
    let w = world();
    let user = w.two_factor_user().await;
    let codes = w.give_recovery_codes(&user).await;
    let token = w.start_sign_in(&user).await;
    let retyped = codes[3].to_uppercase().replace('-', " ");

    let Reply { status, body, .. } = w
        .verify_code(&sign_in(&token, "recovery_code", &retyped), None)
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        access_claims(&w, &body).0,
        // A recovery code is a one-time code (RFC 8176 has no value of its own).
        vec!["pwd".to_string(), "otp".to_string(), "mfa".to_string()]
    );
    assert_eq!(w.user(&user.id).await.recovery_codes.len(), 9);
    let notice = w
        .outbox()
        .into_iter()
        .find(|m| m.subject.as_deref() == Some("A recovery code was used"))
        .expect("a notice");
    assert!(notice.body.contains("9 left"), "{}", notice.body);

    let again = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&sign_in(&again, "recovery_code", &codes[3]), None)
        .await;
    assert_eq!((status, code_name.as_str()), (401, "invalid_code"));
    assert_eq!(
        w.verify_code(&sign_in(&again, "recovery_code", &codes[4]), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn remember_browser_returns_a_token_and_a_strict_cookie_and_stores_a_device() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;
    let mut body = sign_in(&token, "email", &code);
    body["remember_browser"] = json!(true);

    let r = w.verify_code(&body, None).await;

    let Reply { status, body, .. } = r;
    assert_eq!(status, 200, "{body}");
    let device_token = body["remember_browser_token"]
        .as_str()
        .expect("a remember-browser token");
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    // The refresh cookie, then the remember-browser cookie.
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(
        cookies[0],
        format!(
            "twofa_refresh={}; Max-Age={}; Path=/token; HttpOnly; Secure; SameSite=Strict",
            body["refresh_token"].as_str().unwrap(),
            body["refresh_expires_in"].as_i64().unwrap()
        )
    );
    let cookie = cookies[1];
    assert!(
        cookie.starts_with(&format!("Identity.TwoFactorRememberMe={device_token};")),
        "{cookie}"
    );
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age=1209600"] {
        assert!(
            cookie.split("; ").any(|p| p == part),
            "{part} missing from {cookie}"
        );
    }
    let devices = w.store.devices(&user.id).await.unwrap();
    assert_eq!(devices.len(), 1);
    let d = &devices[0];
    assert_eq!(
        (d.expires_at, d.user_agent.as_deref()),
        (w.now() + 1_209_600, Some("twofa-tests"))
    );
    assert!(d.accepts(
        &w.core.hash_key,
        device_token,
        &user.security_stamp,
        w.now()
    ));
    assert!(!d.token_hash.contains(device_token));
    assert!(
        w.outbox()
            .iter()
            .any(|m| m.subject.as_deref() == Some("A browser was remembered"))
    );
}

#[tokio::test]
async fn remember_browser_is_not_granted_where_the_settings_do_not_offer_it() {
    let w = world();
    w.store
        .set_host_settings(&TwoFactorSettings {
            remember_browser: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;
    let mut body = sign_in(&token, "email", &code);
    body["remember_browser"] = json!(true);

    let r = w.verify_code(&body, None).await;

    let Reply { status, body, .. } = r;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("remember_browser_token").is_none());
    // The refresh cookie only.
    let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].to_str().unwrap().starts_with("twofa_refresh="));
    assert!(w.store.devices(&user.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn methods_not_set_up_or_not_allowed_are_unavailable_and_not_counted() {
    let w = world();
    w.store
        .set_host_settings(&TwoFactorSettings {
            allowed_providers: vec![Provider::Authenticator, Provider::Email],
            ..Default::default()
        })
        .await
        .unwrap();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;

    for provider in ["authenticator", "recovery_code", "sms"] {
        let Reply {
            status,
            error: code_name,
            body,
            ..
        } = w
            .verify_code(&sign_in(&token, provider, "123456"), None)
            .await;
        assert_eq!(
            (status, code_name.as_str()),
            (400, "provider_unavailable"),
            "{provider}: {body}"
        );
    }
    assert_eq!(w.user(&user.id).await.failed_count, 0);
}

#[tokio::test]
async fn an_access_token_or_a_replaced_sign_in_is_not_a_two_factor_token() {
    let w = world();
    let user = w.two_factor_user().await;
    let old = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &old, "email").await;
    let _current = w.start_sign_in(&user).await;
    let access = w.access_token(&user, Some(w.now())).await;

    for token in [access.as_str(), old.as_str(), "x.y.z"] {
        let Reply {
            status,
            error: code_name,
            ..
        } = w.verify_code(&sign_in(token, "email", &code), None).await;
        assert_eq!((status, code_name.as_str()), (401, "unauthorized"));
    }
    assert_eq!(w.user(&user.id).await.failed_count, 0);
}

#[tokio::test]
async fn a_code_whose_delivery_failed_never_signs_in() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let refusing = RefusingSms::default();
    let r = send_code_via(
        &w,
        &refusing,
        &json!({"two_factor_token": token, "provider": "sms"}),
    )
    .await;
    assert_eq!(r.status, 502);
    let undelivered = refusing.codes.lock().unwrap()[0].clone();

    let Reply {
        status,
        error: code_name,
        ..
    } = w
        .verify_code(&sign_in(&token, "sms", &undelivered), None)
        .await;

    assert_eq!((status, code_name.as_str()), (401, "invalid_code"));
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &token, "email").await;
    let before = w.user(&user.id).await;
    let cases = [
        (
            json!({"two_factor_token": token, "provider": "email"}),
            "code",
        ),
        (
            json!({"two_factor_token": token, "provider": "email", "code": 123456}),
            "code",
        ),
        (
            json!({"two_factor_token": token, "provider": "pigeon", "code": code}),
            "provider",
        ),
        (json!({"two_factor_token": token, "code": code}), "provider"),
        (
            json!({"two_factor_token": token, "provider": "email", "code": code, "remember_browser": "yes"}),
            "remember_browser",
        ),
        (
            json!({"two_factor_token": [], "provider": "email", "code": code}),
            "two_factor_token",
        ),
        (json!({"code": code}), "two_factor_token"),
        (json!({"purpose": "confirm_fax", "code": code}), "purpose"),
        (json!({"purpose": "confirm_email"}), "code"),
    ];
    for (body, field) in cases {
        let Reply {
            status,
            error: code_name,
            body: answer_body,
            ..
        } = w.verify_code(&body.clone(), None).await;
        assert_eq!(
            (status, code_name.as_str(), answer_body["field"].as_str()),
            (400, "invalid_request", Some(field)),
            "{body}"
        );
    }

    assert_eq!(w.user(&user.id).await, before);
    assert_eq!(
        w.verify_code(&sign_in(&token, "email", &code), None)
            .await
            .status,
        200,
        "the code still works"
    );
}

/// The user's events, newest first, as the store holds them.
async fn events(w: &World, user_id: &twofa::ids::UserId) -> Vec<twofa::audit::SecurityEvent> {
    use twofa::store::EventStore;
    w.store
        .user_events(user_id, None, None, 100)
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn a_sign_in_with_a_recovery_code_and_a_remembered_browser_records_each_with_its_amr() {
    let w = world();
    let user = w.two_factor_user().await;
    let codes = w.give_recovery_codes(&user).await;
    let token = w.start_sign_in(&user).await;
    let mut body = sign_in(&token, "recovery_code", &codes[0]);
    body["remember_browser"] = json!(true);
    assert_eq!(w.verify_code(&body, None).await.status, 200);

    let recorded = events(&w, &user.id).await;
    let types: Vec<&str> = recorded.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["browser_remembered", "recovery_code_used", "sign_in"],
        "all three, newest first"
    );
    assert_eq!(recorded[2].details["amr"], json!(["pwd", "rec"]));
    assert_eq!(recorded[1].details["recovery_codes_left"], 9);
    assert_eq!(recorded[2].user_agent.as_deref(), Some("twofa-tests"));
    let text = serde_json::to_string(&recorded).unwrap();
    assert!(
        !text.contains(&codes[0]) && !text.contains(&token),
        "no code or token in an event: {text}"
    );
}

#[tokio::test]
async fn a_wrong_code_is_recorded_and_the_one_that_locks_is_recorded_with_the_lock() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    send_sign_in_code(&w, &token, "email").await;
    for _ in 0..5 {
        w.verify_code(&sign_in(&token, "email", "000000"), None)
            .await;
    }
    let recorded = events(&w, &user.id).await;
    let types: Vec<&str> = recorded.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "locked_out",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed"
        ]
    );
    assert!(
        recorded[0].details["locked_until"]
            .as_i64()
            .is_some_and(|t| t > w.now()),
        "{:?}",
        recorded[0].details
    );
    assert_eq!(recorded[1].details["factor"], json!("email"));
    assert!(
        !serde_json::to_string(&recorded).unwrap().contains("000000"),
        "the wrong code is not kept"
    );
}

#[tokio::test]
async fn a_code_sent_for_one_sign_in_does_not_finish_another() {
    // SECURITY.md: a sent code works "only for the request that asked for them". Attack:
    // the victim signs in and is sent a code; an attacker who has the password and sees
    // that code (a lock-screen preview, an SMS interception) signs in afresh, which
    // replaces the victim's sign-in, and finishes the attacker's own with the victim's code.
    let w = world();
    let user = w.two_factor_user().await;
    let victims = w.start_sign_in(&user).await;
    let code = send_sign_in_code(&w, &victims, "sms").await;
    let attackers = w.start_sign_in(&user).await;

    let Reply {
        status,
        error: code_name,
        body,
        ..
    } = w
        .verify_code(&sign_in(&attackers, "sms", &code), None)
        .await;

    assert_eq!(
        (status, code_name.as_str()),
        (401, "invalid_code"),
        "the code was sent for another sign-in: {body}"
    );
}
