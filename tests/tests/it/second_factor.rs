//! The walkthrough of ASP.NET Core Identity's SMS tutorial and ABP's 2FA guide, over
//! HTTP against the local API on DynamoDB Local, with SMS through SNS and email
//! through SES on moto: register, confirm email and phone, enable 2FA, sign in with
//! an SMS code and remember the browser, sign in without a code, forget the browser,
//! enrol an authenticator and sign in with it, then use a recovery code. Deployed as
//! template.yaml says, each function's calls through its permissions (`e2e::deployed`).

use e2e::Client;
use e2e::{Backend, Deployment, TestApp, code_in, moto_records, spawn_deployed, unique_number};
use serde_json::{Value, json};
use twofa::config::Config;
use twofa::testing::emulator_sdk_config;
use twofa::testing::fixtures::PASSWORD;

async fn sms_code(moto: &str, to: &str) -> String {
    let sent = moto_records(moto, "sns", "SMS").await;
    let last = sent
        .iter()
        .rev()
        .find(|m| m["phone_number"] == to)
        .unwrap_or_else(|| panic!("no SMS to {to}"));
    code_in(last["message"].as_str().unwrap_or_default()).expect("a code in the SMS")
}

async fn email_code(moto: &str, to: &str) -> String {
    let sent = moto_records(moto, "ses", "Message").await;
    let last = sent
        .iter()
        .rev()
        .find(|m| m["destinations"]["ToAddresses"][0] == to)
        .unwrap_or_else(|| panic!("no email to {to}"));
    code_in(&last["body"].to_string()).expect("a code in the email")
}

async fn emails_to(moto: &str, to: &str) -> Vec<Value> {
    moto_records(moto, "ses", "Message")
        .await
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == to)
        .collect()
}

