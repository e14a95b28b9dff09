//! Phone numbers in E.164, parsed with the `phonenumber` crate (libphonenumber's data),
//! so a number that cannot exist is refused before an SMS is paid for.

use std::fmt;

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPhone(pub String);

/// A valid phone number in E.164 form, e.g. `+15555550100`.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

impl PhoneNumber {
    /// Parses a number written in E.164 (`+` and the country code first); spaces,
    /// dashes, dots and brackets are tolerated and removed.
    pub fn parse(input: &str) -> Result<Self, InvalidPhone> {
        let s = input.trim();
        if !s.starts_with('+') {
            return Err(InvalidPhone(
                "phone numbers must be in E.164 form, starting with + and the country code".into(),
            ));
        }
        let compact: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        if compact.len() > 16 || !compact[1..].chars().all(|c| c.is_ascii_digit()) {
            return Err(InvalidPhone(
                "the phone number has characters other than digits".into(),
            ));
        }
        let parsed = phonenumber::parse(None, &compact)
            .map_err(|_| InvalidPhone("the phone number could not be parsed".into()))?;
        // Not `is_valid`: that refuses the 555 numbers documentation and tests use
        // (`+15555550100` is the contract's own example). A known country code and a
        // plausible length are what an SMS gateway needs.
        let national_digits = parsed.national().value().to_string().len();
        if parsed.code().value() == 0
            || phonenumber::metadata::DATABASE
                .by_code(&parsed.code().value())
                .is_none()
            || !(4..=14).contains(&national_digits)
            || compact.len() - 1 < 8
        {
            return Err(InvalidPhone(
                "the phone number is not a possible number".into(),
            ));
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self {
            e164,
            country_code: parsed.code().value(),
        })
    }

    /// The number in E.164.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The calling code, e.g. 1 for +1.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The number masked for hints: `+1*******0100`.
    pub fn masked(&self) -> String {
        mask_phone(&self.e164, self.country_code)
    }
}

/// Masks an E.164 number as the contract shows: `+`, the country code, seven stars, the last four digits.
fn mask_phone(e164: &str, country_code: u16) -> String {
    let last4: String = e164
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("+{country_code}*******{last4}")
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

// As the E.164 text, the spelling the contract's bodies use.
impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.e164)
    }
}

impl<'de> serde::Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PhoneNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_e164_and_keeps_the_country_code() {
        let p = PhoneNumber::parse("+1 (201) 555-0123").unwrap();
        assert_eq!(p.as_str(), "+12015550123");
        assert_eq!(p.country_code(), 1);
        assert_eq!(
            PhoneNumber::parse("+15555550100").unwrap().as_str(),
            "+15555550100"
        );
        let uk = PhoneNumber::parse("+447911123456").unwrap();
        assert_eq!(uk.country_code(), 44);
    }

    #[test]
    fn refuses_numbers_that_are_not_e164_or_cannot_exist() {
        for bad in [
            "",
            "5555550100",
            "+",
            "+1",
            "+1abc5550100",
            "+999123456789",
            "+1555",
            "+1555555",
            "+12015550123456789",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn masks_as_the_contract_shows() {
        assert_eq!(mask_phone("+15555550100", 1), "+1*******0100");
        assert_eq!(
            PhoneNumber::parse("+12015550123").unwrap().masked(),
            "+1*******0123"
        );
    }
}
