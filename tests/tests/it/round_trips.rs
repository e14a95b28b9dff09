//! DynamoDB round trips per request, counted on DynamoDB Local by an SDK interceptor:
//! the whole three-layer policy costs one item read, and the hot routes read only
//! what they must.

use std::sync::{Arc, Mutex};
use twofa::amr::Amr;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use serde_json::{Value, json};
use twofa::app::Core;
use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::store::dynamo::DynamoStore;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::{Reply, json_request};

/// Every request the client sends to DynamoDB (retries included), by operation name.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count-calls"
    }
    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in X-Amz-Target: "DynamoDB_20120810.GetItem".
        let target = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let name = target.rsplit('.').next().unwrap_or_default().to_string();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(name);
        Ok(())
    }
}

impl Calls {
    /// The operations made while `f` ran.
    async fn during<F: std::future::Future>(&self, f: F) -> (F::Output, Vec<String>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let out = f.await;
        (
            out,
            self.0.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        )
    }
}

async fn counted_core(endpoint: &str) -> (Core, Calls) {
    counted_core_with(endpoint, Config::default()).await
}

async fn counted_core_with(endpoint: &str, config: Config) -> (Core, Calls) {
    let calls = Calls::default();
    let conf =
        aws_sdk_dynamodb::config::Builder::from(&twofa::testing::emulator_sdk_config(endpoint))
            .interceptor(calls.clone())
            .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        format!("twofa-trips-{}", uuid::Uuid::new_v4().simple()),
    );
    store
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");
    (
        twofa::testing::core_over(Arc::new(store), Arc::new(SystemClock), config),
        calls,
    )
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_policy_is_one_item_read_and_login_is_one_round_trip_before_the_password_check() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let (core, calls) = counted_core(&endpoint).await;
    let out = LogSender::default();
    let body = json!({"email": "jane@example.com", "password": PASSWORD});

    let (reg, ops) = calls
        .during(register::handle(
            &core,
            json_request("POST", "/register", &body, None),
        ))
        .await;
    assert_eq!(reg.status(), 201);
    assert_eq!(
        ops,
        vec!["TransactWriteItems"],
        "register: one atomic write of the user and its email key"
    );

    let (login, ops) = calls
        .during(login::handle(
            &core,
            &out,
            json_request("POST", "/login", &body, None),
        ))
        .await;
    assert_eq!(login.status(), 200);
    // Host settings ‖ the email item (with the password hash's copy): one round trip
    // before the password check. The slot's write runs beside Argon2 and returns the
    // user, so there is no user read; the success write gives the slot back.
    // Policy ‖ email item, then the slot (returning the user); then the session, its
    // item put beside the Query of the user's others (the bound, sessions::MAX_PER_USER)
    // before the success is written, so a failed session write spends nothing; then
    // the success (a one-item transaction, so that its retry is known as its own)
    // and the sign_in event.
    let names: Vec<&str> = ops.iter().map(String::as_str).collect();
    let mut session = names.get(3..5).map(<[&str]>::to_vec).unwrap_or_default();
    session.sort_unstable();
    assert_eq!(
        (&names[..3], session, names.get(5..)),
        (
            &["GetItem", "GetItem", "UpdateItem"][..],
            vec!["PutItem", "Query"],
            Some(&["TransactWriteItems", "PutItem"][..])
        ),
        "policy ‖ email item, slot, the session ‖ its bound, success, the sign_in event: {ops:?}"
    );

    let token = Reply::of(&login).body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (view, ops) = calls
        .during(manage_settings::handle(
            &core,
            &out,
            json_request("GET", "/account/two-factor", &Value::Null, Some(&token)),
        ))
        .await;
    assert_eq!(view.status(), 200);
    assert_eq!(
        ops,
        vec!["GetItem", "GetItem", "GetItem"],
        "the user ‖ its session (one round trip), then its whole policy in one item"
    );

    let wrong = json!({"email": "jane@example.com", "password": "wrong horse battery"});
    let (failed, ops) = calls
        .during(login::handle(
            &core,
            &out,
            json_request("POST", "/login", &wrong, None),
        ))
        .await;
    assert_eq!(failed.status(), 401);
    assert_eq!(
        ops,
        vec!["GetItem", "GetItem", "UpdateItem", "PutItem"],
        "a failure is its slot, counted before the password was judged, and its event"
    );

    let unknown = json!({"email": "nobody@example.com", "password": PASSWORD});
    let (failed, ops) = calls
        .during(login::handle(
            &core,
            &out,
            json_request("POST", "/login", &unknown, None),
        ))
        .await;
    assert_eq!(failed.status(), 401);
    assert_eq!(
        ops,
        vec!["GetItem", "GetItem", "UpdateItem", "PutItem"],
        "an unknown email does the same work: its counter's slot, and its event under the email's keyed hash"
    );
}

