//! Lambda entry point: settings and clients once per cold start, then one request per event.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::app::aws_sdk_config().await;
    let core = twofa::app::Core::from_env(&sdk).await?;
    twofa::api::lambda::run(|req| register::handle(&core, req)).await
}
