//! The one error type of the HTTP layer, and every error code of the contract named
//! once ([`ErrorCode`]) with its status and default sentence. Each answer carries the
//! contract's status, code and a sentence for the client; internal causes go to the
//! log only. A code that carries fields is made by its own constructor, so it carries
//! the same fields wherever it is given.

use http::StatusCode;
use serde_json::{Map, Value};

use super::Response;
use super::request::MAX_BODY_BYTES;
use crate::app::flows::FlowError;
use crate::store::StoreError;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, $sentence:literal;)*) => {
        /// An error code of the contract (openapi.yaml).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as the client reads it in `error`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The status every answer with this code has.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }

            /// The sentence an answer carries unless its situation says more.
            pub fn sentence(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $sentence,)*
                }
            }
        }
    };
}

error_codes! {
    /// A malformed body or query, or a missing or mistyped field (then named in `field`).
    InvalidRequest = "invalid_request", BAD_REQUEST, "the request is not valid";
    /// An address that is not one; `field` names it.
    InvalidEmail = "invalid_email", BAD_REQUEST, "the email address is not valid";
    /// A password the rules refuse; `field` names it.
    WeakPassword = "weak_password", BAD_REQUEST, "the password is too short, too long or too easy to guess";
    /// A number that is not E.164 or not allowed; `field` names it.
    InvalidPhone = "invalid_phone", BAD_REQUEST, "the phone number is not valid";
    /// A second factor not set up, not confirmed or not allowed; `provider` names it.
    ProviderUnavailable = "provider_unavailable", BAD_REQUEST, "this second factor is not available for this account";
    /// A missing, expired, forged or wrong-kind token.
    Unauthorized = "unauthorized", UNAUTHORIZED, "a valid bearer token is required";
    /// A wrong email or password.
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED, "the email or the password is wrong";
    /// A refresh token that renews nothing: unknown, rotated, revoked or expired, or
    /// its user's stamp changed, locked out or gone.
    InvalidGrant = "invalid_grant", UNAUTHORIZED, "the refresh token is not valid; sign in again";
    /// A wrong, used or replaced code; `attempts_remaining` says how many tries are
    /// left before the account locks (not on `/password/reset`, where it would tell
    /// whether the account exists).
    InvalidCode = "invalid_code", UNAUTHORIZED, "the code is wrong, already used, or was replaced by a newer one";
    /// A valid caller not permitted to do this.
    Forbidden = "forbidden", FORBIDDEN, "you may not do this";
    /// A change that weakens the account without a recent second factor.
    StepUpRequired = "step_up_required", FORBIDDEN, "this change needs a recent second factor; sign in again with your second factor";
    /// No such record for this caller, or no such route.
    NotFound = "not_found", NOT_FOUND, "there is no such record";
    /// No tenant by that name.
    UnknownTenant = "unknown_tenant", NOT_FOUND, "no tenant has this name";
    /// A route's path with another method; `allowed` lists the methods it takes.
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "this path does not take that method";
    /// What the change was decided on moved meanwhile; nothing was written.
    Conflict = "conflict", CONFLICT, "the record changed while this request was handled; nothing was written, start again";
    /// An account with this email exists in the side.
    EmailTaken = "email_taken", CONFLICT, "an account with this email already exists";
    /// A tenant with this name exists.
    TenantExists = "tenant_exists", CONFLICT, "a tenant with this name already exists";
    /// The host decides two-factor sign-in for this tenant.
    ControlledByHost = "controlled_by_host", CONFLICT, "the host decides two-factor sign-in for this tenant; the behaviour can change only while the host leaves it optional";
    /// The user's own flag does not apply under the policy.
    NotOptional = "not_optional", CONFLICT, "two-factor sign-in is forced or disabled for this user by policy; the user's own flag does not apply";
    /// An authenticator is set up already.
    AuthenticatorExists = "authenticator_exists", CONFLICT, "an authenticator app is already set up; remove it first (DELETE /account/authenticator)";
    /// No authenticator awaits its first code.
    NoPendingAuthenticator = "no_pending_authenticator", CONFLICT, "there is no authenticator waiting for a code; start with POST /account/authenticator";
    /// A passkey ceremony that is unknown, expired, finished already, or another caller's.
    InvalidCeremony = "invalid_ceremony", BAD_REQUEST, "this passkey ceremony is unknown, expired or finished; start again";
    /// An authenticator's answer to an enrolment that the relying party refused
    /// (wrong origin or RP ID, no user verification, a credential enrolled already).
    PasskeyRefused = "passkey_refused", BAD_REQUEST, "the passkey could not be added: the authenticator's answer was refused";
    /// The code is past its lifetime.
    CodeExpired = "code_expired", GONE, "the code has expired; ask for a new one";
    /// A body over the limit.
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "the body is too large";
    /// Too many failures; `retry_after_seconds` and `Retry-After` say when to try again.
    LockedOut = "locked_out", LOCKED, "too many failed attempts; the account is locked for a while";
    /// A send limit reached; `retry_after_seconds` and `Retry-After` say when to try again.
    TooManyRequests = "too_many_requests", TOO_MANY_REQUESTS, "too many codes were requested; try again later";
    /// A bug on our side; the cause is in the log only.
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "something went wrong on our side";
    /// The provider refused or failed the message; no code was issued.
    DeliveryFailed = "delivery_failed", BAD_GATEWAY, "the message could not be delivered; no code was issued, try again later";
    /// The store could not be reached in time; `retry_after_seconds` and `Retry-After` say when to try again.
    ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE, "the service is briefly unavailable; try again";
}

