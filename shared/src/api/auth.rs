//! Who is calling an authenticated route, and whether the caller proved a second
//! factor lately enough for a change that weakens their account (step-up).

use super::{ApiError, ErrorCode, Request, bearer_token};
use crate::app::Core;
pub use crate::app::flows::Caller;
use crate::app::flows::{load_side, stamp_digest, user_of_token};
use crate::policy::{Effective, adding_a_factor_needs_step_up};
use crate::side::Side;
use crate::tokens::TokenKind;

/// Checks the bearer token (one of `kinds`) and reads its user: 401 `unauthorized`
/// for a missing, expired, forged or wrong-kind token, or a user that no longer exists.
pub async fn authenticate(
    core: &Core,
    req: &Request,
    kinds: &[TokenKind],
) -> Result<Caller, ApiError> {
    let token = bearer_token(req).ok_or_else(ApiError::unauthorized)?;
    let caller = user_of_token(core, kinds, token).await?;
    // A token from before the last stamp change (or from before tokens named one) is over.
    let current = stamp_digest(core, &caller.user);
    if !caller
        .claims
        .stamp
        .as_deref()
        .is_some_and(|s| crate::crypto::constant_time_eq(s, &current))
    {
        return Err(ApiError::unauthorized());
    }
    Ok(caller)
}

/// The side a public route's `tenant` field names: the host when absent or null;
/// a name that cannot exist is an unknown tenant. Whether it exists is the caller's read.
pub fn side_named(tenant: Option<&str>) -> Result<Side, ApiError> {
    match tenant {
        None => Ok(Side::Host),
        Some(name) => crate::tenant::TenantName::parse(name)
            .map(|n| Side::Tenant(n.key()))
            .map_err(|_| ApiError::unknown_tenant()),
    }
}

/// 403 `step_up_required` unless 2FA is off for the user (`two_factor_on` false:
/// the policy's effective `enabled`, or [`adding_a_factor_needs_step_up`] when adding a
/// first factor) or
/// the caller proved a second factor within `STEP_UP_MAX_AGE_SECONDS`.
pub fn require_step_up(core: &Core, caller: &Caller, two_factor_on: bool) -> Result<(), ApiError> {
    let max_age = core.config.step_up_max_age_seconds;
    if !two_factor_on || caller.has_fresh_second_factor(core.now(), max_age) {
        return Ok(());
    }
    Err(ApiError::of(ErrorCode::StepUpRequired).saying(format!(
        "this change needs a second factor proven in the last {max_age} seconds; sign in again with your second factor"
    )))
}

/// Whether the caller may bind a new factor (an authenticator, a passkey) now. A
/// session without a fresh second factor (a remembered browser, a stolen token) must
/// not add a factor of its own to an account that has one: step-up. An account
/// without one binds a factor only in a session signed in just now (within
/// `STEP_UP_MAX_AGE_SECONDS`; a refresh keeps the sign-in's time): a stolen or
/// long-lived token cannot leave its thief a factor (a passkey signs in alone and
/// outlives a password change; an authenticator turns two-factor sign-in on against
/// its owner). NIST SP 800-63B 6.1.2.1 binds an authenticator only within a fresh
/// authentication. A setup token's holder has just proven the password.
pub fn require_fresh_binding(
    core: &Core,
    caller: &Caller,
    eff: &Effective,
) -> Result<(), ApiError> {
    if caller.kind != TokenKind::Access {
        return Ok(());
    }
    if adding_a_factor_needs_step_up(&caller.user, eff) {
        return require_step_up(core, caller, true);
    }
    let max_age = core.config.step_up_max_age_seconds;
    if caller.signed_in_recently(core.now(), max_age) {
        return Ok(());
    }
    Err(ApiError::of(ErrorCode::StepUpRequired).saying(format!(
        "adding a second factor needs a sign-in in the last {max_age} seconds; sign in again"
    )))
}

/// Step-up for confirming a phone number: only a number other than the confirmed
/// one changes where codes go. Setup tokens pass: their holder is adding a first provider.
pub async fn require_step_up_for_phone(
    core: &Core,
    caller: &Caller,
    number: &str,
) -> Result<(), ApiError> {
    let user = &caller.user;
    let same = user.phone_number_confirmed
        && user
            .phone_number
            .as_ref()
            .is_some_and(|p| p.as_str() == number);
    if same || caller.kind != TokenKind::Access {
        return Ok(());
    }
    let side = load_side(core.store.as_ref(), &user.side)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    require_step_up(
        core,
        caller,
        adding_a_factor_needs_step_up(user, &side.effective(user.two_factor_enabled)),
    )
}
