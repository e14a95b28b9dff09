//! "Remember this browser": more than a cookie. A random device token whose keyed
//! hash is kept server-side with an expiry, bound to the user's security stamp, so
//! it can be listed, revoked, and dies when the user's security settings change.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::crypto::{CryptoError, HashKey, constant_time_eq, random_token};
use crate::ids::{DeviceId, UserId, is_token_text};
use crate::secret::Secret;

/// How many browsers one user may have remembered at once; remembering another
/// forgets the oldest. Without a bound every remembered sign-in added a record for
/// good (until it expired): 30,000 of them made the device list larger than a Lambda
/// response may be and forgetting them longer than the function may run. With it,
/// listing and forgetting cost the same whatever the history (and fit one batch).
pub const MAX_PER_USER: usize = 10;

/// A remembered browser as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Whose browser.
    pub user_id: UserId,
    /// Random id, shown in the device list.
    pub device_id: DeviceId,
    /// Keyed hash of the token's secret part.
    pub token_hash: String,
    /// The user's security stamp when remembered.
    pub security_stamp: String,
    /// When remembered.
    pub created_at: Timestamp,
    /// Last sign-in that used it.
    pub last_used_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The browser's User-Agent, to tell devices apart in the list.
    pub user_agent: Option<String>,
}

/// A new device token: `rb1.<device_id>.<secret>`. Only its hash is stored.
pub fn new_device_token() -> Result<(DeviceId, Secret<String>), CryptoError> {
    let device_id = DeviceId::random()?;
    let secret = random_token(32)?;
    Ok((
        device_id.clone(),
        Secret::new(format!("rb1.{device_id}.{secret}")),
    ))
}

/// The device id and secret of a presented token, if it has the right shape.
pub fn parse_device_token(token: &str) -> Option<(DeviceId, &str)> {
    let rest = token.strip_prefix("rb1.")?;
    let (id, secret) = rest.split_once('.')?;
    let id = DeviceId::parse(id)?;
    is_token_text(secret).then_some((id, secret))
}

/// The keyed hash a device token is stored as.
pub fn device_token_hash(key: &HashKey, user_id: &UserId, token: &str) -> String {
    key.hash(&["device", user_id, token])
}

impl Device {
    /// Whether this browser would still skip the second factor at `now` for a user
    /// whose stamp is `stamp`: not expired, and remembered under that stamp.
    pub fn is_live(&self, stamp: &str, now: Timestamp) -> bool {
        self.expires_at > now && self.security_stamp == stamp
    }

    /// Whether `token` opens this device record for a user whose stamp is `stamp`, at `now`.
    pub fn accepts(&self, key: &HashKey, token: &str, stamp: &str, now: Timestamp) -> bool {
        self.is_live(stamp, now)
            && constant_time_eq(
                &self.token_hash,
                &device_token_hash(key, &self.user_id, token),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(key: &HashKey, token: &str) -> Device {
        Device {
            user_id: "u1".into(),
            device_id: "d".into(),
            token_hash: device_token_hash(key, &UserId::from("u1"), token),
            security_stamp: "s1".into(),
            created_at: 0,
            last_used_at: 0,
            expires_at: 100,
            user_agent: None,
        }
    }

    #[test]
    fn a_device_token_works_until_expiry_or_a_stamp_change() {
        let key = HashKey::random().unwrap();
        let (id, token) = new_device_token().unwrap();
        assert_eq!(parse_device_token(token.expose()).map(|p| p.0), Some(id));
        let d = device(&key, token.expose());
        assert!(d.accepts(&key, token.expose(), "s1", 99));
        assert!(!d.accepts(&key, token.expose(), "s1", 100));
        assert!(!d.accepts(&key, token.expose(), "s2", 99));
        assert!(!d.accepts(&key, &format!("{}x", token.expose()), "s1", 99));
    }

    #[test]
    fn malformed_device_tokens_are_not_parsed() {
        for bad in [
            "",
            "rb1.",
            "rb1.abc",
            "rb2.a.b",
            "rb1.a.b c",
            "eyJhbGciOiJIUzI1NiJ9.x.y",
        ] {
            assert!(parse_device_token(bad).is_none(), "{bad:?}");
        }
    }
}
