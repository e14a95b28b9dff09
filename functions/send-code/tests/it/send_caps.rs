//! What bounds the cost of codes when an attacker registers throwaway accounts or
//! pumps numbers: confirmations and sign-in codes draw on separate tenant budgets,
//! one source address has its own hourly cap, and a side that does not allow SMS
//! texts nobody.

use crate::common;

use common::{Client, EMAIL, World, answer};
use serde_json::json;
use twofa::api::ClientInfo;
use twofa::policy::{Provider, TwoFactorSettings};
use twofa::store::TenantStore;
use twofa::testing::json_request;

async fn send_from(w: &World, ip: &str, body: serde_json::Value, bearer: &str) -> (u16, String) {
    let mut req = json_request("POST", "/send-code", &body, Some(bearer));
    req.extensions_mut()
        .insert(ClientInfo::new(Some(ip), Some("twofa-tests")));
    let (status, code, _) = answer(&send_code::handle(&w.core, &w.out, &w.out, req).await);
    (status, code)
}

#[tokio::test]
async fn confirmations_from_throwaway_accounts_do_not_starve_sign_in_codes() {
    let w = World::with(&[
        ("SEND_LIMIT_PER_TENANT_PER_HOUR", "2"),
        ("SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR", "2"),
    ]);
    let mut answers = Vec::new();
    for i in 0..3 {
        let throwaway = w.plain_user(&format!("throwaway{i}@example.net")).await;
        let access = w.access_token(&throwaway, None);
        answers.push(
            answer(
                &w.send(json!({"purpose": "confirm_email"}), Some(&access))
                    .await,
            )
            .0,
        );
    }
    assert_eq!(
        answers,
        [202, 202, 429],
        "the confirmation budget is capped"
    );

    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let (status, _, body) = answer(
        &w.send(
            json!({"two_factor_token": token, "provider": "email"}),
            None,
        )
        .await,
    );
    assert_eq!(status, 202, "a sign-in code still goes out: {body}");
}

#[tokio::test]
async fn one_source_address_is_capped_across_accounts_and_another_address_is_not() {
    let w = World::with(&[("SEND_LIMIT_PER_IP_PER_HOUR", "2")]);
    let mut answers = Vec::new();
    for i in 0..3 {
        let user = w.plain_user(&format!("user{i}@example.net")).await;
        let access = w.access_token(&user, None);
        answers.push(
            send_from(
                &w,
                "203.0.113.9",
                json!({"purpose": "confirm_email"}),
                &access,
            )
            .await,
        );
    }
    assert_eq!(
        answers[2],
        (429, "too_many_requests".to_string()),
        "{answers:?}"
    );
    assert!(answers[..2].iter().all(|(s, _)| *s == 202), "{answers:?}");

    let other = w.plain_user("other@example.net").await;
    let access = w.access_token(&other, None);
    assert_eq!(
        send_from(
            &w,
            "198.51.100.4",
            json!({"purpose": "confirm_email"}),
            &access
        )
        .await
        .0,
        202
    );
}

#[tokio::test]
async fn a_refused_send_gives_back_what_the_other_limits_counted() {
    // The destination is capped at one; an attacker hammering it must not use up the tenant's budget.
    let w = World::with(&[
        ("SEND_LIMIT_PER_DESTINATION_PER_HOUR", "1"),
        ("SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR", "3"),
        ("RESEND_COOLDOWN_SECONDS", "0"),
    ]);
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None);
    let body = json!({"purpose": "confirm_phone", "phone_number": "+12015550123"});
    let answers: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(answer(&w.send(body.clone(), Some(&access)).await).0);
        }
        v
    };
    assert_eq!(answers, [202, 429, 429, 429, 429]);
    for i in 0..2 {
        let u = w.plain_user(&format!("u{i}@example.net")).await;
        let t = w.access_token(&u, None);
        assert_eq!(
            answer(&w.send(json!({"purpose": "confirm_email"}), Some(&t)).await).0,
            202,
            "the tenant budget was not spent by refusals"
        );
    }
}

#[tokio::test]
async fn confirm_phone_sends_nothing_where_the_side_does_not_allow_sms() {
    let w = World::new();
    let no_sms = TwoFactorSettings {
        allowed_providers: vec![Provider::Authenticator, Provider::Email],
        ..Default::default()
    };
    w.store.set_host_settings(&no_sms).await.unwrap();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None);

    let (status, code, body) = answer(
        &w.send(
            json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&access),
        )
        .await,
    );

    assert_eq!(
        (status, code.as_str(), body["provider"].as_str()),
        (400, "provider_unavailable", Some("sms")),
        "{body}"
    );
    assert!(w.outbox().is_empty(), "no text was sent");
}
