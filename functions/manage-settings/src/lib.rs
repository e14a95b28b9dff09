//! The manage-settings function: settings, tenants, features, users' flags, the account
//! routes, and the web console's static pages.

use twofa::api::{Request, Response, Route, respond};
use twofa::app::Core;
use twofa::senders::EmailSender;

mod account;
mod authenticator;
mod caller;
pub mod console;
mod devices;
mod errors;
mod events;
mod lockout;
mod password;
mod policy;
mod recovery;
mod routes;
mod settings;
mod sign_out;
mod tenants;
mod users;

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
    Route::new("PUT", "/account/password"),
    Route::new("POST", "/account/sign-out-everywhere"),
    Route::new("GET", "/settings/lockout"),
    Route::new("PUT", "/settings/lockout"),
    Route::new("GET", "/"),
    Route::new("GET", "/console/{file}"),
    Route::new("GET", "/users"),
    Route::new("POST", "/users/{user_id}/unlock"),
    Route::new("POST", "/users/{user_id}/reset-two-factor"),
    Route::new("GET", "/account/events"),
    Route::new("GET", "/events"),
];

/// Serves one request: a route of [`ROUTES`], 405 `method_not_allowed` for a known
/// path with another method, 404 `not_found` for anything else.
pub async fn handle(core: &Core, email: &dyn EmailSender, req: Request) -> Response {
    respond(routes::dispatch(core, email, &req).await)
}
