//! Who is calling: which token kinds a route takes, and which side an admin administers.
//! Roles and side come from the stored user, never from the body.

use twofa::api::{ApiError, Caller, Request, authenticate};
use twofa::app::Core;
use twofa::side::Side;
use twofa::tokens::TokenKind;
use twofa::user::{Role, User};

/// A signed-in user with an access token: every route but enrolment.
pub async fn signed_in(core: &Core, req: &Request) -> Result<Caller, ApiError> {
    authenticate(core, req, &[TokenKind::Access]).await
}

/// An access token, or a setup token: the routes that add a provider, which a user
/// forced into two-factor sign-in without one must reach.
pub async fn enrolling(core: &Core, req: &Request) -> Result<Caller, ApiError> {
    authenticate(core, req, &[TokenKind::Access, TokenKind::Setup]).await
}

/// The side `user` administers: the host for a host admin, its own tenant for a
/// tenant admin. A role held outside its side (a host user marked tenant admin)
/// grants nothing.
pub fn administered(user: &User) -> Option<Side> {
    match &user.side {
        Side::Host if user.has_role(Role::HostAdmin) => Some(Side::Host),
        Side::Tenant(_) if user.has_role(Role::TenantAdmin) => Some(user.side.clone()),
        _ => None,
    }
}

/// The side the caller administers, or 403 `forbidden`.
pub fn admin(caller: &Caller) -> Result<Side, ApiError> {
    administered(&caller.user)
        .ok_or_else(|| ApiError::forbidden("only an administrator may do this"))
}

/// Nothing, if the caller is a host admin; else 403 `forbidden`.
pub fn host_admin(caller: &Caller) -> Result<(), ApiError> {
    match administered(&caller.user) {
        Some(Side::Host) => Ok(()),
        _ => Err(ApiError::forbidden("only a host administrator may do this")),
    }
}
