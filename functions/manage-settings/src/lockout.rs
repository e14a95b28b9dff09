//! `GET | PUT /settings/lockout`: the lockout values of the side the caller
//! administers (the host's for a host admin, its tenant's for a tenant admin).
//! A side without its own values shows those it follows: a tenant the host's, the
//! host the function's defaults (`LOCKOUT_MAX_FAILED_ATTEMPTS`,
//! `LOCKOUT_DURATION_SECONDS`); `source` says which.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::{ApiError, Request, Response, json, parse_body};
use twofa::app::Core;
use twofa::flows::load_side;
use twofa::lockout::LockoutPolicy;
use twofa::policy::lockout_changes;
use twofa::side::Side;
use twofa::store::StoreError;
use twofa::tenant::SidePolicy;
use twofa::user::AdminStamp;

use crate::caller::{admin, signed_in};
use crate::side::require_step_up_to_weaken;

#[derive(Serialize)]
struct LockoutView {
    max_failed_attempts: u32,
    lockout_seconds: i64,
    /// Whose values these are: `side` (set for this side), `host` (a tenant
    /// following the host's), or `defaults` (the function's settings).
    source: &'static str,
}

/// A change: omitted (or null) fields keep their value.
#[derive(Deserialize)]
struct LockoutChange {
    max_failed_attempts: Option<u32>,
    lockout_seconds: Option<i64>,
}

fn view(core: &Core, side: &SidePolicy) -> LockoutView {
    let (own, host) = match side {
        SidePolicy::Host(_, own) => (*own, None),
        SidePolicy::Tenant(t) => (t.lockout, t.host_lockout),
    };
    let source = match (own, host) {
        (Some(_), _) => "side",
        (None, Some(_)) => "host",
        (None, None) => "defaults",
    };
    let values = side.lockout(core.config.lockout);
    LockoutView {
        max_failed_attempts: values.max_failed_attempts,
        lockout_seconds: values.duration_seconds,
        source,
    }
}

async fn read(core: &Core, scope: &Side) -> Result<SidePolicy, ApiError> {
    load_side(core.store.as_ref(), scope)
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}

/// `GET /settings/lockout`.
pub async fn get(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    Ok(json(
        StatusCode::OK,
        &view(core, &read(core, &scope).await?),
    ))
}

/// `PUT /settings/lockout`. More attempts or a shorter lock weakens every account
/// of the side at once: that needs the admin's fresh second factor when the admin
/// has 2FA on, as a weakening two-factor settings change does; every change is audited.
pub async fn put(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let change: LockoutChange = parse_body(req)?;
    let side = read(core, &scope).await?;
    let current = side.lockout(core.config.lockout);
    let next = LockoutPolicy::checked(
        change
            .max_failed_attempts
            .unwrap_or(current.max_failed_attempts),
        change.lockout_seconds.unwrap_or(current.duration_seconds),
    )
    .map_err(|field| {
        let range = if field == "max_failed_attempts" {
            "1 to 100"
        } else {
            "1 to 2592000 (30 days)"
        };
        ApiError::invalid_field(field, format!("{field} must be {range}"))
    })?;
    let changes = lockout_changes(&current, &next);
    // The admin belongs to the side it administers: the side just read is its own.
    require_step_up_to_weaken(core, &caller, &side, &changes)?;
    let by = AdminStamp::of(&caller.user);
    match &scope {
        Side::Host => core.store.set_host_lockout(&next, Some(&by)).await?,
        Side::Tenant(key) => core
            .store
            .set_tenant_lockout(key, &next, Some(&by))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::unknown_tenant(),
                other => other.into(),
            })?,
    }
    twofa::audit::log_lockout_changed(&caller.user, &scope, &changes);
    if !changes.is_empty() {
        // Recorded on the admin's own account, as its actor, like a settings change.
        let event = core
            .event(
                twofa::audit::EventType::LockoutSettingsChanged,
                &caller.user,
                req,
            )
            .by(&caller.user)
            .detail("max_failed_attempts", next.max_failed_attempts)
            .detail("lockout_seconds", next.duration_seconds)
            .changes(&scope, &changes);
        core.record(event).await;
    }
    Ok(json(
        StatusCode::OK,
        &view(core, &read(core, &scope).await?),
    ))
}
