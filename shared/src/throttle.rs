//! Send limits against SMS pumping and mail floods: a resend cooldown per user and
//! purpose, and hourly caps per user, per destination, per source address and per
//! tenant (sign-in codes and confirmations on separate budgets, so throwaway
//! accounts confirming addresses cannot starve sign-ins).
//!
//! Each limit is its own counter, counted by one atomic step in the store
//! ([`crate::store::ThrottleStore::take_send`]): concurrent sends never make each
//! other fail, they only count. The rule that step applies is [`Limit::take`].

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// One counter: how many sends since the window opened (`window_end - seconds`).
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

/// What counting one send under a limit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Counted: the window now.
    Counted(Window),
    /// Not counted: this window is full.
    Full(Window),
}

impl Limit {
    /// The window after one more send at `now`: a window that has ended starts
    /// again at one, a live one counts up to `max`; `Err` with the full window.
    pub fn take(&self, current: Option<Window>, now: Timestamp) -> Result<Window, Window> {
        match current {
            Some(w) if w.window_end > now && w.count >= self.max => Err(w),
            Some(w) if w.window_end > now => Ok(Window {
                count: w.count + 1,
                window_end: w.window_end,
            }),
            _ => Ok(self.fresh(now)),
        }
    }

    /// A window opened by a send at `now`.
    pub fn fresh(&self, now: Timestamp) -> Window {
        Window {
            count: 1,
            window_end: now + self.seconds,
        }
    }
}

/// Seconds until every full window among `refused` has closed.
pub fn retry_after(refused: &[Window], now: Timestamp) -> i64 {
    refused
        .iter()
        .map(|w| w.window_end - now)
        .max()
        .unwrap_or(0)
        .max(1)
}

/// The counting key of a source address: an IPv6 client rotates addresses within
/// its /64 at will, so the /64 is what one client is.
pub fn source_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The inbox an address key (lower case) reaches, as far as the address shows it,
/// for the caps on what one destination receives: a `+tag` is dropped, and at
/// Gmail (which ignores dots and answers to two domains) the dots too. Aliases of
/// one inbox (`jo+1@`, `jo+2@`, `j.o@gmail.com`) are separate accounts, but one
/// destination: accounts registered under them cannot mail it past its cap.
pub fn inbox_key(address_key: &str) -> String {
    let Some((local, domain)) = address_key.rsplit_once('@') else {
        return address_key.to_string();
    };
    let local = local.split_once('+').map_or(local, |(base, _)| base);
    let local = if local.is_empty() { "+" } else { local };
    match domain {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
        _ => format!("{local}@{domain}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_of_one_inbox_share_its_key_and_other_inboxes_do_not() {
        assert_eq!(inbox_key("jo+1@example.com"), "jo@example.com");
        assert_eq!(inbox_key("jo+a+b@example.com"), "jo@example.com");
        assert_eq!(inbox_key("j.o+x@googlemail.com"), "jo@gmail.com");
        assert_eq!(inbox_key("j.o@gmail.com"), "jo@gmail.com");
        // Dots matter elsewhere, and so does the domain.
        assert_ne!(inbox_key("j.o@example.com"), inbox_key("jo@example.com"));
        assert_ne!(inbox_key("jo@example.com"), inbox_key("jo@example.org"));
        // An address that is only a tag stays one destination of its own.
        assert_eq!(inbox_key("+tag@example.com"), "+@example.com");
    }

    fn limit(max: u32, seconds: i64) -> Limit {
        Limit {
            key: "k".into(),
            max,
            seconds,
        }
    }

    #[test]
    fn a_cooldown_refuses_a_resend_until_it_has_passed() {
        let l = limit(1, 30);
        let w = l.take(None, 100).expect("first send");
        let full = l
            .take(Some(w), 110)
            .expect_err("a resend within the cooldown");
        assert_eq!(retry_after(&[full], 110), 20);
        assert_eq!(
            l.take(Some(w), 130),
            Ok(Window {
                count: 1,
                window_end: 160
            })
        );
    }

    #[test]
    fn an_hourly_cap_counts_up_to_its_maximum() {
        let l = limit(3, 3600);
        let mut w = None;
        for _ in 0..3 {
            w = Some(l.take(w, 0).expect("within the cap"));
        }
        let full = l.take(w, 600).expect_err("past the cap");
        assert_eq!(retry_after(&[full], 600), 3000);
    }

    #[test]
    fn the_longest_wait_of_the_limits_that_refuse_is_reported() {
        let refused = [
            Window {
                count: 1,
                window_end: 20,
            },
            Window {
                count: 1,
                window_end: 3000,
            },
        ];
        assert_eq!(retry_after(&refused, 10), 2990);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_eq!(source_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
