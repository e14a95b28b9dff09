//! The admins' routes: settings of a side, tenants and their feature, users' flags.

use crate::support;
use twofa::amr::Amr;
use twofa::ids::UserId;
use twofa::testing::Client;

use serde_json::json;
use support::{PASSWORD, World};
use twofa::policy::{Behaviour, TwoFactorSettings};

const DEFAULTS: &str = r#"{"behaviour":"optional","users_can_change":true,"remember_browser":true,"allowed_providers":["passkey","authenticator","email","sms"]}"#;

fn defaults() -> serde_json::Value {
    serde_json::from_str(DEFAULTS).unwrap()
}

#[tokio::test]
async fn settings_start_at_the_documented_defaults_for_the_host_and_every_tenant() {
    let w = World::new().await;
    for admin in [&w.host_admin, &w.acme_admin, &w.globex_admin] {
        let r = w
            .settings(
                "GET",
                "/settings/two-factor",
                json!(null),
                Some(&w.token(admin).await),
            )
            .await;
        assert_eq!(
            (r.status, &r.body),
            (200, &defaults()),
            "{}",
            admin.email.as_str()
        );
    }
}

#[tokio::test]
async fn a_partial_put_changes_only_the_fields_sent_and_answers_the_whole_settings() {
    let w = World::new().await;
    let t = w.token(&w.host_admin).await;
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"remember_browser": false}),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"behaviour":"optional","users_can_change":true,"remember_browser":false,"allowed_providers":["passkey","authenticator","email","sms"],"stranded_users":0})
    );
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "forced", "allowed_providers": ["sms", "authenticator", "sms"]}),
            Some(&t),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"behaviour":"forced","users_can_change":true,"remember_browser":false,"allowed_providers":["authenticator","sms"],"stranded_users":0})
    );
    let stored = w.core.store.host_settings().await.unwrap().unwrap();
    assert_eq!(stored.behaviour, Behaviour::Forced);
    assert!(!stored.remember_browser);
    let r = w
        .settings("GET", "/settings/two-factor", json!(null), Some(&t))
        .await;
    assert_eq!(r.body["allowed_providers"], json!(["authenticator", "sms"]));
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_field_and_change_nothing() {
    let w = World::new().await;
    let t = w.token(&w.acme_admin).await;
    let cases = [
        (json!({"behaviour": "sometimes"}), "behaviour"),
        (json!({"behaviour": 1}), "behaviour"),
        (json!({"users_can_change": "yes"}), "users_can_change"),
        (json!({"remember_browser": 0}), "remember_browser"),
        (
            json!({"allowed_providers": ["carrier_pigeon"]}),
            "allowed_providers",
        ),
        (json!({"allowed_providers": []}), "allowed_providers"),
        (json!({"allowed_providers": "sms"}), "allowed_providers"),
    ];
    for (body, field) in cases {
        let r = w
            .settings("PUT", "/settings/two-factor", body.clone(), Some(&t))
            .await;
        assert_eq!(
            (r.status, r.error.as_str(), r.body["field"].as_str()),
            (400, "invalid_request", Some(field)),
            "{body}"
        );
    }
    let r = w
        .settings("PUT", "/settings/two-factor", json!([1]), Some(&t))
        .await;
    assert_eq!((r.status, r.error.as_str()), (400, "invalid_request"));
    assert_eq!(
        w.core.store.tenant("acme").await.unwrap().unwrap().settings,
        TwoFactorSettings::default()
    );
}

#[tokio::test]
async fn a_tenant_admin_sets_its_own_tenant_only() {
    let w = World::new().await;
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"allowed_providers": ["authenticator", "email"]}),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        w.core
            .store
            .tenant("acme")
            .await
            .unwrap()
            .unwrap()
            .settings
            .allowed_providers
            .len(),
        2
    );
    assert_eq!(
        w.core
            .store
            .tenant("globex")
            .await
            .unwrap()
            .unwrap()
            .settings,
        TwoFactorSettings::default()
    );
    assert_eq!(w.core.store.host_settings().await.unwrap(), None);
}

