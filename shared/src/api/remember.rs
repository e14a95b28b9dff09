//! "Remember this browser": a random device token whose keyed hash is stored with an
//! expiry and the user's security stamp, so it can be listed, revoked, and dies with
//! any change of the user's security settings.

use super::{ApiError, Request, user_agent};
use crate::app::Core;
use crate::devices::{Device, device_token_hash, new_device_token};
use crate::senders::{EmailSender, notify};
use crate::tokens::remember_cookie;
use crate::user::User;

/// A browser just remembered: the token for the body and its `Set-Cookie` value.
pub struct Remembered {
    /// The remembered browser's id.
    pub device_id: crate::ids::DeviceId,
    /// The device token, for a client that keeps it itself.
    pub token: String,
    /// The `Set-Cookie` value that keeps it in the browser.
    pub cookie: String,
}

/// Remembers the browser `req` came from for `user` (a sign-in that proved both
/// factors just ended), and tells the user by email.
pub async fn remember(
    core: &Core,
    email: &dyn EmailSender,
    user: &User,
    req: &Request,
) -> Result<Remembered, ApiError> {
    let now = core.now();
    let days = core.config.remember_browser_days;
    let max_age = days * 86_400;
    let (device_id, token) = new_device_token()?;
    core.store
        .put_device(&Device {
            user_id: user.id.clone(),
            device_id: device_id.clone(),
            token_hash: device_token_hash(&core.hash_key, &user.id, token.expose()),
            security_stamp: user.security_stamp.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + max_age,
            user_agent: user_agent(req),
        })
        .await?;
    notify(
        email,
        user,
        "A browser was remembered",
        &format!("A browser signed in to your account and will not be asked for a second factor for {days} days. You can forget it in your two-factor settings."),
    )
    .await;
    Ok(Remembered {
        device_id,
        cookie: remember_cookie(
            &core.config.remember_browser_cookie,
            token.expose(),
            max_age,
        ),
        token: token.expose().clone(),
    })
}
