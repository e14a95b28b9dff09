//! A WebAuthn ceremony's two halves: the start keeps the relying party's state
//! under a fresh [`CeremonyId`] for `CODE_TTL_SECONDS` and hands the options out;
//! the finish takes it back, once, and only for the purpose it was started for
//! (see [`crate::passkeys`] and the store's `PasskeyStore`).

use serde_json::Value;

use super::FlowError;
use crate::app::Core;
use crate::ids::{AttemptId, CeremonyId};
use crate::passkeys::{Ceremony, Purpose, Refused, RelyingParty};
use crate::policy::{Effective, Provider};

/// The relying party, when passkeys are configured and `eff` allows them.
pub fn relying_party<'a>(core: &'a Core, eff: &Effective) -> Result<&'a RelyingParty, FlowError> {
    match &core.passkeys {
        Some(rp) if eff.allowed_providers.contains(&Provider::Passkey) => Ok(rp),
        _ => Err(FlowError::PasskeysOff),
    }
}

/// What a ceremony's start answers: its id and the options for the browser.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Started {
    /// The id the finish names.
    pub ceremony_id: CeremonyId,
    /// The creation or request options, in WebAuthn's JSON form.
    pub options: Value,
    /// Seconds the ceremony works for.
    pub expires_in: i64,
}

/// Keeps `state` for `purpose` and answers the options.
pub async fn start_ceremony(
    core: &Core,
    purpose: Purpose,
    options: Value,
    state: String,
) -> Result<Started, FlowError> {
    let id = CeremonyId::random().map_err(crate::tokens::TokenError::from)?;
    let ttl = core.config.code_ttl_seconds;
    let ceremony = Ceremony {
        id: id.clone(),
        purpose,
        state,
        expires_at: core.now() + ttl,
    };
    core.store.put_ceremony(&ceremony).await?;
    Ok(Started {
        ceremony_id: id,
        options,
        expires_in: ttl,
    })
}

/// Takes the ceremony `given` names for `taker`, if it was started for `purpose`:
/// [`FlowError::InvalidCeremony`] when it is unknown, expired, taken by another
/// finish, or for something or someone else. A ceremony of another purpose is taken
/// all the same (and so spent): it was never going to work.
pub async fn take_ceremony(
    core: &Core,
    given: &str,
    taker: &AttemptId,
    purpose: &Purpose,
) -> Result<Ceremony, FlowError> {
    let id = CeremonyId::parse(given).ok_or(FlowError::InvalidCeremony)?;
    match core.store.take_ceremony(&id, taker, core.now()).await? {
        Some(c) if c.purpose == *purpose => Ok(c),
        _ => Err(FlowError::InvalidCeremony),
    }
}

/// What a refused assertion of `user`'s names as the wrong factor in its
/// `sign_in_failed` event: `passkey_counter` for a counter that went backwards (the
/// key may have been cloned: worth a warning of its own), `passkey` otherwise.
pub fn refused_factor(user: &crate::ids::UserId, refused: &Refused) -> &'static str {
    match refused {
        Refused::CounterWentBack => {
            tracing::warn!(user_id = %user, "a passkey's sign counter went backwards: it may have been cloned; refused");
            "passkey_counter"
        }
        _ => "passkey",
    }
}
