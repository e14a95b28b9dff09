//! Send limits against SMS pumping and mail floods: a resend cooldown per user and
//! purpose, and hourly caps per user, per destination and per tenant. The store
//! reads the windows and writes them back only if nobody moved them meanwhile;
//! deciding is pure.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// One counter: how many sends since `window_end - length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Sends counted in this window.
    pub count: u32,
    /// When the window closes and the count starts again.
    pub window_end: Timestamp,
}

/// A limit: at most `max` sends per `seconds`, counted under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What is counted, e.g. `cooldown:<user>:<purpose>` or `dest:<number>`.
    pub key: String,
    /// Sends allowed per window.
    pub max: u32,
    /// Window length in seconds.
    pub seconds: i64,
}

/// The outcome of checking limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: write these windows back (same order as the limits).
    Allow(Vec<Window>),
    /// Refused: try again after this many seconds.
    Refuse {
        /// Seconds until the limit that refused opens again.
        retry_after: i64,
    },
}

/// Decides whether one more send fits every limit, given the stored windows.
pub fn decide(limits: &[Limit], current: &[Option<Window>], now: Timestamp) -> Decision {
    let mut next = Vec::with_capacity(limits.len());
    let mut retry_after = 0;
    for (limit, w) in limits.iter().zip(current) {
        match w {
            Some(w) if w.window_end > now => {
                if w.count >= limit.max {
                    retry_after = retry_after.max(w.window_end - now);
                }
                next.push(Window { count: w.count + 1, window_end: w.window_end });
            }
            _ => next.push(Window { count: 1, window_end: now + limit.seconds }),
        }
    }
    if retry_after > 0 { Decision::Refuse { retry_after } } else { Decision::Allow(next) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: u32, seconds: i64) -> Limit {
        Limit { key: "k".into(), max, seconds }
    }

    #[test]
    fn a_cooldown_refuses_a_resend_until_it_has_passed() {
        let l = [limit(1, 30)];
        let Decision::Allow(w) = decide(&l, &[None], 100) else { panic!("first send refused") };
        assert_eq!(decide(&l, &[Some(w[0])], 110), Decision::Refuse { retry_after: 20 });
        assert!(matches!(decide(&l, &[Some(w[0])], 130), Decision::Allow(_)));
    }

    #[test]
    fn an_hourly_cap_counts_up_to_its_maximum() {
        let l = [limit(3, 3600)];
        let mut w = None;
        for _ in 0..3 {
            match decide(&l, &[w], 0) {
                Decision::Allow(v) => w = Some(v[0]),
                r => panic!("refused early: {r:?}"),
            }
        }
        assert_eq!(decide(&l, &[w], 600), Decision::Refuse { retry_after: 3000 });
    }

    #[test]
    fn the_longest_wait_of_the_limits_that_refuse_is_reported() {
        let l = [limit(1, 30), limit(1, 3600)];
        let cur = [Some(Window { count: 1, window_end: 20 }), Some(Window { count: 1, window_end: 3000 })];
        assert_eq!(decide(&l, &cur, 10), Decision::Refuse { retry_after: 2990 });
    }
}
