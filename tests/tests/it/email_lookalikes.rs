//! Look-alike addresses are one address, over HTTP.

use e2e::Client;
use e2e::{AppOptions, Backend, spawn_app};
use serde_json::json;
use twofa::email::Email;
use twofa::side::Side;
use twofa::store::rekey::{Rekeyed, rekey_emails};
use twofa::testing::fixtures::PASSWORD;
use twofa::user::User;

const OTHER: &str = "another long passphrase here";

/// An account registered before addresses were normalised is stored under the key
/// of its address as typed: `jose\u{301}@example.com` (an `e` and a combining
/// acute, as macOS keyboards send it). Once the operator has moved it to the key
/// its address has now (`twofa-admin rekey-emails`, after the upgrade),
/// `jos\u{e9}@example.com` (the same address, composed) is an address taken, not a
/// second account the administrator's list would show beside it, and the owner
/// signs in typing the address either way.
#[tokio::test]
async fn an_address_stored_before_normalisation_cannot_get_a_look_alike_twin() {
    a_stored_address_moved_to_its_key_has_no_twin(Backend::Memory).await;
}

/// The same on DynamoDB Local, whose user item keeps the key it is stored under.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_address_stored_before_normalisation_cannot_get_a_look_alike_twin_in_dynamodb() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    a_stored_address_moved_to_its_key_has_no_twin(backend).await;
}

async fn a_stored_address_moved_to_its_key_has_no_twin(backend: Backend) {
    let app = spawn_app(&backend, AppOptions::default()).await;
    let core = &app.api.core;
    let typed = "jose\u{301}@example.com";
    let legacy = User::new(
        Side::Host,
        Email::from_stored(typed).expect("a stored address"),
        twofa::password::hash_blocking_for_tests(PASSWORD),
        core.now(),
    );
    core.store.create_user(&legacy).await.expect("seeded");

    let walk = rekey_emails(core.store.as_ref()).await.expect("the walk");
    assert_eq!(walk.moved, std::slice::from_ref(&legacy.id));
    let again = rekey_emails(core.store.as_ref())
        .await
        .expect("a second walk");
    assert_eq!(again, Rekeyed::default(), "a second walk changes nothing");

    let twin = app
        .post(
            "/register",
            &json!({"email": "jos\u{e9}@example.com", "password": OTHER}),
            None,
        )
        .await;
    assert_eq!(
        twin.status, 409,
        "the composed twin of a stored address registered: {:?}",
        twin.body
    );
    for email in [typed, "jos\u{e9}@example.com", "JOSE\u{301}@EXAMPLE.COM"] {
        let login = app
            .post(
                "/login",
                &json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(
            login.status, 200,
            "the owner typing {email:?}: {:?}",
            login.body
        );
    }
}

/// Before the operator's walk, an account stored under the key lower case gave
/// (`\u{3bf}\u{3c2}@`, registered before addresses were case-folded) is found by
/// register too when the address is typed as it was registered, and signs in.
#[tokio::test]
async fn an_address_keyed_in_lower_case_before_case_folding_is_taken_and_signs_in() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    let core = &app.api.core;
    let registered = "\u{3bf}\u{3c2}@example.com";
    let before = User::new(
        Side::Host,
        Email::from_stored(registered).expect("a stored address"),
        twofa::password::hash_blocking_for_tests(PASSWORD),
        core.now(),
    );
    core.store.create_user(&before).await.expect("seeded");
    let twin = app
        .post(
            "/register",
            &json!({"email": "\u{39f}\u{3a3}@example.com", "password": OTHER}),
            None,
        )
        .await;
    assert_eq!(twin.status, 409, "{:?}", twin.body);
    let login = app
        .post(
            "/login",
            &json!({"email": registered, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}

/// Addresses differing only by case are one account (API.md: compared
/// case-insensitively), by Unicode's case folding: `\u{3bf}\u{3c3}@example.com` and
/// `\u{3bf}\u{3c2}@example.com` (whose upper case is the same `\u{39f}\u{3a3}@`, where
/// lower case writes a capital sigma before the `@` as the final one) are one
/// account, which its owner signs in to typing the address in capitals.
#[tokio::test]
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
