//! Retries and sweeps at their edges: a write the SDK retries after its answer was
//! lost, with another attempt of the same user landing between the try and its
//! retry, must still be recognised as the write that already applied (a slot by
//! the ids of the slots held, a success, a give-back or an unlock by its client
//! request token). The SDK's retry sends the very same request, so sending the same
//! store call again is that retry.

use std::sync::Arc;
use twofa::amr::Amr;
use twofa::ids::AttemptId;

use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::side::Side;
use twofa::store::dynamo::DynamoStore;
use twofa::store::{Slot, Spend, Subject, Succeeded, Success};
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::seed_user;
use twofa::user::UserPatch;

async fn core() -> Option<twofa::app::Core> {
    let endpoint = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&twofa::testing::emulator_sdk_config(&endpoint)),
        format!("twofa-redteam-{}", uuid::Uuid::new_v4().simple()),
    );
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    Some(twofa::testing::core_over(
        Arc::new(store),
        Arc::new(SystemClock),
        Config::default(),
    ))
}

fn count(slot: &Slot) -> u32 {
    match slot {
        Slot::Taken { count, .. } => *count,
        other => panic!("no slot: {other:?}"),
    }
}

#[tokio::test]
async fn a_retried_slot_write_counts_once_even_when_another_attempt_landed_in_between() {
    let Some(core) = core().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let user = seed_user(&core, Side::Host, "slot-retry@example.com", PASSWORD, &[]).await;
    let (store, now) = (core.store.as_ref(), core.now());
    // Attempt A's slot applies; its answer is lost.
    assert_eq!(
        count(
            &store
                .take_slot(
                    Subject::User(&user.id),
                    &AttemptId::from("attempt-a"),
                    None,
                    5,
                    now
                )
                .await
                .unwrap()
        ),
        1
    );
    // Attempt B (another guess, another browser) takes its slot meanwhile.
    assert_eq!(
        count(
            &store
                .take_slot(
                    Subject::User(&user.id),
                    &AttemptId::from("attempt-b"),
                    None,
                    5,
                    now
                )
                .await
                .unwrap()
        ),
        2
    );
    // The SDK sends A's write again.
    let retried = store
        .take_slot(
            Subject::User(&user.id),
            &AttemptId::from("attempt-a"),
            None,
            5,
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        count(&retried),
        2,
        "two attempts counted three times: the retry of A was applied again"
    );
}

#[tokio::test]
async fn a_retried_success_write_is_its_own_even_when_another_success_landed_in_between() {
    let Some(core) = core().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let user = seed_user(
        &core,
        Side::Host,
        "success-retry@example.com",
        PASSWORD,
        &[],
    )
    .await;
    let (store, now) = (core.store.as_ref(), core.now());
    let (a, b) = (AttemptId::from("attempt-a"), AttemptId::from("attempt-b"));
    store
        .take_slot(Subject::User(&user.id), &a, None, 5, now)
        .await
        .unwrap();
    store
        .take_slot(Subject::User(&user.id), &b, None, 5, now)
        .await
        .unwrap();
    let patch = UserPatch::default();
    let success = |attempt, spend| Success {
        attempt,
        sid: None,
        spend,
        patch: &patch,
        release_only: false,
        authenticator: None,
    };
    let step = now / 30;
    // A's right authenticator code: the write applies, its answer is lost.
    assert_eq!(
        store
            .succeed(&user.id, &success(&a, Spend::TotpStep(step)), now)
            .await
            .unwrap(),
        Succeeded::Done
    );
    // B (the right password in another browser) succeeds meanwhile.
    assert_eq!(
        store
            .succeed(&user.id, &success(&b, Spend::Nothing), now)
            .await
            .unwrap(),
        Succeeded::Done
    );
    // The SDK sends A's write again: it applied, so it must answer Done; Spent makes
    // verify-code answer 401 invalid_code (and record a failure) for a right code.
    assert_eq!(
        store
            .succeed(&user.id, &success(&a, Spend::TotpStep(step)), now)
            .await
            .unwrap(),
        Succeeded::Done,
        "a success that applied was answered as a spent code"
    );
}

