//! Records to DynamoDB items and back. Hand-written rather than derived so that
//! what the conditional updates rely on is explicit: absent optional fields are
//! absent attributes (never `NULL`, which `<`/`<=` comparisons would trip on),
//! recovery codes are a string set (so one can be deleted atomically), and
//! `expires_at` is epoch seconds (the table's TTL attribute). Changes go through
//! [`Update`], the update-expression builder.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::clock::Timestamp;
use crate::store::StoreError;

/// An item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// The index that pages a side's users by email and its events by time.
pub const SIDE_INDEX: &str = "by_side";
/// Partition key of [`SIDE_INDEX`]: `USERS#<scope key>` or `EVENTS#<scope key>`.
pub const SIDE_PK: &str = "side_pk";
/// Sort key of [`SIDE_INDEX`]: the email's key (`Email::key`, which a user reads
/// back from it), or the event's sort key.
pub const SIDE_SK: &str = "side_sk";
/// The TTL attribute (epoch seconds) on codes, devices, send windows and events. On
/// codes, devices and windows it is set [`TTL_GRACE_SECONDS`] past the logical
/// expiry, which is kept in its own attribute and is what every decision reads:
/// DynamoDB deletes an expired item at any time from its TTL to days later, and an
/// answer must not flip with it. An event's is its retention end: nothing decides on it.
pub const TTL: &str = "expires_at";
/// How long an item outlives its logical expiry before TTL may delete it.
pub const TTL_GRACE_SECONDS: i64 = crate::store::TTL_GRACE_SECONDS;
/// The logical expiry of codes and devices (older items have only [`TTL`], then
/// equal to it).
pub const VALID_UNTIL: &str = "valid_until";

/// The id of the last conditional change written by a write that must know its own
/// retry (a settings change, an authenticator write): a fresh id per call, written
/// with the change. The SDK retries a write whose answer was lost; the retry then
/// fails its condition, and the old item carrying this call's id says the change
/// is there already, written by this very call.
pub const WRITE_ID: &str = "write_id";

/// A fresh [`WRITE_ID`] for one call.
pub fn new_write_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `old` (the item a refused write returned) carries the change written under `write_id`.
pub fn written_by(old: &Item, write_id: &str) -> bool {
    matches!(old.get(WRITE_ID), Some(AttributeValue::S(v)) if v == write_id)
}

/// The user item's attributes: its codec, its patches and the lockout writes
/// conditions all name them from here (a condition names `#<attribute>`, the
/// placeholder [`Update`] gives each).
pub mod attr {
    #![allow(missing_docs)]
    pub const ID: &str = "id";
    pub const SCOPE: &str = "scope";
    pub const EMAIL: &str = "email";
    pub const EMAIL_CONFIRMED: &str = "email_confirmed";
    pub const PASSWORD_HASH: &str = "password_hash";
    pub const PHONE_NUMBER: &str = "phone_number";
    pub const PHONE_NUMBER_CONFIRMED: &str = "phone_number_confirmed";
    pub const ROLES: &str = "roles";
    pub const TWO_FACTOR_ENABLED: &str = "two_factor_enabled";
    pub const AUTHENTICATOR: &str = "authenticator";
    pub const TOTP_LAST_STEP: &str = "totp_last_step";
    pub const RECOVERY_CODES: &str = "recovery_codes";
    pub const FAILED_COUNT: &str = "failed_count";
    pub const FAILURE_STREAK: &str = "failure_streak";
    pub const LOCKOUT_END: &str = "lockout_end";
    pub const SECURITY_STAMP: &str = "security_stamp";
    pub const PENDING_SIGN_IN: &str = "pending_sign_in";
    pub const CREATED_AT: &str = "created_at";
    pub const SECOND_FACTOR_LOST: &str = "second_factor_lost";
    /// When the lock after `HARD_LIMIT` consecutive failures ends: an unlock does not end it.
    pub const HARD_LOCK_END: &str = "hard_lock_end";
    /// The attempts whose slots are counted and not yet given back or reset (see
    /// the store's module doc on retries): a string set, at most as many as the
    /// count allows, emptied by every reset of the count.
    pub const HELD_SLOTS: &str = "held_slots";
}

