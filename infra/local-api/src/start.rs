//! Where the local API keeps its data, decided so that it never writes to a real
//! AWS table by surprise: DynamoDB only with an explicit endpoint (DynamoDB Local)
//! or an explicit `LOCAL_API_USE_AWS=true`, and a host admin seeded only into a
//! table the local API created itself.

use std::sync::Arc;

use twofa::config::Env;
use twofa::store::Store;
use twofa::store::dynamo::{DynamoStore, Ensured};

/// What the local API marks a table it created with.
pub const CREATOR: &str = "local-api";

/// The store the settings name.
pub enum Target {
    /// No `TABLE_NAME`: the embedded store.
    Memory,
    /// `TABLE_NAME` at an explicit endpoint, or in AWS when asked for by name.
    Dynamo {
        /// The table.
        table: String,
        /// The endpoint, or `None` for AWS's own.
        endpoint: Option<String>,
    },
}

/// Reads `TABLE_NAME`, the endpoint variables and `LOCAL_API_USE_AWS`; refuses a
/// table with no endpoint unless AWS was asked for.
pub fn target(env: &dyn Env) -> Result<Target, String> {
    let Some(table) = env.get("TABLE_NAME") else {
        return Ok(Target::Memory);
    };
    let endpoint = env
        .get("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|| env.get("DYNAMODB_ENDPOINT"));
    let use_aws = env
        .get("LOCAL_API_USE_AWS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if endpoint.is_none() && !use_aws {
        return Err(format!(
            "TABLE_NAME={table} with no DYNAMODB_ENDPOINT (or AWS_ENDPOINT_URL_DYNAMODB) would use the real DynamoDB of \
             whatever AWS account your credentials reach. Set DYNAMODB_ENDPOINT to a DynamoDB Local, or set \
             LOCAL_API_USE_AWS=true to use AWS on purpose."
        ));
    }
    Ok(Target::Dynamo { table, endpoint })
}

/// The opened store, and whether a host admin may be seeded into it.
pub struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// True for the embedded store and for a table the local API created (now or
    /// on an earlier start); false for a table that existed before it.
    pub may_seed: bool,
}

/// Opens the DynamoDB store of `env`: creates the table if absent (checking the key
/// schema of one that exists) and marks a table it created as its own.
pub async fn open_dynamo(
    env: &dyn Env,
    sdk: &aws_config::SdkConfig,
) -> Result<Opened, Box<dyn std::error::Error>> {
    let store = DynamoStore::from_env(env, sdk)?;
    let may_seed = match store.ensure_table().await? {
        Ensured::Created => {
            store.mark_created_by(CREATOR).await?;
            true
        }
        Ensured::Existed => store.created_by(CREATOR).await?,
    };
    Ok(Opened {
        store: Arc::new(store),
        may_seed,
    })
}
