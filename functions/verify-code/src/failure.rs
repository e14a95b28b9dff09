//! A code that is neither right nor a guess. (A wrong code counts toward the lockout
//! exactly like a wrong password: `twofa::flows::refuse_wrong_code`.)

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::flows::{Attempt, right_answer};
use twofa::store::{Spend, Success};
use twofa::user::{User, UserPatch};

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
    right_answer(core, &user.id, &success).await?;
    Ok(())
}
