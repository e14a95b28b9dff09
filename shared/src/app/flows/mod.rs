//! The use cases a handler drives through the [`Core`](crate::app::Core): a password
//! or code attempt ([`attempt`]), a user's sessions and tokens ([`session`]), a
//! session's refresh and revocation ([`refresh`]), the
//! sign-in a two-factor token carries on ([`sign_in`]), the read of a side's
//! policy ([`side`]) and a WebAuthn ceremony's two halves ([`passkey`]).
//!
//! The layer between the domain and the HTTP edge (docs/development.md, "Module
//! map"): the code here needs the store, the clock, the keys and the settings
//! together, which the pure domain modules must not (the store itself imports
//! them), and it decides nothing about HTTP. Every refusal it makes is one
//! [`FlowError`], which the edge answers in one place (`From<FlowError> for
//! ApiError` in `api/error.rs`).

pub mod attempt;
#[cfg(feature = "passkeys")]
pub mod passkey;
pub mod refresh;
pub mod session;
pub mod side;
pub mod sign_in;

pub use attempt::{
    Attempt, Outcome, WrongAnswer, attempt_id, begin_attempt, lockout_of, refuse_wrong_answer,
    refuse_wrong_code, right_answer, unknown_email_key,
};
pub use session::{
    Caller, SignInFrom, StartedSession, end_sessions, fresh_access, issue_access, rotate_stamp,
    start_session, token_for,
};
pub(crate) use session::{stamp_digest, user_of_token};
pub use side::load_side;
pub use sign_in::{PendingSignIn, pending_sign_in};

use crate::store::StoreError;
use crate::tokens::TokenError;

/// Why a use case refused or failed: the one error type of this layer. The edge
/// gives each its status and contract code.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A bad, expired or wrong-kind token, a user that no longer exists or is of
    /// another side, or a sign-in that ended (HTTP 401 `unauthorized`).
    #[error("no valid token, user or sign-in")]
    Unauthorized,
    /// A refresh token that renews nothing: unknown, rotated, revoked or expired,
    /// or its user's stamp changed, locked or gone (HTTP 401 `invalid_grant`).
    #[error("the refresh token renews no session")]
    InvalidGrant,
    /// The account is locked (HTTP 423 `locked_out`).
    #[error("the account is locked for {retry_after} more seconds")]
    LockedOut {
        /// Seconds until the lock ends.
        retry_after: i64,
    },
    /// A wrong, used or replaced code, counted (HTTP 401 `invalid_code`).
    #[error("a wrong code; {attempts_remaining} attempts left")]
    WrongCode {
        /// Attempts left before the account locks.
        attempts_remaining: u32,
    },
    /// Too little time left before the request's deadline to judge an attempt; it
    /// was not counted (HTTP 503 `service_unavailable`).
    #[error("no time left to judge an attempt before the deadline")]
    NoTimeLeft,
    /// The account changed while a right answer was being checked; nothing was
    /// written (HTTP 409 `conflict`).
    #[error("the account changed while this answer was checked")]
    AccountChanged,
    /// The store failed, or refused a write made under a stamp that changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A token could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Passkeys are not configured, or the side does not allow them (HTTP 400
    /// `provider_unavailable`).
    #[error("passkeys are not available here")]
    PasskeysOff,
    /// A ceremony that is unknown, expired, finished already or another caller's
    /// (HTTP 400 `invalid_ceremony`).
    #[error("no such ceremony in flight for this caller")]
    InvalidCeremony,
}
