//! Look-alike addresses are one address, over HTTP.

use e2e::Client;
use e2e::{AppOptions, Backend, spawn_app};
use serde_json::json;
use twofa::email::Email;
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::user::User;

const OTHER: &str = "another long passphrase here";

/// An account registered before addresses were normalised is stored under the key
/// of its address as typed: `jose\u{301}@example.com` (an `e` and a combining
/// acute, as macOS keyboards send it). Register does not look under that key, so
/// `jos\u{e9}@example.com` (the same address, composed) registers as a second
/// account: the administrator's list shows two identical addresses, and from then
/// on login looks under the normalised key first, so the old account's owner,
/// typing the address as registered, lands on the newcomer's account (401 with the
/// right password; `/password/forgot` mails that account's code to the same
/// mailbox).
#[tokio::test]
#[ignore = "open: register ignores an account stored before normalisation; its NFC twin registers and shadows it at login"]
async fn an_address_stored_before_normalisation_cannot_get_a_look_alike_twin() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    let core = &app.api.core;
    let typed = "jose\u{301}@example.com";
    let legacy = User::new(
        Side::Host,
        Email::from_stored(typed).expect("a stored address"),
        twofa::password::hash_blocking_for_tests(PASSWORD),
        core.now(),
    );
    core.store.create_user(&legacy).await.expect("seeded");

    let twin = app
        .post(
            "/register",
            &json!({"email": "jos\u{e9}@example.com", "password": OTHER}),
            None,
        )
        .await;
    let login = app
        .post(
            "/login",
            &json!({"email": typed, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        twin.status, 409,
        "the composed twin of a stored address registered: {:?}",
        twin.body
    );
    assert_eq!(
        login.status, 200,
        "the owner typing the address as registered: {:?}",
        login.body
    );
}

/// Addresses differing only by case are one account (API.md: compared
/// case-insensitively). A capital sigma before the `@` lowercases to the final
/// sigma: `\u{3bf}\u{3c3}@example.com` and `\u{3bf}\u{3c2}@example.com` (whose upper
/// case is the same `\u{39f}\u{3a3}@`) register as two accounts, and the first's
/// owner typing the address in capitals signs in to the second's.
#[tokio::test]
#[ignore = "open: key() lowercases the sigma contextually; two accounts whose addresses differ only by case"]
async fn two_addresses_that_differ_only_by_case_cannot_both_register() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    let first = app
        .post(
            "/register",
            &json!({"email": "\u{3bf}\u{3c3}@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let second = app
        .post(
            "/register",
            &json!({"email": "\u{3bf}\u{3c2}@example.com", "password": OTHER}),
            None,
        )
        .await;
    let capitals = app
        .post(
            "/login",
            &json!({"email": "\u{39f}\u{3a3}@EXAMPLE.COM", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(second.status, 409, "{:?}", second.body);
    assert_eq!(capitals.status, 200, "{:?}", capitals.body);
}

/// Odd Unicode anywhere an address is taken answers 4xx or the route's usual
/// answer, never a 500 (API.md: "Never a 500 for anything a client can send").
#[tokio::test]
async fn odd_unicode_in_an_address_never_answers_500() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    let odd = [
        "\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}\u{fdfa}@example.com",
        "a\u{fe6b}b@example.com",
        "a@xn--.com",
        "a@xn--a.xn--b.com",
        "a@\u{ff0e}\u{ff0e}.com",
        "\u{130}\u{130}\u{130}@example.com",
        "a@\u{23a}\u{23a}.com",
        "a@x\u{200c}y.com",
        "a@example.com\u{3002}",
        "a@-\u{ff41}.com",
        "a@\u{1f600}.com",
        "a@\u{661}\u{662}.com",
        "\u{3a3}@\u{3a3}.gr",
    ];
    let tiny: String = "\u{23a}".repeat(127) + "@x.com";
    for email in odd.iter().map(|s| s.to_string()).chain([tiny]) {
        for (path, body) in [
            ("/register", json!({"email": email, "password": PASSWORD})),
            ("/login", json!({"email": email, "password": PASSWORD})),
            ("/password/forgot", json!({"email": email})),
            (
                "/password/reset",
                json!({"email": email, "code": "123456", "new_password": OTHER}),
            ),
        ] {
            let r = app.post(path, &body, None).await;
            assert!(
                r.status < 500,
                "{path} {email:?}: {} {:?}",
                r.status,
                r.body
            );
        }
    }
}
