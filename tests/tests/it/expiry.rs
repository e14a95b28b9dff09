//! Expiry is decided from the item, never by DynamoDB's TTL sweep, which deletes an
//! expired item at any time from its TTL to days later. Run against DynamoDB Local
//! with a clock in 2100 (so DynamoDB Local's own sweep leaves the items alone) and
//! the sweep played by the test: delete every item whose TTL attribute has passed.
//! The memory store has no sweep to show this.

use std::sync::Arc;
use twofa::amr::Amr;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::Backend;
use serde_json::json;
use twofa::clock::{Clock, ManualClock};
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::side::Side;
use twofa::store::dynamo::DynamoStore;
use twofa::testing::Reply;
use twofa::testing::emulator_sdk_config;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::json_request;
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{User, UserPatch};

/// Deletes what DynamoDB's TTL would: every item whose `expires_at` is at or before `now`.
async fn sweep(client: &aws_sdk_dynamodb::Client, table: &str, now: i64) -> usize {
    let items = client
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scanning the table")
        .items
        .unwrap_or_default();
    let mut deleted = 0;
    for item in items {
        let due = matches!(item.get("expires_at"), Some(AttributeValue::N(t)) if t.parse::<i64>().is_ok_and(|t| t <= now));
        if due {
            let key = item
                .iter()
                .filter(|(k, _)| *k == "pk" || *k == "sk")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            client
                .delete_item()
                .table_name(table)
                .set_key(Some(key))
                .send()
                .await
                .expect("deleting as TTL would");
            deleted += 1;
        }
    }
    deleted
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_expired_code_answers_410_before_and_after_the_sweep_and_counts_no_failure() {
    let Some(Backend::Dynamo(endpoint)) = Backend::dynamo() else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&emulator_sdk_config(&endpoint));
    let table = format!("twofa-expiry-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(client.clone(), table.clone());
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    let env: std::collections::HashMap<String, String> =
        [("CODE_TTL_SECONDS".to_string(), "60".to_string())].into();
    let config = Config::read(&env).expect("valid settings");
    let clock = Arc::new(ManualClock::new(4_102_444_800));
    let core = twofa::testing::core_over(Arc::new(store), clock.clone(), config);
    let out = LogSender::new(clock.clone());

    let user = User::new(
        Side::Host,
        twofa::testing::test_email("jane@example.org"),
        "$argon2id$unused".into(),
        core.now(),
    );
    core.store.create_user(&user).await.unwrap();
    let sid = twofa::ids::SignInId::from(uuid::Uuid::new_v4().to_string());
    let patch = UserPatch {
        email_confirmed: Some(true),
        two_factor_enabled: Some(true),
        pending_sign_in: Some(Some(sid.clone())),
        ..Default::default()
    };
    core.store.update_user(&user.id, &patch).await.unwrap();
    let claims = NewToken {
        amr: vec![Amr::Pwd],
        sid: Some(sid),
        ..twofa::flows::token_for(&core, &user)
    };
    let token = core
        .tokens
        .issue(TokenKind::TwoFactor, claims, core.now())
        .unwrap();

    let sent = send_code::handle(
        &core,
        &out,
        &out,
        json_request(
            "POST",
            "/send-code",
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        ),
    )
    .await;
    assert_eq!(sent.status(), 202, "{}", sent.body());
    let code = out
        .outbox()
        .iter()
        .rev()
        .find_map(|m| m.code.clone())
        .expect("a code was sent");
    let verify = json!({"two_factor_token": token, "provider": "email", "code": code});

    clock.advance(61);
    let before = Reply::of(
        &verify_code::handle(
            &core,
            &out,
            json_request("POST", "/verify-code", &verify, None),
        )
        .await,
    );
    assert_eq!(
        (before.status, before.error.as_str()),
        (410, "code_expired"),
        "before the sweep"
    );
    sweep(&client, &table, clock.now()).await;
    let after = Reply::of(
        &verify_code::handle(
            &core,
            &out,
            json_request("POST", "/verify-code", &verify, None),
        )
        .await,
    );
    assert_eq!(
        (after.status, after.error.as_str()),
        (410, "code_expired"),
        "after the sweep"
    );
    let stored = core.store.user(&user.id).await.unwrap().expect("the user");
    assert_eq!(stored.failed_count, 0, "an expired code counts no failure");

    // A day later TTL may take the code; only then is it as unknown as any wrong code.
    clock.advance(86_400);
    assert!(
        sweep(&client, &table, clock.now()).await >= 1,
        "the code goes once its grace period has passed"
    );
}

/// The status of a login with a wrong password for `email`.
async fn wrong_login(core: &twofa::app::Core, out: &LogSender, email: &str) -> u16 {
    let body = json!({"email": email, "password": "wrong horse battery"});
    login::handle(core, out, json_request("POST", "/login", &body, None))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_unknown_emails_failures_still_count_after_the_sweep_as_an_accounts_do() {
    let Some(Backend::Dynamo(endpoint)) = Backend::dynamo() else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&emulator_sdk_config(&endpoint));
    let table = format!("twofa-expiry-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(client.clone(), table.clone());
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    let clock = Arc::new(ManualClock::new(4_102_444_800));
    let core = twofa::testing::core_over(Arc::new(store), clock.clone(), Config::default());
    let out = LogSender::new(clock.clone());
    twofa::testing::seed_user(&core, Side::Host, "jane@example.org", PASSWORD, &[]).await;
    // Four of the five failures, for an account nobody signs in to and for an email
    // without one: the same answers.
    for email in ["jane@example.org", "nobody@example.org"] {
        for _ in 0..4 {
            assert_eq!(wrong_login(&core, &out, email).await, 401, "{email}");
        }
    }
    // More than a year later, the sweep has passed over everything whose TTL is due.
    clock.advance(400 * 86_400);
    sweep(&client, &table, clock.now()).await;
    // The account's count stayed, so its fifth failure locks it. An email without one
    // must lock too: were its count swept away, a 401 here would tell the prober that
    // the email has no account (and a 423 that it has one nobody signed in to).
    assert_eq!(wrong_login(&core, &out, "jane@example.org").await, 423);
    assert_eq!(
        wrong_login(&core, &out, "nobody@example.org").await,
        423,
        "the unknown email's fifth failure, after the sweep"
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_right_but_expired_reset_code_answers_410_every_time_whatever_the_sweep_and_counts_no_failure()
 {
    let Some(Backend::Dynamo(endpoint)) = Backend::dynamo() else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&emulator_sdk_config(&endpoint));
    let table = format!("twofa-expiry-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(client.clone(), table.clone());
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    let env: std::collections::HashMap<String, String> = [
        ("CODE_TTL_SECONDS".to_string(), "60".to_string()),
        ("PASSWORD_RESET_ANSWER_MS".to_string(), "0".to_string()),
    ]
    .into();
    let config = Config::read(&env).expect("valid settings");
    let clock = Arc::new(ManualClock::new(4_102_444_800));
    let core = twofa::testing::core_over(Arc::new(store), clock.clone(), config);
    let out = LogSender::new(clock.clone());
    let user =
        twofa::testing::seed_user(&core, Side::Host, "jane@example.org", PASSWORD, &[]).await;
    core.store
        .update_user(
            &user.id,
            &UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let forgot = send_code::handle(
        &core,
        &out,
        &out,
        json_request(
            "POST",
            "/password/forgot",
            &json!({"email": "jane@example.org"}),
            None,
        ),
    )
    .await;
    assert_eq!(forgot.status(), 202, "{}", forgot.body());
    let code = out
        .outbox()
        .iter()
        .rev()
        .find_map(|m| m.code.clone())
        .expect("a reset code was sent");
    let reset = json!({"email": "jane@example.org", "code": code, "new_password": "a brand new passphrase"});
    let try_reset = || async {
        Reply::of(
            &verify_code::handle(
                &core,
                &out,
                json_request("POST", "/password/reset", &reset, None),
            )
            .await,
        )
    };

    clock.advance(61);
    for when in ["first", "again"] {
        let a = try_reset().await;
        assert_eq!(
            (a.status, a.error.as_str()),
            (410, "code_expired"),
            "{when}"
        );
    }
    // Days later, whatever TTL did meanwhile.
    clock.advance(3 * 86_400);
    sweep(&client, &table, clock.now()).await;
    let a = try_reset().await;
    assert_eq!(
        (a.status, a.error.as_str()),
        (410, "code_expired"),
        "after the sweep"
    );
    let stored = core.store.user(&user.id).await.unwrap().expect("the user");
    assert_eq!(
        stored.failed_count, 0,
        "an expired code counts no failure, ever"
    );
}
