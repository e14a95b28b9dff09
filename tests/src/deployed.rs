//! The local API as a deployed stack runs it: each route served by its function,
//! and each function reaching DynamoDB (and, for [`spawn_deployed`], SNS and SES on
//! moto) through a permission gate ([`crate::iam_gate`]) that holds that function's
//! policy from template.yaml. So a store call or a send the function's role does
//! not allow answers as AWS would answer it: refused.
//!
//! Shape: one local API per function, each over its own SDK clients pointed at its
//! gates, all on one table and sharing one set of keys and one outbox; in front, a
//! router that sends each request to the function that owns its route (the route
//! table, as the local API's own dispatch finds it). The test's `app.api` is a view
//! with ungated clients, for seeding and reading as an operator would.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine;
use local_api::LocalApi;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use twofa::app::{Core, Keys};
use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::senders::{EmailSender, SmsSender};
use twofa::store::dynamo::DynamoStore;
use twofa::testing::emulator_sdk_config;

use crate::fault_proxy::{forward, read_request};
use crate::iam::function_policy;
use crate::iam_gate::{Denials, Gate, TableKeys};
use crate::template::{ACCOUNT, REGION, Template};
use crate::{AppOptions, TestApp};

/// A deployment of a template: its text (template.yaml, or an edited copy) and the
/// parameters given to it. The functions' SMS and email senders are the ones the
/// template's environment names (`SMS_PROVIDER`, `EMAIL_PROVIDER`, `SES_FROM`, …),
/// with SNS and SES on moto.
pub struct Deployment {
    /// The template's text.
    pub template: String,
    /// Parameter values given at deploy time; the rest take their defaults.
    pub parameters: Vec<(String, String)>,
    /// moto's endpoint (needed when a provider is SNS or SES).
    pub moto: Option<String>,
}

impl Deployment {
    /// template.yaml as committed, with these parameters.
    pub fn of_repo(parameters: &[(&str, &str)], moto: Option<&str>) -> Self {
        Self {
            template: Template::repo_text(),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            moto: moto.map(str::to_string),
        }
    }
}

/// The gates of a running app: what they refused, what they let through.
pub struct Gates {
    denials: Denials,
    by_function: BTreeMap<String, (Gate, Option<Gate>)>,
}

impl Gates {
    /// Every refusal so far, as `function: action on resource`.
    pub fn denied(&self) -> Vec<String> {
        self.denials.list()
    }

    /// The form parameters of every SNS or SES request `function` sent that passed.
    pub fn provider_requests(&self, function: &str) -> Vec<BTreeMap<String, String>> {
        self.by_function
            .get(function)
            .and_then(|(_, moto)| moto.as_ref())
            .map(Gate::passed)
            .unwrap_or_default()
    }
}

/// Starts the local API as `deployment` would run on AWS, over a fresh table in the
/// DynamoDB Local at `dynamodb`. Panics when CloudFormation would refuse the
/// deployment's parameters (a template rule) or a policy cannot be read.
pub async fn spawn_deployed(dynamodb: &str, config: Config, deployment: Deployment) -> TestApp {
    spawn(
        dynamodb,
        AppOptions {
            config,
            ..AppOptions::default()
        },
        Some(deployment),
    )
    .await
}

