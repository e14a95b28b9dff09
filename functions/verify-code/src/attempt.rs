//! The sign-in a two-factor token carries on: valid only while its `sid` is still the
//! user's pending sign-in, so a lock or a finished sign-in kills every copy of it.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::lockout::locked_for;
use twofa::tokens::TokenKind;
use twofa::user::User;

/// A sign-in waiting for its second factor.
pub struct Attempt {
    /// The user, freshly read.
    pub user: User,
    /// The pending sign-in the token belongs to.
    pub sid: String,
}

/// The sign-in `token` belongs to: 401 for a bad token or an ended sign-in, and 423
/// while the account is locked (a lock also ends the sign-in, so afterwards it is 401).
pub async fn pending(core: &Core, token: &str) -> Result<Attempt, ApiError> {
    let now = core.now();
    let claims = core
        .tokens
        .verify(TokenKind::TwoFactor, token, now)
        .map_err(|_| ApiError::unauthorized())?;
    let user = core.store.user(&claims.sub).await?.ok_or_else(ApiError::unauthorized)?;
    if user.scope.key() != claims.scope {
        return Err(ApiError::unauthorized());
    }
    if let Some(seconds) = locked_for(user.lockout_end, now) {
        return Err(ApiError::locked_out(seconds));
    }
    match claims.sid {
        Some(sid) if user.pending_sign_in.as_deref() == Some(sid.as_str()) => Ok(Attempt { user, sid }),
        _ => Err(ApiError::unauthorized()),
    }
}
