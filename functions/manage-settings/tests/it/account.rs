//! The account routes: the caller's own 2FA state and flag, the authenticator app,
//! recovery codes and remembered browsers; step-up and security notices.

use crate::support;
use twofa::ids::{AttemptId, DeviceId};
use twofa::testing::Client;

use serde_json::json;
use support::World;
use twofa::devices::Device;
use twofa::testing::fixtures::PASSWORD;
use twofa::totp;
use twofa::user::{Authenticator, User, UserPatch};

fn sms_ready() -> UserPatch {
    UserPatch {
        phone_number: Some(Some(twofa::testing::test_phone("+15555550100"))),
        phone_number_confirmed: Some(true),
        ..Default::default()
    }
}

/// Starts enrolment and returns the key the user's app would hold.
async fn start_enrolment(w: &World, token: &str) -> Vec<u8> {
    let r = w
        .settings("POST", "/account/authenticator", json!(null), Some(token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shared = r.body["shared_key"]
        .as_str()
        .expect("shared_key")
        .to_string();
    totp::key_from_base32(&shared).expect("base32 key")
}

#[tokio::test]
async fn the_account_view_shows_policy_providers_with_masked_hints_and_recovery_codes_left() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                recovery_codes: Some(vec!["h1".into(), "h2".into()]),
                ..sms_ready()
            },
        )
        .await;
    let r = w
        .settings(
            "GET",
            "/account/two-factor",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "behaviour": "optional", "decided_by": "user", "enabled": false, "can_change": true,
            "remember_browser_allowed": true,
            "allowed_providers": ["passkey", "authenticator", "email", "sms"],
            "providers": {
                "passkey": {"count": 0, "allowed": true},
                "authenticator": {"enabled": false, "allowed": true},
                "email": {"hint": "a***@acme.example", "confirmed": true, "allowed": true},
                "sms": {"hint": "+1*******0100", "confirmed": true, "allowed": true}
            },
            "recovery_codes_left": 2
        })
    );
    let r = w
        .settings(
            "GET",
            "/account/two-factor",
            json!(null),
            Some(&w.token(&w.host_user).await),
        )
        .await;
    assert_eq!(
        r.body["providers"]["sms"],
        json!({"hint": null, "confirmed": false, "allowed": true})
    );
}

#[tokio::test]
async fn reading_the_account_view_costs_two_store_reads_the_user_and_its_side() {
    let w = World::new().await;
    for user in [&w.host_user, &w.acme_user] {
        let t = w.token(user).await;
        let before = w.store.reads();
        let r = w
            .settings("GET", "/account/two-factor", json!(null), Some(&t))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            w.store.reads() - before,
            2,
            "reads for {}",
            user.email.as_str()
        );
    }
}

async fn view(w: &World, user: &User) -> serde_json::Value {
    w.settings(
        "GET",
        "/account/two-factor",
        json!(null),
        Some(&w.token(user).await),
    )
    .await
    .body
}

#[tokio::test]
async fn the_account_view_names_the_layer_that_decided() {
    let w = World::new().await;
    let host = w.token(&w.host_admin).await;
    let acme = w.token(&w.acme_admin).await;
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"behaviour": "forced"}),
        Some(&host),
    )
    .await;
    let v = view(&w, &w.host_user).await;
    assert_eq!(
        (
            &v["behaviour"],
            &v["decided_by"],
            &v["enabled"],
            &v["can_change"]
        ),
        (
            &json!("forced"),
            &json!("host"),
            &json!(true),
            &json!(false)
        )
    );
    // The host's own settings never reach tenant users.
    assert_eq!(view(&w, &w.acme_user).await["decided_by"], "user");
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"behaviour": "disabled"}),
        Some(&acme),
    )
    .await;
    let v = view(&w, &w.acme_user).await;
    assert_eq!(
        (&v["behaviour"], &v["decided_by"], &v["enabled"]),
        (&json!("disabled"), &json!("tenant"), &json!(false))
    );
    w.settings(
        "PUT",
        "/tenants/acme/features/two-factor",
        json!({"behaviour": "forced"}),
        Some(&host),
    )
    .await;
    let v = view(&w, &w.acme_user).await;
    assert_eq!(
        (&v["behaviour"], &v["decided_by"], &v["enabled"]),
        (&json!("forced"), &json!("tenant_feature"), &json!(true))
    );
    assert_eq!(view(&w, &w.globex_user).await["decided_by"], "user");
}

