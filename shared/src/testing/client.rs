//! The one client interface of the tests, as zero-to-production's `TestApp`: a test
//! says `app.login(&body)` or `w.send_code(&body, Some(&token))` and reads a
//! [`Reply`]. Two transports implement it: [`World`](super::world::World) calls the
//! handlers in process (the functions' own tests, over the memory store and a manual
//! clock), and the end-to-end crate's `TestApp` speaks HTTP to the local API. They
//! stay two because they drive different layers (a handler with its core in hand, or
//! a server whose clock is the wall's); the names, the reply and the fixtures are one.

use serde_json::Value;

use super::Reply;

/// Requests to the service, by route. Only [`Client::call`] differs per transport.
// Tests await these on the task that calls them: no `Send` bound is needed.
#[allow(async_fn_in_trait)]
pub trait Client {
    /// Sends `method path` with an optional JSON body and bearer token.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> Reply;

    /// `GET path`.
    async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.call("GET", path, None, bearer).await
    }

    /// `POST path` with a JSON body.
    async fn post(&self, path: &str, body: &Value, bearer: Option<&str>) -> Reply {
        self.call("POST", path, Some(body), bearer).await
    }

    /// `method path` on a settings or account route; a null body sends none.
    async fn settings(&self, method: &str, path: &str, body: Value, bearer: Option<&str>) -> Reply {
        let body = (!body.is_null()).then_some(&body);
        self.call(method, path, body, bearer).await
    }

    /// `POST /register`.
    async fn register(&self, body: &Value) -> Reply {
        self.post("/register", body, None).await
    }

    /// `POST /login`.
    async fn login(&self, body: &Value) -> Reply {
        self.post("/login", body, None).await
    }

    /// `POST /login` with an email and a password.
    async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.login(&serde_json::json!({"email": email, "password": password}))
            .await
    }

    /// `POST /send-code`.
    async fn send_code(&self, body: &Value, bearer: Option<&str>) -> Reply {
        self.post("/send-code", body, bearer).await
    }

    /// `POST /verify-code`.
    async fn verify_code(&self, body: &Value, bearer: Option<&str>) -> Reply {
        self.post("/verify-code", body, bearer).await
    }
}
