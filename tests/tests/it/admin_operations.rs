//! An admin's day over HTTP against the local API on DynamoDB Local: a tenant user
//! locks itself out, the tenant admin finds it in the list, unlocks it, and both read
//! what happened in the security events, with the client's address; the host admin
//! sees none of it.

use e2e::Client;
use e2e::{AppOptions, Backend, TestApp, spawn_app};
use serde_json::{Value, json};
use twofa::amr::Amr;
use twofa::testing::fixtures::PASSWORD;

async fn sign_in(app: &TestApp, tenant: Option<&str>, email: &str) -> String {
    let r = app
        .post(
            "/login",
            &json!({"tenant": tenant, "email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["access_token"]
        .as_str()
        .expect("signed in")
        .to_string()
}

fn types(body: &Value) -> Vec<&str> {
    body["events"]
        .as_array()
        .map(|a| a.iter().map(|e| e["type"].as_str().unwrap_or("")).collect())
        .unwrap_or_default()
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_tenant_admin_finds_unlocks_and_audits_a_locked_out_user_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let app = spawn_app(&backend, AppOptions::default()).await;
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("the host admin");
    let host = sign_in(&app, None, "root@example.com").await;
    let r = app.post("/tenants", &json!({"name": "Acme", "admin_email": "boss@acme.example", "admin_password": PASSWORD}), Some(&host)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .post(
            "/register",
            &json!({"tenant": "acme", "email": "Jane@Acme.example", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let jane_id = r.body["user_id"].as_str().unwrap().to_string();

    for _ in 0..5 {
        app.post("/login", &json!({"tenant": "acme", "email": "jane@acme.example", "password": "wrong horse battery"}), None).await;
    }
    let r = app
        .post(
            "/login",
            &json!({"tenant": "acme", "email": "jane@acme.example", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (423, Some("locked_out"))
    );

    let boss = sign_in(&app, Some("acme"), "boss@acme.example").await;
    let r = app.call("GET", "/users?email=JA", None, Some(&boss)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["users"][0]["user_id"], jane_id.as_str());
    assert!(
        r.body["users"][0]["locked_until"].is_i64(),
        "the list shows the lock: {:?}",
        r.body
    );
    assert_eq!(r.body["next_cursor"], Value::Null);
    let r = app.call("GET", "/users?email=ja", None, Some(&host)).await;
    assert_eq!(
        r.body["users"],
        json!([]),
        "the host admin's side is the host's users"
    );
    let r = app
        .post(
            &format!("/users/{jane_id}/unlock"),
            &json!(null),
            Some(&host),
        )
        .await;
    assert_eq!(r.status, 404, "nor may it touch a tenant's user");

    let r = app
        .post(
            &format!("/users/{jane_id}/unlock"),
            &json!(null),
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let jane = sign_in(&app, Some("acme"), "jane@acme.example").await;

    let r = app
        .call(
            "GET",
            &format!("/events?user_id={jane_id}"),
            None,
            Some(&boss),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        types(&r.body),
        [
            "sign_in",
            "unlocked",
            "locked_out",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in_failed"
        ]
    );
    let unlocked = &r.body["events"][1];
    assert_eq!(
        (unlocked["ip"].as_str(), unlocked["actor_id"].is_string()),
        (Some("127.0.0.1"), true)
    );
    assert_eq!(r.body["events"][0]["details"]["amr"], json!(["pwd"]));

    let r = app
        .call("GET", "/account/events?limit=3", None, Some(&jane))
        .await;
    assert_eq!(types(&r.body), ["sign_in", "unlocked", "locked_out"]);
    assert_eq!(
        r.body["events"][1]["ip"],
        Value::Null,
        "the admin's address is not shown to the user"
    );
    let next = r.body["next_cursor"]
        .as_str()
        .expect("more events")
        .to_string();
    let r = app
        .call(
            "GET",
            &format!("/account/events?cursor={next}"),
            None,
            Some(&jane),
        )
        .await;
    assert_eq!(types(&r.body).len(), 5);

    let r = app.call("GET", "/events", None, Some(&host)).await;
    assert!(
        types(&r.body).iter().all(|t| *t != "sign_in_failed"),
        "no acme event reaches the host: {:?}",
        r.body
    );
}

/// Wrong passwords for Jane, the host admin unlocking her after every lock: until
/// the hundredth consecutive failure, then once more. Returns how many wrong
/// passwords were sent before an unlock was refused, and that refusal.
async fn guess_and_unlock_until_refused(
    core: &twofa::app::Core,
    jane: &twofa::user::User,
    admin_token: &str,
) -> (u32, twofa::testing::Reply) {
    use twofa::testing::{Reply, json_request};
    let out = twofa::senders::log::LogSender::default();
    for sent in 1..=250 {
        let r = Reply::of(
            &login::handle(
                core,
                &out,
                json_request(
                    "POST",
                    "/login",
                    &json!({"email": "jane@example.com", "password": "wrong horse battery"}),
                    None,
                ),
            )
            .await,
        );
        if r.status != 423 {
            assert_eq!(r.status, 401, "attempt {sent}: {:?}", r.body);
            continue;
        }
        let unlocked = Reply::of(
            &manage_settings::handle(
                core,
                &out,
                json_request(
                    "POST",
                    &format!("/users/{}/unlock", jane.id),
                    &Value::Null,
                    Some(admin_token),
                ),
            )
            .await,
        );
        if unlocked.status != 204 {
            return (sent, unlocked);
        }
    }
    panic!("250 wrong passwords were judged: unlocks reset the bound of 100 consecutive failures");
}

/// Unlocks after every lock give no more than [`twofa::store::HARD_LIMIT`]
/// consecutive guesses on `backend`: the hundredth failure locks for 30 days, which
/// no unlock ends, and the right password waits it out too.
async fn unlocks_give_no_more_than_a_hundred_consecutive_guesses(backend: Backend) {
    use std::sync::Arc;
    use twofa::clock::ManualClock;
    use twofa::config::Config;
    use twofa::side::Side;
    use twofa::testing::{Reply, core_over, json_request, seed_user};
    use twofa::user::Role;
    {
        let clock = Arc::new(ManualClock::new(4_102_444_800));
        let config = Config {
            locked_answer_ms: 0,
            ..Config::default()
        };
        let core = core_over(e2e::store(&backend).await, clock.clone(), config);
        let admin = seed_user(
            &core,
            Side::Host,
            "root@example.com",
            PASSWORD,
            &[Role::HostAdmin],
        )
        .await;
        let jane = seed_user(&core, Side::Host, "jane@example.com", PASSWORD, &[]).await;
        let token =
            twofa::flows::issue_access(&core, &admin, &[Amr::Pwd], None, &Default::default())
                .await
                .unwrap()
                .access_token;

        let (sent, refused) = guess_and_unlock_until_refused(&core, &jane, &token).await;
        assert_eq!(
            sent,
            twofa::store::HARD_LIMIT,
            "every unlock kept the streak: the hundredth failure locked long"
        );
        assert_eq!(
            (refused.status, refused.error.as_str()),
            (403, "forbidden"),
            "the 30-day lock is not the admin's to end: {:?}",
            refused.body
        );
        let until = refused.body["locked_until"].as_i64().expect("locked_until");
        assert_eq!(until, core.now() + twofa::store::HARD_LOCK_SECONDS);

        let right = || async {
            Reply::of(
                &login::handle(
                    &core,
                    &twofa::senders::log::LogSender::default(),
                    json_request(
                        "POST",
                        "/login",
                        &json!({"email": "jane@example.com", "password": PASSWORD}),
                        None,
                    ),
                )
                .await,
            )
        };
        assert_eq!(
            right().await.status,
            423,
            "attempt {} is not judged, the right password included",
            twofa::store::HARD_LIMIT + 1
        );
        clock.advance(twofa::store::HARD_LOCK_SECONDS);
        assert_eq!(right().await.status, 200, "after the lock, a new period");
    }
}

#[tokio::test]
async fn unlocks_give_no_more_than_a_hundred_consecutive_guesses_on_the_embedded_store() {
    unlocks_give_no_more_than_a_hundred_consecutive_guesses(Backend::Memory).await;
}

// One test per store, so that a run without DynamoDB Local shows this one as ignored
// rather than passing on the embedded store alone.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn unlocks_give_no_more_than_a_hundred_consecutive_guesses_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    unlocks_give_no_more_than_a_hundred_consecutive_guesses(backend).await;
}
