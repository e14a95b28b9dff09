//! The shared world (`twofa::testing::world`) and the calls these tests make as a client.
#![allow(dead_code, unused_imports)]

use serde_json::{Value, json};
use twofa::api::Response;
use twofa::senders::SmsSender;
use twofa::testing::json_request;
pub use twofa::testing::world::{EMAIL, PHONE, RefusingSms, World, answer};

/// Requests to the functions under test.
pub trait Client {
    /// POST /send-code, texts through the world's log sender.
    async fn send(&self, body: Value, bearer: Option<&str>) -> Response;
    /// POST /send-code, texts through `sms`.
    async fn send_with(&self, sms: &dyn SmsSender, body: Value, bearer: Option<&str>) -> Response;
    /// Sends a sign-in code by `provider` and returns it as the user reads it.
    async fn send_sign_in_code(&self, token: &str, provider: &str) -> String;
    /// POST /verify-code.
    async fn verify(&self, body: Value, bearer: Option<&str>) -> Response;
}

impl Client for World {
    async fn send(&self, body: Value, bearer: Option<&str>) -> Response {
        self.send_with(&self.out, body, bearer).await
    }

    async fn send_with(&self, sms: &dyn SmsSender, body: Value, bearer: Option<&str>) -> Response {
        send_code::handle(
            &self.core,
            sms,
            &self.out,
            json_request("POST", "/send-code", &body, bearer),
        )
        .await
    }

    async fn send_sign_in_code(&self, token: &str, provider: &str) -> String {
        let r = self
            .send(
                json!({"two_factor_token": token, "provider": provider}),
                None,
            )
            .await;
        assert_eq!(r.status(), 202, "{}", r.body());
        self.last_code()
    }

    async fn verify(&self, body: Value, bearer: Option<&str>) -> Response {
        verify_code::handle(
            &self.core,
            &self.out,
            json_request("POST", "/verify-code", &body, bearer),
        )
        .await
    }
}
