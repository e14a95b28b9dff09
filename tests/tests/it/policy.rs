//! The policy over HTTP: a host that forces 2FA, a user with nothing set up who is
//! only let in to enrol, and who must then sign in again with the new factor.

use e2e::Client;
use e2e::{AppOptions, Backend, spawn_app};
use serde_json::json;
use twofa::amr::Amr;
use twofa::testing::fixtures::PASSWORD;

#[tokio::test]
async fn a_forced_user_without_a_provider_can_only_enrol_and_then_signs_in_with_it() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    local_api::admin::seed_host_admin(&app.api.core, "root@example.com", PASSWORD)
        .await
        .expect("a host admin");
    let admin = app
        .post(
            "/login",
            &json!({"email": "root@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    let admin = admin.body["access_token"]
        .as_str()
        .expect("the admin signs in")
        .to_string();
    let forced = app
        .call(
            "PUT",
            "/settings/two-factor",
            Some(&json!({"behaviour": "forced"})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (forced.status, forced.body["behaviour"].as_str()),
        (200, Some("forced")),
        "{:?}",
        forced.body
    );

    assert_eq!(
        app.post(
            "/register",
            &json!({"email": "new@example.com", "password": PASSWORD}),
            None
        )
        .await
        .status,
        201
    );
    let step = app
        .post(
            "/login",
            &json!({"email": "new@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        step.body["status"], "two_factor_setup_required",
        "{:?}",
        step.body
    );
    assert!(step.body.get("access_token").is_none());
    let setup = step.body["setup_token"].as_str().unwrap().to_string();

    // The setup token opens enrolment and nothing else.
    assert_eq!(
        app.call("GET", "/account/two-factor", None, Some(&setup))
            .await
            .status,
        401
    );
    assert_eq!(
        app.call("GET", "/settings/two-factor", None, Some(&setup))
            .await
            .status,
        401
    );
    let enrol = app
        .post("/account/authenticator", &json!({}), Some(&setup))
        .await;
    assert_eq!(enrol.status, 200, "{:?}", enrol.body);
    let key = twofa::totp::key_from_base32(enrol.body["shared_key"].as_str().unwrap()).unwrap();
    let now = twofa::clock::Clock::now(&twofa::clock::SystemClock);
    let done = app
        .post(
            "/account/authenticator/verify",
            &json!({"code": twofa::totp::code_at(&key, now).unwrap()}),
            Some(&setup),
        )
        .await;
    assert_eq!(
        (done.status, done.body["enabled"].as_bool()),
        (200, Some(true)),
        "{:?}",
        done.body
    );
    assert!(
        done.body.get("access_token").is_none(),
        "enrolment signs nobody in"
    );
    let again = app
        .post("/account/authenticator", &json!({}), Some(&setup))
        .await;
    assert_eq!(
        again.status, 401,
        "a setup token enrols one first factor, then stops: {:?}",
        again.body
    );

    // Signing in again now asks for the new factor.
    let step = app
        .post(
            "/login",
            &json!({"email": "new@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (step.body["status"].as_str(), &step.body["providers"]),
        (Some("two_factor_required"), &json!(["authenticator"]))
    );
    let tf = step.body["two_factor_token"].as_str().unwrap();
    let signed = app.post("/verify-code", &json!({"two_factor_token": tf, "provider": "authenticator", "code": twofa::totp::code_at(&key, now + 30).unwrap()}), None).await;
    assert_eq!(signed.body["status"], "signed_in", "{:?}", signed.body);
}

#[tokio::test]
async fn a_user_who_turns_2fa_on_before_setting_anything_up_is_sent_to_set_it_up() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    app.post(
        "/register",
        &json!({"email": "jane@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    let access = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let on = app
        .call(
            "PUT",
            "/account/two-factor",
            Some(&json!({"enabled": true})),
            Some(&access),
        )
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    let step = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        step.body["status"], "two_factor_setup_required",
        "never a session without a second factor: {:?}",
        step.body
    );

    // With the setup token the user confirms the email address, then signs in with it.
    let setup = step.body["setup_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.post(
            "/send-code",
            &json!({"purpose": "confirm_email"}),
            Some(&setup)
        )
        .await
        .status,
        202
    );
    let code = app
        .last_code_to("jane@example.com")
        .await
        .expect("a code in the outbox");
    let ok = app
        .post(
            "/verify-code",
            &json!({"purpose": "confirm_email", "code": code}),
            Some(&setup),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let step = app
        .post(
            "/login",
            &json!({"email": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (step.body["status"].as_str(), &step.body["providers"]),
        (Some("two_factor_required"), &json!(["email"]))
    );
}

/// A tenant `acme` whose admin has 2FA on (an authenticator), and a user of it whose
/// only second factor is a confirmed phone; the admin's access tokens are minted
/// with their second factor proven `age` seconds ago.
struct SmsSide {
    app: e2e::TestApp,
    admin: twofa::user::User,
    sms_user: twofa::user::User,
}

impl SmsSide {
    async fn new(backend: &Backend) -> Self {
        let app = spawn_app(backend, AppOptions::default()).await;
        let (admin, sms_user) = super::policy_races::sms_side(&app).await;
        SmsSide {
            app,
            admin,
            sms_user,
        }
    }

    /// The admin's access token, its second factor proven `age` seconds ago.
    async fn admin_token(&self, age: i64) -> String {
        let core = &self.app.api.core;
        twofa::flows::issue_access(
            core,
            &self.admin,
            &[Amr::Pwd, Amr::Otp],
            Some(core.now() - age),
            &Default::default(),
        )
        .await
        .expect("an access token")
        .access_token
    }

    async fn sms_user_login(&self) -> e2e::Reply {
        self.app
            .post(
                "/login",
                &json!({"tenant": "acme", "email": "sam@acme.example", "password": PASSWORD}),
                None,
            )
            .await
    }

    async fn allow_only_the_authenticator(&self, token: &str) -> e2e::Reply {
        self.app
            .call(
                "PUT",
                "/settings/two-factor",
                Some(&json!({"allowed_providers": ["authenticator"]})),
                Some(token),
            )
            .await
    }
}

async fn a_stale_admin_session_cannot_take_away_the_only_factor_of_sms_users(backend: Backend) {
    let side = SmsSide::new(&backend).await;
    let stale = side.admin_token(3_600).await;
    let r = side.allow_only_the_authenticator(&stale).await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (403, "step_up_required"),
        "removing sms leaves an SMS-only user with 2FA on and nothing to prove it with: {:?}",
        r.body
    );
    let login = side.sms_user_login().await;
    assert_eq!(
        (login.body["status"].as_str(), &login.body["providers"]),
        (Some("two_factor_required"), &json!(["sms"])),
        "refused: nothing changed: {:?}",
        login.body
    );

    let fresh = side.admin_token(0).await;
    let r = side.allow_only_the_authenticator(&fresh).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["allowed_providers"], &r.body["stranded_users"]),
        (&json!(["authenticator"]), &json!(1)),
        "the admin is told how many users the change strands"
    );
    let r = side
        .app
        .call(
            "PUT",
            "/settings/two-factor",
            Some(&json!({"remember_browser": false})),
            Some(&stale),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["stranded_users"]),
        (200, &json!(0)),
        "a change that strands nobody and weakens nothing needs no step-up: {:?}",
        r.body
    );
}

#[tokio::test]
async fn a_stale_admin_session_cannot_take_away_the_only_factor_of_sms_users_on_the_embedded_store()
{
    a_stale_admin_session_cannot_take_away_the_only_factor_of_sms_users(Backend::Memory).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_stale_admin_session_cannot_take_away_the_only_factor_of_sms_users_on_dynamodb_local() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    a_stale_admin_session_cannot_take_away_the_only_factor_of_sms_users(backend).await;
}

async fn the_password_alone_never_enrols_a_factor_on_an_account_whose_factor_was_taken_away(
    backend: Backend,
) {
    let side = SmsSide::new(&backend).await;
    let r = side
        .allow_only_the_authenticator(&side.admin_token(0).await)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Whoever has the password: no setup token, so no authenticator of their own,
    // no recovery codes and no session.
    let login = side.sms_user_login().await;
    assert_eq!(
        (login.status, login.error.as_str()),
        (403, "forbidden"),
        "{:?}",
        login.body
    );
    assert!(
        login.body.get("setup_token").is_none() && login.body.get("access_token").is_none(),
        "{:?}",
        login.body
    );

    // An admin (with its own fresh second factor) resets the user's second factor:
    // now the password leads to setup, as for an account that never had one.
    let reset = side
        .app
        .post(
            &format!("/users/{}/reset-two-factor", side.sms_user.id),
            &json!({}),
            Some(&side.admin_token(0).await),
        )
        .await;
    assert_eq!(reset.status, 204, "{:?}", reset.body);
    let login = side.sms_user_login().await;
    assert_eq!(
        login.body["status"], "two_factor_setup_required",
        "{:?}",
        login.body
    );
    let setup = login.body["setup_token"].as_str().unwrap();
    let enrol = side
        .app
        .post("/account/authenticator", &json!({}), Some(setup))
        .await;
    assert_eq!(enrol.status, 200, "{:?}", enrol.body);
}

#[tokio::test]
async fn the_password_alone_never_enrols_a_factor_on_an_account_whose_factor_was_taken_away_on_the_embedded_store()
 {
    the_password_alone_never_enrols_a_factor_on_an_account_whose_factor_was_taken_away(
        Backend::Memory,
    )
    .await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_password_alone_never_enrols_a_factor_on_an_account_whose_factor_was_taken_away_on_dynamodb_local()
 {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    the_password_alone_never_enrols_a_factor_on_an_account_whose_factor_was_taken_away(backend)
        .await;
}

async fn a_factor_allowed_again_signs_in_as_before_and_a_new_user_still_sets_one_up(
    backend: Backend,
) {
    let side = SmsSide::new(&backend).await;
    let fresh = side.admin_token(0).await;
    assert_eq!(side.allow_only_the_authenticator(&fresh).await.status, 200);
    let r = side
        .app
        .call(
            "PUT",
            "/settings/two-factor",
            Some(&json!({"allowed_providers": ["authenticator", "sms"]})),
            Some(&fresh),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let login = side.sms_user_login().await;
    assert_eq!(
        (login.body["status"].as_str(), &login.body["providers"]),
        (Some("two_factor_required"), &json!(["sms"])),
        "{:?}",
        login.body
    );

    // A user who never had a second factor the side allowed is sent to set one up.
    let r = side
        .app
        .post(
            "/register",
            &json!({"tenant": "acme", "email": "new@acme.example", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = side
        .app
        .call(
            "PUT",
            "/settings/two-factor",
            Some(&json!({"behaviour": "forced", "allowed_providers": ["authenticator"]})),
            Some(&fresh),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["stranded_users"]),
        (200, &json!(1)),
        "only the SMS user is stranded, not the new one: {:?}",
        r.body
    );
    let login = side
        .app
        .post(
            "/login",
            &json!({"tenant": "acme", "email": "new@acme.example", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        login.body["status"], "two_factor_setup_required",
        "{:?}",
        login.body
    );
}

#[tokio::test]
async fn a_factor_allowed_again_signs_in_as_before_and_a_new_user_still_sets_one_up_on_the_embedded_store()
 {
    a_factor_allowed_again_signs_in_as_before_and_a_new_user_still_sets_one_up(Backend::Memory)
        .await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_factor_allowed_again_signs_in_as_before_and_a_new_user_still_sets_one_up_on_dynamodb_local()
 {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    a_factor_allowed_again_signs_in_as_before_and_a_new_user_still_sets_one_up(backend).await;
}

async fn a_user_left_only_a_recovery_code_signs_in_with_it_and_then_cannot_enrol_with_the_password_alone(
    backend: Backend,
) {
    let side = SmsSide::new(&backend).await;
    let core = &side.app.api.core;
    let code = twofa::codes::new_recovery_codes().expect("randomness")[0]
        .expose()
        .clone();
    let code = code.as_str();
    twofa::testing::patch_user(
        core,
        &side.sms_user,
        twofa::user::UserPatch {
            recovery_codes: Some(vec![twofa::codes::recovery_code_hash(
                &core.hash_key,
                &side.sms_user.id,
                code,
            )]),
            ..Default::default()
        },
    )
    .await;
    let r = side
        .allow_only_the_authenticator(&side.admin_token(3_600).await)
        .await;
    assert_eq!(
        (r.status, &r.body["stranded_users"]),
        (200, &json!(0)),
        "a recovery code is left: nobody is stranded yet: {:?}",
        r.body
    );

    let login = side.sms_user_login().await;
    assert_eq!(
        (login.body["status"].as_str(), &login.body["providers"]),
        (Some("two_factor_required"), &json!([])),
        "{:?}",
        login.body
    );
    let signed = side
        .app
        .post(
            "/verify-code",
            &json!({"two_factor_token": login.body["two_factor_token"], "provider": "recovery_code", "code": code}),
            None,
        )
        .await;
    assert_eq!(signed.body["status"], "signed_in", "{:?}", signed.body);

    // The code is spent: the password alone must not now enrol a factor.
    let login = side.sms_user_login().await;
    assert_eq!(
        (login.status, login.error.as_str()),
        (403, "forbidden"),
        "{:?}",
        login.body
    );
}

#[tokio::test]
async fn a_user_left_only_a_recovery_code_signs_in_with_it_and_then_cannot_enrol_with_the_password_alone_on_the_embedded_store()
 {
    a_user_left_only_a_recovery_code_signs_in_with_it_and_then_cannot_enrol_with_the_password_alone(Backend::Memory).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_user_left_only_a_recovery_code_signs_in_with_it_and_then_cannot_enrol_with_the_password_alone_on_dynamodb_local()
 {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    a_user_left_only_a_recovery_code_signs_in_with_it_and_then_cannot_enrol_with_the_password_alone(backend).await;
}
