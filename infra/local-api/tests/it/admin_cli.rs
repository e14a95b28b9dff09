//! The operator's command, `twofa-admin`, run as a process against a table in
//! DynamoDB Local, as an operator with table access runs it on a deployed stack.

use std::io::Write;
use std::process::{Command, Stdio};

use twofa::password::verify_password;
use twofa::side::Side;
use twofa::store::dynamo::DynamoStore;
use twofa::store::{DeviceStore, UserStore};
use twofa::testing::fixtures::PASSWORD;
use twofa::user::{Authenticator, Role, User, UserPatch};

fn run(endpoint: &str, table: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twofa-admin"))
        .args(args)
        .env("TABLE_NAME", table)
        .env("DYNAMODB_ENDPOINT", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .expect("writing the password");
    }
    let out = child.wait_with_output().expect("the command ends");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A fresh table in DynamoDB Local, as the stack's template makes it.
async fn table(endpoint: &str) -> (DynamoStore, String) {
    let sdk = twofa::testing::emulator_sdk_config(endpoint);
    let table = format!("twofa-admin-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    store.ensure_table().await.expect("the stack's table");
    (store, table)
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_operator_command_creates_the_first_host_admin_once() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let (store, table) = table(&endpoint).await;

    let (ok, out) = run(
        &endpoint,
        &table,
        &[
            "create-host-admin",
            "--email",
            "root@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}");
    let admin = store
        .user_by_email(&Side::Host, "root@example.com")
        .await
        .unwrap()
        .expect("the admin is in the table");
    assert_eq!(admin.roles, vec![Role::HostAdmin]);
    assert!(
        verify_password(PASSWORD, Some(&admin.password_hash))
            .await
            .unwrap()
    );
    assert!(
        !out.contains("correct horse"),
        "a chosen password is never echoed: {out}"
    );

    let (ok, out) = run(
        &endpoint,
        &table,
        &["create-host-admin", "--email", "root@example.com"],
        None,
    );
    assert!(ok && out.contains("already exists"), "{out}");
    let again = store
        .user_by_email(&Side::Host, "root@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.password_hash, admin.password_hash,
        "a second run changes nothing"
    );

    let (ok, out) = run(
        &endpoint,
        &table,
        &[
            "create-host-admin",
            "--email",
            "weak@example.com",
            "--password-stdin",
        ],
        Some("admin\n"),
    );
    assert!(
        !ok && out.contains("password"),
        "a weak password is refused: {out}"
    );
    let (ok, out) = run(&endpoint, &table, &[], None);
    assert!(!ok && out.to_lowercase().contains("usage"), "{out}");
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_operator_unlocks_resets_a_lost_second_factor_and_reads_the_events() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let (store, table) = table(&endpoint).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let user = User::new(
        Side::Tenant("acme".into()),
        twofa::testing::test_email("Jo@Acme.example"),
        "$argon2id$x".into(),
        now,
    );
    store.create_user(&user).await.unwrap();
    let patch = UserPatch {
        authenticator: Some(Some(Authenticator {
            sealed_key: "k".into(),
            enabled: true,
        })),
        recovery_codes: Some(vec!["h1".into()]),
        email_confirmed: Some(true),
        ..Default::default()
    };
    store.update_user(&user.id, &patch).await.unwrap();
    store
        .lock(
            twofa::store::Subject::User(&user.id),
            now,
            now + 3600,
            false,
        )
        .await
        .unwrap();

    let (ok, out) = run(
        &endpoint,
        &table,
        &["unlock", "--email", "jo@acme.example"],
        None,
    );
    assert!(
        !ok && out.contains("no such user"),
        "the email is looked up in the host unless --tenant says otherwise: {out}"
    );
    let (ok, out) = run(
        &endpoint,
        &table,
        &["unlock", "--email", "jo@acme.example", "--tenant", "ACME"],
        None,
    );
    assert!(ok, "{out}");
    assert_eq!(
        store.user(&user.id).await.unwrap().unwrap().lockout_end,
        None
    );

    let (ok, out) = run(
        &endpoint,
        &table,
        &["reset-two-factor", "--user-id", &user.id],
        None,
    );
    assert!(ok, "{out}");
    let after = store.user(&user.id).await.unwrap().unwrap();
    assert!(
        after.authenticator.is_none() && after.recovery_codes.is_empty() && after.email_confirmed
    );
    assert_ne!(after.security_stamp, user.security_stamp);
    assert!(store.devices(&user.id).await.unwrap().is_empty());

    let (ok, out) = run(&endpoint, &table, &["events", "--user-id", &user.id], None);
    assert!(ok, "{out}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types, ["two_factor_reset", "unlocked"], "newest first");
    assert_eq!(events[0]["details"]["by"], "operator");
    let (ok, out) = run(
        &endpoint,
        &table,
        &["events", "--side", "--tenant", "acme", "--type", "unlocked"],
        None,
    );
    assert!(
        ok && out.lines().count() == 1 && out.contains("\"unlocked\""),
        "{out}"
    );
    let (ok, out) = run(&endpoint, &table, &["events", "--side"], None);
    assert!(
        ok && out.trim().is_empty(),
        "the host's side has none: {out}"
    );

    let (ok, out) = run(
        &endpoint,
        &table,
        &["events", "--side", "--type", "made_up"],
        None,
    );
    assert!(!ok && out.contains("not an event type"), "{out}");
    let (ok, out) = run(&endpoint, &table, &["unlock"], None);
    assert!(
        !ok && out.contains("--user-id"),
        "a user must be named: {out}"
    );
    let (ok, out) = run(
        &endpoint,
        &table,
        &["unlock", "--user-id", "x", "--email", "jo@acme.example"],
        None,
    );
    assert!(!ok, "one way of naming a user: {out}");
}

/// `rekey-emails` moves an account stored under the key its address had before
/// addresses were normalised to the key it has now, once: a second run moves
/// nothing, and the account is then found under the composed address.
#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_operator_moves_accounts_stored_under_an_older_key_once() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let (store, table) = table(&endpoint).await;
    let legacy = User::new(
        Side::Host,
        twofa::email::Email::from_stored("jose\u{301}@example.com").expect("a stored address"),
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string(),
        0,
    );
    store.create_user(&legacy).await.unwrap();

    let (ok, out) = run(&endpoint, &table, &["rekey-emails"], None);
    assert!(ok && out.contains("1 moved, 0 twins, 0 kept"), "{out}");
    let moved = store
        .user_by_email(&Side::Host, "jos\u{e9}@example.com")
        .await
        .unwrap()
        .expect("found under the composed address");
    assert_eq!(moved.id, legacy.id);
    assert_eq!(
        moved.email.as_str(),
        "jose\u{301}@example.com",
        "kept as stored"
    );

    let (ok, out) = run(&endpoint, &table, &["rekey-emails"], None);
    assert!(
        ok && out.contains("0 moved"),
        "a second run moves nothing: {out}"
    );
}
