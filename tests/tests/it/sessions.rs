//! Sessions and refresh tokens over HTTP, on the embedded store and on DynamoDB
//! Local (API.md v1.2): every sign-in starts a session; a refresh rotates its token
//! and a rotated token presented again ends the session (RFC 9700 4.14); of two
//! refreshes of one token sent together exactly one succeeds; revocation, the
//! session list and ending one session stop its access tokens at once; a password
//! change and sign-out everywhere end every refresh token.

use e2e::{AppOptions, Backend, Client, Reply, TestApp, spawn_app};
use serde_json::{Value, json};
use twofa::testing::fixtures::PASSWORD;

const NEW_PASSWORD: &str = "an entirely new passphrase";

async fn signed_in(app: &TestApp, email: &str, password: &str) -> Reply {
    let r = app.sign_in(email, password).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() > 40),
        "a signed_in answer carries a refresh token: {:?}",
        r.body
    );
    assert!(r.body["refresh_expires_in"].as_i64().is_some_and(|s| s > 0));
    r
}

fn access(r: &Reply) -> String {
    r.body["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

fn refresh_token(r: &Reply) -> String {
    r.body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string()
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.post("/token/refresh", &json!({"refresh_token": token}), None)
        .await
}

async fn works(app: &TestApp, access: &str) -> bool {
    app.get("/account/two-factor", Some(access)).await.status == 200
}

async fn register(app: &TestApp, email: &str) {
    let r = app
        .register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn rotation_and_reuse(app: &TestApp) {
    register(app, "rotate@example.com").await;
    let first = signed_in(app, "rotate@example.com", PASSWORD).await;
    let renewed = refresh(app, &refresh_token(&first)).await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.body);
    for field in [
        "access_token",
        "refresh_token",
        "expires_in",
        "refresh_expires_in",
    ] {
        assert!(
            !renewed.body[field].is_null(),
            "{field} in {:?}",
            renewed.body
        );
    }
    assert_eq!(renewed.body["token_type"], "Bearer");
    assert_ne!(refresh_token(&renewed), refresh_token(&first));
    assert!(works(app, &access(&renewed)).await);
    assert!(works(app, &access(&first)).await, "the session goes on");

    // The token just replaced, again at once: taken for a refresh sent beside the
    // winner (two tabs), refused, and the session goes on.
    let beside = refresh(app, &refresh_token(&first)).await;
    assert_eq!(
        (beside.status, beside.error.as_str()),
        (401, "invalid_grant")
    );
    let second = refresh(app, &refresh_token(&renewed)).await;
    assert_eq!(second.status, 200, "{:?}", second.body);

    // An older token again: someone copied it. The whole session ends.
    let reused = refresh(app, &refresh_token(&first)).await;
    assert_eq!(
        (reused.status, reused.error.as_str()),
        (401, "invalid_grant")
    );
    let after = refresh(app, &refresh_token(&second)).await;
    assert_eq!(
        (after.status, after.error.as_str()),
        (401, "invalid_grant"),
        "the current token died with its session"
    );
    assert!(!works(app, &access(&second)).await, "and its access tokens");
}

async fn concurrent_refreshes(app: &TestApp) {
    register(app, "race@example.com").await;
    let first = signed_in(app, "race@example.com", PASSWORD).await;
    let token = refresh_token(&first);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { refresh(&app, &token).await })
        })
        .collect();
    let mut answers = Vec::new();
    for racer in racers {
        answers.push(racer.await.expect("a refresh"));
    }
    let won: Vec<&Reply> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "exactly one refresh of one token wins: {:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| (r.status, r.error.as_str()) == (401, "invalid_grant"))
    );
    // The winner's token goes on (the losers raced, they did not come back later).
    let next = refresh(app, &refresh_token(won[0])).await;
    assert_eq!(next.status, 200, "{:?}", next.body);
}

async fn revoke_list_and_end(app: &TestApp) {
    register(app, "list@example.com").await;
    let a = signed_in(app, "list@example.com", PASSWORD).await;
    let b = signed_in(app, "list@example.com", PASSWORD).await;
    let c = signed_in(app, "list@example.com", PASSWORD).await;

    let listed = app.get("/account/sessions", Some(&access(&a))).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let list = listed.body.as_array().expect("a list").clone();
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(
        list.iter().filter(|s| s["current"] == true).count(),
        1,
        "{list:?}"
    );
    for s in &list {
        for field in [
            "session_id",
            "created_at",
            "last_used_at",
            "expires_at",
            "amr",
        ] {
            assert!(!s[field].is_null(), "{field} in {s:?}");
        }
        assert_eq!(s["amr"], json!(["pwd"]));
    }

    // Revoke b's refresh token: b's session ends, access tokens and all.
    let revoked = app
        .post(
            "/token/revoke",
            &json!({"refresh_token": refresh_token(&b)}),
            None,
        )
        .await;
    assert_eq!((revoked.status, &revoked.body), (200, &json!({})));
    assert_eq!(refresh(app, &refresh_token(&b)).await.status, 401);
    assert!(!works(app, &access(&b)).await);
    // Whatever the token, the same answer.
    for junk in ["", "rt1.nothing", "not a token at all"] {
        let r = app
            .post("/token/revoke", &json!({"refresh_token": junk}), None)
            .await;
        assert_eq!((r.status, &r.body), (200, &json!({})), "{junk:?}");
    }

    // End c's session from a's.
    let listed = app.get("/account/sessions", Some(&access(&c))).await;
    let c_id = listed
        .body
        .as_array()
        .and_then(|l| l.iter().find(|s| s["current"] == true))
        .and_then(|s| s["session_id"].as_str())
        .expect("c's session")
        .to_string();
    let ended = app
        .call(
            "DELETE",
            &format!("/account/sessions/{c_id}"),
            None,
            Some(&access(&a)),
        )
        .await;
    assert_eq!(ended.status, 204, "{:?}", ended.body);
    assert!(
        !works(app, &access(&c)).await,
        "its access token stops at once"
    );
    assert_eq!(refresh(app, &refresh_token(&c)).await.status, 401);
    let again = app
        .call(
            "DELETE",
            &format!("/account/sessions/{c_id}"),
            None,
            Some(&access(&a)),
        )
        .await;
    assert_eq!((again.status, again.error.as_str()), (404, "not_found"));
    let left = app.get("/account/sessions", Some(&access(&a))).await;
    assert_eq!(
        left.body.as_array().map(Vec::len),
        Some(1),
        "{:?}",
        left.body
    );
    assert!(works(app, &access(&a)).await);
}

