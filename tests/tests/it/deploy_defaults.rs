//! template.yaml's defaults are safe ones: a deployment that would open SMS to every
//! country or put the log senders in a real stack is refused by the template's rules
//! (evaluated here for each parameter set: cfn-lint does not evaluate `Rules`); each
//! text carries a maximum price and the month's SMS spend sets off an alarm; the API
//! logs every request without headers or bodies, limits the routes that guess or
//! spend more tightly than the rest, and each function has its concurrency bounded
//! and its failures and throttles alarmed.

use std::collections::BTreeMap;

use e2e::Client;
use e2e::template::Template;
use e2e::{Backend, Deployment, spawn_deployed, unique_number};
use serde_json::json;
use serde_yaml::Value;
use twofa::config::Config;
use twofa::testing::emulator_sdk_config;
use twofa::testing::fixtures::PASSWORD;

fn refusals(parameters: &[(&str, &str)]) -> Vec<String> {
    Template::parse(&Template::repo_text(), parameters)
        .and_then(|t| t.refusals())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A parameter set, named, and the rule or parameter that must refuse it (`None`: accepted).
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<&'a str>);

#[test]
fn the_template_refuses_parameter_sets_that_open_sms_to_every_country_or_log_codes() {
    let ses = ("SesFrom", "no-reply@example.com");
    let twilio = [
        ("SmsProvider", "twilio"),
        ("TwilioSid", "AC123"),
        ("TwilioSendNumber", "+15550100"),
    ];
    let cases: Vec<Case> = vec![
        // Refused: what must not deploy.
        (
            "the defaults (SNS, every country)",
            vec![ses],
            Some("RealSmsNeedsCountries"),
        ),
        (
            "Twilio to every country",
            [&twilio[..], &[ses]].concat(),
            Some("RealSmsNeedsCountries"),
        ),
        (
            "a country list of only commas",
            vec![ses, ("AllowedCountryCodes", ", ,")],
            Some("AllowedCountryCodes"),
        ),
        (
            "SMS codes in the log of a real stack",
            vec![ses, ("SmsProvider", "log")],
            Some("LogSendersOnlyInATestStack"),
        ),
        (
            "email codes in the log of a real stack",
            vec![("EmailProvider", "log"), ("AllowedCountryCodes", "1")],
            Some("LogSendersOnlyInATestStack"),
        ),
        (
            "a test stack that is not quite said",
            vec![
                ("SmsProvider", "log"),
                ("EmailProvider", "log"),
                ("TestStack", "yes"),
            ],
            Some("TestStack"),
        ),
        (
            "a maximum price that is not a price",
            vec![
                ses,
                ("AllowedCountryCodes", "1"),
                ("SnsMaxPriceUsd", "lots"),
            ],
            Some("SnsMaxPriceUsd"),
        ),
        (
            "a reservation of no executions",
            vec![
                ses,
                ("AllowedCountryCodes", "1"),
                ("LoginReservedConcurrency", "0"),
            ],
            Some("LoginReservedConcurrency"),
        ),
        // Accepted: what a deployer means.
        (
            "SNS to the US and the UK",
            vec![ses, ("AllowedCountryCodes", "1, +44")],
            None,
        ),
        (
            "Twilio to the US",
            [&twilio[..], &[ses, ("AllowedCountryCodes", "1")]].concat(),
            None,
        ),
        (
            "a throwaway test stack with the log senders",
            vec![
                ("SmsProvider", "log"),
                ("EmailProvider", "log"),
                ("TestStack", "true"),
            ],
            None,
        ),
        (
            "a dearer text and no reservations",
            vec![
                ses,
                ("AllowedCountryCodes", "49"),
                ("SnsMaxPriceUsd", "0.25"),
                ("RegisterReservedConcurrency", "none"),
                ("LoginReservedConcurrency", "none"),
            ],
            None,
        ),
    ];
    for (case, parameters, refused_by) in cases {
        let refused = refusals(&parameters);
        match refused_by {
            Some(by) => assert!(
                refused.iter().any(|r| r.starts_with(by)),
                "{case}: must be refused by {by}, was refused by {refused:?}"
            ),
            None => assert!(refused.is_empty(), "{case}: refused by {refused:?}"),
        }
    }
}

/// The entries of an SNS `Publish`'s `MessageAttributes`, by name.
fn message_attributes(form: &BTreeMap<String, String>) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for (k, name) in form {
        if let Some(n) = k
            .strip_prefix("MessageAttributes.entry.")
            .and_then(|r| r.strip_suffix(".Name"))
        {
            let value = |part: &str| {
                form.get(&format!("MessageAttributes.entry.{n}.Value.{part}"))
                    .cloned()
                    .unwrap_or_default()
            };
            out.insert(name.clone(), (value("DataType"), value("StringValue")));
        }
    }
    out
}

