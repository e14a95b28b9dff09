//! Route matching on method and path, with `{name}` segments.

/// A route: method and path pattern, e.g. `DELETE /account/devices/{device_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path pattern.
    pub path: &'static str,
}

impl Route {
    /// A route.
    pub const fn new(method: &'static str, path: &'static str) -> Self {
        Self { method, path }
    }
}

/// The longest path parameter, in octets once decoded. Ids, device ids and tenant
/// names (64 characters) fit; longer ones would reach DynamoDB's key-size limits
/// and answer 503 for what is a client's mistake.
pub const MAX_PARAM_OCTETS: usize = 256;

/// The values of the `{name}` segments if `path` matches `pattern`, in order.
/// A trailing slash is ignored; segments are percent-decoded. A parameter longer
/// than [`MAX_PARAM_OCTETS`] matches nothing, so it is answered 404 `not_found`.
pub fn match_path(pattern: &str, path: &str) -> Option<Vec<String>> {
    let p: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let a: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if p.len() != a.len() {
        return None;
    }
    let mut params = Vec::new();
    for (ps, s) in p.iter().zip(&a) {
        if ps.starts_with('{') && ps.ends_with('}') {
            if s.is_empty() {
                return None;
            }
            if s.len() > 3 * MAX_PARAM_OCTETS {
                return None;
            }
            params.push(percent_decode(s).filter(|p| p.len() <= MAX_PARAM_OCTETS)?);
        } else if ps != s {
            return None;
        }
    }
    Some(params)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The answer for a request no route of `routes` takes: 404 `not_found` for an
/// unknown path, 405 `method_not_allowed` for a known path with another method;
/// `None` when a route matches.
pub fn route_guard(routes: &[Route], req: &super::Request) -> Option<super::Response> {
    let path = req.uri().path();
    let on_path: Vec<&Route> = routes
        .iter()
        .filter(|r| match_path(r.path, path).is_some())
        .collect();
    if on_path.iter().any(|r| r.method == req.method().as_str()) {
        return None;
    }
    let err = if on_path.is_empty() {
        super::ApiError::not_found(format!("no route {} {path}", req.method()))
    } else {
        let allowed: Vec<&str> = on_path.iter().map(|r| r.method).collect();
        super::ApiError::new(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{path} takes {}", allowed.join(", ")),
        )
    };
    Some(err.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_literal_and_parameter_segments() {
        assert_eq!(match_path("/register", "/register"), Some(vec![]));
        assert_eq!(match_path("/register", "/register/"), Some(vec![]));
        assert_eq!(
            match_path("/users/{user_id}/two-factor", "/users/abc/two-factor"),
            Some(vec!["abc".into()])
        );
        assert_eq!(
            match_path(
                "/tenants/{tenant}/features/two-factor",
                "/tenants/a%20b/features/two-factor"
            ),
            Some(vec!["a b".into()])
        );
        assert_eq!(
            match_path("/users/{user_id}/two-factor", "/users//two-factor"),
            None
        );
        assert_eq!(
            match_path("/users/{user_id}/two-factor", "/users/a/b/two-factor"),
            None
        );
        assert_eq!(match_path("/login", "/logins"), None);
        assert_eq!(match_path("/x/{id}", "/x/%zz"), None);
    }
}
