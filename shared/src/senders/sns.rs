//! SMS through Amazon SNS. (Placeholder until the senders task lands; refuses every message.)

use async_trait::async_trait;

use super::{DeliveryError, SmsMessage, SmsSender};

/// Sends SMS with SNS `Publish` to a phone number.
pub struct SnsSender {
    #[allow(dead_code)]
    client: aws_sdk_sns::Client,
}

impl SnsSender {
    /// A sender on this client.
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SmsSender for SnsSender {
    async fn send_sms(&self, _m: &SmsMessage) -> Result<(), DeliveryError> {
        Err(DeliveryError::Unavailable("SNS sender not implemented yet".into()))
    }
}
