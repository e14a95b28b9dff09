//! The side a user belongs to, read in one store item, and what its policy lets the
//! user do with their own flag.

use twofa::api::{ApiError, Caller, require_step_up};
use twofa::app::Core;
use twofa::flows::load_side;
use twofa::policy::{Behaviour, Effective, SettingChange, loses_every_provider, strands};
use twofa::side::Side;
use twofa::tenant::SidePolicy;
use twofa::user::{User, UserPatch};

use crate::caller::administered;

/// The side `user` belongs to (one store read).
pub async fn side_of(core: &Core, user: &User) -> Result<SidePolicy, ApiError> {
    load_side(core.store.as_ref(), &user.side)
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}

/// Whether `user` may switch their own flag: the behaviour is optional, and the
/// side lets users change it or the user administers that side.
pub fn may_change_own_flag(user: &User, side: &SidePolicy, eff: &Effective) -> bool {
    eff.behaviour == Behaviour::Optional
        && (side.settings().users_can_change || administered(user).as_ref() == Some(&user.side))
}

/// 403 `step_up_required` when `changes` weaken every account of a side and the
/// admin, who has 2FA on, proved no second factor lately: the same bar as turning
/// its own 2FA off. `admin_side` is the side the admin itself belongs to.
pub fn require_step_up_to_weaken(
    core: &Core,
    caller: &Caller,
    admin_side: &SidePolicy,
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

/// Users read a page at a time while a change is judged.
const PAGE: usize = 100;

/// What a change of a side's settings does to its users: who loses every provider it
/// could sign in with, and how many of them are stranded (not even a recovery code left).
pub struct Losses {
    /// The users who lose every provider and are not marked yet.
    unmarked: Vec<twofa::ids::UserId>,
    /// Users left with two-factor sign-in on and no way to prove a second factor.
    pub stranded: usize,
}

/// Reads every user of `scope` (a page at a time) and judges the change from `before`
/// to `after` for each, by its effect ([`loses_every_provider`], [`strands`]).
pub async fn losses(
    core: &Core,
    scope: &Side,
    before: &SidePolicy,
    after: &SidePolicy,
) -> Result<Losses, ApiError> {
    let mut losses = Losses {
        unmarked: Vec::new(),
        stranded: 0,
    };
    let mut next = None;
    loop {
        let page = core.store.users_in(scope, "", next.as_ref(), PAGE).await?;
        for user in &page.items {
            let (b, a) = (
                before.effective(user.two_factor_enabled),
                after.effective(user.two_factor_enabled),
            );
            if !loses_every_provider(user, &b, &a) {
                continue;
            }
            losses.stranded += usize::from(strands(user, &b, &a));
            if !user.second_factor_lost {
                losses.unmarked.push(user.id.clone());
            }
        }
        match page.next {
            Some(k) => next = Some(k),
            None => return Ok(losses),
        }
    }
}

impl Losses {
    /// Marks the users who lose every provider, before the change is written: a change
    /// that fails after some marks leaves marks that only ever refuse the password
    /// alone an enrolment, never one that lets it through.
    pub async fn mark(&self, core: &Core) -> Result<(), ApiError> {
        let patch = UserPatch {
            second_factor_lost: Some(true),
            ..Default::default()
        };
        for id in &self.unmarked {
            match core.store.update_user(id, &patch).await {
                // Deleted meanwhile: nothing to mark.
                Ok(()) | Err(twofa::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
