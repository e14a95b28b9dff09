//! What bounds the cost of codes when an attacker registers throwaway accounts or
//! pumps numbers: confirmations and sign-in codes draw on separate tenant budgets,
//! one source address has its own hourly cap, and a side that does not allow SMS
//! texts nobody.

use crate::common;

use common::{Client, EMAIL, PHONE, Reply, World, world, world_with};
use serde_json::json;
use twofa::api::ClientInfo;
use twofa::policy::{Provider, TwoFactorSettings};
use twofa::store::TenantStore;
use twofa::testing::json_request;
use twofa::user::{User, UserPatch};

async fn send_from(w: &World, ip: &str, body: serde_json::Value, bearer: &str) -> (u16, String) {
    let mut req = json_request("POST", "/send-code", &body, Some(bearer));
    req.extensions_mut()
        .insert(ClientInfo::new(Some(ip), Some("twofa-tests")));
    let Reply {
        status,
        error: code,
        ..
    } = Reply::of(&send_code::handle(&w.core, &w.out, &w.out, req).await);
    (status, code)
}

#[tokio::test]
async fn confirmations_from_throwaway_accounts_do_not_starve_sign_in_codes() {
    let w = world_with(&[
        ("SEND_LIMIT_PER_TENANT_PER_HOUR", "2"),
        ("SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR", "2"),
    ]);
    let mut answers = Vec::new();
    for i in 0..3 {
        let throwaway = w.plain_user(&format!("throwaway{i}@example.net")).await;
        let access = w.access_token(&throwaway, None).await;
        let text = json!({"purpose": "confirm_phone", "phone_number": format!("+1201555010{i}")});
        answers.push(w.send_code(&text, Some(&access)).await.status);
    }
    assert_eq!(
        answers,
        [202, 202, 429],
        "the side's budget of texted confirmations is capped"
    );

    let user = w.two_factor_user().await;
    let token = w.start_sign_in(&user).await;
    let Reply { status, body, .. } = w
        .send_code(
            &json!({"two_factor_token": token, "provider": "email"}),
            None,
        )
        .await;
    assert_eq!(status, 202, "a sign-in code still goes out: {body}");
}

#[tokio::test]
async fn one_source_address_is_capped_across_accounts_and_another_address_is_not() {
    let w = world_with(&[("SEND_LIMIT_PER_IP_PER_HOUR", "2")]);
    let mut answers = Vec::new();
    for i in 0..3 {
        let user = w.plain_user(&format!("user{i}@example.net")).await;
        let access = w.access_token(&user, None).await;
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
    let access = w.access_token(&other, None).await;
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
    let w = world_with(&[
        ("SEND_LIMIT_PER_DESTINATION_PER_HOUR", "1"),
        ("SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR", "3"),
        ("RESEND_COOLDOWN_SECONDS", "0"),
    ]);
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;
    let body = json!({"purpose": "confirm_phone", "phone_number": "+12015550123"});
    let answers: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(w.send_code(&body.clone(), Some(&access)).await.status);
        }
        v
    };
    assert_eq!(answers, [202, 429, 429, 429, 429]);
    for i in 0..2 {
        let u = w.plain_user(&format!("u{i}@example.net")).await;
        let t = w.access_token(&u, None).await;
        let text = json!({"purpose": "confirm_phone", "phone_number": format!("+1201555020{i}")});
        assert_eq!(
            w.send_code(&text, Some(&t)).await.status,
            202,
            "the tenant budget was not spent by refusals"
        );
    }
}

#[tokio::test]
async fn confirm_phone_sends_nothing_where_the_side_does_not_allow_sms() {
    let w = world();
    let no_sms = TwoFactorSettings {
        allowed_providers: vec![Provider::Authenticator, Provider::Email],
        ..Default::default()
    };
    w.store.set_host_settings(&no_sms).await.unwrap();
    let user = w.plain_user(EMAIL).await;
    let access = w.access_token(&user, None).await;

    let Reply {
        status,
        error: code,
        body,
        ..
    } = w
        .send_code(
            &json!({"purpose": "confirm_phone", "phone_number": "+12015550123"}),
            Some(&access),
        )
        .await;

    assert_eq!(
        (status, code.as_str(), body["provider"].as_str()),
        (400, "provider_unavailable", Some("sms")),
        "{body}"
    );
    assert!(w.outbox().is_empty(), "no text was sent");
}

/// An account anyone could have registered, stored without running Argon2 (these
/// tests make a hundred of them); `patch` is what its owner then did with it.
async fn throwaway(w: &World, scope: twofa::side::Side, email: &str, patch: UserPatch) -> User {
    let user = User::new(
        scope,
        twofa::testing::test_email(email),
        "$argon2id$unused".into(),
        w.now(),
    );
    w.core
        .store
        .create_user(&user)
        .await
        .expect("a new account");
    w.patch(&user, patch).await
}

