//! Sign-out everywhere cannot be outrun (issue 21.3): a stolen token sends several
//! `PUT /account/two-factor` at once (each rotates the stamp and hands back a fresh
//! token) while the owner signs out everywhere. Whatever order the store sees them
//! in, no token any of them got back works once the sign-out is done, and each
//! request that lost answers 401 `unauthorized`, never a 500. Over HTTP on the
//! embedded store and on DynamoDB Local, several rounds, since the order varies.

use e2e::Client;
use e2e::{AppOptions, Backend, Reply, TestApp, spawn_app};
use serde_json::json;
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::user::UserPatch;

const IN_FLIGHT: usize = 6;
const ROUNDS: usize = 10;

/// An access token for `email`: with the password alone while 2FA is off, then with
/// a code emailed to the confirmed address (a racing request may have turned 2FA on).
async fn sign_in(app: &TestApp, email: &str) -> String {
    let r = app
        .post(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    let r = match r.body["status"].as_str() {
        Some("signed_in") => r,
        Some("two_factor_required") => {
            let tf = r.body["two_factor_token"].clone();
            let sent = app
                .post(
                    "/send-code",
                    &json!({"two_factor_token": tf, "provider": "email"}),
                    None,
                )
                .await;
            assert_eq!(sent.status, 202, "{:?}", sent.body);
            let code = app.last_code_to(email).await.expect("a code in the outbox");
            app.post(
                "/verify-code",
                &json!({"two_factor_token": tf, "provider": "email", "code": code}),
                None,
            )
            .await
        }
        _ => panic!("login answered {} {:?}", r.status, r.body),
    };
    r.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an access token: {:?}", r.body))
        .to_string()
}

/// The owner signs out everywhere; if a stolen request rotated the stamp first (and
/// so ended the owner's session too), the owner signs in again and signs out again,
/// as a real one would.
async fn sign_out_everywhere(app: &TestApp, email: &str, first: Reply) {
    let mut reply = first;
    for _ in 0..5 {
        match reply.status {
            204 => return,
            401 => {
                let token = sign_in(app, email).await;
                reply = app
                    .post("/account/sign-out-everywhere", &json!({}), Some(&token))
                    .await;
            }
            other => panic!("sign-out everywhere answered {other} {:?}", reply.body),
        }
    }
    panic!("sign-out everywhere never went through");
}

async fn race(backend: Backend) {
    let app = spawn_app(&backend, AppOptions::default()).await;
    let mut outran = Vec::new();
    for round in 0..ROUNDS {
        let email = format!("victim{round}@example.com");
        let r = app
            .post(
                "/register",
                &json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        // A confirmed address, so that the owner can still sign in once 2FA is on.
        let store = &app.api.core.store;
        let user = store
            .user_by_email(&Side::Host, &email)
            .await
            .expect("the store answers")
            .expect("the user exists");
        let confirmed = UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        };
        store
            .update_user(&user.id, &confirmed)
            .await
            .expect("confirmed");
        let stolen = sign_in(&app, &email).await;
        let own = sign_in(&app, &email).await;

        let mut tasks = Vec::new();
        for i in 0..=IN_FLIGHT {
            let app = app.clone();
            let (stolen, own) = (stolen.clone(), own.clone());
            tasks.push(tokio::spawn(async move {
                if i == IN_FLIGHT / 2 {
                    app.post("/account/sign-out-everywhere", &json!({}), Some(&own))
                        .await
                } else {
                    app.call(
                        "PUT",
                        "/account/two-factor",
                        Some(&json!({"enabled": true})),
                        Some(&stolen),
                    )
                    .await
                }
            }));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.expect("the request task finished"));
        }
        let signed_out = replies.remove(IN_FLIGHT / 2);
        sign_out_everywhere(&app, &email, signed_out).await;

        for r in &replies {
            match r.status {
                200 => {
                    let token = r.body["access_token"]
                        .as_str()
                        .expect("a fresh token with the change");
                    let after = app
                        .call("GET", "/account/two-factor", None, Some(token))
                        .await;
                    if after.status != 401 {
                        outran.push(round);
                    }
                }
                401 => assert_eq!(r.body["error"], "unauthorized", "round {round}"),
                other => panic!(
                    "round {round}: a racing change answered {other} {:?}",
                    r.body
                ),
            }
        }
    }
    assert!(
        outran.is_empty(),
        "a token handed out by a request in flight still worked after the sign-out, in rounds {outran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_token_a_request_in_flight_gets_outlives_a_sign_out_everywhere_on_the_embedded_store() {
    race(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn no_token_a_request_in_flight_gets_outlives_a_sign_out_everywhere_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    race(backend).await;
}
