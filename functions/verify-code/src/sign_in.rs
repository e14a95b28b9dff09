//! Finishing a sign-in with a second factor: the two-factor token's sign-in must still
//! be pending, the method allowed by policy and set up, the code right. Success ends
//! the sign-in (so the token cannot be used again) and issues the access token.

use twofa::amr::Amr;
use twofa::api::{
    ApiError, ErrorCode, Request, Response, json_with_headers, remember, sign_in_from,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::codes::CodePurpose;
use twofa::flows::{
    Attempt, Outcome, PendingSignIn, attempt_id, begin_attempt, load_side, pending_sign_in,
    refuse_wrong_code, right_answer, start_session,
};
use twofa::ids::SignInId;
use twofa::phone::PhoneNumber;
use twofa::policy::{Effective, Provider, usable_providers};
use twofa::senders::{EmailSender, notify};
use twofa::store::{Spend, Subject, Success};
use twofa::user::{User, UserPatch};

use crate::check::{self, Judged};
use crate::failure::not_a_guess;
use crate::request::SignIn;

pub async fn verify(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    s: SignIn,
) -> Result<Response, ApiError> {
    let PendingSignIn { user, sid } = pending_sign_in(core, &s.two_factor_token).await?;
    let Some(side) = load_side(core.store.as_ref(), &user.side).await? else {
        return Err(ApiError::unauthorized());
    };
    let eff = side.effective(user.two_factor_enabled);
    if !usable(&user, &eff, s.provider) {
        return Err(ApiError::provider_unavailable(s.provider.as_str()));
    }

    // The attempt takes its slot before the code is judged (the store's module doc).
    // A sent code is read beside the slot, never between it and the success: once
    // the slot counts the attempt, only the write that completes it is left to make.
    let code_purpose = match s.provider {
        Provider::Email => Some(CodePurpose::SignInEmail),
        Provider::Sms => Some(CodePurpose::SignInSms),
        Provider::Passkey | Provider::Authenticator | Provider::RecoveryCode => None,
    };
    let read_code = async {
        match code_purpose {
            Some(purpose) => core.store.code(&user.id, purpose).await,
            None => Ok(None),
        }
    };
    let (pending, attempt) = tokio::join!(
        read_code,
        begin_attempt(
            core,
            Subject::User(&user.id),
            attempt_id()?,
            Some(&sid),
            side.lockout(core.config.lockout),
        )
    );
    let (pending, attempt) = (pending?, attempt?);
    // The stamp the two-factor token was checked against: the access token is issued
    // only while it is still the user's (see the success write below).
    let stamp = user.security_stamp.clone();
    let user = attempt.user.clone().unwrap_or(user);
    let recovery_hash;
    let judged = match s.provider {
        Provider::Authenticator => check::authenticator(core, &user, &s.code)?,
        Provider::Email => {
            check::sent_code(
                core,
                pending.as_ref(),
                &s.code,
                user.email.as_str(),
                Some(&sid),
            )
            .await?
        }
        Provider::Sms => {
            let number = user.phone_number.as_ref().map_or("", PhoneNumber::as_str);
            check::sent_code(core, pending.as_ref(), &s.code, number, Some(&sid)).await?
        }
        Provider::RecoveryCode => {
            recovery_hash = check::recovery_hash(core, &user, &s.code);
            check::recovery(&user, &recovery_hash)
        }
        // A passkey answers with an assertion, not a code (`request::PasskeySignIn`).
        Provider::Passkey => Judged::Wrong,
    };
    let spend = match judged {
        Judged::Right(spend) => spend,
        Judged::Wrong => {
            return Err(
                refuse_wrong_code(core, email, &user, &attempt, req, s.provider.as_str())
                    .await
                    .into(),
            );
        }
        Judged::Expired => {
            not_a_guess(core, &user, &attempt).await?;
            return Err(ApiError::of(ErrorCode::CodeExpired));
        }
    };
    let finished = Finished {
        user: &user,
        sid: &sid,
        attempt: &attempt,
        stamp: &stamp,
        amr: [Amr::Pwd, s.provider.amr()],
        provider: s.provider,
        remember_browser: s.remember_browser && eff.remember_browser_allowed,
    };
    complete(core, email, req, finished, spend).await
}

/// A second factor judged right, to be written and answered.
pub struct Finished<'a> {
    pub user: &'a User,
    pub sid: &'a SignInId,
    pub attempt: &'a Attempt,
    /// The stamp the two-factor token was checked against.
    pub stamp: &'a str,
    pub amr: [Amr; 2],
    pub provider: Provider,
    /// Asked for, and allowed by the side.
    pub remember_browser: bool,
}

