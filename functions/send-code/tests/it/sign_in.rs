//! send-code for the second factor of a sign-in: delivery, masking, availability,
//! throttling, delivery failures and bad input.

use crate::common;

use common::{Client, EMAIL, PHONE, RefusingSms, Reply, send_code_via, world, world_with};
use serde_json::json;
use twofa::codes::CodePurpose;
use twofa::policy::{Provider, TwoFactorSettings};
use twofa::store::{CodeStore, TenantStore, ThrottleStore};
use twofa::user::UserPatch;

#[tokio::test]
async fn an_emailed_code_goes_to_the_confirmed_address_and_the_answer_masks_it() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;

    let r = w
        .send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        )
        .await;

    let Reply { status, body, .. } = r;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"provider": "email", "destination_hint": "j***@example.com", "expires_in": 300, "resend_after": 30})
    );
    let sent = w.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].channel, sent[0].to.as_str()), ("email", EMAIL));
    let code = sent[0].code.clone().unwrap();
    assert!(
        code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
        "{code:?}"
    );
    assert!(sent[0].body.contains(&code));
    assert!(!r.text.contains(&code), "the answer gave the code away");
    let pending = w
        .store
        .code(&user.id, CodePurpose::SignInEmail)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !pending.hash.contains(&code),
        "the code is stored only as a keyed hash"
    );
    assert_eq!(pending.expires_at, w.now() + 300);
}

#[tokio::test]
async fn a_texted_code_goes_to_the_confirmed_number_masked_as_the_contract_shows() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;

    let r = w
        .send_code(&json!({"two_factor_token": token, "provider": "sms"}), None)
        .await;

    let Reply { status, body, .. } = r;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["provider"].as_str(), body["destination_hint"].as_str()),
        (Some("sms"), Some("+1*******0100"))
    );
    let sent = w.outbox();
    assert_eq!(
        (sent.len(), sent[0].channel, sent[0].to.as_str()),
        (1, "sms", PHONE)
    );
}

#[tokio::test]
async fn providers_not_confirmed_not_allowed_or_with_nothing_to_send_are_unavailable() {
    let w = world_with(&[("ALLOWED_COUNTRY_CODES", "44")]);
    let unconfirmed = w.plain_user("sam@example.com").await;
    let unconfirmed = w
        .patch(
            &unconfirmed,
            UserPatch {
                two_factor_enabled: Some(true),
                phone_number: Some(Some(twofa::testing::test_phone(PHONE))),
                ..Default::default()
            },
        )
        .await;
    let token = w.start_sign_in(&unconfirmed).await;
    for provider in ["email", "sms", "authenticator", "recovery_code"] {
        let Reply {
            status,
            error: code,
            body,
            ..
        } = w
            .send_code(
                &json!({"two_factor_token": token, "provider": provider}),
                None,
            )
            .await;
        assert_eq!(
            (status, code.as_str()),
            (400, "provider_unavailable"),
            "{provider}: {body}"
        );
    }

    // Confirmed, but SMS to +1 is not allowed by ALLOWED_COUNTRY_CODES.
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let Reply {
        status,
        error: code,
        ..
    } = w
        .send_code(&json!({"two_factor_token": token, "provider": "sms"}), None)
        .await;
    assert_eq!((status, code.as_str()), (400, "provider_unavailable"));
    assert!(w.outbox().is_empty());
}

#[tokio::test]
async fn a_provider_the_policy_does_not_allow_is_unavailable_even_when_confirmed() {
    let w = world();
    let settings = TwoFactorSettings {
        allowed_providers: vec![Provider::Authenticator, Provider::Email],
        ..Default::default()
    };
    w.store.set_host_settings(&settings).await.unwrap();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;

    let Reply {
        status,
        error: code,
        ..
    } = w
        .send_code(&json!({"two_factor_token": token, "provider": "sms"}), None)
        .await;
    assert_eq!((status, code.as_str()), (400, "provider_unavailable"));
    assert_eq!(
        w.send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None
        )
        .await
        .status,
        202
    );
}

