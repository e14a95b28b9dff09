//! POST /register through the handler, over the memory store.

use serde_json::{Value, json};
use twofa::config::Config;
use twofa::policy::{Behaviour, TwoFactorSettings};
use twofa::tenant::Tenant;
use twofa::testing::{Reply, json_request, memory_core};

const STRONG: &str = twofa::testing::fixtures::PASSWORD;

async fn post(core: &twofa::app::Core, body: Value) -> (u16, Value) {
    let resp = register::handle(core, json_request("POST", "/register", &body, None)).await;
    let r = Reply::of(&resp);
    (r.status, r.body)
}

async fn with_tenant(core: &twofa::app::Core, name: &str) {
    let tenant = Tenant {
        name: name.into(),
        feature: Behaviour::Optional,
        settings: TwoFactorSettings::default(),
        created_at: 0,
        lockout: None,
        host_lockout: None,
    };
    let admin = twofa::testing::seed_user_value(&tenant.side(), &format!("admin@{name}.example"));
    core.store.create_tenant(&tenant, &admin).await.unwrap();
}

#[tokio::test]
async fn a_new_user_is_created_unconfirmed_in_the_host() {
    let (core, store, _) = memory_core(Config::default());
    let (status, body) = post(
        &core,
        json!({"email": "Jane@Example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "Jane@Example.com");
    assert_eq!(body["email_confirmed"], false);
    let id = body["user_id"].as_str().unwrap();
    let user = twofa::store::UserStore::user(store.as_ref(), &id.into())
        .await
        .unwrap()
        .unwrap();
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(!user.two_factor_enabled, "a new user's own flag starts off");
    assert!(
        !body.to_string().contains("argon2"),
        "the hash never leaves the store"
    );
}

#[tokio::test]
async fn the_same_email_in_any_case_is_taken_but_only_within_one_tenant() {
    let (core, _, _) = memory_core(Config::default());
    with_tenant(&core, "acme").await;
    assert_eq!(
        post(
            &core,
            json!({"email": "jane@example.com", "password": STRONG})
        )
        .await
        .0,
        201
    );
    let (status, body) = post(
        &core,
        json!({"email": "JANE@example.COM", "password": STRONG}),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("email_taken")));
    assert_eq!(
        post(
            &core,
            json!({"tenant": "ACME", "email": "jane@example.com", "password": STRONG})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        post(
            &core,
            json!({"tenant": "acme", "email": "jane@example.com", "password": STRONG})
        )
        .await
        .0,
        409
    );
}

/// Addresses that look the same are one address: NFD against NFC, fullwidth letters
/// and dots, case. The normalised form is what is stored and shown; an address
/// with an invisible character is refused, never stored beside its twin.
#[tokio::test]
async fn look_alike_addresses_collide_and_an_invisible_character_is_refused() {
    let (core, store, _) = memory_core(Config::default());
    let (status, body) = post(
        &core,
        json!({"email": "jose\u{301}@\u{ff45}xample.com", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["email"], "jos\u{e9}@example.com",
        "the normalised form"
    );
    for twin in [
        "jos\u{e9}@example.com",
        "JOS\u{c9}@EXAMPLE.COM",
        "\u{ff4a}os\u{e9}@example.com",
        "jos\u{e9}@example\u{3002}com",
    ] {
        let (status, body) = post(&core, json!({"email": twin, "password": STRONG})).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (409, Some("email_taken")),
            "{twin:?}: {body}"
        );
    }
    for invisible in [
        "jo\u{200b}s\u{e9}@example.com",
        "jos\u{ad}\u{e9}@example.com",
        "jos\u{e9}\u{200d}@example.com",
    ] {
        let (status, body) = post(&core, json!({"email": invisible, "password": STRONG})).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_email")),
            "{invisible:?}: {body}"
        );
    }
    let side =
        twofa::store::UserStore::users_in(store.as_ref(), &twofa::side::Side::Host, "", None, 10)
            .await
            .unwrap();
    assert_eq!(side.items.len(), 1, "one account for all of them");
}

/// A Cyrillic letter among Latin ones looks like the Latin address: refused as
/// `invalid_email` on the field, and nothing is created; one script alone, or Latin
/// with Japanese, registers.
#[tokio::test]
async fn an_address_mixing_look_alike_scripts_is_refused_and_one_script_is_not() {
    let (core, store, _) = memory_core(Config::default());
    for mixed in ["j\u{430}ne@example.com", "jane@ex\u{430}mple.com"] {
        let (status, body) = post(&core, json!({"email": mixed, "password": STRONG})).await;
        assert_eq!(
            (status, body["error"].as_str(), body["field"].as_str()),
            (400, Some("invalid_email"), Some("email")),
            "{mixed:?}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("mixes letters of different scripts")),
            "{body}"
        );
    }
    let side =
        twofa::store::UserStore::users_in(store.as_ref(), &twofa::side::Side::Host, "", None, 10)
            .await
            .unwrap();
    assert!(side.items.is_empty(), "nothing was created");
    for fine in [
        "\u{438}\u{432}\u{430}\u{43d}@\u{43f}\u{440}\u{438}\u{43c}\u{435}\u{440}.\u{440}\u{444}",
        "tanaka.\u{305f}\u{306a}\u{304b}@example.jp",
    ] {
        let (status, body) = post(&core, json!({"email": fine, "password": STRONG})).await;
        assert_eq!(status, 201, "{fine:?}: {body}");
    }
}

#[tokio::test]
async fn unknown_or_impossible_tenants_are_404() {
    let (core, _, _) = memory_core(Config::default());
    for tenant in ["nope", "no such tenant", ""] {
        let (status, body) = post(
            &core,
            json!({"tenant": tenant, "email": "a@example.com", "password": STRONG}),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("unknown_tenant")),
            "tenant {tenant:?}"
        );
    }
    let (status, _) = post(
        &core,
        json!({"tenant": null, "email": "a@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 201, "a null tenant is the host");
}

#[tokio::test]
async fn each_invalid_field_has_its_own_error_and_creates_nothing() {
    let (core, store, _) = memory_core(Config::default());
    let cases = [
        (
            json!({"email": "not-an-email", "password": STRONG}),
            400,
            "invalid_email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            400,
            "weak_password",
        ),
        (
            json!({"email": "a@example.com", "password": "password1234"}),
            400,
            "weak_password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(129)}),
            400,
            "weak_password",
        ),
        (
            json!({"email": "a@example.com", "password": STRONG, "phone_number": "555-0100"}),
            400,
            "invalid_phone",
        ),
        (json!({"email": "a@example.com"}), 400, "invalid_request"),
        (
            json!({"email": 42, "password": STRONG}),
            400,
            "invalid_request",
        ),
        (
            json!({"email": "a@example.com", "password": STRONG, "phone_number": 5}),
            400,
            "invalid_request",
        ),
        (json!(["a@example.com"]), 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let (s, b) = post(&core, body.clone()).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (status, Some(code)),
            "{body} -> {b}"
        );
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(
        twofa::store::UserStore::user_by_email(
            store.as_ref(),
            &twofa::side::Side::Host,
            "a@example.com"
        )
        .await
        .unwrap()
        .is_none()
    );
}

#[tokio::test]
async fn a_refused_email_password_or_number_names_its_field_as_every_route_does() {
    let (core, _, _) = memory_core(Config::default());
    for (body, code, field) in [
        (
            json!({"email": "not an address", "password": STRONG}),
            "invalid_email",
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "weak_password",
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": STRONG, "phone_number": "12"}),
            "invalid_phone",
            "phone_number",
        ),
    ] {
        let (s, b) = post(&core, body.clone()).await;
        assert_eq!(
            (s, b["error"].as_str(), b["field"].as_str()),
            (400, Some(code), Some(field)),
            "{body} -> {b}"
        );
    }
}

#[tokio::test]
async fn a_missing_field_is_named() {
    let (core, _, _) = memory_core(Config::default());
    let (_, b) = post(&core, json!({"email": "a@example.com"})).await;
    assert_eq!(b["field"], "password");
}

#[tokio::test]
async fn a_phone_number_is_kept_in_e164_and_unconfirmed() {
    let (core, store, _) = memory_core(Config::default());
    let (status, body) = post(
        &core,
        json!({"email": "p@example.com", "password": STRONG, "phone_number": "+1 555 555 0100"}),
    )
    .await;
    assert_eq!(status, 201);
    let user =
        twofa::store::UserStore::user(store.as_ref(), &body["user_id"].as_str().unwrap().into())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        user.phone_number.as_ref().map(|p| p.as_str()),
        Some("+15555550100")
    );
    assert!(!user.phone_number_confirmed);
}

#[tokio::test]
async fn other_methods_and_paths_are_refused_cleanly() {
    let (core, _, _) = memory_core(Config::default());
    let resp = register::handle(&core, json_request("GET", "/register", &Value::Null, None)).await;
    assert_eq!(resp.status().as_u16(), 405);
    let resp = register::handle(&core, json_request("POST", "/nowhere", &json!({}), None)).await;
    assert_eq!(resp.status().as_u16(), 404);
}