#[tokio::test]
async fn users_without_an_admin_role_may_not_read_or_change_settings() {
    let w = World::new().await;
    for user in [&w.host_user, &w.acme_user] {
        let t = w.token(user).await;
        assert_eq!(
            w.settings("GET", "/settings/two-factor", json!(null), Some(&t))
                .await
                .status,
            403
        );
        let r = w
            .settings(
                "PUT",
                "/settings/two-factor",
                json!({"behaviour": "disabled"}),
                Some(&t),
            )
            .await;
        assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
    }
    assert_eq!(w.core.store.host_settings().await.unwrap(), None);
}

#[tokio::test]
async fn a_tenant_admin_cannot_change_the_behaviour_while_the_host_decides_it() {
    let w = World::new().await;
    let host = w.token(&w.host_admin).await;
    let admin = w.token(&w.acme_admin).await;
    let r = w
        .settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "forced"}),
            Some(&host),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&admin),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (409, "controlled_by_host"));
    // Other fields, and resending the current behaviour, are still the tenant's to set.
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "optional", "users_can_change": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = w.core.store.tenant("acme").await.unwrap().unwrap();
    assert_eq!(
        (stored.settings.behaviour, stored.settings.users_can_change),
        (Behaviour::Optional, false)
    );
}

#[tokio::test]
async fn the_host_admin_creates_a_tenant_with_its_first_admin() {
    let w = World::new().await;
    let r = w.settings("POST", "/tenants", json!({"name": "Initech", "admin_email": "bill@initech.example", "admin_password": PASSWORD}), Some(&w.token(&w.host_admin).await))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["tenant"], "Initech");
    let tenant = w
        .core
        .store
        .tenant("initech")
        .await
        .unwrap()
        .expect("the tenant");
    assert_eq!(
        (tenant.feature, &tenant.settings),
        (Behaviour::Optional, &TwoFactorSettings::default())
    );
    let admin = w
        .user(&UserId::from(r.body["admin_user_id"].as_str().unwrap()))
        .await;
    assert_eq!(admin.side.key(), "t:initech");
    assert_eq!(admin.roles, vec![twofa::user::Role::TenantAdmin]);
    assert!(admin.password_hash.starts_with("$argon2id$"));
    assert!(!r.body.to_string().contains(PASSWORD));
    // The new admin administers the new tenant.
    let s = w
        .settings(
            "GET",
            "/settings/two-factor",
            json!(null),
            Some(&w.token(&admin).await),
        )
        .await;
    assert_eq!(s.status, 200);
}

#[tokio::test]
async fn tenant_names_are_unique_regardless_of_case() {
    let w = World::new().await;
    let r = w.settings("POST", "/tenants", json!({"name": "ACME", "admin_email": "other@acme.example", "admin_password": PASSWORD}), Some(&w.token(&w.host_admin).await))
        .await;
    assert_eq!((r.status, r.error.as_str()), (409, "tenant_exists"));
    assert!(
        w.core
            .store
            .user_by_email(&w.acme_admin.side, "other@acme.example")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_tenant_with_a_bad_name_email_or_password_is_refused_and_not_created() {
    let w = World::new().await;
    let t = w.token(&w.host_admin).await;
    let cases = [
        (
            json!({"name": "a b", "admin_email": "x@initech.example", "admin_password": PASSWORD}),
            400,
            "invalid_request",
            "name",
        ),
        (
            json!({"name": "", "admin_email": "x@initech.example", "admin_password": PASSWORD}),
            400,
            "invalid_request",
            "name",
        ),
        (
            json!({"name": "initech", "admin_email": "not-an-email", "admin_password": PASSWORD}),
            400,
            "invalid_email",
            "admin_email",
        ),
        (
            json!({"name": "initech", "admin_email": "x@initech.example", "admin_password": "short"}),
            400,
            "weak_password",
            "admin_password",
        ),
        (
            json!({"name": "initech", "admin_email": "x@initech.example", "admin_password": "password1234"}),
            400,
            "weak_password",
            "admin_password",
        ),
        (
            json!({"name": "initech", "admin_email": "x@initech.example"}),
            400,
            "invalid_request",
            "admin_password",
        ),
        (
            json!({"name": 7, "admin_email": "x@initech.example", "admin_password": PASSWORD}),
            400,
            "invalid_request",
            "name",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = w.settings("POST", "/tenants", body.clone(), Some(&t)).await;
        assert_eq!(
            (r.status, r.error.as_str(), r.body["field"].as_str()),
            (status, code, Some(field)),
            "{body}"
        );
    }
    assert!(w.core.store.tenant("initech").await.unwrap().is_none());
}

#[tokio::test]
async fn only_the_host_admin_creates_tenants() {
    let w = World::new().await;
    for user in [&w.host_user, &w.acme_admin, &w.acme_user] {
        let r = w.settings("POST", "/tenants", json!({"name": "Rogue", "admin_email": "x@rogue.example", "admin_password": PASSWORD}), Some(&w.token(user).await))
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (403, "forbidden"),
            "{}",
            user.email.as_str()
        );
    }
    assert!(w.core.store.tenant("rogue").await.unwrap().is_none());
}

#[tokio::test]
async fn the_host_admin_reads_and_sets_a_tenants_feature_by_name_in_any_case() {
    let w = World::new().await;
    let t = w.token(&w.host_admin).await;
    let r = w
        .settings(
            "GET",
            "/tenants/ACME/features/two-factor",
            json!(null),
            Some(&t),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"tenant": "Acme", "behaviour": "optional"}))
    );
    let r = w
        .settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&t),
        )
        .await;
    assert_eq!((r.status, &r.body["behaviour"]), (200, &json!("disabled")));
    assert_eq!(
        w.core.store.tenant("acme").await.unwrap().unwrap().feature,
        Behaviour::Disabled
    );
    assert_eq!(
        w.core
            .store
            .tenant("globex")
            .await
            .unwrap()
            .unwrap()
            .feature,
        Behaviour::Optional
    );
}

