//! A fault-injecting HTTP/1.1 proxy for tests, put between the SDK and DynamoDB
//! Local (or any plain-HTTP AWS emulator): the faults a real service shows (a 500
//! after the write happened, throttling, a store that stops answering, a dropped
//! connection) on demand, so a test can show what the app does when they happen.
//!
//! ```no_run
//! # async fn demo(dynamodb_local: &str) {
//! use e2e::fault_proxy::{Fault, FaultProxy, Rule};
//! let proxy = FaultProxy::start(dynamodb_local).await;
//! // Point the SDK at `proxy.endpoint()` instead of DynamoDB Local, then:
//! proxy.add(Rule::new(Fault::ForwardThen500).target("UpdateItem").times(1));
//! // ... the first UpdateItem reaches the table, the SDK sees a 500 and retries ...
//! assert_eq!(proxy.count("UpdateItem"), 2);
//! assert_eq!(proxy.count_faults("UpdateItem"), 1);
//! proxy.clear(); // everything passes through again
//! # }
//! ```
//!
//! Rules are tried in the order they were added; the first that matches a request
//! (and has uses left) decides it, and a request no rule matches passes through.
//! Every request is recorded ([`FaultProxy::seen`]) with the `X-Amz-Target` it
//! carried (`DynamoDB_20120810.UpdateItem`) and what the proxy did with it.
//!
//! The proxy speaks just enough HTTP/1.1 for the AWS SDKs: keep-alive, a
//! `Content-Length` or chunked request body, one request at a time per connection.
//! It stops (and drops every connection) when the [`FaultProxy`] is dropped.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with a request a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwards it unchanged and returns the real answer (a rule with this fault
    /// lets some requests through ahead of a later rule).
    Pass,
    /// Forwards it, so the write happens, then answers 500 `InternalServerError`
    /// instead of the real answer: the SDK retries a write that already happened.
    ForwardThen500,
    /// Forwards it, then closes the connection without answering: an I/O error
    /// after the write happened.
    ForwardThenClose,
    /// Forwards it, then never answers: a provider that took the message but is
    /// slower than the client's timeout.
    ForwardThenHang,
    /// Answers 500 `InternalServerError` without forwarding.
    Error500,
    /// Answers 400 `ProvisionedThroughputExceededException` without forwarding:
    /// DynamoDB throttling, which the SDK retries with backoff.
    Throttle,
    /// Answers 400 `TransactionConflictException` without forwarding: what DynamoDB
    /// answers a plain write on an item inside a transaction still in flight.
    TransactionConflict,
    /// Never answers (the connection stays open until the client gives up): a
    /// paused or overloaded store.
    Hang,
    /// Closes the connection without forwarding or answering.
    Close,
}

/// When a [`Fault`] applies.
#[derive(Clone, Debug)]
pub struct Rule {
    fault: Fault,
    target: Option<String>,
    times: Option<usize>,
}

impl Rule {
    /// Applies `fault` to every request until [`Rule::target`] or [`Rule::times`] narrow it.
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            target: None,
            times: None,
        }
    }

    /// Only to requests whose `X-Amz-Target` ends with `operation` (`"UpdateItem"`,
    /// `"TransactWriteItems"`, or the whole `"DynamoDB_20120810.GetItem"`).
    pub fn target(mut self, operation: &str) -> Self {
        self.target = Some(operation.to_string());
        self
    }

    /// Only to the first `n` requests it matches; then it is spent.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, target: &str) -> bool {
        self.times != Some(0) && self.target.as_deref().is_none_or(|t| target_is(target, t))
    }
}