#[tokio::test]
#[cfg_attr(
    any(no_dynamodb, no_moto),
    ignore = "needs DynamoDB Local and moto: DYNAMODB_ENDPOINT or MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn every_text_carries_the_deployments_maximum_price() {
    let Some(Backend::Dynamo(dynamodb)) = Backend::dynamo() else {
        return;
    };
    let Some(moto) = twofa::testing::service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let from = format!("no-reply@{}.example.com", uuid::Uuid::new_v4().simple());
    aws_sdk_ses::Client::new(&emulator_sdk_config(&moto))
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the sender");
    for (given, price) in [(None, "0.10"), (Some("0.5"), "0.5")] {
        let mut parameters = vec![("SesFrom", from.as_str()), ("AllowedCountryCodes", "1")];
        parameters.extend(given.map(|p| ("SnsMaxPriceUsd", p)));
        let app = spawn_deployed(
            &dynamodb,
            Config::default(),
            Deployment::of_repo(&parameters, Some(&moto)),
        )
        .await;
        let email = format!("price-{}@example.org", uuid::Uuid::new_v4().simple());
        let credentials = json!({"email": email, "password": PASSWORD});
        assert_eq!(app.post("/register", &credentials, None).await.status, 201);
        let signed = app.post("/login", &credentials, None).await;
        let access = signed.body["access_token"].as_str().expect("a token");
        let sent = app
            .post(
                "/send-code",
                &json!({"purpose": "confirm_phone", "phone_number": unique_number()}),
                Some(access),
            )
            .await;
        assert_eq!(sent.status, 202, "{:?}", sent.body);
        let gates = app.gates.as_ref().expect("a deployed app has gates");
        let publishes: Vec<_> = gates
            .provider_requests("send-code")
            .into_iter()
            .filter(|f| f.get("Action").map(String::as_str) == Some("Publish"))
            .collect();
        assert_eq!(publishes.len(), 1, "{publishes:?}");
        assert_eq!(
            message_attributes(&publishes[0]).get("AWS.SNS.SMS.MaxPrice"),
            Some(&("Number".to_string(), price.to_string())),
            "{:?}",
            publishes[0]
        );
    }
}

fn resources() -> Value {
    let doc: Value = serde_yaml::from_str(&Template::repo_text()).expect("template.yaml");
    doc["Resources"].clone()
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

#[test]
fn the_api_logs_each_request_without_headers_or_bodies_and_limits_the_routes_that_guess_or_spend() {
    let template = Template::parse(&Template::repo_text(), &[]).expect("template.yaml");
    let params = |name: &str| -> f64 {
        template
            .parameter(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a number"))
    };
    let r = resources();
    let api = &r["Api"]["Properties"];
    let format = api["AccessLogSettings"]["Format"]
        .as_str()
        .expect("an access log format");
    let line: serde_json::Value = serde_json::from_str(format).expect("the format is JSON");
    let fields: Vec<&str> = line
        .as_object()
        .expect("an object")
        .values()
        .filter_map(|v| v.as_str())
        .collect();
    for wanted in [
        "$context.requestId",
        "$context.identity.sourceIp",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationErrorMessage",
    ] {
        assert!(fields.contains(&wanted), "the access log lacks {wanted}");
    }
    for f in &fields {
        assert!(
            !["header", "body", "path", "userAgent", "authorizer"]
                .iter()
                .any(|w| f.contains(w)),
            "the access log would carry {f}, which may hold a secret"
        );
    }
    assert_eq!(
        r["ApiAccessLogs"]["Type"], "AWS::Logs::LogGroup",
        "the access log's group, with a retention"
    );
    assert!(!untag(&r["ApiAccessLogs"]["Properties"]["RetentionInDays"]).is_null());

    let settings = &api["RouteSettings"];
    let default_rate = params("ApiThrottlingRateLimit");
    for route in [
        "POST /login",
        "POST /register",
        "POST /send-code",
        "POST /password/forgot",
        "POST /passkeys/sign-in",
        "POST /passkeys/sign-in/finish",
    ] {
        let rate = untag(&settings[route]["ThrottlingRateLimit"])
            .as_str()
            .unwrap_or_else(|| panic!("{route}: a throttle of its own"));
        assert!(
            params(rate) < default_rate,
            "{route}: {rate} is not tighter than the API's default"
        );
        assert!(!untag(&settings[route]["ThrottlingBurstLimit"]).is_null());
    }
}

#[test]
fn every_function_has_bounded_concurrency_and_its_errors_throttles_and_sms_spend_are_alarmed() {
    let r = resources();
    let functions: Vec<(String, &Value)> = r
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, v)| v["Type"] == "AWS::Serverless::Function")
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v))
        .collect();
    assert_eq!(functions.len(), 5);
    let template = Template::parse(&Template::repo_text(), &[]).expect("template.yaml");
    for (name, f) in &functions {
        let reserved = template
            .resolve(&f["Properties"]["ReservedConcurrentExecutions"])
            .expect("resolvable")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("{name}: no reserved concurrency by default"));
        assert!(
            reserved.parse::<u32>().is_ok_and(|n| n > 0),
            "{name}: {reserved}"
        );
    }
    let alarms: Vec<String> = r
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|v| v["Type"] == "AWS::CloudWatch::Alarm")
        .map(|v| serde_yaml::to_string(v).expect("yaml"))
        .collect();
    let alarmed = |namespace: &str, metric: &str, every_function: bool| {
        alarms.iter().any(|a| {
            a.contains(&format!("Namespace: {namespace}"))
                && a.contains(&format!("MetricName: {metric}"))
                && (!every_function
                    || functions
                        .iter()
                        .all(|(name, _)| a.contains(&format!("!Ref {name}\n"))))
        })
    };
    assert!(alarmed("AWS/ApiGateway", "5xx", false), "5xx answers");
    assert!(alarmed("AWS/Lambda", "Errors", true), "function errors");
    assert!(alarmed("AWS/Lambda", "Throttles", true), "throttles");
    assert!(
        alarmed("AWS/SNS", "SMSMonthToDateSpentUSD", false),
        "SMS spend"
    );
}

