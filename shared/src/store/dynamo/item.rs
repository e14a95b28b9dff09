//! Records to DynamoDB items and back. Hand-written rather than derived so that
//! what the conditional updates rely on is explicit: absent optional fields are
//! absent attributes (never `NULL`, which `<`/`<=` comparisons would trip on),
//! recovery codes are a string set (so one can be deleted atomically), and
//! `expires_at` is epoch seconds (the table's TTL attribute).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::audit::{EventType, SecurityEvent};
use crate::clock::Timestamp;
use crate::codes::{CodePurpose, PendingCode};
use crate::devices::Device;
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, Provider, TwoFactorSettings};
use crate::store::StoreError;
use crate::tenant::{Host, Scope, Tenant};
use crate::throttle::Window;
use crate::user::{Authenticator, Role, User};

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
/// Sort key of [`SIDE_INDEX`]: the lower-case email, or the event's sort key.
pub const SIDE_SK: &str = "side_sk";
/// The TTL attribute (epoch seconds) on codes, devices, send windows and events. On
/// codes, devices and windows it is set [`TTL_GRACE_SECONDS`] past the logical
/// expiry, which is kept in its own attribute and is what every decision reads:
/// DynamoDB deletes an expired item at any time from its TTL to days later, and an
/// answer must not flip with it. An event's is its retention end: nothing decides on it.
pub const TTL: &str = "expires_at";
/// How long an item outlives its logical expiry before TTL may delete it.
pub const TTL_GRACE_SECONDS: i64 = 86_400;
/// The logical expiry of codes and devices (older items have only [`TTL`], then
/// equal to it).
pub const VALID_UNTIL: &str = "valid_until";

/// The TTL of an item whose logical expiry is `expiry`.
pub fn ttl_after(expiry: Timestamp) -> Timestamp {
    expiry.saturating_add(TTL_GRACE_SECONDS)
}

/// Keys of every kind of item (see the module doc of `dynamo` for the layout).
pub mod keys {
    use crate::codes::CodePurpose;
    use crate::tenant::Scope;

    /// The partition of a user: the user item, its codes and its devices.
    pub fn user_pk(id: &str) -> String {
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
    pub fn device_sk(device_id: &str) -> String {
        format!("{DEVICE_PREFIX}{device_id}")
    }
    /// The email-uniqueness item of a scope (scope keys never hold `#`).
    pub fn email_pk(scope: &Scope, email_key: &str) -> String {
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
    pub fn side_users(scope: &Scope) -> String {
        format!("USERS#{}", scope.key())
    }
    /// The index partition of a side's events.
    pub fn side_events(scope: &Scope) -> String {
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

fn corrupt(name: &str, what: &str) -> StoreError {
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

fn behaviour_str(b: Behaviour) -> &'static str {
    match b {
        Behaviour::Forced => "forced",
        Behaviour::Optional => "optional",
        Behaviour::Disabled => "disabled",
    }
}

fn parse_behaviour(v: &str) -> Result<Behaviour, StoreError> {
    [Behaviour::Forced, Behaviour::Optional, Behaviour::Disabled]
        .into_iter()
        .find(|b| behaviour_str(*b) == v)
        .ok_or_else(|| corrupt("behaviour", "unknown value"))
}

/// A behaviour as an attribute.
pub fn behaviour(b: Behaviour) -> AttributeValue {
    s(behaviour_str(b))
}

/// Settings as a map attribute.
pub fn settings(v: &TwoFactorSettings) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("behaviour".to_string(), behaviour(v.behaviour)),
        (
            "users_can_change".to_string(),
            AttributeValue::Bool(v.users_can_change),
        ),
        (
            "remember_browser".to_string(),
            AttributeValue::Bool(v.remember_browser),
        ),
        (
            "allowed_providers".to_string(),
            AttributeValue::L(v.allowed_providers.iter().map(|p| s(p.as_str())).collect()),
        ),
    ]))
}

/// Settings from a map attribute.
pub fn settings_from(m: &Item) -> Result<TwoFactorSettings, StoreError> {
    let r = Reader(m);
    let allowed_providers = r
        .string_list("allowed_providers")?
        .iter()
        .map(|p| {
            Provider::ALL
                .into_iter()
                .find(|k| k.as_str() == p)
                .ok_or_else(|| corrupt("allowed_providers", "unknown provider"))
        })
        .collect::<Result<_, _>>()?;
    Ok(TwoFactorSettings {
        behaviour: parse_behaviour(&r.s("behaviour")?)?,
        users_can_change: r.bool("users_can_change")?,
        remember_browser: r.bool("remember_browser")?,
        allowed_providers,
    })
}

