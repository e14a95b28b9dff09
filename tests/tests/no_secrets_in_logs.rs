//! Logs never carry a password, a password hash, a token or a code: a whole sign-in
//! with every secret in play is run with the log captured at the most verbose level
//! (`RUST_LOG=trace`, through the functions' own subscriber set-up), and none of
//! those secrets may appear in it. Once with the handlers called directly, once
//! through the real Lambda entry points: the `lambda_http` adapter and the Lambda
//! runtime fed API Gateway events by a stand-in Runtime API, DynamoDB Local, and
//! SNS and SES on moto, so the runtime's and the SDK's own logs are in the capture.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use twofa::config::Config;
use twofa::senders::{DeliveryError, EmailMessage, EmailSender, SmsMessage, SmsSender};
use twofa::store::UserStore;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{Reply, json_request, memory_core};
use twofa::user::UserPatch;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).to_string()
    }
}

/// The log of this test binary: the subscriber the functions install
/// (`telemetry::init`), at `RUST_LOG=trace`, in Lambda's JSON format, captured.
fn global_log() -> Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        twofa::telemetry::init_with(Some("trace"), true, false, move || writer.clone());
        captured
    })
    .clone()
}

/// The secrets (by name) found in `log`.
fn leaked<'a>(log: &str, secrets: &[(&'a str, String)]) -> Vec<&'a str> {
    secrets
        .iter()
        .filter(|(_, s)| !s.is_empty() && log.contains(s.as_str()))
        .map(|(what, _)| *what)
        .collect()
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A provider stand-in that keeps what it was asked to send, as SNS or SES would.
#[derive(Default)]
struct Provider(Mutex<Vec<String>>);

#[async_trait]
impl SmsSender for Provider {
    async fn send_sms(&self, m: &SmsMessage) -> Result<(), DeliveryError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m.body.expose().clone());
        Ok(())
    }
}

