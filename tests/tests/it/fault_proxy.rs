//! The fault proxy itself, against DynamoDB Local: each fault shows the SDK what
//! it is meant to, and the proxy counts what it saw.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use e2e::fault_proxy::{Fault, FaultProxy, Rule};

/// A client through the proxy with `attempts` tries per call, each given `attempt_timeout`.
fn client(proxy: &FaultProxy, attempts: u32, attempt_timeout: Duration) -> Client {
    let sdk = twofa::testing::emulator_sdk_config(proxy.endpoint());
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .build();
    Client::from_conf(config)
}

async fn table(client: &Client) -> String {
    let name = format!("fault-proxy-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("a table in DynamoDB Local");
    name
}

/// A put that succeeds only if the item is new: a retry of an applied put fails its condition.
async fn put_new(client: &Client, table: &str, pk: &str) -> Result<(), String> {
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
}

async fn exists(client: &Client, table: &str, pk: &str) -> bool {
    let got = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await;
    got.expect("a read through the proxy").item.is_some()
}

/// Attempts get a generous timeout: a busy machine can make DynamoDB Local slow.
async fn setup(attempts: u32) -> Option<(FaultProxy, Client, String)> {
    let upstream = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let proxy = FaultProxy::start(&upstream).await;
    let client = client(&proxy, attempts, Duration::from_secs(20));
    let table = table(&client).await;
    Some((proxy, client, table))
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn requests_pass_through_unchanged_and_are_counted() {
    let Some((proxy, client, table)) = setup(1).await else {
        return;
    };
    put_new(&client, &table, "a")
        .await
        .expect("a put through the proxy");
    assert!(exists(&client, &table, "a").await);
    assert_eq!(proxy.count("CreateTable"), 1);
    assert_eq!(proxy.count("PutItem"), 1);
    assert_eq!(proxy.count("DynamoDB_20120810.GetItem"), 1);
    assert_eq!(proxy.count_faults("PutItem"), 0);
    assert!(proxy.seen().iter().all(|s| s.action == Fault::Pass));
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_500_after_the_write_makes_the_sdk_retry_a_write_that_already_happened() {
    let Some((proxy, client, table)) = setup(3).await else {
        return;
    };
    proxy.set(Rule::new(Fault::ForwardThen500).target("PutItem").times(1));
    let outcome = put_new(&client, &table, "once").await;
    // The first attempt wrote the item; the retry then failed its condition.
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.contains("ConditionalCheckFailed")),
        "{outcome:?}"
    );
    assert!(exists(&client, &table, "once").await);
    assert_eq!(proxy.count("PutItem"), 2);
    assert_eq!(proxy.count_faults("PutItem"), 1);
    // The rule is spent: the next write passes.
    put_new(&client, &table, "twice")
        .await
        .expect("a put after the fault");
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_dropped_connection_after_the_write_is_retried_too() {
    let Some((proxy, client, table)) = setup(3).await else {
        return;
    };
    proxy.set(
        Rule::new(Fault::ForwardThenClose)
            .target("PutItem")
            .times(1),
    );
    let outcome = put_new(&client, &table, "once").await;
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.contains("ConditionalCheckFailed")),
        "{outcome:?}"
    );
    assert_eq!(proxy.count("PutItem"), 2);
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn injected_errors_never_reach_the_table() {
    let Some((proxy, client, table)) = setup(1).await else {
        return;
    };
    proxy.set(Rule::new(Fault::Error500).target("PutItem"));
    let outcome = put_new(&client, &table, "a").await;
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.contains("InternalServerError")),
        "{outcome:?}"
    );
    proxy.set(Rule::new(Fault::Throttle).target("PutItem"));
    let outcome = put_new(&client, &table, "a").await;
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.contains("ProvisionedThroughputExceeded")),
        "{outcome:?}"
    );
    proxy.set(Rule::new(Fault::Close).target("PutItem"));
    assert!(put_new(&client, &table, "a").await.is_err());
    proxy.clear();
    assert!(!exists(&client, &table, "a").await);
    assert_eq!(proxy.count_faults("PutItem"), 3);
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_sdk_retries_a_throttled_request_until_the_rule_is_spent() {
    let Some((proxy, client, table)) = setup(3).await else {
        return;
    };
    proxy.set(Rule::new(Fault::Throttle).times(2));
    put_new(&client, &table, "a")
        .await
        .expect("the third attempt passes");
    assert_eq!(proxy.count("PutItem"), 3);
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_hung_store_never_answers_until_the_client_gives_up() {
    let Some((proxy, client, table)) = setup(1).await else {
        return;
    };
    proxy.set(Rule::new(Fault::Hang).target("GetItem"));
    let impatient = self::client(&proxy, 1, Duration::from_millis(300));
    let got = impatient
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await;
    let err = format!(
        "{:?}",
        aws_sdk_dynamodb::error::DisplayErrorContext(got.expect_err("no answer"))
    );
    assert!(
        err.to_lowercase().contains("timeout") || err.to_lowercase().contains("timed out"),
        "{err}"
    );
    // Other operations still pass.
    put_new(&client, &table, "a")
        .await
        .expect("a put while reads hang");
    assert_eq!(proxy.count_faults("GetItem"), 1);
}
