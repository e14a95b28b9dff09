//! Marks the tests that need a service as ignored when it is missing, so that
//! cargo's summary counts them as ignored, never as passed. The test command
//! (`infra/scripts/test.sh`) starts DynamoDB Local and moto and exports their
//! endpoints; without `DYNAMODB_ENDPOINT` this sets `cfg(no_dynamodb)`, without
//! `MOTO_ENDPOINT` `cfg(no_moto)`, and the tests that need them carry
//! `#[cfg_attr(no_dynamodb, ignore = "…")]`. Under `CI=true` nothing is ignored:
//! such a test runs and fails (`twofa::testing::service_endpoint`).
//!
//! One script for every crate with such tests (`twofa`, `e2e`, `local-api`,
//! `manage-settings`; each names it with `build = ` in its Cargo.toml). Only the
//! cfg changes with the variables; setting or unsetting one rebuilds those crates.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_dynamodb)");
    println!("cargo::rustc-check-cfg=cfg(no_moto)");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    for (var, cfg) in [
        ("DYNAMODB_ENDPOINT", "no_dynamodb"),
        ("MOTO_ENDPOINT", "no_moto"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        let set = std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
        if !set && !ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
