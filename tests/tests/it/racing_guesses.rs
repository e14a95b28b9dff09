//! Guesses sent together get no more tries than guesses sent one by one (issue 8.1):
//! with `LOCKOUT_MAX_FAILED_ATTEMPTS=1`, many wrong passwords or codes and one right
//! one are sent at once, over HTTP to the local API, on the embedded store and on
//! DynamoDB Local. Whichever attempt takes the one slot is the only one judged: the
//! right one may sign in only if it took the slot before any wrong one was judged.
//! Each race runs for several users, since on the old code the right answer only
//! sometimes won.
//!
//! The observable is what the store saw, noted by a wrapper ([`LockoutLog`]): every
//! slot with the count it returned, every lock and every success write, each between
//! two ticks of one clock. Replies and lockout notices alone cannot tell a lost lock
//! from a legitimate order: the right answer is accepted (resetting the count), and
//! a wrong one that was already past its checks (its token read before the success
//! rotated the stamp) then takes the freed slot and locks the account, notice and
//! all. So a race is broken only when the store shows two attempts in the one slot
//! (a count past the limit, or two slots taken with no success between them, since
//! a store whose count is not atomic reports 1 to both), an answer judged without
//! being counted (a success written by an attempt that took no slot, or more
//! answers refused as wrong than slots that stayed counted), a slot taken after a
//! lock was written, or the right answer accepted after a lock was written.

use e2e::Client;
use e2e::lockout_log::{Entry, LockoutLog, Noted};
use e2e::{AppOptions, Backend, Reply, TestApp, spawn_app_over};
use serde_json::{Value, json};
use twofa::config::Config;
use twofa::side::Side;
use twofa::store::Succeeded;
use twofa::testing::fixtures::PASSWORD;
use twofa::user::{Authenticator, UserPatch};

const WRONG: usize = 12;
const ROUNDS: usize = 4;
/// `LOCKOUT_MAX_FAILED_ATTEMPTS`: one slot.
const MAX: u32 = 1;

/// The local API over `backend`'s store, with its lockout writes noted.
async fn racing_app(backend: &Backend) -> (TestApp, LockoutLog) {
    let env = std::collections::HashMap::from([(
        "LOCKOUT_MAX_FAILED_ATTEMPTS".to_string(),
        MAX.to_string(),
    )]);
    let log = LockoutLog::over(e2e::store(backend).await);
    let app = spawn_app_over(
        std::sync::Arc::new(log.clone()),
        AppOptions {
            config: Config::read(&env).expect("valid settings"),
            ..Default::default()
        },
    )
    .await;
    (app, log)
}

/// Sends every body in `wrong` and then `right` to `path` at once, noting the lockout
/// writes of this race alone; the right one's reply comes first.
async fn together(
    app: &TestApp,
    log: &LockoutLog,
    path: &str,
    wrong: Vec<Value>,
    right: Value,
) -> (Reply, Vec<Reply>) {
    together_as(app, log, "POST", path, None, wrong, right).await
}

/// [`together`] with any method and a bearer token.
async fn together_as(
    app: &TestApp,
    log: &LockoutLog,
    method: &'static str,
    path: &str,
    bearer: Option<&str>,
    wrong: Vec<Value>,
    right: Value,
) -> (Reply, Vec<Reply>) {
    log.clear();
    let mut tasks = Vec::new();
    for body in wrong.into_iter().chain(std::iter::once(right)) {
        let app = app.clone();
        let path = path.to_string();
        let bearer = bearer.map(str::to_string);
        tasks.push(tokio::spawn(async move {
            app.call(method, &path, Some(&body), bearer.as_deref())
                .await
        }));
    }
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.expect("the request task finished"));
    }
    let right = replies.pop().expect("the right one's reply");
    (right, replies)
}

/// The rule every race checks: at most one attempt judged in the one slot.
async fn at_most_one_judged(
    app: &TestApp,
    log: &LockoutLog,
    email: &str,
    right: &Reply,
    wrong: &[Reply],
) {
    at_most_one_judged_of(app, log, email, 200, right, wrong).await
}

