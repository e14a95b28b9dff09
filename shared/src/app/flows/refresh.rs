//! A session after its sign-in: renewing its access token with its refresh token
//! (rotated at every use, RFC 9700 4.14), revoking it (RFC 7009), and the user's
//! list of sessions.
//!
//! A refresh token names its session and generation and carries a tag only twofa
//! can make ([`crate::sessions`]); the session keeps a keyed hash of the current
//! one. One conditional write moves the session to the next generation: of two
//! refreshes of one token exactly one wins, and the loser is refused. A token of an
//! earlier generation, presented again after it was rotated, ends the session: the
//! token was copied, and which copy is the thief's cannot be told. Only within two
//! seconds of its rotation, and from the address and browser the session signed in
//! from, is the token just replaced taken for the loser of a race (refused, the
//! session left alone).

use super::session::session_tokens;
use super::{FlowError, SignInFrom, load_side};
use crate::amr::Amr;
use crate::app::Core;
use crate::crypto::{constant_time_eq, random_token};
use crate::ids::{SessionId, UserId};
use crate::sessions::{Session, new_refresh_token, parse_refresh_token, refresh_token_hash};
use crate::store::Rotation;
use crate::tokens::{SignedIn, TokenError};

/// How long after a rotation the token it replaced, coming again from the client
/// the session signed in from, is taken for a refresh sent beside the winning one,
/// not for a copy: refused, without ending the session.
const RACE_SECONDS: i64 = 2;

/// Renews a session: a new access token of the same sign-in (its `amr`, `acr`,
/// `auth_time`) and the next refresh token, naming the issuer the request came to
/// when `TOKEN_ISSUER` is unset. [`FlowError::InvalidGrant`] for a token twofa did not
/// make, one of an ended or expired session, of a user whose stamp changed, who is
/// locked out or gone, or one already rotated (which also ends the session).
pub async fn refresh(core: &Core, token: &str, from: &SignInFrom) -> Result<SignedIn, FlowError> {
    let presented = parse_refresh_token(&core.hash_key, token).ok_or(FlowError::InvalidGrant)?;
    let now = core.now();
    let (user, session) = core
        .store
        .user_and_session(&presented.user_id, &presented.session_id)
        .await?;
    let (Some(user), Some(session)) = (user, session) else {
        return Err(FlowError::InvalidGrant);
    };
    if !session.is_live(&user.security_stamp, now)
        || crate::lockout::locked_for(user.lockout_end, now).is_some()
    {
        return Err(FlowError::InvalidGrant);
    }
    if presented.generation + 1 == session.generation
        && now - session.last_used_at <= RACE_SECONDS
        && same_client(&session, from)
    {
        // The token rotated a moment ago, and this comes from the client the session
        // signed in from: a refresh sent beside the one that won (two tabs), refused
        // like the loser of the write, the session left alone. From anywhere else it
        // is a copy, and ends the session below.
        tracing::warn!(user_id = %user.id, session_id = %session.session_id, "a refresh token rotated a moment ago came again from the same client; refused");
        return Err(FlowError::InvalidGrant);
    }
    if presented.generation < session.generation {
        // A rotated token again: whoever holds the current one may be the thief.
        core.store
            .end_session(&user.id, &session.session_id, now)
            .await?;
        tracing::warn!(user_id = %user.id, session_id = %session.session_id, "a rotated refresh token was presented again; the session is ended");
        return Err(FlowError::InvalidGrant);
    }
    // A session that began without a second factor ends when the account's policy
    // now asks for one (a forced 2FA, or the user turning it on): its refreshes would
    // otherwise go on at aal1 for the rest of the session's life.
    if !session
        .amr
        .iter()
        .any(|a| a.is_second_factor() || *a == Amr::Device)
    {
        let side = load_side(core.store.as_ref(), &user.side)
            .await?
            .ok_or(FlowError::InvalidGrant)?;
        if side.effective(user.two_factor_enabled).enabled {
            return Err(FlowError::InvalidGrant);
        }
    }
    if presented.generation != session.generation
        || !constant_time_eq(
            &session.refresh_hash,
            &refresh_token_hash(&core.hash_key, token),
        )
    {
        return Err(FlowError::InvalidGrant);
    }
    let next = session.generation + 1;
    let refresh = new_refresh_token(&core.hash_key, &user.id, &session.session_id, next)
        .map_err(TokenError::from)?;
    let rotation = Rotation {
        from_generation: session.generation,
        refresh_hash: refresh_token_hash(&core.hash_key, refresh.expose()),
        rotation_id: random_token(16).map_err(TokenError::from)?,
        now,
        user_stamp: user.security_stamp.clone(),
    };
    // The loser of two refreshes of one token, sent together, is refused without
    // ending the session: the winner's new token goes on.
    if !core
        .store
        .rotate_session(&user.id, &session.session_id, &rotation)
        .await?
    {
        return Err(FlowError::InvalidGrant);
    }
    let renewed = Session {
        generation: next,
        last_used_at: now,
        ..session
    };
    Ok(session_tokens(
        core,
        &user,
        &renewed,
        refresh,
        from.issuer.clone(),
    )?)
}

/// Whether a request comes from the address and browser the session signed in from.
fn same_client(session: &Session, from: &SignInFrom) -> bool {
    session.ip.is_some()
        && session.ip == from.origin.ip
        && session.user_agent == from.origin.user_agent
}

/// Ends the session a refresh token of any generation names (RFC 7009: the answer
/// is the same whatever the token was). A token twofa did not make changes nothing.
pub async fn revoke(core: &Core, token: &str) -> Result<(), FlowError> {
    if let Some(presented) = parse_refresh_token(&core.hash_key, token) {
        core.store
            .end_session(&presented.user_id, &presented.session_id, core.now())
            .await?;
    }
    Ok(())
}

/// The user's sessions that still hold (not ended, not expired, under the current
/// stamp), oldest first.
pub async fn live_sessions(
    core: &Core,
    user: &crate::user::User,
) -> Result<Vec<Session>, FlowError> {
    let now = core.now();
    let mut list = core.store.sessions(&user.id).await?;
    list.retain(|s| s.is_live(&user.security_stamp, now));
    Ok(list)
}

/// Ends one of the user's sessions; `false` when it has none by that id.
pub async fn end_session(
    core: &Core,
    user_id: &UserId,
    session_id: &SessionId,
) -> Result<bool, FlowError> {
    Ok(core
        .store
        .end_session(user_id, session_id, core.now())
        .await?)
}
