//! A wrong code counts toward the account lockout exactly like a wrong password.

use twofa::api::{ApiError, Request};
use twofa::app::Core;
use twofa::lockout::{Attempt, WrongAnswer, refuse_wrong_answer, right_answer};
use twofa::senders::EmailSender;
use twofa::store::{Spend, Subject, Success};
use twofa::user::{User, UserPatch};

/// The attempt stays counted: 401 `invalid_code` with the attempts left, or 423 when
/// it used the last slot and locked the account (which also ends its sign-in in progress).
/// `factor` names what was wrong in the `sign_in_failed` event (never the code itself).
pub async fn wrong_code(
    core: &Core,
    email: &dyn EmailSender,
    user: &User,
    attempt: &Attempt,
    req: &Request,
    factor: &'static str,
) -> ApiError {
    let by = WrongAnswer { req, factor };
    refuse_wrong_answer(
        core,
        email,
        Subject::User(&user.id),
        attempt,
        by,
        ApiError::invalid_code,
    )
    .await
}

/// An expired code is not a guess: its attempt gives its slot back.
pub async fn not_a_guess(core: &Core, user: &User, attempt: &Attempt) -> Result<(), ApiError> {
    let success = Success {
        attempt: &attempt.id,
        sid: None,
        spend: Spend::Nothing,
        patch: &UserPatch::default(),
        release_only: true,
        authenticator: None,
    };
    right_answer(core, &user.id, &success).await.map(|_| ())
}
