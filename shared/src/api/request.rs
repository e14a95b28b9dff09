//! Reading requests: JSON bodies that must be objects of the right shape, bearer
//! tokens, cookies. Every refusal is a 4xx the client can act on.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiError, Request};

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Parses the body as a JSON object into `T`, naming the field at fault when it
/// does not fit. Unknown fields are ignored, so clients may send more than we read.
pub fn parse_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let body = req.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large());
    }
    let content_type = header(req, http::header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && !(mime.starts_with("application/") && mime.ends_with("+json"))
    {
        return Err(ApiError::invalid_request(
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(
            "the body is empty; a JSON object is expected",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid_request("the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if path == "." || path.is_empty() {
            // serde reports a missing field at the parent, with its name in backticks.
            inner.split('`').nth(1).unwrap_or("body").to_string()
        } else {
            path
        };
        let message = if inner.starts_with("missing field") {
            format!("the field {field} is required")
        } else {
            format!("the field {field} is not valid: {inner}")
        };
        ApiError::invalid_field(&field, message)
    })
}

/// A header's value as text, if present and readable.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = header(req, http::header::AUTHORIZATION.as_str())?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// Where the request came from, for a security event: the sender the edge saw
/// ([`super::ClientInfo`]) and its User-Agent, the header's when the edge gave none.
pub fn origin(req: &Request) -> crate::audit::Origin {
    let client = super::client_info(req);
    let user_agent = client
        .user_agent
        .map(|s| s.chars().take(256).collect())
        .or_else(|| user_agent(req));
    crate::audit::Origin {
        ip: client.source_ip.map(|ip| ip.to_string()),
        user_agent,
    }
}

/// The User-Agent, cut to 256 characters.
pub fn user_agent(req: &Request) -> Option<String> {
    header(req, http::header::USER_AGENT.as_str()).map(|s| s.chars().take(256).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        count: Option<u32>,
    }

    fn req(ct: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    fn err(r: Result<Body, ApiError>) -> (u16, String) {
        let e = r.unwrap_err();
        let resp = e.into_response();
        let v: Value = serde_json::from_str(resp.body()).unwrap();
        (
            resp.status().as_u16(),
            v["field"].as_str().unwrap_or("").to_string(),
        )
    }

    #[test]
    fn reads_an_object_and_ignores_unknown_fields() {
        let b: Body = parse_body(&req(
            Some("application/json; charset=utf-8"),
            r#"{"email":"a","extra":1}"#,
        ))
        .unwrap();
        assert_eq!(b.email, "a");
    }

    #[test]
    fn names_the_missing_or_mistyped_field() {
        assert_eq!(
            err(parse_body(&req(Some("application/json"), r#"{}"#))),
            (400, "email".into())
        );
        assert_eq!(
            err(parse_body(&req(Some("application/json"), r#"{"email":5}"#))),
            (400, "email".into())
        );
        assert_eq!(
            err(parse_body(&req(
                Some("application/json"),
                r#"{"email":null}"#
            ))),
            (400, "email".into())
        );
        assert_eq!(
            err(parse_body(&req(
                Some("application/json"),
                r#"{"email":"a","count":-1}"#
            ))),
            (400, "count".into())
        );
    }

    #[test]
    fn refuses_other_content_types_non_objects_bad_json_and_big_bodies() {
        assert_eq!(err(parse_body(&req(None, r#"{"email":"a"}"#))).0, 400);
        assert_eq!(
            err(parse_body(&req(Some("text/plain"), r#"{"email":"a"}"#))).0,
            400
        );
        for body in ["[]", "\"x\"", "null", "{", "", "  "] {
            assert_eq!(
                err(parse_body(&req(Some("application/json"), body))).0,
                400,
                "{body:?}"
            );
        }
        let big = format!(r#"{{"email":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(err(parse_body(&req(Some("application/json"), &big))).0, 413);
    }

    #[test]
    fn reads_bearer_tokens_and_cookies() {
        let r = http::Request::builder()
            .header("authorization", "bearer abc.def")
            .header("cookie", "a=1; Identity.TwoFactorRememberMe=rb1.x.y")
            .body(vec![])
            .unwrap();
        assert_eq!(bearer_token(&r), Some("abc.def"));
        assert_eq!(
            cookie(&r, "Identity.TwoFactorRememberMe").as_deref(),
            Some("rb1.x.y")
        );
        assert_eq!(cookie(&r, "b"), None);
        let basic = http::Request::builder()
            .header("authorization", "Basic abc")
            .body(vec![])
            .unwrap();
        assert_eq!(bearer_token(&basic), None);
    }
}
