//! Creates the first host admin of a deployed stack, in the table `TABLE_NAME`
//! names (with the usual AWS credentials and region):
//!
//! `TABLE_NAME=... cargo run -p local-api --bin create-host-admin -- --email admin@example.com`
//!
//! The password comes from `--password-stdin` (one line) or is generated and printed once.

use std::io::BufRead;
use std::sync::Arc;

use local_api::admin::{random_password, seed_host_admin, Seeded};
use twofa::app::{Core, Keys};
use twofa::clock::SystemClock;
use twofa::config::{Config, ProcessEnv};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("create-host-admin: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let email = args
        .iter()
        .position(|a| a == "--email")
        .and_then(|i| args.get(i + 1))
        .ok_or("usage: create-host-admin --email ADDRESS [--password-stdin]")?;
    let (password, generated) = if args.iter().any(|a| a == "--password-stdin") {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (random_password(), true)
    };
    let config = Config::from_env()?;
    let sdk = twofa::app::aws_sdk_config().await;
    let store = twofa::store::dynamo::DynamoStore::from_env(&ProcessEnv, &sdk)?;
    // Only the store is used; keys are never needed to create a user.
    let core = Core::new(Arc::new(store), Arc::new(SystemClock), config.clone(), Keys::random(config.token_lifetimes));
    match seed_host_admin(&core, email, &password).await? {
        Seeded::Created(id) if generated => println!("host admin {email} created (id {id}); password: {password}"),
        Seeded::Created(id) => println!("host admin {email} created (id {id})"),
        Seeded::Existed(_) => println!("a host user {email} already exists; nothing changed"),
    }
    Ok(())
}
