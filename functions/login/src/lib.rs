//! The login function: `POST /login`. The password step of signing in, and the
//! decision whether a second factor is needed (skipped for a remembered browser);
//! passwordless sign-in with a passkey; refresh and revocation; discovery and JWKS.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use twofa::amr::{Amr, rfc8176};
use twofa::api::{
    ApiError, ErrorCode, Request, Response, cookie, json, json_with_headers, operation, origin,
    parse_body, respond_within, side_named, sign_in_from,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::devices::parse_device_token;
use twofa::email::Email;
use twofa::flows::{
    WrongAnswer, attempt_id, begin_attempt, load_side, refuse_wrong_answer, right_answer,
    start_session, token_for,
};
use twofa::ids::{AttemptId, SignInId};
use twofa::lockout::LockoutPolicy;
use twofa::password::verify_password;
use twofa::policy::{Effective, usable_providers};
use twofa::senders::EmailSender;
use twofa::side::Side;
use twofa::store::{Spend, Subject, Success, login_record_under};
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{User, UserPatch};

twofa::operations! {
    /// What a request to this function asks for.
    pub enum Operation {
        /// Check a password; sign in or start the second factor.
        Login = "POST" "/login",
        /// Renew a session's access token with its refresh token.
        Refresh = "POST" "/token/refresh",
        /// End the session a refresh token names.
        Revoke = "POST" "/token/revoke",
        /// Where relying APIs learn the issuer and the JWKS.
        Discovery = "GET" "/.well-known/openid-configuration",
        /// The public keys access tokens are signed with.
        Jwks = "GET" "/.well-known/jwks.json",
        /// Start a passwordless sign-in with a passkey.
        StartPasskeySignIn = "POST" "/passkeys/sign-in",
        /// Finish a passwordless sign-in with the authenticator's answer.
        FinishPasskeySignIn = "POST" "/passkeys/sign-in/finish",
    }
}

mod passkeys;
mod token;
mod well_known;

/// Serves one request.
pub async fn handle(core: &Core, email: &dyn EmailSender, req: Request) -> Response {
    respond_within(serve(core, email, req)).await
}

async fn serve(core: &Core, email: &dyn EmailSender, req: Request) -> Result<Response, ApiError> {
    match operation::<Operation>(&req)?.0 {
        Operation::Login => login(core, email, req).await,
        Operation::Refresh => token::refresh(core, &req).await,
        Operation::Revoke => token::revoke(core, &req).await,
        Operation::Discovery => Ok(well_known::discovery(core, &req)),
        Operation::Jwks => Ok(well_known::jwks(core)),
        Operation::StartPasskeySignIn => passkeys::start(core, &req).await,
        Operation::FinishPasskeySignIn => passkeys::finish(core, email, &req).await,
    }
}

#[derive(Deserialize)]
struct LoginBody {
    tenant: Option<String>,
    email: String,
    password: String,
    remember_browser_token: Option<String>,
}

fn invalid_credentials() -> ApiError {
    ApiError::of(ErrorCode::InvalidCredentials)
}

async fn login(core: &Core, sender: &dyn EmailSender, req: Request) -> Result<Response, ApiError> {
    let body: LoginBody = parse_body(&req)?;
    // Every 423 waits for the same floor, so the attempt that locks a real account
    // (which emails its owner first) answers when the one that locks an unknown email does.
    let answer_at = tokio::time::Instant::now()
        + std::time::Duration::from_millis(core.config.locked_answer_ms);
    let result = password_step(core, sender, req, body).await;
    if matches!(&result, Err(e) if e.is(ErrorCode::LockedOut)) {
        tokio::time::sleep_until(answer_at).await;
    }
    result
}

async fn password_step(
    core: &Core,
    sender: &dyn EmailSender,
    req: Request,
    body: LoginBody,
) -> Result<Response, ApiError> {
    let scope = side_named(body.tenant.as_deref())?;
    // An address that cannot parse cannot have an account; it is answered like any unknown one.
    let keys = Email::lookup_keys(&body.email);
    let email_key = keys.first().cloned();

    // The policy and the login record are independent reads: one round trip of latency.
    let (side, record) = tokio::join!(
        load_side(core.store.as_ref(), &scope),
        login_record_under(core.store.as_ref(), &scope, &keys)
    );
    let side = side?.ok_or_else(ApiError::unknown_tenant)?;
    let policy = side.lockout(core.config.lockout);
    let Some(record) = record? else {
        return unknown_email(
            core,
            sender,
            &scope,
            email_key.as_deref(),
            &body.password,
            policy,
            &req,
        )
        .await;
    };
    let attempt = attempt_id()?;

    // The password check starts at once, beside the write that takes this attempt's
    // slot; it is judged only if the slot was taken (the store's module doc).
    let subject = Subject::User(&record.user_id);
    let hint = record.password_hash.as_deref();
    let (checked, slot) = tokio::join!(
        async {
            match hint {
                Some(h) => verify_password(&body.password, Some(h)).await.map(Some),
                None => Ok(None),
            }
        },
        begin_attempt(core, subject, attempt, None, policy)
    );
    let checked = checked?;
    let attempt = slot?;
    let user = attempt.user.clone().ok_or_else(invalid_credentials)?;
    let right = match checked {
        // The copy was checked; the user item's hash is the truth should it differ.
        Some(ok) if hint == Some(user.password_hash.as_str()) => ok,
        _ => verify_password(&body.password, Some(&user.password_hash)).await?,
    };
    if !right {
        let by = WrongAnswer {
            origin: origin(&req),
            factor: "password",
        };
        let refused = refuse_wrong_answer(core, sender, subject, &attempt, by, |_| {
            invalid_credentials()
        });
        return Err(refused.await);
    }

    let eff = side.effective(user.two_factor_enabled);
    if !eff.enabled {
        return signed_in(core, &user, &attempt.id, &[Amr::Pwd], &req).await;
    }
    let presented = body
        .remember_browser_token
        .or_else(|| cookie(&req, &core.config.remember_browser_cookie));
    if let Some(token) = presented
        && remembered(core, &user, &eff, &token).await?
    {
        return signed_in(core, &user, &attempt.id, &[Amr::Pwd, Amr::Device], &req).await;
    }
    second_factor(core, &user, &attempt.id, &eff).await
}

/// An email without an account: the same work and the same answers as a wrong
/// password, its failures counted under the email's keyed hash so that it locks as
/// an account would (and credential stuffing against absent accounts is throttled).
async fn unknown_email(
    core: &Core,
    sender: &dyn EmailSender,
    scope: &Side,
    email_key: Option<&str>,
    password: &str,
    policy: LockoutPolicy,
    req: &Request,
) -> Result<Response, ApiError> {
    let Some(email_key) = email_key else {
        verify_password(password, None).await?;
        return Err(invalid_credentials());
    };
    let key = twofa::flows::unknown_email_key(core, scope, email_key);
    let subject = Subject::Unknown(&key);
    let (checked, slot) = tokio::join!(
        verify_password(password, None),
        begin_attempt(core, subject, attempt_id()?, None, policy)
    );
    checked?;
    let attempt = slot?;
    let by = WrongAnswer {
        origin: origin(req),
        factor: "password",
    };
    let refused = refuse_wrong_answer(core, sender, subject, &attempt, by, |_| {
        invalid_credentials()
    });
    Err(refused.await)
}

/// Whether `token` is a live remembered browser of `user` that policy still honours.
async fn remembered(
    core: &Core,
    user: &User,
    eff: &Effective,
    token: &str,
) -> Result<bool, ApiError> {
    let Some((device_id, _)) = parse_device_token(token) else {
        return Ok(false);
    };
    if !eff.remember_browser_allowed {
        return Ok(false);
    }
    let Some(device) = core.store.device(&user.id, &device_id).await? else {
        return Ok(false);
    };
    let now = core.now();
    if !device.accepts(&core.hash_key, token, &user.security_stamp, now) {
        return Ok(false);
    }
    core.store.touch_device(&user.id, &device_id, now).await?;
    Ok(true)
}

/// Ends the attempt as a success (resetting the counts), unless the account locked meanwhile.
async fn signed_in(
    core: &Core,
    user: &User,
    attempt: &AttemptId,
    amr: &[Amr],
    req: &Request,
) -> Result<Response, ApiError> {
    // The session first: should its write fail, the attempt is not ended yet.
    let from = sign_in_from(req);
    let started = start_session(core, user, amr, None, &from).await?;
    let success = Success {
        attempt,
        sid: None,
        spend: Spend::Nothing,
        patch: &UserPatch::default(),
        release_only: false,
        authenticator: None,
    };
    if let Err(e) = right_answer(core, &user.id, &success).await {
        started.abandon(core).await;
        return Err(e.into());
    }
    tracing::info!(user_id = %user.id, amr = ?amr, "signed in");
    core.record(
        core.event(EventType::SignIn, user, req)
            .detail("amr", amr.to_vec()),
    )
    .await;
    let signed_in = started.signed_in(core, user, &from)?;
    // The browser keeps the refresh token where page script cannot read it.
    let cookie = signed_in.refresh_cookie();
    Ok(json_with_headers(
        StatusCode::OK,
        &signed_in,
        &[(http::header::SET_COOKIE, cookie)],
    ))
}

/// Starts the second step. The failure count is not reset here: failed passwords
/// and failed codes add up to one lockout, so knowing the password does not buy
/// unlimited guesses at the code.
async fn second_factor(
    core: &Core,
    user: &User,
    attempt: &AttemptId,
    eff: &Effective,
) -> Result<Response, ApiError> {
    let providers = usable_providers(user, eff);
    let now = core.now();
    // The setup token names the security stamp: enrolling a first factor rotates it,
    // so the token cannot enrol a second one.
    let base = NewToken {
        amr: rfc8176(&[Amr::Pwd]),
        ..token_for(core, user)
    };
    if providers.is_empty() && user.recovery_codes.is_empty() {
        if user.second_factor_lost {
            return factor_lost(core, user, attempt).await;
        }
        // ABP signs such a user in without a second factor; we only let them enrol one.
        let success = Success {
            attempt,
            sid: None,
            spend: Spend::Nothing,
            patch: &UserPatch::default(),
            release_only: true,
            authenticator: None,
        };
        right_answer(core, &user.id, &success).await?;
        let setup_token = core.tokens.issue(TokenKind::Setup, base, now)?;
        tracing::info!(user_id = %user.id, "two-factor setup required");
        return Ok(json(
            StatusCode::OK,
            &json!({ "status": "two_factor_setup_required", "setup_token": setup_token }),
        ));
    }
    let sid = SignInId::random()?;
    // Giving the slot back and starting the sign-in are one write, refused if the account locked meanwhile.
    // The lost-second-factor mark stays (only an administrator's reset ends it): the
    // providers seen here come from settings read before the password was checked, so
    // a login racing the change that marks the user would clear the mark the change
    // just wrote, and once its settings land the password alone would get a setup
    // token. The mark refuses only an account with no provider and no recovery code
    // left, so keeping it never refuses a sign-in with a factor.
    let patch = UserPatch {
        pending_sign_in: Some(Some(sid.clone())),
        ..Default::default()
    };
    right_answer(
        core,
        &user.id,
        &Success {
            attempt,
            sid: None,
            spend: Spend::Nothing,
            patch: &patch,
            release_only: true,
            authenticator: None,
        },
    )
    .await?;
    let token = core.tokens.issue(
        TokenKind::TwoFactor,
        NewToken {
            sid: Some(sid.to_string()),
            ..base
        },
        now,
    )?;
    let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "status": "two_factor_required",
            "two_factor_token": token,
            "providers": names,
            "remember_browser_allowed": eff.remember_browser_allowed,
        }),
    ))
}

/// A user whose every provider a settings change took away, with no recovery code
/// left: the password was right, but the password alone never enrols a factor on an
/// account that had one (SECURITY.md). 403 `forbidden` until a factor it had is
/// allowed again or an administrator resets its second factor; no token of any kind.
async fn factor_lost(core: &Core, user: &User, attempt: &AttemptId) -> Result<Response, ApiError> {
    // The slot is given back, earlier failures stay counted, as for any right password.
    let success = Success {
        attempt,
        sid: None,
        spend: Spend::Nothing,
        patch: &UserPatch::default(),
        release_only: true,
        authenticator: None,
    };
    right_answer(core, &user.id, &success).await?;
    tracing::info!(user_id = %user.id, "sign-in refused: every second factor of the account was taken away by policy");
    Err(ApiError::forbidden(
        "the second factors of this account are no longer allowed here; an administrator must reset them (or allow one of them again) before you can set up a new one",
    ))
}
