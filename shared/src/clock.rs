//! Time is injected: every rule about expiry, lockout or TOTP steps takes `now`
//! from a [`Clock`], so tests move time instead of sleeping.

#[cfg(any(test, feature = "testing"))]
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch.
pub type Timestamp = i64;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time in seconds since the Unix epoch.
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// The UTC date of `t`, `YYYY-MM-DD`: for text a person reads (a notice), where a
/// date is enough and pulling in a calendar crate is not.
pub fn utc_date(t: Timestamp) -> String {
    // Howard Hinnant's days-to-civil, on days since 1970-01-01.
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A clock that only moves when told to; for tests.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

#[cfg(any(test, feature = "testing"))]
impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self(AtomicI64::new(now))
    }
    /// Moves the clock by `seconds` (back, when negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

#[cfg(any(test, feature = "testing"))]
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_the_utc_calendar_day() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(4_102_444_799), "2099-12-31");
        assert_eq!(utc_date(4_102_444_800), "2100-01-01");
    }
}
