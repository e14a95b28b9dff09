//! Binding a factor, in process: only a session signed in just now (or with a fresh
//! second factor, where the account has one) binds a passkey or an authenticator,
//! since a passkey signs in alone and outlives a password change, and an
//! authenticator turns two-factor sign-in on against its owner; and the notices of a
//! password change or a sign-out everywhere name the passkeys that still sign in, so
//! that one a thief bound is found.

use serde_json::json;
use twofa::passkeys::Passkey;
use twofa::testing::authenticator::SoftAuthenticator;
use twofa::testing::{Client, TEST_ORIGIN};
use twofa::user::{User, UserPatch};

use crate::support::{PASSWORD, World};

/// Binds a passkey from `device` to `user` as an enrolment's finish stores it.
async fn bound(w: &World, user: &User, name: &str) -> User {
    let rp = w.core.passkeys.as_ref().expect("test cores have passkeys");
    let mut device = SoftAuthenticator::new(TEST_ORIGIN);
    let (options, state) = rp
        .start_registration(&user.id, user.email.as_str(), &[])
        .expect("options");
    let credential = device
        .register(&options)
        .expect("the authenticator answers");
    let enrolled = rp
        .finish_registration(&state, &credential)
        .expect("enrolled");
    let passkey = Passkey {
        id: twofa::ids::PasskeyId::random().expect("randomness"),
        credential_id: enrolled.credential_id,
        name: name.into(),
        created_at: w.now(),
        last_used_at: None,
        backed_up: enrolled.backed_up,
        counter: enrolled.counter,
        credential: enrolled.credential,
    };
    w.core
        .store
        .add_passkey(&user.id, &user.side, &passkey, &UserPatch::default())
        .await
        .expect("stored");
    w.user(&user.id).await
}

#[tokio::test]
async fn only_a_session_signed_in_just_now_binds_a_factor_to_an_account_without_a_second_factor() {
    let w = World::new().await;
    let old = w.token(&w.host_user).await;
    // Within the token's life, past the step-up age (STEP_UP_MAX_AGE_SECONDS, 600 s):
    // a stolen token, or a session left open, binds nothing.
    w.clock.advance(601);
    let r = w
        .settings(
            "POST",
            "/account/passkeys/register",
            json!(null),
            Some(&old),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (403, "step_up_required"),
        "{:?}",
        r.body
    );
    let r = w
        .settings(
            "POST",
            "/account/passkeys/register/finish",
            json!({"ceremony_id": "c1", "credential": {}}),
            Some(&old),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (403, "step_up_required"),
        "{:?}",
        r.body
    );
    let fresh = w.token(&w.host_user).await;
    let r = w
        .settings(
            "POST",
            "/account/passkeys/register",
            json!(null),
            Some(&fresh),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn the_notices_of_a_password_change_and_a_sign_out_everywhere_name_the_passkeys_that_still_sign_in()
 {
    let w = World::new().await;
    let user = w
        .patch(
            &w.host_user,
            UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
        )
        .await;
    let user = bound(&w, &user, "Work laptop").await;
    let r = w
        .settings(
            "PUT",
            "/account/password",
            json!({"current_password": PASSWORD, "new_password": "an entirely new passphrase"}),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let user = w.user(&user.id).await;
    let r = w
        .settings(
            "POST",
            "/account/sign-out-everywhere",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let mail = w.mail_to(user.email.as_str());
    for subject in [
        "Your password was changed",
        "You were signed out everywhere",
    ] {
        let notice = mail
            .iter()
            .find(|m| m.subject.as_deref() == Some(subject))
            .unwrap_or_else(|| panic!("{subject}: {mail:?}"));
        assert!(
            notice.body.contains("\"Work laptop\"") && notice.body.contains("remove it"),
            "{subject}: {}",
            notice.body
        );
    }
}
