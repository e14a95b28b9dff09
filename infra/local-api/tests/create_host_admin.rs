//! The operator command that creates the first host admin of a deployed stack, run
//! as a process against a table in DynamoDB Local.

use std::io::Write;
use std::process::{Command, Stdio};

use aws_config::BehaviorVersion;
use twofa::password::verify_password;
use twofa::store::dynamo::DynamoStore;
use twofa::store::UserStore;
use twofa::tenant::Scope;
use twofa::user::Role;

fn run(endpoint: &str, table: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_create-host-admin"))
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
        pipe.write_all(text.as_bytes()).expect("writing the password");
    }
    let out = child.wait_with_output().expect("the command ends");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn the_operator_command_creates_the_first_host_admin_once() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else { return };
    let sdk = aws_config::SdkConfig::builder()
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        )))
        .behavior_version(BehaviorVersion::latest())
        .build();
    let table = format!("twofa-admin-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    store.ensure_table().await.expect("the stack's table");

    let (ok, out) = run(&endpoint, &table, &["--email", "root@example.com", "--password-stdin"], Some("correct horse battery staple\n"));
    assert!(ok, "{out}");
    let admin = store.user_by_email(&Scope::Host, "root@example.com").await.unwrap().expect("the admin is in the table");
    assert_eq!(admin.roles, vec![Role::HostAdmin]);
    assert!(verify_password("correct horse battery staple", Some(&admin.password_hash)).await.unwrap());
    assert!(!out.contains("correct horse"), "a chosen password is never echoed: {out}");

    let (ok, out) = run(&endpoint, &table, &["--email", "root@example.com"], None);
    assert!(ok && out.contains("already exists"), "{out}");
    let again = store.user_by_email(&Scope::Host, "root@example.com").await.unwrap().unwrap();
    assert_eq!(again.password_hash, admin.password_hash, "a second run changes nothing");

    let (ok, out) = run(&endpoint, &table, &["--email", "weak@example.com", "--password-stdin"], Some("admin\n"));
    assert!(!ok && out.contains("password"), "a weak password is refused: {out}");
    let (ok, out) = run(&endpoint, &table, &[], None);
    assert!(!ok && out.contains("usage"), "{out}");
}