/// Ends a sign-in whose second factor was judged right: starts its session, spends
/// the factor in the write that ends the sign-in (refused, 401, if the stamp changed
/// since the two-factor token was checked), and answers `signed_in`.
pub async fn complete(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    f: Finished<'_>,
    spend: Spend<'_>,
) -> Result<Response, ApiError> {
    let Finished {
        user,
        sid,
        attempt,
        stamp,
        amr,
        provider,
        remember_browser,
    } = f;
    // The session first: should its write fail, the factor is not spent yet.
    let from = sign_in_from(req);
    let started = start_session(core, user, &amr, Some(core.now()), &from).await?;
    let patch = UserPatch::default().under_stamp(stamp);
    let success = Success {
        attempt: &attempt.id,
        sid: Some(sid),
        spend,
        patch: &patch,
        release_only: false,
        authenticator: None,
    };
    let written = right_answer(core, &user.id, &success).await;
    if !matches!(written, Ok(Outcome::Accepted)) {
        started.abandon(core).await;
    }
    if written? == Outcome::Spent {
        return Err(
            refuse_wrong_code(core, email, user, attempt, req, provider.as_str())
                .await
                .into(),
        );
    }
    tracing::info!(user_id = %user.id, method = provider.as_str(), "signed in with a second factor");
    if provider == Provider::RecoveryCode {
        let left = user.recovery_codes.len().saturating_sub(1);
        notify(
            email,
            user,
            "A recovery code was used",
            &format!("A recovery code was used to sign in to your account. You have {left} left; you can make new ones in your two-factor settings."),
        )
        .await;
    }

    let mut signed_in = started.signed_in(core, user, &from)?;
    // Everything this sign-in did goes into the store in one write.
    let mut events = vec![
        core.event(EventType::SignIn, user, req)
            .detail("amr", amr.to_vec())
            .detail("provider", provider.as_str()),
    ];
    if provider == Provider::RecoveryCode {
        events.push(core.event(EventType::RecoveryCodeUsed, user, req).detail(
            "recovery_codes_left",
            user.recovery_codes.len().saturating_sub(1),
        ));
    }
    // The sign-in is written already (its factor spent, its pending sign-in ended): a
    // browser that cannot be remembered must not turn it into an error, whose retry
    // would meet an ended sign-in. It signs in without the remember token instead.
    let remembered = if remember_browser {
        match remember(core, email, user, req).await {
            Ok(remembered) => Some(remembered),
            Err(e) => {
                tracing::error!(user_id = %user.id, error = ?e, "the browser could not be remembered; signed in without it");
                None
            }
        }
    } else {
        None
    };
    // The browser keeps the refresh token where page script cannot read it.
    let mut cookies = vec![(http::header::SET_COOKIE, signed_in.refresh_cookie())];
    if let Some(remembered) = remembered {
        events.push(
            core.event(EventType::BrowserRemembered, user, req)
                .detail("device_id", remembered.device_id.clone()),
        );
        signed_in.remember_browser_token = Some(remembered.token);
        cookies.push((http::header::SET_COOKIE, remembered.cookie));
    }
    core.record_all(events).await;
    Ok(json_with_headers(
        http::StatusCode::OK,
        &signed_in,
        &cookies,
    ))
}

/// Whether the policy allows `provider` and the user has it set up. Recovery codes
/// are accepted whenever the user has some left (openapi.yaml, `TwoFactorRequired`).
pub fn usable(user: &User, eff: &Effective, provider: Provider) -> bool {
    match provider {
        Provider::RecoveryCode => !user.recovery_codes.is_empty(),
        Provider::Passkey | Provider::Authenticator | Provider::Email | Provider::Sms => {
            usable_providers(user, eff).contains(&provider)
        }
    }
}