#[tokio::test]
async fn a_user_turns_2fa_on_with_a_provider_and_is_told() {
    let w = World::new().await;
    let user = w.patch(&w.host_user, sms_ready()).await;
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, &r.body["enabled"]), (200, &json!(true)));
    let after = w.user(&user.id).await;
    assert!(after.two_factor_enabled);
    assert_ne!(after.security_stamp, user.security_stamp);
    let mail = w.mail_to(&user.email);
    assert_eq!(
        mail.iter()
            .filter_map(|m| m.subject.as_deref())
            .collect::<Vec<_>>(),
        ["Two-factor sign-in was turned on"]
    );
}

/// The race of a stolen token against a sign-out everywhere, made by hand on the
/// memory store: the change reads the caller (the old stamp), the owner signs out,
/// then the change writes. It must not land and hand back a token that outlives the
/// sign-out.
#[tokio::test]
async fn a_change_authenticated_before_a_sign_out_everywhere_and_written_after_it_answers_401_and_hands_out_no_token()
 {
    let w = World::new().await;
    let user = &w.host_user;
    let (stolen, own) = (w.token(user).await, w.token(user).await);
    let request = twofa::testing::json_request(
        "PUT",
        "/account/two-factor",
        &json!({"enabled": true}),
        Some(&stolen),
    );
    let caller = twofa::api::authenticate(&w.core, &request, &[twofa::tokens::TokenKind::Access])
        .await
        .expect("the stolen token is live when the change reads the caller");
    let out = w
        .settings(
            "POST",
            "/account/sign-out-everywhere",
            json!({}),
            Some(&own),
        )
        .await;
    assert_eq!(out.status, 204, "{:?}", out.body);

    let late = UserPatch {
        two_factor_enabled: Some(true),
        ..Default::default()
    };
    match twofa::flows::rotate_stamp(&w.core, &caller, &caller.user, late).await {
        Err(e) => {
            let e = twofa::api::ApiError::from(e);
            assert!(
                e.is(twofa::api::ErrorCode::Unauthorized),
                "the late change answered {e:?}"
            )
        }
        Ok((_, fresh)) => {
            let token = fresh.expect("a fresh token").access_token;
            let r = w
                .settings("GET", "/account/two-factor", json!(null), Some(&token))
                .await;
            panic!(
                "the late change landed and handed out a token answering {}",
                r.status
            );
        }
    }
    assert!(
        !w.user(&user.id).await.two_factor_enabled,
        "the late change was written"
    );
}

#[tokio::test]
async fn turning_2fa_on_before_any_provider_is_set_up_is_allowed_and_shown() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                email_confirmed: Some(false),
                ..Default::default()
            },
        )
        .await;
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, &r.body["enabled"]), (200, &json!(true)));
    assert!(w.user(&user.id).await.two_factor_enabled);
}

#[tokio::test]
async fn turning_2fa_off_needs_a_second_factor_proven_in_the_last_ten_minutes() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                two_factor_enabled: Some(true),
                ..sms_ready()
            },
        )
        .await;
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    let stale = w.mfa_token(&user).await;
    w.clock.advance(601);
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&stale),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert!(w.user(&user.id).await.two_factor_enabled);
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&w.mfa_token(&user).await),
        )
        .await;
    assert_eq!((r.status, &r.body["enabled"]), (200, &json!(false)));
    assert!(!w.user(&user.id).await.two_factor_enabled);
    assert_eq!(
        w.mail_to(&user.email)
            .last()
            .and_then(|m| m.subject.clone())
            .as_deref(),
        Some("Two-factor sign-in was turned off")
    );
}