/// Lockout values as a map attribute.
pub fn lockout(v: &LockoutPolicy) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("max_failed_attempts".to_string(), n(v.max_failed_attempts)),
        ("lockout_seconds".to_string(), n(v.duration_seconds)),
    ]))
}

/// Lockout values from an optional map attribute.
pub fn opt_lockout(i: &Item, name: &str) -> Result<Option<LockoutPolicy>, StoreError> {
    let Some(AttributeValue::M(m)) = i.get(name) else {
        return match i.get(name) {
            None => Ok(None),
            Some(_) => Err(corrupt(name, "not a map")),
        };
    };
    let r = Reader(m);
    Ok(Some(LockoutPolicy {
        max_failed_attempts: r.n("max_failed_attempts")?,
        duration_seconds: r.n("lockout_seconds")?,
    }))
}

/// An authenticator as a map attribute.
pub fn authenticator(a: &Authenticator) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("sealed_key".to_string(), s(&a.sealed_key)),
        ("enabled".to_string(), AttributeValue::Bool(a.enabled)),
    ]))
}

/// The user item (without its key).
pub fn user_item(u: &User) -> Item {
    let mut i = key(keys::user_pk(&u.id), keys::USER_SK);
    let mut put = |k: &str, v: AttributeValue| {
        i.insert(k.to_string(), v);
    };
    put("id", s(&u.id));
    put("scope", s(u.scope.key()));
    put("email", s(&u.email));
    put("email_confirmed", AttributeValue::Bool(u.email_confirmed));
    put("password_hash", s(&u.password_hash));
    put(
        "phone_number_confirmed",
        AttributeValue::Bool(u.phone_number_confirmed),
    );
    put(
        "roles",
        AttributeValue::L(u.roles.iter().map(|r| s(r.as_str())).collect()),
    );
    put(
        "two_factor_enabled",
        AttributeValue::Bool(u.two_factor_enabled),
    );
    put("failed_count", n(u.failed_count));
    put("security_stamp", s(&u.security_stamp));
    put("created_at", n(u.created_at));
    put(SIDE_PK, s(keys::side_users(&u.scope)));
    put(SIDE_SK, s(u.email.to_lowercase()));
    if let Some(v) = &u.phone_number {
        put("phone_number", s(v));
    }
    if let Some(a) = &u.authenticator {
        put("authenticator", authenticator(a));
    }
    if let Some(v) = u.totp_last_step {
        put("totp_last_step", n(v));
    }
    if let Some(v) = string_set(&u.recovery_codes) {
        put("recovery_codes", v);
    }
    if let Some(v) = u.lockout_end {
        put("lockout_end", n(v));
    }
    if let Some(v) = &u.pending_sign_in {
        put("pending_sign_in", s(v));
    }
    i
}

/// A user from its item.
pub fn user_from(i: &Item) -> Result<User, StoreError> {
    let r = Reader(i);
    let scope =
        Scope::from_key(&r.s("scope")?).ok_or_else(|| corrupt("scope", "unknown scope key"))?;
    let roles = r
        .string_list("roles")?
        .iter()
        .map(|v| Role::parse(v).ok_or_else(|| corrupt("roles", "unknown role")))
        .collect::<Result<_, _>>()?;
    let authenticator = match r.opt_map("authenticator")? {
        None => None,
        Some(m) => {
            let a = Reader(m);
            Some(Authenticator {
                sealed_key: a.s("sealed_key")?,
                enabled: a.bool("enabled")?,
            })
        }
    };
    Ok(User {
        id: r.s("id")?,
        scope,
        email: r.s("email")?,
        email_confirmed: r.bool("email_confirmed")?,
        password_hash: r.s("password_hash")?,
        phone_number: r.opt_s("phone_number")?,
        phone_number_confirmed: r.bool("phone_number_confirmed")?,
        roles,
        two_factor_enabled: r.bool("two_factor_enabled")?,
        authenticator,
        totp_last_step: r.opt_n("totp_last_step")?,
        recovery_codes: r.string_set("recovery_codes")?,
        failed_count: r.counter("failed_count")?,
        lockout_end: r.opt_n("lockout_end")?,
        security_stamp: r.s("security_stamp")?,
        pending_sign_in: r.opt_s("pending_sign_in")?,
        created_at: r.n("created_at")?,
    })
}

