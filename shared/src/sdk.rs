//! The AWS SDK configuration of a Lambda function, built for a short cold start.
//!
//! `aws_config::load_defaults` is made for any machine: it reads `~/.aws/config`
//! and `~/.aws/credentials`, knows IMDS, SSO and web identity, and its HTTPS
//! client loads and parses the host's whole root certificate store as the first
//! client is built. Lambda needs none of that at init: it puts the region and the
//! function role's credentials in the environment, and a root store is needed only
//! for the first TLS handshake. Measured on a release build, loading the roots was
//! most of a bootstrap's init (BENCHMARKS.md, "Cold start"); here they load on the
//! first request instead, once per process.
//!
//! Building an SDK client parses its crate's copy of the AWS partitions file and
//! compiles its region patterns (once per service crate): DynamoDB's is paid at
//! init, since every request needs it, but SES's and SNS's only when a message is
//! first sent ([`OnFirstUse`]), which most invocations never do.
//!
//! The endpoint variables every AWS SDK documents (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`) are honoured
//! as the full chain honours them, from the environment alone ([`EndpointVariables`]):
//! `sam local invoke` users point them at LocalStack or moto.
//!
//! Operator tools that run on a laptop (`create-host-admin`) keep the full chain:
//! [`crate::app::aws_sdk_config`].

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use std::sync::OnceLock;

use crate::config::{ConfigError, Env};

/// An SDK client made from its configuration when first asked for.
pub struct OnFirstUse<C> {
    sdk: SdkConfig,
    build: fn(&SdkConfig) -> C,
    client: OnceLock<C>,
}

impl<C> OnFirstUse<C> {
    /// `build(sdk)` runs on the first [`get`](Self::get), once.
    pub fn new(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        Self {
            sdk: sdk.clone(),
            build,
            client: OnceLock::new(),
        }
    }

    /// A client already made.
    pub fn ready(client: C) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(client);
        Self {
            sdk: SdkConfig::builder().build(),
            build: |_| unreachable!("the cell of a ready client is full"),
            client: cell,
        }
    }

    /// The client, made now if this is the first call.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)(&self.sdk))
    }
}

/// The SDK configuration inside Lambda: the region from `AWS_REGION` (or
/// `AWS_DEFAULT_REGION`), the role's credentials from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and an HTTPS client whose
/// root certificates load on first use. Reads no file and calls no endpoint.
pub fn lambda_sdk_config(env: &dyn Env) -> Result<SdkConfig, ConfigError> {
    let region = env
        .get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .ok_or_else(|| ConfigError::new("AWS_REGION", "required: Lambda sets it"))?;
    let key = env.get("AWS_ACCESS_KEY_ID").ok_or_else(|| {
        ConfigError::new(
            "AWS_ACCESS_KEY_ID",
            "required: Lambda sets it from the function's role",
        )
    })?;
    let secret = env.get("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
        ConfigError::new(
            "AWS_SECRET_ACCESS_KEY",
            "required: Lambda sets it from the function's role",
        )
    })?;
    // Lambda's credentials last as long as the execution environment, as they would
    // through the SDK's own environment provider, which reads the same variables.
    let credentials = Credentials::new(
        key,
        secret,
        env.get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    Ok(SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client())
        .service_config(EndpointVariables::from_env(env))
        .build())
}

/// The services the functions call, as the SDK names them in its endpoint variables
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `_SNS`, `_SES`, `_SECRETS_MANAGER`).
const SERVICES: [&str; 4] = ["DYNAMODB", "SNS", "SES", "SECRETS_MANAGER"];

/// The SDK's endpoint variables, read once with the rest of the configuration: what
/// each client's builder asks its [`SdkConfig`]'s service configuration for
/// (`AWS_ENDPOINT_URL` under the service's id), answered as the full chain's
/// environment answers it: the service's own variable first, then the global one,
/// neither when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`. The chain would then
/// read the same keys from `~/.aws/config`; a Lambda function has no such file, so
/// nothing is read but the environment. A blank value counts as unset.
#[derive(Debug, Default)]
struct EndpointVariables {
    /// (variable, value) of each endpoint variable that is set.
    set: Vec<(String, String)>,
}

impl EndpointVariables {
    fn from_env(env: &dyn Env) -> Self {
        let ignore = env
            .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if ignore {
            return Self::default();
        }
        let names = std::iter::once(ENDPOINT.to_string())
            .chain(SERVICES.iter().map(|s| format!("{ENDPOINT}_{s}")));
        let set = names
            .filter_map(|name| {
                let value = env.get(&name)?.trim().to_string();
                (!value.is_empty()).then_some((name, value))
            })
            .collect();
        Self { set }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.set
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// The global endpoint variable, and the stem of each service's own.
const ENDPOINT: &str = "AWS_ENDPOINT_URL";

impl LoadServiceConfig for EndpointVariables {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        // Only endpoints are read from here: any other key is the SDK's default.
        if key.env() != ENDPOINT {
            return None;
        }
        // As the SDK spells a service id in a variable: upper case, `_` for spaces.
        let service = key.service_id().to_uppercase().replace(' ', "_");
        self.get(&format!("{ENDPOINT}_{service}"))
            .or_else(|| self.get(ENDPOINT))
    }
}

/// The SDK's default HTTPS client (hyper, rustls), on ring and minus its eager start.
/// Every SDK configuration in the workspace takes it: the SDK crates are built without
/// their `default-https-client` feature (which would bring aws-lc beside ring), so a
/// configuration without it has no client and its first request fails.
pub fn https_client() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.build()
    });
    LazyRoots(client).into_shared()
}

