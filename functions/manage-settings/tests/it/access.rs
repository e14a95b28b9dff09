//! Who may call what: routing, token kinds, roles, and tenant isolation on every route.

use crate::support;
use twofa::testing::Client;

use serde_json::{Value, json};
use support::World;
use twofa::devices::Device;
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::User;

/// Every route with a valid body; `{tenant}` and `{user_id}` filled in by `path_for`.
fn routes() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("GET", "/settings/two-factor", json!(null)),
        (
            "PUT",
            "/settings/two-factor",
            json!({"remember_browser": false}),
        ),
        (
            "POST",
            "/tenants",
            json!({"name": "Initech", "admin_email": "bill@initech.example", "admin_password": support::PASSWORD}),
        ),
        ("GET", "/tenants/{tenant}/features/two-factor", json!(null)),
        (
            "PUT",
            "/tenants/{tenant}/features/two-factor",
            json!({"behaviour": "optional"}),
        ),
        ("GET", "/users/{user_id}/two-factor", json!(null)),
        (
            "PUT",
            "/users/{user_id}/two-factor",
            json!({"enabled": true}),
        ),
        ("GET", "/account/two-factor", json!(null)),
        ("PUT", "/account/two-factor", json!({"enabled": false})),
        ("POST", "/account/authenticator", json!(null)),
        ("DELETE", "/account/authenticator", json!(null)),
        (
            "POST",
            "/account/authenticator/verify",
            json!({"code": "123456"}),
        ),
        ("POST", "/account/recovery-codes", json!(null)),
        ("POST", "/account/forget-browser", json!(null)),
        ("GET", "/account/devices", json!(null)),
        ("DELETE", "/account/devices/{device_id}", json!(null)),
        ("POST", "/account/passkeys/register", json!(null)),
        (
            "POST",
            "/account/passkeys/register/finish",
            json!({"ceremony_id": "c1", "credential": {}}),
        ),
        ("GET", "/account/passkeys", json!(null)),
        (
            "PATCH",
            "/account/passkeys/{passkey_id}",
            json!({"name": "Laptop"}),
        ),
        ("DELETE", "/account/passkeys/{passkey_id}", json!(null)),
        ("GET", "/account/sessions", json!(null)),
        ("DELETE", "/account/sessions/{session_id}", json!(null)),
        (
            "PUT",
            "/account/password",
            json!({"current_password": support::PASSWORD, "new_password": "an entirely new passphrase"}),
        ),
        ("POST", "/account/sign-out-everywhere", json!(null)),
        ("GET", "/settings/lockout", json!(null)),
        (
            "PUT",
            "/settings/lockout",
            json!({"max_failed_attempts": 4}),
        ),
        ("GET", "/users", json!(null)),
        ("POST", "/users/{user_id}/unlock", json!(null)),
        ("POST", "/users/{user_id}/reset-two-factor", json!(null)),
        ("GET", "/account/events", json!(null)),
        ("GET", "/events", json!(null)),
    ]
}

fn path_for(pattern: &str, tenant: &str, user: &User) -> String {
    pattern
        .replace("{tenant}", tenant)
        .replace("{user_id}", &user.id)
        .replace("{device_id}", "d1")
        .replace("{session_id}", "s1")
        .replace("{passkey_id}", "p1")
}

#[test]
fn the_route_table_here_is_the_function_s_route_table() {
    let mine: Vec<(&str, &str)> = routes().iter().map(|(m, p, _)| (*m, *p)).collect();
    // The console's page and files are public static content: every other route
    // here takes a token (tests/tests/it/console.rs covers those two).
    let theirs: Vec<(&str, &str)> = manage_settings::ROUTES
        .iter()
        .filter(|r| !["/", "/console/{file}"].contains(&r.path))
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(mine, theirs);
}