#[tokio::test]
async fn a_user_cannot_change_the_flag_when_policy_decides_or_users_may_not() {
    let w = World::new().await;
    let acme = w.token(&w.acme_admin).await;
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"users_can_change": false}),
        Some(&acme),
    )
    .await;
    let user = w.patch(&w.acme_user, sms_ready()).await;
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
    assert_eq!(
        w.settings(
            "GET",
            "/account/two-factor",
            json!(null),
            Some(&w.token(&user).await)
        )
        .await
        .body["can_change"],
        false
    );
    // An admin of that side always may.
    let admin = w.patch(&w.acme_admin, sms_ready()).await;
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&w.token(&admin).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["can_change"], true);
    // Forced by the tenant: nobody's flag counts.
    let admin = w.user(&admin.id).await;
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "forced"}),
            Some(&w.mfa_token(&admin).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&w.mfa_token(&admin).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
    assert!(!w.user(&user.id).await.two_factor_enabled);
}

#[tokio::test]
async fn a_bad_flag_body_is_refused_naming_the_field() {
    let w = World::new().await;
    for body in [
        json!({}),
        json!({"enabled": "yes"}),
        json!({"enabled": null}),
    ] {
        let r = w
            .settings(
                "PUT",
                "/account/two-factor",
                body.clone(),
                Some(&w.token(&w.host_user).await),
            )
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("enabled")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn enrolling_an_authenticator_gives_a_key_uri_and_qr_code_and_keeps_the_key_sealed() {
    let w = World::new().await;
    let r = w
        .settings(
            "POST",
            "/account/authenticator",
            json!(null),
            Some(&w.token(&w.acme_user).await),
        )
        .await;
    assert_eq!(r.status, 200);
    let key = r.body["shared_key"].as_str().unwrap();
    assert_eq!(key.len(), 32, "160 bits in base32");
    let uri = r.body["authenticator_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/twofa:alice@acme.example?secret="),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={key}&issuer=twofa")), "{uri}");
    assert!(r.body["qr_code_svg"].as_str().unwrap().contains("<svg"));
    let stored = w
        .user(&w.acme_user.id)
        .await
        .authenticator
        .expect("a pending authenticator");
    assert!(!stored.enabled);
    assert!(!stored.sealed_key.contains(key));
    let bytes = totp::key_from_base32(key).unwrap();
    assert_eq!(
        w.core
            .seal_key
            .open(&stored.sealed_key, &w.acme_user.id)
            .unwrap()
            .expose(),
        &bytes
    );
    // Not yet a provider.
    let v = w
        .settings(
            "GET",
            "/account/two-factor",
            json!(null),
            Some(&w.token(&w.acme_user).await),
        )
        .await;
    assert_eq!(v.body["providers"]["authenticator"]["enabled"], false);
}

#[tokio::test]
async fn a_code_from_the_app_enables_it_turns_2fa_on_and_gives_ten_recovery_codes() {
    let w = World::new().await;
    let user = &w.acme_user;
    let t = w.token(user).await;
    let key = start_enrolment(&w, &t).await;
    let code = totp::code_at(&key, w.core.now()).unwrap();
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["enabled"], true);
    let codes: Vec<&str> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(codes.len(), 10);
    let after = w.user(&user.id).await;
    assert!(after.authenticator_enabled() && after.two_factor_enabled);
    assert_eq!(after.recovery_codes.len(), 10);
    assert!(
        after
            .recovery_codes
            .iter()
            .all(|h| !codes.contains(&h.as_str())),
        "only hashes are stored"
    );
    assert_ne!(after.security_stamp, user.security_stamp);
    let mail = w.mail_to(&user.email);
    assert_eq!(
        mail.last().and_then(|m| m.subject.as_deref()),
        Some("A new authenticator app was added")
    );
    // The new authenticator ended the old token; the answer carries its successor.
    let t = r.body["access_token"]
        .as_str()
        .expect("a fresh access token")
        .to_string();
    let v = w
        .settings("GET", "/account/two-factor", json!(null), Some(&t))
        .await;
    assert_eq!(
        (
            &v.body["providers"]["authenticator"]["enabled"],
            &v.body["recovery_codes_left"]
        ),
        (&json!(true), &json!(10))
    );
    // Enrolment is over: the code cannot be used again here.
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&t),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (409, "authenticator_exists"));
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_counted() {
    let w = World::new().await;
    let user = &w.host_user;
    let t = w.token(user).await;
    let key = start_enrolment(&w, &t).await;
    let now = w.core.now();
    let code = totp::code_at(&key, now).unwrap();
    // The step was used already (say, by a sign-in with another device): no replay.
    let used = twofa::store::Success {
        attempt: &AttemptId::from("earlier-sign-in"),
        sid: None,
        spend: twofa::store::Spend::TotpStep(now / 30),
        patch: &twofa::user::UserPatch::default(),
        release_only: false,
        authenticator: None,
    };
    assert_eq!(
        w.core.store.succeed(&user.id, &used, now).await.unwrap(),
        twofa::store::Succeeded::Done
    );
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&t),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str(), &r.body["attempts_remaining"]),
        (401, "invalid_code", &json!(4))
    );
    assert!(!w.user(&user.id).await.authenticator_enabled());
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_and_the_fifth_locks() {
    let w = World::new().await;
    let user = &w.host_user;
    let t = w.token(user).await;
    let key = start_enrolment(&w, &t).await;
    let good = totp::code_at(&key, w.core.now()).unwrap();
    let wrong = if good == "000000" { "111111" } else { "000000" };
    for left in [4, 3, 2, 1] {
        let r = w
            .settings(
                "POST",
                "/account/authenticator/verify",
                json!({"code": wrong}),
                Some(&t),
            )
            .await;
        assert_eq!(
            (r.status, r.error.as_str(), &r.body["attempts_remaining"]),
            (401, "invalid_code", &json!(left))
        );
    }
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": "not a code"}),
            Some(&t),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (423, "locked_out"));
    assert!(r.headers.contains_key("retry-after"));
    // Locked: even the right code waits.
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": good}),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 423);
    assert!(!w.user(&user.id).await.authenticator_enabled());
    assert_eq!(
        w.mail_to(&user.email)
            .last()
            .and_then(|m| m.subject.as_deref()),
        Some("Your account was locked")
    );
}