impl ErrorCode {
    /// The code named `s`, if the contract has it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

/// An error answer: `{"error": code, "message": sentence, ...fields}`.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    extra: Map<String, Value>,
    headers: Vec<(http::HeaderName, String)>,
}

impl ApiError {
    /// An answer with `code`, its status and its default sentence. Codes that carry
    /// fields have their own constructors below.
    pub fn of(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.sentence().to_string(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// The same answer with a sentence that says more about this situation.
    pub fn saying(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// 400 `invalid_request` naming the field at fault.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid_request(message).with("field", field)
    }

    /// 400 `invalid_request` about the request as a whole.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::of(ErrorCode::InvalidRequest).saying(message)
    }

    /// 400 `invalid_email` about `field`.
    pub fn invalid_email(field: &str, why: impl Into<String>) -> Self {
        Self::of(ErrorCode::InvalidEmail)
            .saying(why)
            .with("field", field)
    }

    /// 400 `weak_password` about `field`.
    pub fn weak_password(field: &str, why: impl Into<String>) -> Self {
        Self::of(ErrorCode::WeakPassword)
            .saying(why)
            .with("field", field)
    }

    /// 400 `invalid_phone` about `field`.
    pub fn invalid_phone(field: &str, why: impl Into<String>) -> Self {
        Self::of(ErrorCode::InvalidPhone)
            .saying(why)
            .with("field", field)
    }

    /// 400 `provider_unavailable` naming the `provider`.
    pub fn provider_unavailable(provider: &str) -> Self {
        Self::of(ErrorCode::ProviderUnavailable)
            .saying(format!(
                "{provider} is not available for this account: not set up, not confirmed, or not allowed by the two-factor settings"
            ))
            .with("provider", provider)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::of(ErrorCode::Unauthorized)
    }

    /// 401 `invalid_code` with the attempts left before the account locks.
    pub fn invalid_code(attempts_remaining: u32) -> Self {
        Self::of(ErrorCode::InvalidCode).with("attempts_remaining", attempts_remaining)
    }

    /// 404 `unknown_tenant`.
    pub fn unknown_tenant() -> Self {
        Self::of(ErrorCode::UnknownTenant)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::of(ErrorCode::Forbidden).saying(message)
    }

    /// 403 `forbidden` for an unlock of the lock that 100 consecutive failures earned;
    /// `locked_until` says when it ends by itself.
    pub fn hard_lock_stands(locked_until: i64) -> Self {
        Self::forbidden(
            "this account reached 100 consecutive failed attempts; that lock ends by itself and no administrator can end it sooner",
        )
        .with("locked_until", locked_until)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of(ErrorCode::NotFound).saying(message)
    }

    /// 405 `method_not_allowed` for `path`, with the methods it takes in `allowed`.
    pub fn method_not_allowed(path: &str, allowed: &[&str]) -> Self {
        let allowed = allowed.join(", ");
        Self::of(ErrorCode::MethodNotAllowed)
            .saying(format!("{path} takes {allowed}"))
            .with("allowed", allowed)
    }

    /// 409 `conflict`: what the change was decided on moved meanwhile.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::of(ErrorCode::Conflict).saying(message)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large() -> Self {
        Self::of(ErrorCode::PayloadTooLarge)
            .saying(format!("the body must be at most {MAX_BODY_BYTES} bytes"))
    }

    /// 423 `locked_out` with `retry_after_seconds` and `Retry-After`.
    pub fn locked_out(retry_after: i64) -> Self {
        Self::of(ErrorCode::LockedOut).retry_after(retry_after)
    }

    /// 429 `too_many_requests` with `retry_after_seconds` and `Retry-After`.
    pub fn too_many_requests(retry_after: i64) -> Self {
        Self::of(ErrorCode::TooManyRequests).retry_after(retry_after)
    }

