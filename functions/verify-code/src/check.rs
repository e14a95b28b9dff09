//! Judging a typed code against what the account holds. Nothing is spent here: a
//! right code is spent by the same conditional write that completes its attempt
//! (`twofa::flows::right_answer`), so two requests racing with one code cannot both
//! win, and a retried write knows its own success.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::codes::{PendingCode, code_hash, normalise_code, recovery_code_hash};
use twofa::crypto::constant_time_eq;
use twofa::ids::SignInId;
use twofa::store::{Spend, TTL_GRACE_SECONDS};
use twofa::totp::{self, Checked};
use twofa::user::User;

/// What a typed code turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged<'a> {
    /// Right: accepted once this is spent.
    Right(Spend<'a>),
    /// Wrong, malformed, already used, replaced, or never sent: counts as a failure.
    Wrong,
    /// The pending code had expired. It stays until TTL deletes it, a grace period
    /// later, so asking again answers the same; it can never be accepted.
    Expired,
}

/// An emailed or texted code, bound to the destination it must have been sent to
/// and, for a sign-in code, to the sign-in `sid` that asked for it.
pub async fn sent_code<'a>(
    core: &Core,
    pending: Option<&'a PendingCode>,
    typed: &str,
    destination: &str,
    sid: Option<&SignInId>,
) -> Result<Judged<'a>, ApiError> {
    let Some(p) = pending else {
        return Ok(Judged::Wrong);
    };
    // Past its grace TTL may have swept the item, or not yet: read as never sent
    // either way, so the answer does not depend on the sweep.
    if p.expires_at.saturating_add(TTL_GRACE_SECONDS) <= core.now() {
        return Ok(Judged::Wrong);
    }
    if p.expires_at <= core.now() {
        return Ok(Judged::Expired);
    }
    let Some(code) = normalise_code(typed) else {
        return Ok(Judged::Wrong);
    };
    let hash = code_hash(
        &core.hash_key,
        &p.user_id,
        p.purpose,
        destination,
        sid.map(SignInId::as_str),
        &code,
    );
    if !constant_time_eq(&hash, &p.hash) {
        return Ok(Judged::Wrong);
    }
    Ok(Judged::Right(Spend::Code(p.purpose, &p.hash)))
}

/// A password reset code. Unlike [`sent_code`], the typed code is compared before
/// the expiry is looked at: `code_expired` goes only to whoever typed the right
/// code, since anyone may ask for a code for any email and wait, and an expired
/// code must not then tell that the email has an account.
/// The code is bound to the security stamp it was sent under (see send-code's
/// forgot), so any rotation since ends it.
pub async fn reset_code<'a>(
    core: &Core,
    pending: Option<&'a PendingCode>,
    typed: &str,
    user: &User,
) -> Result<Judged<'a>, ApiError> {
    let Some(p) = pending else {
        return Ok(Judged::Wrong);
    };
    let Some(code) = normalise_code(typed) else {
        return Ok(Judged::Wrong);
    };
    let hash = code_hash(
        &core.hash_key,
        &p.user_id,
        p.purpose,
        user.email.as_str(),
        Some(&user.security_stamp),
        &code,
    );
    if !constant_time_eq(&hash, &p.hash) {
        return Ok(Judged::Wrong);
    }
    // Left in place: the same code must get the same answer however often it comes
    // (the store keeps a reset code until it is replaced or spent, never sweeps it).
    if p.expires_at <= core.now() {
        return Ok(Judged::Expired);
    }
    Ok(Judged::Right(Spend::Code(p.purpose, &p.hash)))
}

/// An authenticator code (RFC 6238, ±1 step), judged by [`totp::check_step`]: a time
/// step is accepted once per user (the write refuses a step not later than the last).
/// Confirming an authenticator (manage-settings) judges with the same rule.
pub fn authenticator(core: &Core, user: &User, typed: &str) -> Result<Judged<'static>, ApiError> {
    let Some(auth) = user.authenticator.as_ref().filter(|a| a.enabled) else {
        return Ok(Judged::Wrong);
    };
    let key = core.seal_key.open(&auth.sealed_key, &user.id)?;
    let checked = totp::check_step(key.expose(), typed, core.now(), user.totp_last_step)
        .map_err(ApiError::internal)?;
    match checked {
        Checked::Fresh(step) => Ok(Judged::Right(Spend::TotpStep(step))),
        Checked::Replayed => {
            tracing::warn!(user_id = %user.id, "authenticator code replayed; refused");
            Ok(Judged::Wrong)
        }
        Checked::Wrong => Ok(Judged::Wrong),
    }
}

/// The keyed hash of a typed recovery code.
pub fn recovery_hash(core: &Core, user: &User, typed: &str) -> String {
    recovery_code_hash(&core.hash_key, &user.id, typed)
}

/// A recovery code, by its hash, removed from the account as it is used.
pub fn recovery<'a>(user: &User, hash: &'a str) -> Judged<'a> {
    if user.recovery_codes.iter().any(|h| h == hash) {
        Judged::Right(Spend::RecoveryCode(hash))
    } else {
        Judged::Wrong
    }
}
