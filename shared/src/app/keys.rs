//! The keys of a deployed function, out of its configuration: read from the
//! Secrets Manager secret `KEYS_SECRET_ID` names, once per execution environment,
//! by the first request ([`CoreOnFirstUse`]), never at init and never into an
//! environment variable that `lambda:GetFunctionConfiguration` would show.
//! Secrets Manager keeps the secret encrypted under KMS; the function's role may
//! read that one secret and nothing else.

use std::collections::HashMap;

use tokio::sync::OnceCell;

use super::{Core, Keys};
use crate::config::ConfigError;
use crate::tokens::TokenLifetimes;

/// Reads the keys from the secret `id`: a JSON object whose members are the key
/// settings [`Keys::from_env`] reads (`ACCESS_TOKEN_SIGNING_KEY`,
/// `JWT_SIGNING_KEY`, `CODE_HMAC_KEY`, `TOTP_ENCRYPTION_KEY`, and during a rotation
/// `ACCESS_TOKEN_PREVIOUS_KEYS`, `JWT_PREVIOUS_KEYS`, `JWT_KEY_ID`).
pub async fn from_secret(
    sdk: &aws_config::SdkConfig,
    id: &str,
    lifetimes: TokenLifetimes,
) -> Result<Keys, ConfigError> {
    let client = crate::timeouts::secrets_manager(sdk);
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            ConfigError::new(
                "KEYS_SECRET_ID",
                format!(
                    "the secret could not be read: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ),
            )
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| ConfigError::new("KEYS_SECRET_ID", "the secret has no SecretString"))?;
    from_json(text, lifetimes)
}

/// The keys in a secret's JSON text. Never echoes the text: it is the keys.
pub fn from_json(text: &str, lifetimes: TokenLifetimes) -> Result<Keys, ConfigError> {
    let members: HashMap<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|_| ConfigError::new("KEYS_SECRET_ID", "the secret is not a JSON object"))?;
    // A member may hold its value as text, or (a JWKS) as JSON itself.
    let env: HashMap<String, String> = members
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    Keys::from_env(&env, lifetimes)
}

/// A function's [`Core`], made by the first request that needs it: the keys are
/// read then (a network call, kept off the cold start's init), and kept for the
/// execution environment's life. A failed read leaves it unmade, for the next
/// request to try again.
pub struct CoreOnFirstUse {
    sdk: aws_config::SdkConfig,
    cell: OnceCell<Core>,
}

impl CoreOnFirstUse {
    /// Nothing is read yet.
    pub fn new(sdk: aws_config::SdkConfig) -> Self {
        Self {
            sdk,
            cell: OnceCell::new(),
        }
    }

    /// The core, made now if this is the first request.
    pub async fn get(&self) -> Result<&Core, ConfigError> {
        self.cell
            .get_or_try_init(|| Core::from_env(&self.sdk))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(extra: &[(&str, serde_json::Value)]) -> String {
        let mut v = serde_json::json!({
            "ACCESS_TOKEN_SIGNING_KEY": crate::testing::access_keys::ACCESS_KEY,
            "JWT_SIGNING_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            "CODE_HMAC_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            "TOTP_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        });
        for (k, x) in extra {
            v[*k] = x.clone();
        }
        v.to_string()
    }

    #[test]
    fn a_secret_of_the_key_settings_makes_the_keys_and_a_bad_one_names_no_value() {
        assert!(from_json(&secret(&[]), TokenLifetimes::default()).is_ok());
        // A rotation's earlier keys, as a JWKS object or as its text.
        let jwks = serde_json::to_value(
            from_json(&secret(&[]), TokenLifetimes::default())
                .unwrap()
                .tokens
                .jwks(),
        )
        .unwrap();
        for previous in [jwks.clone(), serde_json::Value::String(jwks.to_string())] {
            let keys = from_json(
                &secret(&[("ACCESS_TOKEN_PREVIOUS_KEYS", previous)]),
                TokenLifetimes::default(),
            );
            assert!(keys.is_ok(), "{:?}", keys.err());
        }
        let bad = from_json(
            &secret(&[("CODE_HMAC_KEY", "c2hvcnQ=".into())]),
            TokenLifetimes::default(),
        )
        .err()
        .expect("a short key is refused");
        assert_eq!(bad.var, "CODE_HMAC_KEY");
        assert!(!bad.reason.contains("c2hvcnQ"), "{bad}");
        let not_json = from_json("JWT_SIGNING_KEY=abc", TokenLifetimes::default())
            .err()
            .expect("not JSON");
        assert!(!not_json.to_string().contains("abc"), "{not_json}");
    }
}
