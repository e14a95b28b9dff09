//! The DynamoDB adapter: every record in one table (`pk`, `sk`, both strings),
//! on-demand capacity, TTL on `expires_at`, and one global secondary index,
//! `by_side` (`side_pk`, `side_sk`, all attributes projected).
//!
//! # Items
//! | record | `pk` | `sk` | `side_pk` / `side_sk` (index) |
//! |---|---|---|---|
//! | user | `USER#<id>` | `USER` | `USERS#<scope key>` / lower-case email |
//! | pending code | `USER#<id>` | `CODE#<purpose>` | |
//! | remembered browser | `USER#<id>` | `DEVICE#<device_id>` | |
//! | security event | `USER#<id>` | `EVENT#<at, 12 digits>#<event_id>` | `EVENTS#<scope key>` / `<at>#<event_id>` |
//! | email uniqueness (→ `user_id`, a copy of `password_hash`) | `EMAIL#<scope key>#<lower-case email>` | `EMAIL` | |
//! | unknown email's failure counter | `GUESS#<keyed hash of scope and email>` | `GUESS` | |
//! | tenant (name, feature, settings, lockout values) | `TENANT#<lower-case name>` | `TENANT` | |
//! | tenant listing | `TENANTS` | `<lower-case name>` | |
//! | host settings and lockout values | `HOST` | `HOST` | |
//! | send window (one per limit) | `WINDOW#<limit key>` | `WINDOW` | |
//! | "the local API created this table" | `CREATED_BY#local-api` | `CREATED_BY` | |
//!
//! Codes, devices, windows, unknown-email counters and events carry `expires_at`
//! (epoch seconds), the TTL, so DynamoDB deletes them once dead. An event expires
//! `EVENT_RETENTION_DAYS` after it happened.
//!
//! # Expiry
//! Expiry is decided from the item, never by TTL. DynamoDB deletes an item whose
//! TTL has passed at any time from then to days later, so an answer that depended
//! on the item being there would flip at a random moment (an expired code went from
//! 410 `code_expired` to 401 `invalid_code`, counted toward the lockout). Codes and
//! devices keep their logical expiry in `valid_until`, windows in `window_end`, and
//! `expires_at` (the TTL) is a day later ([`item::TTL_GRACE_SECONDS`]); an item
//! from before the grace period has only `expires_at`, read as its expiry. Nothing
//! is decided from an event's expiry: a listing may show one TTL has not taken yet.
//!
//! # Paging a side: the `by_side` index
//! An admin lists its side's users by email prefix, and its side's events newest
//! first, without a `Scan`: each user item and each event item also carries index
//! keys, so one side's users are one index partition sorted by lower-case email (a
//! prefix is `begins_with` on the sort key) and its events another, sorted by time.
//! The side in the key comes from the caller's stored user, never from the request,
//! and a cursor only says where in that partition to start, so no cursor reaches
//! another side. The email-uniqueness item stays as it was: reshaping it into one
//! partition per side would move every existing address and funnel every login of a
//! side through one partition key.
//!
//! The index is eventually consistent (usually well under a second behind). For an
//! admin's list that is harmless: a user registered or locked a moment ago may show
//! a moment later, and nothing is decided from the list, since unlock and reset read
//! the user item strongly. A user's own events, and an admin's events of one user,
//! are read from the user's partition with a strongly consistent `Query` instead.
//! One side's events share one index partition key; DynamoDB splits it by sort key
//! under load, but a side writing well over a thousand events a second (sign-ins
//! included) would need the key sharded. Users written before the index existed
//! (tables made before v1.1) lack the index keys and are not listed until rewritten;
//! `ensure_table` adds the index to such a table.
//!
//! # Lockout: a slot before the answer
//! The rules are in the parent module's doc (`store/mod.rs`); here is what they cost.
//! The user item holds `failed_count` (attempts counted since the last success or
//! lock, in-flight ones included), `failure_streak` (failures since the last
//! success, across locks), `lockout_end`, and the ids of the last attempt that took
//! a slot (`slot_attempt`) and the last that succeeded (`done_attempt`).
//! - `take_slot`: one `UpdateItem`, `ADD failed_count 1, failure_streak 1` under
//!   `not locked AND failed_count < max AND failure_streak < 100 AND slot_attempt <>
//!   this attempt` (and `pending_sign_in = sid` for a second factor), returning the
//!   new item: the slot is also the read of the user. A refusal returns the old
//!   item, which says why (locked, sign-in ended, all slots held) or that it was
//!   this attempt's own slot written by a try whose answer was lost.
//! - `lock`: one `UpdateItem` under `not locked`, or for the hard lock `not locked
//!   OR lockout_end < until`: the 30-day lock replaces a shorter one (the raced
//!   hundredth failure); no lock shortens or extends another otherwise.
//! - `succeed`: one `UpdateItem` that spends a TOTP step (`totp_last_step <
//!   step`) or a recovery code (`DELETE` from the set, `contains`), ends the sign-in,
//!   applies the patch, sets `done_attempt` and resets the counts, under `not
//!   locked` (and `pending_sign_in = sid`). An emailed or texted code is its own
//!   item: then one `TransactWriteItems` (that update plus the conditional delete of
//!   the code) with the attempt id as client request token, retried on a
//!   transaction conflict. A refusal whose old item carries this `done_attempt` is
//!   this attempt's own success. A right password before a second factor gives
//!   its slot back instead (`ADD -1` on each count, each under `> 0`: a lock may
//!   have reset the count meanwhile; refused for that alone, the write is retried
//!   giving back only what is still counted), so no count goes below zero.
//! - Failure counting cannot double: a retried slot write finds its own
//!   `slot_attempt` and is not counted again. The one exception: another attempt on
//!   the same account taking a slot between the first try and the retry (a few ms);
//!   then one failure counts twice, erring toward the lock. `lock` is a `SET`, so a
//!   retry is harmless.
//!
//! # Lockout values per side, and why the tenant item holds the host's
//! Login reads a user's policy in one item (below), and the lockout values are
//! part of the policy: counting an attempt atomically against the limit needs them before
//! the first attempt is judged, so they cannot wait for a failure. A tenant
//! without values of its own follows the host's, so the tenant item holds both:
//! `lockout` (the tenant admin's, if set) and `host_lockout` with
//! `host_lockout_version` (a copy of the host's). Reading the host's item too,
//! even in the same `BatchGetItem`, would make every tenant login read two items.
//!
//! What keeps the copies right is that the host item's `lockout_version` orders
//! every host change, and every copy says which version it holds:
//! - A host change is one `UpdateItem` on `HOST` (`SET lockout`, `ADD
//!   lockout_version 1`, returning the new version *v*), then a `Query` of the
//!   `TENANTS` listing and, per tenant, `UpdateItem SET host_lockout, host_lockout_version = v`
//!   on condition that the stored version is older. Two changes racing therefore
//!   leave the newer values in every tenant, whichever copy lands last.
//! - Creating a tenant reads `HOST`, writes the tenant with that copy and
//!   version, and checks in the same transaction (`ConditionCheck` on `HOST`)
//!   that the version has not moved. A host change that commits first makes the
//!   creation read again (up to 5 times); one that commits after finds the new
//!   tenant in its listing, since the listing item is in the same transaction.
//! - A host change that fails half way (the function timed out, DynamoDB refused)
//!   answers 503; the admin's retry bumps the version again and copies to all.
//!   Until then some tenants follow the older values: the window is one failed
//!   admin request, never a silent split.
//!
//! The copies are made 16 at a time; at about 5 ms each a function with a 10 s
//! timeout reaches some 10,000 tenants per change. Tenants created before the
//! `TENANTS` listing existed are not in it: list them once
//! (`PutItem pk=TENANTS, sk=<key>` for each `TENANT#` item) when upgrading.
//!
//! # Contention
//! No hot item is rewritten by read-then-conditional-put. Each send limit is its
//! own counter, counted by one conditional `UpdateItem`:
//! `ADD count 1` on `attribute_not_exists(pk) OR (window_end > :now AND count < :max)`,
//! so concurrent sends in one tenant all count and none fails for racing another;
//! the cap holds because the condition and the add are one atomic step. A window
//! that has ended is started again by a second conditional write (`window_end =` the
//! old end), once per window; a sender that loses that race counts in the new window.
//! The limits of one send are counted at once; if one refuses, the others are given
//! back (`ADD count -1` on the same `window_end`). The cost of a give-back: a
//! concurrent send may briefly see one send too many and be refused, the safe side.
//!
//! Settings are never rewritten whole from a read: a change sets only the fields it
//! changes inside the `settings` map, each on condition that it still holds what the
//! admin read (lists compared by size and element), so two admins changing different
//! fields both keep their change and a change to a moved field is refused (409).
//! Authenticator writes are conditioned on the authenticator the handler decided on.
//!
//! # The policy item is read every time (no cache)
//! Every request of a host user reads `HOST` (a tenant user, its tenant item),
//! strongly consistently. A partition serves about 3,000 strongly consistent reads a
//! second, so one host's sign-ins and sends would reach that around 1,000 sign-ins a
//! second (about 3 policy reads each), far above the API's default throttle (50
//! requests a second, burst 100). A per-process cache with a version check would
//! still need a read per request to check the version, saving nothing; a cache
//! trusted for N seconds would apply a tightened policy (SMS disallowed, 2FA forced)
//! up to N seconds late in every warm Lambda, and the saving measured in
//! BENCHMARKS.md (one `GetItem` a request, a few ms in-region, often beside the
//! user read) does not buy that. Decided: no cache; revisit only if one policy
//! partition is measured hot.
//!
//! # Retries
//! The SDK retries throttled and failed calls. A retried counter `ADD` may count one
//! send twice; that errs on the refusing side and ends with the window.
//!
//! # Round trips
//! Every read of the table is strongly consistent: a sign-in must see the write that
//! ended the previous one.
//! - Two-factor policy: one `GetItem` (`HOST`, or the tenant item, which holds the
//!   host's feature for the tenant and the tenant admin's settings together).
//! - `user` (every authenticated call): one `GetItem`.
//! - `user_by_email`: two sequential `GetItem`s (email item, then user item). The
//!   email item is what makes the address unique, in the same transaction as the
//!   user; a GSI would save a hop but is only eventually consistent, so a login
//!   right after registering could miss.
//! - Login: policy ‖ `login_record` (the email item, with a copy of the password
//!   hash): one round trip before the password check. Argon2 then runs beside
//!   `take_slot` on the user item (which returns the user), and the answer waits for
//!   both; a right password ends with `succeed`. So the critical path is one round
//!   trip, Argon2 (which hides the slot's round trip), and the success write. It
//!   costs a write per sign-in that the old read did not (two `UpdateItem`s instead
//!   of one `GetItem`), and 100-odd bytes on the email item. The copy is written with
//!   the user and refreshed by `update_user` when the hash changes; if it is ever
//!   stale, login checks again against the user item's hash, which is the truth.
//! - `create_user`: one `TransactWriteItems`. `create_tenant`:
//!   a `GetItem` of `HOST`, then one `TransactWriteItems` (repeated only when the
//!   host's lockout values changed in between).
//! - `host` (the host's policy: settings and lockout values): one `GetItem`.
//! - `set_host_settings`, the host's first settings change: one `UpdateItem` (never a put, which would drop the
//!   lockout values). `set_host_lockout`: one `UpdateItem`, one `Query` of the
//!   listing (per 1 MB page), one `UpdateItem` per tenant. `set_tenant_lockout`:
//!   one `UpdateItem`.
//! - `take_slot`, `lock`, `unlock`, `succeed` (one `TransactWriteItems` for a sent code),
//!   `update_user`, `update_user_if_authenticator`, `take_code`, feature and settings
//!   writes: one conditional write (the host's first settings change: two).
//! - A send: one `UpdateItem` per limit, all at once (a second once per window that
//!   ended; a give-back each when one refuses). `devices`: one `Query` (per 1 MB
//!   page); `delete_devices`: a `Query` then `BatchWriteItem`s of 25.
//! - `users_in`, `side_events`: one index `Query` a page; `user_events`: one table
//!   `Query` a page. Each asks for one item more than the page so that the last
//!   page says so; a page DynamoDB cut short (1 MB, or a `type` filter) costs
//!   another `Query`, at most eight.
//! - `record_events`: one `PutItem`, or one `BatchWriteItem` for the events one
//!   request causes together (a sign-in with a recovery code, a lockout).

