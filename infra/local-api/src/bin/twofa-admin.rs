//! The operator's command for a deployed stack, working on the table `TABLE_NAME`
//! names with the usual AWS credentials and region (an operator with table access,
//! not an admin account):
//!
//! ```text
//! twofa-admin create-host-admin --email admin@example.com [--password-stdin]
//! twofa-admin unlock (--user-id ID | --email ADDRESS [--tenant NAME])
//! twofa-admin reset-two-factor (--user-id ID | --email ADDRESS [--tenant NAME])
//! twofa-admin events (--user-id ID | --email ADDRESS | --side) [--tenant NAME] [--type TYPE] [--limit N]
//! twofa-admin rekey-emails
//! ```
//!
//! Changes are recorded as security events with `details.by = "operator"`; events
//! print as JSON lines, newest first.

use std::io::BufRead;
use std::sync::Arc;
use twofa::ids::UserId;

use clap::{Args, Parser, Subcommand};
use local_api::admin::{Seeded, random_password, seed_host_admin};
use twofa::app::{Core, Keys};
use twofa::audit::{EventType, Origin, SecurityEvent};
use twofa::clock::SystemClock;
use twofa::config::{Config, ProcessEnv};
use twofa::email::Email;
use twofa::side::Side;
use twofa::store::rekey::rekey_emails;
use twofa::store::{PageKey, Unlocked, user_under};
use twofa::tenant::TenantName;
use twofa::user::{User, UserPatch};

#[derive(Parser)]
#[command(
    name = "twofa-admin",
    about = "Operator commands on a twofa table (TABLE_NAME)",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the first host admin (idempotent: an existing one is left alone).
    CreateHostAdmin {
        /// The admin's address.
        #[arg(long)]
        email: String,
        /// Read the password from one line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Ends a user's lockout and clears its failure count.
    Unlock(Target),
    /// Removes a user's authenticator and recovery codes, forgets its remembered
    /// browsers and ends its sessions; confirmed email and phone stay.
    ResetTwoFactor(Target),
    /// Prints a new set of keys as the JSON of the keys secret (docs/deploy.md):
    /// ACCESS_TOKEN_SIGNING_KEY (RSA), JWT_SIGNING_KEY, CODE_HMAC_KEY, TOTP_ENCRYPTION_KEY.
    Keys,
    /// Prints security events as JSON lines, newest first.
    Events {
        #[command(flatten)]
        target: EventTarget,
        /// Only events of this type (e.g. sign_in_failed).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Moves every account stored under the key an older rule gave its address to
    /// the key it has now, so that no look-alike or case variant of it registers as
    /// another account (docs/deploy.md). Reads the whole table; run once after
    /// upgrading, and again if cut short: it changes nothing twice.
    RekeyEmails,
}

/// One user, by id or by email in a side.
#[derive(Args)]
struct Target {
    /// The user's id.
    #[arg(long, required_unless_present = "email", conflicts_with = "email")]
    user_id: Option<UserId>,
    /// The user's email (in the host, or in --tenant).
    #[arg(long)]
    email: Option<String>,
    /// The tenant the email belongs to; the host when absent.
    #[arg(long, requires = "email")]
    tenant: Option<String>,
}

/// Whose events: one user (by id or email), or a whole side.
#[derive(Args)]
struct EventTarget {
    /// One user's events, by id.
    #[arg(long, required_unless_present_any = ["email", "side"], conflicts_with_all = ["email", "side"])]
    user_id: Option<UserId>,
    /// One user's events, by email (in the host, or in --tenant).
    #[arg(long, conflicts_with = "side")]
    email: Option<String>,
    /// Every event of a side: the host, or --tenant.
    #[arg(long)]
    side: bool,
    /// The tenant of --email or --side; the host when absent.
    #[arg(long)]
    tenant: Option<String>,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli.command).await {
        eprintln!("twofa-admin: {e}");
        std::process::exit(1);
    }
}

type Failure = Box<dyn std::error::Error>;

