//! The contract's error answers that only this function gives.

use http::StatusCode;
use twofa::api::ApiError;

/// 405 for a known path asked with another method; `allowed` lists the methods it takes.
pub fn method_not_allowed(allowed: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method",
    )
    .with("allowed", allowed.join(", "))
}

/// 404 `unknown_tenant`.
pub fn unknown_tenant() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_tenant",
        "there is no such tenant",
    )
}

/// 404 `not_found` for a user that does not exist or belongs to another side: the
/// two are indistinguishable so that ids of other tenants' users reveal nothing.
pub fn no_such_user() -> ApiError {
    ApiError::not_found("there is no such user")
}

/// 409 `tenant_exists`.
pub fn tenant_exists() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "tenant_exists",
        "a tenant with this name already exists",
    )
}

/// 409 `controlled_by_host`.
pub fn controlled_by_host() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "controlled_by_host",
        "the host decides two-factor sign-in for this tenant; the behaviour can change only while the host leaves it optional",
    )
}

/// 409 `not_optional`.
pub fn not_optional() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_optional",
        "two-factor sign-in is forced or disabled for this user by policy; the user's own flag does not apply",
    )
}

/// 409 `conflict`: what the change was decided on moved meanwhile; nothing was written.
pub fn conflict(message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

/// 409 `authenticator_exists`.
pub fn authenticator_exists() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "authenticator_exists",
        "an authenticator app is already set up; remove it first (DELETE /account/authenticator)",
    )
}

/// 409 `no_pending_authenticator`.
pub fn no_pending_authenticator() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_pending_authenticator",
        "there is no authenticator waiting for a code; start with POST /account/authenticator",
    )
}

/// 400 `provider_unavailable`.
pub fn provider_unavailable(provider: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "provider_unavailable",
        format!("the {provider} provider is not allowed by your two-factor settings"),
    )
}

/// 401 `invalid_code` with the attempts left before the account locks.
pub fn invalid_code(attempts_remaining: u32) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_code",
        "the code is wrong or was already used",
    )
    .with("attempts_remaining", attempts_remaining)
}

/// 400 `invalid_email` about `field`.
pub fn invalid_email(field: &str, why: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_email", why).with("field", field)
}

/// 400 `weak_password` about `field`.
pub fn weak_password(field: &str, why: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "weak_password", why).with("field", field)
}
