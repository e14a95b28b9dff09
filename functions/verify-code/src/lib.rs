//! The verify-code function: `POST /verify-code`. Checks a second-factor code to
//! finish a sign-in (authenticator, emailed or texted code, recovery code), or a
//! confirmation code for the account's email address or a phone number. Every code
//! works once; every wrong one counts toward the account lockout. Also
//! `POST /password/reset`, which takes a password reset code.

mod check;
mod confirm;
mod errors;
mod failure;
mod remember;
mod request;
mod reset;
mod sign_in;

use twofa::api::{ApiError, Request, Response, Route, respond};
use twofa::app::Core;
use twofa::senders::EmailSender;

use request::VerifyRequest;

/// The routes this function serves.
pub const ROUTES: &[Route] = &[
    Route::new("POST", "/verify-code"),
    Route::new("POST", "/password/reset"),
];

/// Serves one request.
pub async fn handle(core: &Core, email: &dyn EmailSender, req: Request) -> Response {
    if let Some(resp) = twofa::api::route_guard(ROUTES, &req) {
        return resp;
    }
    respond(serve(core, email, &req).await)
}

async fn serve(core: &Core, email: &dyn EmailSender, req: &Request) -> Result<Response, ApiError> {
    if twofa::api::match_path("/password/reset", req.uri().path()).is_some() {
        return reset::reset(core, email, req).await;
    }
    match VerifyRequest::parse(req)? {
        VerifyRequest::SignIn(sign_in) => sign_in::verify(core, email, req, sign_in).await,
        VerifyRequest::Confirm { purpose, code } => {
            confirm::verify(core, email, req, purpose, &code).await
        }
    }
}
