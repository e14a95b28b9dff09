//! Settings from the environment, each with its documented default. A value that is
//! set but cannot be used stops the function at start with the variable's name.

use std::collections::HashMap;

use crate::lockout::LockoutPolicy;
use crate::passkeys::RpConfig;
use crate::tokens::{TokenLifetimes, TokenNames};

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// An error about `var`.
    pub fn new(var: &str, reason: impl Into<String>) -> Self {
        Self {
            var: var.to_string(),
            reason: reason.into(),
        }
    }
}

/// Where settings come from: the process environment, or a map in tests.
pub trait Env: Send + Sync {
    /// The value of `var`, if set and not empty.
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, var: &str) -> Option<String> {
        HashMap::get(self, var)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

fn number<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    env: &dyn Env,
    var: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(v) => {
            let n: T = v
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(var, format!("{v:?} is not a number")))?;
            if n < min || n > max {
                return Err(ConfigError::new(
                    var,
                    format!("must be between {min} and {max}"),
                ));
            }
            Ok(n)
        }
    }
}

/// `TOKEN_ISSUER` as relying APIs compare it: an `https` URL (or `http` on a
/// loopback host, for the local API) with no trailing slash, query or fragment;
/// discovery is served under it.
/// The relying party's settings, checked by building it once: a wrong RP ID or
/// origin stops the function at start rather than failing every ceremony.
fn webauthn(env: &dyn Env) -> Result<Option<RpConfig>, ConfigError> {
    let Some(rp_id) = env
        .get("WEBAUTHN_RP_ID")
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return Ok(None);
    };
    let origins = match env.get("WEBAUTHN_ORIGINS") {
        Some(list) => list
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect(),
        None => vec![format!("https://{rp_id}")],
    };
    let config = RpConfig {
        rp_id,
        rp_name: env
            .get("WEBAUTHN_RP_NAME")
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|| "twofa".into()),
        origins,
    };
    #[cfg(feature = "passkeys")]
    crate::passkeys::RelyingParty::new(&config)
        .map_err(|reason| ConfigError::new("WEBAUTHN_ORIGINS", reason))?;
    Ok(Some(config))
}

fn issuer(text: &str) -> Result<String, ConfigError> {
    let t = text.trim();
    let refuse = |why: &str| ConfigError::new("TOKEN_ISSUER", format!("{t:?} {why}"));
    let rest = t
        .strip_prefix("https://")
        .or_else(|| {
            t.strip_prefix("http://").filter(|r| {
                ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
                    r == h || r.starts_with(&format!("{h}:")) || r.starts_with(&format!("{h}/"))
                })
            })
        })
        .ok_or_else(|| refuse("is not an https URL (http only on a loopback host)"))?;
    if rest.is_empty() || t.ends_with('/') || t.contains(['?', '#', ' ']) {
        return Err(refuse(
            "must be a URL with a host and no trailing slash, query or fragment",
        ));
    }
    Ok(t.to_string())
}

/// Which SMS provider sends texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsProvider {
    /// Log only (local use, default).
    Log,
    /// Amazon SNS.
    Sns,
    /// Twilio's Messages API.
    Twilio,
}

/// Which email provider sends mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailProvider {
    /// Log only (local use, default).
    Log,
    /// Amazon SES, from `SES_FROM`, the verified sender address (required with `ses`).
    Ses {
        /// The verified sender address.
        from: String,
    },
}

