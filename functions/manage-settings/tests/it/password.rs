//! `PUT /account/password` and `POST /account/sign-out-everywhere`: step-up, the
//! current password counted toward the lockout, a new security stamp, a notice.

use crate::support;
use twofa::testing::Client;

use serde_json::json;
use support::{PASSWORD, World};
use twofa::devices::Device;
use twofa::lockout::LockoutPolicy;
use twofa::password::verify_password;
use twofa::store::{DeviceStore, TenantStore};
use twofa::user::{Authenticator, UserPatch};

const NEW: &str = "an entirely new passphrase";

fn change(current: &str, new: &str) -> serde_json::Value {
    json!({"current_password": current, "new_password": new})
}

fn two_factor_on() -> UserPatch {
    UserPatch {
        two_factor_enabled: Some(true),
        authenticator: Some(Some(Authenticator {
            sealed_key: "k".into(),
            enabled: true,
        })),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_right_current_password_sets_the_new_one_rotates_the_stamp_and_sends_a_notice() {
    let w = World::new().await;
    let before = w.acme_user.clone();

    let r = w
        .settings(
            "PUT",
            "/account/password",
            change(PASSWORD, NEW),
            Some(&w.token(&before).await),
        )
        .await;

    assert_eq!(r.status, 204, "{:?}", r.body);
    let after = w.user(&before.id).await;
    assert!(
        verify_password(NEW, Some(&after.password_hash))
            .await
            .unwrap()
    );
    assert_ne!(after.security_stamp, before.security_stamp);
    assert_eq!(
        w.mail_to(&before.email)
            .last()
            .and_then(|m| m.subject.clone())
            .as_deref(),
        Some("Your password was changed")
    );
}

#[tokio::test]
async fn a_wrong_current_password_is_401_and_counts_toward_the_sides_lockout() {
    let w = World::new().await;
    let user = w.acme_user.clone();
    w.store
        .set_tenant_lockout(
            "acme",
            &LockoutPolicy {
                max_failed_attempts: 2,
                duration_seconds: 900,
            },
            None,
        )
        .await
        .unwrap();
    let token = w.token(&user).await;

    let r = w
        .settings(
            "PUT",
            "/account/password",
            change("not my password at all", NEW),
            Some(&token),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (401, "invalid_credentials"));
    let r = w
        .settings(
            "PUT",
            "/account/password",
            change("still not my password", NEW),
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str(), &r.body["retry_after_seconds"]),
        (423, "locked_out", &json!(900)),
        "acme's 2 attempts, 900 s"
    );

    // Locked: not even the right password is looked at, so guessing stops here.
    let r = w
        .settings(
            "PUT",
            "/account/password",
            change(PASSWORD, NEW),
            Some(&token),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (423, "locked_out"));
    assert!(
        verify_password(PASSWORD, Some(&w.user(&user.id).await.password_hash))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn with_two_factor_on_the_change_needs_a_fresh_second_factor() {
    let w = World::new().await;
    let user = w.patch(&w.host_user, two_factor_on()).await;

    let r = w
        .settings(
            "PUT",
            "/account/password",
            change(PASSWORD, NEW),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert_eq!(
        w.user(&user.id).await.failed_count,
        0,
        "refused before the password was looked at"
    );

    let r = w
        .settings(
            "PUT",
            "/account/password",
            change(PASSWORD, NEW),
            Some(&w.mfa_token(&user).await),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
}

#[tokio::test]
async fn a_weak_new_password_is_400_and_costs_no_attempt() {
    let w = World::new().await;
    let user = w.host_user.clone();
    for weak in ["short", "password1234", "hana@example.com"] {
        let r = w
            .settings(
                "PUT",
                "/account/password",
                change("wrong, but never checked", weak),
                Some(&w.token(&user).await),
            )
            .await;
        assert_eq!(
            (r.status, r.error.as_str(), &r.body["field"]),
            (400, "weak_password", &json!("new_password")),
            "{weak}"
        );
    }
    assert_eq!(w.user(&user.id).await, user);
}

#[tokio::test]
async fn bad_bodies_and_tokens_are_refused_and_change_nothing() {
    let w = World::new().await;
    let user = w.host_user.clone();
    for body in [
        json!({}),
        json!({"current_password": PASSWORD}),
        json!({"current_password": 1, "new_password": NEW}),
    ] {
        let r = w
            .settings(
                "PUT",
                "/account/password",
                body.clone(),
                Some(&w.token(&user).await),
            )
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    for token in [
        None,
        Some(w.setup_token(&user)),
        Some(w.two_factor_token(&user)),
        Some(w.forged_token(&user).await),
    ] {
        let r = w
            .settings(
                "PUT",
                "/account/password",
                change(PASSWORD, NEW),
                token.as_deref(),
            )
            .await;
        assert_eq!((r.status, r.error.as_str()), (401, "unauthorized"));
        let r = w
            .settings(
                "POST",
                "/account/sign-out-everywhere",
                json!(null),
                token.as_deref(),
            )
            .await;
        assert_eq!((r.status, r.error.as_str()), (401, "unauthorized"));
    }
    assert_eq!(w.user(&user.id).await, user);
}

#[tokio::test]
async fn signing_out_everywhere_rotates_the_stamp_forgets_every_browser_and_sends_a_notice() {
    let w = World::new().await;
    let user = w.host_user.clone();
    let now = w.core.now();
    w.store
        .put_device(&Device {
            user_id: user.id.clone(),
            device_id: "d1".into(),
            token_hash: "h".into(),
            security_stamp: user.security_stamp.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + 3600,
            user_agent: None,
        })
        .await
        .unwrap();

    let r = w
        .settings(
            "POST",
            "/account/sign-out-everywhere",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;

    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_ne!(w.user(&user.id).await.security_stamp, user.security_stamp);
    assert!(w.store.devices(&user.id).await.unwrap().is_empty());
    assert_eq!(
        w.mail_to(&user.email)
            .last()
            .and_then(|m| m.subject.clone())
            .as_deref(),
        Some("You were signed out everywhere")
    );
}

/// Red team: step-up asks for a fresh second factor only when the user has a
/// *provider* (`two_factor_on`), but login asks for a recovery code whenever the
/// user has 2FA on and codes left, providers or not (as after removing the
/// authenticator with the email unconfirmed, or an admin disallowing the one
/// provider set up). Such a user is asked a second factor at every sign-in, yet a
/// stale session changes the password, makes new recovery codes and turns 2FA off
/// without one.
#[tokio::test]
async fn a_user_whose_only_second_factor_is_recovery_codes_still_needs_step_up() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                email_confirmed: Some(false),
                two_factor_enabled: Some(true),
                recovery_codes: Some(vec!["hash-1".into(), "hash-2".into()]),
                ..Default::default()
            },
        )
        .await;
    let seen = w
        .settings(
            "GET",
            "/account/two-factor",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!(seen.body["enabled"], true, "{:?}", seen.body);
    assert_eq!(seen.body["recovery_codes_left"], 2, "{:?}", seen.body);

    for (method, path, body) in [
        ("PUT", "/account/password", change(PASSWORD, NEW)),
        ("POST", "/account/recovery-codes", json!(null)),
        ("PUT", "/account/two-factor", json!({"enabled": false})),
    ] {
        let stale = w.token(&w.user(&user.id).await).await;
        let r = w.settings(method, path, body, Some(&stale)).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (403, "step_up_required"),
            "{method} {path} without a fresh second factor: {:?}",
            r.body
        );
    }
}