mod item;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck,
    CreateGlobalSecondaryIndexAction, Delete, DeleteRequest, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    Put, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, WriteRequest,
};

use self::item::{Item, Reader, keys, n, s};
use super::{
    CodeStore, DeviceStore, EventStore, LoginRecord, Page, PageKey, Slot, Spend, StoreError,
    Subject, Succeeded, Success, TenantStore, ThrottleStore, UserStore,
};
use crate::audit::{EventType, SecurityEvent};
use crate::clock::Timestamp;
use crate::codes::{CodePurpose, PendingCode};
use crate::config::{ConfigError, Env};
use crate::devices::Device;
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::tenant::{Host, Scope, Tenant};
use crate::throttle::{Limit, Taken, Window};
use crate::user::{Authenticator, User, UserPatch};

/// What [`DynamoStore::ensure_table`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// This call created the table.
    Created,
    /// The table was there already (with the right key schema).
    Existed,
}

/// A [`super::Store`] over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The store `TABLE_NAME` (and `AWS_ENDPOINT_URL_DYNAMODB` or `DYNAMODB_ENDPOINT`)
/// name. Does not create the table: in AWS the template owns it.
pub async fn store_from_env(
    env: &dyn Env,
    sdk: &aws_config::SdkConfig,
) -> Result<Arc<dyn super::Store>, ConfigError> {
    Ok(Arc::new(DynamoStore::from_env(env, sdk)?))
}

