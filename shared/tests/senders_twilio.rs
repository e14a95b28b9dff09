//! The Twilio sender against a wiremock stand-in for Twilio's Messages API.

use std::collections::HashMap;
use std::time::Duration;

use twofa::secret::Secret;
use twofa::senders::twilio::{TwilioConfig, TwilioSender};
use twofa::senders::{DeliveryError, SmsMessage, SmsSender};
use wiremock::matchers::{basic_auth, header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-under-test";
const FROM: &str = "+15005550006";
const TO: &str = "+15555550123";
const CODE: &str = "493817";

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{SID}/Messages.json")
}

fn sender(server: &MockServer, timeout: Duration) -> TwilioSender {
    TwilioSender::new(TwilioConfig {
        account_sid: SID.into(),
        auth_token: Secret::new(TOKEN.into()),
        send_number: FROM.into(),
        base_url: server.uri(),
        timeout,
    })
    .expect("a valid Twilio config")
}

fn code_message() -> SmsMessage {
    SmsMessage {
        to: TO.into(),
        body: Secret::new(format!("Your security code is: {CODE}")),
        code: Some(Secret::new(CODE.into())),
    }
}

/// Matches a form-encoded body whose fields are exactly `To`, `From` and a `Body`
/// holding the code, decoded as Twilio would decode them.
struct TwilioForm;

impl Match for TwilioForm {
    fn matches(&self, request: &Request) -> bool {
        let Ok(body) = std::str::from_utf8(&request.body) else {
            return false;
        };
        // A URL's query is decoded by the same rules as a form body.
        let Ok(url) = reqwest::Url::parse(&format!("http://form.invalid/?{body}")) else {
            return false;
        };
        let fields: HashMap<String, String> = url.query_pairs().into_owned().collect();
        fields.len() == 3
            && fields.get("To").map(String::as_str) == Some(TO)
            && fields.get("From").map(String::as_str) == Some(FROM)
            && fields.get("Body").is_some_and(|b| b.contains(CODE))
    }
}

fn twilio_message_accepted() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(serde_json::json!({
        "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": TO, "from": FROM
    }))
}

fn assert_no_secret_in(err: &DeliveryError) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains(CODE), "the error carries the code: {text}");
    assert!(
        !text.contains(TOKEN),
        "the error carries the auth token: {text}"
    );
}

#[tokio::test]
async fn a_message_is_posted_once_to_the_accounts_messages_resource_with_basic_auth_and_form_fields()
 {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(basic_auth(SID, TOKEN))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(TwilioForm)
        .respond_with(twilio_message_accepted())
        .expect(1)
        .mount(&server)
        .await;

    let result = sender(&server, Duration::from_secs(5))
        .send_sms(&code_message())
        .await;

    assert!(result.is_ok(), "{result:?}");
    server.verify().await;
}

#[tokio::test]
async fn a_sender_configured_from_the_environment_posts_to_the_configured_base_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(basic_auth(SID, TOKEN))
        .and(TwilioForm)
        .respond_with(twilio_message_accepted())
        .expect(1)
        .mount(&server)
        .await;
    let env = env(&[
        ("TWILIO_ACCOUNT_SID", SID),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_SEND_NUMBER", FROM),
        ("TWILIO_BASE_URL", &server.uri()),
    ]);

    let result = TwilioSender::from_env(&env)
        .expect("a complete environment")
        .send_sms(&code_message())
        .await;

    assert!(result.is_ok(), "{result:?}");
    server.verify().await;
}

#[tokio::test]
async fn wrong_credentials_do_not_match_and_twilios_401_is_a_refusal() {
    let server = MockServer::start().await;
    // Twilio only accepts this account with a different token.
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(basic_auth(SID, "the-real-token"))
        .respond_with(twilio_message_accepted())
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401
        })))
        .with_priority(10)
        .mount(&server)
        .await;

    let err = sender(&server, Duration::from_secs(5))
        .send_sms(&code_message())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, DeliveryError::Refused(m) if m.contains("20003")),
        "{err:?}"
    );
    assert_no_secret_in(&err);
    server.verify().await;
}

#[tokio::test]
async fn a_400_with_twilios_error_is_a_refusal_that_names_twilios_code_but_not_our_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211,
            "message": "Invalid 'To' Phone Number",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400
        })))
        .expect(1)
        .mount(&server)
        .await;

    let err = sender(&server, Duration::from_secs(5))
        .send_sms(&code_message())
        .await
        .unwrap_err();

    match &err {
        DeliveryError::Refused(m) => {
            assert!(
                m.contains("21211") && m.contains("Invalid 'To' Phone Number"),
                "{m}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_no_secret_in(&err);
}

#[tokio::test]
async fn a_400_without_a_json_body_is_still_a_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad request"))
        .mount(&server)
        .await;

    let err = sender(&server, Duration::from_secs(5))
        .send_sms(&code_message())
        .await
        .unwrap_err();

    assert!(matches!(err, DeliveryError::Refused(_)), "{err:?}");
}

#[tokio::test]
async fn a_500_from_twilio_means_the_provider_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                serde_json::json!({"code": 20500, "message": "Internal Server Error"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = sender(&server, Duration::from_secs(5))
        .send_sms(&code_message())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, DeliveryError::Unavailable(m) if m.contains("500")),
        "{err:?}"
    );
    assert_no_secret_in(&err);
}

