//! A measurement, not a test (ignored by default; BENCHMARKS.md has the numbers):
//! how long `POST /password/forgot` takes for an account that gets a code and for
//! an unknown email, on DynamoDB Local and SES on moto, without and with the floor.
//! Run: `cargo test --workspace --test it -- forgot_timing --ignored --nocapture`
//! with the services of infra/scripts/test.sh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use e2e::Backend;
use serde_json::json;
use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::senders::ses::SesSender;
use twofa::side::Side;
use twofa::testing::emulator_sdk_config;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::json_request;
use twofa::user::UserPatch;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn forgot_takes_as_long_for_an_account_that_gets_a_code_as_for_an_unknown_email() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let Some(moto) = twofa::testing::service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let sdk = emulator_sdk_config(&moto);
    let from = format!("no-reply@{}.example.com", uuid::Uuid::new_v4().simple());
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the sender");
    let ses = SesSender::new(aws_sdk_ses::Client::new(&sdk), from);
    let log = LogSender::default();
    for floor in ["0", "1000"] {
        let env: HashMap<String, String> = [
            ("PASSWORD_RESET_ANSWER_MS", floor),
            ("RESEND_COOLDOWN_SECONDS", "0"),
            ("SEND_LIMIT_PER_USER_PER_HOUR", "10000"),
            ("SEND_LIMIT_PER_DESTINATION_PER_HOUR", "10000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::read(&env).expect("settings");
        let core =
            twofa::testing::core_over(e2e::store(&backend).await, Arc::new(SystemClock), config);
        let user =
            twofa::testing::seed_user(&core, Side::Host, "jane@example.org", PASSWORD, &[]).await;
        core.store
            .update_user(
                &user.id,
                &UserPatch {
                    email_confirmed: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("confirmed");
        for (label, email) in [
            ("account, code emailed", "jane@example.org"),
            ("unknown email", "nobody@example.org"),
        ] {
            let mut ms = Vec::new();
            for i in 0..25 {
                // One live reset code per account and stamp: a new stamp each time,
                // so every request for the account emails a code.
                core.store
                    .update_user(
                        &user.id,
                        &UserPatch {
                            security_stamp: Some(twofa::user::new_security_stamp()),
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("the user exists");
                let started = Instant::now();
                let r = send_code::handle(
                    &core,
                    &log,
                    &ses,
                    json_request("POST", "/password/forgot", &json!({"email": email}), None),
                )
                .await;
                assert_eq!(r.status(), 202);
                if i > 0 {
                    ms.push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            ms.sort_by(|a, b| a.total_cmp(b));
            println!(
                "floor {floor:>4} ms | {label:<22} | p50 {:7.1} | p95 {:7.1} | max {:7.1}",
                percentile(&ms, 0.5),
                percentile(&ms, 0.95),
                ms[ms.len() - 1]
            );
        }
    }
}
