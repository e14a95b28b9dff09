//! `POST /password/reset`: a new password for whoever holds the code that
//! `/password/forgot` emailed. The code is a code like the others (keyed hash,
//! single use, lifetime; a wrong one counts toward the lockout of the account's
//! side). Success rotates the security stamp, so every access token and remembered
//! browser of the account dies; it does not sign in and leaves the second factor
//! as it is.
//!
//! An email without an account answers exactly as a wrong code does (401
//! `invalid_code`, without `attempts_remaining`), its failures counted under the
//! email's keyed hash as login counts them, so it locks (423) as an account would;
//! and every refusal after the body was read takes at least
//! `PASSWORD_RESET_ANSWER_MS`, as `/password/forgot` does.

use std::time::Duration;
use twofa::ids::UserId;

use serde::Deserialize;
use twofa::api::{
    ApiError, ErrorCode, Request, Response, no_content, origin, parse_body, side_named,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::codes::CodePurpose;
use twofa::email::Email;
use twofa::flows::{
    Attempt, Outcome, WrongAnswer, attempt_id, begin_attempt, load_side, refuse_wrong_answer,
    right_answer, unknown_email_key,
};
use twofa::password::{Password, hash_password};
use twofa::senders::{EmailSender, notify};
use twofa::store::{Subject, Success, login_record_under};
use twofa::user::UserPatch;

use crate::check::{self, Judged};
use crate::failure::not_a_guess;

#[derive(Deserialize)]
struct ResetBody {
    tenant: Option<String>,
    email: String,
    code: String,
    new_password: String,
}

/// 401 `invalid_code` as the reset gives it: the same for a wrong code and for an
/// email without an account.
fn invalid_reset_code() -> ApiError {
    ApiError::of(ErrorCode::InvalidCode)
        .saying("the code is wrong, already used, or was not sent to this email")
}

pub async fn reset(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let body: ResetBody = parse_body(req)?;
    // Checked before the code, so a weak choice does not spend it; the rules know
    // nothing of accounts.
    let context: Vec<&str> = [Some(body.email.as_str()), body.tenant.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let password = Password::new(
        &body.new_password,
        core.config.password_min_length,
        &context,
    )
    .map_err(|e| ApiError::weak_password("new_password", e.to_string()))?;
    let answer_at =
        tokio::time::Instant::now() + Duration::from_millis(core.config.password_reset_answer_ms);
    let result = attempt(core, email, &body, &password, req).await;
    if result.is_err() {
        tokio::time::sleep_until(answer_at).await;
    }
    result
}

async fn attempt(
    core: &Core,
    sender: &dyn EmailSender,
    body: &ResetBody,
    password: &Password,
    req: &Request,
) -> Result<Response, ApiError> {
    // Also under the key an account registered before addresses were normalised has.
    let keys = Email::lookup_keys(&body.email);
    let (Ok(scope), Some(key)) = (side_named(body.tenant.as_deref()), keys.first().cloned()) else {
        return Err(invalid_reset_code());
    };
    // As login does: the policy and the email's item are independent reads, one round trip of latency.
    let (side, record) = tokio::join!(
        load_side(core.store.as_ref(), &scope),
        login_record_under(core.store.as_ref(), &scope, &keys)
    );
    let (side, record) = (side?, record?);
    let policy = side
        .as_ref()
        .map_or(core.config.lockout, |s| s.lockout(core.config.lockout));
    // An email without an account counts under its keyed hash, as login counts it, so
    // it locks exactly as an account does. It also makes the account's requests in
    // the same order (the code's read beside the slot's write, then the failure's
    // writes): the floor hides the time a refusal takes only while the work fits
    // under it, and `PASSWORD_RESET_ANSWER_MS` may be 0. Its code read finds nothing:
    // no user id is a keyed hash.
    let unknown;
    let (subject, code_owner) = match &record {
        Some(r) => (Subject::User(&r.user_id), r.user_id.clone()),
        None => {
            unknown = unknown_email_key(core, &scope, &key);
            (Subject::Unknown(&unknown), UserId::from(unknown.as_str()))
        }
    };
    // The attempt takes its slot before the code is judged (the store's module doc);
    // the slot's write returns the user.
    let (pending, attempt) = tokio::join!(
        core.store.code(&code_owner, CodePurpose::PasswordReset),
        begin_attempt(core, subject, attempt_id()?, None, policy)
    );
    let (pending, attempt) = (pending?, attempt?);
    let Some(user) = attempt.user.clone() else {
        return Err(wrong_code(core, sender, subject, &attempt, req).await);
    };
    let spend = match check::reset_code(core, pending.as_ref(), &body.code, &user).await? {
        Judged::Right(spend) => spend,
        Judged::Wrong => return Err(wrong_code(core, sender, subject, &attempt, req).await),
        Judged::Expired => {
            not_a_guess(core, &user, &attempt).await?;
            return Err(ApiError::of(ErrorCode::CodeExpired));
        }
    };

    let hash = hash_password(password).await?;
    let patch = UserPatch {
        password_hash: Some(hash.clone()),
        // A sign-in that was waiting for its second factor started with the old password.
        pending_sign_in: Some(None),
        ..Default::default()
    }
    .rotating_stamp()
    // The code was checked under this stamp and dies with it: a password change or
    // sign-out everywhere that lands while the reset is in flight wins (the write
    // is refused, nothing changes, and the code is over).
    .under_stamp(&user.security_stamp);
    // Spending the code, the new password and stamp, and the reset count: one write,
    // so two resets racing with one code cannot both win.
    let success = Success {
        attempt: &attempt.id,
        sid: None,
        spend,
        patch: &patch,
        authenticator: None,
        release_only: false,
    };
    let outcome = right_answer(core, &user.id, &success).await.map_err(|e| {
        let e = ApiError::from(e);
        // The stamp moved on since the code was checked: the code is dead, and the
        // contract's answer for a dead code is `invalid_code`.
        if e.is(ErrorCode::Unauthorized) {
            invalid_reset_code()
        } else {
            e
        }
    })?;
    if outcome == Outcome::Spent {
        return Err(wrong_code(core, sender, subject, &attempt, req).await);
    }
    // Login's copy of the hash on the email item follows through update_user. The
    // reset is written already (its code spent): a copy that cannot be written must
    // not turn it into an error, whose retry would meet a spent code and count a
    // failure. A stale copy only costs login a check against the user item's hash.
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
    tracing::info!(user_id = %user.id, "password reset with an emailed code");
    core.record(core.event(EventType::PasswordReset, &user, req))
        .await;
    notify(
        sender,
        &user,
        "Your password was reset",
        &format!(
            "The password of your account was reset with a code sent to this address. Every session and remembered browser was signed out.{}",
            twofa::passkeys::notice_of_passkeys(&user.passkeys)
        ),
    )
    .await;
    Ok(no_content())
}

/// A wrong code, for an account or an email without one: counted, recorded as a
/// failed sign-in (with the lockout it caused), and refused with the same 401 for
/// every email, or 423.
async fn wrong_code(
    core: &Core,
    sender: &dyn EmailSender,
    subject: Subject<'_>,
    attempt: &Attempt,
    req: &Request,
) -> ApiError {
    let by = WrongAnswer {
        origin: origin(req),
        factor: "reset_code",
    };
    refuse_wrong_answer(core, sender, subject, attempt, by, |_| invalid_reset_code()).await
}