/// Red team, at the shipped defaults: throwaway accounts that confirm their own
/// address and turn their own 2FA on ask for their own sign-in codes, ten an hour
/// each; 101 of them used to fill the side's hourly budget (1000), and no other user
/// of the side received a sign-in code for the rest of the hour.
#[tokio::test]
async fn throwaway_accounts_with_their_own_two_factor_on_cannot_use_up_other_users_sign_in_codes() {
    let w = world();
    let victim = w.two_factor_user().await;
    let mut tokens = Vec::new();
    for i in 0..101 {
        let account = throwaway(
            &w,
            twofa::side::Side::Host,
            &format!("throwaway{i}@attacker.example"),
            UserPatch {
                email_confirmed: Some(true),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
        tokens.push(w.start_sign_in(&account).await);
    }
    let mut sent = 0;
    for _ in 0..10 {
        for token in &tokens {
            let r = w
                .send_code(
                    &json!({"two_factor_token": token, "provider": "email"}),
                    None,
                )
                .await;
            sent += usize::from(r.status == 202);
        }
        w.clock.advance(31);
    }
    assert!(sent >= 1000, "the attack ran: {sent} sign-in codes sent");
    let token = w.start_sign_in(&victim).await;

    for provider in ["email", "sms"] {
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
            (202, ""),
            "the victim is refused a {provider} sign-in code: {body}"
        );
        w.clock.advance(31);
    }
}

/// Red team: ten throwaway accounts ask `confirm_phone` for the victim's number. Each
/// text used to count in the number's hourly cap, the one the victim's own sign-in
/// codes are drawn from, so the victim received the strangers' texts and then no
/// sign-in code for the rest of the hour.
#[tokio::test]
async fn confirmations_strangers_send_to_a_number_leave_its_owners_sign_in_codes_alone() {
    let w = world();
    let victim = w.two_factor_user().await;
    let mut answers = Vec::new();
    for i in 0..11 {
        let account = throwaway(
            &w,
            twofa::side::Side::Host,
            &format!("throwaway{i}@attacker.example"),
            UserPatch::default(),
        )
        .await;
        let access = w.access_token(&account, None).await;
        answers.push(
            w.send_code(
                &json!({"purpose": "confirm_phone", "phone_number": PHONE}),
                Some(&access),
            )
            .await
            .status,
        );
    }
    assert_eq!(
        answers.iter().filter(|s| **s == 202).count(),
        10,
        "strangers text the number at most its hourly cap: {answers:?}"
    );
    let token = w.start_sign_in(&victim).await;

    let Reply {
        status,
        error: code,
        body,
        ..
    } = w
        .send_code(&json!({"two_factor_token": token, "provider": "sms"}), None)
        .await;

    assert_eq!(
        (status, code.as_str()),
        (202, ""),
        "the owner of the number is refused a sign-in code: {body}"
    );
    assert_eq!(w.outbox().iter().filter(|m| m.to == PHONE).count(), 11);
}

/// Red team: the victim's address, registered in another tenant (nobody confirms it
/// there), asks `confirm_email` ten times in the hour; the address's hourly cap was
/// then spent and the victim's own emailed sign-in codes refused.
#[tokio::test]
async fn confirmations_asked_for_an_address_in_another_tenant_leave_its_owners_sign_in_codes_alone()
{
    let w = world();
    let victim = w.two_factor_user().await;
    let tenant = twofa::tenant::Tenant::new("acme", 0);
    w.core
        .store
        .create_tenant(
            &tenant,
            &twofa::testing::seed_user_value(&tenant.side(), "admin@acme.example"),
        )
        .await
        .expect("a new tenant");
    let impostor = throwaway(&w, tenant.side(), EMAIL, UserPatch::default()).await;
    let access = w.access_token(&impostor, None).await;
    let mut answers = Vec::new();
    for _ in 0..11 {
        answers.push(
            w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
                .await
                .status,
        );
        w.clock.advance(31);
    }
    assert_eq!(answers.iter().filter(|s| **s == 202).count(), 10);
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
        (status, code.as_str()),
        (202, ""),
        "the owner of the address is refused a sign-in code: {body}"
    );
}