#[tokio::test]
async fn a_retried_give_back_gives_back_once_even_when_another_success_landed_in_between() {
    let Some(core) = core().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let user = seed_user(
        &core,
        Side::Host,
        "giveback-retry@example.com",
        PASSWORD,
        &[],
    )
    .await;
    let (store, now) = (core.store.as_ref(), core.now());
    let (a, b) = (AttemptId::from("attempt-a"), AttemptId::from("attempt-b"));
    let patch = UserPatch::default();
    let give_back = |attempt| Success {
        attempt,
        sid: None,
        spend: Spend::Nothing,
        patch: &patch,
        release_only: true,
        authenticator: None,
    };
    // Two wrong guesses stay counted.
    for id in ["wrong-1", "wrong-2"] {
        store
            .take_slot(Subject::User(&user.id), &id.into(), None, 5, now)
            .await
            .unwrap();
    }
    // A (a right password before a second factor) and B (an expired code) each take a slot.
    store
        .take_slot(Subject::User(&user.id), &a, None, 5, now)
        .await
        .unwrap();
    store
        .take_slot(Subject::User(&user.id), &b, None, 5, now)
        .await
        .unwrap();
    // A gives its slot back (answer lost), B gives its own back, A's write is sent again.
    assert_eq!(
        store.succeed(&user.id, &give_back(&a), now).await.unwrap(),
        Succeeded::Done
    );
    assert_eq!(
        store.succeed(&user.id, &give_back(&b), now).await.unwrap(),
        Succeeded::Done
    );
    assert_eq!(
        store.succeed(&user.id, &give_back(&a), now).await.unwrap(),
        Succeeded::Done
    );
    let after = store.user(&user.id).await.unwrap().expect("the user");
    assert_eq!(
        after.failed_count, 2,
        "the two wrong guesses must stay counted; the retried give-back erased one"
    );
}

/// A host user with 2FA on and an authenticator (its key returned), a pending
/// sign-in and its two-factor token, over a store behind the fault proxy.
async fn signing_in_behind_a_proxy() -> Option<(
    e2e::fault_proxy::FaultProxy,
    twofa::app::Core,
    twofa::user::User,
    Vec<u8>,
    String,
)> {
    use twofa::tokens::{NewToken, TokenKind};
    let upstream = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let proxy = e2e::fault_proxy::FaultProxy::start(&upstream).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&twofa::testing::emulator_sdk_config(
        proxy.endpoint(),
    ))
    .retry_config(
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(std::time::Duration::from_millis(10)),
    )
    .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        format!("twofa-redteam-{}", uuid::Uuid::new_v4().simple()),
    );
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    let core = twofa::testing::core_over(Arc::new(store), Arc::new(SystemClock), Config::default());
    let user = seed_user(
        &core,
        Side::Host,
        &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
        &[],
    )
    .await;
    let key = twofa::totp::new_key().expect("randomness").expose().clone();
    let sealed_key = core.seal_key.seal(&key, &user.id).expect("sealing");
    let sid = twofa::ids::SignInId::from(uuid::Uuid::new_v4().to_string());
    let patch = UserPatch {
        email_confirmed: Some(true),
        two_factor_enabled: Some(true),
        authenticator: Some(Some(twofa::user::Authenticator {
            sealed_key,
            enabled: true,
        })),
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
                ..twofa::flows::token_for(&core, &user)
            },
            core.now(),
        )
        .expect("a token");
    Some((proxy, core, user, key, token))
}

