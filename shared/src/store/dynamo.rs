//! The DynamoDB adapter. (Placeholder until the store task lands.)

use std::sync::Arc;

use crate::config::{ConfigError, Env};

/// The store `TABLE_NAME` (and `AWS_ENDPOINT_URL_DYNAMODB` or `DYNAMODB_ENDPOINT`) name.
pub async fn store_from_env(_env: &dyn Env, _sdk: &aws_config::SdkConfig) -> Result<Arc<dyn super::Store>, ConfigError> {
    Err(ConfigError::new("TABLE_NAME", "the DynamoDB store is not implemented yet"))
}
