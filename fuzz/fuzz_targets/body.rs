//! Any bytes as a JSON request body: parsing refuses or accepts, never panics, and
//! a refusal is a 4xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// The shapes the handlers read, field kinds included.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Probe {
    email: String,
    password: String,
    tenant: Option<String>,
    phone_number: Option<String>,
    code: Option<String>,
    remember_browser: Option<bool>,
    enabled: Option<bool>,
    allowed_providers: Option<Vec<String>>,
}

fuzz_target!(|data: &[u8]| {
    for content_type in ["application/json", "application/problem+json; charset=utf-8"] {
        let Ok(req) = http::Request::builder().method("POST").uri("/login").header("content-type", content_type).body(data.to_vec()) else {
            return;
        };
        if let Err(e) = twofa::api::parse_body::<Probe>(&req) {
            assert!(e.status().is_client_error(), "{}", e.status());
        }
        if let Err(e) = twofa::api::parse_body::<serde_json::Value>(&req) {
            assert!(e.status().is_client_error(), "{}", e.status());
        }
    }
});