/// The right authenticator code with `remember_browser: true`: the success write
/// spends the code and ends the pending sign-in, then the browser's `PutItem` fails
/// (a store blip that outlasts the SDK's tries). The answer was 503 "try again", and
/// the retry 401 `unauthorized`: the sign-in the right code earned is lost.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_right_code_whose_remembered_browser_cannot_be_written_still_signs_in() {
    use e2e::fault_proxy::{Fault, Rule};
    use serde_json::json;
    let Some((proxy, core, user, key, token)) = signing_in_behind_a_proxy().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let out = twofa::senders::log::LogSender::default();
    let code = twofa::totp::code_at(&key, core.now()).expect("a TOTP code");
    let body = json!({"two_factor_token": token, "provider": "authenticator", "code": code, "remember_browser": true});
    proxy.clear();
    proxy.add(Rule::new(Fault::Error500).target("PutItem"));
    let first = twofa::testing::Reply::of(
        &verify_code::handle(
            &core,
            &out,
            twofa::testing::json_request("POST", "/verify-code", &body, None),
        )
        .await,
    );
    assert!(proxy.count_faults("PutItem") > 0, "the fault happened");
    proxy.clear();
    if first.status == 200 {
        assert!(first.body["access_token"].is_string(), "{:?}", first.body);
        return;
    }
    // Answered "try again": the retry must then sign in.
    let again = twofa::testing::Reply::of(
        &verify_code::handle(
            &core,
            &out,
            twofa::testing::json_request("POST", "/verify-code", &body, None),
        )
        .await,
    );
    let after = core.store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        again.status, 200,
        "first {} {:?}, then {} {:?}; pending sign-in {:?}",
        first.status, first.body, again.status, again.body, after.pending_sign_in
    );
}

/// A confirmation code that expired two days ago: its item outlived the TTL grace
/// (a day), so DynamoDB may or may not have swept it. Unswept, any code typed answers
/// 410 `code_expired` and counts nothing; swept, 401 `invalid_code`, counted.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_expired_code_past_its_grace_answers_the_same_whether_or_not_ttl_swept_it() {
    use serde_json::json;
    use twofa::codes::{CodePurpose, PendingCode};
    let Some(core) = core().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let out = twofa::senders::log::LogSender::default();
    let user = seed_user(
        &core,
        Side::Host,
        &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
        &[],
    )
    .await;
    let now = core.now();
    let code = PendingCode {
        user_id: user.id.clone(),
        purpose: CodePurpose::ConfirmEmail,
        destination: user.email.as_str().to_string(),
        hash: "an-old-hash".into(),
        created_at: now - 2 * 86_400 - 300,
        expires_at: now - 2 * 86_400,
    };
    core.store.put_code(&code).await.unwrap();
    let access = twofa::flows::issue_access(&core, &user, &[Amr::Pwd], None, &Default::default())
        .await
        .unwrap()
        .access_token;
    let confirm = || async {
        let r = twofa::testing::Reply::of(
            &verify_code::handle(
                &core,
                &out,
                twofa::testing::json_request(
                    "POST",
                    "/verify-code",
                    &json!({"purpose": "confirm_email", "code": "123456"}),
                    Some(&access),
                ),
            )
            .await,
        );
        let count = core
            .store
            .user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .failed_count;
        (r.status, r.error.as_str().to_string(), count)
    };
    let unswept = confirm().await;
    // The sweep.
    assert!(
        core.store
            .take_code(&user.id, CodePurpose::ConfirmEmail, "an-old-hash")
            .await
            .unwrap()
    );
    let swept = confirm().await;
    assert_eq!(
        (unswept.0, unswept.1),
        (swept.0, swept.1),
        "the answer flipped with the sweep"
    );
}

