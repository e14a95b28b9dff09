//! Tokens for a user: what each carries (who, which side, which roles, the security
//! stamp), the user a presented one names, the access token a sign-in ends with,
//! and the fresh one a change that rotates the caller's own stamp hands back.
//!
//! Every token names the user's security stamp (a keyed digest of it), and every
//! authenticated route compares it with the stamp of the user it reads anyway: a
//! change that rotates the stamp ([`rotate_stamp`]) ends every access and setup token
//! issued before it, at no extra store read. A request that read the user just
//! before a concurrent rotation still finishes; every later one is refused.

use serde::Serialize;

use super::{NewToken, TokenError, TokenKind};
use crate::api::{ApiError, Caller};
use crate::app::Core;
use crate::user::{User, UserPatch};

/// The body of a successful sign-in.
#[derive(Debug, Serialize)]
pub struct SignedIn {
    /// Always `signed_in`.
    pub status: &'static str,
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A remember-browser token, when one was asked for and allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_browser_token: Option<String>,
}

/// The keyed digest of `user`'s security stamp that tokens carry: it changes with the
/// stamp and tells nothing about it.
pub(crate) fn stamp_digest(core: &Core, user: &User) -> String {
    let mut digest = core
        .hash_key
        .hash(&["security_stamp", &user.id, &user.security_stamp]);
    // 128 bits (22 base64 characters) is plenty to tell stamps apart.
    digest.truncate(22);
    digest
}

/// The user a presented token names, freshly read, as the [`Caller`] it makes: the
/// first of `kinds` the token verifies as (signature, audience, expiry), its claims,
/// and its user, on the side the token names. 401 `unauthorized` for a bad, expired
/// or wrong-kind token, a user that no longer exists, or one of another side. What
/// else holds a token to its user (the stamp, the pending sign-in) is the caller's
/// check: each kind is held by its own.
pub(crate) async fn user_of_token(
    core: &Core,
    kinds: &[TokenKind],
    token: &str,
) -> Result<Caller, ApiError> {
    let now = core.now();
    let (kind, claims) = kinds
        .iter()
        .find_map(|k| core.tokens.verify(*k, token, now).ok().map(|c| (*k, c)))
        .ok_or_else(ApiError::unauthorized)?;
    let user = core
        .store
        .user(&claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if user.scope.key() != claims.scope {
        return Err(ApiError::unauthorized());
    }
    Ok(Caller { kind, claims, user })
}

/// What every token for `user` carries: who, which side, which roles, and the stamp.
pub fn token_for(core: &Core, user: &User) -> NewToken {
    NewToken {
        user_id: user.id.clone(),
        scope: user.scope.key(),
        roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        stamp: Some(stamp_digest(core, user)),
        ..Default::default()
    }
}

/// Issues an access token for `user`, who proved `amr`; `mfa_at` is when a second
/// factor was proven (for step-up), if one was.
pub fn issue_access(
    core: &Core,
    user: &User,
    amr: &[&str],
    mfa_at: Option<i64>,
) -> Result<SignedIn, TokenError> {
    let token = core.tokens.issue(
        TokenKind::Access,
        NewToken {
            amr: amr.iter().map(|s| s.to_string()).collect(),
            mfa_at,
            ..token_for(core, user)
        },
        core.now(),
    )?;
    Ok(SignedIn {
        status: "signed_in",
        access_token: token,
        token_type: "Bearer",
        expires_in: core.tokens.lifetime(TokenKind::Access),
        remember_browser_token: None,
    })
}

/// A new access token for the client whose change just rotated its own stamp, in the
/// body of that change's answer (`access_token`, `expires_in`): the same sign-in,
/// second factor and expiry as the token it replaces, under the new stamp.
#[derive(Debug, Serialize)]
pub struct FreshAccess {
    /// The new access token.
    pub access_token: String,
    /// Seconds until it expires (no later than the one it replaces).
    pub expires_in: i64,
}

/// Writes `patch` to `user` with a new security stamp: every remembered browser of
/// the user, and every access and setup token issued for it before, stop working.
/// Returns the user as changed and, when the caller changed its own account with an
/// access token, a [`FreshAccess`] to go on with. A setup token's holder signs in again;
/// an answer without a body (204) ends the caller's session too.
pub async fn rotate_stamp(
    core: &Core,
    caller: &Caller,
    user: &User,
    patch: UserPatch,
) -> Result<(User, Option<FreshAccess>), ApiError> {
    let patch = patch.rotating_stamp();
    core.store.update_user(&user.id, &patch).await?;
    let mut changed = user.clone();
    patch.apply(&mut changed);
    let fresh = fresh_access(core, caller, &changed)?;
    Ok((changed, fresh))
}

/// The [`FreshAccess`] for a caller whose own account is now `changed` (written with
/// [`UserPatch::rotating_stamp`], by [`rotate_stamp`] or in a route's own single
/// write); `None` for a setup token or someone else's account.
pub fn fresh_access(
    core: &Core,
    caller: &Caller,
    changed: &User,
) -> Result<Option<FreshAccess>, TokenError> {
    if caller.kind != TokenKind::Access || caller.user.id != changed.id {
        return Ok(None);
    }
    let now = core.now();
    let c = &caller.claims;
    let token = core.tokens.issue(
        TokenKind::Access,
        NewToken {
            amr: c.amr.clone(),
            mfa_at: c.mfa_at,
            not_after: Some(c.exp),
            ..token_for(core, changed)
        },
        now,
    )?;
    let expires_in = c.exp.min(now + core.tokens.lifetime(TokenKind::Access)) - now;
    Ok(Some(FreshAccess {
        access_token: token,
        expires_in,
    }))
}

/// The `Set-Cookie` value for a remember-browser token: HttpOnly, Secure, SameSite=Strict.
pub fn remember_cookie(cookie_name: &str, token: &str, max_age_seconds: i64) -> String {
    format!(
        "{cookie_name}={token}; Max-Age={max_age_seconds}; Path=/; HttpOnly; Secure; SameSite=Strict"
    )
}
