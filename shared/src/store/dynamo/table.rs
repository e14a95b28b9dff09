//! Creating the table, its TTL and its index, and checking a table that exists is this store's.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::DynamoStore;
use super::item::{self, s};
use super::request::{built, unavailable};
use crate::store::StoreError;

/// What [`DynamoStore::ensure_table`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// This call created the table.
    Created,
    /// The table was there already (with the right key schema).
    Existed,
}

impl DynamoStore {
    /// Creates the table if absent (on-demand, TTL on `expires_at`) and waits
    /// until it is active. Safe to race with another caller doing the same. A table
    /// that exists must have this store's key schema (`pk` hash, `sk` range, both
    /// strings): another application's table is refused, never written to.
    pub async fn ensure_table(&self) -> Result<Ensured, StoreError> {
        // Setting up is not a request: a DynamoDB Local just started can take longer
        // than a request's limits to create its first table.
        let config = self
            .client
            .config()
            .to_builder()
            .timeout_config(crate::timeouts::setup_timeouts());
        Self::new(Client::from_conf(config.build()), self.table.clone())
            .create_if_absent()
            .await
    }

    pub(super) async fn create_if_absent(&self) -> Result<Ensured, StoreError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(item::PK)?)
            .attribute_definitions(attribute(item::SK)?)
            .attribute_definitions(attribute(item::SIDE_PK)?)
            .attribute_definitions(attribute(item::SIDE_SK)?)
            .key_schema(key_element(item::PK, KeyType::Hash)?)
            .key_schema(key_element(item::SK, KeyType::Range)?)
            .global_secondary_indexes(side_index()?)
            .send()
            .await;
        let ensured = match created {
            Ok(_) => Ensured::Created,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                Ensured::Existed
            }
            Err(e) => return Err(unavailable(e)),
        };
        if ensured == Ensured::Existed {
            self.check_key_schema().await?;
        }
        self.wait_until_active().await?;
        self.ensure_side_index().await?;
        self.ensure_ttl().await?;
        Ok(ensured)
    }

    pub(super) async fn check_key_schema(&self) -> Result<(), StoreError> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?;
        let table = out.table();
        let keys: Vec<(String, KeyType)> = table
            .map(|t| {
                t.key_schema()
                    .iter()
                    .map(|k| (k.attribute_name().to_string(), k.key_type().clone()))
                    .collect()
            })
            .unwrap_or_default();
        let types: HashMap<String, ScalarAttributeType> = table
            .map(|t| {
                t.attribute_definitions()
                    .iter()
                    .map(|a| (a.attribute_name().to_string(), a.attribute_type().clone()))
                    .collect()
            })
            .unwrap_or_default();
        let expected = [
            (item::PK.to_string(), KeyType::Hash),
            (item::SK.to_string(), KeyType::Range),
        ];
        let strings = [item::PK, item::SK]
            .iter()
            .all(|k| types.get(*k) == Some(&ScalarAttributeType::S));
        if keys.as_slice() != expected.as_slice() || !strings {
            let found = keys
                .iter()
                .map(|(k, t)| format!("{k} ({})", t.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(StoreError::WrongTable(format!(
                "table {} has the key schema [{found}]; this store needs pk (HASH, string) and sk (RANGE, string), so it is not this application's table",
                self.table
            )));
        }
        Ok(())
    }

    /// A table made before the side index existed (a developer's DynamoDB Local) gets it
    /// added; users written before then are not in it until rewritten.
    pub(super) async fn ensure_side_index(&self) -> Result<(), StoreError> {
        for _ in 0..240 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(unavailable)?;
            let index = out
                .table()
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .find(|i| i.index_name() == Some(item::SIDE_INDEX));
            match index.and_then(|i| i.index_status()) {
                Some(IndexStatus::Active) => return Ok(()),
                Some(_) => {}
                None if index.is_some() => return Ok(()),
                None => self.add_side_index().await?,
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(
            format!(
                "the index {} of {} did not become active within 2 minutes",
                item::SIDE_INDEX,
                self.table
            )
            .into(),
        ))
    }

    /// Turns on TTL on `expires_at` unless it is on or turning on.
    async fn ensure_ttl(&self) -> Result<(), StoreError> {
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?;
        let status = ttl
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(item::TTL)
                .enabled(true)
                .build()
                .map_err(built)?;
            let updated = self
                .client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await;
            // A concurrent ensure_table may have enabled it between the two calls.
            if let Err(e) = updated {
                let already = e
                    .as_service_error()
                    .and_then(|s| s.message())
                    .is_some_and(|m| m.contains("already enabled"));
                if !already {
                    return Err(unavailable(e));
                }
            }
        }
        Ok(())
    }

    /// Asks DynamoDB to add the side index to this table.
    async fn add_side_index(&self) -> Result<(), StoreError> {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(item::SIDE_INDEX)
            .key_schema(key_element(item::SIDE_PK, KeyType::Hash)?)
            .key_schema(key_element(item::SIDE_SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(built)?;
        let updated = self
            .client
            .update_table()
            .table_name(&self.table)
            .attribute_definitions(attribute(item::SIDE_PK)?)
            .attribute_definitions(attribute(item::SIDE_SK)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await;
        // Another start may be adding it at the same moment.
        if let Err(e) = updated
            && !e
                .as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception())
            && !e
                .as_service_error()
                .and_then(|s| s.message())
                .is_some_and(|m| m.contains("already exists"))
        {
            return Err(unavailable(e));
        }
        Ok(())
    }

    /// Records that `by` created this table (the local API seeds an admin only into a table it created).
    pub async fn mark_created_by(&self, by: &str) -> Result<(), StoreError> {
        let mut i = item::key(format!("CREATED_BY#{by}"), "CREATED_BY");
        i.insert("by".to_string(), s(by));
        self.put(i).await
    }

    /// Whether [`DynamoStore::mark_created_by`] recorded `by`.
    pub async fn created_by(&self, by: &str) -> Result<bool, StoreError> {
        Ok(self
            .get(item::key(format!("CREATED_BY#{by}"), "CREATED_BY"))
            .await?
            .is_some())
    }

    pub(super) async fn wait_until_active(&self) -> Result<(), StoreError> {
        // DynamoDB Local is active at once; AWS takes seconds. The SDK waiter polls every 20 s.
        for _ in 0..240 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(unavailable)?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(
            format!(
                "table {} did not become active within 2 minutes",
                self.table
            )
            .into(),
        ))
    }
}

/// The index every side's users and events are paged through: all attributes are
/// projected, so a page is one `Query` with no follow-up reads.
pub(super) fn side_index() -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(item::SIDE_INDEX)
        .key_schema(key_element(item::SIDE_PK, KeyType::Hash)?)
        .key_schema(key_element(item::SIDE_SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(built)
}

pub(super) fn attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(built)
}

pub(super) fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(built)
}