/// A send a stranger can cause never spends a budget that guards an owner's sign-in,
/// and executions are such a budget. `/password/forgot` and `/send-code` are one
/// function, and every forgot request holds its execution for the answer's floor
/// (`PasswordResetAnswerMs`, 1 s), whatever the email and even over the caller's
/// hourly cap. Within the route's own throttle, anonymous callers hold at most half of
/// `SendCodeReservedConcurrency`, so owners' sign-in codes still have the other half.
/// (HTTP API route throttles count every caller together: a flood of junk on
/// `POST /send-code` or `/login` itself refuses owners with 429 past the route's rate;
/// SECURITY.md, Known limits.)
#[test]
fn forgot_requests_within_the_routes_throttle_cannot_hold_every_send_code_execution() {
    let template = Template::parse(&Template::repo_text(), &[]).expect("template.yaml");
    let param = |name: &str| -> f64 {
        template
            .parameter(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a number"))
    };
    let r = resources();
    let forgot = &r["Api"]["Properties"]["RouteSettings"]["POST /password/forgot"];
    let rate = untag(&forgot["ThrottlingRateLimit"])
        .as_str()
        .expect("the route's throttle");
    let burst = untag(&forgot["ThrottlingBurstLimit"])
        .as_str()
        .expect("the route's burst");
    let floor_seconds = param("PasswordResetAnswerMs") / 1000.0;
    // Executions the route's own throttle lets one client keep busy in the steady
    // state, and in a burst.
    let steady = param(rate) * floor_seconds;
    let bursting = param(rate).max(param(burst)) * floor_seconds;
    let reserved = param("SendCodeReservedConcurrency");

    assert!(
        bursting <= reserved / 2.0,
        "forgot requests alone hold {steady} executions steadily and {bursting} in a burst, \
         of send-code's {reserved}: less than half is left for owners' sign-in codes"
    );
}

/// The same on verify-code: every refused `/password/reset` (a wrong code, or an email
/// without an account, which locks nothing an owner has) holds its execution for the
/// same floor, so the route has a throttle of its own that keeps anonymous callers to
/// half of `VerifyCodeReservedConcurrency` at most, in a burst too.
#[test]
fn refused_resets_within_the_apis_throttle_cannot_hold_every_verify_code_execution() {
    let template = Template::parse(&Template::repo_text(), &[]).expect("template.yaml");
    let param = |name: &str| -> f64 {
        template
            .parameter(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a number"))
    };
    let r = resources();
    let own = &r["Api"]["Properties"]["RouteSettings"]["POST /password/reset"];
    let rate = untag(&own["ThrottlingRateLimit"])
        .as_str()
        .map_or_else(|| param("ApiThrottlingRateLimit"), param);
    let burst = untag(&own["ThrottlingBurstLimit"])
        .as_str()
        .map_or_else(|| param("ApiThrottlingBurstLimit"), param);
    let bursting = rate.max(burst) * param("PasswordResetAnswerMs") / 1000.0;
    let reserved = param("VerifyCodeReservedConcurrency");

    assert!(
        bursting <= reserved / 2.0,
        "refused resets alone hold {bursting} executions in a burst, of verify-code's \
         {reserved}: less than half is left for owners' sign-ins"
    );
}