fn target_is(target: &str, operation: &str) -> bool {
    target == operation || target.rsplit('.').next() == Some(operation)
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its `X-Amz-Target` header (empty when it had none).
    pub target: String,
    /// What the proxy did: [`Fault::Pass`] when no rule matched.
    pub action: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

/// A running proxy; see the module doc.
pub struct FaultProxy {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`
    /// (`http://127.0.0.1:8000`), passing everything through.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.trim_end_matches('/').to_string();
        // No pooling: a connection the proxy closed or hung must not be reused upstream.
        twofa::crypto::install_tls_provider();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(
                    stream,
                    upstream.clone(),
                    client.clone(),
                    shared.clone(),
                ));
                while connections.try_join_next().is_some() {}
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
    }

    /// The URL to give the SDK (`endpoint_url`) instead of the upstream's.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Replaces every rule with this one.
    pub fn set(&self, rule: Rule) {
        self.lock().rules = vec![rule];
    }

    /// Drops every rule: everything passes through again.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Every request seen so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// How many requests for `operation` (matched as in [`Rule::target`]) arrived.
    pub fn count(&self, operation: &str) -> usize {
        self.lock()
            .seen
            .iter()
            .filter(|s| target_is(&s.target, operation))
            .count()
    }

    /// How many requests for `operation` met a fault (anything but [`Fault::Pass`]).
    pub fn count_faults(&self, operation: &str) -> usize {
        self.lock()
            .seen
            .iter()
            .filter(|s| target_is(&s.target, operation) && s.action != Fault::Pass)
            .count()
    }

    /// Forgets what was seen (the rules stay).
    pub fn reset_counts(&self) {
        self.lock().seen.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// A request as read off the wire (the permission gate reads them too).
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn serve(
    stream: TcpStream,
    upstream: String,
    client: reqwest::Client,
    state: Arc<Mutex<State>>,
) {
    let mut stream = BufReader::new(stream);
    while let Some(request) = read_request(&mut stream).await {
        let target = request
            .header("x-amz-target")
            .unwrap_or_default()
            .to_string();
        let action = {
            let mut state = state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let action = match state.rules.iter_mut().find(|r| r.matches(&target)) {
                Some(rule) => {
                    if let Some(n) = rule.times.as_mut() {
                        *n -= 1;
                    }
                    rule.fault
                }
                None => Fault::Pass,
            };
            state.seen.push(Seen { target, action });
            action
        };
        let answer = match action {
            Fault::Pass => match forward(&client, &upstream, &request).await {
                Some(answer) => answer,
                None => return,
            },
            Fault::ForwardThen500 => {
                let _ = forward(&client, &upstream, &request).await;
                error(
                    500,
                    "InternalServerError",
                    "injected by the fault proxy after the request was applied",
                )
            }
            Fault::ForwardThenClose => {
                let _ = forward(&client, &upstream, &request).await;
                return;
            }
            Fault::Error500 => error(500, "InternalServerError", "injected by the fault proxy"),
            Fault::Throttle => error(
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded (injected by the fault proxy)",
            ),
            Fault::TransactionConflict => error(
                400,
                "TransactionConflictException",
                "Transaction is ongoing for the item (injected by the fault proxy)",
            ),
            Fault::Close => return,
            Fault::ForwardThenHang => {
                let _ = forward(&client, &upstream, &request).await;
                hang(stream).await;
                return;
            }
            Fault::Hang => {
                hang(stream).await;
                return;
            }
        };
        if stream.get_mut().write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Holds the connection, answering nothing, until the client gives up and closes it.
async fn hang(mut stream: BufReader<TcpStream>) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

pub(crate) async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            stream.read_line(&mut line).await.ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len.parse().ok()?;
        request.body = vec![0; len];
        stream.read_exact(&mut request.body).await.ok()?;
    }
    Some(request)
}

/// Sends the request upstream; the response as bytes to write back, or `None` when
/// the upstream did not answer (the client then sees the connection close).
pub(crate) async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    request: &Request,
) -> Option<Vec<u8>> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).ok()?;
    let mut out = client.request(method, format!("{upstream}{}", request.path));
    for (name, value) in &request.headers {
        if !is_framing(name) {
            out = out.header(name.as_str(), value.as_str());
        }
    }
    let response = out.body(request.body.clone()).send().await.ok()?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.ok()?;
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &headers {
        if !is_framing(name.as_str()) {
            answer.extend_from_slice(name.as_str().as_bytes());
            answer.extend_from_slice(b": ");
            answer.extend_from_slice(value.as_bytes());
            answer.extend_from_slice(b"\r\n");
        }
    }
    answer.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    answer.extend_from_slice(&body);
    Some(answer)
}

/// Headers about one hop's framing, which the proxy sets itself.
fn is_framing(name: &str) -> bool {
    [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "host",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// A DynamoDB-style JSON error answer.
fn error(status: u16, kind: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({ "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message }).to_string();
    let reason = if status == 500 {
        "Internal Server Error"
    } else {
        "Bad Request"
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {kind}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