async fn login(app: &TestApp, email: &str, remember: Option<&str>) -> Value {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(t) = remember {
        body["remember_browser_token"] = t.into();
    }
    let r = app.post("/login", &body, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

#[tokio::test]
#[cfg_attr(
    any(no_dynamodb, no_moto),
    ignore = "needs DynamoDB Local and moto: DYNAMODB_ENDPOINT or MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_whole_second_factor_walkthrough_on_dynamodb_local_and_moto() {
    let Some(Backend::Dynamo(dynamodb)) = Backend::dynamo() else {
        return;
    };
    let Some(moto) = twofa::testing::service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let sdk = emulator_sdk_config(&moto);
    let label = uuid::Uuid::new_v4().simple().to_string();
    let from = format!("no-reply@{label}.example.com");
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(&from)
        .send()
        .await
        .expect("moto verifies the sender");
    // Deployed as the template says: SNS and SES, each function through its permissions.
    let app = spawn_deployed(
        &dynamodb,
        Config::default(),
        Deployment::of_repo(
            &[("SesFrom", from.as_str()), ("AllowedCountryCodes", "1")],
            Some(&moto),
        ),
    )
    .await;
    let email = format!("jane-{label}@example.org");
    let phone = unique_number();

    // Register and sign in: 2FA is off for a new user.
    assert_eq!(
        app.post(
            "/register",
            &json!({"email": email, "password": PASSWORD}),
            None
        )
        .await
        .status,
        201
    );
    let access = login(&app, &email, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Confirm the email address and a phone number with codes sent through SES and SNS.
    let sent = app
        .post(
            "/send-code",
            &json!({"purpose": "confirm_email"}),
            Some(&access),
        )
        .await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    let code = email_code(&moto, &email).await;
    let ok = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_email", "code": code}),
            Some(&access),
        )
        .await;
    assert_eq!(
        (ok.status, &ok.body["email_confirmed"]),
        (200, &json!(true)),
        "{:?}",
        ok.body
    );
    // A new factor rotates the security stamp: the client goes on with the token in the answer.
    let access = ok.body["access_token"]
        .as_str()
        .expect("a fresh access token")
        .to_string();

    let sent = app
        .post(
            "/send-code",
            &json!({"purpose": "confirm_phone", "phone_number": phone}),
            Some(&access),
        )
        .await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert_eq!(
        sent.body["destination_hint"],
        format!("+1*******{}", &phone[phone.len() - 4..])
    );
    let code = sms_code(&moto, &phone).await;
    let ok = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_phone", "code": code}),
            Some(&access),
        )
        .await;
    assert_eq!(
        (ok.status, &ok.body["phone_number_confirmed"]),
        (200, &json!(true)),
        "{:?}",
        ok.body
    );
    let access = ok.body["access_token"]
        .as_str()
        .expect("a fresh access token")
        .to_string();

    // Enable 2FA; the notice goes to the confirmed address.
    let notices_before = emails_to(&moto, &email).await.len();
    let on = app
        .call(
            "PUT",
            "/account/two-factor",
            Some(&json!({"enabled": true})),
            Some(&access),
        )
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert!(
        emails_to(&moto, &email).await.len() > notices_before,
        "no notice of enabling 2FA"
    );
    assert!(on.body["access_token"].is_string(), "{:?}", on.body);

    // Sign in again: the password alone no longer signs in.
    let step = login(&app, &email, None).await;
    assert_eq!(step["status"], "two_factor_required");
    assert_eq!(step["providers"], json!(["email", "sms"]));
    let tf = step["two_factor_token"].as_str().unwrap();

    // Choose SMS, enter its code, remember this browser.
    let sent = app
        .post(
            "/send-code",
            &json!({"two_factor_token": tf, "provider": "sms"}),
            None,
        )
        .await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert_eq!(sent.body["provider"], "sms");
    let code = sms_code(&moto, &phone).await;
    let signed = app
        .post("/verify-code", &json!({"two_factor_token": tf, "provider": "sms", "code": code, "remember_browser": true}), None)
        .await;
    assert_eq!(
        (signed.status, signed.body["status"].as_str()),
        (200, Some("signed_in")),
        "{:?}",
        signed.body
    );
    let remember = signed.body["remember_browser_token"]
        .as_str()
        .expect("a remember-browser token")
        .to_string();
    let cookie = signed
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("Identity.TwoFactorRememberMe="))
        .expect("the remember-browser Set-Cookie, beside the refresh cookie")
        .to_string();
    for part in [
        "Identity.TwoFactorRememberMe=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Max-Age=1209600",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    let access = signed.body["access_token"].as_str().unwrap().to_string();
    // The same code does not work twice.
    let again = app
        .post(
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "sms", "code": code}),
            None,
        )
        .await;
    assert_eq!(again.status, 401);

    // The remembered browser signs in without a code, by body or by cookie.
    assert_eq!(
        login(&app, &email, Some(&remember)).await["status"],
        "signed_in"
    );
    let devices = app
        .call("GET", "/account/devices", None, Some(&access))
        .await;
    assert_eq!(devices.status, 200);
    assert_eq!(
        devices.body.as_array().map(Vec::len),
        Some(1),
        "{:?}",
        devices.body
    );

    // Forget it: the next sign-in asks for a code again.
    assert_eq!(
        app.post("/account/forget-browser", &json!({}), Some(&access))
            .await
            .status,
        204
    );
    let step = login(&app, &email, Some(&remember)).await;
    assert_eq!(step["status"], "two_factor_required");
    // And every access token issued before it is over, on every function's routes.
    let send = app
        .post(
            "/send-code",
            &json!({"purpose": "confirm_email"}),
            Some(&access),
        )
        .await;
    let verify = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_email", "code": "123456"}),
            Some(&access),
        )
        .await;
    let view = app
        .call("GET", "/account/two-factor", None, Some(&access))
        .await;
    for r in [&send, &verify, &view] {
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("unauthorized")),
            "{:?}",
            r.body
        );
    }
    let tf = step["two_factor_token"].as_str().unwrap();
    // By email: a second text inside the resend cooldown would wait.
    assert_eq!(
        app.post(
            "/send-code",
            &json!({"two_factor_token": tf, "provider": "email"}),
            None
        )
        .await
        .status,
        202
    );
    let code = email_code(&moto, &email).await;
    let signed = app
        .post(
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "email", "code": code}),
            None,
        )
        .await;
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    let access = signed.body["access_token"].as_str().unwrap().to_string();

    // Enrol an authenticator app and sign in with it.
    let enrol = app
        .post("/account/authenticator", &json!({}), Some(&access))
        .await;
    assert_eq!(enrol.status, 200, "{:?}", enrol.body);
    assert!(
        enrol.body["authenticator_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(enrol.body["qr_code_svg"].as_str().unwrap().contains("<svg"));
    let key = twofa::totp::key_from_base32(enrol.body["shared_key"].as_str().unwrap())
        .expect("a base32 key");
    let now = twofa::clock::Clock::now(&twofa::clock::SystemClock);
    let verified = app
        .post(
            "/account/authenticator/verify",
            &json!({"code": twofa::totp::code_at(&key, now).unwrap()}),
            Some(&access),
        )
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let recovery: Vec<String> = verified.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    let step = login(&app, &email, None).await;
    assert_eq!(step["providers"], json!(["authenticator", "email", "sms"]));
    let tf = step["two_factor_token"].as_str().unwrap();
    // The code of the next step: the current one was spent on enrolment and is never accepted twice.
    let next = twofa::totp::code_at(&key, now + 30).unwrap();
    let signed = app
        .post(
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "authenticator", "code": next}),
            None,
        )
        .await;
    assert_eq!(
        (signed.status, signed.body["status"].as_str()),
        (200, Some("signed_in")),
        "{:?}",
        signed.body
    );

    // A recovery code works once.
    let step = login(&app, &email, None).await;
    let tf = step["two_factor_token"].as_str().unwrap();
    let used = app
        .post(
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "recovery_code", "code": recovery[0]}),
            None,
        )
        .await;
    assert_eq!(used.status, 200, "{:?}", used.body);
    let access = used.body["access_token"].as_str().unwrap().to_string();
    let status = app
        .call("GET", "/account/two-factor", None, Some(&access))
        .await;
    assert_eq!(status.body["recovery_codes_left"], 9, "{:?}", status.body);
    let step = login(&app, &email, None).await;
    let tf = step["two_factor_token"].as_str().unwrap();
    let reused = app
        .post(
            "/verify-code",
            &json!({"two_factor_token": tf, "provider": "recovery_code", "code": recovery[0]}),
            None,
        )
        .await;
    assert_eq!(
        (reused.status, reused.body["error"].as_str()),
        (401, Some("invalid_code"))
    );
    assert_eq!(
        app.denied(),
        Vec::<String>::new(),
        "the template's permissions"
    );
}
