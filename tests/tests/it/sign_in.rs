//! Register and sign in over HTTP against the local API, on the embedded store and
//! on DynamoDB Local: the contract's answers, lockout, and lockout under concurrency.

use e2e::Client;
use e2e::{AppOptions, Backend, TestApp, spawn_app};
use serde_json::json;
use twofa::testing::fixtures::PASSWORD;

async fn register_and_login(app: &TestApp) {
    let r = app.post("/register", &json!({"email": "Jane@Example.com", "password": PASSWORD, "phone_number": "+15555550100"}), None).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["email_confirmed"], false);
    assert!(r.body["user_id"].as_str().is_some_and(|s| !s.is_empty()));

    let again = app
        .post(
            "/register",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (409, Some("email_taken"))
    );

    let ok = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (
            ok.status,
            ok.body["status"].as_str(),
            ok.body["token_type"].as_str()
        ),
        (200, Some("signed_in"), Some("Bearer"))
    );
    assert_eq!(ok.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(ok.headers.get("cache-control").unwrap(), "no-store");

    let wrong = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": "wrong horse battery"}),
            None,
        )
        .await;
    let unknown = app
        .post(
            "/login",
            &json!({"email": "joe@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);

    let no_tenant = app
        .post(
            "/login",
            &json!({"tenant": "nope", "email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (no_tenant.status, no_tenant.body["error"].as_str()),
        (404, Some("unknown_tenant"))
    );
}

async fn lockout(app: &TestApp) {
    app.post(
        "/register",
        &json!({"email": "lock@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            app.post(
                "/login",
                &json!({"email": "lock@example.com", "password": "wrong horse battery"}),
                None,
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 423]);
    let right = app
        .post(
            "/login",
            &json!({"email": "lock@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (right.status, right.body["error"].as_str()),
        (423, Some("locked_out"))
    );
    let wait = right.body["retry_after_seconds"].as_i64().unwrap();
    assert!((295..=300).contains(&wait), "{wait}");
    assert_eq!(
        right.headers.get("retry-after").unwrap().to_str().unwrap(),
        wait.to_string()
    );
}

async fn concurrent_lockout(app: &TestApp) {
    app.post(
        "/register",
        &json!({"email": "race@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post(
                    "/login",
                    &json!({"email": "race@example.com", "password": "wrong horse battery"}),
                    None,
                )
                .await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.expect("the request task finished"));
    }
    let invalid = replies
        .iter()
        .filter(|r| r.status == 401 && r.body["error"] == "invalid_credentials")
        .count();
    let locked = replies
        .iter()
        .filter(|r| r.status == 423 && r.body["error"] == "locked_out")
        .count();
    assert_eq!(
        invalid + locked,
        20,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(invalid <= 5, "{invalid} invalid_credentials out of 20");
    assert_eq!(
        app.post(
            "/login",
            &json!({"email": "race@example.com", "password": PASSWORD}),
            None
        )
        .await
        .status,
        423
    );
}

async fn bad_input(app: &TestApp) {
    let url = format!("{}/register", app.base);
    let not_json = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let v: serde_json::Value = not_json.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    let text = app
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body(r#"{"email":"a@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 400);
    let big = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(format!(r#"{{"email":"{}"}}"#, "a".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let v: serde_json::Value = big.json().await.unwrap();
    assert_eq!(v["error"], "payload_too_large");
    let array = app.post("/login", &json!([1, 2]), None).await;
    assert_eq!(array.status, 400);
    let missing = app
        .post("/login", &json!({"email": "a@example.com"}), None)
        .await;
    assert_eq!(
        (missing.status, missing.body["field"].as_str()),
        (400, Some("password"))
    );
    let nowhere = app.call("GET", "/nowhere", None, None).await;
    assert_eq!(
        (nowhere.status, nowhere.body["error"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn sign_in_works_as_the_contract_says_on_the_embedded_store() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    register_and_login(&app).await;
    lockout(&app).await;
    concurrent_lockout(&app).await;
    bad_input(&app).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn sign_in_works_as_the_contract_says_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let app = spawn_app(&backend, AppOptions::default()).await;
    register_and_login(&app).await;
    lockout(&app).await;
    concurrent_lockout(&app).await;
    bad_input(&app).await;
}
