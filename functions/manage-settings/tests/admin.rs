//! The admins' routes: settings of a side, tenants and their feature, users' flags.

mod support;

use serde_json::json;
use support::{World, PASSWORD};
use twofa::policy::{Behaviour, TwoFactorSettings};

const DEFAULTS: &str = r#"{"behaviour":"optional","users_can_change":true,"remember_browser":true,"allowed_providers":["authenticator","email","sms"]}"#;

fn defaults() -> serde_json::Value {
    serde_json::from_str(DEFAULTS).unwrap()
}

#[tokio::test]
async fn settings_start_at_the_documented_defaults_for_the_host_and_every_tenant() {
    let w = World::new().await;
    for admin in [&w.host_admin, &w.acme_admin, &w.globex_admin] {
        let r = w.call("GET", "/settings/two-factor", json!(null), Some(&w.token(admin))).await;
        assert_eq!((r.status, &r.body), (200, &defaults()), "{}", admin.email);
    }
}

#[tokio::test]
async fn a_partial_put_changes_only_the_fields_sent_and_answers_the_whole_settings() {
    let w = World::new().await;
    let t = w.token(&w.host_admin);
    let r = w.call("PUT", "/settings/two-factor", json!({"remember_browser": false}), Some(&t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"behaviour":"optional","users_can_change":true,"remember_browser":false,"allowed_providers":["authenticator","email","sms"]}));
    let r = w.call("PUT", "/settings/two-factor", json!({"behaviour": "forced", "allowed_providers": ["sms", "authenticator", "sms"]}), Some(&t)).await;
    assert_eq!(r.body, json!({"behaviour":"forced","users_can_change":true,"remember_browser":false,"allowed_providers":["authenticator","sms"]}));
    let stored = w.core.store.host_settings().await.unwrap().unwrap();
    assert_eq!(stored.behaviour, Behaviour::Forced);
    assert!(!stored.remember_browser);
    let r = w.call("GET", "/settings/two-factor", json!(null), Some(&t)).await;
    assert_eq!(r.body["allowed_providers"], json!(["authenticator", "sms"]));
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_field_and_change_nothing() {
    let w = World::new().await;
    let t = w.token(&w.acme_admin);
    let cases = [
        (json!({"behaviour": "sometimes"}), "behaviour"),
        (json!({"behaviour": 1}), "behaviour"),
        (json!({"users_can_change": "yes"}), "users_can_change"),
        (json!({"remember_browser": 0}), "remember_browser"),
        (json!({"allowed_providers": ["carrier_pigeon"]}), "allowed_providers"),
        (json!({"allowed_providers": []}), "allowed_providers"),
        (json!({"allowed_providers": "sms"}), "allowed_providers"),
    ];
    for (body, field) in cases {
        let r = w.call("PUT", "/settings/two-factor", body.clone(), Some(&t)).await;
        assert_eq!((r.status, r.error(), r.body["field"].as_str()), (400, "invalid_request", Some(field)), "{body}");
    }
    let r = w.call("PUT", "/settings/two-factor", json!([1]), Some(&t)).await;
    assert_eq!((r.status, r.error()), (400, "invalid_request"));
    assert_eq!(w.core.store.tenant("acme").await.unwrap().unwrap().settings, TwoFactorSettings::default());
}

#[tokio::test]
async fn a_tenant_admin_sets_its_own_tenant_only() {
    let w = World::new().await;
    let r = w.call("PUT", "/settings/two-factor", json!({"allowed_providers": ["authenticator", "email"]}), Some(&w.token(&w.acme_admin))).await;
    assert_eq!(r.status, 200);
    assert_eq!(w.core.store.tenant("acme").await.unwrap().unwrap().settings.allowed_providers.len(), 2);
    assert_eq!(w.core.store.tenant("globex").await.unwrap().unwrap().settings, TwoFactorSettings::default());
    assert_eq!(w.core.store.host_settings().await.unwrap(), None);
}

