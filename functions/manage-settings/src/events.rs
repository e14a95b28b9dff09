//! `GET /account/events` and `GET /events`: security events, newest first, a page at a
//! time. A user reads only its own; an admin only its side's.

use http::StatusCode;
use serde::Serialize;
use twofa::api::paging::{cursor, encode_cursor, limit, query_param};
use twofa::api::{ApiError, Request, Response, json};
use twofa::app::Core;
use twofa::audit::{EventType, SecurityEvent};
use twofa::ids::UserId;
use twofa::store::Page;

use crate::caller::{admin, signed_in};
use crate::users::managed;

const PAGE: usize = 50;
const MAX_PAGE: usize = 100;

#[derive(Serialize)]
struct EventList {
    events: Vec<SecurityEvent>,
    next_cursor: Option<String>,
}

fn answer(
    core: &Core,
    page: Page<SecurityEvent>,
    binding: &[&str],
    shown: impl Fn(SecurityEvent) -> SecurityEvent,
) -> Response {
    let now = core.now();
    let next_cursor = page
        .next
        .as_ref()
        .map(|k| encode_cursor(&core.hash_key, binding, k));
    // The table's TTL deletes late: an expired event is gone, whether or not its item is.
    let events = page
        .items
        .into_iter()
        .filter(|e| e.expires_at > now)
        .map(shown)
        .collect();
    json(
        StatusCode::OK,
        &EventList {
            events,
            next_cursor,
        },
    )
}

/// `GET /account/events?cursor=`: the caller's own events. Where an admin acted on the
/// account, the admin's address and browser are the admin's business, not the user's.
pub async fn own(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let user_id = &caller.user.id;
    let binding = ["events:own", user_id.as_str()];
    let after = cursor(req, &core.hash_key, &binding)?;
    let page = core
        .store
        .user_events(user_id, None, after.as_ref(), limit(req, PAGE, MAX_PAGE)?)
        .await?;
    Ok(answer(core, page, &binding, |mut e| {
        if e.actor_id.as_ref().is_some_and(|a| a != user_id) {
            e.ip = None;
            e.user_agent = None;
        }
        e
    }))
}

/// `GET /events?user_id=&type=&cursor=`: the events of the admin's side; with
/// `user_id`, one user of that side (another side's user is as unknown as a missing one).
pub async fn side(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let scope = admin(&caller)?;
    let event_type = match query_param(req, "type")? {
        None => None,
        Some(t) => Some(EventType::parse(&t).ok_or_else(|| {
            ApiError::invalid_field("type", format!("{t:?} is not an event type"))
        })?),
    };
    let user_id = query_param(req, "user_id")?;
    let limit = limit(req, PAGE, MAX_PAGE)?;
    let scope_key = scope.key();
    let binding = [
        "events:side",
        scope_key.as_str(),
        user_id.as_deref().unwrap_or(""),
        event_type.map(EventType::as_str).unwrap_or(""),
    ];
    let after = cursor(req, &core.hash_key, &binding)?;
    let page = match &user_id {
        Some(id) => {
            let user = managed(core, &scope, UserId::parse(id).as_ref()).await?;
            core.store
                .user_events(&user.id, event_type, after.as_ref(), limit)
                .await?
        }
        None => {
            core.store
                .side_events(&scope, event_type, after.as_ref(), limit)
                .await?
        }
    };
    Ok(answer(core, page, &binding, |e| e))
}
