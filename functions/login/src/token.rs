//! `POST /token/refresh` and `POST /token/revoke`: a session after its sign-in
//! (`twofa::flows::refresh`).
//!
//! The refresh token comes in the body or, for the console, in the refresh cookie
//! ([`twofa::tokens::REFRESH_COOKIE`]) that page script cannot read: a body of `{}`
//! asks for the cookie's. The body's wins when both are there, so a client that
//! names a token is answered about that token.

use http::StatusCode;
use http::header::SET_COOKIE;
use serde::Deserialize;
use serde_json::json;
use twofa::api::{
    ApiError, Request, Response, cookie, json_with_headers, parse_body, sign_in_from,
};
use twofa::app::Core;
use twofa::tokens::{REFRESH_COOKIE, refresh_cookie_cleared};

#[derive(Deserialize)]
struct TokenBody {
    refresh_token: Option<String>,
}

/// The token of the body, else of the refresh cookie. A body that is not a JSON
/// object, or whose `refresh_token` is not a string, is refused either way.
fn presented(req: &Request) -> Result<Option<String>, ApiError> {
    let body: TokenBody = parse_body(req)?;
    Ok(body
        .refresh_token
        .or_else(|| cookie(req, REFRESH_COOKIE).filter(|c| !c.is_empty())))
}

/// A new access token and the next refresh token; the one presented stops working.
/// The next one is set as the refresh cookie too. A refusal leaves the cookie as it
/// is: the loser of two refreshes sent together (two tabs) must not clear the
/// winner's new cookie, which may reach the browser first.
pub async fn refresh(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let token = presented(req)?.ok_or_else(|| {
        ApiError::invalid_field(
            "refresh_token",
            "the field refresh_token is required (or the refresh cookie)",
        )
    })?;
    let renewed = twofa::flows::refresh::refresh(core, &token, &sign_in_from(req)).await?;
    Ok(json_with_headers(
        StatusCode::OK,
        &json!({
            "access_token": renewed.access_token,
            "token_type": renewed.token_type,
            "expires_in": renewed.expires_in,
            "refresh_token": renewed.refresh_token,
            "refresh_expires_in": renewed.refresh_expires_in,
        }),
        &[(SET_COOKIE, renewed.refresh_cookie())],
    ))
}

/// Ends the session the token names; `{}` whatever the token was, or with none
/// (RFC 7009). The refresh cookie is cleared: the browser is signed out.
pub async fn revoke(core: &Core, req: &Request) -> Result<Response, ApiError> {
    if let Some(token) = presented(req)? {
        twofa::flows::refresh::revoke(core, &token).await?;
    }
    Ok(json_with_headers(
        StatusCode::OK,
        &json!({}),
        &[(SET_COOKIE, refresh_cookie_cleared())],
    ))
}
