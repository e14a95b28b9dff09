//! The side every record lives in: the host's, or one tenant's. Users, settings,
//! counters and events each belong to exactly one, and never see another's.

use serde::{Deserialize, Serialize};

/// Where a user, a setting or a counter belongs: the host, or one tenant (by its key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "tenant", rename_all = "snake_case")]
pub enum Side {
    /// The host's own users and settings.
    Host,
    /// A tenant, by its lower-case key.
    Tenant(String),
}

impl Side {
    /// A stable string for keys: `host` or `t:<key>`.
    pub fn key(&self) -> String {
        match self {
            Side::Host => "host".to_string(),
            Side::Tenant(k) => format!("t:{k}"),
        }
    }
    /// The reverse of [`Side::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "host" {
            Some(Side::Host)
        } else {
            key.strip_prefix("t:").map(|k| Side::Tenant(k.to_string()))
        }
    }
    /// The tenant key, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Side::Host => None,
            Side::Tenant(k) => Some(k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_keys_round_trip() {
        for s in [Side::Host, Side::Tenant("acme".into())] {
            assert_eq!(Side::from_key(&s.key()), Some(s));
        }
    }
}