/// The item that makes an email unique in its scope and points at the user.
pub fn email_item(u: &User) -> Item {
    let mut i = single_key(keys::email_pk(&u.scope, &u.email.to_lowercase()));
    i.insert("user_id".to_string(), s(&u.id));
    // A copy, so login can check the password after one round trip (the store's module doc).
    i.insert("password_hash".to_string(), s(&u.password_hash));
    i
}

/// The tenant item: name, feature and settings, so a tenant user's policy is one read.
pub fn tenant_item(t: &Tenant) -> Item {
    let mut i = single_key(keys::tenant_pk(&t.name.to_ascii_lowercase()));
    i.insert("name".to_string(), s(&t.name));
    i.insert("feature".to_string(), behaviour(t.feature));
    i.insert("settings".to_string(), settings(&t.settings));
    i.insert("created_at".to_string(), n(t.created_at));
    if let Some(l) = &t.lockout {
        i.insert("lockout".to_string(), lockout(l));
    }
    if let Some(l) = &t.host_lockout {
        i.insert("host_lockout".to_string(), lockout(l));
    }
    i
}

/// The item that lists a tenant in the [`keys::TENANTS_PK`] partition.
pub fn tenant_listing_item(tenant_key: &str) -> Item {
    key(keys::TENANTS_PK, tenant_key)
}

/// A tenant from its item.
pub fn tenant_from(i: &Item) -> Result<Tenant, StoreError> {
    let r = Reader(i);
    let settings = r
        .opt_map("settings")?
        .ok_or_else(|| corrupt("settings", "missing"))?;
    Ok(Tenant {
        name: r.s("name")?,
        feature: parse_behaviour(&r.s("feature")?)?,
        settings: settings_from(settings)?,
        created_at: r.n("created_at")?,
        lockout: opt_lockout(i, "lockout")?,
        host_lockout: opt_lockout(i, "host_lockout")?,
    })
}

/// The settings in a host or tenant item, the defaults where none were saved yet.
pub fn settings_or_default(i: &Item) -> Result<TwoFactorSettings, StoreError> {
    Ok(Reader(i)
        .opt_map("settings")?
        .map(settings_from)
        .transpose()?
        .unwrap_or_default())
}

/// The host's item: settings and own lockout values, each absent until first saved.
pub fn host_from(i: &Item) -> Result<Host, StoreError> {
    Ok(Host {
        settings: Reader(i)
            .opt_map("settings")?
            .map(settings_from)
            .transpose()?,
        lockout: opt_lockout(i, "lockout")?,
    })
}

fn parse_purpose(v: &str) -> Result<CodePurpose, StoreError> {
    [
        CodePurpose::SignInEmail,
        CodePurpose::SignInSms,
        CodePurpose::ConfirmEmail,
        CodePurpose::ConfirmPhone,
        CodePurpose::PasswordReset,
    ]
    .into_iter()
    .find(|p| p.as_str() == v)
    .ok_or_else(|| corrupt("purpose", "unknown value"))
}

/// A pending code's item, under its user's partition.
pub fn code_item(c: &PendingCode) -> Item {
    let mut i = key(keys::user_pk(&c.user_id), keys::code_sk(c.purpose));
    i.insert("user_id".to_string(), s(&c.user_id));
    i.insert("purpose".to_string(), s(c.purpose.as_str()));
    i.insert("destination".to_string(), s(&c.destination));
    i.insert("hash".to_string(), s(&c.hash));
    i.insert("created_at".to_string(), n(c.created_at));
    i.insert(VALID_UNTIL.to_string(), n(c.expires_at));
    i.insert(TTL.to_string(), n(ttl_after(c.expires_at)));
    i
}

/// A pending code from its item.
pub fn code_from(i: &Item) -> Result<PendingCode, StoreError> {
    let r = Reader(i);
    Ok(PendingCode {
        user_id: r.s("user_id")?,
        purpose: parse_purpose(&r.s("purpose")?)?,
        destination: r.s("destination")?,
        hash: r.s("hash")?,
        created_at: r.n("created_at")?,
        expires_at: valid_until(&r)?,
    })
}