#[tokio::test]
async fn users_without_an_admin_role_may_not_read_or_change_settings() {
    let w = World::new().await;
    for user in [&w.host_user, &w.acme_user] {
        let t = w.token(user);
        assert_eq!(w.call("GET", "/settings/two-factor", json!(null), Some(&t)).await.status, 403);
        let r = w.call("PUT", "/settings/two-factor", json!({"behaviour": "disabled"}), Some(&t)).await;
        assert_eq!((r.status, r.error()), (403, "forbidden"));
    }
    assert_eq!(w.core.store.host_settings().await.unwrap(), None);
}

#[tokio::test]
async fn a_tenant_admin_cannot_change_the_behaviour_while_the_host_decides_it() {
    let w = World::new().await;
    let host = w.token(&w.host_admin);
    let admin = w.token(&w.acme_admin);
    let r = w.call("PUT", "/tenants/acme/features/two-factor", json!({"behaviour": "forced"}), Some(&host)).await;
    assert_eq!(r.status, 200);
    let r = w.call("PUT", "/settings/two-factor", json!({"behaviour": "disabled"}), Some(&admin)).await;
    assert_eq!((r.status, r.error()), (409, "controlled_by_host"));
    // Other fields, and resending the current behaviour, are still the tenant's to set.
    let r = w.call("PUT", "/settings/two-factor", json!({"behaviour": "optional", "users_can_change": false}), Some(&admin)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = w.core.store.tenant("acme").await.unwrap().unwrap();
    assert_eq!((stored.settings.behaviour, stored.settings.users_can_change), (Behaviour::Optional, false));
}

#[tokio::test]
async fn the_host_admin_creates_a_tenant_with_its_first_admin() {
    let w = World::new().await;
    let r = w
        .call("POST", "/tenants", json!({"name": "Initech", "admin_email": "bill@initech.example", "admin_password": PASSWORD}), Some(&w.token(&w.host_admin)))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["tenant"], "Initech");
    let tenant = w.core.store.tenant("initech").await.unwrap().expect("the tenant");
    assert_eq!((tenant.feature, &tenant.settings), (Behaviour::Optional, &TwoFactorSettings::default()));
    let admin = w.user(r.body["admin_user_id"].as_str().unwrap()).await;
    assert_eq!(admin.scope.key(), "t:initech");
    assert_eq!(admin.roles, vec![twofa::user::Role::TenantAdmin]);
    assert!(admin.password_hash.starts_with("$argon2id$"));
    assert!(!r.body.to_string().contains(PASSWORD));
    // The new admin administers the new tenant.
    let s = w.call("GET", "/settings/two-factor", json!(null), Some(&w.token(&admin))).await;
    assert_eq!(s.status, 200);
}

#[tokio::test]
async fn tenant_names_are_unique_regardless_of_case() {
    let w = World::new().await;
    let r = w
        .call("POST", "/tenants", json!({"name": "ACME", "admin_email": "other@acme.example", "admin_password": PASSWORD}), Some(&w.token(&w.host_admin)))
        .await;
    assert_eq!((r.status, r.error()), (409, "tenant_exists"));
    assert!(w.core.store.user_by_email(&w.acme_admin.scope, "other@acme.example").await.unwrap().is_none());
}

