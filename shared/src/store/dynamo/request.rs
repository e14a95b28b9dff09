//! The calls every record kind makes: reads, writes, conditional updates,
//! transactions, batches and paged queries, with their errors mapped once.

use std::time::Duration;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};

use super::DynamoStore;
use super::item::Update;
use super::item::{self, Item, Reader};
use crate::store::{Page, PageKey, StoreError};
use crate::user::AdminStamp;

impl DynamoStore {
    /// One page of a `Query`: asks for one item more than `limit` so that `next` is
    /// `None` exactly on the last page, and carries on past pages DynamoDB cut short
    /// (1 MB, or a filter that dropped items), at most a few times.
    pub(super) async fn query_page(
        &self,
        q: PageQuery<'_>,
        start: Option<Item>,
        limit: usize,
    ) -> Result<Page<Item>, StoreError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start = start;
        for _ in 0..8 {
            let want = limit + 1 - items.len();
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(q.key_condition)
                .scan_index_forward(q.forward)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            req = match q.index {
                Some(index) => req.index_name(index),
                // Only the table offers strongly consistent reads; an index follows it within a second.
                None => req.consistent_read(true),
            };
            if let Some(filter) = q.filter {
                req = req.filter_expression(filter);
            }
            for (k, v) in q.names {
                req = req.expression_attribute_names(*k, *v);
            }
            for (k, v) in &q.values {
                req = req.expression_attribute_values(*k, v.clone());
            }
            let out = req.send().await.map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            if items.len() > limit {
                items.truncate(limit);
                let next = items.last().map(|i| (q.page_key)(i)).transpose()?;
                return Ok(Page { items, next });
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(Page { items, next: None }),
            }
        }
        // Filtered too much to fill the page: the next one starts where this read stopped.
        let next = match start {
            Some(key) => Some((q.page_key)(&key)?),
            None => None,
        };
        Ok(Page { items, next })
    }

    /// About `limit` items of a `Scan` that `filter` keeps, from `start`, and where the
    /// next read starts (`None` at the end of the table). A read that the filter
    /// empties goes on at once, a few times. An operator's walk, never a request's:
    /// it reads the whole table.
    pub(super) async fn scan_page(
        &self,
        filter: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start = start;
        for _ in 0..8 {
            let mut req = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(filter)
                .consistent_read(true)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            for (k, v) in names {
                req = req.expression_attribute_names(*k, *v);
            }
            for (k, v) in &values {
                req = req.expression_attribute_values(*k, v.clone());
            }
            let out = req.send().await.map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((items, None)),
            }
            if items.len() >= limit {
                break;
            }
        }
        Ok((items, start))
    }

    pub(super) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    pub(super) async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) fn put_if(
        &self,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (k, v) in names {
            put = put.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            put = put.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(built)?)
            .build())
    }

    /// Runs a transaction; `Err(reasons)` tells, per item, whether its condition
    /// failed. Retries a few times when it lost only to a concurrent transaction.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<bool>>, StoreError> {
        let refused = self
            .transact_retrying(items, || None, 5, Duration::from_millis(20))
            .await?;
        Ok(match refused {
            None => Ok(()),
            Some(reasons) => Err(reasons.iter().map(is_condition_failure).collect()),
        })
    }

    /// One `UpdateItem`, the one place the adapter sends it: a failed condition is
    /// [`Updated::Refused`] (with the old item where the call asked for it), any
    /// other error [`StoreError::Unavailable`]. The SDK's own retries (throttling, a
    /// `TransactionConflict` with a transaction in flight) happen inside `send`; a
    /// retry of a write that went through meets its own write as a refusal, which
    /// each caller recognises from the old item (see the module doc, Retries).
    pub(super) async fn update_item(&self, call: UpdateCall) -> Result<Updated, StoreError> {
        let UpdateCall {
            key,
            update,
            condition,
            return_new,
            old_on_refusal,
        } = call;
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update.expression())
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(update.names).filter(|n| !n.is_empty()))
            .set_expression_attribute_values(Some(update.values).filter(|v| !v.is_empty()));
        if return_new {
            req = req.return_values(ReturnValue::AllNew);
        }
        if old_on_refusal {
            req = req.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        match req.send().await {
            Ok(out) => Ok(Updated::Applied(out.attributes.unwrap_or_default())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Updated::Refused(c.item().cloned()))
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    /// As [`DynamoStore::update_item`], made by an administrator: with `admin`, the
    /// update and a check that the administrator still has the stamp its request
    /// read go as one `TransactWriteItems`, so that a stolen admin session's request
    /// in flight cannot land after the administrator signed out everywhere
    /// (`Conflict(STAMP)` then, and nothing written). A transaction returns no item:
    /// an update that asked for the new one reads it after, strongly.
    pub(super) async fn update_item_as(
        &self,
        call: UpdateCall,
        admin: Option<&AdminStamp>,
    ) -> Result<Updated, StoreError> {
        let Some(admin) = admin else {
            return self.update_item(call).await;
        };
        let (key, return_new) = (call.key.clone(), call.return_new);
        let items = vec![call.in_transaction(&self.table)?, self.admin_check(admin)?];
        match self
            .transact_retrying(items, || None, 5, Duration::from_millis(20))
            .await?
        {
            None if return_new => Ok(Updated::Applied(self.get(key).await?.unwrap_or_default())),
            None => Ok(Updated::Applied(Item::new())),
            Some(reasons) if reasons.get(1).is_some_and(is_condition_failure) => {
                Err(StoreError::Conflict(crate::store::STAMP))
            }
            Some(reasons) => Ok(Updated::Refused(
                reasons.first().and_then(|r| r.item().cloned()),
            )),
        }
    }

    /// One conditional `UpdateItem`; `Ok(false)` when the condition failed.
    pub(super) async fn update_if(
        &self,
        key: Item,
        update: Update,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let call = UpdateCall::new(key, update).when(condition);
        Ok(matches!(self.update_item(call).await?, Updated::Applied(_)))
    }

    /// As [`DynamoStore::update_if`], but a retry of a write that went through (its
    /// answer lost) is `Ok(true)`, not a failed condition: the write carries a fresh
    /// [`item::WRITE_ID`], and a refusal whose old item holds it was this call's own.
    pub(super) async fn update_once(
        &self,
        key: Item,
        update: Update,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let write_id = item::new_write_id();
        let update = update.set(item::WRITE_ID, AttributeValue::S(write_id.clone()));
        let call = UpdateCall::new(key, update)
            .when(condition)
            .old_on_refusal();
        Ok(match self.update_item(call).await? {
            Updated::Applied(_) => true,
            Updated::Refused(old) => old.is_some_and(|old| item::written_by(&old, &write_id)),
        })
    }

    /// Runs `items` as one `TransactWriteItems`, the one place the adapter sends
    /// it. `Ok(None)` when it committed; `Ok(Some(reasons))`, one per item in order,
    /// when a condition failed. Lost only to a concurrent transaction on the same
    /// items, it is tried again, at most `conflicts` times, `pause` × the try's
    /// number apart. `token` gives each try's client request token, if any: the
    /// SDK's retries of one try share it, so a try that applied and whose answer
    /// was lost applies once.
    pub(super) async fn transact_retrying(
        &self,
        items: Vec<TransactWriteItem>,
        mut token: impl FnMut() -> Option<String>,
        conflicts: u64,
        pause: Duration,
    ) -> Result<Option<Vec<CancellationReason>>, StoreError> {
        let mut lost = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .set_client_request_token(token())
                .send()
                .await;
            let e = match result {
                Ok(_) => return Ok(None),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                e.as_service_error()
            else {
                return Err(unavailable(e));
            };
            let reasons = c.cancellation_reasons();
            if reasons.iter().any(is_condition_failure) {
                return Ok(Some(reasons.to_vec()));
            }
            lost += 1;
            if lost > conflicts
                || !reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(unavailable(e));
            }
            tokio::time::sleep(pause * u32::try_from(lost).unwrap_or(u32::MAX)).await;
        }
    }

    /// One `BatchWriteItem` of at most 25 requests, retrying what comes back unprocessed under load.
    pub(super) async fn batch_write(
        &self,
        mut requests: Vec<WriteRequest>,
        what: &str,
    ) -> Result<(), StoreError> {
        for attempt in 0..8u64 {
            if requests.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(unavailable)?;
            requests = out
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
        }
        if requests.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                format!("{what} could not all be written").into(),
            ))
        }
    }
}