/// The logical expiry of a code or device item.
fn valid_until(r: &Reader<'_>) -> Result<Timestamp, StoreError> {
    match r.opt_n(VALID_UNTIL)? {
        Some(t) => Ok(t),
        None => r.n(TTL),
    }
}

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
        user_id: r.s("user_id")?,
        device_id: r.s("device_id")?,
        token_hash: r.s("token_hash")?,
        security_stamp: r.s("security_stamp")?,
        created_at: r.n("created_at")?,
        last_used_at: r.n("last_used_at")?,
        expires_at: valid_until(&r)?,
        user_agent: r.opt_s("user_agent")?,
    })
}

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
    put(SIDE_PK, s(keys::side_events(&e.scope)));
    put(SIDE_SK, s(sort));
    put("event_id", s(&e.event_id));
    put("type", s(e.event_type.as_str()));
    put("at", n(e.at));
    put("user_id", s(&e.user_id));
    put("scope", s(e.scope.key()));
    put("details", s(details));
    put(TTL, n(e.expires_at));
    for (k, v) in [
        ("actor_id", &e.actor_id),
        ("ip", &e.ip),
        ("user_agent", &e.user_agent),
    ] {
        if let Some(v) = v {
            put(k, s(v));
        }
    }
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
        user_id: r.s("user_id")?,
        scope: Scope::from_key(&r.s("scope")?)
            .ok_or_else(|| corrupt("scope", "unknown scope key"))?,
        actor_id: r.opt_s("actor_id")?,
        ip: r.opt_s("ip")?,
        user_agent: r.opt_s("user_agent")?,
        details,
        expires_at: r.n(TTL)?,
    })
}

/// A send window's item; TTL deletes it a grace period after the window ends.
/// (The store writes windows by update expressions; this is their layout.)
#[cfg(test)]
pub fn window_item(key: &str, w: &Window) -> Item {
    let mut i = single_key(keys::window_pk(key));
    i.insert("count".to_string(), n(w.count));
    i.insert("window_end".to_string(), n(w.window_end));
    i.insert(TTL.to_string(), n(ttl_after(w.window_end)));
    i
}