#[tokio::test]
async fn a_response_slower_than_the_configured_timeout_means_the_provider_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(twilio_message_accepted().set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;

    let err = sender(&server, Duration::from_millis(200))
        .send_sms(&code_message())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, DeliveryError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert_no_secret_in(&err);
}

#[tokio::test]
async fn a_refused_connection_means_the_provider_is_unavailable() {
    // A port that was just free and is now closed again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    let base_url = format!("http://{}", listener.local_addr().expect("a bound address"));
    drop(listener);
    let sender = TwilioSender::new(TwilioConfig {
        account_sid: SID.into(),
        auth_token: Secret::new(TOKEN.into()),
        send_number: FROM.into(),
        base_url,
        timeout: Duration::from_secs(5),
    })
    .expect("a valid Twilio config");

    let err = sender.send_sms(&code_message()).await.unwrap_err();

    assert!(matches!(err, DeliveryError::Unavailable(_)), "{err:?}");
    assert_no_secret_in(&err);
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One row: the complete environment, minus `removed`, plus `added`, must fail on `var`.
struct EnvCase {
    row: &'static str,
    removed: &'static [&'static str],
    added: &'static [(&'static str, &'static str)],
    var: &'static str,
}

#[test]
fn configuration_from_the_environment_names_the_variable_that_is_missing_or_wrong() {
    let complete = [
        ("TWILIO_SID", SID),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_SEND_NUMBER", FROM),
    ];
    let cases = [
        EnvCase {
            row: "no SID",
            removed: &["TWILIO_SID"],
            added: &[],
            var: "TWILIO_SID",
        },
        EnvCase {
            row: "no auth token",
            removed: &["TWILIO_AUTH_TOKEN"],
            added: &[],
            var: "TWILIO_AUTH_TOKEN",
        },
        EnvCase {
            row: "no send number",
            removed: &["TWILIO_SEND_NUMBER"],
            added: &[],
            var: "TWILIO_SEND_NUMBER",
        },
        EnvCase {
            row: "a blank auth token",
            removed: &[],
            added: &[("TWILIO_AUTH_TOKEN", "  ")],
            var: "TWILIO_AUTH_TOKEN",
        },
        EnvCase {
            row: "a timeout that is not a number",
            removed: &[],
            added: &[("TWILIO_TIMEOUT_SECONDS", "soon")],
            var: "TWILIO_TIMEOUT_SECONDS",
        },
        EnvCase {
            row: "a zero timeout",
            removed: &[],
            added: &[("TWILIO_TIMEOUT_SECONDS", "0")],
            var: "TWILIO_TIMEOUT_SECONDS",
        },
        EnvCase {
            row: "a timeout the function would hit first",
            removed: &[],
            added: &[("TWILIO_TIMEOUT_SECONDS", "10")],
            var: "TWILIO_TIMEOUT_SECONDS",
        },
        EnvCase {
            row: "a base URL that is not a URL",
            removed: &[],
            added: &[("TWILIO_BASE_URL", "api.twilio.com")],
            var: "TWILIO_BASE_URL",
        },
    ];
    for EnvCase {
        row,
        removed,
        added,
        var,
    } in cases
    {
        let mut e = env(&complete);
        for r in removed {
            e.remove(*r);
        }
        e.extend(env(added));
        match TwilioSender::from_env(&e) {
            Err(err) => {
                assert_eq!(err.var, var, "row {row:?}: {err}");
                assert!(
                    !err.to_string().contains(TOKEN),
                    "row {row:?} shows the token: {err}"
                );
            }
            Ok(_) => panic!("row {row:?}: a sender was built"),
        }
    }
}

#[test]
fn the_account_sid_may_be_given_under_either_name() {
    for name in ["TWILIO_SID", "TWILIO_ACCOUNT_SID"] {
        let e = env(&[
            (name, SID),
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TWILIO_SEND_NUMBER", FROM),
            ("TWILIO_TIMEOUT_SECONDS", "3"),
        ]);
        let built = TwilioSender::from_env(&e);
        assert!(built.is_ok(), "{name}: {:?}", built.err());
    }
}

#[tokio::test]
async fn by_default_a_slow_twilio_is_given_up_on_well_before_the_function_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(twilio_message_accepted().set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let e = env(&[
        ("TWILIO_SID", SID),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_SEND_NUMBER", FROM),
        ("TWILIO_BASE_URL", &server.uri()),
    ]);
    let sender = TwilioSender::from_env(&e).expect("a sender from the environment");

    // template.yaml's function timeout is 10 s; half of it leaves room for the store calls around the send.
    let sent = tokio::time::timeout(Duration::from_secs(5), sender.send_sms(&code_message())).await;

    let err = sent
        .expect("Twilio's default timeout is under half the function's")
        .unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
}
