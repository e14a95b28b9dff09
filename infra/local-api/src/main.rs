//! `cargo run -p local-api`: every route on 127.0.0.1:$PORT (default 3000).

use std::sync::Arc;

use local_api::LocalApi;
use local_api::admin::{Seeded, random_password, seed_host_admin, seed_local_admin};
use local_api::start::Target;
use twofa::app::{Core, Keys};
use twofa::clock::SystemClock;
use twofa::config::{Config, EmailProvider, Env, ProcessEnv, SmsProvider};
use twofa::senders::log::LogSender;
use twofa::store::Store;

#[tokio::main]
async fn main() {
    twofa::telemetry::init();
    if let Err(e) = run().await {
        eprintln!("local-api: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let env = ProcessEnv;
    let mut config = Config::from_env()?;
    let port: u16 = env
        .get("PORT")
        .map(|p| p.parse())
        .transpose()
        .map_err(|_| "PORT must be a port number")?
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let port = listener.local_addr()?.port();
    // Tokens name the local API's own origin, where its discovery document is.
    config
        .token_names
        .issuer
        .get_or_insert_with(|| format!("http://127.0.0.1:{port}"));
    // Passkeys for the local API's own pages unless configured: `localhost`, since
    // browsers take no IP address as an RP ID (open the console at localhost, not
    // 127.0.0.1, to use them).
    if config.webauthn.is_none() {
        config.webauthn = Some(twofa::passkeys::RpConfig {
            rp_id: "localhost".into(),
            rp_name: "twofa (local)".into(),
            origins: vec![format!("http://localhost:{port}")],
        });
    }
    // Keys from the environment when given (tokens then survive restarts), else fresh ones.
    let keys = match env.get("JWT_SIGNING_KEY") {
        Some(_) => Keys::from_env(&env, config.token_lifetimes)?,
        None => {
            tracing::info!(
                "no JWT_SIGNING_KEY: using random keys for this run; tokens die when it stops"
            );
            Keys::random(
                config.token_lifetimes,
                &local_api::keys::access_token_key()?,
            )?
        }
    };
    // TABLE_NAME selects DynamoDB: DynamoDB Local at an explicit endpoint, AWS's only with LOCAL_API_USE_AWS=true.
    let target = local_api::start::target(&env)?;
    // The AWS configuration chain probes for a region and credentials (IMDS among
    // them): only worth it when something here talks to AWS.
    let needs_aws = matches!(target, Target::Dynamo { .. })
        || config.sms_provider == SmsProvider::Sns
        || matches!(config.email_provider, EmailProvider::Ses { .. });
    let sdk = if needs_aws {
        twofa::app::aws_sdk_config().await
    } else {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    };
    let (store, may_seed): (Arc<dyn Store>, bool) = match target {
        Target::Dynamo { table, endpoint } => {
            let opened = local_api::start::open_dynamo(&env, &sdk).await?;
            tracing::info!(%table, endpoint = endpoint.as_deref().unwrap_or("AWS"), "using DynamoDB");
            (opened.store, opened.may_seed)
        }
        Target::Memory => {
            tracing::info!("using the embedded store; data lives until the process stops");
            (Arc::new(twofa::store::memory::MemoryStore::new()), true)
        }
    };
    let outbox = LogSender::new(Arc::new(SystemClock));
    let sms = twofa::app::sms_sender(&config, &env, &sdk, &outbox)?;
    let email = twofa::app::email_sender(&config, &sdk, &outbox)?;
    let core = Core::new(store, Arc::new(SystemClock), config, keys);

    match (
        env.get("LOCAL_ADMIN_EMAIL"),
        env.get("LOCAL_ADMIN_PASSWORD"),
    ) {
        _ if !may_seed => eprintln!(
            "local-api: not seeding a host admin: the table existed before and the local API did not create it \
             (use create-host-admin to add an admin to a table on purpose)"
        ),
        (Some(email), Some(password)) => match seed_local_admin(&core, &email, &password).await? {
            Seeded::Created(_) => tracing::info!(email = %email, "host admin created"),
            Seeded::Existed(_) => tracing::info!(email = %email, "host admin already exists"),
        },
        _ => {
            let email = "admin@localhost.localdomain";
            let password = random_password();
            if let Seeded::Created(_) = seed_host_admin(&core, email, &password).await? {
                // Printed once, to the terminal only: there is no default password.
                println!("host admin: {email}  password: {password}");
            }
        }
    }

    tracing::info!(
        "local API listening on http://127.0.0.1:{port}; open the console at http://localhost:{port} for passkeys"
    );
    let api = Arc::new(LocalApi {
        core,
        sms,
        email,
        outbox,
    });
    local_api::serve(listener, api, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