/// A send window from its item.
pub fn window_from(i: &Item) -> Result<Window, StoreError> {
    let r = Reader(i);
    Ok(Window {
        count: r.n("count")?,
        window_end: r.n::<Timestamp>("window_end")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "u1".into(),
            scope: Scope::Tenant("acme".into()),
            email: "Jo@Example.com".into(),
            email_confirmed: true,
            password_hash: "$argon2id$x".into(),
            phone_number: Some("+15555550100".into()),
            phone_number_confirmed: false,
            roles: vec![Role::TenantAdmin],
            two_factor_enabled: true,
            authenticator: Some(Authenticator {
                sealed_key: "sealed".into(),
                enabled: true,
            }),
            totp_last_step: Some(7),
            recovery_codes: vec!["a".into(), "b".into()],
            failed_count: 3,
            lockout_end: Some(99),
            security_stamp: "stamp".into(),
            pending_sign_in: Some("sid".into()),
            created_at: 1,
        }
    }

    #[test]
    fn a_user_survives_the_round_trip_through_an_item() {
        let u = user();
        assert_eq!(user_from(&user_item(&u)).unwrap(), u);
        let bare = User {
            phone_number: None,
            authenticator: None,
            totp_last_step: None,
            recovery_codes: vec![],
            lockout_end: None,
            pending_sign_in: None,
            roles: vec![],
            ..u
        };
        let item = user_item(&bare);
        assert!(
            !item.contains_key("lockout_end") && !item.contains_key("recovery_codes"),
            "absent fields must be absent attributes"
        );
        assert_eq!(user_from(&item).unwrap(), bare);
    }

    #[test]
    fn tenants_codes_devices_and_windows_survive_the_round_trip() {
        let t = Tenant {
            name: "Acme".into(),
            feature: Behaviour::Forced,
            settings: TwoFactorSettings::default(),
            created_at: 5,
            lockout: None,
            host_lockout: None,
        };
        assert_eq!(tenant_from(&tenant_item(&t)).unwrap(), t);
        let own = LockoutPolicy {
            max_failed_attempts: 3,
            duration_seconds: 60,
        };
        let host = LockoutPolicy {
            max_failed_attempts: 7,
            duration_seconds: 900,
        };
        let t = Tenant {
            lockout: Some(own),
            host_lockout: Some(host),
            ..t
        };
        assert_eq!(tenant_from(&tenant_item(&t)).unwrap(), t);
        let c = PendingCode {
            user_id: "u".into(),
            purpose: CodePurpose::ConfirmPhone,
            destination: "+1".into(),
            hash: "h".into(),
            created_at: 1,
            expires_at: 2,
        };
        assert_eq!(code_from(&code_item(&c)).unwrap(), c);
        let d = Device {
            user_id: "u".into(),
            device_id: "d".into(),
            token_hash: "h".into(),
            security_stamp: "s".into(),
            created_at: 1,
            last_used_at: 2,
            expires_at: 3,
            user_agent: Some("ua".into()),
        };
        assert_eq!(device_from(&device_item(&d)).unwrap(), d);
        let w = Window {
            count: 4,
            window_end: 9,
        };
        assert_eq!(window_from(&window_item("k", &w)).unwrap(), w);
    }

    #[test]
    fn an_event_survives_the_round_trip_and_sits_in_its_user_partition_and_side_index() {
        let origin = crate::audit::Origin {
            ip: Some("192.0.2.7".into()),
            user_agent: Some("ua".into()),
        };
        let e = SecurityEvent::new(EventType::SignIn, &user(), 50, 90, &origin)
            .detail("amr", vec!["pwd", "otp"]);
        let i = event_item(&e).unwrap();
        assert_eq!(event_from(&i).unwrap(), e);
        assert_eq!(Reader(&i).s(PK).unwrap(), "USER#u1");
        assert_eq!(Reader(&i).s(SIDE_PK).unwrap(), "EVENTS#t:acme");
        assert!(Reader(&i).s(SK).unwrap().starts_with("EVENT#000000000050#"));
    }

    #[test]
    fn a_user_item_is_indexed_under_its_side_by_lower_case_email() {
        let i = user_item(&user());
        assert_eq!(Reader(&i).s(SIDE_PK).unwrap(), "USERS#t:acme");
        assert_eq!(Reader(&i).s(SIDE_SK).unwrap(), "jo@example.com");
    }

    #[test]
    fn ttl_deletes_codes_devices_and_windows_only_a_day_after_they_expire() {
        let c = PendingCode {
            user_id: "u".into(),
            purpose: CodePurpose::SignInSms,
            destination: "+1".into(),
            hash: "h".into(),
            created_at: 1,
            expires_at: 300,
        };
        assert_eq!(code_item(&c).get(TTL), Some(&n(300 + TTL_GRACE_SECONDS)));
        let d = Device {
            user_id: "u".into(),
            device_id: "d".into(),
            token_hash: "h".into(),
            security_stamp: "s".into(),
            created_at: 1,
            last_used_at: 2,
            expires_at: 3,
            user_agent: None,
        };
        assert_eq!(device_item(&d).get(TTL), Some(&n(3 + TTL_GRACE_SECONDS)));
        assert_eq!(
            window_item(
                "k",
                &Window {
                    count: 1,
                    window_end: 9
                }
            )
            .get(TTL),
            Some(&n(9 + TTL_GRACE_SECONDS))
        );
    }

    #[test]
    fn a_code_stored_before_the_grace_period_reads_its_expiry_from_its_ttl() {
        let c = PendingCode {
            user_id: "u".into(),
            purpose: CodePurpose::SignInSms,
            destination: "+1".into(),
            hash: "h".into(),
            created_at: 1,
            expires_at: 300,
        };
        let mut old = code_item(&c);
        old.remove(VALID_UNTIL);
        old.insert(TTL.to_string(), n(300));
        assert_eq!(code_from(&old).unwrap(), c);
    }

    #[test]
    fn a_mistyped_attribute_is_reported_as_corrupt_not_a_panic() {
        let mut i = user_item(&user());
        i.insert("failed_count".into(), s("three"));
        assert!(matches!(user_from(&i), Err(StoreError::Corrupt(m)) if m.contains("failed_count")));
    }

    #[test]
    fn a_negative_count_left_by_an_unconditioned_give_back_reads_as_zero() {
        let mut i = user_item(&user());
        i.insert("failed_count".into(), n(-1));
        assert_eq!(user_from(&i).unwrap().failed_count, 0);
    }
}