/// Forgetting a remembered browser that expired two days ago (past the TTL grace,
/// so swept or not at DynamoDB's whim): 204 while the item lingers, 404 once swept.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn forgetting_an_expired_browser_answers_the_same_whether_or_not_ttl_swept_it() {
    use twofa::devices::Device;
    let Some(core) = core().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let out = twofa::senders::log::LogSender::default();
    let user = seed_user(
        &core,
        Side::Host,
        &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
        &[],
    )
    .await;
    let now = core.now();
    let old = 2 * 86_400 + 14 * 86_400;
    core.store
        .put_device(&Device {
            user_id: user.id.clone(),
            device_id: "expired-browser".into(),
            token_hash: "h".into(),
            security_stamp: user.security_stamp.clone(),
            created_at: now - old,
            last_used_at: now - old,
            expires_at: now - 2 * 86_400,
            user_agent: None,
        })
        .await
        .unwrap();
    let access = twofa::flows::issue_access(&core, &user, &[Amr::Pwd], None, &Default::default())
        .await
        .unwrap()
        .access_token;
    let forget = |id: &'static str| {
        let access = access.clone();
        let (core, out) = (&core, &out);
        async move {
            twofa::testing::Reply::of(
                &manage_settings::handle(
                    core,
                    out,
                    twofa::testing::json_request(
                        "DELETE",
                        &format!("/account/devices/{id}"),
                        &serde_json::Value::Null,
                        Some(&access),
                    ),
                )
                .await,
            )
            .status
        }
    };
    // Unswept: the lingering item; swept: no item (a browser never remembered is the same).
    let unswept = forget("expired-browser").await;
    let swept = forget("never-remembered").await;
    assert_eq!(unswept, swept, "the answer flipped with the sweep");
}

/// A right reset code: the success transaction spends it and sets the password, then
/// the copy of the hash for login (`update_user`) meets a store blip. The answer was
/// 503 "try again", and the retry 401 `invalid_code`, counted as a failure: a right
/// answer counted as wrong, for a change that had been made.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_right_reset_code_whose_follow_up_write_fails_is_not_answered_as_a_failure() {
    use e2e::fault_proxy::{Fault, Rule};
    use serde_json::json;
    let Some((proxy, core, user, _, _)) = signing_in_behind_a_proxy().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let out = twofa::senders::log::LogSender::default();
    let email = user.email.as_str().to_string();
    let forgot = send_code::handle(
        &core,
        &out,
        &out,
        twofa::testing::json_request("POST", "/password/forgot", &json!({"email": email}), None),
    )
    .await;
    assert_eq!(forgot.status(), 202);
    let code = out
        .outbox()
        .iter()
        .rev()
        .find_map(|m| m.code.clone())
        .expect("a reset code was sent");
    let body = json!({"email": email, "code": code, "new_password": "a brand new passphrase here"});
    let reset = || async {
        twofa::testing::Reply::of(
            &verify_code::handle(
                &core,
                &out,
                twofa::testing::json_request("POST", "/password/reset", &body, None),
            )
            .await,
        )
    };
    proxy.clear();
    // The slot passes; every later UpdateItem (the login copy of the hash) fails.
    proxy.add(Rule::new(Fault::Pass).target("UpdateItem").times(1));
    proxy.add(Rule::new(Fault::Error500).target("UpdateItem"));
    let first = reset().await;
    assert!(proxy.count_faults("UpdateItem") > 0, "the fault happened");
    proxy.clear();
    if first.status == 204 {
        return;
    }
    let again = reset().await;
    let after = core.store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        again.status, 204,
        "first {} {:?}, then {} {:?}; failures counted {}",
        first.status, first.body, again.status, again.body, after.failed_count
    );
}

/// An admin's unlock applies and its answer is lost; a guess lands (counted); the
/// SDK sends the unlock again, which clears the count again: the guess is free.
#[tokio::test]
async fn a_retried_unlock_does_not_clear_a_failure_counted_after_it() {
    let Some(core) = core().await else {
        eprintln!("SKIPPED: no DYNAMODB_ENDPOINT");
        return;
    };
    let user = seed_user(
        &core,
        Side::Host,
        &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        PASSWORD,
        &[],
    )
    .await;
    let (store, now) = (core.store.as_ref(), core.now());
    let unlock = twofa::ids::RequestId::from("the-unlock");
    store.unlock(&user.id, &unlock, None, now).await.unwrap();
    store
        .take_slot(
            Subject::User(&user.id),
            &AttemptId::from("a-guess"),
            None,
            5,
            now,
        )
        .await
        .unwrap();
    store.unlock(&user.id, &unlock, None, now).await.unwrap();
    let after = store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        after.failed_count, 1,
        "the guess after the unlock is no longer counted"
    );
}