/// [`at_most_one_judged`] for a route whose success is `ok` (204 for a password).
async fn at_most_one_judged_of(
    app: &TestApp,
    log: &LockoutLog,
    email: &str,
    ok: u16,
    right: &Reply,
    wrong: &[Reply],
) {
    let statuses: Vec<u16> = wrong.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| [401, 423].contains(s)),
        "wrong guesses answered {statuses:?}"
    );
    assert!(
        [ok, 401, 423].contains(&right.status),
        "the right answer got {} {:?}",
        right.status,
        right.body
    );
    let user = app
        .api
        .core
        .store
        .user_by_email(&Side::Host, email)
        .await
        .expect("the store answers")
        .expect("the user exists");
    let seen = log.of(&user.id);
    let accepted = seen
        .iter()
        .filter(|e| {
            e.noted
                == Noted::Succeed {
                    done: Succeeded::Done,
                    release: false,
                }
        })
        .count();
    assert_eq!(
        accepted,
        usize::from(right.status == ok),
        "the right answer got {} but the store wrote {accepted} successes: {seen:#?}",
        right.status
    );
    // Judged: accepted, or refused as a wrong answer (a refusal for anything else,
    // a lock or an ended sign-in, judged nothing).
    let judged = wrong
        .iter()
        .chain(std::iter::once(right))
        .filter(|r| {
            r.status == ok
                || (r.status == 401
                    && ["invalid_code", "invalid_credentials"]
                        .contains(&r.body["error"].as_str().unwrap_or("")))
        })
        .count();
    if let Err(broken) = one_slot(&seen, judged) {
        panic!(
            "{broken} (wrong: {statuses:?}, right: {}): {seen:#?}",
            right.status
        );
    }
}

/// Whether the store's writes for one account, in one race, kept it to one judged
/// attempt at a time, `judged` being how many replies say their answer was judged
/// (the right one accepted, or a wrong one refused as wrong and counted). A write
/// that started after another ended was applied after it; writes whose spans
/// overlap may have been applied in either order, and are never called broken. A
/// wrong answer that took the slot a success freed, and locked, is the legitimate
/// order, not a lost lock. Broken:
/// - a slot taken past the limit, or two slots with no success (accepted, or a slot
///   given back) that could have freed the slot between them: the counts a store
///   reports are not trusted, since a count that is not atomic reports 1 to both;
/// - a success written (accepted or not) without a slot of its own attempt before
///   it: the answer was judged uncounted;
/// - a slot taken, or a success accepted, after a lock was written;
/// - more answers judged than slots kept (a wrong answer that gave its slot back
///   was judged for free).
fn one_slot(seen: &[Entry], judged: usize) -> Result<(), String> {
    // The pairwise rule below holds for one slot only.
    const _: () = assert!(MAX == 1);
    let taken: Vec<&Entry> = seen
        .iter()
        .filter(|e| matches!(e.noted, Noted::Slot(Some(_))))
        .collect();
    if let Some(e) = taken
        .iter()
        .find(|e| matches!(e.noted, Noted::Slot(Some(count)) if count > MAX))
    {
        return Err(format!(
            "attempt {:?} was judged in a slot that was not free: {:?}",
            e.attempt, e.noted
        ));
    }
    // Only a success frees the slot for another attempt: a lock resets the count
    // too, but no slot is taken while it holds.
    let frees: Vec<&Entry> = seen
        .iter()
        .filter(|e| {
            matches!(
                e.noted,
                Noted::Succeed {
                    done: Succeeded::Done,
                    ..
                }
            )
        })
        .collect();
    // Whether a write that frees the slot may have been applied after `x` and before `y`.
    let freed_between = |x: &Entry, y: &Entry| {
        frees
            .iter()
            .any(|f| x.started < f.ended && f.started < y.ended)
    };
    for (i, a) in taken.iter().enumerate() {
        for b in &taken[i + 1..] {
            if a.attempt != b.attempt && !freed_between(a, b) && !freed_between(b, a) {
                return Err(format!(
                    "attempts {:?} and {:?} were judged in the one slot, nothing freeing it between them",
                    a.attempt, b.attempt
                ));
            }
        }
    }
    for s in seen
        .iter()
        .filter(|e| matches!(e.noted, Noted::Succeed { .. }))
    {
        if !taken
            .iter()
            .any(|t| t.attempt == s.attempt && t.started < s.ended)
        {
            return Err(format!(
                "attempt {:?} wrote its success without a slot of its own: it was judged uncounted",
                s.attempt
            ));
        }
    }
    for lock in seen.iter().filter(|e| e.noted == Noted::Lock) {
        let after = seen.iter().filter(|e| e.started > lock.ended);
        for e in after {
            match e.noted {
                Noted::Slot(Some(_)) => {
                    return Err(format!(
                        "attempt {:?} took a slot after the account locked",
                        e.attempt
                    ));
                }
                Noted::Succeed {
                    done: Succeeded::Done,
                    ..
                } => {
                    return Err(format!(
                        "the right answer ({:?}) was accepted after the account locked",
                        e.attempt
                    ));
                }
                _ => {}
            }
        }
    }
    let mut kept: Vec<&Option<String>> = taken
        .iter()
        .filter(|t| {
            !seen
                .iter()
                .any(|e| e.attempt == t.attempt && e.noted == GIVEN_BACK)
        })
        .map(|t| &t.attempt)
        .collect();
    kept.sort();
    kept.dedup();
    if judged > kept.len() {
        return Err(format!(
            "{judged} answers were judged but only {} slots stayed counted",
            kept.len()
        ));
    }
    Ok(())
}