#[async_trait]
impl EmailSender for Provider {
    async fn send_email(&self, m: &EmailMessage) -> Result<(), DeliveryError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m.body.expose().clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_whole_sign_in_leaves_no_secret_in_the_log() {
    let captured = global_log();

    let (core, store, _) = memory_core(Config::default());
    let provider = Provider::default();
    let reg = register::handle(
        &core,
        json_request(
            "POST",
            "/register",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        ),
    )
    .await;
    let user_id =
        twofa::ids::UserId::from(Reply::of(&reg).body["user_id"].as_str().expect("a user id"));
    store
        .update_user(
            &user_id,
            &UserPatch {
                two_factor_enabled: Some(true),
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("2FA on");
    // A wrong password too: failures are logged, the password tried must not be.
    login::handle(
        &core,
        &provider,
        json_request(
            "POST",
            "/login",
            &json!({"email": "jane@example.com", "password": "wrong horse battery"}),
            None,
        ),
    )
    .await;
    let step = Reply::of(
        &login::handle(
            &core,
            &provider,
            json_request(
                "POST",
                "/login",
                &json!({"email": "jane@example.com", "password": PASSWORD}),
                None,
            ),
        )
        .await,
    )
    .body;
    let tf = step["two_factor_token"]
        .as_str()
        .expect("a two-factor token")
        .to_string();
    let sent = send_code::handle(
        &core,
        &provider,
        &provider,
        json_request(
            "POST",
            "/send-code",
            &json!({"two_factor_token": tf, "provider": "email"}),
            None,
        ),
    )
    .await;
    assert_eq!(sent.status(), 202);
    let text = provider
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .last()
        .cloned()
        .unwrap_or_default();
    let code = e2e::code_in(&text).expect("a code in the email");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    verify_code::handle(
        &core,
        &provider,
        json_request(
            "POST",
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "email", "code": wrong}),
            None,
        ),
    )
    .await;
    let done = Reply::of(
        &verify_code::handle(&core, &provider, json_request("POST", "/verify-code", &json!({"two_factor_token": tf, "provider": "email", "code": code, "remember_browser": true}), None))
            .await,
    ).body;
    let access = done["access_token"]
        .as_str()
        .expect("signed in")
        .to_string();
    let remember = done["remember_browser_token"]
        .as_str()
        .expect("a remembered browser")
        .to_string();
    let hash = store
        .user(&user_id)
        .await
        .expect("read")
        .expect("the user")
        .password_hash;

    let log = captured.text();
    assert!(
        log.contains("signed in with a second factor"),
        "the log was not captured: {log}"
    );
    for (what, secret) in [
        ("password", PASSWORD),
        ("wrong password", "wrong horse battery"),
        ("password hash", hash.as_str()),
        ("two-factor token", tf.as_str()),
        ("access token", access.as_str()),
        ("remember-browser token", remember.as_str()),
        ("code", code.as_str()),
        ("wrong code", wrong),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log:\n{log}");
    }
}

type Event = (String, serde_json::Value);
type Answers = std::collections::HashMap<String, tokio::sync::oneshot::Sender<serde_json::Value>>;

/// A stand-in for Lambda's Runtime API: hands API Gateway events to the runtime's
/// `next` poll and returns what the function answered.
#[derive(Clone, Default)]
struct RuntimeApi {
    queue: Arc<tokio::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Event>>>>,
    sender: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Event>>>>,
    waiting: Arc<Mutex<Answers>>,
}

impl RuntimeApi {
    /// Serves on a free port; the address for `AWS_LAMBDA_RUNTIME_API`.
    async fn start() -> (Self, String) {
        use axum::routing::{get, post};
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let api = Self::default();
        *api.queue.lock().await = Some(rx);
        *api.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        let router = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(Self::next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(Self::take_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(Self::take_response),
            )
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("a bound address").to_string();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (api, addr)
    }

    async fn next(
        axum::extract::State(api): axum::extract::State<Self>,
    ) -> axum::response::Response {
        let mut queue = api.queue.lock().await;
        let Some((id, event)) = queue.as_mut().expect("the queue").recv().await else {
            return axum::response::IntoResponse::into_response(http::StatusCode::GONE);
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 10_000)
            .unwrap_or(0);
        axum::response::Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:twofa",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .header("content-type", "application/json")
            .body(axum::body::Body::from(event.to_string()))
            .expect("a response")
    }

    async fn take_response(
        axum::extract::State(api): axum::extract::State<Self>,
        axum::extract::Path(id): axum::extract::Path<String>,
        body: axum::body::Bytes,
    ) -> http::StatusCode {
        let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        if let Some(tx) = api
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        {
            let _ = tx.send(value);
        }
        http::StatusCode::ACCEPTED
    }

    /// Invokes the function with an API Gateway (HTTP API) event and returns its answer.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        bearer: Option<&str>,
        cookie: Option<&str>,
    ) -> Reply {
        let id = uuid::Uuid::new_v4().to_string();
        let mut headers = json!({"content-type": "application/json", "user-agent": "Mozilla/5.0 (the no-secrets test)"});
        if let Some(t) = bearer {
            headers["authorization"] = format!("Bearer {t}").into();
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.24", "userAgent": "test"},
                "requestId": id, "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000u64
            },
            "isBase64Encoded": false
        });
        if let Some(b) = body {
            event["body"] = b.to_string().into();
        }
        if let Some(c) = cookie {
            event["cookies"] = json!([c]);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), tx);
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .expect("the queue");
        sender.send((id, event)).expect("the runtime API is up");
        let raw = tokio::time::timeout(std::time::Duration::from_secs(30), rx)
            .await
            .expect("the function answered")
            .expect("an answer");
        lambda_reply(&raw)
    }

    async fn post(&self, path: &str, body: serde_json::Value, bearer: Option<&str>) -> Reply {
        self.call("POST", path, Some(&body), bearer, None).await
    }
}

