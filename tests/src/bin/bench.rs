//! Measures what BENCHMARKS.md reports; `bash infra/scripts/bench.sh` runs it (release
//! build) and writes the file.
//!
//! - `bench`: Argon2id cost, handler latency per route over the embedded store, and
//!   store reads per request, as Markdown rows;
//! - `bench argon2 N`: N Argon2id hashes at the configured parameters, as JSON (wall
//!   time of each, CPU time of all), for the side-by-side with the C reference;
//! - `bench units`: the DynamoDB requests and request units of one two-factor sign-in
//!   (login, send-code by email, verify-code) on DynamoDB Local, as JSON.

use std::time::{Duration, Instant};

use serde_json::json;
use twofa::app::Core;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{Reply, json_request, memory_core, seed_user};
use twofa::user::UserPatch;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} |",
        samples.len(),
        pick(0.5),
        pick(0.95),
        pick(1.0)
    );
}

async fn time<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        out.push(t.elapsed());
    }
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("argon2") => argon2(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(30)),
        Some("units") => units().await,
        _ => handlers().await,
    }
}

/// CPU time of this process so far (all threads), from /proc: immune to other work
/// on a shared machine, unlike wall time.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 1000.0 / 100.0
}

fn argon2(n: usize) {
    let password = twofa::password::Password::new(PASSWORD, 12, &[]).expect("a strong password");
    let cpu = cpu_ms();
    let mut wall = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(twofa::password::hash_blocking_for_tests(password.expose()));
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "{}",
        json!({"hashes": n, "wall_ms": wall, "cpu_ms": cpu_ms() - cpu})
    );
}

async fn handlers() {
    let (core, store, clock) = memory_core(Config::default());
    let outbox = LogSender::default();
    println!("| operation | runs | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");

    let password = twofa::password::Password::new(PASSWORD, 12, &[]).expect("a strong password");
    let hashes = time(20, |_| async {
        twofa::password::hash_password(&password)
            .await
            .expect("hashing");
    })
    .await;
    summary("Argon2id hash (m=19456 KiB, t=2, p=1)", hashes);

    let registers = time(30, |i| {
        let core = &core;
        async move {
            let r = register::handle(
                core,
                json_request(
                    "POST",
                    "/register",
                    &json!({"email": format!("u{i}@example.com"), "password": PASSWORD}),
                    None,
                ),
            )
            .await;
            assert_eq!(r.status(), 201);
        }
    })
    .await;
    summary("POST /register", registers);

    let logins = time(30, |i| {
        let (core, outbox) = (&core, &outbox);
        async move {
            let r = login::handle(
                core,
                outbox,
                json_request(
                    "POST",
                    "/login",
                    &json!({"email": format!("u{i}@example.com"), "password": PASSWORD}),
                    None,
                ),
            )
            .await;
            assert_eq!(r.status(), 200);
        }
    })
    .await;
    summary("POST /login (2FA off)", logins);

    // A new unknown email each time: one email's failures lock it like an account's.
    let unknown = time(30, |i| {
        let (core, outbox) = (&core, &outbox);
        async move {
            let r = login::handle(
                core,
                outbox,
                json_request(
                    "POST",
                    "/login",
                    &json!({"email": format!("nobody{i}@example.com"), "password": PASSWORD}),
                    None,
                ),
            )
            .await;
            assert_eq!(r.status(), 401);
        }
    })
    .await;
    summary("POST /login (unknown email: dummy hash)", unknown);

    let user = seed_user(&core, Side::Host, "mfa@example.com", PASSWORD, &[]).await;
    core.store
        .update_user(
            &user.id,
            &UserPatch {
                two_factor_enabled: Some(true),
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("2FA on");
    let flows = time(20, |_| {
        // Past the resend cooldown and the hourly caps: the clock is manual.
        clock.advance(3601);
        sign_in_with_email_code(&core, &outbox)
    })
    .await;
    summary("login + send-code + verify-code (email)", flows);

    println!();
    println!("| request | store reads |");
    println!("|---|---:|");
    let before = store.reads();
    let r = login::handle(
        &core,
        &outbox,
        json_request(
            "POST",
            "/login",
            &json!({"email": "u0@example.com", "password": PASSWORD}),
            None,
        ),
    )
    .await;
    println!("| POST /login (2FA off) | {} |", store.reads() - before);
    let token = Reply::of(&r).body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let before = store.reads();
    manage_settings::handle(
        &core,
        &outbox,
        json_request(
            "GET",
            "/account/two-factor",
            &serde_json::Value::Null,
            Some(&token),
        ),
    )
    .await;
    println!("| GET /account/two-factor | {} |", store.reads() - before);
}

/// One whole sign-in with an emailed code, read back from the log sender's outbox.
async fn sign_in_with_email_code(core: &Core, outbox: &LogSender) {
    let r = login::handle(
        core,
        outbox,
        json_request(
            "POST",
            "/login",
            &json!({"email": "mfa@example.com", "password": PASSWORD}),
            None,
        ),
    )
    .await;
    let tf = Reply::of(&r).body["two_factor_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = send_code::handle(
        core,
        outbox,
        outbox,
        json_request(
            "POST",
            "/send-code",
            &json!({"two_factor_token": tf, "provider": "email"}),
            None,
        ),
    )
    .await;
    assert_eq!(r.status(), 202, "{}", r.body());
    let code = outbox
        .outbox()
        .last()
        .and_then(|m| m.code.clone())
        .unwrap_or_default();
    let r = verify_code::handle(
        core,
        outbox,
        json_request(
            "POST",
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "email", "code": code}),
            None,
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.body());
}

/// DynamoDB requests and the request units they cost (items within DynamoDB's 1 KB
/// write and 4 KB read units, as ours are), read from each request the SDK sends.
#[derive(Debug, Clone, Default)]
struct Units(std::sync::Arc<std::sync::Mutex<Vec<(String, f64, f64)>>>);

impl aws_sdk_dynamodb::config::Intercept for Units {
    fn name(&self) -> &'static str {
        "request-units"
    }
    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let op = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string();
        let body: serde_json::Value = ctx
            .request()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let items = |key: &str| body[key].as_array().map_or(1.0, |a| a.len() as f64);
        let batch = || {
            body["RequestItems"].as_object().map_or(0.0, |t| {
                t.values()
                    .map(|v| v["Keys"].as_array().or(v.as_array()).map_or(0, |a| a.len()))
                    .sum::<usize>() as f64
            })
        };
        let strong = if body["ConsistentRead"].as_bool() == Some(true) {
            1.0
        } else {
            0.5
        };
        let (rru, wru) = match op.as_str() {
            "GetItem" | "Query" => (strong, 0.0),
            "PutItem" | "UpdateItem" | "DeleteItem" => (0.0, 1.0),
            "TransactWriteItems" => (0.0, 2.0 * items("TransactItems")),
            "TransactGetItems" => (2.0 * items("TransactItems"), 0.0),
            "BatchGetItem" => (batch(), 0.0),
            "BatchWriteItem" => (0.0, batch()),
            _ => (0.0, 0.0),
        };
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((op, rru, wru));
        Ok(())
    }
}

