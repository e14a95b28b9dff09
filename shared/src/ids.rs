//! The identifiers the domain passes around, each its own type so that one cannot
//! be handed where another is expected (a device id where a user id goes, an
//! attempt id where a sign-in id goes).
//!
//! Each is its text and nothing else: serialized, stored and printed exactly as the
//! `String` it replaced (serde transparent; `Debug` and `Display` as the text), so
//! keys, bodies, tokens and logs are unchanged. Values read from the store or from a
//! verified token are trusted and converted with `From`; a value from a client is
//! parsed at the edge (`parse`), and one of the wrong shape is answered as an unknown
//! id would be. An id reads as `&str` where text is wanted (keys, hashes, logs).

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, random_token};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> Self {
                id.0.clone()
            }
        }

        // Through `Deref` an id goes where text is wanted (key, hash and log
        // builders); the reverse, text where an id is wanted, needs `From` or `parse`.
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        // An event's detail (`crate::audit::SecurityEvent::detail`) holds it as text.
        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> Self {
                serde_json::Value::String(id.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // As the `String` it replaced printed: logs keep their shape.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id! {
    /// A user's id: random, globally unique, the canonical text of a v4 UUID.
    UserId
}

id! {
    /// A remembered browser's id, shown in the device list and carried in its
    /// device token (see [`crate::devices`]).
    DeviceId
}

id! {
    /// A sign-in waiting for its second factor: the `sid` of its two-factor token
    /// and the user's pending sign-in. A new login replaces it; a lock or a stamp
    /// change ends it.
    SignInId
}

id! {
    /// A signed-in session: started by a sign-in, carried as the `sid` of its access
    /// tokens and in its refresh token, ended by a sign-out, a revocation, a reuse of
    /// a rotated refresh token or a stamp change (see [`crate::sessions`]).
    SessionId
}

id! {
    /// One of a user's passkeys, as the account lists it (not the WebAuthn
    /// credential id, which is the authenticator's; see [`crate::passkeys`]).
    PasskeyId
}

id! {
    /// One WebAuthn ceremony (an enrolment, a second factor, a passwordless
    /// sign-in): its challenge state is kept server side under this id and works once.
    CeremonyId
}

id! {
    /// One password or code attempt's id, written with its lockout slot and its
    /// success, so that a retried write knows its own (see [`crate::lockout`]).
    AttemptId
}

id! {
    /// One administrator's write (an unlock): a retry of it carries the same id,
    /// and another request another, so that the store tells the two apart.
    RequestId
}

impl UserId {
    /// A new random id.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id a client named (a path parameter), if it has the shape every user id
    /// has: a UUID in lower-case hyphenated form. Anything else names no user.
    pub fn parse(text: &str) -> Option<Self> {
        let uuid = uuid::Uuid::try_parse(text).ok()?;
        (uuid.hyphenated().to_string() == text).then(|| Self(text.to_string()))
    }
}

impl DeviceId {
    /// A new random id (12 url-safe base64 characters).
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(9)?))
    }

    /// The id a client named (a path parameter or a device token's middle part),
    /// if it has a device id's shape: 1 to 64 url-safe base64 characters.
    pub fn parse(text: &str) -> Option<Self> {
        is_token_text(text).then(|| Self(text.to_string()))
    }
}

impl SignInId {
    /// A new random sign-in id.
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(16)?))
    }
}

impl SessionId {
    /// A new random session id (16 url-safe base64 characters).
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(12)?))
    }

    /// The id a client named (a path parameter or a refresh token's part), if it
    /// has an id's shape: 1 to 64 url-safe base64 characters.
    pub fn parse(text: &str) -> Option<Self> {
        is_token_text(text).then(|| Self(text.to_string()))
    }
}

impl AttemptId {
    /// A new random attempt id.
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(16)?))
    }
}

impl RequestId {
    /// A new random request id.
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(16)?))
    }
}

impl PasskeyId {
    /// A new random passkey id (16 url-safe base64 characters).
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(12)?))
    }

    /// The id a client named (a path parameter), if it has an id's shape.
    pub fn parse(text: &str) -> Option<Self> {
        is_token_text(text).then(|| Self(text.to_string()))
    }
}

impl CeremonyId {
    /// A new random ceremony id (22 url-safe base64 characters: 128 bits, as it is
    /// all a passwordless ceremony's finish needs beside the authenticator's answer).
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random_token(16)?))
    }

    /// The id a client sent, if it has an id's shape.
    pub fn parse(text: &str) -> Option<Self> {
        is_token_text(text).then(|| Self(text.to_string()))
    }
}

/// Whether `s` is what [`random_token`] makes, or could have made: 1 to 64 url-safe
/// base64 characters.
pub(crate) fn is_token_text(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_serializes_and_prints_as_the_text_it_holds() {
        let id = UserId::from("0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            r#""0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e""#
        );
        assert_eq!(
            serde_json::from_str::<UserId>(r#""0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e""#).unwrap(),
            id
        );
        assert_eq!(
            format!("{id:?}"),
            format!("{:?}", "0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e")
        );
        assert_eq!(id.to_string(), "0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e");
    }

    #[test]
    fn a_user_id_from_a_client_parses_only_in_the_form_ids_are_made() {
        let made = UserId::random();
        assert_eq!(UserId::parse(made.as_str()), Some(made.clone()));
        for bad in [
            "",
            "u1",
            "nobody",
            &made.to_uppercase(),
            &made.replace('-', ""),
            &format!("{{{made}}}"),
            &format!("urn:uuid:{made}"),
            &format!("{made} "),
            &format!("{made}#x"),
        ] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_device_id_from_a_client_parses_only_as_url_safe_text_of_at_most_64_characters() {
        let made = DeviceId::random().unwrap();
        assert_eq!(DeviceId::parse(made.as_str()), Some(made));
        assert!(DeviceId::parse(&"a".repeat(64)).is_some());
        for bad in ["", "a.b", "a b", "a#b", "é", "a/b", &"a".repeat(65)] {
            assert_eq!(DeviceId::parse(bad), None, "{bad:?}");
        }
    }
}