#[tokio::test]
async fn only_a_live_two_factor_token_of_a_pending_sign_in_is_accepted() {
    let w = world();
    let user = w.two_factor_user().await;
    let access = w.access_token(&user, Some(w.now())).await;
    let old = w.start_sign_in(&user).await;
    let current = w.start_sign_in(&user).await;

    for (what, token) in [
        ("an access token", access.as_str()),
        ("a replaced sign-in", old.as_str()),
        ("garbage", "not-a-token"),
    ] {
        let Reply {
            status,
            error: code,
            ..
        } = w
            .send_code(
                &json!({"two_factor_token": token, "provider": "email"}),
                None,
            )
            .await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{what}");
    }
    w.clock.advance(300);
    let Reply {
        status,
        error: code,
        ..
    } = w
        .send_code(
            &json!({"two_factor_token": current, "provider": "email"}),
            None,
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (401, "unauthorized"),
        "an expired token"
    );
    assert!(w.outbox().is_empty());
}

#[tokio::test]
async fn a_resend_within_the_cooldown_is_refused_with_the_wait() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    assert_eq!(
        w.send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None
        )
        .await
        .status,
        202
    );
    w.clock.advance(10);

    let r = w
        .send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        )
        .await;

    let Reply {
        status,
        error: code,
        body,
        ..
    } = r;
    assert_eq!((status, code.as_str()), (429, "too_many_requests"));
    assert_eq!(body["retry_after_seconds"], 20);
    assert_eq!(r.headers["retry-after"], "20");
    // The cooldown is per purpose: a text may go at once.
    assert_eq!(
        w.send_code(&json!({"two_factor_token": token, "provider": "sms"}), None)
            .await
            .status,
        202
    );
    w.clock.advance(20);
    assert_eq!(
        w.send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None
        )
        .await
        .status,
        202
    );
    assert_eq!(w.outbox().len(), 3);
}

#[tokio::test]
async fn the_hourly_cap_per_user_refuses_the_send_after_the_last_allowed() {
    let w = world_with(&[("SEND_LIMIT_PER_USER_PER_HOUR", "3")]);
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    for provider in ["email", "sms", "email"] {
        assert_eq!(
            w.send_code(
                &json!({"two_factor_token": token, "provider": provider}),
                None
            )
            .await
            .status,
            202
        );
        w.clock.advance(31);
    }

    let r = w
        .send_code(&json!({"two_factor_token": token, "provider": "sms"}), None)
        .await;

    let Reply {
        status,
        error: code,
        body,
        ..
    } = r;
    assert_eq!((status, code.as_str()), (429, "too_many_requests"));
    assert_eq!(body["retry_after_seconds"], 3600 - 3 * 31);
    assert_eq!(w.outbox().len(), 3);
}

