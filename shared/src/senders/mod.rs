//! The delivery ports: SMS and email senders behind narrow traits, chosen by
//! configuration. Adapters: [`sns`], [`twilio`] (SMS), [`ses`] (email), and
//! [`log`], which delivers nothing but logs the message and keeps it in an outbox
//! for local use, as ABP does in DEBUG. [`notify`] sends the security notices.

use async_trait::async_trait;

use crate::secret::Secret;

pub mod log;
mod notice;
pub use notice::notify;
#[cfg(feature = "aws")]
pub mod ses;
#[cfg(feature = "aws")]
pub mod sns;
#[cfg(feature = "twilio")]
pub mod twilio;

/// A text message.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    /// E.164 number.
    pub to: String,
    /// The text, code included.
    pub body: Secret<String>,
    /// The code it carries, if any (only the log sender looks at it).
    pub code: Option<Secret<String>>,
}

/// An email.
#[derive(Debug, Clone)]
pub struct EmailMessage {
    /// Address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body, code included.
    pub body: Secret<String>,
    /// The code it carries, if any (only the log sender looks at it).
    pub code: Option<Secret<String>>,
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The provider refused this message (bad number, unverified sender, …).
    #[error("refused by the provider: {0}")]
    Refused(String),
    /// The provider could not be reached, failed or timed out.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// Sends text messages.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Delivers one message or says why not.
    async fn send_sms(&self, message: &SmsMessage) -> Result<(), DeliveryError>;
}

/// Sends emails.
#[async_trait]
pub trait EmailSender: Send + Sync {
    /// Delivers one message or says why not.
    async fn send_email(&self, message: &EmailMessage) -> Result<(), DeliveryError>;
}