/// The DynamoDB requests, in order, of each of `tries` failed logins with `body`,
/// with the status each got.
async fn failed_logins(
    core: &Core,
    calls: &Calls,
    body: &Value,
    tries: usize,
) -> Vec<(u16, Vec<String>)> {
    let out = LogSender::default();
    let mut seen = Vec::new();
    for _ in 0..tries {
        let (answer, ops) = calls
            .during(login::handle(
                core,
                &out,
                json_request("POST", "/login", body, None),
            ))
            .await;
        seen.push((answer.status().as_u16(), ops));
    }
    seen
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_wrong_password_and_an_unknown_email_cost_the_same_requests_in_the_same_order() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    // Two failures lock; no floor on the 423, which the requests alone must not tell apart.
    let env = std::collections::HashMap::from([
        ("LOCKOUT_MAX_FAILED_ATTEMPTS".to_string(), "2".to_string()),
        ("LOCKED_ANSWER_MS".to_string(), "0".to_string()),
    ]);
    let (core, calls) =
        counted_core_with(&endpoint, Config::read(&env).expect("valid settings")).await;
    let user = twofa::testing::seed_user(
        &core,
        twofa::side::Side::Host,
        "jane@example.com",
        PASSWORD,
        &[],
    )
    .await;
    // A confirmed address: the locking attempt sends the owner a notice (the log sender here).
    twofa::testing::patch_user(
        &core,
        &user,
        twofa::user::UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;
    let wrong = json!({"email": "jane@example.com", "password": "wrong horse battery"});
    let unknown = json!({"email": "nobody@example.com", "password": "wrong horse battery"});
    let account = failed_logins(&core, &calls, &wrong, 3).await;
    let nobody = failed_logins(&core, &calls, &unknown, 3).await;
    let statuses = |seen: &[(u16, Vec<String>)]| seen.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    assert_eq!(statuses(&account), [401, 423, 423], "{account:?}");
    assert_eq!(statuses(&nobody), [401, 423, 423], "{nobody:?}");
    // The 401, the 423 that locks, a 423 while locked: the same requests each.
    let ops = |seen: &[(u16, Vec<String>)]| seen.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>();
    assert_eq!(
        ops(&account),
        ops(&nobody),
        "an account's requests, then an unknown email's"
    );
}

/// The DynamoDB requests, in order, of each of `tries` refused password resets with
/// `body`, with the status each got.
async fn failed_resets(
    core: &Core,
    calls: &Calls,
    body: &Value,
    tries: usize,
) -> Vec<(u16, Vec<String>)> {
    let out = LogSender::default();
    let mut seen = Vec::new();
    for _ in 0..tries {
        let (answer, ops) = calls
            .during(verify_code::handle(
                core,
                &out,
                json_request("POST", "/password/reset", body, None),
            ))
            .await;
        seen.push((answer.status().as_u16(), ops));
    }
    seen
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_wrong_reset_code_and_an_unknown_email_cost_the_same_requests_in_the_same_order() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    // As for login: without the floor, the requests alone must not tell an account
    // from an email without one, for the 401, the 423 that locks and a 423 while locked.
    let env = std::collections::HashMap::from([
        ("LOCKOUT_MAX_FAILED_ATTEMPTS".to_string(), "2".to_string()),
        ("PASSWORD_RESET_ANSWER_MS".to_string(), "0".to_string()),
    ]);
    let (core, calls) =
        counted_core_with(&endpoint, Config::read(&env).expect("valid settings")).await;
    let user = twofa::testing::seed_user(
        &core,
        twofa::side::Side::Host,
        "jane@example.com",
        PASSWORD,
        &[],
    )
    .await;
    twofa::testing::patch_user(
        &core,
        &user,
        twofa::user::UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        },
    )
    .await;
    let new_password = "a fresh and unguessable passphrase";
    let wrong =
        json!({"email": "jane@example.com", "code": "000000", "new_password": new_password});
    let unknown =
        json!({"email": "nobody@example.com", "code": "000000", "new_password": new_password});
    let account = failed_resets(&core, &calls, &wrong, 3).await;
    let nobody = failed_resets(&core, &calls, &unknown, 3).await;
    let statuses = |seen: &[(u16, Vec<String>)]| seen.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    assert_eq!(statuses(&account), [401, 423, 423], "{account:?}");
    assert_eq!(statuses(&nobody), [401, 423, 423], "{nobody:?}");
    let ops = |seen: &[(u16, Vec<String>)]| seen.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>();
    assert_eq!(
        ops(&account),
        ops(&nobody),
        "an account's requests, then an unknown email's"
    );
}