/// Red team: confirmations need no password, yet they counted in the same hourly
/// budget of the source address as sign-in codes. Strangers behind the owner's
/// address (a NAT, a café) asking them used up the owner's sign-in codes from there.
#[tokio::test]
async fn confirmations_asked_from_an_address_leave_its_sign_in_codes_alone() {
    let w = world_with(&[("SEND_LIMIT_PER_IP_PER_HOUR", "2")]);
    let owner = w.two_factor_user().await;
    let shared = "203.0.113.9";
    let mut answers = Vec::new();
    for i in 0..3 {
        let stranger = w.plain_user(&format!("stranger{i}@example.net")).await;
        let access = w.access_token(&stranger, None).await;
        answers.push(
            send_from(&w, shared, json!({"purpose": "confirm_email"}), &access)
                .await
                .0,
        );
    }
    assert_eq!(
        answers,
        [202, 202, 429],
        "the address's budget for what needs no password is spent"
    );
    let token = w.start_sign_in(&owner).await;

    let mut req = json_request(
        "POST",
        "/send-code",
        &json!({"two_factor_token": token, "provider": "email"}),
        None,
    );
    req.extensions_mut()
        .insert(ClientInfo::new(Some(shared), Some("twofa-tests")));
    let Reply {
        status,
        error: code,
        body,
        ..
    } = Reply::of(&send_code::handle(&w.core, &w.out, &w.out, req).await);

    assert_eq!(
        (status, code.as_str()),
        (202, ""),
        "the owner's sign-in code from the shared address: {body}"
    );
}

/// Red team: the victim's address registered in another tenant asked `confirm_email`
/// ten times and filled the address's confirmation cap, so the victim, new in its own
/// side (where a forced 2FA with email only makes that confirmation its first
/// sign-in), could not confirm it for the hour. An address has one account per side,
/// and sides are made by the host: each side's account confirms it on its own budget.
#[tokio::test]
async fn an_address_registered_in_another_tenant_cannot_hold_up_its_owner_confirming_it() {
    let w = world();
    let owner = throwaway(&w, twofa::side::Side::Host, EMAIL, UserPatch::default()).await;
    let tenant = twofa::tenant::Tenant::new("acme", 0);
    w.core
        .store
        .create_tenant(
            &tenant,
            &twofa::testing::seed_user_value(&tenant.side(), "admin@acme.example"),
        )
        .await
        .expect("a new tenant");
    let impostor = throwaway(&w, tenant.side(), EMAIL, UserPatch::default()).await;
    let access = w.access_token(&impostor, None).await;
    let mut answers = Vec::new();
    for _ in 0..11 {
        answers.push(
            w.send_code(&json!({"purpose": "confirm_email"}), Some(&access))
                .await
                .status,
        );
        w.clock.advance(31);
    }
    assert_eq!(
        answers.iter().filter(|s| **s == 202).count(),
        10,
        "the impostor's account mails the address at most its own hourly cap"
    );

    let Reply {
        status,
        error: code,
        body,
        ..
    } = w
        .send_code(
            &json!({"purpose": "confirm_email"}),
            Some(&w.access_token(&owner, None).await),
        )
        .await;

    assert_eq!(
        (status, code.as_str()),
        (202, ""),
        "the owner's own confirmation: {body}"
    );
}

/// A side that forces 2FA and allows email only: a new user's first sign-in is a
/// setup token and a `confirm_email`.
async fn forced_by_email(w: &World) {
    let forced = TwoFactorSettings {
        behaviour: twofa::policy::Behaviour::Forced,
        allowed_providers: vec![Provider::Email],
        ..Default::default()
    };
    w.store.set_host_settings(&forced).await.unwrap();
}

/// A stranger's account under `alias` asks `confirm_email` until refused, then the
/// account at `owner_address` (new, on a side forcing 2FA by email) asks its own.
async fn owner_confirming_after_an_alias(owner_address: &str, alias: &str) -> (u16, String) {
    let w = world();
    forced_by_email(&w).await;
    let owner = throwaway(
        &w,
        twofa::side::Side::Host,
        owner_address,
        UserPatch::default(),
    )
    .await;
    let stranger = throwaway(&w, twofa::side::Side::Host, alias, UserPatch::default()).await;
    let token = w.setup_token(&stranger);
    let mut sent = 0;
    for _ in 0..11 {
        let (status, _) = send_from(
            &w,
            "203.0.113.9",
            json!({"purpose": "confirm_email"}),
            &token,
        )
        .await;
        sent += usize::from(status == 202);
        w.clock.advance(31);
    }
    assert_eq!(
        sent, 10,
        "the stranger's account ran at the shipped defaults"
    );
    send_from(
        &w,
        "198.51.100.7",
        json!({"purpose": "confirm_email"}),
        &w.setup_token(&owner),
    )
    .await
}

