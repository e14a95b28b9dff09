//! `PUT /account/password`: the signed-in user changes their password. The current
//! password is checked like a login's (the attempt takes a lockout slot of the
//! user's side before it is judged, and none is checked while the account is
//! locked), so a stolen
//! access token does not open an unthrottled guessing oracle; with 2FA on, a fresh
//! second factor is needed first, so it does not open one at all. Success rotates
//! the security stamp: every access token issued before it, the caller's own
//! included, and every remembered browser stop working.

use serde::Deserialize;
use twofa::api::{
    ApiError, ErrorCode, Request, Response, no_content, origin, parse_body, require_step_up,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::flows::{WrongAnswer, attempt_id, begin_attempt, refuse_wrong_answer, right_answer};
use twofa::password::{Password, hash_password, verify_password};
use twofa::senders::{EmailSender, notify};
use twofa::store::{Spend, Subject, Success};
use twofa::user::UserPatch;

use crate::caller::signed_in;
use crate::side::side_of;

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::of(ErrorCode::InvalidCredentials).saying("the current password is wrong")
}

/// `PUT /account/password`.
pub async fn change(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let change: PasswordChange = parse_body(req)?;
    let user = &caller.user;
    let side = side_of(core, user).await?;
    require_step_up(
        core,
        &caller,
        side.effective(user.two_factor_enabled).enabled,
    )?;
    // Before the current password: a weak choice costs no attempt.
    let new = Password::new(
        &change.new_password,
        core.config.password_min_length,
        &[user.email.as_str()],
    )
    .map_err(|e| ApiError::weak_password("new_password", e.0))?;
    // The attempt takes its slot before the password is judged (the store's module
    // doc): 423 while locked, and guesses sent together get no more tries.
    let subject = Subject::User(&user.id);
    let attempt = begin_attempt(
        core,
        subject,
        attempt_id()?,
        None,
        side.lockout(core.config.lockout),
    )
    .await?;
    let current = attempt.user.as_ref().unwrap_or(user);
    if !verify_password(&change.current_password, Some(&current.password_hash)).await? {
        let by = WrongAnswer {
            origin: origin(req),
            factor: "password",
        };
        let refused = refuse_wrong_answer(core, email, subject, &attempt, by, |_| {
            invalid_credentials()
        });
        return Err(refused.await);
    }
    let hash = hash_password(&new).await?;
    // The stamp rotates in the success write itself; the answer is 204 with no fresh
    // token, so the caller's own session ends with the others.
    let patch = UserPatch {
        password_hash: Some(hash.clone()),
        pending_sign_in: Some(None),
        ..Default::default()
    }
    .rotating_stamp()
    // Under the caller's stamp: a change in flight when a sign-out everywhere or
    // another password change landed answers 401 and changes nothing.
    .under_stamp(&user.security_stamp);
    // The new password, the new stamp and the reset count in one write, refused if
    // the account locked while the password was checked, or if the caller's stamp
    // is no longer the user's.
    let success = Success {
        attempt: &attempt.id,
        sid: None,
        spend: Spend::Nothing,
        patch: &patch,
        authenticator: None,
        release_only: false,
    };
    right_answer(core, &user.id, &success).await?;
    // Login's copy of the hash on the email item follows through update_user. The
    // change is written already (the stamp rotated): a copy that cannot be written
    // must not turn it into an error, whose retry would meet a dead token. A stale
    // copy only costs login a check against the user item's hash.
    if let Err(e) = core
        .store
        .update_user(
            &user.id,
            // Only while the stamp is still the one this change wrote: a reset or
            // another change that landed since must not get the older password back.
            &UserPatch {
                password_hash: Some(hash),
                expected_stamp: patch.security_stamp.clone(),
                ..Default::default()
            },
        )
        .await
    {
        tracing::warn!(user_id = %user.id, error = %e, "login's copy of the new password hash was not written");
    }
    tracing::info!(user_id = %user.id, "password changed by the user");
    core.record(core.event(EventType::PasswordChanged, user, req))
        .await;
    notify(
        email,
        user,
        "Your password was changed",
        &format!(
            "The password of your account was changed. Every session and remembered browser was signed out.{}",
            twofa::passkeys::notice_of_passkeys(&user.passkeys)
        ),
    )
    .await;
    Ok(no_content())
}
