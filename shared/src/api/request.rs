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
    // Parsed already, so this only walks it again to find a name given twice.
    if let Err(e) = serde_json::from_slice::<NoDuplicateNames>(body) {
        return Err(ApiError::invalid_request(format!(
            "the body names a field twice: {e}"
        )));
    }
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

/// Any JSON in which no object names a field twice. `serde_json::Value` keeps the last
/// of two; a proxy, a log or a client library may read the first, and a body that
/// says two things must not be judged on one of them silently.
struct NoDuplicateNames;

impl<'de> serde::Deserialize<'de> for NoDuplicateNames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateNames)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateNames {
    type Value = NoDuplicateNames;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateNames>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            map.next_value::<NoDuplicateNames>()?;
            if !seen.insert(name.clone()) {
                return Err(serde::de::Error::custom(format!("\"{name}\"")));
            }
        }
        Ok(self)
    }
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

impl From<&Request> for crate::audit::Origin {
    fn from(req: &Request) -> Self {
        origin(req)
    }
}

/// Where a sign-in was asked from ([`crate::app::flows::SignInFrom`]): the URL the
/// request came to, for the issuer its tokens name when `TOKEN_ISSUER` is unset,
/// and the client. API Gateway routes a request to this API by its host, so the
/// host is this API's own domain (its execute-api name or a custom domain); one
/// that is not a plain host name is not used.
pub fn sign_in_from(req: &Request) -> crate::app::flows::SignInFrom {
    crate::app::flows::SignInFrom {
        issuer: header(req, http::header::HOST.as_str()).and_then(issuer_of_host),
        origin: origin(req),
    }
}

/// `https://` and the host, in one spelling whatever the client wrote: lower case,
/// without a trailing dot or the default port. Any other port, or anything but a
/// host name's characters, names no issuer.
fn issuer_of_host(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host);
    let host = host.strip_suffix('.').unwrap_or(host);
    let plain = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    plain.then(|| format!("https://{host}"))
}

/// The User-Agent, cut to 256 characters.
pub fn user_agent(req: &Request) -> Option<String> {
    header(req, http::header::USER_AGENT.as_str()).map(|s| s.chars().take(256).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_names_one_issuer_however_it_is_spelled_and_odd_hosts_none() {
        for host in [
            "Auth.Example.com",
            "auth.example.com.",
            "auth.example.com:443",
        ] {
            assert_eq!(
                issuer_of_host(host).as_deref(),
                Some("https://auth.example.com"),
                "{host}"
            );
        }
        for host in [
            "",
            "a:b:c",
            "auth.example.com:8443",
            "evil.com/x",
            "a b",
            "[::1]",
        ] {
            assert_eq!(issuer_of_host(host), None, "{host}");
        }
    }
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
    fn a_field_named_twice_is_refused_at_any_depth_whichever_value_would_win() {
        for body in [
            r#"{"email":"a@example.com","email":"b@example.com"}"#,
            r#"{"email":"a@example.com","count":1,"count":2}"#,
            r#"{"email":"a@example.com","extra":{"k":1,"k":2}}"#,
            r#"{"email":"a@example.com","extra":[{"k":1,"k":2}]}"#,
        ] {
            let r = parse_body::<Body>(&req(Some("application/json"), body));
            let e = r.expect_err(body);
            assert!(e.is(crate::api::ErrorCode::InvalidRequest), "{body}: {e:?}");
        }
        // The same name in two different objects is no duplicate.
        let ok = r#"{"email":"a@example.com","extra":[{"k":1},{"k":2}],"k":3}"#;
        assert!(parse_body::<Body>(&req(Some("application/json"), ok)).is_ok());
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
