//! The send-code function: `POST /send-code`. Sends a one-time code by email or SMS,
//! either for the second factor of a sign-in (with a two-factor token) or to confirm
//! the account's email address or a phone number (with a bearer token). Also
//! `POST /password/forgot`, which emails a password reset code.

mod confirm;
mod deliver;
mod forgot;
mod request;
mod sign_in;
mod throttle;

use twofa::api::{ApiError, Request, Response, operation, respond_within};
use twofa::app::Core;
use twofa::senders::{EmailSender, SmsSender};

use request::SendRequest;

twofa::operations! {
    /// What a request to this function asks for.
    pub enum Operation {
        /// Send a sign-in or confirmation code.
        SendCode = "POST" "/send-code",
        /// Email a password reset code.
        ForgotPassword = "POST" "/password/forgot",
    }
}

/// Serves one request.
pub async fn handle(
    core: &Core,
    sms: &dyn SmsSender,
    email: &dyn EmailSender,
    req: Request,
) -> Response {
    respond_within(serve(core, sms, email, &req)).await
}

async fn serve(
    core: &Core,
    sms: &dyn SmsSender,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let senders = deliver::Senders { sms, email };
    match operation::<Operation>(req)?.0 {
        Operation::ForgotPassword => forgot::forgot(core, &senders, req).await,
        Operation::SendCode => send_code(core, &senders, req).await,
    }
}

async fn send_code(
    core: &Core,
    senders: &deliver::Senders<'_>,
    req: &Request,
) -> Result<Response, ApiError> {
    match SendRequest::parse(req)? {
        SendRequest::SignIn {
            two_factor_token,
            provider,
        } => {
            sign_in::send(
                core,
                senders,
                &two_factor_token,
                provider,
                twofa::api::client_info(req).source_ip,
            )
            .await
        }
        SendRequest::Confirm {
            purpose,
            phone_number,
        } => confirm::send(core, senders, req, purpose, phone_number).await,
    }
}
