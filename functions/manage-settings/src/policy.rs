//! The policy that applies to a user, read in one store item, and what it lets the
//! user do with their own flag.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::policy::{Behaviour, Effective};
use twofa::signin::{load_side, Side};
use twofa::user::User;

use crate::caller::administered;
use crate::errors;

/// The side `user` belongs to (one store read).
pub async fn side_of(core: &Core, user: &User) -> Result<Side, ApiError> {
    load_side(core.store.as_ref(), &user.scope).await?.ok_or_else(errors::unknown_tenant)
}

/// Whether `user` may switch their own flag: the behaviour is optional, and the
/// side lets users change it or the user administers that side.
pub fn may_change_own_flag(user: &User, side: &Side, eff: &Effective) -> bool {
    eff.behaviour == Behaviour::Optional
        && (side.settings().users_can_change || administered(user).as_ref() == Some(&user.scope))
}