#[tokio::test]
async fn a_tenant_with_a_bad_name_email_or_password_is_refused_and_not_created() {
    let w = World::new().await;
    let t = w.token(&w.host_admin);
    let cases = [
        (json!({"name": "a b", "admin_email": "x@initech.example", "admin_password": PASSWORD}), 400, "invalid_request", "name"),
        (json!({"name": "", "admin_email": "x@initech.example", "admin_password": PASSWORD}), 400, "invalid_request", "name"),
        (json!({"name": "initech", "admin_email": "not-an-email", "admin_password": PASSWORD}), 400, "invalid_email", "admin_email"),
        (json!({"name": "initech", "admin_email": "x@initech.example", "admin_password": "short"}), 400, "weak_password", "admin_password"),
        (json!({"name": "initech", "admin_email": "x@initech.example", "admin_password": "password1234"}), 400, "weak_password", "admin_password"),
        (json!({"name": "initech", "admin_email": "x@initech.example"}), 400, "invalid_request", "admin_password"),
        (json!({"name": 7, "admin_email": "x@initech.example", "admin_password": PASSWORD}), 400, "invalid_request", "name"),
    ];
    for (body, status, code, field) in cases {
        let r = w.call("POST", "/tenants", body.clone(), Some(&t)).await;
        assert_eq!((r.status, r.error(), r.body["field"].as_str()), (status, code, Some(field)), "{body}");
    }
    assert!(w.core.store.tenant("initech").await.unwrap().is_none());
}

#[tokio::test]
async fn only_the_host_admin_creates_tenants() {
    let w = World::new().await;
    for user in [&w.host_user, &w.acme_admin, &w.acme_user] {
        let r = w
            .call("POST", "/tenants", json!({"name": "Rogue", "admin_email": "x@rogue.example", "admin_password": PASSWORD}), Some(&w.token(user)))
            .await;
        assert_eq!((r.status, r.error()), (403, "forbidden"), "{}", user.email);
    }
    assert!(w.core.store.tenant("rogue").await.unwrap().is_none());
}

#[tokio::test]
async fn the_host_admin_reads_and_sets_a_tenants_feature_by_name_in_any_case() {
    let w = World::new().await;
    let t = w.token(&w.host_admin);
    let r = w.call("GET", "/tenants/ACME/features/two-factor", json!(null), Some(&t)).await;
    assert_eq!((r.status, &r.body), (200, &json!({"tenant": "Acme", "behaviour": "optional"})));
    let r = w.call("PUT", "/tenants/acme/features/two-factor", json!({"behaviour": "disabled"}), Some(&t)).await;
    assert_eq!((r.status, &r.body["behaviour"]), (200, &json!("disabled")));
    assert_eq!(w.core.store.tenant("acme").await.unwrap().unwrap().feature, Behaviour::Disabled);
    assert_eq!(w.core.store.tenant("globex").await.unwrap().unwrap().feature, Behaviour::Optional);
}

#[tokio::test]
async fn features_of_unknown_tenants_answer_unknown_tenant_and_bad_values_are_refused() {
    let w = World::new().await;
    let t = w.token(&w.host_admin);
    for path in ["/tenants/nope/features/two-factor", "/tenants/a%20b/features/two-factor"] {
        let r = w.call("GET", path, json!(null), Some(&t)).await;
        assert_eq!((r.status, r.error()), (404, "unknown_tenant"), "{path}");
        let r = w.call("PUT", path, json!({"behaviour": "forced"}), Some(&t)).await;
        assert_eq!((r.status, r.error()), (404, "unknown_tenant"), "{path}");
    }
    for body in [json!({}), json!({"behaviour": "always"}), json!({"behaviour": null})] {
        let r = w.call("PUT", "/tenants/acme/features/two-factor", body.clone(), Some(&t)).await;
        assert_eq!((r.status, r.body["field"].as_str()), (400, Some("behaviour")), "{body}");
    }
    assert_eq!(w.core.store.tenant("acme").await.unwrap().unwrap().feature, Behaviour::Optional);
}

#[tokio::test]
async fn only_the_host_admin_reads_or_sets_features_even_a_tenant_admin_for_its_own_tenant() {
    let w = World::new().await;
    for user in [&w.acme_admin, &w.acme_user, &w.host_user] {
        let t = w.token(user);
        assert_eq!(w.call("GET", "/tenants/acme/features/two-factor", json!(null), Some(&t)).await.status, 403);
        assert_eq!(w.call("PUT", "/tenants/acme/features/two-factor", json!({"behaviour": "disabled"}), Some(&t)).await.status, 403);
    }
    assert_eq!(w.core.store.tenant("acme").await.unwrap().unwrap().feature, Behaviour::Optional);
}

