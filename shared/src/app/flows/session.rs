//! A user's sessions: what each of their tokens carries (who, which side, which
//! roles, the security stamp), the caller a presented one names, the access token a
//! sign-in ends with, and the fresh one a change that rotates the caller's own stamp
//! hands back.
//!
//! Every token names the user's security stamp (a keyed digest of it), and every
//! authenticated route compares it with the stamp of the user it reads anyway: a
//! change that rotates the stamp ([`rotate_stamp`]) ends every access and setup token
//! issued before it, at no extra store read; every request after it is refused. A
//! request that read the user just before it is still in flight: one that hands out
//! a token under a new stamp writes that stamp only while the one it was
//! authenticated under is still the user's, in the same write (see [`rotate_stamp`]),
//! so no such request outruns a sign-out.

use super::FlowError;
use crate::amr::{Amr, rfc8176};
use crate::app::Core;
use crate::audit::Origin;
use crate::ids::SessionId;
use crate::secret::Secret;
use crate::sessions::{Session, new_refresh_token, refresh_token_hash};
use crate::tokens::{Claims, FreshAccess, NewToken, SignedIn, TokenError, TokenKind};
use crate::user::{User, UserPatch};

/// The caller of an authenticated route: who, and with which kind of token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The kind of token presented.
    pub kind: TokenKind,
    /// Its claims.
    pub claims: Claims,
    /// The user, freshly read.
    pub user: User,
}

impl Caller {
    /// Whether the caller's token is an access token whose second factor is at most
    /// `max_age` seconds old at `now`.
    pub fn has_fresh_second_factor(&self, now: i64, max_age: i64) -> bool {
        self.kind == TokenKind::Access && self.claims.mfa_at.is_some_and(|t| now - t <= max_age)
    }

    /// Whether the caller's session was signed in (with whatever it proved) at most
    /// `max_age` seconds before `now`: a refresh carries the sign-in's time on, so an
    /// old session or a stolen token does not pass. A setup token is minted by the
    /// password check and lives 10 minutes: it passes.
    pub fn signed_in_recently(&self, now: i64, max_age: i64) -> bool {
        match self.kind {
            TokenKind::Access => self.claims.auth_time.is_some_and(|t| now - t <= max_age),
            TokenKind::Setup => true,
            _ => false,
        }
    }
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
///
/// It makes a `Caller` without the stamp check: only `api::authenticate` (which
/// adds it) and [`super::pending_sign_in`] (whose kind is held by its sign-in id)
/// may call it, so no handler can take it for authentication.
pub(crate) async fn user_of_token(
    core: &Core,
    kinds: &[TokenKind],
    token: &str,
) -> Result<Caller, FlowError> {
    let now = core.now();
    let (kind, claims) = kinds
        .iter()
        .find_map(|k| core.tokens.verify(*k, token, now).ok().map(|c| (*k, c)))
        .ok_or(FlowError::Unauthorized)?;
    // An access token holds only while its session does (not ended, not expired,
    // under the user's stamp): read beside the user, in the same round trip.
    let user = if kind == TokenKind::Access {
        let sid = claims.session_id().ok_or(FlowError::Unauthorized)?;
        let (user, session) = core.store.user_and_session(&claims.sub, &sid).await?;
        let user = user.ok_or(FlowError::Unauthorized)?;
        let session = session.ok_or(FlowError::Unauthorized)?;
        if !session.is_live(&user.security_stamp, now) {
            return Err(FlowError::Unauthorized);
        }
        user
    } else {
        core.store
            .user(&claims.sub)
            .await?
            .ok_or(FlowError::Unauthorized)?
    };
    if user.side != claims.side() {
        return Err(FlowError::Unauthorized);
    }
    Ok(Caller { kind, claims, user })
}

/// What every token for `user` carries: who, which side, which roles, and the stamp.
pub fn token_for(core: &Core, user: &User) -> NewToken {
    NewToken {
        user_id: user.id.clone(),
        side: Some(user.side.clone()),
        roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        stamp: Some(stamp_digest(core, user)),
        ..Default::default()
    }
}

/// Where a sign-in was asked from: the issuer its tokens name when `TOKEN_ISSUER`
/// is not set (the URL the request came to), and the client, for its session.
#[derive(Debug, Clone, Default)]
pub struct SignInFrom {
    /// `https://` and the request's host, when it had one.
    pub issuer: Option<String>,
    /// The client's address and User-Agent.
    pub origin: Origin,
}

/// Signs `user` in, who proved `amr` (`mfa_at` when a second factor was proven,
/// for step-up): starts a session ([`start_session`]) and answers its first access
/// token and refresh token.
pub async fn issue_access(
    core: &Core,
    user: &User,
    amr: &[Amr],
    mfa_at: Option<i64>,
    from: &SignInFrom,
) -> Result<SignedIn, FlowError> {
    let started = start_session(core, user, amr, mfa_at, from).await?;
    Ok(started.signed_in(core, user, from)?)
}

/// A session written and not yet handed out: its refresh token exists only here.
pub struct StartedSession {
    session: Session,
    refresh: Secret<String>,
}

impl StartedSession {
    /// Ends the session a refused sign-in started (best effort: nobody holds its
    /// refresh token, but it would be listed and count toward the bound).
    pub async fn abandon(&self, core: &Core) {
        let s = &self.session;
        if let Err(e) = core
            .store
            .end_session(&s.user_id, &s.session_id, core.now())
            .await
        {
            tracing::warn!(user_id = %s.user_id, error = %e, "a session no sign-in handed out was not ended; it expires unused");
        }
    }

