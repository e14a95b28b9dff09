//! Confirming a new phone number changes where sign-in codes go, so for a user with
//! 2FA on it needs a recently proven second factor (API.md, step-up).

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::signin::{load_side, usable_providers, Caller};
use twofa::tokens::TokenKind;

use crate::errors::step_up_required;

/// Refuses with 403 `step_up_required` when `number` is not the user's confirmed
/// number, the user has 2FA on, and the access token's second factor is not fresh.
/// Setup tokens pass: their holder has no provider yet and is adding the first one.
pub async fn check_new_phone(core: &Core, caller: &Caller, number: &str) -> Result<(), ApiError> {
    let user = &caller.user;
    let same = user.phone_number_confirmed && user.phone_number.as_deref() == Some(number);
    if same || caller.kind != TokenKind::Access {
        return Ok(());
    }
    let Some(side) = load_side(core.store.as_ref(), &user.scope).await? else {
        return Err(ApiError::unauthorized());
    };
    let eff = side.effective(user.two_factor_enabled);
    let two_factor_on = eff.enabled && !usable_providers(user, &eff).is_empty();
    if two_factor_on && !caller.has_fresh_second_factor(core.now(), core.config.step_up_max_age_seconds) {
        return Err(step_up_required());
    }
    Ok(())
}
