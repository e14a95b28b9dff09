//! SMS through Amazon SNS: `Publish` straight to a phone number, marked
//! transactional so SNS routes it for reliability rather than price.

use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use super::{DeliveryError, SmsMessage, SmsSender};
use crate::sdk::OnFirstUse;

/// Sends SMS with SNS `Publish` to a phone number.
pub struct SnsSender {
    client: OnFirstUse<aws_sdk_sns::Client>,
    sender_id: Option<String>,
    max_price_usd: Option<String>,
}

impl SnsSender {
    /// A sender on this client.
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self {
            client: OnFirstUse::ready(client),
            sender_id: None,
            max_price_usd: None,
        }
    }

    /// A sender whose client is made from `sdk` when the first text goes out.
    pub fn on_first_use(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: OnFirstUse::new(sdk, crate::timeouts::sns),
            sender_id: None,
            max_price_usd: None,
        }
    }

    /// Sets the alphanumeric sender id (`AWS.SNS.SMS.SenderID`) shown where the
    /// destination country supports one; `None` leaves the carrier's default.
    pub fn with_sender_id(mut self, sender_id: Option<String>) -> Self {
        self.sender_id = sender_id.filter(|s| !s.trim().is_empty());
        self
    }

    /// Sets the most SNS may charge for one text, in USD (`AWS.SNS.SMS.MaxPrice`):
    /// a text that would cost more is not sent, so a number in a dear destination
    /// cannot be texted at any price. `None` leaves the account's limits alone.
    pub fn with_max_price(mut self, usd: Option<String>) -> Self {
        self.max_price_usd = usd.filter(|s| !s.trim().is_empty());
        self
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, DeliveryError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| {
            DeliveryError::Unavailable(format!("could not build an SNS message attribute: {e}"))
        })
}

#[async_trait]
impl SmsSender for SnsSender {
    #[tracing::instrument(name = "sns_send_sms", skip_all)]
    async fn send_sms(&self, m: &SmsMessage) -> Result<(), DeliveryError> {
        let mut publish = self
            .client
            .get()
            .publish()
            .phone_number(&m.to)
            .message(m.body.expose())
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?);
        if let Some(id) = &self.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", string_attribute(id)?);
        }
        if let Some(usd) = &self.max_price_usd {
            let price = MessageAttributeValue::builder()
                .data_type("Number")
                .string_value(usd)
                .build()
                .map_err(|e| {
                    DeliveryError::Unavailable(format!(
                        "could not build an SNS message attribute: {e}"
                    ))
                })?;
            publish = publish.message_attributes("AWS.SNS.SMS.MaxPrice", price);
        }
        publish.send().await.map(|_| ()).map_err(delivery_error)
    }
}

/// Bad input (a number SNS will not take, a message it will not carry, a sender
/// this account may not use) is `Refused`: retrying cannot help. Everything else,
/// throttling and timeouts included, is `Unavailable`. The SDK's error text names
/// the operation and the service's reason, never the message we sent.
fn delivery_error(err: SdkError<PublishError>) -> DeliveryError {
    let refused = err.as_service_error().is_some_and(|e| {
        e.is_invalid_parameter_exception()
            || e.is_invalid_parameter_value_exception()
            || e.is_authorization_error_exception()
            || e.is_validation_exception()
            || e.is_endpoint_disabled_exception()
    });
    let text = DisplayErrorContext(&err).to_string();
    if refused {
        DeliveryError::Refused(text)
    } else {
        DeliveryError::Unavailable(text)
    }
}
