//! `GET | PUT /account/two-factor`: the caller's own two-factor state and flag.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::{ApiError, Request, Response, json, parse_body, require_step_up};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::phone::PhoneNumber;
use twofa::policy::{Behaviour, DecidedBy, Provider};
use twofa::senders::{EmailSender, notify};
use twofa::tenant::SidePolicy;
use twofa::user::{User, UserPatch};

use crate::caller::signed_in;
use crate::side::{may_change_own_flag, side_of};
use twofa::flows::rotate_stamp;
use twofa::tokens::FreshAccess;

#[derive(Deserialize)]
struct FlagChange {
    enabled: bool,
}

/// The body of `GET /account/two-factor`: the contract's fields, plus which
/// providers the policy allows (`allowed_providers`, and `allowed` per provider).
#[derive(Serialize)]
struct AccountTwoFactor {
    behaviour: Behaviour,
    decided_by: DecidedBy,
    enabled: bool,
    can_change: bool,
    remember_browser_allowed: bool,
    allowed_providers: Vec<Provider>,
    providers: Providers,
    recovery_codes_left: usize,
    /// After a change: the caller's token under the new security stamp.
    #[serde(flatten)]
    fresh: Option<FreshAccess>,
}

#[derive(Serialize)]
struct Providers {
    passkey: PasskeyState,
    authenticator: AuthenticatorState,
    email: Destination,
    sms: Destination,
}

#[derive(Serialize)]
struct PasskeyState {
    /// How many passkeys the account has (`GET /account/passkeys` lists them).
    count: usize,
    allowed: bool,
}

#[derive(Serialize)]
struct AuthenticatorState {
    enabled: bool,
    allowed: bool,
}

#[derive(Serialize)]
struct Destination {
    hint: Option<String>,
    confirmed: bool,
    allowed: bool,
}

fn view(core: &Core, user: &User, side: &SidePolicy) -> AccountTwoFactor {
    let eff = side.effective(user.two_factor_enabled);
    let allowed = |p| eff.allowed_providers.contains(&p);
    AccountTwoFactor {
        behaviour: eff.behaviour,
        decided_by: eff.decided_by,
        enabled: eff.enabled,
        can_change: may_change_own_flag(user, side, &eff),
        remember_browser_allowed: eff.remember_browser_allowed,
        allowed_providers: eff.allowed_providers.clone(),
        providers: Providers {
            passkey: PasskeyState {
                count: user.passkeys.len(),
                // Allowed by the side, and usable in this deployment (WEBAUTHN_RP_ID set).
                allowed: allowed(Provider::Passkey) && core.passkeys.is_some(),
            },
            authenticator: AuthenticatorState {
                enabled: user.authenticator_enabled(),
                allowed: allowed(Provider::Authenticator),
            },
            email: Destination {
                hint: Some(user.email.masked()),
                confirmed: user.email_confirmed,
                allowed: allowed(Provider::Email),
            },
            sms: Destination {
                hint: user.phone_number.as_ref().map(PhoneNumber::masked),
                confirmed: user.phone_number.is_some() && user.phone_number_confirmed,
                allowed: allowed(Provider::Sms),
            },
        },
        recovery_codes_left: user.recovery_codes.len(),
        fresh: None,
    }
}

/// `GET /account/two-factor`: two store reads, the user and its side.
pub async fn get(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let side = side_of(core, &caller.user).await?;
    Ok(json(StatusCode::OK, &view(core, &caller.user, &side)))
}

/// `PUT /account/two-factor`: the caller's own flag, when the policy leaves it to
/// them. Turning it off needs step-up.
pub async fn put(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let change: FlagChange = parse_body(req)?;
    let user = &caller.user;
    let side = side_of(core, user).await?;
    let eff = side.effective(user.two_factor_enabled);
    if eff.behaviour != Behaviour::Optional {
        return Err(ApiError::forbidden(
            "two-factor sign-in is decided by policy for your account; it cannot be changed",
        ));
    }
    if !may_change_own_flag(user, &side, &eff) {
        return Err(ApiError::forbidden(
            "your administrator does not let users change two-factor sign-in",
        ));
    }
    if change.enabled == user.two_factor_enabled {
        return Ok(json(StatusCode::OK, &view(core, user, &side)));
    }
    // Turning it on with nothing set up yet is allowed, as in ASP.NET Core Identity:
    // login then answers two_factor_setup_required and lets the user enrol a provider,
    // never a session without a second factor.
    if !change.enabled {
        require_step_up(core, &caller, eff.enabled)?;
    }
    let patch = UserPatch {
        two_factor_enabled: Some(change.enabled),
        ..Default::default()
    };
    let (user, fresh) = rotate_stamp(core, &caller, user, patch).await?;
    tracing::info!(user_id = %user.id, enabled = change.enabled, "two-factor flag changed by the user");
    let (subject, text) = if change.enabled {
        (
            "Two-factor sign-in was turned on",
            "Two-factor sign-in was turned on for your account.",
        )
    } else {
        (
            "Two-factor sign-in was turned off",
            "Two-factor sign-in was turned off for your account.",
        )
    };
    notify(email, &user, subject, text).await;
    core.record(core.event(
        if change.enabled {
            EventType::TwoFactorEnabled
        } else {
            EventType::TwoFactorDisabled
        },
        &user,
        req,
    ))
    .await;
    Ok(json(
        StatusCode::OK,
        &AccountTwoFactor {
            fresh,
            ..view(core, &user, &side)
        },
    ))
}