#[tokio::test]
async fn features_of_unknown_tenants_answer_unknown_tenant_and_bad_values_are_refused() {
    let w = World::new().await;
    let t = w.token(&w.host_admin).await;
    for path in [
        "/tenants/nope/features/two-factor",
        "/tenants/a%20b/features/two-factor",
    ] {
        let r = w.settings("GET", path, json!(null), Some(&t)).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (404, "unknown_tenant"),
            "{path}"
        );
        let r = w
            .settings("PUT", path, json!({"behaviour": "forced"}), Some(&t))
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (404, "unknown_tenant"),
            "{path}"
        );
    }
    for body in [
        json!({}),
        json!({"behaviour": "always"}),
        json!({"behaviour": null}),
    ] {
        let r = w
            .settings(
                "PUT",
                "/tenants/acme/features/two-factor",
                body.clone(),
                Some(&t),
            )
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("behaviour")),
            "{body}"
        );
    }
    assert_eq!(
        w.core.store.tenant("acme").await.unwrap().unwrap().feature,
        Behaviour::Optional
    );
}

#[tokio::test]
async fn only_the_host_admin_reads_or_sets_features_even_a_tenant_admin_for_its_own_tenant() {
    let w = World::new().await;
    for user in [&w.acme_admin, &w.acme_user, &w.host_user] {
        let t = w.token(user).await;
        assert_eq!(
            w.settings(
                "GET",
                "/tenants/acme/features/two-factor",
                json!(null),
                Some(&t)
            )
            .await
            .status,
            403
        );
        assert_eq!(
            w.settings(
                "PUT",
                "/tenants/acme/features/two-factor",
                json!({"behaviour": "disabled"}),
                Some(&t)
            )
            .await
            .status,
            403
        );
    }
    assert_eq!(
        w.core.store.tenant("acme").await.unwrap().unwrap().feature,
        Behaviour::Optional
    );
}

#[tokio::test]
async fn an_admin_reads_and_sets_the_flag_of_a_user_of_its_side_and_the_user_is_told() {
    let w = World::new().await;
    let t = w.token(&w.acme_admin).await;
    let path = format!("/users/{}/two-factor", w.acme_user.id);
    let r = w.settings("GET", &path, json!(null), Some(&t)).await;
    assert_eq!(
        r.body,
        json!({"user_id": w.acme_user.id, "enabled": false, "behaviour": "optional", "decided_by": "user"})
    );
    let r = w
        .settings("PUT", &path, json!({"enabled": true}), Some(&t))
        .await;
    assert_eq!((r.status, &r.body["enabled"]), (200, &json!(true)));
    let after = w.user(&w.acme_user.id).await;
    assert!(after.two_factor_enabled);
    assert_ne!(
        after.security_stamp, w.acme_user.security_stamp,
        "remembered browsers must die with the change"
    );
    let mail = w.mail_to(&w.acme_user.email);
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].subject.as_deref(),
        Some("Two-factor sign-in was turned on")
    );
    // The same value again is no change: no new stamp, no second notice.
    let r = w
        .settings("PUT", &path, json!({"enabled": true}), Some(&t))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        w.user(&w.acme_user.id).await.security_stamp,
        after.security_stamp
    );
    assert_eq!(w.mail_to(&w.acme_user.email).len(), 1);
}

