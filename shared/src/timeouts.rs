//! How long a call to another service may take and how often it is retried, for
//! every client the functions build (DynamoDB, SNS, SES, Twilio).
//!
//! Without limits a store that stops answering holds an invocation until Lambda
//! kills it at the function's own timeout (`Timeout` in template.yaml, 10 s), and
//! the client gets API Gateway's bare 502/504 while a half-done request may have
//! left state behind. With these, a hung store fails the request in
//! [`STORE_OPERATION`] (answered 503 `service_unavailable` with `Retry-After`) and
//! a slow provider in [`PROVIDER_OPERATION`] (answered 502 `delivery_failed`, its
//! code taken back). Worst case for one request that fails: a few store calls that
//! each take just under their limit plus one provider call; the budget below keeps
//! the usual case (one dependency down fails the first call to it) far below 10 s.
//!
//! Retries are bounded and fast: DynamoDB answers in milliseconds, so a second or
//! third attempt after 50–500 ms backoff catches a blip, and anything longer is an
//! outage better reported at once. Note that a retried write may already have been
//! applied (a timeout or a 500 after the write): the store's writes must be safe to
//! repeat, see `store::dynamo`.

use std::time::Duration;

#[cfg(feature = "aws")]
use aws_config::retry::RetryConfig;
#[cfg(feature = "aws")]
use aws_config::timeout::TimeoutConfig;

/// Opening a connection to DynamoDB or an AWS provider.
pub const CONNECT: Duration = Duration::from_secs(1);
/// One attempt of a DynamoDB call (its p99 is single-digit milliseconds).
pub const STORE_ATTEMPT: Duration = Duration::from_secs(2);
/// A DynamoDB call, retries included.
pub const STORE_OPERATION: Duration = Duration::from_secs(4);
/// Tries of one DynamoDB call.
pub const STORE_ATTEMPTS: u32 = 3;
/// A provider call (SNS, SES, Twilio), retries included.
pub const PROVIDER_OPERATION: Duration = Duration::from_secs(3);
/// Tries of one SNS or SES call: a retried send may deliver the same code twice, which is harmless.
pub const PROVIDER_ATTEMPTS: u32 = 2;
/// What a 503 asks the client to wait: the store is expected back within seconds.
pub const RETRY_AFTER_SECONDS: i64 = 2;
/// How long one request may take, everything included: below the function's 10 s
/// `Timeout`, so the client gets a 503 with `Retry-After` rather than API Gateway's
/// bare 5xx. Each call's own limits are not enough: with every first attempt hanging
/// and its retry answering, six calls in sequence took 12 s.
pub const REQUEST_DEADLINE: Duration = Duration::from_millis(9_500);

tokio::task_local! {
    static DEADLINE: tokio::time::Instant;
}

/// Runs one request under [`REQUEST_DEADLINE`], which every store call it makes
/// (SDK retries included) shares; `None` when the deadline was reached first.
pub async fn within_deadline<F: std::future::Future>(request: F) -> Option<F::Output> {
    let deadline = tokio::time::Instant::now() + REQUEST_DEADLINE;
    DEADLINE
        .scope(deadline, tokio::time::timeout_at(deadline, request))
        .await
        .ok()
}

/// The time the current request has left (`None` outside [`within_deadline`]).
pub fn time_left() -> Option<Duration> {
    DEADLINE
        .try_with(|d| d.saturating_duration_since(tokio::time::Instant::now()))
        .ok()
}

/// Whether the current request has at least `needed` left (always, outside a request).
pub fn has_time_for(needed: Duration) -> bool {
    time_left().is_none_or(|left| left >= needed)
}

/// What taking an attempt's slot needs left: time for the slot's write and for the
/// success write that gives it back, each at its limit (the last attempt of each
/// starting only if it fits, after its backoff). A slot taken later could be cut off
/// after counting a right answer as a failure and before its success; refused
/// instead, the attempt answers 503 and counts nothing.
pub const SLOT_NEEDS: Duration =
    Duration::from_millis(STORE_OPERATION.as_millis() as u64 * 2 + 500);

/// The timeouts of DynamoDB calls.
#[cfg(feature = "aws")]
pub fn store_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT)
        .operation_attempt_timeout(STORE_ATTEMPT)
        .operation_timeout(STORE_OPERATION)
        .build()
}

/// The timeouts of setting a table up (the local API, tests): a table being created,
/// or a DynamoDB Local just started, answers in seconds rather than milliseconds.
#[cfg(feature = "aws")]
pub fn setup_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// The retries of DynamoDB calls (throttling, 5xx, I/O errors, attempt timeouts).
#[cfg(feature = "aws")]
pub fn store_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(STORE_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(500))
}

/// The timeouts of SNS and SES calls.
#[cfg(feature = "aws")]
pub fn provider_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT)
        .operation_attempt_timeout(PROVIDER_OPERATION / PROVIDER_ATTEMPTS)
        .operation_timeout(PROVIDER_OPERATION)
        .build()
}

