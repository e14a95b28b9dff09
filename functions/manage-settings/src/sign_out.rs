//! `POST /account/sign-out-everywhere`: one new security stamp ends every access
//! token issued before it (the caller's own too) and every remembered browser;
//! the browsers' records are then deleted so the list is tidy.

use twofa::api::{ApiError, Request, Response, no_content};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::flows::end_sessions;
use twofa::senders::{EmailSender, notify};
use twofa::user::UserPatch;

use crate::caller::signed_in;

/// `POST /account/sign-out-everywhere`.
pub async fn everywhere(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let user = &caller.user;
    // The answer is 204 with no fresh token: the caller's own session ends with every
    // other. Written whatever stamp is current, so that nothing in flight outruns it.
    end_sessions(
        core,
        user,
        UserPatch {
            pending_sign_in: Some(None),
            ..Default::default()
        },
    )
    .await?;
    core.store.delete_devices(&user.id).await?;
    tracing::info!(user_id = %user.id, "signed out everywhere");
    core.record(core.event(EventType::SignedOutEverywhere, user, req))
        .await;
    notify(
        email,
        user,
        "You were signed out everywhere",
        &format!(
            "Every session and remembered browser of your account was signed out.{}",
            twofa::passkeys::notice_of_passkeys(&user.passkeys)
        ),
    )
    .await;
    Ok(no_content())
}