#[tokio::test]
async fn verifying_without_a_pending_authenticator_or_a_code_is_refused() {
    let w = World::new().await;
    let t = w.token(&w.host_user).await;
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": "123456"}),
            Some(&t),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (409, "no_pending_authenticator")
    );
    start_enrolment(&w, &t).await;
    for body in [json!({}), json!({"code": 123456})] {
        let r = w
            .settings(
                "POST",
                "/account/authenticator/verify",
                body.clone(),
                Some(&t),
            )
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("code")),
            "{body}"
        );
    }
    assert_eq!(
        w.user(&w.host_user.id).await.failed_count,
        0,
        "a malformed request is not a guess"
    );
}

#[tokio::test]
async fn a_user_forced_into_2fa_enrols_with_a_setup_token_and_must_sign_in_again() {
    let w = World::new().await;
    w.settings(
        "PUT",
        "/tenants/acme/features/two-factor",
        json!({"behaviour": "forced"}),
        Some(&w.token(&w.host_admin).await),
    )
    .await;
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                email_confirmed: Some(false),
                ..Default::default()
            },
        )
        .await;
    let setup = w.setup_token(&user);
    let key = start_enrolment(&w, &setup).await;
    let code = totp::code_at(&key, w.core.now()).unwrap();
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&setup),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["enabled"], &r.body["sign_in_again"]),
        (&json!(true), &json!(true))
    );
    assert!(w.user(&user.id).await.authenticator_enabled());
    // The setup token opens nothing else.
    for (m, p) in [
        ("GET", "/account/two-factor"),
        ("POST", "/account/recovery-codes"),
        ("GET", "/account/devices"),
    ] {
        assert_eq!(
            w.settings(m, p, json!(null), Some(&setup)).await.status,
            401,
            "{m} {p}"
        );
    }
}

