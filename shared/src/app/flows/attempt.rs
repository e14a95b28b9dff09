//! Lockout in the store: one password or code attempt takes its slot before it is
//! judged (see the store's module doc), a wrong answer stays counted and may lock,
//! a right one is written in one conditional write. The counting itself is the
//! store's atomic write; the rules it is read with are the pure ones of
//! [`crate::lockout`].

use super::FlowError;
use super::side::load_side;
use crate::app::Core;
use crate::audit::{EventType, Origin, SecurityEvent};
use crate::ids::{AttemptId, SignInId, UserId};
use crate::lockout::{AfterFailure, LockoutPolicy};
use crate::senders::{EmailSender, notify};
use crate::side::Side;
use crate::store::{HARD_LIMIT, HARD_LOCK_SECONDS, Slot, StoreError, Subject, Succeeded, Success};
use crate::user::User;

/// The lockout values of `user`'s side, for a route that has not read the side
/// anyway (one read; only on a failure path).
pub async fn lockout_of(core: &Core, user: &User) -> Result<LockoutPolicy, StoreError> {
    let defaults = core.config.lockout;
    Ok(load_side(core.store.as_ref(), &user.side)
        .await?
        .map_or(defaults, |side| side.lockout(defaults)))
}

/// What a failed password or code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Counted; this many attempts remain.
    Counted {
        /// Attempts left before the lock.
        attempts_remaining: u32,
    },
    /// The account is locked (by this failure or before it) for this many seconds.
    Locked {
        /// Seconds until the lock ends.
        retry_after: i64,
    },
}

/// One password or code attempt, counted before it is judged (see the store's module doc).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Its id, written with its slot and its success so a retried write knows its own.
    pub id: AttemptId,
    /// The user as the slot's write left it (`None` for an unknown email).
    pub user: Option<User>,
    count: u32,
    streak: u32,
    policy: LockoutPolicy,
}

/// The key an email without an account counts its failures under
/// ([`Subject::Unknown`]): the keyed hash of its side and lower-case address, so
/// login and password reset add up for it as they do for an account.
pub fn unknown_email_key(core: &Core, scope: &Side, email_key: &str) -> String {
    core.hash_key
        .hash(&["unknown-email", &scope.key(), email_key])
}

/// A new attempt id.
pub fn attempt_id() -> Result<AttemptId, crate::crypto::CryptoError> {
    AttemptId::random()
}

/// Takes the attempt's slot: [`FlowError::LockedOut`] while locked, or when every slot is held by
/// attempts not yet judged (which locks the account: an abandoned slot must not
/// refuse forever); [`FlowError::Unauthorized`] when `sid` is no longer the pending
/// sign-in; [`FlowError::NoTimeLeft`] without the time to judge it.
/// `policy` is the lockout of the subject's side ([`crate::tenant::SidePolicy::lockout`]).
pub async fn begin_attempt(
    core: &Core,
    subject: Subject<'_>,
    id: AttemptId,
    sid: Option<&SignInId>,
    policy: LockoutPolicy,
) -> Result<Attempt, FlowError> {
    // A slot is a failure until its success is written: not taken without the time
    // to write both before the request's deadline (see `timeouts::SLOT_NEEDS`).
    if !crate::timeouts::has_time_for(crate::timeouts::SLOT_NEEDS) {
        tracing::warn!("no time left to judge an attempt before the deadline; refused uncounted");
        return Err(FlowError::NoTimeLeft);
    }
    let now = core.now();
    match core
        .store
        .take_slot(subject, &id, sid, policy.max_failed_attempts, now)
        .await?
    {
        Slot::Taken {
            user,
            count,
            streak,
        } => Ok(Attempt {
            id,
            user: user.map(|u| *u),
            count,
            streak,
            policy,
        }),
        Slot::Locked(until) => Err(FlowError::LockedOut {
            retry_after: until - now,
        }),
        Slot::Full => {
            let until = now + policy.duration_seconds;
            core.store.lock(subject, now, until, false).await?;
            tracing::warn!("account locked: every attempt slot was taken at once");
            Err(FlowError::LockedOut {
                retry_after: until - now,
            })
        }
        Slot::Exhausted => {
            let until = now + HARD_LOCK_SECONDS;
            core.store.lock(subject, now, until, true).await?;
            tracing::warn!(
                "account locked long: the lock after the last consecutive failure was never written"
            );
            Err(FlowError::LockedOut {
                retry_after: until - now,
            })
        }
        Slot::Ended => Err(FlowError::Unauthorized),
    }
}

/// A wrong answer, for its `sign_in_failed` event.
#[derive(Debug, Clone)]
pub struct WrongAnswer {
    /// Where the request came from, for the event.
    pub origin: Origin,
    /// What was wrong (`password`, `authenticator`, `reset_code`…; never the answer).
    pub factor: &'static str,
}

