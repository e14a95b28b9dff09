//! Lambda entry point: settings and clients once per cold start, then one request per event.

use twofa::senders::log::LogSender;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::sdk::lambda_sdk_config(&twofa::config::ProcessEnv)?;
    let core = twofa::app::Core::from_env(&sdk).await?;
    let email = twofa::app::email_sender(&core.config, &sdk, &LogSender::default())?;
    twofa::api::lambda::run(|req| verify_code::handle(&core, email.as_ref(), req)).await
}
