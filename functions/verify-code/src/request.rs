//! The two shapes of a verify-code body, told apart by `two_factor_token` (sign-in)
//! or `purpose` (confirmation) as send-code's are ([`TokenOrPurpose`]). A missing or
//! mistyped field is a 400 that changes nothing; a code of the wrong form is only a
//! wrong code, checked later.

use serde::Deserialize;
use twofa::api::{ApiError, Request, TokenOrPurpose, parse_body};
use twofa::policy::{ConfirmPurpose, Provider};

#[derive(Debug)]
pub struct SignIn {
    pub two_factor_token: String,
    pub provider: Provider,
    pub code: String,
    pub remember_browser: bool,
}

/// A passkey's assertion in place of a code (`provider: "passkey"`).
#[derive(Debug)]
pub struct PasskeySignIn {
    pub two_factor_token: String,
    pub ceremony_id: String,
    pub credential: serde_json::Value,
    pub remember_browser: bool,
}

#[derive(Debug)]
pub enum VerifyRequest {
    SignIn(SignIn),
    Passkey(PasskeySignIn),
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
    ceremony_id: Option<String>,
    credential: Option<serde_json::Value>,
}

impl VerifyRequest {
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        let body: Body = parse_body(req)?;
        let shape = TokenOrPurpose::parse(
            body.two_factor_token,
            body.provider,
            body.purpose,
            &[
                Provider::Passkey,
                Provider::Authenticator,
                Provider::Email,
                Provider::Sms,
                Provider::RecoveryCode,
            ],
            "send two_factor_token, provider and code to sign in, or purpose and code with a bearer token to confirm",
        )?;
        if let TokenOrPurpose::SignIn {
            two_factor_token,
            provider: Provider::Passkey,
        } = shape
        {
            let ceremony_id = body.ceremony_id.ok_or_else(|| {
                ApiError::invalid_field("ceremony_id", "the field ceremony_id is required")
            })?;
            let credential = body
                .credential
                .filter(serde_json::Value::is_object)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "credential",
                        "the field credential is required: the PublicKeyCredential in JSON form",
                    )
                })?;
            return Ok(VerifyRequest::Passkey(PasskeySignIn {
                two_factor_token,
                ceremony_id,
                credential,
                remember_browser: body.remember_browser.unwrap_or(false),
            }));
        }
        let code = body
            .code
            .ok_or_else(|| ApiError::invalid_field("code", "the field code is required"))?;
        Ok(match shape {
            TokenOrPurpose::SignIn {
                two_factor_token,
                provider,
            } => VerifyRequest::SignIn(SignIn {
                two_factor_token,
                provider,
                code,
                remember_browser: body.remember_browser.unwrap_or(false),
            }),
            TokenOrPurpose::Confirm(purpose) => VerifyRequest::Confirm { purpose, code },
        })
    }
}
