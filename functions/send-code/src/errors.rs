//! The contract's refusals that only this function gives.

use http::StatusCode;
use twofa::api::ApiError;

pub fn provider_unavailable(provider: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "provider_unavailable",
        format!("{provider} is not available for this account: not confirmed, not allowed, or nothing to send"),
    )
    .with("provider", provider)
}

pub fn too_many_requests(retry_after: i64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "too many codes were requested; try again later",
    )
    .retry_after(retry_after)
}

pub fn delivery_failed(channel: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "delivery_failed",
        format!("the {channel} could not be delivered; no code was issued, try again later"),
    )
}

pub fn invalid_phone(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_phone", message).with("field", "phone_number")
}
