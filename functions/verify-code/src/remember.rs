//! "Remember this browser": a random device token whose keyed hash is stored with an
//! expiry and the user's security stamp, so it can be listed, revoked, and dies with
//! any change of the user's security settings.

use twofa::api::{ApiError, Request, user_agent};
use twofa::app::Core;
use twofa::devices::{Device, device_token_hash, new_device_token};
use twofa::senders::{EmailSender, notify};
use twofa::tokens::remember_cookie;
use twofa::user::User;

/// A browser just remembered: the token for the body and its `Set-Cookie` value.
pub struct Remembered {
    pub device_id: twofa::ids::DeviceId,
    pub token: String,
    pub cookie: String,
}

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