#[tokio::test]
async fn an_authenticator_not_allowed_by_policy_cannot_be_enrolled() {
    let w = World::new().await;
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"allowed_providers": ["email", "sms"]}),
        Some(&w.token(&w.globex_admin).await),
    )
    .await;
    let r = w
        .settings(
            "POST",
            "/account/authenticator",
            json!(null),
            Some(&w.token(&w.globex_user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (400, "provider_unavailable"));
    assert!(w.user(&w.globex_user.id).await.authenticator.is_none());
}

#[tokio::test]
async fn a_working_authenticator_must_be_removed_before_another_is_enrolled() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                authenticator: Some(Some(Authenticator {
                    sealed_key: "k".into(),
                    enabled: true,
                })),
                ..Default::default()
            },
        )
        .await;
    let r = w
        .settings(
            "POST",
            "/account/authenticator",
            json!(null),
            Some(&w.mfa_token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (409, "authenticator_exists"));
    assert_eq!(w.user(&user.id).await.authenticator, user.authenticator);
}

#[tokio::test]
async fn removing_a_working_authenticator_needs_step_up_when_2fa_is_on() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                authenticator: Some(Some(Authenticator {
                    sealed_key: "k".into(),
                    enabled: true,
                })),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    let r = w
        .settings(
            "DELETE",
            "/account/authenticator",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert!(w.user(&user.id).await.authenticator_enabled());
    let r = w
        .settings(
            "DELETE",
            "/account/authenticator",
            json!(null),
            Some(&w.mfa_token(&user).await),
        )
        .await;
    assert_eq!(r.status, 204);
    let after = w.user(&user.id).await;
    assert!(after.authenticator.is_none());
    assert_ne!(after.security_stamp, user.security_stamp);
    assert_eq!(
        w.mail_to(&user.email)
            .last()
            .and_then(|m| m.subject.as_deref()),
        Some("An authenticator app was removed")
    );
    let r = w
        .settings(
            "DELETE",
            "/account/authenticator",
            json!(null),
            Some(&w.mfa_token(&after).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (404, "not_found"));
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones_and_need_step_up_when_2fa_is_on() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                two_factor_enabled: Some(true),
                recovery_codes: Some(vec!["old".into()]),
                ..Default::default()
            },
        )
        .await;
    let r = w
        .settings(
            "POST",
            "/account/recovery-codes",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert_eq!(
        w.user(&user.id).await.recovery_codes,
        vec!["old".to_string()]
    );
    let r = w
        .settings(
            "POST",
            "/account/recovery-codes",
            json!(null),
            Some(&w.mfa_token(&user).await),
        )
        .await;
    assert_eq!(r.status, 200);
    let codes = r.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let stored = w.user(&user.id).await.recovery_codes;
    assert_eq!(stored.len(), 10);
    assert!(!stored.contains(&"old".to_string()));
    let first = codes[0].as_str().unwrap();
    assert!(stored.contains(&twofa::codes::recovery_code_hash(
        &w.core.hash_key,
        &user.id,
        first
    )));
}

#[tokio::test]
async fn without_2fa_on_no_step_up_is_asked() {
    let w = World::new().await;
    let r = w
        .settings(
            "POST",
            "/account/recovery-codes",
            json!(null),
            Some(&w.token(&w.host_user).await),
        )
        .await;
    assert_eq!(r.status, 200);
}

