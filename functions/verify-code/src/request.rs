//! The two shapes of a verify-code body, told apart by `two_factor_token` (sign-in)
//! or `purpose` (confirmation). A missing or mistyped field is a 400 that changes
//! nothing; a code of the wrong form is only a wrong code, checked later.

use serde::Deserialize;
use twofa::api::{ApiError, Request, parse_body};
use twofa::policy::{ConfirmPurpose, Provider};

#[derive(Debug)]
pub struct SignIn {
    pub two_factor_token: String,
    pub provider: Provider,
    pub code: String,
    pub remember_browser: bool,
}

#[derive(Debug)]
pub enum VerifyRequest {
    SignIn(SignIn),
    Confirm {
        purpose: ConfirmPurpose,
        code: String,
    },
}

#[derive(Deserialize)]
struct Body {
    two_factor_token: Option<String>,
    provider: Option<String>,
    purpose: Option<String>,
    code: Option<String>,
    remember_browser: Option<bool>,
}

impl VerifyRequest {
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
                    Some(name) => Provider::parse(name).ok_or_else(|| {
                        ApiError::invalid_field(
                            "provider",
                            "provider must be one of \"authenticator\", \"email\", \"sms\", \"recovery_code\"",
                        )
                    })?,
                };
                let code = required_code(body.code)?;
                Ok(VerifyRequest::SignIn(SignIn {
                    two_factor_token,
                    provider,
                    code,
                    remember_browser: body.remember_browser.unwrap_or(false),
                }))
            }
            (None, Some(purpose)) => {
                let purpose = ConfirmPurpose::parse(&purpose).ok_or_else(|| {
                    ApiError::invalid_field(
                        "purpose",
                        "purpose must be \"confirm_email\" or \"confirm_phone\"",
                    )
                })?;
                Ok(VerifyRequest::Confirm {
                    purpose,
                    code: required_code(body.code)?,
                })
            }
            (None, None) => Err(ApiError::invalid_field(
                "two_factor_token",
                "send two_factor_token, provider and code to sign in, or purpose and code with a bearer token to confirm",
            )),
        }
    }
}

fn required_code(code: Option<String>) -> Result<String, ApiError> {
    code.ok_or_else(|| ApiError::invalid_field("code", "the field code is required"))
}
