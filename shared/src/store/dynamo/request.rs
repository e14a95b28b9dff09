//! The calls every record kind makes: reads, writes, conditional updates,
//! transactions, batches and paged queries, with their errors mapped once.

use std::time::Duration;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, WriteRequest,
};

use super::DynamoStore;
use super::item::{self, Item, Reader};
use super::update::Update;
use crate::store::{Page, PageKey, StoreError};

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
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match result {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                e.as_service_error()
            else {
                return Err(unavailable(e));
            };
            let failed: Vec<bool> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect();
            if failed.iter().any(|f| *f) {
                return Ok(Err(failed));
            }
            let conflict = c
                .cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"));
            attempt += 1;
            if !conflict || attempt > 5 {
                return Err(unavailable(e));
            }
            tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
        }
    }
    /// One conditional `UpdateItem`; `Ok(false)` when the condition failed.
    pub(super) async fn update_if(
        &self,
        key: Item,
        update: Update,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values).filter(|v| !v.is_empty()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(c.item().is_some_and(|old| item::written_by(old, &write_id)))
                }
                _ => Err(unavailable(e)),
            },
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