fn device(user: &User, id: &str, stamp: &str, expires_at: i64) -> Device {
    Device {
        user_id: user.id.clone(),
        device_id: id.into(),
        token_hash: "h".into(),
        security_stamp: stamp.into(),
        created_at: 1_767_000_000,
        last_used_at: 1_767_100_000,
        expires_at,
        user_agent: (id == "d1").then(|| "Firefox".to_string()),
    }
}

#[tokio::test]
async fn the_device_list_shows_only_live_remembered_browsers_with_epoch_times() {
    let w = World::new().await;
    let user = &w.host_user;
    let later = w.core.now() + 1000;
    for d in [
        device(user, "d1", &user.security_stamp, later),
        device(user, "d2", &user.security_stamp, later),
        device(user, "expired", &user.security_stamp, w.core.now()),
        device(user, "old-stamp", "previous", later),
        device(&w.acme_user, "theirs", &w.acme_user.security_stamp, later),
    ] {
        w.core.store.put_device(&d).await.unwrap();
    }
    let r = w
        .settings(
            "GET",
            "/account/devices",
            json!(null),
            Some(&w.token(user).await),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([
            {"device_id": "d1", "created_at": 1_767_000_000, "last_used_at": 1_767_100_000, "expires_at": later, "user_agent": "Firefox"},
            {"device_id": "d2", "created_at": 1_767_000_000, "last_used_at": 1_767_100_000, "expires_at": later}
        ])
    );
}

#[tokio::test]
async fn forgetting_one_browser_removes_only_that_one_and_others_users_devices_are_out_of_reach() {
    let w = World::new().await;
    let user = &w.host_user;
    let later = w.core.now() + 1000;
    w.core
        .store
        .put_device(&device(user, "d1", &user.security_stamp, later))
        .await
        .unwrap();
    w.core
        .store
        .put_device(&device(user, "d2", &user.security_stamp, later))
        .await
        .unwrap();
    w.core
        .store
        .put_device(&device(
            &w.acme_user,
            "d3",
            &w.acme_user.security_stamp,
            later,
        ))
        .await
        .unwrap();
    let t = w.token(user).await;
    assert_eq!(
        w.settings("DELETE", "/account/devices/d1", json!(null), Some(&t))
            .await
            .status,
        204
    );
    let r = w
        .settings("DELETE", "/account/devices/d1", json!(null), Some(&t))
        .await;
    assert_eq!((r.status, r.error.as_str()), (404, "not_found"));
    let r = w
        .settings("DELETE", "/account/devices/d3", json!(null), Some(&t))
        .await;
    assert_eq!((r.status, r.error.as_str()), (404, "not_found"));
    assert!(
        w.core
            .store
            .device(&w.acme_user.id, &DeviceId::from("d3"))
            .await
            .unwrap()
            .is_some()
    );
    let ids: Vec<String> = w
        .core
        .store
        .devices(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| String::from(d.device_id))
        .collect();
    assert_eq!(ids, ["d2"]);
}

