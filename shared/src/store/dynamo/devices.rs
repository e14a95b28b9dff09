//! Remembered browsers, under their user's partition.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::DynamoStore;
use super::bounded::Bounded;
use super::item::Update;
use super::item::{self, Item, Reader, TTL, VALID_UNTIL, key, keys, n, s, ttl_after, valid_until};
use super::request::{UpdateCall, built};
use crate::clock::Timestamp;
use crate::devices::{Device, MAX_PER_USER};
use crate::ids::{DeviceId, UserId};
use crate::store::{DeviceStore, StoreError};

/// A remembered browser's item, under its user's partition.
pub fn device_item(d: &Device) -> Item {
    let mut i = key(keys::user_pk(&d.user_id), keys::device_sk(&d.device_id));
    i.insert("user_id".to_string(), s(&d.user_id));
    i.insert("device_id".to_string(), s(&d.device_id));
    i.insert("token_hash".to_string(), s(&d.token_hash));
    i.insert("security_stamp".to_string(), s(&d.security_stamp));
    i.insert("created_at".to_string(), n(d.created_at));
    i.insert("last_used_at".to_string(), n(d.last_used_at));
    i.insert(VALID_UNTIL.to_string(), n(d.expires_at));
    i.insert(TTL.to_string(), n(ttl_after(d.expires_at)));
    if let Some(ua) = &d.user_agent {
        i.insert("user_agent".to_string(), s(ua));
    }
    i
}

/// A remembered browser from its item.
pub fn device_from(i: &Item) -> Result<Device, StoreError> {
    let r = Reader(i);
    Ok(Device {
        user_id: r.s("user_id")?.into(),
        device_id: r.s("device_id")?.into(),
        token_hash: r.s("token_hash")?,
        security_stamp: r.s("security_stamp")?,
        created_at: r.n("created_at")?,
        last_used_at: r.n("last_used_at")?,
        expires_at: valid_until(&r)?,
        user_agent: r.opt_s("user_agent")?,
    })
}

/// The most device items one read takes: a user keeps [`MAX_PER_USER`] (a few more
/// for a moment when remembers race), and this many fit one `BatchWriteItem`, so
/// listing is one `Query` and forgetting them all one `Query` and one batch,
/// whatever the history. A partition filled before the bound holds more, all
/// expiring within the remember lifetime and a day: until then a read takes some of them.
const READ_LIMIT: usize = 25;
const _: () = assert!(MAX_PER_USER < READ_LIMIT);

/// Remembered browsers as a bounded kind (see [`super::bounded`]).
const DEVICES: Bounded = Bounded {
    prefix: keys::DEVICE_PREFIX,
    bound: MAX_PER_USER,
    read_limit: READ_LIMIT,
    what: "remembered browsers",
};

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.put_bounded(&DEVICES, &device.user_id, device_item(device))
            .await
    }

    async fn device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        self.get(item::key(
            keys::user_pk(user_id),
            keys::device_sk(device_id),
        ))
        .await?
        .as_ref()
        .map(device_from)
        .transpose()
    }

    async fn devices(&self, user_id: &UserId) -> Result<Vec<Device>, StoreError> {
        let mut list = self
            .bounded_items(&DEVICES, user_id)
            .await?
            .iter()
            .map(device_from)
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(list)
    }

    async fn delete_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // A transaction of one delete, not a `DeleteItem`: the SDK sends its retries
        // with the same client request token, which DynamoDB answers as the first
        // try's success. A plain delete retried after its answer was lost would find
        // nothing and answer 404 for the browser it had just forgotten.
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::user_pk(user_id),
                keys::device_sk(device_id),
            )))
            // Past its TTL the record may be swept or not: forgotten either way.
            .condition_expression("attribute_exists(#pk) AND #ttl > :now")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(built)?;
        let tx = vec![TransactWriteItem::builder().delete(delete).build()];
        Ok(self.transact(tx).await?.is_ok())
    }

    async fn delete_devices(&self, user_id: &UserId) -> Result<(), StoreError> {
        let items = self.bounded_items(&DEVICES, user_id).await?;
        self.delete_items(DEVICES.what, &items).await
    }

    async fn touch_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let u = Update::default()
            .set("last_used_at", n(now))
            .with_name(item::PK);
        let key = item::key(keys::user_pk(user_id), keys::device_sk(device_id));
        // A browser forgotten meanwhile stays forgotten rather than coming back as a stub.
        self.update_item(UpdateCall::new(key, u).when("attribute_exists(#pk)"))
            .await?;
        Ok(())
    }
}
