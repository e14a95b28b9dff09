//! The application: its wiring (the settings, keys, clock and store a handler works
//! with, [`Core`], and the builders the Lambda mains and the local API call once at
//! start) and the use cases a handler drives through it ([`flows`]).

pub mod flows;
#[cfg(feature = "aws")]
pub mod keys;

use std::sync::Arc;

use crate::clock::Clock;
#[cfg(feature = "aws")]
use crate::clock::SystemClock;
use crate::config::{Config, ConfigError, Env};
#[cfg(feature = "aws")]
use crate::config::{EmailProvider, ProcessEnv, SmsProvider};
use crate::crypto::{CryptoError, HashKey, SealKey, decode_key};
#[cfg(feature = "passkeys")]
use crate::passkeys::RelyingParty;
#[cfg(feature = "aws")]
use crate::senders::{
    EmailSender, SmsSender, log::LogSender, ses::SesSender, sns::SnsSender, twilio::TwilioSender,
};
use crate::store::Store;
use crate::tokens::{AccessKeys, Jwk, TokenLifetimes, Tokens};

/// The secrets: token signing, code hashing, TOTP key sealing.
pub struct Keys {
    /// Signs and checks tokens.
    pub tokens: Tokens,
    /// Hashes codes, recovery codes and device tokens.
    pub hash_key: HashKey,
    /// Seals TOTP keys at rest.
    pub seal_key: SealKey,
}

impl Keys {
    /// Reads `ACCESS_TOKEN_SIGNING_KEY` (the RSA key access tokens are signed with:
    /// base64 of its PKCS#8 DER, or PEM), `ACCESS_TOKEN_PREVIOUS_KEYS` (the JWKS, or
    /// a JSON list of its keys, of earlier keys whose tokens may still be alive),
    /// `JWT_SIGNING_KEY`, `JWT_KEY_ID` (default `k1`) and `JWT_PREVIOUS_KEYS`
    /// (`kid:base64,…`, still accepted) for the tokens only twofa reads,
    /// `CODE_HMAC_KEY` and `TOTP_ENCRYPTION_KEY` (base64; 32 bytes or more, the
    /// last exactly 32).
    pub fn from_env(env: &dyn Env, lifetimes: TokenLifetimes) -> Result<Self, ConfigError> {
        let required = |var: &str, min: usize| -> Result<Vec<u8>, ConfigError> {
            let v = env.get(var).ok_or_else(|| {
                ConfigError::new(var, "required (base64 of at least 32 random bytes)")
            })?;
            decode_key(&v, min).map_err(|e| ConfigError::new(var, e.to_string()))
        };
        let jwt = required("JWT_SIGNING_KEY", 32)?;
        let kid = env.get("JWT_KEY_ID").unwrap_or_else(|| "k1".into());
        let previous = match env.get("JWT_PREVIOUS_KEYS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once(':').ok_or_else(|| {
                        ConfigError::new("JWT_PREVIOUS_KEYS", "entries are kid:base64")
                    })?;
                    let key = decode_key(v, 32)
                        .map_err(|e| ConfigError::new("JWT_PREVIOUS_KEYS", e.to_string()))?;
                    Ok((k.trim().to_string(), key))
                })
                .collect::<Result<_, ConfigError>>()?,
        };
        let access_key = env.get("ACCESS_TOKEN_SIGNING_KEY").ok_or_else(|| {
            ConfigError::new(
                "ACCESS_TOKEN_SIGNING_KEY",
                "required (an RSA key of 2048 bits or more: base64 of PKCS#8 DER, or PEM; twofa-admin keys makes one)",
            )
        })?;
        let access_key = crate::crypto::decode_pkcs8(&access_key)
            .map_err(|e| ConfigError::new("ACCESS_TOKEN_SIGNING_KEY", e.to_string()))?;
        let previous_access = match env.get("ACCESS_TOKEN_PREVIOUS_KEYS") {
            None => Vec::new(),
            Some(text) => previous_jwks(&text)
                .map_err(|reason| ConfigError::new("ACCESS_TOKEN_PREVIOUS_KEYS", reason))?,
        };
        let access = AccessKeys::new(&access_key, previous_access)
            .map_err(|e| ConfigError::new("ACCESS_TOKEN_SIGNING_KEY", e.to_string()))?;
        let tokens = Tokens::new(&kid, &jwt, &previous, access, lifetimes)
            .map_err(|e| ConfigError::new("JWT_SIGNING_KEY", e.to_string()))?;
        let hash_key = HashKey::new(&required("CODE_HMAC_KEY", 32)?)
            .map_err(|e| ConfigError::new("CODE_HMAC_KEY", e.to_string()))?;
        let seal_key = SealKey::new(&required("TOTP_ENCRYPTION_KEY", 32)?)
            .map_err(|e| ConfigError::new("TOTP_ENCRYPTION_KEY", e.to_string()))?;
        Ok(Self {
            tokens,
            hash_key,
            seal_key,
        })
    }

    /// Fresh random keys beside the access-token key `access_pkcs8` (ring cannot
    /// make RSA keys; the local API and `twofa-admin` make one, tests use a fixed
    /// one): for the local API (tokens die with the process) and tests. Without
    /// randomness there are no keys: a fixed fallback would let anyone forge tokens.
    pub fn random(lifetimes: TokenLifetimes, access_pkcs8: &[u8]) -> Result<Self, CryptoError> {
        Self::from_random_source(lifetimes, access_pkcs8, crate::crypto::random_bytes)
    }

    fn from_random_source(
        lifetimes: TokenLifetimes,
        access_pkcs8: &[u8],
        random_bytes: impl Fn(usize) -> Result<Vec<u8>, CryptoError>,
    ) -> Result<Self, CryptoError> {
        let access = AccessKeys::new(access_pkcs8, Vec::new())?;
        Ok(Self {
            tokens: Tokens::new("local", &random_bytes(32)?, &[], access, lifetimes)?,
            hash_key: HashKey::new(&random_bytes(32)?)?,
            seal_key: SealKey::new(&random_bytes(32)?)?,
        })
    }
}

