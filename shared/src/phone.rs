//! Phone numbers in E.164, parsed with the `phonenumber` crate (libphonenumber's data),
//! so a number that cannot exist is refused before an SMS is paid for.
//!
//! A number read back from the store was parsed when it was written, so it is only
//! checked for shape ([`PhoneNumber::from_stored`]): libphonenumber's metadata and the
//! regex engine it needs are about 1 MB of code and data, and their relocations are
//! paid at every cold start, in the functions that only read numbers (login,
//! verify-code, manage-settings).

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
        // What is returned is what gets stored, so it must read back: libphonenumber
        // drops a national prefix from what it returns (`+49001234` becomes `+491234`),
        // and a number too short to read back would be an item no request could load.
        Self::from_stored(&e164)
            .map_err(|_| InvalidPhone("the phone number is not a possible number".into()))
    }

    /// A number this service stored after [`PhoneNumber::parse`] accepted it: `+`, a
    /// calling code that exists, 8 to 15 digits in all, nothing else. It is not parsed
    /// again, so a number a libphonenumber update has since retired still reads back.
    pub fn from_stored(text: &str) -> Result<Self, InvalidPhone> {
        let refused = || InvalidPhone("not a phone number in E.164 form".into());
        let digits = text.strip_prefix('+').ok_or_else(refused)?;
        if !(8..=15).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(refused());
        }
        // Calling codes are prefix-free: at most one of the first one, two or three
        // digits is a code.
        let country_code = (1..=3)
            .filter_map(|n| digits[..n].parse::<u16>().ok())
            .find(|code| CALLING_CODES.binary_search(code).is_ok())
            .ok_or_else(refused)?;
        Ok(Self {
            e164: text.to_string(),
            country_code,
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

/// The country calling codes libphonenumber's metadata has (`phonenumber` 0.3.10,
/// metadata 9.0.33), in order. A test checks them against the crate's, both ways, so an
/// update that adds or retires a code fails until this list follows.
const CALLING_CODES: [u16; 215] = [
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506,
    507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676,
    677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850, 852,
    853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966, 967,
    968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

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
    fn the_calling_codes_are_libphonenumbers_sorted_and_prefix_free() {
        for code in 0..1000u16 {
            assert_eq!(
                CALLING_CODES.binary_search(&code).is_ok(),
                phonenumber::metadata::DATABASE.by_code(&code).is_some(),
                "calling code {code}"
            );
        }
        for pair in CALLING_CODES.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?} out of order");
        }
        for a in CALLING_CODES {
            for b in CALLING_CODES {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} begins {b}");
            }
        }
    }

    #[test]
    fn a_parsed_number_reads_back_from_the_store_unchanged() {
        for text in [
            "+15555550100",
            "+447911123456",
            "+33612345678",
            "+861012345678",
            "+35312345678",
            "+9718123456",
            "+380441234567",
            "+2348012345678",
        ] {
            let parsed = PhoneNumber::parse(text).unwrap();
            let stored = PhoneNumber::from_stored(parsed.as_str()).unwrap();
            assert_eq!(stored, parsed, "{text}");
            assert_eq!(stored.masked(), parsed.masked(), "{text}");
        }
    }

    #[test]
    fn whatever_parse_accepts_reads_back_from_the_store() {
        // libphonenumber drops a national prefix ("0" in Germany and France) from
        // what it returns, so 8 digits given could be 6 stored: an item no read takes.
        for text in [
            "+49001234",
            "+490012345",
            "+33001234",
            "+4900123456",
            "+390612345678",
        ] {
            if let Ok(parsed) = PhoneNumber::parse(text) {
                assert_eq!(
                    PhoneNumber::from_stored(parsed.as_str()).as_ref(),
                    Ok(&parsed),
                    "{text} parsed as {}",
                    parsed.as_str()
                );
            }
        }
    }

    #[test]
    fn stored_text_that_is_not_e164_does_not_read_back() {
        for bad in [
            "",
            "+",
            "15555550100",
            "+1 555 555 0100",
            "+1555555",
            "+1234567890123456",
            "+0123456789",
            "+999123456789",
            "+28012345678",
            "+1555555010\u{663}",
            "+١٥٥٥٥٥٥٠١٠٠",
        ] {
            assert!(PhoneNumber::from_stored(bad).is_err(), "{bad:?} was read");
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