/// Hands out the inner client's connectors (built on first use and cached by it)
/// but skips its `validate_base_client_config`, which builds a connector, and so
/// loads the root store, while the SDK client is being constructed.
#[derive(Debug)]
struct LazyRoots(SharedHttpClient);

impl HttpClient for LazyRoots {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct MapEnv(HashMap<&'static str, &'static str>);

    impl Env for MapEnv {
        fn get(&self, var: &str) -> Option<String> {
            self.0.get(var).map(|v| v.to_string())
        }
    }

    fn lambda_env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("AWS_REGION", "eu-west-3"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ])
    }

    #[tokio::test]
    async fn the_region_and_the_role_credentials_come_from_the_environment_lambda_sets() {
        let sdk = lambda_sdk_config(&MapEnv(lambda_env())).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-3"));
        let provider = sdk.credentials_provider().unwrap();
        let credentials =
            aws_sdk_dynamodb::config::ProvideCredentials::provide_credentials(&provider)
                .await
                .unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn a_missing_region_or_key_is_named_in_the_error() {
        let mut env = lambda_env();
        env.remove("AWS_REGION");
        assert_eq!(
            lambda_sdk_config(&MapEnv(env)).unwrap_err().var,
            "AWS_REGION"
        );
        let mut env = lambda_env();
        env.remove("AWS_SECRET_ACCESS_KEY");
        assert_eq!(
            lambda_sdk_config(&MapEnv(env)).unwrap_err().var,
            "AWS_SECRET_ACCESS_KEY"
        );
    }

    #[tokio::test]
    async fn a_store_on_this_configuration_reaches_dynamodb() {
        // The client without its eager start must still connect, sign and retry as the SDK's own.
        let Some(endpoint) = crate::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
            return;
        };
        let table = format!("twofa-sdk-{}", uuid::Uuid::new_v4().simple());
        let mut env = lambda_env();
        env.insert("AWS_REGION", "us-east-1");
        env.insert("TABLE_NAME", Box::leak(table.into_boxed_str()));
        env.insert("DYNAMODB_ENDPOINT", Box::leak(endpoint.into_boxed_str()));
        let env = MapEnv(env);
        let store =
            crate::store::dynamo::DynamoStore::from_env(&env, &lambda_sdk_config(&env).unwrap())
                .unwrap();
        store
            .ensure_table()
            .await
            .expect("DynamoDB answers through the lazily started client");
    }

    /// The endpoint each client of the functions is built with from `vars` added to
    /// Lambda's environment: DynamoDB, SNS, SES, asked for as each SDK crate's
    /// `From<&SdkConfig>` asks (its service id, `AWS_ENDPOINT_URL`, `endpoint_url`).
    /// That the clients really go there is shown against moto and DynamoDB Local
    /// (`shared/tests/senders_aws.rs`).
    fn endpoints(vars: &[(&'static str, &'static str)]) -> [Option<String>; 3] {
        let mut env = lambda_env();
        env.extend(vars.iter().copied());
        let sdk = lambda_sdk_config(&MapEnv(env)).unwrap();
        ["DynamoDB", "SNS", "SES"].map(|service| {
            let key = ServiceConfigKey::builder()
                .service_id(service)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .unwrap();
            sdk.service_config().and_then(|c| c.load_config(key))
        })
    }

    #[test]
    fn the_sdks_endpoint_variables_reach_every_client_and_a_services_own_wins() {
        assert_eq!(
            endpoints(&[]),
            [None, None, None],
            "AWS's own endpoints by default"
        );
        let global = Some("http://global.test:4566".to_string());
        assert_eq!(
            endpoints(&[("AWS_ENDPOINT_URL", "http://global.test:4566")]),
            [global.clone(), global.clone(), global.clone()]
        );
        assert_eq!(
            endpoints(&[
                ("AWS_ENDPOINT_URL", "http://global.test:4566"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://dynamodb.test:8000"),
                ("AWS_ENDPOINT_URL_SNS", "http://sns.test:5000"),
            ]),
            [
                Some("http://dynamodb.test:8000".to_string()),
                Some("http://sns.test:5000".to_string()),
                global,
            ]
        );
        assert_eq!(
            endpoints(&[("AWS_ENDPOINT_URL_SES", "http://ses.test:5000")]),
            [None, None, Some("http://ses.test:5000".to_string())]
        );
    }

    #[test]
    fn the_sdks_switch_to_ignore_configured_endpoints_is_honoured_and_blank_values_are_unset() {
        assert_eq!(
            endpoints(&[
                ("AWS_ENDPOINT_URL", "http://global.test:4566"),
                ("AWS_ENDPOINT_URL_SNS", "http://sns.test:5000"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ]),
            [None, None, None]
        );
        assert_eq!(
            endpoints(&[("AWS_ENDPOINT_URL", " "), ("AWS_ENDPOINT_URL_SNS", "")]),
            [None, None, None]
        );
    }

    #[test]
    fn a_client_on_first_use_is_made_once_and_only_when_asked_for() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let sdk = lambda_sdk_config(&MapEnv(lambda_env())).unwrap();
        let lazy = OnFirstUse::new(&sdk, |sdk| {
            MADE.fetch_add(1, Ordering::SeqCst);
            aws_sdk_dynamodb::Client::new(sdk)
        });
        assert_eq!(MADE.load(Ordering::SeqCst), 0, "nothing is built at start");
        lazy.get();
        lazy.get();
        assert_eq!(MADE.load(Ordering::SeqCst), 1);
    }
}
