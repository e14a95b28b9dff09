//! The manage-settings function: settings, tenants, features, users' flags, the account
//! routes, and the web console's static pages.

use twofa::api::{Request, Response, respond_within};
use twofa::app::Core;
use twofa::senders::EmailSender;

mod account;
mod authenticator;
mod caller;
pub mod console;
mod devices;
mod events;
mod lockout;
mod passkeys;
mod password;
mod recovery;
mod routes;
mod sessions;
mod settings;
mod side;
mod sign_out;
mod tenants;
mod users;

pub use routes::{Operation, ROUTES};

/// Serves one request: an [`Operation`], 405 `method_not_allowed` for a known
/// path with another method, 404 `not_found` for anything else.
pub async fn handle(core: &Core, email: &dyn EmailSender, req: Request) -> Response {
    respond_within(routes::dispatch(core, email, &req)).await
}
