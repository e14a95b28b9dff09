//! `POST | DELETE /account/authenticator` and `POST /account/authenticator/verify`:
//! enrolling an authenticator app. The key is sealed at rest under the user's id,
//! shown once, and never logged.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use twofa::api::{
    ApiError, ErrorCode, Request, Response, json, no_content, parse_body, require_fresh_binding,
    require_step_up,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::flows::{attempt_id, begin_attempt, fresh_access, refuse_wrong_code, right_answer};
use twofa::policy::Provider;
use twofa::senders::{EmailSender, notify};
use twofa::store::{Spend, Subject, Succeeded, Success};
use twofa::tokens::{FreshAccess, TokenKind};
use twofa::totp::{self, Checked};
use twofa::user::{Authenticator, UserPatch};

use crate::caller::{enrolling, signed_in};
use crate::recovery::new_codes;
use crate::side::side_of;

/// What a wrong enrolment code names in its `sign_in_failed` event.
const ENROLMENT: &str = "authenticator_enrolment";

#[derive(Serialize)]
struct Enrolment {
    shared_key: String,
    authenticator_uri: String,
    qr_code_svg: String,
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
    recovery_codes: Vec<String>,
    /// With a setup token: the holder must now sign in again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sign_in_again: bool,
    /// With an access token: the caller's token under the new security stamp.
    #[serde(flatten)]
    fresh: Option<FreshAccess>,
}

/// `POST /account/authenticator`: a new 160-bit key, pending until a code from it is verified.
pub async fn create(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = enrolling(core, req).await?;
    let user = &caller.user;
    // Replacing a working authenticator in one step would leave the account without
    // it until the new one is verified: it must be removed first (with step-up).
    if user.authenticator_enabled() {
        return Err(ApiError::of(ErrorCode::AuthenticatorExists));
    }
    let side = side_of(core, user).await?;
    let eff = side.effective(user.two_factor_enabled);
    if !eff.allowed_providers.contains(&Provider::Authenticator) {
        return Err(ApiError::provider_unavailable(
            Provider::Authenticator.as_str(),
        ));
    }
    require_fresh_binding(core, &caller, &eff)?;
    let key = totp::new_key()?;
    let sealed_key = core.seal_key.seal(key.expose(), &user.id)?;
    let pending = UserPatch {
        authenticator: Some(Some(Authenticator {
            sealed_key,
            enabled: false,
        })),
        ..Default::default()
    };
    // On condition that no authenticator was enabled meanwhile: that is what the check above and step-up decided on.
    if !core
        .store
        .update_user_if_authenticator(&user.id, user.authenticator.as_ref(), &pending)
        .await?
    {
        return Err(ApiError::conflict(
            "the authenticator changed while this request was served; read the account again",
        ));
    }
    let authenticator_uri =
        totp::provisioning_uri(key.expose(), &core.config.totp_issuer, user.email.as_str());
    let qr_code_svg = totp::qr_svg(&authenticator_uri).map_err(ApiError::internal)?;
    tracing::info!(user_id = %user.id, "authenticator enrolment started");
    Ok(json(
        StatusCode::OK,
        &Enrolment {
            shared_key: totp::base32(key.expose()).trim_end_matches('=').to_string(),
            authenticator_uri,
            qr_code_svg,
        },
    ))
}

