//! Send limits, checked and counted before anything is sent (SMS pumping costs money
//! whether or not the code is ever used). The windows are written back only if no
//! concurrent send moved them; on such a race the check runs again on fresh counts.

use twofa::api::ApiError;
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::throttle::{decide, Decision, Limit};
use twofa::user::User;

use crate::errors::{busy, too_many_requests};

const HOUR: i64 = 3600;
// A conflict means another send for the same keys landed in between; a few
// rereads settle it, and a client that still loses may try again.
const ATTEMPTS: usize = 3;

/// The limits one send to `destination` for `purpose` counts against.
pub fn limits(core: &Core, user: &User, purpose: CodePurpose, destination: &str) -> Vec<Limit> {
    let c = &core.config;
    let mut limits = Vec::with_capacity(4);
    if c.resend_cooldown_seconds > 0 {
        limits.push(Limit { key: format!("cooldown:{}:{}", user.id, purpose.as_str()), max: 1, seconds: c.resend_cooldown_seconds });
    }
    limits.push(Limit { key: format!("user:{}", user.id), max: c.sends_per_user_per_hour, seconds: HOUR });
    limits.push(Limit { key: format!("dest:{}", destination.to_lowercase()), max: c.sends_per_destination_per_hour, seconds: HOUR });
    limits.push(Limit { key: format!("tenant:{}", user.scope.key()), max: c.sends_per_tenant_per_hour, seconds: HOUR });
    limits
}

/// Counts one send against every limit, or refuses with 429 and the longest wait.
pub async fn reserve(core: &Core, limits: &[Limit]) -> Result<(), ApiError> {
    let keys: Vec<String> = limits.iter().map(|l| l.key.clone()).collect();
    for _ in 0..ATTEMPTS {
        let now = core.now();
        let current = core.store.windows(&keys).await?;
        match decide(limits, &current, now) {
            Decision::Refuse { retry_after } => return Err(too_many_requests(retry_after)),
            Decision::Allow(next) => {
                if core.store.replace_windows(&keys, &current, &next).await? {
                    return Ok(());
                }
            }
        }
    }
    tracing::warn!("send limits still contended after {ATTEMPTS} attempts");
    Err(busy())
}
