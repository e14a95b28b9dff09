//! Any text as a bearer token or a remember-browser token: refused or accepted,
//! never a panic, and nothing not signed with our keys is accepted, not even one of
//! our own tokens with the fuzzer's text around it.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use twofa::tokens::{AccessKeys, NewToken, TokenKind, TokenLifetimes, TokenNames, Tokens};

#[path = "../../shared/src/testing/access_keys.rs"]
mod access_keys;

const NOW: i64 = 1_767_225_600;
const KINDS: [TokenKind; 3] = [TokenKind::Access, TokenKind::TwoFactor, TokenKind::Setup];

/// The keys and one token of each kind, made once: an RSA signature costs a
/// millisecond, which would be most of each run.
fn fixture() -> &'static (Tokens, Vec<String>) {
    static FIXTURE: OnceLock<(Tokens, Vec<String>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let der = base64::engine::general_purpose::STANDARD
            .decode(access_keys::ACCESS_KEY)
            .expect("base64");
        let access = AccessKeys::new(&der, Vec::new()).expect("an RSA key");
        let tokens = Tokens::new("k1", &[7u8; 32], &[], access, TokenLifetimes::default())
            .expect("a valid key")
            .named(TokenNames {
                issuer: Some("https://twofa.test".into()),
                audience: "twofa".into(),
            });
        let signed = KINDS
            .iter()
            .map(|kind| {
                let claims = NewToken {
                    user_id: "u1".into(),
                    amr: vec!["pwd".into()],
                    ..Default::default()
                };
                tokens.issue(*kind, claims, NOW).expect("a token")
            })
            .collect();
        (tokens, signed)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (tokens, signed) = fixture();
    for kind in KINDS {
        // The fuzzer cannot forge an RSA or HMAC-SHA256 signature: anything it finds that verifies is a bug.
        assert!(
            tokens.verify(kind, text, NOW).is_err(),
            "an unsigned token was accepted"
        );
    }
    if !text.is_empty() {
        for token in signed {
            for tampered in [format!("{token}{text}"), format!("{text}{token}")] {
                for kind in KINDS {
                    assert!(
                        tokens.verify(kind, &tampered, NOW).is_err(),
                        "a tampered token was accepted: {tampered:?}"
                    );
                }
            }
        }
    }
    let _ = twofa::devices::parse_device_token(text);
    if let Ok(req) = http::Request::builder()
        .header("authorization", data)
        .body(Vec::new())
    {
        let _ = twofa::api::bearer_token(&req);
    }
});
