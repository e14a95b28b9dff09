//! Never a 5xx for anything a client can send: over HTTP against the local API, on
//! the embedded store and on DynamoDB Local (whose key-size limits the memory store
//! does not have), every body field and path parameter, long, multibyte or of the
//! wrong type, gets an answer below 500, and a 4xx carries the JSON error.

use e2e::Client;
use e2e::{AppOptions, Backend, Reply, TestApp, spawn_app};
use proptest::prelude::*;
use serde_json::{Value, json};
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::user::Role;

fn assert_client_error_or_success(reply: &Reply, what: &str) {
    assert!(
        reply.status < 500,
        "{what}: {} {:?}",
        reply.status,
        reply.body
    );
    if reply.status >= 400 {
        assert!(
            reply.body["error"].is_string() && reply.body["message"].is_string(),
            "{what}: a {} without a JSON error: {:?}",
            reply.status,
            reply.body
        );
    }
}

/// A host admin and a plain user, signed in: their access tokens.
async fn tokens(app: &TestApp) -> (String, String) {
    twofa::testing::seed_user(
        &app.api.core,
        Side::Host,
        "admin@example.com",
        PASSWORD,
        &[Role::HostAdmin],
    )
    .await;
    twofa::testing::seed_user(&app.api.core, Side::Host, "user@example.com", PASSWORD, &[]).await;
    let mut out = Vec::new();
    for email in ["admin@example.com", "user@example.com"] {
        let r = app
            .post(
                "/login",
                &json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        out.push(
            r.body["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{email} signs in: {:?}", r.body))
                .to_string(),
        );
    }
    (out.remove(0), out.remove(0))
}

/// The longest address the old parser took: 254 characters of four bytes each, which
/// the authenticator's QR code (the address is in its URI) could not hold.
fn long_multibyte_email() -> String {
    let c = "𝐀";
    format!(
        "{}@{}.{}.{}.{}",
        c.repeat(64),
        c.repeat(60),
        c.repeat(60),
        c.repeat(60),
        c.repeat(6)
    )
}

/// The longest address of four-byte characters RFC 5321 allows: 252 octets.
fn longest_multibyte_email() -> String {
    let c = "𝐀";
    format!(
        "{}@{}.{}.{}.{}",
        c.repeat(16),
        c.repeat(15),
        c.repeat(15),
        c.repeat(15),
        c
    )
}

