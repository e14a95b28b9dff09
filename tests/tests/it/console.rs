//! The web console as the local API serves it: the page and its files at the API's
//! own origin, each with the strict headers, and nothing else under /console/.
//! (tests/browser/ clicks through it in Chromium.)

use e2e::Client;
use e2e::{AppOptions, Backend, spawn_app};

#[tokio::test]
async fn the_console_page_and_its_files_are_served_with_strict_headers() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    let page = app
        .http
        .get(format!("{}/", app.base))
        .send()
        .await
        .expect("the local API answers");
    assert_eq!(page.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header(&page, "content-type").starts_with("text/html"));
    let csp = header(&page, "content-security-policy");
    for part in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "CSP {csp:?} lacks {part}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    let html = page.text().await.expect("a body");
    assert!(
        html.contains("<script type=\"module\" src=\"/console/app.js\">"),
        "{html}"
    );

    for (file, kind) in [("app.js", "text/javascript"), ("console.css", "text/css")] {
        let r = app
            .http
            .get(format!("{}/console/{file}", app.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(
            (
                r.status().as_u16(),
                header(&r, "content-type").starts_with(kind)
            ),
            (200, true),
            "{file}"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{file}");
    }
    for path in [
        "/console/",
        "/console/../Cargo.toml",
        "/console/%2e%2e%2fCargo.toml",
        "/console/index.html",
        "/console/app.js/x",
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    let post = app.post("/", &serde_json::json!({}), None).await;
    assert_eq!(
        (post.status, post.body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
}
