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

/// A function's operations: what a request to it can ask for, each on one route.
/// Made by [`operations!`](crate::operations), which keeps the routes, the
/// operations and the function's `ROUTES` in one table.
pub trait Operation: Copy + 'static {
    /// Every operation, in the table's order.
    const ALL: &'static [Self];
    /// The route that asks for it.
    fn route(self) -> Route;
}

/// The operation `req` asks for, with its path parameters; otherwise the contract's
/// 404 `not_found` for an unknown path, or 405 `method_not_allowed` naming the
/// methods a known path takes.
pub fn operation<O: Operation>(req: &super::Request) -> Result<(O, Vec<String>), super::ApiError> {
    let path = req.uri().path();
    let mut allowed = Vec::new();
    for &op in O::ALL {
        let route = op.route();
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if route.method == req.method().as_str() {
            return Ok((op, params));
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Err(super::ApiError::not_found(format!(
            "no route {} {path}",
            req.method()
        )))
    } else {
        Err(super::ApiError::method_not_allowed(path, &allowed))
    }
}

/// A function's route table: an enum of its operations, each with its method and
/// path, and the `ROUTES` the SAM template, openapi.yaml and the local API are
/// checked against. A handler `match`es on the enum, so the compiler refuses a
/// route without its arm.
///
/// ```
/// twofa::operations! {
///     /// What a request to the function asks for.
///     pub enum Operation {
///         /// `POST /register`.
///         Register = "POST" "/register",
///     }
/// }
/// assert_eq!(ROUTES[0].path, "/register");
/// ```
#[macro_export]
macro_rules! operations {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$doc:meta])* $variant:ident = $method:literal $path:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$doc])* $variant,)+
        }

        impl $crate::api::Operation for $name {
            const ALL: &'static [Self] = &[$($name::$variant,)+];
            fn route(self) -> $crate::api::Route {
                match self {
                    $($name::$variant => $crate::api::Route::new($method, $path),)+
                }
            }
        }

        /// The routes this function serves.
        $vis const ROUTES: &[$crate::api::Route] = &[$($crate::api::Route::new($method, $path),)+];
    };
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
