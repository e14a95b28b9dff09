//! Confirming the account's email address or a phone number with the code send-code
//! sent. A confirmed phone number is recorded here, from the code's own destination.
//! Either confirmation adds a second factor and so rotates the security stamp:
//! remembered browsers die with the old number, a setup token cannot enrol a second
//! factor, and an access token's holder goes on with the fresh one in the answer.

use serde_json::json;
use twofa::api::{ApiError, ErrorCode, Request, Response, authenticate, json};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::flows::{
    Outcome, attempt_id, begin_attempt, fresh_access, refuse_wrong_code, right_answer,
};
use twofa::phone::PhoneNumber;
use twofa::policy::ConfirmPurpose;
use twofa::senders::EmailSender;
use twofa::store::{Subject, Success, stored_phone};
use twofa::tokens::TokenKind;
use twofa::user::UserPatch;

use crate::check::{self, Judged};
use crate::failure::not_a_guess;

pub async fn verify(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    purpose: ConfirmPurpose,
    code: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(core, req, &[TokenKind::Access, TokenKind::Setup]).await?;
    let user = &caller.user;
    let code_purpose = purpose.code_purpose();
    // The side's lockout values are needed before the attempt takes its slot.
    let (pending, policy) = tokio::join!(
        core.store.code(&user.id, code_purpose),
        twofa::flows::lockout_of(core, user)
    );
    let (pending, policy) = (pending?, policy?);
    let (destination, number) = match (purpose, &pending) {
        (ConfirmPurpose::Email, _) => (user.email.as_str().to_string(), None),
        (ConfirmPurpose::Phone, Some(p)) => {
            // As send-code wrote it; text that no longer parses is a corrupt item.
            let number = stored_phone("destination", &p.destination)?;
            twofa::api::require_step_up_for_phone(core, &caller, &p.destination).await?;
            (p.destination.clone(), Some(number))
        }
        (ConfirmPurpose::Phone, None) => (String::new(), None),
    };
    // The attempt takes its slot before the code is judged (the store's module doc).
    let attempt = begin_attempt(core, Subject::User(&user.id), attempt_id()?, None, policy).await?;
    let spend = match check::sent_code(core, pending.as_ref(), code, &destination, None).await? {
        Judged::Right(spend) => spend,
        Judged::Wrong => {
            return Err(
                refuse_wrong_code(core, email, user, &attempt, req, code_purpose.as_str())
                    .await
                    .into(),
            );
        }
        Judged::Expired => {
            not_a_guess(core, user, &attempt).await?;
            return Err(ApiError::of(ErrorCode::CodeExpired));
        }
    };

    // The whole number is the user's own; a hint is enough for the side's admins reading events.
    let event = match purpose {
        ConfirmPurpose::Email => core.event(EventType::EmailConfirmed, user, req),
        ConfirmPurpose::Phone => core
            .event(EventType::PhoneConfirmed, user, req)
            .detail("phone_hint", hint(number.as_ref())),
    };
    let (patch, mut body) = match purpose {
        ConfirmPurpose::Email => (
            UserPatch {
                email_confirmed: Some(true),
                ..Default::default()
            },
            json!({ "email_confirmed": true }),
        ),
        ConfirmPurpose::Phone => (
            UserPatch {
                phone_number: Some(number),
                phone_number_confirmed: Some(true),
                ..Default::default()
            },
            json!({ "phone_number_confirmed": true }),
        ),
    };
    // Either confirmation adds a factor: the new stamp goes in the same single write
    // as spending the code, confirming and resetting the count.
    // Under the caller's stamp: a confirmation in flight when the session ended
    // (a sign-out everywhere) is refused with 401 and hands out no fresh token.
    let patch = patch.rotating_stamp().under_stamp(&user.security_stamp);
    let success = Success {
        attempt: &attempt.id,
        sid: None,
        spend,
        patch: &patch,
        release_only: false,
        authenticator: None,
    };
    if right_answer(core, &user.id, &success).await? == Outcome::Spent {
        return Err(
            refuse_wrong_code(core, email, user, &attempt, req, code_purpose.as_str())
                .await
                .into(),
        );
    }
    let mut changed = user.clone();
    patch.apply(&mut changed);
    let fresh = fresh_access(core, &caller, &changed).await?;
    tracing::info!(user_id = %user.id, purpose = code_purpose.as_str(), "confirmed");
    core.record(event).await;
    if let Some(fresh) = fresh {
        body["access_token"] = fresh.access_token.into();
        body["expires_in"] = fresh.expires_in.into();
    }
    if caller.kind == TokenKind::Setup {
        body["sign_in_again"] = true.into();
    }
    Ok(json(http::StatusCode::OK, &body))
}

fn hint(number: Option<&PhoneNumber>) -> String {
    number.map_or_else(|| "***".to_string(), PhoneNumber::masked)
}
