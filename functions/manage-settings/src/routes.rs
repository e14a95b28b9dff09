//! Dispatch: which module serves which route of [`crate::ROUTES`].

use twofa::api::{ApiError, Request, Response, Route, match_path};
use twofa::app::Core;
use twofa::senders::EmailSender;

use crate::{
    ROUTES, account, authenticator, console, devices, errors, events, lockout, password, recovery,
    settings, sign_out, tenants, users,
};

/// Finds the route for the request and serves it.
pub async fn dispatch(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let path = req.uri().path();
    let method = req.method().as_str();
    let mut allowed = Vec::new();
    for route in ROUTES {
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if route.method == method {
            return serve(core, email, req, *route, &params).await;
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Err(ApiError::not_found("there is no such route"))
    } else {
        Err(errors::method_not_allowed(&allowed))
    }
}

async fn serve(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    route: Route,
    params: &[String],
) -> Result<Response, ApiError> {
    // Every pattern below has at most one `{param}`.
    let param = params.first().map(String::as_str).unwrap_or_default();
    match (route.method, route.path) {
        ("GET", "/settings/two-factor") => settings::get(core, req).await,
        ("PUT", "/settings/two-factor") => settings::put(core, req).await,
        ("POST", "/tenants") => tenants::create(core, req).await,
        ("GET", "/tenants/{tenant}/features/two-factor") => {
            tenants::get_feature(core, req, param).await
        }
        ("PUT", "/tenants/{tenant}/features/two-factor") => {
            tenants::put_feature(core, req, param).await
        }
        ("GET", "/users/{user_id}/two-factor") => users::get(core, req, param).await,
        ("PUT", "/users/{user_id}/two-factor") => users::put(core, email, req, param).await,
        ("GET", "/account/two-factor") => account::get(core, req).await,
        ("PUT", "/account/two-factor") => account::put(core, email, req).await,
        ("POST", "/account/authenticator") => authenticator::create(core, req).await,
        ("DELETE", "/account/authenticator") => authenticator::delete(core, email, req).await,
        ("POST", "/account/authenticator/verify") => authenticator::verify(core, email, req).await,
        ("POST", "/account/recovery-codes") => recovery::regenerate(core, email, req).await,
        ("POST", "/account/forget-browser") => devices::forget_all(core, req).await,
        ("GET", "/account/devices") => devices::list(core, req).await,
        ("DELETE", "/account/devices/{device_id}") => devices::forget_one(core, req, param).await,
        ("PUT", "/account/password") => password::change(core, email, req).await,
        ("POST", "/account/sign-out-everywhere") => sign_out::everywhere(core, email, req).await,
        ("GET", "/settings/lockout") => lockout::get(core, req).await,
        ("PUT", "/settings/lockout") => lockout::put(core, req).await,
        ("GET", "/") => Ok(console::index()),
        ("GET", "/console/{file}") => console::asset(param),
        ("GET", "/users") => users::list(core, req).await,
        ("POST", "/users/{user_id}/unlock") => users::unlock(core, req, param).await,
        ("POST", "/users/{user_id}/reset-two-factor") => {
            users::reset_two_factor(core, email, req, param).await
        }
        ("GET", "/account/events") => events::own(core, req).await,
        ("GET", "/events") => events::side(core, req).await,
        _ => Err(ApiError::not_found("there is no such route")),
    }
}
