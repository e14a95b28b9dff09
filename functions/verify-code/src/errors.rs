//! The contract's refusals that only this function gives.

use http::StatusCode;
use twofa::api::ApiError;

pub fn provider_unavailable(provider: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "provider_unavailable",
        format!("{provider} is not available for this account: not set up, or not allowed"),
    )
    .with("provider", provider)
}

pub fn invalid_code(attempts_remaining: u32) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_code",
        "the code is wrong, already used, or was replaced by a newer one",
    )
    .with("attempts_remaining", attempts_remaining)
}

pub fn code_expired() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "code_expired",
        "the code has expired; ask for a new one",
    )
}
