//! Tenants and the scope every record lives in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, TwoFactorSettings};

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

/// Where a user, a setting or a counter belongs: the host, or one tenant (by its key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "tenant", rename_all = "snake_case")]
pub enum Scope {
    /// The host's own users and settings.
    Host,
    /// A tenant, by its lower-case key.
    Tenant(String),
}

impl Scope {
    /// A stable string for keys: `host` or `t:<key>`.
    pub fn key(&self) -> String {
        match self {
            Scope::Host => "host".to_string(),
            Scope::Tenant(k) => format!("t:{k}"),
        }
    }
    /// The reverse of [`Scope::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "host" {
            Some(Scope::Host)
        } else {
            key.strip_prefix("t:").map(|k| Scope::Tenant(k.to_string()))
        }
    }
    /// The tenant key, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Scope::Host => None,
            Scope::Tenant(k) => Some(k),
        }
    }
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

    /// The key of this tenant's scope.
    pub fn scope(&self) -> Scope {
        Scope::Tenant(self.name.to_ascii_lowercase())
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

    #[test]
    fn scope_keys_round_trip() {
        for s in [Scope::Host, Scope::Tenant("acme".into())] {
            assert_eq!(Scope::from_key(&s.key()), Some(s));
        }
    }
}
