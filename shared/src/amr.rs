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
    /// A passkey bound to its device (not backed up): RFC 8176's hardware key.
    Hwk,
    /// A passkey its provider syncs between devices (backed up): a software key.
    Swk,
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
            Amr::Hwk => "hwk",
            Amr::Swk => "swk",
        }
    }

    /// The method named `name` in tokens and events (as [`Amr::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Amr::Pwd,
            Amr::Otp,
            Amr::Email,
            Amr::Sms,
            Amr::Rec,
            Amr::Device,
            Amr::Hwk,
            Amr::Swk,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }

    /// Whether the method is a second factor proven at this sign-in: anything but
    /// the password and a remembered browser. The browser lets the user skip the
    /// second factor, but it is a bearer cookie: the sign-in it makes is `aal1`, as
    /// its access token says ([`rfc8176`] names no method for it).
    pub fn is_second_factor(self) -> bool {
        !matches!(self, Amr::Pwd | Amr::Device)
    }

    /// Whether the method is a passkey, which twofa accepts only with user
    /// verification when it signs in alone: a factor held and a PIN or biometric.
    pub fn is_passkey(self) -> bool {
        matches!(self, Amr::Hwk | Amr::Swk)
    }
}

/// The assurance level a sign-in reached, the `acr` of its access tokens: NIST SP
/// 800-63B's AAL1 (one factor) or AAL2 (two).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acr {
    /// One factor: the password alone.
    Aal1,
    /// Two factors.
    Aal2,
}

impl Acr {
    /// The level of a sign-in that used `amr`: AAL2 when one of them is a second factor.
    pub fn of(amr: &[Amr]) -> Self {
        if amr.iter().any(|a| a.is_second_factor()) {
            Acr::Aal2
        } else {
            Acr::Aal1
        }
    }

    /// The level's name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Aal1 => "aal1",
            Acr::Aal2 => "aal2",
        }
    }
}

impl fmt::Debug for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
/// browser adds nothing (it is a bearer cookie, not a proof of possession); a
/// passkey is `hwk` or `swk`; two distinct factors add `mfa`, and so does a passkey
/// alone (a passwordless sign-in, where user verification is required: the key held
/// and the PIN or biometric that unlocked it). Events keep the exact methods ([`Amr`]).
pub fn rfc8176(methods: &[Amr]) -> Vec<String> {
    let mut names: Vec<&'static str> = Vec::new();
    for m in methods {
        let name = match m {
            Amr::Pwd => "pwd",
            Amr::Otp | Amr::Email | Amr::Rec => "otp",
            Amr::Sms => "sms",
            Amr::Hwk => "hwk",
            Amr::Swk => "swk",
            Amr::Device => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let passkey_alone = !names.contains(&"pwd") && methods.iter().any(|m| m.is_passkey());
    if (names.contains(&"pwd") && names.len() > 1) || passkey_alone {
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

    const ALL: [Amr; 8] = [
        Amr::Pwd,
        Amr::Otp,
        Amr::Email,
        Amr::Sms,
        Amr::Rec,
        Amr::Device,
        Amr::Hwk,
        Amr::Swk,
    ];

    #[test]
    fn each_method_is_written_read_and_printed_as_its_rfc_8176_name() {
        for (amr, name) in ALL
            .into_iter()
            .zip(["pwd", "otp", "email", "sms", "rec", "device", "hwk", "swk"])
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
        assert!(serde_json::from_value::<Amr>(serde_json::json!("mfa")).is_err());
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
            (&[Amr::Pwd, Amr::Hwk], &["pwd", "hwk", "mfa"]),
            (&[Amr::Swk], &["swk", "mfa"]),
            (&[Amr::Hwk, Amr::Device], &["hwk", "mfa"]),
        ] {
            assert_eq!(rfc8176(methods), names, "{methods:?}");
        }
    }

    #[test]
    fn a_method_is_read_back_from_its_name_and_from_no_other_text() {
        for amr in ALL {
            assert_eq!(Amr::from_name(amr.as_str()), Some(amr));
        }
        for bad in ["", "PWD", "mfa", "pwd "] {
            assert_eq!(Amr::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_sign_in_is_aal2_exactly_when_it_used_a_second_factor() {
        assert_eq!(Acr::of(&[]), Acr::Aal1);
        assert_eq!(Acr::of(&[Amr::Pwd]), Acr::Aal1);
        for second in ALL
            .into_iter()
            .filter(|a| !matches!(a, Amr::Pwd | Amr::Device))
        {
            assert_eq!(Acr::of(&[Amr::Pwd, second]), Acr::Aal2, "{second}");
        }
        assert_eq!(Acr::of(&[Amr::Pwd, Amr::Device]), Acr::Aal1);
        assert_eq!(Acr::of(&[Amr::Swk]), Acr::Aal2);
        assert_eq!(serde_json::to_value(Acr::Aal2).unwrap(), "aal2");
        assert_eq!(Acr::Aal1.to_string(), "aal1");
    }
}
