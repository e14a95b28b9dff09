//! Support for tests that need a real service (DynamoDB Local, moto): the test
//! command starts them and exports their endpoints. Outside CI a missing service
//! skips the test with a loud line; with `CI=true` it fails the run.

/// The endpoint in `var` (e.g. `DYNAMODB_ENDPOINT`, `MOTO_ENDPOINT`), or `None`
/// after saying so on stderr. Panics under `CI=true` when the variable is unset.
pub fn service_endpoint(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set: CI must run this test against the real service (run infra/scripts/test.sh)")
        }
        _ => {
            eprintln!("SKIPPED: {var} is not set; run infra/scripts/test.sh to test against the real service");
            None
        }
    }
}
