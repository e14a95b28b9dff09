//! A wrong code counts toward the account lockout exactly like a wrong password.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::senders::EmailSender;
use twofa::signin::{record_failure, Failure};
use twofa::user::User;

use crate::errors::invalid_code;

/// Counts the failure and answers: 401 `invalid_code` with the attempts left, or 423
/// when this failure locked the account (which also ends its sign-in in progress).
pub async fn wrong_code(core: &Core, email: &dyn EmailSender, user: &User) -> ApiError {
    match record_failure(core, email, user).await {
        Ok(Failure::Counted { attempts_remaining }) => invalid_code(attempts_remaining),
        Ok(Failure::Locked { retry_after }) => ApiError::locked_out(retry_after),
        Err(e) => e.into(),
    }
}
