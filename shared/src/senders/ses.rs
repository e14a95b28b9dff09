//! Email through Amazon SES. (Placeholder until the senders task lands; refuses every message.)

use async_trait::async_trait;

use super::{DeliveryError, EmailMessage, EmailSender};

/// Sends email with SES `SendEmail` from a verified address.
pub struct SesSender {
    #[allow(dead_code)]
    client: aws_sdk_ses::Client,
    #[allow(dead_code)]
    from: String,
}

impl SesSender {
    /// A sender on this client, from this verified address.
    pub fn new(client: aws_sdk_ses::Client, from: String) -> Self {
        Self { client, from }
    }
}

#[async_trait]
impl EmailSender for SesSender {
    async fn send_email(&self, _m: &EmailMessage) -> Result<(), DeliveryError> {
        Err(DeliveryError::Unavailable("SES sender not implemented yet".into()))
    }
}
