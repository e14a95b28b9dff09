//! Any text as a bearer token or a remember-browser token: refused or accepted,
//! never a panic, and nothing not signed with our key is accepted, not even one of
//! our own tokens with the fuzzer's text around it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofa::tokens::{NewToken, TokenKind, TokenLifetimes, Tokens};

const NOW: i64 = 1_767_225_600;
const KINDS: [TokenKind; 3] = [TokenKind::Access, TokenKind::TwoFactor, TokenKind::Setup];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let tokens = Tokens::new("k1", &[7u8; 32], &[], TokenLifetimes::default()).expect("a valid key");
    for kind in KINDS {
        // The fuzzer cannot forge an HMAC-SHA256: anything it finds that verifies is a bug.
        assert!(tokens.verify(kind, text, NOW).is_err(), "an unsigned token was accepted");
    }
    if !text.is_empty() {
        let claims = NewToken { user_id: "u1".into(), scope: "host".into(), amr: vec![twofa::amr::Amr::Pwd], ..Default::default() };
        let signed = tokens.issue(TokenKind::Access, claims, NOW).expect("a token");
        for tampered in [format!("{signed}{text}"), format!("{text}{signed}")] {
            for kind in KINDS {
                assert!(tokens.verify(kind, &tampered, NOW).is_err(), "a tampered token was accepted: {tampered:?}");
            }
        }
    }
    let _ = twofa::devices::parse_device_token(text);
    if let Ok(req) = http::Request::builder().header("authorization", data).body(Vec::new()) {
        let _ = twofa::api::bearer_token(&req);
    }
});