/// The TTL of an item whose logical expiry is `expiry`.
pub fn ttl_after(expiry: Timestamp) -> Timestamp {
    expiry.saturating_add(TTL_GRACE_SECONDS)
}

/// Keys of every kind of item (see the module doc of `dynamo` for the layout).
pub mod keys {
    use crate::codes::CodePurpose;
    use crate::side::Side;

    /// The partition of a user: the user item, its codes, its devices and its sessions.
    pub fn user_pk(id: &crate::ids::UserId) -> String {
        format!("USER#{id}")
    }
    /// Sort key of the user item itself.
    pub const USER_SK: &str = "USER";
    /// Sort key of a pending code.
    pub fn code_sk(purpose: CodePurpose) -> String {
        format!("CODE#{}", purpose.as_str())
    }
    /// Sort-key prefix of remembered browsers.
    pub const DEVICE_PREFIX: &str = "DEVICE#";
    /// Sort key of one remembered browser.
    pub fn device_sk(device_id: &crate::ids::DeviceId) -> String {
        format!("{DEVICE_PREFIX}{device_id}")
    }
    /// Sort-key prefix of signed-in sessions.
    pub const SESSION_PREFIX: &str = "SESSION#";
    /// Sort key of one session.
    pub fn session_sk(session_id: &crate::ids::SessionId) -> String {
        format!("{SESSION_PREFIX}{session_id}")
    }
    /// The email-uniqueness item of a scope (scope keys never hold `#`).
    pub fn email_pk(scope: &Side, email_key: &str) -> String {
        format!("EMAIL#{}#{email_key}", scope.key())
    }
    /// A tenant: name, feature and settings in one item.
    pub fn tenant_pk(key: &str) -> String {
        format!("TENANT#{key}")
    }
    /// The host's settings.
    pub const HOST_PK: &str = "HOST";
    /// The failure counter of an email without an account, by its keyed hash.
    pub fn unknown_pk(key: &str) -> String {
        format!("GUESS#{key}")
    }
    /// The partition listing every tenant (one item per tenant, sort key the
    /// tenant's key): what lets the host's lockout values reach every tenant with a
    /// `Query`, never a `Scan`.
    pub const TENANTS_PK: &str = "TENANTS";
    /// A send-limit window.
    pub fn window_pk(key: &str) -> String {
        format!("WINDOW#{key}")
    }
    /// Sort-key prefix of a user's events.
    pub const EVENT_PREFIX: &str = "EVENT#";
    /// Sort key of an event, under its user's partition.
    pub fn event_sk(sort: &str) -> String {
        format!("{EVENT_PREFIX}{sort}")
    }
    /// The index partition of a side's users.
    pub fn side_users(scope: &Side) -> String {
        format!("USERS#{}", scope.key())
    }
    /// The index partition of a side's events.
    pub fn side_events(scope: &Side) -> String {
        format!("EVENTS#{}", scope.key())
    }
    /// Sort key of items that are alone in their partition: the kind again.
    pub fn single_sk(pk: &str) -> &str {
        pk.split('#').next().unwrap_or(pk)
    }
}

/// The primary key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// The key of an item alone in its partition.
pub fn single_key(pk: String) -> Item {
    let sk = keys::single_sk(&pk).to_string();
    key(pk, sk)
}

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A string set; `None` when empty, since DynamoDB has no empty sets.
pub fn string_set(v: &[String]) -> Option<AttributeValue> {
    (!v.is_empty()).then(|| AttributeValue::Ss(v.to_vec()))
}

pub(super) fn corrupt(name: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute {name}: {what}"))
}

/// Typed reads of an item's attributes; a missing or mistyped one is `Corrupt`.
pub struct Reader<'a>(pub &'a Item);

