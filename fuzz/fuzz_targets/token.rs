//! Any text as a bearer token or a remember-browser token: refused or accepted,
//! never a panic, and nothing not signed with our key is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofa::tokens::{TokenKind, TokenLifetimes, Tokens};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let tokens = Tokens::new("k1", &[7u8; 32], &[], TokenLifetimes::default()).expect("a valid key");
    for kind in [TokenKind::Access, TokenKind::TwoFactor, TokenKind::Setup] {
        // The fuzzer cannot forge an HMAC-SHA256: anything it finds that verifies is a bug.
        assert!(tokens.verify(kind, text, 1_767_225_600).is_err(), "an unsigned token was accepted");
    }
    let _ = twofa::devices::parse_device_token(text);
    if let Ok(req) = http::Request::builder().header("authorization", data).body(Vec::new()) {
        let _ = twofa::api::bearer_token(&req);
    }
});
