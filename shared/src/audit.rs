//! Security events: what happened to an account, when, from where, and which admin
//! did it. An event is built only through [`SecurityEvent::new`] and
//! [`SecurityEvent::detail`], whose keys are fixed names chosen at the call site, so
//! a request's body never lands in `details`, and no call site passes a password,
//! hash, code, token or key (the no-secrets log test reads the event lists too).
//! Kept `EVENT_RETENTION_DAYS` days, then dropped by the table's TTL.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::policy::SettingChange;
use crate::side::Side;
use crate::user::User;

/// What happened. The wire name is the snake_case of the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A sign-in finished; `details.amr` says how.
    SignIn,
    /// A wrong password or code; `details.factor` says which.
    SignInFailed,
    /// Too many failures locked the account.
    LockedOut,
    /// An admin ended a lockout.
    Unlocked,
    /// Two-factor sign-in was turned on (by the user or an admin).
    TwoFactorEnabled,
    /// Two-factor sign-in was turned off (by the user or an admin).
    TwoFactorDisabled,
    /// An admin removed the authenticator and recovery codes and forgot every browser.
    TwoFactorReset,
    /// An authenticator app was verified and enabled.
    AuthenticatorAdded,
    /// The authenticator app was removed.
    AuthenticatorRemoved,
    /// A passkey was enrolled.
    PasskeyAdded,
    /// A passkey was removed by its owner.
    PasskeyRemoved,
    /// New recovery codes replaced the old ones.
    RecoveryCodesGenerated,
    /// A recovery code was spent on a sign-in.
    RecoveryCodeUsed,
    /// A phone number was confirmed with a code.
    PhoneConfirmed,
    /// The email address was confirmed with a code.
    EmailConfirmed,
    /// The password was changed by its owner.
    PasswordChanged,
    /// The password was reset with an emailed code.
    PasswordReset,
    /// Every session ended at the user's request.
    SignedOutEverywhere,
    /// A browser was remembered for skipping the second factor.
    BrowserRemembered,
    /// One remembered browser was forgotten.
    BrowserForgotten,
    /// Every remembered browser was forgotten.
    BrowsersForgotten,
    /// An admin changed its side's two-factor settings.
    SettingsChanged,
    /// An admin changed its side's lockout settings.
    LockoutSettingsChanged,
    /// The host admin set a tenant's two-factor feature.
    FeatureChanged,
    /// The host admin created a tenant and its first admin.
    TenantCreated,
}

impl EventType {
    /// Every type, for parsing and documentation.
    pub const ALL: [EventType; 25] = [
        EventType::SignIn,
        EventType::SignInFailed,
        EventType::LockedOut,
        EventType::Unlocked,
        EventType::TwoFactorEnabled,
        EventType::TwoFactorDisabled,
        EventType::TwoFactorReset,
        EventType::AuthenticatorAdded,
        EventType::AuthenticatorRemoved,
        EventType::PasskeyAdded,
        EventType::PasskeyRemoved,
        EventType::RecoveryCodesGenerated,
        EventType::RecoveryCodeUsed,
        EventType::PhoneConfirmed,
        EventType::EmailConfirmed,
        EventType::PasswordChanged,
        EventType::PasswordReset,
        EventType::SignedOutEverywhere,
        EventType::BrowserRemembered,
        EventType::BrowserForgotten,
        EventType::BrowsersForgotten,
        EventType::SettingsChanged,
        EventType::LockoutSettingsChanged,
        EventType::FeatureChanged,
        EventType::TenantCreated,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SignIn => "sign_in",
            EventType::SignInFailed => "sign_in_failed",
            EventType::LockedOut => "locked_out",
            EventType::Unlocked => "unlocked",
            EventType::TwoFactorEnabled => "two_factor_enabled",
            EventType::TwoFactorDisabled => "two_factor_disabled",
            EventType::TwoFactorReset => "two_factor_reset",
            EventType::AuthenticatorAdded => "authenticator_added",
            EventType::AuthenticatorRemoved => "authenticator_removed",
            EventType::PasskeyAdded => "passkey_added",
            EventType::PasskeyRemoved => "passkey_removed",
            EventType::RecoveryCodesGenerated => "recovery_codes_generated",
            EventType::RecoveryCodeUsed => "recovery_code_used",
            EventType::PhoneConfirmed => "phone_confirmed",
            EventType::EmailConfirmed => "email_confirmed",
            EventType::PasswordChanged => "password_changed",
            EventType::PasswordReset => "password_reset",
            EventType::SignedOutEverywhere => "signed_out_everywhere",
            EventType::BrowserRemembered => "browser_remembered",
            EventType::BrowserForgotten => "browser_forgotten",
            EventType::BrowsersForgotten => "browsers_forgotten",
            EventType::SettingsChanged => "settings_changed",
            EventType::LockoutSettingsChanged => "lockout_settings_changed",
            EventType::FeatureChanged => "feature_changed",
            EventType::TenantCreated => "tenant_created",
        }
    }

    /// The type with this wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a request came from, as the edge saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub ip: Option<String>,
    /// Its User-Agent, cut short.
    pub user_agent: Option<String>,
}

