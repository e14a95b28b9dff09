//! Send-limit windows: one counter item per limit.
//!
//! A count is an `ADD` that also writes a token of its own (`last_count`) and is
//! refused where that token is already the item's: a retry of a count whose answer
//! was lost meets its own first try, and is told so by the item it is refused with.
//! Under a cap of one (a cooldown, a reset's one live code) a count applied twice
//! used to refuse the very send that made it. Only another send counted between the
//! try and its retry hides the token; then the retry counts again, the safe side.
//! A give-back (`ADD count -1`) retried that way would let a
//! send out past the cap, so it runs as a one-item transaction with a client request
//! token, which DynamoDB applies once however often the SDK sends it (for ten
//! minutes). A plain count that meets that transaction in flight is refused with
//! `TransactionConflictException`, which every client of the store retries
//! (`timeouts::TransactionConflicts`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::item::Update;
use super::item::{self, Item, Reader, keys, n};
use super::request::{UpdateCall, Updated};
use crate::clock::Timestamp;
use crate::store::{StoreError, ThrottleStore};
use crate::throttle::{Limit, Taken, Window};

/// The attribute naming the last count applied to a window (see the module doc).
const LAST_COUNT: &str = "last_count";

/// Whether the window item `i` was last counted by the count holding `token`.
fn counted_by(i: &Item, token: &str) -> bool {
    i.get(LAST_COUNT)
        .and_then(|v| v.as_s().ok())
        .is_some_and(|t| t == token)
}

/// A send window from its item.
pub fn window_from(i: &Item) -> Result<Window, StoreError> {
    let r = Reader(i);
    Ok(Window {
        count: r.n("count")?,
        window_end: r.n::<Timestamp>("window_end")?,
    })
}

#[async_trait]
impl ThrottleStore for DynamoStore {
    async fn take_send(&self, limit: &Limit, now: Timestamp) -> Result<Taken, StoreError> {
        let key = item::single_key(keys::window_pk(&limit.key));
        let fresh = limit.fresh(now);
        // One token for this count, kept by every try of it (the SDK's and ours).
        let token = uuid::Uuid::new_v4().simple().to_string();
        // Another send may reset the same ended window first; then the count is a
        // plain ADD on the next attempt. Only a window ending again and again
        // between two steps could exhaust this.
        for _ in 0..4 {
            let old = match self.count_send(&key, limit, &fresh, now, &token).await? {
                Updated::Applied(new) => return Ok(Taken::Counted(window_from(&new)?)),
                Updated::Refused(old) => old,
            };
            let old = match old {
                Some(i) => Some(i),
                None => self.get(key.clone()).await?,
            };
            let Some(old) = old else { continue };
            if counted_by(&old, &token) {
                // This count applied on an earlier try whose answer was lost.
                return Ok(Taken::Counted(window_from(&old)?));
            }
            let old = window_from(&old)?;
            if old.window_end > now {
                return Ok(Taken::Full(old));
            }
            // The window has ended: start it again, unless another send just did.
            if self
                .restart_window(&key, &fresh, old.window_end, &token)
                .await?
            {
                return Ok(Taken::Counted(fresh));
            }
        }
        Err(StoreError::Unavailable(
            format!(
                "send window {} kept changing under four attempts",
                limit.key
            )
            .into(),
        ))
    }

    async fn give_back_send(&self, key: &str, window_end: Timestamp) -> Result<(), StoreError> {
        let u = Update::default()
            .add("count", n(-1))
            .with_name("window_end")
            .with_value("end", n(window_end))
            .with_value("zero", n(0));
        let items = vec![
            UpdateCall::new(item::single_key(keys::window_pk(key)), u)
                .when("#window_end = :end AND #count > :zero")
                .in_transaction(&self.table)?,
        ];
        // One token per try of ours: the SDK's retries of this call share it, so a
        // give-back that applied and whose answer was lost applies once. A try
        // cancelled by a conflict applied nothing, and the next is a new token.
        let new_token = || Some(uuid::Uuid::new_v4().simple().to_string());
        // Refused, the window ended and started again (what it counted is gone
        // already), or the count is at zero: nothing to give back.
        self.transact_retrying(items, new_token, 3, Duration::from_millis(10))
            .await?;
        Ok(())
    }

    async fn send_window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        self.get(item::single_key(keys::window_pk(key)))
            .await?
            .as_ref()
            .map(window_from)
            .transpose()
    }
}

impl DynamoStore {
    /// Counts one send in its window: `ADD count 1` where the window is unset, or
    /// open with room and not already counted by `token`. Applied, the window as
    /// counted; refused, the item as it was, which tells why.
    async fn count_send(
        &self,
        key: &Item,
        limit: &Limit,
        fresh: &Window,
        now: Timestamp,
        token: &str,
    ) -> Result<Updated, StoreError> {
        let u = Update::default()
            .add("count", n(1))
            .set_if_absent("window_end", n(fresh.window_end))
            .set_if_absent(item::TTL, n(item::ttl_after(fresh.window_end)))
            .set(LAST_COUNT, AttributeValue::S(token.to_string()))
            .with_name(item::PK)
            .with_value("now", n(now))
            .with_value("max", n(limit.max));
        let call = UpdateCall::new(key.clone(), u)
            .when(
                "attribute_not_exists(#pk) OR (#window_end > :now AND #count < :max \
                 AND (attribute_not_exists(#last_count) OR #last_count <> :last_count))",
            )
            .returning_new()
            .old_on_refusal();
        self.update_item(call).await
    }

    /// Starts an ended window again with this send counted, unless another send
    /// restarted it first (`window_end` is no longer `old_end`): `Ok(false)`.
    async fn restart_window(
        &self,
        key: &Item,
        fresh: &Window,
        old_end: Timestamp,
        token: &str,
    ) -> Result<bool, StoreError> {
        let u = Update::default()
            .set("count", n(1))
            .set("window_end", n(fresh.window_end))
            .set(item::TTL, n(item::ttl_after(fresh.window_end)))
            .set(LAST_COUNT, AttributeValue::S(token.to_string()))
            .with_value("old_end", n(old_end));
        let call = UpdateCall::new(key.clone(), u).when("#window_end = :old_end");
        Ok(matches!(self.update_item(call).await?, Updated::Applied(_)))
    }
}
