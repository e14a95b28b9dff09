//! Email addresses: parsed once, compared case-insensitively, shown masked.

use std::fmt;

/// The longest address in octets (RFC 5321's path limit, less the angle brackets).
pub const MAX_OCTETS: usize = 254;

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(pub &'static str);

/// A syntactically plausible email address, kept as the user typed it (trimmed).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a non-empty local part of at most 64 octets, a
    /// domain with a dot, no spaces or control characters, 254 octets at most (RFC
    /// 5321 counts octets, not characters: 254 four-byte characters were once taken,
    /// and overflowed the authenticator's QR code, which carries the address).
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidEmail("the email address is empty"));
        }
        if s.len() > MAX_OCTETS {
            return Err(InvalidEmail("the email address is longer than 254 octets"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail(
                "the email address contains spaces or control characters",
            ));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or(InvalidEmail("the email address has no @"))?;
        if local.is_empty() || local.contains('@') || local.len() > 64 {
            return Err(InvalidEmail("the part before @ is not valid"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(InvalidEmail("the domain after @ is not valid"));
        }
        Ok(Self(s.to_string()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comparison key: addresses differing only in case are the same account.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address masked for hints: `j***@example.com`.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

/// Masks an address as `j***@example.com`: the first character, three stars, the domain.
fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

impl fmt::Debug for Email {
    // Addresses are personal data: logs get the masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// As the plain address, the spelling the contract's bodies use.
impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Email::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_keeps_them_as_typed() {
        let e = Email::parse("  Jane.Doe+tag@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe+tag@Example.COM");
        assert_eq!(e.key(), "jane.doe+tag@example.com");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@exa mple.com",
            "a@@example.com",
            "a@-example.com",
            "a@example..com",
            "a@exam\nple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(260));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn masks_as_the_contract_shows() {
        assert_eq!(
            Email::parse("john@example.com").unwrap().masked(),
            "j***@example.com"
        );
        assert_eq!(
            format!("{:?}", Email::parse("john@example.com").unwrap()),
            "Email(j***@example.com)"
        );
    }
}
