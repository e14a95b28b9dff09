//! Lambda entry point: settings and clients once per cold start, then one request per event.

use twofa::config::ProcessEnv;
use twofa::senders::log::LogSender;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    twofa::telemetry::init();
    let sdk = twofa::sdk::lambda_sdk_config(&ProcessEnv)?;
    let core = twofa::app::Core::from_env(&sdk).await?;
    let log = LogSender::default();
    let sms = twofa::app::sms_sender(&core.config, &ProcessEnv, &sdk, &log)?;
    let email = twofa::app::email_sender(&core.config, &sdk, &log)?;
    twofa::api::lambda::run(|req| send_code::handle(&core, sms.as_ref(), email.as_ref(), req)).await
}
