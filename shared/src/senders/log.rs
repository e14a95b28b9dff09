//! The log sender: for local runs and when no provider is configured. It delivers
//! nothing; it logs the message with its code (the one deliberate code in a log)
//! and keeps it in an outbox that the local API serves at `GET /_local/outbox`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;

use super::{DeliveryError, EmailMessage, EmailSender, SmsMessage, SmsSender};
use crate::clock::{Clock, SystemClock};

/// One message the log sender would have delivered.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxEntry {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// Number or address.
    pub to: String,
    /// Email subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// The code it carried, if any.
    pub code: Option<String>,
    /// When, in seconds since the epoch.
    pub sent_at: i64,
}

/// Logs messages and keeps them, newest last.
#[derive(Clone)]
pub struct LogSender {
    outbox: Arc<Mutex<Vec<OutboxEntry>>>,
    clock: Arc<dyn Clock>,
}

impl Default for LogSender {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl LogSender {
    /// A sender with an empty outbox.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            outbox: Arc::default(),
            clock,
        }
    }

    /// What was sent so far, newest last.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn keep(&self, entry: OutboxEntry) {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }
}

#[async_trait]
impl SmsSender for LogSender {
    async fn send_sms(&self, m: &SmsMessage) -> Result<(), DeliveryError> {
        let code = m.code.as_ref().map(|c| c.expose().clone());
        tracing::info!(channel = "sms", to = %m.to, code = code.as_deref().unwrap_or(""), "log sender: SMS not sent, logged instead");
        self.keep(OutboxEntry {
            channel: "sms",
            to: m.to.clone(),
            subject: None,
            body: m.body.expose().clone(),
            code,
            sent_at: self.clock.now(),
        });
        Ok(())
    }
}

#[async_trait]
impl EmailSender for LogSender {
    async fn send_email(&self, m: &EmailMessage) -> Result<(), DeliveryError> {
        let code = m.code.as_ref().map(|c| c.expose().clone());
        tracing::info!(channel = "email", to = %m.to, subject = %m.subject, code = code.as_deref().unwrap_or(""), "log sender: email not sent, logged instead");
        self.keep(OutboxEntry {
            channel: "email",
            to: m.to.clone(),
            subject: Some(m.subject.clone()),
            body: m.body.expose().clone(),
            code,
            sent_at: self.clock.now(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[tokio::test]
    async fn keeps_messages_newest_last_with_their_codes() {
        let s = LogSender::default();
        s.send_sms(&SmsMessage {
            to: "+15555550100".into(),
            body: Secret::new("code 123456".into()),
            code: Some(Secret::new("123456".into())),
        })
        .await
        .unwrap();
        s.send_email(&EmailMessage {
            to: "a@example.com".into(),
            subject: "Hi".into(),
            body: Secret::new("notice".into()),
            code: None,
        })
        .await
        .unwrap();
        let out = s.outbox();
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].channel, out[0].code.as_deref()),
            ("sms", Some("123456"))
        );
        assert_eq!(
            (out[1].channel, out[1].subject.as_deref()),
            ("email", Some("Hi"))
        );
    }
}
