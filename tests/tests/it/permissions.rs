//! What template.yaml grants is what the functions do: a walkthrough through all five
//! functions, deployed as the template says (SNS and SES on moto, DynamoDB Local), each
//! function's calls passing a permission gate holding its policy from the template.
//! The committed template passes it without one refusal; a copy missing any one
//! action the walkthrough needs fails it; and the writes of register and login are
//! narrowed to the partitions a sign-up and a sign-in touch.

use e2e::Client;
use e2e::iam::{Access, allows, function_policy};
use e2e::template::Template;
use e2e::{
    Backend, Deployment, Reply, TestApp, code_in, moto_records, spawn_deployed, unique_number,
};
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use twofa::config::Config;
use twofa::testing::emulator_sdk_config;
use twofa::testing::fixtures::PASSWORD;

fn expect(step: &str, r: &Reply, status: u16) -> Result<(), String> {
    if r.status == status {
        Ok(())
    } else {
        Err(format!("{step}: {} {:?}", r.status, r.body))
    }
}

fn token(r: &Reply) -> Result<String, String> {
    r.body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no access token in {:?}", r.body))
}

async fn last_code(moto: &str, service: &str, to: &str) -> Result<String, String> {
    let (model, address, text) = match service {
        "sns" => ("SMS", "/phone_number", "/message"),
        _ => ("Message", "/destinations/ToAddresses/0", "/body"),
    };
    let sent = moto_records(moto, service, model).await;
    let last = sent
        .iter()
        .rev()
        .find(|m| m.pointer(address) == Some(&Value::from(to)))
        .ok_or_else(|| format!("no {service} message to {to}"))?;
    let body = match last.pointer(text) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    code_in(&body).ok_or_else(|| format!("no code in the {service} message to {to}"))
}

/// Sign up, sign in, confirm an email (SES) and a phone (SNS), get locked out (the
/// owner is told by email), and read the account's events: every function, and
/// every kind of call each makes on the way. The first unexpected answer, or any
/// refusal of the gates (even one the app swallowed), is the error.
async fn walkthrough(app: &TestApp, moto: &str) -> Result<(), String> {
    let email = format!("gate-{}@example.org", uuid::Uuid::new_v4().simple());
    let phone = unique_number();
    let credentials = json!({"email": email, "password": PASSWORD});
    expect(
        "register",
        &app.post("/register", &credentials, None).await,
        201,
    )?;
    let signed = app.post("/login", &credentials, None).await;
    expect("login", &signed, 200)?;
    let access = token(&signed)?;

    let sent = app
        .post(
            "/send-code",
            &json!({"purpose": "confirm_email"}),
            Some(&access),
        )
        .await;
    expect("send an email code", &sent, 202)?;
    let code = last_code(moto, "ses", &email).await?;
    let ok = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_email", "code": code}),
            Some(&access),
        )
        .await;
    expect("confirm the email", &ok, 200)?;
    let access = token(&ok)?;

    let sent = app
        .post(
            "/send-code",
            &json!({"purpose": "confirm_phone", "phone_number": phone}),
            Some(&access),
        )
        .await;
    expect("send a text", &sent, 202)?;
    let code = last_code(moto, "sns", &phone).await?;
    let ok = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_phone", "code": code}),
            Some(&access),
        )
        .await;
    expect("confirm the phone", &ok, 200)?;
    let access = token(&ok)?;

    let wrong = json!({"email": email, "password": "not the password at all"});
    let mut last = None;
    for _ in 0..Config::default().lockout.max_failed_attempts {
        last = Some(app.post("/login", &wrong, None).await);
    }
    expect("the lockout", &last.ok_or("no attempt")?, 423)?;

    let events = app
        .call("GET", "/account/events", None, Some(&access))
        .await;
    expect("the account's events", &events, 200)?;
    let types: Vec<&str> = events.body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for wanted in ["email_confirmed", "phone_confirmed", "locked_out"] {
        if !types.contains(&wanted) {
            return Err(format!("no {wanted} among the events {types:?}"));
        }
    }
    let notices = moto_records(moto, "ses", "Message").await;
    if !notices.iter().any(|m| {
        m.pointer("/destinations/ToAddresses/0") == Some(&Value::from(email.as_str()))
            && m["subject"] == "Your account was locked"
    }) {
        return Err("no lockout notice by email".into());
    }
    match app.denied() {
        refused if refused.is_empty() => Ok(()),
        refused => Err(format!("the gates refused {refused:?}")),
    }
}