/// The retries of SNS and SES calls.
#[cfg(feature = "aws")]
pub fn provider_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(PROVIDER_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(200))
}

/// A DynamoDB client configuration from `sdk` with the store's limits (add an endpoint before building).
#[cfg(feature = "aws")]
pub fn dynamodb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(store_timeouts())
        .retry_config(store_retries())
        .retry_classifier(TransactionConflicts)
        .interceptor(RequestDeadline)
}

/// Starts no DynamoDB attempt (a first try or a retry) that could not end, at its
/// own limit, before the request's deadline ([`within_deadline`]): the call fails at
/// once, and the request answers 503, rather than run into the deadline mid-write.
#[cfg(feature = "aws")]
#[derive(Debug)]
pub struct RequestDeadline;

#[cfg(feature = "aws")]
impl aws_sdk_dynamodb::config::Intercept for RequestDeadline {
    fn name(&self) -> &'static str {
        "request deadline"
    }

    fn read_before_attempt(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if has_time_for(STORE_ATTEMPT) {
            Ok(())
        } else {
            Err("the request's deadline leaves no time for another store attempt".into())
        }
    }
}

/// Retries a plain write that met a transaction in flight on the same item.
///
/// DynamoDB refuses such a write with `TransactionConflictException` (a 400), which
/// the SDK's own classifiers do not retry: a healthy store would fail a sign-in
/// whose slot landed while another request spent a code on the same user. Nothing
/// was written, and the transaction ends within milliseconds, so the write is
/// retried with the store's backoff like throttling, within the same attempts and
/// time limits. (A transaction that loses to another is `TransactionCanceled`, which
/// the adapter retries itself.)
#[cfg(feature = "aws")]
#[derive(Debug)]
pub struct TransactionConflicts;

#[cfg(feature = "aws")]
impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for TransactionConflicts {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
        use aws_sdk_dynamodb::operation::{
            batch_write_item::BatchWriteItemError, delete_item::DeleteItemError,
            put_item::PutItemError, update_item::UpdateItemError,
        };
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;

        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(error) = error.as_operation_error() else {
            return RetryAction::NoActionIndicated;
        };
        // The operation's own error type, one per write that can meet a transaction.
        let code = error
            .downcast_ref::<UpdateItemError>()
            .and_then(|e| e.code())
            .or_else(|| error.downcast_ref::<PutItemError>().and_then(|e| e.code()))
            .or_else(|| {
                error
                    .downcast_ref::<DeleteItemError>()
                    .and_then(|e| e.code())
            })
            .or_else(|| {
                error
                    .downcast_ref::<BatchWriteItemError>()
                    .and_then(|e| e.code())
            });
        if code == Some("TransactionConflictException") {
            RetryAction::throttling_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "dynamodb transaction conflicts"
    }
}

/// An SNS client with the providers' limits.
#[cfg(feature = "aws")]
pub fn sns(sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(sdk)
        .timeout_config(provider_timeouts())
        .retry_config(provider_retries());
    aws_sdk_sns::Client::from_conf(config.build())
}

/// An SES client with the providers' limits.
#[cfg(feature = "aws")]
pub fn ses(sdk: &aws_config::SdkConfig) -> aws_sdk_ses::Client {
    let config = aws_sdk_ses::config::Builder::from(sdk)
        .timeout_config(provider_timeouts())
        .retry_config(provider_retries());
    aws_sdk_ses::Client::from_conf(config.build())
}

/// A Secrets Manager client with the providers' limits: the keys are read within
/// the first request's time.
#[cfg(feature = "aws")]
pub fn secrets_manager(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .timeout_config(provider_timeouts())
        .retry_config(provider_retries());
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_has_its_deadline_and_code_outside_a_request_has_none() {
        assert_eq!(time_left(), None);
        assert!(has_time_for(SLOT_NEEDS));
        let inside = within_deadline(async {
            let left = time_left().expect("a deadline inside a request");
            assert!(left <= REQUEST_DEADLINE && left > REQUEST_DEADLINE - Duration::from_secs(1));
            has_time_for(SLOT_NEEDS)
        })
        .await;
        assert_eq!(
            inside,
            Some(true),
            "a fresh request has time to judge an attempt"
        );
    }

    #[tokio::test]
    async fn a_request_late_in_its_deadline_has_no_time_for_a_slot_and_one_past_it_is_cut() {
        let late = within_deadline(async {
            tokio::time::sleep(REQUEST_DEADLINE - SLOT_NEEDS + Duration::from_millis(50)).await;
            has_time_for(SLOT_NEEDS)
        })
        .await;
        assert_eq!(late, Some(false));
        let cut = within_deadline(tokio::time::sleep(
            REQUEST_DEADLINE + Duration::from_millis(50),
        ))
        .await;
        assert_eq!(
            cut, None,
            "the deadline answers before the function timeout"
        );
        assert!(REQUEST_DEADLINE < Duration::from_secs(10));
    }
}