/// Whether a Lambda function may take its keys from its environment: under `sam
/// local` (which sets `AWS_SAM_LOCAL`), in a test stack, or outside Lambda. A
/// deployment never does: whatever put them there, anyone allowed
/// `lambda:GetFunctionConfiguration` reads them (and events/env.json's are public).
pub fn keys_may_be_in_the_environment(env: &dyn Env) -> bool {
    env.get("AWS_LAMBDA_FUNCTION_NAME").is_none()
        || env
            .get("AWS_SAM_LOCAL")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || env.get("TEST_STACK").is_some_and(|v| v.trim() == "true")
}

/// Earlier access-token keys as `ACCESS_TOKEN_PREVIOUS_KEYS` gives them: the JWKS
/// served before the rotation (`{"keys": [...]}`), or the list of its keys.
fn previous_jwks(text: &str) -> Result<Vec<Jwk>, String> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given {
        Set { keys: Vec<Jwk> },
        List(Vec<Jwk>),
    }
    match serde_json::from_str::<Given>(text) {
        Ok(Given::Set { keys } | Given::List(keys)) => Ok(keys),
        Err(e) => Err(format!(
            "not a JWKS or a list of JWKs (kty, kid, n, e): {e}"
        )),
    }
}

/// What every handler works with.
pub struct Core {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Config,
    /// Tokens.
    pub tokens: Tokens,
    /// Keyed hashes.
    pub hash_key: HashKey,
    /// TOTP key sealing.
    pub seal_key: SealKey,
    /// The passkeys' relying party, when the settings name one.
    #[cfg(feature = "passkeys")]
    pub passkeys: Option<RelyingParty>,
}

impl Core {
    /// Puts the parts together.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config, keys: Keys) -> Self {
        // The settings were checked when read (`Config::read` builds it once).
        #[cfg(feature = "passkeys")]
        let passkeys = config
            .webauthn
            .as_ref()
            .and_then(|rp| RelyingParty::new(rp).ok());
        Self {
            store,
            clock,
            #[cfg(feature = "passkeys")]
            passkeys,
            tokens: keys.tokens.named(config.token_names.clone()),
            config,
            hash_key: keys.hash_key,
            seal_key: keys.seal_key,
        }
    }

    /// The current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// An event of `event_type` on `user`, now, from where the request came from
    /// (an [`Origin`](crate::audit::Origin), or the edge's request, which makes one).
    pub fn event(
        &self,
        event_type: crate::audit::EventType,
        user: &crate::user::User,
        from: impl Into<crate::audit::Origin>,
    ) -> crate::audit::SecurityEvent {
        crate::audit::SecurityEvent::new(
            event_type,
            user,
            self.now(),
            self.config.event_retention_days,
            &from.into(),
        )
    }

    /// Stores an event. Best effort, like a security notice: the change it reports has
    /// happened and stands, so a store failure here is logged, not answered with a
    /// 503 that would invite a retry of the change.
    pub async fn record(&self, event: crate::audit::SecurityEvent) {
        self.record_all(vec![event]).await
    }

    /// Stores events that one request caused, in one write.
    pub async fn record_all(&self, events: Vec<crate::audit::SecurityEvent>) {
        if let Err(e) = self.store.record_events(&events).await {
            let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
            tracing::error!(error = %e, event_types = ?types, "security events not recorded");
        }
    }

    #[cfg(feature = "aws")]
    /// For a Lambda function: settings from the environment, keys from the secret
    /// `KEYS_SECRET_ID` names (or, where the environment holds them, as for `sam
    /// local`, from there: [`Keys::from_env`]), DynamoDB from `TABLE_NAME` (and
    /// `AWS_ENDPOINT_URL_DYNAMODB` or `DYNAMODB_ENDPOINT`, if set).
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let keys = match ProcessEnv.get("JWT_SIGNING_KEY") {
            Some(_) if !keys_may_be_in_the_environment(&ProcessEnv) => {
                return Err(ConfigError::new(
                    "JWT_SIGNING_KEY",
                    "keys in the environment are for sam local (AWS_SAM_LOCAL) and test stacks \
                     (TEST_STACK=true): a deployment reads them from KEYS_SECRET_ID",
                ));
            }
            Some(_) => Keys::from_env(&ProcessEnv, config.token_lifetimes)?,
            None => {
                let id = ProcessEnv.get("KEYS_SECRET_ID").ok_or_else(|| {
                    ConfigError::new(
                        "KEYS_SECRET_ID",
                        "required: the Secrets Manager secret holding the keys (docs/deploy.md)",
                    )
                })?;
                keys::from_secret(sdk, &id, config.token_lifetimes).await?
            }
        };
        let store = crate::store::dynamo::store_from_env(&ProcessEnv, sdk).await?;
        Ok(Self::new(store, Arc::new(SystemClock), config, keys))
    }
}