/// DynamoDB Local and moto, with a sender address moto has verified.
async fn services() -> Option<(String, String, String)> {
    let Some(Backend::Dynamo(dynamodb)) = Backend::dynamo() else {
        return None;
    };
    let moto = twofa::testing::service_endpoint("MOTO_ENDPOINT")?;
    let from = format!("no-reply@{}.example.com", uuid::Uuid::new_v4().simple());
    aws_sdk_ses::Client::new(&emulator_sdk_config(&moto))
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the sender");
    Some((dynamodb, moto, from))
}

async fn deploy(template: String, dynamodb: &str, moto: &str, from: &str) -> TestApp {
    let deployment = Deployment {
        template,
        parameters: vec![
            ("SesFrom".into(), from.into()),
            ("AllowedCountryCodes".into(), "1".into()),
        ],
        moto: Some(moto.into()),
    };
    spawn_deployed(dynamodb, Config::default(), deployment).await
}

/// template.yaml with `action` taken out of `function`'s policy (a statement left
/// with no action goes).
fn without(function: &str, action: &str) -> String {
    fn strip(v: &mut Yaml, action: &str) {
        match v {
            Yaml::Tagged(t) => strip(&mut t.value, action),
            Yaml::Sequence(items) => items.iter_mut().for_each(|i| strip(i, action)),
            Yaml::Mapping(m) => {
                if let Some(Yaml::Sequence(statements)) = m.get_mut("Statement") {
                    statements.retain(|s| s["Action"] != action);
                }
                if let Some(Yaml::Sequence(actions)) = m.get_mut("Action") {
                    actions.retain(|a| a != &Yaml::from(action));
                }
                m.iter_mut().for_each(|(_, v)| strip(v, action));
            }
            _ => {}
        }
    }
    let mut doc: Yaml = serde_yaml::from_str(&Template::repo_text()).expect("template.yaml");
    let resources = doc["Resources"].as_mapping_mut().expect("Resources");
    let f = resources
        .values_mut()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == function)
        .expect("the function");
    let before = serde_yaml::to_string(&f["Properties"]["Policies"]).expect("yaml");
    strip(&mut f["Properties"]["Policies"], action);
    let after = serde_yaml::to_string(&f["Properties"]["Policies"]).expect("yaml");
    assert_ne!(before, after, "{function} was not granted {action}");
    serde_yaml::to_string(&doc).expect("yaml")
}

#[tokio::test]
#[cfg_attr(
    any(no_dynamodb, no_moto),
    ignore = "needs DynamoDB Local and moto: DYNAMODB_ENDPOINT or MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_walkthrough_of_every_function_passes_the_permissions_of_the_committed_template() {
    let Some((dynamodb, moto, from)) = services().await else {
        return;
    };
    let app = deploy(Template::repo_text(), &dynamodb, &moto, &from).await;
    walkthrough(&app, &moto).await.expect("the walkthrough");
}

#[tokio::test]
#[cfg_attr(
    any(no_dynamodb, no_moto),
    ignore = "needs DynamoDB Local and moto: DYNAMODB_ENDPOINT or MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_walkthrough_fails_when_the_template_misses_any_one_action_it_needs() {
    let Some((dynamodb, moto, from)) = services().await else {
        return;
    };
    for (function, action) in [
        ("register", "dynamodb:PutItem"),
        // A lockout's events, in one batch: dropped with a log line, seen in the events.
        ("login", "dynamodb:BatchWriteItem"),
        ("login", "ses:SendEmail"),
        ("send-code", "dynamodb:UpdateItem"),
        ("send-code", "sns:Publish"),
        ("send-code", "ses:SendEmail"),
        ("verify-code", "dynamodb:DeleteItem"),
        ("manage-settings", "dynamodb:Query"),
    ] {
        let app = deploy(without(function, action), &dynamodb, &moto, &from).await;
        let outcome = walkthrough(&app, &moto).await;
        assert!(
            outcome.is_err(),
            "without {action} for {function} the walkthrough still passed"
        );
        assert!(
            app.denied()
                .iter()
                .any(|d| d.starts_with(&format!("{function}: {action} "))),
            "without {action} for {function}: refused {:?}; {outcome:?}",
            app.denied()
        );
    }
}

