//! Account lockout as ASP.NET Core Identity does it: every failed password or code
//! counts; at the limit the account locks for a while; a success resets the count.
//! The store moves the counter atomically; these pure rules read what it returned.

use crate::clock::Timestamp;

/// The lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock the account (`LOCKOUT_MAX_FAILED_ATTEMPTS`, default 5).
    pub max_failed_attempts: u32,
    /// How long a lock lasts (`LOCKOUT_DURATION_SECONDS`, default 300).
    pub duration_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { max_failed_attempts: 5, duration_seconds: 300 }
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
    /// Decides from the failure count the store's atomic increment returned.
    /// Every caller whose increment reached the limit locks (idempotently), so
    /// concurrent failures never get past it.
    pub fn after_failure(&self, failed_count: u32, now: Timestamp) -> AfterFailure {
        if failed_count >= self.max_failed_attempts {
            AfterFailure::LockNow { until: now + self.duration_seconds }
        } else {
            AfterFailure::Counted { attempts_remaining: self.max_failed_attempts - failed_count }
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
        assert_eq!(p.after_failure(1, 100), AfterFailure::Counted { attempts_remaining: 4 });
        assert_eq!(p.after_failure(4, 100), AfterFailure::Counted { attempts_remaining: 1 });
        assert_eq!(p.after_failure(5, 100), AfterFailure::LockNow { until: 400 });
        assert_eq!(p.after_failure(17, 100), AfterFailure::LockNow { until: 400 });
    }

    #[test]
    fn a_lock_is_on_until_its_end_and_then_off() {
        assert_eq!(locked_for(Some(400), 100), Some(300));
        assert_eq!(locked_for(Some(400), 400), None);
        assert_eq!(locked_for(None, 100), None);
    }
}