/// What [`DynamoStore::query_page`] asks for.
pub(super) struct PageQuery<'a> {
    pub(super) index: Option<&'static str>,
    pub(super) key_condition: &'a str,
    pub(super) filter: Option<&'a str>,
    pub(super) names: &'a [(&'a str, &'a str)],
    pub(super) values: Vec<(&'a str, AttributeValue)>,
    pub(super) forward: bool,
    /// The page key of an item (or of DynamoDB's own last evaluated key).
    pub(super) page_key: fn(&Item) -> Result<PageKey, StoreError>,
}

/// An `UpdateItem` as [`DynamoStore::update_item`] sends it (or as one item of a
/// transaction, [`UpdateCall::in_transaction`]).
pub(super) struct UpdateCall {
    key: Item,
    update: Update,
    condition: Option<String>,
    return_new: bool,
    old_on_refusal: bool,
}

impl UpdateCall {
    /// `update` on the item at `key`, unconditional until [`UpdateCall::when`].
    pub(super) fn new(key: Item, update: Update) -> Self {
        Self {
            key,
            update,
            condition: None,
            return_new: false,
            old_on_refusal: false,
        }
    }

    /// Applied only where `condition` holds (its names and values are in the update).
    pub(super) fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// Answers the item as written (`ReturnValue::AllNew`).
    pub(super) fn returning_new(mut self) -> Self {
        self.return_new = true;
        self
    }

