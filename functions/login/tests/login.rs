//! POST /login through the handler, over the memory store and a manual clock.

use std::sync::Arc;

use serde_json::{Value, json};
use twofa::app::Core;
use twofa::config::Config;
use twofa::devices::{Device, device_token_hash, new_device_token};
use twofa::lockout::LockoutPolicy;
use twofa::policy::{Behaviour, TwoFactorSettings};
use twofa::senders::log::LogSender;
use twofa::side::Side;
use twofa::store::{TenantStore, UserStore};
use twofa::tenant::Tenant;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{Reply, json_request, memory_core, seed_user};
use twofa::tokens::TokenKind;
use twofa::user::UserPatch;

async fn login_req(
    core: &Core,
    body: Value,
    cookie: Option<&str>,
) -> (u16, Value, http::HeaderMap) {
    let mut req = json_request("POST", "/login", &body, None);
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    let resp = login::handle(core, &LogSender::default(), req).await;
    let r = Reply::of(&resp);
    (r.status, r.body, r.headers)
}

async fn login(core: &Core, email: &str, password: &str) -> (u16, Value) {
    let (s, b, _) = login_req(core, json!({"email": email, "password": password}), None).await;
    (s, b)
}

#[tokio::test]
async fn the_right_password_signs_in_with_a_bearer_access_token_when_2fa_is_off() {
    let (core, _, _) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (status, body) = login(&core, "JANE@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["status"].as_str(),
            body["token_type"].as_str(),
            body["expires_in"].as_i64()
        ),
        (Some("signed_in"), Some("Bearer"), Some(900))
    );
    let claims = core
        .tokens
        .verify(
            TokenKind::Access,
            body["access_token"].as_str().unwrap(),
            core.now(),
        )
        .unwrap();
    assert_eq!(claims.sub, user.id);
    assert_eq!(claims.amr, vec!["pwd"]);
}

/// An address typed in a look-alike form signs in to the account; an account stored
/// before addresses were normalised (its text and key as typed then) still signs in
/// typed as it was registered.
#[tokio::test]
async fn look_alike_forms_and_accounts_registered_before_normalisation_sign_in() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jos\u{e9}@example.com", PASSWORD, &[]).await;
    for typed in [
        "jose\u{301}@example.com",
        "\u{ff4a}os\u{e9}@\u{ff45}xample.com",
    ] {
        assert_eq!(login(&core, typed, PASSWORD).await.0, 200, "{typed:?}");
    }

    let before = twofa::email::Email::from_stored("ann\u{e9}e@example.com").unwrap();
    let legacy = twofa::email::Email::from_stored("Rene\u{301}@example.com").unwrap();
    for email in [before, legacy] {
        let user = twofa::user::User::new(
            Side::Host,
            email,
            twofa::password::hash_blocking_for_tests(PASSWORD),
            core.now(),
        );
        core.store.create_user(&user).await.unwrap();
    }
    let (status, body) = login(&core, "Rene\u{301}@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = login(&core, "ann\u{e9}e@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
}

