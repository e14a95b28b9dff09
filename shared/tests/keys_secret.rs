//! The keys secret as a deployment keeps it: encrypted under a KMS key of its own
//! (the stack's `KeysKey`), read by the first request through Secrets Manager.
//! Against moto's KMS and Secrets Manager.

use twofa::testing::{emulator_sdk_config, service_endpoint};
use twofa::tokens::{NewToken, TokenKind, TokenLifetimes};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A symmetric key in moto's KMS, as the template's `KeysKey` is: its ARN. moto takes
/// the JSON protocol without checking signatures (it reads only the service from the
/// credential scope), so no KMS client is needed here.
async fn kms_key(endpoint: &str) -> String {
    twofa::crypto::install_tls_provider();
    let r: serde_json::Value = reqwest::Client::new()
        .post(endpoint)
        .header("x-amz-target", "TrentService.CreateKey")
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(r#"{"Description":"twofa keys secret"}"#)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("moto's KMS: {e}"))
        .json()
        .await
        .expect("moto answers JSON");
    r["KeyMetadata"]["Arn"]
        .as_str()
        .expect("a key ARN")
        .to_string()
}

#[tokio::test]
#[cfg_attr(
    no_moto,
    ignore = "needs moto: MOTO_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_keys_are_read_from_a_secret_under_the_stacks_kms_key() {
    let Some(endpoint) = service_endpoint("MOTO_ENDPOINT") else {
        return;
    };
    let sdk = emulator_sdk_config(&endpoint);
    let key_arn = kms_key(&endpoint).await;
    let name = format!("twofa/keys-{}", uuid::Uuid::new_v4().simple());
    let members = serde_json::json!({
        "ACCESS_TOKEN_SIGNING_KEY": twofa::testing::access_keys::ACCESS_KEY,
        "JWT_SIGNING_KEY": KEY,
        "CODE_HMAC_KEY": KEY,
        "TOTP_ENCRYPTION_KEY": KEY,
    });
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    secrets
        .create_secret()
        .name(&name)
        .kms_key_id(&key_arn)
        .secret_string(members.to_string())
        .send()
        .await
        .expect("moto keeps the secret");
    let described = secrets
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("the secret");
    assert_eq!(described.kms_key_id(), Some(key_arn.as_str()));

    let keys = twofa::app::keys::from_secret(&sdk, &name, TokenLifetimes::default())
        .await
        .expect("the keys, read through Secrets Manager");
    // They are the secret's keys: a token they sign verifies under the same JWT key.
    let token = keys
        .tokens
        .issue(TokenKind::Setup, NewToken::default(), 1_000)
        .expect("signs");
    let other = twofa::app::keys::from_json(&members.to_string(), TokenLifetimes::default())
        .expect("the same keys from the text");
    assert!(other.tokens.verify(TokenKind::Setup, &token, 1_000).is_ok());

    // A secret that is not there is a configuration error naming the variable.
    let missing = twofa::app::keys::from_secret(&sdk, "twofa/none", TokenLifetimes::default())
        .await
        .err()
        .expect("no such secret");
    assert_eq!(missing.var, "KEYS_SECRET_ID");
}