/// One security event; serialised as the contract lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityEvent {
    /// Unique, and ordered by creation within a second.
    pub event_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When (seconds since the Unix epoch).
    pub at: Timestamp,
    /// The account it happened to (for an admin's change of settings, the admin).
    pub user_id: UserId,
    /// The side that account belongs to: whose admins see the event.
    #[serde(skip)]
    pub side: Side,
    /// The admin who acted, when one did.
    pub actor_id: Option<UserId>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's User-Agent.
    pub user_agent: Option<String>,
    /// Non-secret facts about the event, under fixed names.
    pub details: BTreeMap<String, serde_json::Value>,
    /// When the table's TTL may drop it.
    #[serde(skip)]
    pub expires_at: Timestamp,
}

impl SecurityEvent {
    /// An event of `event_type` on `user` at `at`, kept `retention_days`.
    pub fn new(
        event_type: EventType,
        user: &User,
        at: Timestamp,
        retention_days: i64,
        origin: &Origin,
    ) -> Self {
        Self::about(
            event_type,
            user.id.clone(),
            user.side.clone(),
            at,
            retention_days,
            origin,
        )
    }

    /// An event of `event_type` on an email without an account (a failed attempt):
    /// no user (`user_id` is empty) and no side, so it is stored only under the
    /// email's keyed hash ([`crate::store::EventStore::record_unknown_events`]), which
    /// no list reads. It costs the write an account's event costs, so that the time
    /// a refusal takes tells nothing about who has an account.
    pub fn unknown_email(
        event_type: EventType,
        at: Timestamp,
        retention_days: i64,
        origin: &Origin,
    ) -> Self {
        Self::about(
            event_type,
            UserId::default(),
            Side::Host,
            at,
            retention_days,
            origin,
        )
    }

    fn about(
        event_type: EventType,
        user_id: UserId,
        side: Side,
        at: Timestamp,
        retention_days: i64,
        origin: &Origin,
    ) -> Self {
        Self {
            event_id: new_event_id(),
            event_type,
            at,
            user_id,
            side,
            actor_id: None,
            ip: origin.ip.clone(),
            user_agent: origin.user_agent.clone(),
            details: BTreeMap::new(),
            expires_at: at.saturating_add(retention_days.saturating_mul(86_400)),
        }
    }

    /// The same event, done by the admin `actor`.
    pub fn by(mut self, actor: &User) -> Self {
        self.actor_id = Some(actor.id.clone());
        self
    }