/// Look-alike twins registered before the rules made them one address (an account
/// stored under its address as typed, decomposed, and one registered since under
/// the composed form) both keep signing in: each is found by its owner's spelling,
/// the most literal key, never the other's.
#[tokio::test]
async fn twins_registered_before_addresses_were_one_each_sign_in_typed_as_registered() {
    const OTHER: &str = "another long passphrase here";
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jos\u{e9}@example.com", OTHER, &[]).await;
    let typed = "jose\u{301}@example.com";
    let before = twofa::user::User::new(
        Side::Host,
        twofa::email::Email::from_stored(typed).unwrap(),
        twofa::password::hash_blocking_for_tests(PASSWORD),
        core.now(),
    );
    core.store.create_user(&before).await.unwrap();

    let (status, body) = login(&core, typed, PASSWORD).await;
    assert_eq!(status, 200, "the account stored as typed: {body}");
    let (status, body) = login(&core, "jos\u{e9}@example.com", OTHER).await;
    assert_eq!(status, 200, "the account registered since: {body}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (s1, b1) = login(&core, "jane@example.com", "wrong horse battery staple").await;
    let (s2, b2) = login(&core, "nobody@example.com", PASSWORD).await;
    let (s3, b3) = login(&core, "not an email", PASSWORD).await;
    assert_eq!((s1, s2, s3), (401, 401, 401));
    assert_eq!(b1, b2);
    assert_eq!(b1, b3);
    assert_eq!(b1["error"], "invalid_credentials");
}

#[tokio::test]
async fn the_fifth_failure_locks_for_five_minutes_even_against_the_right_password() {
    let (core, _, clock) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    for i in 1..=4 {
        assert_eq!(
            login(&core, "jane@example.com", "wrong horse battery")
                .await
                .0,
            401,
            "failure {i}"
        );
    }
    let (status, body, headers) = login_req(
        &core,
        json!({"email": "jane@example.com", "password": "wrong horse battery"}),
        None,
    )
    .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["retry_after_seconds"].as_i64()
        ),
        (423, Some("locked_out"), Some(300))
    );
    assert_eq!(headers.get("retry-after").unwrap(), "300");
    clock.advance(120);
    let (status, body) = login(&core, "jane@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["retry_after_seconds"].as_i64()),
        (423, Some(180))
    );
    clock.advance(180);
    assert_eq!(login(&core, "jane@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn a_success_resets_the_count_of_failures() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    for _ in 0..4 {
        login(&core, "jane@example.com", "wrong horse battery").await;
    }
    assert_eq!(login(&core, "jane@example.com", PASSWORD).await.0, 200);
    for i in 1..=4 {
        assert_eq!(
            login(&core, "jane@example.com", "wrong horse battery")
                .await
                .0,
            401,
            "failure {i} after the reset"
        );
    }
}

