//! The two shapes of a send-code body, told apart by `two_factor_token` (sign-in)
//! or `purpose` (confirmation). Unknown names are refused here, before anything is read or sent.

use serde::Deserialize;
use twofa::api::{ApiError, Request, parse_body};

/// What a sign-in may ask a code for. The other providers have nothing to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProvider {
    Email,
    Sms,
    /// A provider of the contract that has no code to send (authenticator, recovery_code).
    NothingToSend(&'static str),
}

/// What a confirmation code is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmPurpose {
    Email,
    /// The number as the client typed it; parsed later, so its error is `invalid_phone`.
    Phone(String),
}

#[derive(Debug)]
pub enum SendRequest {
    SignIn {
        two_factor_token: String,
        provider: SignInProvider,
    },
    Confirm(ConfirmPurpose),
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
        match (body.two_factor_token, body.purpose) {
            (Some(_), Some(_)) => Err(ApiError::invalid_field(
                "purpose",
                "send either two_factor_token (sign-in) or purpose (confirmation), not both",
            )),
            (Some(two_factor_token), None) => {
                let provider = match body.provider.as_deref() {
                    None => {
                        return Err(ApiError::invalid_field(
                            "provider",
                            "the field provider is required",
                        ));
                    }
                    Some("email") => SignInProvider::Email,
                    Some("sms") => SignInProvider::Sms,
                    Some("authenticator") => SignInProvider::NothingToSend("authenticator"),
                    Some("recovery_code") => SignInProvider::NothingToSend("recovery_code"),
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "provider",
                            "provider must be \"email\" or \"sms\"",
                        ));
                    }
                };
                Ok(SendRequest::SignIn {
                    two_factor_token,
                    provider,
                })
            }
            (None, Some(purpose)) => match purpose.as_str() {
                "confirm_email" => Ok(SendRequest::Confirm(ConfirmPurpose::Email)),
                "confirm_phone" => body
                    .phone_number
                    .map(|p| SendRequest::Confirm(ConfirmPurpose::Phone(p)))
                    .ok_or_else(|| {
                        ApiError::invalid_field(
                            "phone_number",
                            "the field phone_number is required with confirm_phone",
                        )
                    }),
                _ => Err(ApiError::invalid_field(
                    "purpose",
                    "purpose must be \"confirm_email\" or \"confirm_phone\"",
                )),
            },
            (None, None) => Err(ApiError::invalid_field(
                "two_factor_token",
                "send two_factor_token and provider to sign in, or purpose with a bearer token to confirm an address",
            )),
        }
    }
}