    /// The same event with one more fact.
    pub fn detail(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Another event of the same request: same account, time, origin and actor, its
    /// own id (after this one's), no details.
    pub fn then(&self, event_type: EventType) -> Self {
        Self {
            event_id: new_event_id(),
            event_type,
            details: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// The same event with what an admin's change of `side`'s settings moved: each
    /// setting's name, value before and after, and whether it weakens the side.
    pub fn changes(self, side: &Side, changes: &[SettingChange]) -> Self {
        let moved: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| serde_json::json!({"field": c.field, "from": c.from, "to": c.to, "weakens": c.weakens}))
            .collect();
        self.detail("side", side.key())
            .detail("changes", moved)
            .detail("weakening", changes.iter().any(|c| c.weakens))
    }

    /// The order of events: by time, then by id (which follows creation within a second).
    pub fn sort_key(&self) -> String {
        sort_key(self.at, &self.event_id)
    }
}

/// The log line of an admin's change to the settings of `side` (the host, or a
/// tenant's feature), beside the stored event: one line per change, for log search,
/// never a secret (no secret is a setting). Nothing when nothing moved.
pub fn log_settings_changed(actor: &User, side: &Side, changes: &[SettingChange]) {
    log_changes(actor, side, changes, "two-factor settings");
}

/// The same audit line for a change of a side's lockout values.
pub fn log_lockout_changed(actor: &User, side: &Side, changes: &[SettingChange]) {
    log_changes(actor, side, changes, "lockout settings");
}

fn log_changes(actor: &User, side: &Side, changes: &[SettingChange], what: &str) {
    if changes.is_empty() {
        return;
    }
    let change = changes
        .iter()
        .map(|c| format!("{}: {} -> {}", c.field, c.from, c.to))
        .collect::<Vec<_>>()
        .join("; ");
    let weakening = changes.iter().any(|c| c.weakens);
    tracing::info!(
        actor_id = %actor.id,
        actor_side = %actor.side.key(),
        side = %side.key(),
        change = %change,
        weakening,
        "audit: {what} changed"
    );
}

/// The sort key of an event at `at` with id `event_id`: fixed-width, so that string
/// order is time order.
pub fn sort_key(at: Timestamp, event_id: &str) -> String {
    format!("{:012}#{event_id}", at.max(0))
}

/// A time-ordered unique id: wall-clock nanoseconds, then randomness. The clock is the
/// system's even under a test clock: the id only orders events that share a second.
fn new_event_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{:020x}{}", nanos as u64, &random[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_back_from_its_wire_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(EventType::parse("nonsense"), None);
    }

    #[test]
    fn events_of_one_second_sort_in_creation_order_and_seconds_in_time_order() {
        let u = User::new(
            Side::Host,
            crate::testing::test_email("a@example.com"),
            String::new(),
            0,
        );
        let first = SecurityEvent::new(EventType::SignInFailed, &u, 100, 90, &Origin::default());
        let second = SecurityEvent::new(EventType::LockedOut, &u, 100, 90, &Origin::default());
        assert!(first.sort_key() < second.sort_key());
        assert!(sort_key(99, "zzzz") < sort_key(100, "0000"));
        assert!(sort_key(9, "a") < sort_key(10, "a"), "fixed width");
        let third = second.detail("failures", 5).then(EventType::Unlocked);
        assert!(third.sort_key() > first.sort_key() && third.details.is_empty() && third.at == 100);
    }

    #[test]
    fn an_event_expires_after_the_retention_and_names_its_actor() {
        let u = User::new(
            Side::Tenant("acme".into()),
            crate::testing::test_email("a@example.com"),
            String::new(),
            0,
        );
        let admin = User::new(
            Side::Tenant("acme".into()),
            crate::testing::test_email("b@example.com"),
            String::new(),
            0,
        );
        let e = SecurityEvent::new(
            EventType::Unlocked,
            &u,
            1000,
            90,
            &Origin {
                ip: Some("192.0.2.1".into()),
                user_agent: None,
            },
        )
        .by(&admin);
        assert_eq!(e.expires_at, 1000 + 90 * 86_400);
        assert_eq!(e.actor_id.as_deref(), Some(admin.id.as_str()));
        let wire = serde_json::to_value(&e).unwrap();
        assert_eq!(wire["type"], "unlocked");
        assert!(
            wire.get("side").is_none()
                && wire.get("scope").is_none()
                && wire.get("expires_at").is_none()
        );
    }
}
