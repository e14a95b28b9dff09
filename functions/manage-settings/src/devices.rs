//! The remembered browsers: `GET /account/devices`, `DELETE /account/devices/{id}`
//! and `POST /account/forget-browser`.

use http::StatusCode;
use serde::Serialize;
use twofa::api::{ApiError, Request, Response, json, no_content};
use twofa::app::Core;
use twofa::clock::Timestamp;
use twofa::ids::DeviceId;
use twofa::user::UserPatch;

use crate::caller::signed_in;
use twofa::flows::end_sessions;

/// A remembered browser as listed; times in seconds since the Unix epoch.
#[derive(Serialize)]
struct DeviceView {
    device_id: DeviceId,
    created_at: Timestamp,
    last_used_at: Timestamp,
    expires_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
}

/// `GET /account/devices`: only browsers that would still skip the second factor.
pub async fn list(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let now = core.now();
    let live: Vec<DeviceView> = core
        .store
        .devices(&caller.user.id)
        .await?
        .into_iter()
        .filter(|d| d.is_live(&caller.user.security_stamp, now))
        .map(|d| DeviceView {
            device_id: d.device_id,
            created_at: d.created_at,
            last_used_at: d.last_used_at,
            expires_at: d.expires_at,
            user_agent: d.user_agent,
        })
        .collect();
    Ok(json(StatusCode::OK, &live))
}

/// `DELETE /account/devices/{device_id}`: devices are keyed by their user, so only
/// the caller's own can be found. `None` is an id in a shape no device id has:
/// answered as an unknown one, after the caller's checks.
pub async fn forget_one(
    core: &Core,
    req: &Request,
    device_id: Option<&DeviceId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let Some(device_id) = device_id else {
        return Err(no_such_browser());
    };
    if !core
        .store
        .delete_device(&caller.user.id, device_id, core.now())
        .await?
    {
        return Err(no_such_browser());
    }
    tracing::info!(user_id = %caller.user.id, device_id = device_id.as_str(), "remembered browser forgotten");
    core.record(
        core.event(twofa::audit::EventType::BrowserForgotten, &caller.user, req)
            .detail("device_id", device_id.as_str()),
    )
    .await;
    Ok(no_content())
}

/// 404 `not_found` for a browser the caller has not remembered (or no longer has).
fn no_such_browser() -> ApiError {
    ApiError::not_found("there is no such remembered browser")
}

/// `POST /account/forget-browser`: every remembered browser stops working.
pub async fn forget_all(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    // The new stamp alone kills every device token (and every access token) at once;
    // deleting the records then tidies the list. A 204 has no body for a fresh token:
    // the caller signs in again, as every other session must.
    end_sessions(core, &caller.user, UserPatch::default()).await?;
    core.store.delete_devices(&caller.user.id).await?;
    tracing::info!(user_id = %caller.user.id, "every remembered browser forgotten");
    core.record(core.event(
        twofa::audit::EventType::BrowsersForgotten,
        &caller.user,
        req,
    ))
    .await;
    Ok(no_content())
}
