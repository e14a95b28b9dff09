//! The kinds of item a user keeps a bounded number of under its partition
//! (remembered browsers, sessions): read in one `Query`, put beside that read with
//! the oldest beyond the bound forgotten, deleted in batches. One place for what
//! each kind would otherwise repeat.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::DynamoStore;
use super::item::{self, Item, Reader, keys, s};
use super::request::{built, unavailable};
use crate::ids::UserId;
use crate::store::StoreError;

/// One bounded kind: its sort-key prefix, how many a user keeps, how many one read
/// takes (more than the bound, so that a few racing puts past it are still seen),
/// and its name in errors.
pub(super) struct Bounded {
    pub prefix: &'static str,
    pub bound: usize,
    pub read_limit: usize,
    pub what: &'static str,
}

impl DynamoStore {
    /// A user's items of `kind`, at most its read limit, in one consistent `Query`.
    pub(super) async fn bounded_items(
        &self,
        kind: &Bounded,
        user_id: &UserId,
    ) -> Result<Vec<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_names("#sk", item::SK)
            .expression_attribute_values(":pk", s(keys::user_pk(user_id)))
            .expression_attribute_values(":prefix", s(kind.prefix))
            .consistent_read(true)
            .limit(kind.read_limit as i32)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.items.unwrap_or_default())
    }

    /// Puts `new` (an item of `kind` of `user_id`'s) with the read of the user's
    /// others beside it (which may or may not see it, and never forgets it): one
    /// round trip, and a batch of deletes of the oldest (by `created_at`) only once
    /// the bound is reached.
    pub(super) async fn put_bounded(
        &self,
        kind: &Bounded,
        user_id: &UserId,
        new: Item,
    ) -> Result<(), StoreError> {
        let own = new.get(item::SK).cloned();
        let (put, others) = tokio::join!(self.put(new), self.bounded_items(kind, user_id));
        put?;
        let mut others: Vec<(i64, String, Item)> = others?
            .into_iter()
            .filter(|i| i.get(item::SK) != own.as_ref())
            .map(|i| {
                let r = Reader(&i);
                Ok((r.n("created_at")?, r.s(item::SK)?, i.clone()))
            })
            .collect::<Result<_, StoreError>>()?;
        if others.len() < kind.bound {
            return Ok(());
        }
        others.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let oldest: Vec<Item> = others[..others.len() + 1 - kind.bound]
            .iter()
            .map(|(_, _, i)| i.clone())
            .collect();
        self.delete_items(kind.what, &oldest).await
    }

    /// Deletes these items (by their keys) in batches of 25; `what` names them in errors.
    pub(super) async fn delete_items(
        &self,
        what: &'static str,
        items: &[Item],
    ) -> Result<(), StoreError> {
        for chunk in items.chunks(25) {
            let requests = chunk
                .iter()
                .map(|i| {
                    let key: Item = i
                        .iter()
                        .filter(|(k, _)| *k == item::PK || *k == item::SK)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Ok(WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key))
                                .build()
                                .map_err(built)?,
                        )
                        .build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.batch_write(requests, what).await?;
        }
        Ok(())
    }
}
