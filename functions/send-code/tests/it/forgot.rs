//! `POST /password/forgot`: a reset code emailed to a confirmed address, and the
//! same answer (status, body, and never sooner than the floor) for every email.

use crate::common;

use std::time::{Duration, Instant};

use common::{Client, EMAIL, Reply, World, world_with};
use serde_json::{Value, json};
use twofa::codes::CodePurpose;
use twofa::senders::{DeliveryError, EmailMessage, EmailSender, SmsSender};
use twofa::store::{CodeStore, UserStore};
use twofa::testing::json_request;
use twofa::user::UserPatch;

/// No floor: these tests look at what is sent; the floor has its own test.
fn world() -> World {
    common::world_with(&[("PASSWORD_RESET_ANSWER_MS", "0")])
}

async fn forgot(w: &World, body: Value) -> Reply {
    w.post("/password/forgot", &body, None).await
}

/// `POST /password/forgot` with other senders than the world's.
async fn forgot_with(
    w: &World,
    sms: &dyn SmsSender,
    email: &dyn EmailSender,
    body: Value,
) -> Reply {
    Reply::of(
        &send_code::handle(
            &w.core,
            sms,
            email,
            json_request("POST", "/password/forgot", &body, None),
        )
        .await,
    )
}

async fn confirmed_user(w: &World) -> twofa::user::User {
    confirmed(w, EMAIL).await
}

async fn confirmed(w: &World, email: &str) -> twofa::user::User {
    let user = w.plain_user(email).await;
    w.patch(
        &user,
        UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await
}

fn reset_mails(w: &World) -> usize {
    w.outbox()
        .iter()
        .filter(|m| m.subject.as_deref() == Some("Your password reset code"))
        .count()
}

#[tokio::test]
async fn a_confirmed_address_gets_a_six_digit_reset_code_kept_only_as_a_keyed_hash() {
    let w = world();
    let user = confirmed_user(&w).await;

    let Reply { status, body, .. } = forgot(&w, json!({"email": "JANE@example.com"})).await;

    assert_eq!((status, body), (202, json!({})));
    let sent = w.outbox().pop().expect("an email");
    assert_eq!(
        (sent.to.as_str(), sent.subject.as_deref()),
        (EMAIL, Some("Your password reset code"))
    );
    let code = sent.code.expect("a code");
    assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()));
    let pending = w
        .store
        .code(&user.id, CodePurpose::PasswordReset)
        .await
        .unwrap()
        .expect("a pending code");
    assert_eq!(pending.destination, EMAIL);
    assert!(!pending.hash.contains(&code));
    assert_eq!(
        pending.expires_at,
        w.now() + 300,
        "the same lifetime as sign-in codes"
    );
}

