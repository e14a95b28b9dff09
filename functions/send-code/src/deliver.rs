//! Issuing a code: throttle, make it, keep only its keyed hash (replacing the pending
//! one of the same purpose), deliver it, and take it back if delivery fails so no
//! code that never arrived stays usable.

use std::net::IpAddr;

use serde::Serialize;
use twofa::api::{ApiError, ErrorCode, Response, json};
use twofa::app::Core;
use twofa::codes::{CodePurpose, PendingCode, code_hash, new_code};
use twofa::email::Email;
use twofa::phone::PhoneNumber;
use twofa::secret::Secret;
use twofa::senders::{DeliveryError, EmailMessage, EmailSender, SmsMessage, SmsSender};
use twofa::user::User;

use crate::throttle;

/// The senders a code can go out through.
pub struct Senders<'a> {
    pub sms: &'a dyn SmsSender,
    pub email: &'a dyn EmailSender,
}

/// Where a code goes, and how the answer shows it.
pub struct Destination {
    /// E.164 number or email address, as the code is bound to it.
    pub address: String,
    /// The masked form for the answer.
    pub hint: String,
    /// What the per-destination limit counts under: addresses differing only in case are one.
    pub key: String,
}

impl Destination {
    /// An address, parsed when it was registered.
    pub fn email(address: &Email) -> Self {
        Self {
            address: address.as_str().to_string(),
            hint: address.masked(),
            key: address.key(),
        }
    }
    /// A number, parsed when it was given.
    pub fn phone(number: &PhoneNumber) -> Self {
        Self {
            address: number.as_str().to_string(),
            hint: number.masked(),
            key: number.as_str().to_string(),
        }
    }
}

#[derive(Serialize)]
struct Sent {
    provider: &'static str,
    destination_hint: String,
    expires_in: i64,
    resend_after: i64,
}

/// Sends a new code for `purpose` to `to`, bound to the sign-in `sid` that asked for
/// it (none for a confirmation), asked from `source`: 202, or 429 / 502.
pub async fn send_code(
    core: &Core,
    senders: &Senders<'_>,
    user: &User,
    purpose: CodePurpose,
    to: Destination,
    sid: Option<&str>,
    source: Option<IpAddr>,
) -> Result<Response, ApiError> {
    throttle::reserve(
        core,
        &throttle::limits(core, user, purpose, &to.key, source),
    )
    .await?;

    let now = core.now();
    let ttl = core.config.code_ttl_seconds;
    let code = new_code()?;
    let hash = code_hash(
        &core.hash_key,
        &user.id,
        purpose,
        &to.address,
        sid,
        code.expose(),
    );
    core.store
        .put_code(&PendingCode {
            user_id: user.id.clone(),
            purpose,
            destination: to.address.clone(),
            hash: hash.clone(),
            created_at: now,
            expires_at: now + ttl,
        })
        .await?;

    let channel = if purpose.is_sms() { "sms" } else { "email" };
    if let Err(e) = deliver(core, senders, purpose, &to.address, code).await {
        // Take back only our code: a concurrent send may already have replaced it.
        core.store.take_code(&user.id, purpose, &hash).await?;
        match &e {
            DeliveryError::Refused(_) => {
                tracing::warn!(error = %e, user_id = %user.id, channel, "code not delivered")
            }
            DeliveryError::Unavailable(_) => {
                tracing::error!(error = %e, user_id = %user.id, channel, "code not delivered")
            }
        }
        let message = if purpose.is_sms() {
            "text message"
        } else {
            "email"
        };
        return Err(ApiError::of(ErrorCode::DeliveryFailed).saying(format!(
            "the {message} could not be delivered; no code was issued, try again later"
        )));
    }
    tracing::info!(user_id = %user.id, purpose = purpose.as_str(), channel, "code sent");

    Ok(json(
        http::StatusCode::ACCEPTED,
        &Sent {
            provider: channel,
            destination_hint: to.hint,
            expires_in: ttl,
            resend_after: core.config.resend_cooldown_seconds,
        },
    ))
}

async fn deliver(
    core: &Core,
    senders: &Senders<'_>,
    purpose: CodePurpose,
    to: &str,
    code: Secret<String>,
) -> Result<(), DeliveryError> {
    let service = &core.config.totp_issuer;
    let expiry = expires_in_words(core.config.code_ttl_seconds);
    let c = code.expose();
    let (subject, text) = match purpose {
        CodePurpose::SignInEmail => (
            "Your sign-in code",
            format!(
                "Your {service} sign-in code is {c}. It expires in {expiry}.\n\nIf you did not try to sign in, change your password."
            ),
        ),
        CodePurpose::ConfirmEmail => (
            "Confirm your email address",
            format!(
                "Your {service} code to confirm this email address is {c}. It expires in {expiry}."
            ),
        ),
        CodePurpose::PasswordReset => (
            "Your password reset code",
            format!(
                "Your {service} code to reset your password is {c}. It expires in {expiry}.\n\nIf you did not ask to reset your password, ignore this email: your password stays as it is."
            ),
        ),
        CodePurpose::SignInSms => (
            "",
            format!("Your {service} sign-in code is {c}. It expires in {expiry}."),
        ),
        CodePurpose::ConfirmPhone => (
            "",
            format!(
                "Your {service} code to confirm this phone number is {c}. It expires in {expiry}."
            ),
        ),
    };
    let body = Secret::new(text);
    if purpose.is_sms() {
        senders
            .sms
            .send_sms(&SmsMessage {
                to: to.to_string(),
                body,
                code: Some(code),
            })
            .await
    } else {
        senders
            .email
            .send_email(&EmailMessage {
                to: to.to_string(),
                subject: subject.to_string(),
                body,
                code: Some(code),
            })
            .await
    }
}

fn expires_in_words(seconds: i64) -> String {
    match seconds {
        s if s % 60 == 0 && s >= 120 => format!("{} minutes", s / 60),
        60 => "1 minute".to_string(),
        s => format!("{s} seconds"),
    }
}
