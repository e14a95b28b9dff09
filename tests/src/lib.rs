//! One way to start the local API for a test: in this process, on a free loopback
//! port, over the memory store or a fresh table in DynamoDB Local, with the log
//! senders or SNS and SES on moto. Tests then talk to it over real HTTP, through the
//! typed methods of [`Client`] (`app.login(&body)`, `app.send_code(&body, token)`),
//! the same interface the handler tests' `World` has, and read a [`Reply`].

pub mod deployed;
pub mod fault_proxy;
pub mod gate_store;
pub mod iam;
pub mod iam_gate;
pub mod lockout_log;
pub mod pass_through;
pub mod template;

pub use deployed::{Deployment, spawn_deployed};

use std::sync::Arc;

use local_api::LocalApi;
use serde_json::Value;
use twofa::clock::SystemClock;
use twofa::config::Config;
use twofa::senders::log::LogSender;
use twofa::senders::{EmailSender, SmsSender};
use twofa::store::Store;
use twofa::testing::emulator_sdk_config;

/// Where the app keeps its data.
pub enum Backend {
    /// The embedded store.
    Memory,
    /// A fresh table in DynamoDB Local at this endpoint.
    Dynamo(String),
}

impl Backend {
    /// DynamoDB Local when the test command started it; `None` (a loud skip, or a
    /// failure under CI) otherwise.
    pub fn dynamo() -> Option<Self> {
        twofa::testing::service_endpoint("DYNAMODB_ENDPOINT").map(Backend::Dynamo)
    }
}

/// Builds the store of a backend; for DynamoDB a fresh table, so tests never share
/// data, through a client with the timeouts and retries the functions use.
pub async fn store(backend: &Backend) -> Arc<dyn Store> {
    match backend {
        Backend::Memory => Arc::new(twofa::store::memory::MemoryStore::new()),
        Backend::Dynamo(endpoint) => {
            let client = aws_sdk_dynamodb::Client::from_conf(
                twofa::timeouts::dynamodb(&emulator_sdk_config(endpoint)).build(),
            );
            let table = format!("twofa-e2e-{}", uuid::Uuid::new_v4().simple());
            let store = twofa::store::dynamo::DynamoStore::new(client, table);
            store
                .ensure_table()
                .await
                .expect("a table in DynamoDB Local");
            Arc::new(store)
        }
    }
}

/// A running local API; clones share it.
#[derive(Clone)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
    /// The server's state (store, outbox); on DynamoDB an operator's view, whose
    /// store no permission gate stands in front of.
    pub api: Arc<LocalApi>,
    /// On DynamoDB, the permission gates each function's calls pass through.
    pub gates: Option<Arc<deployed::Gates>>,
}

/// Options for [`spawn_app`].
#[derive(Default)]
pub struct AppOptions {
    /// Settings.
    pub config: Config,
    /// SMS sender; the log sender when `None`.
    pub sms: Option<Arc<dyn SmsSender>>,
    /// Email sender; the log sender when `None`.
    pub email: Option<Arc<dyn EmailSender>>,
}

/// Starts the local API on a free port. On DynamoDB each function reaches the table
/// through a gate holding its policy from template.yaml ([`deployed`]), as a deployed
/// stack's role would: a store call the template does not grant is refused.
pub async fn spawn_app(backend: &Backend, options: AppOptions) -> TestApp {
    match backend {
        Backend::Memory => spawn_app_over(store(backend).await, options).await,
        Backend::Dynamo(endpoint) => deployed::spawn(endpoint, options, None).await,
    }
}

/// [`spawn_app`] over a store the test built (a backend's, wrapped).
pub async fn spawn_app_over(store: Arc<dyn Store>, options: AppOptions) -> TestApp {
    let outbox = LogSender::default();
    let sms = options.sms.unwrap_or_else(|| Arc::new(outbox.clone()));
    let email = options.email.unwrap_or_else(|| Arc::new(outbox.clone()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a free loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    // As the local API does: tokens name its own origin, where discovery is served.
    let mut config = options.config;
    config
        .token_names
        .issuer
        .get_or_insert_with(|| format!("http://127.0.0.1:{port}"));
    let core = twofa::testing::core_over(store, Arc::new(SystemClock), config);
    let api = Arc::new(LocalApi {
        core,
        sms,
        email,
        outbox,
    });
    let server = api.clone();
    tokio::spawn(async move {
        let _ = local_api::serve(listener, server, std::future::pending()).await;
    });
    twofa::crypto::install_tls_provider();
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        api,
        gates: None,
    }
}

pub use twofa::testing::fixtures;
pub use twofa::testing::{Client, Reply};

impl Client for TestApp {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the local API answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply::new(status, headers, &text)
    }
}

impl TestApp {
    /// What the permission gates refused so far (nothing without gates).
    pub fn denied(&self) -> Vec<String> {
        self.gates.as_ref().map(|g| g.denied()).unwrap_or_default()
    }

    /// The log senders' outbox, read over HTTP like a developer would.
    pub async fn outbox(&self) -> Vec<Value> {
        match self.call("GET", "/_local/outbox", None, None).await.body {
            Value::Array(items) => items,
            _ => Vec::new(),
        }
    }

    /// The code in the newest outbox message to `to`.
    pub async fn last_code_to(&self, to: &str) -> Option<String> {
        self.outbox()
            .await
            .iter()
            .rev()
            .find(|m| m["to"] == to)
            .and_then(|m| m["code"].as_str().map(str::to_string))
    }
}

/// What moto recorded for `service`'s `model` (e.g. `("sns", "SMS")`, `("ses", "Message")`).
pub async fn moto_records(endpoint: &str, service: &str, model: &str) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    twofa::crypto::install_tls_provider();
    let data: Value = match reqwest::get(&url).await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => panic!("GET {url}: {e}"),
    };
    data[service][model].as_array().cloned().unwrap_or_default()
}

/// The first run of six digits in a message: the code it carries.
pub fn code_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(6)
        .find(|w| w.iter().all(char::is_ascii_digit))
        .map(|w| w.iter().collect())
}

/// A +1 555 number no other test uses.
pub fn unique_number() -> String {
    format!("+1555{:07}", uuid::Uuid::new_v4().as_u128() % 10_000_000)
}

/// The repository's root folder.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The API Gateway events of `events/` (all `*.json` but the `sam local` environment
/// file `env.json`), by file name, sorted.
pub fn event_files() -> Vec<(String, Value)> {
    let dir = repo_root().join("events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n != "env.json")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect()
}