#[tokio::test]
async fn unknown_unconfirmed_locked_and_malformed_emails_get_the_same_answer_and_nothing_is_sent() {
    let w = world();
    let known = confirmed_user(&w).await;
    let unconfirmed = w.plain_user("una@example.com").await;
    let locked = w.plain_user("lou@example.com").await;
    w.patch(
        &locked,
        UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;
    w.store
        .lock(
            twofa::store::Subject::User(&locked.id),
            w.now(),
            w.now() + 300,
            false,
        )
        .await
        .unwrap();

    let answers = vec![
        forgot(&w, json!({"email": "nobody@example.com"})).await,
        forgot(&w, json!({"email": "una@example.com"})).await,
        forgot(&w, json!({"email": "lou@example.com"})).await,
        forgot(&w, json!({"email": "not an address"})).await,
        forgot(&w, json!({"email": EMAIL, "tenant": "no-such-tenant"})).await,
        forgot(&w, json!({"email": EMAIL, "tenant": "not a tenant name!"})).await,
    ];

    for a in &answers {
        assert_eq!((a.status, a.error.as_str(), &a.body), (202, "", &json!({})));
    }
    assert_eq!(reset_mails(&w), 0, "no code for any of them");
    for id in [&unconfirmed.id, &locked.id, &known.id] {
        assert_eq!(
            w.store.code(id, CodePurpose::PasswordReset).await.unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn a_throttled_or_failed_send_still_answers_202_and_leaves_no_usable_code() {
    let w = world();
    let user = confirmed_user(&w).await;
    assert_eq!(forgot(&w, json!({"email": EMAIL})).await.status, 202);
    assert_eq!(reset_mails(&w), 1);

    // While the code sent lives: the same answer as any other email, and no second email.
    let Reply { status, body, .. } = forgot(&w, json!({"email": EMAIL})).await;
    assert_eq!((status, body), (202, json!({})));
    assert_eq!(reset_mails(&w), 1, "a live reset code is not replaced");

    w.clock.advance(301);
    let refusing = RefusingEmail;
    let Reply { status, body, .. } =
        forgot_with(&w, &w.out, &refusing, json!({"email": EMAIL})).await;
    assert_eq!(
        (status, body),
        (202, json!({})),
        "a 502 would tell that the account exists"
    );
    assert_eq!(
        w.store
            .code(&user.id, CodePurpose::PasswordReset)
            .await
            .unwrap(),
        None,
        "the code that never arrived is not usable"
    );
}

#[tokio::test]
async fn every_answer_takes_at_least_the_floor_whatever_the_email() {
    let w = world_with(&[("PASSWORD_RESET_ANSWER_MS", "250")]);
    confirmed_user(&w).await;
    for email in [EMAIL, "nobody@example.com", "not an address"] {
        let started = Instant::now();
        let r = forgot(&w, json!({"email": email})).await;
        assert_eq!(r.status, 202);
        // A lower bound only: sleeping never ends early, so this cannot flake.
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "{email} answered before the floor"
        );
        w.clock.advance(31);
    }
}

#[tokio::test]
async fn a_body_that_is_not_the_contract_is_refused_with_400() {
    let w = world();
    for body in [json!({}), json!({"email": 5}), json!([])] {
        let Reply {
            status,
            error: code,
            ..
        } = forgot(&w, body.clone()).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
    }
    let wrong_method = send_code::handle(
        &w.core,
        &w.out,
        &w.out,
        json_request("GET", "/password/forgot", &json!(null), None),
    )
    .await;
    assert_eq!(wrong_method.status(), 405);
}

struct RefusingEmail;

#[async_trait::async_trait]
impl EmailSender for RefusingEmail {
    async fn send_email(&self, _: &EmailMessage) -> Result<(), DeliveryError> {
        Err(DeliveryError::Refused("mailbox unavailable".into()))
    }
}

#[tokio::test]
async fn nothing_a_client_sends_gets_a_5xx() {
    let w = world();
    confirmed_user(&w).await;
    let bodies = [
        json!({"email": format!("{}@example.com", "é".repeat(5000))}),
        json!({"email": EMAIL, "tenant": "x".repeat(3000)}),
        json!({"email": "\u{0000}@\u{0000}.\u{202e}"}),
        json!({"email": EMAIL, "tenant": 7}),
    ];
    for body in bodies {
        let r = forgot(&w, body.clone()).await;
        assert!(
            r.status < 500,
            "{} for a body of {} bytes",
            r.status,
            body.to_string().len()
        );
    }
}

#[tokio::test]
async fn reset_codes_count_in_no_budget_of_the_side() {
    let w = world_with(&[
        ("PASSWORD_RESET_ANSWER_MS", "0"),
        ("SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR", "1"),
    ]);
    for email in ["jane@example.com", "otto@example.com"] {
        confirmed(&w, email).await;
        assert_eq!(forgot(&w, json!({"email": email})).await.status, 202);
    }
    assert_eq!(
        reset_mails(&w),
        2,
        "resets leave the confirmations' budget alone"
    );
}

/// A reset code stays the only one while it lives: a second request sends nothing
/// (the code in the inbox still works), and once it has expired, or the password
/// changed, the next request sends a new one.
#[tokio::test]
async fn a_reset_code_is_resent_only_once_the_one_sent_has_expired_or_the_stamp_changed() {
    let w = world();
    let user = confirmed_user(&w).await;
    assert_eq!(forgot(&w, json!({"email": EMAIL})).await.status, 202);
    w.clock.advance(299);
    assert_eq!(forgot(&w, json!({"email": EMAIL})).await.status, 202);
    assert_eq!(reset_mails(&w), 1, "a live code is not replaced");

    w.clock.advance(1);
    assert_eq!(forgot(&w, json!({"email": EMAIL})).await.status, 202);
    assert_eq!(reset_mails(&w), 2, "the first code has expired");

    w.patch(
        &user,
        UserPatch {
            security_stamp: Some(twofa::user::new_security_stamp()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(forgot(&w, json!({"email": EMAIL})).await.status, 202);
    assert_eq!(reset_mails(&w), 3, "a new stamp ended the live code");
}

/// Red team: `/password/forgot` needs no password, only an email, yet every reset it
/// sends is counted in the user's own hourly budget (and the address's), the one
/// sign-in codes are drawn from. Ten anonymous requests an hour, the cooldown waited
/// out, and the user who knows the password gets no sign-in code by text or email.
#[tokio::test]
async fn anonymous_reset_requests_do_not_use_up_a_users_sign_in_codes() {
    let w = world();
    let user = w.two_factor_user().await;
    for _ in 0..10 {
        assert_eq!(forgot(&w, json!({"email": EMAIL})).await.status, 202);
        w.clock.advance(31);
    }
    for provider in ["sms", "email"] {
        let token = w.start_sign_in(&user).await;
        let r = w
            .send_code(
                &json!({"two_factor_token": token, "provider": provider}),
                None,
            )
            .await;
        let Reply {
            status,
            error: code,
            ..
        } = r;
        assert_eq!(
            (status, code.as_str()),
            (202, ""),
            "the account owner, password in hand, is refused a {provider} sign-in code \
             because strangers asked for password resets"
        );
    }
}

/// Red team: the per-address hourly cap is counted only when the email names a
/// confirmed, unlocked account, and the attacker's own account shares that counter.
/// Fill the address's budget to one short (here the cap is 1, by default 100 sends),
/// ask a reset for the probed email, then one for an account of one's own: whether
/// one's own reset email arrives tells whether the probed email has an account.
#[tokio::test]
async fn whether_a_probed_email_has_an_account_does_not_change_what_the_prober_gets_next() {
    async fn forgot_from(w: &World, email: &str) -> u16 {
        let mut req = json_request("POST", "/password/forgot", &json!({"email": email}), None);
        req.extensions_mut().insert(twofa::api::ClientInfo::new(
            Some("203.0.113.7"),
            Some("prober"),
        ));
        send_code::handle(&w.core, &w.out, &w.out, req)
            .await
            .status()
            .as_u16()
    }
    let mut own_mail_arrived = Vec::new();
    for probed in ["jane@example.com", "nobody@example.com"] {
        let w = world_with(&[
            ("PASSWORD_RESET_ANSWER_MS", "0"),
            ("SEND_LIMIT_PER_IP_PER_HOUR", "1"),
        ]);
        for email in ["jane@example.com", "mallory@example.com"] {
            let user = w.plain_user(email).await;
            w.patch(
                &user,
                UserPatch {
                    email_confirmed: Some(true),
                    ..Default::default()
                },
            )
            .await;
        }
        assert_eq!(forgot_from(&w, probed).await, 202);
        assert_eq!(forgot_from(&w, "mallory@example.com").await, 202);
        own_mail_arrived.push(w.outbox().iter().any(|m| m.to == "mallory@example.com"));
    }
    assert_eq!(
        own_mail_arrived[0], own_mail_arrived[1],
        "the prober's own reset email arrives only when the probed email has no account"
    );
}

async fn forgot_from(w: &World, ip: &str, email: &str) -> u16 {
    let mut req = json_request("POST", "/password/forgot", &json!({"email": email}), None);
    req.extensions_mut()
        .insert(twofa::api::ClientInfo::new(Some(ip), Some("twofa-tests")));
    send_code::handle(&w.core, &w.out, &w.out, req)
        .await
        .status()
        .as_u16()
}

/// Red team, at the shipped defaults: throwaway accounts with confirmed addresses of
/// their own ask anonymous resets for them, from as many source addresses as it
/// takes; every reset email used to count in the side's hourly sign-in budget, so
/// 101 accounts left every user of the side without sign-in codes for the hour.
#[tokio::test]
async fn resets_strangers_ask_for_their_own_accounts_leave_other_users_sign_in_codes_alone() {
    let w = world();
    let victim = w.two_factor_user().await;
    let mut emails = Vec::new();
    for i in 0..101 {
        let email = format!("throwaway{i}@attacker.example");
        let account = twofa::user::User::new(
            twofa::side::Side::Host,
            twofa::testing::test_email(&email),
            "$argon2id$unused".into(),
            w.now(),
        );
        w.store.create_user(&account).await.expect("a new account");
        w.patch(
            &account,
            UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await;
        emails.push(email);
    }
    for round in 0..11 {
        for (i, email) in emails.iter().enumerate() {
            // One source address per ten accounts, under each address's own cap.
            let ip = format!("203.0.{round}.{}", i / 10);
            assert_eq!(forgot_from(&w, &ip, email).await, 202);
        }
        w.clock.advance(301);
    }
    assert!(
        reset_mails(&w) >= 1000,
        "the attack ran: {} reset emails",
        reset_mails(&w)
    );

    for provider in ["email", "sms"] {
        let token = w.start_sign_in(&victim).await;
        let r = w
            .send_code(
                &json!({"two_factor_token": token, "provider": provider}),
                None,
            )
            .await;
        let Reply {
            status,
            error: code,
            body,
            ..
        } = r;
        assert_eq!(
            (status, code.as_str()),
            (202, ""),
            "a user of the side is refused a {provider} sign-in code: {body}"
        );
    }
}

/// Red team: anonymous requests for the victim's address, ten in the hour with the
/// cooldown waited out, used up the address's reset budget, so the victim's own
/// request an hour's part later sent nothing and no code in the inbox still worked.
/// Strangers asking all hour long must leave the owner, whenever they ask, a live
/// code in the inbox, and the inbox bounded.
#[tokio::test]
async fn anonymous_reset_requests_cannot_silence_the_owners_own_reset() {
    let w = world();
    let user = confirmed_user(&w).await;
    let mut checked = 0;
    for minute in 0..60 {
        for second in [0, 31] {
            let ip = format!("203.0.113.{}", (minute * 2 + second % 2) % 250);
            assert_eq!(forgot_from(&w, &ip, EMAIL).await, 202);
            w.clock.advance(if second == 0 { 31 } else { 29 });
        }
        if minute % 7 != 6 {
            continue;
        }
        assert_eq!(forgot_from(&w, "198.51.100.4", EMAIL).await, 202);
        let newest = w
            .mail_to(EMAIL)
            .into_iter()
            .rev()
            .find(|m| m.subject.as_deref() == Some("Your password reset code"))
            .expect("a reset email");
        let code = newest.code.expect("a code");
        let pending = w
            .store
            .code(&user.id, CodePurpose::PasswordReset)
            .await
            .unwrap()
            .expect("a pending reset code");
        let hash = twofa::codes::code_hash(
            &w.core.hash_key,
            &user.id,
            CodePurpose::PasswordReset,
            EMAIL,
            Some(&user.security_stamp),
            &code,
        );
        assert!(
            pending.hash == hash && pending.expires_at > w.now(),
            "minute {minute}: the owner asked and holds no live reset code"
        );
        checked += 1;
    }
    assert_eq!(checked, 8);
    assert!(
        reset_mails(&w) <= 13,
        "strangers mailed the owner {} reset emails in an hour",
        reset_mails(&w)
    );
}

/// Strangers behind the owner's address (a carrier's NAT, an office, a café) ask a
/// hundred resets for made-up emails; the owner's own request from there still
/// sends a code. A budget of the address would be spent by them, silently (the
/// answer is 202 either way), for the rest of the hour.
#[tokio::test]
async fn a_stranger_behind_the_owners_address_cannot_silence_the_owners_reset() {
    let w = world();
    confirmed_user(&w).await;
    let shared = "203.0.113.77";
    for i in 0..100 {
        assert_eq!(
            forgot_from(&w, shared, &format!("nobody{i}@example.net")).await,
            202
        );
    }

    assert_eq!(forgot_from(&w, shared, EMAIL).await, 202);

    assert_eq!(
        reset_mails(&w),
        1,
        "the owner asked for a reset and no email came, while the answer said 202"
    );
}
