//! `GET /users`, `GET | PUT /users/{user_id}/two-factor`, `POST /users/{user_id}/unlock`
//! and `POST /users/{user_id}/reset-two-factor`: an admin's view of the users of its
//! own side. Users of other sides answer exactly as unknown ids do.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::paging::{cursor, encode_cursor, limit, query_param};
use twofa::api::{
    ApiError, ErrorCode, Request, Response, json, no_content, parse_body, require_step_up,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::clock::Timestamp;
use twofa::email::Email;
use twofa::flows::rotate_stamp;
use twofa::ids::{RequestId, UserId};
use twofa::lockout::locked_for;
use twofa::phone::PhoneNumber;
use twofa::policy::{Behaviour, DecidedBy, Provider, usable_providers};
use twofa::senders::{EmailSender, notify};
use twofa::side::Side;
use twofa::store::{StoreError, Unlocked};
use twofa::tenant::SidePolicy;
use twofa::tokens::FreshAccess;
use twofa::user::{AdminStamp, Role, User, UserPatch};

use crate::caller::{admin, signed_in};
use crate::side::side_of;

/// Users per page unless `limit` says otherwise, and the most `limit` may ask for.
const PAGE: usize = 50;
const MAX_PAGE: usize = 100;
/// An email prefix longer than any address cannot match.
const MAX_PREFIX_CHARS: usize = 254;

#[derive(Deserialize)]
struct FlagChange {
    enabled: bool,
}

#[derive(Serialize)]
struct UserTwoFactor {
    user_id: UserId,
    enabled: bool,
    behaviour: Behaviour,
    decided_by: DecidedBy,
    /// When an admin changed its own flag: its token under the new security stamp.
    #[serde(flatten)]
    fresh: Option<FreshAccess>,
}

fn view(user: &User, side: &SidePolicy) -> UserTwoFactor {
    let eff = side.effective(user.two_factor_enabled);
    UserTwoFactor {
        user_id: user.id.clone(),
        enabled: eff.enabled,
        behaviour: eff.behaviour,
        decided_by: eff.decided_by,
        fresh: None,
    }
}

/// A user as `GET /users` lists it: no secret, the phone only as a hint.
#[derive(Serialize)]
struct Listed {
    user_id: UserId,
    email: Email,
    email_confirmed: bool,
    phone_hint: Option<String>,
    phone_confirmed: bool,
    two_factor_enabled: bool,
    providers: Vec<Provider>,
    roles: Vec<Role>,
    locked_until: Option<Timestamp>,
    created_at: Timestamp,
}

#[derive(Serialize)]
struct UserList {
    users: Vec<Listed>,
    next_cursor: Option<String>,
}

fn listed(user: User, side: &SidePolicy, now: Timestamp) -> Listed {
    let eff = side.effective(user.two_factor_enabled);
    Listed {
        providers: usable_providers(&user, &eff),
        two_factor_enabled: eff.enabled,
        phone_hint: user.phone_number.as_ref().map(PhoneNumber::masked),
        phone_confirmed: user.phone_number.is_some() && user.phone_number_confirmed,
        locked_until: locked_for(user.lockout_end, now).and(user.lockout_end),
        user_id: user.id,
        email: user.email,
        email_confirmed: user.email_confirmed,
        roles: user.roles,
        created_at: user.created_at,
    }
}

/// `GET /users?email=&cursor=&limit=`: the caller's side's users by email, one
/// index `Query` a page (see the store's module doc), beside the one policy read.
pub async fn list(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let prefix = Email::search_prefix(&query_param(req, "email")?.unwrap_or_default());
    if prefix.chars().count() > MAX_PREFIX_CHARS {
        return Err(ApiError::invalid_field(
            "email",
            format!("an email prefix has at most {MAX_PREFIX_CHARS} characters"),
        ));
    }
    let limit = limit(req, PAGE, MAX_PAGE)?;
    let scope_key = scope.key();
    let binding = ["users", scope_key.as_str(), prefix.as_str()];
    let after = cursor(req, &core.hash_key, &binding)?;
    let (page, side) = tokio::join!(
        core.store.users_in(&scope, &prefix, after.as_ref(), limit),
        side_of(core, &caller.user)
    );
    let (page, side) = (page?, side?);
    let now = core.now();
    let next_cursor = page
        .next
        .as_ref()
        .map(|k| encode_cursor(&core.hash_key, &binding, k));
    Ok(json(
        StatusCode::OK,
        &UserList {
            users: page
                .items
                .into_iter()
                .map(|u| listed(u, &side, now))
                .collect(),
            next_cursor,
        },
    ))
}

/// `POST /users/{user_id}/unlock`: ends a lock and clears the failure count. The
/// admin needs a fresh second factor of its own when it has 2FA on, as for
/// reset-two-factor: an unlock gives whoever is guessing a new round of guesses. The
/// streak toward the 100-failure limit stays, and the 30-day lock that limit earned
/// is not the admin's to end (403 `forbidden`, saying until when): either would give
/// another hundred guesses.
pub async fn unlock(
    core: &Core,
    req: &Request,
    user_id: Option<&UserId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    // The admin and the user share the side: one policy read, beside the user's.
    let (user, side) = tokio::join!(managed(core, &scope, user_id), side_of(core, &caller.user));
    let (user, side) = (user?, side?);
    require_step_up(
        core,
        &caller,
        side.effective(caller.user.two_factor_enabled).enabled,
    )?;
    if let Unlocked::HardLocked(until) = core
        .store
        .unlock(
            &user.id,
            &RequestId::random()?,
            (caller.user.id != user.id)
                .then(|| AdminStamp::of(&caller.user))
                .as_ref(),
            core.now(),
        )
        .await
        .map_err(gone)?
    {
        return Err(ApiError::hard_lock_stands(until));
    }
    tracing::info!(user_id = %user.id, admin_id = %caller.user.id, "account unlocked by an administrator");
    core.record(core.event(EventType::Unlocked, &user, req).by(&caller.user))
        .await;
    Ok(no_content())
}

/// `POST /users/{user_id}/reset-two-factor`: for a user who lost the phone with the
/// authenticator and the recovery codes. Removes both, forgets every remembered
/// browser and ends every session; confirmed email and phone stay, so the user can
/// still sign in with them. The admin needs a fresh second factor of its own when it
/// has 2FA on: a stolen admin session must not strip a user's factors.
pub async fn reset_two_factor(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    user_id: Option<&UserId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let user = managed(core, &scope, user_id).await?;
    // The admin and the user share the side, so one policy read serves both.
    let side = side_of(core, &caller.user).await?;
    require_step_up(
        core,
        &caller,
        side.effective(caller.user.two_factor_enabled).enabled,
    )?;
    // The new stamp ends the user's sessions and remembered browsers; held to the
    // admin's stamp, so that it cannot land after the admin signed out everywhere.
    let reset = UserPatch::second_factor_reset()
        .rotating_stamp()
        .by(&caller.user, &user.id);
    core.store
        .update_user(&user.id, &reset)
        .await
        .map_err(gone)?;
    core.store.delete_devices(&user.id).await?;
    // The passkeys went with the write above; their credential ids are freed after.
    // Should this fail, a claim left behind names a passkey the account no longer
    // has, which signs nobody in (login answers it as a wrong passkey).
    let claims: Vec<String> = user
        .passkeys
        .iter()
        .map(|p| p.credential_id.clone())
        .collect();
    core.store.forget_credentials(&user.side, &claims).await?;
    tracing::info!(user_id = %user.id, admin_id = %caller.user.id, "second factor reset by an administrator");
    core.record(
        core.event(EventType::TwoFactorReset, &user, req)
            .by(&caller.user),
    )
    .await;
    notify(
        email,
        &user,
        "Your second factor was reset",
        "An administrator removed your authenticator app, passkeys and recovery codes and forgot your remembered browsers.",
    )
    .await;
    Ok(no_content())
}

fn gone(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => no_such_user(),
        other => other.into(),
    }
}

