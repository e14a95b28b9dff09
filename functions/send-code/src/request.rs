//! The two shapes of a send-code body, told apart by `two_factor_token` (sign-in)
//! or `purpose` (confirmation) as verify-code's are ([`TokenOrPurpose`]). Unknown
//! names are refused here, before anything is read or sent.

use serde::Deserialize;
use twofa::api::{ApiError, Request, TokenOrPurpose, parse_body};
use twofa::policy::{ConfirmPurpose, Provider};

#[derive(Debug)]
pub enum SendRequest {
    /// Any provider of the contract; only email and SMS have a code to send.
    SignIn {
        two_factor_token: String,
        provider: Provider,
    },
    Confirm {
        purpose: ConfirmPurpose,
        /// With `confirm_phone`: the number as the client typed it; parsed later,
        /// so its error is `invalid_phone`.
        phone_number: Option<String>,
    },
}

#[derive(Deserialize)]
struct Body {
    two_factor_token: Option<String>,
    provider: Option<String>,
    purpose: Option<String>,
    phone_number: Option<String>,
}

impl SendRequest {
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        let body: Body = parse_body(req)?;
        let shape = TokenOrPurpose::parse(
            body.two_factor_token,
            body.provider,
            body.purpose,
            &[Provider::Passkey, Provider::Email, Provider::Sms],
            "send two_factor_token and provider to sign in, or purpose with a bearer token to confirm an address",
        )?;
        match shape {
            TokenOrPurpose::SignIn {
                two_factor_token,
                provider,
            } => Ok(SendRequest::SignIn {
                two_factor_token,
                provider,
            }),
            TokenOrPurpose::Confirm(ConfirmPurpose::Phone) if body.phone_number.is_none() => {
                Err(phone_number_required())
            }
            TokenOrPurpose::Confirm(purpose) => Ok(SendRequest::Confirm {
                purpose,
                phone_number: body.phone_number,
            }),
        }
    }
}

/// 400 for `confirm_phone` without a number.
pub fn phone_number_required() -> ApiError {
    ApiError::invalid_field(
        "phone_number",
        "the field phone_number is required with confirm_phone",
    )
}