/// A host user with a confirmed email (so lockout notices are sent), a confirmed
/// phone, an enabled authenticator (its key returned), recovery codes, and 2FA on.
async fn two_factor_user(app: &TestApp, email: &str) -> (String, Vec<u8>, Vec<String>) {
    let core = &app.api.core;
    let user = twofa::testing::seed_user(core, Side::Host, email, PASSWORD, &[]).await;
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
    let phone = e2e::unique_number();
    let patch = UserPatch {
        email_confirmed: Some(true),
        phone_number: Some(Some(twofa::testing::test_phone(&phone))),
        phone_number_confirmed: Some(true),
        two_factor_enabled: Some(true),
        authenticator: Some(Some(Authenticator {
            sealed_key,
            enabled: true,
        })),
        recovery_codes: Some(hashes),
        ..Default::default()
    };
    core.store
        .update_user(&user.id, &patch)
        .await
        .expect("the user exists");
    (phone, key, codes)
}

async fn passwords(backend: Backend) {
    let (app, log) = racing_app(&backend).await;
    for round in 0..ROUNDS {
        let email = format!("race{round}@example.com");
        let user =
            twofa::testing::seed_user(&app.api.core, Side::Host, &email, PASSWORD, &[]).await;
        app.api
            .core
            .store
            .update_user(
                &user.id,
                &UserPatch {
                    email_confirmed: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let wrong = (0..WRONG)
            .map(|i| json!({"email": email, "password": format!("wrong horse battery {i}")}))
            .collect();
        let (right, wrong) = together(
            &app,
            &log,
            "/login",
            wrong,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
        at_most_one_judged(&app, &log, &email, &right, &wrong).await;
    }
}

/// A two-factor token for `email` from a real login.
async fn two_factor_token(app: &TestApp, email: &str) -> String {
    let r = app
        .post(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("two_factor_required")),
        "{:?}",
        r.body
    );
    r.body["two_factor_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn codes(backend: Backend, provider: &str) {
    let (app, log) = racing_app(&backend).await;
    for round in 0..ROUNDS {
        let email = format!("race-{provider}{round}@example.com");
        let (phone, key, recovery) = two_factor_user(&app, &email).await;
        let token = two_factor_token(&app, &email).await;
        let right = match provider {
            "email" | "sms" => {
                let sent = app
                    .post(
                        "/send-code",
                        &json!({"two_factor_token": token, "provider": provider}),
                        None,
                    )
                    .await;
                assert_eq!(sent.status, 202, "{:?}", sent.body);
                let to = if provider == "email" {
                    email.clone()
                } else {
                    phone.clone()
                };
                app.last_code_to(&to).await.expect("a code was sent")
            }
            "authenticator" => twofa::totp::code_at(&key, app.api.core.now()).expect("a TOTP code"),
            _ => recovery[0].clone(),
        };
        let wrong_code = |i: usize| match provider {
            "recovery_code" => format!("wrong0-wrong0-wrong0-{i:06}"),
            _ => {
                let n: u32 = right.parse::<u32>().unwrap_or(0);
                format!("{:06}", (n + 1 + i as u32) % 1_000_000)
            }
        };
        let wrong = (0..WRONG)
            .map(
                |i| json!({"two_factor_token": token, "provider": provider, "code": wrong_code(i)}),
            )
            .collect();
        let right_body = json!({"two_factor_token": token, "provider": provider, "code": right});
        let (right, wrong) = together(&app, &log, "/verify-code", wrong, right_body).await;
        at_most_one_judged(&app, &log, &email, &right, &wrong).await;
    }
}

/// A host user with a confirmed email (so lockout notices are sent) and 2FA off, and
/// an access token from a real login.
async fn signed_in_user(app: &TestApp, email: &str) -> String {
    let user = twofa::testing::seed_user(&app.api.core, Side::Host, email, PASSWORD, &[]).await;
    app.api
        .core
        .store
        .update_user(
            &user.id,
            &UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("the user exists");
    let r = app
        .post(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.body["status"], "signed_in", "{:?}", r.body);
    r.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Six digits that are not `right`, different for each `i`.
fn wrong_digits(right: &str, i: usize) -> String {
    let n: u32 = right.parse::<u32>().unwrap_or(0);
    format!("{:06}", (n + 1 + i as u32) % 1_000_000)
}

const NEW_PASSWORD: &str = "a fresh and unguessable passphrase";

async fn password_changes(backend: Backend) {
    let (app, log) = racing_app(&backend).await;
    for round in 0..ROUNDS {
        let email = format!("race-change{round}@example.com");
        let token = signed_in_user(&app, &email).await;
        let wrong = (0..WRONG)
            .map(|i| json!({"current_password": format!("wrong horse battery {i}"), "new_password": NEW_PASSWORD}))
            .collect();
        let right = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        let (right, wrong) = together_as(
            &app,
            &log,
            "PUT",
            "/account/password",
            Some(&token),
            wrong,
            right,
        )
        .await;
        at_most_one_judged_of(&app, &log, &email, 204, &right, &wrong).await;
    }
}

async fn password_resets(backend: Backend) {
    let (app, log) = racing_app(&backend).await;
    for round in 0..ROUNDS {
        let email = format!("race-reset{round}@example.com");
        signed_in_user(&app, &email).await;
        let asked = app
            .post("/password/forgot", &json!({"email": email}), None)
            .await;
        assert_eq!(asked.status, 202, "{:?}", asked.body);
        let code = app.last_code_to(&email).await.expect("a reset code");
        let wrong = (0..WRONG)
            .map(|i| json!({"email": email, "code": wrong_digits(&code, i), "new_password": NEW_PASSWORD}))
            .collect();
        let right = json!({"email": email, "code": code, "new_password": NEW_PASSWORD});
        let (right, wrong) = together(&app, &log, "/password/reset", wrong, right).await;
        at_most_one_judged_of(&app, &log, &email, 204, &right, &wrong).await;
    }
}

async fn authenticator_enrolments(backend: Backend) {
    let (app, log) = racing_app(&backend).await;
    for round in 0..ROUNDS {
        let email = format!("race-enrol{round}@example.com");
        let token = signed_in_user(&app, &email).await;
        let started = app
            .post("/account/authenticator", &json!({}), Some(&token))
            .await;
        assert_eq!(started.status, 200, "{:?}", started.body);
        let key = twofa::totp::key_from_base32(started.body["shared_key"].as_str().unwrap_or(""))
            .expect("a base32 key");
        let code = twofa::totp::code_at(&key, app.api.core.now()).expect("a TOTP code");
        let wrong = (0..WRONG)
            .map(|i| json!({"code": wrong_digits(&code, i)}))
            .collect();
        let (right, wrong) = together_as(
            &app,
            &log,
            "POST",
            "/account/authenticator/verify",
            Some(&token),
            wrong,
            json!({"code": code}),
        )
        .await;
        at_most_one_judged(&app, &log, &email, &right, &wrong).await;
    }
}

async fn phone_confirmations(backend: Backend) {
    let (app, log) = racing_app(&backend).await;
    for round in 0..ROUNDS {
        let email = format!("race-phone{round}@example.com");
        let token = signed_in_user(&app, &email).await;
        let phone = e2e::unique_number();
        let sent = app
            .post(
                "/send-code",
                &json!({"purpose": "confirm_phone", "phone_number": phone}),
                Some(&token),
            )
            .await;
        assert_eq!(sent.status, 202, "{:?}", sent.body);
        let code = app.last_code_to(&phone).await.expect("a code was texted");
        let wrong = (0..WRONG)
            .map(|i| json!({"purpose": "confirm_phone", "code": wrong_digits(&code, i)}))
            .collect();
        let (right, wrong) = together_as(
            &app,
            &log,
            "POST",
            "/verify-code",
            Some(&token),
            wrong,
            json!({"purpose": "confirm_phone", "code": code}),
        )
        .await;
        at_most_one_judged(&app, &log, &email, &right, &wrong).await;
    }
}

/// Passwordless sign-ins: assertions without user verification sent with the right
/// one, each answering a ceremony of its own.
async fn passkey_sign_ins(backend: Backend) {
    use twofa::testing::TEST_ORIGIN;
    use twofa::testing::authenticator::SoftAuthenticator;
    let (app, log) = racing_app(&backend).await;
    let ceremony = |app: TestApp, mut device: SoftAuthenticator| async move {
        let started = app.post("/passkeys/sign-in", &json!({}), None).await;
        assert_eq!(started.status, 200, "{:?}", started.body);
        let credential = device
            .assert(&started.body["options"])
            .expect("the authenticator answers");
        json!({"ceremony_id": started.body["ceremony_id"], "credential": credential})
    };
    for round in 0..ROUNDS {
        let email = format!("race-passkey{round}@example.com");
        let token = signed_in_user(&app, &email).await;
        let started = app
            .post("/account/passkeys/register", &json!({}), Some(&token))
            .await;
        let mut device = SoftAuthenticator::new(TEST_ORIGIN);
        let credential = device.register(&started.body["options"]).expect("made");
        let added = app
            .post(
                "/account/passkeys/register/finish",
                &json!({"ceremony_id": started.body["ceremony_id"], "credential": credential}),
                Some(&token),
            )
            .await;
        assert_eq!(added.status, 201, "{:?}", added.body);
        let mut unverified = device.clone();
        unverified.set_user_verified(false);
        let mut wrong = Vec::new();
        for _ in 0..WRONG {
            wrong.push(ceremony(app.clone(), unverified.clone()).await);
        }
        let right = ceremony(app.clone(), device.clone()).await;
        let (right, wrong) = together(&app, &log, "/passkeys/sign-in/finish", wrong, right).await;
        at_most_one_judged(&app, &log, &email, &right, &wrong).await;
    }
}

/// A noted write of attempt `attempt` (`None` for a lock) between ticks `started` and `ended`.
fn noted(attempt: Option<&str>, noted: Noted, started: u64, ended: u64) -> Entry {
    Entry {
        subject: "u".to_string(),
        attempt: attempt.map(str::to_string),
        noted,
        started,
        ended,
    }
}

const ACCEPTED: Noted = Noted::Succeed {
    done: Succeeded::Done,
    release: false,
};

#[test]
fn a_wrong_answer_that_takes_the_slot_a_success_freed_and_locks_is_no_lost_lock() {
    // The right answer is accepted; a wrong one, whose slot write overlapped the
    // success, got the freed slot (count 1 again) and locked; the rest were refused.
    let seen = [
        noted(Some("right"), Noted::Slot(Some(1)), 0, 1),
        noted(Some("right"), ACCEPTED, 2, 5),
        noted(Some("wrong"), Noted::Slot(Some(1)), 3, 6),
        noted(None, Noted::Lock, 7, 8),
        noted(Some("late"), Noted::Slot(None), 9, 10),
    ];
    assert_eq!(one_slot(&seen, 1), Ok(()));
}

#[test]
fn two_attempts_in_one_slot_or_anything_taken_after_the_lock_is_a_lost_lock() {
    let second_slot = [
        noted(Some("right"), Noted::Slot(Some(1)), 0, 1),
        noted(Some("wrong"), Noted::Slot(Some(2)), 2, 3),
        noted(Some("right"), ACCEPTED, 4, 5),
        noted(None, Noted::Lock, 6, 7),
    ];
    assert!(one_slot(&second_slot, 1).is_err());
    let accepted_after_the_lock = [
        noted(Some("right"), Noted::Slot(Some(1)), 0, 1),
        noted(None, Noted::Lock, 2, 3),
        noted(Some("right"), ACCEPTED, 4, 5),
    ];
    assert!(one_slot(&accepted_after_the_lock, 1).is_err());
    let slot_after_the_lock = [
        noted(Some("wrong"), Noted::Slot(Some(1)), 0, 1),
        noted(None, Noted::Lock, 2, 3),
        noted(Some("other"), Noted::Slot(Some(1)), 4, 5),
    ];
    assert!(one_slot(&slot_after_the_lock, 1).is_err());
}

const GIVEN_BACK: Noted = Noted::Succeed {
    done: Succeeded::Done,
    release: true,
};

#[test]
fn a_right_answer_accepted_without_a_slot_of_its_own_is_a_lost_lock() {
    // The wrong one took the one slot; the right one was judged beside it, uncounted,
    // and its success landed before the wrong one's lock.
    let seen = [
        noted(Some("wrong"), Noted::Slot(Some(1)), 0, 1),
        noted(Some("right"), ACCEPTED, 2, 3),
        noted(None, Noted::Lock, 4, 5),
    ];
    assert!(one_slot(&seen, 1).is_err());
}

#[test]
fn two_slots_with_no_reset_that_could_come_between_them_are_a_lost_lock_whatever_counts_they_report()
 {
    // A store whose count is not atomic (read, then write what was read plus one)
    // answers count 1 to both: only the order shows that the one slot was taken twice.
    let seen = [
        noted(Some("right"), Noted::Slot(Some(1)), 0, 3),
        noted(Some("wrong"), Noted::Slot(Some(1)), 1, 4),
        noted(Some("right"), ACCEPTED, 5, 6),
        noted(None, Noted::Lock, 7, 8),
    ];
    assert!(one_slot(&seen, 1).is_err());
    // One after the other, each given back before the next: two slots, legitimately.
    let one_by_one = [
        noted(Some("a"), Noted::Slot(Some(1)), 0, 1),
        noted(Some("a"), GIVEN_BACK, 2, 3),
        noted(Some("b"), Noted::Slot(Some(1)), 4, 5),
    ];
    assert_eq!(one_slot(&one_by_one, 0), Ok(()));
}

#[test]
fn wrong_answers_that_give_their_slot_back_are_judged_for_free_and_a_lost_lock() {
    // Two answers were judged wrong (401 `invalid_code`), and each gave its slot back:
    // neither is counted, so guesses never reach the lock.
    let seen = [
        noted(Some("w1"), Noted::Slot(Some(1)), 0, 1),
        noted(Some("w1"), GIVEN_BACK, 2, 3),
        noted(Some("w2"), Noted::Slot(Some(1)), 4, 5),
        noted(Some("w2"), GIVEN_BACK, 6, 7),
    ];
    assert!(one_slot(&seen, 2).is_err());
}

macro_rules! on_both_stores {
    ($($name:ident => $body:expr;)*) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    ($body)(Backend::Memory).await
                }
            )*
        }
        mod dynamodb {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(no_dynamodb, ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)")]
                async fn $name() {
                    let Some(backend) = Backend::dynamo() else { return };
                    ($body)(backend).await
                }
            )*
        }
    };
}

fn boxed<F: std::future::Future<Output = ()> + Send + 'static>(
    f: F,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(f)
}

on_both_stores! {
    wrong_passwords_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(passwords(b));
    wrong_emailed_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(codes(b, "email"));
    wrong_texted_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(codes(b, "sms"));
    wrong_authenticator_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(codes(b, "authenticator"));
    wrong_recovery_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(codes(b, "recovery_code"));
    wrong_current_passwords_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(password_changes(b));
    wrong_reset_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(password_resets(b));
    wrong_enrolment_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(authenticator_enrolments(b));
    wrong_phone_confirmation_codes_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(phone_confirmations(b));
    refused_passkeys_sent_with_the_right_one_leave_it_no_second_slot => |b| boxed(passkey_sign_ins(b));
}