    /// The `signed_in` body that hands the session out.
    pub fn signed_in(
        self,
        core: &Core,
        user: &User,
        from: &SignInFrom,
    ) -> Result<SignedIn, TokenError> {
        session_tokens(core, user, &self.session, self.refresh, from.issuer.clone())
    }
}

/// Writes a new session for `user` (`REFRESH_TOKEN_TTL_SECONDS` long, one write;
/// the oldest beyond [`crate::sessions::MAX_PER_USER`] are forgotten). A sign-in
/// starts it before the write that spends its code or password attempt: should
/// this write fail, nothing is spent and the client may try again; should the
/// spend fail after it, the session is never handed out and nobody holds its
/// refresh token.
pub async fn start_session(
    core: &Core,
    user: &User,
    amr: &[Amr],
    mfa_at: Option<i64>,
    from: &SignInFrom,
) -> Result<StartedSession, FlowError> {
    let now = core.now();
    let session_id = SessionId::random().map_err(TokenError::from)?;
    let refresh =
        new_refresh_token(&core.hash_key, &user.id, &session_id, 0).map_err(TokenError::from)?;
    let session = Session {
        user_id: user.id.clone(),
        session_id,
        generation: 0,
        refresh_hash: refresh_token_hash(&core.hash_key, refresh.expose()),
        security_stamp: user.security_stamp.clone(),
        amr: amr.to_vec(),
        auth_time: now,
        mfa_at,
        created_at: now,
        last_used_at: now,
        expires_at: now + core.config.refresh_token_ttl_seconds,
        ip: from.origin.ip.clone(),
        user_agent: from.origin.user_agent.clone(),
        rotation_id: String::new(),
    };
    core.store.put_session(&session).await?;
    Ok(StartedSession { session, refresh })
}

/// The body that hands out `session`'s access token and its refresh token `refresh`.
pub(super) fn session_tokens(
    core: &Core,
    user: &User,
    session: &Session,
    refresh: Secret<String>,
    issuer: Option<String>,
) -> Result<SignedIn, TokenError> {
    let now = core.now();
    let token = core.tokens.issue(
        TokenKind::Access,
        NewToken {
            amr: rfc8176(&session.amr),
            mfa_at: session.mfa_at,
            auth_time: Some(session.auth_time),
            sid: Some(session.session_id.to_string()),
            not_after: Some(session.expires_at),
            issuer,
            ..token_for(core, user)
        },
        now,
    )?;
    let lifetime = core.tokens.lifetime(TokenKind::Access);
    Ok(SignedIn {
        status: "signed_in",
        access_token: token,
        token_type: "Bearer",
        expires_in: session.expires_at.min(now + lifetime) - now,
        refresh_token: refresh.expose().clone(),
        refresh_expires_in: session.expires_at - now,
        remember_browser_token: None,
    })
}

/// Writes `patch` to `user` with a new security stamp: every remembered browser of
/// the user, and every access and setup token issued for it before, stop working.
/// Returns the user as changed and, when the caller changed its own account with an
/// access token, a [`FreshAccess`] to go on with. A setup token's holder signs in again.
///
/// A change to the caller's own account is written only while the stamp the caller
/// was authenticated under is still the user's ([`UserPatch::under_stamp`], in the
/// same write): a request in flight when a sign-out everywhere or a password change
/// landed answers 401 `unauthorized` and changes nothing, rather than handing out a
/// token under a stamp of its own making that would outlive the sign-out. A change
/// an admin makes to someone else's account hands that account no token, so it is
/// not held to the account's stamp but to the admin's ([`UserPatch::by`]): a stolen
/// admin session's request in flight cannot land after the admin signed out
/// everywhere. Changes whose point is to end sessions use [`end_sessions`] instead.
pub async fn rotate_stamp(
    core: &Core,
    caller: &Caller,
    user: &User,
    patch: UserPatch,
) -> Result<(User, Option<FreshAccess>), FlowError> {
    let patch = patch.rotating_stamp().by(&caller.user, &user.id);
    // A refusal for the stamp is `Conflict(STAMP)`, which the edge answers 401.
    core.store.update_user(&user.id, &patch).await?;
    let mut changed = user.clone();
    patch.apply(&mut changed);
    let fresh = fresh_access(core, caller, &changed).await?;
    Ok((changed, fresh))
}

/// Writes `patch` to `user` with a new security stamp, whatever stamp is current: for
/// the changes whose point is to end every session (sign-out everywhere, forgetting
/// every browser), which answer 204 and hand out no token. Nothing in flight can make
/// them fail, and the stamp they write ends every token issued before it, those that
/// requests in flight got from [`rotate_stamp`] meanwhile included.
pub async fn end_sessions(core: &Core, user: &User, patch: UserPatch) -> Result<(), FlowError> {
    core.store
        .update_user(&user.id, &patch.rotating_stamp())
        .await?;
    Ok(())
}

/// The [`FreshAccess`] for a caller whose own account is now `changed` (written with
/// [`UserPatch::rotating_stamp`], by [`rotate_stamp`] or in a route's own single
/// write, and [`UserPatch::under_stamp`] the caller's stamp, so that the write
/// was refused had the caller's session ended meanwhile); `None` for a setup token
/// or someone else's account.
///
/// The stamp change ended every session; the caller's own goes on under the new
/// stamp (written after the user, so a crash between ends it rather than keeping
/// another alive). A session ended meanwhile stays ended: no token then.
pub async fn fresh_access(
    core: &Core,
    caller: &Caller,
    changed: &User,
) -> Result<Option<FreshAccess>, FlowError> {
    if caller.kind != TokenKind::Access || caller.user.id != changed.id {
        return Ok(None);
    }
    let Some(sid) = caller.claims.session_id() else {
        return Ok(None);
    };
    if !core
        .store
        .restamp_session(&changed.id, &sid, &changed.security_stamp)
        .await?
    {
        return Ok(None);
    }
    let now = core.now();
    let c = &caller.claims;
    let token = core.tokens.issue(
        TokenKind::Access,
        NewToken {
            amr: c.amr.clone(),
            mfa_at: c.mfa_at,
            auth_time: c.auth_time,
            sid: c.sid.clone(),
            not_after: Some(c.exp),
            issuer: Some(c.iss.clone()),
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
