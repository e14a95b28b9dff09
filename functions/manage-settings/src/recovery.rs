//! `POST /account/recovery-codes`, and the making of recovery codes for enrolment too.

use http::StatusCode;
use serde::Serialize;
use twofa::api::{ApiError, Request, Response, json, require_step_up};
use twofa::app::Core;
use twofa::codes::{new_recovery_codes, recovery_code_hash};
use twofa::ids::UserId;
use twofa::senders::{EmailSender, notify};
use twofa::user::UserPatch;

use crate::caller::signed_in;
use crate::side::side_of;

#[derive(Serialize)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// Ten new codes for `user_id`: the codes to show once, and the keyed hashes to store.
pub fn new_codes(core: &Core, user_id: &UserId) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let codes: Vec<String> = new_recovery_codes()?
        .iter()
        .map(|c| c.expose().clone())
        .collect();
    let hashes = codes
        .iter()
        .map(|c| recovery_code_hash(&core.hash_key, user_id, c))
        .collect();
    Ok((codes, hashes))
}

/// `POST /account/recovery-codes`: replaces every code; step-up when 2FA is on.
pub async fn regenerate(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let user = &caller.user;
    let side = side_of(core, user).await?;
    require_step_up(
        core,
        &caller,
        side.effective(user.two_factor_enabled).enabled,
    )?;
    let (codes, hashes) = new_codes(core, &user.id)?;
    // Under the caller's stamp: codes asked for by a session that a sign-out
    // everywhere or a password change ended while the request was in flight would be
    // a second factor outliving it. Refused (401), nothing written.
    core.store
        .update_user(
            &user.id,
            &UserPatch {
                recovery_codes: Some(hashes),
                ..Default::default()
            }
            .under_stamp(&user.security_stamp),
        )
        .await?;
    tracing::info!(user_id = %user.id, "recovery codes replaced");
    core.record(core.event(twofa::audit::EventType::RecoveryCodesGenerated, user, req))
        .await;
    notify(
        email,
        user,
        "New recovery codes were made",
        "New recovery codes were made for your account; the old ones no longer work.",
    )
    .await;
    Ok(json(
        StatusCode::OK,
        &RecoveryCodes {
            recovery_codes: codes,
        },
    ))
}