#[tokio::test]
async fn the_lockout_limits_are_configurable() {
    let env: std::collections::HashMap<String, String> = [
        ("LOCKOUT_MAX_FAILED_ATTEMPTS", "2"),
        ("LOCKOUT_DURATION_SECONDS", "60"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (core, _, _) = memory_core(Config::read(&env).unwrap());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    assert_eq!(
        login(&core, "jane@example.com", "wrong horse battery")
            .await
            .0,
        401
    );
    let (status, body) = login(&core, "jane@example.com", "wrong horse battery").await;
    assert_eq!(
        (status, body["retry_after_seconds"].as_i64()),
        (423, Some(60))
    );
}

#[tokio::test]
async fn each_side_locks_by_its_own_values_and_a_tenant_without_them_by_the_hosts() {
    let (core, _, _) = memory_core(Config::default());
    for name in ["acme", "globex"] {
        let tenant = Tenant::new(name, 0);
        core.store
            .create_tenant(
                &tenant,
                &twofa::testing::seed_user_value(&tenant.side(), &format!("admin@{name}.example")),
            )
            .await
            .unwrap();
        seed_user(&core, tenant.side(), "jane@example.com", PASSWORD, &[]).await;
    }
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    core.store
        .set_host_lockout(
            &LockoutPolicy {
                max_failed_attempts: 2,
                duration_seconds: 60,
            },
            None,
        )
        .await
        .unwrap();
    core.store
        .set_tenant_lockout(
            "acme",
            &LockoutPolicy {
                max_failed_attempts: 3,
                duration_seconds: 120,
            },
            None,
        )
        .await
        .unwrap();

    for (tenant, attempts, seconds) in [
        (None, 2, 60),
        (Some("acme"), 3, 120),
        (Some("globex"), 2, 60),
    ] {
        let body = json!({"tenant": tenant, "email": "jane@example.com", "password": "wrong horse battery staple"});
        for _ in 1..attempts {
            assert_eq!(
                login_req(&core, body.clone(), None).await.0,
                401,
                "{tenant:?}"
            );
        }
        let (status, answer, _) = login_req(&core, body, None).await;
        assert_eq!(
            (status, &answer["retry_after_seconds"]),
            (423, &json!(seconds)),
            "{tenant:?}"
        );
    }
}

#[tokio::test]
async fn twenty_concurrent_wrong_passwords_get_at_most_five_invalid_credentials() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let core = Arc::new(core);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let core = core.clone();
            tokio::spawn(async move {
                login(&core, "jane@example.com", "wrong horse battery")
                    .await
                    .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let invalid = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 423).count();
    assert_eq!(invalid + locked, 20, "{statuses:?}");
    assert!(invalid <= 5, "{invalid} invalid_credentials: {statuses:?}");
    assert_eq!(login(&core, "jane@example.com", PASSWORD).await.0, 423);
}

#[tokio::test]
async fn tenants_are_separate_and_unknown_tenants_are_404() {
    let (core, store, _) = memory_core(Config::default());
    let tenant = Tenant {
        name: "acme".into(),
        feature: Behaviour::Optional,
        settings: TwoFactorSettings::default(),
        created_at: 0,
        lockout: None,
        host_lockout: None,
    };
    store
        .create_tenant(
            &tenant,
            &twofa::testing::seed_user_value(&tenant.side(), "admin@acme.example"),
        )
        .await
        .unwrap();
    seed_user(&core, tenant.side(), "jane@example.com", PASSWORD, &[]).await;
    assert_eq!(
        login(&core, "jane@example.com", PASSWORD).await.0,
        401,
        "a tenant user is not a host user"
    );
    let (s, _, _) = login_req(
        &core,
        json!({"tenant": "Acme", "email": "jane@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, b, _) = login_req(
        &core,
        json!({"tenant": "nope", "email": "jane@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (404, Some("unknown_tenant")));
}

#[tokio::test]
async fn with_2fa_on_the_password_leads_to_the_confirmed_providers_in_contract_order() {
    let (core, store, _) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let patch = UserPatch {
        two_factor_enabled: Some(true),
        email_confirmed: Some(true),
        phone_number: Some(Some(twofa::testing::test_phone("+15555550100"))),
        phone_number_confirmed: Some(true),
        ..Default::default()
    };
    store.update_user(&user.id, &patch).await.unwrap();
    let (status, body) = login(&core, "jane@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "two_factor_required");
    assert_eq!(body["providers"], json!(["email", "sms"]));
    assert_eq!(body["remember_browser_allowed"], true);
    assert!(
        body.get("access_token").is_none(),
        "no session before the second factor"
    );
    let tf = body["two_factor_token"].as_str().unwrap();
    let claims = core
        .tokens
        .verify(TokenKind::TwoFactor, tf, core.now())
        .unwrap();
    assert!(
        core.tokens
            .verify(TokenKind::Access, tf, core.now())
            .is_err(),
        "a two-factor token is not an access token"
    );
    let stored = store.user(&user.id).await.unwrap().unwrap();
    assert_eq!(claims.sign_in_id(), stored.pending_sign_in);
}

#[tokio::test]
async fn unconfirmed_destinations_and_disallowed_providers_are_not_offered() {
    let (core, store, _) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let patch = UserPatch {
        two_factor_enabled: Some(true),
        email_confirmed: Some(true),
        phone_number: Some(Some(twofa::testing::test_phone("+15555550100"))),
        ..Default::default()
    };
    store.update_user(&user.id, &patch).await.unwrap();
    assert_eq!(
        login(&core, "jane@example.com", PASSWORD).await.1["providers"],
        json!(["email"])
    );
    store
        .set_host_settings(&TwoFactorSettings {
            allowed_providers: vec![twofa::policy::Provider::Sms],
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, body) = login(&core, "jane@example.com", PASSWORD).await;
    assert_ne!(
        body["status"], "signed_in",
        "2FA still applies when nothing is usable: {body}"
    );
}

#[tokio::test]
async fn forced_2fa_without_a_usable_provider_gives_only_a_setup_token() {
    let (core, store, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    store
        .set_host_settings(&TwoFactorSettings {
            behaviour: Behaviour::Forced,
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, body) = login(&core, "jane@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("two_factor_setup_required"))
    );
    let setup = body["setup_token"].as_str().unwrap();
    assert!(
        core.tokens
            .verify(TokenKind::Setup, setup, core.now())
            .is_ok()
    );
    assert!(
        core.tokens
            .verify(TokenKind::Access, setup, core.now())
            .is_err()
    );
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn disabled_2fa_never_asks_even_when_the_user_turned_it_on() {
    let (core, store, _) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    store
        .update_user(
            &user.id,
            &UserPatch {
                two_factor_enabled: Some(true),
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .set_host_settings(&TwoFactorSettings {
            behaviour: Behaviour::Disabled,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        login(&core, "jane@example.com", PASSWORD).await.1["status"],
        "signed_in"
    );
}

async fn remembered_user(core: &Core, expires_in: i64) -> (twofa::user::User, String) {
    let user = seed_user(core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    core.store
        .update_user(
            &user.id,
            &UserPatch {
                two_factor_enabled: Some(true),
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (device_id, token) = new_device_token().unwrap();
    let device = Device {
        user_id: user.id.clone(),
        device_id,
        token_hash: device_token_hash(&core.hash_key, &user.id, token.expose()),
        security_stamp: user.security_stamp.clone(),
        created_at: core.now(),
        last_used_at: core.now(),
        expires_at: core.now() + expires_in,
        user_agent: None,
    };
    twofa::store::DeviceStore::put_device(core.store.as_ref(), &device)
        .await
        .unwrap();
    (user, token.expose().clone())
}

#[tokio::test]
async fn a_remembered_browser_skips_the_second_factor_by_body_or_cookie() {
    let (core, _, _) = memory_core(Config::default());
    let (_, token) = remembered_user(&core, 86_400).await;
    let (_, body, _) = login_req(
        &core,
        json!({"email": "jane@example.com", "password": PASSWORD, "remember_browser_token": token}),
        None,
    )
    .await;
    assert_eq!(body["status"], "signed_in");
    let cookie = format!("Identity.TwoFactorRememberMe={token}");
    let (_, body, _) = login_req(
        &core,
        json!({"email": "jane@example.com", "password": PASSWORD}),
        Some(&cookie),
    )
    .await;
    assert_eq!(body["status"], "signed_in");
    let claims = core
        .tokens
        .verify(
            TokenKind::Access,
            body["access_token"].as_str().unwrap(),
            core.now(),
        )
        .unwrap();
    // A remembered browser is a bearer cookie, not a second factor RFC 8176 names:
    // the token says the password only, at aal1.
    assert_eq!(claims.amr, vec!["pwd"]);
    assert_eq!(claims.acr.as_deref(), Some("aal1"));
}

#[tokio::test]
async fn a_remembered_browser_stops_working_when_it_expires_or_the_security_stamp_changes() {
    let (core, _, clock) = memory_core(Config::default());
    let (user, token) = remembered_user(&core, 100).await;
    let body =
        json!({"email": "jane@example.com", "password": PASSWORD, "remember_browser_token": token});
    assert_eq!(
        login_req(&core, body.clone(), None).await.1["status"],
        "signed_in"
    );
    clock.advance(100);
    assert_eq!(
        login_req(&core, body.clone(), None).await.1["status"],
        "two_factor_required"
    );
    clock.advance(-100);
    core.store
        .update_user(
            &user.id,
            &UserPatch {
                security_stamp: Some("changed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        login_req(&core, body.clone(), None).await.1["status"],
        "two_factor_required"
    );
    let forged = json!({"email": "jane@example.com", "password": PASSWORD, "remember_browser_token": format!("{token}x")});
    assert_eq!(
        login_req(&core, forged, None).await.1["status"],
        "two_factor_required"
    );
}

#[tokio::test]
async fn a_remembered_browser_does_not_bypass_the_password() {
    let (core, _, _) = memory_core(Config::default());
    let (_, token) = remembered_user(&core, 86_400).await;
    let (status, _, _) = login_req(&core, json!({"email": "jane@example.com", "password": "wrong horse battery", "remember_browser_token": token}), None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn malformed_requests_get_400_naming_the_field_and_count_nothing() {
    let (core, store, _) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    for (body, field) in [
        (json!({"password": PASSWORD}), "email"),
        (json!({"email": "jane@example.com"}), "password"),
        (
            json!({"email": "jane@example.com", "password": 12}),
            "password",
        ),
        (
            json!({"email": "jane@example.com", "password": PASSWORD, "tenant": 5}),
            "tenant",
        ),
    ] {
        let (s, b, _) = login_req(&core, body, None).await;
        assert_eq!(
            (s, b["error"].as_str(), b["field"].as_str()),
            (400, Some("invalid_request"), Some(field))
        );
    }
    assert_eq!(store.user(&user.id).await.unwrap().unwrap().failed_count, 0);
}

#[tokio::test]
async fn an_unknown_email_locks_after_as_many_failures_as_an_account_and_answers_alike() {
    let (core, _, clock) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..6 {
        known.push(
            login_req(
                &core,
                json!({"email": "jane@example.com", "password": "wrong horse battery"}),
                None,
            )
            .await,
        );
        unknown.push(
            login_req(
                &core,
                json!({"email": "nobody@example.com", "password": "wrong horse battery"}),
                None,
            )
            .await,
        );
    }
    let statuses =
        |v: &Vec<(u16, Value, http::HeaderMap)>| v.iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(statuses(&known), vec![401, 401, 401, 401, 423, 423]);
    assert_eq!(
        statuses(&unknown),
        statuses(&known),
        "a lockout must not tell a known email from an unknown one"
    );
    for (k, u) in known.iter().zip(&unknown) {
        assert_eq!(k.1, u.1);
        assert_eq!(k.2.get("retry-after"), u.2.get("retry-after"));
    }
    clock.advance(300);
    assert_eq!(
        login(&core, "nobody@example.com", "wrong horse battery")
            .await
            .0,
        401,
        "the lock ends as an account's does"
    );
}

#[tokio::test]
async fn an_unknown_emails_failures_are_recorded_under_its_key_without_the_email_or_password() {
    let (core, store, _) = memory_core(Config::default());
    let password = "wrong horse battery";
    for _ in 0..5 {
        login(&core, "Nobody@example.com", password).await;
    }
    let key = twofa::flows::unknown_email_key(&core, &Side::Host, "nobody@example.com");
    let kept = store.unknown_events(&key);
    let types: Vec<&str> = kept.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "locked_out"
        ],
        "as an account's failures are recorded: the same writes"
    );
    for e in &kept {
        let text = format!("{e:?} {}", serde_json::to_string(e).unwrap()).to_lowercase();
        assert!(
            !text.contains("nobody") && !text.contains(password),
            "{text}"
        );
        assert_eq!(e.user_id, "", "no account");
    }
    seed_user(&core, Side::Host, "nobody@example.com", PASSWORD, &[]).await;
    assert!(
        twofa::store::EventStore::side_events(store.as_ref(), &Side::Host, None, None, 10)
            .await
            .unwrap()
            .items
            .is_empty(),
        "no list shows them, not even once the email has an account"
    );
}

#[tokio::test]
async fn registering_an_email_whose_unknown_counter_is_locked_is_not_blocked() {
    let (core, _, _) = memory_core(Config::default());
    for _ in 0..5 {
        login(&core, "late@example.com", "wrong horse battery").await;
    }
    assert_eq!(login(&core, "late@example.com", PASSWORD).await.0, 423);
    seed_user(&core, Side::Host, "late@example.com", PASSWORD, &[]).await;
    assert_eq!(
        login(&core, "late@example.com", PASSWORD).await.0,
        200,
        "the account's own counter decides from now on"
    );
}

#[tokio::test]
async fn consecutive_failures_stop_at_one_hundred_across_lock_periods_with_a_thirty_day_lock() {
    // NIST SP 800-63B 5.2.2: at most 100 consecutive failures in 30 days, whatever the settings.
    let env: std::collections::HashMap<String, String> = [
        ("LOCKOUT_MAX_FAILED_ATTEMPTS", "50"),
        ("LOCKOUT_DURATION_SECONDS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (core, _, clock) = memory_core(Config::read(&env).unwrap());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let mut last = (0, Value::Null);
    for _ in 0..100 {
        last = login(&core, "jane@example.com", "wrong horse battery").await;
        if last.0 == 423 {
            clock.advance(1);
        }
    }
    assert_eq!(
        (last.0, last.1["retry_after_seconds"].as_i64()),
        (423, Some(30 * 86_400)),
        "the hundredth failure locks for 30 days"
    );
    clock.advance(86_400);
    assert_eq!(login(&core, "jane@example.com", PASSWORD).await.0, 423);
}

#[tokio::test]
async fn the_hundredth_failure_raced_by_a_refused_guess_still_ends_in_a_lock_that_ends() {
    // Attack: drive the streak to 95 with wrong passwords (19 five-minute locks), then
    // send six wrong guesses at once. Five take the last slots (the fifth is the
    // hundredth failure); the sixth finds every slot held and locks for five minutes.
    // The hundredth failure's 30-day lock then finds the account locked already, so
    // it never restarts the streak: from then on every attempt, the right password
    // included, is refused as "every slot held" and locks again, for ever.
    let (core, store, clock) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    for _ in 0..95 {
        if login(&core, "jane@example.com", "wrong horse battery")
            .await
            .0
            == 423
        {
            clock.advance(300);
        }
    }
    assert!(
        store
            .user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .lockout_end
            .is_some_and(|end| end <= core.now())
    );
    let wrong = || login(&core, "jane@example.com", "wrong horse battery");
    let raced = tokio::join!(wrong(), wrong(), wrong(), wrong(), wrong(), wrong());
    assert_eq!(raced.5.0, 423, "the sixth guess found every slot held");
    clock.advance(30 * 86_400 + 1);
    assert_eq!(
        login(&core, "jane@example.com", PASSWORD).await.0,
        200,
        "after the longest lock the right password must sign in again: the account must not refuse for ever"
    );
}

#[tokio::test]
async fn a_hundredth_failure_whose_lock_was_never_written_still_ends_in_a_lock_that_ends() {
    // The hundredth failure took its slot, then its Lambda died (timeout, crash) before
    // the 30-day lock was written: the streak sits at the limit with no lock to restart
    // it. The next attempt must lock for the long period, not for minutes again and
    // again, and after it the right password must sign in.
    use twofa::store::{HARD_LIMIT, Slot, Subject};
    let (core, store, clock) = memory_core(Config::default());
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let mut taken = 0;
    while taken < HARD_LIMIT {
        let now = core.now();
        match store
            .take_slot(
                Subject::User(&user.id),
                &format!("abandoned-{taken}").into(),
                None,
                5,
                now,
            )
            .await
            .unwrap()
        {
            Slot::Taken { count, .. } if count < 5 || taken + 1 == HARD_LIMIT => taken += 1,
            Slot::Taken { .. } => {
                taken += 1;
                store
                    .lock(Subject::User(&user.id), now, now + 300, false)
                    .await
                    .unwrap();
                clock.advance(300);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(login(&core, "jane@example.com", PASSWORD).await.0, 423);
    clock.advance(30 * 86_400 + 1);
    assert_eq!(
        login(&core, "jane@example.com", PASSWORD).await.0,
        200,
        "the account must not refuse for ever"
    );
}

/// An email provider that takes `delay` to accept each message (on tokio's clock).
struct SlowEmail {
    delay: std::time::Duration,
}

#[async_trait::async_trait]
impl twofa::senders::EmailSender for SlowEmail {
    async fn send_email(
        &self,
        _message: &twofa::senders::EmailMessage,
    ) -> Result<(), twofa::senders::DeliveryError> {
        tokio::time::sleep(self.delay).await;
        Ok(())
    }
}

/// How long (on tokio's paused clock, so the sleeps are exact and instant) the
/// attempt that locks takes, for a known account with a confirmed email and for an
/// unknown email.
async fn time_of_the_locking_answer(email: &str) -> std::time::Duration {
    let (core, _, _) = memory_core(Config {
        lockout: LockoutPolicy {
            max_failed_attempts: 1,
            duration_seconds: 300,
        },
        ..Config::default()
    });
    let user = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
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
    let sender = SlowEmail {
        delay: std::time::Duration::from_millis(300),
    };
    let req = json_request(
        "POST",
        "/login",
        &json!({"email": email, "password": "wrong horse battery"}),
        None,
    );
    let start = tokio::time::Instant::now();
    let resp = login::handle(&core, &sender, req).await;
    assert_eq!(resp.status().as_u16(), 423, "{}", Reply::of(&resp).body);
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn the_attempt_that_locks_answers_after_the_same_time_for_a_known_and_an_unknown_email() {
    let known = time_of_the_locking_answer("jane@example.com").await;
    let unknown = time_of_the_locking_answer("nobody@example.com").await;
    // The known account's lockout notice takes the provider 300 ms; the answer must
    // not wait for it longer than the unknown email's answer waits for nothing.
    assert_eq!(
        known.as_millis(),
        unknown.as_millis(),
        "the lockout notice's send time tells that the account exists"
    );
    assert!(known.as_millis() >= 300, "{known:?}");
}

async fn refresh_req(core: &Core, token: &str) -> (u16, Value) {
    let req = json_request(
        "POST",
        "/token/refresh",
        &json!({"refresh_token": token}),
        None,
    );
    let r = Reply::of(&login::handle(core, &LogSender::default(), req).await);
    (r.status, r.body)
}

#[tokio::test]
async fn the_token_just_rotated_presented_again_after_a_moment_ends_the_session() {
    let (core, _, clock) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let (status, renewed) = refresh_req(&core, &old).await;
    assert_eq!(status, 200, "{renewed}");
    // Past the moment a racing twin could explain it, the old token is a copy.
    clock.advance(60);
    assert_eq!(refresh_req(&core, &old).await.0, 401);
    let (status, body) = refresh_req(&core, renewed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_session_ends_at_its_lifetime_from_sign_in_however_often_it_is_refreshed() {
    let config = Config {
        refresh_token_ttl_seconds: 3600,
        ..Config::default()
    };
    let (core, _, clock) = memory_core(config);
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    assert_eq!(first["refresh_expires_in"], 3600);
    let mut token = first["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..3 {
        clock.advance(1000);
        let (status, body) = refresh_req(&core, &token).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["refresh_expires_in"].as_i64().unwrap() <= 3600 - 1000);
        assert!(
            body["expires_in"].as_i64().unwrap() <= body["refresh_expires_in"].as_i64().unwrap()
        );
        token = body["refresh_token"].as_str().unwrap().to_string();
    }
    clock.advance(700);
    assert_eq!(refresh_req(&core, &token).await.0, 401);
}

#[tokio::test]
async fn a_locked_out_user_cannot_refresh() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let token = first["refresh_token"].as_str().unwrap();
    // Someone guessing at the password locks the account: its sessions stop renewing.
    for _ in 0..5 {
        login(&core, "jane@example.com", "wrong horse battery staple").await;
    }
    let (status, body) = refresh_req(&core, token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_token_just_rotated_coming_again_from_another_client_ends_the_session_at_once() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let (_, renewed) = refresh_req(&core, &old).await;
    // The same moment, but not from the address the session signed in from (these
    // requests carry none): a copy, not a twin tab.
    assert_eq!(refresh_req(&core, &old).await.0, 401);
    let (status, _) = refresh_req(&core, renewed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "the session ended");
}

#[tokio::test]
async fn a_password_only_session_stops_renewing_once_the_policy_forces_a_second_factor() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let token = first["refresh_token"].as_str().unwrap().to_string();
    let (status, renewed) = refresh_req(&core, &token).await;
    assert_eq!(status, 200, "{renewed}");
    core.store
        .set_host_settings(&TwoFactorSettings {
            behaviour: Behaviour::Forced,
            ..TwoFactorSettings::default()
        })
        .await
        .unwrap();
    let (status, body) = refresh_req(&core, renewed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_grant"))
    );
}

/// A request to the token routes with `body` and, when given, the refresh cookie.
async fn token_req(core: &Core, path: &str, body: Value, cookie: Option<&str>) -> Reply {
    let mut req = json_request("POST", path, &body, None);
    if let Some(token) = cookie {
        let header = format!("theme=dark; {}={token}", twofa::tokens::REFRESH_COOKIE);
        req.headers_mut().insert("cookie", header.parse().unwrap());
    }
    Reply::of(&login::handle(core, &LogSender::default(), req).await)
}

fn set_cookies(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn refresh_cookie_of(headers: &http::HeaderMap) -> String {
    let all = set_cookies(headers);
    let found: Vec<_> = all
        .iter()
        .filter(|c| c.starts_with("twofa_refresh="))
        .collect();
    assert_eq!(found.len(), 1, "one refresh cookie: {all:?}");
    found[0].clone()
}

#[tokio::test]
async fn a_sign_in_sets_the_refresh_token_as_an_http_only_strict_cookie_of_the_token_routes() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (status, body, headers) = login_req(
        &core,
        json!({"email": "jane@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        refresh_cookie_of(&headers),
        format!(
            "twofa_refresh={}; Max-Age={}; Path=/token; HttpOnly; Secure; SameSite=Strict",
            body["refresh_token"].as_str().unwrap(),
            body["refresh_expires_in"].as_i64().unwrap()
        )
    );
}

#[tokio::test]
async fn a_refresh_by_the_cookie_rotates_the_token_and_sets_the_next_one_as_the_cookie() {
    let (core, _, clock) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let old = first["refresh_token"].as_str().unwrap();

    let renewed = token_req(&core, "/token/refresh", json!({}), Some(old)).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let next = renewed.body["refresh_token"].as_str().unwrap();
    assert_ne!(next, old);
    assert!(
        core.tokens
            .verify(
                TokenKind::Access,
                renewed.body["access_token"].as_str().unwrap(),
                core.now()
            )
            .is_ok()
    );
    assert_eq!(
        refresh_cookie_of(&renewed.headers),
        format!(
            "twofa_refresh={next}; Max-Age={}; Path=/token; HttpOnly; Secure; SameSite=Strict",
            renewed.body["refresh_expires_in"].as_i64().unwrap()
        )
    );

    // A token in the body is the one judged, whatever the cookie holds.
    clock.advance(60);
    let body_wins = token_req(
        &core,
        "/token/refresh",
        json!({"refresh_token": "not-a-refresh-token"}),
        Some(next),
    )
    .await;
    assert_eq!(
        (body_wins.status, body_wins.error.as_str()),
        (401, "invalid_grant")
    );
    let again = token_req(&core, "/token/refresh", json!({}), Some(next)).await;
    assert_eq!(again.status, 200, "{}", again.text);
}

#[tokio::test]
async fn a_revoke_by_the_cookie_ends_the_session_and_clears_the_cookie() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let token = first["refresh_token"].as_str().unwrap();

    let revoked = token_req(&core, "/token/revoke", json!({}), Some(token)).await;
    assert_eq!((revoked.status, &revoked.body), (200, &json!({})));
    assert_eq!(
        refresh_cookie_of(&revoked.headers),
        "twofa_refresh=; Max-Age=0; Path=/token; HttpOnly; Secure; SameSite=Strict"
    );
    assert_eq!(refresh_req(&core, token).await.0, 401);
    // Nothing to revoke is still 200 (RFC 7009), and still clears the cookie.
    let nothing = token_req(&core, "/token/revoke", json!({}), None).await;
    assert_eq!((nothing.status, &nothing.body), (200, &json!({})));
    assert!(refresh_cookie_of(&nothing.headers).contains("Max-Age=0"));
}

#[tokio::test]
async fn bad_input_on_the_token_routes_is_a_4xx_json_error_and_changes_nothing() {
    let (core, _, _) = memory_core(Config::default());
    seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
    let (_, first) = login(&core, "jane@example.com", PASSWORD).await;
    let token = first["refresh_token"].as_str().unwrap();

    let cases = [
        ("/token/refresh", json!({}), None),
        ("/token/refresh", json!({}), Some("")),
        ("/token/refresh", json!([]), Some(token)),
        ("/token/refresh", json!("x"), Some(token)),
        ("/token/refresh", json!({"refresh_token": 5}), Some(token)),
        ("/token/revoke", json!([]), Some(token)),
        ("/token/revoke", json!({"refresh_token": 5}), Some(token)),
    ];
    for (i, (path, body, cookie)) in cases.into_iter().enumerate() {
        let r = token_req(&core, path, body, cookie).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (400, "invalid_request"),
            "row {i}: {}",
            r.text
        );
        assert!(set_cookies(&r.headers).is_empty(), "row {i}: no cookie set");
    }
    // No body at all is refused too.
    let mut req = json_request("POST", "/token/refresh", &Value::Null, None);
    req.headers_mut()
        .insert("cookie", format!("twofa_refresh={token}").parse().unwrap());
    let r = Reply::of(&login::handle(&core, &LogSender::default(), req).await);
    assert_eq!(r.status, 400, "{}", r.text);
    // The session was left alone: its token still renews it.
    assert_eq!(refresh_req(&core, token).await.0, 200);
}
