//! The sign-in a two-factor token carries on: valid only while its `sid` is still the
//! user's pending sign-in, so a lock or a finished sign-in kills every copy of it.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::tokens::TokenKind;
use twofa::user::User;

/// The user whose sign-in waits for a second factor.
pub async fn pending_user(core: &Core, token: &str) -> Result<User, ApiError> {
    let claims = core
        .tokens
        .verify(TokenKind::TwoFactor, token, core.now())
        .map_err(|_| ApiError::unauthorized())?;
    let user = core.store.user(&claims.sub).await?.ok_or_else(ApiError::unauthorized)?;
    let current = claims.sid.is_some() && user.pending_sign_in == claims.sid;
    if user.scope.key() != claims.scope || !current {
        return Err(ApiError::unauthorized());
    }
    Ok(user)
}
