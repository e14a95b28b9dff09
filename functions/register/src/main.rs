//! Lambda entry point: settings and clients once per cold start, then one request per event.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::sdk::lambda_sdk_config(&twofa::config::ProcessEnv)?;
    // A setting that cannot be used stops the function at start; the keys are read by
    // the first request, not at init (twofa::app::keys).
    twofa::config::Config::from_env()?;
    let core = twofa::app::keys::CoreOnFirstUse::new(sdk.clone());
    twofa::api::lambda::run(|req| async {
        match twofa::api::lambda::core(&core).await {
            Ok(core) => register::handle(core, req).await,
            Err(answer) => answer,
        }
    })
    .await
}