impl Reader<'_> {
    /// An optional string.
    pub fn opt_s(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(corrupt(name, "not a string")),
        }
    }
    /// A required string.
    pub fn s(&self, name: &str) -> Result<String, StoreError> {
        self.opt_s(name)?.ok_or_else(|| corrupt(name, "missing"))
    }
    /// An optional number.
    pub fn opt_n<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| corrupt(name, "not a number of the right kind")),
            Some(_) => Err(corrupt(name, "not a number")),
        }
    }
    /// A failure counter (`failed_count`, `failure_streak`); absent reads as 0. An
    /// item written before give-backs were conditioned on a positive count may hold
    /// a negative one: it reads as 0, so the user stays readable.
    pub fn counter(&self, name: &str) -> Result<u32, StoreError> {
        Ok(self
            .opt_n::<i64>(name)?
            .map_or(0, |v| u32::try_from(v.max(0)).unwrap_or(u32::MAX)))
    }
    /// A required number.
    pub fn n<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_n(name)?.ok_or_else(|| corrupt(name, "missing"))
    }
    /// A boolean; absent reads as false.
    pub fn bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            None => Ok(false),
            Some(AttributeValue::Bool(b)) => Ok(*b),
            Some(_) => Err(corrupt(name, "not a boolean")),
        }
    }
    /// A string set; absent reads as empty.
    pub fn string_set(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::Ss(v)) => {
                let mut v = v.clone();
                v.sort();
                Ok(v)
            }
            Some(_) => Err(corrupt(name, "not a string set")),
        }
    }
    /// A list of strings; absent reads as empty.
    pub fn string_list(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(v)) => v
                .iter()
                .map(|a| {
                    a.as_s()
                        .cloned()
                        .map_err(|_| corrupt(name, "holds a non-string"))
                })
                .collect(),
            Some(_) => Err(corrupt(name, "not a list")),
        }
    }
    /// An optional map.
    pub fn opt_map(&self, name: &str) -> Result<Option<&Item>, StoreError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(AttributeValue::M(m)) => Ok(Some(m)),
            Some(_) => Err(corrupt(name, "not a map")),
        }
    }
}

/// The logical expiry of a code or device item.
pub(super) fn valid_until(r: &Reader<'_>) -> Result<Timestamp, StoreError> {
    match r.opt_n(VALID_UNTIL)? {
        Some(t) => Ok(t),
        None => r.n(TTL),
    }
}

// The update-expression builder every `UpdateItem` goes through (its calls are in `request`).
/// An `UpdateItem` expression under construction; every attribute goes through a
/// placeholder, since many plain words (`name`, `count`) are reserved.
#[derive(Default, Clone)]
pub(super) struct Update {
    pub(super) sets: Vec<String>,
    pub(super) removes: Vec<String>,
    pub(super) adds: Vec<String>,
    pub(super) deletes: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Update {
    pub(super) fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }
    pub(super) fn value(&mut self, name: &str, v: AttributeValue) -> String {
        let placeholder = format!(":{name}");
        self.values.insert(placeholder.clone(), v);
        placeholder
    }
    pub(super) fn set(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.sets.push(format!("{k} = {v}"));
        self
    }
    pub(super) fn set_or_remove(self, attr: &str, v: Option<AttributeValue>) -> Self {
        match v {
            Some(v) => self.set(attr, v),
            None => self.remove(attr),
        }
    }
    /// `SET attr = if_not_exists(attr, v)`: only a new item takes the value.
    pub(super) fn set_if_absent(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.sets.push(format!("{k} = if_not_exists({k}, {v})"));
        self
    }
    pub(super) fn remove(mut self, attr: &str) -> Self {
        let k = self.name(attr);
        self.removes.push(k);
        self
    }
    pub(super) fn add(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.adds.push(format!("{k} {v}"));
        self
    }
    pub(super) fn delete(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.deletes.push(format!("{k} {v}"));
        self
    }
    /// Adds a name or value used only by the condition.
    pub(super) fn with_name(mut self, attr: &str) -> Self {
        self.name(attr);
        self
    }
    pub(super) fn with_value(mut self, name: &str, v: AttributeValue) -> Self {
        self.value(name, v);
        self
    }
    pub(super) fn is_empty(&self) -> bool {
        self.sets.is_empty()
            && self.removes.is_empty()
            && self.adds.is_empty()
            && self.deletes.is_empty()
    }
    pub(super) fn expression(&self) -> String {
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
}
