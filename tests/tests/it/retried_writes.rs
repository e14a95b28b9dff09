//! Retried writes double nothing (issue 9.1): DynamoDB Local behind the fault proxy,
//! which lets a write through and then answers 500, so the SDK sends it again. A
//! right code must still sign in (the retry recognises its own success from the
//! attempt id the first try wrote), and a wrong one must count once.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use e2e::fault_proxy::{Fault, FaultProxy, Rule};
use serde_json::{Value, json};
use twofa::app::Core;
use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::store::dynamo::DynamoStore;
use twofa::tenant::Scope;
use twofa::testing::{Reply, json_request, seed_user};
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{Authenticator, User, UserPatch};

const PASSWORD: &str = "correct horse battery staple";

struct Setup {
    proxy: FaultProxy,
    core: Core,
    out: LogSender,
}

async fn setup() -> Option<Setup> {
    let upstream = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let proxy = FaultProxy::start(&upstream).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&twofa::testing::emulator_sdk_config(
        proxy.endpoint(),
    ))
    .retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(10)),
    )
    .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        format!("twofa-retries-{}", uuid::Uuid::new_v4().simple()),
    );
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    let core = twofa::testing::core_over(Arc::new(store), Arc::new(SystemClock), Config::default());
    Some(Setup {
        proxy,
        core,
        out: LogSender::default(),
    })
}

/// A user with 2FA on, an authenticator (key returned), recovery codes, and a
/// pending sign-in whose two-factor token is returned.
async fn signing_in(core: &Core) -> (User, Vec<u8>, Vec<String>, String) {
    let user = seed_user(
        core,
        Scope::Host,
        &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
        &[],
    )
    .await;
    let key = twofa::totp::new_key().expect("randomness").expose().clone();
    let sealed_key = core.seal_key.seal(&key, &user.id).expect("sealing");
    let codes: Vec<String> = twofa::codes::new_recovery_codes()
        .expect("randomness")
        .iter()
        .map(|c| c.expose().clone())
        .collect();
    let hashes = codes
        .iter()
        .map(|c| twofa::codes::recovery_code_hash(&core.hash_key, &user.id, c))
        .collect();
    let sid = uuid::Uuid::new_v4().to_string();
    let patch = UserPatch {
        email_confirmed: Some(true),
        two_factor_enabled: Some(true),
        authenticator: Some(Some(Authenticator {
            sealed_key,
            enabled: true,
        })),
        recovery_codes: Some(hashes),
        pending_sign_in: Some(Some(sid.clone())),
        ..Default::default()
    };
    core.store
        .update_user(&user.id, &patch)
        .await
        .expect("the user exists");
    let token = core
        .tokens
        .issue(
            TokenKind::TwoFactor,
            NewToken {
                user_id: user.id.clone(),
                scope: user.scope.key(),
                amr: vec!["pwd".into()],
                sid: Some(sid),
                ..Default::default()
            },
            core.now(),
        )
        .expect("a token");
    (user, key, codes, token)
}

async fn verify(s: &Setup, body: Value) -> (u16, Value) {
    let resp = verify_code::handle(
        &s.core,
        &s.out,
        json_request("POST", "/verify-code", &body, None),
    )
    .await;
    let r = Reply::of(&resp);
    (r.status, r.body)
}

/// The second write of the kind `operation` (the first is the attempt's slot) is applied and answered 500.
fn fail_the_success_write(proxy: &FaultProxy, operation: &str) {
    proxy.clear();
    if operation == "UpdateItem" {
        proxy.add(Rule::new(Fault::Pass).target("UpdateItem").times(1));
    }
    proxy.add(Rule::new(Fault::ForwardThen500).target(operation).times(1));
}

#[tokio::test]
async fn a_right_recovery_code_whose_write_is_retried_still_signs_in() {
    let Some(s) = setup().await else { return };
    let (user, _, codes, token) = signing_in(&s.core).await;
    fail_the_success_write(&s.proxy, "UpdateItem");
    let (status, body) = verify(
        &s,
        json!({"two_factor_token": token, "provider": "recovery_code", "code": codes[0]}),
    )
    .await;
    assert_eq!(s.proxy.count_faults("UpdateItem"), 1, "the fault happened");
    assert_eq!(status, 200, "{body}");
    let after = s.core.store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.recovery_codes.len(),
            after.failed_count,
            after.pending_sign_in
        ),
        (9, 0, None)
    );
}

#[tokio::test]
async fn a_right_authenticator_code_whose_write_is_retried_still_signs_in() {
    let Some(s) = setup().await else { return };
    let (user, key, _, token) = signing_in(&s.core).await;
    let code = twofa::totp::code_at(&key, s.core.now()).expect("a TOTP code");
    fail_the_success_write(&s.proxy, "UpdateItem");
    let (status, body) = verify(
        &s,
        json!({"two_factor_token": token, "provider": "authenticator", "code": code}),
    )
    .await;
    assert_eq!(s.proxy.count_faults("UpdateItem"), 1, "the fault happened");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.core
            .store
            .user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .failed_count,
        0
    );
}

#[tokio::test]
async fn a_right_emailed_code_whose_transaction_is_retried_still_signs_in() {
    let Some(s) = setup().await else { return };
    let (user, _, _, token) = signing_in(&s.core).await;
    let sent = send_code::handle(
        &s.core,
        &s.out,
        &s.out,
        json_request(
            "POST",
            "/send-code",
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        ),
    )
    .await;
    assert_eq!(sent.status(), 202);
    let code = s
        .out
        .outbox()
        .iter()
        .rev()
        .find_map(|m| m.code.clone())
        .expect("a code was sent");
    fail_the_success_write(&s.proxy, "TransactWriteItems");
    let (status, body) = verify(
        &s,
        json!({"two_factor_token": token, "provider": "email", "code": code}),
    )
    .await;
    assert_eq!(
        s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.core
            .store
            .user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .pending_sign_in,
        None
    );
}

#[tokio::test]
async fn a_wrong_code_whose_slot_write_is_retried_counts_once() {
    let Some(s) = setup().await else { return };
    let (user, _, _, token) = signing_in(&s.core).await;
    s.proxy.clear();
    s.proxy.add(
        Rule::new(Fault::ForwardThen500)
            .target("UpdateItem")
            .times(1),
    );
    let (status, body) = verify(&s, json!({"two_factor_token": token, "provider": "recovery_code", "code": "AAAAAA-AAAAAA-AAAAAA-AAAAAA"})).await;
    assert_eq!(s.proxy.count_faults("UpdateItem"), 1, "the fault happened");
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["attempts_remaining"].as_i64()
        ),
        (401, Some("invalid_code"), Some(4)),
        "{body}"
    );
    assert_eq!(
        s.core
            .store
            .user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .failed_count,
        1
    );
}