async fn core() -> Result<Core, Failure> {
    let config = Config::from_env()?;
    let sdk = twofa::app::aws_sdk_config().await;
    let store = twofa::store::dynamo::DynamoStore::from_env(&ProcessEnv, &sdk)?;
    // Only the store is used; no token is signed and no code is hashed here, so
    // the keys are throwaway ones.
    Ok(Core::new(
        Arc::new(store),
        Arc::new(SystemClock),
        config.clone(),
        Keys::random(
            config.token_lifetimes,
            &local_api::keys::access_token_key()?,
        )?,
    ))
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Keys => {
            println!("{}", local_api::keys::secret_json()?);
            Ok(())
        }
        Command::CreateHostAdmin {
            email,
            password_stdin,
        } => create_host_admin(&email, password_stdin).await,
        Command::Unlock(target) => {
            let core = core().await?;
            let user = find(&core, target.user_id, target.email, target.tenant).await?;
            if let Unlocked::HardLocked(until) = core
                .store
                .unlock(
                    &user.id,
                    &twofa::ids::RequestId::random()?,
                    None,
                    core.now(),
                )
                .await?
            {
                // As for an admin: the lock 100 consecutive failures earned ends by itself.
                return Err(Failure::from(format!(
                    "{} ({}) reached 100 consecutive failed attempts; that lock ends by itself at {until} (Unix time)",
                    user.email.as_str(),
                    user.id
                )));
            }
            core.record(operator_event(&core, EventType::Unlocked, &user))
                .await;
            println!("unlocked {} ({})", user.email.as_str(), user.id);
            Ok(())
        }
        Command::ResetTwoFactor(target) => {
            let core = core().await?;
            let user = find(&core, target.user_id, target.email, target.tenant).await?;
            core.store
                .update_user(&user.id, &UserPatch::second_factor_reset().rotating_stamp())
                .await?;
            core.store.delete_devices(&user.id).await?;
            core.record(operator_event(&core, EventType::TwoFactorReset, &user))
                .await;
            println!(
                "second factor reset for {} ({}); email and phone stay",
                user.email.as_str(),
                user.id
            );
            Ok(())
        }
        Command::RekeyEmails => {
            let core = core().await?;
            let done = rekey_emails(core.store.as_ref()).await?;
            for (user, holder) in &done.twins {
                println!("twin: {user} keeps its key; the key its address has now is {holder}'s");
            }
            for user in &done.kept {
                println!("kept: {user} has an address that no longer normalises; it keeps its key");
            }
            for user in &done.changed {
                println!("changed: {user} changed during the walk; run rekey-emails again");
            }
            println!(
                "{} moved, {} twins, {} kept, {} changed meanwhile",
                done.moved.len(),
                done.twins.len(),
                done.kept.len(),
                done.changed.len()
            );
            Ok(())
        }
        Command::Events {
            target,
            event_type,
            limit,
        } => {
            let event_type = event_type
                .map(|t| EventType::parse(&t).ok_or_else(|| format!("{t:?} is not an event type")))
                .transpose()?;
            let core = core().await?;
            let side = if target.side {
                Some(scope(target.tenant.as_deref())?)
            } else {
                None
            };
            let user = match side {
                Some(_) => None,
                None => Some(find(&core, target.user_id, target.email, target.tenant).await?),
            };
            let (mut left, mut after): (usize, Option<PageKey>) = (limit as usize, None);
            while left > 0 {
                let page = match (&side, &user) {
                    (Some(scope), _) => {
                        core.store
                            .side_events(scope, event_type, after.as_ref(), left.min(100))
                            .await?
                    }
                    (None, Some(user)) => {
                        core.store
                            .user_events(&user.id, event_type, after.as_ref(), left.min(100))
                            .await?
                    }
                    (None, None) => break,
                };
                left = left.saturating_sub(page.items.len());
                for e in &page.items {
                    println!("{}", serde_json::to_string(e)?);
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            Ok(())
        }
    }
}

async fn create_host_admin(email: &str, password_stdin: bool) -> Result<(), Failure> {
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (random_password(), true)
    };
    let core = core().await?;
    match seed_host_admin(&core, email, &password).await? {
        Seeded::Created(id) if generated => {
            println!("host admin {email} created (id {id}); password: {password}")
        }
        Seeded::Created(id) => println!("host admin {email} created (id {id})"),
        Seeded::Existed(_) => println!("a host user {email} already exists; nothing changed"),
    }
    Ok(())
}

fn scope(tenant: Option<&str>) -> Result<Side, Failure> {
    Ok(match tenant {
        None => Side::Host,
        Some(name) => Side::Tenant(
            TenantName::parse(name)
                .map_err(|e| format!("--tenant: {e}"))?
                .key(),
        ),
    })
}

async fn find(
    core: &Core,
    user_id: Option<UserId>,
    email: Option<String>,
    tenant: Option<String>,
) -> Result<User, Failure> {
    let found = match (user_id, email) {
        (Some(id), _) => core.store.user(&id).await?,
        (None, Some(email)) => {
            // Also under the key an account stored before has (as login finds it).
            let keys = Email::lookup_keys(&email);
            if keys.is_empty() {
                return Err(format!("--email: {email:?} is not an email address").into());
            }
            user_under(core.store.as_ref(), &scope(tenant.as_deref())?, &keys).await?
        }
        (None, None) => return Err("name a user with --user-id or --email".into()),
    };
    found.ok_or_else(|| "no such user".into())
}

/// An event of a change the operator made: no admin account acted, no client address.
fn operator_event(core: &Core, event_type: EventType, user: &User) -> SecurityEvent {
    SecurityEvent::new(
        event_type,
        user,
        core.now(),
        core.config.event_retention_days,
        &Origin::default(),
    )
    .detail("by", "operator")
}