/// Every non-secret setting.
#[derive(Debug, Clone)]
pub struct Config {
    /// `LOCKOUT_MAX_FAILED_ATTEMPTS` (5) and `LOCKOUT_DURATION_SECONDS` (300).
    pub lockout: LockoutPolicy,
    /// `PASSWORD_MIN_LENGTH` (12).
    pub password_min_length: usize,
    /// `CODE_TTL_SECONDS` (300).
    pub code_ttl_seconds: i64,
    /// `RESEND_COOLDOWN_SECONDS` (30).
    pub resend_cooldown_seconds: i64,
    /// `SEND_LIMIT_PER_USER_PER_HOUR` (10).
    pub sends_per_user_per_hour: u32,
    /// `SEND_LIMIT_PER_DESTINATION_PER_HOUR` (10): a number or address shared by a household or a team is legitimate; harassment and pumping stay capped.
    pub sends_per_destination_per_hour: u32,
    /// `SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR` (200): texted confirmation codes
    /// for one tenant (or the host), which any registered account may ask (emails cost
    /// next to nothing, and count in no budget of the side). Sign-in codes have
    /// no such budget of the side (`SEND_LIMIT_PER_TENANT_PER_HOUR` is no longer read):
    /// accounts anyone can register could fill it for every other user.
    pub confirmations_per_tenant_per_hour: u32,
    /// `SEND_LIMIT_PER_IP_PER_HOUR` (100): codes requested from one source address
    /// (an IPv6 /64) in an hour, whatever the account; sign-in codes and
    /// confirmations (which need no password) each count this many apart. Resets
    /// count in no budget of the address: strangers sharing it could spend it.
    pub sends_per_ip_per_hour: u32,
    /// `ALLOWED_COUNTRY_CODES`: calling codes SMS may go to, e.g. `1,44`; empty allows all.
    pub allowed_country_codes: Vec<u16>,
    /// `REMEMBER_BROWSER_DAYS` (14).
    pub remember_browser_days: i64,
    /// `REMEMBER_BROWSER_COOKIE` (`Identity.TwoFactorRememberMe`).
    pub remember_browser_cookie: String,
    /// `ACCESS_TOKEN_TTL_SECONDS` (900), two-factor tokens 300, setup tokens 600.
    pub token_lifetimes: TokenLifetimes,
    /// `REFRESH_TOKEN_TTL_SECONDS` (2,592,000: 30 days): how long a session lasts from
    /// its sign-in, however often it is refreshed.
    pub refresh_token_ttl_seconds: i64,
    /// `TOKEN_ISSUER` (unset: each sign-in names the URL it was asked at) and
    /// `TOKEN_AUDIENCE` (`twofa`): the `iss` and `aud` of access tokens.
    pub token_names: TokenNames,
    /// `STEP_UP_MAX_AGE_SECONDS` (600): how fresh a second factor must be to weaken the account.
    pub step_up_max_age_seconds: i64,
    /// `PASSWORD_RESET_ANSWER_MS` (1000): the least time every `/password/forgot`
    /// answer and every refused `/password/reset` takes, so that how long the work
    /// took (a lookup that found nothing, or one that went on to email a code) does
    /// not tell which emails have accounts. Set it above the email provider's slowest
    /// usual send.
    pub password_reset_answer_ms: u64,
    /// `LOCKED_ANSWER_MS` (1000): the least time a `/login` answered 423 takes.
    /// The attempt that locks a real account with a confirmed email sends its owner
    /// the lockout notice first; without this floor that send would make it answer
    /// later than the attempt that locks an unknown email, and tell that the account
    /// exists. Set it above the email provider's slowest usual send plus a password
    /// check.
    pub locked_answer_ms: u64,
    /// `TOTP_ISSUER` (`twofa`): the issuer authenticator apps show.
    pub totp_issuer: String,
    /// `SMS_PROVIDER`: `log` (default), `sns` or `twilio`. In a Lambda function `log`
    /// is refused unless `TEST_STACK` is `true`.
    pub sms_provider: SmsProvider,
    /// `EMAIL_PROVIDER`: `log` (default) or `ses` (with `SES_FROM`); `log` as for SMS.
    pub email_provider: EmailProvider,
    /// `EVENT_RETENTION_DAYS` (90): how long security events are kept before the table's TTL drops them.
    pub event_retention_days: i64,
    /// The passkeys' relying party: `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` (`twofa`) and
    /// `WEBAUTHN_ORIGINS` (`https://<rp id>`). Without an RP ID a deployment has no
    /// passkeys: none is offered, enrolled or accepted.
    pub webauthn: Option<RpConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self::read(&HashMap::new()).expect("the defaults are valid")
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&ProcessEnv)
    }

    /// Reads settings from `env`.
    pub fn read(env: &dyn Env) -> Result<Self, ConfigError> {
        let sms_provider = match env
            .get("SMS_PROVIDER")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("log") => SmsProvider::Log,
            Some("sns") => SmsProvider::Sns,
            Some("twilio") => SmsProvider::Twilio,
            Some(o) => {
                return Err(ConfigError::new(
                    "SMS_PROVIDER",
                    format!("{o:?} is not one of log, sns, twilio"),
                ));
            }
        };
        let email_provider = match env
            .get("EMAIL_PROVIDER")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("log") => EmailProvider::Log,
            Some("ses") => EmailProvider::Ses {
                from: env.get("SES_FROM").ok_or_else(|| {
                    ConfigError::new("SES_FROM", "required when EMAIL_PROVIDER is ses")
                })?,
            },
            Some(o) => {
                return Err(ConfigError::new(
                    "EMAIL_PROVIDER",
                    format!("{o:?} is not one of log, ses"),
                ));
            }
        };
        // The log senders write every code to the log; in CloudWatch anyone who may read
        // the function's logs could take over accounts with them. A Lambda function (Lambda
        // sets AWS_LAMBDA_FUNCTION_NAME) runs them only in a stack deployed as a test stack
        // (template.yaml's TestStack); the local API and the tests keep them.
        let test_stack = match env.get("TEST_STACK").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(o) => {
                return Err(ConfigError::new(
                    "TEST_STACK",
                    format!("{o:?} is not true or false"),
                ));
            }
        };
        if env.get("AWS_LAMBDA_FUNCTION_NAME").is_some() && !test_stack {
            let refuse = |var: &str| {
                ConfigError::new(
                    var,
                    "log writes codes to the function's log: allowed only in a test stack \
                     (TEST_STACK=true, the template's TestStack); choose a real provider",
                )
            };
            if sms_provider == SmsProvider::Log {
                return Err(refuse("SMS_PROVIDER"));
            }
            if email_provider == EmailProvider::Log {
                return Err(refuse("EMAIL_PROVIDER"));
            }
        }
        let allowed_country_codes = match env.get("ALLOWED_COUNTRY_CODES") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(|c| c.trim().trim_start_matches('+'))
                .filter(|c| !c.is_empty())
                .map(|c| {
                    c.parse::<u16>().map_err(|_| {
                        ConfigError::new(
                            "ALLOWED_COUNTRY_CODES",
                            format!("{c:?} is not a calling code"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            lockout: LockoutPolicy {
                max_failed_attempts: number(env, "LOCKOUT_MAX_FAILED_ATTEMPTS", 5, 1, 100)?,
                duration_seconds: number(env, "LOCKOUT_DURATION_SECONDS", 300, 1, 86_400 * 30)?,
            },
            password_min_length: number(env, "PASSWORD_MIN_LENGTH", 12, 8, 128)?,
            code_ttl_seconds: number(env, "CODE_TTL_SECONDS", 300, 30, 600)?,
            resend_cooldown_seconds: number(env, "RESEND_COOLDOWN_SECONDS", 30, 0, 3600)?,
            sends_per_user_per_hour: number(env, "SEND_LIMIT_PER_USER_PER_HOUR", 10, 1, 10_000)?,
            sends_per_destination_per_hour: number(
                env,
                "SEND_LIMIT_PER_DESTINATION_PER_HOUR",
                10,
                1,
                10_000,
            )?,
            confirmations_per_tenant_per_hour: number(
                env,
                "SEND_LIMIT_CONFIRMATIONS_PER_TENANT_PER_HOUR",
                200,
                1,
                10_000_000,
            )?,
            sends_per_ip_per_hour: number(env, "SEND_LIMIT_PER_IP_PER_HOUR", 100, 1, 10_000_000)?,
            allowed_country_codes,
            remember_browser_days: number(env, "REMEMBER_BROWSER_DAYS", 14, 1, 365)?,
            remember_browser_cookie: env
                .get("REMEMBER_BROWSER_COOKIE")
                .unwrap_or_else(|| "Identity.TwoFactorRememberMe".into()),
            token_lifetimes: TokenLifetimes {
                access: number(env, "ACCESS_TOKEN_TTL_SECONDS", 900, 60, 86_400)?,
                ..TokenLifetimes::default()
            },
            refresh_token_ttl_seconds: number(
                env,
                "REFRESH_TOKEN_TTL_SECONDS",
                2_592_000,
                300,
                31_536_000,
            )?,
            token_names: TokenNames {
                issuer: env.get("TOKEN_ISSUER").map(|i| issuer(&i)).transpose()?,
                audience: env
                    .get("TOKEN_AUDIENCE")
                    .map(|a| a.trim().to_string())
                    .unwrap_or_else(|| "twofa".into()),
            },
            step_up_max_age_seconds: number(env, "STEP_UP_MAX_AGE_SECONDS", 600, 60, 86_400)?,
            password_reset_answer_ms: number(env, "PASSWORD_RESET_ANSWER_MS", 1000, 0, 5000)?,
            locked_answer_ms: number(env, "LOCKED_ANSWER_MS", 1000, 0, 5000)?,
            totp_issuer: env.get("TOTP_ISSUER").unwrap_or_else(|| "twofa".into()),
            sms_provider,
            email_provider,
            event_retention_days: number(env, "EVENT_RETENTION_DAYS", 90, 1, 3650)?,
            webauthn: webauthn(env)?,
        })
    }

    /// Whether SMS may go to numbers with this calling code.
    pub fn sms_allowed_to(&self, country_code: u16) -> bool {
        self.allowed_country_codes.is_empty() || self.allowed_country_codes.contains(&country_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::default();
        assert_eq!(
            c.lockout,
            LockoutPolicy {
                max_failed_attempts: 5,
                duration_seconds: 300
            }
        );
        assert_eq!(
            (
                c.password_min_length,
                c.code_ttl_seconds,
                c.resend_cooldown_seconds
            ),
            (12, 300, 30)
        );
        assert_eq!(c.remember_browser_days, 14);
        assert_eq!(c.event_retention_days, 90);
        assert_eq!(
            (c.confirmations_per_tenant_per_hour, c.sends_per_ip_per_hour),
            (200, 100)
        );
        assert_eq!(c.remember_browser_cookie, "Identity.TwoFactorRememberMe");
        assert_eq!(
            (&c.sms_provider, &c.email_provider),
            (&SmsProvider::Log, &EmailProvider::Log)
        );
        assert!(c.sms_allowed_to(44));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let e = Config::read(&env(&[("LOCKOUT_MAX_FAILED_ATTEMPTS", "many")])).unwrap_err();
        assert_eq!(e.var, "LOCKOUT_MAX_FAILED_ATTEMPTS");
        // NIST SP 800-63B 5.2.2 allows at most 100 consecutive failures.
        assert_eq!(
            Config::read(&env(&[("LOCKOUT_MAX_FAILED_ATTEMPTS", "101")]))
                .unwrap_err()
                .var,
            "LOCKOUT_MAX_FAILED_ATTEMPTS"
        );
        assert!(Config::read(&env(&[("LOCKOUT_MAX_FAILED_ATTEMPTS", "100")])).is_ok());
        assert_eq!(
            Config::read(&env(&[("CODE_TTL_SECONDS", "3600")]))
                .unwrap_err()
                .var,
            "CODE_TTL_SECONDS"
        );
        assert_eq!(
            Config::read(&env(&[("EMAIL_PROVIDER", "ses")]))
                .unwrap_err()
                .var,
            "SES_FROM"
        );
        assert_eq!(
            Config::read(&env(&[("SMS_PROVIDER", "pigeon")]))
                .unwrap_err()
                .var,
            "SMS_PROVIDER"
        );
    }

    #[test]
    fn a_lambda_function_refuses_the_log_senders_unless_its_stack_is_a_test_stack() {
        // Lambda sets AWS_LAMBDA_FUNCTION_NAME; the local API and the tests do not.
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", "twofa-LoginFunction-x"),
            ("SES_FROM", "no-reply@example.com"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = lambda.to_vec();
            pairs.extend_from_slice(extra);
            Config::read(&env(&pairs))
        };
        for (extra, refused) in [
            (
                &[("SMS_PROVIDER", "sns"), ("EMAIL_PROVIDER", "ses")][..],
                None,
            ),
            (&[("EMAIL_PROVIDER", "ses")][..], Some("SMS_PROVIDER")),
            (
                &[("SMS_PROVIDER", "log"), ("EMAIL_PROVIDER", "ses")][..],
                Some("SMS_PROVIDER"),
            ),
            (
                &[("SMS_PROVIDER", "sns"), ("EMAIL_PROVIDER", "log")][..],
                Some("EMAIL_PROVIDER"),
            ),
            (&[("SMS_PROVIDER", "sns")][..], Some("EMAIL_PROVIDER")),
            (
                &[("SMS_PROVIDER", "log"), ("TEST_STACK", "false")][..],
                Some("SMS_PROVIDER"),
            ),
            (&[("SMS_PROVIDER", "log"), ("TEST_STACK", "true")][..], None),
        ] {
            assert_eq!(
                with(extra).err().map(|e| e.var),
                refused.map(str::to_string),
                "{extra:?}"
            );
        }
        assert_eq!(
            with(&[("SMS_PROVIDER", "sns"), ("TEST_STACK", "yes")])
                .unwrap_err()
                .var,
            "TEST_STACK"
        );
        // The local API keeps its log senders.
        assert!(Config::read(&env(&[("SMS_PROVIDER", "log")])).is_ok());
    }

    #[test]
    fn the_issuer_is_an_https_url_without_a_trailing_slash() {
        for (given, ok) in [
            ("https://auth.example.com", true),
            ("https://api.example.com/twofa", true),
            ("http://127.0.0.1:3000", true),
            ("http://localhost:3000", true),
            ("http://auth.example.com", false),
            ("https://auth.example.com/", false),
            ("https://", false),
            ("auth.example.com", false),
            ("https://a.example.com?x=1", false),
        ] {
            let read = Config::read(&env(&[("TOKEN_ISSUER", given)]));
            assert_eq!(read.is_ok(), ok, "{given}");
        }
        let c = Config::default();
        assert_eq!(
            (c.token_names.issuer, c.token_names.audience.as_str()),
            (None, "twofa")
        );
    }

    #[test]
    fn country_codes_limit_sms() {
        let c = Config::read(&env(&[("ALLOWED_COUNTRY_CODES", "1, +44")])).unwrap();
        assert!(c.sms_allowed_to(1) && c.sms_allowed_to(44) && !c.sms_allowed_to(7));
    }
}
