//! The verify-code function: `POST /verify-code`.

use twofa::api::{Request, Response, Route};
use twofa::app::Core;
use twofa::senders::EmailSender;

/// The routes this function serves.
pub const ROUTES: &[Route] = &[Route::new("POST", "/verify-code")];

/// Serves one request.
pub async fn handle(_core: &Core, _email: &dyn EmailSender, _req: Request) -> Response {
    twofa::api::ApiError::not_found("not implemented yet").into_response()
}
