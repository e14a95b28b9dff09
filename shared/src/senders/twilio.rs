//! SMS through Twilio's Messages API. (Placeholder until the senders task lands.)

use async_trait::async_trait;

use super::{DeliveryError, SmsMessage, SmsSender};
use crate::config::{ConfigError, Env};

/// Sends SMS with Twilio.
pub struct TwilioSender;

impl TwilioSender {
    /// Reads `TWILIO_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_SEND_NUMBER`.
    pub fn from_env(_env: &dyn Env) -> Result<Self, ConfigError> {
        Err(ConfigError::new("SMS_PROVIDER", "twilio is not implemented yet"))
    }
}

#[async_trait]
impl SmsSender for TwilioSender {
    async fn send_sms(&self, _m: &SmsMessage) -> Result<(), DeliveryError> {
        Err(DeliveryError::Unavailable("Twilio sender not implemented yet".into()))
    }
}
