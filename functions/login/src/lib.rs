//! The login function: `POST /login`. The password step of signing in, and the
//! decision whether a second factor is needed (skipped for a remembered browser).

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use twofa::api::{cookie, json, parse_body, respond, ApiError, Request, Response, Route};
use twofa::app::Core;
use twofa::crypto::random_token;
use twofa::devices::parse_device_token;
use twofa::email::Email;
use twofa::lockout::locked_for;
use twofa::password::verify_password;
use twofa::senders::EmailSender;
use twofa::policy::Effective;
use twofa::signin::{issue_access, load_side, record_failure, scope_of, unknown_tenant, usable_providers, Failure};
use twofa::tokens::{NewToken, TokenKind};
use twofa::user::{User, UserPatch};

/// The routes this function serves.
pub const ROUTES: &[Route] = &[Route::new("POST", "/login")];

/// Serves one request.
pub async fn handle(core: &Core, email: &dyn EmailSender, req: Request) -> Response {
    if let Some(resp) = twofa::api::route_guard(ROUTES, &req) {
        return resp;
    }
    respond(login(core, email, req).await)
}

#[derive(Deserialize)]
struct LoginBody {
    tenant: Option<String>,
    email: String,
    password: String,
    remember_browser_token: Option<String>,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the email or the password is wrong")
}

async fn login(core: &Core, sender: &dyn EmailSender, req: Request) -> Result<Response, ApiError> {
    let body: LoginBody = parse_body(&req)?;
    let scope = scope_of(body.tenant.as_deref())?;
    // An address that cannot parse cannot have an account; it is answered like any unknown one.
    let email_key = Email::parse(&body.email).ok().map(|e| e.key());

    // The policy and the user are independent reads: one round trip of latency, not two.
    let (side, user) = tokio::join!(load_side(core.store.as_ref(), &scope), async {
        match &email_key {
            Some(k) => core.store.user_by_email(&scope, k).await,
            None => Ok(None),
        }
    });
    let side = side?.ok_or_else(unknown_tenant)?;
    let Some(user) = user? else {
        verify_password(&body.password, None).await?;
        return Err(invalid_credentials());
    };

    let now = core.now();
    if let Some(wait) = locked_for(user.lockout_end, now) {
        return Err(ApiError::locked_out(wait));
    }
    if !verify_password(&body.password, Some(&user.password_hash)).await? {
        return match record_failure(core, sender, &user).await? {
            Failure::Counted { .. } => Err(invalid_credentials()),
            locked => Err(locked.locked_error().unwrap_or_else(invalid_credentials)),
        };
    }

    let eff = side.effective(user.two_factor_enabled);
    if !eff.enabled {
        return signed_in(core, &user, &["pwd"]).await;
    }
    let presented = body.remember_browser_token.or_else(|| cookie(&req, &core.config.remember_browser_cookie));
    if let Some(token) = presented
        && remembered(core, &user, &eff, &token).await?
    {
        return signed_in(core, &user, &["pwd", "device"]).await;
    }
    second_factor(core, &user, &eff).await
}

/// Whether `token` is a live remembered browser of `user` that policy still honours.
async fn remembered(core: &Core, user: &User, eff: &Effective, token: &str) -> Result<bool, ApiError> {
    let Some((device_id, _)) = parse_device_token(token) else { return Ok(false) };
    if !eff.remember_browser_allowed {
        return Ok(false);
    }
    let Some(device) = core.store.device(&user.id, device_id).await? else { return Ok(false) };
    let now = core.now();
    if !device.accepts(&core.hash_key, token, &user.security_stamp, now) {
        return Ok(false);
    }
    core.store.touch_device(&user.id, device_id, now).await?;
    Ok(true)
}

async fn signed_in(core: &Core, user: &User, amr: &[&str]) -> Result<Response, ApiError> {
    if user.failed_count > 0 {
        core.store.update_user(&user.id, &UserPatch { reset_failures: true, ..Default::default() }).await?;
    }
    tracing::info!(user_id = %user.id, amr = ?amr, "signed in");
    Ok(json(StatusCode::OK, &issue_access(core, user, amr, None)?))
}

/// Starts the second step. The failure count is not reset here: failed passwords
/// and failed codes add up to one lockout, so knowing the password does not buy
/// unlimited guesses at the code.
async fn second_factor(core: &Core, user: &User, eff: &Effective) -> Result<Response, ApiError> {
    let providers = usable_providers(user, eff);
    let now = core.now();
    let base = NewToken {
        user_id: user.id.clone(),
        scope: user.scope.key(),
        roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        amr: vec!["pwd".into()],
        ..Default::default()
    };
    if providers.is_empty() && user.recovery_codes.is_empty() {
        // ABP signs such a user in without a second factor; we only let them enrol one.
        let setup_token = core.tokens.issue(TokenKind::Setup, base, now)?;
        tracing::info!(user_id = %user.id, "two-factor setup required");
        return Ok(json(StatusCode::OK, &json!({ "status": "two_factor_setup_required", "setup_token": setup_token })));
    }
    let sid = random_token(16)?;
    core.store
        .update_user(&user.id, &UserPatch { pending_sign_in: Some(Some(sid.clone())), ..Default::default() })
        .await?;
    let token = core.tokens.issue(TokenKind::TwoFactor, NewToken { sid: Some(sid), ..base }, now)?;
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