#[tokio::test]
async fn an_admin_reads_and_sets_the_flag_of_a_user_of_its_side_and_the_user_is_told() {
    let w = World::new().await;
    let t = w.token(&w.acme_admin);
    let path = format!("/users/{}/two-factor", w.acme_user.id);
    let r = w.call("GET", &path, json!(null), Some(&t)).await;
    assert_eq!(r.body, json!({"user_id": w.acme_user.id, "enabled": false, "behaviour": "optional", "decided_by": "user"}));
    let r = w.call("PUT", &path, json!({"enabled": true}), Some(&t)).await;
    assert_eq!((r.status, &r.body["enabled"]), (200, &json!(true)));
    let after = w.user(&w.acme_user.id).await;
    assert!(after.two_factor_enabled);
    assert_ne!(after.security_stamp, w.acme_user.security_stamp, "remembered browsers must die with the change");
    let mail = w.mail_to(&w.acme_user.email);
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject.as_deref(), Some("Two-factor sign-in was turned on"));
    // The same value again is no change: no new stamp, no second notice.
    let r = w.call("PUT", &path, json!({"enabled": true}), Some(&t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(w.user(&w.acme_user.id).await.security_stamp, after.security_stamp);
    assert_eq!(w.mail_to(&w.acme_user.email).len(), 1);
}

#[tokio::test]
async fn a_users_flag_cannot_be_set_while_the_behaviour_is_forced_or_disabled() {
    let w = World::new().await;
    let host = w.token(&w.host_admin);
    w.call("PUT", "/tenants/acme/features/two-factor", json!({"behaviour": "forced"}), Some(&host)).await;
    let path = format!("/users/{}/two-factor", w.acme_user.id);
    let r = w.call("GET", &path, json!(null), Some(&w.token(&w.acme_admin))).await;
    assert_eq!(r.body, json!({"user_id": w.acme_user.id, "enabled": true, "behaviour": "forced", "decided_by": "tenant_feature"}));
    let r = w.call("PUT", &path, json!({"enabled": false}), Some(&w.token(&w.acme_admin))).await;
    assert_eq!((r.status, r.error()), (409, "not_optional"));
    w.call("PUT", "/settings/two-factor", json!({"behaviour": "disabled"}), Some(&host)).await;
    let r = w.call("PUT", &format!("/users/{}/two-factor", w.host_user.id), json!({"enabled": true}), Some(&host)).await;
    assert_eq!((r.status, r.error()), (409, "not_optional"));
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
        let t = w.token(admin);
        let path = format!("/users/{}/two-factor", target.id);
        let got = w.call("GET", &path, json!(null), Some(&t)).await;
        let unknown = w.call("GET", "/users/00000000-0000-0000-0000-000000000000/two-factor", json!(null), Some(&t)).await;
        assert_eq!((got.status, &got.body), (unknown.status, &unknown.body), "{} reading {}", admin.email, target.email);
        assert_eq!(got.status, 404);
        let r = w.call("PUT", &path, json!({"enabled": true}), Some(&t)).await;
        assert_eq!((r.status, r.error()), (404, "not_found"));
        assert!(!w.user(&target.id).await.two_factor_enabled);
    }
}

#[tokio::test]
async fn plain_users_may_not_use_the_user_routes_even_on_themselves() {
    let w = World::new().await;
    let t = w.token(&w.acme_user);
    let path = format!("/users/{}/two-factor", w.acme_user.id);
    assert_eq!(w.call("GET", &path, json!(null), Some(&t)).await.status, 403);
    assert_eq!(w.call("PUT", &path, json!({"enabled": true}), Some(&t)).await.status, 403);
}