/// Every function of the route table, once.
fn functions() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (f, _) in local_api::route_table() {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The function that serves `method path`, as `LocalApi::dispatch` chooses it.
fn owner(method: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    let table = local_api::route_table();
    table
        .iter()
        .find(|(_, r)| twofa::api::match_path(r.path, path).is_some() && r.method == method)
        .or_else(|| {
            table
                .iter()
                .find(|(_, r)| twofa::api::match_path(r.path, path).is_some())
        })
        .map(|(f, _)| *f)
        // Unknown paths and `/_local/outbox`: any function answers them alike.
        .unwrap_or("manage-settings")
}

/// Random keys, as the stack's secret would hold them, so every function signs and
/// checks the same tokens.
fn key_env() -> HashMap<String, String> {
    let key = || {
        let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let mut env: HashMap<String, String> =
        ["JWT_SIGNING_KEY", "CODE_HMAC_KEY", "TOTP_ENCRYPTION_KEY"]
            .into_iter()
            .map(|k| (k.to_string(), key()))
            .collect();
    env.insert(
        "ACCESS_TOKEN_SIGNING_KEY".into(),
        twofa::testing::access_keys::ACCESS_KEY.into(),
    );
    env
}

/// A function's environment as the template sets it (globals, then its own).
fn function_env(template: &Template, function: &str) -> HashMap<String, String> {
    let doc = template.doc();
    let mut env = HashMap::new();
    let own = doc["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == function)
        .map(|r| r["Properties"]["Environment"]["Variables"].clone());
    for vars in [
        Some(doc["Globals"]["Function"]["Environment"]["Variables"].clone()),
        own,
    ]
    .into_iter()
    .flatten()
    {
        let resolved = template
            .resolve(&vars)
            .unwrap_or_else(|e| panic!("{function}'s environment: {e}"))
            .unwrap_or_default();
        for (k, v) in resolved.as_mapping().into_iter().flatten() {
            let v = match v {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            env.insert(k.as_str().unwrap_or_default().to_string(), v);
        }
    }
    env
}

pub(crate) async fn spawn(
    dynamodb: &str,
    options: AppOptions,
    deployment: Option<Deployment>,
) -> TestApp {
    let table = format!("twofa-e2e-{}", uuid::Uuid::new_v4().simple());
    let direct = |endpoint: &str| {
        aws_sdk_dynamodb::Client::from_conf(
            twofa::timeouts::dynamodb(&emulator_sdk_config(endpoint)).build(),
        )
    };
    // Creating the table is the deployment's work, not a function's: no gate.
    let operator = DynamoStore::new(direct(dynamodb), table.clone());
    operator
        .ensure_table()
        .await
        .expect("a table in DynamoDB Local");

    let (text, parameters, moto) = match &deployment {
        Some(d) => (d.template.clone(), d.parameters.clone(), d.moto.clone()),
        // The DynamoDB grants do not depend on the providers; SesFrom only satisfies a rule.
        None => (
            Template::repo_text(),
            vec![("SesFrom".into(), "no-reply@example.com".into())],
            None,
        ),
    };
    let parameters: Vec<(&str, &str)> = parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}");
    let template = Template::parse(&text, &parameters)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_resource("Table", &table, &[("Arn", &arn)])
        // The functions never call KMS themselves (Secrets Manager does, for the secret).
        .with_resource(
            "KeysKey",
            "keys-key",
            &[(
                "Arn",
                &format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/keys-key"),
            )],
        );
    if deployment.is_some() {
        let refused = template.refusals().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            refused.is_empty(),
            "CloudFormation would refuse this deployment: {refused:?}"
        );
    }
    let keys = TableKeys::of(template.doc(), "Table");
    let key_env = key_env();
    let outbox = LogSender::default();
    let denials = Denials::default();
    let core = |store: DynamoStore| {
        let keys = Keys::from_env(&key_env, options.config.token_lifetimes)
            .expect("the test keys are valid");
        // Passkeys for the test origin, as every test core has them.
        let mut config = options.config.clone();
        config
            .webauthn
            .get_or_insert_with(twofa::testing::test_relying_party);
        Core::new(Arc::new(store), Arc::new(SystemClock), config, keys)
    };

    let mut by_function = BTreeMap::new();
    let mut upstreams: BTreeMap<&str, String> = BTreeMap::new();
    for function in functions() {
        let policy =
            function_policy(&template, function).unwrap_or_else(|e| panic!("the gate: {e}"));
        let gate = Gate::start(
            dynamodb,
            function,
            policy.clone(),
            keys.clone(),
            denials.clone(),
        )
        .await;
        let store = DynamoStore::new(direct(gate.endpoint()), table.clone());
        let (sms, email, moto_gate): (Arc<dyn SmsSender>, Arc<dyn EmailSender>, _) =
            match (&deployment, &moto) {
                (Some(_), moto) => {
                    let env = function_env(&template, function);
                    let config = Config::read(&env)
                        .unwrap_or_else(|e| panic!("{function}'s settings from the template: {e}"));
                    let gate = match moto {
                        Some(m) => Some(
                            Gate::start(m, function, policy, keys.clone(), denials.clone()).await,
                        ),
                        None => None,
                    };
                    // Without moto the SDK senders point nowhere: a send fails, as it should.
                    let endpoint = gate
                        .as_ref()
                        .map(|g| g.endpoint().to_string())
                        .unwrap_or_else(|| "http://127.0.0.1:9".into());
                    let sdk = emulator_sdk_config(&endpoint);
                    let sms = twofa::app::sms_sender(&config, &env, &sdk, &outbox)
                        .unwrap_or_else(|e| panic!("{function}'s SMS sender: {e}"));
                    let email = twofa::app::email_sender(&config, &sdk, &outbox)
                        .unwrap_or_else(|e| panic!("{function}'s email sender: {e}"));
                    (sms, email, gate)
                }
                (None, _) => (
                    options
                        .sms
                        .clone()
                        .unwrap_or_else(|| Arc::new(outbox.clone())),
                    options
                        .email
                        .clone()
                        .unwrap_or_else(|| Arc::new(outbox.clone())),
                    None,
                ),
            };
        let api = Arc::new(LocalApi {
            core: core(store),
            sms,
            email,
            outbox: outbox.clone(),
        });
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        tokio::spawn(async move {
            let _ = local_api::serve(listener, api, std::future::pending()).await;
        });
        upstreams.insert(function, format!("http://127.0.0.1:{port}"));
        by_function.insert(function.to_string(), (gate, moto_gate));
    }

    // The front: each request to the function that owns its route.
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a free loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    twofa::crypto::install_tls_provider();
    // A redirect or a cookie is the test client's to see, not the front's to follow.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let upstreams = Arc::new(upstreams);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, upstreams) = (client.clone(), upstreams.clone());
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                while let Some(request) = read_request(&mut stream).await {
                    let function = owner(&request.method, &request.path);
                    let Some(answer) = forward(&client, &upstreams[function], &request).await
                    else {
                        return;
                    };
                    if stream.get_mut().write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });

    let operator_api = Arc::new(LocalApi {
        core: core(operator),
        sms: options.sms.unwrap_or_else(|| Arc::new(outbox.clone())),
        email: options.email.unwrap_or_else(|| Arc::new(outbox.clone())),
        outbox,
    });
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        api: operator_api,
        gates: Some(Arc::new(Gates {
            denials,
            by_function,
        })),
    }
}
