//! Lambda entry point: settings and clients once per cold start, then one request per event.

use twofa::config::ProcessEnv;
use twofa::senders::log::LogSender;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::sdk::lambda_sdk_config(&ProcessEnv)?;
    // The keys are read by the first request, not at init (twofa::app::keys).
    let config = twofa::config::Config::from_env()?;
    let core = twofa::app::keys::CoreOnFirstUse::new(sdk.clone());
    let log = LogSender::default();
    let sms = twofa::app::sms_sender(&config, &ProcessEnv, &sdk, &log)?;
    let email = twofa::app::email_sender(&config, &sdk, &log)?;
    twofa::api::lambda::run(|req| async {
        match twofa::api::lambda::core(&core).await {
            Ok(core) => send_code::handle(core, sms.as_ref(), email.as_ref(), req).await,
            Err(answer) => answer,
        }
    })
    .await
}
