//! `GET | PUT /settings/two-factor`: the settings of the side the caller administers
//! (the host's for a host admin, its tenant's for a tenant admin).

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::{ApiError, ErrorCode, Request, Response, json, parse_body};
use twofa::app::Core;
use twofa::flows::load_side;
use twofa::policy::{Behaviour, Provider, TwoFactorSettings, normalise_providers, setting_changes};
use twofa::side::Side;
use twofa::tenant::SidePolicy;
use twofa::user::AdminStamp;

use crate::caller::{admin, signed_in};
use crate::side::{losses, require_step_up_to_weaken};

/// A partial change: omitted (or null) fields keep their value.
#[derive(Debug, Deserialize)]
struct SettingsChange {
    behaviour: Option<Behaviour>,
    users_can_change: Option<bool>,
    remember_browser: Option<bool>,
    allowed_providers: Option<Vec<String>>,
}

/// The settings after a change, and how many users of the side it left with
/// two-factor sign-in on and no second factor they can prove.
#[derive(Serialize)]
struct Changed {
    #[serde(flatten)]
    settings: TwoFactorSettings,
    stranded_users: usize,
}

/// `GET /settings/two-factor`.
pub async fn get(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let side = read(core, &scope).await?;
    Ok(json(StatusCode::OK, side.settings()))
}

/// `PUT /settings/two-factor`. A change that weakens every account of the side, or
/// that takes from any user every provider it could sign in with and leaves it no
/// recovery code (judged by its effect, user by user: `policy::strands`), needs the
/// admin's fresh second factor when the admin has 2FA on; the answer says how many
/// users it strands. Every change is audited.
pub async fn put(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let change: SettingsChange = parse_body(req)?;
    let providers = change
        .allowed_providers
        .as_deref()
        .map(parse_providers)
        .transpose()?;
    let side = read(core, &scope).await?;
    let current = side.settings().clone();
    if let (SidePolicy::Tenant(tenant), Some(behaviour)) = (&side, change.behaviour)
        && behaviour != current.behaviour
        && tenant.feature != Behaviour::Optional
    {
        return Err(ApiError::of(ErrorCode::ControlledByHost));
    }
    let next = TwoFactorSettings {
        behaviour: change.behaviour.unwrap_or(current.behaviour),
        users_can_change: change.users_can_change.unwrap_or(current.users_can_change),
        remember_browser: change.remember_browser.unwrap_or(current.remember_browser),
        allowed_providers: providers
            .unwrap_or_else(|| normalise_providers(&current.allowed_providers)),
    };
    let mut changes = setting_changes(&current, &next);
    // Only a provider taken away can leave a user without one (`policy::loses_every_provider`):
    // the side's users are read only then.
    let losses = if current.allowed_providers.iter().any(|p| !next.allows(*p)) {
        Some(losses(core, &scope, &side, &side.with_settings(next.clone())).await?)
    } else {
        None
    };
    let stranded_users = losses.as_ref().map_or(0, |l| l.stranded);
    if stranded_users > 0 {
        for c in changes
            .iter_mut()
            .filter(|c| c.field == "allowed_providers")
        {
            c.weakens = true;
        }
    }
    // The admin belongs to the side it administers: the side just read is its own.
    require_step_up_to_weaken(core, &caller, &side, &changes)?;
    if next == current {
        return Ok(json(
            StatusCode::OK,
            &Changed {
                settings: next,
                stranded_users,
            },
        ));
    }
    if let Some(losses) = &losses {
        losses.mark(core).await?;
    }
    // Only the fields this admin changed are written, each on condition that it still
    // holds what was read: another admin's change to another field survives, and a
    // change decided on a value that moved meanwhile is refused, not applied blind.
    let saved = core
        .store
        .change_settings(&scope, &current, &next, Some(&AdminStamp::of(&caller.user)))
        .await
        .map_err(|e| match e {
            twofa::store::StoreError::NotFound => ApiError::unknown_tenant(),
            // The admin's session ended while this change was in flight.
            e @ twofa::store::StoreError::Conflict(twofa::store::STAMP) => e.into(),
            twofa::store::StoreError::Conflict(_) => ApiError::conflict(
                "the settings changed while this change was being made; read them again and retry",
            ),
            other => other.into(),
        })?;
    twofa::audit::log_settings_changed(&caller.user, &scope, &changes);
    // An admin's change of its side is recorded on the admin's own account, as its actor.
    let event = core
        .event(twofa::audit::EventType::SettingsChanged, &caller.user, req)
        .by(&caller.user)
        .detail(
            "behaviour",
            serde_json::to_value(saved.behaviour).unwrap_or_default(),
        )
        .detail("users_can_change", saved.users_can_change)
        .detail("remember_browser", saved.remember_browser)
        .detail(
            "allowed_providers",
            serde_json::to_value(&saved.allowed_providers).unwrap_or_default(),
        )
        .detail("stranded_users", stranded_users)
        .changes(&scope, &changes);
    core.record(event).await;
    Ok(json(
        StatusCode::OK,
        &Changed {
            settings: saved,
            stranded_users,
        },
    ))
}

async fn read(core: &Core, scope: &Side) -> Result<SidePolicy, ApiError> {
    load_side(core.store.as_ref(), scope)
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}

/// Provider names in the contract's order, without duplicates; at least one, since a
/// side with none leaves forced users no way in.
fn parse_providers(names: &[String]) -> Result<Vec<Provider>, ApiError> {
    let parsed = names
        .iter()
        .map(|name| {
            Provider::ALLOWABLE.into_iter().find(|p| p.as_str() == name).ok_or_else(|| {
                ApiError::invalid_field(
                    "allowed_providers",
                    format!("{name:?} is not a provider; the providers are authenticator, email and sms"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if parsed.is_empty() {
        return Err(ApiError::invalid_field(
            "allowed_providers",
            "at least one provider must be allowed",
        ));
    }
    Ok(normalise_providers(&parsed))
}
