//! Tenants, the host's settings, and the policy of a side (the host's or a tenant's)
//! as one store item.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, Effective, Layers, TwoFactorSettings, effective};
use crate::side::Side;

/// Why a tenant name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTenantName(pub &'static str);

/// A tenant's name: 1 to 64 letters, digits, `-`, `_` or `.`; unique regardless of case.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    /// Parses a tenant name.
    pub fn parse(input: &str) -> Result<Self, InvalidTenantName> {
        let s = input.trim();
        if s.is_empty() || s.chars().count() > 64 {
            return Err(InvalidTenantName("a tenant name has 1 to 64 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(InvalidTenantName(
                "a tenant name has only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(Self(s.to_string()))
    }
    /// The name as created.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The key that makes names unique regardless of case.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Debug for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantName({})", self.0)
    }
}

/// The host's stored settings, each `None` until first saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The host's two-factor settings.
    pub settings: Option<TwoFactorSettings>,
    /// The host's own lockout values (also the values of tenants without their own).
    pub lockout: Option<LockoutPolicy>,
}

/// A tenant: its name, the two-factor feature the host sets for it, and its admin's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The name as created.
    pub name: String,
    /// The host admin's feature value for this tenant; optional unless set.
    pub feature: Behaviour,
    /// The tenant admin's own settings.
    pub settings: TwoFactorSettings,
    /// When the tenant was created.
    pub created_at: Timestamp,
    /// The tenant admin's own lockout values, if ever set.
    #[serde(default)]
    pub lockout: Option<LockoutPolicy>,
    /// The host's own lockout values as the store last copied them here (`None`:
    /// the host has none, so the function's defaults apply). Kept on the tenant's
    /// item so that a tenant user's whole policy stays one read; the store keeps
    /// the copy current (see the `dynamo` module doc).
    #[serde(default)]
    pub host_lockout: Option<LockoutPolicy>,
}

impl Tenant {
    /// A new tenant: feature and settings at their defaults, no lockout values of
    /// its own (the store fills in the host's when it creates the tenant).
    pub fn new(name: &str, now: Timestamp) -> Self {
        Self {
            name: name.to_string(),
            feature: Behaviour::Optional,
            settings: TwoFactorSettings::default(),
            created_at: now,
            lockout: None,
            host_lockout: None,
        }
    }

    /// The lockout values for this tenant's users: its own, else the host's, else `defaults`.
    pub fn lockout_or(&self, defaults: LockoutPolicy) -> LockoutPolicy {
        self.lockout.or(self.host_lockout).unwrap_or(defaults)
    }

    /// This tenant's side.
    pub fn side(&self) -> Side {
        Side::Tenant(self.name.to_ascii_lowercase())
    }
}

/// The policy of a user's side, as one store item: the host's, or the tenant's
/// (feature, settings and lockout values together, so the whole policy of a request
/// costs one read; `flows::load_side` reads it).
#[derive(Debug, Clone)]
pub enum SidePolicy {
    /// Host users follow the host's settings and lockout values (`None`: never set).
    Host(TwoFactorSettings, Option<LockoutPolicy>),
    /// Tenant users follow their tenant's feature and settings.
    Tenant(Tenant),
}

impl SidePolicy {
    /// The effective behaviour for a user with this flag.
    pub fn effective(&self, user_flag: bool) -> Effective {
        match self {
            SidePolicy::Host(s, _) => effective(Layers::Host(s), user_flag),
            SidePolicy::Tenant(t) => effective(
                Layers::Tenant {
                    feature: t.feature,
                    settings: &t.settings,
                },
                user_flag,
            ),
        }
    }

    /// The side's own settings.
    pub fn settings(&self) -> &TwoFactorSettings {
        match self {
            SidePolicy::Host(s, _) => s,
            SidePolicy::Tenant(t) => &t.settings,
        }
    }

    /// The same side with `settings` in place of its own (what a change would make of it).
    pub fn with_settings(&self, settings: TwoFactorSettings) -> SidePolicy {
        match self {
            SidePolicy::Host(_, lockout) => SidePolicy::Host(settings, *lockout),
            SidePolicy::Tenant(t) => SidePolicy::Tenant(Tenant {
                settings,
                ..t.clone()
            }),
        }
    }

    /// The lockout values for this side's users: the side's own, for a tenant
    /// without its own the host's, and else the function's defaults.
    pub fn lockout(&self, defaults: LockoutPolicy) -> LockoutPolicy {
        match self {
            SidePolicy::Host(_, own) => own.unwrap_or(defaults),
            SidePolicy::Tenant(t) => t.lockout_or(defaults),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_unique_regardless_of_case() {
        assert_eq!(
            TenantName::parse("Acme").unwrap().key(),
            TenantName::parse("acme").unwrap().key()
        );
    }

    #[test]
    fn refuses_names_with_spaces_slashes_or_nothing() {
        for bad in ["", " ", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(TenantName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
