//! Guards for changes that weaken an account, and the security stamp that
//! remembered browsers are bound to.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::signin::Caller;

use crate::errors;

/// A new security stamp: every remembered browser bound to the old one stops working.
pub fn new_stamp() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Nothing, if the change may go ahead: the user has two-factor sign-in off, or the
/// caller proved a second factor recently enough; else 403 `step_up_required`.
pub fn require_step_up(core: &Core, caller: &Caller, two_factor_on: bool) -> Result<(), ApiError> {
    let max_age = core.config.step_up_max_age_seconds;
    if !two_factor_on || caller.has_fresh_second_factor(core.now(), max_age) {
        Ok(())
    } else {
        Err(errors::step_up_required(max_age))
    }
}