/// The one way a handler answers a wrong password or code. The attempt stays counted
/// and the one that used the last slot locks the account (`wrong_answer`); the
/// `sign_in_failed` event is recorded, with `locked_out` in the same write when this
/// answer locked it: on the account, or for an email without one under its keyed
/// hash, so that both refusals cost the same store requests (the store's module doc).
/// The answer is [`FlowError::LockedOut`] when the count this attempt's own slot
/// write returned reached the limit (never an earlier read), else `counted` of the
/// attempts left: each route words that refusal its own way (a wrong password is not
/// a wrong code), in its own error type.
pub async fn refuse_wrong_answer<E: From<FlowError>>(
    core: &Core,
    email: &dyn EmailSender,
    subject: Subject<'_>,
    attempt: &Attempt,
    by: WrongAnswer,
    counted: impl FnOnce(u32) -> E,
) -> E {
    let failure = match wrong_answer(core, email, subject, attempt).await {
        Ok(failure) => failure,
        Err(e) => return FlowError::from(e).into(),
    };
    record_wrong_answer(core, subject, attempt, by, failure).await;
    match failure {
        Failure::Counted { attempts_remaining } => counted(attempts_remaining),
        Failure::Locked { retry_after } => FlowError::LockedOut { retry_after }.into(),
    }
}

/// A wrong code from `user` (a second factor, a confirmation, an enrolment):
/// [`refuse_wrong_answer`] on the account, answered [`FlowError::WrongCode`] with
/// the attempts left, or [`FlowError::LockedOut`]. `from` is where the request came
/// from, and `factor` names what was wrong, for the event.
pub async fn refuse_wrong_code(
    core: &Core,
    email: &dyn EmailSender,
    user: &User,
    attempt: &Attempt,
    from: impl Into<Origin>,
    factor: &'static str,
) -> FlowError {
    let by = WrongAnswer {
        origin: from.into(),
        factor,
    };
    refuse_wrong_answer(core, email, Subject::User(&user.id), attempt, by, |n| {
        FlowError::WrongCode {
            attempts_remaining: n,
        }
    })
    .await
}

/// The attempt was wrong: it stays counted; the one that used the last slot locks
/// the account (ending any sign-in in progress, so its two-factor token dies) and
/// sends the lockout notice. After [`HARD_LIMIT`] consecutive failures the lock is long.
async fn wrong_answer(
    core: &Core,
    email: &dyn EmailSender,
    subject: Subject<'_>,
    attempt: &Attempt,
) -> Result<Failure, StoreError> {
    let now = core.now();
    let hard = attempt.streak >= HARD_LIMIT;
    let until = match attempt.policy.after_failure(attempt.count, now) {
        _ if hard => now + HARD_LOCK_SECONDS,
        AfterFailure::LockNow { until } => until,
        AfterFailure::Counted { attempts_remaining } => {
            return Ok(Failure::Counted { attempts_remaining });
        }
    };
    core.store.lock(subject, now, until, hard).await?;
    // The notice is awaited, which would make the attempt that locks a real account
    // answer later than the one that locks an unknown email; login answers every 423
    // after the same floor (`LOCKED_ANSWER_MS`) to hide it. Sending it after the
    // answer is unreliable in Lambda (the environment freezes once it answered).
    if let Some(user) = &attempt.user {
        tracing::warn!(user_id = %user.id, "account locked after repeated failures");
        notify(
            email,
            user,
            "Your account was locked",
            "Your account was locked for a while after several failed sign-in attempts.",
        )
        .await;
    }
    Ok(Failure::Locked {
        retry_after: until - now,
    })
}

/// Records a wrong answer's `sign_in_failed` event, and with it, in the same write,
/// the `locked_out` event when this answer locked the account: on the user the slot
/// write returned, or under an unknown email's key.
async fn record_wrong_answer(
    core: &Core,
    subject: Subject<'_>,
    attempt: &Attempt,
    by: WrongAnswer,
    failure: Failure,
) {
    let (now, retention, origin) = (core.now(), core.config.event_retention_days, by.origin);
    let failed = match &attempt.user {
        Some(user) => SecurityEvent::new(EventType::SignInFailed, user, now, retention, &origin),
        None => SecurityEvent::unknown_email(EventType::SignInFailed, now, retention, &origin),
    }
    .detail("factor", by.factor);
    let events = match failure {
        Failure::Counted { .. } => vec![failed],
        Failure::Locked { retry_after } => {
            let locked = failed
                .then(EventType::LockedOut)
                .detail("locked_until", now + retry_after);
            vec![failed, locked]
        }
    };
    let recorded = match (subject, &attempt.user) {
        (Subject::User(_), Some(_)) => core.store.record_events(&events).await,
        (Subject::Unknown(key), None) => core.store.record_unknown_events(key, &events).await,
        // A slot write returns the user for a user's subject, never for an unknown email.
        _ => {
            tracing::error!("a failed attempt's subject and user disagree: no event recorded");
            return;
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, "the failed attempt's events were not recorded");
    }
}

/// What writing a right answer led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted.
    Accepted,
    /// The factor was spent already (used, replayed, replaced): a wrong answer.
    Spent,
}

/// Writes a right answer in one conditional write (see [`Success`]):
/// [`FlowError::LockedOut`] if the account locked while it was judged,
/// [`FlowError::Unauthorized`] if its sign-in ended, [`FlowError::AccountChanged`]
/// if the account changed meanwhile.
pub async fn right_answer(
    core: &Core,
    user_id: &UserId,
    success: &Success<'_>,
) -> Result<Outcome, FlowError> {
    let now = core.now();
    match core.store.succeed(user_id, success, now).await? {
        Succeeded::Done => Ok(Outcome::Accepted),
        Succeeded::Spent => Ok(Outcome::Spent),
        Succeeded::Locked(until) => Err(FlowError::LockedOut {
            retry_after: until - now,
        }),
        Succeeded::Ended => Err(FlowError::Unauthorized),
        Succeeded::Changed => Err(FlowError::AccountChanged),
    }
}
