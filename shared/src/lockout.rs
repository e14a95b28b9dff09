//! Account lockout as ASP.NET Core Identity does it: every failed password or code
//! counts; at the limit the account locks for a while; a success resets the count.
//! The store moves the counter atomically; these pure rules read what it returned,
//! and `flows::attempt` takes, counts and ends attempts through the store.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// The most failures a side may allow before locking: NIST SP 800-63B caps
/// consecutive failed attempts at 100.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// The longest lock a side may set: 30 days.
pub const MAX_LOCKOUT_SECONDS: i64 = 30 * 86_400;

/// The lockout settings: the function's defaults, or one side's own values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    /// Failures that lock the account (`LOCKOUT_MAX_FAILED_ATTEMPTS`, default 5).
    pub max_failed_attempts: u32,
    /// How long a lock lasts (`LOCKOUT_DURATION_SECONDS`, default 300).
    pub duration_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failed_attempts: 5,
            duration_seconds: 300,
        }
    }
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Counted; this many attempts remain before the lock.
    Counted {
        /// Attempts left before the account locks.
        attempts_remaining: u32,
    },
    /// This failure reached the limit: lock until then.
    LockNow {
        /// When the lock ends.
        until: Timestamp,
    },
}

impl LockoutPolicy {
    /// Values an admin chose: 1 to 100 attempts, 1 second to 30 days; otherwise
    /// the name of the field out of range.
    pub fn checked(max_failed_attempts: u32, duration_seconds: i64) -> Result<Self, &'static str> {
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&max_failed_attempts) {
            return Err("max_failed_attempts");
        }
        if !(1..=MAX_LOCKOUT_SECONDS).contains(&duration_seconds) {
            return Err("lockout_seconds");
        }
        Ok(Self {
            max_failed_attempts,
            duration_seconds,
        })
    }

    /// Decides from the failure count the store's atomic increment returned.
    /// Every caller whose increment reached the limit locks (idempotently), so
    /// concurrent failures never get past it.
    pub fn after_failure(&self, failed_count: u32, now: Timestamp) -> AfterFailure {
        if failed_count >= self.max_failed_attempts {
            AfterFailure::LockNow {
                until: now + self.duration_seconds,
            }
        } else {
            AfterFailure::Counted {
                attempts_remaining: self.max_failed_attempts - failed_count,
            }
        }
    }
}

/// Seconds until a lock ending at `lockout_end` is over, if it is still on at `now`.
pub fn locked_for(lockout_end: Option<Timestamp>, now: Timestamp) -> Option<i64> {
    match lockout_end {
        Some(end) if end > now => Some(end - now),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_failure_locks_for_five_minutes_by_default() {
        let p = LockoutPolicy::default();
        assert_eq!(
            p.after_failure(1, 100),
            AfterFailure::Counted {
                attempts_remaining: 4
            }
        );
        assert_eq!(
            p.after_failure(4, 100),
            AfterFailure::Counted {
                attempts_remaining: 1
            }
        );
        assert_eq!(
            p.after_failure(5, 100),
            AfterFailure::LockNow { until: 400 }
        );
        assert_eq!(
            p.after_failure(17, 100),
            AfterFailure::LockNow { until: 400 }
        );
    }

    #[test]
    fn a_side_may_choose_1_to_100_attempts_and_1_second_to_30_days() {
        assert!(LockoutPolicy::checked(1, 1).is_ok());
        assert!(LockoutPolicy::checked(100, 30 * 86_400).is_ok());
        assert_eq!(LockoutPolicy::checked(0, 60), Err("max_failed_attempts"));
        assert_eq!(LockoutPolicy::checked(101, 60), Err("max_failed_attempts"));
        assert_eq!(LockoutPolicy::checked(5, 0), Err("lockout_seconds"));
        assert_eq!(
            LockoutPolicy::checked(5, 30 * 86_400 + 1),
            Err("lockout_seconds")
        );
    }

    #[test]
    fn a_lock_is_on_until_its_end_and_then_off() {
        assert_eq!(locked_for(Some(400), 100), Some(300));
        assert_eq!(locked_for(Some(400), 400), None);
        assert_eq!(locked_for(None, 100), None);
    }
}
