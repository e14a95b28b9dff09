//! The body send-code and verify-code share: a sign-in's `two_factor_token` with a
//! `provider`, or a confirmation's `purpose` (with a bearer token). Which one is told
//! by which field is present; unknown names are refused before anything is read.

use super::ApiError;
use crate::policy::{ConfirmPurpose, Provider};

/// What a send-code or verify-code body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrPurpose {
    /// The second factor of a sign-in.
    SignIn {
        /// The two-factor token login gave.
        two_factor_token: String,
        /// Any provider of the contract; the route decides what it can do with it.
        provider: Provider,
    },
    /// A confirmation of the caller's email address or a phone number.
    Confirm(ConfirmPurpose),
}

impl TokenOrPurpose {
    /// Tells the two shapes apart from the body's fields: 400 `invalid_field` for
    /// both or neither, a missing or unknown provider, or an unknown purpose.
    /// `listed` are the providers the route's contract lists (for the message);
    /// `neither` says what to send when the body has neither field.
    pub fn parse(
        two_factor_token: Option<String>,
        provider: Option<String>,
        purpose: Option<String>,
        listed: &[Provider],
        neither: &str,
    ) -> Result<Self, ApiError> {
        match (two_factor_token, purpose) {
            (Some(_), Some(_)) => Err(ApiError::invalid_field(
                "purpose",
                "send either two_factor_token (sign-in) or purpose (confirmation), not both",
            )),
            (Some(two_factor_token), None) => {
                let name = provider.ok_or_else(|| {
                    ApiError::invalid_field("provider", "the field provider is required")
                })?;
                let provider = Provider::parse(&name).ok_or_else(|| {
                    ApiError::invalid_field(
                        "provider",
                        format!("provider must be {}", names(listed)),
                    )
                })?;
                Ok(TokenOrPurpose::SignIn {
                    two_factor_token,
                    provider,
                })
            }
            (None, Some(purpose)) => ConfirmPurpose::parse(&purpose)
                .map(TokenOrPurpose::Confirm)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "purpose",
                        "purpose must be \"confirm_email\" or \"confirm_phone\"",
                    )
                }),
            (None, None) => Err(ApiError::invalid_field("two_factor_token", neither)),
        }
    }
}

/// `"a" or "b"`, or `one of "a", "b", "c"`.
fn names(listed: &[Provider]) -> String {
    let quoted: Vec<String> = listed.iter().map(|p| format!("{:?}", p.as_str())).collect();
    match quoted.as_slice() {
        [a, b] => format!("{a} or {b}"),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    fn parse(
        token: Option<&str>,
        provider: Option<&str>,
        purpose: Option<&str>,
    ) -> Result<TokenOrPurpose, ApiError> {
        TokenOrPurpose::parse(
            token.map(String::from),
            provider.map(String::from),
            purpose.map(String::from),
            &[Provider::Email, Provider::Sms],
            "send one",
        )
    }

    #[test]
    fn a_token_with_any_provider_of_the_contract_is_a_sign_in() {
        for p in ["authenticator", "email", "sms", "recovery_code"] {
            assert_eq!(
                parse(Some("t"), Some(p), None).ok(),
                Some(TokenOrPurpose::SignIn {
                    two_factor_token: "t".into(),
                    provider: Provider::parse(p).unwrap(),
                })
            );
        }
    }

    #[test]
    fn a_purpose_is_a_confirmation() {
        assert_eq!(
            parse(None, None, Some("confirm_phone")).ok(),
            Some(TokenOrPurpose::Confirm(ConfirmPurpose::Phone))
        );
        assert_eq!(
            parse(None, Some("sms"), Some("confirm_email")).ok(),
            Some(TokenOrPurpose::Confirm(ConfirmPurpose::Email))
        );
    }

    #[test]
    fn both_neither_or_an_unknown_name_is_an_invalid_field_naming_it() {
        let field = |r: Result<TokenOrPurpose, ApiError>| {
            let e = r.unwrap_err();
            assert!(e.is(ErrorCode::InvalidRequest), "{e:?}");
            let body: serde_json::Value = serde_json::from_str(e.into_response().body()).unwrap();
            body["field"].clone()
        };
        assert_eq!(
            field(parse(Some("t"), None, Some("confirm_email"))),
            "purpose"
        );
        assert_eq!(field(parse(None, None, None)), "two_factor_token");
        assert_eq!(field(parse(Some("t"), None, None)), "provider");
        assert_eq!(field(parse(Some("t"), Some("pigeon"), None)), "provider");
        assert_eq!(field(parse(None, None, Some("confirm_fax"))), "purpose");
    }

    #[test]
    fn the_message_for_an_unknown_provider_lists_the_route_s_own() {
        assert_eq!(
            names(&[Provider::Email, Provider::Sms]),
            r#""email" or "sms""#
        );
        assert_eq!(
            names(&[
                Provider::Authenticator,
                Provider::Email,
                Provider::Sms,
                Provider::RecoveryCode
            ]),
            r#"one of "authenticator", "email", "sms", "recovery_code""#
        );
    }
}
