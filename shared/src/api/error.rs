//! The one error type of the HTTP layer. Each value carries the contract's status,
//! code and a sentence for the client; internal causes go to the log only.

use http::StatusCode;
use serde_json::{Map, Value};

use super::Response;
use crate::store::StoreError;

/// An error answer: `{"error": code, "message": sentence, ...extra}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Map<String, Value>,
    headers: Vec<(http::HeaderName, String)>,
}

impl ApiError {
    /// An error with the given status, contract code and sentence.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// 400 `invalid_request` naming the field at fault.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message).with("field", field)
    }

    /// 400 `invalid_request` about the request as a whole.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 423 `locked_out` with `retry_after_seconds` and `Retry-After`.
    pub fn locked_out(retry_after: i64) -> Self {
        Self::new(
            StatusCode::LOCKED,
            "locked_out",
            "too many failed attempts; the account is locked for a while",
        )
        .retry_after(retry_after)
    }

    /// 500 for a bug: the cause is logged, the client learns nothing of it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side",
        )
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Adds `retry_after_seconds` and the `Retry-After` header.
    pub fn retry_after(mut self, seconds: i64) -> Self {
        let s = seconds.max(1);
        self.headers
            .push((http::header::RETRY_AFTER, s.to_string()));
        self.with("retry_after_seconds", s)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The contract code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), self.code.into());
        body.insert("message".into(), self.message.into());
        body.extend(self.extra);
        let mut r = super::json(self.status, &Value::Object(body));
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
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the service is briefly unavailable; try again",
                )
                .retry_after(crate::timeouts::RETRY_AFTER_SECONDS)
            }
            other => Self::internal(other),
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
