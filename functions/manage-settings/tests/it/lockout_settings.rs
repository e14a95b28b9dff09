//! `GET | PUT /settings/lockout`: each admin its own side; defaults from the
//! function's settings; a tenant without its own values follows the host's.

use crate::support;
use twofa::testing::Client;

use serde_json::json;
use support::World;
use twofa::flows::load_side;
use twofa::side::Side;
use twofa::user::{Authenticator, UserPatch};

#[tokio::test]
async fn every_side_starts_with_the_functions_defaults() {
    let w = World::new().await;
    for admin in [&w.host_admin, &w.acme_admin] {
        let r = w
            .settings(
                "GET",
                "/settings/lockout",
                json!(null),
                Some(&w.token(admin).await),
            )
            .await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                200,
                json!({"max_failed_attempts": 5, "lockout_seconds": 300, "source": "defaults"})
            )
        );
    }
}

#[tokio::test]
async fn a_tenant_without_its_own_values_follows_the_host_and_one_with_them_keeps_them() {
    let w = World::new().await;
    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 3, "lockout_seconds": 60}),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            200,
            json!({"max_failed_attempts": 3, "lockout_seconds": 60, "source": "side"})
        )
    );

    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 2, "lockout_seconds": 3600}),
            Some(&w.token(&w.host_admin).await),
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            200,
            json!({"max_failed_attempts": 2, "lockout_seconds": 3600, "source": "side"})
        )
    );

    let acme = w
        .settings(
            "GET",
            "/settings/lockout",
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        acme.body,
        json!({"max_failed_attempts": 3, "lockout_seconds": 60, "source": "side"})
    );
    let globex = w
        .settings(
            "GET",
            "/settings/lockout",
            json!(null),
            Some(&w.token(&w.globex_admin).await),
        )
        .await;
    assert_eq!(
        globex.body,
        json!({"max_failed_attempts": 2, "lockout_seconds": 3600, "source": "host"})
    );

    // What login reads: the one item of the side.
    let side = load_side(w.core.store.as_ref(), &Side::Tenant("globex".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(side.lockout(w.core.config.lockout).max_failed_attempts, 2);

    // A tenant created after the host's change follows it too.
    let r = w.settings("POST", "/tenants", json!({"name": "Initech", "admin_email": "boss@initech.example", "admin_password": support::PASSWORD}), Some(&w.token(&w.host_admin).await)).await;
    assert_eq!(r.status, 201);
    let side = load_side(w.core.store.as_ref(), &Side::Tenant("initech".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(side.lockout(w.core.config.lockout).duration_seconds, 3600);
}

#[tokio::test]
async fn omitted_fields_keep_their_values_and_out_of_range_ones_are_refused_naming_the_field() {
    let w = World::new().await;
    let token = w.token(&w.acme_admin).await;
    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"lockout_seconds": 120}),
            Some(&token),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"max_failed_attempts": 5, "lockout_seconds": 120, "source": "side"})
    );
    for (body, field) in [
        (json!({"max_failed_attempts": 0}), "max_failed_attempts"),
        (json!({"max_failed_attempts": 101}), "max_failed_attempts"),
        (json!({"max_failed_attempts": -1}), "max_failed_attempts"),
        (json!({"max_failed_attempts": 1e12}), "max_failed_attempts"),
        (json!({"max_failed_attempts": "5"}), "max_failed_attempts"),
        (json!({"lockout_seconds": 0}), "lockout_seconds"),
        (json!({"lockout_seconds": 2_592_001}), "lockout_seconds"),
        (json!({"lockout_seconds": i64::MAX}), "lockout_seconds"),
    ] {
        let r = w
            .settings("PUT", "/settings/lockout", body.clone(), Some(&token))
            .await;
        assert_eq!(
            (r.status, r.error.as_str(), r.body["field"].as_str()),
            (400, "invalid_request", Some(field)),
            "{body}"
        );
    }
    let r = w
        .settings("GET", "/settings/lockout", json!(null), Some(&token))
        .await;
    assert_eq!(
        r.body["lockout_seconds"], 120,
        "refused changes changed nothing"
    );
}

#[tokio::test]
async fn only_admins_see_or_change_lockout_settings_and_only_of_their_own_side() {
    let w = World::new().await;
    for user in [&w.host_user, &w.acme_user] {
        for (method, body) in [
            ("GET", json!(null)),
            ("PUT", json!({"max_failed_attempts": 100})),
        ] {
            let r = w
                .settings(
                    method,
                    "/settings/lockout",
                    body,
                    Some(&w.token(user).await),
                )
                .await;
            assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
        }
    }
    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 9}),
            None,
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (401, "unauthorized"));
    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 9}),
            Some(&w.token(&w.globex_admin).await),
        )
        .await;
    assert_eq!(r.status, 200);
    let acme = w
        .settings(
            "GET",
            "/settings/lockout",
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        acme.body["max_failed_attempts"], 5,
        "globex's admin changed only globex"
    );
}

#[tokio::test]
async fn weakening_the_lockout_needs_the_admins_fresh_second_factor_when_it_has_2fa_on() {
    let w = World::new().await;
    let admin = w
        .patch(
            &w.acme_admin,
            UserPatch {
                two_factor_enabled: Some(true),
                authenticator: Some(Some(Authenticator {
                    sealed_key: "k".into(),
                    enabled: true,
                })),
                ..Default::default()
            },
        )
        .await;
    let stale = w.token(&admin).await;
    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 3}),
            Some(&stale),
        )
        .await;
    assert_eq!(r.status, 200, "stricter needs nothing more");
    for weaker in [
        json!({"max_failed_attempts": 50}),
        json!({"lockout_seconds": 10}),
    ] {
        let r = w
            .settings("PUT", "/settings/lockout", weaker.clone(), Some(&stale))
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (403, "step_up_required"),
            "{weaker}"
        );
    }
    let r = w
        .settings(
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 50}),
            Some(&w.mfa_token(&admin).await),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["max_failed_attempts"]),
        (200, &json!(50))
    );
}
