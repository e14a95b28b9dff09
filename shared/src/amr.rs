//! How a user signed in: the RFC 8176 authentication method references an access
//! token carries (`amr`) and a `signed_in` event records. Serialized and printed as
//! the strings they always were, so tokens, events and logs are unchanged.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One authentication method a sign-in used.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amr {
    /// The password.
    Pwd,
    /// A code from the authenticator app.
    Otp,
    /// A code sent by email.
    Email,
    /// A code sent by SMS.
    Sms,
    /// A recovery code.
    Rec,
    /// A remembered browser stood in for the second factor.
    Device,
}

impl Amr {
    /// The method's name in tokens and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Email => "email",
            Amr::Sms => "sms",
            Amr::Rec => "rec",
            Amr::Device => "device",
        }
    }
}

// As the string it was before it had a type: a log's `amr = ?amr` keeps its shape.
impl fmt::Debug for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Amr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What an access token's `amr` says of a sign-in that used `methods`: only values
/// RFC 8176 registers, so a relying API's library knows each. A code sent by email
/// and a recovery code are one-time codes (`otp`); a text is `sms`; a remembered
/// browser adds nothing (it is a bearer cookie, not a proof of possession); two
/// distinct factors add `mfa`. Events keep the exact methods ([`Amr`]).
pub fn rfc8176(methods: &[Amr]) -> Vec<String> {
    let mut names: Vec<&'static str> = Vec::new();
    for m in methods {
        let name = match m {
            Amr::Pwd => "pwd",
            Amr::Otp | Amr::Email | Amr::Rec => "otp",
            Amr::Sms => "sms",
            Amr::Device => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.contains(&"pwd") && names.len() > 1 {
        names.push("mfa");
    }
    names.into_iter().map(str::to_string).collect()
}

// An event's detail (`crate::audit::SecurityEvent::detail`) holds it as its name.
impl From<Amr> for serde_json::Value {
    fn from(amr: Amr) -> Self {
        serde_json::Value::String(amr.as_str().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Amr; 6] = [
        Amr::Pwd,
        Amr::Otp,
        Amr::Email,
        Amr::Sms,
        Amr::Rec,
        Amr::Device,
    ];

    #[test]
    fn each_method_is_written_read_and_printed_as_its_rfc_8176_name() {
        for (amr, name) in ALL
            .into_iter()
            .zip(["pwd", "otp", "email", "sms", "rec", "device"])
        {
            assert_eq!(serde_json::to_value(amr).unwrap(), name);
            assert_eq!(serde_json::Value::from(amr), name);
            assert_eq!(
                serde_json::from_value::<Amr>(serde_json::json!(name)).unwrap(),
                amr
            );
            assert_eq!(format!("{amr:?}"), format!("{name:?}"));
            assert_eq!(amr.to_string(), name);
        }
        assert!(serde_json::from_value::<Amr>(serde_json::json!("hwk")).is_err());
    }

    #[test]
    fn an_access_token_names_only_registered_methods_and_mfa_for_two_factors() {
        for (methods, names) in [
            (&[Amr::Pwd][..], &["pwd"][..]),
            (&[Amr::Pwd, Amr::Otp], &["pwd", "otp", "mfa"]),
            (&[Amr::Pwd, Amr::Email], &["pwd", "otp", "mfa"]),
            (&[Amr::Pwd, Amr::Rec], &["pwd", "otp", "mfa"]),
            (&[Amr::Pwd, Amr::Sms], &["pwd", "sms", "mfa"]),
            (&[Amr::Pwd, Amr::Device], &["pwd"]),
        ] {
            assert_eq!(rfc8176(methods), names, "{methods:?}");
        }
    }
}
