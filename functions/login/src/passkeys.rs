//! Signing in with a passkey alone: `POST /passkeys/sign-in` starts a discoverable
//! ceremony (no credential named, user verification required), `POST
//! /passkeys/sign-in/finish` judges the assertion. The credential id finds the user
//! within the side (one read); the attempt takes a lockout slot before it is judged,
//! as a password does, and the accepted one moves the passkey's counter in the write
//! that ends it. A passkey with user verification is both factors: `acr` is `aal2`.
//!
//! An unknown credential is answered as a refused one of a known user is: its
//! failures are counted under the keyed hash of its side and id, so that it locks as
//! an account would, with the same requests in the same order.

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use twofa::api::{
    ApiError, ErrorCode, Request, Response, json, json_with_headers, origin, parse_body, remember,
    side_named, sign_in_from,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::flows::passkey::{refused_factor, relying_party, start_ceremony, take_ceremony};
use twofa::flows::{
    FlowError, Outcome, WrongAnswer, attempt_id, begin_attempt, load_side, refuse_wrong_answer,
    right_answer, start_session,
};
use twofa::ids::{AttemptId, UserId};
use twofa::passkeys::{Purpose, Refused, named_credential};
use twofa::senders::EmailSender;
use twofa::side::Side;
use twofa::store::{Spend, Subject, Success};
use twofa::user::UserPatch;

#[derive(Deserialize)]
struct StartBody {
    tenant: Option<String>,
}

#[derive(Deserialize)]
struct FinishBody {
    tenant: Option<String>,
    ceremony_id: String,
    credential: Value,
    #[serde(default)]
    remember_browser: bool,
}

fn invalid_credentials() -> ApiError {
    ApiError::of(ErrorCode::InvalidCredentials)
}

/// `POST /passkeys/sign-in`: request options for a discoverable credential.
pub async fn start(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let body: StartBody = parse_body(req)?;
    let scope = side_named(body.tenant.as_deref())?;
    let side = load_side(core.store.as_ref(), &scope)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    let rp = relying_party(core, &side.effective(false))?;
    let (options, state) = rp.start_sign_in().map_err(ApiError::internal)?;
    let started = start_ceremony(core, Purpose::SignIn { side: scope }, options, state).await?;
    Ok(json(StatusCode::OK, &started))
}

/// `POST /passkeys/sign-in/finish`. Every 423 waits for the same floor as login's,
/// so the attempt that locks a real account (which emails its owner first) answers
/// when the one that locks an unknown credential does.
pub async fn finish(
    core: &Core,
    sender: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let answer_at = tokio::time::Instant::now()
        + std::time::Duration::from_millis(core.config.locked_answer_ms);
    let result = judge(core, sender, req).await;
    if matches!(&result, Err(e) if e.is(ErrorCode::LockedOut)) {
        tokio::time::sleep_until(answer_at).await;
    }
    result
}

async fn judge(core: &Core, sender: &dyn EmailSender, req: &Request) -> Result<Response, ApiError> {
    let body: FinishBody = parse_body(req)?;
    // Not an assertion at all: a 400 that changes nothing (no ceremony spent, no slot).
    let (credential_id, handle) = named_credential(&body.credential).map_err(|_| {
        ApiError::invalid_field("credential", "not a PublicKeyCredential in JSON form")
    })?;
    let scope = side_named(body.tenant.as_deref())?;
    let side = load_side(core.store.as_ref(), &scope)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    let rp = relying_party(core, &side.effective(false))?;
    let attempt = attempt_id()?;
    let purpose = Purpose::SignIn {
        side: scope.clone(),
    };
    let ceremony = match take_ceremony(core, &body.ceremony_id, &attempt, &purpose).await {
        Ok(c) => c,
        // A replayed, raced, expired or foreign ceremony proves nothing: refused as a
        // wrong passkey is, before anything is read of any account.
        Err(FlowError::InvalidCeremony) => return Err(invalid_credentials()),
        Err(e) => return Err(e.into()),
    };
    let policy = side.lockout(core.config.lockout);
    let by = |factor| WrongAnswer {
        origin: origin(req),
        factor,
    };
    let owner = core.store.credential_owner(&scope, &credential_id).await?;
    let unknown = |attempt: AttemptId| {
        let key = unknown_credential_key(core, &scope, &credential_id);
        let by = by("passkey");
        async move {
            let subject = Subject::Unknown(&key);
            let attempt = begin_attempt(core, subject, attempt, None, policy).await?;
            let refused = refuse_wrong_answer(core, sender, subject, &attempt, by, |_| {
                invalid_credentials()
            });
            Err::<Response, ApiError>(refused.await)
        }
    };
    let Some(owner) = owner else {
        return unknown(attempt).await;
    };
    let subject = Subject::User(&owner);
    let attempt = begin_attempt(core, subject, attempt, None, policy).await?;
    let user = attempt.user.clone().ok_or_else(invalid_credentials)?;
    let Some(passkey) = user.passkey_with_credential(&credential_id) else {
        // A claim an administrator's reset (or a removal cut short) left behind: its
        // passkey is gone. Not a guess at this account: the slot goes back, the claim
        // goes, and the attempt counts as the unknown credential it now is, so that
        // whoever holds the old passkey cannot lock the account out with it.
        release_slot(core, &owner, &attempt.id).await?;
        if let Err(e) = core
            .store
            .forget_credentials(&scope, std::slice::from_ref(&credential_id))
            .await
        {
            tracing::warn!(error = %e, "a stale passkey claim was not forgotten");
        }
        return unknown(attempt_id()?).await;
    };
    // The authenticator's user handle must be this user's (the signature does not
    // cover it): a credential claimed for one account never signs in another.
    let judged = if handle.as_deref() == Some(user.id.as_str()) {
        rp.finish_sign_in(&ceremony.state, &body.credential, passkey)
    } else {
        Err(Refused::Invalid(
            "the user handle is not the claim's user".into(),
        ))
    };
    let asserted = match judged {
        Ok(asserted) => asserted,
        Err(refused) => {
            let factor = refused_factor(&user.id, &refused);
            let refused = refuse_wrong_answer(core, sender, subject, &attempt, by(factor), |_| {
                invalid_credentials()
            });
            return Err(refused.await);
        }
    };
    let amr = [asserted.amr()];
    // The session first: should its write fail, nothing is spent yet.
    let from = sign_in_from(req);
    let started = start_session(core, &user, &amr, Some(core.now()), &from).await?;
    let patch = UserPatch::default().under_stamp(&user.security_stamp);
    let success = Success {
        attempt: &attempt.id,
        sid: None,
        spend: Spend::Passkey(&asserted),
        patch: &patch,
        release_only: false,
        authenticator: None,
    };
    let written = right_answer(core, &user.id, &success).await;
    if !matches!(written, Ok(Outcome::Accepted)) {
        started.abandon(core).await;
    }
    if written? == Outcome::Spent {
        // Another assertion with the same counter won, or the passkey went meanwhile.
        let refused = refuse_wrong_answer(core, sender, subject, &attempt, by("passkey"), |_| {
            invalid_credentials()
        });
        return Err(refused.await);
    }
    tracing::info!(user_id = %user.id, amr = ?amr, "signed in with a passkey");
    let mut signed_in = started.signed_in(core, &user, &from)?;
    let mut events = vec![
        core.event(EventType::SignIn, &user, req)
            .detail("amr", amr.to_vec())
            .detail("provider", "passkey"),
    ];
    let mut cookies = vec![(http::header::SET_COOKIE, signed_in.refresh_cookie())];
    if body.remember_browser
        && side
            .effective(user.two_factor_enabled)
            .remember_browser_allowed
    {
        // Signed in already: a browser that cannot be remembered is logged, not an error.
        match remember(core, sender, &user, req).await {
            Ok(remembered) => {
                events.push(
                    core.event(EventType::BrowserRemembered, &user, req)
                        .detail("device_id", remembered.device_id.clone()),
                );
                signed_in.remember_browser_token = Some(remembered.token);
                cookies.push((http::header::SET_COOKIE, remembered.cookie));
            }
            Err(e) => {
                tracing::error!(user_id = %user.id, error = ?e, "the browser could not be remembered; signed in without it");
            }
        }
    }
    core.record_all(events).await;
    Ok(json_with_headers(StatusCode::OK, &signed_in, &cookies))
}

/// Gives back the slot an attempt took that proved nothing about the account.
async fn release_slot(core: &Core, user: &UserId, attempt: &AttemptId) -> Result<(), ApiError> {
    let release = Success {
        attempt,
        sid: None,
        spend: Spend::Nothing,
        patch: &UserPatch::default(),
        release_only: true,
        authenticator: None,
    };
    right_answer(core, user, &release).await?;
    Ok(())
}

/// The key an unknown credential counts its failures under ([`Subject::Unknown`]).
fn unknown_credential_key(core: &Core, scope: &Side, credential_id: &str) -> String {
    core.hash_key
        .hash(&["unknown-credential", &scope.key(), credential_id])
}
