//! Checking a typed code against what the account holds. Each accepted code is
//! spent by one conditional store write, so two requests racing with the same code
//! cannot both win.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::codes::{code_hash, normalise_code, recovery_code_hash, PendingCode};
use twofa::crypto::constant_time_eq;
use twofa::totp;
use twofa::user::User;

/// What a typed code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Right, and now spent.
    Accepted,
    /// Wrong, malformed, already used, replaced, or never sent: counts as a failure.
    Wrong,
    /// The pending code had expired; it is deleted.
    Expired,
}

/// An emailed or texted code, bound to the destination it must have been sent to.
pub async fn sent_code(core: &Core, pending: Option<&PendingCode>, typed: &str, destination: &str) -> Result<Checked, ApiError> {
    let Some(p) = pending else { return Ok(Checked::Wrong) };
    if p.expires_at <= core.now() {
        // Delete only this code: a newer one may have been sent meanwhile.
        core.store.take_code(&p.user_id, p.purpose, &p.hash).await?;
        return Ok(Checked::Expired);
    }
    let Some(code) = normalise_code(typed) else { return Ok(Checked::Wrong) };
    let hash = code_hash(&core.hash_key, &p.user_id, p.purpose, destination, &code);
    if !constant_time_eq(&hash, &p.hash) {
        return Ok(Checked::Wrong);
    }
    Ok(if core.store.take_code(&p.user_id, p.purpose, &p.hash).await? { Checked::Accepted } else { Checked::Wrong })
}

/// An authenticator code (RFC 6238, ±1 step). A time step is accepted once per user:
/// the replay ASP.NET Core Identity allows is refused here (RFC 6238 §5.2).
pub async fn authenticator(core: &Core, user: &User, typed: &str) -> Result<Checked, ApiError> {
    let Some(auth) = user.authenticator.as_ref().filter(|a| a.enabled) else { return Ok(Checked::Wrong) };
    let key = core.seal_key.open(&auth.sealed_key, &user.id)?;
    let step = totp::check(key.expose(), typed, core.now()).map_err(ApiError::internal)?;
    let Some(step) = step else { return Ok(Checked::Wrong) };
    if core.store.advance_totp_step(&user.id, step).await? {
        Ok(Checked::Accepted)
    } else {
        tracing::warn!(user_id = %user.id, "authenticator code replayed; refused");
        Ok(Checked::Wrong)
    }
}

/// A recovery code, removed from the account as it is used.
pub async fn recovery(core: &Core, user: &User, typed: &str) -> Result<Checked, ApiError> {
    let hash = recovery_code_hash(&core.hash_key, &user.id, typed);
    Ok(if core.store.consume_recovery_code(&user.id, &hash).await? { Checked::Accepted } else { Checked::Wrong })
}