impl Units {
    fn take(&self) -> serde_json::Value {
        let calls = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        json!({
            "requests": calls.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
            "rru": calls.iter().map(|c| c.1).sum::<f64>(),
            "wru": calls.iter().map(|c| c.2).sum::<f64>(),
        })
    }
}

async fn units() {
    use std::sync::Arc;
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT: DynamoDB Local");
    let units = Units::default();
    let conf =
        aws_sdk_dynamodb::config::Builder::from(&twofa::testing::emulator_sdk_config(&endpoint))
            .interceptor(units.clone())
            .build();
    let store = twofa::store::dynamo::DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        format!("twofa-bench-{}", uuid::Uuid::new_v4().simple()),
    );
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    let core = twofa::testing::core_over(
        Arc::new(store),
        Arc::new(twofa::clock::SystemClock),
        Config::default(),
    );
    let outbox = LogSender::default();
    let user = seed_user(&core, Side::Host, "mfa@example.com", PASSWORD, &[]).await;
    core.store
        .update_user(
            &user.id,
            &UserPatch {
                two_factor_enabled: Some(true),
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("2FA on");
    units.take();
    let r = login::handle(
        &core,
        &outbox,
        json_request(
            "POST",
            "/login",
            &json!({"email": "mfa@example.com", "password": PASSWORD}),
            None,
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.body());
    let login = units.take();
    let tf = Reply::of(&r).body["two_factor_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = send_code::handle(
        &core,
        &outbox,
        &outbox,
        json_request(
            "POST",
            "/send-code",
            &json!({"two_factor_token": tf, "provider": "email"}),
            None,
        ),
    )
    .await;
    assert_eq!(r.status(), 202, "{}", r.body());
    let send = units.take();
    let code = outbox
        .outbox()
        .last()
        .and_then(|m| m.code.clone())
        .unwrap_or_default();
    let r = verify_code::handle(
        &core,
        &outbox,
        json_request(
            "POST",
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "email", "code": code}),
            None,
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.body());
    let verify = units.take();
    println!(
        "{}",
        json!({"login": login, "send-code": send, "verify-code": verify})
    );
}
