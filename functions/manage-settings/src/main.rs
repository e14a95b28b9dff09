//! Lambda entry point: settings and clients once per cold start, then one request per event.

use twofa::senders::log::LogSender;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::sdk::lambda_sdk_config(&twofa::config::ProcessEnv)?;
    // The keys are read by the first request, not at init (twofa::app::keys).
    let config = twofa::config::Config::from_env()?;
    let core = twofa::app::keys::CoreOnFirstUse::new(sdk.clone());
    let email = twofa::app::email_sender(&config, &sdk, &LogSender::default())?;
    twofa::api::lambda::run(|req| async {
        match twofa::api::lambda::core(&core).await {
            Ok(core) => manage_settings::handle(core, email.as_ref(), req).await,
            Err(answer) => answer,
        }
    })
    .await
}
