//! A wrong code counts toward the account lockout exactly like a wrong password.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::senders::EmailSender;
use twofa::signin::{right_answer, wrong_answer, Attempt, Failure};
use twofa::store::{Spend, Subject, Success};
use twofa::user::{User, UserPatch};

use crate::errors::invalid_code;

/// The attempt stays counted: 401 `invalid_code` with the attempts left, or 423 when
/// it used the last slot and locked the account (which also ends its sign-in in progress).
pub async fn wrong_code(core: &Core, email: &dyn EmailSender, user: &User, attempt: &Attempt) -> ApiError {
    match wrong_answer(core, email, Subject::User(&user.id), attempt).await {
        Ok(Failure::Counted { attempts_remaining }) => invalid_code(attempts_remaining),
        Ok(Failure::Locked { retry_after }) => ApiError::locked_out(retry_after),
        Err(e) => e.into(),
    }
}

/// An expired code is not a guess: its attempt gives its slot back.
pub async fn not_a_guess(core: &Core, user: &User, attempt: &Attempt) -> Result<(), ApiError> {
    let success = Success { attempt: &attempt.id, sid: None, spend: Spend::Nothing, patch: &UserPatch::default(), release_only: true, authenticator: None };
    right_answer(core, &user.id, &success).await.map(|_| ())
}