/// `GET /users/{user_id}/two-factor`.
pub async fn get(
    core: &Core,
    req: &Request,
    user_id: Option<&UserId>,
) -> Result<Response, ApiError> {
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
pub async fn put(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    user_id: Option<&UserId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let change: FlagChange = parse_body(req)?;
    let mut user = managed(core, &scope, user_id).await?;
    // The user is of the admin's side: one read serves both.
    let side = side_of(core, &user).await?;
    if side.effective(user.two_factor_enabled).behaviour != Behaviour::Optional {
        return Err(ApiError::of(ErrorCode::NotOptional));
    }
    let mut fresh = None;
    if change.enabled != user.two_factor_enabled {
        if !change.enabled {
            let admin = &caller.user;
            require_step_up(
                core,
                &caller,
                side.effective(admin.two_factor_enabled).enabled,
            )?;
        }
        let patch = UserPatch {
            two_factor_enabled: Some(change.enabled),
            ..Default::default()
        };
        (user, fresh) = rotate_stamp(core, &caller, &user, patch).await?;
        tracing::info!(user_id = %user.id, admin_id = %caller.user.id, enabled = change.enabled, "user's two-factor flag set by an administrator");
        let (subject, text) = if change.enabled {
            (
                "Two-factor sign-in was turned on",
                "An administrator turned on two-factor sign-in for your account.",
            )
        } else {
            (
                "Two-factor sign-in was turned off",
                "An administrator turned off two-factor sign-in for your account.",
            )
        };
        notify(email, &user, subject, text).await;
        let event_type = if change.enabled {
            EventType::TwoFactorEnabled
        } else {
            EventType::TwoFactorDisabled
        };
        core.record(core.event(event_type, &user, req).by(&caller.user))
            .await;
    }
    Ok(json(
        StatusCode::OK,
        &UserTwoFactor {
            fresh,
            ..view(&user, &side)
        },
    ))
}

/// The user `id` if it belongs to the side `scope`; 404 otherwise, whether it does
/// not exist or belongs elsewhere. `None` is an id the client gave in a shape no user
/// id has ([`UserId::parse`]): answered as an unknown one, after the caller's checks.
pub async fn managed(core: &Core, scope: &Side, id: Option<&UserId>) -> Result<User, ApiError> {
    let found = match id {
        Some(id) => core.store.user(id).await?,
        None => None,
    };
    match found {
        Some(user) if &user.side == scope => Ok(user),
        _ => Err(no_such_user()),
    }
}

/// 404 `not_found` for a user that does not exist or belongs to another side: the
/// two are indistinguishable so that ids of other tenants' users reveal nothing.
fn no_such_user() -> ApiError {
    ApiError::not_found("there is no such user")
}
