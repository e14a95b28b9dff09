//! Email addresses: parsed once and normalised (look-alikes are one address),
//! compared caselessly, shown masked.

use std::fmt;

use unicode_script::Script;
use unicode_security::mixed_script::AugmentedScriptSet;

/// The longest address in octets (RFC 5321's path limit, less the angle brackets).
pub const MAX_OCTETS: usize = 254;

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(pub &'static str);

/// A syntactically plausible email address, normalised (see [`Email::parse`]), and
/// the key its account is stored under (see [`Email::key`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    text: String,
    key: String,
}

/// NFKC: compatibility forms (fullwidth letters, ligatures) become the characters
/// they look like, and decomposed accents are composed.
const NFKC: icu_normalizer::ComposingNormalizerBorrowed<'static> =
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();

/// Unicode's full case folding: what caseless matching compares.
const FOLD: icu_casemap::CaseMapperBorrowed<'static> = icu_casemap::CaseMapper::new();

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
    /// overflowed the authenticator's QR code, which carries the address). Last, a
    /// local part or a domain label that mixes scripts the way look-alikes do (a
    /// Cyrillic `а` among Latin letters) is refused (see `mixes_scripts`).
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let text = normalise(input)?;
        let (local, domain) = text
            .rsplit_once('@')
            .ok_or(InvalidEmail("the email address has no @"))?;
        if mixes_scripts(local) {
            return Err(InvalidEmail(
                "the part before @ mixes letters of different scripts",
            ));
        }
        if domain.split('.').any(mixes_scripts) {
            return Err(InvalidEmail(
                "the domain after @ mixes letters of different scripts",
            ));
        }
        let key = caseless_key(&text);
        Ok(Self { text, key })
    }

    /// An address read back from a record written before addresses were keyed by
    /// case folding, which has no key of its own: the rules of [`Email::checked`],
    /// kept as stored, and keyed as every record was then, by its text in lower case.
    /// An address registered before addresses were normalised is stored (and keyed)
    /// as it was typed; it must read back, or one such account would make its
    /// side's user list fail.
    pub fn from_stored(text: &str) -> Result<Self, InvalidEmail> {
        let text = Self::checked(text.trim().to_string())?;
        let key = text.to_lowercase();
        Ok(Self { text, key })
    }

    /// An address read back with the key its record is stored under.
    pub fn from_stored_with_key(text: &str, key: &str) -> Result<Self, InvalidEmail> {
        Ok(Self {
            key: key.to_string(),
            ..Self::from_stored(text)?
        })
    }

    /// The shape every address has: one `@`, a local part of 1 to 64 octets, a
    /// domain of labels (letters, digits, inner hyphens) with a dot, no spaces or
    /// control characters, 254 octets at most.
    fn checked(s: String) -> Result<String, InvalidEmail> {
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
        Ok(s)
    }

    /// The key an account for `input` gets now, whether or not `input` may register
    /// (an address that mixes scripts has one): what an account stored under an
    /// older key is moved to (`store::rekey`). `None` when `input` does not
    /// normalise to an address.
    pub fn caseless_key_of(input: &str) -> Option<String> {
        normalise(input).ok().map(|text| caseless_key(&text))
    }

    /// The keys an account for `input` may be stored under, without duplicates: first
    /// the key an account gets now ([`Email::caseless_key_of`]), which an address
    /// without an account is counted under; then the keys the rules before gave,
    /// each more literal than the one before it: the normalised address in lower
    /// case (before addresses were case-folded), then the text as typed in lower case
    /// (before addresses were normalised). An account stored then is found again
    /// when its address is typed as it was registered. Empty when the input is no
    /// address at all.
    pub fn lookup_keys(input: &str) -> Vec<String> {
        let now = Self::caseless_key_of(input);
        let lower = normalise(input).ok().map(|text| text.to_lowercase());
        let typed = Self::from_stored(input).ok().map(|e| e.key);
        let mut keys: Vec<String> = Vec::new();
        for key in [now, lower, typed].into_iter().flatten() {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// A prefix an admin searches addresses by, keyed as addresses are (NFKC, the
    /// local part case-folded, the domain in lower case), so that typing a
    /// look-alike finds the address it looks like. The domain's IDNA mapping needs
    /// the whole domain, so a prefix is not mapped.
    pub fn search_prefix(input: &str) -> String {
        caseless_key(&NFKC.normalize(input.trim()))
    }

    /// The address, normalised (or as stored, for one registered before).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The comparison key, which the account is stored under: addresses that are
    /// the same but for case are one account. Unicode's caseless match, by full case
    /// folding: the final sigma is the sigma, `ß` is `ss`, as their capitals are
    /// one (`ΟΣ`, `SS`), where lower case writes a capital sigma before the `@` as
    /// the final form and leaves `ß` alone. The domain is in lower case only: UTS
    /// #46 has mapped its case already, and keeps `ß` and `ς`, which spell other
    /// domains than `ss` and `σ`. An account stored before keeps the key it had
    /// ([`Email::from_stored`]) until it is moved (`store::rekey`).
    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// The address masked for hints: `j***@example.com`.
    pub fn masked(&self) -> String {
        mask_email(&self.text)
    }
}

/// `input` normalised ([`Email::parse`]), short of the check of its scripts.
fn normalise(input: &str) -> Result<String, InvalidEmail> {
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
        return Email::checked(s.clone());
    }
    let (mapped, result) = idna::domain_to_unicode(domain);
    if result.is_err() {
        return Err(InvalidEmail("the domain after @ is not valid"));
    }
    Email::checked(format!("{local}@{mapped}"))
}

