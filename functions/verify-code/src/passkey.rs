//! A passkey as the second factor: the assertion answers the ceremony send-code
//! started for this sign-in. It counts toward the lockout as a code does: its
//! attempt takes a slot before it is judged, a refused assertion stays counted, and
//! the accepted one moves the passkey's counter in the write that ends the sign-in.

use twofa::amr::Amr;
use twofa::api::{ApiError, Request, Response};
use twofa::app::Core;
use twofa::flows::passkey::{refused_factor, relying_party, take_ceremony};
use twofa::flows::{
    PendingSignIn, attempt_id, begin_attempt, load_side, pending_sign_in, refuse_wrong_code,
};
use twofa::passkeys::{Purpose, named_credential};
use twofa::policy::Provider;
use twofa::senders::EmailSender;
use twofa::store::{Spend, Subject};

use crate::request::PasskeySignIn;
use crate::sign_in::{Finished, complete, usable};

pub async fn verify(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    p: PasskeySignIn,
) -> Result<Response, ApiError> {
    // Not an assertion at all: a 400 that changes nothing (no ceremony spent, no slot).
    named_credential(&p.credential).map_err(|_| {
        ApiError::invalid_field("credential", "not a PublicKeyCredential in JSON form")
    })?;
    let PendingSignIn { user, sid } = pending_sign_in(core, &p.two_factor_token).await?;
    let Some(side) = load_side(core.store.as_ref(), &user.side).await? else {
        return Err(ApiError::unauthorized());
    };
    let eff = side.effective(user.two_factor_enabled);
    if !usable(&user, &eff, Provider::Passkey) {
        return Err(ApiError::provider_unavailable(Provider::Passkey.as_str()));
    }
    let rp = relying_party(core, &eff)?;
    let attempt_id = attempt_id()?;
    let purpose = Purpose::SecondFactor {
        user_id: user.id.clone(),
        sign_in: sid.clone(),
    };
    // The ceremony first: one that is not this sign-in's is refused before anything
    // is counted (it proves nothing either way).
    let ceremony = take_ceremony(core, &p.ceremony_id, &attempt_id, &purpose).await?;
    let attempt = begin_attempt(
        core,
        Subject::User(&user.id),
        attempt_id,
        Some(&sid),
        side.lockout(core.config.lockout),
    )
    .await?;
    let stamp = user.security_stamp.clone();
    let user = attempt.user.clone().unwrap_or(user);
    let asserted = match rp.finish_second_factor(&ceremony.state, &p.credential, &user.passkeys) {
        Ok(asserted) => asserted,
        Err(refused) => {
            let factor = refused_factor(&user.id, &refused);
            return Err(refuse_wrong_code(core, email, &user, &attempt, req, factor)
                .await
                .into());
        }
    };
    let amr = asserted.amr();
    let finished = Finished {
        user: &user,
        sid: &sid,
        attempt: &attempt,
        stamp: &stamp,
        amr: [Amr::Pwd, amr],
        provider: Provider::Passkey,
        remember_browser: p.remember_browser && eff.remember_browser_allowed,
    };
    complete(core, email, req, finished, Spend::Passkey(&asserted)).await
}
