//! `POST /token/refresh` and `POST /token/revoke`: a session after its sign-in
//! (`twofa::flows::refresh`).

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use twofa::api::{ApiError, Request, Response, json, parse_body, sign_in_from};
use twofa::app::Core;

#[derive(Deserialize)]
struct TokenBody {
    refresh_token: String,
}

/// A new access token and the next refresh token; the one presented stops working.
pub async fn refresh(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let body: TokenBody = parse_body(req)?;
    let renewed =
        twofa::flows::refresh::refresh(core, &body.refresh_token, &sign_in_from(req)).await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "access_token": renewed.access_token,
            "token_type": renewed.token_type,
            "expires_in": renewed.expires_in,
            "refresh_token": renewed.refresh_token,
            "refresh_expires_in": renewed.refresh_expires_in,
        }),
    ))
}

/// Ends the session the token names; `{}` whatever the token was (RFC 7009).
pub async fn revoke(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let body: TokenBody = parse_body(req)?;
    twofa::flows::refresh::revoke(core, &body.refresh_token).await?;
    Ok(json(StatusCode::OK, &json!({})))
}
