//! A relying API verifies twofa's access tokens with a JWT library that knows
//! nothing of twofa (Python's PyJWT and its JWKS client): discovery and the JWKS
//! from the running local API, the signature, `iss`, `aud` and `exp`, and no token
//! twofa did not sign (tests/relying/verify_with_pyjwt.py).

use e2e::{AppOptions, Backend, Client, spawn_app};
use serde_json::{Value, json};
use twofa::testing::fixtures::{EMAIL, PASSWORD};

/// PyJWT lives in moto's Python environment (infra/scripts/services.sh).
fn python() -> std::path::PathBuf {
    e2e::repo_root().join(".services/venv/bin/python")
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto's Python environment, where PyJWT is (run infra/scripts/test.sh)"
)]
async fn pyjwt_verifies_an_access_token_from_the_jwks_and_refuses_any_other() {
    let app = spawn_app(&Backend::Memory, AppOptions::default()).await;
    let r = app
        .register(&json!({"email": EMAIL, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let signed_in = app.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let token = signed_in.body["access_token"].as_str().expect("a token");

    let out = tokio::process::Command::new(python())
        .arg(e2e::repo_root().join("tests/relying/verify_with_pyjwt.py"))
        .args([&app.base, token, twofa::testing::access_keys::ACCESS_KEY])
        .output()
        .await
        .expect("PyJWT's Python runs (infra/scripts/services.sh installs it)");
    assert!(
        out.status.success(),
        "PyJWT: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let claims: Value = serde_json::from_slice(&out.stdout).expect("the claims PyJWT verified");
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], "twofa");
    assert_eq!(claims["sub"], r.body["user_id"]);
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "aal1");
    assert_eq!(claims["scope"], "twofa");
    assert!(
        claims.get("tenant").is_none(),
        "a host user has no tenant claim"
    );
}