async fn the_longest_multibyte_email_allowed_gets_its_authenticator_qr_code(backend: Backend) {
    let email = longest_multibyte_email();
    assert!(email.len() <= 254);
    let app = spawn_app(&backend, AppOptions::default()).await;
    let registered = app
        .post(
            "/register",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let login = app
        .post(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    let access = login.body["access_token"]
        .as_str()
        .expect("signed in")
        .to_string();
    let added = app
        .post("/account/authenticator", &json!({}), Some(&access))
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    assert!(
        added.body["qr_code_svg"]
            .as_str()
            .is_some_and(|s| s.starts_with("<?xml") || s.contains("<svg"))
    );
}

#[tokio::test]
async fn the_longest_multibyte_email_allowed_gets_its_authenticator_qr_code_on_the_embedded_store()
{
    the_longest_multibyte_email_allowed_gets_its_authenticator_qr_code(Backend::Memory).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_longest_multibyte_email_allowed_gets_its_authenticator_qr_code_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    the_longest_multibyte_email_allowed_gets_its_authenticator_qr_code(backend).await;
}

async fn a_long_multibyte_email_never_makes_the_authenticator_qr_code_fail(backend: Backend) {
    let email = long_multibyte_email();
    assert_eq!(email.chars().count(), 254);
    let app = spawn_app(&backend, AppOptions::default()).await;
    let registered = app
        .post(
            "/register",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_client_error_or_success(&registered, "register");
    if registered.status != 201 {
        assert_eq!(registered.body["error"], "invalid_email");
        return;
    }
    let login = app
        .post(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    let access = login.body["access_token"]
        .as_str()
        .expect("signed in")
        .to_string();
    let added = app
        .post("/account/authenticator", &json!({}), Some(&access))
        .await;
    assert_client_error_or_success(&added, "POST /account/authenticator");
}

#[tokio::test]
async fn a_long_multibyte_email_never_makes_the_authenticator_qr_code_fail_on_the_embedded_store() {
    a_long_multibyte_email_never_makes_the_authenticator_qr_code_fail(Backend::Memory).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_long_multibyte_email_never_makes_the_authenticator_qr_code_fail_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    a_long_multibyte_email_never_makes_the_authenticator_qr_code_fail(backend).await;
}

async fn path_parameters_of_any_length_answer_a_4xx_json_error(backend: Backend) {
    let app = spawn_app(&backend, AppOptions::default()).await;
    let (admin, user) = tokens(&app).await;
    for (method, path, token) in [
        (
            "GET",
            format!("/users/{}/two-factor", "u".repeat(2_100)),
            &admin,
        ),
        (
            "PUT",
            format!("/users/{}/two-factor", "u".repeat(2_100)),
            &admin,
        ),
        (
            "GET",
            format!("/tenants/{}/features/two-factor", "t".repeat(2_100)),
            &admin,
        ),
        (
            "DELETE",
            format!("/account/devices/{}", "d".repeat(1_100)),
            &user,
        ),
        (
            "DELETE",
            format!("/account/devices/{}", "%F0%9D%90%80".repeat(300)),
            &user,
        ),
    ] {
        let body = json!({"enabled": false});
        let reply = app.call(method, &path, Some(&body), Some(token)).await;
        assert_client_error_or_success(&reply, &format!("{method} {}…", &path[..40]));
        assert!(
            reply.status >= 400,
            "{method} {}…: {}",
            &path[..40],
            reply.status
        );
    }
}

#[tokio::test]
async fn path_parameters_of_any_length_answer_a_4xx_json_error_on_the_embedded_store() {
    path_parameters_of_any_length_answer_a_4xx_json_error(Backend::Memory).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn path_parameters_of_any_length_answer_a_4xx_json_error_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    path_parameters_of_any_length_answer_a_4xx_json_error(backend).await;
}

/// A JSON value of any shape a client might send in a field.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        "[a-z0-9+.@-]{0,20}@[a-z0-9.-]{0,20}".prop_map(Value::from),
        "\\+[0-9]{0,20}".prop_map(Value::from),
        "\\PC{200,600}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        ]
    })
}

/// Every route that takes a body, with the fields it reads.
const BODIES: &[(&str, &str, &[&str])] = &[
    (
        "POST",
        "/register",
        &["tenant", "email", "password", "phone_number"],
    ),
    (
        "POST",
        "/login",
        &["tenant", "email", "password", "remember_browser_token"],
    ),
    (
        "POST",
        "/send-code",
        &["two_factor_token", "provider", "purpose", "phone_number"],
    ),
    (
        "POST",
        "/verify-code",
        &[
            "two_factor_token",
            "provider",
            "code",
            "remember_browser",
            "purpose",
        ],
    ),
    (
        "PUT",
        "/settings/two-factor",
        &["behaviour", "allowed_providers", "remember_browser_allowed"],
    ),
    (
        "POST",
        "/tenants",
        &["name", "admin_email", "admin_password"],
    ),
    ("PUT", "/account/two-factor", &["enabled"]),
    ("POST", "/account/authenticator/verify", &["code"]),
    ("PUT", "/users/x/two-factor", &["enabled"]),
    ("PUT", "/tenants/x/features/two-factor", &["behaviour"]),
];

/// Every route with a path parameter (`{}`).
const PATHS: &[(&str, &str)] = &[
    ("GET", "/users/{}/two-factor"),
    ("PUT", "/users/{}/two-factor"),
    ("GET", "/tenants/{}/features/two-factor"),
    ("PUT", "/tenants/{}/features/two-factor"),
    ("DELETE", "/account/devices/{}"),
];

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn check_every_input_on(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let (app, admin, user) = rt.block_on(async {
        let app = spawn_app(&backend, AppOptions::default()).await;
        let (admin, user) = tokens(&app).await;
        (app, admin, user)
    });
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let bodies = (
        0..BODIES.len(),
        prop::collection::vec(any_value(), 5),
        0..3usize,
    );
    proptest!(config.clone(), |((route, values, who) in bodies)| {
        let (method, path, fields) = BODIES[route];
        let body: serde_json::Map<String, Value> = fields.iter().zip(values).map(|(f, v)| (f.to_string(), v)).collect();
        let token = [None, Some(admin.as_str()), Some(user.as_str())][who];
        let reply = rt.block_on(app.call(method, path, Some(&Value::Object(body.clone())), token));
        prop_assert!(reply.status < 500, "{method} {path} {body:?}: {} {:?}", reply.status, reply.body);
        if reply.status >= 400 {
            prop_assert!(reply.body["error"].is_string(), "{method} {path}: {:?}", reply.body);
        }
    });
    proptest!(config, |((route, param, who) in (0..PATHS.len(), "\\PC{1,1200}", 1..3usize))| {
        let (method, pattern) = PATHS[route];
        let path = pattern.replace("{}", &percent_encode(&param));
        let token = [None, Some(admin.as_str()), Some(user.as_str())][who];
        let reply = rt.block_on(app.call(method, &path, Some(&json!({"enabled": true, "behaviour": "enabled"})), token));
        prop_assert!(reply.status < 500, "{method} {pattern} with {} bytes: {} {:?}", param.len(), reply.status, reply.body);
        if reply.status >= 400 {
            prop_assert!(reply.body["error"].is_string(), "{method} {pattern}: {:?}", reply.body);
        }
    });
}

#[test]
fn no_body_field_or_path_parameter_gets_a_5xx_on_the_embedded_store() {
    check_every_input_on(Backend::Memory, 48);
}

#[test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
fn no_body_field_or_path_parameter_gets_a_5xx_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    check_every_input_on(backend, 48);
}

