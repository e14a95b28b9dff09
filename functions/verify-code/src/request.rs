//! The two shapes of a verify-code body, told apart by `two_factor_token` (sign-in)
//! or `purpose` (confirmation). A missing or mistyped field is a 400 that changes
//! nothing; a code of the wrong form is only a wrong code, checked later.

use serde::Deserialize;
use twofa::api::{ApiError, Request, parse_body};

/// A second factor a sign-in can be finished with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Authenticator,
    Email,
    Sms,
    RecoveryCode,
}

impl Method {
    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Authenticator => "authenticator",
            Method::Email => "email",
            Method::Sms => "sms",
            Method::RecoveryCode => "recovery_code",
        }
    }

    /// The RFC 8176 `amr` value the access token records.
    pub fn amr(self) -> &'static str {
        match self {
            Method::Authenticator => "otp",
            Method::Email => "email",
            Method::Sms => "sms",
            Method::RecoveryCode => "rec",
        }
    }
}

/// What a confirmation code confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmPurpose {
    Email,
    Phone,
}

#[derive(Debug)]
pub struct SignIn {
    pub two_factor_token: String,
    pub method: Method,
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
                let method = match body.provider.as_deref() {
                    None => {
                        return Err(ApiError::invalid_field(
                            "provider",
                            "the field provider is required",
                        ));
                    }
                    Some("authenticator") => Method::Authenticator,
                    Some("email") => Method::Email,
                    Some("sms") => Method::Sms,
                    Some("recovery_code") => Method::RecoveryCode,
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "provider",
                            "provider must be one of \"authenticator\", \"email\", \"sms\", \"recovery_code\"",
                        ));
                    }
                };
                let code = required_code(body.code)?;
                Ok(VerifyRequest::SignIn(SignIn {
                    two_factor_token,
                    method,
                    code,
                    remember_browser: body.remember_browser.unwrap_or(false),
                }))
            }
            (None, Some(purpose)) => {
                let purpose = match purpose.as_str() {
                    "confirm_email" => ConfirmPurpose::Email,
                    "confirm_phone" => ConfirmPurpose::Phone,
                    _ => {
                        return Err(ApiError::invalid_field(
                            "purpose",
                            "purpose must be \"confirm_email\" or \"confirm_phone\"",
                        ));
                    }
                };
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
