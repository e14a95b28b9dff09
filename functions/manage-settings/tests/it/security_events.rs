//! The event lists: a user reads its own events, an admin its side's, newest first,
//! a page at a time; with the client's address and browser, the acting admin, and no
//! secret.

use crate::support;

use serde_json::{Value, json};
use support::World;
use twofa::api::ClientInfo;
use twofa::testing::{Client, Reply, json_request};
use twofa::user::{Authenticator, UserPatch};

/// A request from `ip`, as API Gateway's request context would say.
async fn call_from(w: &World, ip: &str, method: &str, path: &str, token: &str) -> Reply {
    let mut req = json_request(method, path, &json!(null), Some(token));
    req.extensions_mut().insert(ClientInfo::new(Some(ip), None));
    let resp = manage_settings::handle(&w.core, &w.out, req).await;
    Reply::of(&resp)
}

fn types(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["type"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_user_reads_its_own_events_newest_first_and_not_the_address_of_the_admin_who_acted() {
    let w = World::new().await;
    let user_token = w.token(&w.acme_user).await;
    assert_eq!(
        call_from(
            &w,
            "203.0.113.9",
            "POST",
            "/account/forget-browser",
            &user_token
        )
        .await
        .status,
        204
    );
    w.clock.advance(5);
    let unlock = format!("/users/{}/unlock", w.acme_user.id);
    assert_eq!(
        call_from(
            &w,
            "198.51.100.7",
            "POST",
            &unlock,
            &w.token(&w.acme_admin).await
        )
        .await
        .status,
        204
    );

    // forget-browser rotated the stamp: the user signs in again.
    let r = w
        .settings(
            "GET",
            "/account/events",
            json!(null),
            Some(&w.token(&w.user(&w.acme_user.id).await).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(types(&r.body), ["unlocked", "browsers_forgotten"]);
    assert_eq!(r.body["next_cursor"], Value::Null);
    let unlocked = &r.body["events"][0];
    assert_eq!(unlocked["actor_id"], w.acme_admin.id.as_str());
    assert_eq!(
        (&unlocked["ip"], &unlocked["user_agent"]),
        (&Value::Null, &Value::Null),
        "the admin's address is not the user's to see"
    );
    let own = &r.body["events"][1];
    assert_eq!(
        (
            own["ip"].as_str(),
            own["user_agent"].as_str(),
            &own["actor_id"]
        ),
        (Some("203.0.113.9"), Some("twofa-tests"), &Value::Null)
    );
    let mut keys: Vec<&str> = own
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "actor_id",
            "at",
            "details",
            "event_id",
            "ip",
            "type",
            "user_agent",
            "user_id"
        ]
    );

    let admin_view = w
        .settings(
            "GET",
            &format!("/events?user_id={}", w.acme_user.id),
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        admin_view.body["events"][0]["ip"], "198.51.100.7",
        "the side's admins see who acted from where"
    );
    let others = w
        .settings(
            "GET",
            "/account/events",
            json!(null),
            Some(&w.token(&w.globex_user).await),
        )
        .await;
    assert_eq!(
        types(&others.body),
        Vec::<String>::new(),
        "another user's events are not mine"
    );
}

#[tokio::test]
async fn an_admin_reads_its_sides_events_only_filtered_by_user_and_type() {
    let w = World::new().await;
    for user in [&w.acme_user, &w.globex_user, &w.host_user] {
        assert_eq!(
            w.settings(
                "POST",
                "/account/forget-browser",
                json!(null),
                Some(&w.token(user).await)
            )
            .await
            .status,
            204
        );
    }
    let acme = w.token(&w.acme_admin).await;
    assert_eq!(
        w.settings(
            "PUT",
            "/settings/two-factor",
            json!({"remember_browser": false}),
            Some(&acme)
        )
        .await
        .status,
        200
    );

    let r = w.settings("GET", "/events", json!(null), Some(&acme)).await;
    assert_eq!(types(&r.body), ["settings_changed", "browsers_forgotten"]);
    let user_ids: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        user_ids,
        [w.acme_admin.id.as_str(), w.acme_user.id.as_str()]
    );
    assert_eq!(r.body["events"][0]["details"]["remember_browser"], false);
    let moved = &r.body["events"][0]["details"]["changes"];
    assert_eq!(
        moved,
        &json!([{"field": "remember_browser", "from": "true", "to": "false", "weakens": false}]),
        "the audit names what moved"
    );
    let r = w
        .settings(
            "GET",
            "/events?type=browsers_forgotten",
            json!(null),
            Some(&w.token(&w.host_admin).await),
        )
        .await;
    let host_users: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        host_users,
        [w.host_user.id.as_str()],
        "the host admin's side is the host's users, not the tenants'"
    );

    let r = w
        .settings(
            "GET",
            &format!("/events?user_id={}", w.globex_user.id),
            json!(null),
            Some(&acme),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (404, "not_found"),
        "another side's user is as unknown as a missing one"
    );
    let r = w
        .settings("GET", "/events?type=made_up", json!(null), Some(&acme))
        .await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("type")));
    let r = w
        .settings(
            "GET",
            "/events",
            json!(null),
            Some(&w.token(&w.user(&w.acme_user.id).await).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
    assert_eq!(
        w.settings("GET", "/account/events", json!(null), None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn event_lists_page_with_cursors_bound_to_the_list_they_came_from() {
    let w = World::new().await;
    for _ in 0..5 {
        // Each forget-browser rotates the stamp: a new sign-in each time.
        let t = w.token(&w.user(&w.acme_user.id).await).await;
        assert_eq!(
            w.settings("POST", "/account/forget-browser", json!(null), Some(&t))
                .await
                .status,
            204
        );
        w.clock.advance(1);
    }
    let t = w.token(&w.user(&w.acme_user.id).await).await;
    let (mut seen, mut cursor, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let r = w
            .settings(
                "GET",
                &format!("/account/events?limit=2&cursor={cursor}"),
                json!(null),
                Some(&t),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        pages += 1;
        seen.extend(
            r.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["at"].as_i64().unwrap()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert!(
        seen.len() == 5 && seen.windows(2).all(|p| p[0] > p[1]),
        "newest first: {seen:?}"
    );

    let first = w
        .settings("GET", "/account/events?limit=2", json!(null), Some(&t))
        .await;
    let c = first.body["next_cursor"].as_str().unwrap();
    let r = w
        .settings(
            "GET",
            &format!("/account/events?cursor={c}"),
            json!(null),
            Some(&w.token(&w.globex_user).await),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("cursor")),
        "a user's cursor does not page another user"
    );
    let r = w
        .settings(
            "GET",
            &format!("/events?cursor={c}"),
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("cursor")),
        "nor another list"
    );
}

#[tokio::test]
async fn events_past_their_retention_are_not_listed_even_before_the_ttl_sweeps_them() {
    let w = World::new().await;
    let t = w.token(&w.acme_user).await;
    assert_eq!(
        w.settings("POST", "/account/forget-browser", json!(null), Some(&t))
            .await
            .status,
        204
    );
    w.clock.advance(90 * 86_400);
    let r = w
        .settings(
            "GET",
            "/account/events",
            json!(null),
            Some(&w.token(&w.user(&w.acme_user.id).await).await),
        )
        .await;
    assert_eq!(types(&r.body), Vec::<String>::new());
}

#[tokio::test]
async fn every_account_change_is_recorded_once_and_no_event_holds_a_secret() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                authenticator: Some(Some(Authenticator {
                    sealed_key: "sealed-secret".into(),
                    enabled: true,
                })),
                ..Default::default()
            },
        )
        .await;
    let t = w.mfa_token(&user).await;
    let r = w
        .settings("POST", "/account/recovery-codes", json!(null), Some(&t))
        .await;
    assert_eq!(r.status, 200);
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    // Each change rotates the stamp: the next one is made from a fresh sign-in.
    assert_eq!(
        w.settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&w.mfa_token(&w.user(&user.id).await).await)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        w.settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": false}),
            Some(&w.mfa_token(&w.user(&user.id).await).await)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        w.settings(
            "DELETE",
            "/account/authenticator",
            json!(null),
            Some(&w.mfa_token(&w.user(&user.id).await).await)
        )
        .await
        .status,
        204
    );
    let admin = w.token(&w.acme_admin).await;
    assert_eq!(
        w.settings(
            "PUT",
            &format!("/users/{}/two-factor", user.id),
            json!({"enabled": true}),
            Some(&admin)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        w.settings(
            "POST",
            &format!("/users/{}/reset-two-factor", user.id),
            json!(null),
            Some(&admin)
        )
        .await
        .status,
        204
    );

    let r = w
        .settings(
            "GET",
            "/account/events",
            json!(null),
            Some(&w.token(&w.user(&user.id).await).await),
        )
        .await;
    assert_eq!(
        types(&r.body),
        [
            "two_factor_reset",
            "two_factor_enabled",
            "authenticator_removed",
            "two_factor_disabled",
            "two_factor_enabled",
            "recovery_codes_generated"
        ]
    );
    let text = r.body.to_string();
    for secret in codes
        .iter()
        .map(String::as_str)
        .chain(["sealed-secret", "argon2", t.as_str()])
    {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
