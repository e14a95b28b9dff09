//! Security events: under their user's partition and in their side's index partition.

use crate::ids::UserId;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use super::DynamoStore;
use super::item::{self, Item, Reader, SIDE_PK, SIDE_SK, TTL, corrupt, key, keys, n, s};
use super::request::{PageQuery, built, side_page_key, user_of};
use crate::audit::{EventType, SecurityEvent};
use crate::side::Side;
use crate::store::{EventStore, Page, PageKey, StoreError};

/// An event's item, under its user's partition and in its side's index partition;
/// `details` is a JSON string, so its shape is the domain's alone.
pub fn event_item(e: &SecurityEvent) -> Result<Item, StoreError> {
    let sort = e.sort_key();
    let mut i = key(keys::user_pk(&e.user_id), keys::event_sk(&sort));
    let details = serde_json::to_string(&e.details)
        .map_err(|err| StoreError::Corrupt(format!("event details: {err}")))?;
    let mut put = |k: &str, v: AttributeValue| {
        i.insert(k.to_string(), v);
    };
    put(SIDE_PK, s(keys::side_events(&e.side)));
    put(SIDE_SK, s(sort));
    put("event_id", s(&e.event_id));
    put("type", s(e.event_type.as_str()));
    put("at", n(e.at));
    put("user_id", s(&e.user_id));
    put("scope", s(e.side.key()));
    put("details", s(details));
    put(TTL, n(e.expires_at));
    let actor_id = e.actor_id.as_ref().map(String::from);
    for (k, v) in [
        ("actor_id", &actor_id),
        ("ip", &e.ip),
        ("user_agent", &e.user_agent),
    ] {
        if let Some(v) = v {
            put(k, s(v));
        }
    }
    Ok(i)
}

/// The item of an event of an email without an account: under the email's keyed
/// hash (beside its failure counter), in no side's index partition and without the
/// user and side it does not have, expiring as every event does.
pub fn unknown_event_item(key: &str, e: &SecurityEvent) -> Result<Item, StoreError> {
    let mut i = event_item(e)?;
    for gone in [SIDE_PK, SIDE_SK, "user_id", "scope"] {
        i.remove(gone);
    }
    i.extend(item::key(
        keys::unknown_pk(key),
        keys::event_sk(&e.sort_key()),
    ));
    Ok(i)
}

/// An event from its item.
pub fn event_from(i: &Item) -> Result<SecurityEvent, StoreError> {
    let r = Reader(i);
    let details = serde_json::from_str(&r.s("details")?)
        .map_err(|_| corrupt("details", "not a JSON object"))?;
    Ok(SecurityEvent {
        event_id: r.s("event_id")?,
        event_type: EventType::parse(&r.s("type")?)
            .ok_or_else(|| corrupt("type", "unknown event type"))?,
        at: r.n("at")?,
        user_id: UserId::from(r.s("user_id")?),
        side: Side::from_key(&r.s("scope")?)
            .ok_or_else(|| corrupt("scope", "unknown scope key"))?,
        actor_id: r.opt_s("actor_id")?.map(UserId::from),
        ip: r.opt_s("ip")?,
        user_agent: r.opt_s("user_agent")?,
        details,
        expires_at: r.n(TTL)?,
    })
}

/// Page key of an event read from its user's partition.
pub(super) fn event_page_key(i: &Item) -> Result<PageKey, StoreError> {
    let sk = Reader(i).s(item::SK)?;
    let sort = sk
        .strip_prefix(keys::EVENT_PREFIX)
        .map(str::to_string)
        .ok_or_else(|| StoreError::Corrupt(format!("{sk} is not an event")))?;
    Ok(PageKey {
        sort,
        user_id: user_of(i)?.into(),
    })
}

pub(super) fn events_from(page: Page<Item>) -> Result<Page<SecurityEvent>, StoreError> {
    Ok(Page {
        items: page
            .items
            .iter()
            .map(event_from)
            .collect::<Result<_, _>>()?,
        next: page.next,
    })
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn record_events(&self, events: &[SecurityEvent]) -> Result<(), StoreError> {
        self.put_events(events.iter().map(event_item).collect::<Result<_, _>>()?)
            .await
    }

    async fn record_unknown_events(
        &self,
        key: &str,
        events: &[SecurityEvent],
    ) -> Result<(), StoreError> {
        let items = events
            .iter()
            .map(|e| unknown_event_item(key, e))
            .collect::<Result<_, _>>()?;
        self.put_events(items).await
    }

    async fn user_events(
        &self,
        user_id: &UserId,
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
        scope: &Side,
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

impl DynamoStore {
    /// Event items in one request: a `PutItem` for one, a `BatchWriteItem` for more
    /// (25 a request). Both kinds of event take this path, so an unknown email's
    /// refusal costs the requests an account's does.
    async fn put_events(&self, items: Vec<Item>) -> Result<(), StoreError> {
        match <[Item; 1]>::try_from(items) {
            Ok([one]) => self.put(one).await,
            Err(many) => {
                let puts = many
                    .into_iter()
                    .map(|i| {
                        Ok(WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(i))
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
}
