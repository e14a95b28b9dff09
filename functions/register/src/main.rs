//! Lambda entry point: settings and clients once per cold start, then one request per event.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::sdk::lambda_sdk_config(&twofa::config::ProcessEnv)?;
    let core = twofa::app::Core::from_env(&sdk).await?;
    twofa::api::lambda::run(|req| register::handle(&core, req)).await
}
