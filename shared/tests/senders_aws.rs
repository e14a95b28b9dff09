//! The SNS and SES senders against moto's server. moto keeps what was sent and
//! shows it at `GET /moto-api/data.json` (`sns.SMS`, `ses.Message`). Other test
//! binaries share the server, so every test uses its own number or addresses and
//! looks only at its own records; nothing is reset.

use serde_json::Value;
use twofa::secret::Secret;
use twofa::senders::ses::SesSender;
use twofa::senders::sns::SnsSender;
use twofa::senders::{DeliveryError, EmailMessage, EmailSender, SmsMessage, SmsSender};
use twofa::testing::{emulator_sdk_config, service_endpoint};

fn sns_client(endpoint: &str) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&emulator_sdk_config(endpoint))
}

fn ses_client(endpoint: &str) -> aws_sdk_ses::Client {
    aws_sdk_ses::Client::new(&emulator_sdk_config(endpoint))
}

/// The records moto keeps for `service`'s `model`, e.g. `("sns", "SMS")`.
async fn moto_records(endpoint: &str, service: &str, model: &str) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    twofa::crypto::install_tls_provider();
    let data: Value = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url} is not JSON: {e}"));
    data[service][model].as_array().cloned().unwrap_or_default()
}

/// A +1 555 number no other test uses.
fn unique_number() -> String {
    format!("+1555{:07}", uuid::Uuid::new_v4().as_u128() % 10_000_000)
}

