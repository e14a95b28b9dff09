//! Measures what BENCHMARKS.md reports: Argon2id cost, handler latency per route
//! over the embedded store, and store reads per request. Run it with
//! `bash infra/scripts/bench.sh` (release build); it prints Markdown rows.

use std::time::{Duration, Instant};

use serde_json::json;
use twofa::app::Core;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::tenant::Scope;
use twofa::testing::{body_json, json_request, memory_core, seed_user};
use twofa::user::UserPatch;

const PASSWORD: &str = "correct horse battery staple";

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!("| {name} | {} | {:.2} | {:.2} | {:.2} |", samples.len(), pick(0.5), pick(0.95), pick(1.0));
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
    let (core, store, clock) = memory_core(Config::default());
    let outbox = LogSender::default();
    println!("| operation | runs | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");

    let password = twofa::password::Password::new(PASSWORD, 12, &[]).expect("a strong password");
    let hashes = time(20, |_| async {
        twofa::password::hash_password(&password).await.expect("hashing");
    })
    .await;
    summary("Argon2id hash (m=19456 KiB, t=2, p=1)", hashes);

    let registers = time(30, |i| {
        let core = &core;
        async move {
            let r = register::handle(core, json_request("POST", "/register", &json!({"email": format!("u{i}@example.com"), "password": PASSWORD}), None)).await;
            assert_eq!(r.status(), 201);
        }
    })
    .await;
    summary("POST /register", registers);

    let logins = time(30, |i| {
        let (core, outbox) = (&core, &outbox);
        async move {
            let r = login::handle(core, outbox, json_request("POST", "/login", &json!({"email": format!("u{i}@example.com"), "password": PASSWORD}), None)).await;
            assert_eq!(r.status(), 200);
        }
    })
    .await;
    summary("POST /login (2FA off)", logins);

    let unknown = time(30, |_| {
        let (core, outbox) = (&core, &outbox);
        async move {
            let r = login::handle(core, outbox, json_request("POST", "/login", &json!({"email": "nobody@example.com", "password": PASSWORD}), None)).await;
            assert_eq!(r.status(), 401);
        }
    })
    .await;
    summary("POST /login (unknown email: dummy hash)", unknown);

    let user = seed_user(&core, Scope::Host, "mfa@example.com", PASSWORD, &[]).await;
    core.store
        .update_user(&user.id, &UserPatch { two_factor_enabled: Some(true), email_confirmed: Some(true), ..Default::default() })
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
    let r = login::handle(&core, &outbox, json_request("POST", "/login", &json!({"email": "u0@example.com", "password": PASSWORD}), None)).await;
    println!("| POST /login (2FA off) | {} |", store.reads() - before);
    let token = body_json(&r)["access_token"].as_str().unwrap_or_default().to_string();
    let before = store.reads();
    manage_settings::handle(&core, &outbox, json_request("GET", "/account/two-factor", &serde_json::Value::Null, Some(&token))).await;
    println!("| GET /account/two-factor | {} |", store.reads() - before);
}

/// One whole sign-in with an emailed code, read back from the log sender's outbox.
async fn sign_in_with_email_code(core: &Core, outbox: &LogSender) {
    let r = login::handle(core, outbox, json_request("POST", "/login", &json!({"email": "mfa@example.com", "password": PASSWORD}), None)).await;
    let tf = body_json(&r)["two_factor_token"].as_str().unwrap_or_default().to_string();
    let r = send_code::handle(core, outbox, outbox, json_request("POST", "/send-code", &json!({"two_factor_token": tf, "provider": "email"}), None)).await;
    assert_eq!(r.status(), 202, "{}", r.body());
    let code = outbox.outbox().last().and_then(|m| m.code.clone()).unwrap_or_default();
    let r = verify_code::handle(core, outbox, json_request("POST", "/verify-code", &json!({"two_factor_token": tf, "provider": "email", "code": code}), None)).await;
    assert_eq!(r.status(), 200, "{}", r.body());
}
