//! What a relying API reads to verify twofa's access tokens by itself: the
//! discovery document and the JWKS (API.md v1.2). Both are public, the same for
//! every caller, and cached: a relying API's library and API Gateway's JWT
//! authorizer fetch them once, and again on a `kid` they do not know.

use http::{HeaderValue, StatusCode};
use serde_json::json;
use twofa::api::{Request, Response, json, sign_in_from};
use twofa::app::Core;

/// How long a relying API may keep either document. A new signing key is listed
/// (ACCESS_TOKEN_PREVIOUS_KEYS) longer than this before it signs (docs/deploy.md).
const MAX_AGE_SECONDS: u32 = 600;

/// The issuer the tokens signed for this request name, as discovery must say it.
fn issuer(core: &Core, req: &Request) -> String {
    core.tokens
        .names()
        .issuer
        .clone()
        .or(sign_in_from(req).issuer)
        .unwrap_or_else(|| "twofa".into())
}

fn cached(mut r: Response) -> Response {
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={MAX_AGE_SECONDS}"))
            .unwrap_or(HeaderValue::from_static("no-store")),
    );
    // Without TOKEN_ISSUER discovery names the host it was asked at: a shared cache
    // must not hand one host's answer to another.
    r.headers_mut()
        .insert(http::header::VARY, HeaderValue::from_static("Host"));
    r
}

/// `GET /.well-known/openid-configuration`.
pub fn discovery(core: &Core, req: &Request) -> Response {
    let issuer = issuer(core, req);
    cached(json(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/token/refresh"),
            "revocation_endpoint": format!("{issuer}/token/revoke"),
            "grant_types_supported": ["refresh_token"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": [twofa::tokens::SCOPE],
            "claims_supported": [
                "iss", "aud", "sub", "tenant", "roles", "sid", "auth_time", "amr", "acr",
                "scope", "iat", "nbf", "exp", "jti"
            ],
        }),
    ))
}

/// `GET /.well-known/jwks.json`: the public halves only.
pub fn jwks(core: &Core) -> Response {
    cached(json(StatusCode::OK, core.tokens.jwks()))
}
