//! The register function: `POST /register`.

use twofa::api::{Request, Response, Route};
use twofa::app::Core;

/// The routes this function serves.
pub const ROUTES: &[Route] = &[Route::new("POST", "/register")];

/// Serves one request.
pub async fn handle(_core: &Core, _req: Request) -> Response {
    twofa::api::ApiError::not_found("not implemented yet").into_response()
}
