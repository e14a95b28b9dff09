//! The side a user belongs to, read in one store item, and what its policy lets the
//! user do with their own flag.

use twofa::api::{ApiError, Caller, require_step_up};
use twofa::app::Core;
use twofa::policy::{Behaviour, Effective, SettingChange, Side, load_side};
use twofa::user::User;

use crate::caller::administered;

/// The side `user` belongs to (one store read).
pub async fn side_of(core: &Core, user: &User) -> Result<Side, ApiError> {
    load_side(core.store.as_ref(), &user.scope)
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}

/// Whether `user` may switch their own flag: the behaviour is optional, and the
/// side lets users change it or the user administers that side.
pub fn may_change_own_flag(user: &User, side: &Side, eff: &Effective) -> bool {
    eff.behaviour == Behaviour::Optional
        && (side.settings().users_can_change || administered(user).as_ref() == Some(&user.scope))
}

/// 403 `step_up_required` when `changes` weaken every account of a side and the
/// admin, who has 2FA on, proved no second factor lately: the same bar as turning
/// its own 2FA off. `admin_side` is the side the admin itself belongs to.
pub fn require_step_up_to_weaken(
    core: &Core,
    caller: &Caller,
    admin_side: &Side,
    changes: &[SettingChange],
) -> Result<(), ApiError> {
    if !changes.iter().any(|c| c.weakens) {
        return Ok(());
    }
    let admin = &caller.user;
    require_step_up(
        core,
        caller,
        admin_side.effective(admin.two_factor_enabled).enabled,
    )
}