#[tokio::test]
async fn a_users_flag_cannot_be_set_while_the_behaviour_is_forced_or_disabled() {
    let w = World::new().await;
    let host = w.token(&w.host_admin).await;
    w.settings(
        "PUT",
        "/tenants/acme/features/two-factor",
        json!({"behaviour": "forced"}),
        Some(&host),
    )
    .await;
    let path = format!("/users/{}/two-factor", w.acme_user.id);
    let r = w
        .settings(
            "GET",
            &path,
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"user_id": w.acme_user.id, "enabled": true, "behaviour": "forced", "decided_by": "tenant_feature"})
    );
    let r = w
        .settings(
            "PUT",
            &path,
            json!({"enabled": false}),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (409, "not_optional"));
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"behaviour": "disabled"}),
        Some(&host),
    )
    .await;
    let r = w
        .settings(
            "PUT",
            &format!("/users/{}/two-factor", w.host_user.id),
            json!({"enabled": true}),
            Some(&host),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (409, "not_optional"));
    assert!(!w.user(&w.host_user.id).await.two_factor_enabled);
}

#[tokio::test]
async fn users_of_another_side_look_exactly_like_unknown_users() {
    let w = World::new().await;
    let cases = [
        (&w.acme_admin, &w.globex_user),
        (&w.acme_admin, &w.host_user),
        (&w.acme_admin, &w.host_admin),
        (&w.host_admin, &w.acme_user),
        (&w.globex_admin, &w.acme_admin),
    ];
    for (admin, target) in cases {
        let t = w.token(admin).await;
        let path = format!("/users/{}/two-factor", target.id);
        let got = w.settings("GET", &path, json!(null), Some(&t)).await;
        let unknown = w
            .settings(
                "GET",
                "/users/00000000-0000-0000-0000-000000000000/two-factor",
                json!(null),
                Some(&t),
            )
            .await;
        assert_eq!(
            (got.status, &got.body),
            (unknown.status, &unknown.body),
            "{} reading {}",
            admin.email.as_str(),
            target.email.as_str()
        );
        assert_eq!(got.status, 404);
        let r = w
            .settings("PUT", &path, json!({"enabled": true}), Some(&t))
            .await;
        assert_eq!((r.status, r.error.as_str()), (404, "not_found"));
        assert!(!w.user(&target.id).await.two_factor_enabled);
    }
}

#[tokio::test]
async fn plain_users_may_not_use_the_user_routes_even_on_themselves() {
    let w = World::new().await;
    let t = w.token(&w.acme_user).await;
    let path = format!("/users/{}/two-factor", w.acme_user.id);
    assert_eq!(
        w.settings("GET", &path, json!(null), Some(&t)).await.status,
        403
    );
    assert_eq!(
        w.settings("PUT", &path, json!({"enabled": true}), Some(&t))
            .await
            .status,
        403
    );
}

/// The log lines written while `f` runs, at every level.
async fn logged<F: std::future::Future<Output = ()>>(f: F) -> String {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    // The tests run on a current-thread runtime: the default holds for the whole future.
    let _guard = tracing::subscriber::set_default(subscriber);
    f.await;
    let log = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&log).to_string()
}