fn count(ops: &[String], name: &str) -> usize {
    ops.iter().filter(|o| *o == name).count()
}

/// A host admin signed in on `core`, and its access token.
async fn host_admin(core: &Core) -> (twofa::user::User, String) {
    let admin = twofa::testing::seed_user(
        core,
        twofa::side::Side::Host,
        "root@example.com",
        PASSWORD,
        &[twofa::user::Role::HostAdmin],
    )
    .await;
    let token = twofa::flows::issue_access(core, &admin, &[Amr::Pwd], None, &Default::default())
        .await
        .expect("a token")
        .access_token;
    (admin, token)
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_page_of_users_or_events_is_one_query_never_a_scan() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let (core, calls) = counted_core(&endpoint).await;
    let out = LogSender::default();
    let (admin, token) = host_admin(&core).await;
    for i in 0..3 {
        twofa::testing::seed_user(
            &core,
            twofa::side::Side::Host,
            &format!("user{i}@example.com"),
            PASSWORD,
            &[],
        )
        .await;
    }
    let get = |path: &str| {
        manage_settings::handle(
            &core,
            &out,
            json_request("GET", path, &Value::Null, Some(&token)),
        )
    };

    let (page, ops) = calls.during(get("/users?email=user&limit=2")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        Reply::of(&page).body["users"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        count(&ops, "Query"),
        1,
        "one index Query for the page: {ops:?}"
    );
    assert_eq!(
        count(&ops, "GetItem"),
        3,
        "the caller ‖ its session, and the side's policy beside the Query: {ops:?}"
    );
    assert_eq!((count(&ops, "Scan"), ops.len()), (0, 4), "{ops:?}");

    let (unlock, ops) = calls
        .during(manage_settings::handle(
            &core,
            &out,
            json_request(
                "POST",
                &format!("/users/{}/unlock", admin.id),
                &Value::Null,
                Some(&token),
            ),
        ))
        .await;
    assert_eq!(unlock.status(), 204);
    assert_eq!(
        ops,
        [
            "GetItem",
            "GetItem",
            "GetItem",
            "GetItem",
            "TransactWriteItems",
            "PutItem"
        ],
        "caller ‖ its session, then user and the side's policy at once (step-up), the unlock, its event"
    );

    for path in [
        "/account/events",
        "/events",
        &format!("/events?user_id={}", admin.id),
    ] {
        let (events, ops) = calls.during(get(path)).await;
        assert_eq!(events.status(), 200, "{path}");
        assert_eq!(count(&ops, "Query"), 1, "{path}: {ops:?}");
        assert_eq!(count(&ops, "Scan"), 0, "{path}: {ops:?}");
    }
    let (events, _) = calls.during(get("/account/events")).await;
    assert_eq!(
        Reply::of(&events).body["events"][0]["type"],
        "unlocked",
        "the event is there to read at once from the user's partition"
    );
}

/// A user of the host signed in on `core`, its access token, and `n` remembered browsers.
async fn with_browsers(core: &Core, email: &str, n: usize) -> (twofa::user::User, String) {
    let user = twofa::testing::seed_user(core, twofa::side::Side::Host, email, PASSWORD, &[]).await;
    let now = core.now();
    for i in 0..n {
        let at = now - (n - i) as i64;
        core.store
            .put_device(&twofa::devices::Device {
                user_id: user.id.clone(),
                device_id: format!("d{i:05}").into(),
                token_hash: "h".into(),
                security_stamp: user.security_stamp.clone(),
                created_at: at,
                last_used_at: at,
                expires_at: now + 86_400,
                user_agent: Some("a browser with a long enough user agent".into()),
            })
            .await
            .expect("a remembered browser");
    }
    let token = twofa::flows::issue_access(core, &user, &[Amr::Pwd], None, &Default::default())
        .await
        .expect("a token")
        .access_token;
    (user, token)
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn listing_and_forgetting_remembered_browsers_cost_the_same_whatever_the_history() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let (core, calls) = counted_core(&endpoint).await;
    let out = LogSender::default();
    let max = twofa::devices::MAX_PER_USER;
    let (_, one) = with_browsers(&core, "few@example.com", 2).await;
    let (_, many) = with_browsers(&core, "many@example.com", 3 * max + 5).await;
    let call = |method: &'static str, path: &'static str, token: String| {
        let (core, out) = (&core, &out);
        async move {
            let resp = manage_settings::handle(
                core,
                out,
                json_request(method, path, &Value::Null, Some(&token)),
            )
            .await;
            Reply::of(&resp)
        }
    };

    let (listed_one, ops_one) = calls
        .during(call("GET", "/account/devices", one.clone()))
        .await;
    let (listed_many, ops_many) = calls
        .during(call("GET", "/account/devices", many.clone()))
        .await;
    assert_eq!(listed_one.body.as_array().map(Vec::len), Some(2));
    assert_eq!(
        listed_many.body.as_array().map(Vec::len),
        Some(max),
        "the newest {max} are kept"
    );
    assert_eq!(ops_one, ops_many, "a list costs the same");

    let (forgot_one, ops_one) = calls
        .during(call("DELETE", "/account/devices/d00000", one.clone()))
        .await;
    assert_eq!(forgot_one.status, 204, "{}", forgot_one.body);
    assert_eq!(
        ops_one,
        ["GetItem", "GetItem", "TransactWriteItems", "PutItem"],
        "the caller ‖ its session, the delete (a transaction, so its retry knows itself), its event"
    );

    let (_, ops_one) = calls
        .during(call("POST", "/account/forget-browser", one))
        .await;
    let (forgot_many, ops_many) = calls
        .during(call("POST", "/account/forget-browser", many))
        .await;
    assert_eq!(forgot_many.status, 204, "{}", forgot_many.body);
    assert_eq!(ops_one, ops_many, "forgetting every browser costs the same");
}

/// A passwordless ceremony started on `core` and answered by `device`: the finish's body.
async fn passwordless_body(
    core: &Core,
    device: &mut twofa::testing::authenticator::SoftAuthenticator,
) -> Value {
    let started = login::handle(
        core,
        &LogSender::default(),
        json_request("POST", "/passkeys/sign-in", &json!({}), None),
    )
    .await;
    let started = Reply::of(&started).expect_status(200, "a passwordless ceremony");
    let credential = device
        .assert(&started["options"])
        .expect("the authenticator answers");
    json!({"ceremony_id": started["ceremony_id"], "credential": credential})
}

/// The DynamoDB requests, in order, of `tries` refused passwordless finishes by
/// `device`, with the status each got.
async fn failed_passkeys(
    core: &Core,
    calls: &Calls,
    device: &mut twofa::testing::authenticator::SoftAuthenticator,
    tries: usize,
) -> Vec<(u16, Vec<String>)> {
    let mut seen = Vec::new();
    for _ in 0..tries {
        let body = passwordless_body(core, device).await;
        let (answer, ops) = calls
            .during(login::handle(
                core,
                &LogSender::default(),
                json_request("POST", "/passkeys/sign-in/finish", &body, None),
            ))
            .await;
        seen.push((answer.status().as_u16(), ops));
    }
    seen
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_passwordless_sign_in_costs_a_claim_read_and_a_refused_one_the_same_known_or_not() {
    use twofa::testing::TEST_ORIGIN;
    use twofa::testing::authenticator::SoftAuthenticator;
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let env = std::collections::HashMap::from([
        ("LOCKOUT_MAX_FAILED_ATTEMPTS".to_string(), "2".to_string()),
        ("LOCKED_ANSWER_MS".to_string(), "0".to_string()),
    ]);
    let (core, calls) =
        counted_core_with(&endpoint, Config::read(&env).expect("valid settings")).await;
    let user = twofa::testing::seed_user(
        &core,
        twofa::side::Side::Host,
        "jane@example.com",
        PASSWORD,
        &[],
    )
    .await;
    let token = twofa::flows::issue_access(&core, &user, &[Amr::Pwd], None, &Default::default())
        .await
        .expect("signed in")
        .access_token;
    let started = manage_settings::handle(
        &core,
        &LogSender::default(),
        json_request(
            "POST",
            "/account/passkeys/register",
            &json!({}),
            Some(&token),
        ),
    )
    .await;
    let started = Reply::of(&started).expect_status(200, "an enrolment");
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let credential = device.register(&started["options"]).expect("made");
    let body = json!({"ceremony_id": started["ceremony_id"], "credential": credential});
    let (added, ops) = calls
        .during(manage_settings::handle(
            &core,
            &LogSender::default(),
            json_request(
                "POST",
                "/account/passkeys/register/finish",
                &body,
                Some(&token),
            ),
        ))
        .await;
    let added = Reply::of(&added).expect_status(201, "enrolled");
    // The enrolment changed the stamp: the caller goes on with its fresh token.
    let token = added["access_token"]
        .as_str()
        .expect("a fresh token")
        .to_string();
    // The caller (user ‖ session) and its policy; the ceremony's take; the passkey, its
    // claim and the new stamp in one transaction; the caller's session restamped; the event.
    let mut caller = ops[..2].to_vec();
    caller.sort();
    assert_eq!(
        (caller, &ops[2..]),
        (
            vec!["GetItem".to_string(), "GetItem".to_string()],
            &[
                "GetItem",
                "UpdateItem",
                "TransactWriteItems",
                "UpdateItem",
                "PutItem"
            ]
            .map(String::from)[..]
        ),
        "{ops:?}"
    );

    let body = passwordless_body(&core, &mut device).await;
    let (signed_in, ops) = calls
        .during(login::handle(
            &core,
            &LogSender::default(),
            json_request("POST", "/passkeys/sign-in/finish", &body, None),
        ))
        .await;
    Reply::of(&signed_in).expect_status(200, "signed in with the passkey");
    // Policy, the ceremony's take, the claim, the slot (returning the user and its
    // passkeys), the session (put ‖ the Query of the bound), the success (counter
    // moved in it), the event.
    let names: Vec<&str> = ops.iter().map(String::as_str).collect();
    let mut session = names.get(4..6).map(<[&str]>::to_vec).unwrap_or_default();
    session.sort_unstable();
    assert_eq!(
        (&names[..4], session, names.get(6..)),
        (
            &["GetItem", "UpdateItem", "GetItem", "UpdateItem"][..],
            vec!["PutItem", "Query"],
            Some(&["TransactWriteItems", "PutItem"][..])
        ),
        "{ops:?}"
    );

    // Refused: the account's passkey without user verification, and a credential no
    // account holds: the same requests, in the same order, to the lock and past it.
    let mut unverified = device.clone();
    unverified.set_user_verified(false);
    let mut stranger = SoftAuthenticator::new(TEST_ORIGIN);
    let other = manage_settings::handle(
        &core,
        &LogSender::default(),
        json_request(
            "POST",
            "/account/passkeys/register",
            &json!({}),
            Some(&token),
        ),
    )
    .await;
    stranger
        .register(&Reply::of(&other).body["options"])
        .expect("made, never enrolled");
    let account = failed_passkeys(&core, &calls, &mut unverified, 3).await;
    let nobody = failed_passkeys(&core, &calls, &mut stranger, 3).await;
    let statuses = |seen: &[(u16, Vec<String>)]| seen.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    assert_eq!(statuses(&account), [401, 423, 423], "{account:?}");
    assert_eq!(statuses(&nobody), [401, 423, 423], "{nobody:?}");
    let ops = |seen: &[(u16, Vec<String>)]| seen.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>();
    assert_eq!(
        ops(&account),
        ops(&nobody),
        "a known credential's, then an unknown one's"
    );
}
