//! SMS through Twilio's Messages API: one form-encoded POST per message, basic
//! auth with the account SID and auth token, on an HTTP client built once with a
//! timeout so a slow provider cannot hold a Lambda invocation to its own limit.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{DeliveryError, SmsMessage, SmsSender};
use crate::config::{ConfigError, Env};
use crate::secret::Secret;

/// Where Twilio's API lives unless `TWILIO_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// How long one send may take unless `TWILIO_TIMEOUT_SECONDS` says otherwise: the
/// providers' limit (see [`crate::timeouts`]).
pub const DEFAULT_TIMEOUT: Duration = crate::timeouts::PROVIDER_OPERATION;
/// The longest `TWILIO_TIMEOUT_SECONDS` may ask for: half the function's 10 s, so a
/// slow provider is answered 502 (its code taken back) before Lambda kills the call.
pub const MAX_TIMEOUT_SECONDS: u64 = 5;

/// Everything a Twilio sender needs. `Debug` shows no auth token.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// The account SID (`AC…`), also the basic-auth user.
    pub account_sid: String,
    /// The auth token, the basic-auth password.
    pub auth_token: Secret<String>,
    /// The number (or messaging sender) messages come from.
    pub send_number: String,
    /// The API's base URL, e.g. `https://api.twilio.com`.
    pub base_url: String,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
}

/// Why a Twilio sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TwilioSetupError {
    /// The base URL and account SID do not make a usable URL.
    #[error("the Twilio base URL {0:?} is not a usable http(s) URL")]
    BaseUrl(
        String,
        #[source] Option<Box<dyn std::error::Error + Send + Sync>>,
    ),
    /// The HTTP client could not be built (TLS set-up).
    #[error("could not build the HTTP client for Twilio")]
    Client(#[source] reqwest::Error),
}

/// Sends SMS with Twilio.
#[derive(Debug)]
pub struct TwilioSender {
    http: reqwest::Client,
    messages_url: reqwest::Url,
    account_sid: String,
    auth_token: Secret<String>,
    send_number: String,
}

impl TwilioSender {
    /// A sender for this account; builds its HTTP client once.
    pub fn new(config: TwilioConfig) -> Result<Self, TwilioSetupError> {
        let bad_url = |e: Option<Box<dyn std::error::Error + Send + Sync>>| {
            TwilioSetupError::BaseUrl(config.base_url.clone(), e)
        };
        let mut messages_url =
            reqwest::Url::parse(&config.base_url).map_err(|e| bad_url(Some(Box::new(e))))?;
        if !matches!(messages_url.scheme(), "http" | "https") {
            return Err(bad_url(None));
        }
        // Segments are pushed, not formatted in, so the SID is percent-encoded and a
        // base URL with or without a trailing slash or path prefix works the same.
        messages_url
            .path_segments_mut()
            .map_err(|()| bad_url(None))?
            .pop_if_empty()
            .extend([
                "2010-04-01",
                "Accounts",
                &config.account_sid,
                "Messages.json",
            ]);
        crate::crypto::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(crate::timeouts::CONNECT.min(config.timeout))
            .timeout(config.timeout)
            .build()
            .map_err(TwilioSetupError::Client)?;
        Ok(Self {
            http,
            messages_url,
            account_sid: config.account_sid,
            auth_token: config.auth_token,
            send_number: config.send_number,
        })
    }

