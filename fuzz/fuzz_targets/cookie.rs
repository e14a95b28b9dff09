//! Any bytes as Cookie headers: reading the remember-browser cookie never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut builder = http::Request::builder();
    for part in data.split(|b| *b == b'\n') {
        builder = builder.header("cookie", part);
    }
    let Ok(req) = builder.body(Vec::new()) else { return };
    if let Some(value) = twofa::api::cookie(&req, "Identity.TwoFactorRememberMe") {
        let _ = twofa::devices::parse_device_token(&value);
    }
});