#[cfg(feature = "aws")]
/// The AWS SDK configuration from the usual chain (environment, role), loaded once.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::sdk::https_client())
        .load()
        .await
}

#[cfg(feature = "aws")]
/// The SMS sender `SMS_PROVIDER` names (with `sns`, `SNS_SENDER_ID` is an optional
/// sender id and `SNS_MAX_PRICE_USD` the most one text may cost). SNS's client is
/// made when the first text goes out (see [`crate::sdk`]).
pub fn sms_sender(
    config: &Config,
    env: &dyn Env,
    sdk: &aws_config::SdkConfig,
    log: &LogSender,
) -> Result<Arc<dyn SmsSender>, ConfigError> {
    Ok(match config.sms_provider {
        SmsProvider::Log => Arc::new(log.clone()),
        SmsProvider::Sns => {
            let max_price = env.get("SNS_MAX_PRICE_USD");
            if let Some(p) = &max_price
                && !p
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|usd| usd.is_finite() && usd > 0.0)
            {
                return Err(ConfigError::new(
                    "SNS_MAX_PRICE_USD",
                    format!("{p:?} is not a price in USD above zero"),
                ));
            }
            Arc::new(
                SnsSender::on_first_use(sdk)
                    .with_sender_id(env.get("SNS_SENDER_ID"))
                    .with_max_price(max_price.map(|p| p.trim().to_string())),
            )
        }
        SmsProvider::Twilio => Arc::new(TwilioSender::from_env(env)?),
    })
}

#[cfg(feature = "aws")]
/// The email sender `EMAIL_PROVIDER` names. SES's client is made when the first email
/// goes out (see [`crate::sdk`]).
pub fn email_sender(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    log: &LogSender,
) -> Result<Arc<dyn EmailSender>, ConfigError> {
    Ok(match &config.email_provider {
        EmailProvider::Ses { from } => Arc::new(SesSender::on_first_use(sdk, from.clone())),
        EmailProvider::Log => Arc::new(log.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "aws")]
    #[test]
    fn an_sns_maximum_price_that_is_not_a_price_stops_the_function_at_start() {
        let sdk = aws_config::SdkConfig::builder().build();
        let config = Config {
            sms_provider: SmsProvider::Sns,
            ..Config::default()
        };
        for (price, ok) in [
            ("0.10", true),
            ("2", true),
            ("lots", false),
            ("0", false),
            ("-1", false),
        ] {
            let env: std::collections::HashMap<String, String> =
                [("SNS_MAX_PRICE_USD".to_string(), price.to_string())].into();
            let sender = sms_sender(&config, &env, &sdk, &LogSender::default());
            assert_eq!(
                sender.err().map(|e| e.var),
                (!ok).then(|| "SNS_MAX_PRICE_USD".to_string()),
                "{price}"
            );
        }
    }

    #[test]
    fn only_sam_local_test_stacks_and_what_is_not_lambda_take_keys_from_the_environment() {
        let env = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "twofa-LoginFunction");
        assert!(keys_may_be_in_the_environment(&env(&[])));
        assert!(!keys_may_be_in_the_environment(&env(&[lambda])));
        assert!(keys_may_be_in_the_environment(&env(&[
            lambda,
            ("AWS_SAM_LOCAL", "true")
        ])));
        assert!(keys_may_be_in_the_environment(&env(&[
            lambda,
            ("TEST_STACK", "true")
        ])));
        assert!(!keys_may_be_in_the_environment(&env(&[
            lambda,
            ("TEST_STACK", "false")
        ])));
    }

    #[test]
    fn keys_are_refused_when_the_system_has_no_randomness() {
        let broken = |_: usize| Err(CryptoError::Random);
        let access = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            crate::testing::access_keys::ACCESS_KEY,
        )
        .unwrap();
        let keys = Keys::from_random_source(TokenLifetimes::default(), &access, broken);
        assert!(keys.is_err(), "keys made without randomness are guessable");
    }
}
