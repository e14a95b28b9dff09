//! A sign-in waiting for its second factor: what a two-factor token carries on.
//! The parts a sign-in shares with other routes live where they belong: the usable
//! providers in [`crate::policy`], the lockout rule in [`crate::lockout`] and the
//! attempts in [`super::attempt`], tokens in [`super::session`], notices in
//! [`crate::senders`], caller authentication and step-up in the HTTP edge.

use super::FlowError;
use super::session::{Caller, stamp_digest, user_of_token};
use crate::app::Core;
use crate::ids::SignInId;
use crate::tokens::TokenKind;
use crate::user::User;

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// The user, freshly read.
    pub user: User,
    /// The sign-in id the two-factor token carries.
    pub sid: SignInId,
}

/// The sign-in a two-factor token carries on: 401 for a bad token or a sign-in that
/// ended (finished, replaced by a newer login, or ended by a lock, or by a change of
/// the security stamp since the password was checked), 423 while the account is
/// locked. Every copy of the token dies with the sign-in. The stamp matters to a
/// login in flight when the password changed: its sign-in may be written after the
/// change cleared the pending one, but its token still names the old stamp.
pub async fn pending_sign_in(core: &Core, token: &str) -> Result<PendingSignIn, FlowError> {
    let Caller { claims, user, .. } = user_of_token(core, &[TokenKind::TwoFactor], token).await?;
    if let Some(seconds) = crate::lockout::locked_for(user.lockout_end, core.now()) {
        return Err(FlowError::LockedOut {
            retry_after: seconds,
        });
    }
    match claims.sid {
        Some(sid)
            if user.pending_sign_in.as_ref() == Some(&sid)
                && claims.stamp.as_deref() == Some(stamp_digest(core, &user).as_str()) =>
        {
            Ok(PendingSignIn { user, sid })
        }
        _ => Err(FlowError::Unauthorized),
    }
}
