//! The web console: static pages compiled into this function and served on the
//! API's own origin (`GET /` and `GET /console/{file}`), so the remember-browser
//! cookie stays `SameSite=Strict` and no CORS is needed. A fixed list of files:
//! nothing is read from disk, and no name a client sends reaches a path.

use http::{HeaderValue, StatusCode, header};
use twofa::api::{ApiError, Response};

/// The page's own scripts and styles only; `data:` images for the QR code the API
/// returns as SVG (an `<img>` never runs what an SVG carries); no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// (name under `/console/`, content type, content)
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/api.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/ui.js"),
    ),
    (
        "signin.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/signin.js"),
    ),
    (
        "account.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/account.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/admin.js"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/passkeys.js"),
    ),
    (
        "stepup.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/stepup.js"),
    ),
    (
        "password.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/password.js"),
    ),
    (
        "events.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/events.js"),
    ),
    (
        "users.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/users.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
];

const INDEX: &str = include_str!("../console/index.html");

/// `GET /`: the console's one page.
pub fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /console/{file}`: one of its scripts or its stylesheet.
pub fn asset(name: &str) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, body)| page(kind, body))
        .ok_or_else(|| ApiError::not_found("the console has no such file"))
}

fn page(content_type: &'static str, body: &str) -> Response {
    let mut r = http::Response::new(body.to_string());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Small files that change with each deploy: revalidate rather than serve a stale mix.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_loads_is_served_and_nothing_else() {
        for (name, _, _) in ASSETS {
            assert!(
                INDEX.contains(&format!("/console/{name}"))
                    || ASSETS
                        .iter()
                        .any(|(_, _, body)| body.contains(&format!("./{name}"))),
                "{name} is never loaded"
            );
        }
        for name in ["../lib.rs", "index.html", "", "app.js/", "APP.JS"] {
            assert_eq!(
                asset(name).err().map(|e| e.status()),
                Some(StatusCode::NOT_FOUND),
                "{name:?}"
            );
        }
    }

    #[test]
    fn the_pages_carry_no_inline_script_or_style() {
        assert!(
            !INDEX.contains("<style") && !INDEX.contains(" style="),
            "inline style in index.html"
        );
        let handler = INDEX.split(" on").skip(1).any(|rest| {
            rest.split('=')
                .next()
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase()))
        });
        assert!(!handler, "an inline event handler in index.html");
        assert_eq!(
            INDEX.matches("<script").count(),
            INDEX
                .matches("<script type=\"module\" src=\"/console/")
                .count(),
            "only external module scripts"
        );
        for (name, _, body) in ASSETS {
            assert!(
                !body.contains("innerHTML")
                    && !body.contains("eval(")
                    && !body.contains("localStorage.")
                    && !body.contains("document.cookie"),
                "{name}"
            );
            // Tokens stay in api.js's memory; its sessionStorage holds who signed in.
            assert!(
                *name == "api.js" || !body.contains("sessionStorage"),
                "{name} uses sessionStorage"
            );
        }
    }

    #[test]
    fn the_pages_are_small() {
        let total: usize = INDEX.len() + ASSETS.iter().map(|(_, _, b)| b.len()).sum::<usize>();
        assert!(
            total < 96 * 1024,
            "the console adds {total} bytes to the function"
        );
    }
}
