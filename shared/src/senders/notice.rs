//! Security notices: the emails that tell a user something changed on their account.

use super::{EmailMessage, EmailSender};
use crate::secret::Secret;
use crate::user::User;

/// What a notice leaves of the request's deadline for the answer after it.
const NOTICE_MARGIN: std::time::Duration = std::time::Duration::from_millis(300);

/// Sends a security notice to the user's confirmed address. Best effort: a notice
/// that cannot be sent is logged and the action it reports still stands.
pub async fn notify(email: &dyn EmailSender, user: &User, subject: &str, text: &str) {
    if !user.email_confirmed {
        return;
    }
    let message = EmailMessage {
        to: user.email.as_str().to_string(),
        subject: subject.to_string(),
        body: Secret::new(format!(
            "{text}\n\nIf this was not you, change your password and review your two-factor settings."
        )),
        code: None,
    };
    // A notice follows a change already written: one the request's deadline leaves no
    // time for is dropped (logged) rather than cutting the request into a 503 whose
    // retry would meet the change done (a spent code, an ended sign-in).
    let sent = match crate::timeouts::time_left() {
        Some(left) => {
            let budget = left.saturating_sub(NOTICE_MARGIN);
            match tokio::time::timeout(budget, email.send_email(&message)).await {
                Ok(sent) => sent.map_err(|e| e.to_string()),
                Err(_) => Err("no time left before the request's deadline".to_string()),
            }
        }
        None => email.send_email(&message).await.map_err(|e| e.to_string()),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, user_id = %user.id, "security notice not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::senders::DeliveryError;
    use crate::timeouts::{REQUEST_DEADLINE, within_deadline};
    use std::time::Duration;

    /// An email provider that takes the message and never answers.
    struct Hanging;

    #[async_trait::async_trait]
    impl EmailSender for Hanging {
        async fn send_email(&self, _: &EmailMessage) -> Result<(), DeliveryError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_notice_the_deadline_leaves_no_time_for_is_dropped_and_the_request_still_answers() {
        let mut user =
            crate::testing::seed_user_value(&crate::side::Side::Host, "notice@example.com");
        user.email_confirmed = true;
        let answered = within_deadline(async {
            // A change written late in the request (a slow store), then its notice.
            tokio::time::sleep(REQUEST_DEADLINE - Duration::from_secs(1)).await;
            notify(&Hanging, &user, "A recovery code was used", "text").await;
            "answered"
        })
        .await;
        assert_eq!(
            answered,
            Some("answered"),
            "the notice ran into the deadline: a 503 after the change was written"
        );
    }
}
