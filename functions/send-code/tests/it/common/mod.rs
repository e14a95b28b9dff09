//! The shared world (`twofa::testing::world`), answering with send-code's handler.
#![allow(dead_code, unused_imports)]

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use twofa::api::{Request, Response};
use twofa::senders::SmsSender;
pub use twofa::testing::fixtures::{EMAIL, PASSWORD, PHONE};
use twofa::testing::json_request;
use twofa::testing::world::Handlers;
pub use twofa::testing::world::{RefusingSms, World};
pub use twofa::testing::{Client, Reply};

/// send-code's handler, texting and mailing through the world's log sender.
pub struct SendCode;

impl Handlers for SendCode {
    fn handle<'a>(
        &'a self,
        w: &'a World,
        req: Request,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'a>> {
        Box::pin(send_code::handle(&w.core, &w.out, &w.out, req))
    }
}

/// A world with the default settings, answering with send-code.
pub fn world() -> World {
    World::new().serving(SendCode)
}

/// A world whose settings are these environment variables, answering with send-code.
pub fn world_with(env: &[(&str, &str)]) -> World {
    World::with(env).serving(SendCode)
}

/// Sends a sign-in code by `provider` and returns it as the user reads it.
pub async fn send_sign_in_code(w: &World, token: &str, provider: &str) -> String {
    let r = w
        .send_code(
            &json!({"two_factor_token": token, "provider": provider}),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.last_code()
}

/// `POST /send-code` texting through `sms` instead of the world's log sender.
pub async fn send_code_via(w: &World, sms: &dyn SmsSender, body: &Value) -> Reply {
    let req = json_request("POST", "/send-code", body, None);
    Reply::of(&send_code::handle(&w.core, sms, &w.out, req).await)
}