impl DynamoStore {
    /// A store over `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The store `TABLE_NAME` names; the endpoint is `AWS_ENDPOINT_URL_DYNAMODB`
    /// or `DYNAMODB_ENDPOINT` when set (DynamoDB Local), else the SDK's default.
    pub fn from_env(env: &dyn Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table = env.get("TABLE_NAME").ok_or_else(|| {
            ConfigError::new(
                "TABLE_NAME",
                "required: the DynamoDB table to store users in",
            )
        })?;
        let mut config = crate::timeouts::dynamodb(sdk);
        if let Some(url) = env
            .get("AWS_ENDPOINT_URL_DYNAMODB")
            .or_else(|| env.get("DYNAMODB_ENDPOINT"))
        {
            config = config.endpoint_url(url);
        }
        Ok(Self::new(Client::from_conf(config.build()), table))
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

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

    async fn create_if_absent(&self) -> Result<Ensured, StoreError> {
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
        Ok(ensured)
    }

    async fn check_key_schema(&self) -> Result<(), StoreError> {
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
    async fn ensure_side_index(&self) -> Result<(), StoreError> {
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
                None => {
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
                }
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

    /// One page of a `Query`: asks for one item more than `limit` so that `next` is
    /// `None` exactly on the last page, and carries on past pages DynamoDB cut short
    /// (1 MB, or a filter that dropped items), at most a few times.
    async fn query_page(
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

    async fn wait_until_active(&self) -> Result<(), StoreError> {
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

    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
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

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn put_if(
        &self,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
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
    async fn transact(
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

    /// One conditional `UpdateItem` on the user item; `Ok(false)` when the condition failed.
    async fn update_user_if(
        &self,
        id: &str,
        update: Update,
        condition: &str,
    ) -> Result<bool, StoreError> {
        self.update_if(
            item::key(keys::user_pk(id), keys::USER_SK),
            update,
            condition,
        )
        .await
    }

    /// One conditional `UpdateItem`; `Ok(false)` when the condition failed.
    async fn update_if(
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

    /// One `BatchWriteItem` of at most 25 requests, retrying what comes back unprocessed under load.
    async fn batch_write(
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

    async fn device_items(&self, user_id: &str) -> Result<Vec<Item>, StoreError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_names("#sk", item::SK)
            .expression_attribute_values(":pk", s(keys::user_pk(user_id)))
            .expression_attribute_values(":prefix", s(keys::DEVICE_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(unavailable)?;
        Ok(pages)
    }
}

/// An `UpdateItem` expression under construction; every attribute goes through a
/// placeholder, since many plain words (`name`, `count`) are reserved.
#[derive(Default)]
struct Update {
    sets: Vec<String>,
    removes: Vec<String>,
    adds: Vec<String>,
    deletes: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
}

impl Update {
    fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }
    fn value(&mut self, name: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> String {
        let placeholder = format!(":{name}");
        self.values.insert(placeholder.clone(), v);
        placeholder
    }
    fn set(mut self, attr: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.sets.push(format!("{k} = {v}"));
        self
    }
    fn set_or_remove(self, attr: &str, v: Option<aws_sdk_dynamodb::types::AttributeValue>) -> Self {
        match v {
            Some(v) => self.set(attr, v),
            None => self.remove(attr),
        }
    }
    /// `SET attr = if_not_exists(attr, v)`: only a new item takes the value.
    fn set_if_absent(mut self, attr: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.sets.push(format!("{k} = if_not_exists({k}, {v})"));
        self
    }
    fn remove(mut self, attr: &str) -> Self {
        let k = self.name(attr);
        self.removes.push(k);
        self
    }
    fn add(mut self, attr: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.adds.push(format!("{k} {v}"));
        self
    }
    fn delete(mut self, attr: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.deletes.push(format!("{k} {v}"));
        self
    }
    /// Adds a name or value used only by the condition.
    fn with_name(mut self, attr: &str) -> Self {
        self.name(attr);
        self
    }
    fn with_value(mut self, name: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        self.value(name, v);
        self
    }
    fn is_empty(&self) -> bool {
        self.sets.is_empty()
            && self.removes.is_empty()
            && self.adds.is_empty()
            && self.deletes.is_empty()
    }
    fn expression(&self) -> String {
        [
            ("SET", &self.sets, ", "),
            ("REMOVE", &self.removes, ", "),
            ("ADD", &self.adds, ", "),
            ("DELETE", &self.deletes, ", "),
        ]
        .iter()
        .filter(|(_, parts, _)| !parts.is_empty())
        .map(|(verb, parts, sep)| format!("{verb} {}", parts.join(sep)))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// What [`DynamoStore::query_page`] asks for.
struct PageQuery<'a> {
    index: Option<&'static str>,
    key_condition: &'a str,
    filter: Option<&'a str>,
    names: &'a [(&'a str, &'a str)],
    values: Vec<(&'a str, AttributeValue)>,
    forward: bool,
    /// The page key of an item (or of DynamoDB's own last evaluated key).
    page_key: fn(&Item) -> Result<PageKey, StoreError>,
}

/// The index every side's users and events are paged through: all attributes are
/// projected, so a page is one `Query` with no follow-up reads.
fn side_index() -> Result<GlobalSecondaryIndex, StoreError> {
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

fn user_of(i: &Item) -> Result<String, StoreError> {
    let pk = Reader(i).s(item::PK)?;
    pk.strip_prefix("USER#")
        .map(str::to_string)
        .ok_or_else(|| StoreError::Corrupt(format!("{pk} is not a user's partition")))
}

/// Page key of an item read through the side index (a user or an event).
fn side_page_key(i: &Item) -> Result<PageKey, StoreError> {
    Ok(PageKey {
        sort: Reader(i).s(item::SIDE_SK)?,
        user_id: user_of(i)?,
    })
}

/// Page key of an event read from its user's partition.
fn event_page_key(i: &Item) -> Result<PageKey, StoreError> {
    let sk = Reader(i).s(item::SK)?;
    let sort = sk
        .strip_prefix(keys::EVENT_PREFIX)
        .map(str::to_string)
        .ok_or_else(|| StoreError::Corrupt(format!("{sk} is not an event")))?;
    Ok(PageKey {
        sort,
        user_id: user_of(i)?,
    })
}

fn events_from(page: Page<Item>) -> Result<Page<SecurityEvent>, StoreError> {
    Ok(Page {
        items: page
            .items
            .iter()
            .map(item::event_from)
            .collect::<Result<_, _>>()?,
        next: page.next,
    })
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

fn built(e: BuildError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

fn attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(built)
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(built)
}

/// The `UpdateItem` of a patch: only the fields it names.
fn patch_update(patch: &UserPatch) -> Update {
    let mut u = Update::default().with_name(item::PK);
    if let Some(v) = patch.email_confirmed {
        u = u.set(
            "email_confirmed",
            aws_sdk_dynamodb::types::AttributeValue::Bool(v),
        );
    }
    if let Some(v) = &patch.phone_number {
        u = u.set_or_remove("phone_number", v.as_ref().map(s));
    }
    if let Some(v) = patch.phone_number_confirmed {
        u = u.set(
            "phone_number_confirmed",
            aws_sdk_dynamodb::types::AttributeValue::Bool(v),
        );
    }
    if let Some(v) = patch.two_factor_enabled {
        u = u.set(
            "two_factor_enabled",
            aws_sdk_dynamodb::types::AttributeValue::Bool(v),
        );
    }
    if let Some(v) = &patch.authenticator {
        u = u.set_or_remove("authenticator", v.as_ref().map(item::authenticator));
    }
    if let Some(v) = &patch.recovery_codes {
        u = u.set_or_remove("recovery_codes", item::string_set(v));
    }
    if let Some(v) = &patch.security_stamp {
        u = u.set("security_stamp", s(v));
    }
    if let Some(v) = &patch.password_hash {
        u = u.set("password_hash", s(v));
    }
    if let Some(v) = &patch.pending_sign_in {
        u = u.set_or_remove("pending_sign_in", v.as_ref().map(s));
    }
    if patch.reset_failures {
        u = u.set("failed_count", n(0)).set("failure_streak", n(0));
    }
    u
}

const USER_EXISTS: &str = "attribute_exists(#pk)";

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let new = "attribute_not_exists(#pk)";
        let names = [("#pk", item::PK)];
        let tx = vec![
            self.put_if(item::user_item(user), new, &names, vec![])?,
            self.put_if(item::email_item(user), new, &names, vec![])?,
        ];
        match self.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.get(1) == Some(&true) => Err(StoreError::Conflict("email")),
            Err(_) => Err(StoreError::Conflict("user")),
        }
    }

    async fn user_by_email(
        &self,
        scope: &Scope,
        email_key: &str,
    ) -> Result<Option<User>, StoreError> {
        let Some(pointer) = self
            .get(item::single_key(keys::email_pk(scope, email_key)))
            .await?
        else {
            return Ok(None);
        };
        let id = Reader(&pointer).s("user_id")?;
        self.user(&id).await
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.get(item::key(keys::user_pk(id), keys::USER_SK))
            .await?
            .as_ref()
            .map(item::user_from)
            .transpose()
    }

    async fn update_user(&self, id: &str, patch: &UserPatch) -> Result<(), StoreError> {
        let u = patch_update(patch);
        if u.is_empty() {
            return match self.user(id).await? {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound),
            };
        }
        if !self.update_user_if(id, u, USER_EXISTS).await? {
            return Err(StoreError::NotFound);
        }
        if let Some(hash) = &patch.password_hash {
            // Login's copy on the email item. Not atomic with the user: a stale copy
            // only costs login a second check against the user item's hash.
            if let Some(user) = self.user(id).await? {
                let key = item::single_key(keys::email_pk(&user.scope, &user.email.to_lowercase()));
                let copy = Update::default()
                    .set("password_hash", s(hash))
                    .with_name(item::PK)
                    .with_name("user_id")
                    .with_value("user_id", s(id));
                self.update_if(key, copy, "attribute_exists(#pk) AND #user_id = :user_id")
                    .await?;
            }
        }
        Ok(())
    }

    async fn update_user_if_authenticator(
        &self,
        id: &str,
        expected: Option<&Authenticator>,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        let u = patch_update(patch)
            .with_name(item::PK)
            .with_name("authenticator");
        match expected {
            None => {
                self.update_user_if(
                    id,
                    u,
                    "attribute_exists(#pk) AND attribute_not_exists(#authenticator)",
                )
                .await
            }
            // Scalars compared one by one: the key and whether it is enabled are what was decided on.
            Some(a) => {
                let u = u
                    .with_name("sealed_key")
                    .with_name("enabled")
                    .with_value("expected_sealed_key", s(&a.sealed_key))
                    .with_value(
                        "expected_enabled",
                        aws_sdk_dynamodb::types::AttributeValue::Bool(a.enabled),
                    );
                let condition = "attribute_exists(#pk) AND #authenticator.#sealed_key = :expected_sealed_key AND #authenticator.#enabled = :expected_enabled";
                self.update_user_if(id, u, condition).await
            }
        }
    }

    async fn login_record(
        &self,
        scope: &Scope,
        email_key: &str,
    ) -> Result<Option<LoginRecord>, StoreError> {
        let Some(pointer) = self
            .get(item::single_key(keys::email_pk(scope, email_key)))
            .await?
        else {
            return Ok(None);
        };
        let r = Reader(&pointer);
        Ok(Some(LoginRecord {
            user_id: r.s("user_id")?,
            password_hash: r.opt_s("password_hash")?,
        }))
    }

    async fn take_slot(
        &self,
        subject: Subject<'_>,
        attempt: &str,
        sid: Option<&str>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        let mut u = Update::default()
            .add("failed_count", n(1))
            .add("failure_streak", n(1))
            .set("slot_attempt", s(attempt))
            .with_name("lockout_end")
            .with_value("now", n(now))
            .with_value("max", n(max))
            .with_value("hard", n(super::HARD_LIMIT));
        let mut condition = String::from(
            "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now) \
             AND (attribute_not_exists(#failed_count) OR #failed_count < :max) \
             AND (attribute_not_exists(#failure_streak) OR #failure_streak < :hard) \
             AND (attribute_not_exists(#slot_attempt) OR #slot_attempt <> :slot_attempt)",
        );
        let key = match subject {
            Subject::User(id) => {
                u = u.with_name(item::PK);
                condition.push_str(" AND attribute_exists(#pk)");
                if let Some(sid) = sid {
                    u = u.with_name("pending_sign_in").with_value("sid", s(sid));
                    condition.push_str(" AND #pending_sign_in = :sid");
                }
                item::key(keys::user_pk(id), keys::USER_SK)
            }
            Subject::Unknown(k) => {
                u = u.set(item::TTL, n(now + super::UNKNOWN_COUNTER_SECONDS));
                item::single_key(keys::unknown_pk(k))
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(u.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let (item, refused) = match result {
            Ok(out) => (out.attributes.unwrap_or_default(), false),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => match c.item() {
                    Some(old) => (old.clone(), true),
                    None => return Err(StoreError::NotFound),
                },
                _ => return Err(unavailable(e)),
            },
        };
        let r = Reader(&item);
        let mine = r.opt_s("slot_attempt")?.as_deref() == Some(attempt);
        if !refused || mine {
            // Refused as a retry of a write that went through: this attempt's own slot.
            let user = match subject {
                Subject::User(_) => Some(Box::new(item::user_from(&item)?)),
                Subject::Unknown(_) => None,
            };
            return Ok(Slot::Taken {
                user,
                count: r.counter("failed_count")?,
                streak: r.counter("failure_streak")?,
            });
        }
        if let Some(end) = r
            .opt_n::<Timestamp>("lockout_end")?
            .filter(|end| *end > now)
        {
            return Ok(Slot::Locked(end));
        }
        if sid.is_some() && r.opt_s("pending_sign_in")?.as_deref() != sid {
            return Ok(Slot::Ended);
        }
        if r.counter("failure_streak")? >= super::HARD_LIMIT {
            return Ok(Slot::Exhausted);
        }
        Ok(Slot::Full)
    }

    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        let mut u = Update::default()
            .set("lockout_end", n(until))
            .set("failed_count", n(0))
            .with_value("now", n(now));
        if hard {
            u = u.set("failure_streak", n(0));
        }
        // A lock already on stands, except that a hard lock replaces a shorter one (a
        // raced hundredth failure must still lock long and restart the streak).
        let mut condition = String::from(if hard {
            "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now OR #lockout_end < :lockout_end)"
        } else {
            "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now)"
        });
        let key = match subject {
            Subject::User(id) => {
                u = u.remove("pending_sign_in").with_name(item::PK);
                condition.push_str(" AND attribute_exists(#pk)");
                item::key(keys::user_pk(id), keys::USER_SK)
            }
            Subject::Unknown(k) => {
                u = u.set(
                    item::TTL,
                    n(until.max(now) + super::UNKNOWN_COUNTER_SECONDS),
                );
                item::single_key(keys::unknown_pk(k))
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(u.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Locked already, at least as long (by a concurrent attempt): that lock stands.
            Err(e) if condition_failed(&e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) if c.item().is_none() => {
                    Err(StoreError::NotFound)
                }
                _ => Ok(()),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn succeed(
        &self,
        id: &str,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let (mut count, mut streak) = (success.release_only, success.release_only);
        // The counts to give back may have been reset meanwhile (a lock reset the
        // count while the answer was judged, and that lock has ended): write again
        // giving back only what is still counted. Each retry gives back less: at most two.
        for _ in 0..3 {
            match self.write_success(id, success, now, count, streak).await? {
                Ok(done) => return Ok(done),
                Err((counted, streaked)) => {
                    (count, streak) = (count && counted > 0, streak && streaked > 0)
                }
            }
        }
        Ok(Succeeded::Spent)
    }

    async fn unlock(&self, id: &str) -> Result<(), StoreError> {
        let u = Update::default()
            .remove("lockout_end")
            .set("failed_count", n(0))
            .with_name(item::PK);
        if self.update_user_if(id, u, USER_EXISTS).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn users_in(
        &self,
        scope: &Scope,
        email_prefix: &str,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        let start = after.map(|a| {
            let mut k = item::key(keys::user_pk(&a.user_id), keys::USER_SK);
            k.insert(item::SIDE_PK.to_string(), s(keys::side_users(scope)));
            k.insert(item::SIDE_SK.to_string(), s(&a.sort));
            k
        });
        let mut values = vec![(":side", s(keys::side_users(scope)))];
        let key_condition = if email_prefix.is_empty() {
            "#side_pk = :side"
        } else {
            values.push((":prefix", s(email_prefix)));
            "#side_pk = :side AND begins_with(#side_sk, :prefix)"
        };
        let names: &[(&str, &str)] = if email_prefix.is_empty() {
            &[("#side_pk", item::SIDE_PK)]
        } else {
            &[("#side_pk", item::SIDE_PK), ("#side_sk", item::SIDE_SK)]
        };
        let q = PageQuery {
            index: Some(item::SIDE_INDEX),
            key_condition,
            filter: None,
            names,
            values,
            forward: true,
            page_key: side_page_key,
        };
        let page = self.query_page(q, start, limit).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(item::user_from)
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }
}

impl DynamoStore {
    /// The success write. With `release_only`, the slot is given back by `ADD -1`
    /// on `failed_count` (when `count`) and `failure_streak` (when `streak`), each
    /// only while it is above 0, so the counts never go below zero; a refusal for
    /// that alone is `Err` with the counts found.
    async fn write_success(
        &self,
        id: &str,
        success: &Success<'_>,
        now: Timestamp,
        count: bool,
        streak: bool,
    ) -> Result<Result<Succeeded, (u32, u32)>, StoreError> {
        let mut u = patch_update(success.patch)
            .set("done_attempt", s(success.attempt))
            .with_name(item::PK)
            .with_name("lockout_end")
            .with_value("now", n(now));
        let mut condition = String::from(
            "attribute_exists(#pk) AND (attribute_not_exists(#lockout_end) OR #lockout_end <= :now)",
        );
        if !success.release_only {
            u = u.set("failed_count", n(0)).set("failure_streak", n(0));
        }
        for (attr, give_back) in [("failed_count", count), ("failure_streak", streak)] {
            if success.release_only && give_back {
                u = u.add(attr, n(-1)).with_value("zero", n(0));
                condition.push_str(&format!(" AND #{attr} > :zero"));
            }
        }
        if let Some(sid) = success.sid {
            if success.patch.pending_sign_in.is_none() {
                u = u.remove("pending_sign_in");
            }
            u = u.with_name("pending_sign_in").with_value("sid", s(sid));
            condition.push_str(" AND #pending_sign_in = :sid");
        }
        if let Some(a) = success.authenticator {
            // Scalars compared one by one, as in `update_user_if_authenticator`.
            u = u
                .with_name("authenticator")
                .with_name("sealed_key")
                .with_name("enabled")
                .with_value("expected_sealed_key", s(&a.sealed_key))
                .with_value(
                    "expected_enabled",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(a.enabled),
                );
            condition.push_str(" AND #authenticator.#sealed_key = :expected_sealed_key AND #authenticator.#enabled = :expected_enabled");
        }
        match success.spend {
            Spend::Nothing | Spend::Code(..) => {}
            Spend::TotpStep(step) => {
                u = u.set("totp_last_step", n(step));
                condition.push_str(" AND (attribute_not_exists(#totp_last_step) OR #totp_last_step < :totp_last_step)");
            }
            Spend::RecoveryCode(hash) => {
                u = u
                    .delete(
                        "recovery_codes",
                        aws_sdk_dynamodb::types::AttributeValue::Ss(vec![hash.to_string()]),
                    )
                    .with_value("hash", s(hash));
                condition.push_str(" AND contains(#recovery_codes, :hash)");
            }
        }
        let key = item::key(keys::user_pk(id), keys::USER_SK);
        let (old, code_refused) = match success.spend {
            Spend::Code(purpose, hash) => {
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression(u.expression())
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(u.names))
                    .set_expression_attribute_values(Some(u.values))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(built)?;
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(item::key(keys::user_pk(id), keys::code_sk(purpose))))
                    .condition_expression("#hash = :hash")
                    .expression_attribute_names("#hash", "hash")
                    .expression_attribute_values(":hash", s(hash))
                    .build()
                    .map_err(built)?;
                let items = vec![
                    TransactWriteItem::builder().update(update).build(),
                    TransactWriteItem::builder().delete(delete).build(),
                ];
                let mut conflicts = 0;
                loop {
                    // The client token makes the SDK's own retries of this call idempotent.
                    let result = self
                        .client
                        .transact_write_items()
                        .set_transact_items(Some(items.clone()))
                        .client_request_token(success.attempt)
                        .send()
                        .await;
                    let e = match result {
                        Ok(_) => return Ok(Ok(Succeeded::Done)),
                        Err(e) => e,
                    };
                    let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                        e.as_service_error()
                    else {
                        return Err(unavailable(e));
                    };
                    let reasons = c.cancellation_reasons();
                    let failed = |i: usize| {
                        reasons
                            .get(i)
                            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
                    };
                    if failed(0) || failed(1) {
                        let old = if failed(0) {
                            reasons.first().and_then(|r| r.item().cloned())
                        } else {
                            None
                        };
                        break (old, failed(1));
                    }
                    // Lost only to a concurrent transaction on the same items: try again, bounded.
                    conflicts += 1;
                    if conflicts > 5
                        || !reasons
                            .iter()
                            .any(|r| r.code() == Some("TransactionConflict"))
                    {
                        return Err(unavailable(e));
                    }
                    tokio::time::sleep(Duration::from_millis(20 * conflicts)).await;
                }
            }
            _ => {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression(u.expression())
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(u.names))
                    .set_expression_attribute_values(Some(u.values))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => return Ok(Ok(Succeeded::Done)),
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                            (Some(c.item().cloned().ok_or(StoreError::NotFound)?), false)
                        }
                        _ => return Err(unavailable(e)),
                    },
                }
            }
        };
        let Some(old) = old else {
            // Only the code's condition failed: used, replaced or expired meanwhile.
            return Ok(Ok(if code_refused {
                Succeeded::Spent
            } else {
                Succeeded::Ended
            }));
        };
        let r = Reader(&old);
        if r.opt_s("done_attempt")?.as_deref() == Some(success.attempt) {
            // A retry of a write that went through: this attempt's own success.
            return Ok(Ok(Succeeded::Done));
        }
        if let Some(end) = r
            .opt_n::<Timestamp>("lockout_end")?
            .filter(|end| *end > now)
        {
            return Ok(Ok(Succeeded::Locked(end)));
        }
        if success.sid.is_some() && r.opt_s("pending_sign_in")?.as_deref() != success.sid {
            return Ok(Ok(Succeeded::Ended));
        }
        if let Some(a) = success.authenticator
            && item::user_from(&old)?.authenticator.as_ref() != Some(a)
        {
            return Ok(Ok(Succeeded::Changed));
        }
        let (counted, streaked) = (r.counter("failed_count")?, r.counter("failure_streak")?);
        if (count && counted == 0) || (streak && streaked == 0) {
            return Ok(Err((counted, streaked)));
        }
        Ok(Ok(Succeeded::Spent))
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn record_events(&self, events: &[SecurityEvent]) -> Result<(), StoreError> {
        match events {
            [] => Ok(()),
            [one] => self.put(item::event_item(one)?).await,
            many => {
                let puts = many
                    .iter()
                    .map(|e| {
                        Ok(WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(item::event_item(e)?))
                                    .build()
                                    .map_err(built)?,
                            )
                            .build())
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                for chunk in puts.chunks(25) {
                    self.batch_write(chunk.to_vec(), "security events").await?;
                }
                Ok(())
            }
        }
    }

    async fn user_events(
        &self,
        user_id: &str,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        // The start key is rebuilt in this user's partition whatever user the page key names.
        let start = after.map(|a| item::key(keys::user_pk(user_id), keys::event_sk(&a.sort)));
        let mut names = vec![("#pk", item::PK), ("#sk", item::SK)];
        let mut values = vec![
            (":pk", s(keys::user_pk(user_id))),
            (":prefix", s(keys::EVENT_PREFIX)),
        ];
        if let Some(t) = event_type {
            names.push(("#type", "type"));
            values.push((":type", s(t.as_str())));
        }
        let q = PageQuery {
            index: None,
            key_condition: "#pk = :pk AND begins_with(#sk, :prefix)",
            filter: event_type.map(|_| "#type = :type"),
            names: &names,
            values,
            forward: false,
            page_key: event_page_key,
        };
        events_from(self.query_page(q, start, limit).await?)
    }

    async fn side_events(
        &self,
        scope: &Scope,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        let start = after.map(|a| {
            let mut k = item::key(keys::user_pk(&a.user_id), keys::event_sk(&a.sort));
            k.insert(item::SIDE_PK.to_string(), s(keys::side_events(scope)));
            k.insert(item::SIDE_SK.to_string(), s(&a.sort));
            k
        });
        let mut names = vec![("#side_pk", item::SIDE_PK)];
        let mut values = vec![(":side", s(keys::side_events(scope)))];
        if let Some(t) = event_type {
            names.push(("#type", "type"));
            values.push((":type", s(t.as_str())));
        }
        let q = PageQuery {
            index: Some(item::SIDE_INDEX),
            key_condition: "#side_pk = :side",
            filter: event_type.map(|_| "#type = :type"),
            names: &names,
            values,
            forward: false,
            page_key: side_page_key,
        };
        events_from(self.query_page(q, start, limit).await?)
    }
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError> {
        let new = "attribute_not_exists(#pk)";
        let names = [("#pk", item::PK)];
        let key = tenant.name.to_ascii_lowercase();
        // The tenant starts with the host's lockout values as they are, and the
        // transaction checks they still are: a host change that lands first makes
        // this attempt fail and read again; one that lands after finds the tenant
        // in the listing it copies into.
        for _ in 0..5 {
            let host = self
                .get(item::single_key(keys::HOST_PK.to_string()))
                .await?;
            let version: u64 = match &host {
                Some(h) => Reader(h).opt_n("lockout_version")?.unwrap_or(0),
                None => 0,
            };
            let host_lockout = host
                .as_ref()
                .map(|h| item::opt_lockout(h, "lockout"))
                .transpose()?
                .flatten();
            let mut tenant_item = item::tenant_item(&Tenant {
                host_lockout,
                ..tenant.clone()
            });
            tenant_item.insert("host_lockout_version".to_string(), n(version));
            let unchanged = if version == 0 {
                "attribute_not_exists(#v)"
            } else {
                "#v = :v"
            };
            let mut check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(item::single_key(keys::HOST_PK.to_string())))
                .condition_expression(unchanged)
                .expression_attribute_names("#v", "lockout_version");
            if version > 0 {
                check = check.expression_attribute_values(":v", n(version));
            }
            let tx = vec![
                self.put_if(tenant_item, new, &names, vec![])?,
                self.put_if(item::user_item(admin), new, &names, vec![])?,
                self.put_if(item::email_item(admin), new, &names, vec![])?,
                self.put_if(item::tenant_listing_item(&key), new, &names, vec![])?,
                TransactWriteItem::builder()
                    .condition_check(check.build().map_err(built)?)
                    .build(),
            ];
            return match self.transact(tx).await? {
                Ok(()) => Ok(()),
                Err(failed) if failed.first() == Some(&true) || failed.get(3) == Some(&true) => {
                    Err(StoreError::Conflict("tenant"))
                }
                Err(failed) if failed.get(2) == Some(&true) => Err(StoreError::Conflict("email")),
                Err(failed) if failed.get(4) == Some(&true) => continue,
                Err(_) => Err(StoreError::Conflict("user")),
            };
        }
        Err(StoreError::Unavailable(
            "the host's lockout values kept changing while the tenant was created".into(),
        ))
    }

    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError> {
        self.get(item::single_key(keys::tenant_pk(key)))
            .await?
            .as_ref()
            .map(item::tenant_from)
            .transpose()
    }

    async fn set_tenant_feature(&self, key: &str, feature: Behaviour) -> Result<(), StoreError> {
        self.update_tenant(
            key,
            Update::default().set("feature", item::behaviour(feature)),
        )
        .await
    }

    async fn set_tenant_settings(
        &self,
        key: &str,
        settings: &TwoFactorSettings,
    ) -> Result<(), StoreError> {
        self.update_tenant(
            key,
            Update::default().set("settings", item::settings(settings)),
        )
        .await
    }

    async fn host_settings(&self) -> Result<Option<TwoFactorSettings>, StoreError> {
        Ok(self.host().await?.settings)
    }

    async fn set_host_settings(&self, settings: &TwoFactorSettings) -> Result<(), StoreError> {
        // An update, not a put: the host's lockout values live in the same item.
        self.update_host(Update::default().set("settings", item::settings(settings)))
            .await
            .map(|_| ())
    }

    async fn host(&self) -> Result<Host, StoreError> {
        match self
            .get(item::single_key(keys::HOST_PK.to_string()))
            .await?
        {
            Some(i) => item::host_from(&i),
            None => Ok(Host::default()),
        }
    }

    async fn set_host_lockout(&self, lockout: &LockoutPolicy) -> Result<(), StoreError> {
        let update = Update::default()
            .set("lockout", item::lockout(lockout))
            .add("lockout_version", n(1));
        let host = self.update_host(update).await?;
        let version: u64 = Reader(&host).n("lockout_version")?;
        // Every copy is conditional on being older, so two host changes racing
        // leave the newer values everywhere, whatever order the copies land in.
        let mut copies = tokio::task::JoinSet::new();
        for chunk in self.tenant_keys().await?.chunks(16) {
            for key in chunk {
                let (store, key, lockout) = (self.clone(), key.clone(), *lockout);
                copies.spawn(async move { store.copy_host_lockout(&key, &lockout, version).await });
            }
            while let Some(done) = copies.join_next().await {
                done.map_err(|e| StoreError::Unavailable(Box::new(e)))??;
            }
        }
        Ok(())
    }

    async fn set_tenant_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
    ) -> Result<(), StoreError> {
        self.update_tenant(
            key,
            Update::default().set("lockout", item::lockout(lockout)),
        )
        .await
    }

    async fn change_settings(
        &self,
        scope: &Scope,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
    ) -> Result<TwoFactorSettings, StoreError> {
        let key = match scope {
            Scope::Host => item::single_key(keys::HOST_PK.to_string()),
            Scope::Tenant(k) => item::single_key(keys::tenant_pk(k)),
        };
        let Some(change) = SettingsChange::new(from, to) else {
            return match (self.get(key).await?, scope) {
                (Some(current), _) => item::settings_or_default(&current),
                (None, Scope::Host) => Ok(TwoFactorSettings::default()),
                (None, Scope::Tenant(_)) => Err(StoreError::NotFound),
            };
        };
        // The host's settings exist only once saved; the first change sets them whole.
        // The host item may be there already without them (lockout values saved
        // first), so that first save is an update too, never a put that would drop them.
        for _ in 0..4 {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression(&change.update)
                .condition_expression(&change.condition)
                .set_expression_attribute_names(Some(change.names.clone()))
                .set_expression_attribute_values(Some(change.values.clone()))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let old = match result {
                Ok(out) => return item::settings_or_default(&out.attributes.unwrap_or_default()),
                Err(e) => match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => c.item().cloned(),
                    _ => return Err(unavailable(e)),
                },
            };
            let old = match old.filter(|i| !i.is_empty()) {
                Some(i) => Some(i),
                None => self.get(key.clone()).await?,
            };
            let saved = old.as_ref().filter(|i| i.contains_key("settings"));
            match (saved, old.is_some(), scope) {
                // Refused because a field moved: conflict. Refused only because the
                // settings were not there yet and now are (another admin's first save): again.
                (Some(old), _, _) => {
                    if change.moved(from, &item::settings_or_default(old)?) {
                        return Err(StoreError::Conflict("settings"));
                    }
                }
                (None, false, Scope::Tenant(_)) => return Err(StoreError::NotFound),
                (None, true, Scope::Tenant(_)) => {
                    return Err(StoreError::Unavailable(
                        "tenant item without settings".into(),
                    ));
                }
                (None, _, Scope::Host) if *from == TwoFactorSettings::default() => {
                    let created = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(key.clone()))
                        .update_expression("SET #settings = :settings")
                        .condition_expression("attribute_not_exists(#settings)")
                        .expression_attribute_names("#settings", "settings")
                        .expression_attribute_values(":settings", item::settings(to))
                        .send()
                        .await;
                    match created {
                        Ok(_) => return Ok(to.clone()),
                        // Another admin saved first: change on top of theirs.
                        Err(e) if condition_failed(&e) => {}
                        Err(e) => return Err(unavailable(e)),
                    }
                }
                (None, _, Scope::Host) => return Err(StoreError::Conflict("settings")),
            }
        }
        Err(StoreError::Conflict("settings"))
    }
}

/// One settings change as an `UpdateItem`: each changed field is set inside the
/// `settings` map on condition that it still holds the value the admin read.
struct SettingsChange {
    to: TwoFactorSettings,
    update: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
}

impl SettingsChange {
    fn new(from: &TwoFactorSettings, to: &TwoFactorSettings) -> Option<Self> {
        use aws_sdk_dynamodb::types::AttributeValue as Av;
        let mut sets = Vec::new();
        let mut conditions = vec!["attribute_exists(#settings)".to_string()];
        let mut names = HashMap::from([("#settings".to_string(), "settings".to_string())]);
        let mut values = HashMap::new();
        let mut field = |name: &str, old: Vec<(String, Av)>, new: Av| {
            names.insert(format!("#{name}"), name.to_string());
            sets.push(format!("#settings.#{name} = :{name}"));
            values.insert(format!(":{name}"), new);
            for (path, v) in old {
                let placeholder = format!(":old_{name}{}", conditions.len());
                conditions.push(format!("{path} = {placeholder}"));
                values.insert(placeholder, v);
            }
        };
        if from.behaviour != to.behaviour {
            field(
                "behaviour",
                vec![(
                    "#settings.#behaviour".into(),
                    item::behaviour(from.behaviour),
                )],
                item::behaviour(to.behaviour),
            );
        }
        if from.users_can_change != to.users_can_change {
            let old = vec![(
                "#settings.#users_can_change".into(),
                Av::Bool(from.users_can_change),
            )];
            field("users_can_change", old, Av::Bool(to.users_can_change));
        }
        if from.remember_browser != to.remember_browser {
            let old = vec![(
                "#settings.#remember_browser".into(),
                Av::Bool(from.remember_browser),
            )];
            field("remember_browser", old, Av::Bool(to.remember_browser));
        }
        if from.allowed_providers != to.allowed_providers {
            // A list is compared element by element: its size, then each entry.
            let mut old = vec![(
                "size(#settings.#allowed_providers)".to_string(),
                n(from.allowed_providers.len()),
            )];
            old.extend(
                from.allowed_providers
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (format!("#settings.#allowed_providers[{i}]"), s(p.as_str()))),
            );
            field(
                "allowed_providers",
                old,
                Av::L(to.allowed_providers.iter().map(|p| s(p.as_str())).collect()),
            );
        }
        if sets.is_empty() {
            return None;
        }
        Some(Self {
            to: to.clone(),
            update: format!("SET {}", sets.join(", ")),
            condition: conditions.join(" AND "),
            names,
            values,
        })
    }

    /// Whether a field this change sets no longer holds its `from` value in `now`.
    fn moved(&self, from: &TwoFactorSettings, now: &TwoFactorSettings) -> bool {
        let to = &self.to;
        (from.behaviour != to.behaviour && now.behaviour != from.behaviour)
            || (from.users_can_change != to.users_can_change
                && now.users_can_change != from.users_can_change)
            || (from.remember_browser != to.remember_browser
                && now.remember_browser != from.remember_browser)
            || (from.allowed_providers != to.allowed_providers
                && now.allowed_providers != from.allowed_providers)
    }
}

impl DynamoStore {
    /// Updates the host's item (creating it if absent); returns it as updated.
    async fn update_host(&self, update: Update) -> Result<Item, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::single_key(keys::HOST_PK.to_string())))
            .update_expression(update.expression())
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values).filter(|v| !v.is_empty()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// Every tenant's key, from the listing partition.
    async fn tenant_keys(&self) -> Result<Vec<String>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_values(":pk", s(keys::TENANTS_PK))
            .projection_expression("#sk")
            .expression_attribute_names("#sk", item::SK)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(unavailable)?;
        items.iter().map(|i| Reader(i).s(item::SK)).collect()
    }

    /// Copies the host's lockout values of `version` into a tenant unless a newer copy is there.
    async fn copy_host_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
        version: u64,
    ) -> Result<(), StoreError> {
        let update = Update::default()
            .set("host_lockout", item::lockout(lockout))
            .set("host_lockout_version", n(version))
            .with_name(item::PK);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::single_key(keys::tenant_pk(key))))
            .update_expression(update.expression())
            .condition_expression("attribute_exists(#pk) AND (attribute_not_exists(#host_lockout_version) OR #host_lockout_version < :host_lockout_version)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A newer copy is there already (or the tenant is gone): nothing to do.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn update_tenant(&self, key: &str, update: Update) -> Result<(), StoreError> {
        let update = update.with_name(item::PK);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::single_key(keys::tenant_pk(key))))
            .update_expression(update.expression())
            .condition_expression("attribute_exists(#pk)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl CodeStore for DynamoStore {
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError> {
        self.put(item::code_item(code)).await
    }

    async fn code(
        &self,
        user_id: &str,
        purpose: CodePurpose,
    ) -> Result<Option<PendingCode>, StoreError> {
        self.get(item::key(keys::user_pk(user_id), keys::code_sk(purpose)))
            .await?
            .as_ref()
            .map(item::code_from)
            .transpose()
    }

    async fn take_code(
        &self,
        user_id: &str,
        purpose: CodePurpose,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::user_pk(user_id),
                keys::code_sk(purpose),
            )))
            .condition_expression("#hash = :hash")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":hash", s(hash))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_code(&self, user_id: &str, purpose: CodePurpose) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::user_pk(user_id),
                keys::code_sk(purpose),
            )))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for DynamoStore {
    async fn take_send(&self, limit: &Limit, now: Timestamp) -> Result<Taken, StoreError> {
        let key = item::single_key(keys::window_pk(&limit.key));
        let fresh = limit.fresh(now);
        // Another send may reset the same ended window first; then the count is a
        // plain ADD on the next attempt. Only a window ending again and again
        // between two steps could exhaust this.
        for _ in 0..4 {
            let u = Update::default()
                .add("count", n(1))
                .set_if_absent("window_end", n(fresh.window_end))
                .set_if_absent(item::TTL, n(item::ttl_after(fresh.window_end)))
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
                    "attribute_not_exists(#pk) OR (#window_end > :now AND #count < :max)",
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
                    return Ok(Taken::Counted(item::window_from(
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
            let old = item::window_from(&old)?;
            if old.window_end > now {
                return Ok(Taken::Full(old));
            }
            // The window has ended: start it again, unless another send just did.
            let u = Update::default()
                .set("count", n(1))
                .set("window_end", n(fresh.window_end))
                .set(item::TTL, n(item::ttl_after(fresh.window_end)))
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::single_key(keys::window_pk(key))))
            .update_expression(u.expression())
            .condition_expression("#window_end = :end AND #count > :zero")
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The window ended and started again: what it counted is gone already.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn send_window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        self.get(item::single_key(keys::window_pk(key)))
            .await?
            .as_ref()
            .map(item::window_from)
            .transpose()
    }
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.put(item::device_item(device)).await
    }

    async fn device(&self, user_id: &str, device_id: &str) -> Result<Option<Device>, StoreError> {
        self.get(item::key(
            keys::user_pk(user_id),
            keys::device_sk(device_id),
        ))
        .await?
        .as_ref()
        .map(item::device_from)
        .transpose()
    }

    async fn devices(&self, user_id: &str) -> Result<Vec<Device>, StoreError> {
        let mut list = self
            .device_items(user_id)
            .await?
            .iter()
            .map(item::device_from)
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(list)
    }

    async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::user_pk(user_id),
                keys::device_sk(device_id),
            )))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn delete_devices(&self, user_id: &str) -> Result<(), StoreError> {
        let keys: Vec<Item> = self
            .device_items(user_id)
            .await?
            .into_iter()
            .map(|i| {
                i.into_iter()
                    .filter(|(k, _)| k == item::PK || k == item::SK)
                    .collect()
            })
            .collect();
        for chunk in keys.chunks(25) {
            let requests = chunk
                .iter()
                .map(|k| {
                    Ok(WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(k.clone()))
                                .build()
                                .map_err(built)?,
                        )
                        .build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.batch_write(requests, "remembered browsers").await?;
        }
        Ok(())
    }

    async fn touch_device(
        &self,
        user_id: &str,
        device_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::user_pk(user_id),
                keys::device_sk(device_id),
            )))
            .update_expression("SET #last_used_at = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#last_used_at", "last_used_at")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            // A browser forgotten meanwhile stays forgotten rather than coming back as a stub.
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_names_every_attribute_through_a_placeholder() {
        let u = Update::default()
            .set("count", n(1))
            .remove("name")
            .add("failed_count", n(1));
        assert_eq!(
            u.expression(),
            "SET #count = :count REMOVE #name ADD #failed_count :failed_count"
        );
        assert_eq!(u.names.get("#name").map(String::as_str), Some("name"));
    }

    #[test]
    fn a_store_without_a_table_name_is_refused_naming_the_variable() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let env = HashMap::from([(
            "DYNAMODB_ENDPOINT".to_string(),
            "http://127.0.0.1:1".to_string(),
        )]);
        assert_eq!(
            DynamoStore::from_env(&env, &sdk).unwrap_err().var,
            "TABLE_NAME"
        );
    }
}
