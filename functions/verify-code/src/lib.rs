//! The verify-code function: `POST /verify-code`. Checks a second-factor code to
//! finish a sign-in (authenticator, emailed or texted code, recovery code, or a
//! passkey's assertion), or a
//! confirmation code for the account's email address or a phone number. Every code
//! works once; every wrong one counts toward the account lockout. Also
//! `POST /password/reset`, which takes a password reset code.

mod check;
mod confirm;
mod failure;
mod passkey;
mod request;
mod reset;
mod sign_in;

use twofa::api::{ApiError, Request, Response, operation, respond_within};
use twofa::app::Core;
use twofa::senders::EmailSender;

use request::VerifyRequest;

twofa::operations! {
    /// What a request to this function asks for.
    pub enum Operation {
        /// Check a sign-in or confirmation code.
        VerifyCode = "POST" "/verify-code",
        /// Set a new password with an emailed reset code.
        ResetPassword = "POST" "/password/reset",
    }
}

/// Serves one request.
pub async fn handle(core: &Core, email: &dyn EmailSender, req: Request) -> Response {
    respond_within(serve(core, email, &req)).await
}

async fn serve(core: &Core, email: &dyn EmailSender, req: &Request) -> Result<Response, ApiError> {
    match operation::<Operation>(req)?.0 {
        Operation::ResetPassword => reset::reset(core, email, req).await,
        Operation::VerifyCode => verify_code(core, email, req).await,
    }
}

async fn verify_code(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    match VerifyRequest::parse(req)? {
        VerifyRequest::SignIn(sign_in) => sign_in::verify(core, email, req, sign_in).await,
        VerifyRequest::Passkey(sign_in) => passkey::verify(core, email, req, sign_in).await,
        VerifyRequest::Confirm { purpose, code } => {
            confirm::verify(core, email, req, purpose, &code).await
        }
    }
}