/// An admin with 2FA on (its email is confirmed in the world).
async fn with_two_factor(w: &World, admin: &twofa::user::User) -> twofa::user::User {
    w.patch(
        admin,
        twofa::user::UserPatch {
            two_factor_enabled: Some(true),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn an_admin_turning_its_own_2fa_off_meets_the_same_step_up_as_on_its_account() {
    let w = World::new().await;
    for admin in [&w.host_admin, &w.acme_admin] {
        let admin = with_two_factor(&w, admin).await;
        let path = format!("/users/{}/two-factor", admin.id);
        // A token from a remembered browser: no second factor proven.
        let remembered = twofa::flows::issue_access(
            &w.core,
            &admin,
            &[Amr::Pwd, Amr::Device],
            None,
            &Default::default(),
        )
        .await
        .unwrap()
        .access_token;
        let r = w
            .settings("PUT", &path, json!({"enabled": false}), Some(&remembered))
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (403, "step_up_required"),
            "{}",
            admin.email.as_str()
        );
        assert!(
            w.user(&admin.id).await.two_factor_enabled,
            "{}: still on",
            admin.email.as_str()
        );

        let r = w
            .settings(
                "PUT",
                &path,
                json!({"enabled": false}),
                Some(&w.mfa_token(&admin).await),
            )
            .await;
        assert_eq!(
            (r.status, &r.body["enabled"]),
            (200, &json!(false)),
            "{}",
            admin.email.as_str()
        );
        assert!(
            r.body["access_token"].is_string(),
            "its own session goes on with a fresh token: {:?}",
            r.body
        );
    }
}

#[tokio::test]
async fn an_admin_with_2fa_on_needs_a_fresh_second_factor_to_turn_a_users_2fa_off() {
    let w = World::new().await;
    let admin = with_two_factor(&w, &w.acme_admin).await;
    let user = w
        .patch(
            &w.acme_user,
            twofa::user::UserPatch {
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    let path = format!("/users/{}/two-factor", user.id);
    let r = w
        .settings(
            "PUT",
            &path,
            json!({"enabled": false}),
            Some(&w.token(&admin).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert!(w.user(&user.id).await.two_factor_enabled);
    let r = w
        .settings(
            "PUT",
            &path,
            json!({"enabled": false}),
            Some(&w.mfa_token(&admin).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body.get("access_token").is_none(),
        "no token for someone else's session"
    );
}

#[tokio::test]
async fn settings_that_weaken_every_account_of_a_side_need_the_admins_fresh_second_factor() {
    let w = World::new().await;
    let host = with_two_factor(&w, &w.host_admin).await;
    let acme = with_two_factor(&w, &w.acme_admin).await;
    // Start strict, with a fresh second factor; email stays allowed, so the admins keep 2FA on.
    let strict =
        json!({"behaviour": "forced", "remember_browser": false, "allowed_providers": ["email"]});
    for admin in [&host, &acme] {
        let r = w
            .settings(
                "PUT",
                "/settings/two-factor",
                strict.clone(),
                Some(&w.mfa_token(admin).await),
            )
            .await;
        assert_eq!(r.status, 200, "{}: {:?}", admin.email.as_str(), r.body);
    }
    let weakening = [
        json!({"behaviour": "disabled"}),
        json!({"behaviour": "optional"}),
        json!({"allowed_providers": ["email", "sms"]}),
        json!({"remember_browser": true}),
    ];
    for admin in [&host, &acme] {
        let stale = w.token(admin).await;
        for change in &weakening {
            let r = w
                .settings("PUT", "/settings/two-factor", change.clone(), Some(&stale))
                .await;
            assert_eq!(
                (r.status, r.error.as_str()),
                (403, "step_up_required"),
                "{} {change}",
                admin.email.as_str()
            );
        }
        let r = w
            .settings("GET", "/settings/two-factor", json!(null), Some(&stale))
            .await;
        assert_eq!(
            r.body["behaviour"],
            "forced",
            "{}: nothing changed",
            admin.email.as_str()
        );
        assert_eq!(r.body["allowed_providers"], json!(["email"]));
        assert_eq!(r.body["remember_browser"], false);
        // Tightening, or a change that weakens nothing, needs no step-up.
        let r = w
            .settings(
                "PUT",
                "/settings/two-factor",
                json!({"users_can_change": false}),
                Some(&stale),
            )
            .await;
        assert_eq!(r.status, 200, "{}: {:?}", admin.email.as_str(), r.body);
        let fresh = w.mfa_token(admin).await;
        for change in &weakening {
            let r = w
                .settings("PUT", "/settings/two-factor", change.clone(), Some(&fresh))
                .await;
            assert_eq!(
                r.status,
                200,
                "{} {change}: {:?}",
                admin.email.as_str(),
                r.body
            );
        }
    }
}

#[tokio::test]
async fn an_admin_without_2fa_is_asked_no_step_up_for_settings() {
    let w = World::new().await;
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&w.token(&w.host_admin).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn the_host_disabling_a_tenants_feature_needs_its_fresh_second_factor() {
    let w = World::new().await;
    let host = with_two_factor(&w, &w.host_admin).await;
    let r = w
        .settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "forced"}),
            Some(&w.token(&host).await),
        )
        .await;
    assert_eq!(r.status, 200, "tightening needs no step-up: {:?}", r.body);
    for behaviour in ["disabled", "optional"] {
        let r = w
            .settings(
                "PUT",
                "/tenants/acme/features/two-factor",
                json!({"behaviour": behaviour}),
                Some(&w.token(&host).await),
            )
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (403, "step_up_required"),
            "{behaviour}"
        );
    }
    assert_eq!(
        w.core.store.tenant("acme").await.unwrap().unwrap().feature,
        Behaviour::Forced
    );
    let r = w
        .settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&w.mfa_token(&host).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        w.core.store.tenant("acme").await.unwrap().unwrap().feature,
        Behaviour::Disabled
    );
}

#[tokio::test]
async fn every_settings_or_feature_change_leaves_an_audit_line_with_actor_side_and_change() {
    let w = World::new().await;
    let host = w.token(&w.host_admin).await;
    let acme = w.token(&w.acme_admin).await;
    let log = logged(async {
        w.settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "disabled", "remember_browser": false}),
            Some(&host),
        )
        .await;
        w.settings(
            "PUT",
            "/settings/two-factor",
            json!({"allowed_providers": ["email"]}),
            Some(&acme),
        )
        .await;
        w.settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "forced"}),
            Some(&host),
        )
        .await;
    })
    .await;
    let audit: Vec<&str> = log.lines().filter(|l| l.contains("audit")).collect();
    assert_eq!(audit.len(), 3, "{log}");
    for (line, actor, side, change) in [
        (
            audit[0],
            &w.host_admin.id,
            "host",
            "behaviour: optional -> disabled; remember_browser: true -> false",
        ),
        (
            audit[1],
            &w.acme_admin.id,
            "t:acme",
            "allowed_providers: passkey,authenticator,email,sms -> email",
        ),
        (
            audit[2],
            &w.host_admin.id,
            "t:acme",
            "feature: optional -> forced",
        ),
    ] {
        assert!(line.contains(&format!("actor_id={actor}")), "{line}");
        assert!(line.contains(&format!("side={side}")), "{line}");
        assert!(line.contains(change), "{line}");
    }
    assert!(
        !log.contains("Bearer") && !log.contains(&host) && !log.contains(&acme),
        "no token in the log"
    );
}