#[tokio::test]
async fn the_hourly_cap_per_destination_counts_sends_from_every_account() {
    let w = world_with(&[("SEND_LIMIT_PER_DESTINATION_PER_HOUR", "2")]);
    let a = w.two_factor_user().await;
    let b = w.plain_user("bob@example.com").await;
    let b = w
        .patch(
            &b,
            UserPatch {
                phone_number: Some(Some(twofa::testing::test_phone(PHONE))),
                phone_number_confirmed: Some(true),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    let token_a = w.start_sign_in(&a).await;
    let token_b = w.start_sign_in(&b).await;
    for _ in 0..2 {
        assert_eq!(
            w.send_code(
                &json!({"two_factor_token": token_a, "provider": "sms"}),
                None
            )
            .await
            .status,
            202
        );
        w.clock.advance(31);
    }

    let Reply {
        status,
        error: code,
        ..
    } = w
        .send_code(
            &json!({"two_factor_token": token_b, "provider": "sms"}),
            None,
        )
        .await;

    assert_eq!((status, code.as_str()), (429, "too_many_requests"));
    // Bob's email is another destination.
    w.patch(
        &b,
        UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        w.send_code(
            &json!({"two_factor_token": token_b, "provider": "email"}),
            None
        )
        .await
        .status,
        202
    );
}

#[tokio::test]
async fn a_refused_delivery_answers_502_and_leaves_no_pending_code() {
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

    let Reply {
        status,
        error: code,
        body,
        ..
    } = r;
    assert_eq!((status, code.as_str()), (502, "delivery_failed"), "{body}");
    assert_eq!(
        refusing.codes.lock().unwrap().len(),
        1,
        "the provider was asked once"
    );
    assert_eq!(
        w.store
            .code(&user.id, CodePurpose::SignInSms)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let w = world();
    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let before = w.user(&user.id).await;
    let cases = [
        (json!({}), "two_factor_token"),
        (json!({"provider": "email"}), "two_factor_token"),
        (json!({"two_factor_token": token}), "provider"),
        (
            json!({"two_factor_token": token, "provider": "pigeon"}),
            "provider",
        ),
        (
            json!({"two_factor_token": token, "provider": 1}),
            "provider",
        ),
        (
            json!({"two_factor_token": 5, "provider": "email"}),
            "two_factor_token",
        ),
        (
            json!({"two_factor_token": token, "provider": "email", "purpose": "confirm_email"}),
            "purpose",
        ),
        (json!({"purpose": "confirm_fax"}), "purpose"),
        (json!({"purpose": "confirm_phone"}), "phone_number"),
        (
            json!({"purpose": "confirm_phone", "phone_number": 15555550100u64}),
            "phone_number",
        ),
    ];
    for (body, field) in cases {
        let Reply {
            status,
            error: code,
            body: answer_body,
            ..
        } = w.send_code(&body.clone(), None).await;
        assert_eq!(
            (status, code.as_str(), answer_body["field"].as_str()),
            (400, "invalid_request", Some(field)),
            "{body}"
        );
    }
    let not_json = twofa::testing::json_request("POST", "/send-code", &json!("x"), None);
    let r = Reply::of(&send_code::handle(&w.core, &w.out, &w.out, not_json).await);
    assert_eq!(r.error, "invalid_request");

    assert!(w.outbox().is_empty());
    assert_eq!(
        w.store
            .send_window(&format!("user:{}", user.id))
            .await
            .unwrap(),
        None,
        "nothing was counted"
    );
    assert_eq!(w.user(&user.id).await, before);
}

#[tokio::test]
async fn accounts_anyone_can_register_cannot_spend_the_tenants_cap_on_sign_in_codes() {
    // Attack: register throwaway accounts (POST /register is public), sign in (2FA is
    // off for them, so an access token at once) and have each send confirm_email codes
    // to its own throwaway address. Every send counts against the side's hourly cap
    // (SEND_LIMIT_PER_TENANT_PER_HOUR, 1000 by default: 100 accounts at 10 an hour),
    // so for the rest of the hour no user of the tenant or host receives a sign-in
    // code, and users with email or SMS as their only factor cannot sign in.
    let w = world_with(&[("SEND_LIMIT_PER_TENANT_PER_HOUR", "10")]);
    let victim = w.two_factor_user().await;
    for i in 0..10 {
        let throwaway = w
            .plain_user(&format!("throwaway{i}@attacker.example"))
            .await;
        let r = w
            .send_code(
                &json!({"purpose": "confirm_email"}),
                Some(&w.access_token(&throwaway, None).await),
            )
            .await;
        assert_eq!(r.status, 202, "throwaway {i}: {}", r.body);
    }
    let token = w.start_sign_in(&victim).await;

    let Reply {
        status,
        error: code,
        body,
        ..
    } = w
        .send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        )
        .await;

    assert_eq!(
        status, 202,
        "the victim's sign-in code was refused ({code}): {body}"
    );
}
