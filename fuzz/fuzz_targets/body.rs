//! Any bytes as a JSON request body, read into the shapes the handlers read: the
//! service's promise for client input is a 4xx `{"error","message"}` or a parsed
//! body, never a panic and never a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use twofa::policy::Behaviour;

// The handlers' body types live in the function crates, which need the AWS SDKs;
// these copy their field names and kinds (login, register, send-code, settings,
// the flag and code changes).

#[derive(Deserialize)]
#[allow(dead_code)]
struct Credentials {
    tenant: Option<String>,
    email: String,
    password: String,
    phone_number: Option<String>,
    remember_browser_token: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct SendCode {
    two_factor_token: Option<String>,
    provider: Option<String>,
    purpose: Option<String>,
    phone_number: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct SettingsChange {
    behaviour: Option<Behaviour>,
    users_can_change: Option<bool>,
    remember_browser: Option<bool>,
    allowed_providers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct FlagChange {
    enabled: bool,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct CodeBody {
    code: String,
}

/// `T` from the body, or a refusal the client can read: 4xx with `error` and `message`.
fn parse<T: DeserializeOwned>(req: &twofa::api::Request) -> Option<T> {
    match twofa::api::parse_body::<T>(req) {
        Ok(body) => Some(body),
        Err(e) => {
            let resp = e.into_response();
            assert!(resp.status().is_client_error(), "a {} for client input", resp.status());
            let json: serde_json::Value = serde_json::from_str(resp.body()).expect("an error body is JSON");
            assert!(json["error"].is_string() && json["message"].is_string(), "{json}");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for content_type in ["application/json", "application/problem+json; charset=utf-8"] {
        let Ok(req) = http::Request::builder().method("POST").uri("/login").header("content-type", content_type).body(data.to_vec()) else {
            return;
        };
        if let Some(body) = parse::<Credentials>(&req) {
            // What the handlers do next with the fields: refuse or accept, no panic.
            let _ = twofa::email::Email::parse(&body.email);
            if let Some(phone) = body.phone_number {
                let _ = twofa::phone::PhoneNumber::parse(&phone);
            }
        }
        parse::<SendCode>(&req);
        parse::<SettingsChange>(&req);
        parse::<FlagChange>(&req);
        parse::<CodeBody>(&req);
        parse::<serde_json::Value>(&req);
    }
});