    /// 503 `service_unavailable` with `retry_after_seconds` and `Retry-After`.
    pub fn service_unavailable() -> Self {
        Self::of(ErrorCode::ServiceUnavailable).retry_after(crate::timeouts::RETRY_AFTER_SECONDS)
    }

    /// 500 for a bug: the cause is logged, the client learns nothing of it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::of(ErrorCode::InternalError)
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    fn retry_after(mut self, seconds: i64) -> Self {
        let s = seconds.max(1);
        self.headers
            .push((http::header::RETRY_AFTER, s.to_string()));
        self.with("retry_after_seconds", s)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The contract code.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    /// Whether the answer carries `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), self.code.as_str().into());
        body.insert("message".into(), self.message.into());
        body.extend(self.extra);
        let mut r = super::json(self.code.status(), &Value::Object(body));
        for (name, value) in self.headers {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                r.headers_mut().append(name, v);
            }
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "store unavailable");
                Self::service_unavailable()
            }
            // A write made under the caller's stamp found it changed: the session the
            // request was authenticated in has ended meanwhile.
            StoreError::Conflict(crate::store::STAMP) => Self::unauthorized(),
            other => Self::internal(other),
        }
    }
}

/// The one place a use case's refusal becomes an answer: its status, contract code
/// and fields.
impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Unauthorized => Self::unauthorized(),
            FlowError::InvalidGrant => Self::of(ErrorCode::InvalidGrant),
            FlowError::LockedOut { retry_after } => Self::locked_out(retry_after),
            FlowError::WrongCode { attempts_remaining } => Self::invalid_code(attempts_remaining),
            FlowError::NoTimeLeft => Self::service_unavailable(),
            FlowError::AccountChanged => {
                Self::conflict("the account changed while this answer was checked; start again")
            }
            FlowError::Store(e) => e.into(),
            FlowError::Token(e) => e.into(),
            FlowError::PasskeysOff => Self::provider_unavailable("passkey"),
            FlowError::InvalidCeremony => Self::of(ErrorCode::InvalidCeremony),
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(e: crate::password::HashError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::tokens::TokenError> for ApiError {
    fn from(e: crate::tokens::TokenError) -> Self {
        match e {
            crate::tokens::TokenError::Sign(_) | crate::tokens::TokenError::Crypto(_) => {
                Self::internal(e)
            }
            _ => Self::unauthorized(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_named_once_and_reads_back() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code:?} named twice");
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn an_answer_carries_its_codes_status_and_sentence() {
        let r = ApiError::of(ErrorCode::UnknownTenant).into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body: Value = serde_json::from_str(r.body()).unwrap();
        assert_eq!(body["error"], "unknown_tenant");
        assert_eq!(body["message"], "no tenant has this name");
    }

    #[test]
    fn a_store_that_cannot_be_reached_answers_503_with_retry_after() {
        let r = ApiError::from(StoreError::Unavailable("timed out".into())).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(http::header::RETRY_AFTER));
    }

    #[test]
    fn each_refusal_of_a_use_case_answers_its_contract_code_and_fields() {
        let answer = |e: FlowError| {
            let r = ApiError::from(e).into_response();
            let body: Value = serde_json::from_str(r.body()).unwrap();
            (
                r.status().as_u16(),
                body,
                r.headers().get(http::header::RETRY_AFTER).cloned(),
            )
        };
        let (status, body, _) = answer(FlowError::Unauthorized);
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized"))
        );
        let (status, body, retry) = answer(FlowError::LockedOut { retry_after: 42 });
        assert_eq!((status, body["error"].as_str()), (423, Some("locked_out")));
        assert_eq!(
            (
                body["retry_after_seconds"].as_i64(),
                retry.unwrap().to_str().ok().map(String::from)
            ),
            (Some(42), Some("42".to_string()))
        );
        let (status, body, _) = answer(FlowError::WrongCode {
            attempts_remaining: 2,
        });
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_code"))
        );
        assert_eq!(body["attempts_remaining"], 2);
        let (status, body, retry) = answer(FlowError::NoTimeLeft);
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("service_unavailable"))
        );
        assert!(retry.is_some());
        let (status, body, _) = answer(FlowError::AccountChanged);
        assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
        assert_eq!(
            body["message"],
            "the account changed while this answer was checked; start again"
        );
        // A write refused for the caller's changed stamp: the session ended.
        let (status, _, _) = answer(FlowError::Store(StoreError::Conflict(crate::store::STAMP)));
        assert_eq!(status, 401);
        let (status, body, _) = answer(FlowError::Store(StoreError::Unavailable("x".into())));
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("service_unavailable"))
        );
    }
}
