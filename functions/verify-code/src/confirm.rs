//! Confirming the account's email address or a phone number with the code send-code
//! sent. A confirmed phone number is recorded here, from the code's own destination,
//! and changes the security stamp: remembered browsers die with the old number.

use serde_json::json;
use twofa::api::{json, ApiError, Request, Response};
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::lockout::locked_for;
use twofa::senders::EmailSender;
use twofa::signin::authenticate;
use twofa::tokens::TokenKind;
use twofa::user::UserPatch;

use crate::check::{self, Checked};
use crate::errors::code_expired;
use crate::failure::wrong_code;
use crate::request::ConfirmPurpose;

pub async fn verify(core: &Core, email: &dyn EmailSender, req: &Request, purpose: ConfirmPurpose, code: &str) -> Result<Response, ApiError> {
    let caller = authenticate(core, req, &[TokenKind::Access, TokenKind::Setup]).await?;
    let user = &caller.user;
    if let Some(seconds) = locked_for(user.lockout_end, core.now()) {
        return Err(ApiError::locked_out(seconds));
    }
    let code_purpose = match purpose {
        ConfirmPurpose::Email => CodePurpose::ConfirmEmail,
        ConfirmPurpose::Phone => CodePurpose::ConfirmPhone,
    };
    let pending = core.store.code(&user.id, code_purpose).await?;
    let destination = match (purpose, &pending) {
        (ConfirmPurpose::Email, _) => user.email.clone(),
        (ConfirmPurpose::Phone, Some(p)) => {
            twofa::signin::require_step_up_for_phone(core, &caller, &p.destination).await?;
            p.destination.clone()
        }
        (ConfirmPurpose::Phone, None) => String::new(),
    };
    match check::sent_code(core, pending.as_ref(), code, &destination).await? {
        Checked::Accepted => {}
        Checked::Wrong => return Err(wrong_code(core, email, user).await),
        Checked::Expired => return Err(code_expired()),
    }

    let (patch, body) = match purpose {
        ConfirmPurpose::Email => (
            UserPatch { email_confirmed: Some(true), reset_failures: true, ..Default::default() },
            json!({ "email_confirmed": true }),
        ),
        ConfirmPurpose::Phone => (
            UserPatch {
                phone_number: Some(Some(destination)),
                phone_number_confirmed: Some(true),
                security_stamp: Some(twofa::user::new_security_stamp()),
                reset_failures: true,
                ..Default::default()
            },
            json!({ "phone_number_confirmed": true }),
        ),
    };
    core.store.update_user(&user.id, &patch).await?;
    tracing::info!(user_id = %user.id, purpose = code_purpose.as_str(), "confirmed");
    Ok(json(http::StatusCode::OK, &body))
}