/// A function's API Gateway (HTTP API) answer as tests read every answer: its
/// headers, and its cookies as `set-cookie` headers.
fn lambda_reply(raw: &serde_json::Value) -> Reply {
    let mut headers = http::HeaderMap::new();
    let named = raw["headers"].as_object().into_iter().flatten();
    for (name, value) in named {
        if let (Ok(name), Some(Ok(value))) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(http::HeaderValue::from_str),
        ) {
            headers.append(name, value);
        }
    }
    for cookie in raw["cookies"].as_array().into_iter().flatten() {
        if let Some(Ok(value)) = cookie.as_str().map(http::HeaderValue::from_str) {
            headers.append(http::header::SET_COOKIE, value);
        }
    }
    let status = raw["statusCode"].as_u64().unwrap_or(0);
    Reply::new(
        u16::try_from(status).unwrap_or(0),
        headers,
        raw["body"].as_str().unwrap_or_default(),
    )
}

const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGhlLW5vLXNlY3JldHMtdGVzdA==";

#[tokio::test]
#[cfg_attr(
    any(no_dynamodb, no_moto),
    ignore = "needs DynamoDB Local and moto: DYNAMODB_ENDPOINT or MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_whole_sign_in_with_every_provider_through_the_lambda_entry_points_leaves_no_secret_in_the_log()
 {
    let Some(dynamo) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let Some(moto) = twofa::testing::service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let (runtime, runtime_addr) = RuntimeApi::start().await;
    let label = uuid::Uuid::new_v4().simple().to_string();
    let table = format!("twofa-logs-{label}");
    let from = format!("no-reply@{label}.example.com");
    let secret_name = format!("twofa/keys-{label}");
    // What the template and Lambda give a function, set before anything reads the
    // environment (this test is the only one here that does).
    for (var, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "twofa-all"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_RUNTIME_API", runtime_addr.as_str()),
        ("TABLE_NAME", table.as_str()),
        // As the template gives them: no key in the configuration, only the secret's name.
        ("KEYS_SECRET_ID", secret_name.as_str()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.as_str()),
        ("SMS_PROVIDER", "sns"),
        ("EMAIL_PROVIDER", "ses"),
        ("SES_FROM", from.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamo.as_str()),
        ("AWS_ENDPOINT_URL_SNS", moto.as_str()),
        ("AWS_ENDPOINT_URL_SES", moto.as_str()),
        ("RUST_LOG", "trace"),
    ] {
        // SAFETY: set before this test starts any thread that reads the environment.
        unsafe { std::env::set_var(var, value) };
    }

    // What every main does (functions/*/src/main.rs), with one function serving every route.
    let sdk = twofa::app::aws_sdk_config().await;
    twofa::store::dynamo::DynamoStore::from_env(&twofa::config::ProcessEnv, &sdk)
        .expect("a store")
        .ensure_table()
        .await
        .expect("a table");
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the sender");
    // The keys secret as `twofa-admin keys` makes one, in moto's Secrets Manager.
    let keys = serde_json::json!({
        "ACCESS_TOKEN_SIGNING_KEY": twofa::testing::access_keys::ACCESS_KEY,
        "JWT_SIGNING_KEY": KEY,
        "CODE_HMAC_KEY": KEY,
        "TOTP_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    });
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&secret_name)
        .secret_string(keys.to_string())
        .send()
        .await
        .expect("moto keeps the keys secret");
    let config = twofa::config::Config::from_env().expect("settings");
    let cell = Arc::new(twofa::app::keys::CoreOnFirstUse::new(sdk.clone()));
    let log = twofa::senders::log::LogSender::default();
    let sms = twofa::app::sms_sender(&config, &twofa::config::ProcessEnv, &sdk, &log).expect("SNS");
    let email = twofa::app::email_sender(&config, &sdk, &log).expect("SES");
    // The runtime's thread logs through the functions' own layer (pinned, at trace)
    // and, as the control, through one without the pins: the control must catch a
    // secret, or this test could not tell a leak from a log it never saw.
    let (pinned, control) = (Captured::default(), Captured::default());
    let (w1, w2) = (pinned.clone(), control.clone());
    let subscriber = tracing_subscriber::registry()
        .with(twofa::telemetry::layer(
            Some("trace"),
            true,
            false,
            move || w1.clone(),
        ))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || w2.clone())
                .with_filter(tracing::level_filters::LevelFilter::TRACE),
        );
    let served = cell.clone();
    std::thread::spawn(move || {
        let _log = tracing::subscriber::set_default(subscriber);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (cell, sms, email) = (&served, &sms, &email);
        let _ = rt.block_on(twofa::api::lambda::run(
            move |req: twofa::api::Request| async move {
                // As every main: the core, and so the keys, made by the first request.
                let core = match twofa::api::lambda::core(cell).await {
                    Ok(core) => core,
                    Err(answer) => return answer,
                };
                match req.uri().path() {
                    "/register" => register::handle(core, req).await,
                    "/login" | "/token/refresh" | "/token/revoke" => {
                        login::handle(core, email.as_ref(), req).await
                    }
                    "/send-code" => {
                        send_code::handle(core, sms.as_ref(), email.as_ref(), req).await
                    }
                    "/verify-code" => verify_code::handle(core, email.as_ref(), req).await,
                    _ => manage_settings::handle(core, email.as_ref(), req).await,
                }
            },
        ));
    });

    let address = format!("jane-{label}@example.org");
    let phone = e2e::unique_number();
    let wrong_password = "wrong horse battery staple";
    let mut secrets: Vec<(&str, String)> = vec![
        ("password", PASSWORD.into()),
        ("wrong password", wrong_password.into()),
        (
            "access-token signing key",
            twofa::testing::access_keys::ACCESS_KEY.into(),
        ),
        ("HMAC key", KEY.into()),
    ];
    let sms_code = |to: String| {
        let moto = moto.clone();
        async move {
            let sent = e2e::moto_records(&moto, "sns", "SMS").await;
            let last = sent
                .iter()
                .rev()
                .find(|m| m["phone_number"] == to.as_str())
                .expect("an SMS");
            e2e::code_in(last["message"].as_str().unwrap_or_default()).expect("a code in the SMS")
        }
    };
    let email_code = |to: String| {
        let moto = moto.clone();
        async move {
            let sent = e2e::moto_records(&moto, "ses", "Message").await;
            let last = sent
                .iter()
                .rev()
                .find(|m| m["destinations"]["ToAddresses"][0] == to.as_str())
                .expect("an email");
            e2e::code_in(&last["body"].to_string()).expect("a code in the email")
        }
    };
    let login = |password: &'static str, remember: Option<String>| {
        let mut body = json!({"email": address, "password": password});
        if let Some(t) = remember {
            body["remember_browser_token"] = t.into();
        }
        body
    };

    // Register, sign in (a wrong password first), confirm the email and the phone.
    runtime
        .post(
            "/register",
            json!({"email": address, "password": PASSWORD, "phone_number": phone}),
            None,
        )
        .await
        .expect_status(201, "register");
    runtime
        .post("/login", login(wrong_password, None), None)
        .await
        .expect_status(401, "a wrong password");
    let signed_in = runtime
        .post("/login", login(PASSWORD, None), None)
        .await
        .expect_status(200, "login");
    let access = signed_in["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    secrets.push(("access token", access.clone()));
    // A refresh, at trace: neither the refresh token presented nor the next one logged.
    let first_refresh = signed_in["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();
    let renewed = runtime
        .post(
            "/token/refresh",
            json!({"refresh_token": first_refresh}),
            None,
        )
        .await
        .expect_status(200, "refresh");
    secrets.push(("refresh token", first_refresh));
    secrets.push((
        "refresh token (renewed)",
        renewed["refresh_token"].as_str().expect("the next").into(),
    ));
    secrets.push((
        "access token (renewed)",
        renewed["access_token"].as_str().expect("a token").into(),
    ));
    runtime
        .post(
            "/send-code",
            json!({"purpose": "confirm_email"}),
            Some(&access),
        )
        .await
        .expect_status(202, "confirm_email");
    let code = email_code(address.clone()).await;
    secrets.push(("email confirmation code", code.clone()));
    // A confirmation adds a factor, so it rotates the security stamp: the caller goes
    // on with the fresh access token the answer carries.
    let confirmed = runtime
        .post(
            "/verify-code",
            json!({"purpose": "confirm_email", "code": code}),
            Some(&access),
        )
        .await
        .expect_status(200, "email confirmed");
    let access = confirmed["access_token"]
        .as_str()
        .expect("a fresh token")
        .to_string();
    secrets.push(("access token (after email)", access.clone()));
    runtime
        .post(
            "/send-code",
            json!({"purpose": "confirm_phone", "phone_number": phone}),
            Some(&access),
        )
        .await
        .expect_status(202, "confirm_phone");
    let code = sms_code(phone.clone()).await;
    secrets.push(("phone confirmation code", code.clone()));
    let confirmed = runtime
        .post(
            "/verify-code",
            json!({"purpose": "confirm_phone", "code": code}),
            Some(&access),
        )
        .await
        .expect_status(200, "phone confirmed");
    let access = confirmed["access_token"]
        .as_str()
        .expect("a fresh token")
        .to_string();
    secrets.push(("access token (after phone)", access.clone()));
    runtime
        .call(
            "PUT",
            "/account/two-factor",
            Some(&json!({"enabled": true})),
            Some(&access),
            None,
        )
        .await
        .expect_status(200, "2FA on");

    // SMS, remembering the browser; then the remembered browser by body and by cookie.
    let tf = runtime
        .post("/login", login(PASSWORD, None), None)
        .await
        .expect_status(200, "login, 2FA")["two_factor_token"]
        .as_str()
        .expect("tf")
        .to_string();
    secrets.push(("two-factor token (sms)", tf.clone()));
    runtime
        .post(
            "/send-code",
            json!({"two_factor_token": tf, "provider": "sms"}),
            None,
        )
        .await
        .expect_status(202, "sms code");
    let code = sms_code(phone.clone()).await;
    secrets.push(("sms code", code.clone()));
    let signed = runtime
        .post("/verify-code", json!({"two_factor_token": tf, "provider": "sms", "code": code, "remember_browser": true}), None)
        .await;
    // The remember-browser cookie, beside the refresh cookie.
    let cookie = signed
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("Identity.TwoFactorRememberMe="))
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let signed = signed.expect_status(200, "sms verified");
    let access = signed["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    let remember = signed["remember_browser_token"]
        .as_str()
        .expect("a remember token")
        .to_string();
    secrets.extend([
        ("access token (sms)", access.clone()),
        ("remember-browser token", remember.clone()),
    ]);
    assert!(
        cookie.contains('='),
        "a remember-browser cookie: {:?}",
        signed
    );
    runtime
        .post("/login", login(PASSWORD, Some(remember.clone())), None)
        .await
        .expect_status(200, "remembered by body");
    let by_cookie = runtime
        .call(
            "POST",
            "/login",
            Some(&login(PASSWORD, None)),
            None,
            Some(&cookie),
        )
        .await
        .expect_status(200, "remembered by cookie");
    assert_eq!(by_cookie["status"], "signed_in", "{by_cookie:?}");

    // Enrol an authenticator; its recovery codes.
    let added = runtime
        .post("/account/authenticator", json!({}), Some(&access))
        .await
        .expect_status(200, "authenticator added");
    let shared_key = added["shared_key"]
        .as_str()
        .expect("a shared key")
        .to_string();
    let key = twofa::totp::key_from_base32(&shared_key).expect("a base32 key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let code = twofa::totp::code_at(&key, now).expect("a TOTP code");
    secrets.extend([
        ("authenticator key", shared_key.clone()),
        (
            "authenticator uri",
            added["authenticator_uri"]
                .as_str()
                .unwrap_or_default()
                .into(),
        ),
    ]);
    let verified = runtime
        .post(
            "/account/authenticator/verify",
            json!({"code": code}),
            Some(&access),
        )
        .await
        .expect_status(200, "authenticator verified");
    let recovery: Vec<String> = verified["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    for c in &recovery {
        secrets.push(("recovery code", c.clone()));
    }

    // Email (a wrong code first), the authenticator (the next step: this one is spent), a recovery code.
    let tf = runtime
        .post("/login", login(PASSWORD, None), None)
        .await
        .expect_status(200, "login, email")["two_factor_token"]
        .as_str()
        .expect("tf")
        .to_string();
    runtime
        .post(
            "/send-code",
            json!({"two_factor_token": tf, "provider": "email"}),
            None,
        )
        .await
        .expect_status(202, "email code");
    let code = email_code(address.clone()).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    runtime
        .post(
            "/verify-code",
            json!({"two_factor_token": tf, "provider": "email", "code": wrong}),
            None,
        )
        .await
        .expect_status(401, "a wrong code");
    let done = runtime
        .post(
            "/verify-code",
            json!({"two_factor_token": tf, "provider": "email", "code": code}),
            None,
        )
        .await
        .expect_status(200, "email verified");
    secrets.extend([
        ("two-factor token (email)", tf),
        ("email code", code),
        (
            "access token (email)",
            done["access_token"].as_str().unwrap_or_default().into(),
        ),
    ]);

    let tf = runtime
        .post("/login", login(PASSWORD, None), None)
        .await
        .expect_status(200, "login, totp")["two_factor_token"]
        .as_str()
        .expect("tf")
        .to_string();
    let code = twofa::totp::code_at(&key, now + 30).expect("the next TOTP code");
    let done = runtime
        .post(
            "/verify-code",
            json!({"two_factor_token": tf, "provider": "authenticator", "code": code}),
            None,
        )
        .await
        .expect_status(200, "totp verified");
    secrets.extend([
        ("two-factor token (totp)", tf),
        (
            "access token (totp)",
            done["access_token"].as_str().unwrap_or_default().into(),
        ),
    ]);

    let tf = runtime
        .post("/login", login(PASSWORD, None), None)
        .await
        .expect_status(200, "login, recovery")["two_factor_token"]
        .as_str()
        .expect("tf")
        .to_string();
    let done = runtime
        .post(
            "/verify-code",
            json!({"two_factor_token": tf, "provider": "recovery_code", "code": recovery[0]}),
            None,
        )
        .await
        .expect_status(200, "recovery code");
    secrets.extend([
        ("two-factor token (recovery)", tf),
        (
            "access token (recovery)",
            done["access_token"].as_str().unwrap_or_default().into(),
        ),
    ]);

    let user = cell
        .get()
        .await
        .expect("the core the requests made")
        .store
        .user_by_email(&twofa::side::Side::Host, &address.to_lowercase())
        .await
        .expect("read")
        .expect("the user");
    secrets.push(("password hash", user.password_hash.clone()));
    secrets.push(("remember-browser cookie", cookie));

    let log = pinned.text();
    assert!(
        log.contains(user.id.as_str()),
        "the runtime's log was not captured"
    );
    let found = leaked(&log, &secrets);
    assert!(found.is_empty(), "secrets in the log: {found:?}");
    let control = leaked(&control.text(), &secrets);
    assert!(
        control.contains(&"password"),
        "the unpinned control logged no password: the check cannot see a leak ({control:?})"
    );
}
