//! Send limits over HTTP against the local API on DynamoDB Local: many users of one
//! tenant asking for codes at once do not contend on one counter, and the tenant's
//! cap still holds. The memory store serialises everything behind one lock, so only
//! DynamoDB shows the contention.

use e2e::{AppOptions, Backend, TestApp, spawn_app};
use serde_json::json;
use twofa::config::Config;
use twofa::tenant::Scope;
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{User, UserPatch};

fn config(pairs: &[(&str, &str)]) -> Config {
    let env: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::read(&env).expect("test settings are valid")
}

/// A host user with 2FA on and a confirmed email, in the middle of a sign-in; its two-factor token.
async fn signing_in(app: &TestApp, label: &str) -> String {
    let core = &app.api.core;
    let user = User::new(
        Scope::Host,
        twofa::testing::test_email(&format!(
            "user-{label}-{}@example.org",
            uuid::Uuid::new_v4().simple()
        )),
        "$argon2id$unused".into(),
        core.now(),
    );
    core.store.create_user(&user).await.expect("a new user");
    let sid = uuid::Uuid::new_v4().to_string();
    let patch = UserPatch {
        email_confirmed: Some(true),
        two_factor_enabled: Some(true),
        pending_sign_in: Some(Some(sid.clone())),
        ..Default::default()
    };
    core.store
        .update_user(&user.id, &patch)
        .await
        .expect("the user exists");
    let token = NewToken {
        user_id: user.id.clone(),
        scope: user.scope.key(),
        amr: vec!["pwd".into()],
        sid: Some(sid),
        ..Default::default()
    };
    core.tokens
        .issue(TokenKind::TwoFactor, token, core.now())
        .expect("signing a token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_users_of_one_tenant_sending_at_once_all_get_their_code_and_the_twenty_first_is_capped()
 {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let app = spawn_app(
        &backend,
        AppOptions {
            config: config(&[("SEND_LIMIT_PER_TENANT_PER_HOUR", "20")]),
            ..Default::default()
        },
    )
    .await;
    let mut tokens = Vec::new();
    for i in 0..21 {
        tokens.push(signing_in(&app, &i.to_string()).await);
    }
    let last = tokens.pop().expect("21 users");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let sends: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.post(
                    "/send-code",
                    &json!({"two_factor_token": token, "provider": "email"}),
                    None,
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for s in sends {
        let r = s.await.expect("a send task");
        statuses.push((r.status, r.body["error"].as_str().unwrap_or("").to_string()));
    }
    assert!(
        statuses.iter().all(|(s, _)| *s == 202),
        "every send within the cap is served: {statuses:?}"
    );
    let r = app
        .post(
            "/send-code",
            &json!({"two_factor_token": last, "provider": "email"}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (429, Some("too_many_requests")),
        "{:?}",
        r.body
    );
}
