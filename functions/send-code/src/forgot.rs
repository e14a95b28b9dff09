//! `POST /password/forgot`: emails a reset code to an account's confirmed address.
//! The answer is 202 `{}` whatever the email names (no account, an unconfirmed
//! address, a locked account, a throttled or failed send), and it takes at least
//! `PASSWORD_RESET_ANSWER_MS` from the moment the body was read: only the lookup
//! that found an account goes on to throttle, store and email a code, and the
//! floor hides that work (the email provider's call above all) from the caller.

use std::time::Duration;

use serde::Deserialize;
use twofa::api::{ApiError, Request, Response, json, parse_body, side_named};
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::email::Email;
use twofa::lockout::locked_for;
use twofa::store::user_under;

use crate::deliver::{Destination, Senders, send_code};

#[derive(Deserialize)]
struct ForgotBody {
    tenant: Option<String>,
    email: String,
}

pub async fn forgot(
    core: &Core,
    senders: &Senders<'_>,
    req: &Request,
) -> Result<Response, ApiError> {
    // A malformed body is refused at once: it says nothing about any account.
    let body: ForgotBody = parse_body(req)?;
    let answer_at =
        tokio::time::Instant::now() + Duration::from_millis(core.config.password_reset_answer_ms);
    // No budget of the caller's address: strangers behind the owner's (a carrier's
    // NAT, an office) could spend it and silence the owner's reset for the hour.
    // What bounds resets is the account's one live code (see `crate::throttle`).
    let looked_up = send_if_account(core, senders, &body).await;
    tokio::time::sleep_until(answer_at).await;
    // Only the lookup itself can fail the request, alike for every email.
    looked_up?;
    Ok(json(http::StatusCode::ACCEPTED, &serde_json::json!({})))
}

/// Sends a reset code if `body` names an account whose email is confirmed and that
/// is not locked. Errors after the lookup are logged, never answered: a 429 or a
/// 502 would tell that the account exists.
async fn send_if_account(
    core: &Core,
    senders: &Senders<'_>,
    body: &ForgotBody,
) -> Result<(), ApiError> {
    // A tenant name or an address that cannot exist has no account.
    let Ok(scope) = side_named(body.tenant.as_deref()) else {
        return Ok(());
    };
    // Also under the key an account registered before addresses were normalised has.
    let keys = Email::lookup_keys(&body.email);
    let Some(user) = user_under(core.store.as_ref(), &scope, &keys).await? else {
        return Ok(());
    };
    if !user.email_confirmed {
        tracing::info!(user_id = %user.id, "password reset asked for an unconfirmed address; nothing sent");
        return Ok(());
    }
    if locked_for(user.lockout_end, core.now()).is_some() {
        // The code could not be used before the lock ends (reset answers 423).
        tracing::info!(user_id = %user.id, "password reset asked for a locked account; nothing sent");
        return Ok(());
    }
    let to = Destination::email(&user.email);
    if let Err(e) = send_code(
        core,
        senders,
        &user,
        CodePurpose::PasswordReset,
        to,
        // Bound to the security stamp: a password change, sign-out everywhere, 2FA
        // off or an admin reset (each rotates it) ends a reset code the owner never
        // asked for, with no write of its own.
        Some(&user.security_stamp),
        // Counted in no budget of the address (see above).
        None,
    )
    .await
    {
        tracing::info!(user_id = %user.id, error = e.code(), "password reset code not sent");
    }
    Ok(())
}