#[test]
fn the_four_public_functions_may_write_only_the_partitions_they_touch() {
    let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
    let template = Template::parse(&Template::repo_text(), &[("SesFrom", "a@example.com")])
        .expect("template.yaml")
        .with_resource("Table", "t", &[("Arn", arn)])
        .with_resource(
            "KeysKey",
            "k",
            &[("Arn", "arn:aws:kms:us-east-1:123456789012:key/k")],
        );
    let access = |action: &str, keys: &[&str]| Access {
        action: format!("dynamodb:{action}"),
        resource: arn.into(),
        context: [(
            "dynamodb:LeadingKeys".to_string(),
            keys.iter().map(|k| k.to_string()).collect(),
        )]
        .into(),
    };
    let register = function_policy(&template, "register").expect("register's policy");
    let login = function_policy(&template, "login").expect("login's policy");
    let send = function_policy(&template, "send-code").expect("send-code's policy");
    let verify = function_policy(&template, "verify-code").expect("verify-code's policy");
    for (policy, name, action, keys, allowed) in [
        (&send, "send-code", "PutItem", &["USER#u"][..], true),
        (
            &send,
            "send-code",
            "UpdateItem",
            &["WINDOW#dest:x"][..],
            true,
        ),
        (&send, "send-code", "DeleteItem", &["USER#u"][..], true),
        (&send, "send-code", "UpdateItem", &["HOST"][..], false),
        (
            &send,
            "send-code",
            "UpdateItem",
            &["TENANT#acme"][..],
            false,
        ),
        (
            &send,
            "send-code",
            "PutItem",
            &["EMAIL#host#a@x"][..],
            false,
        ),
        (&send, "send-code", "GetItem", &["TENANT#acme"][..], true),
        (&verify, "verify-code", "UpdateItem", &["USER#u"][..], true),
        (&verify, "verify-code", "UpdateItem", &["GUESS#h"][..], true),
        (
            &verify,
            "verify-code",
            "UpdateItem",
            &["EMAIL#host#a@x"][..],
            true,
        ),
        (
            &verify,
            "verify-code",
            "BatchWriteItem",
            &["USER#u", "USER#u"][..],
            true,
        ),
        (&verify, "verify-code", "UpdateItem", &["HOST"][..], false),
        (
            &verify,
            "verify-code",
            "UpdateItem",
            &["WINDOW#x"][..],
            false,
        ),
        (
            &verify,
            "verify-code",
            "PutItem",
            &["TENANT#acme"][..],
            false,
        ),
        (&verify, "verify-code", "Query", &["USER#u"][..], true),
        (
            &register,
            "register",
            "PutItem",
            &["USER#u", "EMAIL#host#a@x"][..],
            true,
        ),
        (&register, "register", "PutItem", &["HOST"][..], false),
        (
            &register,
            "register",
            "PutItem",
            &["TENANT#acme"][..],
            false,
        ),
        (
            &register,
            "register",
            "PutItem",
            &["USER#u", "TENANTS"][..],
            false,
        ),
        (&register, "register", "GetItem", &["TENANT#acme"][..], true),
        (&login, "login", "UpdateItem", &["USER#u"][..], true),
        (&login, "login", "UpdateItem", &["GUESS#h"][..], true),
        (
            &login,
            "login",
            "BatchWriteItem",
            &["USER#u", "USER#u"][..],
            true,
        ),
        (
            &login,
            "login",
            "BatchWriteItem",
            &["GUESS#h", "GUESS#h"][..],
            true,
        ),
        (&login, "login", "PutItem", &["USER#u"][..], true),
        (
            &login,
            "login",
            "UpdateItem",
            &["EMAIL#host#a@x"][..],
            false,
        ),
        (&login, "login", "UpdateItem", &["HOST"][..], false),
        (&login, "login", "UpdateItem", &["WINDOW#x"][..], false),
        (
            &login,
            "login",
            "BatchWriteItem",
            &["USER#u", "TENANT#acme"][..],
            false,
        ),
        // A revoked session, or one whose rotated refresh token came again.
        (&login, "login", "DeleteItem", &["USER#u"][..], true),
        (
            &login,
            "login",
            "DeleteItem",
            &["EMAIL#host#a@x"][..],
            false,
        ),
    ] {
        assert_eq!(
            allows(policy, &access(action, keys)),
            allowed,
            "{name}: {action} on {keys:?}"
        );
    }
}