    /// A refusal answers the item as it was (`ReturnValuesOnConditionCheckFailure::AllOld`,
    /// nothing when there is no item), which tells why, or that the refused write
    /// was this call's own first try.
    pub(super) fn old_on_refusal(mut self) -> Self {
        self.old_on_refusal = true;
        self
    }

    /// A client request token for a transaction holding this update (DynamoDB takes
    /// at most 36 characters): the first 128 bits of a SHA-256 of `parts` and of
    /// the whole update (key, expression, condition, names and values). The SDK's
    /// retry of a request, or the same request sent again, carries the same token,
    /// and DynamoDB answers it as the first was answered without applying it again;
    /// any other request carries another, so a token is never reused for different
    /// parameters (which DynamoDB refuses).
    pub(super) fn client_token(&self, parts: &[&str]) -> String {
        fn sorted<V: std::fmt::Debug>(map: &std::collections::HashMap<String, V>) -> String {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            format!("{entries:?}")
        }
        let whole = [
            sorted(&self.key),
            self.update.expression(),
            format!("{:?}", self.condition),
            sorted(&self.update.names),
            sorted(&self.update.values),
        ];
        let mut hashed = ring::digest::Context::new(&ring::digest::SHA256);
        for part in parts
            .iter()
            .copied()
            .chain(whole.iter().map(String::as_str))
        {
            // Length-prefixed, so that no two lists of parts hash alike.
            hashed.update(&(part.len() as u64).to_be_bytes());
            hashed.update(part.as_bytes());
        }
        hashed.finish().as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The same update as one item of a `TransactWriteItems` on `table`.
    pub(super) fn in_transaction(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(self.update.expression())
            .set_condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.update.names).filter(|n| !n.is_empty()))
            .set_expression_attribute_values(Some(self.update.values).filter(|v| !v.is_empty()));
        if self.old_on_refusal {
            update = update.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(built)?)
            .build())
    }
}

/// What an [`UpdateCall`] came to.
pub(super) enum Updated {
    /// Written; the item as written where the call asked for it, else empty.
    Applied(Item),
    /// The condition failed; the item as it was where the call asked for it and
    /// there was one.
    Refused(Option<Item>),
}

/// Whether a transaction's item was refused by its condition.
pub(super) fn is_condition_failure(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

pub(super) fn user_of(i: &Item) -> Result<String, StoreError> {
    let pk = Reader(i).s(item::PK)?;
    pk.strip_prefix("USER#")
        .map(str::to_string)
        .ok_or_else(|| StoreError::Corrupt(format!("{pk} is not a user's partition")))
}

/// Page key of an item read through the side index (a user or an event).
pub(super) fn side_page_key(i: &Item) -> Result<PageKey, StoreError> {
    Ok(PageKey {
        sort: Reader(i).s(item::SIDE_SK)?,
        user_id: user_of(i)?.into(),
    })
}

pub(super) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

pub(super) fn built(e: BuildError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

pub(super) fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    /// Where the adapter's sources name `call`, file and line.
    fn calls_of(call: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/dynamo");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("the adapter's sources") {
            let path = entry.expect("a directory entry").path();
            let text = std::fs::read_to_string(&path).expect("a source file");
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            for (i, line) in text.lines().enumerate() {
                if line.contains(call) {
                    found.push(format!("{file}:{}", i + 1));
                }
            }
        }
        found
    }

    #[test]
    fn every_update_and_every_transaction_of_the_adapter_is_sent_from_one_helper() {
        // Built from parts, so that this test's own text is not a call.
        for call in [
            concat!(".update", "_item()"),
            concat!(".transact", "_write_items()"),
        ] {
            let found = calls_of(call);
            assert!(
                found.len() == 1 && found[0].starts_with("request.rs:"),
                "`{call}` is sent from {found:?}: one helper in request.rs keeps the error \
                 mapping and the retry rules in one place"
            );
        }
    }
}