async fn stamp_changes_end_refresh_tokens(app: &TestApp) {
    register(app, "stamp@example.com").await;
    let acting = signed_in(app, "stamp@example.com", PASSWORD).await;
    let other = signed_in(app, "stamp@example.com", PASSWORD).await;
    let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let changed = app
        .call(
            "PUT",
            "/account/password",
            Some(&change),
            Some(&access(&acting)),
        )
        .await;
    assert!(changed.status < 300, "{:?}", changed.body);
    for r in [&acting, &other] {
        let refused = refresh(app, &refresh_token(r)).await;
        assert_eq!(
            (refused.status, refused.error.as_str()),
            (401, "invalid_grant"),
            "a password change ends every refresh token"
        );
    }

    let kept = signed_in(app, "stamp@example.com", NEW_PASSWORD).await;
    let out = app
        .post(
            "/account/sign-out-everywhere",
            &json!({}),
            Some(&access(&kept)),
        )
        .await;
    assert_eq!(out.status, 204);
    assert_eq!(refresh(app, &refresh_token(&kept)).await.status, 401);
    let none = signed_in(app, "stamp@example.com", NEW_PASSWORD).await;
    let listed = app.get("/account/sessions", Some(&access(&none))).await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "ended sessions are not listed: {:?}",
        listed.body
    );
}

async fn bad_input(app: &TestApp) {
    // Without a token in the body or the refresh cookie, a refresh has nothing to
    // renew (400); a revoke answers 200 {} whatever it was given (RFC 7009).
    let r = app.post("/token/refresh", &json!({}), None).await;
    assert_eq!((r.status, r.error.as_str()), (400, "invalid_request"));
    let r = app.post("/token/revoke", &json!({}), None).await;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    for route in ["/token/refresh", "/token/revoke"] {
        for body in [json!({"refresh_token": 7}), json!([1])] {
            let r = app.post(route, &body, None).await;
            assert_eq!(
                (r.status, r.error.as_str()),
                (400, "invalid_request"),
                "{route} {body}"
            );
        }
        let r = app
            .http
            .post(format!("{}{route}", app.base))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status().as_u16(), 400, "{route}");
        let body: Value = r.json().await.expect("a JSON error");
        assert_eq!(body["error"], "invalid_request");
    }
    for junk in [
        "",
        "rt1.",
        "rt1.a.b.c.d",
        &format!("rt1.{}.abc.0.{}", uuid::Uuid::new_v4(), "A".repeat(43)),
        &"x".repeat(10_000),
    ] {
        let r = refresh(app, junk).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (401, "invalid_grant"),
            "{junk:.40}"
        );
    }
    assert_eq!(app.get("/account/sessions", None).await.status, 401);
    register(app, "bad@example.com").await;
    let me = signed_in(app, "bad@example.com", PASSWORD).await;
    for id in ["nope", "a%2Fb", &"z".repeat(300)] {
        let r = app
            .call(
                "DELETE",
                &format!("/account/sessions/{id}"),
                None,
                Some(&access(&me)),
            )
            .await;
        assert!(
            r.status == 404 && r.error == "not_found",
            "{id:.20}: {} {:?}",
            r.status,
            r.body
        );
    }
    assert!(works(app, &access(&me)).await, "nothing changed");
}

async fn all(app: &TestApp) {
    rotation_and_reuse(app).await;
    concurrent_refreshes(app).await;
    revoke_list_and_end(app).await;
    stamp_changes_end_refresh_tokens(app).await;
    bad_input(app).await;
}

#[tokio::test]
async fn sessions_and_refresh_tokens_work_as_the_contract_says_on_the_embedded_store() {
    all(&spawn_app(&Backend::Memory, AppOptions::default()).await).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn sessions_and_refresh_tokens_work_as_the_contract_says_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    all(&spawn_app(&backend, AppOptions::default()).await).await;
}
