//! Retried writes double nothing (issue 9.1): DynamoDB Local behind the fault proxy,
//! which lets a write through and then answers 500, so the SDK sends it again. A
//! right code must still sign in (the retry recognises its own success from the
//! attempt id the first try wrote), and a wrong one must count once.

use std::sync::Arc;
use std::time::Duration;
use twofa::amr::Amr;

use aws_config::retry::RetryConfig;
use e2e::fault_proxy::{Fault, FaultProxy, Rule};
use serde_json::{Value, json};
use twofa::app::Core;
use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::side::Side;
use twofa::store::dynamo::DynamoStore;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{Reply, json_request, seed_user};
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{Authenticator, User, UserPatch};

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
        Side::Host,
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
    let sid = twofa::ids::SignInId::from(uuid::Uuid::new_v4().to_string());
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
                amr: twofa::amr::rfc8176(&[Amr::Pwd]),
                sid: Some(sid.to_string()),
                ..twofa::flows::token_for(core, &user)
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

/// The success write (one `TransactWriteItems`) is applied and answered 500.
fn fail_the_success_write(proxy: &FaultProxy) {
    proxy.clear();
    proxy.add(
        Rule::new(Fault::ForwardThen500)
            .target("TransactWriteItems")
            .times(1),
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_right_recovery_code_whose_write_is_retried_still_signs_in() {
    let Some(s) = setup().await else { return };
    let (user, _, codes, token) = signing_in(&s.core).await;
    fail_the_success_write(&s.proxy);
    let (status, body) = verify(
        &s,
        json!({"two_factor_token": token, "provider": "recovery_code", "code": codes[0]}),
    )
    .await;
    assert_eq!(
        s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
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
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_right_authenticator_code_whose_write_is_retried_still_signs_in() {
    let Some(s) = setup().await else { return };
    let (user, key, _, token) = signing_in(&s.core).await;
    let code = twofa::totp::code_at(&key, s.core.now()).expect("a TOTP code");
    fail_the_success_write(&s.proxy);
    let (status, body) = verify(
        &s,
        json!({"two_factor_token": token, "provider": "authenticator", "code": code}),
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
            .failed_count,
        0
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
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
    fail_the_success_write(&s.proxy);
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
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_wrong_code_whose_slot_write_is_retried_counts_once() {
    let Some(s) = setup().await else { return };
    let (user, _, _, token) = signing_in(&s.core).await;
    s.proxy.clear();
    s.proxy.reset_counts();
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

async fn login(s: &Setup, email: &str, password: &str) -> (u16, Value) {
    let resp = login::handle(
        &s.core,
        &s.out,
        json_request(
            "POST",
            "/login",
            &json!({"email": email, "password": password}),
            None,
        ),
    )
    .await;
    let r = Reply::of(&resp);
    (r.status, r.body)
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_right_password_whose_give_back_is_retried_keeps_the_earlier_failures_counted() {
    let Some(s) = setup().await else { return };
    let (user, _, _, _) = signing_in(&s.core).await;
    let email = user.email.as_str().to_string();
    for _ in 0..2 {
        let (status, body) = login(&s, &email, "wrong horse battery staple").await;
        assert_eq!(status, 401, "{body}");
    }
    // The slot passes; the give-back that starts the second step is applied and answered 500.
    fail_the_success_write(&s.proxy);
    let (status, body) = login(&s, &email, PASSWORD).await;
    assert_eq!(
        s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("two_factor_required")),
        "{body}"
    );
    let after = s.core.store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        after.failed_count, 2,
        "the two wrong passwords stay counted: the give-back applied once"
    );
}

/// A user without a second factor, signed in: its access token.
async fn signed_in_user(core: &Core, roles: &[twofa::user::Role]) -> (User, String) {
    let user = seed_user(
        core,
        Side::Host,
        &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
        roles,
    )
    .await;
    let token = twofa::flows::issue_access(core, &user, &[Amr::Pwd], None, &Default::default())
        .await
        .expect("a token")
        .access_token;
    (user, token)
}

async fn manage(s: &Setup, method: &str, path: &str, body: Value, token: &str) -> Reply {
    let resp = manage_settings::handle(
        &s.core,
        &s.out,
        json_request(method, path, &body, Some(token)),
    )
    .await;
    Reply::of(&resp)
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_settings_change_whose_write_is_retried_is_answered_as_applied_and_recorded() {
    let Some(s) = setup().await else { return };
    let (admin, token) = signed_in_user(&s.core, &[twofa::user::Role::HostAdmin]).await;
    s.core
        .store
        .set_host_settings(&twofa::policy::TwoFactorSettings::default())
        .await
        .expect("the host's settings");
    s.proxy.clear();
    s.proxy.reset_counts();
    s.proxy.add(
        Rule::new(Fault::ForwardThen500)
            .target("TransactWriteItems")
            .times(1),
    );
    let put = manage(
        &s,
        "PUT",
        "/settings/two-factor",
        json!({"remember_browser": false}),
        &token,
    )
    .await;
    assert_eq!(
        s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
    assert_eq!(
        (put.status, put.body["remember_browser"].as_bool()),
        (200, Some(false)),
        "{}",
        put.body
    );
    let events = s
        .core
        .store
        .user_events(
            &admin.id,
            Some(twofa::audit::EventType::SettingsChanged),
            None,
            10,
        )
        .await
        .expect("the admin's events");
    assert_eq!(events.items.len(), 1, "the change is recorded once");
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_new_authenticator_whose_write_is_retried_is_the_key_the_client_receives() {
    let Some(s) = setup().await else { return };
    let (user, token) = signed_in_user(&s.core, &[]).await;
    s.proxy.clear();
    s.proxy.reset_counts();
    s.proxy.add(
        Rule::new(Fault::ForwardThen500)
            .target("UpdateItem")
            .times(1),
    );
    let created = manage(&s, "POST", "/account/authenticator", Value::Null, &token).await;
    assert_eq!(s.proxy.count_faults("UpdateItem"), 1, "the fault happened");
    assert_eq!(created.status, 200, "{}", created.body);
    let stored = s
        .core
        .store
        .user(&user.id)
        .await
        .unwrap()
        .unwrap()
        .authenticator
        .expect("a pending authenticator");
    let key = s
        .core
        .seal_key
        .open(&stored.sealed_key, &user.id)
        .expect("the stored key opens");
    assert_eq!(
        created.body["shared_key"].as_str(),
        Some(twofa::totp::base32(key.expose()).trim_end_matches('=')),
        "the pending key is the one the client was shown"
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_forgotten_browser_whose_delete_is_retried_is_answered_204() {
    let Some(s) = setup().await else { return };
    let (user, token) = signed_in_user(&s.core, &[]).await;
    let now = s.core.now();
    s.core
        .store
        .put_device(&twofa::devices::Device {
            user_id: user.id.clone(),
            device_id: "d1".into(),
            token_hash: "h".into(),
            security_stamp: user.security_stamp.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + 86_400,
            user_agent: None,
        })
        .await
        .unwrap();
    s.proxy.clear();
    // Whichever write forgets it is applied and answered 500.
    for operation in ["DeleteItem", "TransactWriteItems"] {
        s.proxy
            .add(Rule::new(Fault::ForwardThen500).target(operation).times(1));
    }
    let forgot = manage(&s, "DELETE", "/account/devices/d1", Value::Null, &token).await;
    assert_eq!(
        s.proxy.count_faults("DeleteItem") + s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
    assert_eq!(forgot.status, 204, "{}", forgot.body);
    assert_eq!(
        s.core.store.device(&user.id, &"d1".into()).await.unwrap(),
        None
    );
}

/// A session of a fresh user (stored, with the stamp the session names), lasting a
/// day from now.
async fn stored_session(core: &Core) -> twofa::sessions::Session {
    let now = core.now();
    let mut user = twofa::user::User::new(
        twofa::side::Side::Host,
        twofa::testing::test_email(&format!("{}@example.com", uuid::Uuid::new_v4().simple())),
        "$argon2id$unused".into(),
        now,
    );
    user.security_stamp = "stamp".into();
    core.store.create_user(&user).await.expect("a user");
    let session = twofa::sessions::Session {
        user_id: user.id.clone(),
        session_id: twofa::ids::SessionId::random().expect("randomness"),
        generation: 0,
        refresh_hash: "h0".into(),
        security_stamp: "stamp".into(),
        amr: vec![Amr::Pwd],
        auth_time: now,
        mfa_at: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + 86_400,
        ip: None,
        user_agent: None,
        rotation_id: String::new(),
    };
    core.store.put_session(&session).await.unwrap();
    session
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_rotation_whose_write_is_retried_is_answered_as_its_own_and_applied_once() {
    let Some(s) = setup().await else { return };
    let session = stored_session(&s.core).await;
    let rotation = twofa::store::Rotation {
        from_generation: 0,
        refresh_hash: "h1".into(),
        rotation_id: uuid::Uuid::new_v4().to_string(),
        now: s.core.now(),
        user_stamp: "stamp".into(),
    };
    s.proxy.clear();
    s.proxy.reset_counts();
    s.proxy.add(
        Rule::new(Fault::ForwardThen500)
            .target("TransactWriteItems")
            .times(1),
    );
    let rotated = s
        .core
        .store
        .rotate_session(&session.user_id, &session.session_id, &rotation)
        .await
        .unwrap();
    assert_eq!(
        s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
    assert_eq!(
        s.proxy.count("TransactWriteItems"),
        2,
        "the SDK sent it again"
    );
    // Answered false, the refresh that rotated the token would refuse the client its
    // new token, and the client's next refresh (with the old one) would look like reuse.
    assert!(rotated, "the retry knew the rotation as its own");
    let stored = s
        .core
        .store
        .session(&session.user_id, &session.session_id)
        .await
        .unwrap()
        .expect("the session");
    assert_eq!((stored.generation, stored.refresh_hash.as_str()), (1, "h1"));
    // Another rotation from the same generation is still refused.
    let other = twofa::store::Rotation {
        rotation_id: uuid::Uuid::new_v4().to_string(),
        ..rotation
    };
    assert!(
        !s.core
            .store
            .rotate_session(&session.user_id, &session.session_id, &other)
            .await
            .unwrap()
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_ended_session_whose_delete_is_retried_is_answered_as_ended() {
    let Some(s) = setup().await else { return };
    let session = stored_session(&s.core).await;
    s.proxy.clear();
    s.proxy.add(
        Rule::new(Fault::ForwardThen500)
            .target("TransactWriteItems")
            .times(1),
    );
    let ended = s
        .core
        .store
        .end_session(&session.user_id, &session.session_id, s.core.now())
        .await
        .unwrap();
    assert_eq!(
        s.proxy.count_faults("TransactWriteItems"),
        1,
        "the fault happened"
    );
    assert!(ended, "the retry was answered as the first try's success");
    assert_eq!(
        s.core
            .store
            .session(&session.user_id, &session.session_id)
            .await
            .unwrap(),
        None
    );
}
