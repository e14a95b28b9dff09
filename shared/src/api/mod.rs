//! The HTTP edge shared by every function and the local API: one error type with
//! its mapping to the contract's status and code, JSON bodies in and out, bearer
//! tokens, cookies and route matching, and who the caller is ([`authenticate`],
//! step-up). Framework-neutral (`http` types), so the
//! Lambda adapter ([`lambda`]) and the local API convert at the border only.

mod auth;
mod client;
mod code_body;
mod error;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod paging;
mod remember;
mod request;
mod routing;

pub use auth::{
    Caller, authenticate, require_fresh_binding, require_step_up, require_step_up_for_phone,
    side_named,
};
pub use client::{ClientInfo, client_info};
pub use code_body::TokenOrPurpose;
pub use error::{ApiError, ErrorCode};
pub use remember::{Remembered, remember};
pub use request::{
    MAX_BODY_BYTES, bearer_token, cookie, header, origin, parse_body, sign_in_from, user_agent,
};
pub use routing::{Operation, Route, match_path, operation};

/// A request as the handlers see it.
pub type Request = http::Request<Vec<u8>>;
/// A response as the handlers make it.
pub type Response = http::Response<String>;

/// A JSON response.
pub fn json<T: serde::Serialize>(status: http::StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => with_json_headers(http::Response::builder().status(status))
            .body(text)
            .unwrap_or_default(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A JSON response with extra headers (e.g. `Set-Cookie`).
pub fn json_with_headers<T: serde::Serialize>(
    status: http::StatusCode,
    body: &T,
    headers: &[(http::HeaderName, String)],
) -> Response {
    let mut r = json(status, body);
    for (name, value) in headers {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            r.headers_mut().append(name.clone(), v);
        }
    }
    r
}

/// An empty 204 response.
pub fn no_content() -> Response {
    http::Response::builder()
        .status(http::StatusCode::NO_CONTENT)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(String::new())
        .unwrap_or_default()
}

fn with_json_headers(b: http::response::Builder) -> http::response::Builder {
    // Tokens and codes pass through these bodies: nothing may cache them.
    b.header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
}

/// Turns a handler's result into the response.
pub fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

/// Serves a request under the request deadline ([`crate::timeouts::within_deadline`]):
/// its answer, or 503 `service_unavailable` with `Retry-After` once the deadline is reached.
pub async fn respond_within(
    request: impl std::future::Future<Output = Result<Response, ApiError>>,
) -> Response {
    match crate::timeouts::within_deadline(request).await {
        Some(result) => respond(result),
        None => {
            tracing::warn!("the request's deadline was reached");
            ApiError::service_unavailable().into_response()
        }
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;
    use crate::timeouts::{REQUEST_DEADLINE, RETRY_AFTER_SECONDS};

    #[tokio::test]
    async fn a_request_that_reaches_its_deadline_answers_503_with_retry_after() {
        let resp = respond_within(async {
            tokio::time::sleep(REQUEST_DEADLINE + std::time::Duration::from_millis(50)).await;
            Ok(no_content())
        })
        .await;
        assert_eq!(resp.status().as_u16(), 503);
        assert_eq!(
            resp.headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some(RETRY_AFTER_SECONDS.to_string().as_str())
        );
    }
}