#[tokio::test]
async fn forget_browser_kills_every_remembered_browser_of_the_user_only() {
    let w = World::new().await;
    let user = &w.host_user;
    let later = w.core.now() + 1000;
    w.core
        .store
        .put_device(&device(user, "d1", &user.security_stamp, later))
        .await
        .unwrap();
    w.core
        .store
        .put_device(&device(
            &w.acme_user,
            "d3",
            &w.acme_user.security_stamp,
            later,
        ))
        .await
        .unwrap();
    let r = w
        .settings(
            "POST",
            "/account/forget-browser",
            json!(null),
            Some(&w.token(user).await),
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(w.core.store.devices(&user.id).await.unwrap().is_empty());
    assert_ne!(w.user(&user.id).await.security_stamp, user.security_stamp);
    assert_eq!(
        w.core.store.devices(&w.acme_user.id).await.unwrap().len(),
        1
    );
    let r = w
        .settings(
            "GET",
            "/account/devices",
            json!(null),
            Some(&w.token(&w.user(&user.id).await).await),
        )
        .await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn adding_an_authenticator_to_an_account_with_2fa_on_needs_a_fresh_second_factor() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                two_factor_enabled: Some(true),
                ..sms_ready()
            },
        )
        .await;
    let r = w
        .settings(
            "POST",
            "/account/authenticator",
            json!({}),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert!(
        w.user(&user.id).await.authenticator.is_none(),
        "nothing was enrolled"
    );
    let r = w
        .settings(
            "POST",
            "/account/authenticator",
            json!({}),
            Some(&w.mfa_token(&user).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The claims of a token as an authenticated route reads them.
fn claims(w: &World, token: &str) -> twofa::tokens::Claims {
    w.core
        .tokens
        .verify(twofa::tokens::TokenKind::Access, token, w.core.now())
        .expect("an access token")
}

#[tokio::test]
async fn turning_2fa_off_ends_earlier_tokens_and_the_acting_client_gets_a_fresh_one_of_the_same_session()
 {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                two_factor_enabled: Some(true),
                ..sms_ready()
            },
        )
        .await;
    let other_session = w.token(&user).await;
    let acting = w.mfa_token(&user).await;
    w.clock.advance(60);

    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&acting),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    for (what, old) in [
        ("the acting token", &acting),
        ("another session", &other_session),
    ] {
        let r = w
            .settings("GET", "/account/two-factor", json!(null), Some(old))
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (401, "unauthorized"),
            "{what}"
        );
    }
    let fresh = r.body["access_token"]
        .as_str()
        .expect("a fresh access token");
    assert_eq!(
        w.settings("GET", "/account/two-factor", json!(null), Some(fresh))
            .await
            .status,
        200
    );
    let (old, new) = (claims(&w, &acting), claims(&w, fresh));
    assert_eq!(
        (&new.amr, new.mfa_at),
        (&old.amr, old.mfa_at),
        "the same sign-in, the same second factor"
    );
    assert!(
        new.exp <= old.exp,
        "a fresh token does not lengthen the session"
    );
}

#[tokio::test]
async fn a_new_authenticator_ends_earlier_tokens_and_the_acting_client_gets_a_fresh_one() {
    let w = World::new().await;
    let user = &w.acme_user;
    let other_session = w.token(user).await;
    let acting = w.token(user).await;
    let key = start_enrolment(&w, &acting).await;
    let code = totp::code_at(&key, w.core.now()).unwrap();

    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&acting),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    for old in [&acting, &other_session] {
        assert_eq!(
            w.settings("GET", "/account/two-factor", json!(null), Some(old))
                .await
                .status,
            401
        );
    }
    let fresh = r.body["access_token"]
        .as_str()
        .expect("a fresh access token");
    assert_eq!(
        w.settings("GET", "/account/two-factor", json!(null), Some(fresh))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn forget_browser_ends_the_session_that_asked_and_every_other() {
    let w = World::new().await;
    let user = &w.host_user;
    let acting = w.token(user).await;
    let other_session = w.token(user).await;
    assert_eq!(
        w.settings(
            "POST",
            "/account/forget-browser",
            json!(null),
            Some(&acting)
        )
        .await
        .status,
        204
    );
    for old in [&acting, &other_session] {
        assert_eq!(
            w.settings("GET", "/account/devices", json!(null), Some(old))
                .await
                .status,
            401
        );
    }
}

#[tokio::test]
async fn a_setup_token_stops_working_once_its_authenticator_is_enrolled() {
    let w = World::new().await;
    w.settings(
        "PUT",
        "/tenants/acme/features/two-factor",
        json!({"behaviour": "forced"}),
        Some(&w.token(&w.host_admin).await),
    )
    .await;
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                email_confirmed: Some(false),
                ..Default::default()
            },
        )
        .await;
    let setup = w.setup_token(&user);
    let key = start_enrolment(&w, &setup).await;
    let code = totp::code_at(&key, w.core.now()).unwrap();
    assert_eq!(
        w.settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&setup)
        )
        .await
        .status,
        200
    );

    let r = w
        .settings("POST", "/account/authenticator", json!(null), Some(&setup))
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (401, "unauthorized"),
        "no second enrolment with the spent setup token"
    );
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&setup),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (401, "unauthorized"));
}

