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
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::DynamoStore;
use super::item::{self, Item, Reader, keys, n};
use super::request::{built, condition_failed, unavailable};
use super::update::Update;
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
            let u = Update::default()
                .add("count", n(1))
                .set_if_absent("window_end", n(fresh.window_end))
                .set_if_absent(item::TTL, n(item::ttl_after(fresh.window_end)))
                .set(LAST_COUNT, AttributeValue::S(token.clone()))
                .with_name(item::PK)
                .with_value("now", n(now))
                .with_value("max", n(limit.max));
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression(u.expression())
                .condition_expression(
                    "attribute_not_exists(#pk) OR (#window_end > :now AND #count < :max \
                     AND (attribute_not_exists(#last_count) OR #last_count <> :last_count))",
                )
                .set_expression_attribute_names(Some(u.names))
                .set_expression_attribute_values(Some(u.values))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let old = match counted {
                Ok(out) => {
                    return Ok(Taken::Counted(window_from(
                        &out.attributes.unwrap_or_default(),
                    )?));
                }
                Err(e) => match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => c.item().cloned(),
                    _ => return Err(unavailable(e)),
                },
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
            let u = Update::default()
                .set("count", n(1))
                .set("window_end", n(fresh.window_end))
                .set(item::TTL, n(item::ttl_after(fresh.window_end)))
                .set(LAST_COUNT, AttributeValue::S(token.clone()))
                .with_value("old_end", n(old.window_end));
            let reset = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression(u.expression())
                .condition_expression("#window_end = :old_end")
                .set_expression_attribute_names(Some(u.names))
                .set_expression_attribute_values(Some(u.values))
                .send()
                .await;
            match reset {
                Ok(_) => return Ok(Taken::Counted(fresh)),
                Err(e) if condition_failed(&e) => continue,
                Err(e) => return Err(unavailable(e)),
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
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(item::single_key(keys::window_pk(key))))
            .update_expression(u.expression())
            .condition_expression("#window_end = :end AND #count > :zero")
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .build()
            .map_err(built)?;
        let items = vec![TransactWriteItem::builder().update(update).build()];
        let mut conflicts = 0;
        loop {
            // One token per try of ours: the SDK's retries of this call share it, so a
            // give-back that applied and whose answer was lost applies once. A try
            // cancelled by a conflict applied nothing, and the next is a new token.
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(uuid::Uuid::new_v4().simple().to_string())
                .send()
                .await;
            let e = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                e.as_service_error()
            else {
                return Err(unavailable(e));
            };
            let reasons = c.cancellation_reasons();
            // The window ended and started again (what it counted is gone already),
            // or the count is at zero: nothing to give back.
            if reasons
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Ok(());
            }
            conflicts += 1;
            if conflicts > 3
                || !reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(unavailable(e));
            }
            tokio::time::sleep(Duration::from_millis(10 * conflicts)).await;
        }
    }

    async fn send_window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        self.get(item::single_key(keys::window_pk(key)))
            .await?
            .as_ref()
            .map(window_from)
            .transpose()
    }
}
