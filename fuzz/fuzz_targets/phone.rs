//! Any text as a phone number: refused or an E.164 number that reads back from the
//! store unchanged, never a panic; and any text read back from the store, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(phone) = twofa::phone::PhoneNumber::parse(text) {
        let e164 = phone.as_str();
        assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()), "{e164:?}");
        assert!(e164.len() <= 16, "{e164:?}");
        assert_eq!(twofa::phone::PhoneNumber::from_stored(e164).as_ref(), Ok(&phone), "{text:?}");
    }
    let _ = twofa::phone::PhoneNumber::from_stored(text);
});