/// Red team: step-up asks for a fresh second factor only while the admin has a
/// provider the side allows, and taking a provider off `allowed_providers` does not
/// count as weakening, so it needs no step-up. An admin session without a fresh
/// second factor (a stolen token, a remembered browser) disallows the admin's own
/// providers, and every step-up after that, for the admin and for every user left
/// without a provider, is gone: here the admin's own 2FA is turned off.
#[tokio::test]
async fn a_stale_admin_session_cannot_shed_step_up_by_disallowing_its_own_providers() {
    let w = World::new().await;
    let admin = w
        .patch(
            &w.host_admin,
            twofa::user::UserPatch {
                two_factor_enabled: Some(true),
                authenticator: Some(Some(twofa::user::Authenticator {
                    sealed_key: "k".into(),
                    enabled: true,
                })),
                ..Default::default()
            },
        )
        .await;
    let stale = w.token(&admin).await;
    let off = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&stale),
        )
        .await;
    assert_eq!((off.status, off.error.as_str()), (403, "step_up_required"));

    let narrowed = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"allowed_providers": ["sms"]}),
            Some(&stale),
        )
        .await;
    let off = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&stale),
        )
        .await;
    assert_eq!(
        (off.status, off.error.as_str()),
        (403, "step_up_required"),
        "after PUT /settings/two-factor answered {} {:?}, a stale session turned the admin's 2FA off: {:?}",
        narrowed.status,
        narrowed.body,
        off.body
    );
}
