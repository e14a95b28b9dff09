//! A code to confirm the account's email address or a phone number. Only confirmed
//! destinations are ever offered for sign-in; the number is recorded on the account
//! by verify-code once its code comes back. A number is only texted where the
//! caller's side allows SMS: a confirmation is still a paid text.

use twofa::api::{ApiError, Request, Response, authenticate, client_info};
use twofa::app::Core;
use twofa::flows::load_side;
use twofa::phone::PhoneNumber;
use twofa::policy::ConfirmPurpose;
use twofa::tokens::TokenKind;

use crate::deliver::{Destination, Senders, send_code};
use crate::request::phone_number_required;

pub async fn send(
    core: &Core,
    senders: &Senders<'_>,
    req: &Request,
    purpose: ConfirmPurpose,
    phone_number: Option<String>,
) -> Result<Response, ApiError> {
    let caller = authenticate(core, req, &[TokenKind::Access, TokenKind::Setup]).await?;
    let source = client_info(req).source_ip;
    match purpose {
        ConfirmPurpose::Email => {
            let to = Destination::email(&caller.user.email);
            send_code(
                core,
                senders,
                &caller.user,
                purpose.code_purpose(),
                to,
                None,
                source,
            )
            .await
        }
        ConfirmPurpose::Phone => {
            let input = phone_number.ok_or_else(phone_number_required)?;
            let side = load_side(core.store.as_ref(), &caller.user.side)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            if !side
                .effective(caller.user.two_factor_enabled)
                .allowed_providers
                .contains(&purpose.provider())
            {
                return Err(ApiError::provider_unavailable(purpose.provider().as_str()));
            }
            let number = PhoneNumber::parse(&input)
                .map_err(|e| ApiError::invalid_phone("phone_number", e.to_string()))?;
            if !core.config.sms_allowed_to(number.country_code()) {
                return Err(ApiError::invalid_phone(
                    "phone_number",
                    format!(
                        "text messages to +{} numbers are not allowed by this service",
                        number.country_code()
                    ),
                ));
            }
            twofa::api::require_step_up_for_phone(core, &caller, number.as_str()).await?;
            let to = Destination::phone(&number);
            send_code(
                core,
                senders,
                &caller.user,
                purpose.code_purpose(),
                to,
                None,
                source,
            )
            .await
        }
    }
}