/// The key of a normalised address (or of a prefix of one): the local part case-folded
/// (and NFKC again, as Unicode's NFKC_Casefold: folding may decompose), the domain in
/// lower case (see [`Email::key`]).
fn caseless_key(text: &str) -> String {
    let (local, domain) = match text.rsplit_once('@') {
        Some((local, domain)) => (local, Some(domain)),
        None => (text, None),
    };
    let mut key = NFKC.normalize(&FOLD.fold_string(local)).into_owned();
    if let Some(domain) = domain {
        key.push('@');
        key.push_str(&domain.to_lowercase());
    }
    key
}

/// Whether `part` (a local part, or one label of a domain) mixes scripts as a
/// look-alike does: UTS #39's restriction levels, where anything short of
/// "moderately restrictive" is refused. One script (with digits and punctuation,
/// which every script shares) passes; so do Latin with Han and Japanese kana, with
/// Han and Bopomofo, with Han and Hangul, or with one other script recommended for
/// identifiers but Cyrillic and Greek, whose letters are drawn as Latin ones are.
/// Checked on every letter, where UTS #39 would stop at one not allowed in
/// identifiers: a script of limited use alone (Cherokee) is not a look-alike.
fn mixes_scripts(part: &str) -> bool {
    let mut all = AugmentedScriptSet::default();
    let mut not_latin = AugmentedScriptSet::default();
    for c in part.chars() {
        let scripts = AugmentedScriptSet::for_char(c);
        all.intersect_with(scripts);
        if !scripts.base.contains_script(Script::Latin) {
            not_latin.intersect_with(scripts);
        }
    }
    if !all.is_empty() || not_latin.hanb || not_latin.jpan || not_latin.kore {
        return false;
    }
    let mut others = not_latin.base.iter();
    match (others.next(), others.next()) {
        (Some(other), None) => {
            !other.is_recommended() || other == Script::Cyrillic || other == Script::Greek
        }
        _ => true,
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
        &self.text
    }
}

