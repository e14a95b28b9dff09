//! Email addresses: parsed once and normalised (look-alikes are one address),
//! compared case-insensitively, shown masked.

use std::fmt;

/// The longest address in octets (RFC 5321's path limit, less the angle brackets).
pub const MAX_OCTETS: usize = 254;

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(pub &'static str);

/// A syntactically plausible email address, normalised (see [`Email::parse`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

/// NFKC: compatibility forms (fullwidth letters, ligatures) become the characters
/// they look like, and decomposed accents are composed.
const NFKC: icu_normalizer::ComposingNormalizerBorrowed<'static> =
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();

/// Characters that show nothing (zero-width spaces and joiners, the soft hyphen,
/// variation selectors, bidi controls...): two addresses differing only by them
/// look the same.
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_control()
        || icu_properties::CodePointSetData::new::<icu_properties::props::DefaultIgnorableCodePoint>()
            .contains(c)
}

impl Email {
    /// Parses an address a client gave, normalised so that addresses that look the
    /// same are the same: Unicode NFKC for the whole address, then IDNA UTS #46
    /// for a domain that is not plain ASCII or holds a Punycode label (fullwidth
    /// letters and dots become ASCII, upper case lower case, `xn--` labels are
    /// shown as what they spell). Invisible characters (default-ignorable code
    /// points: zero-width, soft hyphen...) and control characters are refused,
    /// never silently dropped. Then: one `@`, a non-empty local part of at most 64
    /// octets, a domain with a dot, no spaces, 254 octets at most (RFC 5321 counts
    /// octets, not characters: 254 four-byte characters were once taken, and
    /// overflowed the authenticator's QR code, which carries the address).
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidEmail("the email address is empty"));
        }
        // Before normalising: NFKC would turn some of them into nothing.
        if s.chars().any(is_invisible) {
            return Err(InvalidEmail(
                "the email address contains invisible or control characters",
            ));
        }
        let s: String = NFKC.normalize(s).into_owned();
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or(InvalidEmail("the email address has no @"))?;
        let needs_idna = !domain.is_ascii()
            || domain
                .split('.')
                .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--"));
        if !needs_idna {
            return Self::checked(s.clone());
        }
        let (mapped, result) = idna::domain_to_unicode(domain);
        if result.is_err() {
            return Err(InvalidEmail("the domain after @ is not valid"));
        }
        Self::checked(format!("{local}@{mapped}"))
    }

    /// An address read back from the store: the rules of [`Email::checked`], and
    /// kept as stored. An address registered before addresses were normalised is
    /// stored (and keyed) as it was typed; it must read back, or one such account
    /// would make its side's user list fail.
    pub fn from_stored(text: &str) -> Result<Self, InvalidEmail> {
        Self::checked(text.trim().to_string())
    }

    /// The shape every address has: one `@`, a local part of 1 to 64 octets, a
    /// domain of labels (letters, digits, inner hyphens) with a dot, no spaces or
    /// control characters, 254 octets at most.
    fn checked(s: String) -> Result<Self, InvalidEmail> {
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
        Ok(Self(s))
    }

    /// The keys an account for `input` may be stored under, the first preferred: the
    /// normalised address's, and the key the rules before normalisation gave (the
    /// text as typed, in lower case) when it differs: an account registered then is
    /// found again when its address is typed as it was registered. Empty when the
    /// input is no address at all.
    pub fn lookup_keys(input: &str) -> Vec<String> {
        let legacy = Self::from_stored(input).ok().map(|e| e.key());
        let mut keys: Vec<String> = Self::parse(input)
            .ok()
            .map(|e| e.key())
            .into_iter()
            .collect();
        if let Some(old) = legacy
            && !keys.contains(&old)
        {
            keys.push(old);
        }
        keys
    }

    /// A prefix an admin searches addresses by, normalised as addresses are (NFKC,
    /// lower case), so that typing a look-alike finds the address it looks like. The
    /// domain's IDNA mapping needs the whole domain, so a prefix is not mapped.
    pub fn search_prefix(input: &str) -> String {
        NFKC.normalize(input.trim()).to_lowercase()
    }

    /// The address, normalised (or as stored, for one registered before).
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
    fn decomposed_accents_are_composed() {
        let nfd = Email::parse("jose\u{301}@example.com").unwrap();
        let nfc = Email::parse("jos\u{e9}@example.com").unwrap();
        assert_eq!(nfd.as_str(), "jos\u{e9}@example.com");
        assert_eq!(nfd.key(), nfc.key());
    }

    #[test]
    fn fullwidth_letters_and_the_fullwidth_at_become_their_ascii_twins() {
        let e = Email::parse("\u{ff2a}ane\u{ff20}\u{ff45}xample.com").unwrap();
        assert_eq!(e.as_str(), "Jane@example.com");
        assert_eq!(e.key(), Email::parse("jane@example.com").unwrap().key());
    }

    #[test]
    fn a_fullwidth_or_ideographic_domain_is_mapped_to_the_domain_it_spells() {
        for domain in [
            "\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}.com",
            "example\u{3002}com",
            "EXAMPLE.COM",
        ] {
            let e = Email::parse(&format!("jo@{domain}")).unwrap();
            assert_eq!(e.key(), "jo@example.com", "{domain}");
        }
    }

    #[test]
    fn an_international_domain_is_one_address_in_unicode_and_in_punycode() {
        let unicode = Email::parse("jo@M\u{fc}nchen.de").unwrap();
        let punycode = Email::parse("jo@xn--mnchen-3ya.de").unwrap();
        assert_eq!(unicode.as_str(), "jo@m\u{fc}nchen.de");
        assert_eq!(punycode.as_str(), "jo@m\u{fc}nchen.de");
        assert_eq!(unicode.key(), punycode.key());
        assert!(Email::parse("jo@xn--zz.de").is_err(), "bad Punycode");
    }

    #[test]
    fn invisible_and_control_characters_are_refused_not_dropped() {
        for bad in [
            "jo\u{200b}e@example.com",
            "jo\u{200d}e@example.com",
            "jo\u{ad}e@example.com",
            "joe@exam\u{ad}ple.com",
            "joe\u{feff}@example.com",
            "jo\u{2060}e@example.com",
            "jo\u{fe0f}e@example.com",
            "jo\u{202e}e@example.com",
            "jo\u{7}e@example.com",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(InvalidEmail(
                    "the email address contains invisible or control characters"
                )),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_address_stored_before_normalisation_reads_back_as_stored() {
        for stored in ["jose\u{301}@example.com", "jo\u{200b}e@example.com"] {
            let e = Email::from_stored(stored).unwrap();
            assert_eq!(e.as_str(), stored);
            assert_eq!(
                e.key(),
                stored.to_lowercase(),
                "the key it was stored under"
            );
        }
        assert!(Email::from_stored("not an address").is_err());
    }

    #[test]
    fn an_address_is_looked_up_under_its_normalised_key_then_the_key_it_had_before() {
        assert_eq!(
            Email::lookup_keys(" Jane@Example.com "),
            ["jane@example.com"]
        );
        assert_eq!(
            Email::lookup_keys("Jose\u{301}@example.com"),
            ["jos\u{e9}@example.com", "jose\u{301}@example.com"]
        );
        assert_eq!(
            Email::lookup_keys("jo\u{200b}e@example.com"),
            ["jo\u{200b}e@example.com"],
            "refused for new accounts, still found if registered before"
        );
        assert!(Email::lookup_keys("plain").is_empty());
    }

    /// Emails are compared case-insensitively (API.md), and Unicode's caseless match
    /// is by case folding, under which the final sigma is the sigma. `key` lowercases
    /// with `str::to_lowercase`, which writes a capital sigma before the `@` as the
    /// final form: `ΟΣ@example.com` (the upper case of `οσ@example.com`) is keyed
    /// `ος@...`, another account. Two accounts whose addresses differ only by case can
    /// be registered, and the owner of `οσ@` who types the address in capitals signs
    /// in to the other one, or is refused.
    #[test]
    #[ignore = "open: key() lowercases the sigma contextually; οσ@ and ος@ (and ΟΣ@) are case variants yet two accounts"]
    fn addresses_differing_only_by_a_sigmas_case_form_are_one_account() {
        let plain = Email::parse("\u{3bf}\u{3c3}@example.com").unwrap();
        let upper = Email::parse("\u{39f}\u{3a3}@example.com").unwrap();
        let final_form = Email::parse("\u{3bf}\u{3c2}@example.com").unwrap();
        assert_eq!(
            upper.key(),
            plain.key(),
            "the upper case of an address is that address"
        );
        assert_eq!(final_form.key(), plain.key());
    }

    /// Look-alikes beyond NFKC: a Latin letter and its Cyrillic or Greek twin are
    /// drawn the same, and NFKC keeps them apart. `jane@` and `j\u{430}ne@` (Cyrillic
    /// a) register as two accounts that an administrator's list shows identically
    /// (UTS #39 confusables; a mixed-script local part or domain is not refused).
    #[test]
    #[ignore = "open: confusable letters of another script (Cyrillic a in jane@) pass NFKC; two accounts look the same"]
    fn a_latin_address_and_its_cyrillic_twin_are_not_two_accounts() {
        let latin = Email::parse("jane@example.com").unwrap();
        match Email::parse("j\u{430}ne@example.com") {
            Err(_) => {}
            Ok(twin) => assert_eq!(
                twin.key(),
                latin.key(),
                "a look-alike registered as another address"
            ),
        }
        match Email::parse("jane@ex\u{430}mple.com") {
            Err(_) => {}
            Ok(twin) => assert_eq!(
                twin.key(),
                latin.key(),
                "a look-alike domain registered as another address"
            ),
        }
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

    #[test]
    fn a_search_prefix_is_normalised_as_addresses_are() {
        assert_eq!(Email::search_prefix(" \u{ff2a}ose\u{301} "), "jos\u{e9}");
        let stored = Email::parse("Jos\u{e9}@example.com").unwrap().key();
        assert!(stored.starts_with(&Email::search_prefix("JOSE\u{301}")));
    }
}
