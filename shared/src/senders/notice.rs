//! Security notices: the emails that tell a user something changed on their account.

use super::{EmailMessage, EmailSender};
use crate::secret::Secret;
use crate::user::User;

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
    if let Err(e) = email.send_email(&message).await {
        tracing::warn!(error = %e, user_id = %user.id, "security notice not sent");
    }
}
