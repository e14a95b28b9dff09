//! `GET | PUT /users/{user_id}/two-factor`: an admin's view of the users of its own
//! side. Users of other sides answer exactly as unknown ids do.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::{json, parse_body, ApiError, Request, Response};
use twofa::app::Core;
use twofa::policy::{Behaviour, DecidedBy};
use twofa::signin::{notify, require_step_up, rotate_stamp, two_factor_on, FreshAccess, Side};
use twofa::senders::EmailSender;
use twofa::tenant::Scope;
use twofa::user::{User, UserPatch};

use crate::caller::{admin, signed_in};
use crate::errors;
use crate::policy::side_of;

#[derive(Deserialize)]
struct FlagChange {
    enabled: bool,
}

#[derive(Serialize)]
struct UserTwoFactor {
    user_id: String,
    enabled: bool,
    behaviour: Behaviour,
    decided_by: DecidedBy,
    /// When an admin changed its own flag: its token under the new security stamp.
    #[serde(flatten)]
    fresh: Option<FreshAccess>,
}

fn view(user: &User, side: &Side) -> UserTwoFactor {
    let eff = side.effective(user.two_factor_enabled);
    UserTwoFactor { user_id: user.id.clone(), enabled: eff.enabled, behaviour: eff.behaviour, decided_by: eff.decided_by, fresh: None }
}

/// `GET /users/{user_id}/two-factor`.
pub async fn get(core: &Core, req: &Request, user_id: &str) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let user = managed(core, &scope, user_id).await?;
    let side = side_of(core, &user).await?;
    Ok(json(StatusCode::OK, &view(&user, &side)))
}

/// `PUT /users/{user_id}/two-factor`: sets the user's own flag, which only counts
/// while the behaviour is optional. Turning it off, for itself or anyone of its side,
/// needs the admin's own step-up when the admin has 2FA on: a remembered browser or a
/// stolen admin token must not switch off what `/account/two-factor` guards.
pub async fn put(core: &Core, email: &dyn EmailSender, req: &Request, user_id: &str) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let change: FlagChange = parse_body(req)?;
    let mut user = managed(core, &scope, user_id).await?;
    // The user is of the admin's side: one read serves both.
    let side = side_of(core, &user).await?;
    if side.effective(user.two_factor_enabled).behaviour != Behaviour::Optional {
        return Err(errors::not_optional());
    }
    let mut fresh = None;
    if change.enabled != user.two_factor_enabled {
        if !change.enabled {
            let admin = &caller.user;
            require_step_up(core, &caller, two_factor_on(admin, &side.effective(admin.two_factor_enabled)))?;
        }
        let patch = UserPatch { two_factor_enabled: Some(change.enabled), ..Default::default() };
        (user, fresh) = rotate_stamp(core, &caller, &user, patch).await?;
        tracing::info!(user_id = %user.id, admin_id = %caller.user.id, enabled = change.enabled, "user's two-factor flag set by an administrator");
        let (subject, text) = if change.enabled {
            ("Two-factor sign-in was turned on", "An administrator turned on two-factor sign-in for your account.")
        } else {
            ("Two-factor sign-in was turned off", "An administrator turned off two-factor sign-in for your account.")
        };
        notify(email, &user, subject, text).await;
    }
    Ok(json(StatusCode::OK, &UserTwoFactor { fresh, ..view(&user, &side) }))
}

/// The user `id` if it belongs to the side `scope`; 404 otherwise, whether it does
/// not exist or belongs elsewhere.
async fn managed(core: &Core, scope: &Scope, id: &str) -> Result<User, ApiError> {
    match core.store.user(id).await? {
        Some(user) if &user.scope == scope => Ok(user),
        _ => Err(errors::no_such_user()),
    }
}