#[tokio::test]
async fn unknown_paths_are_404_and_known_paths_with_another_method_are_405() {
    let w = World::new().await;
    let t = w.token(&w.host_admin).await;
    let r = w.settings("GET", "/nope", json!(null), Some(&t)).await;
    assert_eq!((r.status, r.error.as_str()), (404, "not_found"));
    let r = w
        .settings(
            "GET",
            "/account/authenticator/verify/extra",
            json!(null),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .settings("DELETE", "/settings/two-factor", json!(null), Some(&t))
        .await;
    assert_eq!(
        (r.status, r.error.as_str(), &r.body["allowed"]),
        (405, "method_not_allowed", &json!("GET, PUT"))
    );
    let r = w
        .settings("PATCH", "/account/devices/d1", json!(null), None)
        .await;
    assert_eq!((r.status, r.error.as_str()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn every_route_refuses_a_missing_forged_expired_or_wrong_kind_token() {
    let w = World::new().await;
    let user = &w.host_admin;
    let expired = w.token(user).await;
    w.clock.advance(901);
    let bad: [(&str, Option<String>); 5] = [
        ("no token", None),
        ("forged", Some(w.forged_token(user).await)),
        ("expired", Some(expired)),
        ("two-factor token", Some(w.two_factor_token(user))),
        ("garbage", Some("not.a.token".into())),
    ];
    for (method, pattern, body) in routes() {
        let path = path_for(pattern, "acme", &w.host_user);
        for (what, token) in &bad {
            let r = w
                .settings(method, &path, body.clone(), token.as_deref())
                .await;
            assert_eq!(
                (r.status, r.error.as_str()),
                (401, "unauthorized"),
                "{method} {pattern} with {what}"
            );
        }
    }
    assert!(w.core.store.tenant("initech").await.unwrap().is_none());
    assert!(!w.user(&w.host_user.id).await.two_factor_enabled);
}

#[tokio::test]
async fn every_route_refuses_an_access_token_issued_before_the_security_stamp_changed() {
    let w = World::new().await;
    let admin = &w.host_admin;
    let before = w.mfa_token(admin).await;
    let r = w
        .settings(
            "POST",
            "/account/forget-browser",
            json!(null),
            Some(&w.mfa_token(admin).await),
        )
        .await;
    assert_eq!(r.status, 204);
    for (method, pattern, body) in routes() {
        let path = path_for(pattern, "acme", &w.host_user);
        let r = w.settings(method, &path, body.clone(), Some(&before)).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (401, "unauthorized"),
            "{method} {pattern} with a token from before forget-browser"
        );
    }
    assert!(w.core.store.tenant("initech").await.unwrap().is_none());
    assert!(!w.user(&w.host_user.id).await.two_factor_enabled);
}

#[tokio::test]
async fn a_setup_token_opens_only_enrolment_of_a_first_factor() {
    let w = World::new().await;
    let setup = w.setup_token(&w.host_admin);
    for (method, pattern, body) in routes() {
        let path = path_for(pattern, "acme", &w.host_user);
        let r = w.settings(method, &path, body.clone(), Some(&setup)).await;
        let enrolment = (pattern.starts_with("/account/authenticator")
            || pattern.starts_with("/account/passkeys/register"))
            && method == "POST";
        assert_eq!(
            r.error.as_str() == "unauthorized",
            !enrolment,
            "{method} {pattern} with a setup token: {:?}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_token_whose_tenant_is_not_its_users_tenant_is_refused_everywhere() {
    let w = World::new().await;
    // Signed by us, of a live session, but claiming the acme user is in globex.
    let session = live_session(&w, &w.acme_admin).await;
    let crossed = w
        .core
        .tokens
        .issue(
            TokenKind::Access,
            NewToken {
                side: Some(w.globex_admin.side.clone()),
                sid: session,
                ..twofa::flows::token_for(&w.core, &w.acme_admin)
            },
            w.core.now(),
        )
        .unwrap();
    for (method, pattern, body) in routes() {
        let path = path_for(pattern, "globex", &w.globex_user);
        let r = w
            .settings(method, &path, body.clone(), Some(&crossed))
            .await;
        assert_eq!(r.status, 401, "{method} {pattern}");
    }
}

/// What each role gets on the admin routes, aimed at its own side where it has one.
#[tokio::test]
async fn admin_routes_answer_each_role_as_the_contract_says() {
    let w = World::new().await;
    // (route index, [plain user, tenant admin, host admin])
    let expected: [(usize, [u16; 3]); 13] = [
        (0, [403, 200, 200]),
        (1, [403, 200, 200]),
        (2, [403, 403, 201]),
        (3, [403, 403, 200]),
        (4, [403, 403, 200]),
        (5, [403, 200, 200]),
        (6, [403, 200, 200]),
        (25, [403, 200, 200]),
        (26, [403, 200, 200]),
        (27, [403, 200, 200]),
        (28, [403, 204, 204]),
        (29, [403, 204, 204]),
        (31, [403, 200, 200]),
    ];
    let all = routes();
    for (i, statuses) in expected {
        let (method, pattern, body) = &all[i];
        let callers = [
            (&w.acme_user, &w.acme_user),
            (&w.acme_admin, &w.acme_user),
            (&w.host_admin, &w.host_user),
        ];
        for ((caller, target), want) in callers.into_iter().zip(statuses) {
            let path = path_for(pattern, "acme", target);
            // An earlier route may have rotated the caller's stamp (an admin's change of
            // its flag, a reset): the token is for the caller as stored now.
            let caller = w.core.store.user(&caller.id).await.unwrap().unwrap();
            let r = w
                .settings(method, &path, body.clone(), Some(&w.token(&caller).await))
                .await;
            assert_eq!(
                r.status,
                want,
                "{method} {pattern} by {}: {:?}",
                caller.email.as_str(),
                r.body
            );
        }
    }
}

#[tokio::test]
async fn a_role_claimed_in_a_token_but_not_held_grants_nothing() {
    let w = World::new().await;
    // A live session of the user's, so that only the role claim is false.
    let session = live_session(&w, &w.host_user).await;
    let boastful = w
        .core
        .tokens
        .issue(
            TokenKind::Access,
            NewToken {
                roles: vec!["host_admin".into()],
                sid: session,
                ..twofa::flows::token_for(&w.core, &w.host_user)
            },
            w.core.now(),
        )
        .unwrap();
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&boastful),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
    assert_eq!(w.core.store.host_settings().await.unwrap(), None);
}

#[tokio::test]
async fn a_tenant_admin_reaches_neither_another_tenant_nor_the_host_on_any_admin_route() {
    let w = World::new().await;
    let host = w.token(&w.host_admin).await;
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"behaviour": "forced"}),
        Some(&host),
    )
    .await;
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"behaviour": "disabled"}),
        Some(&w.token(&w.globex_admin).await),
    )
    .await;
    let acme = w.token(&w.acme_admin).await;
    // Settings: its own tenant's, whatever the host's and globex's are.
    let r = w
        .settings("GET", "/settings/two-factor", json!(null), Some(&acme))
        .await;
    assert_eq!(r.body["behaviour"], "optional");
    w.settings(
        "PUT",
        "/settings/two-factor",
        json!({"users_can_change": false}),
        Some(&acme),
    )
    .await;
    assert!(
        w.core
            .store
            .tenant("globex")
            .await
            .unwrap()
            .unwrap()
            .settings
            .users_can_change
    );
    assert!(
        w.core
            .store
            .host_settings()
            .await
            .unwrap()
            .unwrap()
            .users_can_change
    );
    // Tenants and features: the host's alone.
    for t in ["globex", "acme"] {
        let r = w
            .settings(
                "PUT",
                &format!("/tenants/{t}/features/two-factor"),
                json!({"behaviour": "disabled"}),
                Some(&acme),
            )
            .await;
        assert_eq!(r.status, 403, "{t}");
        assert_eq!(
            w.settings(
                "GET",
                &format!("/tenants/{t}/features/two-factor"),
                json!(null),
                Some(&acme)
            )
            .await
            .status,
            403
        );
    }
    // Users of globex and of the host: not found, on every user route and event filter.
    w.core
        .store
        .lock(
            twofa::store::Subject::User(&w.globex_user.id),
            w.core.now(),
            w.core.now() + 300,
            false,
        )
        .await
        .unwrap();
    for target in [&w.globex_user, &w.globex_admin, &w.host_user, &w.host_admin] {
        let path = format!("/users/{}/two-factor", target.id);
        assert_eq!(
            w.settings("GET", &path, json!(null), Some(&acme))
                .await
                .status,
            404
        );
        assert_eq!(
            w.settings("PUT", &path, json!({"enabled": true}), Some(&acme))
                .await
                .status,
            404
        );
        for action in ["unlock", "reset-two-factor"] {
            let r = w
                .settings(
                    "POST",
                    &format!("/users/{}/{action}", target.id),
                    json!(null),
                    Some(&acme),
                )
                .await;
            assert_eq!(
                (r.status, r.error.as_str()),
                (404, "not_found"),
                "{action} {}",
                target.email.as_str()
            );
        }
        assert_eq!(
            w.settings(
                "GET",
                &format!("/events?user_id={}", target.id),
                json!(null),
                Some(&acme)
            )
            .await
            .status,
            404
        );
    }
    let listed = w.settings("GET", "/users", json!(null), Some(&acme)).await;
    let ids: Vec<&str> = listed.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "only acme's admin and user: {ids:?}");
    assert!(ids.contains(&w.acme_user.id.as_str()) && ids.contains(&w.acme_admin.id.as_str()));
    assert!(!w.user(&w.globex_user.id).await.two_factor_enabled);
    assert!(
        w.user(&w.globex_user.id).await.lockout_end.is_some(),
        "globex's lock stands"
    );
}