/// Red team (promise: a send a stranger can cause never spends a budget that guards
/// a sign-in). Anyone may register `victim+x@…` (nothing proves the inbox is theirs
/// until a code comes back), and its confirmations counted in the inbox's cap: ten
/// of them an hour held up the owner's own `confirm_email`, which on a side forcing
/// 2FA by email is the owner's first sign-in, for one stranger's account a request
/// every 30 s. The address an inbox is known by keeps a cap that only its own
/// account spends; its aliases share another.
#[tokio::test]
async fn an_alias_registered_by_a_stranger_cannot_hold_up_its_owner_confirming_the_address() {
    let (status, code) =
        owner_confirming_after_an_alias("victim@example.com", "victim+x@example.com").await;

    assert_eq!(
        (status, code.as_str()),
        (202, ""),
        "the owner could not confirm its address, so could not finish its first sign-in"
    );
}

/// As above for an owner whose own address is itself one of the inbox's aliases (a
/// dotted Gmail address, or one registered with its own `+tag`): it shares the
/// aliases' cap with strangers, and nothing in the address tells which of them is
/// the owner's.
#[tokio::test]
#[ignore = "open: an owner registered under an alias of its inbox (j.o@gmail.com) shares the aliases' confirmation cap with strangers"]
async fn a_dotted_gmail_owner_cannot_be_held_up_by_another_dotting_of_its_address() {
    let (status, code) =
        owner_confirming_after_an_alias("j.o.smith@gmail.com", "jo.smith@gmail.com").await;

    assert_eq!(
        (status, code.as_str()),
        (202, ""),
        "the owner could not confirm its address, so could not finish its first sign-in"
    );
}

/// Red team (promise: a send a stranger can cause never spends a budget that guards
/// a sign-in). A side forces 2FA and allows email (no authenticator): each new
/// user's first sign-in is a setup token and a `confirm_email`, which counts in the
/// side's confirmation budget. Twenty throwaway accounts confirming addresses of
/// their own (free: mail to the attacker's own domain) fill that budget (200 an
/// hour) from two source addresses, and no new user of the side can set up and sign
/// in for the rest of the hour. SECURITY.md names only the number's cap of an
/// SMS-only side as fillable ahead of a sign-in; this is the whole side, by email.
#[tokio::test]

async fn throwaway_accounts_cannot_hold_up_the_first_sign_in_of_a_forced_sides_new_users() {
    let w = world();
    let forced_without_authenticator = TwoFactorSettings {
        behaviour: twofa::policy::Behaviour::Forced,
        allowed_providers: vec![Provider::Email, Provider::Sms],
        ..Default::default()
    };
    w.store
        .set_host_settings(&forced_without_authenticator)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for i in 0..20 {
        let account = throwaway(
            &w,
            twofa::side::Side::Host,
            &format!("t{i}@attacker.example"),
            UserPatch::default(),
        )
        .await;
        tokens.push((
            w.setup_token(&account),
            if i < 10 { "203.0.113.1" } else { "203.0.113.2" },
        ));
    }
    let mut sent = 0;
    for _ in 0..10 {
        for (token, ip) in &tokens {
            let (status, _) = send_from(&w, ip, json!({"purpose": "confirm_email"}), token).await;
            sent += usize::from(status == 202);
        }
        w.clock.advance(31);
    }
    assert_eq!(sent, 200, "the attack ran at the shipped defaults");

    let newcomer = w.plain_user("newcomer@example.com").await;
    let (status, code) = send_from(
        &w,
        "198.51.100.7",
        json!({"purpose": "confirm_email"}),
        &w.setup_token(&newcomer),
    )
    .await;

    assert_eq!(
        (status, code.as_str()),
        (202, ""),
        "a new user of the forced side cannot confirm its address, so cannot sign in"
    );
}

/// Red team (promise: a destination is not mailed without bound by accounts that do
/// not own it). The per-destination cap (10 an hour) keys an address by its
/// lower-cased text, but `victim+1@…`, `victim+2@…` (and, at Gmail, `v.ictim@…`)
/// are one inbox. Accounts registered under such aliases, none of them the
/// owner's, mail the victim's inbox up to the side's confirmation budget (200 an
/// hour) per side, twenty times the per-destination cap.
#[tokio::test]

async fn aliases_of_one_inbox_do_not_mail_it_past_its_hourly_cap() {
    let w = world();
    let mut tokens = Vec::new();
    for i in 0..5 {
        let account = throwaway(
            &w,
            twofa::side::Side::Host,
            &format!("victim+{i}@example.com"),
            UserPatch::default(),
        )
        .await;
        tokens.push(w.access_token(&account, None).await);
    }
    for _ in 0..10 {
        for token in &tokens {
            w.send_code(&json!({"purpose": "confirm_email"}), Some(token))
                .await;
        }
        w.clock.advance(31);
    }
    let to_the_inbox = w
        .outbox()
        .iter()
        .filter(|m| m.to.starts_with("victim+") && m.to.ends_with("@example.com"))
        .count();

    assert!(
        to_the_inbox <= 10,
        "one inbox got {to_the_inbox} confirmation emails in under an hour from accounts that do not own it"
    );
}
