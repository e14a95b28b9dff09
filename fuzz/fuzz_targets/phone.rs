//! Any text as a phone number: refused or an E.164 number, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(phone) = twofa::phone::PhoneNumber::parse(text) {
        let e164 = phone.as_str();
        assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()), "{e164:?}");
        assert!(e164.len() <= 16, "{e164:?}");
    }
});
