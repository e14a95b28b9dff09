//! The send-code function: `POST /send-code`. Sends a one-time code by email or SMS,
//! either for the second factor of a sign-in (with a two-factor token) or to confirm
//! the account's email address or a phone number (with a bearer token). Also
//! `POST /password/forgot`, which emails a password reset code.

mod confirm;
mod deliver;
mod errors;
mod forgot;
mod request;
mod sign_in;
mod throttle;

use twofa::api::{ApiError, Request, Response, Route, respond};
use twofa::app::Core;
use twofa::senders::{EmailSender, SmsSender};

use request::SendRequest;

/// The routes this function serves.
pub const ROUTES: &[Route] = &[
    Route::new("POST", "/send-code"),
    Route::new("POST", "/password/forgot"),
];

/// Serves one request.
pub async fn handle(
    core: &Core,
    sms: &dyn SmsSender,
    email: &dyn EmailSender,
    req: Request,
) -> Response {
    if let Some(resp) = twofa::api::route_guard(ROUTES, &req) {
        return resp;
    }
    respond(serve(core, sms, email, &req).await)
}

async fn serve(
    core: &Core,
    sms: &dyn SmsSender,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let senders = deliver::Senders { sms, email };
    if twofa::api::match_path("/password/forgot", req.uri().path()).is_some() {
        return forgot::forgot(core, &senders, req).await;
    }
    match SendRequest::parse(req)? {
        SendRequest::SignIn {
            two_factor_token,
            provider,
        } => {
            sign_in::send(
                core,
                &senders,
                &two_factor_token,
                provider,
                twofa::api::client_info(req).source_ip,
            )
            .await
        }
        SendRequest::Confirm(purpose) => confirm::send(core, &senders, req, purpose).await,
    }
}