    /// Reads `TWILIO_SID` (or `TWILIO_ACCOUNT_SID`), `TWILIO_AUTH_TOKEN`,
    /// `TWILIO_SEND_NUMBER`, and optionally `TWILIO_BASE_URL` (default
    /// [`DEFAULT_BASE_URL`]) and `TWILIO_TIMEOUT_SECONDS` (default 3, 1 to [`MAX_TIMEOUT_SECONDS`]).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let required = |var: &str| {
            env.get(var)
                .ok_or_else(|| ConfigError::new(var, "required when SMS_PROVIDER is twilio"))
        };
        let account_sid = env
            .get("TWILIO_SID")
            .or_else(|| env.get("TWILIO_ACCOUNT_SID"))
            .ok_or_else(|| {
                ConfigError::new(
                    "TWILIO_SID",
                    "required when SMS_PROVIDER is twilio (or set TWILIO_ACCOUNT_SID)",
                )
            })?;
        let auth_token = Secret::new(required("TWILIO_AUTH_TOKEN")?);
        let send_number = required("TWILIO_SEND_NUMBER")?;
        let base_url = env
            .get("TWILIO_BASE_URL")
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let timeout = match env.get("TWILIO_TIMEOUT_SECONDS") {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=MAX_TIMEOUT_SECONDS).contains(&n) => Duration::from_secs(n),
                _ => {
                    let why = format!(
                        "{v:?} is not a whole number of seconds from 1 to {MAX_TIMEOUT_SECONDS} (the function times out at 10)"
                    );
                    return Err(ConfigError::new("TWILIO_TIMEOUT_SECONDS", why));
                }
            },
        };
        Self::new(TwilioConfig {
            account_sid,
            auth_token,
            send_number,
            base_url,
            timeout,
        })
        .map_err(|e| match e {
            TwilioSetupError::BaseUrl(..) => ConfigError::new("TWILIO_BASE_URL", e.to_string()),
            TwilioSetupError::Client(_) => ConfigError::new("SMS_PROVIDER", e.to_string()),
        })
    }
}

/// The error body Twilio sends with a 4xx: `{"code": 21211, "message": "…", …}`.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

#[async_trait]
impl SmsSender for TwilioSender {
    #[tracing::instrument(name = "twilio_send_sms", skip_all)]
    async fn send_sms(&self, m: &SmsMessage) -> Result<(), DeliveryError> {
        let form = [
            ("To", m.to.as_str()),
            ("From", self.send_number.as_str()),
            ("Body", m.body.expose().as_str()),
        ];
        let response = self
            .http
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&form)
            .send()
            .await
            // reqwest's error names the URL (which holds the SID, not the token) and
            // the cause; it never carries the form we sent.
            .map_err(|e| {
                DeliveryError::Unavailable(format!("Twilio request failed: {}", error_chain(&e)))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let detail = match response.json::<TwilioError>().await {
            Ok(TwilioError {
                code: Some(code),
                message: Some(message),
            }) => format!(": Twilio error {code}: {message}"),
            Ok(TwilioError {
                code: Some(code),
                message: None,
            }) => format!(": Twilio error {code}"),
            Ok(TwilioError {
                code: None,
                message: Some(message),
            }) => format!(": {message}"),
            _ => String::new(),
        };
        let text = format!("Twilio answered {status}{detail}");
        if status.is_client_error() {
            Err(DeliveryError::Refused(text))
        } else {
            Err(DeliveryError::Unavailable(text))
        }
    }
}

/// An error and its causes on one line: reqwest's own Display stops at the top,
/// which for a timeout or refused connection says only "error sending request".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str) -> TwilioConfig {
        TwilioConfig {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: Secret::new("tok-very-secret".into()),
            send_number: "+15005550006".into(),
            base_url: base_url.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    #[test]
    fn the_messages_url_is_built_from_the_base_and_the_account_sid() {
        for base in [
            "https://api.twilio.com",
            "https://api.twilio.com/",
            "http://127.0.0.1:9000/",
        ] {
            let s = TwilioSender::new(config(base)).unwrap();
            assert_eq!(
                s.messages_url.path(),
                "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
                "base {base}"
            );
        }
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        for base in ["not a url", "mailto:ops@example.com", "ftp://example.com"] {
            assert!(
                matches!(
                    TwilioSender::new(config(base)),
                    Err(TwilioSetupError::BaseUrl(..))
                ),
                "base {base}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_auth_token() {
        let c = config(DEFAULT_BASE_URL);
        assert!(!format!("{c:?}").contains("tok-very-secret"));
        let s = TwilioSender::new(c).unwrap();
        assert!(!format!("{s:?}").contains("tok-very-secret"));
    }
}
