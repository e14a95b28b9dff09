//! Send limits, checked and counted before anything is sent (SMS pumping costs money
//! whether or not the code is ever used). Every limit is its own counter, counted by
//! one atomic store step, all at once: concurrent sends in one tenant only count,
//! they never make each other fail.
//!
//! When one limit refuses, the sends the others counted are given back. Otherwise a
//! sender hammering a capped destination (or its own cooldown) would use up its
//! tenant's budget and deny every other user their sign-in codes. Between the
//! count and the give-back a concurrent send may see one more than there is and be
//! refused; that errs on the safe side and lasts one round trip. A give-back that
//! fails leaves the count high until the window ends: also the safe side.

use futures_util::future::join_all;
use twofa::api::ApiError;
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::throttle::{Limit, Taken, retry_after, source_key};
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
    let mut limits = Vec::with_capacity(5);
    if c.resend_cooldown_seconds > 0 {
        limits.push(Limit {
            key: format!("cooldown:{}:{}", user.id, purpose.as_str()),
            max: 1,
            seconds: c.resend_cooldown_seconds,
        });
    }
    // Anyone who knows an email may ask for a reset code, so resets count in budgets
    // of their own for the user and the address: strangers asking for resets must not
    // use up the sign-in codes of the owner, who has the password.
    let budget = match purpose {
        CodePurpose::PasswordReset => "-reset",
        _ => "",
    };
    limits.push(Limit {
        key: format!("user{budget}:{}", user.id),
        max: c.sends_per_user_per_hour,
        seconds: HOUR,
    });
    limits.push(Limit {
        key: format!("dest{budget}:{destination}"),
        max: c.sends_per_destination_per_hour,
        seconds: HOUR,
    });
    if let Some(ip) = source {
        limits.push(ip_limit(core, ip));
    }
    limits.push(match purpose {
        // A reset code is a way into the account, asked without a password, as a
        // sign-in code is: it counts in the sign-in budget, so resets cannot use up
        // the confirmations' and a flood of resets is capped where sign-ins are.
        CodePurpose::SignInEmail | CodePurpose::SignInSms | CodePurpose::PasswordReset => Limit {
            key: format!("tenant:{}", user.scope.key()),
            max: c.sends_per_tenant_per_hour,
            seconds: HOUR,
        },
        CodePurpose::ConfirmEmail | CodePurpose::ConfirmPhone => Limit {
            key: format!("tenant-confirm:{}", user.scope.key()),
            max: c.confirmations_per_tenant_per_hour,
            seconds: HOUR,
        },
    });
    limits
}

/// The hourly cap on sends asked from one address.
pub fn ip_limit(core: &Core, ip: std::net::IpAddr) -> Limit {
    Limit {
        key: format!("ip:{}", source_key(ip)),
        max: core.config.sends_per_ip_per_hour,
        seconds: HOUR,
    }
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
