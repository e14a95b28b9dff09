//! Logs never carry a password, a password hash, a token or a code: a whole sign-in
//! with every secret in play is run with the log captured at the most verbose level,
//! and none of those secrets may appear in it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use twofa::config::Config;
use twofa::senders::{DeliveryError, EmailMessage, EmailSender, SmsMessage, SmsSender};
use twofa::store::UserStore;
use twofa::testing::{body_json, json_request, memory_core};
use twofa::user::UserPatch;

const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
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
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(m.body.expose().clone());
        Ok(())
    }
}

#[async_trait]
impl EmailSender for Provider {
    async fn send_email(&self, m: &EmailMessage) -> Result<(), DeliveryError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(m.body.expose().clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_whole_sign_in_leaves_no_secret_in_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let (core, store, _) = memory_core(Config::default());
    let provider = Provider::default();
    let reg = register::handle(&core, json_request("POST", "/register", &json!({"email": "jane@example.com", "password": PASSWORD}), None)).await;
    let user_id = body_json(&reg)["user_id"].as_str().expect("a user id").to_string();
    store
        .update_user(&user_id, &UserPatch { two_factor_enabled: Some(true), email_confirmed: Some(true), ..Default::default() })
        .await
        .expect("2FA on");
    // A wrong password too: failures are logged, the password tried must not be.
    login::handle(&core, &provider, json_request("POST", "/login", &json!({"email": "jane@example.com", "password": "wrong horse battery"}), None)).await;
    let step = body_json(&login::handle(&core, &provider, json_request("POST", "/login", &json!({"email": "jane@example.com", "password": PASSWORD}), None)).await);
    let tf = step["two_factor_token"].as_str().expect("a two-factor token").to_string();
    let sent = send_code::handle(&core, &provider, &provider, json_request("POST", "/send-code", &json!({"two_factor_token": tf, "provider": "email"}), None)).await;
    assert_eq!(sent.status(), 202);
    let text = provider.0.lock().unwrap_or_else(|p| p.into_inner()).last().cloned().unwrap_or_default();
    let code = e2e::code_in(&text).expect("a code in the email");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    verify_code::handle(&core, &provider, json_request("POST", "/verify-code", &json!({"two_factor_token": tf, "provider": "email", "code": wrong}), None)).await;
    let done = body_json(
        &verify_code::handle(&core, &provider, json_request("POST", "/verify-code", &json!({"two_factor_token": tf, "provider": "email", "code": code, "remember_browser": true}), None))
            .await,
    );
    let access = done["access_token"].as_str().expect("signed in").to_string();
    let remember = done["remember_browser_token"].as_str().expect("a remembered browser").to_string();
    let hash = store.user(&user_id).await.expect("read").expect("the user").password_hash;

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).to_string();
    assert!(log.contains("signed in with a second factor"), "the log was not captured: {log}");
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
