//! The local API never writes to a real AWS table by surprise: no table without an
//! endpoint unless AWS is asked for by name, no admin seeded into a table it did not
//! create, and no table of another application taken for its own.

use std::collections::HashMap;

use local_api::start::{Target, open_dynamo, target};
use twofa::store::StoreError;
use twofa::store::dynamo::DynamoStore;
use twofa::testing::emulator_sdk_config;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_table_name_without_an_endpoint_is_refused_naming_both_ways_out() {
    let Err(message) = target(&env(&[("TABLE_NAME", "twofa-prod")])) else {
        panic!("a table in AWS was accepted without being asked for")
    };
    for words in [
        "twofa-prod",
        "DYNAMODB_ENDPOINT",
        "LOCAL_API_USE_AWS=true",
        "AWS account",
    ] {
        assert!(
            message.contains(words),
            "the message names {words}: {message}"
        );
    }
    assert!(matches!(
        target(&env(&[("TABLE_NAME", "t"), ("LOCAL_API_USE_AWS", "true")])),
        Ok(Target::Dynamo { endpoint: None, .. })
    ));
    assert!(matches!(
        target(&env(&[
            ("TABLE_NAME", "t"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")
        ])),
        Ok(Target::Dynamo {
            endpoint: Some(_),
            ..
        })
    ));
    assert!(matches!(target(&env(&[])), Ok(Target::Memory)));
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn an_admin_is_seeded_only_into_a_table_the_local_api_created() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint);

    let theirs = format!("someone-elses-{}", uuid::Uuid::new_v4().simple());
    let settings = env(&[("TABLE_NAME", &theirs), ("DYNAMODB_ENDPOINT", &endpoint)]);
    DynamoStore::from_env(&settings, &sdk)
        .unwrap()
        .ensure_table()
        .await
        .unwrap();
    assert!(
        !open_dynamo(&settings, &sdk).await.unwrap().may_seed,
        "an existing table is not the local API's to seed"
    );

    let ours = format!("local-api-{}", uuid::Uuid::new_v4().simple());
    let settings = env(&[("TABLE_NAME", &ours), ("DYNAMODB_ENDPOINT", &endpoint)]);
    assert!(
        open_dynamo(&settings, &sdk).await.unwrap().may_seed,
        "a table it creates"
    );
    assert!(
        open_dynamo(&settings, &sdk).await.unwrap().may_seed,
        "and the same table on its next start"
    );
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn a_table_with_another_key_schema_is_refused() {
    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = aws_sdk_dynamodb::Client::new(&emulator_sdk_config(&endpoint));
    let table = format!("other-app-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("another application's table");

    let err = DynamoStore::new(client.clone(), table.clone())
        .ensure_table()
        .await
        .expect_err("a table with another key schema");
    assert!(
        matches!(&err, StoreError::WrongTable(m) if m.contains(&table) && m.contains("id (HASH)")),
        "{err}"
    );
    let settings = env(&[("TABLE_NAME", &table), ("DYNAMODB_ENDPOINT", &endpoint)]);
    assert!(
        open_dynamo(&settings, &emulator_sdk_config(&endpoint))
            .await
            .is_err(),
        "the local API does not start on it"
    );
}