/// Red team: a query parameter is capped at 1024 *characters*, a path parameter at
/// 256 octets. `GET /events?user_id=` takes the id to DynamoDB as a key
/// (`USER#<id>`, at most 2048 bytes): 700 four-byte characters are within the cap
/// and three times past the key limit, and DynamoDB's refusal comes back as a 503.
async fn query_parameters_of_any_length_answer_a_4xx_json_error(backend: Backend) {
    let app = spawn_app(&backend, AppOptions::default()).await;
    let (admin, user) = tokens(&app).await;
    let long = percent_encode(&"\u{1D400}".repeat(700));
    for (path, token) in [
        (format!("/events?user_id={long}"), &admin),
        (format!("/events?type={long}"), &admin),
        (format!("/users?email={long}"), &admin),
        (format!("/users?cursor={long}"), &admin),
        (format!("/account/events?cursor={long}"), &user),
    ] {
        let reply = app.call("GET", &path, None, Some(token)).await;
        assert_client_error_or_success(&reply, &format!("GET {}…", &path[..30]));
        assert!(
            reply.status >= 400,
            "GET {}…: {}",
            &path[..30],
            reply.status
        );
    }
    // At the cap itself (1024 octets) every value is answered, never a 5xx.
    let at_cap = "u".repeat(1024);
    for (path, token) in [
        (format!("/events?user_id={at_cap}"), &admin),
        (format!("/events?type={at_cap}"), &admin),
        (format!("/users?email={at_cap}"), &admin),
        (format!("/users?cursor={at_cap}"), &admin),
        (format!("/account/events?cursor={at_cap}"), &user),
    ] {
        let reply = app.call("GET", &path, None, Some(token)).await;
        assert_client_error_or_success(&reply, &format!("GET {}…", &path[..30]));
    }
}

#[tokio::test]
async fn query_parameters_of_any_length_answer_a_4xx_json_error_on_the_embedded_store() {
    query_parameters_of_any_length_answer_a_4xx_json_error(Backend::Memory).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn query_parameters_of_any_length_answer_a_4xx_json_error_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    query_parameters_of_any_length_answer_a_4xx_json_error(backend).await;
}