#[tokio::test]
async fn enrolling_an_authenticator_never_answers_500_for_an_address_register_accepts() {
    // Attack (or only an unlucky user): register an address of 254 characters whose
    // local part and domain are 4-byte characters. Its percent-encoded otpauth URI
    // is about 3,000 bytes, more than a QR code holds, and POST /account/authenticator
    // answers 500 (ApiError::internal): client input must never give a 5xx, and the
    // user can never enrol an authenticator.
    let w = World::new().await;
    // Since emails are capped at 254 octets (not characters), the longest such address
    // register accepts is 64 octets of 4-byte characters before the @ and 184 after.
    let address = format!("{}@{}.com", "😀".repeat(16), "𠀀".repeat(46));
    assert_eq!(address.len(), 253);
    assert!(
        twofa::email::Email::parse(&address).is_ok(),
        "register accepts the address"
    );
    let user =
        twofa::testing::seed_user(&w.core, twofa::side::Side::Host, &address, PASSWORD, &[]).await;

    let r = w
        .settings(
            "POST",
            "/account/authenticator",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;

    assert!(
        r.status < 500,
        "client input gave {}: {:?}",
        r.status,
        r.body
    );
}

#[tokio::test]
async fn a_wrong_enrolment_code_is_recorded_as_a_failed_attempt_naming_the_enrolment() {
    let w = World::new().await;
    let user = &w.host_user;
    let t = w.token(user).await;
    start_enrolment(&w, &t).await;
    let r = w
        .settings(
            "POST",
            "/account/authenticator/verify",
            json!({"code": "not a code"}),
            Some(&t),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_code"));
    let recorded =
        twofa::store::EventStore::user_events(w.core.store.as_ref(), &user.id, None, None, 10)
            .await
            .unwrap()
            .items;
    let failed: Vec<&serde_json::Value> = recorded
        .iter()
        .filter(|e| e.event_type.as_str() == "sign_in_failed")
        .map(|e| &e.details["factor"])
        .collect();
    assert_eq!(failed, [&json!("authenticator_enrolment")]);
}

#[tokio::test]
async fn a_malformed_device_id_in_the_path_is_answered_as_an_unknown_browser() {
    let w = World::new().await;
    let user = &w.host_user;
    let later = w.core.now() + 1000;
    w.core
        .store
        .put_device(&device(user, "d1", &user.security_stamp, later))
        .await
        .unwrap();
    let t = w.token(user).await;
    let unknown = w
        .call("DELETE", "/account/devices/d9", None, Some(&t))
        .await;
    assert_eq!((unknown.status, unknown.error.as_str()), (404, "not_found"));
    for id in [
        "d1.x",
        "d1%20",
        "d1%00",
        "d1%2Fx",
        "%E2%80%8B",
        "rb1.d1.secret",
        &"a".repeat(65),
        &"a".repeat(256),
    ] {
        let r = w
            .call("DELETE", &format!("/account/devices/{id}"), None, Some(&t))
            .await;
        assert_eq!(
            (r.status, &r.body),
            (unknown.status, &unknown.body),
            "{id:?}"
        );
    }
    let r = w.call("DELETE", "/account/devices/d1.x", None, None).await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (401, "unauthorized"),
        "the caller is checked first"
    );
    assert!(
        w.core
            .store
            .device(&user.id, &DeviceId::from("d1"))
            .await
            .unwrap()
            .is_some(),
        "the browser whose id the malformed ones start with is still remembered"
    );
}
