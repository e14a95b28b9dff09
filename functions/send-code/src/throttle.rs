//! Send limits, checked and counted before anything is sent (SMS pumping costs money
//! whether or not the code is ever used). Every limit is its own counter, counted by
//! one atomic store step, all at once: concurrent sends in one tenant only count,
//! they never make each other fail.
//!
//! The budgets are drawn by who can cause a send. A send a stranger can cause (a
//! confirmation, which any registered account may ask for any number or for an
//! address nobody confirmed; a reset, which anyone may ask for any address) never
//! counts in a budget an owner's sign-in codes are drawn from, and what a stranger
//! can send to someone else's destination is bounded:
//! - sign-in codes go only to a destination the account confirmed, asked with its
//!   password: the account's own budget, the destination's (which only the accounts
//!   that confirmed it, its owners, can spend) and the source address's. No budget
//!   of the side: any account can be registered, so a side-wide cap on sign-in codes
//!   is one that strangers' accounts can fill for everyone else.
//! - confirmations: the account's own budget, the destination's confirmations (apart
//!   from its sign-in codes, so strangers texting a number cannot starve its owner's
//!   sign-in; an address's per side, its aliases' together), the source address's,
//!   and for a text the side's texted confirmations.
//! - resets: one live code per account and security stamp. While a reset code lives,
//!   another request sends nothing, and the code already in the owner's inbox still
//!   works: strangers can neither silence the owner's reset nor void the code being
//!   typed, and they mail the owner at most one code per code lifetime. No budget of
//!   the caller's address: strangers sharing the owner's could spend it.
//!
//! When one limit refuses, the sends the others counted are given back. Otherwise a
//! sender hammering a capped destination (or its own cooldown) would use up its
//! tenant's budget and deny every other user their confirmations. Between the
//! count and the give-back a concurrent send may see one more than there is and be
//! refused; that errs on the safe side and lasts one round trip. A give-back that
//! fails leaves the count high until the window ends: also the safe side.

use futures_util::future::join_all;
use twofa::api::ApiError;
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::throttle::{Limit, Taken, inbox_key, retry_after, source_key};
use twofa::user::User;

const HOUR: i64 = 3600;

/// The limits one send to the destination keyed `destination` (see
/// [`crate::deliver::Destination::key`]) for `purpose`, asked from `source`, counts against.
pub fn limits(
    core: &Core,
    user: &User,
    purpose: CodePurpose,
    destination: &str,
    source: Option<std::net::IpAddr>,
) -> Vec<Limit> {
    let c = &core.config;
    if purpose == CodePurpose::PasswordReset {
        // Bound to the stamp as the code is: a password change or sign-out everywhere
        // ends the code, and so its window, and the owner may ask again at once. The
        // stamp is kept out of the key (keys reach error messages): a keyed digest.
        let stamp = core.hash_key.hash(&["reset-window", &user.security_stamp]);
        return vec![Limit {
            key: format!("reset:{}:{}", user.id, &stamp[..16]),
            max: 1,
            seconds: c.code_ttl_seconds,
        }];
    }
    let mut limits = Vec::with_capacity(5);
    if c.resend_cooldown_seconds > 0 {
        limits.push(Limit {
            key: format!("cooldown:{}:{}", user.id, purpose.as_str()),
            max: 1,
            seconds: c.resend_cooldown_seconds,
        });
    }
    limits.push(Limit {
        key: format!("user:{}", user.id),
        max: c.sends_per_user_per_hour,
        seconds: HOUR,
    });
    let sign_in = matches!(purpose, CodePurpose::SignInEmail | CodePurpose::SignInSms);
    // Sign-in codes and confirmations to one destination count apart: any account
    // may ask a confirmation for any number, only its owners a sign-in code. An
    // address has one account per side and only the host makes sides, so its
    // confirmations count per side: accounts elsewhere cannot hold up its owner's.
    // The address an inbox is known by (`jo@`) keeps a cap only its one account of
    // the side spends; its aliases (`jo+1@`, at Gmail `j.o@`), which anyone may
    // register, share one other cap: they cannot mail the inbox past it, nor hold
    // up the owner's confirmation by filling the owner's.
    let key = match purpose {
        CodePurpose::ConfirmEmail => {
            let inbox = inbox_key(destination);
            if inbox == destination {
                format!("dest-confirm:{destination}:{}", user.side.key())
            } else {
                format!("dest-confirm-aliases:{inbox}:{}", user.side.key())
            }
        }
        CodePurpose::ConfirmPhone => format!("dest-confirm:{destination}"),
        _ => format!("dest:{destination}"),
    };
    limits.push(Limit {
        key,
        max: c.sends_per_destination_per_hour,
        seconds: HOUR,
    });
    if let Some(ip) = source {
        limits.push(Limit {
            // Apart from the address's confirmations, which strangers sharing it (a
            // NAT, a café) can ask without the owner's password.
            key: format!(
                "ip{}:{}",
                if sign_in { "-sign-in" } else { "" },
                source_key(ip)
            ),
            max: c.sends_per_ip_per_hour,
            seconds: HOUR,
        });
    }
    // Texts only: each costs money, and the side's budget bounds what throwaway
    // accounts can text. An email costs next to nothing, and a side-wide cap on
    // them is one throwaway accounts confirming their own addresses fill ahead of
    // every new user's first sign-in where the side forces 2FA.
    if purpose == CodePurpose::ConfirmPhone {
        limits.push(Limit {
            key: format!("tenant-confirm:{}", user.side.key()),
            max: c.confirmations_per_tenant_per_hour,
            seconds: HOUR,
        });
    }
    limits
}

/// Counts one send against every limit, or refuses with 429 and the longest wait.
pub async fn reserve(core: &Core, limits: &[Limit]) -> Result<(), ApiError> {
    let now = core.now();
    let results = join_all(limits.iter().map(|l| core.store.take_send(l, now))).await;
    let mut counted = Vec::new();
    let mut full = Vec::new();
    let mut failed = None;
    for (limit, result) in limits.iter().zip(results) {
        match result {
            Ok(Taken::Counted(w)) => counted.push((limit.key.as_str(), w.window_end)),
            Ok(Taken::Full(w)) => full.push(w),
            Err(e) => failed = Some(e),
        }
    }
    if full.is_empty() && failed.is_none() {
        return Ok(());
    }
    for r in join_all(
        counted
            .iter()
            .map(|(key, end)| core.store.give_back_send(key, *end)),
    )
    .await
    {
        if let Err(e) = r {
            tracing::warn!(error = %e, "a counted send could not be given back; the count stays high until its window ends");
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Err(ApiError::too_many_requests(retry_after(&full, now))),
    }
}
