//! Two-factor settings, behaviours and lockout values as attributes, and a
//! settings change as one conditional `UpdateItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::Update;
use super::item::{Item, Reader, corrupt, n, s};
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, Provider, TwoFactorSettings};
use crate::store::StoreError;

pub(super) fn behaviour_str(b: Behaviour) -> &'static str {
    match b {
        Behaviour::Forced => "forced",
        Behaviour::Optional => "optional",
        Behaviour::Disabled => "disabled",
    }
}

pub(super) fn parse_behaviour(v: &str) -> Result<Behaviour, StoreError> {
    [Behaviour::Forced, Behaviour::Optional, Behaviour::Disabled]
        .into_iter()
        .find(|b| behaviour_str(*b) == v)
        .ok_or_else(|| corrupt("behaviour", "unknown value"))
}

/// A behaviour as an attribute.
pub fn behaviour_value(b: Behaviour) -> AttributeValue {
    s(behaviour_str(b))
}

/// Settings as a map attribute.
pub fn settings_value(v: &TwoFactorSettings) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("behaviour".to_string(), behaviour_value(v.behaviour)),
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
            Provider::ALLOWABLE
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
pub fn lockout_value(v: &LockoutPolicy) -> AttributeValue {
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

/// The settings in a host or tenant item, the defaults where none were saved yet.
pub fn settings_or_default(i: &Item) -> Result<TwoFactorSettings, StoreError> {
    Ok(Reader(i)
        .opt_map("settings")?
        .map(settings_from)
        .transpose()?
        .unwrap_or_default())
}

/// One settings change as an `UpdateItem`: each changed field is set inside the
/// `settings` map on condition that it still holds the value the admin read.
pub(super) struct SettingsChange {
    pub(super) to: TwoFactorSettings,
    /// Written with the change ([`super::item::WRITE_ID`]): a retry knows its own change.
    pub(super) write_id: String,
    /// `SET` of each field changed and of the write id.
    pub(super) update: Update,
    /// Each field changed still holds what the admin read.
    pub(super) condition: String,
}

impl SettingsChange {
    pub(super) fn new(from: &TwoFactorSettings, to: &TwoFactorSettings) -> Option<Self> {
        let mut sets = Vec::new();
        let mut conditions = vec!["attribute_exists(#settings)".to_string()];
        let mut names = HashMap::from([("#settings".to_string(), "settings".to_string())]);
        let mut values = HashMap::new();
        for (name, old, new) in changed_fields(from, to) {
            names.insert(format!("#{name}"), name.to_string());
            sets.push(format!("#settings.#{name} = :{name}"));
            values.insert(format!(":{name}"), new);
            for (path, v) in old {
                let placeholder = format!(":old_{name}{}", conditions.len());
                conditions.push(format!("{path} = {placeholder}"));
                values.insert(placeholder, v);
            }
        }
        if sets.is_empty() {
            return None;
        }
        let write_id = super::item::new_write_id();
        names.insert("#write_id".to_string(), super::item::WRITE_ID.to_string());
        values.insert(":write_id".to_string(), s(&write_id));
        sets.push("#write_id = :write_id".to_string());
        Some(Self {
            to: to.clone(),
            write_id,
            update: Update {
                sets,
                names,
                values,
                ..Update::default()
            },
            condition: conditions.join(" AND "),
        })
    }

    /// Whether a field this change sets no longer holds its `from` value in `now`.
    pub(super) fn moved(&self, from: &TwoFactorSettings, now: &TwoFactorSettings) -> bool {
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

/// The fields `to` changes from `from`: each one's name, the paths and values it
/// must still hold (a list by its size and each entry), and its new value.
fn changed_fields(from: &TwoFactorSettings, to: &TwoFactorSettings) -> Vec<ChangedField> {
    use AttributeValue as Av;
    let mut fields: Vec<ChangedField> = Vec::new();
    if from.behaviour != to.behaviour {
        fields.push((
            "behaviour",
            vec![(
                "#settings.#behaviour".into(),
                behaviour_value(from.behaviour),
            )],
            behaviour_value(to.behaviour),
        ));
    }
    if from.users_can_change != to.users_can_change {
        let old = vec![(
            "#settings.#users_can_change".into(),
            Av::Bool(from.users_can_change),
        )];
        fields.push(("users_can_change", old, Av::Bool(to.users_can_change)));
    }
    if from.remember_browser != to.remember_browser {
        let old = vec![(
            "#settings.#remember_browser".into(),
            Av::Bool(from.remember_browser),
        )];
        fields.push(("remember_browser", old, Av::Bool(to.remember_browser)));
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
        fields.push((
            "allowed_providers",
            old,
            Av::L(to.allowed_providers.iter().map(|p| s(p.as_str())).collect()),
        ));
    }
    fields
}

/// A changed field: its name, the paths and values it must still hold, its new value.
type ChangedField = (&'static str, Vec<(String, AttributeValue)>, AttributeValue);
