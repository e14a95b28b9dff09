//! `POST /account/sign-out-everywhere`: one new security stamp ends every access
//! token issued before it (the caller's own too) and every remembered browser;
//! the browsers' records are then deleted so the list is tidy.

use twofa::api::{no_content, ApiError, Request, Response};
use twofa::app::Core;
use twofa::senders::EmailSender;
use twofa::signin::notify;
use twofa::user::{new_security_stamp, UserPatch};

use crate::caller::signed_in;

/// `POST /account/sign-out-everywhere`.
pub async fn everywhere(core: &Core, email: &dyn EmailSender, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let user = &caller.user;
    let patch = UserPatch { security_stamp: Some(new_security_stamp()), pending_sign_in: Some(None), ..Default::default() };
    core.store.update_user(&user.id, &patch).await?;
    core.store.delete_devices(&user.id).await?;
    tracing::info!(user_id = %user.id, "signed out everywhere");
    notify(
        email,
        user,
        "You were signed out everywhere",
        "Every session and remembered browser of your account was signed out.",
    )
    .await;
    Ok(no_content())
}