// As the plain address, the spelling the contract's bodies use.
impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
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
        assert_eq!(
            Email::lookup_keys("\u{39f}\u{3a3}@Example.com"),
            ["\u{3bf}\u{3c3}@example.com", "\u{3bf}\u{3c2}@example.com"],
            "and the key lower case gave before addresses were case-folded"
        );
        assert_eq!(
            Email::lookup_keys("j\u{430}ne@example.com"),
            ["j\u{430}ne@example.com"],
            "refused for new accounts, still found if registered before"
        );
        assert!(Email::lookup_keys("plain").is_empty());
    }

    /// Emails are compared case-insensitively (API.md), and Unicode's caseless match
    /// is by case folding, under which the final sigma is the sigma: `ΟΣ@example.com`
    /// (the upper case of `οσ@example.com`), `οσ@` and `ος@` are one account, where
    /// lower case would write the capital sigma before the `@` as the final form.
    #[test]
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
        assert_eq!(
            final_form.as_str(),
            "\u{3bf}\u{3c2}@example.com",
            "shown as typed"
        );
    }

    /// Full case folding: `ß` is `ss` before the `@` (`STRASSE` is the upper case of
    /// both); the domain's case is UTS #46's, which keeps `ß` and `ς` (they spell
    /// other domains).
    #[test]
    fn the_local_part_is_case_folded_and_the_domain_keeps_what_idna_keeps() {
        let sharp = Email::parse("stra\u{df}e@example.com").unwrap();
        let capitals = Email::parse("STRASSE@EXAMPLE.COM").unwrap();
        assert_eq!(sharp.key(), capitals.key());
        assert_eq!(sharp.key(), "strasse@example.com");
        let idn = Email::parse("jo@stra\u{df}e.de").unwrap();
        assert_eq!(idn.key(), "jo@stra\u{df}e.de");
        assert_ne!(idn.key(), Email::parse("jo@strasse.de").unwrap().key());
        assert_eq!(
            Email::parse("jo@\u{39f}\u{3a3}.gr").unwrap().key(),
            "jo@\u{3bf}\u{3c3}.gr"
        );
    }

    /// Look-alikes beyond NFKC: a Latin letter and its Cyrillic or Greek twin are
    /// drawn the same, and NFKC keeps them apart. A local part or domain label that
    /// mixes Latin with Cyrillic (`j\u{430}ne@`, Cyrillic a) is refused, as UTS #39
    /// refuses what is not "moderately restrictive".
    #[test]
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
    fn a_part_mixing_look_alike_scripts_is_refused_and_one_script_or_latin_with_cjk_is_not() {
        let local = "the part before @ mixes letters of different scripts";
        let domain = "the domain after @ mixes letters of different scripts";
        for (mixed, why) in [
            ("j\u{430}ne@example.com", local),
            ("\u{3b1}lpha@example.com", local),
            ("\u{43f}\u{440}\u{438}\u{3bc}@example.com", local),
            ("jane@ex\u{430}mple.com", domain),
            ("jane@EX\u{410}MPLE.com", domain),
        ] {
            assert_eq!(Email::parse(mixed), Err(InvalidEmail(why)), "{mixed:?}");
        }
        for fine in [
            "\u{438}\u{432}\u{430}\u{43d}.2024@\u{43f}\u{440}\u{438}\u{43c}\u{435}\u{440}.\u{440}\u{444}",
            "\u{3b1}\u{3bb}\u{3c6}\u{3b1}@example.gr",
            "tanaka.\u{305f}\u{306a}\u{304b}@example.jp",
            "li.\u{674e}@example.cn",
            "kim.\u{ae40}@example.kr",
            "jo@\u{43f}\u{440}\u{438}\u{43c}\u{435}\u{440}.com",
            "\u{13a0}\u{13a1}@example.com",
            "m\u{fc}ller+\u{1f600}@m\u{fc}nchen.de",
        ] {
            assert!(Email::parse(fine).is_ok(), "{fine:?} was refused");
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
        let sigma = Email::parse("\u{3bf}\u{3c2}@example.com").unwrap().key();
        assert!(sigma.starts_with(&Email::search_prefix("\u{39f}\u{3a3}@EX")));
    }

    #[test]
    fn an_address_read_back_with_its_key_keeps_that_key() {
        let moved = Email::from_stored_with_key("jose\u{301}@example.com", "jos\u{e9}@example.com")
            .unwrap();
        assert_eq!(moved.as_str(), "jose\u{301}@example.com", "shown as stored");
        assert_eq!(moved.key(), "jos\u{e9}@example.com");
        assert_eq!(
            Email::caseless_key_of(moved.as_str()).as_deref(),
            Some("jos\u{e9}@example.com"),
            "the key its address has now"
        );
    }
}
