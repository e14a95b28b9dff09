//! An admin's operations on the users of its side: the list, unlock and the reset of
//! a lost second factor. The admin is also the attacker here: another side's users,
//! ids and cursors answer as if they did not exist.

use crate::support;
use twofa::ids::AttemptId;
use twofa::testing::Client;

use serde_json::{Value, json};
use support::World;
use twofa::devices::Device;
use twofa::side::Side;
use twofa::store::Subject;
use twofa::testing::seed_user;
use twofa::user::{Authenticator, UserPatch};

async fn list(w: &World, query: &str, token: &str) -> support::Reply {
    w.settings("GET", &format!("/users{query}"), json!(null), Some(token))
        .await
}

fn emails(body: &Value) -> Vec<String> {
    body["users"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["email"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every page of `/users?email=<prefix>&limit=<limit>`, following next_cursor.
async fn all_pages(
    w: &World,
    prefix: &str,
    limit: usize,
    token: &str,
) -> (Vec<String>, Vec<usize>) {
    let (mut all, mut sizes, mut cursor) = (Vec::new(), Vec::new(), String::new());
    loop {
        let r = list(
            w,
            &format!("?email={prefix}&limit={limit}&cursor={cursor}"),
            token,
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        sizes.push(r.body["users"].as_array().map(Vec::len).unwrap_or(0));
        all.extend(emails(&r.body));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return (all, sizes),
        }
        assert!(sizes.len() < 50, "a list that never ends");
    }
}

#[tokio::test]
async fn a_tenant_admin_lists_its_own_users_by_email_prefix_a_page_at_a_time() {
    let w = World::new().await;
    let acme = Side::Tenant("acme".into());
    for email in [
        "Bert@acme.example",
        "bob@acme.example",
        "carol@acme.example",
    ] {
        seed_user(&w.core, acme.clone(), email, support::PASSWORD, &[]).await;
    }
    seed_user(
        &w.core,
        Side::Tenant("globex".into()),
        "bill@acme.example",
        support::PASSWORD,
        &[],
    )
    .await;
    let t = w.token(&w.acme_admin).await;

    let (all, sizes) = all_pages(&w, "", 2, &t).await;
    assert_eq!(
        all,
        [
            "admin@acme.example",
            "alice@acme.example",
            "Bert@acme.example",
            "bob@acme.example",
            "carol@acme.example"
        ]
    );
    assert_eq!(sizes, [2, 2, 1], "next_cursor is null on the last page");
    let (b, sizes) = all_pages(&w, "B", 1, &t).await;
    assert_eq!(
        (b, sizes),
        (
            vec![
                "Bert@acme.example".to_string(),
                "bob@acme.example".to_string()
            ],
            vec![1, 1]
        ),
        "the prefix ignores case"
    );
    let r = list(&w, "?email=b", &t).await;
    assert_eq!(
        (emails(&r.body).len(), &r.body["next_cursor"]),
        (2, &Value::Null),
        "default page of 50"
    );
    assert_eq!(
        emails(&list(&w, "", &w.token(&w.host_admin).await).await.body),
        ["hana@example.com", "root@example.com"],
        "the host admin sees host users"
    );
}

#[tokio::test]
async fn a_listed_user_shows_its_state_and_no_secret() {
    let w = World::new().await;
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                phone_number: Some(Some(twofa::testing::test_phone("+15555550100"))),
                phone_number_confirmed: Some(true),
                authenticator: Some(Some(Authenticator {
                    sealed_key: "sealed-secret".into(),
                    enabled: true,
                })),
                recovery_codes: Some(vec!["recovery-hash".into()]),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    w.core
        .store
        .lock(
            Subject::User(&user.id),
            w.core.now(),
            w.core.now() + 300,
            false,
        )
        .await
        .unwrap();
    let r = list(&w, "?email=alice", &w.token(&w.acme_admin).await).await;
    assert_eq!(r.status, 200);
    let item = &r.body["users"][0];
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "email_confirmed",
            "locked_until",
            "phone_confirmed",
            "phone_hint",
            "providers",
            "roles",
            "two_factor_enabled",
            "user_id"
        ]
    );
    assert_eq!(item["user_id"], user.id.as_str());
    assert_eq!(item["phone_hint"], "+1*******0100");
    assert_eq!(
        (&item["two_factor_enabled"], &item["providers"]),
        (&json!(true), &json!(["authenticator", "email", "sms"]))
    );
    assert_eq!(item["locked_until"], w.core.now() + 300);
    let text = r.body.to_string();
    for secret in [
        "sealed-secret",
        "recovery-hash",
        "argon2",
        "5555550100",
        &user.security_stamp,
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    w.clock.advance(301);
    let r = list(&w, "?email=alice", &w.token(&w.acme_admin).await).await;
    assert_eq!(
        r.body["users"][0]["locked_until"],
        Value::Null,
        "an ended lock is not shown"
    );
}

#[tokio::test]
async fn a_cursor_works_only_for_the_side_and_prefix_it_was_made_for() {
    let w = World::new().await;
    for email in ["a1@acme.example", "a2@acme.example"] {
        seed_user(
            &w.core,
            Side::Tenant("acme".into()),
            email,
            support::PASSWORD,
            &[],
        )
        .await;
    }
    let acme = w.token(&w.acme_admin).await;
    let cursor = list(&w, "?limit=1", &acme).await.body["next_cursor"]
        .as_str()
        .expect("more than one page")
        .to_string();
    for (query, token) in [
        (
            format!("?limit=1&cursor={cursor}"),
            w.token(&w.globex_admin).await,
        ),
        (
            format!("?limit=1&cursor={cursor}"),
            w.token(&w.host_admin).await,
        ),
        (format!("?limit=1&email=a&cursor={cursor}"), acme.clone()),
        (format!("?limit=1&cursor={}x", cursor), acme.clone()),
        ("?cursor=not-a-cursor".to_string(), acme.clone()),
    ] {
        let r = list(&w, &query, &token).await;
        assert_eq!(
            (r.status, r.error.as_str(), r.body["field"].as_str()),
            (400, "invalid_request", Some("cursor")),
            "{query}"
        );
    }
    assert_eq!(
        list(&w, &format!("?limit=1&cursor={cursor}"), &acme)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bad_list_parameters_and_non_admins_are_refused() {
    let w = World::new().await;
    let t = w.token(&w.acme_admin).await;
    for query in ["?limit=0", "?limit=101", "?limit=-3", "?limit=many"] {
        let r = list(&w, query, &t).await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("limit")),
            "{query}"
        );
    }
    let r = list(&w, &format!("?email={}", "a".repeat(255)), &t).await;
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("email")));
    assert_eq!(list(&w, "?email=%ff", &t).await.status, 400);
    assert_eq!(list(&w, "?limit=100", &t).await.status, 200);
    for user in [&w.acme_user, &w.host_user] {
        let r = list(&w, "", &w.token(user).await).await;
        assert_eq!((r.status, r.error.as_str()), (403, "forbidden"));
    }
    assert_eq!(
        w.settings("GET", "/users", json!(null), None).await.status,
        401
    );
    assert_eq!(
        w.settings("DELETE", "/users", json!(null), Some(&t))
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn an_admin_unlocks_its_own_sides_user_and_counting_starts_again() {
    let w = World::new().await;
    let now = w.core.now();
    w.core
        .store
        .take_slot(
            Subject::User(&w.acme_user.id),
            &AttemptId::from("attempt-1"),
            None,
            5,
            now,
        )
        .await
        .unwrap();
    w.core
        .store
        .lock(Subject::User(&w.acme_user.id), now, now + 300, false)
        .await
        .unwrap();
    let path = format!("/users/{}/unlock", w.acme_user.id);

    for (token, status) in [
        (w.token(&w.globex_admin).await, 404),
        (w.token(&w.host_admin).await, 404),
        (w.token(&w.acme_user).await, 403),
    ] {
        let r = w.settings("POST", &path, json!(null), Some(&token)).await;
        assert_eq!(r.status, status, "{:?}", r.body);
    }
    assert!(
        w.user(&w.acme_user.id).await.lockout_end.is_some(),
        "refused unlocks change nothing"
    );

    let r = w
        .settings(
            "POST",
            &path,
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(r.status, 204);
    let after = w.user(&w.acme_user.id).await;
    assert_eq!((after.lockout_end, after.failed_count), (None, 0));
    let r = w
        .settings(
            "POST",
            "/users/no-such-user/unlock",
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (404, "not_found"));
}

#[tokio::test]
async fn a_stale_admin_session_cannot_unlock_a_user() {
    let w = World::new().await;
    let now = w.core.now();
    w.core
        .store
        .lock(Subject::User(&w.acme_user.id), now, now + 300, false)
        .await
        .unwrap();
    let admin = w
        .patch(
            &w.acme_admin,
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
    let path = format!("/users/{}/unlock", w.acme_user.id);
    let stale = w.mfa_token(&admin).await;
    w.clock.advance(w.core.config.step_up_max_age_seconds + 1);
    let r = w.settings("POST", &path, json!(null), Some(&stale)).await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (403, "step_up_required"),
        "an unlock gives whoever is guessing a new round: {:?}",
        r.body
    );
    assert_eq!(
        w.user(&w.acme_user.id).await.lockout_end,
        Some(now + 300),
        "refused: nothing changed"
    );
    let r = w
        .settings("POST", &path, json!(null), Some(&w.mfa_token(&admin).await))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(w.user(&w.acme_user.id).await.lockout_end, None);
}

async fn lost_phone(w: &World) -> twofa::user::User {
    let user = w
        .patch(
            &w.acme_user,
            UserPatch {
                phone_number: Some(Some(twofa::testing::test_phone("+15555550100"))),
                phone_number_confirmed: Some(true),
                authenticator: Some(Some(Authenticator {
                    sealed_key: "k".into(),
                    enabled: true,
                })),
                recovery_codes: Some(vec!["h1".into(), "h2".into()]),
                two_factor_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    let now = w.core.now();
    let device = Device {
        user_id: user.id.clone(),
        device_id: "d1".into(),
        token_hash: "h".into(),
        security_stamp: user.security_stamp.clone(),
        created_at: now,
        last_used_at: now,
        expires_at: now + 86_400,
        user_agent: None,
    };
    w.core.store.put_device(&device).await.unwrap();
    user
}

#[tokio::test]
async fn resetting_a_lost_second_factor_keeps_the_confirmed_email_and_phone() {
    let w = World::new().await;
    let user = lost_phone(&w).await;
    let r = w
        .settings(
            "POST",
            &format!("/users/{}/reset-two-factor", user.id),
            json!(null),
            Some(&w.token(&w.acme_admin).await),
        )
        .await;
    assert_eq!(
        r.status, 204,
        "an admin without 2FA needs no step-up: {:?}",
        r.body
    );
    let after = w.user(&user.id).await;
    assert_eq!(
        (after.authenticator.is_none(), after.recovery_codes.len()),
        (true, 0)
    );
    assert_ne!(
        after.security_stamp, user.security_stamp,
        "old sessions and browsers die"
    );
    assert!(w.core.store.devices(&user.id).await.unwrap().is_empty());
    assert!(after.email_confirmed && after.phone_number_confirmed);
    assert_eq!(after.phone_number, user.phone_number);
    assert!(
        after.two_factor_enabled,
        "the flag stays: the user signs in with email or sms"
    );
    assert_eq!(w.mail_to(&user.email).len(), 1, "the user is told");
}

#[tokio::test]
async fn an_admin_with_2fa_on_needs_its_own_fresh_second_factor_to_reset_a_users() {
    let w = World::new().await;
    let user = lost_phone(&w).await;
    let admin = w
        .patch(
            &w.acme_admin,
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
    let path = format!("/users/{}/reset-two-factor", user.id);
    let r = w
        .settings("POST", &path, json!(null), Some(&w.token(&admin).await))
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert!(
        w.user(&user.id).await.authenticator.is_some(),
        "refused: nothing changed"
    );
    let r = w
        .settings(
            "POST",
            &path,
            json!(null),
            Some(&w.mfa_token(&w.globex_admin).await),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (404, "not_found"),
        "another side's user is unknown"
    );
    assert_eq!(
        w.settings("POST", &path, json!(null), Some(&w.mfa_token(&admin).await))
            .await
            .status,
        204
    );
    assert!(w.user(&user.id).await.authenticator.is_none());
}

#[tokio::test]
async fn an_admin_turning_off_its_own_flag_through_the_users_route_meets_the_accounts_step_up() {
    let w = World::new().await;
    let admin = w
        .patch(
            &w.acme_admin,
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
    let path = format!("/users/{}/two-factor", admin.id);
    let r = w
        .settings(
            "PUT",
            &path,
            json!({"enabled": false}),
            Some(&w.token(&admin).await),
        )
        .await;
    assert_eq!((r.status, r.error.as_str()), (403, "step_up_required"));
    assert!(w.user(&admin.id).await.two_factor_enabled);
    let r = w
        .settings(
            "PUT",
            &path,
            json!({"enabled": false}),
            Some(&w.mfa_token(&admin).await),
        )
        .await;
    assert_eq!(r.status, 200);
    // Another user's flag is the admin's to turn on without step-up (from a new sign-in:
    // the change of its own flag rotated its stamp).
    let admin = w.user(&admin.id).await;
    let r = w
        .settings(
            "PUT",
            &format!("/users/{}/two-factor", w.acme_user.id),
            json!({"enabled": true}),
            Some(&w.token(&admin).await),
        )
        .await;
    assert_eq!(r.status, 200);
}

/// Path ids in a shape no user id has: another user's id in capitals, without its
/// hyphens, in braces, with a byte after it; text; a zero-width space; the longest
/// parameter the router takes.
fn malformed_user_ids(real: &str) -> Vec<String> {
    vec![
        real.to_uppercase(),
        real.replace('-', ""),
        format!("%7B{real}%7D"),
        format!("{real}%00"),
        "no-such-user".into(),
        "%E2%80%8B".into(),
        "a".repeat(256),
    ]
}

#[tokio::test]
async fn a_malformed_user_id_in_the_path_is_answered_as_an_unknown_user_on_every_user_route() {
    let w = World::new().await;
    let admin = w.token(&w.acme_admin).await;
    let before = w.user(&w.acme_user.id).await;
    let routes = [
        ("GET", "/users/{}/two-factor", json!(null)),
        ("PUT", "/users/{}/two-factor", json!({"enabled": true})),
        ("POST", "/users/{}/unlock", json!(null)),
        ("POST", "/users/{}/reset-two-factor", json!(null)),
    ];
    for (method, pattern, body) in routes {
        let path = |id: &str| pattern.replace("{}", id);
        let unknown = w
            .settings(
                method,
                &path("00000000-0000-4000-8000-000000000000"),
                body.clone(),
                Some(&admin),
            )
            .await;
        assert_eq!((unknown.status, unknown.error.as_str()), (404, "not_found"));
        for id in malformed_user_ids(w.acme_user.id.as_str()) {
            let r = w
                .settings(method, &path(&id), body.clone(), Some(&admin))
                .await;
            assert_eq!(
                (r.status, &r.body),
                (unknown.status, &unknown.body),
                "{method} {pattern} with {id:?}"
            );
        }
        // The caller is checked first, whatever the id.
        let r = w
            .settings(method, &path("no-such-user"), body.clone(), None)
            .await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (401, "unauthorized"),
            "{method} {pattern}"
        );
        let r = w
            .settings(
                method,
                &path("no-such-user"),
                body.clone(),
                Some(&w.token(&w.acme_user).await),
            )
            .await;
        assert_eq!(r.status, 403, "{method} {pattern}");
    }
    assert_eq!(
        w.user(&w.acme_user.id).await,
        before,
        "the user named in capitals is untouched"
    );
}

#[tokio::test]
async fn a_malformed_user_id_in_the_event_filter_is_answered_as_an_unknown_user() {
    let w = World::new().await;
    let admin = w.token(&w.acme_admin).await;
    let unknown = w
        .call(
            "GET",
            "/events?user_id=00000000-0000-4000-8000-000000000000",
            None,
            Some(&admin),
        )
        .await;
    assert_eq!((unknown.status, unknown.error.as_str()), (404, "not_found"));
    for id in malformed_user_ids(w.acme_user.id.as_str()) {
        let r = w
            .call("GET", &format!("/events?user_id={id}"), None, Some(&admin))
            .await;
        assert_eq!(
            (r.status, &r.body),
            (unknown.status, &unknown.body),
            "{id:?}"
        );
    }
}