/// `POST /account/authenticator/verify`: a code from the pending key enables it,
/// turns the user's own flag on and gives ten recovery codes. A wrong or replayed
/// code counts toward the lockout.
pub async fn verify(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = enrolling(core, req).await?;
    let body: CodeBody = parse_body(req)?;
    let user = &caller.user;
    let now = core.now();
    let pending = match &user.authenticator {
        None => return Err(ApiError::of(ErrorCode::NoPendingAuthenticator)),
        Some(a) if a.enabled => return Err(ApiError::of(ErrorCode::AuthenticatorExists)),
        Some(a) => a.clone(),
    };
    // The attempt takes its slot before the code is judged (the store's module doc).
    let policy = twofa::flows::lockout_of(core, user).await?;
    let attempt = begin_attempt(core, Subject::User(&user.id), attempt_id()?, None, policy).await?;
    let key = core.seal_key.open(&pending.sealed_key, &user.id)?;
    // The same rule as signing in (verify-code): a step the user used is never taken again.
    let last_step = attempt.user.as_ref().unwrap_or(user).totp_last_step;
    let checked =
        totp::check_step(key.expose(), &body.code, now, last_step).map_err(ApiError::internal)?;
    let step = match checked {
        Checked::Fresh(step) => step,
        Checked::Replayed => {
            tracing::warn!(user_id = %user.id, "authenticator code replayed during enrolment");
            return Err(
                refuse_wrong_code(core, email, user, &attempt, req, ENROLMENT)
                    .await
                    .into(),
            );
        }
        Checked::Wrong => {
            return Err(
                refuse_wrong_code(core, email, user, &attempt, req, ENROLMENT)
                    .await
                    .into(),
            );
        }
    };
    let (codes, hashes) = new_codes(core, &user.id)?;
    let patch = UserPatch {
        authenticator: Some(Some(Authenticator {
            sealed_key: pending.sealed_key.clone(),
            enabled: true,
        })),
        recovery_codes: Some(hashes),
        two_factor_enabled: Some(true),
        ..Default::default()
    }
    .rotating_stamp()
    // The fresh token below is handed out only if the caller's session is still live.
    .under_stamp(&user.security_stamp);
    // Spending the step, enabling the authenticator, the new stamp and resetting the
    // count: one write. It enables only the key the code was checked against, while
    // that is still the pending one.
    let success = Success {
        attempt: &attempt.id,
        sid: None,
        spend: Spend::TotpStep(step),
        patch: &patch,
        release_only: false,
        authenticator: Some(&pending),
    };
    match core.store.succeed(&user.id, &success, now).await? {
        Succeeded::Done => {}
        Succeeded::Spent => {
            tracing::warn!(user_id = %user.id, "authenticator code replayed during enrolment");
            return Err(
                refuse_wrong_code(core, email, user, &attempt, req, ENROLMENT)
                    .await
                    .into(),
            );
        }
        Succeeded::Changed => {
            // Not a guess: the attempt gives its slot back.
            let release = Success {
                attempt: &attempt.id,
                sid: None,
                spend: Spend::Nothing,
                patch: &UserPatch::default(),
                release_only: true,
                authenticator: None,
            };
            right_answer(core, &user.id, &release).await?;
            return Err(ApiError::conflict(
                "the authenticator changed while this code was checked; start again",
            ));
        }
        Succeeded::Locked(until) => return Err(ApiError::locked_out(until - now)),
        Succeeded::Ended => return Err(ApiError::unauthorized()),
    }
    let mut changed = user.clone();
    patch.apply(&mut changed);
    let fresh = fresh_access(core, &caller, &changed).await?;
    tracing::info!(user_id = %user.id, "authenticator enabled");
    core.record(core.event(EventType::AuthenticatorAdded, user, req))
        .await;
    notify(
        email,
        user,
        "A new authenticator app was added",
        "An authenticator app was added to your account, and two-factor sign-in is on.",
    )
    .await;
    Ok(json(
        StatusCode::OK,
        &Enabled {
            enabled: true,
            recovery_codes: codes,
            sign_in_again: caller.kind == TokenKind::Setup,
            fresh,
        },
    ))
}

/// `DELETE /account/authenticator`: step-up when it is working and 2FA is on.
pub async fn delete(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let user = &caller.user;
    let Some(current) = &user.authenticator else {
        return Err(ApiError::not_found("no authenticator app is set up"));
    };
    if current.enabled {
        let side = side_of(core, user).await?;
        require_step_up(
            core,
            &caller,
            side.effective(user.two_factor_enabled).enabled,
        )?;
    }
    // Removing an enabled key ends every session and remembered browser (a 204 has no
    // body for a fresh token: the caller signs in again); a pending one changes nothing
    // they relied on.
    let patch = UserPatch {
        authenticator: Some(None),
        ..Default::default()
    };
    let patch = if current.enabled {
        patch.rotating_stamp()
    } else {
        patch
    }
    // Not after the caller's session ended (a sign-out everywhere in flight).
    .under_stamp(&user.security_stamp);
    // A remove that read "pending" skipped step-up: it must not remove one enabled meanwhile.
    if !core
        .store
        .update_user_if_authenticator(&user.id, Some(current), &patch)
        .await?
    {
        let now = core.store.user(&user.id).await?;
        if now.is_none_or(|u| u.security_stamp != user.security_stamp) {
            return Err(ApiError::unauthorized());
        }
        return Err(ApiError::conflict(
            "the authenticator changed while this request was served; read the account again",
        ));
    }
    tracing::info!(user_id = %user.id, was_enabled = current.enabled, "authenticator removed");
    core.record(
        core.event(EventType::AuthenticatorRemoved, user, req)
            .detail("was_enabled", current.enabled),
    )
    .await;
    if current.enabled {
        notify(
            email,
            user,
            "An authenticator app was removed",
            "The authenticator app was removed from your account.",
        )
        .await;
    }
    Ok(no_content())
}
