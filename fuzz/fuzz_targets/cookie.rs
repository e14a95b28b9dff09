//! Any bytes as Cookie headers: reading the remember-browser cookie never panics,
//! and a device token it yields has an id fit to be a store key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut builder = http::Request::builder();
    for part in data.split(|b| *b == b'\n') {
        builder = builder.header("cookie", part);
    }
    let Ok(req) = builder.body(Vec::new()) else { return };
    if let Some(value) = twofa::api::cookie(&req, "Identity.TwoFactorRememberMe") {
        if let Some((id, secret)) = twofa::devices::parse_device_token(&value) {
            let key_safe = |s: &str| (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            assert!(key_safe(id.as_str()) && key_safe(secret), "{value:?}");
        }
    }
});
