//! Any text as an email address: refused, or an address that fits every place it
//! goes (at most 254 octets, and the authenticator's QR code can hold it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(email) = twofa::email::Email::parse(text) {
        assert!(email.as_str().len() <= 254);
        let _ = (email.key(), email.masked());
        let uri = twofa::totp::provisioning_uri(&[1u8; 20], "twofa", email.as_str());
        assert!(twofa::totp::qr_svg(&uri).is_ok(), "no QR code for an accepted address of {} octets", email.as_str().len());
    }
});