fn unique_label() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn sms(to: &str, code: &str) -> SmsMessage {
    SmsMessage {
        to: to.into(),
        body: Secret::new(format!("Your security code is: {code}")),
        code: Some(Secret::new(code.into())),
    }
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_sms_sent_through_sns_reaches_the_number_with_its_code() {
    let Some(moto) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let to = unique_number();

    SnsSender::new(sns_client(&moto))
        .send_sms(&sms(&to, "731904"))
        .await
        .expect("SNS accepts the message");

    let sent: Vec<Value> = moto_records(&moto, "sns", "SMS")
        .await
        .into_iter()
        .filter(|m| m["phone_number"] == to.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "messages to {to}: {sent:?}");
    assert_eq!(sent[0]["message"], "Your security code is: 731904");
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_sms_with_a_sender_id_is_still_delivered() {
    let Some(moto) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let to = unique_number();

    SnsSender::new(sns_client(&moto))
        .with_sender_id(Some("TwoFA".into()))
        .send_sms(&sms(&to, "220145"))
        .await
        .expect("SNS accepts the message");

    let sent = moto_records(&moto, "sns", "SMS").await;
    assert!(
        sent.iter()
            .any(|m| m["phone_number"] == to.as_str()
                && m["message"] == "Your security code is: 220145"),
        "no message to {to}"
    );
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn sns_refuses_a_number_that_is_not_e164_and_the_error_does_not_carry_the_code() {
    let Some(moto) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };

    let err = SnsSender::new(sns_client(&moto))
        .send_sms(&sms("0555-CALL-ME", "118822"))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, DeliveryError::Refused(m) if m.contains("InvalidParameter")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("118822"), "{err}");
}

#[tokio::test]
async fn an_unreachable_sns_endpoint_means_the_provider_is_unavailable() {
    // No moto needed: a port that was just free and is closed again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
    drop(listener);

    let err = SnsSender::new(sns_client(&endpoint))
        .send_sms(&sms(&unique_number(), "554433"))
        .await
        .unwrap_err();

    assert!(matches!(err, DeliveryError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn ses_refuses_an_unverified_sender_then_delivers_once_the_sender_is_verified() {
    let Some(moto) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let client = ses_client(&moto);
    // A domain of its own, so no other test's verified domain covers this sender.
    let label = unique_label();
    let from = format!("no-reply@{label}.example.com");
    let to = format!("user-{label}@example.org");
    let subject = format!("Your security code ({label})");
    let message = EmailMessage {
        to: to.clone(),
        subject: subject.clone(),
        body: Secret::new("Your security code is: 640127".into()),
        code: Some(Secret::new("640127".into())),
    };
    let sender = SesSender::new(client.clone(), from.clone());

    let err = sender.send_email(&message).await.unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Refused(m) if m.contains("not verified")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("640127"), "{err}");
    let delivered_to = |records: &[Value]| {
        records
            .iter()
            .filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str())
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        delivered_to(&moto_records(&moto, "ses", "Message").await).is_empty(),
        "a refused message was recorded as sent"
    );

    client
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the identity");
    sender
        .send_email(&message)
        .await
        .expect("SES accepts mail from a verified sender");

    let sent = delivered_to(&moto_records(&moto, "ses", "Message").await);
    assert_eq!(sent.len(), 1, "messages to {to}: {sent:?}");
    assert_eq!(sent[0]["source"], from.as_str());
    assert_eq!(sent[0]["subject"], subject.as_str());
    assert_eq!(sent[0]["body"], "Your security code is: 640127");
}

/// Lambda's environment for the functions' own SDK configuration, plus `vars`.
fn lambda_env(vars: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
    .iter()
    .chain(vars)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Nothing listens there: a client sent there fails.
const NOWHERE: &str = "http://127.0.0.1:1";

/// `sam local invoke` users point the SDK's own endpoint variables at moto or
/// LocalStack: a function's texts go where `AWS_ENDPOINT_URL_SNS` says, even when
/// `AWS_ENDPOINT_URL` says elsewhere.
#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_functions_texts_go_where_aws_endpoint_url_sns_points() {
    let Some(moto) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let env = lambda_env(&[
        ("AWS_ENDPOINT_URL", NOWHERE),
        ("AWS_ENDPOINT_URL_SNS", &moto),
    ]);
    let sdk = twofa::sdk::lambda_sdk_config(&env).expect("Lambda's variables");
    let to = unique_number();

    SnsSender::on_first_use(&sdk)
        .send_sms(&sms(&to, "318270"))
        .await
        .expect("moto accepts the text");

    let sent = moto_records(&moto, "sns", "SMS").await;
    assert_eq!(
        sent.iter()
            .filter(|m| m["phone_number"] == to.as_str())
            .count(),
        1,
        "moto received the text to {to}"
    );
}

/// The same for email and the store through the global `AWS_ENDPOINT_URL` alone.
#[tokio::test]
#[cfg_attr(
    any(no_dynamodb, no_moto),
    ignore = "needs DynamoDB Local and moto: DYNAMODB_ENDPOINT or MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_functions_email_and_store_go_where_aws_endpoint_url_points() {
    let Some(moto) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let label = unique_label();
    let from = format!("no-reply@{label}.example.com");
    let to = format!("user-{label}@example.org");
    ses_client(&moto)
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the identity");
    let env = lambda_env(&[("AWS_ENDPOINT_URL", &moto)]);
    let sdk = twofa::sdk::lambda_sdk_config(&env).expect("Lambda's variables");

    SesSender::on_first_use(&sdk, from)
        .send_email(&EmailMessage {
            to: to.clone(),
            subject: format!("Your security code ({label})"),
            body: Secret::new("Your security code is: 582016".into()),
            code: Some(Secret::new("582016".into())),
        })
        .await
        .expect("moto accepts the email");
    let sent = moto_records(&moto, "ses", "Message").await;
    assert_eq!(
        sent.iter()
            .filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str())
            .count(),
        1,
        "moto received the email to {to}"
    );

    let Some(dynamodb) = service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let table = format!("twofa-endpoint-{label}");
    let env = lambda_env(&[("AWS_ENDPOINT_URL", &dynamodb), ("TABLE_NAME", &table)]);
    let sdk = twofa::sdk::lambda_sdk_config(&env).expect("Lambda's variables");
    twofa::store::dynamo::DynamoStore::from_env(&env, &sdk)
        .expect("a store")
        .ensure_table()
        .await
        .expect("DynamoDB Local answers at AWS_ENDPOINT_URL");
}
