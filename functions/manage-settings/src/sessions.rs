//! The caller's sessions: `GET /account/sessions` and
//! `DELETE /account/sessions/{session_id}`.

use http::StatusCode;
use serde::Serialize;
use twofa::api::{ApiError, Request, Response, json, no_content};
use twofa::app::Core;
use twofa::clock::Timestamp;
use twofa::flows::refresh::{end_session, live_sessions};
use twofa::ids::SessionId;

use crate::caller::signed_in;

/// A session as listed; times in seconds since the Unix epoch.
#[derive(Serialize)]
struct SessionView {
    session_id: SessionId,
    created_at: Timestamp,
    last_used_at: Timestamp,
    expires_at: Timestamp,
    /// As its access tokens say it (RFC 8176).
    amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    /// The session the listing's access token belongs to.
    current: bool,
}

/// `GET /account/sessions`: those that still hold, oldest first.
pub async fn list(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let current = caller.claims.session_id();
    let list: Vec<SessionView> = live_sessions(core, &caller.user)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: current.as_ref() == Some(&s.session_id),
            amr: twofa::amr::rfc8176(&s.amr),
            session_id: s.session_id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(json(StatusCode::OK, &list))
}

/// `DELETE /account/sessions/{session_id}`: sessions are keyed by their user, so
/// only the caller's own can be found; its refresh token and access tokens stop
/// working at once. `None` is an id in a shape no session id has: answered as an
/// unknown one, after the caller's checks.
pub async fn end(
    core: &Core,
    req: &Request,
    session_id: Option<&SessionId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let Some(session_id) = session_id else {
        return Err(no_such_session());
    };
    if !end_session(core, &caller.user.id, session_id).await? {
        return Err(no_such_session());
    }
    tracing::info!(user_id = %caller.user.id, session_id = session_id.as_str(), "session ended");
    Ok(no_content())
}

fn no_such_session() -> ApiError {
    ApiError::not_found("there is no such session")
}
