//! Email through Amazon SES (the v1 `SendEmail` API) from one verified address.

use async_trait::async_trait;
use aws_sdk_ses::error::{DisplayErrorContext, SdkError};
use aws_sdk_ses::operation::send_email::SendEmailError;
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use super::{DeliveryError, EmailMessage, EmailSender};
use crate::sdk::OnFirstUse;

/// Sends email with SES `SendEmail` from a verified address.
pub struct SesSender {
    client: OnFirstUse<aws_sdk_ses::Client>,
    from: String,
}

impl SesSender {
    /// A sender on this client, from this verified address.
    pub fn new(client: aws_sdk_ses::Client, from: String) -> Self {
        Self {
            client: OnFirstUse::ready(client),
            from,
        }
    }

    /// A sender whose client is made from `sdk` when the first email goes out.
    pub fn on_first_use(sdk: &aws_config::SdkConfig, from: String) -> Self {
        Self {
            client: OnFirstUse::new(sdk, crate::timeouts::ses),
            from,
        }
    }
}

fn utf8(text: &str) -> Result<Content, DeliveryError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| DeliveryError::Unavailable(format!("could not build an SES message: {e}")))
}

#[async_trait]
impl EmailSender for SesSender {
    #[tracing::instrument(name = "ses_send_email", skip_all)]
    async fn send_email(&self, m: &EmailMessage) -> Result<(), DeliveryError> {
        let message = Message::builder()
            .subject(utf8(&m.subject)?)
            .body(Body::builder().text(utf8(m.body.expose())?).build())
            .build();
        self.client
            .get()
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(delivery_error)
    }
}

/// SES refuses for reasons retrying cannot fix: an unverified sender or, in the
/// sandbox, recipient (`MessageRejected`), a MAIL FROM domain without its records,
/// a configuration set that does not exist. Those are `Refused`; the rest,
/// throttling and paused sending included, is `Unavailable`.
fn delivery_error(err: SdkError<SendEmailError>) -> DeliveryError {
    let refused = err.as_service_error().is_some_and(|e| {
        e.is_message_rejected()
            || e.is_mail_from_domain_not_verified_exception()
            || e.is_configuration_set_does_not_exist_exception()
    });
    let text = DisplayErrorContext(&err).to_string();
    if refused {
        DeliveryError::Refused(text)
    } else {
        DeliveryError::Unavailable(text)
    }
}
