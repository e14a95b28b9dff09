//! The manage-settings function: settings, tenants, features, users' flags and the account routes.

use twofa::api::{Request, Response, Route};
use twofa::app::Core;
use twofa::senders::EmailSender;

/// The routes this function serves.
pub const ROUTES: &[Route] = &[
    Route::new("GET", "/settings/two-factor"),
    Route::new("PUT", "/settings/two-factor"),
    Route::new("POST", "/tenants"),
    Route::new("GET", "/tenants/{tenant}/features/two-factor"),
    Route::new("PUT", "/tenants/{tenant}/features/two-factor"),
    Route::new("GET", "/users/{user_id}/two-factor"),
    Route::new("PUT", "/users/{user_id}/two-factor"),
    Route::new("GET", "/account/two-factor"),
    Route::new("PUT", "/account/two-factor"),
    Route::new("POST", "/account/authenticator"),
    Route::new("DELETE", "/account/authenticator"),
    Route::new("POST", "/account/authenticator/verify"),
    Route::new("POST", "/account/recovery-codes"),
    Route::new("POST", "/account/forget-browser"),
    Route::new("GET", "/account/devices"),
    Route::new("DELETE", "/account/devices/{device_id}"),
];

/// Serves one request.
pub async fn handle(_core: &Core, _email: &dyn EmailSender, _req: Request) -> Response {
    twofa::api::ApiError::not_found("not implemented yet").into_response()
}
