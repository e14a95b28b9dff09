//! `POST /tenants` and `GET | PUT /tenants/{tenant}/features/two-factor`: the host
//! admin's view of tenants.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::{ApiError, ErrorCode, Request, Response, json, parse_body};
use twofa::app::Core;
use twofa::email::Email;
use twofa::ids::UserId;
use twofa::password::{Password, hash_password};
use twofa::policy::{Behaviour, feature_change};
use twofa::side::Side;
use twofa::store::StoreError;
use twofa::tenant::{Tenant, TenantName};
use twofa::user::{AdminStamp, Role, User};

use crate::caller::{host_admin, signed_in};
use crate::side::{require_step_up_to_weaken, side_of};

#[derive(Deserialize)]
struct NewTenant {
    name: String,
    admin_email: String,
    admin_password: String,
}

#[derive(Serialize)]
struct Created {
    tenant: String,
    admin_user_id: UserId,
}

#[derive(Deserialize)]
struct FeatureChange {
    behaviour: Behaviour,
}

#[derive(Serialize)]
struct Feature {
    tenant: String,
    behaviour: Behaviour,
}

/// `POST /tenants`: the tenant (feature optional, default settings) and its first
/// admin, in one atomic write.
pub async fn create(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    host_admin(&caller)?;
    let body: NewTenant = parse_body(req)?;
    let name = TenantName::parse(&body.name).map_err(|e| ApiError::invalid_field("name", e.0))?;
    let email =
        Email::parse(&body.admin_email).map_err(|e| ApiError::invalid_email("admin_email", e.0))?;
    let password = Password::new(
        &body.admin_password,
        core.config.password_min_length,
        &[email.as_str(), name.as_str()],
    )
    .map_err(|e| ApiError::weak_password("admin_password", e.0))?;
    // Spares the Argon2 hash for a name already taken; the create below stays the real guard.
    if core.store.tenant(&name.key()).await?.is_some() {
        return Err(ApiError::of(ErrorCode::TenantExists));
    }
    let now = core.now();
    let tenant = Tenant::new(name.as_str(), now);
    let mut admin = User::new(
        Side::Tenant(name.key()),
        email,
        hash_password(&password).await?,
        now,
    );
    admin.roles = vec![Role::TenantAdmin];
    match core.store.create_tenant(&tenant, &admin).await {
        Ok(()) => {}
        // The admin's email is new in a new side: a conflict means a racing create won.
        Err(StoreError::Conflict(_)) => return Err(ApiError::of(ErrorCode::TenantExists)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant = %tenant.name, admin_user_id = %admin.id, "tenant created");
    let event = core
        .event(twofa::audit::EventType::TenantCreated, &caller.user, req)
        .by(&caller.user)
        .detail("tenant", tenant.name.clone())
        .detail("admin_user_id", admin.id.clone());
    core.record(event).await;
    Ok(json(
        StatusCode::CREATED,
        &Created {
            tenant: tenant.name,
            admin_user_id: admin.id,
        },
    ))
}

/// `GET /tenants/{tenant}/features/two-factor`.
pub async fn get_feature(core: &Core, req: &Request, tenant: &str) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    host_admin(&caller)?;
    let tenant = find(core, tenant).await?;
    Ok(json(
        StatusCode::OK,
        &Feature {
            tenant: tenant.name,
            behaviour: tenant.feature,
        },
    ))
}

/// `PUT /tenants/{tenant}/features/two-factor`. Lowering it (to optional or
/// disabled) weakens every account of the tenant: the host admin's fresh second
/// factor when it has 2FA on. Every change is audited.
pub async fn put_feature(core: &Core, req: &Request, tenant: &str) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    host_admin(&caller)?;
    let change: FeatureChange = parse_body(req)?;
    let tenant = find(core, tenant).await?;
    let changes: Vec<_> = feature_change(tenant.feature, change.behaviour)
        .into_iter()
        .collect();
    if changes.iter().any(|c| c.weakens) {
        // The host's settings decide whether the host admin has 2FA on: read only when needed.
        require_step_up_to_weaken(core, &caller, &side_of(core, &caller.user).await?, &changes)?;
    }
    let key = tenant.name.to_ascii_lowercase();
    core.store
        .set_tenant_feature(&key, change.behaviour, Some(&AdminStamp::of(&caller.user)))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::unknown_tenant(),
            other => other.into(),
        })?;
    let side = Side::Tenant(key);
    twofa::audit::log_settings_changed(&caller.user, &side, &changes);
    let event = core
        .event(twofa::audit::EventType::FeatureChanged, &caller.user, req)
        .by(&caller.user)
        .detail("tenant", tenant.name.clone())
        .detail(
            "behaviour",
            serde_json::to_value(change.behaviour).unwrap_or_default(),
        )
        .changes(&side, &changes);
    core.record(event).await;
    Ok(json(
        StatusCode::OK,
        &Feature {
            tenant: tenant.name,
            behaviour: change.behaviour,
        },
    ))
}

/// The tenant named `name` (any case); a name that cannot exist is as unknown as one that does not.
async fn find(core: &Core, name: &str) -> Result<Tenant, ApiError> {
    let name = TenantName::parse(name).map_err(|_| ApiError::unknown_tenant())?;
    core.store
        .tenant(&name.key())
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}