#[tokio::test]
async fn account_routes_act_on_the_callers_own_records_only() {
    let w = World::new().await;
    let later = w.core.now() + 1000;
    let theirs = Device {
        user_id: w.globex_user.id.clone(),
        device_id: "d1".into(),
        token_hash: "h".into(),
        security_stamp: w.globex_user.security_stamp.clone(),
        created_at: 0,
        last_used_at: 0,
        expires_at: later,
        user_agent: None,
    };
    w.core.store.put_device(&theirs).await.unwrap();
    let acme = w.token(&w.acme_user).await;
    assert_eq!(
        w.settings("DELETE", "/account/devices/d1", json!(null), Some(&acme))
            .await
            .status,
        404
    );
    assert_eq!(
        w.settings("GET", "/account/devices", json!(null), Some(&acme))
            .await
            .body,
        json!([])
    );
    assert_eq!(
        w.settings("POST", "/account/forget-browser", json!(null), Some(&acme))
            .await
            .status,
        204
    );
    assert_eq!(
        w.core.store.devices(&w.globex_user.id).await.unwrap(),
        vec![theirs]
    );
    // forget-browser ended that session: sign in again.
    let acme = w.token(&w.user(&w.acme_user.id).await).await;
    assert_eq!(
        w.settings("POST", "/account/recovery-codes", json!(null), Some(&acme))
            .await
            .status,
        200
    );
    assert_eq!(
        w.settings("POST", "/account/authenticator", json!(null), Some(&acme))
            .await
            .status,
        200
    );
    let globex = w.user(&w.globex_user.id).await;
    assert_eq!(globex, w.globex_user, "nothing of the globex user changed");
}

/// The session id of a new sign-in of `user`'s.
async fn live_session(w: &World, user: &twofa::user::User) -> Option<String> {
    let token = w.token(user).await;
    w.core
        .tokens
        .verify(TokenKind::Access, &token, w.core.now())
        .expect("a token of ours")
        .sid
}
